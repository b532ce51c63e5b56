//! Retention: finished jobs delete themselves a configured time after they finished
//! (`taskdb.retention-done-secs`, `taskdb.retention-failed-secs`), replicated as the
//! deletions the primary decided; CLEAR_COMPLETED AGE.

use crate::common::*;
use redis::Value;

#[test]
fn finished_jobs_expire_after_their_retention_and_replicas_follow() {
    let s = Server::with_args(&AOF_ALWAYS);
    let replica = Server::replica_of(&s, &[]);
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let done = db.job(&st, "u");
    let failed = db.job(&st, "u");
    let running = db.job(&st, "u");
    assert!(db.done(&done, "init"));
    assert_eq!(db.q::<i64>("FAILED", &[&failed, "init", "x"]), 1);
    let mut admin = s.conn();

    // Off by default.
    let v: Vec<String> = q(&mut admin, &["CONFIG", "GET", "taskdb.retention-done-secs"]);
    assert_eq!(v[1], "0");
    let _: () = q(
        &mut admin,
        &["CONFIG", "SET", "taskdb.retention-done-secs", "1"],
    );
    wait_for(15, "the done job to expire", || {
        (db.q::<Value>("JOB", &[&done]) == Value::Nil).then_some(())
    });
    assert_eq!(
        db.q::<String>("JOB_STATE", &[&failed, "u"]),
        "failed",
        "failed jobs are kept"
    );
    assert_eq!(db.q::<String>("JOB_STATE", &[&running, "u"]), "running");
    let _: () = q(
        &mut admin,
        &["CONFIG", "SET", "taskdb.retention-failed-secs", "1"],
    );
    wait_for(15, "the failed job to expire", || {
        (db.q::<Value>("JOB", &[&failed]) == Value::Nil).then_some(())
    });
    assert_eq!(
        db.q::<String>("JOB_STATE", &[&running, "u"]),
        "running",
        "never a running job"
    );
    assert!(db.check().is_empty());
    let acked: i64 = q(&mut admin, &["WAIT", "1", "10000"]);
    assert_eq!(acked, 1);
    assert_eq!(digest(&mut replica.conn()), digest(&mut admin));
}

#[test]
fn clear_completed_with_an_age_keeps_recently_finished_jobs() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    assert!(db.done(&job, "init"));
    assert_eq!(db.q::<i64>("CLEAR_COMPLETED", &["AGE", "3600"]), 0);
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "done");
    assert_eq!(
        db.q::<i64>("CLEAR_COMPLETED", &["AGE", "0", "COUNT", "5"]),
        1
    );
    assert_eq!(db.q::<Value>("JOB", &[&job]), Value::Nil);
}
