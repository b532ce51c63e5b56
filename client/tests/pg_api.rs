//! The PostgreSQL TaskDB crate's API surface, used as an application written against that
//! crate uses it: every public function, type and error variant by the name it has there,
//! called with the arguments and read with the types it has there. The imports are all
//! that differs from such an application (the block marked below); it runs against a
//! real redis-server with the module, with and without the `sqlx` feature.

// -- The imports: what changes when an application moves from the PostgreSQL crate. --
use serde_json::Value as JsonValue; // was: sqlx::types::JsonValue
use taskdb_redis as taskdb; // was: the `taskdb` crate
use taskdb_redis::RedisTaskDB as PgPool; // was: sqlx::PgPool
use uuid::Uuid; // was: sqlx::types::Uuid
                // -- End of the imports that change. --

use std::time::{Duration, Instant};
use taskdb::planner::task::{Command as TaskCmd, Task as PlanTask};
use taskdb::planner::{Planner, PlannerErr};
use taskdb::test_helpers::{self, get_job, get_task, get_tasks, Job, Task};
use taskdb::{
    JobState, ReadyTask, ReadyTaskRaw, SqlxError, StuckTaskInfo, TaskDbErr, TaskState, INIT_TASK,
};
use taskdb_testkit::Server;

/// A fresh server and a handle on it (what `#[sqlx::test]` hands a PostgreSQL test).
async fn pool() -> (Server, PgPool) {
    let s = Server::start();
    // The sharded run (`pg_api_sharded.rs`) deploys the TaskDB as 8 shards first; the
    // application opens it by URL as before, and all that follows is the same code.
    if env!("CARGO_CRATE_NAME") == "pg_api_sharded" {
        taskdb_redis::RedisTaskDB::create_sharded(&s.url(), "taskdb", 8)
            .await
            .unwrap();
    }
    let pool = PgPool::new(&s.url()).await.unwrap();
    taskdb::init_db(&pool).await.unwrap();
    (s, pool)
}

fn is_row_not_found<T>(r: &Result<T, TaskDbErr>) -> bool {
    matches!(r, Err(TaskDbErr::SqlError(SqlxError::RowNotFound)))
}

#[tokio::test]
async fn streams_jobs_and_tasks_are_created_as_in_postgres() {
    let (_s, pool) = pool().await;
    taskdb::init_db(&pool).await.unwrap(); // idempotent
    let user_id = "user1";
    let stream_id = taskdb::create_stream(&pool, "CPU", 1, 1.0, user_id)
        .await
        .unwrap();
    assert!(matches!(
        taskdb::create_stream(&pool, "CPU", 1, 0.0, user_id).await,
        Err(TaskDbErr::InvalidBeMult)
    ));
    assert_eq!(
        taskdb::get_or_create_stream(&pool, "CPU", 1, 1.0, user_id)
            .await
            .unwrap(),
        stream_id
    );
    assert_eq!(
        taskdb::get_stream(&pool, user_id, "CPU").await.unwrap(),
        Some(stream_id)
    );
    assert_eq!(
        taskdb::get_stream(&pool, user_id, "GPU").await.unwrap(),
        None
    );

    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let before = chrono::DateTime::from_timestamp_millis(now_ms - 1000)
        .unwrap()
        .naive_utc();
    let task_def = serde_json::json!({"member": "data"});
    let job_id = taskdb::create_job(&pool, &stream_id, &task_def, 0, 100, user_id)
        .await
        .unwrap();
    let job: Job = get_job(&pool, &job_id).await.unwrap();
    assert_eq!(job.id, Some(job_id));
    assert_eq!(job.state.unwrap(), JobState::Running);
    assert_eq!(job.error, None);
    assert_eq!(job.user_id, user_id);

    let tasks: Vec<Task> = get_tasks(&pool).await.unwrap();
    assert_eq!(tasks.len(), 1);
    let init: &Task = &tasks[0];
    assert_eq!((init.job_id, init.task_id.as_str()), (job_id, INIT_TASK));
    assert_eq!(init.state, TaskState::Ready);
    assert_eq!(init.task_def, task_def);
    assert_eq!(init.timeout_secs, 100);
    assert!(init.created_at >= before, "{:?}", init.created_at);
    assert_eq!((init.started_at, init.output.clone()), (None, None));

    let prereqs = serde_json::json!([]);
    taskdb::create_task(
        &pool,
        &job_id,
        "test_task",
        &stream_id,
        &task_def,
        &prereqs,
        0,
        10,
    )
    .await
    .unwrap();
    let tasks = get_tasks(&pool).await.unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(names, [INIT_TASK, "test_task"]);
    assert_eq!(
        (tasks[1].state, tasks[1].timeout_secs),
        (TaskState::Ready, 10)
    );
    assert_eq!(taskdb::get_job_unresolved(&pool, &job_id).await.unwrap(), 2);
    assert_eq!(
        taskdb::get_job_unresolved(&pool, &Uuid::new_v4())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        taskdb::get_concurrent_jobs(&pool, user_id).await.unwrap(),
        1
    );
    assert_eq!(
        taskdb::get_concurrent_jobs(&pool, "user2").await.unwrap(),
        0
    );

    // A job on a stream that does not exist: an error naming the stream.
    let missing = Uuid::parse_str("a1a2a3a4b1b2c1c2d1d2d3d4d5d6d7d8").unwrap();
    let err = taskdb::create_job(&pool, &missing, &task_def, 0, 100, user_id)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains(&missing.to_string()), "{err:?}");
}

