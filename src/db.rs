//! Entity access and the state transitions every command shares.
//!
//! A task's state is its source of truth; everything derived from it (stream counters and
//! priority, the schedule and queue sorted sets, the lease index, the job's unresolved count
//! and state, STATS counts) changes only through [`Db::move_task`], [`Db::add_task`] and
//! [`Db::set_job_state`], which keep all of it exact.
//!
//! A `Db` lives for one command. It caches the streams and jobs the command touches, so a
//! DONE that releases many dependents reads and writes each stream and job once:
//! [`Db::flush`] writes their counters (and the stream schedules) back at the end. Every
//! writing command calls it before it replicates and replies.

use crate::error::{Error, Result};
use crate::keys::field;
use crate::keys::Keys;
use crate::model::{self, JobState, Policy, TaskState};
use crate::store::{Field, Key, Kind, RStr, Val};
use redis_module::Context;
use std::cell::RefCell;
use std::rc::Rc;

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
    /// Creation sequence (tie-break: older first).
    pub seq: u64,
    /// Its tasks per state, indexed like [`TaskState::ALL`].
    pub counts: [i64; model::STATES],
}

impl Stream {
    /// Its hot state as stored.
    pub fn sched(&self) -> model::StreamSched {
        model::StreamSched {
            reserved: self.reserved,
            be_mult: self.be_mult,
            seq: self.seq,
            counts: self.counts,
            worker_type: self.worker_type.clone(),
        }
    }

    /// Ready tasks.
    pub fn ready(&self) -> i64 {
        self.counts[TaskState::Ready as usize]
    }

    /// Running tasks.
    pub fn running(&self) -> i64 {
        self.counts[TaskState::Running as usize]
    }

    /// Its current priority.
    pub fn priority(&self) -> f64 {
        model::priority(self.ready(), self.running(), self.reserved, self.be_mult)
    }
}

/// A job's stored fields that commands act on.
#[derive(Debug, Clone)]
pub struct Job {
    /// Job id (canonical UUID).
    pub id: String,
    /// Its state.
    pub state: JobState,
    /// Creation sequence (queue order).
    pub seq: u64,
    /// Tasks not done.
    pub unresolved: i64,
    /// Tasks created (the next task's index).
    pub tasks: i64,
    /// Its priority (its tasks inherit it).
    pub priority: model::Priority,
    /// The first claim of any of its tasks, in ms (0: none yet).
    pub first_started_at: i64,
    /// The last update of any of its tasks, in ms (0: none yet).
    pub last_updated_at: i64,
}

/// A task's stored fields that transitions need.
#[derive(Debug, Clone)]
pub struct Task {
    /// Its job.
    pub job_id: String,
    /// Its job's creation sequence (names the job in its key and queue member).
    pub job_seq: u64,
    /// Its id within the job.
    pub id: Vec<u8>,
    /// Its state.
    pub state: TaskState,
    /// Its stream.
    pub stream_id: String,
    /// Its index in its job (queue order within a job).
    pub idx: u64,
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
    /// Claims so far (the current or last attempt's number).
    pub attempt: i64,
}

impl Job {
    /// Its hot state as stored: "seq unresolved tasks priority_rank first_started_at
    /// last_updated_at".
    pub fn sched(&self) -> model::Packed {
        model::Packed::new()
            .int(self.seq as i64)
            .int(self.unresolved)
            .int(self.tasks)
            .int(self.priority as i64)
            .int(self.first_started_at)
            .int(self.last_updated_at)
    }

    /// The queue score of its ready tasks.
    pub fn queue_score(&self) -> f64 {
        model::queue_score(self.seq, self.priority)
    }
}

impl Task {
    /// Its hot state as stored.
    pub fn sched(&self) -> model::TaskSched {
        model::TaskSched {
            state: self.state,
            idx: self.idx,
            waiting_on: self.waiting_on,
            max_retries: self.max_retries,
            timeout_secs: self.timeout_secs,
            retries: self.retries,
            started_at: self.started_at.unwrap_or(0),
            updated_at: self.updated_at.unwrap_or(0),
            attempt: self.attempt,
            stream_id: self.stream_id.clone(),
        }
    }

