//! TASKDB.REQUEST_WORK with BLOCK and COUNT: workers that wait inside Redis, and batches.

use crate::common::*;
use redis::Value;
use std::sync::mpsc;
use std::time::Duration;

type Claimed = Option<(String, String, String, String, i64, i64)>;

/// Starts a worker blocked in REQUEST_WORK on its own connection; its reply arrives on the
/// returned channel. Returns once the server counts it as blocked.
fn blocked_worker(
    s: &Server,
    ns: &str,
    wt: &str,
    block_ms: &str,
    expect_blocked: usize,
) -> mpsc::Receiver<Claimed> {
    let (tx, rx) = mpsc::channel();
    let mut c = s.conn();
    let (ns, wt, ms) = (ns.to_string(), wt.to_string(), block_ms.to_string());
    std::thread::spawn(move || {
        let v: Claimed = redis::cmd("TASKDB.REQUEST_WORK")
            .arg(&ns)
            .arg(&wt)
            .arg("BLOCK")
            .arg(&ms)
            .query(&mut c)
            .expect("REQUEST_WORK BLOCK");
        let _ = tx.send(v);
    });
    let mut admin = s.conn();
    wait_for(10, "the worker to block", || {
        let info: String = q(&mut admin, &["INFO", "clients"]);
        let n: usize = info
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        (n >= expect_blocked).then_some(())
    });
    rx
}

#[test]
fn a_worker_blocked_before_any_work_gets_a_task_created_later() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("gpu", 1, 1.0, "u");
    let rx = blocked_worker(&s, "t", "gpu", "0", 1);
    let job = db.job(&st, "u");
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a reply")
        .expect("a task");
    assert_eq!((got.0.as_str(), got.1.as_str()), (job.as_str(), "init"));
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("running")
    );
    assert!(db.check().is_empty());
}

#[test]
fn a_prerequisite_finishing_wakes_a_worker_of_the_dependents_type() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let cpu = db.stream("cpu", 1, 1.0, "u");
    let gpu = db.stream("gpu", 1, 1.0, "u");
    let job = db.job(&cpu, "u");
    db.task(&job, "seg", &gpu, &["init"]);
    let rx = blocked_worker(&s, "t", "gpu", "0", 1);
    db.claim("cpu").unwrap();
    assert!(db.done(&job, "init"));
    let got = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!(got.1, "seg");
}

#[test]
fn work_of_one_type_wakes_its_waiter_and_leaves_another_types_waiting() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let cpu = db.stream("cpu", 1, 1.0, "u");
    let gpu = db.stream("gpu", 1, 1.0, "u");
    let aux_rx = blocked_worker(&s, "t", "aux", "0", 1);
    let gpu_rx = blocked_worker(&s, "t", "gpu", "0", 2);
    let job = db.job(&cpu, "u");
    db.task(&job, "seg", &gpu, &[]);
    let got = gpu_rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(got.1, "seg");
    let info: String = q(&mut db.c, &["INFO", "clients"]);
    assert!(
        info.contains("blocked_clients:1\r\n"),
        "the AUX worker keeps waiting"
    );
    assert!(aux_rx.try_recv().is_err());
    let aux = db.stream("aux", 1, 1.0, "u");
    db.task(&job, "fin", &aux, &[]);
    let got = aux_rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(got.1, "fin");
    assert_eq!(db.claim("cpu").map(|(_, t)| t).as_deref(), Some("init"));
}

#[test]
fn two_waiters_one_task_exactly_one_gets_it_first_come_first_served() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("gpu", 1, 1.0, "u");
    let first = blocked_worker(&s, "t", "gpu", "0", 1);
    let second = blocked_worker(&s, "t", "gpu", "0", 2);
    let j1 = db.job(&st, "u");
    let got = first
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(got.0, j1, "the first to block is served first");
    let info: String = q(&mut db.c, &["INFO", "clients"]);
    assert!(
        info.contains("blocked_clients:1"),
        "the other keeps waiting: {info}"
    );
    assert!(second.try_recv().is_err());
    let j2 = db.job(&st, "u");
    let got = second
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(got.0, j2);
    assert!(db.check().is_empty());
}

#[test]
fn a_wait_that_times_out_gets_nil() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let rx = blocked_worker(&s, "t", "gpu", "50", 1);
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), None);
    let v: Value = db.q("REQUEST_WORK", &["gpu", "BLOCK", "10", "COUNT", "3"]);
    assert_eq!(v, Value::Nil);
}

#[test]
fn a_worker_that_disconnects_while_waiting_loses_nothing() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("gpu", 1, 1.0, "u");
    {
        // Send the blocking call by hand and hang up without reading its reply.
        use std::io::Write;
        let mut sock = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        sock.write_all(b"*5\r\n$19\r\nTASKDB.REQUEST_WORK\r\n$1\r\nt\r\n$3\r\ngpu\r\n$5\r\nBLOCK\r\n$1\r\n0\r\n")
            .unwrap();
        let mut admin = s.conn();
        wait_for(10, "the worker to block", || {
            let info: String = q(&mut admin, &["INFO", "clients"]);
            info.contains("blocked_clients:1").then_some(())
        });
    }
    let mut admin = s.conn();
    wait_for(10, "the worker to be gone", || {
        let info: String = q(&mut admin, &["INFO", "clients"]);
        info.contains("blocked_clients:0").then_some(())
    });
    let job = db.job(&st, "u");
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("ready")
    );
    assert_eq!(db.claim("gpu").map(|(j, _)| j), Some(job));
}

