//! Tasks: creation and the per-task queries.
//!
//! `TASKDB.CREATE_TASK`, `TASKDB.TASK`, `TASKDB.TASK_OUTPUT`.

use crate::args::Args;
use crate::db::{Db, Task};
use crate::error::{Error, Result};
use crate::keys::field;
use crate::model::{self, JobState, TaskState};
use crate::replicate;
use crate::store::{now_ms, Field, Key, Kind, Val};
use redis_module::{Context, RedisString, RedisValue};

/// The fields TASKDB.TASK replies with, in order.
pub const TASK_FIELDS: [&str; 16] = [
    "state",
    "stream_id",
    "task_def",
    "prerequisites",
    "waiting_on",
    "progress",
    "retries",
    "max_retries",
    "timeout_secs",
    "output",
    "error",
    "created_at",
    "started_at",
    "updated_at",
    "attempt",
    "worker_id",
];

/// The stored form of "no prerequisites" (the field is left out for it).
pub const NO_PREREQUISITES: &[u8] = b"[]";

/// A task's prerequisite list as stored, or the empty list.
pub fn prerequisites_or_none(v: Option<crate::store::RStr>) -> Vec<u8> {
    v.map_or_else(|| NO_PREREQUISITES.to_vec(), |s| s.to_vec())
}

/// A task's creation arguments, validated.
pub struct NewTask<'a> {
    /// Task id within its job.
    pub task_id: &'a [u8],
    /// Its stream.
    pub stream_id: String,
    /// Its definition (valid JSON, stored as sent).
    pub task_def: &'a [u8],
    /// Its prerequisite list as sent.
    pub prereqs_json: &'a [u8],
    /// The parsed prerequisite ids.
    pub prereqs: Vec<String>,
    /// Retry limit.
    pub max_retries: i64,
    /// Lease length.
    pub timeout_secs: i64,
}

impl<'a> NewTask<'a> {
    /// Parses `task_id stream_id task_def_json prereqs_json max_retries timeout_secs`.
    pub fn parse(a: &mut Args<'a>) -> Result<Self> {
        let task_id = a.name("task_id")?;
        let stream_id = a.uuid("stream_id")?;
        let task_def = a.json("task_def_json")?;
        let (prereqs_json, prereqs) = a.prerequisites(task_id)?;
        let max_retries = a.int("max_retries", 0, i32::MAX.into())?;
        let timeout_secs = a.int("timeout_secs", 0, i32::MAX.into())?;
        Ok(NewTask {
            task_id,
            stream_id,
            task_def,
            prereqs_json,
            prereqs,
            max_retries,
            timeout_secs,
        })
    }
}

/// Creates a task in job `job_id`. Validates the job, the stream, the task id and the
/// prerequisites before the first write.
pub fn insert(db: &Db, job_id: &str, t: &NewTask, now: i64) -> Result<()> {
    let (job_state, job_seq) = db.with_job(job_id, false, |j, _| (j.state, j.seq))?;
    if job_state == JobState::Done {
        return Err(Error::Refused(format!(
            "job '{job_id}' is done: a finished job takes no new tasks"
        )));
    }
    db.stream_worker_type(&t.stream_id)?;
    let k = db.open(db.keys.task(job_seq, t.task_id), true, Kind::Hash)?;
    if k.exists() {
        return Err(Error::Exists(format!(
            "task '{}' already exists in job '{job_id}'",
            crate::error::shorten(t.task_id)
        )));
    }
    let mut not_done = 0;
    for p in &t.prereqs {
        match db.task(job_id, p.as_bytes(), false)? {
            Some((_, pt)) => not_done += i64::from(pt.state != TaskState::Done),
            None => {
                return Err(Error::NotFound(format!(
                    "prerequisite '{}' of task '{}' does not exist in job '{job_id}'",
                    crate::error::shorten(p.as_bytes()),
                    crate::error::shorten(t.task_id)
                )))
            }
        }
    }

    let idx = db.with_job(job_id, true, |j, _| {
        j.unresolved += 1;
        j.tasks += 1;
        j.tasks - 1
    })?;
    let state = if job_state == JobState::Failed {
        // A failed job's new tasks are never handed out.
        TaskState::Cancelled
    } else if not_done == 0 {
        TaskState::Ready
    } else {
        TaskState::Pending
    };
    let task = Task {
        job_id: job_id.to_string(),
        job_seq,
        id: t.task_id.to_vec(),
        state,
        stream_id: t.stream_id.clone(),
        idx: idx as u64,
        waiting_on: not_done,
        retries: 0,
        max_retries: t.max_retries,
        timeout_secs: t.timeout_secs,
        started_at: None,
        updated_at: None,
        attempt: 0,
    };
    write(db, &k, &task, t, now, &[])
}

