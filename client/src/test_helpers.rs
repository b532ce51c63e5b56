//! Helpers for tests, as the PostgreSQL TaskDB crate's `test_helpers`: a task's and a
//! job's stored fields, every task of the namespace, and a cleanup.

use crate::error::not_found;
use crate::{pairs, FullTaskState, JobState, RedisTaskDB, TaskDbErr, TaskState};
use chrono::NaiveDateTime;
use redis::Value;
use serde_json::Value as JsonValue;
use std::collections::HashMap;
use uuid::Uuid;

/// A task's fields, as the PostgreSQL crate's `tasks` row (and TaskDB's own after them).
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Its job.
    pub job_id: Uuid,
    /// Its id in the job.
    pub task_id: String,
    /// Its stream.
    pub stream_id: Uuid,
    /// Its definition.
    pub task_def: JsonValue,
    /// Its prerequisite list.
    pub prerequisites: JsonValue,
    /// Its state (a cancelled task shows as `Failed`, as in PostgreSQL).
    pub state: TaskState,
    /// Creation time (UTC, millisecond precision).
    pub created_at: NaiveDateTime,
    /// Last claim time.
    pub started_at: Option<NaiveDateTime>,
    /// Last update time.
    pub updated_at: Option<NaiveDateTime>,
    /// Prerequisites not done.
    pub waiting_on: i32,
    /// Progress, 0 to 1.
    pub progress: f32,
    /// Retries so far.
    pub retries: i32,
    /// Retry limit.
    pub max_retries: i32,
    /// Lease length.
    pub timeout_secs: i32,
    /// Output, once done.
    pub output: Option<JsonValue>,
    /// Error, once failed (`Some("")` after a retry, as in PostgreSQL).
    pub error: Option<String>,
    /// Its state as TaskDB keeps it (tells `Cancelled` from `Failed`).
    pub full_state: FullTaskState,
    /// Claims so far: the current (or last) attempt's number.
    pub attempt: i64,
    /// Who holds (or last held) it, as its claim named the worker.
    pub worker_id: Option<String>,
}

/// A job's fields, as the PostgreSQL crate's `jobs` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: Option<Uuid>,
    /// Its state.
    pub state: Option<JobState>,
    /// Its error, once failed.
    pub error: Option<String>,
    /// Owner.
    pub user_id: String,
}

fn bad(what: &str) -> TaskDbErr {
    TaskDbErr::InternalErr(format!("bad field {what} in a TASKDB reply"))
}

fn time(ms: i64) -> Result<NaiveDateTime, TaskDbErr> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.naive_utc())
        .ok_or_else(|| bad("time"))
}

fn task_from(job_id: Uuid, task_id: &str, f: &HashMap<String, String>) -> Result<Task, TaskDbErr> {
    let s = |k: &str| f.get(k).cloned().ok_or_else(|| bad(k));
    let n = |k: &str| s(k)?.parse::<i64>().map_err(|_| bad(k));
    let opt_time = |k: &str| {
        f.get(k)
            .map(|v| v.parse::<i64>().map_err(|_| bad(k)).and_then(time))
            .transpose()
    };
    let full_state = FullTaskState::parse(&s("state")?).ok_or_else(|| bad("state"))?;
    Ok(Task {
        job_id,
        task_id: task_id.to_string(),
        stream_id: Uuid::parse_str(&s("stream_id")?).map_err(|_| bad("stream_id"))?,
        task_def: serde_json::from_str(&s("task_def")?)?,
        prerequisites: serde_json::from_str(&s("prerequisites")?)?,
        state: full_state.into(),
        created_at: time(n("created_at")?)?,
        started_at: opt_time("started_at")?,
        updated_at: opt_time("updated_at")?,
        waiting_on: n("waiting_on")? as i32,
        progress: s("progress")?.parse().map_err(|_| bad("progress"))?,
        retries: n("retries")? as i32,
        max_retries: n("max_retries")? as i32,
        timeout_secs: n("timeout_secs")? as i32,
        output: f
            .get("output")
            .map(|o| serde_json::from_str(o))
            .transpose()?,
        error: f.get("error").cloned(),
        full_state,
        attempt: n("attempt")?,
        worker_id: f.get("worker_id").cloned(),
    })
}

/// A task's fields (`SqlError(RowNotFound)` if there is no such task).
pub async fn get_task(db: &RedisTaskDB, job_id: &Uuid, task_id: &str) -> Result<Task, TaskDbErr> {
    match db.run(db.task_cmd("TASKDB.TASK", job_id, task_id)).await? {
        Value::Nil => Err(not_found()),
        v => task_from(*job_id, task_id, &pairs(&v)?),
    }
}

/// Every task of a job, in creation order (one pipelined round trip per 1,000 tasks).
pub async fn get_job_tasks(db: &RedisTaskDB, job_id: &Uuid) -> Result<Vec<Task>, TaskDbErr> {
    let job = job_id.to_string();
    let ids = db
        .list_on(db.layout.of_job(job_id), "TASKDB.JOB_TASKS", &[&job], &[])
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        let mut p = redis::pipe();
        for id in chunk {
            p.add_command(db.task_cmd("TASKDB.TASK", job_id, id));
        }
        for (id, v) in chunk.iter().zip(db.run_pipe(p).await?) {
            if v != Value::Nil {
                out.push(task_from(*job_id, id, &pairs(&v)?)?);
            }
        }
    }
    Ok(out)
}

/// Every task of the namespace, in creation order (by creation time, then by job and
/// by task: tasks of different jobs created in the same millisecond keep job order), so
/// `get_tasks(&db)[0]` is the first job's `init` as in PostgreSQL.
pub async fn get_tasks(db: &RedisTaskDB) -> Result<Vec<Task>, TaskDbErr> {
    let mut out = Vec::new();
    for ns in db.namespaces() {
        for id in db.list_on(ns, "TASKDB.JOBS", &[], &[]).await? {
            let job = Uuid::parse_str(&id).map_err(|_| bad("job id"))?;
            out.extend(get_job_tasks(db, &job).await?);
        }
    }
    out.sort_by_key(|t| t.created_at);
    Ok(out)
}

/// A job's fields (`SqlError(RowNotFound)` if there is no such job).
pub async fn get_job(db: &RedisTaskDB, job_id: &Uuid) -> Result<Job, TaskDbErr> {
    let v = db.run(db.job_cmd("TASKDB.JOB", job_id)).await?;
    if v == Value::Nil {
        return Err(not_found());
    }
    let f = pairs(&v)?;
    Ok(Job {
        id: Some(*job_id),
        state: Some(
            f.get("state")
                .and_then(|s| JobState::parse(s))
                .ok_or_else(|| bad("state"))?,
        ),
        error: f.get("error").cloned(),
        user_id: f.get("user_id").cloned().ok_or_else(|| bad("user_id"))?,
    })
}

/// Deletes everything of the namespace: streams, jobs and tasks (the namespace key is
/// unlinked, every shard's of a sharded TaskDB, which stays sharded; a big one is freed in
/// the background). Panics if Redis fails, as the PostgreSQL crate's `cleanup` does.
pub async fn cleanup(db: &RedisTaskDB) {
    for ns in db.namespaces() {
        let mut c = redis::cmd("UNLINK");
        c.arg(ns);
        db.run(c).await.expect("cleanup: UNLINK of the namespace");
    }
}
