//! Many clients at once: submitters and workers on 32 connections, with retries, failures,
//! abandoned leases and requeues. Every task is handed out at most once per attempt, never
//! before its prerequisites are done, every job ends done or failed, and CHECK stays empty.

use crate::common::*;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Claims = Arc<Mutex<HashMap<(String, String), u32>>>;

#[test]
fn thirty_two_clients_lose_and_duplicate_nothing() {
    let s = Server::start();
    let mut admin = Ns::new(&s, "x");
    let stream = admin.stream("w", 4, 1.0, "u");
    let jobs: Arc<Mutex<Vec<String>>> = Arc::default();
    let claims: Claims = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let problems: Arc<Mutex<Vec<String>>> = Arc::default();

    let submitters: Vec<_> = (0..8)
        .map(|i| {
            let (mut db, stream, jobs) = (Ns::new(&s, "x"), stream.clone(), jobs.clone());
            std::thread::spawn(move || {
                for _ in 0..10 {
                    // Leases of 1 s: abandoned tasks come back through REQUEUE.
                    let job: String =
                        db.q("CREATE_JOB", &[&stream, "{}", "3", "1", &format!("u{i}")]);
                    for k in 0..4 {
                        let _: String = db.q(
                            "CREATE_TASK",
                            &[
                                &job,
                                &format!("seg{k}"),
                                &stream,
                                "{}",
                                r#"["init"]"#,
                                "3",
                                "1",
                            ],
                        );
                    }
                    let _: String = db.q(
                        "CREATE_TASK",
                        &[
                            &job,
                            "join",
                            &stream,
                            "{}",
                            r#"["seg0","seg1","seg2","seg3"]"#,
                            "3",
                            "1",
                        ],
                    );
                    jobs.lock().unwrap().push(job);
                }
            })
        })
        .collect();
    let workers: Vec<_> = (0..23)
        .map(|i| {
            let mut db = Ns::new(&s, "x");
            let (claims, stop, problems) = (claims.clone(), stop.clone(), problems.clone());
            std::thread::spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(i);
                while !stop.load(Ordering::SeqCst) {
                    let v: Option<(String, String, String, String, i64, i64)> =
                        db.q("REQUEST_WORK", &["w", "BLOCK", "50"]);
                    let Some((job, task, _, prereqs, _, _)) = v else {
                        continue;
                    };
                    *claims
                        .lock()
                        .unwrap()
                        .entry((job.clone(), task.clone()))
                        .or_default() += 1;
                    let prereqs: Vec<String> = serde_json::from_str(&prereqs).unwrap();
                    for p in prereqs {
                        if db.task_field(&job, &p, "state").as_deref() != Some("done") {
                            problems
                                .lock()
                                .unwrap()
                                .push(format!("{job}/{task} handed out before {p} was done"));
                        }
                    }
                    match rng.gen_range(0..100) {
                        0..=79 => {
                            let _: i64 = db.q("DONE", &[&job, &task, "{}"]);
                        }
                        80..=89 => {
                            let _: i64 = db.q("RETRY", &[&job, &task]);
                        }
                        90..=92 => {
                            let _: i64 = db.q("FAILED", &[&job, &task, "worker gave up"]);
                        }
                        _ => {} // abandoned: its lease expires and REQUEUE brings it back
                    }
                }
            })
        })
        .collect();
    let requeuer = {
        let mut db = Ns::new(&s, "x");
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let _: i64 = db.q("REQUEUE", &["100"]);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    for h in submitters {
        h.join().unwrap();
    }
    let jobs: Vec<String> = jobs.lock().unwrap().clone();
    assert_eq!(jobs.len(), 80);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let running = jobs
            .iter()
            .filter(|j| job_state(&mut admin, j) == "running")
            .count();
        if running == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{running} jobs still running");
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    for h in workers {
        h.join().unwrap();
    }
    requeuer.join().unwrap();
    let problems = problems.lock().unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    // At most once per attempt: a task is claimed at most 1 + retries times.
    for ((job, task), n) in claims.lock().unwrap().iter() {
        let retries: u32 = admin
            .task_field(job, task, "retries")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            *n <= retries + 1,
            "{job}/{task} claimed {n} times with {retries} retries"
        );
    }
    for job in &jobs {
        let tasks = admin.job_tasks(job);
        let state = job_state(&mut admin, job);
        for t in tasks {
            let ts = admin.task_field(job, &t, "state").unwrap();
            match state.as_str() {
                "done" => assert_eq!(ts, "done", "{job}/{t}"),
                _ => assert!(
                    ["done", "failed", "cancelled", "running"].contains(&ts.as_str()),
                    "{job}/{t}: {ts}"
                ),
            }
        }
    }
    assert!(admin.check().is_empty(), "{:?}", admin.check());
}

fn job_state(db: &mut Ns, job: &str) -> String {
    let v: redis::Value = db.q("JOB", &[job]);
    field(&fields(v), "state").unwrap()
}
