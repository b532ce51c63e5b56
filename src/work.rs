//! Work claiming and reporting: what workers call.
//!
//! `TASKDB.REQUEST_WORK`, `TASKDB.DONE`, `TASKDB.FAILED`, `TASKDB.PROGRESS`, `TASKDB.RETRY`,
//! `TASKDB.HEARTBEAT`, `TASKDB.REQUEUE`. Each writes only when it changes a task, and then
//! replicates the decision with its time (see `replicate.rs`).
//!
//! Every claim is an attempt with a number (1 for the first claim, +1 per hand-out) and
//! optionally a holder (`WORKER`). A report naming its attempt (`ATTEMPT n`) is fenced:
//! from an attempt that is no longer the running one it changes nothing and replies 0,
//! except DONE, which any attempt may report while the task is not done (the first result
//! wins). A report without ATTEMPT keeps the PostgreSQL TaskDB's semantics.

use crate::args::{self, Args};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::keys::field;
use crate::keys::Keys;
use crate::model::{self, JobState, TaskState};
use crate::replicate;
use crate::store::{now_ms, parse_num, Kind, Val};
use redis_module::{Context, ContextFlags, RedisString, RedisValue};

/// The error a task gets when RETRY pushes it past its retry limit.
pub const RETRY_MAX_HIT: &[u8] = b"retry max hit";

/// Claims a ready task at `now` for `worker` (if named): it becomes running with a fresh
/// lease, as its next attempt.
pub fn claim(
    db: &Db,
    job_id: &str,
    task_id: &[u8],
    now: i64,
    worker: Option<&[u8]>,
) -> Result<RedisValue> {
    let (k, mut t) = db.task_req(job_id, task_id, true)?;
    if t.state != TaskState::Ready {
        return Err(Error::Refused(format!(
            "task '{}' of job '{job_id}' is {}, not ready",
            crate::error::shorten(task_id),
            t.state.as_str()
        )));
    }
    t.started_at = Some(now);
    t.attempt += 1;
    match worker {
        Some(w) => db.move_task(
            &k,
            &mut t,
            TaskState::Running,
            &[(&field::WORKER_ID, Val::Bytes(w))],
        )?,
        None => {
            db.move_task(&k, &mut t, TaskState::Running, &[])?;
            // A holder named by an earlier attempt does not hold this one.
            if t.attempt > 1 {
                k.hdel(field::WORKER_ID.name());
            }
        }
    }
    db.touch_job(job_id, Some(now), None)?;
    crate::info::count(&crate::info::CLAIMED);
    let [def, prereqs] = k.hmget([&field::TASK_DEF, &field::PREREQUISITES]);
    Ok(RedisValue::Array(vec![
        RedisValue::BulkString(job_id.to_string()),
        RedisValue::StringBuffer(task_id.to_vec()),
        RedisValue::StringBuffer(def.map_or_else(Vec::new, |s| s.to_vec())),
        RedisValue::StringBuffer(crate::tasks::prerequisites_or_none(prereqs)),
        RedisValue::Integer(t.max_retries),
        RedisValue::Integer(t.attempt),
    ]))
}

/// The most tasks one REQUEST_WORK may claim with COUNT.
pub const MAX_COUNT: i64 = 10_000;

const REQUEST_USAGE: &str =
    "TASKDB.REQUEST_WORK ns worker_type [BLOCK ms] [COUNT n] [WORKER worker_id]";

/// REQUEST_WORK's arguments, validated.
struct Request<'a> {
    keys: Keys,
    worker_type: &'a [u8],
    block_ms: Option<i64>,
    count: Option<i64>,
    worker: Option<&'a [u8]>,
}

