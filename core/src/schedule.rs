//! The fair-share and strict orders between streams, and the order of jobs in a stream's
//! queue, as pure functions and sortable keys.

use crate::state::Priority;

/// A stream's priority: lower is served first; infinite when it has nothing ready.
///
/// Inside its reservation (running < reserved) it is negative, `(running - reserved) /
/// reserved`; past it, `(running - reserved) / be_mult`, so a larger multiplier earns a
/// larger share of the best-effort workers.
pub fn priority(ready: i64, running: i64, reserved: i64, be_mult: f64) -> f64 {
    if ready <= 0 {
        f64::INFINITY
    } else if running >= reserved {
        (running - reserved) as f64 / be_mult
    } else {
        (running - reserved) as f64 / reserved as f64
    }
}

/// `x` as a `u64` that sorts as the double does (no NaN; -0 sorts as 0).
pub fn order_bits(x: f64) -> u64 {
    let x = if x == 0.0 { 0.0 } else { x };
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// A stream's place in its worker type's fair order: lowest priority, then the larger
/// reservation, then the older stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FairKey {
    /// [`order_bits`] of the priority.
    pub priority: u64,
    /// `u32::MAX - reserved`: larger reservations first.
    pub inv_reserved: u32,
    /// The stream's creation sequence: older first.
    pub seq: u64,
    /// The stream's index.
    pub stream: u32,
}

/// A stream's place in the strict order: larger reservation, then the older stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StrictKey {
    /// `u32::MAX - reserved`.
    pub inv_reserved: u32,
    /// The stream's creation sequence.
    pub seq: u64,
    /// The stream's index.
    pub stream: u32,
}

/// `u32::MAX - reserved`, reservations being at most `i32::MAX`.
pub fn inv_reserved(reserved: i64) -> u32 {
    u32::MAX - reserved.clamp(0, i64::from(u32::MAX)) as u32
}

/// A job's place in a stream's queue: higher priority first, then the older job. Job
/// sequences stay below 2^62.
pub fn queue_key(priority: Priority, job_seq: u64) -> u64 {
    (priority as u64) << 62 | (job_seq & ((1 << 62) - 1))
}

/// The job sequence in a queue key.
pub fn job_of_queue_key(k: u64) -> u64 {
    k & ((1 << 62) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_follows_the_postgresql_formula() {
        assert_eq!(priority(0, 0, 1, 1.0), f64::INFINITY);
        assert_eq!(priority(3, 0, 2, 1.0), -1.0);
        assert_eq!(priority(3, 1, 2, 1.0), -0.5);
        assert_eq!(priority(3, 2, 2, 1.0), 0.0);
        assert_eq!(priority(3, 4, 2, 2.0), 1.0);
        assert_eq!(priority(1, 0, 0, 1.0), 0.0);
        assert_eq!(priority(1, 3, 0, 0.5), 6.0);
    }

    #[test]
    fn order_bits_sort_as_doubles() {
        let xs = [
            f64::NEG_INFINITY,
            -2.5,
            -1.0,
            -0.0,
            0.0,
            1e-9,
            1.0,
            3.5,
            f64::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(order_bits(w[0]) <= order_bits(w[1]), "{w:?}");
        }
        assert_eq!(order_bits(-0.0), order_bits(0.0));
    }

    #[test]
    fn keys_order_as_the_scheduler_does() {
        let k = |p: f64, r: i64, seq: u64| FairKey {
            priority: order_bits(p),
            inv_reserved: inv_reserved(r),
            seq,
            stream: 0,
        };
        assert!(k(-1.0, 1, 9) < k(0.0, 9, 1), "lower priority first");
        assert!(k(0.0, 4, 9) < k(0.0, 1, 1), "then the larger reservation");
        assert!(k(0.0, 4, 2) < k(0.0, 4, 9), "then the older stream");
        assert!(queue_key(Priority::High, 1_000_000) < queue_key(Priority::Medium, 1));
        assert!(queue_key(Priority::Medium, 5) < queue_key(Priority::Medium, 6));
        assert_eq!(job_of_queue_key(queue_key(Priority::Low, 77)), 77);
    }
}
