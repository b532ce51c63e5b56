//! Stalls: how long one big command holds the server, at 100,000 tasks. For each scenario
//! a prober connection PINGs in a loop and records its worst round trip (what every other
//! client feels), and SLOWLOG (threshold 0 during the measured calls) gives each measured
//! command's own execution time; the worst of each is reported.

use crate::fill::q;
use crate::server::Server;
use redis::Connection;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NS: &str = "stall";

/// One scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Stall {
    /// What ran.
    pub scenario: String,
    /// Calls measured.
    pub calls: usize,
    /// The longest measured call's execution time in the server (SLOWLOG), ms.
    pub worst_call_ms: f64,
    /// The worst PING round trip of another client meanwhile, ms.
    pub worst_ping_ms: f64,
}

/// A PING loop on its own connection until stopped; its worst round trip.
struct Prober {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Duration>,
}

impl Prober {
    fn start(server: &Server) -> Prober {
        let mut c = server.conn();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            while !s.load(Ordering::Relaxed) {
                let t = Instant::now();
                // An error (the server loading, say) is a round trip too.
                let _ = redis::cmd("PING").query::<redis::Value>(&mut c);
                worst = worst.max(t.elapsed());
            }
            worst
        });
        Prober { stop, handle }
    }

    fn finish(self) -> Duration {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("prober")
    }
}

