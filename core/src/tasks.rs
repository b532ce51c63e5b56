//! Tasks: creation, the task view, and the JSON of prerequisite lists.

use crate::error::{no_job, no_stream, shorten, uuid, Error, Result};
use crate::ns::Namespace;
use crate::record::{NewRec, TaskRec};
use crate::state::{JobState, TaskState};

/// A new task's fields (validated by the caller's parser).
#[derive(Debug, Clone, Copy)]
pub struct NewTask<'a> {
    /// Its id in its job.
    pub task_id: &'a [u8],
    /// Its stream.
    pub stream: u128,
    /// Its definition (JSON).
    pub def: &'a [u8],
    /// Its prerequisites' ids (distinct, not itself).
    pub prereqs: &'a [&'a [u8]],
    /// Retry limit.
    pub max_retries: u32,
    /// Lease length, seconds.
    pub timeout_secs: u32,
}

/// A task as TASKDB.TASK shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView<'a> {
    /// Its id.
    pub id: &'a [u8],
    /// Its state.
    pub state: TaskState,
    /// Its stream.
    pub stream: u128,
    /// Its definition.
    pub def: &'a [u8],
    /// Its prerequisites' ids, in the order given.
    pub prereqs: Vec<&'a [u8]>,
    /// Prerequisites not done.
    pub waiting_on: u32,
    /// Progress, 0 to 1 (1 once done or failed).
    pub progress: f64,
    /// Retries so far.
    pub retries: u32,
    /// Retry limit.
    pub max_retries: u32,
    /// Lease length, seconds.
    pub timeout_secs: u32,
    /// Output, once done.
    pub output: Option<&'a [u8]>,
    /// Error: the failure's text, or "" after a retry.
    pub error: Option<&'a [u8]>,
    /// Creation time, ms.
    pub created_at: i64,
    /// Last claim, ms.
    pub started_at: Option<i64>,
    /// Last update, ms.
    pub updated_at: Option<i64>,
    /// Claims so far.
    pub attempt: u32,
    /// The holder its latest claim named.
    pub worker: Option<&'a [u8]>,
}

/// `Some(t)` for a stored time, `None` for 0 (never).
pub fn time(t: i64) -> Option<i64> {
    (t != 0).then_some(t)
}

/// A list of task ids as a compact JSON array (the prerequisite list TASK and
/// REQUEST_WORK show). Ids are UTF-8 (they were given as JSON strings).
pub fn json_list<'a>(ids: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    json_list_into(ids, &mut out);
    out
}

/// [`json_list`] into `out` (cleared first), so a caller can reuse one buffer.
pub fn json_list_into<'a>(ids: impl IntoIterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    out.clear();
    out.push(b'[');
    for (i, id) in ids.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        for &b in id {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                c if c < 0x20 => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
                c => out.push(c),
            }
        }
        out.push(b'"');
    }
    out.push(b']');
}

impl Namespace {
    /// Creates a task in job `job` at `now`: ready when all its prerequisites are done,
    /// else pending (cancelled in a failed job). Validates the job, the stream, the task
    /// id and the prerequisites before changing anything.
    pub fn create_task(&mut self, job: u128, t: &NewTask, now: i64) -> Result<()> {
        let seq = self.job_seq(job).ok_or_else(|| no_job(job))?;
        let j = &self.jobs[&seq];
        let stream = self
            .s
            .stream_ix(t.stream)
            .ok_or_else(|| no_stream(t.stream))?;
        if j.find(t.task_id).is_some() {
            return Err(Error::Exists(format!(
                "task '{}' already exists in job '{}'",
                shorten(t.task_id),
                uuid(job)
            )));
        }
        let mut prereqs = Vec::with_capacity(t.prereqs.len());
        let mut not_done = 0u32;
        for p in t.prereqs {
            let Some(i) = j.find(p) else {
                return Err(Error::NotFound(format!(
                    "prerequisite '{}' of task '{}' does not exist in job '{}'",
                    shorten(p),
                    shorten(t.task_id),
                    uuid(job)
                )));
            };
            not_done += u32::from(j.state_of(i) != TaskState::Done);
            prereqs.push(i);
        }
        let state = if j.failed() {
            // A failed job's new tasks are never handed out.
            TaskState::Cancelled
        } else if not_done == 0 {
            TaskState::Ready
        } else {
            TaskState::Pending
        };
        let rec = TaskRec::new(&NewRec {
            id: t.task_id,
            def: t.def,
            prereqs: &prereqs,
            state,
            stream,
            waiting_on: not_done,
            max_retries: t.max_retries,
            timeout_secs: t.timeout_secs,
            created_at: now,
        });
        let j = self.jobs.get_mut(&seq).expect("checked above");
        if j.state == JobState::Done {
            // A planner adding the next layer of a DAG, or a submitter racing the workers:
            // the job runs again until its new tasks are done, as in both predecessors.
            self.s.set_job_state(j, JobState::Running, None);
        }
        let idx = j.push_task(rec);
        self.s.add_task(j, idx, 0);
        self.s.settle();
        Ok(())
    }

