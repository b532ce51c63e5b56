//! TASKDB.CREATE_STREAM, GET_OR_CREATE_STREAM, GET_STREAM, STREAM, CLEAR_STREAMS, ELSEWHERE,
//! and REQUEST_WORK's FINISHED hint.

use crate::common::*;
use redis::Value;

#[test]
fn create_and_read_a_stream() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let id = db.stream("gpu", 2, 1.5, "alice");
    assert_eq!(id.len(), 36);
    let f = fields(db.q::<Value>("STREAM", &[&id]));
    let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "worker_type",
            "reserved",
            "be_mult",
            "user_id",
            "ready",
            "running",
            "priority",
            "pending",
            "done",
            "failed",
            "cancelled",
            "created_at",
            "paused"
        ]
    );
    assert_eq!(field(&f, "worker_type").as_deref(), Some("gpu"));
    assert_eq!(field(&f, "reserved").as_deref(), Some("2"));
    assert_eq!(field(&f, "be_mult").as_deref(), Some("1.5"));
    assert_eq!(field(&f, "user_id").as_deref(), Some("alice"));
    assert_eq!(field(&f, "ready").as_deref(), Some("0"));
    assert_eq!(field(&f, "priority").as_deref(), Some("inf"));
    let missing: Value = db.q("STREAM", &["00000000-0000-0000-0000-000000000000"]);
    assert_eq!(missing, Value::Nil);
}

#[test]
fn get_stream_finds_the_users_stream_of_a_type() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let id = db.stream("cpu", 1, 1.0, "alice");
    let found: Option<String> = db.q("GET_STREAM", &["alice", "cpu"]);
    assert_eq!(found, Some(id));
    let none: Option<String> = db.q("GET_STREAM", &["alice", "gpu"]);
    assert_eq!(none, None);
    let none: Option<String> = db.q("GET_STREAM", &["bob", "cpu"]);
    assert_eq!(none, None);
}

#[test]
fn get_or_create_returns_the_existing_stream() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let a: String = db.q("GET_OR_CREATE_STREAM", &["cpu", "1", "1", "alice"]);
    let b: String = db.q("GET_OR_CREATE_STREAM", &["cpu", "5", "2", "alice"]);
    assert_eq!(a, b);
    let c: String = db.q("GET_OR_CREATE_STREAM", &["gpu", "1", "1", "alice"]);
    assert_ne!(a, c);
    assert_eq!(db.stream_field(&a, "reserved").as_deref(), Some("1"));
}

#[test]
fn namespaces_are_independent() {
    let s = Server::start();
    let mut a = Ns::new(&s, "a");
    let mut b = Ns::new(&s, "b");
    let id = a.stream("cpu", 1, 1.0, "u");
    let none: Value = b.q("STREAM", &[&id]);
    assert_eq!(none, Value::Nil);
    let none: Option<String> = b.q("GET_STREAM", &["u", "cpu"]);
    assert_eq!(none, None);
}

#[test]
fn ids_with_odd_characters_work() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    for name in ["a:b", "with space", "{brace}", "ünï©ødé", "x}{y"] {
        let id = db.stream(name, 0, 1.0, name);
        let found: Option<String> = db.q("GET_STREAM", &[name, name]);
        assert_eq!(found, Some(id.clone()));
        let job = db.job(&id, name);
        db.task(&job, name, &id, &["init"]);
        assert_eq!(db.claim(name).map(|(_, t)| t).as_deref(), Some("init"));
        assert!(db.done(&job, "init"));
        assert_eq!(db.claim(name).map(|(_, t)| t).as_deref(), Some(name));
    }
    assert!(db.check().is_empty());
}

