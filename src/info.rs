//! The operator's view: the `INFO taskdb` section, what Prometheus' redis_exporter and
//! Redis dashboards read.
//!
//! Fields (Redis prefixes each with `taskdb_`): `namespaces`; `tasks_<state>` for every
//! task state and `jobs_<state>` for every job state, summed over all namespaces;
//! `claimed_total`, `done_total`, `failed_total`, `retried_total` (RETRY),
//! `requeued_total` (REQUEUE and the lease reaper) since the server started; and
//! `blocked_workers`, the workers waiting in REQUEST_WORK BLOCK per worker type.
//!
//! The sums read each namespace's streams and job counts (linear in streams, only when
//! INFO is asked). Namespaces are noted as streams are created and found once with SCAN
//! after the server starts. The INFO callback has no command context, so it reads the
//! keyspace through a detached context created at load time; it runs on the main thread,
//! which already holds the lock such a context would take.

use crate::db::Db;
use crate::keys::{namespace_of_streams, Keys};
use crate::model::{JobState, TaskState, STATES};
use crate::store::{api, select_db, selected_db, Kind};
use redis_module::{raw, Context};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

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

/// Counts one event.
pub fn count(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
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

struct Namespaces {
    known: BTreeSet<(i32, Vec<u8>)>,
    scanned: bool,
}

static NAMESPACES: Mutex<Namespaces> = Mutex::new(Namespaces {
    known: BTreeSet::new(),
    scanned: false,
});

/// Notes a namespace (when it gets a stream).
pub fn note_namespace(ctx: &Context, ns: &[u8]) {
    let db = selected_db(ctx);
    if let Ok(mut n) = NAMESPACES.lock() {
        if !n.known.contains(&(db, ns.to_vec())) {
            n.known.insert((db, ns.to_vec()));
        }
    }
}

/// Registers the INFO section; called once when the module loads.
pub fn init(ctx: &Context) {
    // SAFETY: registers an extern "C" function of this module as its INFO callback.
    unsafe { api(raw::RedisModule_RegisterInfoFunc)(ctx.ctx, Some(on_info)) };
}

/// Task counts by state and job counts by state over every known namespace.
fn totals(ctx: &Context) -> (usize, [i64; STATES], [i64; 3]) {
    if !NAMESPACES.lock().map(|n| n.scanned).unwrap_or(true) {
        let found: Vec<(i32, Vec<u8>)> =
            crate::reaper::scan_keys(ctx, b"*:streams", b"hash", namespace_of_streams)
                .into_iter()
                .filter_map(|(db, k)| namespace_of_streams(&k).map(|ns| (db, ns)))
                .collect();
        if let Ok(mut n) = NAMESPACES.lock() {
            n.known.extend(found);
            n.scanned = true;
        }
    }
    let known: Vec<(i32, Vec<u8>)> = NAMESPACES
        .lock()
        .map(|n| n.known.iter().cloned().collect())
        .unwrap_or_default();
    let (mut tasks, mut jobs, mut live) = ([0i64; STATES], [0i64; 3], 0);
    for (db, ns) in known {
        let Ok(keys) = Keys::new(&ns) else { continue };
        if !select_db(ctx, db) {
            continue;
        }
        let d = Db::new(ctx, keys);
        let Ok(registry) = d.open(d.keys.streams(), false, Kind::Hash) else {
            continue;
        };
        if !registry.exists() {
            continue;
        }
        live += 1;
        for (sid, _) in registry.hgetall(ctx).unwrap_or_default() {
            let id = String::from_utf8_lossy(&sid).into_owned();
            if let Ok(Some(s)) = d
                .open(d.keys.stream(&id), false, Kind::Hash)
                .and_then(|k| d.read_stream(&id, &k))
            {
                for (t, n) in tasks.iter_mut().zip(s.counts) {
                    *t += n;
                }
            }
        }
        if let Ok(jc) = d.open(d.keys.job_counts(), false, Kind::Hash) {
            for (i, st) in JobState::ALL.iter().enumerate() {
                jobs[i] += jc
                    .hget(st.as_str().as_bytes())
                    .and_then(|v| std::str::from_utf8(v.as_bytes()).ok()?.parse().ok())
                    .unwrap_or(0);
            }
        }
    }
    select_db(ctx, 0);
    (live, tasks, jobs)
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

extern "C" fn on_info(ictx: *mut raw::RedisModuleInfoCtx, for_crash_report: c_int) {
    let add_num = |name: &str, v: i64| {
        let n = field_name(name.as_bytes());
        // SAFETY: ictx is the live INFO context; n a NUL-terminated name.
        unsafe { api(raw::RedisModule_InfoAddFieldLongLong)(ictx, n.as_ptr(), v) };
    };
    // SAFETY: ictx is the live INFO context; NULL names the module's default section.
    unsafe { api(raw::RedisModule_InfoAddSection)(ictx, std::ptr::null_mut()) };
    // A crash report must not touch the keyspace.
    if let Some(ctx) = crate::store::detached().filter(|_| for_crash_report == 0) {
        let (namespaces, tasks, jobs) = totals(ctx);
        add_num("namespaces", namespaces as i64);
        for s in TaskState::ALL {
            add_num(&format!("tasks_{}", s.as_str()), tasks[s as usize]);
        }
        for (i, s) in JobState::ALL.iter().enumerate() {
            add_num(&format!("jobs_{}", s.as_str()), jobs[i]);
        }
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
