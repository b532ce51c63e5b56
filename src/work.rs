//! Work claiming and reporting: what workers call.
//!
//! `TASKDB.REQUEST_WORK`, `TASKDB.DONE`, `TASKDB.FAILED`, `TASKDB.PROGRESS`,
//! `TASKDB.HEARTBEAT`, `TASKDB.RETRY`, `TASKDB.GIVE_BACK`, `TASKDB.REQUEUE`. Each writes only when it changes a
//! task, and then replicates the decision with its time.
//!
//! Every claim is an attempt with a number (1 for the first claim, +1 per hand-out) and
//! optionally a holder (`WORKER`). A report naming its attempt (`ATTEMPT n`) is fenced:
//! from an attempt that is no longer the running one it changes nothing and replies 0,
//! except DONE, which any attempt may report while the task is not done (the first result
//! wins). A report without ATTEMPT keeps the PostgreSQL TaskDB's semantics.

use crate::args::{self, Args};
use crate::error::{Error, Result};
use crate::namespace::{changed, open_write, prepare, write};
use crate::reply;
use crate::store::{mono_ms, now_ms};
use crate::{info, replicate};
use redis_module::{Context, ContextFlags, RedisString, RedisValue};
use taskdb_core::{Claim, Decision, Namespace, Retried};

/// The most tasks one REQUEST_WORK may claim with COUNT.
pub const MAX_COUNT: i64 = 10_000;

/// The most stream ids one REQUEST_WORK may name after FINISHED.
pub const MAX_FINISHED: usize = 10_000;

const REQUEST_USAGE: &str = crate::commands::usage::REQUEST_WORK;

/// REQUEST_WORK's arguments, validated.
struct Request<'a> {
    name: &'a RedisString,
    worker_type: &'a [u8],
    block_ms: Option<i64>,
    count: Option<i64>,
    worker: Option<&'a [u8]>,
    /// Each claim's reply ends with its stream id.
    with_stream: bool,
    /// Streams of tasks just finished on other shards (`FINISHED`).
    finished: Vec<u128>,
}

fn parse_request(args: &[RedisString]) -> Result<Request<'_>> {
    let mut a = Args::new(args, REQUEST_USAGE, 2, 10 + MAX_FINISHED)?;
    let name = a.ns()?;
    let worker_type = a.lookup("worker_type")?;
    let (mut block_ms, mut count, mut worker) = (None, None, None);
    let (mut with_stream, mut finished) = (false, Vec::new());
    while a.has_more() {
        let word = a.bytes()?;
        if word.eq_ignore_ascii_case(b"BLOCK") && block_ms.is_none() {
            block_ms = Some(a.int("BLOCK", 0, i64::MAX)?);
        } else if word.eq_ignore_ascii_case(b"COUNT") && count.is_none() {
            count = Some(a.int("COUNT", 1, MAX_COUNT)?);
        } else if word.eq_ignore_ascii_case(b"WORKER") && worker.is_none() {
            worker = Some(a.name("WORKER")?);
        } else if word.eq_ignore_ascii_case(b"WITHSTREAM") && !with_stream {
            with_stream = true;
        } else if word.eq_ignore_ascii_case(b"FINISHED") && finished.is_empty() {
            // The last option: every argument after it is a stream id.
            finished.push(a.id("stream_id")?);
            while a.has_more() {
                finished.push(a.id("stream_id")?);
            }
        } else {
            return Err(Error::invalid(
                "option",
                word,
                "expected BLOCK ms, COUNT n, WORKER worker_id, WITHSTREAM or (last) \
                 FINISHED stream_id ..., each at most once",
            ));
        }
    }
    Ok(Request {
        name,
        worker_type,
        block_ms,
        count,
        worker,
        with_stream,
        finished,
    })
}

