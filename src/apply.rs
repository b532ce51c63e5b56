//! `TASKDB.APPLY`: replays on replicas and at AOF load what the primary decided.
//!
//! `TASKDB.APPLY ns now_ms VERB args...`, where VERB is one of:
//! - `CREATE_STREAM stream_id worker_type reserved be_mult user_id`
//! - `CREATE_JOB stream_id task_def_json max_retries timeout_secs user_id ID job_id`
//! - `CREATE_TASK job_id task_id stream_id task_def_json prereqs_json max_retries timeout_secs`
//! - `CLAIM job_id task_id [WORKER worker_id]` (REQUEST_WORK's choice)
//! - `DONE job_id task_id output_json`, `FAILED job_id task_id error`,
//!   `PROGRESS job_id task_id progress`, `HEARTBEAT job_id task_id`,
//!   `RETRY job_id task_id` (also REQUEUE's and the lease reaper's), each with the
//!   `ATTEMPT n` the report named, if any
//!
//! It runs the same code as the public commands with the primary's time and choices, so
//! the replica's keyspace is the primary's. Clients cannot call it: it is accepted only
//! from the replication link and while loading the AOF.
//!
//! A replayed decision is never validated against this node's limits (the primary
//! accepted it) and must apply: a DONE of a task that is not ready or running here, say,
//! means this node's data is not the primary's. That is an error, never a skipped write;
//! while loading the AOF it stops the server (see `lib.rs`), as Redis does for a corrupt
//! AOF.

use crate::args::Args;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::jobs::{self, NewJob};
use crate::streams::{self, NewStream};
use crate::tasks::{self, NewTask};
use crate::work;
use redis_module::{Context, ContextFlags, RedisString, RedisValue};

const USAGE: &str = "TASKDB.APPLY ns now_ms VERB args...";

/// `TASKDB.APPLY ns now_ms VERB args...` -> OK (internal)
pub fn apply(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let flags = ctx.get_flags();
    if !flags.contains(ContextFlags::REPLICATED) && !flags.contains(ContextFlags::LOADING) {
        return Err(Error::Refused(
            "TASKDB.APPLY is internal: it replays the primary's decisions on replicas and from the AOF".into(),
        ));
    }
    let mut a = Args::replay(args, USAGE, 3, usize::MAX)?;
    let (_, keys) = a.ns()?;
    let now = a.int("now_ms", 0, i64::MAX)?;
    let verb = a.bytes()?.to_ascii_uppercase();
    let db = Db::new(ctx, keys);
    match verb.as_slice() {
        b"CREATE_STREAM" => {
            let id = a.uuid("stream_id")?;
            let s = NewStream::parse(&mut a)?;
            a.end()?;
            streams::insert(&db, &id, &s, now)?;
        }
        b"CREATE_JOB" => {
            let j = NewJob::parse(&mut a)?;
            let id = j.id.clone().ok_or(Error::Arity(USAGE))?;
            jobs::insert(&db, &id, &j, now)?;
        }
        b"CREATE_TASK" => {
            let job_id = a.uuid("job_id")?;
            let t = NewTask::parse(&mut a)?;
            a.end()?;
            tasks::insert(&db, &job_id, &t, now)?;
        }
        b"CLAIM" => {
            let (job_id, task_id) = (a.uuid("job_id")?, a.id("task_id")?);
            let worker = if a.keyword("WORKER") {
                Some(a.name("WORKER")?)
            } else {
                None
            };
            a.end()?;
            work::claim(&db, &job_id, task_id, now, worker)?;
        }
        b"DONE" => {
            let (job_id, task_id) = (a.uuid("job_id")?, a.id("task_id")?);
            let output = a.bytes()?;
            let attempt = work::parse_attempt(&mut a)?;
            let changed = work::done(&db, &job_id, task_id, output, now, attempt)?;
            must_apply(&db, changed, "DONE", &job_id, task_id)?;
        }
        b"FAILED" => {
            let (job_id, task_id) = (a.uuid("job_id")?, a.id("task_id")?);
            let error = a.bytes()?;
            let attempt = work::parse_attempt(&mut a)?;
            let changed = work::failed(&db, &job_id, task_id, error, now, attempt)?;
            must_apply(&db, changed, "FAILED", &job_id, task_id)?;
        }
        b"PROGRESS" => {
            let (job_id, task_id) = (a.uuid("job_id")?, a.id("task_id")?);
            let p = work::parse_progress(a.bytes()?)?;
            let attempt = work::parse_attempt(&mut a)?;
            let changed = work::progress(&db, &job_id, task_id, Some(p), now, attempt)?;
            must_apply(&db, changed, "PROGRESS", &job_id, task_id)?;
        }
        b"HEARTBEAT" => {
            let (job_id, task_id) = (a.uuid("job_id")?, a.id("task_id")?);
            let attempt = work::parse_attempt(&mut a)?;
            let changed = work::progress(&db, &job_id, task_id, None, now, attempt)?;
            must_apply(&db, changed, "HEARTBEAT", &job_id, task_id)?;
        }
        b"RETRY" => {
            let (job_id, task_id) = (a.uuid("job_id")?, a.id("task_id")?);
            let attempt = work::parse_attempt(&mut a)?;
            let r = work::retry(&db, &job_id, task_id, now, attempt)?;
            let changed = r != work::Retried::NotRunning;
            must_apply(&db, changed, "RETRY", &job_id, task_id)?;
        }
        _ => return Err(Error::invalid("VERB", &verb, "unknown TASKDB.APPLY verb")),
    }
    db.flush()?;
    ctx.replicate_verbatim();
    Ok(RedisValue::SimpleStringStatic("OK"))
}

/// A replayed task decision that changed nothing here: this node's data differs from the
/// primary's. The error names the task and the state found.
fn must_apply(db: &Db, changed: bool, verb: &str, job_id: &str, task_id: &[u8]) -> Result<()> {
    if changed {
        return Ok(());
    }
    let found = match db.task(job_id, task_id, false)? {
        Some((_, t)) => format!("it is {}", t.state.as_str()),
        None => "it does not exist".into(),
    };
    Err(Error::Refused(format!(
        "replayed {verb} of task '{}' of job '{job_id}' does not apply: {found}",
        crate::error::shorten(task_id)
    )))
}
