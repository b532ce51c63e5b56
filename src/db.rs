//! Entity access and the state transitions every command shares.
//!
//! A task's state is its source of truth; everything derived from it (stream counters and
//! priority, the schedule and queue sorted sets, the lease index, the job's unresolved count
//! and state, STATS counts) is changed only by [`Db::move_task`] and [`Db::set_job_state`],
//! which keep all of it exact at every moment.

use crate::error::{Error, Result};
use crate::keys::Keys;
use crate::model::{self, JobState, Policy, TaskState};
use crate::store::{Key, Kind};
use redis_module::Context;

/// One namespace, opened for one command.
pub struct Db<'c> {
    /// The command's context.
    pub ctx: &'c Context,
    /// The namespace's key schema.
    pub keys: Keys,
}

/// A stream's stored fields.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Stream id (canonical UUID).
    pub id: String,
    /// The worker type that runs its tasks.
    pub worker_type: Vec<u8>,
    /// Reserved workers.
    pub reserved: i64,
    /// Best-effort multiplier.
    pub be_mult: f64,
    /// Owner.
    pub user_id: Vec<u8>,
    /// Ready tasks.
    pub ready: i64,
    /// Running tasks.
    pub running: i64,
    /// Creation sequence (tie-break: older first).
    pub seq: u64,
}

/// A job's stored fields that commands act on.
#[derive(Debug, Clone)]
pub struct Job {
    /// Job id (canonical UUID).
    pub id: String,
    /// Its state.
    pub state: JobState,
    /// Owner.
    pub user_id: Vec<u8>,
    /// Creation sequence (queue order).
    pub seq: u64,
    /// Tasks not done.
    pub unresolved: i64,
}

/// A task's stored fields that transitions need.
#[derive(Debug, Clone)]
pub struct Task {
    /// Its job.
    pub job_id: String,
    /// Its id within the job.
    pub id: Vec<u8>,
    /// Its state.
    pub state: TaskState,
    /// Its stream.
    pub stream_id: String,
    /// Creation sequence (queue order within a job).
    pub seq: u64,
    /// Prerequisites not done.
    pub waiting_on: i64,
    /// Retries so far.
    pub retries: i64,
    /// Retry limit.
    pub max_retries: i64,
    /// Lease length.
    pub timeout_secs: i64,
    /// Last claim time, if any.
    pub started_at: Option<i64>,
    /// Last update time, if any.
    pub updated_at: Option<i64>,
}

fn corrupt(what: &str, key: &[u8]) -> Error {
    Error::Corrupt(format!("{what} in '{}'", String::from_utf8_lossy(key)))
}

fn utf8(key: &Key, field: &str) -> Result<String> {
    String::from_utf8(key.hget_req(field)?).map_err(|_| corrupt(field, key.name()))
}

impl<'c> Db<'c> {
    /// Opens the namespace `keys` for this command.
    pub fn new(ctx: &'c Context, keys: Keys) -> Self {
        Db { ctx, keys }
    }

    /// Opens a key of the namespace, checking its type.
    pub fn open(&self, name: &[u8], write: bool, kind: Kind) -> Result<Key> {
        Key::open_as(self.ctx, name, write, kind)
    }

    /// The next value of the namespace's creation sequence.
    pub fn next_seq(&self) -> Result<u64> {
        let meta = self.open(&self.keys.meta(), true, Kind::Hash)?;
        Ok(meta.hincr(b"seq", 1)? as u64)
    }

    // ---- streams ----

    /// Loads a stream, or `None` when it does not exist.
    pub fn stream(&self, id: &str, write: bool) -> Result<Option<(Key, Stream)>> {
        let k = self.open(&self.keys.stream(id), write, Kind::Hash)?;
        if !k.exists() {
            return Ok(None);
        }
        let s = Stream {
            id: id.to_string(),
            worker_type: k.hget_req("worker_type")?,
            reserved: k.hget_i64("reserved")?,
            be_mult: k.hget_f64("be_mult")?,
            user_id: k.hget_req("user_id")?,
            ready: k.hget_i64("ready")?,
            running: k.hget_i64("running")?,
            seq: k.hget_i64("seq")? as u64,
        };
        Ok(Some((k, s)))
    }

    /// Loads a stream that must exist.
    pub fn stream_req(&self, id: &str, write: bool) -> Result<(Key, Stream)> {
        self.stream(id, write)?
            .ok_or_else(|| Error::NotFound(format!("stream '{id}' does not exist")))
    }

