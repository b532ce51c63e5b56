//! Writing entities as they are, for migrations: `TASKDB.RESTORE_STREAM`,
//! `TASKDB.RESTORE_JOB`, `TASKDB.RESTORE_TASK`.
//!
//! A migration copies streams, jobs and tasks with their ids, states, counters, times,
//! retries, outputs and errors, so that work in flight continues: a restored ready task is
//! queued, a running one leased (a full lease from the restore), a pending one released by
//! its prerequisites. Each command replies 1 when it wrote, 0 when the entity already
//! exists (so a migration can be re-run without duplicates), and validates everything
//! before writing. Restore a job's tasks in creation order: that order is the order they
//! are served in.

use crate::args::Args;
use crate::error::{Error, Result};
use crate::namespace::{changed, open_write, prepare, write, write_or_create};
use crate::replicate;
use crate::store::{mono_ms, now_ms};
use crate::streams::{self, Parsed as NewStream};
use redis_module::{Context, RedisString, RedisValue};
use taskdb_core::decision::RestoredFields;
use taskdb_core::error::no_job;
use taskdb_core::{Decision, JobState, NewTask, RestoredJob, RestoredTask, TaskState};

/// `TASKDB.RESTORE_STREAM ns stream_id worker_type reserved be_mult user_id` -> 1 or 0
pub fn restore_stream(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = crate::commands::usage::RESTORE_STREAM;
    let mut a = Args::new(args, USAGE, 6, 6)?;
    let name = a.ns()?;
    let id = a.id("stream_id")?;
    let s = NewStream::parse(&mut a)?;
    Ok(RedisValue::Integer(i64::from(streams::restore(
        ctx, name, id, &s,
    )?)))
}

/// `TASKDB.RESTORE_JOB ns job_id state user_id created_at_ms [ERROR error]
/// [REPORTED true|false]` -> 1 or 0 (`reported` is the PostgreSQL TaskDB's flag for
/// post-processing, kept so a copy back is equal)
pub fn restore_job(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = crate::commands::usage::RESTORE_JOB;
    let mut a = Args::new(args, USAGE, 5, 9)?;
    let name = a.ns()?;
    let id = a.id("job_id")?;
    let raw_state = a.bytes()?;
    let state = JobState::parse(raw_state)
        .ok_or_else(|| Error::invalid("state", raw_state, "must be running, done or failed"))?;
    let user = a.name("user_id")?;
    let created_at = a.int("created_at_ms", 0, i64::MAX)?;
    let (mut error, mut reported) = (None, None);
    while a.has_more() {
        let w = a.bytes()?;
        if w.eq_ignore_ascii_case(b"ERROR") && error.is_none() {
            error = Some(a.payload("error")?);
        } else if w.eq_ignore_ascii_case(b"REPORTED") && reported.is_none() {
            let v = a.bytes()?;
            reported = Some(match v {
                b"true" => true,
                b"false" => false,
                _ => return Err(Error::invalid("REPORTED", v, "must be true or false")),
            });
        } else {
            return Err(Error::invalid(
                "option",
                w,
                "expected ERROR or REPORTED, each at most once",
            ));
        }
    }
    let key = open_write(ctx, name);
    if write(&key, name)?.is_some_and(|ns| ns.job(id).is_some()) {
        return Ok(RedisValue::Integer(0));
    }
    let ns = write_or_create(ctx, &key, name)?;
    let r = RestoredJob {
        state,
        user,
        created_at,
        error,
        reported,
    };
    let now = now_ms();
    prepare(ns);
    if !ns.restore_job(id, &r, now) {
        return Ok(RedisValue::Integer(0));
    }
    let d = Decision::RestoreJob {
        id,
        state,
        user,
        created_at,
        error,
        reported,
    };
    replicate::decision(ctx, name, &d, now);
    changed(ctx, &key, name, ns);
    Ok(RedisValue::Integer(1))
}

/// A restored task's optional fields.
#[derive(Default)]
struct Extras<'a> {
    waiting_on: Option<u32>,
    progress: Option<f64>,
    retries: Option<u32>,
    started_at: Option<i64>,
    updated_at: Option<i64>,
    output: Option<&'a [u8]>,
    error: Option<&'a [u8]>,
    attempt: Option<u32>,
    worker: Option<&'a [u8]>,
}

