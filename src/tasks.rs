//! Tasks: creation and the per-task queries.
//!
//! `TASKDB.CREATE_TASK`, `TASKDB.TASK`, `TASKDB.TASK_OUTPUT`.

use crate::args::Args;
use crate::error::Result;
use crate::namespace::{changed, open_read, open_write, prepare, read, write};
use crate::replicate;
use crate::reply;
use crate::store::now_ms;
use redis_module::{Context, RedisString, RedisValue};
use taskdb_core::{error::no_job, Decision, NewTask};

/// A task's creation arguments, validated.
pub struct Parsed<'a> {
    /// Task id within its job.
    pub task_id: &'a [u8],
    /// Its stream.
    pub stream: u128,
    /// Its definition (valid JSON, stored as sent).
    pub def: &'a [u8],
    /// The prerequisite ids.
    pub prereqs: Vec<String>,
    /// Retry limit.
    pub max_retries: u32,
    /// Lease length.
    pub timeout_secs: u32,
}

impl<'a> Parsed<'a> {
    /// Parses `task_id stream_id task_def_json prereqs_json max_retries timeout_secs`.
    pub fn parse(a: &mut Args<'a>) -> Result<Parsed<'a>> {
        let task_id = a.name("task_id")?;
        let stream = a.id("stream_id")?;
        let def = a.json("task_def_json")?;
        let (_, prereqs) = a.prerequisites(task_id)?;
        let max_retries = a.int("max_retries", 0, i32::MAX.into())? as u32;
        let timeout_secs = a.int("timeout_secs", 0, i32::MAX.into())? as u32;
        Ok(Parsed {
            task_id,
            stream,
            def,
            prereqs,
            max_retries,
            timeout_secs,
        })
    }

    /// The prerequisite ids as byte strings.
    pub fn prereq_ids(&self) -> Vec<&[u8]> {
        self.prereqs.iter().map(|p| p.as_bytes()).collect()
    }

    /// The core's form, with `prereqs` from [`Parsed::prereq_ids`].
    pub fn core<'b>(&'b self, prereqs: &'b [&'b [u8]]) -> NewTask<'b> {
        NewTask {
            task_id: self.task_id,
            stream: self.stream,
            def: self.def,
            prereqs,
            max_retries: self.max_retries,
            timeout_secs: self.timeout_secs,
        }
    }
}

/// `TASKDB.CREATE_TASK ns job_id task_id stream_id task_def_json prereqs_json max_retries
/// timeout_secs` -> OK
pub fn create_task(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = crate::commands::usage::CREATE_TASK;
    let mut a = Args::new(args, USAGE, 8, 8)?;
    let name = a.ns()?;
    let job = a.id("job_id")?;
    let t = Parsed::parse(&mut a)?;
    let key = open_write(ctx, name);
    let ns = write(&key, name)?.ok_or_else(|| no_job(job))?;
    let now = now_ms();
    let pre = t.prereq_ids();
    prepare(ns);
    ns.create_task(job, &t.core(&pre), now)?;
    let d = Decision::CreateTask {
        job,
        task: t.task_id,
        stream: t.stream,
        def: t.def,
        prereqs: pre,
        max_retries: t.max_retries,
        timeout_secs: t.timeout_secs,
    };
    replicate::decision(ctx, name, &d, now);
    changed(ctx, &key, name, ns);
    Ok(reply::ok(ctx))
}

/// `TASKDB.TASK ns job_id task_id` -> field/value pairs or nil
pub fn task(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::TASK, 3, 3)?;
    let name = a.ns()?;
    let job = a.id("job_id")?;
    let task_id = a.lookup("task_id")?;
    let key = open_read(ctx, name);
    Ok(
        match read(&key, name)?.and_then(|ns| ns.task(job, task_id)) {
            Some(t) => reply::send(ctx, &reply::task(&t)),
            None => RedisValue::Null,
        },
    )
}

/// `TASKDB.TASK_OUTPUT ns job_id task_id` -> the output JSON of a done task
pub fn task_output(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::TASK_OUTPUT, 3, 3)?;
    let name = a.ns()?;
    let job = a.id("job_id")?;
    let task_id = a.lookup("task_id")?;
    let key = open_read(ctx, name);
    let ns = read(&key, name)?.ok_or_else(|| taskdb_core::error::no_task(job, task_id))?;
    Ok(reply::bytes(ns.task_output(job, task_id)?))
}
