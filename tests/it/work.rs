//! TASKDB.REQUEST_WORK, DONE, FAILED, PROGRESS, RETRY, REQUEUE.

use crate::common::*;
use redis::Value;

#[test]
fn request_work_hands_out_a_task_once() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, r#"{"x":1}"#, "4", "60", "u"]);
    let v: (String, String, String, String, i64, i64) = db.q("REQUEST_WORK", &["cpu"]);
    assert_eq!(
        v,
        (
            job.clone(),
            "init".into(),
            r#"{"x":1}"#.into(),
            "[]".into(),
            4,
            1
        ),
        "the sixth element is the attempt"
    );
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("running")
    );
    assert!(db.task_field(&job, "init", "started_at").is_some());
    assert_eq!(db.stream_field(&st, "running").as_deref(), Some("1"));
    assert_eq!(db.stream_field(&st, "ready").as_deref(), Some("0"));
    assert_eq!(db.claim("cpu"), None);
    assert_eq!(db.claim("gpu"), None);
}

#[test]
fn request_work_returns_the_prerequisite_list() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    db.claim("cpu");
    db.done(&job, "init");
    let v: (String, String, String, String, i64, i64) = db.q("REQUEST_WORK", &["cpu"]);
    assert_eq!(v.3, r#"["init"]"#);
}

#[test]
fn done_releases_dependents_and_completes_the_job() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    db.task(&job, "b", &st, &["init"]);
    db.task(&job, "join", &st, &["a", "b"]);
    assert!(db.done(&job, "init"));
    assert!(!db.done(&job, "init"), "a done task is not done again");
    assert_eq!(db.task_field(&job, "a", "state").as_deref(), Some("ready"));
    assert_eq!(
        db.task_field(&job, "join", "waiting_on").as_deref(),
        Some("2")
    );
    assert!(db.done(&job, "a"));
    assert_eq!(
        db.task_field(&job, "join", "waiting_on").as_deref(),
        Some("1")
    );
    assert_eq!(
        db.task_field(&job, "join", "state").as_deref(),
        Some("pending")
    );
    assert!(!db.done(&job, "join"), "pending tasks cannot be done");
    assert!(db.done(&job, "b"));
    assert_eq!(
        db.task_field(&job, "join", "state").as_deref(),
        Some("ready")
    );
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "running");
    assert!(db.done(&job, "join"));
    assert_eq!(
        db.task_field(&job, "join", "progress").as_deref(),
        Some("1")
    );
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "done");
    assert_eq!(db.q::<i64>("JOB_UNRESOLVED", &[&job]), 0);
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["u"]), 0);
    assert!(db.check().is_empty());
}

#[test]
fn failed_fails_the_job_and_done_never_revives_it() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    db.task(&job, "b", &st, &["init"]);
    db.claim("cpu");
    assert!(db.done(&job, "init"));
    db.claim("cpu");
    db.claim("cpu"); // b is running when a fails, so it is not cancelled
    assert_eq!(db.q::<i64>("FAILED", &[&job, "a", "out of memory"]), 1);
    assert_eq!(db.q::<i64>("FAILED", &[&job, "a", "again"]), 0);
    assert_eq!(db.task_field(&job, "a", "state").as_deref(), Some("failed"));
    assert_eq!(
        db.task_field(&job, "a", "error").as_deref(),
        Some("out of memory")
    );
    assert_eq!(db.task_field(&job, "a", "progress").as_deref(), Some("1"));
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "failed");
    assert_eq!(db.q::<String>("JOB_FAILURE", &[&job]), "out of memory");
    assert_eq!(db.q::<i64>("DONE", &[&job, "b", "{}"]), 1);
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "failed");
    assert!(db.check().is_empty());
}

#[test]
fn failed_applies_to_pending_tasks_too() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    assert_eq!(db.q::<i64>("FAILED", &[&job, "a", "bad input"]), 1);
    assert!(db.check().is_empty());
}

