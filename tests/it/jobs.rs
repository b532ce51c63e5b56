//! TASKDB.CREATE_JOB and the job queries, DELETE_JOB, CLEAR_COMPLETED.

use crate::common::*;
use redis::Value;

#[test]
fn create_job_makes_a_running_job_with_a_ready_init_task() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, r#"{"k":"v"}"#, "2", "30", "u"]);
    let f = fields(db.q::<Value>("JOB", &[&job]));
    let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
    // RESP2 leaves unset fields (error, reported) out; tests/it/protocol.rs has RESP3.
    assert_eq!(
        names,
        [
            "state",
            "user_id",
            "created_at",
            "priority",
            "tasks",
            "unresolved"
        ]
    );
    assert_eq!(field(&f, "state").as_deref(), Some("running"));
    assert_eq!(field(&f, "priority").as_deref(), Some("medium"));
    assert_eq!(field(&f, "reported"), None);
    assert_eq!(field(&f, "error"), None);
    assert_eq!(field(&f, "user_id").as_deref(), Some("u"));
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("ready")
    );
    assert_eq!(
        db.task_field(&job, "init", "prerequisites").as_deref(),
        Some("[]")
    );
    assert_eq!(
        db.task_field(&job, "init", "task_def").as_deref(),
        Some(r#"{"k":"v"}"#)
    );
    assert_eq!(
        db.task_field(&job, "init", "max_retries").as_deref(),
        Some("2")
    );
    assert_eq!(
        db.task_field(&job, "init", "timeout_secs").as_deref(),
        Some("30")
    );
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "running");
    assert_eq!(db.q::<i64>("JOB_UNRESOLVED", &[&job]), 1);
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["u"]), 1);
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["other"]), 0);
    assert_eq!(db.stream_field(&st, "ready").as_deref(), Some("1"));
}

#[test]
fn create_job_with_a_chosen_id() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let id = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
    let job: String = db.q("CREATE_JOB", &[&st, "{}", "0", "5", "u", "ID", id]);
    assert_eq!(job, id.to_lowercase());
    let e = db.err("CREATE_JOB", &[&st, "{}", "0", "5", "u", "ID", id]);
    assert!(e.starts_with("EXISTS job"), "{e}");
}

#[test]
fn job_state_is_per_user() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let e = db.err("JOB_STATE", &[&job, "mallory"]);
    assert!(e.starts_with("NOTFOUND job"), "{e}");
    let e = db.err("JOB_STATE", &["00000000-0000-0000-0000-000000000001", "u"]);
    assert!(e.starts_with("NOTFOUND"), "{e}");
}

#[test]
fn job_time_spans_first_start_to_last_update() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let none: Value = db.q("JOB_TIME", &[&job]);
    assert_eq!(none, Value::Nil);
    db.claim("cpu").unwrap();
    let started = db.task_ms(&job, "init", "started_at");
    db.wait_past(started + 20);
    assert!(db.done(&job, "init"));
    let updated = db.task_ms(&job, "init", "updated_at");
    let t: f64 = db.q("JOB_TIME", &[&job]);
    assert_eq!(t, (updated - started) as f64 / 1000.0);
    assert!(t > 0.0);
}

#[test]
fn job_failure_reports_the_failed_tasks_error() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let e = db.err("JOB_FAILURE", &[&job]);
    assert!(e.starts_with("NOTFOUND job"), "{e}");
    assert_eq!(db.q::<i64>("FAILED", &[&job, "init", "boom"]), 1);
    assert_eq!(db.q::<String>("JOB_FAILURE", &[&job]), "boom");
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "failed");
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["u"]), 0);
    let f = fields(db.q::<Value>("JOB", &[&job]));
    assert_eq!(field(&f, "error").as_deref(), Some("boom"));
}

#[test]
fn delete_job_removes_everything_and_keeps_counters_exact() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let keep = db.job(&st, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    db.task(&job, "b", &st, &["init", "a"]);
    let other = db.job(&st, "u");
    // Claim keep's init (running) so the deleted job has a ready task and others coexist.
    assert_eq!(db.claim("cpu").unwrap().0, keep);
    let before: i64 = q(&mut db.c, &["MEMORY", "USAGE", "t"]);
    assert_eq!(db.q::<i64>("DELETE_JOB", &[&job]), 1);
    assert_eq!(db.q::<i64>("DELETE_JOB", &[&job]), 0);
    let after: i64 = q(&mut db.c, &["MEMORY", "USAGE", "t"]);
    assert!(after < before, "the namespace shrank: {before} -> {after}");
    assert!(!db.jobs().contains(&job));
    let queued: Vec<(String, String)> = db.q("QUEUE", &[&st]);
    assert!(queued.iter().all(|(j, _)| *j != job), "{queued:?}");
    assert_eq!(db.q::<Value>("JOB", &[&job]), Value::Nil);
    assert_eq!(db.q::<Value>("TASK", &[&job, "a"]), Value::Nil);
    assert_eq!(db.stream_field(&st, "ready").as_deref(), Some("1"));
    assert_eq!(db.stream_field(&st, "running").as_deref(), Some("1"));
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["u"]), 2);
    assert!(db.check().is_empty());
    assert_eq!(db.claim("cpu").unwrap().0, other);
}

