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
//! Whether a lease ran out is decided on this node's monotonic clock (each namespace
//! keeps its lease index on it, `taskdb_core::ns`), so wall-clock steps and failovers to
//! nodes with other clocks do not expire live leases. The registry (`registry.rs`) knows
//! which namespaces have a lease due, so a tick opens only those.

use crate::namespace::open_write;
use crate::store::{mono_ms, now_ms, select_db};
use redis_module::configuration::ConfigurationContext;
use redis_module::raw::RedisModuleTimerID;
use redis_module::{Context, ContextFlags, RedisString};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Expired tasks retried per namespace per tick, so one tick stays short.
const BATCH: usize = 1000;

/// When the timer was last armed, on the monotonic clock.
static ARMED_AT: Mutex<Option<Instant>> = Mutex::new(None);

/// The armed timer, if any.
static TIMER: Mutex<Option<RedisModuleTimerID>> = Mutex::new(None);

/// Arms the reaper's timer and its watchdog; called once when the module loads.
pub fn start(ctx: &Context) {
    arm(ctx);
    crate::store::subscribe(ctx, crate::store::ServerEvent::Cron, watchdog);
}

/// Runs from Redis' cron: re-arms the timer if it was armed more than an interval and a
/// second ago without firing. Redis 7.0 schedules module timers on the wall clock, so a backward step of the
/// clock would otherwise stop the reaper for as long as the step.
fn watchdog(ctx: &Context, _: u64, _: *mut std::os::raw::c_void) {
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
    let primary = ctx.get_flags().contains(ContextFlags::MASTER);
    if primary && crate::store::writes_allowed(ctx) {
        // Finished jobs past their retention go first (it works when requeueing is off).
        crate::retention::tick(ctx, now_ms());
    }
    if primary && crate::config::requeue_interval_ms() > 0 && crate::store::writes_allowed(ctx) {
        let (now, mono) = (now_ms(), mono_ms());
        for (db, key) in crate::registry::due(mono) {
            if !select_db(ctx, db) {
                continue;
            }
            let name = RedisString::create_from_slice(ctx.ctx, &key);
            let k = open_write(ctx, &name);
            if let Err(e) = crate::work::requeue_in(ctx, &k, &name, BATCH, now, mono) {
                ctx.log_warning(&format!("TaskDB lease reaper: {e}"));
            }
        }
        select_db(ctx, 0);
    }
    arm(ctx);
}
