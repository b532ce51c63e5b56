//! Leases name their attempt and their holder. Worker A claims a task, stalls past its
//! lease, the task is handed to worker B; when A wakes up, its reports naming its attempt
//! (`ATTEMPT n`) must not undo B's work: FAILED, RETRY, PROGRESS and HEARTBEAT from a
//! stale attempt change nothing (0), while DONE from any attempt is accepted until the
//! task is done (the work was done: the first result wins).

use crate::common::*;
use redis::Value;

/// A claim with its attempt: (job, task, attempt).
fn claim_as(db: &mut Ns, worker: &str) -> (String, String, i64) {
    let v: (String, String, String, String, i64, i64) =
        db.q("REQUEST_WORK", &["cpu", "WORKER", worker]);
    (v.0, v.1, v.5)
}

/// Worker A claims `init` (attempt 1), its lease runs out, B claims attempt 2.
fn a_stalls_and_b_takes_over(db: &mut Ns) -> String {
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, "{}", "3", "0", "u"]);
    let (j, t, a) = claim_as(db, "worker-a");
    assert_eq!((j.as_str(), t.as_str(), a), (job.as_str(), "init", 1));
    assert_eq!(
        db.task_field(&job, "init", "worker_id").as_deref(),
        Some("worker-a")
    );
    let started = db.task_ms(&job, "init", "started_at");
    db.wait_past(started);
    assert_eq!(db.q::<i64>("REQUEUE", &["10"]), 1, "A's lease expired");
    let (_, _, b) = claim_as(db, "worker-b");
    assert_eq!(b, 2);
    assert_eq!(db.task_field(&job, "init", "attempt").as_deref(), Some("2"));
    assert_eq!(
        db.task_field(&job, "init", "worker_id").as_deref(),
        Some("worker-b")
    );
    job
}

#[test]
fn a_stale_failed_changes_nothing_and_the_live_worker_finishes() {
    let s = Server::start();
    let replica = Server::replica_of(&s, &["--save", ""]);
    let mut db = Ns::new(&s, "f");
    let job = a_stalls_and_b_takes_over(&mut db);
    assert_eq!(
        db.q::<i64>("FAILED", &[&job, "init", "A gave up", "ATTEMPT", "1"]),
        0
    );
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "running");
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("running")
    );
    assert_eq!(
        db.q::<i64>("DONE", &[&job, "init", "{\"by\":\"b\"}", "ATTEMPT", "2"]),
        1
    );
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "done");
    let n: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
    assert_eq!(n, 1);
    assert_eq!(
        digest(&mut replica.conn()),
        digest(&mut db.c),
        "replicated exactly"
    );
    assert!(db.check().is_empty());
}

#[test]
fn a_stale_retry_does_not_hand_the_task_to_a_third_worker() {
    let s = Server::start();
    let mut db = Ns::new(&s, "f");
    let job = a_stalls_and_b_takes_over(&mut db);
    assert_eq!(db.q::<i64>("RETRY", &[&job, "init", "ATTEMPT", "1"]), 0);
    assert_eq!(db.claim("cpu"), None, "no third worker gets the task");
    assert_eq!(db.task_field(&job, "init", "retries").as_deref(), Some("1"));
    assert_eq!(
        db.q::<i64>("RETRY", &[&job, "init", "ATTEMPT", "2"]),
        1,
        "B may give it back"
    );
    let (_, _, c) = claim_as(&mut db, "worker-c");
    assert_eq!(c, 3);
    assert!(db.check().is_empty());
}

#[test]
fn stale_progress_and_heartbeat_leave_the_live_lease_alone() {
    let s = Server::start();
    let mut db = Ns::new(&s, "f");
    let job = a_stalls_and_b_takes_over(&mut db);
    let before: Value = db.q("TASK", &[&job, "init"]);
    let d = digest(&mut db.c);
    assert_eq!(
        db.q::<i64>("PROGRESS", &[&job, "init", "0.9", "ATTEMPT", "1"]),
        0
    );
    assert_eq!(db.q::<i64>("HEARTBEAT", &[&job, "init", "ATTEMPT", "1"]), 0);
    assert_eq!(db.q::<Value>("TASK", &[&job, "init"]), before);
    assert_eq!(digest(&mut db.c), d);
    assert_eq!(
        db.q::<i64>("PROGRESS", &[&job, "init", "0.5", "ATTEMPT", "2"]),
        1
    );
    assert_eq!(db.q::<i64>("HEARTBEAT", &[&job, "init", "ATTEMPT", "2"]), 1);
    assert_eq!(
        db.task_field(&job, "init", "progress").as_deref(),
        Some("0.5")
    );
}