#[test]
fn count_claims_in_the_order_of_single_calls() {
    // Two servers, same creation script with fixed ids: one claims with COUNT, the other
    // with single calls.
    let script = |db: &mut Ns| {
        let a = db.q::<String>("GET_OR_CREATE_STREAM", &["gpu", "2", "1", "a"]);
        let b = db.q::<String>("GET_OR_CREATE_STREAM", &["gpu", "0", "1", "b"]);
        for i in 0..4 {
            let _: String = db.q(
                "CREATE_JOB",
                &[&a, "{}", "1", "60", "a", "ID", &fixed_id(i)],
            );
            let _: String = db.q(
                "CREATE_JOB",
                &[&b, "{}", "1", "60", "b", "ID", &fixed_id(10 + i)],
            );
        }
    };
    let (s1, s2) = (Server::start(), Server::start());
    let (mut d1, mut d2) = (Ns::new(&s1, "t"), Ns::new(&s2, "t"));
    script(&mut d1);
    script(&mut d2);
    let batch: Vec<(String, String, String, String, i64, i64)> =
        d1.q("REQUEST_WORK", &["gpu", "COUNT", "6"]);
    let singles: Vec<(String, String)> = (0..6).map(|_| d2.claim("gpu").unwrap()).collect();
    let batch: Vec<(String, String)> = batch.into_iter().map(|t| (t.0, t.1)).collect();
    assert_eq!(batch, singles);
    let rest: Vec<(String, String, String, String, i64, i64)> =
        d1.q("REQUEST_WORK", &["gpu", "COUNT", "100"]);
    assert_eq!(rest.len(), 2);
    let none: Value = d1.q("REQUEST_WORK", &["gpu", "COUNT", "5"]);
    assert_eq!(none, Value::Nil);
    assert!(d1.check().is_empty());
}

fn fixed_id(i: u32) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

#[test]
fn inside_multi_block_answers_like_a_timeout() {
    let s = Server::start();
    let mut c = s.conn();
    let mut p = redis::pipe();
    p.atomic()
        .cmd("TASKDB.REQUEST_WORK")
        .arg("t")
        .arg("gpu")
        .arg("BLOCK")
        .arg("0");
    let v: Vec<Value> = p.query(&mut c).unwrap();
    assert_eq!(v, vec![Value::Nil]);
}

#[test]
fn bad_block_and_count_arguments_are_rejected() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let e = db.err("REQUEST_WORK", &["gpu", "BLOCK", "-1"]);
    assert_eq!(e, "ERR invalid BLOCK '-1': must be an integer >= 0");
    let e = db.err("REQUEST_WORK", &["gpu", "COUNT", "0"]);
    assert_eq!(
        e,
        "ERR invalid COUNT '0': must be an integer from 1 to 10000"
    );
    let e = db.err("REQUEST_WORK", &["gpu", "COUNT", "2", "COUNT", "3"]);
    assert_eq!(
        e,
        "ERR invalid option 'COUNT': expected BLOCK ms, COUNT n, WORKER worker_id, WITHSTREAM \
         or (last) FINISHED stream_id ..., each at most once"
    );
    let e = db.err("REQUEST_WORK", &["gpu", "WAIT", "1"]);
    assert!(e.starts_with("ERR invalid option 'WAIT'"), "{e}");
    let e = db.err("REQUEST_WORK", &["gpu", "BLOCK"]);
    assert!(e.starts_with("ERR wrong number of arguments"), "{e}");
}

#[test]
fn a_claim_served_to_a_blocked_worker_replicates() {
    let primary = Server::start();
    let replica = Server::replica_of(&primary, &["--save", ""]);
    let mut rc = replica.conn();
    let mut db = Ns::new(&primary, "t");
    let st = db.stream("gpu", 1, 1.0, "u");
    let rx = blocked_worker(&primary, "t", "gpu", "0", 1);
    let job = db.job(&st, "u");
    rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    let acked: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
    assert_eq!(acked, 1);
    assert_eq!(digest(&mut rc), digest(&mut db.c));
    let state: Value = q(&mut rc, &["TASKDB.TASK", "t", &job, "init"]);
    assert!(format!("{state:?}").contains("running"), "{state:?}");
}

#[test]
fn a_paused_worker_type_keeps_its_workers_waiting_until_resumed() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("gpu", 1, 1.0, "u");
    assert_eq!(db.q::<i64>("PAUSE", &["TYPE", "gpu"]), 1);
    assert_eq!(db.q::<i64>("PAUSE", &["TYPE", "gpu"]), 0, "already paused");
    let rx = blocked_worker(&s, "t", "gpu", "0", 1);
    let job = db.job(&st, "u");
    // The job's creation ran the wake-up of blocked workers before replying: the worker
    // did not take the task.
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("ready")
    );
    assert_eq!(db.q::<Value>("REQUEST_WORK", &["gpu"]), Value::Nil);
    assert_eq!(db.stream_field(&st, "paused").as_deref(), Some("1"));
    assert_eq!(db.q::<i64>("RESUME", &["TYPE", "gpu"]), 1);
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a reply")
        .expect("a task once resumed");
    assert_eq!((got.0.as_str(), got.1.as_str()), (job.as_str(), "init"));
    assert_eq!(db.stream_field(&st, "paused").as_deref(), Some("0"));
}
