//! The client on a real Redis Cluster (3 primaries, 3 replicas, started by testkit):
//! namespaces on every primary through one `redis+cluster://` handle, a handle seeded
//! with one node only, a manual failover and a kill -9 of a primary with a worker blocked
//! in `request_work_wait` that resumes on the promoted node by itself.

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

fn wait_1(cl: &Cluster, node: usize) {
    let mut c = cl.node(node).conn();
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut c).unwrap();
    assert_eq!(acked, 1, "the replica has every write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_follows_the_cluster_through_redirects_and_failovers() {
    let mut cl = Cluster::start();
    let names = spread(&cl);
    let hosts: Vec<String> = cl
        .urls()
        .iter()
        .map(|u| {
            u.trim_start_matches("redis://")
                .trim_end_matches('/')
                .to_string()
        })
        .collect();
    let url = format!("redis+cluster://{}", hosts.join(","));
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

    // kill -9 of the primary while a worker waits in REQUEST_WORK … BLOCK: once the
    // replica is promoted, the worker gets the task created there, by itself.
    let primary = cl.primary_of(ns);
    let st = db.get_or_create_stream("gpu", 1, 1.0, "u").await.unwrap();
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
}
