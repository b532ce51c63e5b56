//! Access control and hostile input: ACL per namespace, read-only users, and random
//! argument vectors that must never crash the server nor change it when rejected.

use crate::common::*;
use rand::{Rng, SeedableRng};

const READ_COMMANDS: [&str; 21] = [
    "+TASKDB.GET_STREAM",
    "+TASKDB.STREAM",
    "+TASKDB.STREAMS",
    "+TASKDB.JOB_STATE",
    "+TASKDB.JOB_UNRESOLVED",
    "+TASKDB.CONCURRENT_JOBS",
    "+TASKDB.JOB_TIME",
    "+TASKDB.JOB_FAILURE",
    "+TASKDB.JOB",
    "+TASKDB.JOBS",
    "+TASKDB.JOB_TASKS",
    "+TASKDB.TASK",
    "+TASKDB.TASK_OUTPUT",
    "+TASKDB.STATS",
    "+TASKDB.CHECK",
    "+TASKDB.SCHEDULE",
    "+TASKDB.QUEUE",
    "+TASKDB.LEASES",
    "+TASKDB.METRICS",
    "+INFO",
    "+SCAN",
];

fn as_user(s: &Server, user: &str) -> redis::Connection {
    let mut c = s.conn();
    let _: () = q(&mut c, &["AUTH", user, "pw"]);
    c
}

#[test]
fn acl_users_are_held_to_their_namespace_and_read_only_users_to_queries() {
    let s = Server::start();
    let mut admin = s.conn();
    let _: () = q(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "tenant-a",
            "on",
            ">pw",
            "~tenant-a",
            "+@all",
        ],
    );
    // The README's recipe for a read-only user (on Redis 7.0, which has no module ACL
    // categories, the query commands are listed; on 7.2+ `+@read` covers them).
    let mut reader = vec!["ACL", "SETUSER", "reader", "on", ">pw", "~*"];
    reader.extend(READ_COMMANDS.iter().copied());
    let _: () = q(&mut admin, &reader);
    let mut a = as_user(&s, "tenant-a");
    let st: String = q(
        &mut a,
        &["TASKDB.CREATE_STREAM", "tenant-a", "cpu", "1", "1", "u"],
    );
    let job: String = q(
        &mut a,
        &["TASKDB.CREATE_JOB", "tenant-a", &st, "{}", "1", "60", "u"],
    );
    let claimed: Vec<redis::Value> = q(&mut a, &["TASKDB.REQUEST_WORK", "tenant-a", "cpu"]);
    assert_eq!(claimed.len(), 6);
    let e = err(
        &mut a,
        &["TASKDB.CREATE_STREAM", "tenant-b", "cpu", "1", "1", "u"],
    );
    assert!(e.starts_with("NOPERM"), "{e}");
    let e = err(&mut a, &["TASKDB.STATS", "tenant-b"]);
    assert!(e.starts_with("NOPERM"), "{e}");

    let mut r = as_user(&s, "reader");
    let state: String = q(&mut r, &["TASKDB.JOB_STATE", "tenant-a", &job, "u"]);
    assert_eq!(state, "running");
    let _: redis::Value = q(&mut r, &["TASKDB.STATS", "tenant-a"]);
    let _: redis::Value = q(&mut r, &["TASKDB.TASK", "tenant-a", &job, "init"]);
    let (cursor, found): (String, Vec<redis::Value>) = q(&mut r, &["TASKDB.CHECK", "tenant-a"]);
    assert!(
        cursor == "0" && found.is_empty(),
        "a read-only user runs CHECK"
    );
    for args in [
        vec!["TASKDB.CREATE_STREAM", "tenant-a", "cpu", "1", "1", "u"],
        vec!["TASKDB.REQUEST_WORK", "tenant-a", "cpu"],
        vec!["TASKDB.DONE", "tenant-a", &job, "init", "{}"],
        vec!["TASKDB.REPAIR", "tenant-a"],
    ] {
        let e = err(&mut r, &args);
        assert!(e.starts_with("NOPERM"), "{args:?}: {e}");
    }
}

/// Every TASKDB command and how many arguments it takes at most.
const COMMANDS: [&str; 43] = [
    "CREATE_STREAM",
    "GET_OR_CREATE_STREAM",
    "GET_STREAM",
    "STREAM",
    "STREAMS",
    "CREATE_JOB",
    "JOB_STATE",
    "JOB_UNRESOLVED",
    "CONCURRENT_JOBS",
    "JOB_TIME",
    "JOB_FAILURE",
    "JOB",
    "JOBS",
    "JOB_TASKS",
    "SCHEDULE",
    "QUEUE",
    "LEASES",
    "METRICS",
    "DELETE_JOB",
    "CANCEL_JOB",
    "RETRY_JOB",
    "PAUSE",
    "RESUME",
    "CLEAR_COMPLETED",
    "CLEAR_STREAMS",
    "ELSEWHERE",
    "CREATE_TASK",
    "TASK",
    "TASK_OUTPUT",
    "REQUEST_WORK",
    "DONE",
    "FAILED",
    "PROGRESS",
    "RETRY",
    "GIVE_BACK",
    "HEARTBEAT",
    "REQUEUE",
    "CHECK",
    "REPAIR",
    "STATS",
    "RESTORE_STREAM",
    "RESTORE_JOB",
    "RESTORE_TASK",
];

