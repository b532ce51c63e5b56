//! Jobs: creation, the per-job queries, deletion.
//!
//! `TASKDB.CREATE_JOB`, `TASKDB.JOB_STATE`, `TASKDB.JOB_UNRESOLVED`, `TASKDB.CONCURRENT_JOBS`,
//! `TASKDB.JOB_TIME`, `TASKDB.JOB_FAILURE`, `TASKDB.JOB`, `TASKDB.DELETE_JOB`,
//! `TASKDB.CLEAR_COMPLETED`.

use crate::args::Args;
use crate::db::{Db, Job};
use crate::error::{Error, Result};
use crate::keys::field;
use crate::model::{self, JobState, Priority, TaskState};
use crate::replicate;
use crate::store::{now_ms, Kind, Val};
use crate::tasks::{self, NewTask};
use redis_module::{Context, RedisString, RedisValue};

/// The task every job starts with.
pub const INIT_TASK: &str = "init";

/// A job's creation arguments, validated.
pub struct NewJob<'a> {
    /// The stream of its init task.
    pub stream_id: String,
    /// The init task's definition.
    pub task_def: &'a [u8],
    /// The init task's retry limit.
    pub max_retries: i64,
    /// The init task's lease length.
    pub timeout_secs: i64,
    /// Owner.
    pub user_id: &'a [u8],
    /// The id asked for with `ID`, if any.
    pub id: Option<String>,
    /// Its priority (`PRIORITY`, default medium).
    pub priority: Priority,
}

impl<'a> NewJob<'a> {
    /// Parses `stream_id task_def_json max_retries timeout_secs user_id [ID uuid]
    /// [PRIORITY high|medium|low]`.
    pub fn parse(a: &mut Args<'a>) -> Result<Self> {
        let stream_id = a.uuid("stream_id")?;
        let task_def = a.json("task_def_json")?;
        let max_retries = a.int("max_retries", 0, i32::MAX.into())?;
        let timeout_secs = a.int("timeout_secs", 0, i32::MAX.into())?;
        let user_id = a.name("user_id")?;
        let (mut id, mut priority) = (None, None);
        while a.has_more() {
            let word = a.bytes()?;
            if word.eq_ignore_ascii_case(b"ID") && id.is_none() {
                id = Some(a.uuid("ID")?);
            } else if word.eq_ignore_ascii_case(b"PRIORITY") && priority.is_none() {
                let p = a.bytes()?;
                priority =
                    Some(Priority::parse(p).ok_or_else(|| {
                        Error::invalid("PRIORITY", p, "must be high, medium or low")
                    })?);
            } else {
                return Err(Error::invalid(
                    "option",
                    word,
                    "expected ID uuid or PRIORITY high|medium|low, each at most once",
                ));
            }
        }
        Ok(NewJob {
            stream_id,
            task_def,
            max_retries,
            timeout_secs,
            user_id,
            id,
            priority: priority.unwrap_or(Priority::Medium),
        })
    }
}

/// Writes a new job with id `id` and its `init` task. Validates before the first write.
pub fn insert(db: &Db, id: &str, j: &NewJob, now: i64) -> Result<()> {
    let jk = db.open(db.keys.job(id), true, Kind::Hash)?;
    if jk.exists() {
        return Err(Error::Exists(format!("job '{id}' already exists")));
    }
    db.stream_worker_type(&j.stream_id)?;
    let seq = db.next_seq()?;
    let job = Job {
        id: id.to_string(),
        state: JobState::Running,
        seq,
        unresolved: 0,
        tasks: 0,
        priority: j.priority,
        first_started_at: 0,
        last_updated_at: 0,
    };
    jk.hmset(&[
        (&field::STATE, Val::Bytes(b"running")),
        (&field::SCHED, Val::Bytes(job.sched().bytes())),
        (&field::USER_ID, Val::Bytes(j.user_id)),
        (&field::CREATED_AT, Val::Int(now)),
        (&field::PRIORITY, Val::Bytes(j.priority.as_str().as_bytes())),
    ]);
    db.open(db.keys.jobs(), true, Kind::Hash)?
        .hset(id.as_bytes(), JobState::Running.as_str().as_bytes());
    db.set_job_of_seq(seq, Some(id))?;
    db.open(db.keys.running_jobs(), true, Kind::Hash)?
        .counter_add(j.user_id, 1)?;
    db.open(db.keys.job_counts(), true, Kind::Hash)?
        .counter_add(b"running", 1)?;
    db.cache_job(jk, job);
    let init = NewTask {
        task_id: INIT_TASK.as_bytes(),
        stream_id: j.stream_id.clone(),
        task_def: j.task_def,
        prereqs_json: b"[]",
        prereqs: Vec::new(),
        max_retries: j.max_retries,
        timeout_secs: j.timeout_secs,
    };
    tasks::insert(db, id, &init, now)
}

