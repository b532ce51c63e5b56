//! The client against a real redis-server with the module (started by the tests).

use serde_json::json;
use std::time::Duration;
use taskdb_redis::test_helpers::{cleanup, get_job, get_job_tasks, get_task, get_tasks};
use taskdb_redis::*;
use taskdb_testkit::Server;
use uuid::Uuid;

async fn setup() -> (Server, RedisTaskDB) {
    let s = Server::start();
    let db = RedisTaskDB::with_namespace(&s.url(), "t").await.unwrap();
    (s, db)
}

#[tokio::test]
async fn a_job_runs_through_the_free_functions() {
    let (_s, db) = setup().await;
    let stream = create_stream(&db, "cpu", 1, 1.0, "u").await.unwrap();
    assert_eq!(get_stream(&db, "u", "cpu").await.unwrap(), Some(stream));
    assert_eq!(get_stream(&db, "u", "gpu").await.unwrap(), None);
    let job = create_job(&db, &stream, &json!({"image": "app"}), 2, 60, "u")
        .await
        .unwrap();
    create_task(
        &db,
        &job,
        "exec",
        &stream,
        &json!({"x": 1}),
        &json!([INIT_TASK]),
        2,
        60,
    )
    .await
    .unwrap();
    assert_eq!(get_job_unresolved(&db, &job).await.unwrap(), 2);
    assert_eq!(get_concurrent_jobs(&db, "u").await.unwrap(), 1);
    assert_eq!(
        get_job_state(&db, &job, "u").await.unwrap(),
        JobState::Running
    );
    assert_eq!(JobState::Running.to_string(), "RUNNING");
    let t = request_work(&db, "cpu").await.unwrap().unwrap();
    assert_eq!(
        (t.job_id, t.task_id.as_str(), t.max_retries),
        (job, INIT_TASK, 2)
    );
    assert_eq!(t.task_def, json!({"image": "app"}));
    assert_eq!(t.prereqs, json!([]));
    assert!(update_task_progress(&db, &job, INIT_TASK, 0.5)
        .await
        .unwrap());
    assert!(
        update_task_done(&db, &job, INIT_TASK, json!({"segments": 4}))
            .await
            .unwrap()
    );
    let out: serde_json::Value = get_task_output(&db, &job, INIT_TASK).await.unwrap();
    assert_eq!(out, json!({"segments": 4}));
    let t = request_work(&db, "cpu").await.unwrap().unwrap();
    assert_eq!(t.task_id, "exec");
    assert_eq!(t.prereqs, json!(["init"]));
    assert!(update_task_done(&db, &job, "exec", json!(null))
        .await
        .unwrap());
    assert_eq!(get_job_state(&db, &job, "u").await.unwrap(), JobState::Done);
    assert_eq!(JobState::Done.to_string(), "SUCCEEDED");
    assert!(get_job_time(&db, &job).await.unwrap() >= 0.0);
    let counts = get_task_state_counts(&db).await.unwrap();
    assert_eq!(counts["cpu"][&FullTaskState::Done], 2);
    assert_eq!(clear_completed_jobs(&db).await.unwrap(), 1);
    assert!(matches!(
        get_job(&db, &job).await,
        Err(TaskDbErr::SqlError(SqlxError::RowNotFound))
    ));
}

