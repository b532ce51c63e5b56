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
//! It visits the namespaces that have lease keys: each claim notes its namespace's lease
//! key, and when the server starts or becomes a primary the reaper finds the existing ones
//! once with SCAN.

use crate::db::Db;
use crate::keys::{namespace_of_leases, Keys};
use crate::model;
use crate::store::{now_ms, Kind};
use crate::store::{select_db, selected_db};
use crate::work::{retry, Retried};
use redis_module::configuration::ConfigurationContext;
use redis_module::raw::RedisModuleTimerID;
use redis_module::{Context, ContextFlags};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

/// Expired tasks retried per namespace per tick, so one tick stays short.
const BATCH: usize = 1000;

struct Registry {
    /// (database, lease key) of every namespace with running tasks seen.
    leases: BTreeSet<(i32, Vec<u8>)>,
    /// Whether the keyspace was scanned since the server started or became a primary.
    scanned: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    leases: BTreeSet::new(),
    scanned: false,
});

/// Notes that the namespace with lease key `key` has running tasks.
pub fn note(ctx: &Context, key: &[u8]) {
    let db = selected_db(ctx);
    if let Ok(mut r) = REGISTRY.lock() {
        if !r.leases.contains(&(db, key.to_vec())) {
            r.leases.insert((db, key.to_vec()));
        }
    }
}

/// The armed timer, if any.
static TIMER: Mutex<Option<RedisModuleTimerID>> = Mutex::new(None);

/// Arms the reaper's timer; called once when the module loads.
pub fn start(ctx: &Context) {
    arm(ctx);
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
    if !ctx.get_flags().contains(ContextFlags::MASTER) {
        if let Ok(mut r) = REGISTRY.lock() {
            r.scanned = false;
        }
    } else if crate::config::requeue_interval_ms() > 0 && crate::store::writes_allowed(ctx) {
        if !REGISTRY.lock().map(|r| r.scanned).unwrap_or(true) {
            scan(ctx);
        }
        let targets: Vec<(i32, Vec<u8>)> = REGISTRY
            .lock()
            .map(|r| r.leases.iter().cloned().collect())
            .unwrap_or_default();
        for (db, key) in targets {
            if !select_db(ctx, db) || !reap(ctx, &key) {
                if let Ok(mut r) = REGISTRY.lock() {
                    r.leases.remove(&(db, key));
                }
            }
        }
        select_db(ctx, 0);
    }
    arm(ctx);
}

/// Retries the expired leases of one namespace; false when it has no lease key any more.
fn reap(ctx: &Context, key: &[u8]) -> bool {
    let Some(ns) = namespace_of_leases(key) else {
        return false;
    };
    let Ok(keys) = Keys::new(&ns) else {
        return false;
    };
    let db = Db::new(ctx, keys);
    let now = now_ms();
    let Ok(leases) = db.open(key.to_vec(), false, Kind::Zset) else {
        return false;
    };
    if !leases.exists() {
        return false;
    }
    let expired = leases.zrange_by_score(f64::NEG_INFINITY, now as f64, true, BATCH);
    drop(leases);
    let mut retried = Vec::new();
    for (member, _) in &expired {
        let Ok((job_id, task_id)) = model::task_of_ref(member) else {
            continue;
        };
        match retry(&db, job_id, task_id, now, None) {
            Ok(Retried::NotRunning) => {}
            Ok(r) => {
                if r == Retried::Requeued {
                    crate::info::count(&crate::info::REQUEUED);
                }
                retried.push((job_id.to_string(), task_id.to_vec()));
            }
            Err(e) => ctx.log_warning(&format!("TaskDB lease reaper: {e}")),
        }
    }
    if let Err(e) = db.flush() {
        ctx.log_warning(&format!("TaskDB lease reaper: {e}"));
    }
    for (job_id, task_id) in &retried {
        crate::replicate::decision(ctx, &ns, now, "RETRY", &[job_id.as_bytes(), task_id]);
    }
    true
}

/// Finds every lease key of every database, once.
fn scan(ctx: &Context) {
    let found = scan_keys(ctx, b"*:leases", b"zset", namespace_of_leases);
    if let Ok(mut r) = REGISTRY.lock() {
        r.leases.extend(found);
        r.scanned = true;
    }
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