/// `TASKDB.CREATE_JOB ns stream_id task_def_json max_retries timeout_secs user_id [ID uuid]` -> job id
pub fn create_job(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.CREATE_JOB ns stream_id task_def_json max_retries timeout_secs user_id [ID uuid] [PRIORITY high|medium|low]";
    let mut a = Args::new(args, USAGE, 6, 10)?;
    let (ns, keys) = a.ns()?;
    let j = NewJob::parse(&mut a)?;
    let db = Db::new(ctx, keys);
    let id =
        j.id.clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().hyphenated().to_string());
    let now = now_ms();
    insert(&db, &id, &j, now)?;
    db.flush()?;
    let mut rep: Vec<&[u8]> = args.iter().skip(2).take(5).map(|a| a.as_slice()).collect();
    rep.extend_from_slice(&[
        b"ID",
        id.as_bytes(),
        b"PRIORITY",
        j.priority.as_str().as_bytes(),
    ]);
    replicate::decision(ctx, ns, now, "CREATE_JOB", &rep);
    Ok(RedisValue::BulkString(id))
}

fn job_and_key<'c>(
    ctx: &'c Context,
    args: &[RedisString],
    usage: &'static str,
) -> Result<(Db<'c>, String)> {
    let mut a = Args::new(args, usage, 2, 2)?;
    let (_, keys) = a.ns()?;
    let job_id = a.uuid("job_id")?;
    Ok((Db::new(ctx, keys), job_id))
}

/// `TASKDB.JOB_STATE ns job_id user_id` -> running | done | failed
pub fn job_state(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.JOB_STATE ns job_id user_id";
    let mut a = Args::new(args, USAGE, 3, 3)?;
    let (_, keys) = a.ns()?;
    let job_id = a.uuid("job_id")?;
    let user_id = a.id("user_id")?;
    let db = Db::new(ctx, keys);
    match db.job(&job_id)? {
        Some((k, j)) if db.job_user(&k)? == user_id => {
            Ok(RedisValue::SimpleStringStatic(j.state.as_str()))
        }
        _ => Err(Error::NotFound(format!(
            "job '{job_id}' does not exist for user '{}'",
            crate::error::shorten(user_id)
        ))),
    }
}

/// `TASKDB.JOB_UNRESOLVED ns job_id` -> number of the job's tasks not done
pub fn job_unresolved(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (db, job_id) = job_and_key(ctx, args, "TASKDB.JOB_UNRESOLVED ns job_id")?;
    let (_, j) = db.job_req(&job_id)?;
    Ok(RedisValue::Integer(j.unresolved))
}

/// `TASKDB.CONCURRENT_JOBS ns user_id` -> number of the user's running jobs
pub fn concurrent_jobs(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.CONCURRENT_JOBS ns user_id";
    let mut a = Args::new(args, USAGE, 2, 2)?;
    let (_, keys) = a.ns()?;
    let user_id = a.id("user_id")?;
    let db = Db::new(ctx, keys);
    let k = db.open(db.keys.running_jobs(), false, Kind::Hash)?;
    let n = match k.hget(user_id) {
        Some(v) => std::str::from_utf8(v.as_bytes())
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Corrupt("running-jobs counter".into()))?,
        None => 0,
    };
    Ok(RedisValue::Integer(n))
}

/// `TASKDB.JOB_TIME ns job_id` -> seconds from the first start to the last update, or nil
pub fn job_time(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (db, job_id) = job_and_key(ctx, args, "TASKDB.JOB_TIME ns job_id")?;
    let (_, j) = db.job_req(&job_id)?;
    if j.first_started_at == 0 {
        return Ok(RedisValue::Null);
    }
    let end = j.last_updated_at.max(j.first_started_at);
    Ok(RedisValue::Float(
        (end - j.first_started_at) as f64 / 1000.0,
    ))
}

/// `TASKDB.JOB_FAILURE ns job_id` -> the error of the job's failed task
pub fn job_failure(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (db, job_id) = job_and_key(ctx, args, "TASKDB.JOB_FAILURE ns job_id")?;
    let (k, j) = db.job_req(&job_id)?;
    match (j.state, k.hget(b"error")) {
        (JobState::Failed, Some(e)) => Ok(RedisValue::StringBuffer(e.to_vec())),
        _ => Err(Error::NotFound(format!("job '{job_id}' has not failed"))),
    }
}

/// `TASKDB.JOB ns job_id` -> field/value pairs (state, error, user_id, created_at) or nil
pub fn job(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (db, job_id) = job_and_key(ctx, args, "TASKDB.JOB ns job_id")?;
    let k = db.open(db.keys.job(&job_id), false, Kind::Hash)?;
    if !k.exists() {
        return Ok(RedisValue::Null);
    }
    Ok(crate::reply::fields(
        &k,
        &["state", "error", "user_id", "created_at"],
        &[],
    ))
}

/// The error a job cancelled without a reason gets.
pub const CANCELLED: &[u8] = b"cancelled";