    /// Changes a stream's ready/running counts, recomputing its priority and its place in
    /// its worker type's schedules.
    pub fn adjust_stream(
        &self,
        k: &Key,
        s: &mut Stream,
        d_ready: i64,
        d_running: i64,
    ) -> Result<()> {
        let was_ready = s.ready > 0;
        s.ready += d_ready;
        s.running += d_running;
        k.hset_i64("ready", s.ready);
        k.hset_i64("running", s.running);
        let p = model::priority(s.ready, s.running, s.reserved, s.be_mult);
        k.hset(b"priority", model::format_double(p).as_bytes());
        let member = model::schedule_member(s.reserved, s.seq, &s.id);
        let fair = self.open(&self.keys.schedule(&s.worker_type), true, Kind::Zset)?;
        let strict = self.open(&self.keys.schedule_strict(&s.worker_type), true, Kind::Zset)?;
        if s.ready > 0 {
            fair.zadd(p, member.as_bytes());
            if !was_ready {
                strict.zadd(0.0, member.as_bytes());
            }
        } else if was_ready {
            fair.zrem(member.as_bytes());
            strict.zrem(member.as_bytes());
        }
        Ok(())
    }

    /// The stream REQUEST_WORK serves next for a worker type, if any has ready work.
    pub fn next_stream(&self, worker_type: &[u8], policy: Policy) -> Result<Option<String>> {
        let name = match policy {
            Policy::Fair => self.keys.schedule(worker_type),
            Policy::Strict => self.keys.schedule_strict(worker_type),
        };
        let sched = self.open(&name, false, Kind::Zset)?;
        match sched.zfirst() {
            Some((m, _)) => Ok(Some(model::stream_of_schedule_member(&m)?.to_string())),
            None => Ok(None),
        }
    }

    // ---- jobs ----

    /// Loads a job, or `None` when it does not exist.
    pub fn job(&self, id: &str, write: bool) -> Result<Option<(Key, Job)>> {
        let k = self.open(&self.keys.job(id), write, Kind::Hash)?;
        if !k.exists() {
            return Ok(None);
        }
        let state =
            JobState::parse(&k.hget_req("state")?).ok_or_else(|| corrupt("state", k.name()))?;
        let j = Job {
            id: id.to_string(),
            state,
            user_id: k.hget_req("user_id")?,
            seq: k.hget_i64("seq")? as u64,
            unresolved: k.hget_i64("unresolved")?,
        };
        Ok(Some((k, j)))
    }

    /// Loads a job that must exist.
    pub fn job_req(&self, id: &str, write: bool) -> Result<(Key, Job)> {
        self.job(id, write)?
            .ok_or_else(|| Error::NotFound(format!("job '{id}' does not exist")))
    }

    /// Moves a job to another state, keeping the job registry, the done-job index, the
    /// per-user running count and STATS exact.
    pub fn set_job_state(
        &self,
        k: &Key,
        j: &mut Job,
        to: JobState,
        error: Option<&[u8]>,
    ) -> Result<()> {
        let from = j.state;
        if from == to {
            return Ok(());
        }
        j.state = to;
        k.hset(b"state", to.as_str().as_bytes());
        if let Some(e) = error {
            k.hset(b"error", e);
        }
        self.open(&self.keys.jobs(), true, Kind::Hash)?
            .hset(j.id.as_bytes(), to.as_str().as_bytes());
        if to == JobState::Done {
            self.open(&self.keys.done_jobs(), true, Kind::Hash)?
                .hset(j.id.as_bytes(), b"");
        }
        if from == JobState::Running {
            self.open(&self.keys.running_jobs(), true, Kind::Hash)?
                .counter_add(&j.user_id, -1)?;
        }
        let counts = self.open(&self.keys.counts(), true, Kind::Hash)?;
        counts.counter_add(format!("job:{}", from.as_str()).as_bytes(), -1)?;
        counts.counter_add(format!("job:{}", to.as_str()).as_bytes(), 1)?;
        Ok(())
    }

    /// Fails a job (if still running) with `error`.
    pub fn fail_job(&self, job_id: &str, error: &[u8]) -> Result<()> {
        let (k, mut j) = self.job_req(job_id, true)?;
        if j.state == JobState::Running {
            self.set_job_state(&k, &mut j, JobState::Failed, Some(error))?;
        }
        Ok(())
    }

    /// Records task activity times for JOB_TIME: the earliest start and the latest update.
    pub fn touch_job_times(
        &self,
        job_id: &str,
        started: Option<i64>,
        updated: Option<i64>,
    ) -> Result<()> {
        let k = self.open(&self.keys.job(job_id), true, Kind::Hash)?;
        if let Some(t) = started {
            match k.hget_opt_i64("first_started_at")? {
                Some(old) if old <= t => {}
                _ => k.hset_i64("first_started_at", t),
            }
        }
        if let Some(t) = updated {
            match k.hget_opt_i64("last_updated_at")? {
                Some(old) if old >= t => {}
                _ => k.hset_i64("last_updated_at", t),
            }
        }
        Ok(())
    }

    // ---- tasks ----