#[tokio::test]
async fn workers_claim_report_and_read_outputs() {
    let (_s, pool) = pool().await;
    let (worker_type, user_id) = ("CPU", "user1");
    let stream_id = taskdb::create_stream(&pool, worker_type, 1, 1.0, user_id)
        .await
        .unwrap();
    let task_def = serde_json::json!({"init": "test"});
    let job_id = taskdb::create_job(&pool, &stream_id, &task_def, 0, 100, user_id)
        .await
        .unwrap();

    let task: ReadyTask = taskdb::request_work(&pool, worker_type)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((task.job_id, task.task_id.as_str()), (job_id, INIT_TASK));
    assert!(task.prereqs.as_array().unwrap().is_empty());
    assert_eq!(task.task_def["init"], "test");
    assert_eq!(task.max_retries, 0);
    assert!(taskdb::request_work(&pool, worker_type)
        .await
        .unwrap()
        .is_none());

    assert!(taskdb::update_task_progress(&pool, &job_id, INIT_TASK, 0.5)
        .await
        .unwrap());
    let running = get_task(&pool, &job_id, INIT_TASK).await.unwrap();
    assert_eq!((running.state, running.progress), (TaskState::Running, 0.5));
    assert!(running.started_at.is_some() && running.updated_at.is_some());

    let output = serde_json::json!({"result": "SUCCESS"});
    assert!(
        taskdb::update_task_done(&pool, &job_id, INIT_TASK, output.clone())
            .await
            .unwrap()
    );
    // A done task takes no second result, failure or progress.
    assert!(
        !taskdb::update_task_done(&pool, &job_id, INIT_TASK, JsonValue::default())
            .await
            .unwrap()
    );
    assert!(!taskdb::update_task_failed(&pool, &job_id, INIT_TASK, "")
        .await
        .unwrap());
    assert!(
        !taskdb::update_task_progress(&pool, &job_id, INIT_TASK, 0.7)
            .await
            .unwrap()
    );
    let done = get_task(&pool, &job_id, INIT_TASK).await.unwrap();
    assert_eq!(done.state, TaskState::Done);
    assert_eq!((done.progress, done.retries, done.waiting_on), (1.0, 0, 0));
    assert_eq!(done.output.as_ref(), Some(&output));
    assert!(done.error.is_none());

    let out: JsonValue = taskdb::get_task_output(&pool, &job_id, INIT_TASK)
        .await
        .unwrap();
    assert_eq!(out["result"], "SUCCESS");
    #[derive(serde::Deserialize, Debug)]
    struct Result_ {
        result: String,
    }
    let typed: Result_ = taskdb::get_task_output(&pool, &job_id, INIT_TASK)
        .await
        .unwrap();
    assert_eq!(typed.result, "SUCCESS");
    let wrong: Result<u64, _> = taskdb::get_task_output(&pool, &job_id, INIT_TASK).await;
    assert!(matches!(wrong, Err(TaskDbErr::JsonErr(_))), "{wrong:?}");

    assert_eq!(
        get_job(&pool, &job_id).await.unwrap().state,
        Some(JobState::Done)
    );
    assert_eq!(
        taskdb::get_job_state(&pool, &job_id, user_id)
            .await
            .unwrap(),
        JobState::Done
    );
    assert_eq!(taskdb::get_job_unresolved(&pool, &job_id).await.unwrap(), 0);
    let elapsed: f64 = taskdb::get_job_time(&pool, &job_id).await.unwrap();
    assert!((0.0..10.0).contains(&elapsed), "{elapsed}");
}

