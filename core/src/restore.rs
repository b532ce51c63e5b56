//! Writing entities as they are (migrations): a stream, a job or a task with its id,
//! state, counters and times, so that work in flight continues.

use crate::error::{no_job, no_stream, shorten, uuid, Error, Result};
use crate::ns::Namespace;
use crate::record::{NewRec, TaskRec};
use crate::state::{JobState, Priority, TaskState};
use crate::tasks::NewTask;

/// A job as it is elsewhere.
#[derive(Debug, Clone, Copy)]
pub struct RestoredJob<'a> {
    /// Its state (kept as given: restoring tasks does not move it).
    pub state: JobState,
    /// Owner.
    pub user: &'a [u8],
    /// Creation time, ms.
    pub created_at: i64,
    /// The error it failed with.
    pub error: Option<&'a [u8]>,
    /// The PostgreSQL TaskDB's `reported` flag.
    pub reported: Option<bool>,
}

/// A task as it is elsewhere: its creation fields, its state, and what happened to it.
#[derive(Debug, Clone, Copy)]
pub struct RestoredTask<'a> {
    /// Its creation fields.
    pub task: NewTask<'a>,
    /// Its state.
    pub state: TaskState,
    /// Creation time, ms.
    pub created_at: i64,
    /// Prerequisites not done (default 0).
    pub waiting_on: Option<u32>,
    /// Progress (default 0).
    pub progress: Option<f64>,
    /// Retries so far (default 0).
    pub retries: Option<u32>,
    /// Last claim, ms.
    pub started_at: Option<i64>,
    /// Last update, ms.
    pub updated_at: Option<i64>,
    /// Output.
    pub output: Option<&'a [u8]>,
    /// Error.
    pub error: Option<&'a [u8]>,
    /// Attempts so far (default: one per retry plus the running or final one, when it
    /// was ever claimed).
    pub attempt: Option<u32>,
    /// Holder.
    pub worker: Option<&'a [u8]>,
}

impl Namespace {
    /// Writes a job as it is, with no tasks yet; false if the id is taken.
    pub fn restore_job(&mut self, id: u128, r: &RestoredJob, _now: i64) -> bool {
        if self.job_ids.contains_key(&id) {
            return false;
        }
        let seq = self.insert_job(id, r.state, r.user, Priority::Medium, r.created_at);
        let j = self.jobs.get_mut(&seq).expect("just inserted");
        j.error = r.error.map(Into::into);
        j.reported = r.reported;
        true
    }

    /// Writes a task as it is into job `job`; false if it exists. A ready task is queued,
    /// a running one leased (a full lease from `mono`), a pending one released by its
    /// prerequisites. Restore a job's tasks in creation order.
    pub fn restore_task(&mut self, job: u128, r: &RestoredTask, mono: u64) -> Result<bool> {
        let seq = self.job_seq(job).ok_or_else(|| no_job(job))?;
        let stream = self
            .s
            .stream_ix(r.task.stream)
            .ok_or_else(|| no_stream(r.task.stream))?;
        let j = &self.jobs[&seq];
        if j.find(r.task.task_id).is_some() {
            return Ok(false);
        }
        let mut prereqs = Vec::with_capacity(r.task.prereqs.len());
        for p in r.task.prereqs {
            let i = j.find(p).ok_or_else(|| {
                Error::NotFound(format!(
                    "prerequisite '{}' of task '{}' does not exist in job '{}'",
                    shorten(p),
                    shorten(r.task.task_id),
                    uuid(job)
                ))
            })?;
            prereqs.push(i);
        }
        let mut rec = TaskRec::new(&NewRec {
            id: r.task.task_id,
            def: r.task.def,
            prereqs: &prereqs,
            state: r.state,
            stream,
            waiting_on: r.waiting_on.unwrap_or(0),
            max_retries: r.task.max_retries,
            timeout_secs: r.task.timeout_secs,
            created_at: r.created_at,
        });
        let retries = r.retries.unwrap_or(0);
        rec.set_retries(retries);
        rec.set_progress(r.progress.unwrap_or(0.0));
        rec.set_started_at(r.started_at.unwrap_or(0));
        rec.set_updated_at(r.updated_at.unwrap_or(0));
        rec.set_attempt(r.attempt.unwrap_or(match r.started_at {
            None => 0,
            Some(_) => retries + u32::from(r.state != TaskState::Ready),
        }));
        if r.output.is_some() {
            rec.set_output(r.output);
        }
        let j = self.jobs.get_mut(&seq).expect("located");
        let idx = j.push_task(rec);
        j.set_error(idx, r.error);
        j.set_worker(idx, r.worker);
        self.s.add_task(j, idx, mono);
        if let Some(t) = r.started_at {
            if j.first_started_at == 0 || t < j.first_started_at {
                j.first_started_at = t;
            }
        }
        if let Some(t) = r.updated_at {
            if t > j.last_updated_at {
                j.last_updated_at = t;
            }
        }
        self.s.settle();
        Ok(true)
    }
}
