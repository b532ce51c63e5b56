//! The cluster workload: submitters create every job's DAG, then workers of each type loop
//! on REQUEST_WORK and DONE until every job is done. Also the native-command limit: the same
//! worker connections doing one LPOP and one HSET per task.

use crate::dag::TaskSpec;
use crate::server::Server;
use hdrhistogram::Histogram;
use redis::Connection;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The namespace the cluster workload runs in.
pub const NS: &str = "bench";
/// The worker types.
pub const TYPES: [&str; 3] = ["AUX", "CPU", "GPU"];

/// What the submit phase made.
pub struct Submitted {
    /// Job ids, in creation order.
    pub jobs: Vec<String>,
    /// Tasks created.
    pub tasks: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// One claim seen by a worker.
pub struct Claim {
    /// Job id.
    pub job: String,
    /// Task id.
    pub task: String,
    /// Logical time when the reply arrived.
    pub recv_seq: u64,
}

/// One DONE sent by a worker.
pub struct Done {
    /// Job id.
    pub job: String,
    /// Task id.
    pub task: String,
    /// Logical time just before it was sent.
    pub send_seq: u64,
}

/// What the drain phase saw.
pub struct Drained {
    /// Every claim.
    pub claims: Vec<Claim>,
    /// Every DONE.
    pub dones: Vec<Done>,
    /// REQUEST_WORK latency (µs), successful claims only.
    pub request_us: Histogram<u64>,
    /// DONE latency (µs).
    pub done_us: Histogram<u64>,
    /// REQUEST_WORK calls that found nothing.
    pub empty_polls: u64,
    /// Wall time.
    pub elapsed: Duration,
}

fn cmd(c: &mut Connection, args: &[&str]) -> redis::Value {
    crate::fill::q(c, args)
}

/// Creates one stream per user and worker type; their ids by (user, type index).
pub fn create_streams(c: &mut Connection, users: usize) -> Vec<[String; 3]> {
    (0..users)
        .map(|u| {
            TYPES.map(|wt| {
                let v = cmd(
                    c,
                    &[
                        "TASKDB.CREATE_STREAM",
                        NS,
                        wt,
                        "1",
                        "1",
                        &format!("user{u}"),
                    ],
                );
                redis::from_redis_value(&v).expect("stream id")
            })
        })
        .collect()
}

/// Submit phase: `submitters` connections create `jobs` jobs with their whole DAG. With
/// `overlap`, as a planner reacting to results while workers drain: each submitter
/// creates its jobs, then adds a job's other tasks once its `init` is done (so the job
/// was done and reopens).
pub fn submit(
    server: &Server,
    streams: &[[String; 3]],
    jobs: usize,
    dag: &[TaskSpec],
    submitters: usize,
    overlap: bool,
) -> Submitted {
    let start = Instant::now();
    let handles: Vec<_> = (0..submitters)
        .map(|s| {
            let mut c = server.conn();
            let streams = streams.to_vec();
            let dag = dag.to_vec();
            std::thread::spawn(move || {
                let mut made = Vec::new();
                let idx = |wt: &str| TYPES.iter().position(|t| *t == wt).unwrap_or(0);
                let def = format!("\"{}\"", "x".repeat(98));
                for j in (s..jobs).step_by(submitters) {
                    let user = j % streams.len();
                    let st = &streams[user];
                    let v = cmd(
                        &mut c,
                        &[
                            "TASKDB.CREATE_JOB",
                            NS,
                            &st[idx(dag[0].worker_type)],
                            &def,
                            "0",
                            "3600",
                            &format!("user{user}"),
                        ],
                    );
                    let job: String = redis::from_redis_value(&v).expect("job id");
                    if !overlap {
                        rest(&mut c, &job, st, &dag, &def);
                    }
                    made.push((j, job));
                }
                if overlap {
                    for (j, job) in &made {
                        let user = format!("user{}", j % streams.len());
                        while redis::from_redis_value::<String>(&cmd(
                            &mut c,
                            &["TASKDB.JOB_STATE", NS, job, &user],
                        ))
                        .expect("job state")
                            != "done"
                        {
                            std::thread::sleep(Duration::from_micros(200));
                        }
                        rest(&mut c, job, &streams[j % streams.len()], &dag, &def);
                    }
                }
                made
            })
        })
        .collect();
    let mut all: Vec<(usize, String)> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("submitter"))
        .collect();
    all.sort();
    Submitted {
        jobs: all.into_iter().map(|(_, j)| j).collect(),
        tasks: jobs * dag.len(),
        elapsed: start.elapsed(),
    }
}