fn random_arg(rng: &mut rand::rngs::StdRng, ids: &[String]) -> Vec<u8> {
    match rng.gen_range(0..10) {
        0 => Vec::new(),
        1 => (0..rng.gen_range(1..40)).map(|_| rng.gen::<u8>()).collect(),
        2 => ids[rng.gen_range(0..ids.len())].clone().into_bytes(),
        3 => b"{".to_vec(),
        4 => rng.gen_range(-5i64..5).to_string().into_bytes(),
        5 => ["nan", "inf", "-0", "1e309", "0.5", "99999999999999999999"][rng.gen_range(0..6)]
            .as_bytes()
            .to_vec(),
        6 => [
            "BLOCK", "COUNT", "ID", "PRIORITY", "FIX", "high", "running", "ERROR",
        ][rng.gen_range(0..8)]
        .as_bytes()
        .to_vec(),
        7 => br#"["init"]"#.to_vec(),
        8 => vec![b'x'; rng.gen_range(1000..3000)],
        _ => b"{}".to_vec(),
    }
}

#[test]
fn random_argument_vectors_never_crash_and_rejected_calls_change_nothing() {
    let s = Server::start();
    let mut db = Ns::new(&s, "f");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    let ids = vec![
        st,
        job,
        "init".to_string(),
        "a".to_string(),
        "cpu".to_string(),
        "f".to_string(),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut rejected = 0;
    for _ in 0..3000 {
        let name = format!("TASKDB.{}", COMMANDS[rng.gen_range(0..COMMANDS.len())]);
        let n = rng.gen_range(0..12);
        let mut cmd = redis::cmd(&name);
        let mut shown = Vec::new();
        for i in 0..n {
            // Mostly a valid namespace first, so calls get past it.
            let a = if i == 0 && rng.gen_bool(0.8) {
                b"f".to_vec()
            } else {
                random_arg(&mut rng, &ids)
            };
            shown.push(String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned());
            cmd.arg(a);
        }
        if name.ends_with("REQUEST_WORK") && shown.iter().any(|a| a.eq_ignore_ascii_case("BLOCK")) {
            continue; // a valid BLOCK 0 waits for work by design (tests/it/blocking.rs)
        }
        let before = digest(&mut db.c);
        match cmd.query::<redis::Value>(&mut db.c) {
            Ok(_) => {}
            Err(e) => {
                rejected += 1;
                assert!(
                    e.code().is_some(),
                    "{name} {shown:?}: an error without a code: {e}"
                );
                assert_eq!(
                    digest(&mut db.c),
                    before,
                    "{name} was rejected but changed the keyspace: {e}"
                );
            }
        }
    }
    assert!(
        rejected > 1000,
        "the generator mostly produced bad calls ({rejected})"
    );
    let pong: String = q(&mut db.c, &["PING"]);
    assert_eq!(pong, "PONG");
    assert!(db.check().is_empty(), "{:?}", db.check());
}

#[test]
fn huge_arguments_are_refused_by_the_default_limits() {
    let s = Server::with_args(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--proto-max-bulk-len",
        "200mb",
    ]);
    let mut db = Ns::new(&s, "h");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let before = digest(&mut db.c);
    let def = format!("\"{}\"", "x".repeat(100 << 20));
    let e = db.err("CREATE_TASK", &[&job, "big", &st, &def, "[]", "1", "1"]);
    assert!(
        e.contains("more than 16777216 (taskdb.max-payload-bytes)"),
        "{}",
        &e[..e.len().min(200)]
    );
    let many: Vec<String> = (0..1_000_000).map(|i| format!("p{i}")).collect();
    let prereqs = serde_json::to_string(&many).unwrap();
    let e = db.err(
        "CREATE_TASK",
        &[&job, "wide", &st, "{}", &prereqs, "1", "1"],
    );
    assert!(
        e.contains("lists 1000000 tasks, more than 10000 (taskdb.max-prerequisites)"),
        "{}",
        &e[..e.len().min(200)]
    );
    assert_eq!(digest(&mut db.c), before);
}

#[test]
fn a_namespace_touches_no_key_but_its_own() {
    let s = Server::start();
    let mut db = Ns::new(&s, "w");
    // Keys that look like the old layout's, or share the namespace's hash tag.
    let planted = ["{w}:schedule:cpu", "{w}:leases", "w:job", "{w}"];
    for key in planted {
        let _: () = q(&mut db.c, &["SET", key, "planted"]);
    }
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    while let Some((j, t)) = db.claim("cpu") {
        assert!(db.done(&j, &t));
    }
    assert_eq!(db.q::<String>("JOB_STATE", &[&job, "u"]), "done");
    for key in planted {
        let v: String = q(&mut db.c, &["GET", key]);
        assert_eq!(v, "planted", "{key}");
    }
    let mut keys: Vec<String> = q(&mut db.c, &["KEYS", "*"]);
    keys.sort();
    let mut want: Vec<String> = planted.iter().map(|k| k.to_string()).collect();
    want.push("w".into());
    want.sort();
    assert_eq!(keys, want, "the namespace is one key");
    let t: String = q(&mut db.c, &["TYPE", "w"]);
    assert_eq!(t, "taskdb-ns");
}
