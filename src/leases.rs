//! When a lease runs out: each node decides on its own monotonic clock.
//!
//! The stored lease data (the `leases` sorted set, a task's `started_at`/`updated_at`)
//! is the primary's wall clock: it is what replicas and the AOF reproduce and what
//! operators read. Whether a lease has run out is decided here instead, in memory, on the
//! monotonic clock of the node that decides: a lease expires `timeout_secs` after this
//! node last saw it claimed or renewed (a replica and an AOF load see it when they replay
//! the claim or the heartbeat). Leases this node never saw (loaded from an RDB file,
//! rewritten by REPAIR) are adopted with a full lease from the moment it finds them.
//!
//! So a step of the wall clock, or a failover to a node whose clock is off, never expires
//! a live lease (one renewed within its timeout) and never delays a dead one by more than
//! one lease length. This state is per node and never persisted or replicated; each
//! node rebuilds it from what it sees.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A namespace's lease index on this node: (database, the name of its `leases` key).
pub type Namespace = (i32, Vec<u8>);

/// One namespace's leases: member (`job_id:task_id`) -> local deadline, and that order.
#[derive(Default)]
struct Leases {
    deadline: HashMap<Vec<u8>, Instant>,
    order: BTreeSet<(Instant, Vec<u8>)>,
}

static CLOCK: Mutex<BTreeMap<Namespace, Leases>> = Mutex::new(BTreeMap::new());

fn deadline(timeout_secs: i64) -> Instant {
    let now = Instant::now();
    let lease = Duration::from_secs(timeout_secs.max(0) as u64);
    now.checked_add(lease)
        .unwrap_or(now + Duration::from_secs(u32::MAX.into()))
}

fn with<R>(f: impl FnOnce(&mut BTreeMap<Namespace, Leases>) -> R) -> Option<R> {
    CLOCK.lock().ok().map(|mut c| f(&mut c))
}

/// The lease `member` of namespace `key` in database `db` was claimed or renewed now: it
/// runs out `timeout_secs` from now.
pub fn renew(db: i32, key: &[u8], member: &[u8], timeout_secs: i64) {
    let at = deadline(timeout_secs);
    with(|c| {
        let l = c.entry((db, key.to_vec())).or_default();
        if let Some(old) = l.deadline.insert(member.to_vec(), at) {
            l.order.remove(&(old, member.to_vec()));
        }
        l.order.insert((at, member.to_vec()));
    });
}

/// Takes a lease this node has not seen yet (found in the stored data): a full lease
/// from now. A lease it knows keeps its deadline.
pub fn adopt(db: i32, key: &[u8], member: &[u8], timeout_secs: i64) {
    let known = with(|c| {
        c.get(&(db, key.to_vec()))
            .is_some_and(|l| l.deadline.contains_key(member))
    });
    if known == Some(false) {
        renew(db, key, member, timeout_secs);
    }
}

/// The lease ended (its task left running, or was deleted).
pub fn forget(db: i32, key: &[u8], member: &[u8]) {
    with(|c| {
        let ns = (db, key.to_vec());
        if let Some(l) = c.get_mut(&ns) {
            if let Some(at) = l.deadline.remove(member) {
                l.order.remove(&(at, member.to_vec()));
            }
            if l.deadline.is_empty() {
                c.remove(&ns);
            }
        }
    });
}

/// Up to `limit` leases of the namespace that have run out, earliest first.
pub fn expired(db: i32, key: &[u8], limit: usize) -> Vec<Vec<u8>> {
    let now = Instant::now();
    with(|c| {
        c.get(&(db, key.to_vec()))
            .map(|l| {
                l.order
                    .iter()
                    .take_while(|(at, _)| *at <= now)
                    .take(limit)
                    .map(|(_, m)| m.clone())
                    .collect()
            })
            .unwrap_or_default()
    })
    .unwrap_or_default()
}

/// Every namespace this node holds leases of.
pub fn namespaces() -> Vec<Namespace> {
    with(|c| c.keys().cloned().collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_expire_on_the_local_clock_earliest_first() {
        let (db, key) = (7, b"{t}:leases-unit".as_slice());
        renew(db, key, b"late", 3600);
        renew(db, key, b"b", 0);
        renew(db, key, b"a", 0);
        let got = expired(db, key, 10);
        assert_eq!(got.len(), 2);
        assert!(got.contains(&b"a".to_vec()) && got.contains(&b"b".to_vec()));
        assert_eq!(expired(db, key, 1).len(), 1);
        // A renewal moves the deadline; adopting a known lease does not.
        renew(db, key, b"a", 3600);
        adopt(db, key, b"b", 3600);
        assert_eq!(expired(db, key, 10), vec![b"b".to_vec()]);
        adopt(db, key, b"new", 0);
        assert_eq!(expired(db, key, 10).len(), 2);
        for m in [&b"a"[..], b"b", b"late", b"new"] {
            forget(db, key, m);
        }
        assert!(!namespaces().contains(&(db, key.to_vec())));
    }
}