#[tokio::test]
async fn retries_failures_and_not_found_answer_as_in_postgres() {
    let (_s, pool) = pool().await;
    let (worker_type, user_id) = ("CPU", "user1");
    let stream_id = taskdb::create_stream(&pool, worker_type, 1, 1.0, user_id)
        .await
        .unwrap();
    let task_def = serde_json::json!({"init": "test"});
    let job_id = taskdb::create_job(&pool, &stream_id, &task_def, 1, 100, user_id)
        .await
        .unwrap();
    let task = taskdb::request_work(&pool, worker_type)
        .await
        .unwrap()
        .unwrap();
    assert!(
        taskdb::update_task_retry(&pool, &task.job_id, &task.task_id)
            .await
            .unwrap()
    );
    let task = taskdb::request_work(&pool, worker_type)
        .await
        .unwrap()
        .unwrap();
    let raw = get_task(&pool, &task.job_id, &task.task_id).await.unwrap();
    assert_eq!(raw.error.unwrap(), "");
    assert_eq!((raw.retries, raw.max_retries), (1, 1));
    assert_eq!((raw.state, raw.progress), (TaskState::Running, 0.0));
    // Past its retry limit the task fails, and its job.
    assert!(
        !taskdb::update_task_retry(&pool, &task.job_id, &task.task_id)
            .await
            .unwrap()
    );
    assert!(taskdb::request_work(&pool, worker_type)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        get_task(&pool, &job_id, INIT_TASK).await.unwrap().state,
        TaskState::Failed
    );
    let job = get_job(&pool, &job_id).await.unwrap();
    assert_eq!(job.error.as_deref(), Some("retry max hit"));
    assert_eq!(job.state, Some(JobState::Failed));
    assert_eq!(taskdb::get_job_unresolved(&pool, &job_id).await.unwrap(), 1);
    assert_eq!(
        taskdb::get_job_failure(&pool, &job_id).await.unwrap(),
        "retry max hit"
    );

    // A failed task's waiting dependents show as failed, as PostgreSQL has no
    // `cancelled`; TaskDB's own state tells them apart.
    let job2 = taskdb::create_job(&pool, &stream_id, &task_def, 0, 100, user_id)
        .await
        .unwrap();
    let prereqs = serde_json::json!([INIT_TASK]);
    taskdb::create_task(
        &pool, &job2, "child", &stream_id, &task_def, &prereqs, 0, 10,
    )
    .await
    .unwrap();
    assert!(is_row_not_found(
        &taskdb::get_job_failure(&pool, &job2).await
    ));
    assert!(
        taskdb::update_task_failed(&pool, &job2, INIT_TASK, "it_broke")
            .await
            .unwrap()
    );
    let child = get_task(&pool, &job2, "child").await.unwrap();
    assert_eq!(child.state, TaskState::Failed);
    assert_eq!(child.full_state, taskdb::FullTaskState::Cancelled);
    assert_eq!(
        taskdb::get_job_failure(&pool, &job2).await.unwrap(),
        "it_broke"
    );

    // A job failed with an empty error has no failure to show.
    let job3 = taskdb::create_job(&pool, &stream_id, &task_def, 0, 100, user_id)
        .await
        .unwrap();
    assert!(taskdb::update_task_failed(&pool, &job3, INIT_TASK, "")
        .await
        .unwrap());
    assert!(is_row_not_found(
        &taskdb::get_job_failure(&pool, &job3).await
    ));

    // Lookups of what does not exist are RowNotFound; reports about it change nothing.
    let nobody = Uuid::max();
    assert!(is_row_not_found(
        &taskdb::get_job_state(&pool, &nobody, "test").await
    ));
    assert!(is_row_not_found(
        &taskdb::get_job_state(&pool, &job_id, "user2").await
    ));
    assert!(is_row_not_found(
        &taskdb::get_job_failure(&pool, &nobody).await
    ));
    assert!(is_row_not_found(
        &taskdb::get_task_output::<JsonValue>(&pool, &job2, "child").await
    ));
    assert!(is_row_not_found(&get_job(&pool, &nobody).await));
    assert!(is_row_not_found(&get_task(&pool, &job_id, "nope").await));
    assert!(
        !taskdb::update_task_done(&pool, &nobody, INIT_TASK, JsonValue::default())
            .await
            .unwrap()
    );
    assert!(!taskdb::update_task_failed(&pool, &nobody, INIT_TASK, "x")
        .await
        .unwrap());
    assert!(!taskdb::update_task_progress(&pool, &job_id, "nope", 0.1)
        .await
        .unwrap());
    assert!(!taskdb::update_task_retry(&pool, &nobody, INIT_TASK)
        .await
        .unwrap());
    taskdb::delete_job(&pool, &nobody).await.unwrap();
}