    /// When its lease runs out (meaningful while running).
    pub fn deadline(&self) -> i64 {
        model::lease_deadline(
            self.started_at.unwrap_or(0),
            self.updated_at.unwrap_or(0),
            self.timeout_secs,
        )
    }
}

struct Cached<T> {
    key: Key,
    value: T,
    loaded_ready: i64,
    dirty: bool,
}

/// Runs `f` on the cache entry `is_it` picks, loading it first if the command has not;
/// `f` marks the entry dirty when it changed what [`Db::flush`] writes.
fn cached<T, R>(
    cache: &RefCell<Vec<Cached<T>>>,
    is_it: impl Fn(&T) -> bool,
    load: impl FnOnce() -> Result<Cached<T>>,
    f: impl FnOnce(&mut Cached<T>) -> R,
) -> Result<R> {
    let mut cache = cache.borrow_mut();
    let pos = match cache.iter().position(|c| is_it(&c.value)) {
        Some(p) => p,
        None => {
            cache.push(load()?);
            cache.len() - 1
        }
    };
    Ok(f(&mut cache[pos]))
}

/// One namespace, opened for one command.
pub struct Db<'c> {
    /// The command's context.
    pub ctx: &'c Context,
    /// The namespace's key schema.
    pub keys: Keys,
    streams: RefCell<Vec<Cached<Stream>>>,
    jobs: RefCell<Vec<Cached<Job>>>,
    indexes: RefCell<Vec<Rc<Key>>>,
    seqs: RefCell<Vec<(String, u64)>>,
}

fn req(v: Option<RStr>, key: &Key, field: &str) -> Result<RStr> {
    v.ok_or_else(|| {
        Error::Corrupt(format!(
            "field '{field}' of '{}' is missing",
            crate::error::escape(key.name())
        ))
    })
}

impl<'c> Db<'c> {
    /// Opens the namespace `keys` for this command.
    pub fn new(ctx: &'c Context, keys: Keys) -> Self {
        Db {
            ctx,
            keys,
            streams: RefCell::new(Vec::new()),
            jobs: RefCell::new(Vec::new()),
            indexes: RefCell::new(Vec::new()),
            seqs: RefCell::new(Vec::new()),
        }
    }

