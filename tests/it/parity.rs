//! The PostgreSQL TaskDB's behaviours, replayed: fair-share order across streams, job FIFO
//! inside a stream, the strict policy, and a proving job's DAG end to end.

use crate::common::*;
use rand::{Rng, SeedableRng};

/// The PostgreSQL TaskDB's stream choice, written from its SQL: `ORDER BY priority`, then
/// larger `reserved`, then the older stream, among streams with ready work.
struct RefStream {
    id: String,
    reserved: i64,
    be_mult: f64,
    ready: i64,
    running: i64,
}

fn ref_priority(s: &RefStream) -> f64 {
    if s.ready == 0 {
        f64::INFINITY
    } else if s.running >= s.reserved {
        (s.running - s.reserved) as f64 / s.be_mult
    } else {
        (s.running - s.reserved) as f64 / s.reserved as f64
    }
}

fn ref_pick(streams: &[RefStream]) -> Option<usize> {
    (0..streams.len())
        .filter(|&i| streams[i].ready > 0)
        .min_by(|&a, &b| {
            let (x, y) = (&streams[a], &streams[b]);
            ref_priority(x)
                .partial_cmp(&ref_priority(y))
                .unwrap()
                .then(y.reserved.cmp(&x.reserved))
                .then(a.cmp(&b))
        })
}

#[test]
fn fair_share_order_matches_the_reference_under_random_load() {
    let s = Server::start();
    let mut db = Ns::new(&s, "fair");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let specs = [(2, 1.0), (1, 1.0), (0, 1.0), (0, 2.0), (3, 0.5), (1, 1.0)];
    let mut streams = Vec::new();
    let mut jobs_of = Vec::new();
    for (i, (reserved, be_mult)) in specs.iter().enumerate() {
        let user = format!("user{i}");
        let id = db.stream("gpu", *reserved, *be_mult, &user);
        let mut jobs = std::collections::HashMap::new();
        for _ in 0..12 {
            let j = db.job(&id, &user);
            jobs.insert(j, ());
        }
        streams.push(RefStream {
            id,
            reserved: *reserved,
            be_mult: *be_mult,
            ready: 12,
            running: 0,
        });
        jobs_of.push(jobs);
    }
    let mut running: Vec<(usize, String)> = Vec::new();
    for step in 0..120 {
        if !running.is_empty() && rng.gen_bool(0.4) {
            let (i, job) = running.swap_remove(rng.gen_range(0..running.len()));
            assert!(db.done(&job, "init"));
            streams[i].running -= 1;
            continue;
        }
        let expected = ref_pick(&streams);
        let got = db.claim("gpu");
        match (expected, got) {
            (None, None) => break,
            (Some(i), Some((job, _))) => {
                assert!(
                    jobs_of[i].contains_key(&job),
                    "step {step}: expected stream {i}"
                );
                streams[i].ready -= 1;
                streams[i].running += 1;
                running.push((i, job));
            }
            (e, g) => panic!("step {step}: expected {e:?}, got {g:?}"),
        }
        for st in &streams {
            let p = db.stream_field(&st.id, "priority").unwrap();
            let want = ref_priority(st);
            let stored: f64 = if p == "inf" {
                f64::INFINITY
            } else {
                p.parse().unwrap()
            };
            assert!(
                (stored - want).abs() < 1e-9 || stored == want,
                "priority {p} vs {want}"
            );
        }
    }
    assert!(db.check().is_empty());
}

#[test]
fn strict_policy_serves_the_largest_reservation_first() {
    let s = Server::start();
    let mut db = Ns::new(&s, "strict");
    let _: String = q(&mut db.c, &["CONFIG", "SET", "taskdb.scheduling", "strict"]);
    let small = db.stream("cpu", 1, 1.0, "a");
    let big = db.stream("cpu", 5, 1.0, "b");
    let small_job = db.job(&small, "a");
    let mut big_jobs = Vec::new();
    for _ in 0..3 {
        big_jobs.push(db.job(&big, "b"));
    }
    for j in &big_jobs {
        assert_eq!(
            &db.claim("cpu").unwrap().0,
            j,
            "largest reservation, oldest job first"
        );
    }
    assert_eq!(db.claim("cpu").unwrap().0, small_job);
    let _: String = q(&mut db.c, &["CONFIG", "SET", "taskdb.scheduling", "fair"]);
    let policy: Vec<String> = q(&mut db.c, &["CONFIG", "GET", "taskdb.scheduling"]);
    assert_eq!(policy[1], "fair");
}

#[test]
fn jobs_are_served_oldest_first_within_a_stream() {
    let s = Server::start();
    let mut db = Ns::new(&s, "fifo");
    let st = db.stream("cpu", 1, 1.0, "u");
    let j1 = db.job(&st, "u");
    let j2 = db.job(&st, "u");
    assert_eq!(db.claim("cpu").unwrap(), (j1.clone(), "init".to_string()));
    db.task(&j1, "b", &st, &["init"]);
    db.task(&j1, "a", &st, &["init"]);
    assert!(db.done(&j1, "init"));
    // j1's new tasks were created after j2's init, yet j1 is the older job.
    assert_eq!(db.claim("cpu").unwrap(), (j1.clone(), "b".to_string()));
    assert_eq!(db.claim("cpu").unwrap(), (j1.clone(), "a".to_string()));
    assert_eq!(db.claim("cpu").unwrap(), (j2, "init".to_string()));
}

