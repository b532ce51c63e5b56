//! The test fixture itself: no server outlives the test process that started it, however
//! that process ends (a server in a `static` is never dropped; an abort or a kill runs no
//! destructor at all).
//!
//! The parent half re-runs this test binary with `TASKDB_FIXTURE_CHILD` set; the child
//! half starts a server, parks it in a `static`, writes its pid and then ends as told.

use crate::common::*;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const CHILD: &str = "fixture::child_half_parks_a_server_in_a_static";

static PARKED: OnceLock<Server> = OnceLock::new();

/// Whether process `pid` is gone (or a zombie waiting to be reaped).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

#[test]
fn a_server_dies_with_its_test_process_however_that_ends() {
    for how in ["exit", "abort", "kill"] {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", CHILD, "--test-threads", "1", "--nocapture"])
            .env("TASKDB_FIXTURE_CHILD", how)
            .env("TASKDB_FIXTURE_PIDFILE", &pidfile)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid: u32 = wait_for(30, "the child to start a server", || {
            std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
        });
        if how == "kill" {
            assert!(!gone(pid), "the server runs while its test process does");
            child.kill().unwrap();
        }
        let _ = child.wait();
        wait_for(10, &format!("the server to die after '{how}'"), || {
            gone(pid).then_some(())
        });
    }
}

/// The child half (does nothing unless started by the test above).
#[test]
fn child_half_parks_a_server_in_a_static() {
    let Ok(how) = std::env::var("TASKDB_FIXTURE_CHILD") else {
        return;
    };
    let server = PARKED.get_or_init(Server::start);
    let pidfile = std::env::var("TASKDB_FIXTURE_PIDFILE").unwrap();
    let tmp = format!("{pidfile}.tmp");
    std::fs::write(&tmp, server.pid().to_string()).unwrap();
    std::fs::rename(&tmp, &pidfile).unwrap();
    match how.as_str() {
        "exit" => std::process::exit(0),
        "abort" => std::process::abort(),
        _ => {
            // Wait to be killed: stdin stays open until then.
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            std::process::exit(0);
        }
    }
}