#[tokio::test]
async fn prerequisites_release_their_dependents() {
    let (_s, pool) = pool().await;
    let stream_id = taskdb::create_stream(&pool, "CPU", 1, 1.0, "user1")
        .await
        .unwrap();
    let job_id = taskdb::create_job(&pool, &stream_id, &JsonValue::default(), 0, 100, "user1")
        .await
        .unwrap();
    let init = taskdb::request_work(&pool, "CPU").await.unwrap().unwrap();
    let none = serde_json::json!([]);
    let def = JsonValue::default();
    for name in ["segment_1", "segment_2"] {
        taskdb::create_task(&pool, &job_id, name, &stream_id, &def, &none, 0, 10)
            .await
            .unwrap();
    }
    let both = serde_json::json!(["segment_1", "segment_2"]);
    taskdb::create_task(&pool, &job_id, "join_3", &stream_id, &def, &both, 0, 10)
        .await
        .unwrap();
    assert!(
        taskdb::update_task_done(&pool, &job_id, &init.task_id, def.clone())
            .await
            .unwrap()
    );
    let waiting = |n: i32, s: TaskState| move |t: Task| (t.waiting_on, t.state) == (n, s);
    let join = || get_task(&pool, &job_id, "join_3");
    assert!(waiting(2, TaskState::Pending)(join().await.unwrap()));
    assert!(
        taskdb::update_task_done(&pool, &job_id, "segment_1", def.clone())
            .await
            .unwrap()
    );
    assert!(waiting(1, TaskState::Pending)(join().await.unwrap()));
    assert!(
        taskdb::update_task_done(&pool, &job_id, "segment_2", def.clone())
            .await
            .unwrap()
    );
    assert!(waiting(0, TaskState::Ready)(join().await.unwrap()));
}

