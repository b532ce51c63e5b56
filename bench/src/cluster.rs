//! Throughput through the Rust client: the same drain (workers claiming and finishing
//! ready tasks in several namespaces) on one node, on one node with every write WAITed for
//! a replica (`with_wait(1, …)`), and on a 3 primaries + 3 replicas Redis Cluster on this
//! same machine. Ratios, not absolutes: every node shares the machine's cores.

use serde::Serialize;
use std::time::{Duration, Instant};
use taskdb_redis::RedisTaskDB;

/// One configuration's figure.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// What ran.
    pub setup: String,
    /// Tasks drained.
    pub tasks: usize,
    /// Tasks per second (claim + DONE).
    pub tasks_per_s: f64,
}

/// Namespace names whose slots fall to each of a fresh 3-primary cluster's thirds (what
/// `redis-cli --cluster create` gives each primary), `n` in all.
fn spread(n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < n {
        let ns = format!("bench-{i}");
        let third = redis::cluster_routing::get_slot(ns.as_bytes()) as usize * 3 / 16384;
        if third == out.len() % 3 {
            out.push(ns);
        }
        i += 1;
    }
    out
}

async fn drain(url: &str, wait: bool, namespaces: &[String], per_ns: usize, workers: usize) -> f64 {
    let mut dbs = Vec::new();
    for ns in namespaces {
        let mut db = RedisTaskDB::with_namespace(url, ns).await.expect("connect");
        if wait {
            db = db.with_wait(1, Duration::from_secs(5));
        }
        let st = db.create_stream("gpu", 1, 1.0, "u").await.unwrap();
        let job = db
            .create_job(&st, &serde_json::json!({}), 0, 3600, "u")
            .await
            .unwrap();
        for t in 1..per_ns {
            db.create_task(
                &job,
                &format!("t{t}"),
                &st,
                &serde_json::json!({"t": t}),
                &serde_json::json!([]),
                0,
                3600,
            )
            .await
            .unwrap();
        }
        dbs.push(db);
    }
    let start = Instant::now();
    let mut handles = Vec::new();
    for db in &dbs {
        for _ in 0..workers {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                let mut n = 0usize;
                while let Some(t) = db.request_work("gpu").await.unwrap() {
                    assert!(db
                        .update_task_done(&t.job_id, &t.task_id, serde_json::json!(1))
                        .await
                        .unwrap());
                    n += 1;
                }
                n
            }));
        }
    }
    let mut done = 0;
    for h in handles {
        done += h.await.unwrap();
    }
    assert_eq!(done, namespaces.len() * per_ns);
    done as f64 / start.elapsed().as_secs_f64()
}

/// Runs the three setups: `namespaces` namespaces of `per_ns` ready tasks, `workers`
/// workers each.
pub fn run(namespaces: usize, per_ns: usize, workers: usize) -> Vec<Point> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let names = spread(namespaces);
    let tasks = namespaces * per_ns;
    let mut out = Vec::new();
    let mut point = |setup: &str, tasks_per_s: f64| {
        eprintln!("cluster bench: {setup}: {tasks_per_s:.0} tasks/s");
        out.push(Point {
            setup: setup.into(),
            tasks,
            tasks_per_s,
        });
    };
    {
        let s = taskdb_testkit::Server::start();
        point(
            "one node",
            rt.block_on(drain(&s.url(), false, &names, per_ns, workers)),
        );
    }
    {
        let s = taskdb_testkit::Server::with_args(&[
            "--save",
            "",
            "--appendonly",
            "no",
            "--repl-diskless-sync-delay",
            "0",
        ]);
        let _replica = taskdb_testkit::Server::replica_of(&s, &[]);
        point(
            "one node, every write WAITed for its replica",
            rt.block_on(drain(&s.url(), true, &names, per_ns, workers)),
        );
    }
    {
        let cl = taskdb_testkit::Cluster::start();
        let url = cl.cluster_url();
        point(
            "3+3 cluster, the namespaces spread over the primaries",
            rt.block_on(drain(&url, false, &names, per_ns, workers)),
        );
    }
    out
}
