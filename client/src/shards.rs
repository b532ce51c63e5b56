//! A logical TaskDB over a fixed number of namespaces (shards), hash-tagged so that a
//! Redis Cluster spreads them over its nodes and moves each one on its own.
//!
//! Shard `k` of logical TaskDB `ns` is the namespace `ns{k}`; the shard count is recorded
//! in the string key `ns:shards` when the TaskDB is created, and every handle opened on
//! `ns` reads it. A job and its tasks live on shard `job_id mod shards` (the UUID as a
//! 128-bit big-endian number), so every call about a job routes without a lookup. Streams
//! live on every shard with the same id: shard 0 decides them (`GET_OR_CREATE_STREAM`
//! stays atomic there) and the handle copies them to the others, and copies again a stream
//! a shard turns out to lack (a crash between the copies, or a shard that cleared it).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use uuid::Uuid;

/// The most shards a logical TaskDB may have.
pub const MAX_SHARDS: u32 = 1024;

/// The namespace of shard `k` of logical TaskDB `ns`.
pub fn shard_name(ns: &str, k: u32) -> String {
    format!("{ns}{{{k}}}")
}

/// The key recording a logical TaskDB's shard count.
pub fn record_key(ns: &str) -> String {
    format!("{ns}:shards")
}

/// Where a handle's data lives: one namespace, or the shards of a logical TaskDB.
pub(crate) struct Layout {
    /// The namespaces: the one, or shard `k` at index `k`.
    names: Vec<String>,
    sharded: bool,
    /// Streams this handle knows are on every shard.
    spread: Mutex<HashSet<Uuid>>,
    /// Where the next non-blocking request starts.
    next: AtomicUsize,
    /// Whether this handle shares running counts between the shards (see `share`).
    sharing: AtomicBool,
    /// How often, in ms.
    share_every_ms: AtomicU64,
    /// Idle connections for blocking on the shards.
    pub idle: crate::fanout::Idle,
    /// Claims in flight and finishes to tell the shards (when sharing).
    pub finishes: crate::finished::Finishes,
}

impl Layout {
    /// One namespace.
    pub fn single(ns: &str) -> Layout {
        Layout::new(vec![ns.to_string()], false, 0)
    }

    /// The `shards` namespaces of logical TaskDB `ns`.
    pub fn sharded(ns: &str, shards: u32) -> Layout {
        let names = (0..shards).map(|k| shard_name(ns, k)).collect();
        Layout::new(names, true, rand_start())
    }

    fn new(names: Vec<String>, sharded: bool, start: usize) -> Layout {
        Layout {
            names,
            sharded,
            spread: Mutex::new(HashSet::new()),
            next: AtomicUsize::new(start),
            sharing: AtomicBool::new(false),
            share_every_ms: AtomicU64::new(crate::SHARE_EVERY.as_millis() as u64),
            idle: Default::default(),
            finishes: Default::default(),
        }
    }

    /// Whether this is a sharded TaskDB.
    pub fn is_sharded(&self) -> bool {
        self.sharded
    }

    /// Every namespace, shard 0 first.
    pub fn all(&self) -> &[String] {
        &self.names
    }

    /// The namespace that decides streams (the only one when not sharded).
    pub fn home(&self) -> &str {
        &self.names[0]
    }

    /// The namespace holding job `id` and its tasks.
    pub fn of_job(&self, id: &Uuid) -> &str {
        &self.names[(id.as_u128() % self.names.len() as u128) as usize]
    }

    /// Every namespace, starting one further along at each call: how a worker visits
    /// the shards, so that no shard is always asked first.
    pub fn rotation(&self) -> impl Iterator<Item = &str> {
        let n = self.names.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        (0..n).map(move |i| self.names[(start + i) % n].as_str())
    }

    /// How often running counts are shared between the shards.
    pub fn share_every(&self) -> Duration {
        Duration::from_millis(self.share_every_ms.load(Ordering::Relaxed).max(1))
    }

    /// Sets how often running counts are shared (before the first claim); zero: never.
    pub fn set_share_every(&self, every: Duration) {
        self.share_every_ms
            .store(every.as_millis() as u64, Ordering::Relaxed);
    }

    /// Whether this sharded TaskDB's handle shares running counts, and so tells the
    /// shards of its finishes (`FINISHED`).
    pub fn tells_finishes(&self) -> bool {
        self.sharded && self.share_every_ms.load(Ordering::Relaxed) > 0
    }

    /// True the first time it is called, unless sharing is off: the caller starts it.
    pub fn start_sharing(&self) -> bool {
        self.share_every_ms.load(Ordering::Relaxed) > 0
            && !self.sharing.swap(true, Ordering::Relaxed)
    }

    /// Whether stream `id` is known to be on every shard.
    pub fn is_spread(&self, id: &Uuid) -> bool {
        self.spread.lock().is_ok_and(|s| s.contains(id))
    }

    /// Notes that stream `id` is on every shard.
    pub fn set_spread(&self, id: Uuid) {
        if let Ok(mut s) = self.spread.lock() {
            s.insert(id);
        }
    }

    /// Forgets stream `id` (a shard lacked it).
    pub fn unset_spread(&self, id: &Uuid) {
        if let Ok(mut s) = self.spread.lock() {
            s.remove(id);
        }
    }
}

/// A starting point that differs between handles, so that workers that start together do
/// not all ask shard 0 first.
fn rand_start() -> usize {
    (Uuid::new_v4().as_u128() % 1_000_003) as usize
}

/// Checks a logical TaskDB's name and shard count.
pub fn validate(ns: &str, shards: u32) -> Result<(), String> {
    if ns.is_empty() || ns.contains(['{', '}']) {
        return Err(format!(
            "invalid sharded namespace '{ns}': must be non-empty and hold no '{{' or '}}' (the shards' hash tags)"
        ));
    }
    if !(1..=MAX_SHARDS).contains(&shards) {
        return Err(format!(
            "invalid shards '{shards}': must be an integer from 1 to {MAX_SHARDS}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_routes_by_its_id_and_the_rotation_visits_every_shard_once() {
        let l = Layout::sharded("t", 16);
        assert_eq!(l.home(), "t{0}");
        let id = Uuid::from_u128(16 * 7 + 5);
        assert_eq!(l.of_job(&id), "t{5}");
        let a: Vec<&str> = l.rotation().collect();
        let b: Vec<&str> = l.rotation().collect();
        assert_eq!(a.len(), 16);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 16);
        assert_ne!(a[0], b[0], "each call starts one further");
        let one = Layout::single("t");
        assert_eq!((one.home(), one.of_job(&id)), ("t", "t"));
    }

    #[test]
    fn names_and_counts_are_checked() {
        assert!(validate("taskdb", 16).is_ok());
        assert!(validate("a{b}", 4).unwrap_err().contains("hash tags"));
        assert_eq!(
            validate("t", 0).unwrap_err(),
            "invalid shards '0': must be an integer from 1 to 1024"
        );
    }
}
