//! Maintenance: `TASKDB.CHECK` (invariants), `TASKDB.REPAIR` and `TASKDB.STATS` (counts).
//!
//! CHECK recomputes what is derived from task states and compares it with what is kept,
//! a page at a time: `CURSOR` picks up where the last page ended (0 starts), `COUNT` bounds
//! the tasks one call visits. It replies `[next_cursor, [violation, ...]]`, the cursor 0
//! when done, each violation field/value pairs starting with `kind`. It only reads. REPAIR
//! does the same and rebuilds what differs.

use crate::args::Args;
use crate::error::{Error, Result};
use crate::namespace::{changed, open_read, open_write, prepare, read, write};
use crate::replicate;
use crate::reply::{self, Val};
use crate::store::{mono_ms, now_ms};
use redis_module::{Context, RedisString, RedisValue};
use taskdb_core::{Decision, JobState, TaskState, Violation};

/// Tasks one CHECK or REPAIR page visits by default.
pub const PAGE: usize = 5_000;

/// `CURSOR c` and `COUNT n` of CHECK and REPAIR.
fn page_args<'a>(
    args: &'a [RedisString],
    usage: &'static str,
) -> Result<(&'a RedisString, Option<Cursor>, usize)> {
    let mut a = Args::new(args, usage, 1, 5)?;
    let name = a.ns()?;
    let (mut cursor, mut count) = (None, None);
    while a.has_more() {
        let w = a.bytes()?;
        if w.eq_ignore_ascii_case(b"CURSOR") && cursor.is_none() {
            cursor = Some(parse_cursor(a.bytes()?)?);
        } else if w.eq_ignore_ascii_case(b"COUNT") && count.is_none() {
            count = Some(a.int("COUNT", 1, 10_000_000)? as usize);
        } else if w.eq_ignore_ascii_case(b"FIX") {
            return Err(Error::invalid(
                "option",
                w,
                "CHECK only reads: repair with TASKDB.REPAIR ns",
            ));
        } else {
            return Err(Error::invalid(
                "option",
                w,
                "expected CURSOR c or COUNT n, each at most once",
            ));
        }
    }
    Ok((name, cursor.flatten(), count.unwrap_or(PAGE)))
}

/// Where a page starts: a job's sequence and a task index in it.
type Cursor = (u64, u32);

/// A page cursor: `0` (the start) or what the last page replied, a job's sequence and a
/// task index packed in one number (`seq * 2^32 + index`).
fn parse_cursor(v: &[u8]) -> Result<Option<Cursor>> {
    let c: u128 = std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&c: &u128| c == 0 || (1 << 32..1 << 96).contains(&c))
        .ok_or_else(|| {
            Error::invalid(
                "CURSOR",
                v,
                "must be 0 or a cursor a CHECK or REPAIR page replied",
            )
        })?;
    Ok((c != 0).then_some(((c >> 32) as u64, c as u32)))
}

/// `[next_cursor, violations]` (cursor 0: done), each violation a map.
fn page_reply(ctx: &Context, found: &[Violation], next: Option<Cursor>) -> RedisValue {
    let cursor = next.map_or(0u128, |(seq, idx)| u128::from(seq) << 32 | u128::from(idx));
    reply::send(
        ctx,
        &Val::Array(vec![
            Val::Owned(cursor.to_string().into_bytes()),
            Val::Array(
                found
                    .iter()
                    .map(|v| reply::violation(v.kind, &v.fields))
                    .collect(),
            ),
        ]),
    )
}

/// `TASKDB.CHECK ns [CURSOR c] [COUNT n]` -> `[next_cursor, [violation, ...]]`. Only
/// reads: it runs on replicas, for read-only users and at maxmemory.
pub fn check(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (name, after, budget) = page_args(args, crate::commands::usage::CHECK)?;
    let key = open_read(ctx, name);
    let Some(ns) = read(&key, name)? else {
        return Ok(page_reply(ctx, &[], None));
    };
    let (found, next) = ns.check(after, budget);
    Ok(page_reply(ctx, &found, next))
}

/// `TASKDB.REPAIR ns [CURSOR c] [COUNT n]` -> what CHECK would report on that page, each
/// now repaired (stuck pending tasks released), as CHECK replies
pub fn repair(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (name, after, budget) = page_args(args, crate::commands::usage::REPAIR)?;
    let key = open_write(ctx, name);
    let Some(ns) = write(&key, name)? else {
        return Ok(page_reply(ctx, &[], None));
    };
    prepare(ns);
    let (found, next) = ns.repair(after, budget, mono_ms());
    if !found.is_empty() {
        let d = Decision::Repair {
            from: after,
            budget: budget as u64,
        };
        replicate::decision(ctx, name, &d, now_ms());
        changed(ctx, &key, name, ns);
    }
    Ok(page_reply(ctx, &found, next))
}

/// `TASKDB.STATS ns` -> ["tasks", [worker_type, [state, n, ...], ...], "jobs", [state, n,
/// ...]] (counters: O(worker types))
pub fn stats(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::STATS, 1, 1)?;
    let name = a.ns()?;
    let key = open_read(ctx, name);
    let ns = read(&key, name)?;
    let counts = |c: &[i64; taskdb_core::STATES]| {
        Val::Map(
            TaskState::ALL
                .iter()
                .map(|&s| (s.as_str(), Val::Int(c[s as usize])))
                .collect(),
        )
    };
    let stats = ns.map(|ns| ns.stats()).unwrap_or_default();
    let mut tasks = Vec::with_capacity(stats.len());
    let names: Vec<String> = stats
        .iter()
        .map(|(wt, _)| String::from_utf8_lossy(wt).into_owned())
        .collect();
    for ((_, c), name) in stats.iter().zip(&names) {
        tasks.push((name.as_str(), counts(c)));
    }
    let jc = ns.map_or([0; 3], |ns| ns.job_counts());
    let jobs = Val::Map(
        JobState::ALL
            .iter()
            .map(|&s| (s.as_str(), Val::Int(jc[s as usize])))
            .collect(),
    );
    Ok(reply::send(
        ctx,
        &Val::Map(vec![("tasks", Val::Map(tasks)), ("jobs", jobs)]),
    ))
}