#[test]
fn clear_completed_deletes_only_done_jobs() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let done = db.job(&st, "u");
    let failed = db.job(&st, "u");
    let running = db.job(&st, "u");
    db.claim("cpu");
    assert!(db.done(&done, "init"));
    assert_eq!(db.q::<i64>("FAILED", &[&failed, "init", "x"]), 1);
    assert_eq!(db.q::<String>("JOB_STATE", &[&done, "u"]), "done");
    assert_eq!(db.q::<i64>("CLEAR_COMPLETED", &[]), 1);
    assert_eq!(db.q::<i64>("CLEAR_COMPLETED", &[]), 0);
    assert_eq!(db.q::<Value>("JOB", &[&done]), Value::Nil);
    assert_eq!(db.q::<String>("JOB_STATE", &[&failed, "u"]), "failed");
    assert_eq!(db.q::<String>("JOB_STATE", &[&running, "u"]), "running");
    assert!(db.check().is_empty());
}

#[test]
fn stats_counts_tasks_per_worker_type_and_jobs_per_state() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let cpu = db.stream("cpu", 1, 1.0, "u");
    let gpu = db.stream("gpu", 1, 1.0, "u");
    let job = db.job(&cpu, "u");
    db.task(&job, "g", &gpu, &["init"]);
    let (tasks, jobs) = db.stats();
    assert_eq!(
        jobs,
        [
            ("running".into(), 1),
            ("done".into(), 0),
            ("failed".into(), 0)
        ]
    );
    let (wt, cpu_counts) = &tasks[0];
    assert_eq!(wt, "cpu");
    assert_eq!(cpu_counts[1], ("ready".into(), 1));
    let (wt, gpu_counts) = &tasks[1];
    assert_eq!(wt, "gpu");
    assert_eq!(gpu_counts[0], ("pending".into(), 1));
}

#[test]
fn higher_priority_jobs_are_served_first_within_a_stream() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let low: String = db.q(
        "CREATE_JOB",
        &[&st, "{}", "1", "60", "u", "PRIORITY", "low"],
    );
    let medium = db.job(&st, "u");
    let high: String = db.q(
        "CREATE_JOB",
        &[&st, "{}", "1", "60", "u", "PRIORITY", "HIGH"],
    );
    let high2: String = db.q(
        "CREATE_JOB",
        &[
            &st,
            "{}",
            "1",
            "60",
            "u",
            "ID",
            "00000000-0000-4000-8000-000000000002",
            "PRIORITY",
            "high",
        ],
    );
    assert_eq!(high2, "00000000-0000-4000-8000-000000000002");
    // The tasks a job creates later inherit its priority.
    db.task(&low, "later", &st, &[]);
    let order: Vec<String> = (0..5).map(|_| db.claim("cpu").unwrap().0).collect();
    assert_eq!(order, [high.clone(), high2, medium, low.clone(), low]);
    let e = db.err(
        "CREATE_JOB",
        &[&st, "{}", "1", "60", "u", "PRIORITY", "urgent"],
    );
    assert_eq!(
        e,
        "ERR invalid PRIORITY 'urgent': must be high, medium or low"
    );
    let e = db.err(
        "CREATE_JOB",
        &[
            &st, "{}", "1", "60", "u", "PRIORITY", "low", "PRIORITY", "high",
        ],
    );
    assert!(e.contains("each at most once"), "{e}");
    assert!(db.check().is_empty());
}

#[test]
fn a_failed_job_stops_consuming_workers() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    db.task(&job, "b", &st, &["init"]);
    db.task(&job, "c", &st, &["a"]);
    db.task(&job, "d", &st, &["init"]);
    db.claim("cpu").unwrap();
    assert!(db.done(&job, "init"));
    assert_eq!(db.claim("cpu").map(|(_, t)| t).as_deref(), Some("a"));
    assert_eq!(db.claim("cpu").map(|(_, t)| t).as_deref(), Some("b"));
    // b fails: the job fails, d (ready) and c (pending) are cancelled, a keeps running.
    assert_eq!(db.q::<i64>("FAILED", &[&job, "b", "bad proof"]), 1);
    for t in ["c", "d"] {
        assert_eq!(
            db.task_field(&job, t, "state").as_deref(),
            Some("cancelled")
        );
    }
    assert_eq!(
        db.task_field(&job, "a", "state").as_deref(),
        Some("running")
    );
    assert_eq!(
        db.claim("cpu"),
        None,
        "nothing of the failed job is handed out"
    );
    assert_eq!(db.stream_field(&st, "ready").as_deref(), Some("0"));
    // a may still finish (accepted) but never revives the job; a retry cancels instead.
    let other = db.job(&st, "u");
    assert_eq!(db.claim("cpu").unwrap().0, other);
    assert_eq!(db.q::<i64>("RETRY", &[&job, "a"]), 0);
    assert_eq!(
        db.task_field(&job, "a", "state").as_deref(),
        Some("cancelled")
    );
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "failed");
    // New tasks of a failed job are cancelled at once.
    db.task(&job, "late", &st, &[]);
    assert_eq!(
        db.task_field(&job, "late", "state").as_deref(),
        Some("cancelled")
    );
    let (tasks, _) = db.stats();
    let cancelled = tasks[0].1.iter().find(|(s, _)| s == "cancelled").unwrap().1;
    assert_eq!(cancelled, 4);
    assert!(db.check().is_empty());
}