    /// A job's creation sequence (once per command), or `None` when it does not exist.
    /// A writer loads the job into the command's cache (it changes the job next); a reader
    /// only reads it, so the key is not signalled as modified.
    pub fn job_seq(&self, job_id: &str, write: bool) -> Result<Option<u64>> {
        if let Some(c) = self.jobs.borrow().iter().find(|c| c.value.id == job_id) {
            return Ok(Some(c.value.seq));
        }
        if write {
            return match self.with_job(job_id, false, |j, _| j.seq) {
                Ok(seq) => Ok(Some(seq)),
                Err(Error::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            };
        }
        if let Some((_, s)) = self.seqs.borrow().iter().find(|(id, _)| id == job_id) {
            return Ok(Some(*s));
        }
        let Some((_, j)) = self.job(job_id)? else {
            return Ok(None);
        };
        self.seqs.borrow_mut().push((j.id, j.seq));
        Ok(Some(j.seq))
    }

    /// Records (or with `None` forgets) which job has creation sequence `seq`.
    pub fn set_job_of_seq(&self, seq: u64, job_id: Option<&str>) -> Result<()> {
        let k = self.open(self.keys.job_ids(), true, Kind::Hash)?;
        match job_id {
            Some(id) => k.hset(&model::decimal(seq), id.as_bytes()),
            None => k.hdel(&model::decimal(seq)),
        }
        Ok(())
    }

    /// The id of the job with creation sequence `seq` (a queue member names it so).
    pub fn job_of_seq(&self, seq: u64) -> Result<String> {
        let id = self
            .open(self.keys.job_ids(), false, Kind::Hash)?
            .hget(&model::decimal(seq));
        id.and_then(|v| String::from_utf8(v.to_vec()).ok())
            .ok_or_else(|| {
                Error::Corrupt(format!(
                    "no job has sequence {seq}; run TASKDB.CHECK with FIX"
                ))
            })
    }

    /// Opens one of the namespace's index sorted sets (schedule, queue, leases) for
    /// writing, once per command: a claim reads and writes the same ones.
    pub fn index(&self, name: Vec<u8>) -> Result<Rc<Key>> {
        if let Some(k) = self.indexes.borrow().iter().find(|k| k.name() == name) {
            return Ok(Rc::clone(k));
        }
        let k = Rc::new(self.open(name, true, Kind::Zset)?);
        self.indexes.borrow_mut().push(Rc::clone(&k));
        Ok(k)
    }

    /// Opens a key of the namespace, checking its type.
    pub fn open(&self, name: Vec<u8>, write: bool, kind: Kind) -> Result<Key> {
        Key::open_as(self.ctx, name, write, kind)
    }

    /// The next value of the namespace's creation sequence (streams and jobs).
    pub fn next_seq(&self) -> Result<u64> {
        let meta = self.open(self.keys.meta(), true, Kind::Hash)?;
        Ok(meta.counter_add(b"seq", 1)? as u64)
    }

    // ---- streams ----

    /// Reads a stream from its key, or `None` when it does not exist.
    pub fn read_stream(&self, id: &str, k: &Key) -> Result<Option<Stream>> {
        if !k.exists() {
            return Ok(None);
        }
        let [sched] = k.hmget([&field::SCHED]);
        let s = model::StreamSched::unpack(req(sched, k, "sched")?.as_bytes())
            .ok_or_else(|| Error::Corrupt(format!("sched of stream '{id}'")))?;
        Ok(Some(Stream {
            id: id.to_string(),
            worker_type: s.worker_type,
            reserved: s.reserved,
            be_mult: s.be_mult,
            seq: s.seq,
            counts: s.counts,
        }))
    }

    /// Runs `f` on a stream (loaded once per command); `dirty` marks it for [`Db::flush`].
    pub fn with_stream<R>(
        &self,
        id: &str,
        dirty: bool,
        f: impl FnOnce(&mut Stream) -> R,
    ) -> Result<R> {
        let load = || {
            let key = self.open(self.keys.stream(id), true, Kind::Hash)?;
            let value = self
                .read_stream(id, &key)?
                .ok_or_else(|| Error::NotFound(format!("stream '{id}' does not exist")))?;
            let loaded_ready = value.ready();
            Ok(Cached {
                key,
                value,
                loaded_ready,
                dirty: false,
            })
        };
        cached(
            &self.streams,
            |s: &Stream| s.id == id,
            load,
            |c| {
                c.dirty |= dirty;
                f(&mut c.value)
            },
        )
    }

    /// Fails unless the stream exists; its worker type.
    pub fn stream_worker_type(&self, id: &str) -> Result<Vec<u8>> {
        self.with_stream(id, false, |s| s.worker_type.clone())
    }

    /// Writes a stream's task counts, and its place in its worker type's schedules
    /// (present while it has ready work, scored by its priority).
    pub fn write_stream(&self, k: &Key, s: &Stream, was_ready: bool) -> Result<()> {
        let p = s.priority();
        k.hmset(&[(&field::SCHED, Val::Bytes(s.sched().pack().bytes()))]);
        let member = model::schedule_member(s.reserved, s.seq, &s.id);
        let fair = self.index(self.keys.schedule(&s.worker_type))?;
        if s.ready() > 0 {
            fair.zadd(p, member.as_bytes());
            if !was_ready {
                self.index(self.keys.schedule_strict(&s.worker_type))?
                    .zadd(0.0, member.as_bytes());
            }
        } else if was_ready {
            fair.zrem(member.as_bytes());
            self.index(self.keys.schedule_strict(&s.worker_type))?
                .zrem(member.as_bytes());
        }
        Ok(())
    }

    /// The stream REQUEST_WORK serves next for a worker type, if any has ready work.
    pub fn next_stream(&self, worker_type: &[u8], policy: Policy) -> Result<Option<String>> {
        let name = match policy {
            Policy::Fair => self.keys.schedule(worker_type),
            Policy::Strict => self.keys.schedule_strict(worker_type),
        };
        match self.index(name)?.zfirst() {
            Some((m, _)) => Ok(Some(model::stream_of_schedule_member(&m)?.to_string())),
            None => Ok(None),
        }
    }

    // ---- jobs ----

    /// Reads a job from its key, or `None` when it does not exist.
    pub fn read_job(&self, id: &str, k: &Key) -> Result<Option<Job>> {
        if !k.exists() {
            return Ok(None);
        }
        let [state, sched] = k.hmget([&field::STATE, &field::SCHED]);
        let state = JobState::parse(req(state, k, "state")?.as_bytes())
            .ok_or_else(|| Error::Corrupt(format!("state of job '{id}'")))?;
        let sched = req(sched, k, "sched")?;
        let mut u = model::Unpack::new(sched.as_bytes());
        let corrupt = || Error::Corrupt(format!("sched of job '{id}'"));
        Ok(Some(Job {
            id: id.to_string(),
            state,
            seq: u.num().ok_or_else(corrupt)?,
            unresolved: u.num().ok_or_else(corrupt)?,
            tasks: u.num().ok_or_else(corrupt)?,
            priority: u
                .num()
                .and_then(model::Priority::from_rank)
                .ok_or_else(corrupt)?,
            first_started_at: u.num().ok_or_else(corrupt)?,
            last_updated_at: u.num().ok_or_else(corrupt)?,
        }))
    }

    /// A job's owner.
    pub fn job_user(&self, k: &Key) -> Result<Vec<u8>> {
        let [user] = k.hmget([&field::USER_ID]);
        Ok(req(user, k, "user_id")?.to_vec())
    }

    /// Loads a job (read-only use), or `None` when it does not exist.
    pub fn job(&self, id: &str) -> Result<Option<(Key, Job)>> {
        let k = self.open(self.keys.job(id), false, Kind::Hash)?;
        Ok(self.read_job(id, &k)?.map(|j| (k, j)))
    }

    /// Loads a job that must exist (read-only use).
    pub fn job_req(&self, id: &str) -> Result<(Key, Job)> {
        self.job(id)?
            .ok_or_else(|| Error::NotFound(format!("job '{id}' does not exist")))
    }

    /// Runs `f` on a job (loaded once per command); `dirty` marks it for [`Db::flush`].
    pub fn with_job<R>(
        &self,
        id: &str,
        dirty: bool,
        f: impl FnOnce(&mut Job, &Key) -> R,
    ) -> Result<R> {
        self.with_job_entry(id, |c| {
            c.dirty |= dirty;
            f(&mut c.value, &c.key)
        })
    }

    fn with_job_entry<R>(&self, id: &str, f: impl FnOnce(&mut Cached<Job>) -> R) -> Result<R> {
        let load = || {
            let key = self.open(self.keys.job(id), true, Kind::Hash)?;
            let value = self
                .read_job(id, &key)?
                .ok_or_else(|| Error::NotFound(format!("job '{id}' does not exist")))?;
            Ok(Cached {
                key,
                value,
                loaded_ready: 0,
                dirty: false,
            })
        };
        cached(&self.jobs, |j: &Job| j.id == id, load, f)
    }

    /// Adds a job just written by CREATE_JOB to the cache.
    pub fn cache_job(&self, key: Key, job: Job) {
        self.jobs.borrow_mut().push(Cached {
            key,
            value: job,
            loaded_ready: 0,
            dirty: true,
        });
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
        crate::store::notify(self.ctx, to.event(), k.name());
        match error {
            Some(e) => k.hmset(&[
                (&field::STATE, Val::Bytes(to.as_str().as_bytes())),
                (&field::ERROR, Val::Bytes(e)),
            ]),
            None => k.hmset(&[(&field::STATE, Val::Bytes(to.as_str().as_bytes()))]),
        }
        self.open(self.keys.jobs(), true, Kind::Hash)?
            .hset(j.id.as_bytes(), to.as_str().as_bytes());
        if to == JobState::Done {
            self.open(self.keys.done_jobs(), true, Kind::Hash)?
                .hset(j.id.as_bytes(), b"");
        }
        if from == JobState::Running {
            let user = self.job_user(k)?;
            self.open(self.keys.running_jobs(), true, Kind::Hash)?
                .counter_add(&user, -1)?;
        }
        let counts = self.open(self.keys.job_counts(), true, Kind::Hash)?;
        counts.counter_add(from.as_str().as_bytes(), -1)?;
        counts.counter_add(to.as_str().as_bytes(), 1)?;
        Ok(())
    }

    /// Fails a job (if still running) with `error`, and cancels its ready and pending
    /// tasks so they leave every queue; true if the job was running.
    pub fn fail_job(&self, job_id: &str, error: &[u8]) -> Result<bool> {
        let failed = self.with_job(job_id, false, |j, k| {
            if j.state == JobState::Running {
                self.set_job_state(k, j, JobState::Failed, Some(error))?;
                Ok(true)
            } else {
                Ok(false)
            }
        })??;
        if failed {
            self.cancel_tasks(job_id)?;
        }
        Ok(failed)
    }

    /// Cancels every ready and pending task of a job (linear in its tasks; only when a job
    /// fails).
    pub fn cancel_tasks(&self, job_id: &str) -> Result<()> {
        // Read through a handle of its own: the list is not changed while we walk it.
        let ids = self
            .open(self.keys.job_tasks(job_id), false, Kind::List)?
            .litems();
        for id in ids {
            if let Some((k, mut t)) = self.task(job_id, &id, true)? {
                if matches!(t.state, TaskState::Ready | TaskState::Pending) {
                    self.move_task(&k, &mut t, TaskState::Cancelled, &[])?;
                }
            }
        }
        Ok(())
    }

    /// Records task activity for JOB_TIME: the earliest start and the latest update
    /// (written with the job's other hot state by [`Db::flush`]).
    pub fn touch_job(
        &self,
        job_id: &str,
        started: Option<i64>,
        updated: Option<i64>,
    ) -> Result<()> {
        self.with_job_entry(job_id, |c| {
            let j = &mut c.value;
            if let Some(t) = started.filter(|&t| j.first_started_at == 0 || t < j.first_started_at)
            {
                j.first_started_at = t;
                c.dirty = true;
            }
            if let Some(t) = updated.filter(|&t| t > j.last_updated_at) {
                j.last_updated_at = t;
                c.dirty = true;
            }
        })
    }

    /// Writes back the counters of every stream and job this command changed.
    pub fn flush(&self) -> Result<()> {
        for c in self.streams.borrow_mut().iter_mut().filter(|c| c.dirty) {
            self.write_stream(&c.key, &c.value, c.loaded_ready > 0)?;
            if c.value.ready() > c.loaded_ready {
                crate::block::signal(self.ctx, &self.keys.schedule(&c.value.worker_type));
            }
            c.loaded_ready = c.value.ready();
            c.dirty = false;
        }
        for c in self.jobs.borrow_mut().iter_mut().filter(|c| c.dirty) {
            let j = &c.value;
            c.key
                .hmset(&[(&field::SCHED, Val::Bytes(j.sched().bytes()))]);
            c.dirty = false;
        }
        Ok(())
    }

    // ---- tasks ----

    /// Loads a task, or `None` when it does not exist.
    pub fn task(&self, job_id: &str, task_id: &[u8], write: bool) -> Result<Option<(Key, Task)>> {
        let Some(job_seq) = self.job_seq(job_id, write)? else {
            return Ok(None);
        };
        let k = self.open(self.keys.task(job_seq, task_id), write, Kind::Hash)?;
        if !k.exists() {
            return Ok(None);
        }
        let [sched] = k.hmget([&field::SCHED]);
        let sched =
            model::TaskSched::unpack(req(sched, &k, "sched")?.as_bytes()).ok_or_else(|| {
                Error::Corrupt(format!("sched of '{}'", crate::error::escape(k.name())))
            })?;
        let t = Task {
            job_id: job_id.to_string(),
            job_seq,
            id: task_id.to_vec(),
            state: sched.state,
            stream_id: sched.stream_id,
            idx: sched.idx,
            waiting_on: sched.waiting_on,
            retries: sched.retries,
            max_retries: sched.max_retries,
            timeout_secs: sched.timeout_secs,
            started_at: model::time(sched.started_at),
            updated_at: model::time(sched.updated_at),
            attempt: sched.attempt,
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

    fn queue_add(&self, t: &Task) -> Result<()> {
        let score = self.with_job(&t.job_id, false, |j, _| j.queue_score())?;
        self.index(self.keys.queue(&t.stream_id))?
            .zadd(score, &model::queue_member(t.idx, t.job_seq, &t.id));
        Ok(())
    }

    /// Accounts for a task just written in state `t.state`: stream counts, queue, lease.
    pub fn add_task(&self, t: &Task) -> Result<()> {
        crate::store::notify(self.ctx, t.state.event(), &self.keys.task(t.job_seq, &t.id));
        self.with_stream(&t.stream_id, true, |s| s.counts[t.state as usize] += 1)?;
        match t.state {
            TaskState::Ready => self.queue_add(t)?,
            TaskState::Running => {
                let leases = self.index(self.keys.leases())?;
                let member = model::task_ref(&t.job_id, &t.id);
                leases.zadd(t.deadline() as f64, &member);
                crate::leases::renew(self.db_index(), leases.name(), &member, t.timeout_secs);
            }
            _ => {}
        }
        Ok(())
    }

    /// Moves a task to state `to`, writing `fields` to its hash in the same call, and with
    /// it every index and counter derived from task states.
    pub fn move_task(
        &self,
        k: &Key,
        t: &mut Task,
        to: TaskState,
        fields: &[(&Field, Val)],
    ) -> Result<()> {
        let from = t.state;
        t.state = to;
        let sched = t.sched().pack();
        let mut all = Vec::with_capacity(fields.len() + 1);
        all.push((&field::SCHED, Val::Bytes(sched.bytes())));
        all.extend_from_slice(fields);
        k.hmset(&all);
        if from == to {
            return Ok(());
        }
        crate::store::notify(self.ctx, to.event(), k.name());
        self.with_stream(&t.stream_id, true, |s| {
            s.counts[from as usize] -= 1;
            s.counts[to as usize] += 1;
        })?;
        if from == TaskState::Ready {
            self.index(self.keys.queue(&t.stream_id))?
                .zrem(&model::queue_member(t.idx, t.job_seq, &t.id));
        }
        if to == TaskState::Ready {
            self.queue_add(t)?;
        }
        if from == TaskState::Running || to == TaskState::Running {
            let leases = self.index(self.keys.leases())?;
            let member = model::task_ref(&t.job_id, &t.id);
            if from == TaskState::Running {
                leases.zrem(&member);
                crate::leases::forget(self.db_index(), leases.name(), &member);
            } else {
                leases.zadd(t.deadline() as f64, &member);
                crate::leases::renew(self.db_index(), leases.name(), &member, t.timeout_secs);
            }
        }
        if to == TaskState::Done {
            self.with_job(&t.job_id, true, |j, jk| {
                j.unresolved -= 1;
                if j.unresolved == 0 && j.state == JobState::Running {
                    self.set_job_state(jk, j, JobState::Done, None)
                } else {
                    Ok(())
                }
            })??;
        }
        Ok(())
    }

    /// Re-scores a running task's lease after its times changed (a heartbeat).
    pub fn renew_lease(&self, t: &Task) -> Result<()> {
        if t.state == TaskState::Running {
            let leases = self.index(self.keys.leases())?;
            let member = model::task_ref(&t.job_id, &t.id);
            leases.zadd(t.deadline() as f64, &member);
            crate::leases::renew(self.db_index(), leases.name(), &member, t.timeout_secs);
        }
        Ok(())
    }

    /// The database the command runs in (it names the namespace on this node's lease
    /// clock, see `leases.rs`).
    pub fn db_index(&self) -> i32 {
        crate::store::selected_db(self.ctx)
    }

    /// Fails a task (ready, running or pending) with `error`, and its job with it.
    pub fn fail_task(&self, k: &Key, t: &mut Task, error: &[u8], now: i64) -> Result<()> {
        t.updated_at = Some(now);
        self.move_task(
            k,
            t,
            TaskState::Failed,
            &[(&field::ERROR, Val::Bytes(error))],
        )?;
        crate::info::count(&crate::info::FAILED);
        self.touch_job(&t.job_id, None, Some(now))?;
        self.fail_job(&t.job_id, error).map(|_| ())
    }
}
