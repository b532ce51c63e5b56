//! Bad input: every command rejects it with a reply naming the argument, and the keyspace
//! stays byte-for-byte unchanged (DEBUG DIGEST before = after). This table freezes the
//! messages users will match on.

use crate::common::*;

const NO_UUID: &str = "not-a-uuid";

/// Bad calls on namespace `t` holding stream `st` (cpu, reserved 1) and job `job` (its
/// init ready), each with the error it answers.
pub fn bad_calls(st: &str, job: &str) -> Vec<(Vec<String>, String)> {
    let (st, job) = (st.to_string(), job.to_string());
    let long = "x".repeat(1025);
    let long_ns = "n".repeat(257);
    let not_failed = format!("NOTFOUND job '{job}' has not failed");
    let no_output = format!("NOTFOUND task 'init' of job '{job}' has no output: it is ready");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["TASKDB.CREATE_STREAM", "t", "cpu", "1", "1"], "ERR wrong number of arguments for 'TASKDB.CREATE_STREAM' command"),
        (vec!["TASKDB.CREATE_STREAM", "t", "cpu", "-1", "1", "u"], "ERR invalid reserved '-1': must be an integer from 0 to 2147483647"),
        (vec!["TASKDB.CREATE_STREAM", "t", "cpu", "x", "1", "u"], "ERR invalid reserved 'x': must be an integer"),
        (vec!["TASKDB.CREATE_STREAM", "t", "cpu", "1", "0", "u"], "ERR invalid be_mult '0': must be a finite number > 0"),
        (vec!["TASKDB.CREATE_STREAM", "t", "cpu", "1", "nan", "u"], "ERR invalid be_mult 'nan': must be a finite number > 0"),
        (vec!["TASKDB.CREATE_STREAM", "t", "cpu", "1", "inf", "u"], "ERR invalid be_mult 'inf': must be a finite number > 0"),
        (vec!["TASKDB.CREATE_STREAM", "t", "cpu", "1", "-2", "u"], "ERR invalid be_mult '-2': must be a finite number > 0"),
        (vec!["TASKDB.CREATE_STREAM", "t", "", "1", "1", "u"], "ERR invalid worker_type '': must not be empty"),
        (vec!["TASKDB.CREATE_STREAM", "t", "cpu", "1", "1", &long], "ERR invalid user_id 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...': must be at most 1024 bytes (taskdb.max-name-bytes)"),
        (vec!["TASKDB.CREATE_STREAM", "", "cpu", "1", "1", "u"], "ERR invalid ns '': must not be empty"),
        (vec!["TASKDB.CREATE_STREAM", &long_ns, "cpu", "1", "1", "u"], "ERR invalid ns 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...': must be at most 256 bytes"),
        (vec!["TASKDB.GET_OR_CREATE_STREAM", "t", "cpu", "1", "0", "u"], "ERR invalid be_mult '0': must be a finite number > 0"),
        (vec!["TASKDB.GET_STREAM", "t", "u"], "ERR wrong number of arguments for 'TASKDB.GET_STREAM' command"),
        (vec!["TASKDB.STREAM", "t", NO_UUID], "ERR invalid stream_id 'not-a-uuid': must be a UUID"),
        (vec!["TASKDB.CREATE_JOB", "t", &st, "{", "1", "1", "u"], "ERR invalid task_def_json '{': must be valid JSON (EOF while parsing an object at line 1 column 1)"),
        (vec!["TASKDB.CREATE_JOB", "t", &st, "{}", "-1", "1", "u"], "ERR invalid max_retries '-1': must be an integer from 0 to 2147483647"),
        (vec!["TASKDB.CREATE_JOB", "t", &st, "{}", "1", "-1", "u"], "ERR invalid timeout_secs '-1': must be an integer from 0 to 2147483647"),
        (vec!["TASKDB.CREATE_JOB", "t", NO_UUID, "{}", "1", "1", "u"], "ERR invalid stream_id 'not-a-uuid': must be a UUID"),
        (vec!["TASKDB.CREATE_JOB", "t", "00000000-0000-0000-0000-000000000000", "{}", "1", "1", "u"], "NOTFOUND stream '00000000-0000-0000-0000-000000000000' does not exist"),
        (vec!["TASKDB.CREATE_JOB", "t", &st, "{}", "1", "1", "u", "KEY", "x"], "ERR invalid option 'KEY': expected ID uuid or PRIORITY high|medium|low, each at most once"),
        (vec!["TASKDB.CREATE_JOB", "t", &st, "{}", "1", "1", "u", "ID", "x"], "ERR invalid ID 'x': must be a UUID"),
        (vec!["TASKDB.CREATE_TASK", "t", &job, "a", &st, "{}", "{}", "1", "1"], "ERR invalid prereqs_json '{}': must be a JSON array of strings"),
        (vec!["TASKDB.CREATE_TASK", "t", &job, "a", &st, "{}", "[1]", "1", "1"], "ERR invalid prereqs_json '[1]': must be a JSON array of strings"),
        (vec!["TASKDB.CREATE_TASK", "t", &job, "a", &st, "{}", "[\"a\"]", "1", "1"], "ERR invalid prereqs_json '[\"a\"]': a task cannot depend on itself"),
        (vec!["TASKDB.CREATE_TASK", "t", &job, "a", &st, "nope", "[]", "1", "1"], "ERR invalid task_def_json 'nope': must be valid JSON (expected ident at line 1 column 2)"),
        (vec!["TASKDB.REQUEST_WORK", "t"], "ERR wrong number of arguments for 'TASKDB.REQUEST_WORK' command"),
        (vec!["TASKDB.DONE", "t", &job, "init", "{bad"], "ERR invalid output_json '{bad': must be valid JSON (key must be a string at line 1 column 2)"),
        (vec!["TASKDB.DONE", "t", NO_UUID, "init", "{}"], "ERR invalid job_id 'not-a-uuid': must be a UUID"),
        (vec!["TASKDB.FAILED", "t", &job, "init"], "ERR wrong number of arguments for 'TASKDB.FAILED' command"),
        (vec!["TASKDB.PROGRESS", "t", &job, "init", "1.5"], "ERR invalid progress '1.5': must be a number from 0 to 1"),
        (vec!["TASKDB.PROGRESS", "t", &job, "init", "-0.1"], "ERR invalid progress '-0.1': must be a number from 0 to 1"),
        (vec!["TASKDB.PROGRESS", "t", &job, "init", "nan"], "ERR invalid progress 'nan': must be a number from 0 to 1"),
        (vec!["TASKDB.RETRY", "t", &job], "ERR wrong number of arguments for 'TASKDB.RETRY' command"),
        (vec!["TASKDB.REQUEUE", "t", "0"], "ERR invalid limit '0': must be an integer >= 1"),
        (vec!["TASKDB.REQUEUE", "t", "x"], "ERR invalid limit 'x': must be an integer"),
        (vec!["TASKDB.JOB_STATE", "t", &job], "ERR wrong number of arguments for 'TASKDB.JOB_STATE' command"),
        (vec!["TASKDB.JOB_UNRESOLVED", "t", "00000000-0000-0000-0000-000000000000"], "NOTFOUND job '00000000-0000-0000-0000-000000000000' does not exist"),
        (vec!["TASKDB.CONCURRENT_JOBS", "t"], "ERR wrong number of arguments for 'TASKDB.CONCURRENT_JOBS' command"),
        (vec!["TASKDB.JOB_TIME", "t", NO_UUID], "ERR invalid job_id 'not-a-uuid': must be a UUID"),
        (vec!["TASKDB.JOB_FAILURE", "t", &job], &not_failed),
        (vec!["TASKDB.TASK_OUTPUT", "t", &job, "init"], &no_output),
        (vec!["TASKDB.TASK", "t", &job], "ERR wrong number of arguments for 'TASKDB.TASK' command"),
        (vec!["TASKDB.JOB", "t"], "ERR wrong number of arguments for 'TASKDB.JOB' command"),
        (vec!["TASKDB.DELETE_JOB", "t", NO_UUID], "ERR invalid job_id 'not-a-uuid': must be a UUID"),
        (vec!["TASKDB.CLEAR_COMPLETED", "t", "x"], "ERR invalid option 'x': expected COUNT n or AGE seconds, each at most once"),
        (vec!["TASKDB.CLEAR_COMPLETED", "t", "AGE", "-1"], "ERR invalid AGE '-1': must be an integer from 0 to 315360000"),
        (vec!["TASKDB.CLEAR_COMPLETED", "t", "COUNT", "0"], "ERR invalid COUNT '0': must be an integer from 1 to 100000"),
        (vec!["TASKDB.CLEAR_STREAMS", "t", "COUNT", "x"], "ERR invalid COUNT 'x': must be an integer"),
        (vec!["TASKDB.RETRY_JOB", "t", NO_UUID], "ERR invalid job_id 'not-a-uuid': must be a UUID"),
        (vec!["TASKDB.RETRY_JOB", "t"], "ERR wrong number of arguments for 'TASKDB.RETRY_JOB' command"),
        (vec!["TASKDB.PAUSE", "t", "STREAM"], "ERR wrong number of arguments for 'TASKDB.PAUSE' command"),
        (vec!["TASKDB.PAUSE", "t", "STREAM", NO_UUID], "ERR invalid stream_id 'not-a-uuid': must be a UUID"),
        (vec!["TASKDB.RESUME", "t", "TYPE", ""], "ERR invalid worker_type '': must not be empty"),
        (vec!["TASKDB.METRICS", "t", "x"], "ERR wrong number of arguments for 'TASKDB.METRICS' command"),
        (vec!["TASKDB.GIVE_BACK", "t", &job, "init"], "ERR wrong number of arguments for 'TASKDB.GIVE_BACK' command"),
        (vec!["TASKDB.GIVE_BACK", "t", &job, "init", "ATTEMPT", "x"], "ERR invalid ATTEMPT 'x': must be an integer"),
        (vec!["TASKDB.GIVE_BACK", "t", &job, "init", "AT", "1"], "ERR invalid option 'AT': expected ATTEMPT n"),
        (vec!["TASKDB.CHECK", "t", "CURSOR", "x"], "ERR invalid CURSOR 'x': must be 0 or a cursor a CHECK or REPAIR page replied"),
        (vec!["TASKDB.CHECK", "t", "CURSOR", "7"], "ERR invalid CURSOR '7': must be 0 or a cursor a CHECK or REPAIR page replied"),
        (vec!["TASKDB.CHECK", "t", "CURSOR", "0", "COUNT", "1", "x"], "ERR wrong number of arguments: usage TASKDB.CHECK ns [CURSOR c] [COUNT n]"),
        (vec!["TASKDB.REPAIR", "t", "x"], "ERR invalid option 'x': expected CURSOR c or COUNT n, each at most once"),
        (vec!["TASKDB.JOBS", "t"], "ERR wrong number of arguments for 'TASKDB.JOBS' command"),
        (vec!["TASKDB.JOBS", "t", "x"], "ERR invalid cursor 'x': must be a cursor a listing replied (0 starts)"),
        (vec!["TASKDB.JOBS", "t", "0", "STATE", "lost"], "ERR invalid STATE 'lost': must be running, done or failed"),
        (vec!["TASKDB.STREAMS", "t", "0", "COUNT", "0"], "ERR invalid COUNT '0': must be an integer from 1 to 10000"),
        (vec!["TASKDB.QUEUE", "t", "00000000-0000-0000-0000-000000000000"], "NOTFOUND stream '00000000-0000-0000-0000-000000000000' does not exist"),
        (vec!["TASKDB.SCHEDULE", "t"], "ERR wrong number of arguments for 'TASKDB.SCHEDULE' command"),
        (vec!["TASKDB.LEASES", "t", "COUNT"], "ERR wrong number of arguments: usage TASKDB.LEASES ns [COUNT n]"),
        (vec!["TASKDB.STATS"], "ERR wrong number of arguments for 'TASKDB.STATS' command"),
        (vec!["TASKDB.APPLY", "t", "x"], "ERR TASKDB.APPLY is internal: it replays the primary's decisions on replicas and from the AOF"),
    ];
    cases
        .into_iter()
        .map(|(a, e)| (a.into_iter().map(String::from).collect(), e.to_string()))
        .collect()
}

