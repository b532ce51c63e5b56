//! Jobs: creation, the per-job queries, cancellation, deletion.
//!
//! `TASKDB.CREATE_JOB`, `TASKDB.JOB_STATE`, `TASKDB.JOB_UNRESOLVED`,
//! `TASKDB.CONCURRENT_JOBS`, `TASKDB.JOB_TIME`, `TASKDB.JOB_FAILURE`, `TASKDB.JOB`,
//! `TASKDB.CANCEL_JOB`, `TASKDB.RETRY_JOB`, `TASKDB.DELETE_JOB`, `TASKDB.CLEAR_COMPLETED`.

use crate::args::Args;
use crate::error::{Error, Result};
use crate::namespace::{changed, free_jobs, open_read, open_write, prepare, read, write};
use crate::replicate;
use crate::reply;
use crate::store::now_ms;
use redis_module::{Context, RedisString, RedisValue};
use taskdb_core::{error::no_job, Decision, NewJob, Priority};

/// A job's creation arguments, validated.
pub struct Parsed<'a> {
    /// The core's fields.
    pub job: NewJob<'a>,
    /// The id asked for with `ID`, if any.
    pub id: Option<u128>,
}

impl<'a> Parsed<'a> {
    /// Parses `stream_id task_def_json max_retries timeout_secs user_id [ID uuid]
    /// [PRIORITY high|medium|low]`.
    pub fn parse(a: &mut Args<'a>) -> Result<Self> {
        let stream = a.id("stream_id")?;
        let def = a.json("task_def_json")?;
        let max_retries = a.int("max_retries", 0, i32::MAX.into())? as u32;
        let timeout_secs = a.int("timeout_secs", 0, i32::MAX.into())? as u32;
        let user = a.name("user_id")?;
        let (mut id, mut priority) = (None, None);
        while a.has_more() {
            let word = a.bytes()?;
            if word.eq_ignore_ascii_case(b"ID") && id.is_none() {
                id = Some(a.id("ID")?);
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
        Ok(Parsed {
            job: NewJob {
                stream,
                def,
                max_retries,
                timeout_secs,
                user,
                priority: priority.unwrap_or(Priority::Medium),
            },
            id,
        })
    }
}

/// `TASKDB.CREATE_JOB ns stream_id task_def_json max_retries timeout_secs user_id [ID uuid]
/// [PRIORITY high|medium|low]` -> job id
pub fn create_job(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = crate::commands::usage::CREATE_JOB;
    let mut a = Args::new(args, USAGE, 6, 10)?;
    let name = a.ns()?;
    let p = Parsed::parse(&mut a)?;
    let key = open_write(ctx, name);
    let Some(ns) = write(&key, name)? else {
        return Err(taskdb_core::error::no_stream(p.job.stream).into());
    };
    let id = p.id.unwrap_or_else(|| uuid::Uuid::new_v4().as_u128());
    let now = now_ms();
    prepare(ns);
    ns.create_job(id, &p.job, now)?;
    let j = &p.job;
    let d = Decision::CreateJob {
        id,
        stream: j.stream,
        def: j.def,
        max_retries: j.max_retries,
        timeout_secs: j.timeout_secs,
        user: j.user,
        priority: j.priority,
    };
    replicate::decision(ctx, name, &d, now);
    changed(ctx, &key, name, ns);
    Ok(reply::uuid(id))
}

/// Opens namespace `name` for a query about job `args[2]` (`usage`: `ns job_id`).
fn job_query<'a>(args: &'a [RedisString], usage: &'static str) -> Result<(&'a RedisString, u128)> {
    let mut a = Args::new(args, usage, 2, 2)?;
    let name = a.ns()?;
    let id = a.id("job_id")?;
    Ok((name, id))
}

/// `TASKDB.JOB_STATE ns job_id user_id` -> running | done | failed
pub fn job_state(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::JOB_STATE, 3, 3)?;
    let name = a.ns()?;
    let id = a.id("job_id")?;
    let user = a.lookup("user_id")?;
    let key = open_read(ctx, name);
    let ns = read(&key, name)?;
    let state = match ns {
        Some(ns) => ns.job_state(id, user)?,
        None => taskdb_core::Namespace::new().job_state(id, user)?,
    };
    Ok(RedisValue::SimpleStringStatic(state.as_str()))
}

/// `TASKDB.JOB_UNRESOLVED ns job_id` -> number of the job's tasks not done
pub fn job_unresolved(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (name, id) = job_query(args, crate::commands::usage::JOB_UNRESOLVED)?;
    let key = open_read(ctx, name);
    let ns = read(&key, name)?.ok_or_else(|| no_job(id))?;
    Ok(RedisValue::Integer(ns.job_unresolved(id)?))
}

/// `TASKDB.CONCURRENT_JOBS ns user_id` -> number of the user's running jobs
pub fn concurrent_jobs(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::CONCURRENT_JOBS, 2, 2)?;
    let name = a.ns()?;
    let user = a.lookup("user_id")?;
    let key = open_read(ctx, name);
    let n = read(&key, name)?.map_or(0, |ns| ns.concurrent_jobs(user));
    Ok(RedisValue::Integer(n))
}

/// `TASKDB.JOB_TIME ns job_id` -> seconds from the first start to the last update, or nil
pub fn job_time(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (name, id) = job_query(args, crate::commands::usage::JOB_TIME)?;
    let key = open_read(ctx, name);
    let ns = read(&key, name)?.ok_or_else(|| no_job(id))?;
    Ok(match ns.job_time(id)? {
        Some(secs) => reply::send(ctx, &reply::Val::Double(secs)),
        None => RedisValue::Null,
    })
}