    /// Loads a task, or `None` when it does not exist.
    pub fn task(&self, job_id: &str, task_id: &[u8], write: bool) -> Result<Option<(Key, Task)>> {
        let k = self.open(&self.keys.task(job_id, task_id), write, Kind::Hash)?;
        if !k.exists() {
            return Ok(None);
        }
        let state =
            TaskState::parse(&k.hget_req("state")?).ok_or_else(|| corrupt("state", k.name()))?;
        let t = Task {
            job_id: job_id.to_string(),
            id: task_id.to_vec(),
            state,
            stream_id: utf8(&k, "stream_id")?,
            seq: k.hget_i64("seq")? as u64,
            waiting_on: k.hget_i64("waiting_on")?,
            retries: k.hget_i64("retries")?,
            max_retries: k.hget_i64("max_retries")?,
            timeout_secs: k.hget_i64("timeout_secs")?,
            started_at: k.hget_opt_i64("started_at")?,
            updated_at: k.hget_opt_i64("updated_at")?,
        };
        Ok(Some((k, t)))
    }

    /// Loads a task that must exist.
    pub fn task_req(&self, job_id: &str, task_id: &[u8], write: bool) -> Result<(Key, Task)> {
        self.task(job_id, task_id, write)?.ok_or_else(|| {
            Error::NotFound(format!(
                "task '{}' of job '{job_id}' does not exist",
                crate::error::shorten(task_id)
            ))
        })
    }

    /// Moves a task to state `to`, and with it every index and counter derived from task
    /// states. The task's own other fields are the caller's business.
    pub fn move_task(&self, k: &Key, t: &mut Task, to: TaskState) -> Result<()> {
        let from = t.state;
        if from == to {
            return Ok(());
        }
        t.state = to;
        k.hset(b"state", to.as_str().as_bytes());

        let (sk, mut s) = self.stream_req(&t.stream_id, true)?;
        let d = |st: TaskState| i64::from(to == st) - i64::from(from == st);
        if d(TaskState::Ready) != 0 || d(TaskState::Running) != 0 {
            self.adjust_stream(&sk, &mut s, d(TaskState::Ready), d(TaskState::Running))?;
        }
        let counts = self.open(&self.keys.counts(), true, Kind::Hash)?;
        counts.counter_add(&count_field(from, &s.worker_type), -1)?;
        counts.counter_add(&count_field(to, &s.worker_type), 1)?;

        let member = model::task_ref(&t.job_id, &t.id);
        if from == TaskState::Ready || to == TaskState::Ready {
            let q = self.open(&self.keys.queue(&t.stream_id), true, Kind::Zset)?;
            let qm = model::queue_member(t.seq, &t.job_id, &t.id);
            if from == TaskState::Ready {
                q.zrem(&qm);
            } else {
                let (_, j) = self.job_req(&t.job_id, false)?;
                q.zadd(model::queue_score(j.seq), &qm);
            }
        }
        if from == TaskState::Running || to == TaskState::Running {
            let leases = self.open(&self.keys.leases(), true, Kind::Zset)?;
            if from == TaskState::Running {
                leases.zrem(&member);
            } else {
                let deadline = model::lease_deadline(
                    t.started_at.unwrap_or(0),
                    t.updated_at.unwrap_or(0),
                    t.timeout_secs,
                );
                leases.zadd(deadline as f64, &member);
            }
        }
        if to == TaskState::Done {
            let (jk, mut j) = self.job_req(&t.job_id, true)?;
            j.unresolved = jk.hincr(b"unresolved", -1)?;
            if j.unresolved == 0 && j.state == JobState::Running {
                self.set_job_state(&jk, &mut j, JobState::Done, None)?;
            }
        }
        Ok(())
    }

    /// Re-scores a running task's lease after its times changed.
    pub fn renew_lease(&self, t: &Task) -> Result<()> {
        if t.state != TaskState::Running {
            return Ok(());
        }
        let deadline = model::lease_deadline(
            t.started_at.unwrap_or(0),
            t.updated_at.unwrap_or(0),
            t.timeout_secs,
        );
        self.open(&self.keys.leases(), true, Kind::Zset)?
            .zadd(deadline as f64, &model::task_ref(&t.job_id, &t.id));
        Ok(())
    }

    /// Fails a task (ready, running or pending) with `error`, and its job with it.
    pub fn fail_task(&self, k: &Key, t: &mut Task, error: &[u8], now: i64) -> Result<()> {
        k.hset(b"error", error);
        k.hset(b"progress", b"1");
        k.hset_i64("updated_at", now);
        t.updated_at = Some(now);
        self.move_task(k, t, TaskState::Failed)?;
        self.touch_job_times(&t.job_id, None, Some(now))?;
        self.fail_job(&t.job_id, error)
    }
}

/// The STATS counter field of a task state and worker type.
pub fn count_field(state: TaskState, worker_type: &[u8]) -> Vec<u8> {
    let mut f = format!("task:{}:", state.as_str()).into_bytes();
    f.extend_from_slice(worker_type);
    f
}
