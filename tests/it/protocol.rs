//! Replies every client can read as they are: in RESP3 (`HELLO 3`) records are maps with
//! typed values (integers, doubles, null for an unset field); in RESP2 they are flat
//! field/value arrays with the same fields, integers as integers, no nil values (unset
//! fields left out), doubles as their shortest exact text.

use crate::common::*;
use redis::Value;
use std::collections::HashMap;

const S: &str = "5b0e7a52-3a8e-4f5a-9d0a-000000000001";
const J: &str = "5b0e7a52-3a8e-4f5a-9d0a-0000000000a1";
const T: i64 = 1_700_000_000_000;

/// A namespace with a done init (started at T+10, updated at T+56: JOB_TIME 0.046 s) and
/// a running task with progress, its lease held by `w1`.
fn fixture(s: &Server) -> Ns {
    let mut db = Ns::new(s, "p");
    let _: i64 = db.q("RESTORE_STREAM", &[S, "cpu", "2", "1.5", "u"]);
    let _: i64 = db.q("RESTORE_JOB", &[J, "running", "u", &T.to_string()]);
    let (t10, t56) = ((T + 10).to_string(), (T + 56).to_string());
    let _: i64 = db.q(
        "RESTORE_TASK",
        &[
            J,
            "init",
            S,
            "{}",
            "[]",
            "done",
            "3",
            "60",
            &T.to_string(),
            "STARTED_AT",
            &t10,
            "UPDATED_AT",
            &t56,
            "OUTPUT",
            r#"{"ok":1}"#,
        ],
    );
    let _: i64 = db.q(
        "RESTORE_TASK",
        &[
            J,
            "seg",
            S,
            "{}",
            r#"["init"]"#,
            "running",
            "3",
            "60",
            &T.to_string(),
            "STARTED_AT",
            &t10,
            "PROGRESS",
            "0.25",
            "WORKER",
            "w1",
        ],
    );
    db
}

fn resp3(s: &Server) -> redis::Connection {
    redis::Client::open(format!("{}?protocol=resp3", s.url()))
        .and_then(|c| c.get_connection())
        .expect("a RESP3 connection")
}

fn map(v: Value) -> Vec<(String, Value)> {
    match v {
        Value::Map(items) => items
            .into_iter()
            .map(|(k, v)| (redis::from_redis_value(&k).unwrap(), v))
            .collect(),
        other => panic!("expected a map, got {other:?}"),
    }
}

fn get<'a>(m: &'a [(String, Value)], k: &str) -> &'a Value {
    &m.iter()
        .find(|(n, _)| n == k)
        .unwrap_or_else(|| panic!("no field {k} in {m:?}"))
        .1
}

#[test]
fn resp3_replies_are_maps_with_typed_values_and_nulls() {
    let s = Server::start();
    let _db = fixture(&s);
    let mut c = resp3(&s);
    let task = map(q(&mut c, &["TASKDB.TASK", "p", J, "seg"]));
    assert_eq!(get(&task, "state"), &Value::BulkString(b"running".to_vec()));
    assert_eq!(get(&task, "retries"), &Value::Int(0));
    assert_eq!(get(&task, "created_at"), &Value::Int(T));
    assert_eq!(get(&task, "started_at"), &Value::Int(T + 10));
    assert_eq!(get(&task, "progress"), &Value::Double(0.25));
    assert_eq!(get(&task, "output"), &Value::Nil);
    assert_eq!(get(&task, "error"), &Value::Nil);
    assert_eq!(get(&task, "updated_at"), &Value::Nil);
    assert_eq!(task.len(), 16, "every field, unset ones null");

    let job = map(q(&mut c, &["TASKDB.JOB", "p", J]));
    assert_eq!(get(&job, "error"), &Value::Nil);
    assert_eq!(get(&job, "created_at"), &Value::Int(T));
    let stream = map(q(&mut c, &["TASKDB.STREAM", "p", S]));
    assert_eq!(get(&stream, "be_mult"), &Value::Double(1.5));
    assert_eq!(get(&stream, "reserved"), &Value::Int(2));
    assert_eq!(get(&stream, "running"), &Value::Int(1));

    let stats = map(q(&mut c, &["TASKDB.STATS", "p"]));
    let cpu = map(get(&map(get(&stats, "tasks").clone()), "cpu").clone());
    assert_eq!(get(&cpu, "done"), &Value::Int(1));
    assert_eq!(get(&cpu, "running"), &Value::Int(1));
    let jobs = map(get(&stats, "jobs").clone());
    assert_eq!(get(&jobs, "running"), &Value::Int(1));

    let time: Value = q(&mut c, &["TASKDB.JOB_TIME", "p", J]);
    match time {
        Value::Double(x) => assert!((x - 0.046).abs() < 1e-12, "{x}"),
        other => panic!("JOB_TIME is a double in RESP3, got {other:?}"),
    }
    let leases: Vec<Value> = q(&mut c, &["TASKDB.LEASES", "p"]);
    let lease = map(leases[0].clone());
    assert_eq!(get(&lease, "worker_id"), &Value::BulkString(b"w1".to_vec()));
    assert_eq!(get(&lease, "updated_at"), &Value::Nil);
    let sched: Vec<Value> = q(&mut c, &["TASKDB.SCHEDULE", "p", "cpu"]);
    assert!(sched.is_empty(), "nothing ready");
}

