//! TASKDB.CHECK (it only reads) and TASKDB.REPAIR.

use crate::common::*;
use redis::Value;

fn kinds(v: &[Value]) -> Vec<String> {
    v.iter()
        .map(|x| field(&fields(x.clone()), "kind").unwrap())
        .collect()
}

#[test]
fn healthy_namespace_has_no_violations() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    assert!(db.check().is_empty(), "empty namespace");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    db.claim("cpu");
    assert!(db.check().is_empty());
}

#[test]
fn check_finds_and_fix_repairs_a_stuck_pending_task() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    db.claim("cpu");
    // Simulate the drift the PostgreSQL TaskDB needs maintenance for: the prerequisite is
    // done but its dependent was never released.
    let key = format!("{{t}}:dependents:{job}");
    let _: i64 = q(&mut db.c, &["DEL", &key]);
    assert!(db.done(&job, "init"));
    assert_eq!(
        db.task_field(&job, "a", "state").as_deref(),
        Some("pending")
    );
    let found = db.check();
    let k = kinds(&found);
    assert!(k.contains(&"stuck_pending".to_string()), "{k:?}");
    assert!(k.contains(&"dependent_link".to_string()), "{k:?}");
    let stuck = found
        .iter()
        .map(|v| fields(v.clone()))
        .find(|f| field(f, "kind").as_deref() == Some("stuck_pending"))
        .unwrap();
    assert_eq!(field(&stuck, "task_id").as_deref(), Some("a"));
    assert_eq!(field(&stuck, "waiting_on").as_deref(), Some("1"));
    assert_eq!(field(&stuck, "prerequisites").as_deref(), Some("1"));
    assert_eq!(field(&stuck, "done").as_deref(), Some("1"));
    assert_eq!(field(&stuck, "should_be_ready").as_deref(), Some("1"));
    let d = digest(&mut db.c);
    assert_eq!(
        db.check().len(),
        found.len(),
        "CHECK without FIX writes nothing"
    );
    assert_eq!(digest(&mut db.c), d);
    let fixed: Vec<Value> = db.q("REPAIR", &[]);
    assert_eq!(kinds(&fixed), k);
    assert!(db.check().is_empty());
    assert_eq!(db.claim("cpu"), Some((job.clone(), "a".into())));
}

#[test]
fn check_repairs_counters_queues_and_indexes() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 2, 1.0, "u");
    let j1 = db.job(&st, "u");
    let j2 = db.job(&st, "u");
    db.claim("cpu");
    let healthy = digest(&mut db.c);
    let sk = format!("{{t}}:stream:{st}");
    // sched: "reserved be_mult seq pending ready running done failed worker_type".
    let sched: String = q(&mut db.c, &["HGET", &sk, "sched"]);
    let mut t: Vec<&str> = sched.split(' ').collect();
    t[4] = "7";
    let _: i64 = q(&mut db.c, &["HSET", &sk, "sched", &t.join(" ")]);
    let _: i64 = q(
        &mut db.c,
        &[
            "DEL",
            &format!("{{t}}:queue:{st}"),
            "{t}:leases",
            "{t}:job-counts",
        ],
    );
    // A job's sched: "seq unresolved tasks priority first_started_at last_updated_at".
    let jkey = format!("{{t}}:job:{j2}");
    let jsched: String = q(&mut db.c, &["HGET", &jkey, "sched"]);
    let mut t: Vec<&str> = jsched.split(' ').collect();
    t[1] = "5";
    let _: i64 = q(&mut db.c, &["HSET", &jkey, "sched", &t.join(" ")]);
    let _: i64 = q(&mut db.c, &["HDEL", "{t}:running-jobs", "u"]);
    // j2 is the namespace's third creation: its queued init names it as sequence 3.
    let _: i64 = q(&mut db.c, &["HDEL", "{t}:job-ids", "3"]);
    let _: i64 = q(&mut db.c, &["ZADD", "{t}:schedule:cpu", "9", "junk"]);
    let found = kinds(&db.check());
    for kind in [
        "stream_counts",
        "queue",
        "lease",
        "job_count",
        "job_unresolved",
        "running_jobs",
        "schedule",
        "job_id",
    ] {
        assert!(found.contains(&kind.to_string()), "{kind} not in {found:?}");
    }
    let _: Vec<Value> = db.q("REPAIR", &[]);
    assert!(db.check().is_empty());
    assert_eq!(
        digest(&mut db.c),
        healthy,
        "FIX restores exactly the healthy state"
    );
    assert_eq!(db.claim("cpu").unwrap().0, j2);
    assert!(db.done(&j1, "init"));
}

#[test]
fn check_rejects_unknown_options() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let e = db.err("CHECK", &["REPAIR"]);
    assert_eq!(
        e,
        "ERR invalid option 'REPAIR': CHECK takes no option (repair with TASKDB.REPAIR ns)"
    );
    let e = db.err("CHECK", &["fix"]);
    assert_eq!(
        e,
        "ERR invalid option 'fix': CHECK only reads: repair with TASKDB.REPAIR ns"
    );
}
