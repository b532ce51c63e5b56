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
//!
//!   ready or pending ──(its job fails or is cancelled)──► cancelled
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
    /// Was ready or pending when its job failed or was cancelled: never handed out. Final.
    Cancelled,
}

/// The number of task states.
pub const STATES: usize = 6;

impl TaskState {
    /// Every state, in the order STATS reports them.
    pub const ALL: [TaskState; STATES] = [
        TaskState::Pending,
        TaskState::Ready,
        TaskState::Running,
        TaskState::Done,
        TaskState::Failed,
        TaskState::Cancelled,
    ];

    /// The stored and replied name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Ready => "ready",
            TaskState::Running => "running",
            TaskState::Done => "done",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }

    /// The keyspace event published when a task enters this state.
    pub fn event(self) -> &'static str {
        match self {
            TaskState::Pending => "taskdb.pending",
            TaskState::Ready => "taskdb.ready",
            TaskState::Running => "taskdb.running",
            TaskState::Done => "taskdb.done",
            TaskState::Failed => "taskdb.failed",
            TaskState::Cancelled => "taskdb.cancelled",
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

    /// The keyspace event published when a job enters this state.
    pub fn event(self) -> &'static str {
        match self {
            JobState::Running => "taskdb.job_running",
            JobState::Done => "taskdb.job_done",
            JobState::Failed => "taskdb.job_failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &[u8]) -> Option<JobState> {
        JobState::ALL
            .into_iter()
            .find(|t| t.as_str().as_bytes() == s)
    }
}

/// A job's priority: within a stream, higher-priority jobs are served first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Served before medium and low.
    High = 0,
    /// The default.
    Medium = 1,
    /// Served after high and medium.
    Low = 2,
}

impl Priority {
    /// The stored and accepted name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }

    /// Parses a name (any case).
    pub fn parse(s: &[u8]) -> Option<Priority> {
        [Priority::High, Priority::Medium, Priority::Low]
            .into_iter()
            .find(|p| p.as_str().as_bytes().eq_ignore_ascii_case(s))
    }

