//! TaskDB's benchmark: starts its own redis-server with the module, drives a proving
//! cluster's workload through the TASKDB commands from several connections, measures
//! throughput, client latency, the server's own cost per command, the native-command limit,
//! cost at scale and memory per task, verifies the run, and prints a table and JSON.
//!
//! Run: `scripts/bench.sh` (builds the module in release mode, then runs this).

mod cluster;
mod dag;
mod drain;
mod fill;
mod migrate;
mod persist;
mod scale;
mod server;
mod stall;
mod verify;

use clap::Parser;
use serde::Serialize;
use std::path::PathBuf;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "TaskDB benchmark: a proving cluster's workload against a real redis-server")]
struct Opts {
    /// Users, each with one stream per worker type (AUX, CPU, GPU; reserved 1, be_mult 1).
    #[arg(long, default_value_t = 4)]
    users: usize,
    /// Jobs to submit and drain, one drain set per value.
    #[arg(long, value_delimiter = ',', default_value = "200,2000")]
    jobs: Vec<usize>,
    /// The longest a polling worker that keeps finding nothing sleeps (µs) between
    /// requests: it backs off from 50 µs, doubling, as a polling client should.
    #[arg(long, default_value_t = 5000)]
    poll_backoff_us: u64,
    /// Rounds of each drain and native limit (the table shows medians).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Tasks for the one-connection drain (TaskDB against LPOP + HSET).
    #[arg(long, default_value_t = 20_000)]
    single_tasks: usize,
    /// Tasks for the stall scenarios (0: skip them).
    #[arg(long, default_value_t = 100_000)]
    stall_tasks: usize,
    /// Tasks one job grows to while the worst CREATE_TASK is recorded (0: skip).
    #[arg(long, default_value_t = 1_000_000)]
    growth_tasks: usize,
    /// Tasks in the namespace for the RDB and DUMP figures (0: skip).
    #[arg(long, default_value_t = 1_000_000)]
    rdb_tasks: usize,
    /// Segments per job (GPU tasks; a binary tree of joins follows).
    #[arg(long, default_value_t = 16)]
    segments: usize,
    /// Submitter connections.
    #[arg(long, default_value_t = 4)]
    submitters: usize,
    /// Worker connections per worker type.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Queue sizes for the scale measurement.
    #[arg(long, value_delimiter = ',', default_value = "1000,100000,1000000")]
    queued: Vec<usize>,
    /// Stream counts (one worker type) for the scale measurement.
    #[arg(long, value_delimiter = ',', default_value = "10,1000,10000")]
    streams: Vec<usize>,
    /// Tasks in one job for the scale measurement.
    #[arg(long, value_delimiter = ',', default_value = "16,10000")]
    job_tasks: Vec<usize>,
    /// REQUEST_WORK + DONE pairs per scale point.
    #[arg(long, default_value_t = 5000)]
    cycles: usize,
    /// Skip the scale measurement.
    #[arg(long)]
    no_scale: bool,
    /// Namespace sizes (tasks) whose MIGRATE between two servers is timed.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    migrate_tasks: Vec<usize>,
    /// Only time MIGRATE (the sizes of --migrate-tasks), then stop.
    #[arg(long)]
    migrate_only: bool,
    /// Only compare one node, one node with WAIT, and a 3+3 cluster through the client.
    #[arg(long)]
    cluster_only: bool,
    /// Namespaces for the cluster comparison.
    #[arg(long, default_value_t = 6)]
    cluster_namespaces: usize,
    /// Ready tasks per namespace for the cluster comparison.
    #[arg(long, default_value_t = 3000)]
    cluster_tasks: usize,
    /// Workers per namespace for the cluster comparison.
    #[arg(long, default_value_t = 2)]
    cluster_workers: usize,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "bench-results.json")]
    json: PathBuf,
    /// The module to load (default: the workspace's release build).
    #[arg(long)]
    module: Option<PathBuf>,
}

