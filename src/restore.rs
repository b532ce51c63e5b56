//! Writing entities as they are, for migrations: `TASKDB.RESTORE_STREAM`,
//! `TASKDB.RESTORE_JOB`, `TASKDB.RESTORE_TASK`.
//!
//! A migration copies streams, jobs and tasks with their ids, states, counters, times,
//! retries, outputs and errors, so that work in flight continues: a restored ready task is
//! queued, a running one keeps its lease, a pending one is released by its prerequisites.
//! Each command replies 1 when it wrote, 0 when the entity already exists (so a migration
//! can be re-run without duplicates), and validates everything before writing. Restore a
//! job's tasks in creation order: that order is the order they are served in.

use crate::args::Args;
use crate::db::{Db, Job, Task};
use crate::error::{Error, Result};
use crate::keys::field;
use crate::model::{JobState, Priority, TaskState};
use crate::replicate;
use crate::store::{now_ms, Field, Kind, Val};
use crate::streams::{self, NewStream};
use crate::tasks::{self, NewTask};
use redis_module::{Context, RedisString, RedisValue};

/// `TASKDB.RESTORE_STREAM ns stream_id worker_type reserved be_mult user_id` -> 1 or 0
pub fn restore_stream(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.RESTORE_STREAM ns stream_id worker_type reserved be_mult user_id";
    let mut a = Args::new(args, USAGE, 6, 6)?;
    let (ns, keys) = a.ns()?;
    let id = a.uuid("stream_id")?;
    let s = NewStream::parse(&mut a)?;
    let db = Db::new(ctx, keys);
    if db.open(db.keys.stream(&id), false, Kind::Hash)?.exists() {
        return Ok(RedisValue::Integer(0));
    }
    let now = now_ms();
    streams::insert(&db, &id, &s, now)?;
    let mut all: Vec<&[u8]> = vec![id.as_bytes()];
    all.extend_from_slice(&s.to_args());
    replicate::decision(ctx, ns, now, "CREATE_STREAM", &all);
    Ok(RedisValue::Integer(1))
}

/// `TASKDB.RESTORE_JOB ns job_id state user_id created_at_ms [ERROR error]
/// [REPORTED true|false]` -> 1 or 0 (`reported` is the PostgreSQL TaskDB's flag for
/// post-processing, kept so a copy back is equal)
pub fn restore_job(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str =
        "TASKDB.RESTORE_JOB ns job_id state user_id created_at_ms [ERROR error] [REPORTED true|false]";
    let mut a = Args::for_context(ctx, args, USAGE, 5, 9)?;
    let (_, keys) = a.ns()?;
    let id = a.uuid("job_id")?;
    let raw_state = a.bytes()?;
    let state = JobState::parse(raw_state)
        .ok_or_else(|| Error::invalid("state", raw_state, "must be running, done or failed"))?;
    let user_id = a.name("user_id")?;
    let created_at = a.int("created_at_ms", 0, i64::MAX)?;
    let (mut error, mut reported) = (None, None);
    while a.has_more() {
        let w = a.bytes()?;
        if w.eq_ignore_ascii_case(b"ERROR") && error.is_none() {
            error = Some(a.payload("error")?);
        } else if w.eq_ignore_ascii_case(b"REPORTED") && reported.is_none() {
            let v = a.bytes()?;
            if v != b"true" && v != b"false" {
                return Err(Error::invalid("REPORTED", v, "must be true or false"));
            }
            reported = Some(v);
        } else {
            return Err(Error::invalid(
                "option",
                w,
                "expected ERROR or REPORTED, each at most once",
            ));
        }
    }
    let db = Db::new(ctx, keys);
    let jk = db.open(db.keys.job(&id), true, Kind::Hash)?;
    if jk.exists() {
        return Ok(RedisValue::Integer(0));
    }
    let seq = db.next_seq()?;
    let job = Job {
        id: id.clone(),
        state,
        seq,
        unresolved: 0,
        tasks: 0,
        priority: Priority::Medium,
        first_started_at: 0,
        last_updated_at: 0,
    };
    let sched = job.sched();
    let mut fields = vec![
        (&field::STATE, Val::Bytes(state.as_str().as_bytes())),
        (&field::SCHED, Val::Bytes(sched.bytes())),
        (&field::USER_ID, Val::Bytes(user_id)),
        (&field::CREATED_AT, Val::Int(created_at)),
        (&field::PRIORITY, Val::Bytes(b"medium")),
    ];
    if let Some(e) = error {
        fields.push((&field::ERROR, Val::Bytes(e)));
    }
    if let Some(r) = reported {
        fields.push((&field::REPORTED, Val::Bytes(r)));
    }
    jk.hmset(&fields);
    db.open(db.keys.jobs(), true, Kind::Hash)?
        .hset(id.as_bytes(), state.as_str().as_bytes());
    db.set_job_of_seq(seq, Some(&id))?;
    match state {
        JobState::Running => {
            db.open(db.keys.running_jobs(), true, Kind::Hash)?
                .counter_add(user_id, 1)?;
        }
        JobState::Done => db
            .open(db.keys.done_jobs(), true, Kind::Hash)?
            .hset(id.as_bytes(), b""),
        JobState::Failed => {}
    }
    db.open(db.keys.job_counts(), true, Kind::Hash)?
        .counter_add(state.as_str().as_bytes(), 1)?;
    replicate::verbatim(ctx);
    Ok(RedisValue::Integer(1))
}

