//! Retention: finished jobs delete themselves `taskdb.retention-done-secs` after they
//! finished done, `taskdb.retention-failed-secs` after they failed (0, the default: kept
//! until deleted). The lease reaper's tick runs it, on the primary only and only when
//! writes are allowed; it deletes at most [`BATCH`] jobs per namespace per tick (a big
//! one freed off the main thread) and replicates the deletion as DELETE_JOBS, the jobs it
//! decided, so replicas and the AOF never decide by their own clocks.
//!
//! A job is kept for its whole retention after it finished: a caller that fetches results
//! after the end (outputs, JOB_STATE, JOB_FAILURE) has that long, counted from the finish,
//! not from the job's creation.

use crate::namespace::{changed, free_jobs, open_write, prepare, write};
use crate::replicate;
use crate::store::select_db;
use redis_module::{Context, RedisString};
use std::sync::atomic::{AtomicBool, Ordering};
use taskdb_core::Decision;

/// Jobs deleted per namespace per tick, so one tick stays short.
pub const BATCH: usize = 1000;

/// Set when a retention changes (and at load): the next tick looks at every namespace,
/// whose registry entries did not track finish times while retention was off.
static RESCAN: AtomicBool = AtomicBool::new(true);

/// Makes the next tick look at every namespace.
pub fn rescan() {
    RESCAN.store(true, Ordering::Relaxed);
}

/// Deletes the jobs whose retention ran out at `now` (wall-clock ms, the primary's).
pub fn tick(ctx: &Context, now: i64) {
    let (done_ms, failed_ms) = crate::config::retention_ms();
    if done_ms == 0 && failed_ms == 0 {
        return;
    }
    let candidates = if RESCAN.swap(false, Ordering::Relaxed) {
        crate::registry::all()
    } else {
        crate::registry::retention_due(now, done_ms, failed_ms)
    };
    for (db, key) in candidates {
        if !select_db(ctx, db) {
            continue;
        }
        let name = RedisString::create_from_slice(ctx.ctx, &key);
        let k = open_write(ctx, &name);
        let Ok(Some(ns)) = write(&k, &name) else {
            continue;
        };
        prepare(ns);
        let ids = ns.expired_jobs(now, done_ms, failed_ms, BATCH);
        if ids.is_empty() {
            // Its entry learns its finish times (it may not have tracked them before).
            crate::registry::sync(ns, db, &key, ns);
            continue;
        }
        let gone: Vec<_> = ids.iter().filter_map(|&id| ns.delete_job(id)).collect();
        replicate::decision(ctx, &name, &Decision::DeleteJobs(ids), now);
        changed(ctx, &k, &name, ns);
        free_jobs(gone);
    }
    select_db(ctx, 0);
}
