//! The lease reaper: a timer that, on the primary only, retries running tasks whose lease
//! expired, as REQUEUE does, every `taskdb.requeue-interval-ms` (0 turns it off). Its
//! effects replicate like any command's (as `TASKDB.APPLY ... RETRY`), so replicas and the
//! AOF see exactly what it decided; a replica never runs it.
//!
//! Each tick first checks that writes are allowed ([`crate::store::writes_allowed`]): not
//! while clients are paused (CLIENT PAUSE, FAILOVER), loading, a replica or out of memory.
//! It then changes nothing and catches up on a later tick. A change of the interval
//! re-arms the timer at once.
//!
//! Whether a lease ran out is decided on this node's monotonic lease clock
//! (`leases.rs`), so wall-clock steps and failovers to nodes with other clocks do not
//! expire live leases. When the server starts or becomes a primary, the reaper finds the
//! leases it never saw (loaded from an RDB file) once with SCAN and gives each a full
//! lease from then.

use crate::db::Db;
use crate::keys::{namespace_of_leases, Keys};
use crate::model::{self, TaskState};
use crate::store::{now_ms, select_db, Kind};
use crate::work::{retry, Retried};
use redis_module::configuration::ConfigurationContext;
use redis_module::raw::RedisModuleTimerID;
use redis_module::{Context, ContextFlags};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Expired tasks retried per namespace per tick, so one tick stays short.
const BATCH: usize = 1000;

/// Whether the stored leases were adopted since the server started or became a primary.
static ADOPTED: AtomicBool = AtomicBool::new(false);

/// When the timer was last armed, on the monotonic clock.
static ARMED_AT: Mutex<Option<Instant>> = Mutex::new(None);

/// The armed timer, if any.
static TIMER: Mutex<Option<RedisModuleTimerID>> = Mutex::new(None);

/// Arms the reaper's timer and its watchdog; called once when the module loads.
pub fn start(ctx: &Context) {
    arm(ctx);
    crate::store::on_cron(ctx, watchdog);
}

/// Runs from Redis' cron: re-arms the timer if it was armed more than an interval and a
/// second ago without firing. Redis 7.0 schedules module timers on the wall clock, so a backward step of the
/// clock would otherwise stop the reaper for as long as the step.
fn watchdog(ctx: &Context) {
    let late = ARMED_AT
        .lock()
        .ok()
        .and_then(|t| *t)
        .is_some_and(|t| t.elapsed() > interval() + Duration::from_secs(1));
    if late {
        ctx.log_notice("TaskDB lease reaper: its timer is late (a wall-clock step?); re-armed");
        arm(ctx);
    }
}

/// (Re-)arms the timer for one interval from now, replacing an armed one.
fn arm(ctx: &Context) {
    let Ok(mut timer) = TIMER.lock() else {
        return;
    };
    if let Some(id) = timer.take() {
        // The timer's data is `()` and its callback a plain function: nothing to free.
        let _ = ctx.stop_timer::<()>(id);
    }
    *timer = Some(ctx.create_timer(interval(), tick, ()));
    if let Ok(mut t) = ARMED_AT.lock() {
        *t = Some(Instant::now());
    }
}

/// `taskdb.requeue-interval-ms` changed: re-arm at once, so a long interval set for a
/// moment does not delay the next tick (a change while the module loads is picked up by
/// [`start`]).
pub fn on_interval_changed<T>(_: &ConfigurationContext, _: &str, _: &'static T) {
    if let Some(ctx) = crate::store::detached() {
        arm(ctx);
    }
}

fn interval() -> Duration {
    let ms = crate::config::requeue_interval_ms();
    // Off (0) still ticks once a second, to notice when it is turned back on.
    Duration::from_millis(if ms == 0 { 1000 } else { ms as u64 })
}

fn tick(ctx: &Context, _: ()) {
    if let Ok(mut t) = TIMER.lock() {
        *t = None;
    }
    let flags = ctx.get_flags();
    if !flags.contains(ContextFlags::MASTER) {
        // A replica never reaps; it follows its primary's leases by replaying them.
        ADOPTED.store(false, Ordering::Relaxed);
    } else if !flags.intersects(ContextFlags::LOADING | ContextFlags::ASYNC_LOADING) {
        if !ADOPTED.swap(true, Ordering::Relaxed) {
            adopt(ctx);
        }
        if crate::config::requeue_interval_ms() > 0 && crate::store::writes_allowed(ctx) {
            for (db, key) in crate::leases::namespaces() {
                if select_db(ctx, db) {
                    reap(ctx, db, &key);
                }
            }
            select_db(ctx, 0);
        }
    }
    arm(ctx);
}

