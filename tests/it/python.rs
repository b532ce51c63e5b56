//! The Python examples (`examples/python/`, redis-py) against a real server, in RESP2 and
//! RESP3: a submitter that grows a DAG from init's output, and workers that drain it and
//! give back a claim whose reply was lost.

use crate::common::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The virtualenv python with redis-py that `scripts/deps.sh` installs.
fn python() -> PathBuf {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/pyenv/bin/python"
    ));
    assert!(
        p.exists(),
        "{} is missing: run scripts/deps.sh (scripts/test.sh does) to install redis-py",
        p.display()
    );
    p
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python")).join(name)
}

fn run_pair(s: &Server, protocol: &str, ns: &str) {
    let url = s.url();
    let worker = Command::new(python())
        .arg(example("worker.py"))
        .args([
            "--url",
            &url,
            "--protocol",
            protocol,
            "--ns",
            ns,
            "--type",
            "cpu",
        ])
        .args(["--id", &format!("w-{protocol}"), "--idle-exit", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the worker example");
    let sub = Command::new(python())
        .arg(example("submitter.py"))
        .args([
            "--url",
            &url,
            "--protocol",
            protocol,
            "--ns",
            ns,
            "--segments",
            "4",
        ])
        .output()
        .expect("the submitter example");
    let out = String::from_utf8_lossy(&sub.stdout);
    assert!(
        sub.status.success(),
        "submitter (RESP{protocol}) failed: {out}{}",
        String::from_utf8_lossy(&sub.stderr)
    );
    // 0 + 1 + 4 + 9 = 14, by the join of four segments.
    assert!(
        out.contains(r#"{"sum": 14}"#) || out.contains(r#"{"sum":14}"#),
        "{out}"
    );
    let w = worker.wait_with_output().unwrap();
    let wout = String::from_utf8_lossy(&w.stdout);
    assert!(
        w.status.success(),
        "worker failed: {wout}{}",
        String::from_utf8_lossy(&w.stderr)
    );
    assert!(wout.contains("6 task(s) done"), "{wout}");
}

#[test]
fn the_python_examples_run_a_dag_in_resp2_and_resp3() {
    let s = Server::start();
    run_pair(&s, "2", "py2");
    run_pair(&s, "3", "py3");
    for ns in ["py2", "py3"] {
        let mut db = Ns::new(&s, ns);
        let (_, jobs) = db.stats();
        assert_eq!(jobs[1], ("done".to_string(), 1), "{ns}");
        assert!(db.check().is_empty());
    }
}

#[test]
fn the_python_worker_gives_back_a_claim_whose_reply_was_lost() {
    let s = Server::start();
    let mut db = Ns::new(&s, "lost");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, r#"{"segments":1}"#, "3", "3600", "u"]);
    // A claim in the worker's name whose reply never reached it (an hour's lease).
    let _: redis::Value = db.q("REQUEST_WORK", &["cpu", "WORKER", "w-lost"]);
    let w = Command::new(python())
        .arg(example("worker.py"))
        .args(["--url", &s.url(), "--ns", "lost", "--type", "cpu"])
        .args(["--id", "w-lost", "--idle-exit", "1"])
        .output()
        .expect("the worker example");
    let out = String::from_utf8_lossy(&w.stdout);
    assert!(
        w.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&w.stderr)
    );
    assert!(out.contains("gave back 1 task(s)"), "{out}");
    assert!(out.contains("1 task(s) done"), "{out}");
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("done")
    );
    assert_eq!(db.task_field(&job, "init", "attempt").as_deref(), Some("2"));
}