#[test]
fn cancel_job_stops_a_job_on_purpose() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    assert_eq!(db.q::<i64>("CANCEL_JOB", &[&job, "user asked"]), 1);
    assert_eq!(db.q::<i64>("CANCEL_JOB", &[&job]), 0, "already ended");
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "failed");
    assert_eq!(db.q::<String>("JOB_FAILURE", &[&job]), "user asked");
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("cancelled")
    );
    assert_eq!(
        db.task_field(&job, "a", "state").as_deref(),
        Some("cancelled")
    );
    assert_eq!(db.claim("cpu"), None);
    let plain = db.job(&st, "u");
    assert_eq!(db.q::<i64>("CANCEL_JOB", &[&plain]), 1);
    assert_eq!(db.q::<String>("JOB_FAILURE", &[&plain]), "cancelled");
    let e = db.err("CANCEL_JOB", &["00000000-0000-4000-8000-000000000009"]);
    assert!(e.starts_with("NOTFOUND job"), "{e}");
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["u"]), 0);
    assert!(db.check().is_empty());
}

#[test]
fn jobs_list_oldest_or_newest_first_a_page_at_a_time_with_filters() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let jobs: Vec<String> = (0..5)
        .map(|i| db.job(&st, if i % 2 == 0 { "u" } else { "v" }))
        .collect();
    db.task(&jobs[4], "a", &st, &["init"]);
    assert_eq!(db.jobs(), jobs);
    let mut newest = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, page): (String, Vec<String>) = db.q("JOBS", &[&cursor, "COUNT", "2", "REV"]);
        assert!(page.len() <= 2);
        newest.extend(page);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    let mut want = jobs.clone();
    want.reverse();
    assert_eq!(newest, want);
    let (_, of_u): (String, Vec<String>) =
        db.q("JOBS", &["0", "USER", "u", "REV", "STATE", "running"]);
    assert_eq!(of_u, [jobs[4].clone(), jobs[2].clone(), jobs[0].clone()]);
    assert_eq!(
        db.err("JOBS", &["0", "REV", "REV"]),
        "ERR invalid option 'REV': expected COUNT n, STATE s, USER u or REV, each at most once"
    );
    // A job's record counts its tasks and those not done.
    let f = fields(db.q::<Value>("JOB", &[&jobs[4]]));
    assert_eq!(field(&f, "tasks").as_deref(), Some("2"));
    assert_eq!(field(&f, "unresolved").as_deref(), Some("2"));
}

#[test]
fn retry_job_runs_a_failed_or_cancelled_job_again_and_replicates() {
    let s = Server::start();
    let replica = Server::replica_of(&s, &[]);
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    let (_, init) = db.claim("cpu").unwrap();
    assert_eq!(db.q::<i64>("FAILED", &[&job, &init, "disk full"]), 1);
    assert_eq!(
        db.task_field(&job, "a", "state").as_deref(),
        Some("cancelled")
    );
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["u"]), 0);

    assert_eq!(db.q::<i64>("RETRY_JOB", &[&job]), 1);
    assert_eq!(
        db.q::<i64>("RETRY_JOB", &[&job]),
        0,
        "running: nothing to retry"
    );
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "running");
    assert_eq!(db.q::<i64>("CONCURRENT_JOBS", &["u"]), 1);
    let f = fields(db.q::<Value>("JOB", &[&job]));
    assert_eq!(field(&f, "error"), None);
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("ready")
    );
    assert_eq!(db.task_field(&job, "init", "retries").as_deref(), Some("0"));
    assert_eq!(db.task_field(&job, "init", "error"), None);
    assert_eq!(
        db.task_field(&job, "a", "state").as_deref(),
        Some("pending")
    );
    assert!(db.check().is_empty());
    // A failure report of the attempt before the retry does not apply; the next claim
    // is attempt 2.
    assert_eq!(
        db.q::<i64>("FAILED", &[&job, "init", "late", "ATTEMPT", "1"]),
        0
    );
    let (_, again) = db.claim("cpu").unwrap();
    assert_eq!(again, "init");
    assert_eq!(db.task_field(&job, "init", "attempt").as_deref(), Some("2"));
    assert!(db.done(&job, "init"));

    assert_eq!(
        db.err("RETRY_JOB", &["00000000-0000-0000-0000-000000000009"]),
        "NOTFOUND job '00000000-0000-0000-0000-000000000009' does not exist"
    );
    let mut pc = s.conn();
    let acked: i64 = q(&mut pc, &["WAIT", "1", "10000"]);
    assert_eq!(acked, 1);
    assert_eq!(digest(&mut replica.conn()), digest(&mut pc));
}
