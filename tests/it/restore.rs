//! TASKDB.RESTORE_STREAM / RESTORE_JOB / RESTORE_TASK (migrations) and the listings
//! TASKDB.STREAMS / JOBS / JOB_TASKS.

use crate::common::*;
use redis::Value;

const S: &str = "5b0e7a52-3a8e-4f5a-9d0a-000000000001";
const J: &str = "5b0e7a52-3a8e-4f5a-9d0a-0000000000aa";

/// A job half-way through its DAG, as a migration would write it.
fn restore_half_done_job(db: &mut Ns) {
    let now: i64 = db.server_ms();
    assert_eq!(
        db.q::<i64>("RESTORE_STREAM", &[S, "cpu", "1", "1", "alice"]),
        1
    );
    assert_eq!(
        db.q::<i64>("RESTORE_JOB", &[J, "running", "alice", "1700000000000"]),
        1
    );
    let t0 = (now - 5000).to_string();
    let tasks: Vec<Vec<String>> = vec![
        vec![
            "init",
            "[]",
            "done",
            "OUTPUT",
            r#"{"n":2}"#,
            "PROGRESS",
            "1",
            "STARTED_AT",
            &t0,
            "UPDATED_AT",
            &t0,
        ],
        vec![
            "exec",
            r#"["init"]"#,
            "running",
            "STARTED_AT",
            &now.to_string(),
            "PROGRESS",
            "0.5",
            "RETRIES",
            "1",
        ],
        vec!["seg_0", r#"["init"]"#, "ready"],
        vec!["seg_1", r#"["exec"]"#, "pending", "WAITING_ON", "1"],
        vec!["join", r#"["seg_0","seg_1"]"#, "pending", "WAITING_ON", "2"],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    for t in &tasks {
        let mut args: Vec<&str> = vec![J, &t[0], S, "{}", &t[1], &t[2], "3", "60", "1700000000000"];
        args.extend(t[3..].iter().map(String::as_str));
        assert_eq!(db.q::<i64>("RESTORE_TASK", &args), 1, "{t:?}");
    }
}

#[test]
fn a_restored_job_continues_where_it_was() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    restore_half_done_job(&mut db);
    assert!(db.check().is_empty(), "{:?}", db.check());
    assert_eq!(db.q::<String>("JOB_STATE", &[J, "alice"]), "running");
    assert_eq!(db.q::<i64>("JOB_UNRESOLVED", &[J]), 4);
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["alice"]), 1);
    assert_eq!(db.stream_field(S, "ready").as_deref(), Some("1"));
    assert_eq!(db.stream_field(S, "running").as_deref(), Some("1"));
    assert_eq!(db.task_field(J, "exec", "retries").as_deref(), Some("1"));
    assert_eq!(db.q::<String>("TASK_OUTPUT", &[J, "init"]), r#"{"n":2}"#);
    // The ready task is served; the running one finishes and releases its dependent.
    assert_eq!(db.claim("cpu"), Some((J.to_string(), "seg_0".to_string())));
    assert!(db.done(J, "seg_0"));
    assert!(db.done(J, "exec"));
    assert_eq!(db.claim("cpu"), Some((J.to_string(), "seg_1".to_string())));
    assert!(db.done(J, "seg_1"));
    assert_eq!(db.claim("cpu"), Some((J.to_string(), "join".to_string())));
    assert!(db.done(J, "join"));
    assert_eq!(db.q::<String>("JOB_STATE", &[J, "alice"]), "done");
    assert!(db.q::<f64>("JOB_TIME", &[J]) >= 5.0);
    assert!(db.check().is_empty());
}

#[test]
fn restoring_again_writes_nothing() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    restore_half_done_job(&mut db);
    let d = digest(&mut db.c);
    assert_eq!(
        db.q::<i64>("RESTORE_STREAM", &[S, "cpu", "1", "1", "alice"]),
        0
    );
    assert_eq!(db.q::<i64>("RESTORE_JOB", &[J, "running", "alice", "1"]), 0);
    assert_eq!(
        db.q::<i64>(
            "RESTORE_TASK",
            &[J, "init", S, "{}", "[]", "done", "3", "60", "1"]
        ),
        0
    );
    assert_eq!(digest(&mut db.c), d);
}