#[test]
fn bad_input_is_rejected_with_a_clear_error_and_changes_nothing() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let before = digest(&mut db.c);
    for (args, want) in bad_calls(&st, &job) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let got = err(&mut db.c, &args);
        assert_eq!(got, want, "{args:?}");
        assert_eq!(digest(&mut db.c), before, "{args:?} changed the keyspace");
    }
}

#[test]
fn every_command_is_registered_with_its_flags() {
    let s = Server::start();
    let mut c = s.conn();
    // (command, writes, refused at maxmemory)
    let expect = [
        ("taskdb.create_stream", true, true),
        ("taskdb.request_work", true, true),
        ("taskdb.done", true, true),
        ("taskdb.repair", true, true),
        ("taskdb.heartbeat", true, false),
        ("taskdb.delete_job", true, false),
        ("taskdb.task", false, false),
        ("taskdb.job_state", false, false),
        ("taskdb.stats", false, false),
        ("taskdb.check", false, false),
    ];
    for (name, write, deny_oom) in expect {
        let info: Vec<redis::Value> = q(&mut c, &["COMMAND", "INFO", name]);
        let v = format!("{info:?}");
        assert!(
            v.contains(if write { "write" } else { "readonly" }),
            "{name}: {v}"
        );
        assert_eq!(v.contains("denyoom"), deny_oom, "{name}: {v}");
    }
}