    /// A task as TASKDB.TASK shows it, or `None`.
    pub fn task(&self, job: u128, task_id: &[u8]) -> Option<TaskView<'_>> {
        let j = self.job(job)?;
        let idx = j.find(task_id)?;
        Some(self.task_view(j, idx))
    }

    pub(crate) fn task_view<'a>(&'a self, j: &'a crate::ns::Job, idx: u32) -> TaskView<'a> {
        let t = j.task(idx);
        let state = j.state_of(idx);
        let progress = match state {
            TaskState::Done | TaskState::Failed => 1.0,
            _ => t.progress(),
        };
        TaskView {
            id: t.id(),
            state,
            stream: self.s.stream(t.stream()).id,
            def: t.def(),
            prereqs: t.prereqs().map(|p| j.task(p).id()).collect(),
            waiting_on: t.waiting_on(),
            progress,
            retries: t.retries(),
            max_retries: t.max_retries(),
            timeout_secs: t.timeout_secs(),
            output: t.output(),
            error: j.error_of(idx),
            created_at: t.created_at(),
            started_at: time(t.started_at()),
            updated_at: time(t.updated_at()),
            attempt: t.attempt(),
            worker: j.worker_of(idx),
        }
    }

    /// A done task's output; `NOTFOUND` if there is no such task or it is not done.
    pub fn task_output(&self, job: u128, task_id: &[u8]) -> Result<&[u8]> {
        let not_found = || crate::error::no_task(job, task_id);
        let j = self.job(job).ok_or_else(not_found)?;
        let idx = j.find(task_id).ok_or_else(not_found)?;
        let state = j.state_of(idx);
        if state != TaskState::Done {
            return Err(Error::NotFound(format!(
                "task '{}' of job '{}' has no output: it is {}",
                shorten(task_id),
                uuid(job),
                state.as_str()
            )));
        }
        j.task(idx)
            .output()
            .ok_or_else(|| Error::Corrupt("output of a done task is missing".into()))
    }

    /// Up to `count` task ids of a job after index `after` (creation order), and the
    /// index to continue from; `NOTFOUND` if there is no such job.
    pub fn job_tasks_page(
        &self,
        job: u128,
        after: Option<u32>,
        count: usize,
    ) -> Result<(Vec<&[u8]>, Option<u32>)> {
        let j = self.job(job).ok_or_else(|| no_job(job))?;
        let start = after.map_or(0, |a| a as usize + 1);
        let end = (start + count).min(j.tasks.len());
        let ids = (start..end).map(|i| j.task(i as u32).id()).collect();
        let next = (end < j.tasks.len()).then(|| end as u32 - 1);
        Ok((ids, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prerequisite_lists_are_compact_json() {
        assert_eq!(json_list([]), b"[]");
        assert_eq!(json_list([&b"a"[..], b"seg_1"]), br#"["a","seg_1"]"#);
        assert_eq!(json_list([&b"q\"\\\n\x01"[..]]), br#"["q\"\\\n\u0001"]"#);
        assert_eq!(json_list(["ü".as_bytes()]), "[\"ü\"]".as_bytes());
    }
}