/// Creates the tasks of `dag` after its init task in `job`.
fn rest(c: &mut Connection, job: &str, streams: &[String; 3], dag: &[TaskSpec], def: &str) {
    let idx = |wt: &str| TYPES.iter().position(|t| *t == wt).unwrap_or(0);
    for t in &dag[1..] {
        let p = serde_json::to_string(&t.prereqs).unwrap_or_default();
        cmd(
            c,
            &[
                "TASKDB.CREATE_TASK",
                NS,
                job,
                &t.id,
                &streams[idx(t.worker_type)],
                def,
                &p,
                "0",
                "3600",
            ],
        );
    }
}

/// How workers claim during the drain.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// Wait inside Redis for work (BLOCK ms) instead of polling.
    pub block_ms: Option<u64>,
    /// Tasks claimed per REQUEST_WORK (COUNT); their DONEs are sent in one pipeline.
    pub count: usize,
    /// The longest a polling worker that keeps finding nothing sleeps between requests
    /// (it backs off from 50 µs, doubling).
    pub backoff_us: u64,
    /// Submission overlaps the drain: each job's tasks after `init` arrive once `init`
    /// is done (every job is done, then reopened).
    pub overlap: bool,
}

type Claimed = (String, String, redis::Value, redis::Value, i64, i64);

fn request(c: &mut Connection, wt: &str, mode: Mode) -> Vec<Claimed> {
    let mut cmd = redis::cmd("TASKDB.REQUEST_WORK");
    cmd.arg(NS).arg(wt);
    if let Some(ms) = mode.block_ms {
        cmd.arg("BLOCK").arg(ms);
    }
    if mode.count > 1 {
        cmd.arg("COUNT").arg(mode.count);
        let v: Option<Vec<Claimed>> = cmd.query(c).expect("REQUEST_WORK");
        v.unwrap_or_default()
    } else {
        let v: Option<Claimed> = cmd.query(c).expect("REQUEST_WORK");
        v.into_iter().collect()
    }
}

/// Drain phase: `workers` per worker type claim and complete until `total` tasks are done.
pub fn drain(server: &Server, workers: usize, total: usize, mode: Mode) -> Drained {
    let clock = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let end_ns = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = TYPES
        .iter()
        .flat_map(|wt| std::iter::repeat_n(*wt, workers))
        .map(|wt| {
            let mut c = server.conn();
            let (clock, finished, end_ns) = (clock.clone(), finished.clone(), end_ns.clone());
            std::thread::spawn(move || {
                let mut claims = Vec::new();
                let mut dones = Vec::new();
                let mut req = Histogram::<u64>::new(3).expect("histogram");
                let mut don = Histogram::<u64>::new(3).expect("histogram");
                let mut empty = 0;
                let mut backoff = 0;
                while finished.load(Ordering::SeqCst) < total {
                    let t0 = Instant::now();
                    let got = request(&mut c, wt, mode);
                    if got.is_empty() {
                        empty += 1;
                        if mode.block_ms.is_none() {
                            // A polling worker backs off, doubling from 50 µs up to the
                            // mode's limit while it keeps finding nothing (blocking
                            // workers wait inside Redis instead).
                            backoff = (backoff * 2).clamp(50, mode.backoff_us.max(50));
                            std::thread::sleep(Duration::from_micros(backoff));
                        }
                        continue;
                    }
                    backoff = 0;
                    let _ = req.record(t0.elapsed().as_micros() as u64);
                    let recv_seq = clock.fetch_add(1, Ordering::SeqCst);
                    let send_seq = clock.fetch_add(1, Ordering::SeqCst);
                    let t1 = Instant::now();
                    let mut p = redis::pipe();
                    for (job, task, _, _, _, _) in &got {
                        p.cmd("TASKDB.DONE").arg(NS).arg(job).arg(task).arg("{}");
                    }
                    let oks: Vec<i64> = p.query(&mut c).expect("DONE");
                    let _ = don.record(t1.elapsed().as_micros() as u64);
                    assert!(oks.iter().all(|&ok| ok == 1), "DONE of a claimed task");
                    let n = got.len();
                    if finished.fetch_add(n, Ordering::SeqCst) + n >= total {
                        end_ns.store(start.elapsed().as_nanos() as u64, Ordering::SeqCst);
                    }
                    for (job, task, _, _, _, _) in got {
                        claims.push(Claim {
                            job: job.clone(),
                            task: task.clone(),
                            recv_seq,
                        });
                        dones.push(Done {
                            job,
                            task,
                            send_seq,
                        });
                    }
                }
                (claims, dones, req, don, empty)
            })
        })
        .collect();
    let mut out = Drained {
        claims: Vec::new(),
        dones: Vec::new(),
        request_us: Histogram::new(3).expect("histogram"),
        done_us: Histogram::new(3).expect("histogram"),
        empty_polls: 0,
        elapsed: Duration::ZERO,
    };
    for h in handles {
        let (c, d, r, n, e) = h.join().expect("worker");
        out.claims.extend(c);
        out.dones.extend(d);
        let _ = out.request_us.add(r);
        let _ = out.done_us.add(n);
        out.empty_polls += e;
    }
    out.elapsed = Duration::from_nanos(end_ns.load(Ordering::SeqCst));
    out
}