#[test]
fn a_key_of_another_type_gives_a_clear_error() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let _: () = q(&mut db.c, &["SET", "t", "oops"]);
    let job = "00000000-0000-4000-8000-000000000001";
    for (cmd, args) in [
        ("TASK", vec![job, "init"]),
        ("DONE", vec![job, "init", "{}"]),
        ("CREATE_STREAM", vec!["cpu", "1", "1", "u"]),
        ("STATS", vec![]),
    ] {
        let e = db.err(cmd, &args);
        assert_eq!(
            e, "WRONGTYPE key 't' holds a value of the wrong type for TaskDB",
            "{cmd}"
        );
    }
    let t: String = q(&mut db.c, &["GET", "t"]);
    assert_eq!(t, "oops", "nothing was written");
}

#[test]
fn an_out_of_memory_server_refuses_writes_and_serves_reads() {
    let s = Server::with_args(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory-policy",
        "noeviction",
    ]);
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let _: () = q(&mut db.c, &["CONFIG", "SET", "maxmemory", "1"]);
    let before = digest(&mut db.c);
    for args in [
        vec!["TASKDB.CREATE_STREAM", "t", "cpu", "1", "1", "u"],
        vec!["TASKDB.CREATE_JOB", "t", &st, "{}", "1", "1", "u"],
        vec!["TASKDB.REQUEST_WORK", "t", "cpu"],
        vec!["TASKDB.DONE", "t", &job, "init", "{}"],
    ] {
        let e = err(&mut db.c, &args);
        assert!(e.starts_with("OOM"), "{args:?}: {e}");
    }
    assert_eq!(digest(&mut db.c), before);
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("ready")
    );
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "running");
    assert!(db.check().is_empty(), "the namespace stays consistent");
    let e = db.err("REPAIR", &[]);
    assert!(e.starts_with("OOM"), "{e}");
    let _: () = q(&mut db.c, &["CONFIG", "SET", "maxmemory", "0"]);
    assert!(db.claim("cpu").is_some());
}