#[test]
fn clear_streams_deletes_streams_without_tasks_a_batch_at_a_time_and_replicates() {
    let s = Server::start();
    let replica = Server::replica_of(&s, &[]);
    let mut db = Ns::new(&s, "t");
    let old = db.stream("cpu", 1, 1.0, "u");
    let used = db.stream("cpu", 0, 1.0, "u");
    let gpu = db.stream("gpu", 0, 1.0, "u");
    let job = db.job(&used, "u");
    let extra: Vec<String> = (0..3)
        .map(|i| db.stream("aux", 0, 1.0, &format!("v{i}")))
        .collect();
    assert_eq!(db.q::<String>("GET_STREAM", &["u", "cpu"]), old);
    assert_eq!(
        db.err("CLEAR_STREAMS", &["COUNT", "0"]),
        "ERR invalid COUNT '0': must be an integer from 1 to 100000"
    );
    assert_eq!(
        db.err("CLEAR_STREAMS", &["KEEP", &old, "nope"]),
        "ERR invalid stream_id 'nope': must be a UUID"
    );
    assert_eq!(
        db.err("CLEAR_STREAMS", &["KEEP"]),
        db.err("CLEAR_STREAMS", &["x"])
    );
    // KEEP passes streams over (a sharded TaskDB's first shard keeps a stream whose
    // tasks are on other shards), and COUNT counts only the others.
    assert_eq!(
        db.q::<i64>("CLEAR_STREAMS", &["COUNT", "1", "KEEP", &old]),
        1
    );
    assert_eq!(db.q::<Value>("STREAM", &[&gpu]), Value::Nil);
    assert_ne!(db.q::<Value>("STREAM", &[&old]), Value::Nil);
    // Oldest first, COUNT at a time, until it replies 0.
    assert_eq!(db.q::<i64>("CLEAR_STREAMS", &["COUNT", "1"]), 1);
    assert_eq!(db.q::<Value>("STREAM", &[&old]), Value::Nil);
    assert_eq!(db.q::<Value>("STREAM", &[&gpu]), Value::Nil);
    assert_eq!(db.q::<i64>("CLEAR_STREAMS", &[]), 3);
    assert_eq!(db.q::<i64>("CLEAR_STREAMS", &[]), 0);
    assert!(extra
        .iter()
        .all(|e| db.q::<Value>("STREAM", &[e]) == Value::Nil));
    // The stream with a job stays, and is the user's cpu stream now.
    assert_eq!(db.q::<String>("GET_STREAM", &["u", "cpu"]), used);
    assert_eq!(db.q::<Value>("GET_STREAM", &["u", "gpu"]), Value::Nil);
    assert!(db.check().is_empty());
    // A job on a deleted stream is refused, naming the stream.
    assert_eq!(
        db.err("CREATE_JOB", &[&old, "{}", "0", "10", "u"]),
        format!("NOTFOUND stream '{old}' does not exist")
    );
    // Once its job is deleted, the last one goes too; a missing namespace answers 0.
    assert_eq!(db.q::<i64>("DELETE_JOB", &[&job]), 1);
    assert_eq!(db.q::<i64>("CLEAR_STREAMS", &[]), 1);
    assert_eq!(
        q::<i64>(&mut s.conn(), &["TASKDB.CLEAR_STREAMS", "nothing-here"]),
        0
    );
    let mut pc = s.conn();
    let acked: i64 = q(&mut pc, &["WAIT", "1", "10000"]);
    assert_eq!(acked, 1);
    assert_eq!(digest(&mut replica.conn()), digest(&mut pc));
}

#[test]
fn a_paused_stream_is_skipped_until_resumed_and_stays_paused_through_reload_and_replicas() {
    let s = Server::start();
    let replica = Server::replica_of(&s, &[]);
    let mut db = Ns::new(&s, "t");
    let first = db.stream("cpu", 5, 1.0, "u");
    let other = db.stream("cpu", 0, 1.0, "v");
    let a = db.job(&first, "u");
    let b = db.job(&other, "v");
    assert_eq!(db.q::<i64>("PAUSE", &["STREAM", &first]), 1);
    assert_eq!(
        db.err("PAUSE", &["STREAM", "00000000-0000-0000-0000-000000000009"]),
        "NOTFOUND stream '00000000-0000-0000-0000-000000000009' does not exist"
    );
    assert_eq!(
        db.err("PAUSE", &["QUEUE", "x"]),
        "ERR invalid target 'QUEUE': expected STREAM stream_id or TYPE worker_type"
    );
    let listed: Vec<Value> = db.q("SCHEDULE", &["cpu"]);
    assert_eq!(listed.len(), 1, "SCHEDULE leaves the paused stream out");
    assert_eq!(
        db.claim("cpu").unwrap().0,
        b,
        "the reserved stream is paused"
    );
    assert_eq!(db.claim("cpu"), None);
    assert!(db.check().is_empty());
    let info: String = q(&mut s.conn(), &["INFO", "taskdb"]);
    assert!(info.contains("taskdb_paused:1"), "{info}");

    // Stored: an RDB reload, and the replica, keep it paused.
    let _: () = q(&mut s.conn(), &["DEBUG", "RELOAD"]);
    assert_eq!(db.stream_field(&first, "paused").as_deref(), Some("1"));
    assert_eq!(db.claim("cpu"), None);
    let mut pc = s.conn();
    let acked: i64 = q(&mut pc, &["WAIT", "1", "10000"]);
    assert_eq!(acked, 1);
    assert_eq!(digest(&mut replica.conn()), digest(&mut pc));
    let mut rc = replica.conn();
    let r: Vec<String> = q(&mut rc, &["TASKDB.STREAM", "t", &first]);
    assert_eq!(r[r.iter().position(|f| f == "paused").unwrap() + 1], "1");

    assert_eq!(db.q::<i64>("RESUME", &["STREAM", &first]), 1);
    assert_eq!(db.q::<i64>("RESUME", &["STREAM", &first]), 0);
    assert_eq!(db.claim("cpu").unwrap().0, a);
    assert!(db.check().is_empty());
}