fn parse_request(args: &[RedisString]) -> Result<Request<'_>> {
    let mut a = Args::new(args, REQUEST_USAGE, 2, 8)?;
    let (_, keys) = a.ns()?;
    let worker_type = a.id("worker_type")?;
    let (mut block_ms, mut count, mut worker) = (None, None, None);
    while a.has_more() {
        let word = a.bytes()?;
        if word.eq_ignore_ascii_case(b"BLOCK") && block_ms.is_none() {
            block_ms = Some(a.int("BLOCK", 0, i64::MAX)?);
        } else if word.eq_ignore_ascii_case(b"COUNT") && count.is_none() {
            count = Some(a.int("COUNT", 1, MAX_COUNT)?);
        } else if word.eq_ignore_ascii_case(b"WORKER") && worker.is_none() {
            worker = Some(a.name("WORKER")?);
        } else {
            return Err(Error::invalid(
                "option",
                word,
                "expected BLOCK ms, COUNT n or WORKER worker_id, each at most once",
            ));
        }
    }
    Ok(Request {
        keys,
        worker_type,
        block_ms,
        count,
        worker,
    })
}

/// Claims up to `count` (default 1) tasks, in the order as many single calls would, each
/// replicated as its own decision; `None` when there is nothing to claim.
fn claim_some(ctx: &Context, args: &[RedisString], r: &Request) -> Result<Option<RedisValue>> {
    let db = Db::new(ctx, r.keys.clone());
    let policy = crate::config::policy();
    let mut claimed = Vec::new();
    for _ in 0..r.count.unwrap_or(1) {
        let Some(stream_id) = db.next_stream(r.worker_type, policy)? else {
            break;
        };
        let Some((member, _)) = db.index(db.keys.queue(&stream_id))?.zfirst() else {
            return Err(Error::Corrupt(format!(
                "stream '{stream_id}' is scheduled but its queue is empty; run TASKDB.CHECK with FIX"
            )));
        };
        let (job_seq, task_id) = model::task_of_queue_member(&member)?;
        let job_id = db.job_of_seq(job_seq)?;
        let now = now_ms();
        claimed.push(claim(&db, &job_id, task_id, now, r.worker)?);
        // The next claim reads the schedule this one changed.
        db.flush()?;
        replicate::claim(ctx, args, now, &job_id, task_id, r.worker);
    }
    Ok(match (claimed.is_empty(), r.count) {
        (true, _) => None,
        (false, Some(_)) => Some(RedisValue::Array(claimed)),
        (false, None) => claimed.pop(),
    })
}

/// `TASKDB.REQUEST_WORK ns worker_type [BLOCK ms] [COUNT n] [WORKER worker_id]` -> nil, or
/// `[job_id, task_id, task_def, prereqs, max_retries, attempt]`, or with COUNT an array of
/// those
pub fn request_work(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let r = parse_request(args)?;
    if let Some(v) = claim_some(ctx, args, &r)? {
        return Ok(v);
    }
    // Inside MULTI, a script or anything else that cannot block: answer as a timeout.
    let flags = ctx.get_flags();
    let can_block =
        !flags.intersects(ContextFlags::MULTI | ContextFlags::LUA | ContextFlags::DENY_BLOCKING);
    match r.block_ms {
        Some(ms) if can_block => {
            crate::block::wait_on(ctx, &r.keys.schedule(r.worker_type), r.worker_type, ms);
            Ok(RedisValue::NoReply)
        }
        _ => Ok(RedisValue::Null),
    }
}

/// A blocked REQUEST_WORK's retry when work of its type became ready: its reply, or
/// `None` to keep waiting.
pub fn serve_blocked(ctx: &Context, args: &[RedisString]) -> Result<Option<RedisValue>> {
    let r = parse_request(args)?;
    claim_some(ctx, args, &r)
}

/// A task a report names, if the report may change it: the task exists, and `attempt`
/// (if named) is one it has had and passes [`model::report_applies`].
fn reported(
    db: &Db,
    job_id: &str,
    task_id: &[u8],
    attempt: Option<i64>,
    done: bool,
) -> Result<Option<(crate::store::Key, crate::db::Task)>> {
    let Some((k, t)) = db.task(job_id, task_id, true)? else {
        return Ok(None);
    };
    if let Some(n) = attempt.filter(|&n| n > t.attempt) {
        return Err(Error::invalid(
            "ATTEMPT",
            n.to_string().as_bytes(),
            format!(
                "task '{}' of job '{job_id}' has had {} attempt(s)",
                crate::error::shorten(task_id),
                t.attempt
            ),
        ));
    }
    Ok(model::report_applies(t.state, t.attempt, attempt, done).then_some((k, t)))
}