fn parse_extras<'a>(a: &mut Args<'a>) -> Result<Extras<'a>> {
    let mut x = Extras::default();
    let u32_arg = |a: &mut Args, n| -> Result<u32> { Ok(a.int(n, 0, i64::from(i32::MAX))? as u32) };
    while a.has_more() {
        let word = a.bytes()?.to_ascii_uppercase();
        let dup = || Error::invalid("option", &word, "given twice");
        match word.as_slice() {
            b"WAITING_ON" if x.waiting_on.is_none() => x.waiting_on = Some(u32_arg(a, "WAITING_ON")?),
            b"PROGRESS" if x.progress.is_none() => {
                x.progress = Some(crate::work::parse_progress(a.bytes()?)?)
            }
            b"RETRIES" if x.retries.is_none() => x.retries = Some(u32_arg(a, "RETRIES")?),
            b"STARTED_AT" if x.started_at.is_none() => {
                x.started_at = Some(a.int("STARTED_AT", 0, i64::MAX)?)
            }
            b"UPDATED_AT" if x.updated_at.is_none() => {
                x.updated_at = Some(a.int("UPDATED_AT", 0, i64::MAX)?)
            }
            b"OUTPUT" if x.output.is_none() => x.output = Some(a.json("OUTPUT")?),
            b"ERROR" if x.error.is_none() => x.error = Some(a.payload("ERROR")?),
            b"ATTEMPT" if x.attempt.is_none() => x.attempt = Some(u32_arg(a, "ATTEMPT")?),
            b"WORKER" if x.worker.is_none() => x.worker = Some(a.name("WORKER")?),
            b"WAITING_ON" | b"PROGRESS" | b"RETRIES" | b"STARTED_AT" | b"UPDATED_AT"
            | b"OUTPUT" | b"ERROR" | b"ATTEMPT" | b"WORKER" => return Err(dup()),
            _ => return Err(Error::invalid(
                "option",
                &word,
                "expected WAITING_ON, PROGRESS, RETRIES, STARTED_AT, UPDATED_AT, OUTPUT, ERROR, ATTEMPT or WORKER",
            )),
        }
    }
    Ok(x)
}

/// `TASKDB.RESTORE_TASK ns job_id task_id stream_id task_def_json prereqs_json state
/// max_retries timeout_secs created_at_ms [WAITING_ON n] [PROGRESS p] [RETRIES n]
/// [STARTED_AT ms] [UPDATED_AT ms] [OUTPUT json] [ERROR text] [ATTEMPT n] [WORKER id]`
/// -> 1 or 0. Without ATTEMPT, a task that was ever claimed (STARTED_AT) counts one
/// attempt per retry plus the one that is running or ended it.
pub fn restore_task(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = crate::commands::usage::RESTORE_TASK;
    let mut a = Args::new(args, USAGE, 10, 28)?;
    let name = a.ns()?;
    let job = a.id("job_id")?;
    let task_id = a.name("task_id")?;
    let stream = a.id("stream_id")?;
    let def = a.json("task_def_json")?;
    let (_, prereqs) = a.prerequisites(task_id)?;
    let raw_state = a.bytes()?;
    let state = TaskState::parse(raw_state).ok_or_else(|| {
        Error::invalid(
            "state",
            raw_state,
            "must be pending, ready, running, done, failed or cancelled",
        )
    })?;
    let max_retries = a.int("max_retries", 0, i32::MAX.into())? as u32;
    let timeout_secs = a.int("timeout_secs", 0, i32::MAX.into())? as u32;
    let created_at = a.int("created_at_ms", 0, i64::MAX)?;
    let x = parse_extras(&mut a)?;
    let pre: Vec<&[u8]> = prereqs.iter().map(|p| p.as_bytes()).collect();
    let key = open_write(ctx, name);
    let ns = write(&key, name)?.ok_or_else(|| no_job(job))?;
    let r = RestoredTask {
        task: NewTask {
            task_id,
            stream,
            def,
            prereqs: &pre,
            max_retries,
            timeout_secs,
        },
        state,
        created_at,
        waiting_on: x.waiting_on,
        progress: x.progress,
        retries: x.retries,
        started_at: x.started_at,
        updated_at: x.updated_at,
        output: x.output,
        error: x.error,
        attempt: x.attempt,
        worker: x.worker,
    };
    prepare(ns);
    if !ns.restore_task(job, &r, mono_ms())? {
        return Ok(RedisValue::Integer(0));
    }
    let d = Decision::RestoreTask {
        job,
        stored: RestoredFields::of(&r),
    };
    replicate::decision(ctx, name, &d, now_ms());
    changed(ctx, &key, name, ns);
    Ok(RedisValue::Integer(1))
}