#[tokio::test]
async fn reservations_then_best_effort_multipliers_order_the_streams() {
    let (_s, pool) = pool().await;
    if pool.shard_count().is_some() {
        // Claim by claim, this order is exact within a shard; across shards it holds on
        // average (README, "A sharded TaskDB"), measured by client/tests/sharded.rs.
        return;
    }
    let def = JsonValue::default();
    let none = serde_json::json!([]);
    // A stream with a reservation goes before a best-effort one.
    let best_effort = taskdb::create_stream(&pool, "CPU", 0, 1.0, "user1")
        .await
        .unwrap();
    let job_0 = taskdb::create_job(&pool, &best_effort, &def, 0, 100, "user1")
        .await
        .unwrap();
    let reserved = taskdb::create_stream(&pool, "CPU", 1, 1.0, "user1")
        .await
        .unwrap();
    let job_1 = taskdb::create_job(&pool, &reserved, &def, 0, 100, "user1")
        .await
        .unwrap();
    assert_eq!(
        taskdb::request_work(&pool, "CPU")
            .await
            .unwrap()
            .unwrap()
            .job_id,
        job_1
    );
    assert_eq!(
        taskdb::request_work(&pool, "CPU")
            .await
            .unwrap()
            .unwrap()
            .job_id,
        job_0
    );

    // Among best-effort streams each running a task, the higher multiplier goes first.
    let low = taskdb::create_stream(&pool, "GPU", 0, 1.0, "user1")
        .await
        .unwrap();
    let high = taskdb::create_stream(&pool, "GPU", 0, 1.1, "user1")
        .await
        .unwrap();
    let mut jobs = Vec::new();
    for s in [low, high] {
        let j = taskdb::create_job(&pool, &s, &def, 0, 100, "user1")
            .await
            .unwrap();
        taskdb::create_task(&pool, &j, "task2", &s, &def, &none, 0, 10)
            .await
            .unwrap();
        jobs.push(j);
    }
    taskdb::request_work(&pool, "GPU").await.unwrap().unwrap();
    taskdb::request_work(&pool, "GPU").await.unwrap().unwrap();
    assert_eq!(
        taskdb::request_work(&pool, "GPU")
            .await
            .unwrap()
            .unwrap()
            .job_id,
        jobs[1]
    );
    assert_eq!(
        taskdb::request_work(&pool, "GPU")
            .await
            .unwrap()
            .unwrap()
            .job_id,
        jobs[0]
    );
}