#[test]
fn done_from_a_stale_attempt_wins_and_the_holder_learns_it_is_over() {
    let s = Server::start();
    let mut db = Ns::new(&s, "f");
    let job = a_stalls_and_b_takes_over(&mut db);
    assert_eq!(
        db.q::<i64>("DONE", &[&job, "init", "{\"by\":\"a\"}", "ATTEMPT", "1"]),
        1
    );
    assert_eq!(
        db.q::<String>("TASK_OUTPUT", &[&job, "init"]),
        "{\"by\":\"a\"}"
    );
    let streams = db.streams();
    assert_eq!(
        db.stream_field(&streams[0], "running").as_deref(),
        Some("0"),
        "B's lease is gone"
    );
    // B's later reports: nothing to do any more.
    assert_eq!(db.q::<i64>("HEARTBEAT", &[&job, "init", "ATTEMPT", "2"]), 0);
    assert_eq!(
        db.q::<i64>("DONE", &[&job, "init", "{\"by\":\"b\"}", "ATTEMPT", "2"]),
        0
    );
    assert_eq!(
        db.q::<String>("TASK_OUTPUT", &[&job, "init"]),
        "{\"by\":\"a\"}"
    );
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "done");
    assert!(db.check().is_empty());
}

#[test]
fn the_reaper_hands_a_stalled_task_on_and_the_stale_worker_cannot_undo_it() {
    let s = Server::start();
    let mut db = Ns::new(&s, "f");
    db.reaper_every("20");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, "{}", "3", "1", "u"]);
    let (_, _, a) = claim_as(&mut db, "worker-a");
    // A stalls (no heartbeat): the reaper requeues the task after its 1 s lease.
    wait_for(10, "the reaper to requeue A's task", || {
        (db.task_field(&job, "init", "state").as_deref() == Some("ready")).then_some(())
    });
    let (_, _, b) = claim_as(&mut db, "worker-b");
    assert_eq!((a, b), (1, 2));
    let att = a.to_string();
    assert_eq!(
        db.q::<i64>("FAILED", &[&job, "init", "late", "ATTEMPT", &att]),
        0
    );
    assert_eq!(db.q::<i64>("RETRY", &[&job, "init", "ATTEMPT", &att]), 0);
    assert_eq!(
        db.q::<i64>("DONE", &[&job, "init", "{}", "ATTEMPT", &b.to_string()]),
        1
    );
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "done");
}

#[test]
fn without_attempt_reports_keep_the_postgresql_semantics() {
    let s = Server::start();
    let mut db = Ns::new(&s, "f");
    let job = a_stalls_and_b_takes_over(&mut db);
    // Anyone's FAILED without ATTEMPT fails the task, as the PostgreSQL TaskDB does.
    assert_eq!(db.q::<i64>("FAILED", &[&job, "init", "boom"]), 1);
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "failed");
}

#[test]
fn each_claim_of_a_batch_is_its_own_attempt_and_a_claim_without_worker_clears_the_holder() {
    let s = Server::start();
    let mut db = Ns::new(&s, "f");
    let st = db.stream("cpu", 1, 1.0, "u");
    let j1: String = db.q("CREATE_JOB", &[&st, "{}", "3", "0", "u"]);
    let j2 = db.job(&st, "u");
    let batch: Vec<(String, String, String, String, i64, i64)> =
        db.q("REQUEST_WORK", &["cpu", "COUNT", "5", "WORKER", "w1"]);
    assert_eq!(batch.len(), 2);
    assert!(batch.iter().all(|c| c.5 == 1));
    for j in [&j1, &j2] {
        assert_eq!(db.task_field(j, "init", "worker_id").as_deref(), Some("w1"));
    }
    let started = db.task_ms(&j1, "init", "started_at");
    db.wait_past(started);
    assert_eq!(db.q::<i64>("REQUEUE", &["1"]), 1);
    let v: (String, String, String, String, i64, i64) = db.q("REQUEST_WORK", &["cpu"]);
    assert_eq!((v.0.as_str(), v.5), (j1.as_str(), 2));
    assert_eq!(
        db.task_field(&j1, "init", "worker_id"),
        None,
        "attempt 2 has no named holder"
    );
}