    /// From its rank (0 high, 1 medium, 2 low).
    pub fn from_rank(r: i64) -> Option<Priority> {
        [Priority::High, Priority::Medium, Priority::Low]
            .get(usize::try_from(r).ok()?)
            .copied()
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

/// `n` in decimal, as job sequences appear in key names and the `job-ids` hash.
pub fn decimal(n: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(20);
    push_digits(&mut b, n, 10, 1);
    b
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

/// The score of a ready task in its stream's queue: its job's priority, then its job's
/// creation sequence, so higher-priority jobs come first and then the oldest job.
/// `rank * 2^50 + seq` stays below 2^53, where doubles are exact, for 10^15 jobs.
pub fn queue_score(job_seq: u64, priority: Priority) -> f64 {
    (priority as u64 * (1u64 << 50) + job_seq) as f64
}

/// The member of a ready task in its stream's queue: its index in its job (fixed-width
/// hex, so the oldest task of a job comes first), then its job's sequence (hex; the job
/// id would cost 36 bytes a task) and its task id.
pub fn queue_member(idx: u64, job_seq: u64, task_id: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(24 + task_id.len());
    push_digits(&mut m, idx, 16, 8);
    m.push(b':');
    push_digits(&mut m, job_seq, 16, 1);
    m.push(b':');
    m.extend_from_slice(task_id);
    m
}

/// The job sequence and task id inside a queue member.
pub fn task_of_queue_member(member: &[u8]) -> Result<(u64, &[u8])> {
    let bad = || Error::Corrupt(format!("queue member '{}'", crate::error::escape(member)));
    let rest = member.get(9..).ok_or_else(bad)?;
    let colon = rest.iter().position(|&b| b == b':').ok_or_else(bad)?;
    let seq = std::str::from_utf8(&rest[..colon])
        .ok()
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .ok_or_else(bad)?;
    Ok((seq, &rest[colon + 1..]))
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

/// Whether a report naming attempt `attempt` (`None`: none named, the PostgreSQL TaskDB's
/// semantics) may change a task in `state` whose attempts so far are `attempts`. A named
/// attempt must be the running one, except for DONE (`done`), which any attempt may
/// report while the task is not done yet: the work was done, the first result wins.
pub fn report_applies(state: TaskState, attempts: i64, attempt: Option<i64>, done: bool) -> bool {
    match attempt {
        None => true,
        Some(n) if done => n <= attempts && matches!(state, TaskState::Ready | TaskState::Running),
        Some(n) => n == attempts && state == TaskState::Running,
    }
}

/// When a running task's lease runs out: it expires once `now > deadline`, that is when
/// `now - max(started_at, updated_at) > timeout_secs`.
pub fn lease_deadline(started_at: i64, updated_at: i64, timeout_secs: i64) -> i64 {
    started_at
        .max(updated_at)
        .saturating_add(timeout_secs.saturating_mul(1000))
}

/// A packed record: space-separated tokens, the last of which may hold spaces. Hot state
/// (what a transition reads and writes) lives in one such hash field per entity, so a
/// transition costs one field read and one field write instead of one per value.
#[derive(Debug, Default)]
pub struct Packed(Vec<u8>);

impl Packed {
    /// An empty record.
    pub fn new() -> Packed {
        Packed(Vec::with_capacity(64))
    }

    fn sep(&mut self) {
        if !self.0.is_empty() {
            self.0.push(b' ');
        }
    }

    /// Appends an integer.
    pub fn int(mut self, n: i64) -> Packed {
        self.sep();
        if n < 0 {
            self.0.push(b'-');
        }
        push_digits(&mut self.0, n.unsigned_abs(), 10, 1);
        self
    }

    /// Appends a finite double as Redis would print it; whole numbers (the usual
    /// multipliers) skip `std::fmt`.
    pub fn float(self, x: f64) -> Packed {
        if x.fract() == 0.0 && x.abs() < 1e15 {
            self.int(x as i64)
        } else {
            self.word(format_double(x).as_bytes())
        }
    }

    /// Appends a token without spaces.
    pub fn word(mut self, w: &[u8]) -> Packed {
        self.sep();
        self.0.extend_from_slice(w);
        self
    }

    /// The record's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Reads a packed record token by token.
pub struct Unpack<'a>(&'a [u8]);

impl<'a> Unpack<'a> {
    /// Reads `v`.
    pub fn new(v: &'a [u8]) -> Unpack<'a> {
        Unpack(v)
    }

    /// The next token.
    pub fn word(&mut self) -> Option<&'a [u8]> {
        if self.0.is_empty() {
            return None;
        }
        let end = self
            .0
            .iter()
            .position(|&b| b == b' ')
            .unwrap_or(self.0.len());
        let w = &self.0[..end];
        self.0 = self.0.get(end + 1..).unwrap_or_default();
        Some(w)
    }

    /// The next token as a number.
    pub fn num<T: std::str::FromStr>(&mut self) -> Option<T> {
        std::str::from_utf8(self.word()?).ok()?.parse().ok()
    }

    /// Everything left (a last token that may hold spaces).
    pub fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// A stream's scheduling state: what every transition of its tasks reads and writes.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSched {
    /// Reserved workers.
    pub reserved: i64,
    /// Best-effort multiplier.
    pub be_mult: f64,
    /// Creation sequence (tie-break: older first).
    pub seq: u64,
    /// Its tasks per state, indexed like [`TaskState::ALL`].
    pub counts: [i64; STATES],
    /// The worker type that runs its tasks.
    pub worker_type: Vec<u8>,
}

impl StreamSched {
    /// Stored form: `reserved be_mult seq pending ready running done failed cancelled
    /// worker_type`.
    pub fn pack(&self) -> Packed {
        let mut p = Packed::new()
            .int(self.reserved)
            .float(self.be_mult)
            .int(self.seq as i64);
        for c in self.counts {
            p = p.int(c);
        }
        p.word(&self.worker_type)
    }

    /// Parses the stored form.
    pub fn unpack(v: &[u8]) -> Option<StreamSched> {
        let mut u = Unpack::new(v);
        let reserved = u.num()?;
        let be_mult = u.num()?;
        let seq = u.num()?;
        let mut counts = [0i64; STATES];
        for c in counts.iter_mut() {
            *c = u.num()?;
        }
        let worker_type = u.rest().to_vec();
        (!worker_type.is_empty()).then_some(StreamSched {
            reserved,
            be_mult,
            seq,
            counts,
            worker_type,
        })
    }
}

/// A task's scheduling state: what every transition of it reads and writes, so a
/// transition writes one field (plus its payload: output or error).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSched {
    /// Its state.
    pub state: TaskState,
    /// Its index in its job.
    pub idx: u64,
    /// Prerequisites not done.
    pub waiting_on: i64,
    /// Retry limit.
    pub max_retries: i64,
    /// Lease length.
    pub timeout_secs: i64,
    /// Retries so far.
    pub retries: i64,
    /// Last claim time in ms (0: never claimed).
    pub started_at: i64,
    /// Last update time in ms (0: never updated).
    pub updated_at: i64,
    /// Claims so far: the number of the current (or last) attempt, 0 before the first.
    pub attempt: i64,
    /// Its stream.
    pub stream_id: String,
}

impl TaskSched {
    /// Stored form: `state idx waiting_on max_retries timeout_secs retries started_at
    /// updated_at attempt stream_id`.
    pub fn pack(&self) -> Packed {
        Packed::new()
            .word(self.state.as_str().as_bytes())
            .int(self.idx as i64)
            .int(self.waiting_on)
            .int(self.max_retries)
            .int(self.timeout_secs)
            .int(self.retries)
            .int(self.started_at)
            .int(self.updated_at)
            .int(self.attempt)
            .word(self.stream_id.as_bytes())
    }

    /// Parses the stored form.
    pub fn unpack(v: &[u8]) -> Option<TaskSched> {
        let mut u = Unpack::new(v);
        let state = TaskState::parse(u.word()?)?;
        Some(TaskSched {
            state,
            idx: u.num()?,
            waiting_on: u.num()?,
            max_retries: u.num()?,
            timeout_secs: u.num()?,
            retries: u.num()?,
            started_at: u.num()?,
            updated_at: u.num()?,
            attempt: u.num()?,
            stream_id: String::from_utf8(u.rest().to_vec()).ok()?,
        })
    }
}

/// `Some(t)` for a stored time, `None` for 0 (never).
pub fn time(t: i64) -> Option<i64> {
    (t != 0).then_some(t)
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
        let a = queue_member(9, 0x2a, b"seg:1 {x}");
        let b = queue_member(10, 0x2a, b"a");
        assert_eq!(a, b"00000009:2a:seg:1 {x}");
        assert!(a < b);
        assert_eq!(task_of_queue_member(&a).unwrap(), (42, &b"seg:1 {x}"[..]));
        assert!(task_of_queue_member(b"short").is_err());
        assert!(task_of_queue_member(b"00000009:zz:a").is_err());
    }

    #[test]
    fn dependent_links_of_one_task_share_a_prefix() {
        let link = dependent_link(b"seg", b"join");
        assert!(link.starts_with(&dependents_prefix(b"seg")));
        assert!(!dependent_link(b"se", b"gjoin").starts_with(&dependents_prefix(b"seg")));
        assert_eq!(&link[dependents_prefix(b"seg").len()..], b"join");
    }

    #[test]
    fn priority_orders_before_age() {
        assert!(queue_score(1_000_000, Priority::High) < queue_score(1, Priority::Medium));
        assert!(queue_score(5, Priority::Medium) < queue_score(6, Priority::Medium));
        assert!(queue_score(1, Priority::Low) > queue_score(1 << 49, Priority::Medium));
        assert_eq!(Priority::parse(b"HIGH"), Some(Priority::High));
        assert_eq!(Priority::from_rank(2), Some(Priority::Low));
        assert_eq!(Priority::from_rank(3), None);
    }

    #[test]
    fn only_the_running_attempt_reports_but_any_attempt_may_finish() {
        use TaskState::*;
        // Without ATTEMPT: always (the command's own state rules apply).
        assert!(report_applies(Ready, 0, None, false));
        // The running attempt reports; a stale one does not.
        assert!(report_applies(Running, 2, Some(2), false));
        assert!(!report_applies(Running, 2, Some(1), false));
        assert!(!report_applies(Ready, 1, Some(1), false));
        // DONE from any attempt while not done, first result wins.
        assert!(report_applies(Running, 2, Some(1), true));
        assert!(report_applies(Ready, 1, Some(1), true));
        assert!(!report_applies(Done, 2, Some(2), true));
        assert!(!report_applies(Pending, 0, Some(1), true));
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
    fn packed_records_round_trip() {
        let s = StreamSched {
            reserved: 2,
            be_mult: 1.5,
            seq: 7,
            counts: [1, 2, 3, 40, -5, 6],
            worker_type: b"gpu big".to_vec(),
        };
        assert_eq!(s.pack().bytes(), b"2 1.5 7 1 2 3 40 -5 6 gpu big");
        assert_eq!(StreamSched::unpack(s.pack().bytes()), Some(s));
        assert_eq!(StreamSched::unpack(b"2 1.5 7 1 2 3"), None);
        let t = TaskSched {
            state: TaskState::Pending,
            idx: 3,
            waiting_on: 2,
            max_retries: 1,
            timeout_secs: 60,
            retries: 1,
            started_at: 0,
            updated_at: 1700000000000,
            attempt: 2,
            stream_id: "s-1".into(),
        };
        assert_eq!(
            t.pack().bytes(),
            b"pending 3 2 1 60 1 0 1700000000000 2 s-1"
        );
        assert_eq!(TaskSched::unpack(t.pack().bytes()), Some(t));
        assert_eq!(TaskSched::unpack(b"bogus 1 2 3 4 0 0 0 0 s"), None);
        assert_eq!(TaskSched::unpack(b"ready 1 2 3 4 s"), None);
        let mut u = Unpack::new(b"12 x");
        assert_eq!(u.num::<i64>(), Some(12));
        assert_eq!(u.num::<i64>(), None);
    }

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(-0.5), "-0.5");
        assert_eq!(format_double(1.0), "1");
    }
}