#[tokio::test]
async fn an_expired_lease_is_requeued_as_a_retry() {
    let (_s, pool) = pool().await;
    let stream_id = taskdb::create_stream(&pool, "CPU", 1, 1.0, "user1")
        .await
        .unwrap();
    let task_def = serde_json::json!({"init": "test"});
    let job_id = taskdb::create_job(&pool, &stream_id, &task_def, 1, 1, "user1")
        .await
        .unwrap();
    taskdb::request_work(&pool, "CPU").await.unwrap().unwrap();
    // The server's own reaper may get there first: either way the task comes back once.
    let deadline = Instant::now() + Duration::from_secs(20);
    let task = loop {
        let requeued: usize = taskdb::requeue_tasks(&pool, 100).await.unwrap();
        assert!(requeued <= 1);
        if let Some(t) = taskdb::request_work(&pool, "CPU").await.unwrap() {
            break t;
        }
        assert!(Instant::now() < deadline, "the lease never ran out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(task.task_def["init"], "test");
    assert_eq!(
        get_task(&pool, &job_id, &task.task_id)
            .await
            .unwrap()
            .retries,
        1
    );
}

#[tokio::test]
async fn maintenance_functions_keep_their_postgres_signatures() {
    let (_s, pool) = pool().await;
    let used = taskdb::create_stream(&pool, "CPU", 1, 1.0, "user1")
        .await
        .unwrap();
    let spare = taskdb::create_stream(&pool, "GPU", 1, 1.0, "user1")
        .await
        .unwrap();
    let done_job = taskdb::create_job(&pool, &used, &JsonValue::default(), 0, 100, "user1")
        .await
        .unwrap();
    let running = taskdb::create_job(&pool, &used, &JsonValue::default(), 0, 100, "user1")
        .await
        .unwrap();
    assert!(
        taskdb::update_task_done(&pool, &done_job, INIT_TASK, JsonValue::Null)
            .await
            .unwrap()
    );

    let stuck: Vec<StuckTaskInfo> = taskdb::check_stuck_pending_tasks(&pool).await.unwrap();
    assert!(stuck.is_empty());
    let fixed: i32 = taskdb::fix_stuck_pending_tasks(&pool).await.unwrap();
    assert_eq!(fixed, 0);
    taskdb::refresh_stream_counters(&pool).await.unwrap();

    // Done jobs go, and with them every stream no task refers to any more.
    let cleared: i32 = taskdb::clear_completed_jobs(&pool).await.unwrap();
    assert_eq!(cleared, 1);
    assert!(is_row_not_found(&get_job(&pool, &done_job).await));
    assert_eq!(
        taskdb::get_stream(&pool, "user1", "GPU").await.unwrap(),
        None
    );
    assert_eq!(
        taskdb::get_stream(&pool, "user1", "CPU").await.unwrap(),
        Some(used)
    );
    assert!(
        taskdb::create_job(&pool, &spare, &JsonValue::default(), 0, 1, "user1")
            .await
            .is_err()
    );

    taskdb::delete_job(&pool, &running).await.unwrap();
    assert!(get_tasks(&pool).await.unwrap().is_empty());
    taskdb::create_job(&pool, &used, &JsonValue::default(), 0, 100, "user1")
        .await
        .unwrap();
    test_helpers::cleanup(&pool).await;
    assert!(get_tasks(&pool).await.unwrap().is_empty());
    assert_eq!(
        taskdb::get_stream(&pool, "user1", "CPU").await.unwrap(),
        None
    );
}

/// The PostgreSQL crate's e2e shape: an executor plans a proof's DAG with the planner and
/// creates a task per planned step; GPU workers drain it, then AUX finalizes.
#[tokio::test]
async fn a_planned_proving_dag_runs_to_the_end() {
    let (_s, pool) = pool().await;
    let user_id = "user1";
    let aux = taskdb::create_stream(&pool, "AUX", 1, 1.0, user_id)
        .await
        .unwrap();
    let cpu = taskdb::create_stream(&pool, "CPU", 1, 1.0, user_id)
        .await
        .unwrap();
    let gpu = taskdb::create_stream(&pool, "GPU", 1, 1.0, user_id)
        .await
        .unwrap();
    let task_def = serde_json::json!({"image_id": "41414141", "input_id": "42424242"});
    taskdb::create_job(&pool, &aux, &task_def, 0, 100, user_id)
        .await
        .unwrap();

    let init = taskdb::request_work(&pool, "AUX").await.unwrap().unwrap();
    let none = serde_json::json!([]);
    taskdb::create_task(
        &pool,
        &init.job_id,
        "executor",
        &cpu,
        &init.task_def,
        &none,
        0,
        10,
    )
    .await
    .unwrap();
    assert!(
        taskdb::update_task_done(&pool, &init.job_id, INIT_TASK, JsonValue::default())
            .await
            .unwrap()
    );
    let exec = taskdb::request_work(&pool, "CPU").await.unwrap().unwrap();
    assert_eq!(exec.task_def["image_id"], "41414141");

    async fn create(pool: &PgPool, step: &PlanTask, job: &ReadyTask, gpu: &Uuid, aux: &Uuid) {
        let name = |n: &usize| n.to_string();
        let (id, stream, def, prereqs) = match step.command {
            TaskCmd::Segment => (
                name(&step.task_number),
                gpu,
                serde_json::json!({"Prove": {"segment": step.task_number}}),
                vec![],
            ),
            TaskCmd::Keccak => (
                name(&step.task_number),
                gpu,
                serde_json::json!({"Keccak": {"index": step.task_number}}),
                vec![],
            ),
            TaskCmd::Join => (
                name(&step.task_number),
                gpu,
                serde_json::json!({"Join": {"left": step.depends_on[0], "right": step.depends_on[1]}}),
                step.depends_on.iter().map(name).collect(),
            ),
            TaskCmd::Union => (
                name(&step.task_number),
                gpu,
                serde_json::json!({"Union": {"left": step.keccak_depends_on[0], "right": step.keccak_depends_on[1]}}),
                step.keccak_depends_on.iter().map(name).collect(),
            ),
            TaskCmd::Finalize => (
                "finalize".to_string(),
                aux,
                serde_json::json!({"Finalize": {}}),
                step.depends_on
                    .iter()
                    .chain(step.keccak_depends_on.iter())
                    .map(name)
                    .collect::<Vec<_>>(),
            ),
        };
        let prereqs = serde_json::json!(prereqs);
        taskdb::create_task(pool, &job.job_id, &id, stream, &def, &prereqs, 0, 10)
            .await
            .unwrap();
    }

    let mut planner = Planner::default();
    planner.enqueue_keccak().unwrap();
    for _ in 0..3 {
        planner.enqueue_segment().unwrap();
        while let Some(step) = planner.next_task() {
            create(&pool, step, &exec, &gpu, &aux).await;
        }
    }
    planner.enqueue_keccak().unwrap();
    assert_eq!(planner.finish().unwrap(), planner.task_count() - 1);
    assert!(matches!(
        planner.enqueue_segment(),
        Err(PlannerErr::PlanFinalized)
    ));
    while let Some(step) = planner.next_task() {
        create(&pool, step, &exec, &gpu, &aux).await;
    }
    assert!(
        taskdb::update_task_done(&pool, &exec.job_id, &exec.task_id, JsonValue::default())
            .await
            .unwrap()
    );

    let finalize = get_task(&pool, &exec.job_id, "finalize").await.unwrap();
    // Keccak 0, segments 1 and 2, join 3, segment 4, keccak 5, union 6, join 7.
    assert_eq!(finalize.prerequisites, serde_json::json!(["7", "6"]));
    assert_eq!(finalize.waiting_on, 2);

    let mut order = Vec::new();
    while let Some(t) = taskdb::request_work(&pool, "GPU").await.unwrap() {
        order.push(t.task_id.clone());
        assert!(
            taskdb::update_task_done(&pool, &t.job_id, &t.task_id, JsonValue::default())
                .await
                .unwrap()
        );
    }
    assert_eq!(order, ["0", "1", "2", "3", "4", "5", "6", "7"]);
    let last = taskdb::request_work(&pool, "AUX").await.unwrap().unwrap();
    assert_eq!(last.task_id, "finalize");
    assert!(
        taskdb::update_task_done(&pool, &last.job_id, &last.task_id, JsonValue::default())
            .await
            .unwrap()
    );
    for task in get_tasks(&pool).await.unwrap() {
        assert_eq!(task.state, TaskState::Done, "{task:?}");
    }
    assert_eq!(
        taskdb::get_job_state(&pool, &exec.job_id, user_id)
            .await
            .unwrap(),
        JobState::Done
    );
}

#[tokio::test]
async fn the_error_variants_are_the_postgres_crates() {
    let (s, pool) = pool().await;
    // A namespace key that holds something else: the "migration" is refused.
    let client = redis::Client::open(s.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("not-a-namespace")
        .arg("x")
        .query_async(&mut c)
        .await
        .unwrap();
    let other = PgPool::with_namespace(&s.url(), "not-a-namespace")
        .await
        .unwrap();
    let err = taskdb::init_db(&other).await.unwrap_err();
    assert!(err.to_string().contains("holds a string"), "{err}");
    let describe = |e: &TaskDbErr| match e {
        TaskDbErr::SqlError(_) => "sql",
        TaskDbErr::InternalErr(_) => "internal",
        TaskDbErr::MigrateErr(_) => "migrate",
        TaskDbErr::JsonErr(_) => "json",
        TaskDbErr::InvalidBeMult => "be_mult",
        _ => "taskdb",
    };
    assert_eq!(describe(&err), "migrate");
    assert_eq!(describe(&TaskDbErr::InternalErr("x".into())), "internal");
    let nothing = taskdb::get_job_state(&pool, &Uuid::new_v4(), "u")
        .await
        .unwrap_err();
    assert_eq!(describe(&nothing), "sql");
    let json = serde_json::from_str::<JsonValue>("{").unwrap_err();
    assert_eq!(describe(&TaskDbErr::from(json)), "json");
    assert_eq!(
        describe(
            &taskdb::create_stream(&pool, "CPU", 1, 0.0, "u")
                .await
                .unwrap_err()
        ),
        "be_mult"
    );
    let from_sqlx: TaskDbErr = SqlxError::RowNotFound.into();
    assert!(from_sqlx.is_not_found());
}

#[test]
fn the_types_are_the_postgres_crates() {
    assert_eq!(JobState::Running.to_string(), "RUNNING");
    assert_eq!(JobState::Done.to_string(), "SUCCEEDED");
    assert_eq!(JobState::Failed.to_string(), "FAILED");
    let names: Vec<String> = [
        TaskState::Pending,
        TaskState::Ready,
        TaskState::Running,
        TaskState::Done,
        TaskState::Failed,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names, ["Pending", "Ready", "Running", "Done", "Failed"]);
    let exhaustive = |s: TaskState| match s {
        TaskState::Pending | TaskState::Ready | TaskState::Running => false,
        TaskState::Done | TaskState::Failed => true,
    };
    assert!(exhaustive(TaskState::Done));
    for s in [JobState::Running, JobState::Done, JobState::Failed] {
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<JobState>(&text).unwrap(), s);
    }
    let text = serde_json::to_string(&TaskState::Ready).unwrap();
    assert_eq!(
        serde_json::from_str::<TaskState>(&text).unwrap(),
        TaskState::Ready
    );

    let raw = ReadyTaskRaw {
        job_id: Some(Uuid::nil()),
        task_id: Some(INIT_TASK.into()),
        task_def: Some(JsonValue::Null),
        prereqs: Some(serde_json::json!([])),
        max_retries: Some(3),
    };
    let task: ReadyTask = raw.get().unwrap();
    assert_eq!((task.task_id.as_str(), task.max_retries), (INIT_TASK, 3));
    assert!(ReadyTaskRaw {
        task_id: None,
        ..Default::default()
    }
    .get()
    .is_none());

    let info = StuckTaskInfo {
        job_id: Uuid::nil(),
        task_id: "t".into(),
        waiting_on: 1_i32,
        actual_deps: 2_i32,
        completed_deps: 2_i32,
        should_be_ready: true,
    };
    assert!(info.should_be_ready && info.actual_deps == info.completed_deps);

    let mut planner = Planner::default();
    assert!(matches!(
        planner.finish(),
        Err(PlannerErr::PlanNotStartedString)
    ));
    assert_eq!(planner.enqueue_segment().unwrap(), 0);
    let step: &PlanTask = planner.get_task(0);
    assert_eq!(
        (step.task_height, step.command.clone()),
        (0, TaskCmd::Segment)
    );
}

/// With the `sqlx` feature, not-found is sqlx's own error, re-exported as `SqlxError`.
#[cfg(feature = "sqlx")]
#[tokio::test]
async fn with_the_sqlx_feature_not_found_is_sqlx_row_not_found() {
    let (_s, pool) = pool().await;
    let r = taskdb::get_job_state(&pool, &Uuid::new_v4(), "u").await;
    assert!(matches!(
        r,
        Err(TaskDbErr::SqlError(sqlx::Error::RowNotFound))
    ));
    let same: fn(SqlxError) -> sqlx::Error = |e| e;
    assert!(matches!(
        same(sqlx::Error::RowNotFound),
        sqlx::Error::RowNotFound
    ));
}