/// Runs `f` (the measured calls) with SLOWLOG logging every command and a prober running.
fn measure(
    server: &Server,
    c: &mut Connection,
    scenario: &str,
    f: impl FnOnce(&mut Connection) -> usize,
) -> Stall {
    let _: () = q(c, &["CONFIG", "SET", "slowlog-max-len", "100000"]);
    let _: () = q(c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    let _: () = q(c, &["SLOWLOG", "RESET"]);
    let prober = Prober::start(server);
    let calls = f(c);
    let ping = prober.finish();
    let _: () = q(c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    let log: Vec<redis::Value> = q(c, &["SLOWLOG", "GET", "-1"]);
    let worst_us = log
        .iter()
        .filter_map(|e| match e {
            redis::Value::Array(f) => {
                let name: String = match f.get(3) {
                    Some(redis::Value::Array(args)) => args
                        .first()
                        .and_then(|a| redis::from_redis_value(a).ok())
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                let us: i64 = f.get(2).and_then(|v| redis::from_redis_value(v).ok())?;
                let name = name.to_uppercase();
                (!["CONFIG", "SLOWLOG", "PING", "DEBUG"].contains(&name.as_str())).then_some(us)
            }
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let s = Stall {
        scenario: scenario.to_string(),
        calls,
        worst_call_ms: worst_us as f64 / 1000.0,
        worst_ping_ms: ping.as_secs_f64() * 1000.0,
    };
    eprintln!(
        "stall: {scenario}: worst call {:.2} ms, worst PING {:.2} ms",
        s.worst_call_ms, s.worst_ping_ms
    );
    s
}

/// A fresh namespace with one CPU stream; the stream's id.
fn fresh(c: &mut Connection) -> String {
    let _: () = q(c, &["FLUSHALL"]);
    q(c, &["TASKDB.CREATE_STREAM", NS, "CPU", "1", "1", "u"])
}

/// `n` tasks in `job` on `stream`, each with prerequisites `prereqs` (JSON), pipelined.
fn tasks(c: &mut Connection, job: &str, stream: &str, n: usize, prereqs: &str) {
    let def = crate::scale::task_def();
    crate::fill::tasks(c, NS, job, stream, 0..n, |_| def.clone(), prereqs);
}

fn job(c: &mut Connection, stream: &str) -> String {
    q(
        c,
        &["TASKDB.CREATE_JOB", NS, stream, "{}", "0", "3600", "u"],
    )
}

type Claimed = (String, String, redis::Value, redis::Value, i64, i64);

/// Runs CHECK or REPAIR over every page; the calls made.
fn pages(c: &mut Connection, cmd: &str) -> usize {
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, _): (String, Vec<redis::Value>) = q(c, &[cmd, NS, "CURSOR", &cursor]);
        calls += 1;
        if next == "0" {
            return calls;
        }
        cursor = next;
    }
}

/// `n` jobs (their init tasks only) on `stream`, pipelined.
fn jobs(c: &mut Connection, stream: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(5000) {
        let mut p = redis::pipe();
        for _ in chunk {
            p.cmd("TASKDB.CREATE_JOB")
                .arg(NS)
                .arg(stream)
                .arg("{}")
                .arg(0)
                .arg(3600)
                .arg("u")
                .ignore();
        }
        let _: () = p.query(c).expect("CREATE_JOB");
    }
}

/// Every scenario, with `n` tasks (100,000 for the issue's figures).
pub fn run(server: &Server, n: usize) -> Vec<Stall> {
    let mut c = server.conn();
    let mut out = Vec::new();
    let big = |k: usize| format!("{k}");

    // DONE of the init task that `n` tasks wait on.
    let st = fresh(&mut c);
    let j = job(&mut c, &st);
    tasks(&mut c, &j, &st, n, r#"["init"]"#);
    let (jj, init, ..): Claimed = q(&mut c, &["TASKDB.REQUEST_WORK", NS, "CPU"]);
    out.push(measure(
        server,
        &mut c,
        &format!("DONE releasing {} dependents", big(n)),
        |c| {
            let _: i64 = q(c, &["TASKDB.DONE", NS, &jj, &init, "{}"]);
            1
        },
    ));

    // REQUEST_WORK COUNT 10000, then FAILED of one claim: the job fails and cancels the rest.
    let count = 10_000.min(n);
    let mut claimed: Vec<Claimed> = Vec::new();
    out.push(measure(
        server,
        &mut c,
        &format!("REQUEST_WORK COUNT {count}"),
        |c| {
            claimed = q(
                c,
                &[
                    "TASKDB.REQUEST_WORK",
                    NS,
                    "CPU",
                    "COUNT",
                    &count.to_string(),
                ],
            );
            1
        },
    ));
    let (fj, ft, ..) = claimed.last().cloned().expect("a claim");
    out.push(measure(
        server,
        &mut c,
        &format!("FAILED cancelling {} tasks", big(n - count)),
        |c| {
            let _: i64 = q(c, &["TASKDB.FAILED", NS, &fj, &ft, "\"boom\""]);
            1
        },
    ));
    out.push(measure(
        server,
        &mut c,
        &format!("DELETE_JOB of a {}-task job", big(n + 1)),
        |c| {
            let _: i64 = q(c, &["TASKDB.DELETE_JOB", NS, &fj]);
            1
        },
    ));

    // A namespace of n ready tasks: CHECK and REPAIR page by page, listings page by page.
    let st = fresh(&mut c);
    let j = job(&mut c, &st);
    tasks(&mut c, &j, &st, n, "[]");
    for cmd in ["TASKDB.CHECK", "TASKDB.REPAIR"] {
        out.push(measure(
            server,
            &mut c,
            &format!("{cmd} over one job of {} tasks, every page", big(n + 1)),
            |c| pages(c, cmd),
        ));
    }
    out.push(measure(
        server,
        &mut c,
        &format!(
            "JOB_TASKS over {} tasks, every page of COUNT 10000",
            big(n + 1)
        ),
        |c| {
            let mut cursor = "0".to_string();
            let mut calls = 0;
            loop {
                let (next, _): (String, Vec<String>) =
                    q(c, &["TASKDB.JOB_TASKS", NS, &j, &cursor, "COUNT", "10000"]);
                calls += 1;
                if next == "0" {
                    return calls;
                }
                cursor = next;
            }
        },
    ));
    let _: () = q(&mut c, &["DEBUG", "RELOAD"]);
    out.push(measure(
        server,
        &mut c,
        "INFO and reaper ticks right after DEBUG RELOAD",
        |c| {
            let _: String = q(c, &["INFO", "taskdb"]);
            let _: () = q(c, &["CONFIG", "SET", "taskdb.requeue-interval-ms", "1"]);
            std::thread::sleep(Duration::from_millis(50));
            let _: () = q(c, &["CONFIG", "SET", "taskdb.requeue-interval-ms", "1000"]);
            1
        },
    ));
    out.push(measure(
        server,
        &mut c,
        &format!("UNLINK of a {}-task namespace", big(n + 1)),
        |c| {
            let _: i64 = q(c, &["UNLINK", NS]);
            1
        },
    ));

    // n one-task jobs: CHECK over every page (the namespace-wide pass on the last).
    let st = fresh(&mut c);
    jobs(&mut c, &st, n);
    out.push(measure(
        server,
        &mut c,
        &format!("TASKDB.CHECK over {} one-task jobs, every page", big(n)),
        |c| pages(c, "TASKDB.CHECK"),
    ));

    // CLEAR_COMPLETED of 10,000 done jobs (COUNT 1000 a call, the default).
    let st = fresh(&mut c);
    let count = (n / 10).max(1);
    jobs(&mut c, &st, count);
    let claimed: Vec<Claimed> = q(
        &mut c,
        &[
            "TASKDB.REQUEST_WORK",
            NS,
            "CPU",
            "COUNT",
            &count.min(10_000).to_string(),
        ],
    );
    let mut p = redis::pipe();
    for (j, t, ..) in &claimed {
        p.cmd("TASKDB.DONE")
            .arg(NS)
            .arg(j)
            .arg(t)
            .arg("{}")
            .ignore();
    }
    let _: () = p.query(&mut c).expect("DONE");
    out.push(measure(
        server,
        &mut c,
        &format!(
            "CLEAR_COMPLETED of {} done jobs, every call",
            big(claimed.len())
        ),
        |c| {
            let mut calls = 0;
            loop {
                let n: i64 = q(c, &["TASKDB.CLEAR_COMPLETED", NS]);
                calls += 1;
                if n == 0 {
                    return calls;
                }
            }
        },
    ));
    out
}

/// Growth: the worst single CREATE_TASK while one job grows to `n` tasks (SLOWLOG logs
/// calls of 1 ms or more; none logged reads as below 1 ms).
pub fn growth(server: &Server, n: usize) -> Stall {
    let mut c = server.conn();
    let st = fresh(&mut c);
    let j = job(&mut c, &st);
    let _: () = q(&mut c, &["CONFIG", "SET", "slowlog-max-len", "100000"]);
    let _: () = q(
        &mut c,
        &["CONFIG", "SET", "slowlog-log-slower-than", "1000"],
    );
    let _: () = q(&mut c, &["SLOWLOG", "RESET"]);
    let prober = Prober::start(server);
    let start = Instant::now();
    let def = crate::scale::task_def();
    let mut made = 0;
    while made < n {
        let k = (n - made).min(100_000);
        crate::fill::tasks(&mut c, NS, &j, &st, made..made + k, |_| def.clone(), "[]");
        made += k;
        if made % 1_000_000 == 0 {
            eprintln!(
                "growth: {made} tasks in one job ({:.0} s)",
                start.elapsed().as_secs_f64()
            );
        }
    }
    let ping = prober.finish();
    let _: () = q(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    let log: Vec<redis::Value> = q(&mut c, &["SLOWLOG", "GET", "-1"]);
    let worst_us = log
        .iter()
        .filter_map(|e| match e {
            redis::Value::Array(f) => f
                .get(2)
                .and_then(|v| redis::from_redis_value::<i64>(v).ok()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let s = Stall {
        scenario: format!("CREATE_TASK growing one job to {n} tasks, worst call"),
        calls: n,
        worst_call_ms: worst_us as f64 / 1000.0,
        worst_ping_ms: ping.as_secs_f64() * 1000.0,
    };
    eprintln!(
        "stall: {}: worst call {:.2} ms (0: none of 1 ms or more), worst PING {:.2} ms",
        s.scenario, s.worst_call_ms, s.worst_ping_ms
    );
    let _: () = q(&mut c, &["FLUSHALL"]);
    s
}
