//! The client on a real Redis Cluster (3 primaries, 3 replicas, started by testkit):
//! namespaces on every primary through one `redis+cluster://` handle, a handle seeded
//! with one node only, a manual failover and a kill -9 of a primary with a worker blocked
//! in `request_work_wait` that resumes on the promoted node by itself, a busy namespace
//! resharded, a sharded TaskDB spread over the three primaries, and a primary killed
//! mid-workload under a handle that WAITs for a replica.

use serde_json::json;
use std::time::{Duration, Instant};
use taskdb_redis::{JobState, RedisTaskDB};
use taskdb_testkit::Cluster;

/// Namespace names whose slots are served by three different primaries.
fn spread(cl: &Cluster) -> Vec<String> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for i in 0.. {
        let ns = format!("tenant-{i}");
        let p = cl.primary_of(&ns);
        if out.iter().all(|(q, _)| *q != p) {
            out.push((p, ns));
        }
        if out.len() == 3 {
            break;
        }
    }
    out.into_iter().map(|(_, n)| n).collect()
}

/// Runs a two-task DAG to the end in `db`'s namespace.
async fn dag(db: &RedisTaskDB) {
    let st = db.create_stream("cpu", 1, 1.0, "u").await.unwrap();
    let job = db
        .create_job(&st, &json!({"n": 1}), 1, 60, "u")
        .await
        .unwrap();
    db.create_task(&job, "next", &st, &json!({}), &json!(["init"]), 1, 60)
        .await
        .unwrap();
    for want in ["init", "next"] {
        let t = db.request_work("cpu").await.unwrap().expect("a task");
        assert_eq!(t.task_id, want);
        assert!(db
            .update_task_done(&t.job_id, &t.task_id, json!({}))
            .await
            .unwrap());
    }
    assert_eq!(db.get_job_state(&job, "u").await.unwrap(), JobState::Done);
}

