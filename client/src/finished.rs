//! The tasks a sharded handle finished that the other shards may still count as running
//! (until the next sharing of running counts): its next request names their streams
//! (`REQUEST_WORK … FINISHED stream_id …`) to the shards it asks, so the worker that just
//! finished a task is not steered away from that task's user by its own stale count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Claims remembered at most; past it, the oldest half is forgotten (a claim whose
/// report never comes, its worker gone, must not hold memory for ever).
const MAX_CLAIMS: usize = 4096;

/// A handle's claims in flight and its finishes not yet told.
#[derive(Default)]
pub(crate) struct Finishes {
    /// Each claim's stream and when it was made, by (job, task).
    claims: Mutex<HashMap<(Uuid, String), (Uuid, Instant)>>,
    /// Finished tasks not yet told: job (its shard), stream, when.
    pending: Mutex<Vec<(Uuid, Uuid, Instant)>>,
}

impl Finishes {
    /// Notes a claim of `task` of `job`, of stream `stream`.
    pub fn claimed(&self, job: Uuid, task: &str, stream: Uuid) {
        let Ok(mut m) = self.claims.lock() else {
            return;
        };
        if m.len() >= MAX_CLAIMS {
            let mut ages: Vec<Instant> = m.values().map(|(_, at)| *at).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            m.retain(|_, (_, at)| *at > cut);
        }
        m.insert((job, task.to_string()), (stream, Instant::now()));
    }

    /// Notes that the claim of `task` of `job` ended (done, failed, retried, given
    /// back). Told to the other shards only if it was made at least `shared` ago: a
    /// younger one may never have been counted there.
    pub fn ended(&self, job: Uuid, task: &str, shared: Duration) {
        let Some((stream, at)) = self
            .claims
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&(job, task.to_string())))
        else {
            return;
        };
        if at.elapsed() >= shared {
            if let Ok(mut p) = self.pending.lock() {
                p.push((job, stream, Instant::now()));
            }
        }
    }

    /// The finishes to tell now, as (job, stream), each once: those of the last
    /// `shared` (older ones the shards have learnt from the sharing since).
    pub fn take(&self, shared: Duration) -> Vec<(Uuid, Uuid)> {
        let Ok(mut p) = self.pending.lock() else {
            return Vec::new();
        };
        p.drain(..)
            .filter(|(_, _, at)| at.elapsed() < shared)
            .map(|(job, stream, _)| (job, stream))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_claims_old_enough_to_be_shared_are_told_and_each_once() {
        let f = Finishes::default();
        let (j, s) = (Uuid::new_v4(), Uuid::new_v4());
        f.claimed(j, "a", s);
        f.claimed(j, "b", s);
        f.ended(j, "a", Duration::ZERO);
        f.ended(j, "b", Duration::from_secs(60));
        f.ended(j, "never-claimed", Duration::ZERO);
        assert_eq!(f.take(Duration::from_secs(60)), vec![(j, s)]);
        assert!(f.take(Duration::from_secs(60)).is_empty());
        // A finish older than one sharing period is not told: the shards know it.
        f.claimed(j, "c", s);
        f.ended(j, "c", Duration::ZERO);
        assert!(f.take(Duration::ZERO).is_empty());
    }

    #[test]
    fn forgotten_claims_stay_bounded() {
        let f = Finishes::default();
        let s = Uuid::new_v4();
        for i in 0..3 * MAX_CLAIMS {
            f.claimed(Uuid::new_v4(), &i.to_string(), s);
        }
        assert!(f.claims.lock().unwrap().len() <= MAX_CLAIMS);
    }
}
