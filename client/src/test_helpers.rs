//! Helpers for tests: a task's and a job's stored fields.

use crate::{pairs, JobState, RedisTaskDB, TaskDbErr, TaskState};
use serde_json::Value as JsonValue;
use uuid::Uuid;

/// A task's fields, as `TASKDB.TASK` shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Its state.
    pub state: TaskState,
    /// Its stream.
    pub stream_id: Uuid,
    /// Its definition.
    pub task_def: JsonValue,
    /// Its prerequisite list.
    pub prerequisites: JsonValue,
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
    /// Error, once failed (or "" after a retry).
    pub error: Option<String>,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Last claim time.
    pub started_at: Option<i64>,
    /// Last update time.
    pub updated_at: Option<i64>,
    /// Claims so far: the current (or last) attempt's number.
    pub attempt: i64,
    /// Who holds (or last held) it, as its claim named the worker.
    pub worker_id: Option<String>,
}

/// A job's fields, as `TASKDB.JOB` shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its state.
    pub state: JobState,
    /// Its error, once failed.
    pub error: Option<String>,
    /// Owner.
    pub user_id: String,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
}

fn bad(what: &str) -> TaskDbErr {
    TaskDbErr::Reply(format!("bad field {what}"))
}

/// A task's fields (`NotFound` if there is no such task).
pub async fn get_task(db: &RedisTaskDB, job_id: &Uuid, task_id: &str) -> Result<Task, TaskDbErr> {
    let v = db.run(db.task_cmd("TASKDB.TASK", job_id, task_id)).await?;
    if v == redis::Value::Nil {
        return Err(TaskDbErr::NotFound(format!(
            "task '{task_id}' of job '{job_id}'"
        )));
    }
    let f = pairs(&v)?;
    let s = |k: &str| f.get(k).cloned().ok_or_else(|| bad(k));
    let n = |k: &str| s(k)?.parse::<i64>().map_err(|_| bad(k));
    let opt_n = |k: &str| f.get(k).and_then(|v| v.parse::<i64>().ok());
    Ok(Task {
        state: TaskState::parse(&s("state")?).ok_or_else(|| bad("state"))?,
        stream_id: Uuid::parse_str(&s("stream_id")?).map_err(|_| bad("stream_id"))?,
        task_def: serde_json::from_str(&s("task_def")?)?,
        prerequisites: serde_json::from_str(&s("prerequisites")?)?,
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
        created_at: n("created_at")?,
        started_at: opt_n("started_at"),
        updated_at: opt_n("updated_at"),
        attempt: n("attempt")?,
        worker_id: f.get("worker_id").cloned(),
    })
}

/// Every task of a job with its fields, in creation order.
pub async fn get_tasks(db: &RedisTaskDB, job_id: &Uuid) -> Result<Vec<(String, Task)>, TaskDbErr> {
    let ids = db
        .list("TASKDB.JOB_TASKS", &[&job_id.to_string()], &[])
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let t = get_task(db, job_id, &id).await?;
        out.push((id, t));
    }
    Ok(out)
}

/// Deletes every job of the namespace with its tasks (streams stay: TaskDB has no command
/// that deletes a stream).
pub async fn cleanup(db: &RedisTaskDB) -> Result<(), TaskDbErr> {
    let ids = db.list("TASKDB.JOBS", &[], &[]).await?;
    for id in ids {
        let mut c = db.cmd("TASKDB.DELETE_JOB");
        c.arg(id);
        db.run(c).await?;
    }
    Ok(())
}

/// A job's fields (`NotFound` if there is no such job).
pub async fn get_job(db: &RedisTaskDB, job_id: &Uuid) -> Result<Job, TaskDbErr> {
    let mut c = db.cmd("TASKDB.JOB");
    c.arg(job_id.to_string());
    let v = db.run(c).await?;
    if v == redis::Value::Nil {
        return Err(TaskDbErr::NotFound(format!("job '{job_id}'")));
    }
    let f = pairs(&v)?;
    let s = |k: &str| f.get(k).cloned().ok_or_else(|| bad(k));
    Ok(Job {
        state: JobState::parse(&s("state")?).ok_or_else(|| bad("state"))?,
        error: f.get("error").cloned(),
        user_id: s("user_id")?,
        created_at: s("created_at")?.parse().map_err(|_| bad("created_at"))?,
    })
}