#[test]
fn a_proving_job_runs_to_completion() {
    let s = Server::start();
    let mut db = Ns::new(&s, "prove");
    let aux = db.stream("aux", 1, 1.0, "u");
    let cpu = db.stream("cpu", 1, 1.0, "u");
    let gpu = db.stream("gpu", 1, 1.0, "u");
    let job = db.job(&aux, "u");
    db.task(&job, "exec", &cpu, &["init"]);
    let segs: Vec<String> = (0..8).map(|i| format!("seg_{i}")).collect();
    for sname in &segs {
        db.task(&job, sname, &gpu, &["exec"]);
    }
    let mut level = segs.clone();
    let mut n = 0;
    while level.len() > 1 {
        let mut next = Vec::new();
        for pair in level.chunks(2) {
            let name = format!("join_{n}");
            n += 1;
            let p: Vec<&str> = pair.iter().map(|s| s.as_str()).collect();
            db.task(&job, &name, &gpu, &p);
            next.push(name);
        }
        level = next;
    }
    db.task(&job, "final", &aux, &[&level[0]]);
    let total = 1 + 1 + 8 + 7 + 1;
    assert_eq!(db.q::<i64>("JOB_UNRESOLVED", &[&job]), total);
    let mut done = std::collections::HashSet::new();
    let mut order = Vec::new();
    loop {
        let mut progressed = false;
        for wt in ["aux", "cpu", "gpu"] {
            if let Some((j, t)) = db.claim(wt) {
                let prereqs: Vec<String> =
                    serde_json::from_str(&db.task_field(&j, &t, "prerequisites").unwrap()).unwrap();
                assert!(
                    prereqs.iter().all(|p| done.contains(p)),
                    "{t} released early"
                );
                assert!(db.done(&j, &t));
                done.insert(t.clone());
                order.push(t);
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    assert_eq!(order.len() as i64, total);
    assert_eq!(order.last().map(String::as_str), Some("final"));
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "done");
    assert!(db.q::<f64>("JOB_TIME", &[&job]) >= 0.0);
    assert!(db.check().is_empty());
    assert_eq!(db.q::<i64>("CLEAR_COMPLETED", &[]), 1);
    let keys: Vec<String> = q(&mut db.c, &["KEYS", "*"]);
    assert!(keys.iter().all(|k| !k.contains(&job)), "{keys:?}");
}

#[test]
fn retries_leases_failure_deletion_and_clearing_behave_as_in_postgresql() {
    let s = Server::start();
    let mut db = Ns::new(&s, "pg");
    let st = db.stream("cpu", 1, 1.0, "u");
    // Lease expiry: a running task past its timeout is requeued with retries + 1.
    let leased: String = db.q("CREATE_JOB", &[&st, "{}", "1", "0", "u"]);
    db.claim("cpu").unwrap();
    let started = db.task_ms(&leased, "init", "started_at");
    db.wait_past(started);
    assert_eq!(db.q::<i64>("REQUEUE", &["100"]), 1);
    assert_eq!(
        db.task_field(&leased, "init", "retries").as_deref(),
        Some("1")
    );
    // Retry limit: max_retries 1, so the second expiry fails the task and the job.
    db.claim("cpu").unwrap();
    let started = db.task_ms(&leased, "init", "started_at");
    db.wait_past(started);
    assert_eq!(db.q::<i64>("REQUEUE", &["100"]), 1);
    assert_eq!(db.q::<String>("JOB_STATE", &[&leased, "u"]), "failed");
    assert_eq!(db.q::<String>("JOB_FAILURE", &[&leased]), "retry max hit");
    // Completion and an explicit failure.
    let good = db.job(&st, "u");
    let bad = db.job(&st, "u");
    db.task(&bad, "step", &st, &["init"]);
    assert!(db.done(&good, "init"));
    assert!(db.done(&bad, "init"));
    assert_eq!(db.q::<i64>("FAILED", &[&bad, "step", "proof rejected"]), 1);
    assert_eq!(db.q::<String>("JOB_STATE", &[&good, "u"]), "done");
    assert_eq!(db.q::<String>("JOB_STATE", &[&bad, "u"]), "failed");
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["u"]), 0);
    // Clearing removes done jobs only; deletion removes anything.
    assert_eq!(db.q::<i64>("CLEAR_COMPLETED", &[]), 1);
    assert_eq!(db.q::<i64>("DELETE_JOB", &[&bad]), 1);
    assert_eq!(db.q::<i64>("DELETE_JOB", &[&leased]), 1);
    let stats: redis::Value = db.q("STATS", &[]);
    assert!(
        format!("{stats:?}").matches("int(0)").count() >= 8,
        "{stats:?}"
    );
    assert!(db.check().is_empty());
    let keys: Vec<String> = q(&mut db.c, &["KEYS", "*"]);
    assert!(
        keys.iter()
            .all(|k| !k.contains(":job:") && !k.contains(":task:")),
        "{keys:?}"
    );
}
