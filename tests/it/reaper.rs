//! The lease reaper (a timer inside the server) and TASKDB.HEARTBEAT.

use crate::common::*;

#[test]
fn the_timer_requeues_an_expired_task_without_any_requeue_call_and_the_replica_follows() {
    let primary = Server::start();
    let replica = Server::replica_of(&primary, &["--save", ""]);
    let mut rc = replica.conn();
    let mut db = Ns::new(&primary, "t");
    db.reaper_every("20");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, "{}", "3", "0", "u"]);
    db.claim("cpu").unwrap();
    wait_for(10, "the reaper to requeue the task", || {
        (db.task_field(&job, "init", "state").as_deref() == Some("ready")).then_some(())
    });
    assert_eq!(db.task_field(&job, "init", "retries").as_deref(), Some("1"));
    let stats: String = q(&mut db.c, &["INFO", "commandstats"]);
    assert!(!stats.contains("TASKDB.REQUEUE"), "no REQUEUE was called");
    let acked: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
    assert_eq!(acked, 1);
    assert_eq!(digest(&mut rc), digest(&mut db.c));
    assert!(db.check().is_empty());
}

#[test]
fn an_interval_of_zero_turns_the_reaper_off() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    db.reaper_every("0");
    let v: Vec<String> = q(&mut db.c, &["CONFIG", "GET", "taskdb.requeue-interval-ms"]);
    assert_eq!(v[1], "0");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, "{}", "3", "0", "u"]);
    db.claim("cpu").unwrap();
    let started = db.task_ms(&job, "init", "started_at");
    db.wait_past(started);
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("running")
    );
    assert_eq!(
        db.q::<i64>("REQUEUE", &["10"]),
        1,
        "REQUEUE still works by hand"
    );
    let e = err(
        &mut db.c,
        &["CONFIG", "SET", "taskdb.requeue-interval-ms", "-1"],
    );
    assert!(e.starts_with("ERR"), "{e}");
}

#[test]
fn after_a_restart_the_reaper_finds_leases_it_never_saw() {
    let first = Server::with_args(&AOF_ALWAYS);
    let mut db = Ns::new(&first, "{tenant}x");
    db.reaper_every("0");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, "{}", "3", "0", "u"]);
    db.claim("cpu").unwrap();
    let copy = tempfile::tempdir().unwrap();
    copy_dir(first.dir.path(), copy.path());
    drop(db);
    drop(first);
    let second = Server::in_dir(copy, &["--appendonly", "yes", "--save", ""]);
    let mut db = Ns::new(&second, "{tenant}x");
    db.reaper_every("20");
    wait_for(20, "the reaper to requeue the task", || {
        (db.task_field(&job, "init", "state").as_deref() == Some("ready")).then_some(())
    });
    assert!(db.check().is_empty());
}

#[test]
fn heartbeat_renews_the_lease_and_leaves_progress_alone() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.claim("cpu").unwrap();
    let _: i64 = db.q("PROGRESS", &[&job, "init", "0.4"]);
    let before = db.task_ms(&job, "init", "updated_at");
    db.wait_past(before);
    assert_eq!(db.q::<i64>("HEARTBEAT", &[&job, "init"]), 1);
    assert!(db.task_ms(&job, "init", "updated_at") > before);
    assert_eq!(
        db.task_field(&job, "init", "progress").as_deref(),
        Some("0.4")
    );
    assert!(
        db.check().is_empty(),
        "the lease deadline moved with updated_at"
    );
    assert!(db.done(&job, "init"));
    assert_eq!(db.q::<i64>("HEARTBEAT", &[&job, "init"]), 0);
    assert!(db
        .err("HEARTBEAT", &[&job, "nope"])
        .starts_with("NOTFOUND task 'nope'"));
    let e = db.err("HEARTBEAT", &[&job, "init", "ATTEMPT"]);
    assert_eq!(
        e,
        "ERR wrong number of arguments: usage TASKDB.HEARTBEAT ns job_id task_id [ATTEMPT n]"
    );
    // Too few for any form: Redis' own arity check, from the arity TaskDB declares.
    let e = db.err("HEARTBEAT", &[&job]);
    assert_eq!(
        e,
        "ERR wrong number of arguments for 'TASKDB.HEARTBEAT' command"
    );
}

#[test]
fn a_changed_interval_rearms_the_timer_at_once() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    db.reaper_every("3600000");
    // The interval stays at one hour for longer than the tick armed before it (the
    // scenario: an operator sets it "for a moment"), then goes back to 100 ms.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    db.reaper_every("100");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, "{}", "3", "1", "u"]);
    db.claim("cpu").unwrap();
    wait_for(
        3,
        "the 1 s lease to be requeued at the 100 ms interval",
        || (db.task_field(&job, "init", "state").as_deref() == Some("ready")).then_some(()),
    );
}
