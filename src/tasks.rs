//! Tasks: creation and the per-task queries.
//!
//! `TASKDB.CREATE_TASK`, `TASKDB.TASK`, `TASKDB.TASK_OUTPUT`.

use crate::args::{self, Args};
use crate::db::{count_field, Db, Job, Task};
use crate::error::{Error, Result};
use crate::model::{self, JobState, TaskState};
use crate::replicate;
use crate::store::{now_ms, Key, Kind};
use redis_module::{Context, RedisString, RedisValue};

/// The fields TASKDB.TASK replies with, in order.
pub const TASK_FIELDS: [&str; 14] = [
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
];

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
        let prereqs_json = a.bytes()?;
        let prereqs = args::prerequisites(prereqs_json, task_id)?;
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

/// Creates a task in job `job` (already loaded for writing). Validates the stream, the
/// task id and the prerequisites before the first write.
pub fn insert(db: &Db, jk: &Key, job: &mut Job, t: &NewTask, now: i64) -> Result<()> {
    if job.state == JobState::Done {
        return Err(Error::Refused(format!(
            "job '{}' is done: a finished job takes no new tasks",
            job.id
        )));
    }
    let (sk, mut stream) = db.stream_req(&t.stream_id, true)?;
    let k = db.open(&db.keys.task(&job.id, t.task_id), true, Kind::Hash)?;
    if k.exists() {
        return Err(Error::Exists(format!(
            "task '{}' already exists in job '{}'",
            crate::error::shorten(t.task_id),
            job.id
        )));
    }
    let mut not_done = 0;
    for p in &t.prereqs {
        match db.task(&job.id, p.as_bytes(), false)? {
            Some((_, pt)) => not_done += i64::from(pt.state != TaskState::Done),
            None => {
                return Err(Error::NotFound(format!(
                    "prerequisite '{}' of task '{}' does not exist in job '{}'",
                    crate::error::shorten(p.as_bytes()),
                    crate::error::shorten(t.task_id),
                    job.id
                )))
            }
        }
    }

    let seq = db.next_seq()?;
    let state = if not_done == 0 {
        TaskState::Ready
    } else {
        TaskState::Pending
    };
    k.hset(b"state", state.as_str().as_bytes());
    k.hset(b"stream_id", t.stream_id.as_bytes());
    k.hset(b"task_def", t.task_def);
    k.hset(b"prerequisites", t.prereqs_json);
    k.hset_i64("waiting_on", not_done);
    k.hset(b"progress", b"0");
    k.hset_i64("retries", 0);
    k.hset_i64("max_retries", t.max_retries);
    k.hset_i64("timeout_secs", t.timeout_secs);
    k.hset_i64("created_at", now);
    k.hset_i64("seq", seq as i64);

    job.unresolved = jk.hincr(b"unresolved", 1)?;
    jk.hincr(b"tasks", 1)?;
    db.open(&db.keys.job_tasks(&job.id), true, Kind::List)?
        .rpush(t.task_id);
    for p in &t.prereqs {
        db.open(&db.keys.dependents(&job.id, p.as_bytes()), true, Kind::List)?
            .rpush(t.task_id);
    }
    db.open(&db.keys.counts(), true, Kind::Hash)?
        .counter_add(&count_field(state, &stream.worker_type), 1)?;
    if state == TaskState::Ready {
        db.adjust_stream(&sk, &mut stream, 1, 0)?;
        db.open(&db.keys.queue(&t.stream_id), true, Kind::Zset)?
            .zadd(
                model::queue_score(job.seq),
                &model::queue_member(seq, &job.id, t.task_id),
            );
    }
    Ok(())
}

/// `TASKDB.CREATE_TASK ns job_id task_id stream_id task_def_json prereqs_json max_retries timeout_secs` -> OK
pub fn create_task(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.CREATE_TASK ns job_id task_id stream_id task_def_json prereqs_json max_retries timeout_secs";
    let mut a = Args::new(args, USAGE, 8, 8)?;
    let (ns, keys) = a.ns()?;
    let job_id = a.uuid("job_id")?;
    let t = NewTask::parse(&mut a)?;
    let db = Db::new(ctx, keys);
    let now = now_ms();
    apply_create(&db, &job_id, &t, now)?;
    replicate::decision(ctx, ns, now, "CREATE_TASK", &args_after_ns(args));
    Ok(RedisValue::SimpleStringStatic("OK"))
}

/// CREATE_TASK's effect, shared with replay.
pub fn apply_create(db: &Db, job_id: &str, t: &NewTask, now: i64) -> Result<()> {
    let (jk, mut job) = db.job_req(job_id, true)?;
    insert(db, &jk, &mut job, t, now)
}

/// The raw arguments after the namespace.
pub fn args_after_ns(args: &[RedisString]) -> Vec<&[u8]> {
    args.iter().skip(2).map(|a| a.as_slice()).collect()
}

/// `TASKDB.TASK ns job_id task_id` -> field/value pairs or nil
pub fn task(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.TASK ns job_id task_id";
    let mut a = Args::new(args, USAGE, 3, 3)?;
    let (_, keys) = a.ns()?;
    let job_id = a.uuid("job_id")?;
    let task_id = a.name("task_id")?;
    let db = Db::new(ctx, keys);
    let k = db.open(&db.keys.task(&job_id, task_id), false, Kind::Hash)?;
    if !k.exists() {
        return Ok(RedisValue::Null);
    }
    Ok(crate::reply::fields(&k, &TASK_FIELDS))
}

/// `TASKDB.TASK_OUTPUT ns job_id task_id` -> the output JSON of a done task
pub fn task_output(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.TASK_OUTPUT ns job_id task_id";
    let mut a = Args::new(args, USAGE, 3, 3)?;
    let (_, keys) = a.ns()?;
    let job_id = a.uuid("job_id")?;
    let task_id = a.name("task_id")?;
    let db = Db::new(ctx, keys);
    let (k, t): (Key, Task) = db.task_req(&job_id, task_id, false)?;
    if t.state != TaskState::Done {
        return Err(Error::NotFound(format!(
            "task '{}' of job '{job_id}' has no output: it is {}",
            crate::error::shorten(task_id),
            t.state.as_str()
        )));
    }
    Ok(RedisValue::StringBuffer(k.hget_req("output")?))
}