#[test]
fn a_report_naming_a_missing_job_or_task_is_notfound_not_already_reported() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.claim("cpu").unwrap();
    let other = "5b0e7a52-3a8e-4f5a-9d0a-0000000000ff";
    let d = digest(&mut db.c);
    for (cmd, extra) in [
        ("DONE", vec!["{}"]),
        ("FAILED", vec!["x"]),
        ("PROGRESS", vec!["0.5"]),
        ("HEARTBEAT", vec![]),
        ("RETRY", vec![]),
    ] {
        let mut args = vec![job.as_str(), "nope"];
        args.extend(&extra);
        assert_eq!(
            db.err(cmd, &args),
            format!("NOTFOUND task 'nope' of job '{job}' does not exist"),
            "{cmd}"
        );
        let mut args = vec![other, "init"];
        args.extend(&extra);
        assert_eq!(
            db.err(cmd, &args),
            format!("NOTFOUND job '{other}' does not exist"),
            "{cmd}"
        );
        // A namespace that does not exist holds no such job either (a typo in `ns`).
        let mut all = vec![
            format!("TASKDB.{cmd}"),
            "tt".into(),
            job.clone(),
            "init".into(),
        ];
        all.extend(extra.iter().map(|s| s.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        assert_eq!(
            err(&mut db.c, &all),
            format!("NOTFOUND job '{job}' does not exist")
        );
    }
    assert_eq!(digest(&mut db.c), d, "nothing changed");
    // A task that exists but was already reported still answers 0.
    assert!(db.done(&job, "init"));
    assert_eq!(db.q::<i64>("DONE", &[&job, "init", "{}"]), 0);
}

#[test]
fn progress_keeps_the_maximum_and_renews_the_lease() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    assert_eq!(
        db.q::<i64>("PROGRESS", &[&job, "init", "0.25"]),
        1,
        "ready tasks take progress"
    );
    db.claim("cpu");
    assert_eq!(db.q::<i64>("PROGRESS", &[&job, "init", "0.5"]), 1);
    assert_eq!(db.q::<i64>("PROGRESS", &[&job, "init", "0.4"]), 1);
    assert_eq!(
        db.task_field(&job, "init", "progress").as_deref(),
        Some("0.5")
    );
    assert!(db.task_field(&job, "init", "updated_at").is_some());
    assert!(db.check().is_empty(), "lease deadline follows updated_at");
    db.done(&job, "init");
    assert_eq!(db.q::<i64>("PROGRESS", &[&job, "init", "0.9"]), 0);
}

#[test]
fn retry_requeues_until_the_limit_then_fails() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, "{}", "1", "60", "u"]);
    assert_eq!(db.q::<i64>("RETRY", &[&job, "init"]), 0, "not running");
    db.claim("cpu");
    db.q::<i64>("PROGRESS", &[&job, "init", "0.7"]);
    assert_eq!(db.q::<i64>("RETRY", &[&job, "init"]), 1);
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("ready")
    );
    assert_eq!(db.task_field(&job, "init", "retries").as_deref(), Some("1"));
    assert_eq!(
        db.task_field(&job, "init", "progress").as_deref(),
        Some("0")
    );
    assert_eq!(db.task_field(&job, "init", "error").as_deref(), Some(""));
    db.claim("cpu");
    assert_eq!(db.q::<i64>("RETRY", &[&job, "init"]), 0, "limit hit");
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("failed")
    );
    assert_eq!(
        db.task_field(&job, "init", "error").as_deref(),
        Some("retry max hit")
    );
    assert_eq!(db.q::<String>("JOB_FAILURE", &[&job]), "retry max hit");
    assert!(db.check().is_empty());
}

#[test]
fn requeue_retries_only_expired_leases() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let short: String = db.q("CREATE_JOB", &[&st, "{}", "3", "0", "u"]);
    let long: String = db.q("CREATE_JOB", &[&st, "{}", "3", "3600", "u"]);
    db.claim("cpu");
    db.claim("cpu");
    // A lease of 0 s expires once the server clock passes its start.
    let started = db.task_ms(&short, "init", "started_at");
    db.wait_past(started);
    assert_eq!(db.q::<i64>("REQUEUE", &["10"]), 1);
    assert_eq!(
        db.task_field(&short, "init", "state").as_deref(),
        Some("ready")
    );
    assert_eq!(
        db.task_field(&short, "init", "retries").as_deref(),
        Some("1")
    );
    assert_eq!(
        db.task_field(&long, "init", "state").as_deref(),
        Some("running")
    );
    assert_eq!(db.q::<i64>("REQUEUE", &["10"]), 0);
    assert!(db.check().is_empty());
}

#[test]
fn requeue_respects_its_limit() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let mut last = String::new();
    for _ in 0..5 {
        last = db.q("CREATE_JOB", &[&st, "{}", "3", "0", "u"]);
        db.claim("cpu").unwrap();
    }
    let started = db.task_ms(&last, "init", "started_at");
    db.wait_past(started);
    assert_eq!(db.q::<i64>("REQUEUE", &["2"]), 2);
    assert_eq!(db.q::<i64>("REQUEUE", &["10"]), 3);
    let none: Value = db.q("REQUEST_WORK", &["gpu"]);
    assert_eq!(none, Value::Nil);
}

#[test]
fn concurrent_workers_never_share_a_task() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let mut expected = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let j = db.job(&st, "u");
        for i in 0..4 {
            db.task(&j, &format!("t{i}"), &st, &[]);
            expected.insert((j.clone(), format!("t{i}")));
        }
        expected.insert((j, "init".into()));
    }
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let mut w = Ns::new(&s, "t");
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(t) = w.claim("cpu") {
                    got.push(t);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().unwrap());
    }
    let unique: std::collections::BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), unique.len(), "a task was handed out twice");
    assert_eq!(unique, expected);
}