#[test]
fn a_worker_type_paused_before_its_namespace_exists_stays_paused() {
    let s = Server::start();
    let mut db = Ns::new(&s, "fresh");
    assert_eq!(db.q::<i64>("PAUSE", &["TYPE", "gpu"]), 1);
    let kind: String = q(&mut s.conn(), &["TYPE", "fresh"]);
    assert_eq!(kind, "taskdb-ns", "the pause is stored in the namespace");
    let st = db.stream("gpu", 1, 1.0, "u");
    db.job(&st, "u");
    assert_eq!(db.claim("gpu"), None);
    assert_eq!(db.q::<i64>("RESUME", &["TYPE", "gpu"]), 1);
    assert!(db.claim("gpu").is_some());
    // Resumed and nothing else: a namespace that holds nothing is gone.
    let mut other = Ns::new(&s, "empty");
    assert_eq!(other.q::<i64>("PAUSE", &["TYPE", "cpu"]), 1);
    assert_eq!(other.q::<i64>("RESUME", &["TYPE", "cpu"]), 1);
    let exists: i64 = q(&mut s.conn(), &["EXISTS", "empty"]);
    assert_eq!(exists, 0);
}

#[test]
fn elsewhere_counts_other_shards_running_tasks_in_the_fair_order_and_is_only_a_hint() {
    let s = Server::start();
    let replica = Server::replica_of(&s, &[]);
    let mut db = Ns::new(&s, "t");
    let a = db.stream("gpu", 1, 1.0, "a");
    let b = db.stream("gpu", 1, 1.0, "b");
    for st in [&a, &b] {
        for _ in 0..3 {
            db.job(st, "x");
        }
    }
    let first = |db: &mut Ns| -> String {
        let v: Vec<Value> = db.q("SCHEDULE", &["gpu"]);
        let f = fields(v[0].clone());
        field(&f, "stream_id").unwrap()
    };
    // Equal reservations, nothing running: the older stream first.
    assert_eq!(first(&mut db), a);
    // Bad input changes nothing and names the argument.
    let before = digest(&mut s.conn());
    assert_eq!(
        db.err("ELSEWHERE", &[&a, "-1"]),
        "ERR invalid running '-1': must be an integer from 0 to 2147483647"
    );
    assert_eq!(
        db.err("ELSEWHERE", &["nope", "1"]),
        "ERR invalid stream_id 'nope': must be a UUID"
    );
    assert_eq!(
        db.err("ELSEWHERE", &[&a]),
        "ERR wrong number of arguments: usage TASKDB.ELSEWHERE ns [stream_id running ...]"
    );
    assert_eq!(digest(&mut s.conn()), before);
    // Two of a's tasks run on other shards: b goes first here; unknown ids are passed
    // over. The reply is what runs here, by stream.
    let unknown = "00000000-0000-0000-0000-000000000009";
    let here: Vec<Value> = db.q("ELSEWHERE", &[&a, "2", unknown, "5"]);
    assert!(here.is_empty());
    assert_eq!(first(&mut db), b);
    assert_eq!(
        db.claim("gpu")
            .map(|(j, _)| db.task_field(&j, "init", "stream_id")),
        Some(Some(b.clone()))
    );
    let here: Vec<String> = db.q("ELSEWHERE", &[&a, "2"]);
    assert_eq!(here, vec![b.clone(), "1".to_string()]);
    // a (2 running elsewhere: priority 1) against b (1 running here: priority 0).
    assert_eq!(first(&mut db), b);
    // Naming no stream sets every count back to 0.
    let _: Vec<Value> = db.q("ELSEWHERE", &[]);
    assert_eq!(first(&mut db), a);
    let _: Vec<Value> = db.q("ELSEWHERE", &[&a, "3"]);
    assert!(db.check().is_empty());
    // Replicated as the counts set; a hint, not data: the digest leaves it out, and a
    // reload starts from 0.
    let mut pc = s.conn();
    let acked: i64 = q(&mut pc, &["WAIT", "1", "10000"]);
    assert_eq!(acked, 1);
    assert_eq!(digest(&mut replica.conn()), digest(&mut pc));
    let mut rc = replica.conn();
    let order: Vec<Value> = q(&mut rc, &["TASKDB.SCHEDULE", "t", "gpu"]);
    assert_eq!(
        field(&fields(order[0].clone()), "stream_id"),
        Some(b.clone())
    );
    let _: () = q(&mut pc, &["DEBUG", "RELOAD"]);
    assert_eq!(first(&mut db), a);
    // A missing namespace: nothing to tell, nothing created.
    let none: Vec<Value> = q(&mut pc, &["TASKDB.ELSEWHERE", "missing", &a, "1"]);
    assert!(none.is_empty());
    let ty: String = q(&mut pc, &["TYPE", "missing"]);
    assert_eq!(ty, "none");
}

