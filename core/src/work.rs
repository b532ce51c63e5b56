//! What workers do: claim the next task, report done, failure, progress or a retry, and
//! what happens when a lease runs out.
//!
//! Every claim is an attempt with a number (1 for the first claim, +1 per hand-out). A
//! report naming its attempt is fenced ([`report_applies`]); without one, a report keeps
//! the PostgreSQL TaskDB's semantics. Times are the caller's: `now` (wall clock, ms,
//! stored and replicated) and `mono` (this node's monotonic clock, ms, for lease expiry).

use crate::error::{no_job, no_task, shorten, uuid, Error, Result};
use crate::ns::{Job, Namespace, Shared};
use crate::state::{JobState, Policy, TaskState};

/// The error a task gets when RETRY pushes it past its retry limit.
pub const RETRY_MAX_HIT: &[u8] = b"retry max hit";

/// Whether a report naming attempt `attempt` (`None`: none named) may change a task in
/// `state` whose attempts so far are `attempts`. A named attempt must be the running one,
/// except for DONE (`done`), which any attempt may report while the task is not done yet:
/// the work was done, the first result wins.
pub fn report_applies(state: TaskState, attempts: u32, attempt: Option<u32>, done: bool) -> bool {
    match attempt {
        None => true,
        Some(n) if done => n <= attempts && matches!(state, TaskState::Ready | TaskState::Running),
        Some(n) => n == attempts && state == TaskState::Running,
    }
}

/// A claimed task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Its job.
    pub job: u128,
    /// Its job's creation sequence.
    pub seq: u64,
    /// Its index in its job.
    pub idx: u32,
    /// This attempt's number.
    pub attempt: u32,
}

/// What RETRY did to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retried {
    /// It was not running (or the attempt named is not the running one): nothing changed.
    NotRunning,
    /// It went back to ready.
    Requeued,
    /// It passed its retry limit and failed with its job.
    LimitHit,
    /// Its job had failed, so instead of going back to ready it was cancelled.
    Cancelled,
}

/// A lease that ran out and what its retry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The job.
    pub job: u128,
    /// The task's id.
    pub task: Box<[u8]>,
    /// What the retry did.
    pub outcome: Retried,
}

impl Shared {
    /// Fails a task with `error` at `now`, and its job with it.
    fn fail_task(&mut self, j: &mut Job, idx: u32, error: &[u8], now: i64) {
        self.meter_of(j.task(idx).stream()).failed += 1;
        j.task_mut(idx).set_updated_at(now);
        j.set_error(idx, Some(error));
        self.move_task(j, idx, TaskState::Failed, 0);
        touch_updated(j, now);
        if j.state == JobState::Running {
            self.set_job_state(j, JobState::Failed, Some(error));
        }
    }
}

fn touch_updated(j: &mut Job, now: i64) {
    if now > j.last_updated_at {
        j.last_updated_at = now;
    }
}

impl Namespace {
    /// The task REQUEST_WORK hands out next for a worker type, if any is ready: the
    /// stream first in the policy's order, in it the first job of its queue, in that job
    /// its oldest ready task.
    pub fn next_ready(&mut self, worker_type: &[u8], policy: Policy) -> Option<(u64, u32)> {
        let wt = self.s.types.find(worker_type)?;
        let t = &self.s.type_data[wt as usize];
        if t.paused {
            return None;
        }
        let stream = match policy {
            Policy::Fair => t.fair.first()?.stream,
            Policy::Strict => t.strict.first()?.stream,
        };
        let key = *self.s.stream(stream).queue.first()?;
        let seq = crate::schedule::job_of_queue_key(key);
        let j = self.jobs.get_mut(&seq)?;
        let idx = j.part_mut(stream).ready.first()?;
        Some((seq, idx))
    }