#[tokio::test]
async fn failures_retries_and_not_found() {
    let (_s, db) = setup().await;
    let stream = db.get_or_create_stream("gpu", 1, 2.0, "u").await.unwrap();
    let job = db
        .create_job(&stream, &json!({}), 1, 60, "u")
        .await
        .unwrap();
    assert!(
        !db.update_task_retry(&job, INIT_TASK).await.unwrap(),
        "not running"
    );
    db.request_work("gpu").await.unwrap().unwrap();
    assert!(db.update_task_retry(&job, INIT_TASK).await.unwrap());
    let task = get_task(&db, &job, INIT_TASK).await.unwrap();
    assert_eq!((task.state, task.retries), (TaskState::Ready, 1));
    db.request_work("gpu").await.unwrap().unwrap();
    assert!(
        !db.update_task_retry(&job, INIT_TASK).await.unwrap(),
        "retry limit"
    );
    assert_eq!(db.get_job_failure(&job).await.unwrap(), "retry max hit");
    assert_eq!(db.get_job_state(&job, "u").await.unwrap(), JobState::Failed);
    assert_eq!(
        get_job(&db, &job).await.unwrap().error.as_deref(),
        Some("retry max hit")
    );
    let job2 = db
        .create_job(&stream, &json!({}), 1, 60, "u")
        .await
        .unwrap();
    assert!(db
        .update_task_failed(&job2, INIT_TASK, "boom")
        .await
        .unwrap());
    assert!(!db
        .update_task_failed(&job2, INIT_TASK, "again")
        .await
        .unwrap());
    assert!(pause_worker_type(&db, "gpu").await.unwrap());
    assert!(db.request_work("gpu").await.unwrap().is_none());
    assert!(resume_worker_type(&db, "gpu").await.unwrap());
    assert!(pause_stream(&db, &stream).await.unwrap());
    assert!(!pause_stream(&db, &stream).await.unwrap());
    assert!(resume_stream(&db, &stream).await.unwrap());
    assert!(retry_job(&db, &job2).await.unwrap());
    assert!(!retry_job(&db, &job2).await.unwrap());
    assert_eq!(
        db.get_job_state(&job2, "u").await.unwrap(),
        JobState::Running
    );
    assert!(db
        .update_task_failed(&job2, INIT_TASK, "boom")
        .await
        .unwrap());

    let missing = Uuid::new_v4();
    assert!(matches!(
        db.get_job_state(&job, "mallory").await,
        Err(TaskDbErr::SqlError(SqlxError::RowNotFound))
    ));
    assert_eq!(db.get_job_unresolved(&missing).await.unwrap(), 0);
    assert!(matches!(
        db.get_job_failure(&missing).await,
        Err(TaskDbErr::SqlError(SqlxError::RowNotFound))
    ));
    assert!(matches!(
        db.get_job_time(&job2).await,
        Err(TaskDbErr::SqlError(SqlxError::RowNotFound))
    ));
    let r: Result<serde_json::Value, _> = db.get_task_output(&job2, INIT_TASK).await;
    assert!(matches!(
        r,
        Err(TaskDbErr::SqlError(SqlxError::RowNotFound))
    ));
    // A job on a missing stream: an error that names the stream.
    let e = db
        .create_job(&missing, &json!({}), 1, 1, "u")
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("stream '{missing}' does not exist")),
        "{e}"
    );
    assert!(!e.is_not_found());
    assert!(matches!(
        db.create_stream("cpu", 1, 0.0, "u").await,
        Err(TaskDbErr::InvalidBeMult)
    ));
    assert!(matches!(
        db.create_stream("cpu", 1, f32::NAN, "u").await,
        Err(TaskDbErr::InvalidBeMult)
    ));
    assert!(matches!(
        db.create_stream("cpu", -1, 1.0, "u").await,
        Err(TaskDbErr::Redis(_))
    ));
    db.delete_job(&job).await.unwrap();
    db.delete_job(&missing).await.unwrap();
    db.refresh_stream_counters().await.unwrap();
    assert!(db.check_stuck_pending_tasks().await.unwrap().is_empty());
    assert_eq!(db.fix_stuck_pending_tasks().await.unwrap(), 0);
}

