//! Listings and inspection, the first-class forms of the seed's `ZRANGE` and `LLEN`:
//! cursor-paged listings of streams, jobs and a job's tasks (`[next_cursor, items]`, the
//! cursor 0 when done, as SCAN replies), a worker type's streams in scheduling order, a
//! stream's ready tasks in claim order, and the running tasks by lease deadline.
//!
//! `TASKDB.STREAMS`, `TASKDB.JOBS`, `TASKDB.JOB_TASKS`, `TASKDB.SCHEDULE`, `TASKDB.QUEUE`,
//! `TASKDB.LEASES`.

use crate::args::Args;
use crate::error::{Error, Result};
use crate::namespace::{open_read, read};
use crate::reply::{self, Val};
use crate::store::mono_ms;
use redis_module::{Context, RedisString, RedisValue};
use taskdb_core::{error::no_job, JobFilter, JobState, Policy};

/// Items one page lists by default, and at most.
const PAGE: usize = 100;
const MAX_PAGE: usize = 10_000;

fn cursor_reply(next: String, items: Vec<RedisValue>) -> RedisValue {
    RedisValue::Array(vec![RedisValue::BulkString(next), RedisValue::Array(items)])
}

fn cursor(a: &mut Args) -> Result<u128> {
    let v = a.bytes()?;
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::invalid("cursor", v, "must be a cursor a listing replied (0 starts)"))
}

/// `TASKDB.STREAMS ns cursor [COUNT n]` -> `[next_cursor, [stream_id, ...]]`
pub fn streams(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::STREAMS, 2, 4)?;
    let name = a.ns()?;
    let c = cursor(&mut a)?;
    let count = a.count(PAGE, MAX_PAGE)?;
    a.end()?;
    let key = open_read(ctx, name);
    let Some(ns) = read(&key, name)? else {
        return Ok(cursor_reply("0".into(), vec![]));
    };
    let (ids, more) = ns.streams_page((c != 0).then_some(c), count);
    let next = match (more, ids.last()) {
        (true, Some(last)) => last.to_string(),
        _ => "0".into(),
    };
    Ok(cursor_reply(
        next,
        ids.into_iter().map(reply::uuid).collect(),
    ))
}

/// `TASKDB.JOBS ns cursor [COUNT n] [STATE running|done|failed] [USER user_id]` ->
/// `[next_cursor, [job_id, ...]]` (COUNT bounds the jobs examined, as SCAN's does)
pub fn jobs(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = crate::commands::usage::JOBS;
    let mut a = Args::new(args, USAGE, 2, 9)?;
    let name = a.ns()?;
    let c = cursor(&mut a)?;
    let (mut count, mut state, mut user, mut rev) = (None, None, None, false);
    while a.has_more() {
        let w = a.bytes()?;
        if w.eq_ignore_ascii_case(b"COUNT") && count.is_none() {
            count = Some(a.int("COUNT", 1, MAX_PAGE as i64)? as usize);
        } else if w.eq_ignore_ascii_case(b"STATE") && state.is_none() {
            let s = a.bytes()?;
            state =
                Some(JobState::parse(s).ok_or_else(|| {
                    Error::invalid("STATE", s, "must be running, done or failed")
                })?);
        } else if w.eq_ignore_ascii_case(b"USER") && user.is_none() {
            user = Some(a.lookup("USER")?);
        } else if w.eq_ignore_ascii_case(b"REV") && !rev {
            rev = true;
        } else {
            return Err(Error::invalid(
                "option",
                w,
                "expected COUNT n, STATE s, USER u or REV, each at most once",
            ));
        }
    }
    let key = open_read(ctx, name);
    let Some(ns) = read(&key, name)? else {
        return Ok(cursor_reply("0".into(), vec![]));
    };
    let filter = JobFilter {
        state,
        user,
        newest_first: rev,
    };
    let after = u64::try_from(c).ok().filter(|&c| c != 0);
    let (ids, next) = ns.jobs_page(after, count.unwrap_or(PAGE), &filter);
    let next = next.map_or("0".into(), |n| n.to_string());
    Ok(cursor_reply(
        next,
        ids.into_iter().map(reply::uuid).collect(),
    ))
}

/// `TASKDB.JOB_TASKS ns job_id cursor [COUNT n]` -> `[next_cursor, [task_id, ...]]` in
/// creation order
pub fn job_tasks(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::JOB_TASKS, 3, 5)?;
    let name = a.ns()?;
    let job = a.id("job_id")?;
    let c = cursor(&mut a)?;
    let count = a.count(PAGE, MAX_PAGE)?;
    a.end()?;
    let key = open_read(ctx, name);
    let ns = read(&key, name)?.ok_or_else(|| no_job(job))?;
    let after = u32::try_from(c).ok().filter(|&c| c != 0).map(|c| c - 1);
    let (ids, next) = ns.job_tasks_page(job, after, count)?;
    let next = next.map_or("0".into(), |n| (u64::from(n) + 1).to_string());
    Ok(cursor_reply(
        next,
        ids.into_iter().map(reply::bytes).collect(),
    ))
}

