//! TaskDB's rules as pure functions: states, stream priority, queue ordering, leases.
//!
//! Nothing here touches Redis, so every rule is unit-tested on its own. The command files
//! apply these rules to the keyspace.
//!
//! Task lifecycle (who moves a task out of each state):
//!
//! ```text
//!   CREATE_TASK ──► pending ──(last prerequisite DONE)──► ready ◄──(RETRY / REQUEUE)──┐
//!        │                                                  │                         │
//!        └──(no prerequisites left)─────────────────────────┘                         │
//!                                                           │ REQUEST_WORK            │
//!                                                           ▼                         │
//!                                                        running ─────────────────────┘
//!                                                           │
//!                     DONE (from ready or running) ──► done │ FAILED / retry limit ──► failed
//! ```

use crate::error::{Error, Result};

/// The state of a task. Closed set; see the diagram in the module comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Waiting on prerequisites; DONE of the last one moves it to ready.
    Pending,
    /// Queued on its stream; REQUEST_WORK moves it to running, DONE/FAILED end it.
    Ready,
    /// Leased by a worker; DONE, FAILED, RETRY or lease expiry (REQUEUE) move it.
    Running,
    /// Finished with an output. Final.
    Done,
    /// Failed explicitly or by the retry limit. Final.
    Failed,
}

impl TaskState {
    /// Every state, in the order STATS reports them.
    pub const ALL: [TaskState; 5] = [
        TaskState::Pending,
        TaskState::Ready,
        TaskState::Running,
        TaskState::Done,
        TaskState::Failed,
    ];

    /// The stored and replied name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Ready => "ready",
            TaskState::Running => "running",
            TaskState::Done => "done",
            TaskState::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &[u8]) -> Option<TaskState> {
        TaskState::ALL
            .into_iter()
            .find(|t| t.as_str().as_bytes() == s)
    }
}

/// The state of a job. `running` until every task is done (`done`) or one fails (`failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Has tasks not done and none failed.
    Running,
    /// Every task is done. Final.
    Done,
    /// A task failed; never revived by later DONEs. Final.
    Failed,
}

impl JobState {
    /// Every state, in the order STATS reports them.
    pub const ALL: [JobState; 3] = [JobState::Running, JobState::Done, JobState::Failed];

    /// The stored and replied name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &[u8]) -> Option<JobState> {
        JobState::ALL
            .into_iter()
            .find(|t| t.as_str().as_bytes() == s)
    }
}

/// How REQUEST_WORK picks a stream among those of a worker type with ready work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Lowest priority first (reservation, then best effort by be_mult).
    Fair,
    /// Largest reservation first, as the PostgreSQL TaskDB's latest revision does.
    Strict,
}

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

/// The member of a stream in its worker type's schedule sorted sets.
///
/// Sorted sets order equal scores by member bytes, so the member encodes the tie-breaks:
/// larger reservation first (`i32::MAX - reserved`, zero-padded), then the older stream
/// (its creation sequence, zero-padded), then the stream id.
pub fn schedule_member(reserved: i64, seq: u64, stream_id: &str) -> String {
    let inverse = (i64::from(i32::MAX) - reserved).max(0) as u64;
    let mut m = Vec::with_capacity(32 + stream_id.len());
    push_digits(&mut m, inverse, 10, 10);
    m.push(b':');
    push_digits(&mut m, seq, 10, 20);
    m.push(b':');
    m.extend_from_slice(stream_id.as_bytes());
    String::from_utf8(m).unwrap_or_default()
}

/// Appends `n` in `radix` (10 or 16), zero-padded to `width` digits; formatting by hand
/// keeps the hot paths out of `std::fmt`.
pub fn push_digits(buf: &mut Vec<u8>, mut n: u64, radix: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = tmp.len();
    while n > 0 || i == tmp.len() {
        i -= 1;
        tmp[i] = b"0123456789abcdef"[(n % radix) as usize];
        n /= radix;
    }
    let len = tmp.len() - i;
    buf.extend(std::iter::repeat_n(b'0', width.saturating_sub(len)));
    buf.extend_from_slice(&tmp[i..]);
}

/// The stream id inside a schedule member.
pub fn stream_of_schedule_member(member: &[u8]) -> Result<&str> {
    member
        .get(32..)
        .and_then(|s| std::str::from_utf8(s).ok())
        .ok_or_else(|| Error::Corrupt("schedule member".into()))
}

/// The score of a ready task in its stream's queue: its job's creation sequence, so the
/// oldest job is served first. Sequences stay far below 2^53, where doubles are exact.
pub fn queue_score(job_seq: u64) -> f64 {
    job_seq as f64
}

/// The member of a ready task in its stream's queue: its index in its job (fixed-width
/// hex, so the oldest task of a job comes first), then its job id and task id.
pub fn queue_member(idx: u64, job_id: &str, task_id: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(10 + job_id.len() + task_id.len());
    push_digits(&mut m, idx, 16, 8);
    m.push(b':');
    m.extend_from_slice(job_id.as_bytes());
    m.push(b':');
    m.extend_from_slice(task_id);
    m
}

/// The job id and task id inside a queue member.
pub fn task_of_queue_member(member: &[u8]) -> Result<(&str, &[u8])> {
    let start = member
        .iter()
        .position(|&b| b == b':')
        .map_or(member.len(), |p| p + 1);
    task_of_ref(&member[start..])
}