/// `TASKDB.JOB_FAILURE ns job_id` -> the error the job failed with
pub fn job_failure(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (name, id) = job_query(args, crate::commands::usage::JOB_FAILURE)?;
    let key = open_read(ctx, name);
    let ns = read(&key, name)?.ok_or_else(|| no_job(id))?;
    Ok(reply::bytes(ns.job_failure(id)?))
}

/// `TASKDB.JOB ns job_id` -> field/value pairs (state, error, user_id, created_at) or nil
pub fn job(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (name, id) = job_query(args, crate::commands::usage::JOB)?;
    let key = open_read(ctx, name);
    Ok(match read(&key, name)?.and_then(|ns| ns.job_view(id)) {
        Some(j) => reply::send(ctx, &reply::job(&j)),
        None => RedisValue::Null,
    })
}

/// `TASKDB.CANCEL_JOB ns job_id [reason]` -> 1 if a running job was stopped (state failed,
/// error = reason, its ready and pending tasks cancelled), 0 if it had already ended
pub fn cancel_job(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::CANCEL_JOB, 2, 3)?;
    let name = a.ns()?;
    let id = a.id("job_id")?;
    let reason = if a.has_more() {
        a.bytes()?
    } else {
        taskdb_core::jobs::CANCELLED
    };
    let key = open_write(ctx, name);
    let ns = write(&key, name)?.ok_or_else(|| no_job(id))?;
    prepare(ns);
    let now = now_ms();
    let stopped = ns.cancel_job(id, reason, now)?;
    if stopped {
        replicate::decision(ctx, name, &Decision::Cancel { job: id, reason }, now);
        changed(ctx, &key, name, ns);
    }
    Ok(RedisValue::Integer(i64::from(stopped)))
}

/// `TASKDB.RETRY_JOB ns job_id` -> 1 if a failed (or cancelled) job runs again, 0 if it
/// had not failed: its failed tasks back to ready (or pending) with their retries reset,
/// its cancelled tasks back to ready or pending, its error cleared. O(its tasks).
pub fn retry_job(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (name, id) = job_query(args, crate::commands::usage::RETRY_JOB)?;
    let key = open_write(ctx, name);
    let ns = write(&key, name)?.ok_or_else(|| no_job(id))?;
    prepare(ns);
    let now = now_ms();
    let again = ns.retry_job(id, now)?;
    if again {
        replicate::decision(ctx, name, &Decision::RetryJob { job: id }, now);
        changed(ctx, &key, name, ns);
    }
    Ok(RedisValue::Integer(i64::from(again)))
}

/// `TASKDB.DELETE_JOB ns job_id` -> 1 if deleted, 0 if no such job. O(the job's streams
/// and running tasks); a big job's memory is freed off the main thread.
pub fn delete_job(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (name, id) = job_query(args, crate::commands::usage::DELETE_JOB)?;
    let key = open_write(ctx, name);
    let Some(ns) = write(&key, name)? else {
        return Ok(RedisValue::Integer(0));
    };
    prepare(ns);
    let Some(job) = ns.delete_job(id) else {
        return Ok(RedisValue::Integer(0));
    };
    replicate::decision(ctx, name, &Decision::DeleteJobs(vec![id]), now_ms());
    changed(ctx, &key, name, ns);
    free_jobs(vec![job]);
    Ok(RedisValue::Integer(1))
}

/// The longest AGE CLEAR_COMPLETED takes: ten years, in seconds.
pub const MAX_AGE_SECS: i64 = 315_360_000;

/// The most done jobs one CLEAR_COMPLETED deletes by default.
pub const CLEAR_BATCH: usize = 1000;

/// `TASKDB.CLEAR_COMPLETED ns [COUNT n] [AGE seconds]` -> number of done jobs deleted: at
/// most n, those that finished at least `seconds` ago (default: any), the earliest
/// finished first. Call again until it replies 0.
pub fn clear_completed(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::CLEAR_COMPLETED, 1, 5)?;
    let name = a.ns()?;
    let (mut count, mut age) = (None, None);
    while a.has_more() {
        if count.is_none() && a.keyword("COUNT") {
            count = Some(a.int("COUNT", 1, 100_000)? as usize);
        } else if age.is_none() && a.keyword("AGE") {
            age = Some(a.int("AGE", 0, MAX_AGE_SECS)?);
        } else {
            let w = a.bytes()?;
            return Err(taskdb_core::Error::invalid(
                "option",
                w,
                "expected COUNT n or AGE seconds, each at most once",
            )
            .into());
        }
    }
    let count = count.unwrap_or(CLEAR_BATCH);
    let now = now_ms();
    let before = age.map(|s| now.saturating_sub(s.saturating_mul(1000)));
    let key = open_write(ctx, name);
    let Some(ns) = write(&key, name)? else {
        return Ok(RedisValue::Integer(0));
    };
    prepare(ns);
    let (gone, _more) = ns.clear_completed(count, before);
    let n = gone.len() as i64;
    if n > 0 {
        let ids = gone.iter().map(|j| j.id).collect();
        replicate::decision(ctx, name, &Decision::DeleteJobs(ids), now_ms());
        changed(ctx, &key, name, ns);
    }
    free_jobs(gone);
    Ok(RedisValue::Integer(n))
}
