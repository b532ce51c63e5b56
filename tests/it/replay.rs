//! Replay never re-decides what the primary accepted: the `taskdb.max-*` limits guard
//! client input on the primary only. A replica or an AOF load with lower limits applies
//! every decision (nothing is skipped, digests stay equal); a decision that really cannot
//! apply stops the AOF load loudly instead of being skipped.

use crate::common::*;

/// A JSON string of `n` bytes.
fn big_json(n: usize) -> String {
    format!("\"{}\"", "x".repeat(n - 2))
}

/// Writes, through every command that carries a payload or a name, entities bigger than
/// the limits a replaying node will have (payloads of 10 KB, a 100-byte task id): its job
/// ids.
fn oversized_workload(db: &mut Ns) -> Vec<String> {
    let def = big_json(10_000);
    let long_id = "t".repeat(100);
    let st = db.stream("cpu", 1, 1.0, "u");
    let a: String = db.q("CREATE_JOB", &[&st, &def, "3", "60", "u"]);
    let _: String = db.q(
        "CREATE_TASK",
        &[&a, &long_id, &st, &def, "[\"init\"]", "3", "60"],
    );
    let (j, t) = db.claim("cpu").unwrap();
    let _: i64 = db.q("DONE", &[&j, &t, &def]);
    let b: String = db.q("CREATE_JOB", &[&st, "{}", "3", "60", "u"]);
    let (j, t) = db.claim("cpu").unwrap();
    assert_eq!((j.as_str(), t.as_str()), (a.as_str(), long_id.as_str()));
    let _: i64 = db.q("PROGRESS", &[&j, &t, "0.5"]);
    let (j, t) = db.claim("cpu").unwrap();
    assert_eq!(j, b);
    let _: i64 = db.q("FAILED", &[&j, &t, &"e".repeat(10_000)]);
    // Verbatim-replicated writes with payloads: RESTORE_JOB and RESTORE_TASK.
    let c = "0b4ad1c6-4a5e-4a4e-9d55-7c6b7ef0c001";
    let _: i64 = db.q(
        "RESTORE_JOB",
        &[
            c,
            "failed",
            &"u".repeat(100),
            "1700000000000",
            "ERROR",
            &"e".repeat(10_000),
        ],
    );
    let _: i64 = db.q(
        "RESTORE_TASK",
        &[
            c,
            &long_id,
            &st,
            &def,
            "[]",
            "failed",
            "3",
            "60",
            "1700000000000",
            "ERROR",
            &"e".repeat(5000),
        ],
    );
    vec![a, b, c.to_string()]
}

/// Every job and task of `jobs`, as TASK and JOB reply them.
fn snapshot(db: &mut Ns, jobs: &[String]) -> Vec<redis::Value> {
    let mut all = Vec::new();
    for j in jobs {
        all.push(db.q::<redis::Value>("JOB", &[j]));
        let tasks = db.job_tasks(j);
        for t in tasks {
            all.push(db.q::<redis::Value>("TASK", &[j, &t]));
        }
    }
    all
}

fn restart_from_aof_with_lower_limit(limit: &[&str]) {
    let first = Server::with_args(&AOF_ALWAYS);
    let mut db = Ns::new(&first, "r");
    let jobs = oversized_workload(&mut db);
    let (want, before) = (digest(&mut db.c), snapshot(&mut db, &jobs));
    let copy = tempfile::tempdir().unwrap();
    copy_dir(first.dir.path(), copy.path());
    drop(db);
    drop(first);
    let mut args: Vec<&str> = AOF_ALWAYS.to_vec();
    args.extend_from_slice(limit);
    let second = Server::in_dir(copy, &args);
    let mut db = Ns::new(&second, "r");
    assert_eq!(
        snapshot(&mut db, &jobs),
        before,
        "{limit:?}: the AOF load skipped a write"
    );
    assert_eq!(digest(&mut db.c), want, "{limit:?}");
    assert!(db.check().is_empty());
}

#[test]
fn an_aof_load_with_a_lower_payload_limit_keeps_every_job() {
    restart_from_aof_with_lower_limit(&["--taskdb.max-payload-bytes", "1024"]);
}

#[test]
fn an_aof_load_with_a_lower_name_limit_keeps_every_task() {
    restart_from_aof_with_lower_limit(&["--taskdb.max-name-bytes", "10"]);
}

#[test]
fn a_replica_with_lower_limits_applies_everything_the_primary_accepted() {
    let primary = Server::start();
    let replica = Server::replica_of(
        &primary,
        &[
            "--save",
            "",
            "--taskdb.max-payload-bytes",
            "1024",
            "--taskdb.max-name-bytes",
            "10",
        ],
    );
    let mut db = Ns::new(&primary, "r");
    let jobs = oversized_workload(&mut db);
    let n: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
    assert_eq!(n, 1);
    let mut rdb = Ns::new(&replica, "r");
    assert_eq!(snapshot(&mut rdb, &jobs), snapshot(&mut db, &jobs));
    assert_eq!(digest(&mut rdb.c), digest(&mut db.c));
}

#[test]
fn a_limit_raised_on_the_primary_only_loses_nothing_at_failover() {
    let primary = Server::start();
    let replica = Server::replica_of(&primary, &["--save", ""]);
    let mut db = Ns::new(&primary, "r");
    // CONFIG SET is not replicated: only the primary accepts 17 MiB now.
    let _: () = q(
        &mut db.c,
        &["CONFIG", "SET", "taskdb.max-payload-bytes", "64mb"],
    );
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, &big_json(17 << 20), "3", "60", "u"]);
    let n: i64 = q(&mut db.c, &["WAIT", "1", "20000"]);
    assert_eq!(n, 1);
    let want = digest(&mut db.c);
    drop(db);
    let _ = primary.kill9();
    let mut rc = replica.conn();
    let _: () = q(&mut rc, &["REPLICAOF", "NO", "ONE"]);
    let mut db = Ns::new(&replica, "r");
    assert_eq!(digest(&mut db.c), want);
    let (j, t) = db
        .claim("cpu")
        .expect("the acknowledged 17 MiB job survived the failover");
    assert_eq!((j.as_str(), t.as_str()), (job.as_str(), "init"));
}

/// A RESP command, as the AOF stores it.
fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut s = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        s.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        s.extend_from_slice(a);
        s.extend_from_slice(b"\r\n");
    }
    s
}

#[test]
fn a_decision_that_cannot_apply_stops_the_aof_load_loudly() {
    let first = Server::with_args(&AOF_ALWAYS);
    let mut db = Ns::new(&first, "r");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(first.dir.path(), dir.path());
    drop(db);
    drop(first);
    // A DONE of a task that does not exist: the AOF does not match its own history.
    let incr = std::fs::read_dir(dir.path().join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .expect("an incremental AOF file");
    let mut aof = std::fs::read(&incr).unwrap();
    let done = taskdb_core::Decision::Done {
        job: uuid::Uuid::parse_str(&job).unwrap().as_u128(),
        task: b"no-such-task",
        output: b"{}",
        attempt: None,
    };
    aof.extend_from_slice(&resp(&[
        b"TASKDB.APPLY",
        b"r",
        &done.encode(1_700_000_000_000),
    ]));
    std::fs::write(&incr, aof).unwrap();
    let log = Server::fails_to_start(&dir, &AOF_ALWAYS);
    assert!(
        log.contains("TaskDB") && log.contains("no-such-task"),
        "the log says what could not be replayed: {log}"
    );
}
