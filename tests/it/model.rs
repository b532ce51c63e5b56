//! Model-based testing against a real server: the reference model shared with the core
//! (`core/tests/support/model.rs`) drives random sequences of commands through the
//! server and compares every reply and the full state after each step. Failures shrink to
//! a minimal sequence. The core runs the same model ten times as many times without a
//! server (`core/tests/model.rs`).
//!
//! `PROPTEST_CASES=20000 cargo test --test it model` runs a longer soak.

#[path = "../../core/tests/support/model.rs"]
mod reference;

use crate::common::*;
use proptest::prelude::*;
use reference::{op, run, Target};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

static SERVER: OnceLock<Server> = OnceLock::new();
static CASE: AtomicUsize = AtomicUsize::new(0);

/// A namespace on the shared server, as a target of the model.
struct Remote(Ns);

impl Target for Remote {
    fn create_stream(&mut self, wt: &str, reserved: i64, mult: f64, user: &str) -> String {
        self.0.stream(wt, reserved, mult, user)
    }
    fn create_job(&mut self, stream: &str, max_retries: i64, user: &str) -> String {
        self.0.q(
            "CREATE_JOB",
            &[stream, "{}", &max_retries.to_string(), "600", user],
        )
    }
    fn create_task(
        &mut self,
        job: &str,
        task: &str,
        stream: &str,
        prereqs: &[String],
    ) -> Result<(), String> {
        let mut c = redis::cmd("TASKDB.CREATE_TASK");
        c.arg(&self.0.ns)
            .arg(job)
            .arg(task)
            .arg(stream)
            .arg("{}")
            .arg(serde_json::to_string(prereqs).unwrap())
            .arg(1)
            .arg(600);
        c.query::<String>(&mut self.0.c)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    fn claim(&mut self, wt: &str) -> Option<(String, String)> {
        self.0.claim(wt)
    }
    fn done(&mut self, job: &str, task: &str) -> bool {
        self.0.done(job, task)
    }
    fn failed(&mut self, job: &str, task: &str) -> bool {
        self.0.q::<i64>("FAILED", &[job, task, "boom"]) == 1
    }
    fn retry(&mut self, job: &str, task: &str) -> bool {
        self.0.q::<i64>("RETRY", &[job, task]) == 1
    }
    fn cancel(&mut self, job: &str) -> bool {
        self.0.q::<i64>("CANCEL_JOB", &[job]) == 1
    }
    fn pause(&mut self, stream: Option<&str>, wt: &str, paused: bool) -> bool {
        let verb = if paused { "PAUSE" } else { "RESUME" };
        let n: i64 = match stream {
            Some(s) => self.0.q(verb, &["STREAM", s]),
            None => self.0.q(verb, &["TYPE", wt]),
        };
        n == 1
    }
    fn retry_job(&mut self, job: &str) -> bool {
        self.0.q::<i64>("RETRY_JOB", &[job]) == 1
    }
    fn delete(&mut self, job: &str) -> bool {
        self.0.q::<i64>("DELETE_JOB", &[job]) == 1
    }
    fn clear(&mut self) -> usize {
        let mut n = 0;
        loop {
            let k: i64 = self.0.q("CLEAR_COMPLETED", &[]);
            n += k as usize;
            if k == 0 {
                return n;
            }
        }
    }
    fn job(&mut self, job: &str) -> (String, Option<String>) {
        let f = fields(self.0.q::<redis::Value>("JOB", &[job]));
        (field(&f, "state").unwrap_or_default(), field(&f, "error"))
    }
    fn task(&mut self, job: &str, task: &str) -> (String, i64, i64) {
        let f = fields(self.0.q::<redis::Value>("TASK", &[job, task]));
        let n = |k| field(&f, k).and_then(|v| v.parse().ok()).unwrap_or(-1);
        (
            field(&f, "state").unwrap_or_default(),
            n("waiting_on"),
            n("retries"),
        )
    }
    fn stream(&mut self, stream: &str) -> (i64, i64) {
        let n = |db: &mut Ns, k| {
            db.stream_field(stream, k)
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1)
        };
        (n(&mut self.0, "ready"), n(&mut self.0, "running"))
    }
    fn check(&mut self) -> Vec<String> {
        self.0.check().iter().map(|v| format!("{v:?}")).collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_server_behaves_like_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let server = SERVER.get_or_init(Server::start);
        let ns = format!("m{}", CASE.fetch_add(1, Ordering::SeqCst));
        run(&ops, &mut Remote(Ns::new(server, &ns)))?;
    }
}