#[test]
fn finished_counts_a_task_just_done_on_another_shard_out_before_choosing() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let a = db.stream("gpu", 1, 1.0, "a");
    let b = db.stream("gpu", 1, 1.0, "b");
    for st in [&a, &b] {
        for _ in 0..4 {
            db.job(st, "x");
        }
    }
    // One task of each runs on other shards: a, the older, first.
    let _: Vec<Value> = db.q("ELSEWHERE", &[&a, "1", &b, "1"]);
    // WITHSTREAM ends the claim with its stream.
    let v: (String, String, String, String, i64, i64, String) =
        db.q("REQUEST_WORK", &["gpu", "WITHSTREAM"]);
    assert_eq!(v.6, a);
    // a now runs 2 (1 here), b 1: b would be next; but a worker that just finished a's
    // task on another shard says so: a runs 1, b 1, and a (the older) goes first again.
    let v: (String, String, String, String, i64, i64, String) =
        db.q("REQUEST_WORK", &["gpu", "WITHSTREAM", "FINISHED", &a]);
    assert_eq!(v.6, a, "a counted one task fewer elsewhere");
    // It lasts until the next ELSEWHERE, and never goes below 0.
    let unknown = "00000000-0000-0000-0000-000000000009";
    let none: Option<Value> = db.q("REQUEST_WORK", &["cpu", "FINISHED", &a, &a, unknown]);
    assert!(none.is_none());
    // a: 2 here + 0 elsewhere, b: 0 + 1: b (the second FINISHED a found 0).
    let v: (String, String, String, String, i64, i64, String) =
        db.q("REQUEST_WORK", &["gpu", "WITHSTREAM"]);
    assert_eq!(v.6, b);
    // Bad input changes nothing and names the argument.
    let before = digest(&mut s.conn());
    assert_eq!(
        db.err("REQUEST_WORK", &["gpu", "FINISHED", &a, "nope"]),
        "ERR invalid stream_id 'nope': must be a UUID"
    );
    assert_eq!(
        db.err("REQUEST_WORK", &["gpu", "FINISHED"]),
        "ERR wrong number of arguments: usage TASKDB.REQUEST_WORK ns worker_type [BLOCK ms] \
         [COUNT n] [WORKER worker_id] [WITHSTREAM] [FINISHED stream_id ...]"
    );
    assert_eq!(
        db.err("REQUEST_WORK", &["gpu", "WITHSTREAM", "WITHSTREAM"]),
        "ERR invalid option 'WITHSTREAM': expected BLOCK ms, COUNT n, WORKER worker_id, \
         WITHSTREAM or (last) FINISHED stream_id ..., each at most once"
    );
    assert_eq!(digest(&mut s.conn()), before);
    assert!(db.check().is_empty());
}