#[test]
fn bad_attempts_are_rejected_and_change_nothing() {
    let s = Server::start();
    let mut db = Ns::new(&s, "f");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    claim_as(&mut db, "w");
    let d = digest(&mut db.c);
    for (cmd, args, want) in [
        (
            "DONE",
            vec![&job as &str, "init", "{}", "ATTEMPT", "0"],
            "ERR invalid ATTEMPT '0': must be an integer >= 1",
        ),
        (
            "DONE",
            vec![&job, "init", "{}", "ATTEMPT", "x"],
            "ERR invalid ATTEMPT 'x': must be an integer",
        ),
        (
            "FAILED",
            vec![&job, "init", "e", "ATTEMPT", "2"],
            "ERR invalid ATTEMPT '2': task 'init' of job '{job}' has had 1 attempt(s)",
        ),
        (
            "HEARTBEAT",
            vec![&job, "init", "ATTEMPTS", "1"],
            "ERR invalid option 'ATTEMPTS': expected ATTEMPT n",
        ),
        (
            "RETRY",
            vec![&job, "init", "ATTEMPT"],
            "ERR wrong number of arguments: usage TASKDB.RETRY",
        ),
        (
            "PROGRESS",
            vec![&job, "init", "0.5", "ATTEMPT", "1", "x"],
            "ERR wrong number of arguments",
        ),
        (
            "REQUEST_WORK",
            vec!["cpu", "WORKER", ""],
            "ERR invalid WORKER '': must not be empty",
        ),
    ] {
        let e = db.err(cmd, &args);
        let want = want.replace("{job}", &job);
        assert!(e.starts_with(&want), "{cmd} {args:?}: {e}");
    }
    assert_eq!(digest(&mut db.c), d);
}

#[test]
fn give_back_returns_a_running_attempt_without_counting_a_retry() {
    let s = Server::start();
    let replica = Server::replica_of(&s, &[]);
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let claimed: Vec<redis::Value> = db.q("REQUEST_WORK", &["cpu", "WORKER", "w1"]);
    assert_eq!(claimed.len(), 6);
    assert_eq!(db.q::<i64>("PROGRESS", &[&job, "init", "0.5"]), 1);
    // Only the running attempt gives back: one it never had is an error, a missing task
    // NOTFOUND.
    assert!(db
        .err("GIVE_BACK", &[&job, "init", "ATTEMPT", "2"])
        .starts_with("ERR invalid ATTEMPT '2'"));
    assert_eq!(
        db.err("GIVE_BACK", &[&job, "nope", "ATTEMPT", "1"]),
        format!("NOTFOUND task 'nope' of job '{job}' does not exist")
    );
    assert_eq!(db.q::<i64>("GIVE_BACK", &[&job, "init", "ATTEMPT", "1"]), 1);
    assert_eq!(
        db.q::<i64>("GIVE_BACK", &[&job, "init", "ATTEMPT", "1"]),
        0,
        "given back already"
    );
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("ready")
    );
    assert_eq!(db.task_field(&job, "init", "retries").as_deref(), Some("0"));
    assert_eq!(
        db.task_field(&job, "init", "progress").as_deref(),
        Some("0")
    );
    assert_eq!(db.task_field(&job, "init", "error"), None, "not a retry");
    let (_, again) = db.claim("cpu").unwrap();
    assert_eq!(again, "init");
    assert_eq!(db.task_field(&job, "init", "attempt").as_deref(), Some("2"));
    assert!(db.check().is_empty());
    let mut pc = s.conn();
    let acked: i64 = q(&mut pc, &["WAIT", "1", "10000"]);
    assert_eq!(acked, 1);
    assert_eq!(digest(&mut replica.conn()), digest(&mut pc));
}