    /// Claims the ready task `idx` of job `seq` at `now` for `worker` (if named): it
    /// becomes running with a lease from `mono`, as its next attempt.
    pub fn claim_at(
        &mut self,
        seq: u64,
        idx: u32,
        now: i64,
        mono: u64,
        worker: Option<&[u8]>,
    ) -> Result<Claim> {
        let j = self
            .jobs
            .get_mut(&seq)
            .ok_or_else(|| Error::Corrupt("a queued task's job is missing".into()))?;
        let state = j.state_of(idx);
        if state != TaskState::Ready {
            return Err(Error::Refused(format!(
                "task '{}' of job '{}' is {}, not ready",
                shorten(j.task(idx).id()),
                uuid(j.id),
                state.as_str()
            )));
        }
        let attempt = j.task(idx).attempt() + 1;
        let waited = now - j.ready_since(idx);
        {
            let m = self.s.meter_of(j.task(idx).stream());
            m.claimed += 1;
            m.wait.observe(waited);
        }
        {
            let t = j.task_mut(idx);
            t.set_started_at(now);
            t.set_attempt(attempt);
        }
        j.set_worker(idx, worker);
        self.s.move_task(j, idx, TaskState::Running, mono);
        if j.first_started_at == 0 || now < j.first_started_at {
            j.first_started_at = now;
        }
        let job = j.id;
        self.s.settle();
        Ok(Claim {
            job,
            seq,
            idx,
            attempt,
        })
    }

    /// Claims the next task for a worker type (see [`Namespace::next_ready`]).
    pub fn request(
        &mut self,
        worker_type: &[u8],
        policy: Policy,
        now: i64,
        mono: u64,
        worker: Option<&[u8]>,
    ) -> Result<Option<Claim>> {
        match self.next_ready(worker_type, policy) {
            Some((seq, idx)) => self.claim_at(seq, idx, now, mono, worker).map(Some),
            None => Ok(None),
        }
    }

    /// Claims a named task (replaying a primary's choice).
    pub fn claim(
        &mut self,
        job: u128,
        task_id: &[u8],
        now: i64,
        mono: u64,
        worker: Option<&[u8]>,
    ) -> Result<Claim> {
        let (seq, idx) = self
            .locate(job, task_id)
            .ok_or_else(|| crate::error::no_task(job, task_id))?;
        self.claim_at(seq, idx, now, mono, worker)
    }

    /// The task a report names, if the report may change it: `attempt` (if named) is
    /// one it has had and passes [`report_applies`]. A job or task that does not exist is
    /// an error (`NOTFOUND`), not "already reported": a typo in an id must be loud.
    fn reported(
        &self,
        job: u128,
        task_id: &[u8],
        attempt: Option<u32>,
        done: bool,
    ) -> Result<Option<(u64, u32)>> {
        let seq = self.job_seq(job).ok_or_else(|| no_job(job))?;
        let idx = self.jobs[&seq]
            .find(task_id)
            .ok_or_else(|| no_task(job, task_id))?;
        let j = &self.jobs[&seq];
        let attempts = j.task(idx).attempt();
        if let Some(n) = attempt.filter(|&n| n > attempts) {
            return Err(Error::invalid(
                "ATTEMPT",
                n.to_string().as_bytes(),
                format!(
                    "task '{}' of job '{}' has had {attempts} attempt(s)",
                    shorten(task_id),
                    uuid(job)
                ),
            ));
        }
        Ok(report_applies(j.state_of(idx), attempts, attempt, done).then_some((seq, idx)))
    }

    /// (job sequence, task index) of a task, if it exists.
    pub(crate) fn locate(&self, job: u128, task_id: &[u8]) -> Option<(u64, u32)> {
        let seq = self.job_seq(job)?;
        let idx = self.jobs[&seq].find(task_id)?;
        Some((seq, idx))
    }