#[test]
fn resp2_replies_are_flat_pairs_without_nil_values() {
    let s = Server::start();
    let mut db = fixture(&s);
    // The idiom that failed on nil values: every record reads as a map of strings.
    let task: HashMap<String, String> = db.q("TASK", &[J, "seg"]);
    assert_eq!(task["state"], "running");
    assert_eq!(task["progress"], "0.25");
    assert_eq!(task["worker_id"], "w1");
    assert!(!task.contains_key("output") && !task.contains_key("updated_at"));
    let job: HashMap<String, String> = db.q("JOB", &[J]);
    assert!(!job.contains_key("error"));
    let stream: HashMap<String, String> = db.q("STREAM", &[S]);
    assert_eq!(stream["be_mult"], "1.5");
    // Numbers are integers on the wire.
    let raw: Vec<Value> = db.q("TASK", &[J, "init"]);
    let at = raw
        .iter()
        .position(|v| v == &Value::BulkString(b"created_at".to_vec()))
        .unwrap();
    assert_eq!(raw[at + 1], Value::Int(T));
    assert!(!raw.contains(&Value::Nil));
    // A double as its shortest exact text.
    let time: String = db.q("JOB_TIME", &[J]);
    assert_eq!(time, "0.046");
    let stats: Vec<Value> = db.q("STATS", &[]);
    assert_eq!(stats[0], Value::BulkString(b"tasks".to_vec()));
}

#[test]
fn check_violations_are_maps_led_by_their_kind() {
    let s = Server::start();
    let mut db = Ns::new(&s, "p");
    let _: i64 = db.q("RESTORE_STREAM", &[S, "cpu", "1", "1", "u"]);
    let _: i64 = db.q("RESTORE_JOB", &[J, "running", "u", "1"]);
    let _: i64 = db.q(
        "RESTORE_TASK",
        &[
            J, "init", S, "{}", "[]", "done", "3", "60", "1", "OUTPUT", "{}",
        ],
    );
    let _: i64 = db.q(
        "RESTORE_TASK",
        &[
            J,
            "a",
            S,
            "{}",
            r#"["init"]"#,
            "pending",
            "3",
            "60",
            "2",
            "WAITING_ON",
            "1",
        ],
    );
    let mut c = resp3(&s);
    let page: Vec<Value> = q(&mut c, &["TASKDB.CHECK", "p", "CURSOR", "0"]);
    let found: Vec<Value> = redis::from_redis_value(&page[1]).unwrap();
    let v = map(found[0].clone());
    assert_eq!(v[0].0, "kind");
    assert_eq!(
        get(&v, "kind"),
        &Value::BulkString(b"stuck_pending".to_vec())
    );
    assert_eq!(get(&v, "task_id"), &Value::BulkString(b"a".to_vec()));
    let flat: Vec<Value> = db.q("CHECK", &[]);
    let found: Vec<HashMap<String, String>> = redis::from_redis_value(&flat[1]).unwrap();
    assert_eq!(found[0]["kind"], "stuck_pending");
}