/// The prefix of a task's links in its job's dependents set.
pub fn dependents_prefix(pre: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + pre.len());
    push_digits(&mut m, pre.len() as u64, 16, 8);
    m.extend_from_slice(pre);
    m
}

/// The member that records that `post` waits on `pre`.
pub fn dependent_link(pre: &[u8], post: &[u8]) -> Vec<u8> {
    let mut m = dependents_prefix(pre);
    m.extend_from_slice(post);
    m
}

/// The member of a task in the lease index and elsewhere: `job_id:task_id`.
pub fn task_ref(job_id: &str, task_id: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(37 + task_id.len());
    m.extend_from_slice(job_id.as_bytes());
    m.push(b':');
    m.extend_from_slice(task_id);
    m
}

/// Splits a `job_id:task_id` reference; job ids are 36-character UUIDs.
pub fn task_of_ref(r: &[u8]) -> Result<(&str, &[u8])> {
    if r.len() < 37 || r[36] != b':' {
        return Err(Error::Corrupt("task reference".into()));
    }
    let job = std::str::from_utf8(&r[..36]).map_err(|_| Error::Corrupt("task reference".into()))?;
    Ok((job, &r[37..]))
}

/// When a running task's lease runs out: it expires once `now > deadline`, that is when
/// `now - max(started_at, updated_at) > timeout_secs`.
pub fn lease_deadline(started_at: i64, updated_at: i64, timeout_secs: i64) -> i64 {
    started_at
        .max(updated_at)
        .saturating_add(timeout_secs.saturating_mul(1000))
}

/// Formats a stream's task counts (in [`TaskState::ALL`] order) as stored: "p r ru d f".
pub fn format_counts(c: &[i64; 5]) -> String {
    let mut m = Vec::with_capacity(24);
    for (i, n) in c.iter().enumerate() {
        if i > 0 {
            m.push(b' ');
        }
        if *n < 0 {
            m.push(b'-');
        }
        push_digits(&mut m, n.unsigned_abs(), 10, 1);
    }
    String::from_utf8(m).unwrap_or_default()
}

/// Parses a stream's stored task counts.
pub fn parse_counts(v: &[u8]) -> Option<[i64; 5]> {
    let text = std::str::from_utf8(v).ok()?;
    let mut out = [0i64; 5];
    let mut parts = text.split(' ');
    for slot in out.iter_mut() {
        *slot = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Formats a double as Redis does for replies: `inf`, `-inf`, or the shortest exact form.
pub fn format_double(x: f64) -> String {
    if x == f64::INFINITY {
        "inf".into()
    } else if x == f64::NEG_INFINITY {
        "-inf".into()
    } else {
        format!("{x}")
    }
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
    fn schedule_members_sort_by_reservation_then_age() {
        let mut v = [
            schedule_member(1, 5, "c"),
            schedule_member(4, 9, "b"),
            schedule_member(4, 2, "a"),
            schedule_member(0, 1, "d"),
        ];
        v.sort();
        let ids: Vec<_> = v
            .iter()
            .map(|m| stream_of_schedule_member(m.as_bytes()).unwrap())
            .collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
    }

    #[test]
    fn queue_members_sort_by_task_age_and_round_trip() {
        let job = "123e4567-e89b-12d3-a456-426614174000";
        let a = queue_member(9, job, b"seg:1 {x}");
        let b = queue_member(10, job, b"a");
        assert!(a < b);
        assert_eq!(task_of_queue_member(&a).unwrap(), (job, &b"seg:1 {x}"[..]));
        assert!(task_of_queue_member(b"short").is_err());
    }

    #[test]
    fn dependent_links_of_one_task_share_a_prefix() {
        let link = dependent_link(b"seg", b"join");
        assert!(link.starts_with(&dependents_prefix(b"seg")));
        assert!(!dependent_link(b"se", b"gjoin").starts_with(&dependents_prefix(b"seg")));
        assert_eq!(&link[dependents_prefix(b"seg").len()..], b"join");
    }

    #[test]
    fn lease_expires_after_the_later_of_start_and_update() {
        assert_eq!(lease_deadline(1000, 0, 5), 6000);
        assert_eq!(lease_deadline(1000, 3000, 5), 8000);
        assert_eq!(lease_deadline(i64::MAX - 1, 0, i64::MAX), i64::MAX);
    }

    #[test]
    fn states_round_trip() {
        for s in TaskState::ALL {
            assert_eq!(TaskState::parse(s.as_str().as_bytes()), Some(s));
        }
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str().as_bytes()), Some(s));
        }
        assert_eq!(TaskState::parse(b"bogus"), None);
    }

    #[test]
    fn digits_are_padded() {
        let mut b = Vec::new();
        push_digits(&mut b, 255, 16, 8);
        push_digits(&mut b, 0, 10, 1);
        push_digits(&mut b, 42, 10, 5);
        push_digits(&mut b, u64::MAX, 10, 20);
        assert_eq!(b, b"000000ff00004218446744073709551615");
    }

    #[test]
    fn counts_round_trip() {
        let c = [1, 2, 3, 40, -5];
        assert_eq!(format_counts(&c), "1 2 3 40 -5");
        assert_eq!(parse_counts(format_counts(&c).as_bytes()), Some(c));
        assert_eq!(parse_counts(b"1 2 3"), None);
        assert_eq!(parse_counts(b"1 2 3 4 5 6"), None);
        assert_eq!(parse_counts(b"1 2 x 4 5"), None);
    }

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(-0.5), "-0.5");
        assert_eq!(format_double(1.0), "1");
    }
}