/// `TASKDB.SCHEDULE ns worker_type [COUNT n]` -> the worker type's streams with ready work
/// in the order REQUEST_WORK serves them: `[{stream_id, priority, reserved, be_mult,
/// user_id, ready, running}, ...]`
pub fn schedule(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::SCHEDULE, 2, 4)?;
    let name = a.ns()?;
    let wt = a.lookup("worker_type")?;
    let count = a.count(PAGE, MAX_PAGE)?;
    a.end()?;
    let key = open_read(ctx, name);
    let Some(ns) = read(&key, name)? else {
        return Ok(RedisValue::Array(vec![]));
    };
    let policy: Policy = crate::config::policy();
    let rows = ns.schedule(wt, policy, count);
    let ids: Vec<[u8; 36]> = rows
        .iter()
        .map(|s| taskdb_core::error::uuid_bytes(s.id))
        .collect();
    Ok(reply::send(
        ctx,
        &Val::Array(
            rows.iter()
                .zip(&ids)
                .map(|(s, id)| {
                    use taskdb_core::TaskState;
                    Val::Map(vec![
                        ("stream_id", Val::Bytes(id)),
                        ("priority", Val::Double(s.priority)),
                        ("reserved", Val::Int(s.reserved)),
                        ("be_mult", Val::Double(s.be_mult)),
                        ("user_id", Val::Bytes(s.user)),
                        ("ready", Val::Int(s.counts[TaskState::Ready as usize])),
                        ("running", Val::Int(s.counts[TaskState::Running as usize])),
                    ])
                })
                .collect(),
        ),
    ))
}

/// `TASKDB.QUEUE ns stream_id [COUNT n]` -> the stream's ready tasks in the order
/// REQUEST_WORK hands them out: `[[job_id, task_id], ...]`
pub fn queue(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::QUEUE, 2, 4)?;
    let name = a.ns()?;
    let stream = a.id("stream_id")?;
    let count = a.count(PAGE, MAX_PAGE)?;
    a.end()?;
    let key = open_read(ctx, name);
    let items = read(&key, name)?
        .and_then(|ns| ns.queue(stream, count))
        .ok_or_else(|| taskdb_core::error::no_stream(stream))?;
    Ok(RedisValue::Array(
        items
            .into_iter()
            .map(|(j, t)| RedisValue::Array(vec![reply::uuid(j), reply::bytes(t)]))
            .collect(),
    ))
}

/// `TASKDB.LEASES ns [COUNT n]` -> running tasks, earliest lease deadline first:
/// `[{job_id, task_id, worker_id, attempt, started_at, updated_at, timeout_secs,
/// expires_in_ms}, ...]` (`expires_in_ms` on this node's lease clock; no holder when the
/// claim named none)
pub fn leases(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::LEASES, 1, 3)?;
    let name = a.ns()?;
    let count = a.count(PAGE, MAX_PAGE)?;
    a.end()?;
    let key = open_read(ctx, name);
    let Some(ns) = read(&key, name)? else {
        return Ok(RedisValue::Array(vec![]));
    };
    let mono = mono_ms();
    let time = |t: Option<i64>| t.map_or(Val::Null, Val::Int);
    let leases = ns.leases(count);
    let ids: Vec<[u8; 36]> = leases
        .iter()
        .map(|l| taskdb_core::error::uuid_bytes(l.job))
        .collect();
    Ok(reply::send(
        ctx,
        &Val::Array(
            leases
                .iter()
                .zip(&ids)
                .map(|(l, id)| {
                    Val::Map(vec![
                        ("job_id", Val::Bytes(id)),
                        ("task_id", Val::Bytes(l.task)),
                        ("worker_id", l.worker.map_or(Val::Null, Val::Bytes)),
                        ("attempt", Val::Int(i64::from(l.attempt))),
                        ("started_at", time(l.started_at)),
                        ("updated_at", time(l.updated_at)),
                        ("timeout_secs", Val::Int(i64::from(l.timeout_secs))),
                        ("expires_in_ms", Val::Int(l.deadline as i64 - mono as i64)),
                    ])
                })
                .collect(),
        ),
    ))
}

fn timing(t: &taskdb_core::Timing) -> Val<'static> {
    Val::Map(vec![
        ("count", Val::Int(t.count as i64)),
        ("sum_ms", Val::Int(t.sum_ms as i64)),
        (
            "bounds_ms",
            Val::Array(
                taskdb_core::meter::BOUNDS_MS
                    .iter()
                    .map(|&b| Val::Int(b as i64))
                    .collect(),
            ),
        ),
        (
            "buckets",
            Val::Array(t.buckets.iter().map(|&n| Val::Int(n as i64)).collect()),
        ),
    ])
}

/// `TASKDB.METRICS ns` -> per worker type: `worker_type`, `claimed`, `done`, `failed`,
/// `retried`, `requeued` (counts since this node loaded the namespace), `wait` (ready to
/// claimed) and `run` (claimed to done) timings: `count`, `sum_ms`, `bounds_ms` and
/// `buckets` (per bound, then above the last; not cumulative).
pub fn metrics(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::METRICS, 1, 1)?;
    let name = a.ns()?;
    a.end()?;
    let key = open_read(ctx, name);
    let Some(ns) = read(&key, name)? else {
        return Ok(RedisValue::Array(vec![]));
    };
    let rows = ns
        .meters()
        .into_iter()
        .map(|(wt, m)| {
            Val::Map(vec![
                ("worker_type", Val::Bytes(wt)),
                ("claimed", Val::Int(m.claimed as i64)),
                ("done", Val::Int(m.done as i64)),
                ("failed", Val::Int(m.failed as i64)),
                ("retried", Val::Int(m.retried as i64)),
                ("requeued", Val::Int(m.requeued as i64)),
                ("wait", timing(&m.wait)),
                ("run", timing(&m.run)),
            ])
        })
        .collect();
    Ok(reply::send(ctx, &Val::Array(rows)))
}
