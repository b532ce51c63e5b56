//! The operator's view: the `INFO taskdb` section, what Prometheus' redis_exporter and
//! Redis dashboards read.
//!
//! Fields (Redis prefixes each with `taskdb_`): `namespaces`; `tasks_<state>` for every
//! task state and `jobs_<state>` for every job state, summed over the namespaces this
//! node holds (primary or replica alike); `claimed_total`, `done_total`, `failed_total`,
//! `retried_total` (RETRY), `requeued_total` (REQUEUE and the lease reaper) since the
//! server started; and `blocked_workers`, the workers waiting in REQUEST_WORK BLOCK per
//! worker type. The sums come from the registry (`registry.rs`): no keyspace scan.

use crate::store::api;
use redis_module::{raw, Context};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use taskdb_core::{JobState, TaskState, STATES};

/// Tasks claimed since start.
pub static CLAIMED: AtomicU64 = AtomicU64::new(0);
/// Tasks done since start.
pub static DONE: AtomicU64 = AtomicU64::new(0);
/// Tasks failed since start (FAILED or the retry limit).
pub static FAILED: AtomicU64 = AtomicU64::new(0);
/// Tasks sent back to ready by RETRY since start.
pub static RETRIED: AtomicU64 = AtomicU64::new(0);
/// Tasks sent back to ready by REQUEUE or the lease reaper since start.
pub static REQUEUED: AtomicU64 = AtomicU64::new(0);

/// Counts `n` events.
pub fn count(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

static BLOCKED: Mutex<BTreeMap<Vec<u8>, i64>> = Mutex::new(BTreeMap::new());

/// A worker of `worker_type` started (+1) or stopped (-1) waiting.
pub fn blocked(worker_type: &[u8], delta: i64) {
    if let Ok(mut b) = BLOCKED.lock() {
        let n = b.entry(worker_type.to_vec()).or_default();
        *n += delta;
        if *n <= 0 {
            b.remove(worker_type);
        }
    }
}

/// Whether any worker waits.
pub fn any_blocked() -> bool {
    BLOCKED.lock().map(|b| !b.is_empty()).unwrap_or(true)
}

/// Whether a worker of any of `worker_types` waits (in any namespace: a signal for a
/// worker type nobody waits for would only make every waiter retry in vain).
pub fn any_blocked_for<'a>(mut worker_types: impl Iterator<Item = &'a [u8]>) -> bool {
    match BLOCKED.lock() {
        Ok(b) => !b.is_empty() && worker_types.any(|wt| b.contains_key(wt)),
        Err(_) => true,
    }
}

/// Registers the INFO section; called once when the module loads.
pub fn init(ctx: &Context) {
    // SAFETY: registers an extern "C" function of this module as its INFO callback.
    unsafe { api(raw::RedisModule_RegisterInfoFunc)(ctx.ctx, Some(on_info)) };
}

/// An INFO field name: letters, digits and underscores only.
fn field_name(raw: &[u8]) -> CString {
    let clean: Vec<u8> = raw
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b == b'_' {
                b
            } else {
                b'_'
            }
        })
        .collect();
    CString::new(clean).unwrap_or_default()
}

extern "C" fn on_info(ictx: *mut raw::RedisModuleInfoCtx, _for_crash_report: c_int) {
    let add_num = |name: &str, v: i64| {
        let n = field_name(name.as_bytes());
        // SAFETY: ictx is the live INFO context; n a NUL-terminated name.
        unsafe { api(raw::RedisModule_InfoAddFieldLongLong)(ictx, n.as_ptr(), v) };
    };
    // SAFETY: ictx is the live INFO context; NULL names the module's default section.
    unsafe { api(raw::RedisModule_InfoAddSection)(ictx, std::ptr::null_mut()) };
    let entries = crate::registry::entries();
    let (mut tasks, mut jobs) = ([0i64; STATES], [0i64; 3]);
    for e in &entries {
        crate::namespace::add_counts(&mut tasks, &e.tasks);
        for (a, b) in jobs.iter_mut().zip(e.jobs) {
            *a += b;
        }
    }
    add_num("namespaces", entries.len() as i64);
    add_num("paused", entries.iter().map(|e| e.paused as i64).sum());
    for s in TaskState::ALL {
        add_num(&format!("tasks_{}", s.as_str()), tasks[s as usize]);
    }
    for s in JobState::ALL {
        add_num(&format!("jobs_{}", s.as_str()), jobs[s as usize]);
    }
    for (name, c) in [
        ("claimed_total", &CLAIMED),
        ("done_total", &DONE),
        ("failed_total", &FAILED),
        ("retried_total", &RETRIED),
        ("requeued_total", &REQUEUED),
    ] {
        add_num(name, c.load(Ordering::Relaxed) as i64);
    }
    let blocked: Vec<(Vec<u8>, i64)> = BLOCKED
        .lock()
        .map(|b| b.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default();
    let dict = field_name(b"blocked_workers");
    // SAFETY: ictx is the live INFO context; names are NUL-terminated.
    unsafe {
        api(raw::RedisModule_InfoBeginDictField)(ictx, dict.as_ptr());
        for (wt, n) in blocked {
            let k = field_name(&wt);
            api(raw::RedisModule_InfoAddFieldLongLong)(ictx, k.as_ptr(), n);
        }
        api(raw::RedisModule_InfoEndDictField)(ictx);
    }
}