/// Claims up to `count` (default 1) tasks, in the order as many single calls would, all
/// replicated as one decision, and replies them; `false` (nothing replied) when there is
/// nothing to claim.
/// `first`: the call itself, not a blocked call's retry, so FINISHED counts once.
fn claim_some(ctx: &Context, r: &Request, first: bool) -> Result<bool> {
    let key = open_write(ctx, r.name);
    let Some(ns) = write(&key, r.name)? else {
        return Ok(false);
    };
    let (now, mono) = (now_ms(), mono_ms());
    let policy = crate::config::policy();
    prepare(ns);
    if first && !r.finished.is_empty() {
        ns.discount_elsewhere(&r.finished);
    }
    with_claimed(|claimed| {
        claimed.clear();
        for _ in 0..r.count.unwrap_or(1) {
            let Some(c) = ns.request(r.worker_type, policy, now, mono, r.worker)? else {
                break;
            };
            claimed.push(c);
        }
        if claimed.is_empty() {
            return Ok(false);
        }
        info::count(&info::CLAIMED, claimed.len() as u64);
        let ids = claimed
            .iter()
            .map(|c| (c.job, ns.task_id_at(c.seq, c.idx), r.worker));
        replicate::claims(ctx, r.name, ids, now);
        changed(ctx, &key, r.name, ns);
        reply_claims(ctx, ns, claimed, r.count.is_some(), r.with_stream);
        Ok(true)
    })
}

thread_local! {
    static CLAIMED: std::cell::RefCell<Vec<Claim>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with the buffer for a call's claims, kept from call to call.
fn with_claimed<R>(f: impl FnOnce(&mut Vec<Claim>) -> R) -> R {
    CLAIMED.with(|c| match c.try_borrow_mut() {
        Ok(mut v) => f(&mut v),
        Err(_) => f(&mut Vec::new()),
    })
}

/// Replies claims: each `[job_id, task_id, task_def, prereqs, max_retries, attempt]`
/// (and `stream_id` with WITHSTREAM), in an array when COUNT was given.
fn reply_claims(ctx: &Context, ns: &Namespace, claimed: &[Claim], counted: bool, stream: bool) {
    if counted {
        reply::array(ctx, claimed.len());
    }
    reply::with_scratch(|prereqs| {
        for c in claimed {
            let (def, max_retries) = ns.handout(c.seq, c.idx, prereqs);
            reply::array(ctx, 6 + usize::from(stream));
            reply::uuid_bulk(ctx, c.job);
            reply::bulk(ctx, ns.task_id_at(c.seq, c.idx));
            reply::bulk(ctx, def);
            reply::bulk(ctx, prereqs);
            reply::int(ctx, i64::from(max_retries));
            reply::int(ctx, i64::from(c.attempt));
            if stream {
                reply::uuid_bulk(ctx, ns.stream_id_at(c.seq, c.idx));
            }
        }
    });
}

/// `TASKDB.REQUEST_WORK ns worker_type [BLOCK ms] [COUNT n] [WORKER worker_id]
/// [WITHSTREAM] [FINISHED stream_id ...]` -> nil, or `[job_id, task_id, task_def,
/// prereqs, max_retries, attempt]` (`stream_id` appended with WITHSTREAM), or with COUNT
/// an array of those. FINISHED (a sharded TaskDB's client) names the stream of each task
/// its handle finished on another shard since it last asked, so this shard counts it
/// no longer running there before choosing, rather than until the next ELSEWHERE.
pub fn request_work(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let r = parse_request(args)?;
    if claim_some(ctx, &r, true)? {
        return Ok(RedisValue::NoReply);
    }
    // Inside MULTI, a script or anything else that cannot block: answer as a timeout.
    let flags = ctx.get_flags();
    let can_block =
        !flags.intersects(ContextFlags::MULTI | ContextFlags::LUA | ContextFlags::DENY_BLOCKING);
    match r.block_ms {
        Some(ms) if can_block => {
            crate::block::wait_on(ctx, r.name, r.worker_type, ms);
            Ok(RedisValue::NoReply)
        }
        _ => Ok(RedisValue::Null),
    }
}

/// A blocked REQUEST_WORK's retry when its namespace gained ready work: whether it
/// claimed and replied (`false`: keep waiting).
pub fn serve_blocked(ctx: &Context, args: &[RedisString]) -> Result<bool> {
    let r = parse_request(args)?;
    claim_some(ctx, &r, false)
}

/// The optional `ATTEMPT n` that ends a report.
pub fn parse_attempt(a: &mut Args) -> Result<Option<u32>> {
    if !a.has_more() {
        return Ok(None);
    }
    let w = a.bytes()?;
    if !w.eq_ignore_ascii_case(b"ATTEMPT") {
        return Err(Error::invalid("option", w, "expected ATTEMPT n"));
    }
    // An attempt beyond u32 was never handed out: the core answers it as one.
    let n = a.int("ATTEMPT", 1, i64::MAX)?.min(i64::from(u32::MAX)) as u32;
    a.end()?;
    Ok(Some(n))
}

/// Parses a progress value in [0, 1].
pub fn parse_progress(v: &[u8]) -> Result<f64> {
    args::float("progress", v, "a number from 0 to 1", |x| {
        (0.0..=1.0).contains(&x)
    })
}

/// A report's namespace, job, task and the rest of its arguments.
struct Report<'a> {
    name: &'a RedisString,
    job: u128,
    task: &'a [u8],
}

