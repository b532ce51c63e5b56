//! Replication and persistence reproduce the primary exactly: a primary with a replica and
//! AOF on runs a random workload of every command, then DEBUG DIGEST of the primary, the
//! replica, a server restarted from the AOF and one restarted from the RDB are equal.

use crate::common::*;
use crate::workload;

#[test]
fn replica_aof_and_rdb_reproduce_the_primary() {
    let primary = Server::with_args(&AOF_ALWAYS);
    let replica = Server::replica_of(&primary, &["--save", "", "--appendonly", "yes"]);
    let mut rc = replica.conn();

    for (i, ns) in ["alpha", "{beta}", "gamma{x}"].iter().enumerate() {
        let mut db = Ns::new(&primary, ns);
        workload::run(&mut db, 100 + i as u64, 600);
    }
    let mut pc = primary.conn();
    let acked: i64 = q(&mut pc, &["WAIT", "1", "10000"]);
    assert_eq!(acked, 1, "replica acknowledged the workload");
    let want = digest(&mut pc);
    assert_ne!(want, "0000000000000000000000000000000000000000");
    assert_eq!(digest(&mut rc), want, "replica differs from primary");
    let replica_check: Vec<redis::Value> = q(&mut rc, &["TASKDB.STATS", "alpha"]);
    assert_eq!(replica_check.len(), 4, "queries work on the replica");

    let _: () = q(&mut pc, &["SAVE"]);
    let aof_copy = tempfile::tempdir().unwrap();
    copy_dir(primary.dir.path(), aof_copy.path());
    let rdb_copy = tempfile::tempdir().unwrap();
    std::fs::copy(
        primary.dir.path().join("dump.rdb"),
        rdb_copy.path().join("dump.rdb"),
    )
    .unwrap();

    let from_aof = Server::in_dir(aof_copy, &["--appendonly", "yes", "--save", ""]);
    let mut ac = from_aof.conn();
    wait_for(20, "AOF load", || {
        (info_field(&mut ac, "persistence", "loading") == "0").then_some(())
    });
    assert_eq!(digest(&mut ac), want, "restart from AOF differs");

    let from_rdb = Server::in_dir(rdb_copy, &["--appendonly", "no", "--save", ""]);
    let mut bc = from_rdb.conn();
    wait_for(20, "RDB load", || {
        (info_field(&mut bc, "persistence", "loading") == "0").then_some(())
    });
    assert_eq!(digest(&mut bc), want, "restart from RDB differs");

    let _: () = q(&mut pc, &["BGREWRITEAOF"]);
    wait_for(20, "AOF rewrite", || {
        (info_field(&mut pc, "persistence", "aof_rewrite_in_progress") == "0"
            && info_field(&mut pc, "persistence", "aof_rewrite_scheduled") == "0")
            .then_some(())
    });
    let rewritten = tempfile::tempdir().unwrap();
    copy_dir(primary.dir.path(), rewritten.path());
    let from_rewrite = Server::in_dir(rewritten, &["--appendonly", "yes", "--save", ""]);
    let mut wc = from_rewrite.conn();
    assert_eq!(
        digest(&mut wc),
        want,
        "restart from a rewritten AOF differs"
    );
}

#[test]
fn every_query_command_works_on_a_replica_and_writes_are_refused_there() {
    let primary = Server::start();
    let replica = Server::replica_of(&primary, &["--save", ""]);
    let mut db = Ns::new(&primary, "q");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let failed = db.job(&st, "u");
    db.claim("cpu").unwrap();
    assert!(db.done(&job, "init"));
    let _: i64 = db.q("FAILED", &[&failed, "init", "boom"]);
    let n: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
    assert_eq!(n, 1);
    let mut r = Ns::new(&replica, "q");
    let queries: Vec<(&str, Vec<&str>)> = vec![
        ("GET_STREAM", vec!["u", "cpu"]),
        ("STREAM", vec![&st]),
        ("STREAMS", vec!["0"]),
        ("JOB_STATE", vec![&job, "u"]),
        ("JOB_UNRESOLVED", vec![&job]),
        ("CONCURRENT_JOBS", vec!["u"]),
        ("JOB_TIME", vec![&job]),
        ("JOB_FAILURE", vec![&failed]),
        ("JOB", vec![&job]),
        ("JOBS", vec!["0"]),
        ("JOB_TASKS", vec![&job, "0"]),
        ("SCHEDULE", vec!["cpu"]),
        ("QUEUE", vec![&st]),
        ("LEASES", vec![]),
        ("METRICS", vec![]),
        ("TASK", vec![&job, "init"]),
        ("TASK_OUTPUT", vec![&job, "init"]),
        ("STATS", vec![]),
        ("CHECK", vec![]),
    ];
    for (cmd, args) in &queries {
        let on_replica: redis::Value = r.q(cmd, args);
        let on_primary: redis::Value = db.q(cmd, args);
        assert_eq!(on_replica, on_primary, "{cmd} on the replica");
    }
    for (cmd, args) in [
        ("REPAIR", vec![]),
        ("REQUEST_WORK", vec!["cpu"]),
        ("CREATE_JOB", vec![&st, "{}", "1", "1", "u"]),
    ] {
        let e = r.err(cmd, &args);
        assert!(e.starts_with("READONLY"), "{cmd}: {e}");
    }
}
