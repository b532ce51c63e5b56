//! A sharded TaskDB (`RedisTaskDB::create_sharded`) on a real redis-server with the
//! module: the shard count recorded and read back, jobs spread by id with every call
//! routed to the job's shard, streams on every shard (copied back where one is missing),
//! counts summed, blocked workers waiting on every shard with a losing claim given back
//! without a retry, clearing, and the fair share across 16 shards measured against one
//! namespace. `cluster.rs` runs a sharded TaskDB on a 3+3 cluster.

use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use taskdb_redis::{shard_name, FullTaskState, JobState, RedisTaskDB, TaskDbErr};
use taskdb_testkit::{wait_for, Server};
use uuid::Uuid;

fn q<T: redis::FromRedisValue>(s: &Server, args: &[&str]) -> T {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(&mut s.conn()).unwrap()
}

/// Field/value pairs of a record reply.
fn record(v: &redis::Value) -> HashMap<String, String> {
    let items: Vec<String> = redis::from_redis_value(v).unwrap();
    items
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

/// A shard's task count in one state, summed over worker types (STATS).
fn tasks_in(s: &Server, ns: &str, state: &str) -> i64 {
    let v: Vec<redis::Value> = q(s, &["TASKDB.STATS", ns]);
    let flat: Vec<redis::Value> = redis::from_redis_value(&v[1]).unwrap();
    flat.chunks(2)
        .map(|p| {
            let counts: Vec<(String, i64)> = redis::from_redis_value(&p[1]).unwrap();
            counts
                .iter()
                .filter(|(k, _)| k == state)
                .map(|(_, n)| n)
                .sum::<i64>()
        })
        .sum()
}

#[tokio::test]
async fn a_sharded_taskdb_is_recorded_once_and_opened_by_its_name() {
    let s = Server::start();
    let url = s.url();
    let db = RedisTaskDB::create_sharded(&url, "p", 4).await.unwrap();
    assert_eq!(db.shard_count(), Some(4));
    assert_eq!(db.namespaces(), &["p{0}", "p{1}", "p{2}", "p{3}"]);
    // Any handle on the name finds the shards; creating it again with the same count
    // opens it, with another count is refused.
    let opened = RedisTaskDB::with_namespace(&url, "p").await.unwrap();
    assert_eq!(opened.shard_count(), Some(4));
    assert!(RedisTaskDB::create_sharded(&url, "p", 4).await.is_ok());
    let err = |r: Result<RedisTaskDB, TaskDbErr>| match r {
        Err(TaskDbErr::InternalErr(m)) => m,
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("accepted"),
    };
    assert_eq!(
        err(RedisTaskDB::create_sharded(&url, "p", 8).await),
        "the sharded TaskDB 'p' has 4 shards, not 8"
    );
    assert_eq!(
        err(RedisTaskDB::create_sharded(&url, "p", 0).await),
        "invalid shards '0': must be an integer from 1 to 1024"
    );
    assert!(err(RedisTaskDB::create_sharded(&url, "a{b}", 2).await).contains("hash tags"));
    // A name already used by a namespace of its own is not taken over.
    let plain = RedisTaskDB::with_namespace(&url, "plain").await.unwrap();
    plain.create_stream("cpu", 1, 1.0, "u").await.unwrap();
    assert!(err(RedisTaskDB::create_sharded(&url, "plain", 2).await).contains("exists"));
    assert_eq!(plain.shard_count(), None);
    assert_eq!(plain.namespaces(), &["plain"]);
}

#[tokio::test]
async fn jobs_spread_by_id_every_call_routes_and_counts_are_summed() {
    let s = Server::start();
    let db = RedisTaskDB::create_sharded(&s.url(), "t", 8).await.unwrap();
    let st = db.get_or_create_stream("cpu", 1, 1.0, "u").await.unwrap();
    assert_eq!(db.get_stream("u", "cpu").await.unwrap(), Some(st));
    // The stream is on every shard with its id and settings.
    for ns in db.namespaces() {
        let r = record(&q::<redis::Value>(
            &s,
            &["TASKDB.STREAM", ns, &st.to_string()],
        ));
        assert_eq!((r["user_id"].as_str(), r["reserved"].as_str()), ("u", "1"));
    }
    let mut jobs = Vec::new();
    for i in 0..64 {
        let j = db
            .create_job(&st, &json!({ "i": i }), 1, 60, "u")
            .await
            .unwrap();
        db.create_task(&j, "next", &st, &json!({}), &json!(["init"]), 1, 60)
            .await
            .unwrap();
        jobs.push(j);
    }
    // Each job on the shard its id names, and every shard got some.
    for j in &jobs {
        let home = shard_name("t", (j.as_u128() % 8) as u32);
        let rec: redis::Value = q(&s, &["TASKDB.JOB", &home, &j.to_string()]);
        assert_ne!(rec, redis::Value::Nil, "job {j} on {home}");
    }
    for ns in db.namespaces() {
        assert!(tasks_in(&s, ns, "ready") > 0, "{ns} holds jobs");
    }
    assert_eq!(db.get_concurrent_jobs("u").await.unwrap(), 64);
    let counts = db.get_task_state_counts().await.unwrap();
    assert_eq!(counts["cpu"][&FullTaskState::Ready], 64);
    assert_eq!(counts["cpu"][&FullTaskState::Pending], 64);
    // Workers drain every shard; each report reaches the job's shard.
    let mut done = 0;
    while let Some(t) = db.request_work("cpu").await.unwrap() {
        assert!(db
            .update_task_done(&t.job_id, &t.task_id, json!({ "ok": t.task_id }))
            .await
            .unwrap());
        done += 1;
    }
    assert_eq!(done, 128);
    for j in &jobs {
        assert_eq!(db.get_job_state(j, "u").await.unwrap(), JobState::Done);
        assert_eq!(db.get_job_unresolved(j).await.unwrap(), 0);
        let out: serde_json::Value = db.get_task_output(j, "next").await.unwrap();
        assert_eq!(out, json!({ "ok": "next" }));
    }
    assert_eq!(db.get_concurrent_jobs("u").await.unwrap(), 0);
    assert!(db.check_stuck_pending_tasks().await.unwrap().is_empty());
    // Clearing deletes the done jobs on every shard, then the streams left without tasks.
    assert_eq!(db.clear_completed_jobs().await.unwrap(), 64);
    assert_eq!(db.get_stream("u", "cpu").await.unwrap(), None);
    for ns in db.namespaces() {
        assert_eq!(q::<String>(&s, &["TYPE", ns]), "none", "{ns} is empty");
    }
}

#[tokio::test]
async fn shard_zero_keeps_a_stream_other_shards_still_use_and_a_missing_copy_comes_back() {
    let s = Server::start();
    let db = RedisTaskDB::create_sharded(&s.url(), "t", 4).await.unwrap();
    let st = db.create_stream("cpu", 2, 1.5, "u").await.unwrap();
    assert!(db.pause_stream(&st).await.unwrap());
    // A job on a shard other than 0 keeps the stream alive through a clearing.
    let job = loop {
        let j = db.create_job(&st, &json!({}), 1, 60, "u").await.unwrap();
        if j.as_u128() % 4 != 0 {
            break j;
        }
        db.delete_job(&j).await.unwrap();
    };
    assert_eq!(db.clear_completed_jobs().await.unwrap(), 0);
    assert_eq!(db.get_stream("u", "cpu").await.unwrap(), Some(st));
    // Shards 1..3 drop the stream where they hold none of its tasks (as a crash between
    // the copies would leave them); a new job there gets a copy, paused as shard 0 has it.
    for ns in &db.namespaces()[1..] {
        let _: i64 = q(&s, &["TASKDB.CLEAR_STREAMS", ns]);
    }
    let mut got = [false; 4];
    while got.iter().any(|g| !g) {
        let j = db.create_job(&st, &json!({}), 1, 60, "u").await.unwrap();
        got[(j.as_u128() % 4) as usize] = true;
    }
    for ns in db.namespaces() {
        let r = record(&q::<redis::Value>(
            &s,
            &["TASKDB.STREAM", ns, &st.to_string()],
        ));
        assert_eq!(
            (
                r["reserved"].as_str(),
                r["be_mult"].as_str(),
                r["paused"].as_str()
            ),
            ("2", "1.5", "1"),
            "{ns}"
        );
    }
    assert_eq!(
        db.request_work("cpu").await.unwrap(),
        None,
        "paused everywhere"
    );
    assert!(db.resume_stream(&st).await.unwrap());
    assert!(db.request_work("cpu").await.unwrap().is_some());
    // A stream shard 0 no longer has is not made up.
    let gone = Uuid::new_v4();
    match db.create_job(&gone, &json!({}), 1, 60, "u").await {
        Err(TaskDbErr::Redis(e)) => assert_eq!(e.code(), Some("NOTFOUND")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        db.get_job_state(&job, "u").await.unwrap(),
        JobState::Running
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_workers_wait_on_every_shard_and_a_losing_claim_goes_back_without_a_retry() {
    let s = Server::start();
    let db = RedisTaskDB::create_sharded(&s.url(), "t", 2).await.unwrap();
    let st = db.create_stream("gpu", 1, 1.0, "u").await.unwrap();
    // One worker waits on both shards; two jobs appear on both at the same moment (one
    // MULTI), so both of its waits may claim: one claim is used, the other given back.
    let w = db.clone();
    let worker =
        tokio::spawn(async move { w.request_work_wait("gpu", Duration::from_secs(20)).await });
    wait_for(10, "the worker waits on both shards", || {
        let info: String = q(&s, &["INFO", "clients"]);
        info.contains("blocked_clients:2").then_some(())
    });
    let id_on = |k: u128| loop {
        let id = Uuid::new_v4();
        if id.as_u128() % 2 == k {
            break id;
        }
    };
    let (a, b) = (id_on(0), id_on(1));
    let mut c = s.conn();
    let mut p = redis::pipe();
    p.atomic();
    for (ns, id) in [("t{0}", a), ("t{1}", b)] {
        p.cmd("TASKDB.CREATE_JOB")
            .arg(ns)
            .arg(st.to_string())
            .arg("{}")
            .arg(3)
            .arg(60)
            .arg("u")
            .arg("ID")
            .arg(id.to_string());
    }
    let _: redis::Value = p.query(&mut c).unwrap();
    let got = worker.await.unwrap().unwrap().expect("a task");
    assert!(got.job_id == a || got.job_id == b);
    let other = if got.job_id == a { b } else { a };
    wait_for(10, "the other claim is given back", || {
        let t = taskdb_redis::test_helpers::get_task;
        let rt = tokio::runtime::Handle::current();
        let task = tokio::task::block_in_place(|| rt.block_on(t(&db, &other, "init"))).unwrap();
        (task.full_state == FullTaskState::Ready).then_some(task)
    });
    let rt = tokio::runtime::Handle::current();
    let helpers = |j: Uuid| {
        tokio::task::block_in_place(|| {
            rt.block_on(taskdb_redis::test_helpers::get_task(&db, &j, "init"))
        })
        .unwrap()
    };
    assert_eq!(helpers(other).retries, 0, "a give-back is no retry");
    assert_eq!(helpers(got.job_id).full_state, FullTaskState::Running);
    // Nothing is left waiting on the server once the call returned.
    wait_for(10, "no blocked client", || {
        let info: String = q(&s, &["INFO", "clients"]);
        info.contains("blocked_clients:0").then_some(())
    });
    // Four workers waiting, four jobs: each gets one, none twice, no retry counted.
    let mut workers = Vec::new();
    for _ in 0..4 {
        let w = db.clone();
        workers.push(tokio::spawn(async move {
            w.request_work_wait("gpu", Duration::from_secs(20)).await
        }));
    }
    // The other job's init is still ready: one of the four takes it at once.
    for _ in 0..3 {
        db.create_job(&st, &json!({}), 3, 60, "u").await.unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    for w in workers {
        let t = w.await.unwrap().unwrap().expect("a task");
        assert!(seen.insert(t.job_id), "one claim per job");
    }
    let counts = db.get_task_state_counts().await.unwrap();
    assert_eq!(counts["gpu"][&FullTaskState::Running], 5);
    let all = taskdb_redis::test_helpers::get_tasks(&db).await.unwrap();
    assert!(all.iter().all(|t| t.retries == 0));
    // An idle wait times out on every shard.
    let t0 = Instant::now();
    assert!(db
        .request_work_wait("gpu", Duration::from_millis(300))
        .await
        .unwrap()
        .is_none());
    assert!(t0.elapsed() >= Duration::from_millis(300));
}

/// Claims per user over `secs` seconds with `workers` GPU workers, each holding a task
/// for `hold` (the work), from two users with saturated queues: reserved 2 and 1.
async fn shares(db: RedisTaskDB, workers: usize, hold: Duration, secs: u64) -> (f64, f64) {
    let a = db.create_stream("gpu", 2, 1.0, "a").await.unwrap();
    let b = db.create_stream("gpu", 1, 1.0, "b").await.unwrap();
    for (st, user) in [(a, "a"), (b, "b")] {
        for _ in 0..64 {
            let j = db.create_job(&st, &json!({}), 0, 600, user).await.unwrap();
            for k in 0..12 {
                db.create_task(&j, &format!("t{k}"), &st, &json!({}), &json!([]), 0, 600)
                    .await
                    .unwrap();
            }
        }
    }
    let owner: HashMap<Uuid, bool> = HashMap::new();
    let owner = std::sync::Arc::new(tokio::sync::Mutex::new(owner));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (db, owner) = (db.clone(), owner.clone());
        tasks.push(tokio::spawn(async move {
            let (mut na, mut nb) = (0u64, 0u64);
            while Instant::now() < deadline {
                let t = db
                    .request_work_wait("gpu", Duration::from_secs(5))
                    .await
                    .unwrap()
                    .expect("saturated queues");
                let mut o = owner.lock().await;
                let is_a = match o.get(&t.job_id) {
                    Some(&x) => x,
                    None => {
                        let x = db.get_job_state(&t.job_id, "a").await.is_ok();
                        o.insert(t.job_id, x);
                        x
                    }
                };
                drop(o);
                if is_a {
                    na += 1;
                } else {
                    nb += 1;
                }
                // The work: from half to one and a half times `hold`, as proving tasks
                // of one kind vary.
                let f = 0.5 + (Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0;
                tokio::time::sleep(hold.mul_f64(f)).await;
                db.update_task_done(&t.job_id, &t.task_id, json!({}))
                    .await
                    .unwrap();
            }
            (na, nb)
        }));
    }
    let (mut na, mut nb) = (0, 0);
    for t in tasks {
        let (x, y) = t.await.unwrap();
        na += x;
        nb += y;
    }
    let n = (na + nb) as f64;
    (na as f64 / n, nb as f64 / n)
}

/// A measurement setting: `TASKDB_FAIR_<name>` from the environment, else `default`.
fn setting(name: &str, default: u64) -> u64 {
    std::env::var(format!("TASKDB_FAIR_{name}"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The fair share across 16 shards against one namespace's, with 16 GPU workers and
/// tasks of 75–225 ms by default (`TASKDB_FAIR_WORKERS`, `_HOLD_MS`, `_SHARE_MS`,
/// `_SECS` change it; BENCHMARKS.md, "Fair share across shards", has the figures): each
/// user keeps its reservation and gets its one-namespace share within 10% (issue 13's
/// bar; measured within 4%, also while other cluster tests load the machine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_shards_share_the_gpu_workers_between_users_close_to_one_namespace() {
    let (one, many) = (Server::start(), Server::start());
    let single = RedisTaskDB::with_namespace(&one.url(), "t").await.unwrap();
    let sharded = RedisTaskDB::create_sharded(&many.url(), "t", 16)
        .await
        .unwrap()
        .with_share_interval(Duration::from_millis(setting(
            "SHARE_MS",
            taskdb_redis::SHARE_EVERY.as_millis() as u64,
        )));
    let workers = setting("WORKERS", 16) as usize;
    let hold = Duration::from_millis(setting("HOLD_MS", 150));
    let secs = setting("SECS", 6);
    let (a1, b1) = shares(single, workers, hold, secs).await;
    let (a16, b16) = shares(sharded, workers, hold, secs).await;
    eprintln!(
        "{workers} GPU workers, users reserved 2 and 1: one namespace {a1:.3}/{b1:.3}, 16 shards {a16:.3}/{b16:.3}"
    );
    let w = workers as f64;
    assert!(a16 >= 2.0 / w && b16 >= 1.0 / w, "reservations kept");
    for (x, y, who) in [(a1, a16, "a"), (b1, b16, "b")] {
        assert!(
            (y - x).abs() <= 0.10 * x,
            "user {who}: {y:.3} on 16 shards against {x:.3} on one namespace"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_shard_learns_what_runs_on_the_others_within_a_few_sharing_periods() {
    let s = Server::start();
    let db = RedisTaskDB::create_sharded(&s.url(), "t", 4)
        .await
        .unwrap()
        .with_share_interval(Duration::from_millis(20));
    let st = db.create_stream("gpu", 4, 1.0, "u").await.unwrap();
    // Every shard keeps ready work after 3 claims (a shard without any shows "inf").
    let mut per_shard = [0; 4];
    while per_shard.iter().any(|&n| n < 4) {
        let j = db.create_job(&st, &json!({}), 0, 60, "u").await.unwrap();
        per_shard[(j.as_u128() % 4) as usize] += 1;
    }
    for _ in 0..3 {
        db.request_work("gpu").await.unwrap().expect("a task");
    }
    // Every shard orders the stream as if it saw the 3 running tasks: (3 - 4) / 4.
    let priorities = || -> Vec<String> {
        db.namespaces()
            .iter()
            .map(|ns| record(&q(&s, &["TASKDB.STREAM", ns, &st.to_string()]))["priority"].clone())
            .collect()
    };
    wait_for(10, "every shard counts the 3 running tasks", || {
        priorities().iter().all(|p| p == "-0.25").then_some(())
    });
}