/// `TASKDB.CANCEL_JOB ns job_id [reason]` -> 1 if a running job was stopped (state failed,
/// error = reason, its ready and pending tasks cancelled), 0 if it had already ended
pub fn cancel_job(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, "TASKDB.CANCEL_JOB ns job_id [reason]", 2, 3)?;
    let (_, keys) = a.ns()?;
    let job_id = a.uuid("job_id")?;
    let reason = if a.has_more() { a.bytes()? } else { CANCELLED };
    let db = Db::new(ctx, keys);
    db.with_job(&job_id, false, |_, _| ())?;
    let stopped = db.fail_job(&job_id, reason)?;
    if stopped {
        db.flush()?;
        replicate::verbatim(ctx);
    }
    Ok(RedisValue::Integer(i64::from(stopped)))
}

/// Deletes a job, its tasks and every index entry of them; false if there is no such job.
pub fn delete(db: &Db, job_id: &str) -> Result<bool> {
    let Some((jk, j)) = db.job(job_id)? else {
        return Ok(false);
    };
    let user = db.job_user(&jk)?;
    drop(jk);
    // Read through a handle of its own: a list iterator must not outlive a key deletion.
    let ids = db
        .open(db.keys.job_tasks(job_id), false, Kind::List)?
        .litems();
    let mut loaded = Vec::new();
    for id in ids {
        if let Some(t) = db.task(job_id, &id, true)? {
            loaded.push(t);
        }
    }
    let leases = db.index(db.keys.leases())?;
    for (k, t) in &loaded {
        db.with_stream(&t.stream_id, true, |s| s.counts[t.state as usize] -= 1)?;
        match t.state {
            TaskState::Ready => {
                db.index(db.keys.queue(&t.stream_id))?
                    .zrem(&model::queue_member(t.idx, j.seq, &t.id));
            }
            TaskState::Running => {
                let member = model::task_ref(job_id, &t.id);
                leases.zrem(&member);
                crate::leases::forget(db.db_index(), leases.name(), &member);
            }
            _ => {}
        }
        k.delete();
    }
    db.flush()?;
    db.open(db.keys.job_tasks(job_id), true, Kind::List)?
        .delete();
    db.open(db.keys.dependents(job_id), true, Kind::Zset)?
        .delete();
    db.open(db.keys.job(job_id), true, Kind::Hash)?.delete();
    db.open(db.keys.jobs(), true, Kind::Hash)?
        .hdel(job_id.as_bytes());
    db.set_job_of_seq(j.seq, None)?;
    db.open(db.keys.done_jobs(), true, Kind::Hash)?
        .hdel(job_id.as_bytes());
    if j.state == JobState::Running {
        db.open(db.keys.running_jobs(), true, Kind::Hash)?
            .counter_add(&user, -1)?;
    }
    db.open(db.keys.job_counts(), true, Kind::Hash)?
        .counter_add(j.state.as_str().as_bytes(), -1)?;
    Ok(true)
}

/// `TASKDB.DELETE_JOB ns job_id` -> 1 if deleted, 0 if no such job
pub fn delete_job(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (db, job_id) = job_and_key(ctx, args, "TASKDB.DELETE_JOB ns job_id")?;
    let deleted = delete(&db, &job_id)?;
    if deleted {
        replicate::verbatim(ctx);
    }
    Ok(RedisValue::Integer(i64::from(deleted)))
}

/// Deletes every done job; how many.
pub fn clear(db: &Db) -> Result<i64> {
    let done = db
        .open(db.keys.done_jobs(), false, Kind::Hash)?
        .hgetall(db.ctx)?;
    let mut n = 0;
    for (id, _) in done {
        let id = String::from_utf8(id).map_err(|_| Error::Corrupt("done-jobs entry".into()))?;
        n += i64::from(delete(db, &id)?);
    }
    Ok(n)
}

/// `TASKDB.CLEAR_COMPLETED ns` -> number of done jobs deleted
pub fn clear_completed(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, "TASKDB.CLEAR_COMPLETED ns", 1, 1)?;
    let (_, keys) = a.ns()?;
    let db = Db::new(ctx, keys);
    let n = clear(&db)?;
    if n > 0 {
        replicate::verbatim(ctx);
    }
    Ok(RedisValue::Integer(n))
}

/// `TASKDB.JOBS ns` -> the ids of every job of the namespace (for tools: migration,
/// cleanup; linear in jobs)
pub fn jobs(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, "TASKDB.JOBS ns", 1, 1)?;
    let (_, keys) = a.ns()?;
    let db = Db::new(ctx, keys);
    let registry = db.open(db.keys.jobs(), false, Kind::Hash)?.hgetall(ctx)?;
    Ok(RedisValue::Array(
        registry
            .into_iter()
            .map(|(id, _)| RedisValue::StringBuffer(id))
            .collect(),
    ))
}

/// `TASKDB.JOB_TASKS ns job_id` -> the ids of a job's tasks, in creation order
pub fn job_tasks(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (db, job_id) = job_and_key(ctx, args, "TASKDB.JOB_TASKS ns job_id")?;
    db.job_req(&job_id)?;
    let ids = db
        .open(db.keys.job_tasks(&job_id), false, Kind::List)?
        .litems();
    Ok(RedisValue::Array(
        ids.into_iter().map(RedisValue::StringBuffer).collect(),
    ))
}
