//! Per worker type counters and timings of a namespace, for metrics: how many tasks were
//! claimed, done, failed, retried and requeued, how long tasks waited ready before a claim
//! and ran before DONE. Kept in memory only (they count since this node loaded the
//! namespace, like INFO's totals), and computed from the stored times the commands and
//! their replays see, so a replica's meters follow its primary's.

/// Upper bounds of the timing buckets, ms (an implicit last bucket holds the rest).
pub const BOUNDS_MS: [u64; 12] = [
    1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000, 60_000, 300_000, 1_800_000,
];

/// A distribution of durations: bucket counts (not cumulative), their sum and count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timing {
    /// Observations per bucket of [`BOUNDS_MS`], then the ones above the last bound.
    pub buckets: [u64; BOUNDS_MS.len() + 1],
    /// Their sum, ms.
    pub sum_ms: u64,
    /// How many.
    pub count: u64,
}

impl Timing {
    /// Records one duration (negative ones, from clock steps, count as 0).
    pub fn observe(&mut self, ms: i64) {
        let ms = ms.max(0) as u64;
        let i = BOUNDS_MS.partition_point(|&b| b < ms);
        self.buckets[i] += 1;
        self.sum_ms = self.sum_ms.saturating_add(ms);
        self.count += 1;
    }
}

/// One worker type's meters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meter {
    /// Tasks claimed (REQUEST_WORK).
    pub claimed: u64,
    /// Tasks done.
    pub done: u64,
    /// Tasks failed (FAILED, or a retry past the limit).
    pub failed: u64,
    /// Tasks sent back to ready by RETRY.
    pub retried: u64,
    /// Tasks whose lease ran out, retried by REQUEUE or the lease reaper.
    pub requeued: u64,
    /// From ready (created, released by the last prerequisite, or sent back) to claimed.
    pub wait: Timing,
    /// From the claim to DONE.
    pub run: Timing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_the_first_bucket_that_holds_them() {
        let mut t = Timing::default();
        for ms in [0, 1, 2, 1_000, 1_001, 10_000_000, -5] {
            t.observe(ms);
        }
        assert_eq!(t.buckets[0], 3, "0, 1 and -5 -> 0");
        assert_eq!(t.buckets[1], 1);
        assert_eq!(t.buckets[6], 1, "1000 is <= 1000");
        assert_eq!(t.buckets[7], 1);
        assert_eq!(t.buckets[12], 1, "above every bound");
        assert_eq!((t.count, t.sum_ms), (7, 10_002_004));
    }
}
