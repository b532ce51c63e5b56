//! Jobs: creation, cancellation, deletion, clearing, and the per-job queries.

use crate::error::{no_job, no_stream, shorten, uuid, Error, Result};
use crate::ns::{Job, Namespace};
use crate::state::TaskState;
use crate::state::{JobState, Priority};
use crate::tasks::NewTask;

/// The id of the task every job starts with.
pub const INIT_TASK: &[u8] = b"init";

/// The error a job cancelled without a reason gets.
pub const CANCELLED: &[u8] = b"cancelled";

/// A new job's fields: its `init` task's, its owner and its priority.
#[derive(Debug, Clone, Copy)]
pub struct NewJob<'a> {
    /// The stream of its init task.
    pub stream: u128,
    /// The init task's definition.
    pub def: &'a [u8],
    /// The init task's retry limit.
    pub max_retries: u32,
    /// The init task's lease length.
    pub timeout_secs: u32,
    /// Owner.
    pub user: &'a [u8],
    /// Its priority (its tasks inherit it).
    pub priority: Priority,
}

/// A job as TASKDB.JOB shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobView<'a> {
    /// Its id.
    pub id: u128,
    /// Its state.
    pub state: JobState,
    /// The error it failed with.
    pub error: Option<&'a [u8]>,
    /// Owner.
    pub user: &'a [u8],
    /// Creation time, ms.
    pub created_at: i64,
    /// Its priority.
    pub priority: Priority,
    /// Its tasks.
    pub tasks: usize,
    /// Its tasks not done.
    pub unresolved: i64,
    /// The PostgreSQL TaskDB's `reported` flag, if restored with one.
    pub reported: Option<bool>,
}

/// Which jobs a listing shows, and in which order.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobFilter<'a> {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs of this user.
    pub user: Option<&'a [u8]>,
    /// Newest first (the cursor then continues below the last job examined).
    pub newest_first: bool,
}

impl Namespace {
    /// Creates job `id` (chosen by the caller) and its `init` task at `now`.
    pub fn create_job(&mut self, id: u128, j: &NewJob, now: i64) -> Result<()> {
        if self.job_ids.contains_key(&id) {
            return Err(Error::Exists(format!("job '{}' already exists", uuid(id))));
        }
        if !self.has_stream(j.stream) {
            return Err(no_stream(j.stream));
        }
        self.insert_job(id, JobState::Running, j.user, j.priority, now);
        let init = NewTask {
            task_id: INIT_TASK,
            stream: j.stream,
            def: j.def,
            prereqs: &[],
            max_retries: j.max_retries,
            timeout_secs: j.timeout_secs,
        };
        self.create_task(id, &init, now)
    }

    /// Adds an empty job (validated by the caller).
    pub(crate) fn insert_job(
        &mut self,
        id: u128,
        state: JobState,
        user: &[u8],
        priority: Priority,
        now: i64,
    ) -> u64 {
        let seq = self.s.next_seq();
        let u = self.s.users.intern(user);
        if u as usize == self.s.user_running.len() {
            self.s.user_running.push(0);
        }
        let mut job = Job::new(id, seq, u, priority, now);
        job.state = state;
        self.s.job_counts[state as usize] += 1;
        if state == JobState::Running {
            self.s.user_running[u as usize] += 1;
        }
        self.s.note_finished(&mut job);
        self.jobs.insert(seq, job);
        self.job_ids.insert(id, seq);
        seq
    }

    /// A job's state, if it belongs to `user`.
    pub fn job_state(&self, id: u128, user: &[u8]) -> Result<JobState> {
        match self.job(id) {
            Some(j) if self.s.users.name(j.user) == user => Ok(j.state),
            _ => Err(Error::NotFound(format!(
                "job '{}' does not exist for user '{}'",
                uuid(id),
                shorten(user)
            ))),
        }
    }

    /// The number of a job's tasks not done.
    pub fn job_unresolved(&self, id: u128) -> Result<i64> {
        self.job(id).map(|j| j.unresolved).ok_or_else(|| no_job(id))
    }