/// Wake-up latency: one worker waits in REQUEST_WORK BLOCK 0 while the main connection
/// creates a job; the time from sending CREATE_JOB to the worker holding the task (an
/// upper bound of ready-to-claimed, including the CREATE_JOB round trip), `rounds` times.
pub fn wake_latency(server: &Server, stream: &str, rounds: usize) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    let mut main = server.conn();
    let mut admin = server.conn();
    for _ in 0..rounds {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut c = server.conn();
        let worker = std::thread::spawn(move || {
            let _: Option<Claimed> = redis::cmd("TASKDB.REQUEST_WORK")
                .arg(NS)
                .arg("WAKE")
                .arg("BLOCK")
                .arg(0)
                .query(&mut c)
                .expect("REQUEST_WORK BLOCK");
            let _ = tx.send(Instant::now());
        });
        // Wait (with a deadline) until the worker is parked in the server.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info: String = redis::cmd("INFO")
                .arg("clients")
                .query(&mut admin)
                .unwrap_or_default();
            if info.contains("blocked_clients:1") || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let t0 = Instant::now();
        let _: String = redis::cmd("TASKDB.CREATE_JOB")
            .arg(NS)
            .arg(stream)
            .arg("{}")
            .arg(0)
            .arg(60)
            .arg("wake")
            .query(&mut main)
            .expect("CREATE_JOB");
        if let Ok(t1) = rx.recv_timeout(Duration::from_secs(10)) {
            let _ = h.record(t1.duration_since(t0).as_micros() as u64);
        }
        let _ = worker.join();
    }
    h
}

