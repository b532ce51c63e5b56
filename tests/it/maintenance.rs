//! TASKDB.CHECK (it only reads, a page at a time) and TASKDB.REPAIR. TaskDB keeps its
//! derived state exact by itself; what CHECK finds in practice is data restored from a
//! PostgreSQL TaskDB that needed maintenance there (a stuck pending task). Deliberate
//! damage to the internal structures is tested in the core (`core/src/check.rs`).

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
    assert!(db.pages("REPAIR").is_empty());
}

const S: &str = "5b0e7a52-3a8e-4f5a-9d0a-000000000001";
const J: &str = "5b0e7a52-3a8e-4f5a-9d0a-0000000000aa";

/// A job restored from a PostgreSQL TaskDB whose `a` waits on `init` although `init` is
/// done: the drift the PostgreSQL TaskDB's maintenance functions fix.
fn restore_stuck(db: &mut Ns) {
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
            "[\"init\"]",
            "pending",
            "3",
            "60",
            "2",
            "WAITING_ON",
            "1",
        ],
    );
}

#[test]
fn check_finds_and_repair_releases_a_stuck_pending_task() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    restore_stuck(&mut db);
    let d = digest(&mut db.c);
    let found = db.check();
    assert_eq!(kinds(&found), ["stuck_pending"]);
    assert_eq!(digest(&mut db.c), d, "CHECK writes nothing");
    let stuck = fields(found[0].clone());
    assert_eq!(field(&stuck, "job_id").as_deref(), Some(J));
    assert_eq!(field(&stuck, "task_id").as_deref(), Some("a"));
    assert_eq!(field(&stuck, "waiting_on").as_deref(), Some("1"));
    assert_eq!(field(&stuck, "prerequisites").as_deref(), Some("1"));
    assert_eq!(field(&stuck, "done").as_deref(), Some("1"));
    assert_eq!(field(&stuck, "should_be_ready").as_deref(), Some("1"));
    let fixed = db.pages("REPAIR");
    assert_eq!(kinds(&fixed), ["stuck_pending"]);
    assert!(db.check().is_empty());
    assert_eq!(db.claim("cpu"), Some((J.to_string(), "a".into())));
}

#[test]
fn repair_replicates_what_it_fixed() {
    let s = Server::start();
    let replica = Server::replica_of(&s, &["--save", ""]);
    let mut db = Ns::new(&s, "t");
    restore_stuck(&mut db);
    assert_eq!(kinds(&db.pages("REPAIR")), ["stuck_pending"]);
    let n: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
    assert_eq!(n, 1);
    assert_eq!(digest(&mut replica.conn()), digest(&mut db.c));
}

#[test]
fn a_restored_job_state_that_disagrees_with_its_tasks_is_reported() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let _: i64 = db.q("RESTORE_STREAM", &[S, "cpu", "1", "1", "u"]);
    let _: i64 = db.q("RESTORE_JOB", &[J, "done", "u", "1"]);
    let _: i64 = db.q(
        "RESTORE_TASK",
        &[J, "init", S, "{}", "[]", "ready", "3", "60", "1"],
    );
    assert_eq!(kinds(&db.check()), ["job_state"]);
    db.pages("REPAIR");
    assert!(db.check().is_empty());
    assert_eq!(db.q::<String>("JOB_STATE", &[J, "u"]), "running");
}

#[test]
fn check_pages_through_many_jobs_with_a_cursor() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    for _ in 0..25 {
        db.job(&st, "u");
    }
    let (mut cursor, mut pages) = ("0".to_string(), 0);
    loop {
        let (next, found): (String, Vec<Value>) = db.q("CHECK", &["CURSOR", &cursor, "COUNT", "4"]);
        assert!(found.is_empty());
        pages += 1;
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert!(pages >= 6, "{pages} pages of 4 tasks for 25 jobs");
}

#[test]
fn check_rejects_unknown_options() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let e = db.err("CHECK", &["REPAIR"]);
    assert_eq!(
        e,
        "ERR invalid option 'REPAIR': expected CURSOR c or COUNT n, each at most once"
    );
    let e = db.err("CHECK", &["fix"]);
    assert_eq!(
        e,
        "ERR invalid option 'fix': CHECK only reads: repair with TASKDB.REPAIR ns"
    );
}

#[test]
fn a_big_job_is_checked_and_repaired_page_by_page() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    restore_stuck(&mut db);
    // 3,000 more done tasks after the stuck one: the job spans many pages of 500.
    let mut pipe = redis::pipe();
    for i in 0..3000 {
        pipe.cmd("TASKDB.RESTORE_TASK")
            .arg("t")
            .arg(J)
            .arg(format!("d{i}"))
            .arg(S)
            .arg("{}")
            .arg("[]")
            .arg("done")
            .arg(3)
            .arg(60)
            .arg(3 + i)
            .arg("OUTPUT")
            .arg("{}")
            .ignore();
    }
    let _: () = pipe.query(&mut db.c).unwrap();
    let mut cursor = "0".to_string();
    let (mut pages, mut found) = (0, Vec::new());
    loop {
        let (next, v): (String, Vec<Value>) = db.q("CHECK", &["CURSOR", &cursor, "COUNT", "500"]);
        pages += 1;
        found.extend(v);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert!(pages >= 6, "{pages} pages");
    assert_eq!(kinds(&found), ["stuck_pending"]);
    let fixed = db.pages("REPAIR");
    assert_eq!(kinds(&fixed), ["stuck_pending"]);
    assert!(db.check().is_empty());
    assert_eq!(db.task_field(J, "a", "state").as_deref(), Some("ready"));
}