/// The optional `ATTEMPT n` that ends a report.
pub fn parse_attempt(a: &mut Args) -> Result<Option<i64>> {
    if !a.has_more() {
        return Ok(None);
    }
    let w = a.bytes()?;
    if !w.eq_ignore_ascii_case(b"ATTEMPT") {
        return Err(Error::invalid("option", w, "expected ATTEMPT n"));
    }
    let n = a.int("ATTEMPT", 1, i64::MAX)?;
    a.end()?;
    Ok(Some(n))
}

/// Marks a ready or running task done at `now` and releases its dependents; with an
/// attempt, any attempt the task has had may report it (the first result wins).
pub fn done(
    db: &Db,
    job_id: &str,
    task_id: &[u8],
    output: &[u8],
    now: i64,
    attempt: Option<i64>,
) -> Result<bool> {
    let Some((k, mut t)) = reported(db, job_id, task_id, attempt, true)? else {
        return Ok(false);
    };
    if !matches!(t.state, TaskState::Ready | TaskState::Running) {
        return Ok(false);
    }
    t.updated_at = Some(now);
    db.move_task(
        &k,
        &mut t,
        TaskState::Done,
        &[(&field::OUTPUT, Val::Bytes(output))],
    )?;
    db.touch_job(job_id, None, Some(now))?;
    crate::info::count(&crate::info::DONE);
    let prefix = model::dependents_prefix(task_id);
    let links = db
        .open(db.keys.dependents(job_id), false, Kind::Zset)?
        .zrange_by_prefix(&prefix);
    for link in links {
        let dep = &link[prefix.len()..];
        let Some((dk, mut d)) = db.task(job_id, dep, true)? else {
            continue;
        };
        if d.state != TaskState::Pending || d.waiting_on <= 0 {
            continue;
        }
        d.waiting_on -= 1;
        let to = if d.waiting_on == 0 {
            TaskState::Ready
        } else {
            TaskState::Pending
        };
        db.move_task(&dk, &mut d, to, &[])?;
    }
    Ok(true)
}

fn job_task<'a>(a: &mut Args<'a>) -> Result<(String, &'a [u8])> {
    Ok((a.uuid("job_id")?, a.id("task_id")?))
}

/// `TASKDB.DONE ns job_id task_id output_json [ATTEMPT n]` -> 1 if a ready or running
/// task became done
pub fn done_cmd(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let usage = "TASKDB.DONE ns job_id task_id output_json [ATTEMPT n]";
    let mut a = Args::new(args, usage, 4, 6)?;
    let (_, keys) = a.ns()?;
    let (job_id, task_id) = job_task(&mut a)?;
    let output = a.json("output_json")?;
    let attempt = parse_attempt(&mut a)?;
    let db = Db::new(ctx, keys);
    let now = now_ms();
    let changed = done(&db, &job_id, task_id, output, now, attempt)?;
    if changed {
        db.flush()?;
        replicate::decision_as_sent(ctx, args, now, c"DONE");
    }
    Ok(RedisValue::Integer(i64::from(changed)))
}

/// Fails a ready, running or pending task at `now` (with an attempt: only the running
/// attempt), and its job.
pub fn failed(
    db: &Db,
    job_id: &str,
    task_id: &[u8],
    error: &[u8],
    now: i64,
    attempt: Option<i64>,
) -> Result<bool> {
    let Some((k, mut t)) = reported(db, job_id, task_id, attempt, false)? else {
        return Ok(false);
    };
    if !matches!(
        t.state,
        TaskState::Ready | TaskState::Running | TaskState::Pending
    ) {
        return Ok(false);
    }
    db.fail_task(&k, &mut t, error, now)?;
    Ok(true)
}