    /// The number of a user's running jobs.
    pub fn concurrent_jobs(&self, user: &[u8]) -> i64 {
        self.s
            .users
            .find(user)
            .map_or(0, |u| self.s.user_running[u as usize])
    }

    /// Seconds from the job's first task start to its last task update, `None` if no
    /// task started.
    pub fn job_time(&self, id: u128) -> Result<Option<f64>> {
        let j = self.job(id).ok_or_else(|| no_job(id))?;
        if j.first_started_at == 0 {
            return Ok(None);
        }
        let end = j.last_updated_at.max(j.first_started_at);
        Ok(Some((end - j.first_started_at) as f64 / 1000.0))
    }

    /// The error a job failed with; `NOTFOUND` if it has not failed.
    pub fn job_failure(&self, id: u128) -> Result<&[u8]> {
        let j = self.job(id).ok_or_else(|| no_job(id))?;
        match (j.state, j.error.as_deref()) {
            (JobState::Failed, Some(e)) => Ok(e),
            _ => Err(Error::NotFound(format!(
                "job '{}' has not failed",
                uuid(id)
            ))),
        }
    }

    /// A job as TASKDB.JOB shows it.
    pub fn job_view(&self, id: u128) -> Option<JobView<'_>> {
        let j = self.job(id)?;
        Some(JobView {
            id,
            state: j.state,
            error: if j.failed() { j.error.as_deref() } else { None },
            user: self.s.users.name(j.user),
            created_at: j.created_at,
            priority: j.priority,
            tasks: j.tasks.len(),
            unresolved: j.unresolved,
            reported: j.reported,
        })
    }

    /// Stops a running job on purpose: failed with `reason`, its ready and pending tasks
    /// cancelled; true if it was running.
    pub fn cancel_job(&mut self, id: u128, reason: &[u8], now: i64) -> Result<bool> {
        let seq = self.job_seq(id).ok_or_else(|| no_job(id))?;
        let j = self.jobs.get_mut(&seq).expect("indexed");
        if j.state != JobState::Running {
            return Ok(false);
        }
        j.last_updated_at = j.last_updated_at.max(now);
        self.s.set_job_state(j, JobState::Failed, Some(reason));
        self.s.settle();
        Ok(true)
    }

    /// Runs a failed (or cancelled) job again, as an operator's "retry": its failed tasks
    /// go back to ready (pending while a prerequisite is not done) with their retries,
    /// progress and error reset, its cancelled tasks to what they were, its error is
    /// cleared and it is running. Done and running tasks are left as they are, and attempt
    /// numbers keep counting, so a stale worker's report still cannot apply. False if the
    /// job is not failed. O(its tasks).
    pub fn retry_job(&mut self, id: u128, now: i64) -> Result<bool> {
        let seq = self.job_seq(id).ok_or_else(|| no_job(id))?;
        let j = self.jobs.get_mut(&seq).expect("indexed");
        if j.state != JobState::Failed {
            return Ok(false);
        }
        self.s.set_job_state(j, JobState::Running, None);
        j.error = None;
        for idx in 0..j.task_count() as u32 {
            let stored = j.task(idx).state();
            if !matches!(
                stored,
                TaskState::Ready | TaskState::Pending | TaskState::Failed | TaskState::Cancelled
            ) {
                continue;
            }
            // A prerequisite that finished while the job had failed released no one:
            // count what each task still waits on (prerequisites come first, so their
            // states are final here).
            let waiting = j
                .task(idx)
                .prereqs()
                .filter(|&p| j.state_of(p) != TaskState::Done)
                .count() as u32;
            j.task_mut(idx).set_waiting_on(waiting);
            let to = if waiting == 0 {
                TaskState::Ready
            } else {
                TaskState::Pending
            };
            match stored {
                // Shown as cancelled while the job had failed; stored as they were.
                TaskState::Ready | TaskState::Pending => {
                    self.s.uncancel(j, idx);
                    if stored != to {
                        self.s.move_task(j, idx, to, 0);
                    }
                }
                TaskState::Failed => {
                    let t = j.task_mut(idx);
                    t.set_retries(0);
                    t.set_progress(0.0);
                    t.set_updated_at(now);
                    j.set_error(idx, None);
                    self.s.move_task(j, idx, to, 0);
                }
                // Created while the job had failed (stored cancelled).
                _ => self.s.move_task(j, idx, to, 0),
            }
        }
        if j.unresolved == 0 {
            // Its last running tasks finished while it had failed.
            self.s.set_job_state(j, JobState::Done, None);
        }
        self.s.settle();
        Ok(true)
    }

    /// Removes a job, its tasks and every index entry of them; the removed job (the
    /// caller may drop it elsewhere: a big job is freed off the main thread), or `None`
    /// if there is no such job. O(its streams and running tasks), not O(its tasks).
    pub fn delete_job(&mut self, id: u128) -> Option<Job> {
        let seq = self.job_ids.remove(&id)?;
        let mut j = self.jobs.remove(&seq)?;
        self.s.detach(&mut j);
        self.s.settle();
        Some(j)
    }

    /// Deletes up to `count` done jobs that finished at or before `before` (ms; `None`:
    /// any), the earliest finished first: the removed jobs, and whether done jobs remain.
    pub fn clear_completed(&mut self, count: usize, before: Option<i64>) -> (Vec<Job>, bool) {
        let seqs: Vec<u64> = self
            .s
            .done_jobs
            .iter()
            .take_while(|(t, _)| before.is_none_or(|b| *t <= b))
            .take(count)
            .map(|(_, seq)| *seq)
            .collect();
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let id = self.jobs[&seq].id;
            if let Some(j) = self.delete_job(id) {
                out.push(j);
            }
        }
        let more = !self.s.done_jobs.is_empty();
        (out, more)
    }

    /// Up to `count` jobs whose retention ran out at `now`: done ones finished more than
    /// `done_ms` ago, failed ones more than `failed_ms` ago (0: kept for ever), the
    /// earliest finished first.
    pub fn expired_jobs(&self, now: i64, done_ms: i64, failed_ms: i64, count: usize) -> Vec<u128> {
        let mut out = Vec::new();
        for (set, ttl) in [
            (&self.s.done_jobs, done_ms),
            (&self.s.failed_jobs, failed_ms),
        ] {
            if ttl <= 0 {
                continue;
            }
            let cutoff = now.saturating_sub(ttl);
            out.extend(
                set.iter()
                    .take_while(|(t, _)| *t < cutoff)
                    .take(count - out.len())
                    .map(|(_, seq)| self.jobs[seq].id),
            );
        }
        out
    }

    /// The earliest finish time of a done job and of a failed one, if any.
    pub fn earliest_finished(&self) -> (Option<i64>, Option<i64>) {
        (
            self.s.done_jobs.first().map(|k| k.0),
            self.s.failed_jobs.first().map(|k| k.0),
        )
    }

    /// Up to `count` jobs examined after sequence `after` in creation order (or before
    /// it, newest first): the ids of those `filter` keeps, and the sequence to continue
    /// from (`None`: the end).
    pub fn jobs_page(
        &self,
        after: Option<u64>,
        count: usize,
        filter: &JobFilter,
    ) -> (Vec<u128>, Option<u64>) {
        use std::ops::Bound::{Excluded, Unbounded};
        let user = match filter.user {
            Some(u) => match self.s.users.find(u) {
                Some(u) => Some(u),
                None => return (Vec::new(), None),
            },
            None => None,
        };
        let from = after.map_or(Unbounded, Excluded);
        let mut it: Box<dyn Iterator<Item = (&u64, &Job)>> = if filter.newest_first {
            Box::new(self.jobs.range((Unbounded, from)).rev())
        } else {
            Box::new(self.jobs.range((from, Unbounded)))
        };
        let mut ids = Vec::new();
        let mut last = None;
        for (seq, j) in it.by_ref().take(count) {
            last = Some(*seq);
            if filter.state.is_some_and(|s| s != j.state) || user.is_some_and(|u| u != j.user) {
                continue;
            }
            ids.push(j.id);
        }
        let more = it.next().is_some();
        (ids, if more { last } else { None })
    }

    /// Every job id, in creation order (for tools; linear).
    pub fn job_ids(&self) -> impl Iterator<Item = u128> + '_ {
        self.jobs.values().map(|j| j.id)
    }
}