#[test]
fn listings_show_every_stream_job_and_task() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    restore_half_done_job(&mut db);
    let st = db.stream("gpu", 1, 1.0, "bob");
    let mut streams = db.streams();
    streams.sort();
    let mut want = vec![S.to_string(), st.clone()];
    want.sort();
    assert_eq!(streams, want);
    let job = db.job(&st, "bob");
    let mut jobs = db.jobs();
    jobs.sort();
    let mut want = vec![J.to_string(), job];
    want.sort();
    assert_eq!(jobs, want);
    let tasks = db.job_tasks(J);
    assert_eq!(tasks, ["init", "exec", "seg_0", "seg_1", "join"]);
    // Pages of two: every task once, in order.
    let (next, page): (String, Vec<String>) = db.q("JOB_TASKS", &[J, "0", "COUNT", "2"]);
    assert_eq!(page, ["init", "exec"]);
    let (next, page): (String, Vec<String>) = db.q("JOB_TASKS", &[J, &next, "COUNT", "2"]);
    assert_eq!(page, ["seg_0", "seg_1"]);
    let (next, page): (String, Vec<String>) = db.q("JOB_TASKS", &[J, &next, "COUNT", "2"]);
    assert_eq!((next.as_str(), page), ("0", vec!["join".to_string()]));
    let e = db.err("JOB_TASKS", &["00000000-0000-4000-8000-000000000001", "0"]);
    assert!(e.starts_with("NOTFOUND job"), "{e}");
}

#[test]
fn restore_rejects_bad_input_and_changes_nothing() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    restore_half_done_job(&mut db);
    let d = digest(&mut db.c);
    let none = "00000000-0000-4000-8000-000000000009";
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("RESTORE_JOB", vec![none, "paused", "u", "1"], "ERR invalid state 'paused': must be running, done or failed"),
        ("RESTORE_JOB", vec![none, "done", "u", "1", "OOPS", "x"], "ERR invalid option 'OOPS': expected ERROR or REPORTED, each at most once"),
        ("RESTORE_TASK", vec![J, "x", S, "{}", "[]", "lost", "1", "1", "1"], "ERR invalid state 'lost': must be pending, ready, running, done, failed or cancelled"),
        ("RESTORE_TASK", vec![J, "x", S, "{}", "[]", "ready", "1", "1", "1", "COLOR", "red"], "ERR invalid option 'COLOR': expected WAITING_ON, PROGRESS, RETRIES, STARTED_AT, UPDATED_AT, OUTPUT, ERROR, ATTEMPT or WORKER"),
        ("RESTORE_TASK", vec![J, "x", S, "{}", "[]", "ready", "1", "1", "1", "PROGRESS", "2"], "ERR invalid progress '2': must be a number from 0 to 1"),
        ("RESTORE_TASK", vec![J, "x", S, "{}", "[]", "ready", "1", "1", "1", "RETRIES", "1", "RETRIES", "2"], "ERR invalid option 'RETRIES': given twice"),
        ("RESTORE_TASK", vec![none, "x", S, "{}", "[]", "ready", "1", "1", "1"], "NOTFOUND job '00000000-0000-4000-8000-000000000009' does not exist"),
        ("RESTORE_TASK", vec![J, "x", none, "{}", "[]", "ready", "1", "1", "1"], "NOTFOUND stream '00000000-0000-4000-8000-000000000009' does not exist"),
        ("RESTORE_STREAM", vec![none, "cpu", "1", "0", "u"], "ERR invalid be_mult '0': must be a finite number > 0"),
    ];
    for (cmd, args, want) in cases {
        assert_eq!(db.err(cmd, &args), want, "{cmd} {args:?}");
        assert_eq!(digest(&mut db.c), d, "{cmd} {args:?} changed the keyspace");
    }
    let none_job: Value = db.q("JOB", &[none]);
    assert_eq!(none_job, Value::Nil);
}