#[tokio::test]
async fn requeue_and_priorities() {
    let (_s, db) = setup().await;
    let stream = db.create_stream("cpu", 1, 1.0, "u").await.unwrap();
    let low = db
        .create_job_with_priority(&stream, &json!({}), 3, 0, "u", JobPriority::Low)
        .await
        .unwrap();
    let high = db
        .create_job_with_priority(&stream, &json!({}), 3, 0, "u", JobPriority::High)
        .await
        .unwrap();
    assert_eq!(db.request_work("cpu").await.unwrap().unwrap().job_id, high);
    assert_eq!(db.request_work("cpu").await.unwrap().unwrap().job_id, low);
    // Leases of 0 s expire as soon as the server clock moves on.
    let mut n = 0;
    for _ in 0..200 {
        n += db.requeue_tasks(10).await.unwrap();
        if n == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(n, 2);
}

#[tokio::test]
async fn request_work_wait_gets_work_created_later_and_times_out_with_none() {
    let (_s, db) = setup().await;
    let stream = db.create_stream("gpu", 1, 1.0, "u").await.unwrap();
    assert_eq!(
        db.request_work_wait("gpu", Duration::from_millis(20))
            .await
            .unwrap(),
        None
    );
    let waiter = {
        let db = db.clone();
        tokio::spawn(async move { db.request_work_wait("gpu", Duration::from_secs(10)).await })
    };
    // The wait uses its own connection: this handle stays usable meanwhile.
    let mut blocked = false;
    for _ in 0..2000 {
        let counts = db.get_concurrent_jobs("u").await.unwrap();
        assert_eq!(counts, 0);
        let c = redis::Client::open(_s.url()).unwrap();
        let mut conn = c.get_multiplexed_async_connection().await.unwrap();
        let info: String = redis::cmd("INFO")
            .arg("clients")
            .query_async(&mut conn)
            .await
            .unwrap();
        if info.contains("blocked_clients:1") {
            blocked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(blocked, "the waiter blocked in the server");
    let job = db
        .create_job(&stream, &json!({}), 1, 60, "u")
        .await
        .unwrap();
    let got = waiter.await.unwrap().unwrap().unwrap();
    assert_eq!(got.job_id, job);
}

#[tokio::test]
async fn concurrent_workers_never_get_the_same_task() {
    let (_s, db) = setup().await;
    let stream = db.create_stream("cpu", 1, 1.0, "u").await.unwrap();
    for _ in 0..40 {
        let job = db
            .create_job(&stream, &json!({}), 1, 60, "u")
            .await
            .unwrap();
        for i in 0..4 {
            db.create_task(
                &job,
                &format!("t{i}"),
                &stream,
                &json!({}),
                &json!([]),
                1,
                60,
            )
            .await
            .unwrap();
        }
    }
    let mut handles = Vec::new();
    for _ in 0..8 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(t) = db.request_work("cpu").await.unwrap() {
                got.push((t.job_id, t.task_id));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 200);
    assert_eq!(unique.len(), 200);
}

#[tokio::test]
async fn get_or_create_stream_from_16_concurrent_callers_returns_one_stream() {
    let (_s, db) = setup().await;
    let mut handles = Vec::new();
    for _ in 0..16 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            db.get_or_create_stream("cpu", 2, 1.5, "alice").await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for h in handles {
        ids.insert(h.await.unwrap().unwrap());
    }
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn test_helpers_list_and_clean_up() {
    let (_s, db) = setup().await;
    let stream = db.create_stream("cpu", 1, 1.0, "u").await.unwrap();
    let job = db
        .create_job(&stream, &json!({"a": 1}), 1, 60, "u")
        .await
        .unwrap();
    db.create_task(&job, "b", &stream, &json!({}), &json!(["init"]), 1, 60)
        .await
        .unwrap();
    let tasks = get_tasks(&db).await.unwrap();
    let ids: Vec<&str> = tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["init", "b"]);
    assert!(tasks
        .iter()
        .all(|t| t.job_id == job && t.stream_id == stream));
    assert_eq!(tasks[1].state, TaskState::Pending);
    assert_eq!(tasks[1].waiting_on, 1);
    assert_eq!(tasks[0].task_def, json!({"a": 1}));
    assert_eq!(get_job_tasks(&db, &job).await.unwrap(), tasks);
    cleanup(&db).await;
    assert!(matches!(
        get_job(&db, &job).await,
        Err(TaskDbErr::SqlError(SqlxError::RowNotFound))
    ));
    assert_eq!(
        db.get_stream("u", "cpu").await.unwrap(),
        None,
        "streams are gone too"
    );
    assert_eq!(db.get_concurrent_jobs("u").await.unwrap(), 0);
}

#[tokio::test]
async fn attempts_fence_a_stale_worker() {
    let (_s, db) = setup().await;
    let stream = create_stream(&db, "cpu", 1, 1.0, "u").await.unwrap();
    let job = create_job(&db, &stream, &json!({}), 3, 0, "u")
        .await
        .unwrap();
    let a = request_work_as(&db, "cpu", "worker-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.task.job_id, a.attempt), (job, 1));
    let t = get_task(&db, &job, INIT_TASK).await.unwrap();
    assert_eq!((t.attempt, t.worker_id.as_deref()), (1, Some("worker-a")));
    // A's zero-second lease has run out: the task goes to B.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while requeue_tasks(&db, 10).await.unwrap() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "A's lease was requeued"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let b = request_work_wait_as(&db, "cpu", "worker-b", Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.attempt, 2);
    assert!(
        !give_back(&db, &a).await.unwrap(),
        "A's attempt is not running"
    );
    assert!(!update_task_failed_attempt(&db, &a, "late").await.unwrap());
    assert!(!update_task_retry_attempt(&db, &a).await.unwrap());
    assert!(!heartbeat_attempt(&db, &a).await.unwrap());
    assert!(!update_task_progress_attempt(&db, &a, 0.5).await.unwrap());
    assert!(heartbeat_attempt(&db, &b).await.unwrap());
    assert!(heartbeat(&db, &job, INIT_TASK).await.unwrap());
    assert!(update_task_progress_attempt(&db, &b, 0.5).await.unwrap());
    assert!(update_task_done_attempt(&db, &b, json!({"by": "b"}))
        .await
        .unwrap());
    assert!(!update_task_done_attempt(&db, &a, json!({"by": "a"}))
        .await
        .unwrap());
    assert_eq!(get_job_state(&db, &job, "u").await.unwrap(), JobState::Done);
}

#[tokio::test]
async fn with_wait_acknowledges_writes_once_replicas_have_them() {
    // The replica's first sync at once (Redis waits 5 s for more replicas by default).
    let s = Server::with_args(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let replica = Server::replica_of(&s, &[]);
    let db = RedisTaskDB::with_namespace(&s.url(), "t")
        .await
        .unwrap()
        .with_wait(1, Duration::from_secs(5));
    let stream = db.create_stream("cpu", 1, 1.0, "u").await.unwrap();
    let job = db
        .create_job(&stream, &json!({}), 1, 60, "u")
        .await
        .unwrap();
    // Acknowledged means on the replica: read it there at once.
    let mut rc = replica.conn();
    let state: String = redis::cmd("TASKDB.JOB_STATE")
        .arg("t")
        .arg(job.to_string())
        .arg("u")
        .query(&mut rc)
        .unwrap();
    assert_eq!(state, "running");
    let t = db
        .request_work_wait("cpu", Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(db
        .update_task_done(&t.job_id, &t.task_id, json!(1))
        .await
        .unwrap());
    assert_eq!(db.get_job_state(&job, "u").await.unwrap(), JobState::Done);
    // Two replicas asked, one there: the write took effect but is reported unreplicated.
    let strict = db.clone().with_wait(2, Duration::from_millis(100));
    let r = strict.create_job(&stream, &json!({}), 1, 60, "u").await;
    assert!(
        matches!(
            r,
            Err(TaskDbErr::NotReplicated {
                acked: 1,
                wanted: 2
            })
        ),
        "{r:?}"
    );
    assert_eq!(db.get_concurrent_jobs("u").await.unwrap(), 1);
    // A claim is handed out all the same (losing it in a failover loses nothing).
    let t = strict
        .request_work("cpu")
        .await
        .unwrap()
        .expect("the claim");
    let w = strict
        .request_work_wait("cpu", Duration::from_millis(200))
        .await
        .unwrap();
    assert!(w.is_none(), "nothing else is ready");
    assert!(db
        .update_task_done(&t.job_id, &t.task_id, json!(2))
        .await
        .unwrap());
}