#[test]
fn configured_limits_refuse_oversized_input() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    for (name, value) in [
        ("taskdb.max-payload-bytes", "100"),
        ("taskdb.max-prerequisites", "2"),
        ("taskdb.max-name-bytes", "8"),
    ] {
        let _: () = q(&mut db.c, &["CONFIG", "SET", name, value]);
    }
    let before = digest(&mut db.c);
    let big = format!("\"{}\"", "x".repeat(200));
    let e = db.err("CREATE_TASK", &[&job, "a", &st, &big, "[]", "1", "1"]);
    assert!(
        e.ends_with("is 202 bytes, more than 100 (taskdb.max-payload-bytes)"),
        "{e}"
    );
    let e = db.err("DONE", &[&job, "init", &big]);
    assert!(e.starts_with("ERR invalid output_json"), "{e}");
    let e = db.err("FAILED", &[&job, "init", &"e".repeat(101)]);
    assert!(e.starts_with("ERR invalid error"), "{e}");
    let e = db.err(
        "CREATE_TASK",
        &[&job, "a", &st, "{}", r#"["p","q","r"]"#, "1", "1"],
    );
    assert!(
        e.ends_with("lists 3 tasks, more than 2 (taskdb.max-prerequisites)"),
        "{e}"
    );
    let e = db.err(
        "CREATE_TASK",
        &[&job, "ninechars", &st, "{}", "[]", "1", "1"],
    );
    assert!(
        e.ends_with("must be at most 8 bytes (taskdb.max-name-bytes)"),
        "{e}"
    );
    assert_eq!(digest(&mut db.c), before);
    let v: Vec<String> = q(&mut db.c, &["CONFIG", "GET", "taskdb.max-payload-bytes"]);
    assert_eq!(v[1], "100");
}
