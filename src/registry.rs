//! Where every live namespace is (database and key), with what INFO and the lease reaper
//! need of it (task and job counts, the next lease deadline), so neither scans the
//! keyspace nor keeps anything of a namespace after its key is gone.
//!
//! A namespace is entered when it is made (a command, an RDB load, RESTORE, COPY) and its
//! entry follows it: commands refresh it, `RENAME`/`MOVE` arrive as keyspace events
//! (`rename_to`, `move_to`), `SWAPDB` as a server event. It leaves when its key does
//! (`unlink2`, `free`, and FLUSHDB/FLUSHALL, which may free it later on another thread).

use crate::store;
use redis_module::{Context, NotifyEvent, RedisString};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use taskdb_core::{Namespace, STATES};

/// What is known of one live namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its database.
    pub db: i32,
    /// Its key.
    pub key: Vec<u8>,
    /// Its tasks per state.
    pub tasks: [i64; STATES],
    /// Its jobs per state.
    pub jobs: [i64; 3],
    /// The earliest lease deadline (this node's monotonic ms), if a task runs.
    pub deadline: Option<u64>,
    /// Its paused streams and worker types.
    pub paused: usize,
    /// When its earliest finished done job and failed job finished (ms), if any.
    pub finished: (Option<i64>, Option<i64>),
}

/// Hashes a value's address: one multiply, where the default SipHash would cost more
/// than the rest of the registry's work per command.
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
}

type Map = HashMap<usize, Entry, BuildHasherDefault<AddrHasher>>;

/// Live namespaces by the address of their value.
static LIVE: Mutex<Option<Map>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Map) -> R) -> R {
    let mut g = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(Map::default))
}

fn entry(db: i32, key: &[u8], ns: &Namespace) -> Entry {
    Entry {
        db,
        key: key.to_vec(),
        tasks: ns.task_counts(),
        jobs: ns.job_counts(),
        deadline: ns.next_deadline(),
        paused: ns.paused_count(),
        finished: finished(ns),
    }
}

/// The earliest finish times, tracked only while a retention is on (two tree lookups per
/// command otherwise spent for nothing).
fn finished(ns: &Namespace) -> (Option<i64>, Option<i64>) {
    if crate::config::retention_on() {
        ns.earliest_finished()
    } else {
        (None, None)
    }
}

/// Every namespace, wherever its finish times stand (for a retention just turned on).
pub fn all() -> Vec<(i32, Vec<u8>)> {
    with(|m| m.values().map(|e| (e.db, e.key.clone())).collect())
}

/// Enters (or moves) the namespace at `value`, in database `db` under `key`.
pub fn register(value: *const Namespace, db: i32, key: &[u8], ns: &Namespace) {
    let e = entry(db, key, ns);
    with(|m| m.insert(value as usize, e));
}

/// Refreshes the entry of the namespace a command just changed (in database `db` under
/// `key`, where it is entered if it is not yet: its moves arrive as events).
pub fn sync(value: *const Namespace, db: i32, key: &[u8], ns: &Namespace) {
    let (tasks, jobs, deadline) = (ns.task_counts(), ns.job_counts(), ns.next_deadline());
    let (paused, finished) = (ns.paused_count(), finished(ns));
    with(|m| match m.get_mut(&(value as usize)) {
        Some(e) => {
            e.tasks = tasks;
            e.jobs = jobs;
            e.deadline = deadline;
            e.paused = paused;
            e.finished = finished;
        }
        None => {
            m.insert(value as usize, entry(db, key, ns));
        }
    });
}

/// The namespaces holding a job whose retention ran out at `now` (done jobs kept
/// `done_ms`, failed ones `failed_ms`; 0: for ever).
pub fn retention_due(now: i64, done_ms: i64, failed_ms: i64) -> Vec<(i32, Vec<u8>)> {
    let over =
        |at: Option<i64>, ttl: i64| ttl > 0 && at.is_some_and(|t| t < now.saturating_sub(ttl));
    with(|m| {
        m.values()
            .filter(|e| over(e.finished.0, done_ms) || over(e.finished.1, failed_ms))
            .map(|e| (e.db, e.key.clone()))
            .collect()
    })
}

/// The namespace at `value` is gone (or leaving its key).
pub fn forget(value: *const Namespace) {
    with(|m| m.remove(&(value as usize)));
}

/// Every live namespace.
pub fn entries() -> Vec<Entry> {
    with(|m| m.values().cloned().collect())
}

/// How many namespaces live here.
pub fn count() -> usize {
    with(|m| m.len())
}

/// The namespaces with a lease due by `mono`: (database, key).
pub fn due(mono: u64) -> Vec<(i32, Vec<u8>)> {
    with(|m| {
        m.values()
            .filter(|e| e.deadline.is_some_and(|d| d <= mono))
            .map(|e| (e.db, e.key.clone()))
            .collect()
    })
}

/// A keyspace event: `rename_to` and `move_to` name a key that just arrived; if it holds a
/// namespace, its entry moves there. (Its old place was left through `unlink2`.)
pub fn on_key_event(ctx: &Context, _kind: NotifyEvent, event: &str, key: &[u8]) {
    if !matches!(event, "rename_to" | "move_to" | "restore") {
        return;
    }
    let name = RedisString::create_from_slice(ctx.ctx, key);
    let k = ctx.open_key(&name);
    if let Ok(Some(ns)) = k.get_value::<Namespace>(&crate::datatype::TYPE) {
        register(ns as *const Namespace, store::selected_db(ctx), key, ns);
    }
}

/// FLUSHDB / FLUSHALL / a full sync emptying the data: the namespaces of that database
/// (all, for -1) leave at once, though an asynchronous flush frees them later.
pub fn on_flush(_ctx: &Context, subevent: u64, data: *mut std::os::raw::c_void) {
    if subevent != redis_module::raw::REDISMODULE_SUBEVENT_FLUSHDB_START {
        return;
    }
    let db = store::flushed_db(data);
    with(|m| m.retain(|_, e| db != -1 && e.db != db));
}

/// SWAPDB: the two databases' namespaces trade places.
pub fn on_swap(_ctx: &Context, _subevent: u64, data: *mut std::os::raw::c_void) {
    let Some((a, b)) = store::swapped_dbs(data) else {
        return;
    };
    with(|m| {
        for e in m.values_mut() {
            if e.db == a {
                e.db = b;
            } else if e.db == b {
                e.db = a;
            }
        }
    });
}