/// Writes a new task (already validated, `task` holding its state and index) with
/// `extra` fields, and accounts for it in its job's task list, dependency links, stream
/// counts, queue and leases. Shared by CREATE_TASK and RESTORE_TASK.
pub fn write(
    db: &Db,
    k: &Key,
    task: &Task,
    t: &NewTask,
    created_at: i64,
    extra: &[(&Field, Val)],
) -> Result<()> {
    let sched = task.sched().pack();
    let mut fields = vec![
        (&field::SCHED, Val::Bytes(sched.bytes())),
        (&field::TASK_DEF, Val::Bytes(t.task_def)),
        (&field::CREATED_AT, Val::Int(created_at)),
    ];
    // The usual empty list is not stored (readers default to it): 20 bytes a task.
    if t.prereqs_json != NO_PREREQUISITES {
        fields.push((&field::PREREQUISITES, Val::Bytes(t.prereqs_json)));
    }
    fields.extend_from_slice(extra);
    k.hmset(&fields);
    db.open(db.keys.job_tasks(&task.job_id), true, Kind::List)?
        .rpush(t.task_id);
    if !t.prereqs.is_empty() {
        let deps = db.open(db.keys.dependents(&task.job_id), true, Kind::Zset)?;
        for p in &t.prereqs {
            deps.zadd(0.0, &model::dependent_link(p.as_bytes(), t.task_id));
        }
    }
    db.add_task(task)
}

/// `TASKDB.CREATE_TASK ns job_id task_id stream_id task_def_json prereqs_json max_retries timeout_secs` -> OK
pub fn create_task(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.CREATE_TASK ns job_id task_id stream_id task_def_json prereqs_json max_retries timeout_secs";
    let mut a = Args::new(args, USAGE, 8, 8)?;
    let (_, keys) = a.ns()?;
    let job_id = a.uuid("job_id")?;
    let t = NewTask::parse(&mut a)?;
    let db = Db::new(ctx, keys);
    let now = now_ms();
    insert(&db, &job_id, &t, now)?;
    db.flush()?;
    replicate::decision_as_sent(ctx, args, now, c"CREATE_TASK");
    Ok(RedisValue::SimpleStringStatic("OK"))
}

/// `TASKDB.TASK ns job_id task_id` -> field/value pairs or nil
pub fn task(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.TASK ns job_id task_id";
    let mut a = Args::new(args, USAGE, 3, 3)?;
    let (_, keys) = a.ns()?;
    let job_id = a.uuid("job_id")?;
    let task_id = a.id("task_id")?;
    let db = Db::new(ctx, keys);
    let Some((k, t)) = db.task(&job_id, task_id, false)? else {
        return Ok(RedisValue::Null);
    };
    let stored = k.hmget([
        &field::TASK_DEF,
        &field::PREREQUISITES,
        &field::PROGRESS,
        &field::OUTPUT,
        &field::ERROR,
        &field::CREATED_AT,
        &field::WORKER_ID,
    ]);
    let [def, pre, progress, output, error, created, worker] = stored;
    let num = |n: i64| Some(n.to_string().into_bytes());
    let time = |n: Option<i64>| n.and_then(num);
    let bytes = |v: Option<crate::store::RStr>| v.map(|v| v.to_vec());
    // An ended task's progress is 1; a new one stores none yet: 0.
    let progress = if matches!(t.state, TaskState::Done | TaskState::Failed) {
        Some(b"1".to_vec())
    } else {
        bytes(progress).or_else(|| Some(b"0".to_vec()))
    };
    let values = [
        Some(t.state.as_str().as_bytes().to_vec()),
        Some(t.stream_id.clone().into_bytes()),
        bytes(def),
        Some(prerequisites_or_none(pre)),
        num(t.waiting_on),
        progress,
        num(t.retries),
        num(t.max_retries),
        num(t.timeout_secs),
        bytes(output),
        bytes(error),
        bytes(created),
        time(t.started_at),
        time(t.updated_at),
        num(t.attempt),
        bytes(worker),
    ];
    let mut out = Vec::with_capacity(TASK_FIELDS.len() * 2);
    for (name, v) in TASK_FIELDS.iter().zip(values) {
        out.push(RedisValue::BulkString((*name).to_string()));
        out.push(v.map_or(RedisValue::Null, RedisValue::StringBuffer));
    }
    Ok(RedisValue::Array(out))
}

/// `TASKDB.TASK_OUTPUT ns job_id task_id` -> the output JSON of a done task
pub fn task_output(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.TASK_OUTPUT ns job_id task_id";
    let mut a = Args::new(args, USAGE, 3, 3)?;
    let (_, keys) = a.ns()?;
    let job_id = a.uuid("job_id")?;
    let task_id = a.id("task_id")?;
    let db = Db::new(ctx, keys);
    let (k, t) = db.task_req(&job_id, task_id, false)?;
    if t.state != TaskState::Done {
        return Err(Error::NotFound(format!(
            "task '{}' of job '{job_id}' has no output: it is {}",
            crate::error::shorten(task_id),
            t.state.as_str()
        )));
    }
    let [out] = k.hmget([&field::OUTPUT]);
    out.map(|o| RedisValue::StringBuffer(o.to_vec()))
        .ok_or_else(|| Error::Corrupt("output of a done task is missing".into()))
}
