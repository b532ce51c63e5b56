//! TaskDB's stored form stays readable: `tests/data/namespace-v1.rdb`, an RDB file holding
//! one namespace in encoding version 1 (written once by `tests/data/make-namespace-v1.sh`
//! and never again), loads into this build with every stream, job and task as written,
//! and its work carries on.

use crate::common::*;
use redis::Value;

const S1: &str = "5b0e7a52-3a8e-4f5a-9d0a-000000000001";
const S2: &str = "5b0e7a52-3a8e-4f5a-9d0a-000000000002";
const J1: &str = "5b0e7a52-3a8e-4f5a-9d0a-0000000000a1";
const J2: &str = "5b0e7a52-3a8e-4f5a-9d0a-0000000000a2";
const J3: &str = "5b0e7a52-3a8e-4f5a-9d0a-0000000000a3";
const J4: &str = "5b0e7a52-3a8e-4f5a-9d0a-0000000000a4";
const T: i64 = 1_700_000_000_000;

fn load_fixture() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/namespace-v1.rdb");
    std::fs::copy(fixture, dir.path().join("dump.rdb")).unwrap();
    Server::in_dir(dir, &["--appendonly", "no", "--dbfilename", "dump.rdb"])
}

#[test]
fn an_rdb_file_of_encoding_version_1_loads_with_everything_it_held() {
    let s = load_fixture();
    let mut db = Ns::new(&s, "fixture");
    assert_eq!(q::<String>(&mut db.c, &["TYPE", "fixture"]), "taskdb-ns");
    assert!(db.check().is_empty(), "{:?}", db.check());
    assert_eq!(db.streams(), [S1, S2]);
    assert_eq!(db.jobs(), [J1, J2, J3, J4]);

    let st = fields(db.q("STREAM", &[S1]));
    assert_eq!(field(&st, "worker_type").as_deref(), Some("cpu"));
    assert_eq!(field(&st, "reserved").as_deref(), Some("2"));
    assert_eq!(field(&st, "be_mult").as_deref(), Some("1.5"));
    assert_eq!(field(&st, "user_id").as_deref(), Some("alice"));

    let (tasks, jobs) = db.stats();
    let get = |c: &Counts, k: &str| c.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    let cpu = &tasks.iter().find(|(w, _)| w == "cpu").unwrap().1;
    let gpu = &tasks.iter().find(|(w, _)| w == "gpu").unwrap().1;
    assert_eq!(
        [
            get(cpu, "pending"),
            get(cpu, "ready"),
            get(cpu, "done"),
            get(cpu, "failed"),
            get(cpu, "cancelled")
        ],
        [Some(1), Some(1), Some(1), Some(1), Some(1)]
    );
    assert_eq!(
        [get(gpu, "ready"), get(gpu, "running"), get(gpu, "done")],
        [Some(1), Some(1), Some(1)]
    );
    assert_eq!(
        [
            get(&jobs, "running"),
            get(&jobs, "done"),
            get(&jobs, "failed")
        ],
        [Some(2), Some(1), Some(1)]
    );

    let init = fields(db.q("TASK", &[J1, "init"]));
    assert_eq!(field(&init, "state").as_deref(), Some("done"));
    assert_eq!(
        field(&init, "task_def").as_deref(),
        Some(r#"{"image":"app.elf"}"#)
    );
    assert_eq!(field(&init, "output").as_deref(), Some(r#"{"segments":2}"#));
    assert_eq!(field(&init, "created_at"), Some(T.to_string()));
    assert_eq!(field(&init, "started_at"), Some((T + 10).to_string()));
    assert_eq!(field(&init, "updated_at"), Some((T + 20).to_string()));
    let seg = fields(db.q("TASK", &[J1, "seg_0"]));
    assert_eq!(field(&seg, "state").as_deref(), Some("running"));
    assert_eq!(field(&seg, "progress").as_deref(), Some("0.5"));
    assert_eq!(field(&seg, "retries").as_deref(), Some("1"));
    assert_eq!(field(&seg, "attempt").as_deref(), Some("2"));
    assert_eq!(field(&seg, "worker_id").as_deref(), Some("gpu-7"));
    assert_eq!(field(&seg, "stream_id").as_deref(), Some(S2));
    let join = fields(db.q("TASK", &[J1, "join"]));
    assert_eq!(field(&join, "state").as_deref(), Some("pending"));
    assert_eq!(field(&join, "waiting_on").as_deref(), Some("2"));
    assert_eq!(
        field(&join, "prerequisites").as_deref(),
        Some(r#"["seg_0","seg_1"]"#)
    );
    assert_eq!(db.job_tasks(J1), ["init", "seg_0", "seg_1", "join"]);

    let failed = fields(db.q("JOB", &[J3]));
    assert_eq!(field(&failed, "state").as_deref(), Some("failed"));
    assert_eq!(field(&failed, "error").as_deref(), Some("boom"));
    assert_eq!(
        db.task_field(J3, "next", "state").as_deref(),
        Some("cancelled")
    );
    assert_eq!(db.q::<String>("JOB_STATE", &[J2, "bob"]), "done");
    let urgent = fields(db.q("JOB", &[J4]));
    assert_eq!(field(&urgent, "priority").as_deref(), Some("high"));
    assert_eq!(field(&urgent, "user_id").as_deref(), Some("carol"));

    // The lease came back (a full lease from the load) and the queues hold what they held.
    let leases: Vec<Vec<Value>> = db.q("LEASES", &[]);
    assert_eq!(leases.len(), 1);
    let queued: Vec<(String, String)> = db.q("QUEUE", &[S2]);
    assert_eq!(queued, [(J1.to_string(), "seg_1".to_string())]);
}

#[test]
fn the_work_of_a_loaded_namespace_carries_on() {
    let s = load_fixture();
    let mut db = Ns::new(&s, "fixture");
    assert_eq!(db.claim("gpu"), Some((J1.into(), "seg_1".into())));
    assert!(db.done(J1, "seg_1"));
    let done: i64 = db.q("DONE", &[J1, "seg_0", "{}", "ATTEMPT", "2"]);
    assert_eq!(done, 1);
    // The urgent job's init goes first, then the join the two segments released.
    assert_eq!(db.claim("cpu"), Some((J4.into(), "init".into())));
    assert_eq!(db.claim("cpu"), Some((J1.into(), "join".into())));
    assert!(db.done(J1, "join"));
    assert_eq!(db.q::<String>("JOB_STATE", &[J1, "alice"]), "done");
    assert!(db.check().is_empty());
}
