//! The closed sets of states and orders: task states, job states, job priorities and the
//! scheduling policies.
//!
//! Task lifecycle (who moves a task out of each state):
//!
//! ```text
//!   CREATE_TASK ──► pending ──(last prerequisite DONE)──► ready ◄──(RETRY / lease expiry)──┐
//!        │                                                  │                              │
//!        └──(no prerequisites left)─────────────────────────┘                              │
//!                                                           │ REQUEST_WORK                 │
//!                                                           ▼                              │
//!                                                        running ──────────────────────────┘
//!                                                           │
//!                     DONE (from ready or running) ──► done │ FAILED / retry limit ──► failed
//!
//!   ready or pending ──(its job fails or is cancelled)──► cancelled
//! ```

/// The state of a task. Closed set; see the diagram in the module comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskState {
    /// Waiting on prerequisites; DONE of the last one moves it to ready.
    Pending = 0,
    /// Queued on its stream; REQUEST_WORK moves it to running, DONE/FAILED end it.
    Ready = 1,
    /// Leased by a worker; DONE, FAILED, RETRY or lease expiry move it.
    Running = 2,
    /// Finished with an output. Final.
    Done = 3,
    /// Failed explicitly or by the retry limit. Final.
    Failed = 4,
    /// Was ready or pending when its job failed or was cancelled: never handed out. Final.
    Cancelled = 5,
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

    /// Parses a name.
    pub fn parse(s: &[u8]) -> Option<TaskState> {
        TaskState::ALL
            .into_iter()
            .find(|t| t.as_str().as_bytes() == s)
    }

    /// From its number (as stored).
    pub fn from_u8(n: u8) -> Option<TaskState> {
        TaskState::ALL.get(usize::from(n)).copied()
    }

    /// Whether the state is final.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Done | TaskState::Failed | TaskState::Cancelled
        )
    }

    /// The state a task shows, given the state it holds and whether its job failed: a
    /// failed job's ready and pending tasks are cancelled (in O(1) when the job fails,
    /// rather than one write per task).
    pub fn effective(self, job_failed: bool) -> TaskState {
        match self {
            TaskState::Ready | TaskState::Pending if job_failed => TaskState::Cancelled,
            s => s,
        }
    }
}

/// The state of a job. `running` until every task is done (`done`) or one fails (`failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Has tasks not done and none failed.
    Running = 0,
    /// Every task is done.
    Done = 1,
    /// A task failed, or the job was cancelled; never revived by later DONEs. Final.
    Failed = 2,
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

    /// Parses a name.
    pub fn parse(s: &[u8]) -> Option<JobState> {
        JobState::ALL
            .into_iter()
            .find(|t| t.as_str().as_bytes() == s)
    }

    /// From its number (as stored).
    pub fn from_u8(n: u8) -> Option<JobState> {
        JobState::ALL.get(usize::from(n)).copied()
    }
}

/// A job's priority: within a stream, higher-priority jobs are served first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Served before medium and low.
    High = 0,
    /// The default.
    Medium = 1,
    /// Served after high and medium.
    Low = 2,
}

impl Priority {
    /// Every priority, highest first.
    pub const ALL: [Priority; 3] = [Priority::High, Priority::Medium, Priority::Low];

    /// The accepted and replied name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }

    /// Parses a name (any case).
    pub fn parse(s: &[u8]) -> Option<Priority> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str().as_bytes().eq_ignore_ascii_case(s))
    }

    /// From its rank (0 high, 1 medium, 2 low).
    pub fn from_u8(r: u8) -> Option<Priority> {
        Priority::ALL.get(usize::from(r)).copied()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for s in TaskState::ALL {
            assert_eq!(TaskState::parse(s.as_str().as_bytes()), Some(s));
            assert_eq!(TaskState::from_u8(s as u8), Some(s));
        }
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str().as_bytes()), Some(s));
            assert_eq!(JobState::from_u8(s as u8), Some(s));
        }
        assert_eq!(TaskState::parse(b"bogus"), None);
        assert_eq!(Priority::parse(b"HIGH"), Some(Priority::High));
        assert_eq!(Priority::from_u8(3), None);
    }

    #[test]
    fn a_failed_jobs_waiting_tasks_show_as_cancelled() {
        assert_eq!(TaskState::Ready.effective(true), TaskState::Cancelled);
        assert_eq!(TaskState::Pending.effective(true), TaskState::Cancelled);
        assert_eq!(TaskState::Running.effective(true), TaskState::Running);
        assert_eq!(TaskState::Ready.effective(false), TaskState::Ready);
    }
}