/// Polling traffic of idle workers: REQUEST_WORK calls the server receives in `idle` from
/// `workers` workers with nothing to do, blocking (`block`) or polling (sleeping `backoff_us` between calls).
pub fn idle_calls(
    server: &Server,
    workers: usize,
    idle: Duration,
    block: bool,
    backoff_us: u64,
) -> u64 {
    let mut admin = server.conn();
    crate::server::reset_stats(&mut admin);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let mut c = server.conn();
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let mut cmd = redis::cmd("TASKDB.REQUEST_WORK");
                    cmd.arg(NS).arg("IDLE");
                    if block {
                        cmd.arg("BLOCK").arg(idle.as_millis() as u64);
                    }
                    let _: Option<Claimed> = cmd.query(&mut c).expect("REQUEST_WORK");
                    if !block {
                        std::thread::sleep(Duration::from_micros(backoff_us));
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(idle);
    let calls = crate::server::commandstats(&mut admin)
        .get("taskdb.request_work")
        .map_or(0, |(calls, _)| *calls);
    stop.store(true, Ordering::SeqCst);
    for h in handles {
        let _ = h.join();
    }
    calls
}

/// The native-command limit: the same number of worker connections each doing one LPOP
/// and one HSET per task, unpipelined, over `total` tasks. Tasks per second.
pub fn native_limit(server: &Server, connections: usize, total: usize) -> f64 {
    let mut c = server.conn();
    let key = "native:queue";
    for chunk in (0..total).collect::<Vec<_>>().chunks(10_000) {
        let mut p = redis::pipe();
        for i in chunk {
            p.cmd("RPUSH").arg(key).arg(format!("task-{i}")).ignore();
        }
        let _: () = p.query(&mut c).expect("prefill");
    }
    let start = Instant::now();
    let handles: Vec<_> = (0..connections)
        .map(|_| {
            let mut c = server.conn();
            std::thread::spawn(move || {
                while let Some(t) = redis::cmd("LPOP")
                    .arg(key)
                    .query::<Option<String>>(&mut c)
                    .expect("LPOP")
                {
                    let _: i64 = redis::cmd("HSET")
                        .arg("native:done")
                        .arg(&t)
                        .arg("1")
                        .query(&mut c)
                        .expect("HSET");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("native worker");
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    let _: () = redis::cmd("DEL")
        .arg(key)
        .arg("native:done")
        .query(&mut c)
        .expect("DEL");
    rate
}

/// One connection, unpipelined: `n` ready tasks (100-byte definitions) claimed and
/// finished one REQUEST_WORK + DONE at a time, against the same connection doing RPUSH'd
/// LPOP + HSET per task, alternated `rounds` times. The medians: TaskDB tasks/s, native
/// tasks/s, and the ratio of each round's pair.
pub fn single(server: &Server, n: usize, rounds: usize) -> (f64, f64, f64) {
    let mut c = server.conn();
    let def = crate::scale::task_def();
    let mut ours = Vec::new();
    let mut native = Vec::new();
    for _ in 0..rounds {
        let _: () = redis::cmd("FLUSHALL").query(&mut c).expect("FLUSHALL");
        let st: String = redis::from_redis_value(&cmd(
            &mut c,
            &["TASKDB.CREATE_STREAM", "one", "CPU", "1", "1", "u"],
        ))
        .expect("stream");
        let job: String = redis::from_redis_value(&cmd(
            &mut c,
            &["TASKDB.CREATE_JOB", "one", &st, "{}", "0", "3600", "u"],
        ))
        .expect("job");
        // The init task stays claimed, so the job stays open.
        let _ = cmd(&mut c, &["TASKDB.REQUEST_WORK", "one", "CPU"]);
        crate::fill::tasks(&mut c, "one", &job, &st, 0..n, |_| def.clone(), "[]");
        let start = Instant::now();
        for _ in 0..n {
            let (j, t, _, _, _, _): Claimed = redis::cmd("TASKDB.REQUEST_WORK")
                .arg("one")
                .arg("CPU")
                .query(&mut c)
                .expect("REQUEST_WORK");
            let _: i64 = redis::cmd("TASKDB.DONE")
                .arg("one")
                .arg(&j)
                .arg(&t)
                .arg("{}")
                .query(&mut c)
                .expect("DONE");
        }
        ours.push(n as f64 / start.elapsed().as_secs_f64());

        for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
            let mut p = redis::pipe();
            for i in chunk {
                p.cmd("RPUSH")
                    .arg("native:one")
                    .arg(format!("task-{i}"))
                    .ignore();
            }
            let _: () = p.query(&mut c).expect("prefill");
        }
        let start = Instant::now();
        while let Some(t) = redis::cmd("LPOP")
            .arg("native:one")
            .query::<Option<String>>(&mut c)
            .expect("LPOP")
        {
            let _: i64 = redis::cmd("HSET")
                .arg("native:one:done")
                .arg(&t)
                .arg("{}")
                .query(&mut c)
                .expect("HSET");
        }
        native.push(n as f64 / start.elapsed().as_secs_f64());
    }
    let ratios = ours.iter().zip(&native).map(|(a, b)| a / b).collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(ours), median(native), median(ratios))
}