/// One native-limit measurement.
#[derive(Serialize, Clone)]
struct Limit {
    jobs: usize,
    connections: usize,
    tasks_per_s: f64,
}

/// One drain run.
#[derive(Serialize)]
struct DrainRun {
    jobs: usize,
    mode: String,
    /// Against the native limit of all the workers' connections, measured just before.
    fraction_of_limit: f64,
    /// Against the native limit of as many connections as one worker type has (the GPU
    /// workers run 31 of a job's 34 tasks).
    fraction_of_busy_limit: f64,
    tasks_per_s: f64,
    request_work_p50_us: u64,
    request_work_p99_us: u64,
    done_p50_us: u64,
    done_p99_us: u64,
    empty_requests: u64,
}

/// Everything measured, as written to JSON.
#[derive(Serialize)]
struct Results {
    users: usize,
    jobs: Vec<usize>,
    tasks_per_job: usize,
    submitters: usize,
    workers_per_type: usize,
    poll_backoff_us: u64,
    submit_tasks_per_s: f64,
    drains: Vec<DrainRun>,
    native_limits: Vec<Limit>,
    single_connection_tasks_per_s: f64,
    single_connection_native_tasks_per_s: f64,
    single_connection_fraction: f64,
    wake_latency_p50_us: u64,
    wake_latency_p99_us: u64,
    idle_request_work_calls_per_s_blocking: u64,
    idle_request_work_calls_per_s_polling: u64,
    server_us_per_call: std::collections::BTreeMap<String, f64>,
    task_life_server_us: f64,
    scale: Vec<scale::Point>,
    stalls: Vec<stall::Stall>,
    persistence: Option<persist::Persist>,
    verified: bool,
}