/// The "aux" task a dead worker held, claimed again by worker "heir" once its lease
/// runs out; `what` fails the test if that takes past `deadline`.
async fn heir_claims(db: &RedisTaskDB, deadline: Instant, what: &str) -> taskdb_redis::Attempt {
    loop {
        if let Some(a) = db.request_work_as("aux", "heir").await.unwrap() {
            return a;
        }
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn wait_1(cl: &Cluster, node: usize) {
    let mut c = cl.node(node).conn();
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut c).unwrap();
    assert_eq!(acked, 1, "the replica has every write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_follows_the_cluster_through_redirects_and_failovers() {
    let mut cl = Cluster::start();
    let names = spread(&cl);
    let url = cl.cluster_url();
    for ns in &names {
        let db = RedisTaskDB::with_namespace(&url, ns).await.unwrap();
        dag(&db).await;
    }
    // Seeded with one node, it reaches a namespace another node serves (MOVED followed).
    let seed = cl.urls()[cl.primary_of(&names[0])].clone();
    let far = RedisTaskDB::cluster(&[&seed], &names[1]).await.unwrap();
    dag(&far).await;

    // A manual failover: the replica takes over; calls keep working, no Moved forever.
    let ns = &names[0];
    let db = RedisTaskDB::with_namespace(&url, ns).await.unwrap();
    let primary = cl.primary_of(ns);
    let replica = cl.replica_of(primary);
    wait_1(&cl, primary);
    let _: () = redis::cmd("CLUSTER")
        .arg("FAILOVER")
        .query(&mut cl.node(replica).conn())
        .unwrap();
    taskdb_testkit::wait_for(30, "the replica to take the slot", || {
        (cl.primary_of(ns) == replica).then_some(())
    });
    dag(&db).await;

    // kill -9 of the primary while a worker waits in REQUEST_WORK … BLOCK and another
    // holds a 1 s lease and dies with it: once the replica is promoted, the waiting worker
    // gets the task created there by itself, and the dead worker's task comes back.
    cl.config_set("taskdb.requeue-interval-ms", "100");
    let primary = cl.primary_of(ns);
    let st = db.get_or_create_stream("gpu", 1, 1.0, "u").await.unwrap();
    let aux = db.get_or_create_stream("aux", 1, 1.0, "u").await.unwrap();
    let leased = db.create_job(&aux, &json!({}), 3, 1, "u").await.unwrap();
    let dead = db.request_work_as("aux", "doomed").await.unwrap().unwrap();
    assert_eq!(dead.task.job_id, leased);
    wait_1(&cl, primary);
    let waiter = {
        let db = db.clone();
        tokio::spawn(async move { db.request_work_wait("gpu", Duration::from_secs(60)).await })
    };
    // The kill comes once the wait is blocked on the primary.
    let mut pc = cl.node(primary).conn();
    taskdb_testkit::wait_for(10, "the worker to block", || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut pc).ok()?;
        info.contains("blocked_clients:1").then_some(())
    });
    let started = Instant::now();
    cl.kill9(primary);
    let job = loop {
        match db
            .create_job(&st, &json!({"after": "failover"}), 1, 60, "u")
            .await
        {
            Ok(j) => break j,
            Err(e) => {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "no primary took over: {e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let got = tokio::time::timeout(Duration::from_secs(60), waiter)
        .await
        .expect("the blocked worker resumed")
        .unwrap()
        .unwrap()
        .expect("the task created after the failover");
    assert_eq!((got.job_id, got.task_id.as_str()), (job, "init"));
    eprintln!("failover to a served task: {:?}", started.elapsed());
    let back = heir_claims(
        &db,
        started + Duration::from_secs(30),
        "the dead worker's lease never came back",
    )
    .await;
    assert_eq!((back.task.job_id, back.attempt), (leased, 2));
    eprintln!(
        "the dead primary's lease came back after {:?}",
        started.elapsed()
    );
}

/// Node `i`'s cluster id.
fn node_id(cl: &Cluster, i: usize) -> String {
    redis::cmd("CLUSTER")
        .arg("MYID")
        .query(&mut cl.node(i).conn())
        .unwrap()
}

/// No violation on any CHECK page of `ns` on node `i`.
fn check_clean(cl: &Cluster, i: usize, ns: &str) {
    let mut c = cl.node(i).conn();
    let mut cursor = "0".to_string();
    loop {
        let (next, violations): (String, Vec<redis::Value>) = redis::cmd("TASKDB.CHECK")
            .arg(ns)
            .arg("CURSOR")
            .arg(&cursor)
            .query(&mut c)
            .unwrap();
        assert!(violations.is_empty(), "CHECK of {ns}: {violations:?}");
        if next == "0" {
            return;
        }
        cursor = next;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_namespace_is_resharded_while_workers_and_submitters_run() {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let cl = Cluster::start();
    // A namespace in slot 0, the first slot of its primary's range: `reshard` moves a
    // source's slots lowest first, so moving a few slots moves it.
    let ns = (0..)
        .map(|i| format!("busy-{i}"))
        .find(|n| redis::cluster_routing::get_slot(n.as_bytes()) == 0)
        .unwrap();
    let ns = ns.as_str();
    let src = cl.primary_of(ns);
    let dst = (0..4)
        .map(|k| cl.primary_of(&format!("{{{k}}}")))
        .find(|&p| p != src)
        .expect("another primary");
    let seeds = cl.urls();
    let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
    let db = RedisTaskDB::cluster(&seeds, ns).await.unwrap();
    let st = db.create_stream("gpu", 2, 1.0, "u").await.unwrap();
    // Thousands of jobs of history.
    let seeded = Instant::now();
    for _ in 0..2000 {
        let job = db.create_job(&st, &json!({}), 0, 60, "u").await.unwrap();
        let t = db.request_work("gpu").await.unwrap().unwrap();
        assert_eq!(t.job_id, job);
        assert!(db.update_task_done(&job, "init", json!(1)).await.unwrap());
    }

    eprintln!("history of 2000 jobs in {:?}", seeded.elapsed());
    // A worker that dies holding a 1 s lease; the reaper runs on every node.
    cl.config_set("taskdb.requeue-interval-ms", "100");
    let aux = db.create_stream("aux", 1, 1.0, "u").await.unwrap();
    let leased = db.create_job(&aux, &json!({}), 5, 1, "u").await.unwrap();
    let dead = db.request_work_as("aux", "doomed").await.unwrap().unwrap();
    assert_eq!(dead.task.job_id, leased);
    let stop_submit = Arc::new(AtomicBool::new(false));
    let stop_work = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let claims = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (db, stop, acked) = (db.clone(), stop_submit.clone(), acked.clone());
        let claims = claims.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                // A bounded backlog: submitters run as fast as the workers drain.
                let backlog = 2 * acked.lock().unwrap().len() - claims.lock().unwrap().len();
                if backlog > 40 {
                    tokio::task::yield_now().await;
                    continue;
                }
                let job = db.create_job(&st, &json!({}), 0, 60, "u").await.unwrap();
                db.create_task(&job, "next", &st, &json!({}), &json!(["init"]), 0, 60)
                    .await
                    .unwrap();
                acked.lock().unwrap().push(job);
            }
        }));
    }
    for w in 0..3 {
        let (db, stop, claims) = (db.clone(), stop_work.clone(), claims.clone());
        tasks.push(tokio::spawn(async move {
            let me = format!("gpu-{w}");
            while !stop.load(Ordering::Relaxed) {
                let Some(a) = db
                    .request_work_wait_as("gpu", &me, Duration::from_millis(200))
                    .await
                    .unwrap()
                else {
                    continue;
                };
                claims
                    .lock()
                    .unwrap()
                    .push((a.task.job_id, a.task.task_id.clone()));
                let done = db.update_task_done_attempt(&a, json!(1)).await.unwrap();
                assert!(done, "a live worker's DONE counts");
            }
        }));
    }

    let submitted = |n: usize| {
        let acked = acked.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while acked.lock().unwrap().len() < n {
                assert!(Instant::now() < deadline, "submitters stalled");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    submitted(100).await;
    // Move the lowest slots of the namespace's primary, its slot among them, elsewhere.
    let any = format!("127.0.0.1:{}", cl.node(src).port);
    let (from, to) = (node_id(&cl, src), node_id(&cl, dst));
    let moved = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("redis-cli")
            .args(["--cluster", "reshard", &any])
            .args(["--cluster-from", &from, "--cluster-to", &to])
            .args(["--cluster-slots", "16", "--cluster-yes"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "reshard: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!("resharded in {:?}", moved.elapsed());
    assert_eq!(cl.primary_of(ns), dst, "the namespace moved");
    // The namespace's new node learned it: the dead worker's lease runs out there (within
    // one lease length of the move) and its task is handed out again.
    let back = heir_claims(
        &db,
        moved + Duration::from_secs(30),
        "the migrated lease never ran out",
    )
    .await;
    assert_eq!(back.task.job_id, leased);
    assert!(db.update_task_done_attempt(&back, json!(1)).await.unwrap());
    eprintln!(
        "a dead worker's lease came back {:?} after the move began",
        moved.elapsed()
    );
    let before = acked.lock().unwrap().len();
    submitted(before + 100).await;

    stop_submit.store(true, Ordering::Relaxed);
    // Every acknowledged job's two tasks get done.
    let deadline = Instant::now() + Duration::from_secs(60);
    let jobs = loop {
        let jobs = acked.lock().unwrap().clone();
        if claims.lock().unwrap().len() >= 2 * jobs.len() {
            break jobs;
        }
        assert!(
            Instant::now() < deadline,
            "acknowledged jobs never finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for j in &jobs {
        assert_eq!(db.get_job_state(j, "u").await.unwrap(), JobState::Done);
    }
    stop_work.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    assert!(!jobs.is_empty(), "submitters ran during the move");
    let claims = claims.lock().unwrap().clone();
    let unique: HashSet<_> = claims.iter().collect();
    assert_eq!(unique.len(), claims.len(), "no task handed out twice");
    assert_eq!(
        claims.len(),
        jobs.len() * 2,
        "every task of every acknowledged job ran once"
    );
    check_clean(&cl, dst, ns);
    eprintln!("{} jobs submitted and finished across the move", jobs.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_taskdb_spreads_over_the_primaries_and_blocked_workers_draw_from_all() {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let cl = Cluster::start();
    let url = cl.cluster_url();
    let db = RedisTaskDB::create_sharded(&url, "proving", 16)
        .await
        .unwrap();
    let owners: HashSet<usize> = db.namespaces().iter().map(|ns| cl.primary_of(ns)).collect();
    assert_eq!(
        owners.len(),
        3,
        "the 16 shards are served by all three primaries"
    );
    // Workers that opened the TaskDB by name wait on all 16 shards (on three nodes).
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..3 {
        let (db, stop) = (
            RedisTaskDB::with_namespace(&url, "proving").await.unwrap(),
            stop.clone(),
        );
        assert_eq!(db.shard_count(), Some(16));
        workers.push(tokio::spawn(async move {
            let mut done = 0;
            while !stop.load(Ordering::SeqCst) {
                let Some(t) = db
                    .request_work_wait_as("gpu", &format!("w{w}"), Duration::from_millis(500))
                    .await
                    .unwrap()
                else {
                    continue;
                };
                assert!(db.update_task_done_attempt(&t, json!({})).await.unwrap());
                done += 1;
            }
            done
        }));
    }
    let st = db.get_or_create_stream("gpu", 2, 1.0, "u").await.unwrap();
    let mut jobs = Vec::new();
    for i in 0..48 {
        let j = db
            .create_job(&st, &json!({ "i": i }), 2, 60, "u")
            .await
            .unwrap();
        for k in 0..2 {
            db.create_task(
                &j,
                &format!("seg{k}"),
                &st,
                &json!({}),
                &json!(["init"]),
                2,
                60,
            )
            .await
            .unwrap();
        }
        jobs.push(j);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for j in &jobs {
        while db.get_job_state(j, "u").await.unwrap() != JobState::Done {
            assert!(Instant::now() < deadline, "job {j} finishes");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    stop.store(true, Ordering::SeqCst);
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    assert_eq!(total, 48 * 3, "every task done once");
    let tasks = taskdb_redis::test_helpers::get_tasks(&db).await.unwrap();
    assert_eq!(tasks.len(), 48 * 3);
    assert!(
        tasks.iter().all(|t| t.retries == 0),
        "no claim was lost to a race"
    );
    assert_eq!(db.get_concurrent_jobs("u").await.unwrap(), 0);
    for ns in db.namespaces() {
        check_clean(&cl, cl.primary_of(ns), ns);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_mid_workload_loses_nothing_acknowledged() {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use taskdb_redis::TaskDbErr;
    use uuid::Uuid;

    let mut cl = Cluster::start();
    cl.config_set("taskdb.requeue-interval-ms", "100");
    let url = cl.cluster_url();
    let db = RedisTaskDB::create_sharded(&url, "crash", 6)
        .await
        .unwrap()
        .with_wait(1, Duration::from_millis(500));
    let shards = db.namespaces().to_vec();
    let shard_of = |j: &Uuid| shards[(j.as_u128() % shards.len() as u128) as usize].clone();
    // The victim serves shard 0, where streams are decided: the hardest node to lose.
    let victim = cl.primary_of(&shards[0]);
    let st = db.create_stream("gpu", 3, 1.0, "u").await.unwrap();
    let aux = db.create_stream("aux", 1, 1.0, "u").await.unwrap();
    // A worker that dies with the victim, holding a 1 s lease on a job the victim serves.
    let doomed = loop {
        let j = db.create_job(&aux, &json!({}), 3, 1, "u").await.unwrap();
        let a = db.request_work_as("aux", "doomed").await.unwrap().unwrap();
        assert_eq!(a.task.job_id, j);
        if cl.primary_of(&shard_of(&j)) == victim {
            break j;
        }
        assert!(db.update_task_done_attempt(&a, json!(1)).await.unwrap());
    };
    wait_1(&cl, victim);

    let stop_submit = Arc::new(AtomicBool::new(false));
    let stop_work = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(Mutex::new(HashSet::new()));
    let unconfirmed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    {
        let (db, stop, acked, done) =
            (db.clone(), stop_submit.clone(), acked.clone(), done.clone());
        let unconfirmed = unconfirmed.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                // A bounded backlog: the submitter runs as fast as the workers drain.
                let tasks = 2 * acked.lock().unwrap().len();
                if tasks.saturating_sub(done.lock().unwrap().len()) > 30 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                // Only a job whose two writes were both confirmed by a replica counts.
                let Ok(job) = db.create_job(&st, &json!({}), 0, 60, "u").await else {
                    unconfirmed.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let (data, after) = (json!({}), json!(["init"]));
                let next = db.create_task(&job, "seg", &st, &data, &after, 0, 60);
                match next.await {
                    Ok(_) => acked.lock().unwrap().push(job),
                    Err(_) => _ = unconfirmed.fetch_add(1, Ordering::Relaxed),
                }
            }
        }));
    }
    for w in 0..3 {
        let (db, stop, done) = (db.clone(), stop_work.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let me = format!("gpu-{w}");
            while !stop.load(Ordering::Relaxed) {
                let a = match db
                    .request_work_wait_as("gpu", &me, Duration::from_millis(200))
                    .await
                {
                    Ok(Some(a)) => a,
                    Ok(None) => continue,
                    Err(e) => panic!("a worker's request failed: {e}"),
                };
                let key = (a.task.job_id, a.task.task_id.clone());
                assert!(
                    !done.lock().unwrap().contains(&key),
                    "{key:?} handed out again after its DONE was acknowledged"
                );
                // An unconfirmed DONE is sent again until a replica has the task's fate.
                loop {
                    match db.update_task_done_attempt(&a, json!(1)).await {
                        Ok(true) => {
                            done.lock().unwrap().insert(key);
                            break;
                        }
                        Ok(false) => break,
                        Err(TaskDbErr::NotReplicated { .. }) => continue,
                        Err(e) => panic!("a worker's DONE failed: {e}"),
                    }
                }
            }
        }));
    }
    let submitted = |n: usize| {
        let acked = acked.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(90);
            while acked.lock().unwrap().len() < n {
                assert!(Instant::now() < deadline, "submitters stalled");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    submitted(40).await;
    let killed = Instant::now();
    cl.kill9(victim);
    taskdb_testkit::wait_for(30, "a replica to take shard 0", || {
        (cl.primary_of(&shards[0]) != victim).then_some(())
    });
    eprintln!("shard 0 failed over after {:?}", killed.elapsed());
    // The operator restarts the dead node: it rejoins as a replica, so WAIT 1 can be
    // met again on the promoted node.
    tokio::task::block_in_place(|| cl.restart(victim));
    eprintln!("the dead node rejoined after {:?}", killed.elapsed());
    let back = heir_claims(
        &db,
        killed + Duration::from_secs(60),
        "the dead primary's lease never came back",
    )
    .await;
    assert_eq!((back.task.job_id, back.attempt), (doomed, 2));
    let before = acked.lock().unwrap().len();
    submitted(before + 40).await;
    stop_submit.store(true, Ordering::Relaxed);

    // Every acknowledged job finishes; workers never stopped by themselves.
    let jobs = acked.lock().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    for j in &jobs {
        while db.get_job_state(j, "u").await.unwrap() != JobState::Done {
            assert!(Instant::now() < deadline, "acknowledged job {j} finishes");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    stop_work.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    for ns in &shards {
        check_clean(&cl, cl.primary_of(ns), ns);
    }
    eprintln!(
        "{} acknowledged jobs finished across a kill -9 ({} submissions unconfirmed), {:?} in all",
        jobs.len(),
        unconfirmed.load(Ordering::Relaxed),
        killed.elapsed()
    );
}
