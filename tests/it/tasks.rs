//! TASKDB.CREATE_TASK, TASK, TASK_OUTPUT.

use crate::common::*;
use redis::Value;

#[test]
fn a_task_waits_on_prerequisites_not_done() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    assert_eq!(
        db.task_field(&job, "a", "state").as_deref(),
        Some("pending")
    );
    assert_eq!(db.task_field(&job, "a", "waiting_on").as_deref(), Some("1"));
    db.claim("cpu").unwrap();
    assert!(db.done(&job, "init"));
    db.task(&job, "b", &st, &["init"]);
    assert_eq!(db.task_field(&job, "b", "state").as_deref(), Some("ready"));
    assert_eq!(db.task_field(&job, "b", "waiting_on").as_deref(), Some("0"));
    db.task(&job, "c", &st, &["init", "a", "b"]);
    assert_eq!(db.task_field(&job, "c", "waiting_on").as_deref(), Some("2"));
    assert_eq!(db.q::<i64>("JOB_UNRESOLVED", &[&job]), 3);
    assert!(db.check().is_empty());
}

#[test]
fn task_reply_lists_every_field_in_order() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let f = fields(db.q::<Value>("TASK", &[&job, "init"]));
    let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
    // RESP2 leaves unset fields (output, error, started_at, updated_at, worker_id) out;
    // tests/it/protocol.rs has RESP3, where they are null.
    assert_eq!(
        names,
        [
            "state",
            "stream_id",
            "task_def",
            "prerequisites",
            "waiting_on",
            "progress",
            "retries",
            "max_retries",
            "timeout_secs",
            "created_at",
            "attempt",
        ]
    );
    assert_eq!(field(&f, "stream_id"), Some(st));
    assert_eq!(field(&f, "attempt").as_deref(), Some("0"));
    assert_eq!(field(&f, "worker_id"), None);
    assert_eq!(field(&f, "output"), None);
    assert_eq!(field(&f, "started_at"), None);
    assert!(field(&f, "created_at").unwrap().parse::<i64>().unwrap() > 1_600_000_000_000);
    let none: Value = db.q("TASK", &[&job, "nope"]);
    assert_eq!(none, Value::Nil);
}

#[test]
fn task_output_only_for_done_tasks() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let e = db.err("TASK_OUTPUT", &[&job, "init"]);
    assert!(
        e.starts_with("NOTFOUND task 'init'") && e.contains("ready"),
        "{e}"
    );
    let e = db.err("TASK_OUTPUT", &[&job, "nope"]);
    assert!(e.starts_with("NOTFOUND task 'nope'"), "{e}");
    assert_eq!(db.q::<i64>("DONE", &[&job, "init", r#"{"r":[1,2]}"#]), 1);
    assert_eq!(
        db.q::<String>("TASK_OUTPUT", &[&job, "init"]),
        r#"{"r":[1,2]}"#
    );
}

#[test]
fn create_task_refuses_what_cannot_exist() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let none = "00000000-0000-0000-0000-000000000009";
    let d = digest(&mut db.c);
    let e = db.err(
        "CREATE_TASK",
        &[&job, "a", &st, "{}", r#"["ghost"]"#, "1", "1"],
    );
    assert!(e.starts_with("NOTFOUND prerequisite 'ghost'"), "{e}");
    let e = db.err("CREATE_TASK", &[&job, "init", &st, "{}", "[]", "1", "1"]);
    assert!(e.starts_with("EXISTS task 'init'"), "{e}");
    let e = db.err("CREATE_TASK", &[none, "a", &st, "{}", "[]", "1", "1"]);
    assert!(e.starts_with("NOTFOUND job"), "{e}");
    let e = db.err("CREATE_TASK", &[&job, "a", none, "{}", "[]", "1", "1"]);
    assert!(e.starts_with("NOTFOUND stream"), "{e}");
    let e = db.err("CREATE_TASK", &[&job, "a", &st, "{}", r#"["a"]"#, "1", "1"]);
    assert!(e.contains("cannot depend on itself"), "{e}");
    let e = db.err(
        "CREATE_TASK",
        &[&job, "a", &st, "{}", r#"["init","init"]"#, "1", "1"],
    );
    assert!(e.contains("listed twice"), "{e}");
    assert_eq!(digest(&mut db.c), d);
}

#[test]
fn a_task_added_to_a_done_job_reopens_it_until_its_tasks_are_done() {
    let s = Server::start();
    let replica = Server::replica_of(&s, &["--save", ""]);
    let mut db = Ns::new(&s, "t");
    let _: () = q(
        &mut db.c,
        &["CONFIG", "SET", "notify-keyspace-events", "Ed"],
    );
    let mut sub = s.conn();
    let mut events = sub.as_pubsub();
    events
        .subscribe("__keyevent@0__:taskdb.job_running")
        .unwrap();
    events
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    assert!(db.done(&job, "init"));
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "done");
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["u"]), 0);

    // The next layer of the DAG arrives after the first finished: the job runs again.
    db.task(&job, "seg_0", &st, &["init"]);
    db.task(&job, "seg_1", &st, &["init"]);
    db.task(&job, "join", &st, &["seg_0", "seg_1"]);
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "running");
    assert_eq!(db.q::<i64>("JOB_UNRESOLVED", &[&job]), 3);
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["u"]), 1);
    assert_eq!(
        db.task_field(&job, "seg_0", "state").as_deref(),
        Some("ready")
    );
    assert_eq!(
        db.task_field(&job, "join", "state").as_deref(),
        Some("pending")
    );
    let (_, jobs) = db.stats();
    assert_eq!(
        jobs,
        [
            ("running".into(), 1),
            ("done".into(), 0),
            ("failed".into(), 0)
        ]
    );
    let i = taskdb_info(&mut db.c);
    assert_eq!(
        (i["jobs_running"].as_str(), i["jobs_done"].as_str()),
        ("1", "0")
    );
    let msg = events.get_message().expect("a taskdb.job_running event");
    assert_eq!(msg.get_payload::<String>().unwrap(), "t");
    // CLEAR_COMPLETED leaves a reopened job alone.
    assert_eq!(db.q::<i64>("CLEAR_COMPLETED", &[]), 0);

    for task in ["seg_0", "seg_1", "join"] {
        assert_eq!(db.claim("cpu").map(|(_, t)| t).as_deref(), Some(task));
        assert!(db.done(&job, task));
    }
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "done");
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["u"]), 0);
    // Done again, it reopens again.
    db.task(&job, "final", &st, &["join"]);
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "running");
    assert!(db.check().is_empty());
    let _: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
    assert_eq!(digest(&mut replica.conn()), digest(&mut db.c));
}

#[test]
fn a_failed_job_stays_failed_and_cancels_a_task_added_to_it() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.claim("cpu").unwrap();
    assert_eq!(db.q::<i64>("FAILED", &[&job, "init", "boom"]), 1);
    db.task(&job, "late", &st, &[]);
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "failed");
    assert_eq!(
        db.task_field(&job, "late", "state").as_deref(),
        Some("cancelled")
    );
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["u"]), 0);
    assert_eq!(db.claim("cpu"), None);
}