fn main() {
    let o = Opts::parse();
    let module = o.module.clone().unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/release/libtaskdb.so"
        ))
    });
    if !module.exists() {
        eprintln!(
            "module not found at {}: run `cargo build --release` first (scripts/bench.sh does)",
            module.display()
        );
        std::process::exit(2);
    }
    if o.cluster_only {
        std::env::set_var("TASKDB_MODULE", &module);
        let points = cluster::run(o.cluster_namespaces, o.cluster_tasks, o.cluster_workers);
        let base = points[0].tasks_per_s;
        println!("| setup | tasks/s | against one node |");
        println!("|---|---|---|");
        for p in &points {
            println!(
                "| {} | {:.0} | {:.2}x |",
                p.setup,
                p.tasks_per_s,
                p.tasks_per_s / base
            );
        }
        return;
    }
    if o.migrate_only {
        println!("| tasks in the namespace | MIGRATE (source blocked) | RESTORE (target blocked) | payload |");
        println!("|---|---|---|---|");
        for m in migrate::run(&module, &o.migrate_tasks) {
            println!(
                "| {} | {:.1} ms | {:.1} ms | {:.1} MB |",
                m.tasks,
                m.migrate_ms,
                m.restore_ms,
                m.bytes as f64 / 1e6
            );
        }
        return;
    }
    let srv = match server::Server::start(&module) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut c = srv.conn();
    let dag = dag::proving_job(o.segments);
    println!(
        "TaskDB benchmark: {} users, {:?} jobs x {} tasks, {} submitters, {} workers per type",
        o.users,
        o.jobs,
        dag.len(),
        o.submitters,
        o.workers
    );

    let modes = [
        (
            "polling",
            drain::Mode {
                block_ms: None,
                count: 1,
                backoff_us: o.poll_backoff_us,
                overlap: false,
            },
        ),
        (
            "blocking",
            drain::Mode {
                block_ms: Some(100),
                count: 1,
                backoff_us: 0,
                overlap: false,
            },
        ),
        (
            "blocking, COUNT 8, pipelined DONE",
            drain::Mode {
                block_ms: Some(100),
                count: 8,
                backoff_us: 0,
                overlap: false,
            },
        ),
        (
            "blocking, submission overlapping (each job done after init, then reopened)",
            drain::Mode {
                block_ms: Some(100),
                count: 1,
                backoff_us: 0,
                overlap: true,
            },
        ),
    ];
    let mut runs = Vec::new();
    let mut limits = Vec::new();
    let mut problems = Vec::new();
    let mut submit_rate = 0.0;
    let mut per_call = std::collections::BTreeMap::new();
    for &jobs in &o.jobs {
        let tasks = jobs * dag.len();
        // Each repetition measures the native limit right before its drains, so a ratio
        // compares figures taken under the same load of this shared machine; the table
        // shows the medians.
        for rep in 0..o.repeat {
            eprintln!(
                "{jobs} jobs, round {}: the native-command limit...",
                rep + 1
            );
            let limit = drain::native_limit(&srv, o.workers * drain::TYPES.len(), tasks);
            let busy = drain::native_limit(&srv, o.workers, tasks);
            limits.push(Limit {
                jobs,
                connections: o.workers * drain::TYPES.len(),
                tasks_per_s: limit,
            });
            limits.push(Limit {
                jobs,
                connections: o.workers,
                tasks_per_s: busy,
            });
            for (name, mode) in modes {
                let _: () = redis::cmd("FLUSHALL").query(&mut c).expect("FLUSHALL");
                server::reset_stats(&mut c);
                let streams = drain::create_streams(&mut c, o.users);
                eprintln!("{jobs} jobs, round {}, {name}: submitting...", rep + 1);
                let (sub, d) = if mode.overlap {
                    // Workers drain while the submitters plan: both at once.
                    let total = jobs * dag.len();
                    let (srv2, streams2, dag2, subs) =
                        (&srv, streams.clone(), dag.clone(), o.submitters);
                    std::thread::scope(|scope| {
                        let h = scope
                            .spawn(move || drain::submit(srv2, &streams2, jobs, &dag2, subs, true));
                        let d = drain::drain(&srv, o.workers, total, mode);
                        (h.join().expect("submitters"), d)
                    })
                } else {
                    let sub = drain::submit(&srv, &streams, jobs, &dag, o.submitters, false);
                    if mode.block_ms.is_none() && submit_rate == 0.0 {
                        submit_rate = sub.tasks as f64 / sub.elapsed.as_secs_f64();
                    }
                    eprintln!("{jobs} jobs, round {}, {name}: draining...", rep + 1);
                    let d = drain::drain(&srv, o.workers, sub.tasks, mode);
                    (sub, d)
                };
                if mode.block_ms.is_some() && mode.count == 1 && per_call.is_empty() {
                    per_call = server::commandstats(&mut c)
                        .iter()
                        .filter(|(k, _)| k.starts_with("taskdb."))
                        .map(|(k, (calls, usec))| {
                            (k.to_uppercase(), *usec as f64 / (*calls).max(1) as f64)
                        })
                        .collect();
                }
                problems.extend(verify::verify(&mut c, &sub.jobs, &dag, &d));
                let rate = sub.tasks as f64 / d.elapsed.as_secs_f64();
                runs.push(DrainRun {
                    jobs,
                    mode: name.to_string(),
                    fraction_of_limit: rate / limit,
                    fraction_of_busy_limit: rate / busy,
                    tasks_per_s: rate,
                    request_work_p50_us: d.request_us.value_at_quantile(0.5),
                    request_work_p99_us: d.request_us.value_at_quantile(0.99),
                    done_p50_us: d.done_us.value_at_quantile(0.5),
                    done_p99_us: d.done_us.value_at_quantile(0.99),
                    empty_requests: d.empty_polls,
                });
            }
        }
    }
    eprintln!("one connection: TaskDB against LPOP + HSET...");
    let (single, single_native, single_ratio) =
        drain::single(&srv, o.single_tasks, o.repeat.max(3) + 2);
    eprintln!("measuring wake-up latency and idle traffic...");
    let _: () = redis::cmd("FLUSHALL").query(&mut c).expect("FLUSHALL");
    let wake_stream: String = redis::cmd("TASKDB.CREATE_STREAM")
        .arg(drain::NS)
        .arg("WAKE")
        .arg(1)
        .arg(1)
        .arg("wake")
        .query(&mut c)
        .expect("stream");
    let wake = drain::wake_latency(&srv, &wake_stream, 300);
    let idle = std::time::Duration::from_secs(1);
    let idlers = o.workers * drain::TYPES.len();
    let idle_blocking = drain::idle_calls(&srv, idlers, idle, true, 0);
    let idle_polling = drain::idle_calls(&srv, idlers, idle, false, o.poll_backoff_us);

    let mut points = Vec::new();
    if !o.no_scale {
        for &n in &o.queued {
            eprintln!("scale: {n} queued tasks...");
            points.push(scale::point(
                &mut c,
                "queued_tasks",
                n,
                1,
                n,
                1000,
                o.cycles,
            ));
        }
        for &s in &o.streams {
            eprintln!("scale: {s} streams...");
            let per = (o.cycles / s + 2).max(2);
            points.push(scale::point(&mut c, "streams", s, s, per, per, o.cycles));
        }
        for &t in &o.job_tasks {
            eprintln!("scale: {t} tasks in one job...");
            points.push(scale::point(
                &mut c,
                "tasks_in_one_job",
                t,
                1,
                t,
                t,
                o.cycles,
            ));
        }
    }

    let mut stalls = Vec::new();
    if o.stall_tasks > 0 {
        stalls = stall::run(&srv, o.stall_tasks);
    }
    if o.growth_tasks > 0 {
        stalls.push(stall::growth(&srv, o.growth_tasks));
    }
    let persistence = (o.rdb_tasks > 0).then(|| persist::run(&srv, o.rdb_tasks));

    let us = |name: &str| per_call.get(name).copied().unwrap_or(0.0);
    let quiet_life = points
        .iter()
        .find(|p| p.axis == "queued_tasks")
        .map(|p| p.create_task_us + p.request_work_us + p.done_us);
    let life = quiet_life
        .unwrap_or(us("TASKDB.CREATE_TASK") + us("TASKDB.REQUEST_WORK") + us("TASKDB.DONE"));
    let r = Results {
        users: o.users,
        jobs: o.jobs.clone(),
        tasks_per_job: dag.len(),
        submitters: o.submitters,
        workers_per_type: o.workers,
        poll_backoff_us: o.poll_backoff_us,
        submit_tasks_per_s: submit_rate,
        drains: runs,
        native_limits: limits.clone(),
        single_connection_tasks_per_s: single,
        single_connection_native_tasks_per_s: single_native,
        single_connection_fraction: single_ratio,
        wake_latency_p50_us: wake.value_at_quantile(0.5),
        wake_latency_p99_us: wake.value_at_quantile(0.99),
        idle_request_work_calls_per_s_blocking: idle_blocking,
        idle_request_work_calls_per_s_polling: idle_polling,
        server_us_per_call: per_call.clone(),
        task_life_server_us: life,
        scale: points.clone(),
        stalls: stalls.clone(),
        persistence: persistence.clone(),
        verified: problems.is_empty(),
    };

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| submit | {submit_rate:.0} tasks/s |");
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    for &jobs in &o.jobs {
        for conns in [o.workers * drain::TYPES.len(), o.workers] {
            let v = limits
                .iter()
                .filter(|l| l.jobs == jobs && l.connections == conns)
                .map(|l| l.tasks_per_s)
                .collect();
            println!(
                "| native limit, {jobs} jobs' tasks (LPOP + HSET per task, {conns} connections), median of {} | {:.0} tasks/s |",
                o.repeat,
                median(v)
            );
        }
        for (name, _) in modes {
            let of = |f: fn(&DrainRun) -> f64| {
                median(
                    r.drains
                        .iter()
                        .filter(|d| d.jobs == jobs && d.mode == name)
                        .map(f)
                        .collect(),
                )
            };
            println!(
                "| drain, {jobs} jobs, {name}, median of {} | {:.0} tasks/s = {:.2}x the {}-connection limit ({:.2}x the {}-connection one); REQUEST_WORK p50 {:.0} µs p99 {:.0} µs; {:.0} empty requests |",
                o.repeat,
                of(|d| d.tasks_per_s),
                of(|d| d.fraction_of_limit),
                o.workers * drain::TYPES.len(),
                of(|d| d.fraction_of_busy_limit),
                o.workers,
                of(|d| d.request_work_p50_us as f64),
                of(|d| d.request_work_p99_us as f64),
                of(|d| d.empty_requests as f64),
            );
        }
    }
    println!(
        "| one connection, unpipelined REQUEST_WORK + DONE | {single:.0} tasks/s against LPOP + HSET {single_native:.0} tasks/s: median ratio {single_ratio:.2}x |"
    );
    println!(
        "| ready -> blocked worker holds it (incl. CREATE_JOB round trip) | p50 {} µs, p99 {} µs |",
        r.wake_latency_p50_us, r.wake_latency_p99_us
    );
    println!(
        "| REQUEST_WORK calls in 1 s from {idlers} idle workers | blocking {idle_blocking}, polling every {} µs {idle_polling} |",
        o.poll_backoff_us
    );
    for (k, v) in &per_call {
        println!("| server µs per call (blocking drain), {k} | {v:.2} |");
    }
    let drain_life = us("TASKDB.CREATE_TASK") + us("TASKDB.REQUEST_WORK") + us("TASKDB.DONE");
    println!("| server µs per task life, blocking drain (12 workers sharing 2 cores with the server) | {drain_life:.2} |");
    println!(
        "| server µs per task life, one connection, 1,000 queued (first scale point) | {life:.2} |"
    );
    if let Some(p) = &persistence {
        println!(
            "| RDB, one namespace of {} tasks | SAVE {:.0} tasks/s, load {:.0} tasks/s, {:.0} bytes/task on disk |",
            p.tasks, p.save_tasks_per_s, p.load_tasks_per_s, p.rdb_bytes_per_task
        );
        println!(
            "| DUMP / MIGRATE size | {:.0} bytes/task: proto-max-bulk-len {} allows {} such tasks per namespace |",
            p.dump_bytes_per_task, p.proto_max_bulk_len, p.max_migratable_tasks
        );
    }
    if !stalls.is_empty() {
        println!();
        println!("| stall scenario | calls | worst call (server) | worst PING of another client |");
        println!("|---|---|---|---|");
        for s in &stalls {
            println!(
                "| {} | {} | {:.2} ms | {:.2} ms |",
                s.scenario, s.calls, s.worst_call_ms, s.worst_ping_ms
            );
        }
    }
    if !points.is_empty() {
        println!();
        println!("| scale axis | size | REQUEST_WORK µs | DONE µs | CREATE_TASK µs | bytes/task |");
        println!("|---|---|---|---|---|---|");
        for p in &points {
            println!(
                "| {} | {} | {:.2} | {:.2} | {:.2} | {} |",
                p.axis,
                p.size,
                p.request_work_us,
                p.done_us,
                p.create_task_us,
                // A handful of tasks is below used_memory's noise (freed buffers).
                if p.size >= 1000 || p.axis == "streams" {
                    format!("{:.0}", p.bytes_per_task)
                } else {
                    "n/a".to_string()
                }
            );
        }
    }
    println!();
    if problems.is_empty() {
        println!("verified: every job done, every task handed out exactly once, none before its prerequisites (every drain)");
    } else {
        println!("VERIFICATION FAILED ({} problems):", problems.len());
        for p in problems.iter().take(20) {
            println!("  {p}");
        }
    }
    match serde_json::to_string_pretty(&r) {
        Ok(s) => {
            if let Err(e) = std::fs::write(&o.json, s) {
                eprintln!("cannot write {}: {e}", o.json.display());
            } else {
                println!("figures written to {}", o.json.display());
            }
        }
        Err(e) => eprintln!("{e}"),
    }
    if !problems.is_empty() {
        std::process::exit(1);
    }
}
