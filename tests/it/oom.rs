//! Out of memory (`maxmemory` with `noeviction`): commands that free memory (DELETE_JOB,
//! CLEAR_COMPLETED, CANCEL_JOB) and those that only rewrite a leased task's fixed-size
//! state (HEARTBEAT, PROGRESS, RETRY) are accepted, as DEL is; the rest answer OOM; the
//! lease reaper expires nothing while the server refuses writes. So an operator can make
//! room, and workers keep their leases meanwhile.

use crate::common::*;

fn used_memory(db: &mut Ns) -> i64 {
    let info: String = q(&mut db.c, &["INFO", "memory"]);
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

#[test]
fn at_maxmemory_an_operator_frees_space_and_the_workload_completes_with_no_job_failed() {
    let s = Server::with_args(&["--save", "", "--maxmemory-policy", "noeviction"]);
    let mut db = Ns::new(&s, "o");
    db.reaper_every("50");
    // Ballast: 4 MB of queued tasks nobody will claim, which the operator deletes.
    let bst = db.stream("ballast", 1, 1.0, "ops");
    let ballast = db.job(&bst, "ops");
    let big = format!("\"{}\"", "b".repeat(20_000));
    for i in 0..200 {
        let _: String = db.q(
            "CREATE_TASK",
            &[&ballast, &format!("b{i}"), &bst, &big, "[]", "3", "60"],
        );
    }
    // The workload: 4 jobs of init + 2 tasks, 1 s leases, at most one retry.
    let st = db.stream("cpu", 4, 1.0, "u");
    let mut jobs = Vec::new();
    for _ in 0..4 {
        let job: String = db.q("CREATE_JOB", &[&st, "{}", "1", "1", "u"]);
        for t in ["a", "b"] {
            let _: String = db.q("CREATE_TASK", &[&job, t, &st, "{}", "[\"init\"]", "1", "1"]);
        }
        jobs.push(job);
    }
    let mut running: Vec<(String, String)> = (0..4).map(|_| db.claim("cpu").unwrap()).collect();
    // The last worker stalls: it will not heartbeat while the server is out of memory.
    let stalled = running.pop().unwrap();

    let limit = used_memory(&mut db) * 99 / 100;
    let _: () = q(
        &mut db.c,
        &["CONFIG", "SET", "maxmemory", &limit.to_string()],
    );
    let e = db.err("CREATE_JOB", &[&st, "{}", "1", "1", "u"]);
    assert!(e.starts_with("OOM"), "{e}");
    let (j, t) = &running[0];
    let e = db.err("DONE", &[j, t, "{}"]);
    assert!(e.starts_with("OOM"), "{e}");

    // Out of memory for three lease lengths: live workers heartbeat (accepted), the
    // stalled lease is not expired by the reaper.
    let start = db.server_ms();
    while db.server_ms() < start + 3000 {
        for (j, t) in &running {
            assert_eq!(
                db.q::<i64>("HEARTBEAT", &[j, t]),
                1,
                "HEARTBEAT at maxmemory"
            );
            assert_eq!(
                db.q::<i64>("PROGRESS", &[j, t, "0.5"]),
                1,
                "PROGRESS at maxmemory"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        db.task_field(&stalled.0, &stalled.1, "state").as_deref(),
        Some("running"),
        "the reaper expired a lease while writes were refused"
    );
    assert_eq!(
        db.task_field(&stalled.0, &stalled.1, "retries").as_deref(),
        Some("0")
    );

    // The operator makes room: DELETE_JOB is accepted at maxmemory.
    assert_eq!(db.q::<i64>("DELETE_JOB", &[&ballast]), 1);
    assert!(used_memory(&mut db) < limit, "the deletion freed the space");

    // Now the stalled lease is reclaimed (a retry, not a failure) and the work finishes.
    wait_for(10, "the stalled lease to be requeued", || {
        (db.task_field(&stalled.0, &stalled.1, "state").as_deref() == Some("ready")).then_some(())
    });
    for (j, t) in &running {
        assert!(db.done(j, t));
    }
    while let Some((j, t)) = db.claim("cpu") {
        assert!(db.done(&j, &t));
    }
    for job in &jobs {
        assert_eq!(db.q::<String>("JOB_STATE", &[job, "u"]), "done", "{job}");
    }
    assert!(db.check().is_empty());
}

#[test]
fn at_maxmemory_commands_that_free_or_rewrite_fixed_state_are_accepted_and_the_rest_refused() {
    let s = Server::with_args(&["--save", "", "--maxmemory-policy", "noeviction"]);
    let mut db = Ns::new(&s, "o");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let other = db.job(&st, "u");
    let done_job = db.job(&st, "u");
    let (j, t) = db.claim("cpu").unwrap();
    assert_eq!(j, job);
    let _: i64 = db.q("DONE", &[&done_job, "init", "{}"]);
    let _: () = q(&mut db.c, &["CONFIG", "SET", "maxmemory", "1"]);
    for args in [
        vec!["CREATE_STREAM", "cpu", "1", "1", "u"],
        vec!["GET_OR_CREATE_STREAM", "gpu", "1", "1", "u"],
        vec!["CREATE_JOB", &st, "{}", "1", "1", "u"],
        vec!["CREATE_TASK", &job, "x", &st, "{}", "[]", "1", "1"],
        vec!["REQUEST_WORK", "cpu"],
        vec!["DONE", &j, &t, "{}"],
        vec!["FAILED", &j, &t, "e"],
        vec!["REQUEUE", "10"],
        vec!["REPAIR"],
        vec!["RESTORE_STREAM", &st, "cpu", "1", "1", "u"],
    ] {
        let e = db.err(args[0], &args[1..]);
        assert!(e.starts_with("OOM"), "{args:?}: {e}");
    }
    assert_eq!(db.q::<i64>("HEARTBEAT", &[&j, &t]), 1);
    assert_eq!(db.q::<i64>("PROGRESS", &[&j, &t, "0.3"]), 1);
    assert_eq!(db.q::<i64>("RETRY", &[&j, &t]), 1);
    assert_eq!(db.q::<i64>("CANCEL_JOB", &[&other]), 1);
    assert_eq!(db.q::<i64>("CLEAR_COMPLETED", &[]), 1);
    assert_eq!(db.q::<i64>("DELETE_JOB", &[&job]), 1);
    assert!(db.check().is_empty(), "the namespace stays consistent");
}