/// A restored task's optional fields.
#[derive(Default)]
struct Extras<'a> {
    waiting_on: Option<i64>,
    progress: Option<&'a [u8]>,
    retries: Option<i64>,
    started_at: Option<i64>,
    updated_at: Option<i64>,
    output: Option<&'a [u8]>,
    error: Option<&'a [u8]>,
    attempt: Option<i64>,
    worker: Option<&'a [u8]>,
}

fn parse_extras<'a>(a: &mut Args<'a>) -> Result<Extras<'a>> {
    let mut x = Extras::default();
    while a.has_more() {
        let word = a.bytes()?.to_ascii_uppercase();
        let dup = || Error::invalid("option", &word, "given twice");
        match word.as_slice() {
            b"WAITING_ON" if x.waiting_on.is_none() => {
                x.waiting_on = Some(a.int("WAITING_ON", 0, i64::from(i32::MAX))?)
            }
            b"PROGRESS" if x.progress.is_none() => {
                let v = a.bytes()?;
                crate::work::parse_progress(v)?;
                x.progress = Some(v);
            }
            b"RETRIES" if x.retries.is_none() => {
                x.retries = Some(a.int("RETRIES", 0, i64::from(i32::MAX))?)
            }
            b"STARTED_AT" if x.started_at.is_none() => {
                x.started_at = Some(a.int("STARTED_AT", 0, i64::MAX)?)
            }
            b"UPDATED_AT" if x.updated_at.is_none() => {
                x.updated_at = Some(a.int("UPDATED_AT", 0, i64::MAX)?)
            }
            b"OUTPUT" if x.output.is_none() => x.output = Some(a.json("OUTPUT")?),
            b"ERROR" if x.error.is_none() => x.error = Some(a.payload("ERROR")?),
            b"ATTEMPT" if x.attempt.is_none() => {
                x.attempt = Some(a.int("ATTEMPT", 0, i64::from(i32::MAX))?)
            }
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
    const USAGE: &str = "TASKDB.RESTORE_TASK ns job_id task_id stream_id task_def_json prereqs_json state max_retries timeout_secs created_at_ms [WAITING_ON n] [PROGRESS p] [RETRIES n] [STARTED_AT ms] [UPDATED_AT ms] [OUTPUT json] [ERROR text] [ATTEMPT n] [WORKER id]";
    let mut a = Args::for_context(ctx, args, USAGE, 10, 28)?;
    let (_, keys) = a.ns()?;
    let job_id = a.uuid("job_id")?;
    let task_id = a.name("task_id")?;
    let stream_id = a.uuid("stream_id")?;
    let task_def = a.json("task_def_json")?;
    let (prereqs_json, prereqs) = a.prerequisites(task_id)?;
    let raw_state = a.bytes()?;
    let state = TaskState::parse(raw_state).ok_or_else(|| {
        Error::invalid(
            "state",
            raw_state,
            "must be pending, ready, running, done, failed or cancelled",
        )
    })?;
    let max_retries = a.int("max_retries", 0, i32::MAX.into())?;
    let timeout_secs = a.int("timeout_secs", 0, i32::MAX.into())?;
    let created_at = a.int("created_at_ms", 0, i64::MAX)?;
    let t = NewTask {
        task_id,
        stream_id,
        task_def,
        prereqs_json,
        prereqs,
        max_retries,
        timeout_secs,
    };
    let x = parse_extras(&mut a)?;
    let db = Db::new(ctx, keys);
    let job_seq = db.with_job(&job_id, false, |j, _| j.seq)?;
    db.stream_worker_type(&t.stream_id)?;
    let k = db.open(db.keys.task(job_seq, task_id), true, Kind::Hash)?;
    if k.exists() {
        return Ok(RedisValue::Integer(0));
    }
    let idx = db.with_job(&job_id, true, |j, _| {
        j.tasks += 1;
        j.unresolved += i64::from(state != TaskState::Done);
        j.tasks - 1
    })?;
    let task = Task {
        job_id: job_id.clone(),
        job_seq,
        id: task_id.to_vec(),
        state,
        stream_id: t.stream_id.clone(),
        idx: idx as u64,
        waiting_on: x.waiting_on.unwrap_or(0),
        retries: x.retries.unwrap_or(0),
        max_retries,
        timeout_secs,
        started_at: x.started_at,
        updated_at: x.updated_at,
        attempt: x.attempt.unwrap_or_else(|| match x.started_at {
            None => 0,
            Some(_) => x.retries.unwrap_or(0) + i64::from(state != TaskState::Ready),
        }),
    };
    let optional = [
        (&field::PROGRESS, x.progress.map(Val::Bytes)),
        (&field::OUTPUT, x.output.map(Val::Bytes)),
        (&field::ERROR, x.error.map(Val::Bytes)),
        (&field::WORKER_ID, x.worker.map(Val::Bytes)),
    ];
    let extra: Vec<(&Field, Val)> = optional
        .into_iter()
        .filter_map(|(f, v)| Some((f, v?)))
        .collect();
    tasks::write(&db, &k, &task, &t, created_at, &extra)?;
    db.touch_job(&job_id, x.started_at, x.updated_at)?;
    db.flush()?;
    replicate::verbatim(ctx);
    Ok(RedisValue::Integer(1))
}
