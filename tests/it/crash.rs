//! Crash and restart: kill -9 in the middle of a workload with `appendfsync always`, then
//! restart from the AOF: everything acknowledged is there, CHECK is empty, and the work
//! finishes with nothing lost or duplicated.

use crate::common::*;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// REQUEST_WORK's reply.
type Claim = Option<(String, String, String, String, i64, i64)>;

#[derive(Default)]
struct Acked {
    jobs: Vec<String>,
    done: HashSet<(String, String)>,
}

#[test]
fn kill_9_loses_nothing_acknowledged_with_appendfsync_always() {
    let s = Server::with_args(&AOF_ALWAYS);
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
                let Ok(Some((j, t, _, _, _, _))) = claimed else {
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
        let tasks = db.job_tasks(job);
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

#[test]
fn failover_to_a_replica_keeps_everything_acknowledged_with_wait() {
    let primary = Server::start();
    let replica = Server::replica_of(&primary, &["--save", ""]);
    let mut rc = replica.conn();
    let mut db = Ns::new(&primary, "f");
    let st = db.stream("w", 1, 1.0, "u");
    let mut jobs = Vec::new();
    let mut done = Vec::new();
    for i in 0..30 {
        let job = db.job(&st, "u");
        db.task(&job, &format!("t{i}"), &st, &["init"]);
        jobs.push(job);
        let (j, t) = db.claim("w").unwrap();
        assert!(db.done(&j, &t));
        // WAIT closes the window: an acknowledgement the replica has cannot be lost.
        let n: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
        assert_eq!(n, 1);
        done.push((j, t));
    }
    let _ = db.claim("w").unwrap(); // one task is running when the primary dies
    let _: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
    drop(db);
    let _ = primary.kill9();
    let _: () = q(&mut rc, &["REPLICAOF", "NO", "ONE"]);
    let mut db = Ns::new(&replica, "f");
    for (j, t) in &done {
        assert_eq!(
            db.task_field(j, t, "state").as_deref(),
            Some("done"),
            "{j}/{t}"
        );
    }
    assert!(db.check().is_empty(), "{:?}", db.check());
    // The new primary finishes the work: the orphaned running task comes back by RETRY.
    for job in &jobs {
        let tasks = db.job_tasks(job);
        for t in tasks {
            if db.task_field(job, &t, "state").as_deref() == Some("running") {
                let _: i64 = db.q("RETRY", &[job, &t]);
            }
        }
    }
    while let Some((j, t)) = db.claim("w") {
        assert!(
            !done.contains(&(j.clone(), t.clone())),
            "{j}/{t} reappeared"
        );
        assert!(db.done(&j, &t));
    }
    for job in &jobs {
        let v: redis::Value = db.q("JOB", &[job]);
        assert_eq!(field(&fields(v), "state").as_deref(), Some("done"), "{job}");
    }
    assert!(db.check().is_empty());
}

#[test]
fn snapshots_and_aof_rewrites_taken_during_a_workload_restart_consistent() {
    let s = Server::with_args(&AOF_ALWAYS);
    let mut db = Ns::new(&s, "r");
    crate::workload::run(&mut db, 5, 300);
    let _: String = q(&mut db.c, &["BGSAVE"]);
    let _: String = q(&mut db.c, &["BGREWRITEAOF"]);
    crate::workload::run(&mut db, 6, 300);
    wait_for(30, "the snapshot and the rewrite", || {
        let info: String = q(&mut db.c, &["INFO", "persistence"]);
        (info.contains("rdb_bgsave_in_progress:0")
            && info.contains("aof_rewrite_in_progress:0")
            && info.contains("aof_rewrite_scheduled:0"))
        .then_some(())
    });
    let want = digest(&mut db.c);
    drop(db);
    let dir = s.kill9();
    // The RDB holds a consistent earlier state; the AOF (base + increments) the latest.
    let rdb = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("dump.rdb"), rdb.path().join("dump.rdb")).unwrap();
    let from_rdb = Server::in_dir(rdb, &["--appendonly", "no", "--save", ""]);
    let mut r = Ns::new(&from_rdb, "r");
    assert!(r.check().is_empty(), "{:?}", r.check());
    let from_aof = Server::in_dir(dir, &["--appendonly", "yes", "--save", ""]);
    let mut a = Ns::new(&from_aof, "r");
    assert_eq!(digest(&mut a.c), want);
    assert!(a.check().is_empty());
}
