//! The values the API returns.

use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;
use std::fmt;
use uuid::Uuid;

/// The id of the task every job starts with.
pub const INIT_TASK: &str = "init";

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobState {
    /// Has tasks not done.
    Running,
    /// Every task is done.
    Done,
    /// A task failed, or the job was cancelled.
    Failed,
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobState::Running => "RUNNING",
            JobState::Done => "SUCCEEDED",
            JobState::Failed => "FAILED",
        })
    }
}

impl JobState {
    pub(crate) fn parse(s: &str) -> Option<JobState> {
        match s {
            "running" => Some(JobState::Running),
            "done" => Some(JobState::Done),
            "failed" => Some(JobState::Failed),
            _ => None,
        }
    }
}

/// A task's state as the PostgreSQL TaskDB names them (its five states). A task TaskDB
/// cancelled (its job failed or was cancelled) shows as `Failed` here, as it would be in
/// PostgreSQL; [`FullTaskState`] tells the two apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskState {
    /// Waits on prerequisites.
    Pending,
    /// Queued.
    Ready,
    /// Leased by a worker.
    Running,
    /// Finished.
    Done,
    /// Failed, or cancelled.
    Failed,
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A task's state as TaskDB keeps it: the PostgreSQL states and `Cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FullTaskState {
    /// Waits on prerequisites.
    Pending,
    /// Queued.
    Ready,
    /// Leased by a worker.
    Running,
    /// Finished.
    Done,
    /// Failed.
    Failed,
    /// Never to run: its job failed or was cancelled.
    Cancelled,
}

impl fmt::Display for FullTaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl FullTaskState {
    pub(crate) fn parse(s: &str) -> Option<FullTaskState> {
        Some(match s {
            "pending" => FullTaskState::Pending,
            "ready" => FullTaskState::Ready,
            "running" => FullTaskState::Running,
            "done" => FullTaskState::Done,
            "failed" => FullTaskState::Failed,
            "cancelled" => FullTaskState::Cancelled,
            _ => return None,
        })
    }
}

impl From<FullTaskState> for TaskState {
    fn from(s: FullTaskState) -> TaskState {
        match s {
            FullTaskState::Pending => TaskState::Pending,
            FullTaskState::Ready => TaskState::Ready,
            FullTaskState::Running => TaskState::Running,
            FullTaskState::Done => TaskState::Done,
            FullTaskState::Failed | FullTaskState::Cancelled => TaskState::Failed,
        }
    }
}

/// A task handed to a worker by `request_work`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyTask {
    /// Its job.
    pub job_id: Uuid,
    /// Its id in the job.
    pub task_id: String,
    /// Its definition.
    pub task_def: JsonValue,
    /// Its prerequisite list.
    pub prereqs: JsonValue,
    /// Its retry limit.
    pub max_retries: i32,
}

/// A claimed task with every field optional, as the PostgreSQL crate's row type;
/// [`ReadyTaskRaw::get`] makes a [`ReadyTask`] when every field is there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadyTaskRaw {
    /// Its job.
    pub job_id: Option<Uuid>,
    /// Its id in the job.
    pub task_id: Option<String>,
    /// Its definition.
    pub task_def: Option<JsonValue>,
    /// Its prerequisite list.
    pub prereqs: Option<JsonValue>,
    /// Its retry limit.
    pub max_retries: Option<i32>,
}

impl ReadyTaskRaw {
    /// The task, if no field is missing.
    pub fn get(self) -> Option<ReadyTask> {
        Some(ReadyTask {
            job_id: self.job_id?,
            task_id: self.task_id?,
            task_def: self.task_def?,
            prereqs: self.prereqs?,
            max_retries: self.max_retries?,
        })
    }
}

/// A task claimed as one attempt (`request_work_as`): the reports made through it
/// (`update_task_*_attempt`, `heartbeat_attempt`) name the attempt, so once the task was
/// handed to another worker (this lease expired) they change nothing and return false;
/// DONE still counts while the task is not done (the first result wins).
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The task.
    pub task: ReadyTask,
    /// Its attempt number: 1 for the first claim, +1 per hand-out.
    pub attempt: i64,
}

/// A pending task whose prerequisites are all done (see `check_stuck_pending_tasks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckTaskInfo {
    /// Its job.
    pub job_id: Uuid,
    /// Its id in the job.
    pub task_id: String,
    /// The waiting count stored.
    pub waiting_on: i32,
    /// Its prerequisites.
    pub actual_deps: i32,
    /// Those done.
    pub completed_deps: i32,
    /// Whether it should be ready.
    pub should_be_ready: bool,
}