fn report<'a>(
    args: &'a [RedisString],
    usage: &'static str,
    min: usize,
) -> Result<(Args<'a>, Report<'a>)> {
    let mut a = Args::new(args, usage, min, min + 2)?;
    let name = a.ns()?;
    let job = a.id("job_id")?;
    let task = a.lookup("task_id")?;
    Ok((a, Report { name, job, task }))
}

/// `TASKDB.DONE ns job_id task_id output_json [ATTEMPT n]` -> 1 if a ready or running
/// task became done
pub fn done_cmd(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (mut a, r) = report(args, crate::commands::usage::DONE, 4)?;
    let output = a.json("output_json")?;
    let attempt = parse_attempt(&mut a)?;
    let d = Decision::Done {
        job: r.job,
        task: r.task,
        output,
        attempt,
    };
    write_report(ctx, &r, &d, |ns, now, _| {
        let done = ns.done(r.job, r.task, output, now, attempt)?;
        if done {
            info::count(&info::DONE, 1);
        }
        Ok((done, done))
    })
}

/// Runs a report's change `apply(ns, now, mono)` on its namespace (`NOTFOUND` if there is
/// none):
/// `(changed, reply)`; a change is replicated as `decision` and followed by the usual
/// epilogue. Replies `reply` as 0 or 1.
fn write_report(
    ctx: &Context,
    r: &Report,
    decision: &Decision,
    apply: impl FnOnce(&mut Namespace, i64, u64) -> Result<(bool, bool)>,
) -> Result<RedisValue> {
    let key = open_write(ctx, r.name);
    // A namespace that does not exist holds no such job.
    let ns = write(&key, r.name)?.ok_or_else(|| taskdb_core::error::no_job(r.job))?;
    let (now, mono) = (now_ms(), mono_ms());
    prepare(ns);
    let (changed_it, reply) = apply(ns, now, mono)?;
    if changed_it {
        replicate::decision(ctx, r.name, decision, now);
        changed(ctx, &key, r.name, ns);
    }
    Ok(RedisValue::Integer(i64::from(reply)))
}

/// `TASKDB.FAILED ns job_id task_id error [ATTEMPT n]` -> 1 if a ready, running or
/// pending task failed
pub fn failed_cmd(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (mut a, r) = report(args, crate::commands::usage::FAILED, 4)?;
    let error = a.payload("error")?;
    let attempt = parse_attempt(&mut a)?;
    let d = Decision::Failed {
        job: r.job,
        task: r.task,
        error,
        attempt,
    };
    write_report(ctx, &r, &d, |ns, now, _| {
        let failed = ns.failed(r.job, r.task, error, now, attempt)?;
        if failed {
            info::count(&info::FAILED, 1);
        }
        Ok((failed, failed))
    })
}

