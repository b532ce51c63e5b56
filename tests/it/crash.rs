//! Crash and restart: kill -9 in the middle of a workload with `appendfsync always`, then
//! restart from the AOF: everything acknowledged is there, CHECK is empty, and the work
//! finishes with nothing lost or duplicated.

use crate::common::*;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// REQUEST_WORK's reply.
type Claim = Option<(String, String, String, String, i64)>;

#[derive(Default)]
struct Acked {
    jobs: Vec<String>,
    done: HashSet<(String, String)>,
}

#[test]
fn kill_9_loses_nothing_acknowledged_with_appendfsync_always() {
    let s = Server::with_args(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ]);
    let mut admin = Ns::new(&s, "c");
    let stream = admin.stream("w", 2, 1.0, "u");
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let port = s.port;
    let worker = {
        let (acked, stream) = (acked.clone(), stream.clone());
        std::thread::spawn(move || {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
            let Ok(mut c) = client.get_connection() else {
                return;
            };
            for i in 0.. {
                let job: redis::RedisResult<String> = redis::cmd("TASKDB.CREATE_JOB")
                    .arg("c")
                    .arg(&stream)
                    .arg("{}")
                    .arg(3)
                    .arg(600)
                    .arg("u")
                    .query(&mut c);
                let Ok(job) = job else { return };
                acked.lock().unwrap().jobs.push(job.clone());
                let task = format!("t{i}");
                let created: redis::RedisResult<String> = redis::cmd("TASKDB.CREATE_TASK")
                    .arg("c")
                    .arg(&job)
                    .arg(&task)
                    .arg(&stream)
                    .arg("{}")
                    .arg(r#"["init"]"#)
                    .arg(3)
                    .arg(600)
                    .query(&mut c);
                if created.is_err() {
                    return;
                }
                let claimed: redis::RedisResult<Claim> = redis::cmd("TASKDB.REQUEST_WORK")
                    .arg("c")
                    .arg("w")
                    .query(&mut c);
                let Ok(Some((j, t, _, _, _))) = claimed else {
                    return;
                };
                let done: redis::RedisResult<i64> = redis::cmd("TASKDB.DONE")
                    .arg("c")
                    .arg(&j)
                    .arg(&t)
                    .arg("{}")
                    .query(&mut c);
                match done {
                    Ok(1) => {
                        acked.lock().unwrap().done.insert((j, t));
                    }
                    _ => return,
                }
            }
        })
    };
    // Let the workload run until some work was acknowledged, then crash the server.
    wait_for(20, "acknowledged work", || {
        (acked.lock().unwrap().done.len() >= 50).then_some(())
    });
    let dir = s.kill9();
    worker.join().unwrap();
    let restarted = Server::in_dir(dir, &["--appendonly", "yes", "--save", ""]);
    let mut db = Ns::new(&restarted, "c");
    let acked = acked.lock().unwrap();
    for job in &acked.jobs {
        let v: redis::Value = db.q("JOB", &[job]);
        assert_ne!(v, redis::Value::Nil, "acknowledged job {job} was lost");
    }
    for (job, task) in &acked.done {
        assert_eq!(
            db.task_field(job, task, "state").as_deref(),
            Some("done"),
            "{job}/{task}"
        );
    }
    assert!(db.check().is_empty(), "{:?}", db.check());
    // Finish the work: running tasks (claimed before the crash) come back by RETRY as a
    // worker restart would do it, then everything drains.
    for job in &acked.jobs {
        let tasks: Vec<String> = db.q("JOB_TASKS", &[job]);
        for t in tasks {
            if db.task_field(job, &t, "state").as_deref() == Some("running") {
                let _: i64 = db.q("RETRY", &[job, &t]);
            }
        }
    }
    let mut claimed = HashSet::new();
    while let Some((j, t)) = db.claim("w") {
        assert!(
            claimed.insert((j.clone(), t.clone())),
            "{j}/{t} handed out twice"
        );
        assert!(
            !acked.done.contains(&(j.clone(), t.clone())),
            "{j}/{t} was already done"
        );
        assert!(db.done(&j, &t));
    }
    for job in &acked.jobs {
        let v: redis::Value = db.q("JOB", &[job]);
        assert_eq!(field(&fields(v), "state").as_deref(), Some("done"), "{job}");
    }
    assert!(db.check().is_empty());
}