/// `TASKDB.FAILED ns job_id task_id error [ATTEMPT n]` -> 1 if a ready, running or
/// pending task failed
pub fn failed_cmd(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let usage = "TASKDB.FAILED ns job_id task_id error [ATTEMPT n]";
    let mut a = Args::new(args, usage, 4, 6)?;
    let (_, keys) = a.ns()?;
    let (job_id, task_id) = job_task(&mut a)?;
    let error = a.payload("error")?;
    let attempt = parse_attempt(&mut a)?;
    let db = Db::new(ctx, keys);
    let now = now_ms();
    let changed = failed(&db, &job_id, task_id, error, now, attempt)?;
    if changed {
        db.flush()?;
        replicate::decision_as_sent(ctx, args, now, c"FAILED");
    }
    Ok(RedisValue::Integer(i64::from(changed)))
}

/// Raises a ready or running task's progress to at least `progress` (unless `None`: a
/// heartbeat) and renews its lease; with an attempt, only the running attempt's.
pub fn progress(
    db: &Db,
    job_id: &str,
    task_id: &[u8],
    progress: Option<f64>,
    now: i64,
    attempt: Option<i64>,
) -> Result<bool> {
    let Some((k, mut t)) = reported(db, job_id, task_id, attempt, false)? else {
        return Ok(false);
    };
    if !matches!(t.state, TaskState::Ready | TaskState::Running) {
        return Ok(false);
    }
    let old: f64 = match progress {
        Some(_) => match k.hmget([&field::PROGRESS]) {
            [Some(v)] => parse_num(k.name(), "progress", v.as_bytes())?,
            [None] => 0.0,
        },
        None => 0.0,
    };
    t.updated_at = Some(now);
    let sched = t.sched().pack();
    match progress.filter(|p| *p > old) {
        Some(p) => k.hmset(&[
            (&field::SCHED, Val::Bytes(sched.bytes())),
            (
                &field::PROGRESS,
                Val::Bytes(model::format_double(p).as_bytes()),
            ),
        ]),
        None => k.hmset(&[(&field::SCHED, Val::Bytes(sched.bytes()))]),
    }
    db.renew_lease(&t)?;
    db.touch_job(job_id, None, Some(now))?;
    Ok(true)
}

/// Parses a progress value in [0, 1].
pub fn parse_progress(v: &[u8]) -> Result<f64> {
    args::float("progress", v, "a number from 0 to 1", |x| {
        (0.0..=1.0).contains(&x)
    })
}

/// `TASKDB.PROGRESS ns job_id task_id progress [ATTEMPT n]` -> 1 if a ready or running
/// task was updated
pub fn progress_cmd(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let usage = "TASKDB.PROGRESS ns job_id task_id progress [ATTEMPT n]";
    let mut a = Args::new(args, usage, 4, 6)?;
    let (_, keys) = a.ns()?;
    let (job_id, task_id) = job_task(&mut a)?;
    let value = parse_progress(a.bytes()?)?;
    let attempt = parse_attempt(&mut a)?;
    let db = Db::new(ctx, keys);
    let now = now_ms();
    let changed = progress(&db, &job_id, task_id, Some(value), now, attempt)?;
    if changed {
        db.flush()?;
        replicate::decision_as_sent(ctx, args, now, c"PROGRESS");
    }
    Ok(RedisValue::Integer(i64::from(changed)))
}

/// `TASKDB.HEARTBEAT ns job_id task_id [ATTEMPT n]` -> 1 if a ready or running task's
/// lease was renewed (updated_at = now), else 0; its progress stays as it is
pub fn heartbeat_cmd(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let usage = "TASKDB.HEARTBEAT ns job_id task_id [ATTEMPT n]";
    let mut a = Args::new(args, usage, 3, 5)?;
    let (_, keys) = a.ns()?;
    let (job_id, task_id) = job_task(&mut a)?;
    let attempt = parse_attempt(&mut a)?;
    let db = Db::new(ctx, keys);
    let now = now_ms();
    let changed = progress(&db, &job_id, task_id, None, now, attempt)?;
    if changed {
        db.flush()?;
        replicate::decision_as_sent(ctx, args, now, c"HEARTBEAT");
    }
    Ok(RedisValue::Integer(i64::from(changed)))
}