    /// Marks a ready or running task done at `now` with `output` and releases its
    /// dependents (a pending task whose last prerequisite this was becomes ready). With
    /// an attempt, any attempt the task has had may report it. True if it changed.
    pub fn done(
        &mut self,
        job: u128,
        task_id: &[u8],
        output: &[u8],
        now: i64,
        attempt: Option<u32>,
    ) -> Result<bool> {
        let Some((seq, idx)) = self.reported(job, task_id, attempt, true)? else {
            return Ok(false);
        };
        let j = self.jobs.get_mut(&seq).expect("located");
        if !matches!(j.state_of(idx), TaskState::Ready | TaskState::Running) {
            return Ok(false);
        }
        let before = j.task(idx).heap_bytes();
        {
            let (stream, started) = (j.task(idx).stream(), j.task(idx).started_at());
            let ran = (j.state_of(idx) == TaskState::Running).then(|| now - started);
            let m = self.s.meter_of(stream);
            m.done += 1;
            if let Some(ms) = ran {
                m.run.observe(ms);
            }
        }
        {
            let t = j.task_mut(idx);
            t.set_updated_at(now);
            t.set_output(Some(output));
        }
        self.s.task_bytes = self.s.task_bytes + j.task(idx).heap_bytes() - before;
        // Before the move: a job this finishes is done as of now.
        touch_updated(j, now);
        self.s.move_task(j, idx, TaskState::Done, 0);
        for d in j.dependents(idx) {
            if j.state_of(d) != TaskState::Pending {
                continue;
            }
            let w = j.task(d).waiting_on();
            if w == 0 {
                continue;
            }
            j.task_mut(d).set_waiting_on(w - 1);
            if w == 1 {
                self.s.move_task(j, d, TaskState::Ready, 0);
            }
        }
        self.s.settle();
        Ok(true)
    }

    /// Fails a ready, running or pending task at `now` (with an attempt: only the running
    /// attempt), and its job. True if it changed.
    pub fn failed(
        &mut self,
        job: u128,
        task_id: &[u8],
        error: &[u8],
        now: i64,
        attempt: Option<u32>,
    ) -> Result<bool> {
        let Some((seq, idx)) = self.reported(job, task_id, attempt, false)? else {
            return Ok(false);
        };
        let j = self.jobs.get_mut(&seq).expect("located");
        if !matches!(
            j.state_of(idx),
            TaskState::Ready | TaskState::Running | TaskState::Pending
        ) {
            return Ok(false);
        }
        self.s.fail_task(j, idx, error, now);
        self.s.settle();
        Ok(true)
    }

    /// Raises a ready or running task's progress to at least `progress` (unless `None`:
    /// a heartbeat) and renews its lease from `mono`; with an attempt, only the running
    /// attempt's. True if it changed.
    pub fn progress(
        &mut self,
        job: u128,
        task_id: &[u8],
        progress: Option<f64>,
        now: i64,
        mono: u64,
        attempt: Option<u32>,
    ) -> Result<bool> {
        let Some((seq, idx)) = self.reported(job, task_id, attempt, false)? else {
            return Ok(false);
        };
        let j = self.jobs.get_mut(&seq).expect("located");
        if !matches!(j.state_of(idx), TaskState::Ready | TaskState::Running) {
            return Ok(false);
        }
        {
            let t = j.task_mut(idx);
            if let Some(p) = progress.filter(|&p| p > t.progress()) {
                t.set_progress(p);
            }
            t.set_updated_at(now);
        }
        self.s.renew(j, idx, mono);
        touch_updated(j, now);
        Ok(true)
    }

    /// Gives a running attempt's task back at `now`: ready again at once (cancelled if its
    /// job failed), its progress reset, without counting a retry — for a claim its worker
    /// will not run (a lost reply, a race between shards). True if `attempt` was running.
    pub fn give_back(&mut self, job: u128, task_id: &[u8], attempt: u32, now: i64) -> Result<bool> {
        let Some((seq, idx)) = self.reported(job, task_id, Some(attempt), false)? else {
            return Ok(false);
        };
        let j = self.jobs.get_mut(&seq).expect("located");
        if j.state_of(idx) != TaskState::Running {
            return Ok(false);
        }
        {
            let t = j.task_mut(idx);
            t.set_updated_at(now);
            t.set_progress(0.0);
        }
        let to = if j.failed() {
            TaskState::Cancelled
        } else {
            TaskState::Ready
        };
        self.s.move_task(j, idx, to, 0);
        touch_updated(j, now);
        self.s.settle();
        Ok(true)
    }

    /// Sends a running task back to ready at `now` (cancelled if its job failed), or
    /// fails it past its retry limit; with an attempt, only if that attempt runs.
    pub fn retry(
        &mut self,
        job: u128,
        task_id: &[u8],
        now: i64,
        attempt: Option<u32>,
    ) -> Result<Retried> {
        let Some((seq, idx)) = self.reported(job, task_id, attempt, false)? else {
            return Ok(Retried::NotRunning);
        };
        let r = self.retry_at(seq, idx, now);
        if r == Retried::Requeued {
            self.count_retry(seq, idx, false);
        }
        Ok(r)
    }