/// Retries the expired leases of one namespace (at most [`BATCH`]).
fn reap(ctx: &Context, dbi: i32, key: &[u8]) {
    let Some(keys) = namespace_of_leases(key).and_then(|ns| Keys::new(&ns).ok()) else {
        return;
    };
    let ns = keys.ns().to_vec();
    let db = Db::new(ctx, keys);
    let now = now_ms();
    let mut retried = Vec::new();
    for member in crate::leases::expired(dbi, key, BATCH) {
        let Ok((job_id, task_id)) = model::task_of_ref(&member) else {
            crate::leases::forget(dbi, key, &member);
            continue;
        };
        match retry(&db, job_id, task_id, now, None) {
            // Remembered here, but the task is no longer running (its keys were deleted).
            Ok(Retried::NotRunning) => crate::leases::forget(dbi, key, &member),
            Ok(r) => {
                if r == Retried::Requeued {
                    crate::info::count(&crate::info::REQUEUED);
                }
                retried.push((job_id.to_string(), task_id.to_vec()));
            }
            Err(e) => {
                ctx.log_warning(&format!("TaskDB lease reaper: {e}"));
                crate::leases::forget(dbi, key, &member);
            }
        }
    }
    if let Err(e) = db.flush() {
        ctx.log_warning(&format!("TaskDB lease reaper: {e}"));
    }
    for (job_id, task_id) in &retried {
        crate::replicate::decision(ctx, &ns, now, "RETRY", &[job_id.as_bytes(), task_id]);
    }
}

/// Adopts every stored lease of every database this node has not seen renewed: a full
/// lease from now (one SCAN, once after the server starts or becomes a primary).
fn adopt(ctx: &Context) {
    for (dbi, key) in scan_keys(ctx, b"*:leases", b"zset", namespace_of_leases) {
        let Some(keys) = namespace_of_leases(&key).and_then(|ns| Keys::new(&ns).ok()) else {
            continue;
        };
        if !select_db(ctx, dbi) {
            continue;
        }
        let db = Db::new(ctx, keys);
        let Ok(leases) = db.open(key.clone(), false, Kind::Zset) else {
            continue;
        };
        let members = leases.zrange_by_score(f64::NEG_INFINITY, f64::INFINITY, false, usize::MAX);
        drop(leases);
        for (member, _) in members {
            let Ok((job_id, task_id)) = model::task_of_ref(&member) else {
                continue;
            };
            if let Ok(Some((_, t))) = db.task(job_id, task_id, false) {
                if t.state == TaskState::Running {
                    crate::leases::adopt(dbi, &key, &member, t.timeout_secs);
                }
            }
        }
    }
    select_db(ctx, 0);
}
/// Every (database, key) matching `pattern` with Redis type `kind` that `is_ours` accepts,
/// over every database (one SCAN: linear in the keyspace, run once after a start).
pub fn scan_keys(
    ctx: &Context,
    pattern: &[u8],
    kind: &[u8],
    is_ours: fn(&[u8]) -> Option<Vec<u8>>,
) -> Vec<(i32, Vec<u8>)> {
    let dbs: i32 = ctx
        .call("CONFIG", &["GET", "databases"])
        .ok()
        .map(crate::store::bulk_list)
        .and_then(|v| {
            v.get(1)
                .and_then(|n| std::str::from_utf8(n).ok()?.parse().ok())
        })
        .unwrap_or(16);
    let mut found = Vec::new();
    for db in 0..dbs {
        if !select_db(ctx, db) {
            continue;
        }
        let mut cursor = b"0".to_vec();
        loop {
            let args: [&[u8]; 7] = [&cursor, b"MATCH", pattern, b"TYPE", kind, b"COUNT", b"1000"];
            let Ok(redis_module::RedisValue::Array(mut parts)) = ctx.call("SCAN", &args) else {
                break;
            };
            if parts.len() != 2 {
                break;
            }
            let keys =
                crate::store::bulk_list(parts.pop().unwrap_or(redis_module::RedisValue::Null));
            let next = crate::store::bulk_list(redis_module::RedisValue::Array(parts))
                .into_iter()
                .next()
                .unwrap_or_default();
            found.extend(
                keys.into_iter()
                    .filter(|k| is_ours(k).is_some())
                    .map(|k| (db, k)),
            );
            if next == b"0" || next.is_empty() {
                break;
            }
            cursor = next;
        }
    }
    select_db(ctx, 0);
    found
}