/// What RETRY did to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retried {
    /// It was not running: nothing changed.
    NotRunning,
    /// It went back to ready.
    Requeued,
    /// It passed its retry limit and failed with its job.
    LimitHit,
    /// Its job had failed, so instead of going back to ready it was cancelled.
    Cancelled,
}

/// Sends a running task back to ready at `now`, or fails it past its retry limit; with
/// an attempt, only if that attempt is the running one.
pub fn retry(
    db: &Db,
    job_id: &str,
    task_id: &[u8],
    now: i64,
    attempt: Option<i64>,
) -> Result<Retried> {
    let Some((k, mut t)) = reported(db, job_id, task_id, attempt, false)? else {
        return Ok(Retried::NotRunning);
    };
    if t.state != TaskState::Running {
        return Ok(Retried::NotRunning);
    }
    t.retries += 1;
    if t.retries > t.max_retries {
        db.fail_task(&k, &mut t, RETRY_MAX_HIT, now)?;
        return Ok(Retried::LimitHit);
    }
    t.updated_at = Some(now);
    let failed_job = db.with_job(job_id, false, |j, _| j.state == JobState::Failed)?;
    let (to, outcome) = if failed_job {
        (TaskState::Cancelled, Retried::Cancelled)
    } else {
        (TaskState::Ready, Retried::Requeued)
    };
    db.move_task(
        &k,
        &mut t,
        to,
        &[
            (&field::PROGRESS, Val::Bytes(b"0")),
            (&field::ERROR, Val::Bytes(b"")),
        ],
    )?;
    db.touch_job(job_id, None, Some(now))?;
    Ok(outcome)
}

/// `TASKDB.RETRY ns job_id task_id [ATTEMPT n]` -> 1 if a running task went back to
/// ready, else 0
pub fn retry_cmd(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, "TASKDB.RETRY ns job_id task_id [ATTEMPT n]", 3, 5)?;
    let (_, keys) = a.ns()?;
    let (job_id, task_id) = job_task(&mut a)?;
    let attempt = parse_attempt(&mut a)?;
    let db = Db::new(ctx, keys);
    let now = now_ms();
    let r = retry(&db, &job_id, task_id, now, attempt)?;
    if r == Retried::Requeued {
        crate::info::count(&crate::info::RETRIED);
    }
    if r != Retried::NotRunning {
        db.flush()?;
        replicate::decision_as_sent(ctx, args, now, c"RETRY");
    }
    Ok(RedisValue::Integer(i64::from(r == Retried::Requeued)))
}

/// `TASKDB.REQUEUE ns limit` -> number of running tasks whose lease ran out (on this
/// node's lease clock, see `leases.rs`) that were retried, at most limit
pub fn requeue(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, "TASKDB.REQUEUE ns limit", 2, 2)?;
    let (_, keys) = a.ns()?;
    let limit = a.int("limit", 1, i64::MAX)?;
    let db = Db::new(ctx, keys);
    let now = now_ms();
    let key = db.keys.leases();
    let expired = crate::leases::expired(db.db_index(), &key, limit as usize);
    let mut retried = Vec::new();
    for member in &expired {
        let (job_id, task_id) = model::task_of_ref(member)?;
        match retry(&db, job_id, task_id, now, None)? {
            // A lease this node still remembered, of a task no longer running.
            Retried::NotRunning => crate::leases::forget(db.db_index(), &key, member),
            r => {
                if r == Retried::Requeued {
                    crate::info::count(&crate::info::REQUEUED);
                }
                retried.push((job_id, task_id));
            }
        }
    }
    db.flush()?;
    for (job_id, task_id) in &retried {
        replicate::task_decision(ctx, args, now, c"RETRY", job_id, task_id);
    }
    Ok(RedisValue::Integer(retried.len() as i64))
}