fn progress(
    ctx: &Context,
    r: &Report,
    value: Option<f64>,
    attempt: Option<u32>,
) -> Result<RedisValue> {
    let d = Decision::Progress {
        job: r.job,
        task: r.task,
        progress: value,
        attempt,
    };
    write_report(ctx, r, &d, |ns, now, mono| {
        let renewed = ns.progress(r.job, r.task, value, now, mono, attempt)?;
        Ok((renewed, renewed))
    })
}

/// `TASKDB.PROGRESS ns job_id task_id progress [ATTEMPT n]` -> 1 if a ready or running
/// task was updated
pub fn progress_cmd(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (mut a, r) = report(args, crate::commands::usage::PROGRESS, 4)?;
    let value = parse_progress(a.bytes()?)?;
    let attempt = parse_attempt(&mut a)?;
    progress(ctx, &r, Some(value), attempt)
}

/// `TASKDB.HEARTBEAT ns job_id task_id [ATTEMPT n]` -> 1 if a ready or running task's
/// lease was renewed (updated_at = now), else 0; its progress stays as it is
pub fn heartbeat_cmd(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (mut a, r) = report(args, crate::commands::usage::HEARTBEAT, 3)?;
    let attempt = parse_attempt(&mut a)?;
    progress(ctx, &r, None, attempt)
}

/// `TASKDB.RETRY ns job_id task_id [ATTEMPT n]` -> 1 if a running task went back to
/// ready, else 0
pub fn retry_cmd(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (mut a, r) = report(args, crate::commands::usage::RETRY, 3)?;
    let attempt = parse_attempt(&mut a)?;
    let d = Decision::Retries {
        tasks: vec![(r.job, r.task)],
        attempt,
    };
    write_report(ctx, &r, &d, |ns, now, _| {
        let outcome = ns.retry(r.job, r.task, now, attempt)?;
        if outcome == Retried::Requeued {
            info::count(&info::RETRIED, 1);
        }
        Ok((outcome != Retried::NotRunning, outcome == Retried::Requeued))
    })
}

/// `TASKDB.GIVE_BACK ns job_id task_id ATTEMPT n` -> 1 if the running attempt n went back
/// to ready at once, without counting a retry (its worker will not run it), else 0
pub fn give_back(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let (mut a, r) = report(args, crate::commands::usage::GIVE_BACK, 5)?;
    let attempt = parse_attempt(&mut a)?.expect("arity: ATTEMPT n is there");
    let d = Decision::GiveBack {
        job: r.job,
        task: r.task,
        attempt,
    };
    write_report(ctx, &r, &d, |ns, now, _| {
        let back = ns.give_back(r.job, r.task, attempt, now)?;
        Ok((back, back))
    })
}

/// Retries up to `limit` expired leases of the namespace in `key` at `now` (this node's
/// lease clock at `mono`), replicating them as one decision: how many were handled.
pub fn requeue_in(
    ctx: &Context,
    key: &redis_module::key::RedisKeyWritable,
    name: &RedisString,
    limit: usize,
    now: i64,
    mono: u64,
) -> Result<usize> {
    let Some(ns) = write(key, name)? else {
        return Ok(0);
    };
    prepare(ns);
    let expired = ns.requeue(limit, now, mono);
    if expired.is_empty() {
        return Ok(0);
    }
    let requeued = expired
        .iter()
        .filter(|e| e.outcome == Retried::Requeued)
        .count();
    info::count(&info::REQUEUED, requeued as u64);
    let d = Decision::Retries {
        tasks: expired.iter().map(|e| (e.job, &e.task[..])).collect(),
        attempt: None,
    };
    replicate::decision(ctx, name, &d, now);
    changed(ctx, key, name, ns);
    Ok(expired.len())
}

/// `TASKDB.REQUEUE ns limit` -> number of running tasks whose lease ran out (on this
/// node's lease clock) that were retried, at most limit
pub fn requeue(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::REQUEUE, 2, 2)?;
    let name = a.ns()?;
    let limit = a.int("limit", 1, i64::MAX)? as usize;
    let key = open_write(ctx, name);
    let n = requeue_in(ctx, &key, name, limit, now_ms(), mono_ms())?;
    Ok(RedisValue::Integer(n as i64))
}