    /// Counts a task sent back to ready by RETRY, or by REQUEUE (`expired`).
    fn count_retry(&mut self, seq: u64, idx: u32, expired: bool) {
        let stream = self.jobs[&seq].task(idx).stream();
        let m = self.s.meter_of(stream);
        if expired {
            m.requeued += 1;
        } else {
            m.retried += 1;
        }
    }

    fn retry_at(&mut self, seq: u64, idx: u32, now: i64) -> Retried {
        let Some(j) = self.jobs.get_mut(&seq) else {
            return Retried::NotRunning;
        };
        if j.state_of(idx) != TaskState::Running {
            return Retried::NotRunning;
        }
        let retries = j.task(idx).retries() + 1;
        j.task_mut(idx).set_retries(retries);
        if retries > j.task(idx).max_retries() {
            self.s.fail_task(j, idx, RETRY_MAX_HIT, now);
            self.s.settle();
            return Retried::LimitHit;
        }
        {
            let t = j.task_mut(idx);
            t.set_updated_at(now);
            t.set_progress(0.0);
        }
        j.set_error(idx, Some(b""));
        let (to, outcome) = if j.failed() {
            (TaskState::Cancelled, Retried::Cancelled)
        } else {
            (TaskState::Ready, Retried::Requeued)
        };
        self.s.move_task(j, idx, to, 0);
        touch_updated(j, now);
        self.s.settle();
        outcome
    }

    /// Retries (as RETRY) up to `limit` running tasks whose lease ran out by `mono` on
    /// this node's clock, earliest first, at `now`: what each retry did.
    pub fn requeue(&mut self, limit: usize, now: i64, mono: u64) -> Vec<Expired> {
        let due: Vec<(u64, u32)> = self
            .s
            .leases
            .iter()
            .take_while(|(d, _, _)| *d <= mono)
            .take(limit)
            .map(|&(_, seq, idx)| (seq, idx))
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for (seq, idx) in due {
            let Some(j) = self.jobs.get(&seq) else {
                continue;
            };
            let (job, task) = (j.id, j.task(idx).id().into());
            let outcome = self.retry_at(seq, idx, now);
            if outcome == Retried::Requeued {
                self.count_retry(seq, idx, true);
            }
            if outcome != Retried::NotRunning {
                out.push(Expired { job, task, outcome });
            }
        }
        out
    }

    /// The id of task `idx` of job `seq`.
    pub fn task_id_at(&self, seq: u64, idx: u32) -> &[u8] {
        self.jobs[&seq].task(idx).id()
    }

    /// The id of the stream of task `idx` of job `seq` (what `WITHSTREAM` replies).
    pub fn stream_id_at(&self, seq: u64, idx: u32) -> u128 {
        self.s.stream(self.jobs[&seq].task(idx).stream()).id
    }

    /// The definition and retry limit of task `idx` of job `seq`, its prerequisite list
    /// (JSON) written to `prereqs`: what REQUEST_WORK replies.
    pub fn handout(&self, seq: u64, idx: u32, prereqs: &mut Vec<u8>) -> (&[u8], u32) {
        let j = &self.jobs[&seq];
        let t = j.task(idx);
        crate::tasks::json_list_into(t.prereqs().map(|p| j.task(p).id()), prereqs);
        (t.def(), t.max_retries())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_running_attempt_reports_but_any_attempt_may_finish() {
        use TaskState::*;
        assert!(report_applies(Ready, 0, None, false));
        assert!(report_applies(Running, 2, Some(2), false));
        assert!(!report_applies(Running, 2, Some(1), false));
        assert!(!report_applies(Ready, 1, Some(1), false));
        assert!(report_applies(Running, 2, Some(1), true));
        assert!(report_applies(Ready, 1, Some(1), true));
        assert!(!report_applies(Done, 2, Some(2), true));
        assert!(!report_applies(Pending, 0, Some(1), true));
    }
}
