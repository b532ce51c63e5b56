//! A namespace: every stream, job and task of one independent TaskDB, with the indexes
//! that keep its scheduling O(log n) and its counters exact.
//!
//! A task's state is the source of truth; everything derived from it (per-job and
//! per-stream counts, a job's ready tasks per stream, the streams' queues of jobs, the
//! worker types' fair and strict orders, the lease index, unresolved counts and job
//! states) changes only through [`Shared::move_task`], [`Shared::add_task`] and
//! [`Shared::set_job_state`]. An operation validates everything first, then changes, then
//! calls [`Shared::settle`], which re-sorts the streams it touched once.
//!
//! Cancellation is O(1): the ready and pending tasks of a failed job keep their stored
//! state and show as cancelled ([`TaskState::effective`]); the counts move in bulk.

use crate::bits::Bits;
use crate::chunked::ChunkedVec;
use crate::names::Names;
use crate::record::{TaskRec, NONE};
use crate::schedule::{self, FairKey, StrictKey};
use crate::state::{JobState, Priority, TaskState, STATES};
use std::collections::{BTreeMap, BTreeSet};

/// A user's share of one worker type.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// Its id.
    pub id: u128,
    /// Its creation sequence in the namespace (older streams first on ties).
    pub seq: u64,
    /// Its worker type (interned).
    pub worker_type: u32,
    /// Its owner (interned).
    pub user: u32,
    /// Reserved workers.
    pub reserved: i64,
    /// Best-effort multiplier.
    pub be_mult: f64,
    /// Creation time, ms.
    pub created_at: i64,
    /// Its tasks per state (as shown).
    pub counts: [i64; STATES],
    /// Paused by an operator: REQUEST_WORK skips it.
    pub paused: bool,
    /// Its tasks running on the other shards of a sharded TaskDB, as a client last told
    /// (`TASKDB.ELSEWHERE`): counted in its priority, so each shard's fair share follows
    /// the whole TaskDB's. A hint, not data: not stored, 0 after a load.
    pub elsewhere: i64,
    /// The queue keys of the jobs with ready tasks here (see [`schedule::queue_key`]).
    pub(crate) queue: BTreeSet<u64>,
}

impl Stream {
    /// Ready tasks.
    pub fn ready(&self) -> i64 {
        self.counts[TaskState::Ready as usize]
    }

    /// Running tasks.
    pub fn running(&self) -> i64 {
        self.counts[TaskState::Running as usize]
    }

    /// Whether REQUEST_WORK may serve it: it has ready work and is not paused (the
    /// worker types' orders hold exactly these streams).
    pub fn listed(&self) -> bool {
        self.ready() > 0 && !self.paused
    }

    /// Its priority now (infinite when nothing is ready), counting what it runs on
    /// other shards.
    pub fn priority(&self) -> f64 {
        schedule::priority(
            self.ready(),
            self.running() + self.elsewhere,
            self.reserved,
            self.be_mult,
        )
    }

    /// Its key in its worker type's fair order, as stream `ix`.
    pub(crate) fn fair_key_at(&self, ix: u32) -> FairKey {
        FairKey {
            priority: schedule::order_bits(self.priority()),
            inv_reserved: schedule::inv_reserved(self.reserved),
            seq: self.seq,
            stream: ix,
        }
    }

    /// Its key in the strict order, as stream `ix`.
    pub(crate) fn strict_key_at(&self, ix: u32) -> StrictKey {
        StrictKey {
            inv_reserved: schedule::inv_reserved(self.reserved),
            seq: self.seq,
            stream: ix,
        }
    }
}

/// The streams of one worker type with ready work, in each order, and its task counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct WorkerType {
    pub fair: BTreeSet<FairKey>,
    pub strict: BTreeSet<StrictKey>,
    pub counts: [i64; STATES],
    /// Streams of this type.
    pub streams: usize,
    /// Paused by an operator: REQUEST_WORK hands out nothing of this type.
    pub paused: bool,
    /// Its counters and timings (in memory only).
    pub meter: crate::meter::Meter,
}

/// One dependency link: `post` waits on the task whose list this is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edge {
    pub post: u32,
    pub next: u32,
}

/// A job's tasks on one stream: their counts and the ready ones.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    pub stream: u32,
    pub counts: [i64; STATES],
    pub ready: Bits,
}

/// What few tasks carry: an error text, a holder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Extra {
    pub error: Option<Box<[u8]>>,
    pub worker: Option<Box<[u8]>>,
}

/// A job: its state and its DAG of tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: u128,
    /// Its creation sequence (queue order: the oldest job first).
    pub seq: u64,
    /// Its state.
    pub state: JobState,
    /// Its priority (its tasks inherit it).
    pub priority: Priority,
    /// Its owner (interned).
    pub user: u32,
    /// Creation time, ms.
    pub created_at: i64,
    /// The first claim of any of its tasks, ms (0: none yet).
    pub first_started_at: i64,
    /// The last update of any of its tasks, ms (0: none yet).
    pub last_updated_at: i64,
    /// When it finished (done or failed), ms; 0 while running. Derived, not stored: a
    /// loaded job takes its last update (or its creation).
    pub(crate) finished_at: i64,
    /// Tasks not done.
    pub unresolved: i64,
    /// The error of its first failure.
    pub error: Option<Box<[u8]>>,
    /// The PostgreSQL TaskDB's `reported` flag, when restored with one.
    pub reported: Option<bool>,
    pub(crate) tasks: ChunkedVec<TaskRec>,
    /// `hash32(task id) << 32 | index`, to find a task by id.
    pub(crate) index: BTreeSet<u64>,
    pub(crate) edges: ChunkedVec<Edge>,
    pub(crate) parts: Vec<Part>,
    /// Running tasks: index -> local lease deadline (monotonic ms, this node's).
    pub(crate) running: BTreeMap<u32, u64>,
    pub(crate) extras: BTreeMap<u32, Extra>,
}

/// The part of a task id that its job's index sorts by.
pub(crate) fn id_hash(id: &[u8]) -> u64 {
    // A keyed multiply-mix hash: a few instructions for a short id where SipHash costs a
    // hundred, with a key drawn once per process (the index is rebuilt on load, never
    // stored or replicated), so ids cannot be chosen to collide in bulk.
    static KEY: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let key = *KEY.get_or_init(|| {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(0x7461_736b_6462u64) | 1
    });
    const M: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = key ^ (id.len() as u64).wrapping_mul(M);
    let mut chunks = id.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(M).rotate_left(31) ^ key;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(M).rotate_left(31) ^ key;
    }
    // murmur3's finalizer, then the top 32 bits.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h >> 32
}

impl Job {
    pub(crate) fn new(id: u128, seq: u64, user: u32, priority: Priority, now: i64) -> Job {
        Job {
            id,
            seq,
            state: JobState::Running,
            priority,
            user,
            created_at: now,
            first_started_at: 0,
            last_updated_at: 0,
            finished_at: 0,
            unresolved: 0,
            error: None,
            reported: None,
            tasks: ChunkedVec::new(),
            index: BTreeSet::new(),
            edges: ChunkedVec::new(),
            parts: Vec::new(),
            running: BTreeMap::new(),
            extras: BTreeMap::new(),
        }
    }

    /// Whether it failed (its ready and pending tasks show as cancelled).
    pub fn failed(&self) -> bool {
        self.state == JobState::Failed
    }

    /// Its place in its streams' queues.
    pub(crate) fn queue_key(&self) -> u64 {
        schedule::queue_key(self.priority, self.seq)
    }

    /// How many tasks it has.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// The index of the task with id `id`.
    pub fn find(&self, id: &[u8]) -> Option<u32> {
        let h = id_hash(id) << 32;
        // One descent: an inclusive range would search for both of its ends.
        self.index
            .range(h..)
            .take_while(|&&k| k >> 32 == h >> 32)
            .map(|k| (k & 0xffff_ffff) as u32)
            .find(|&i| self.tasks.get(i as usize).is_some_and(|t| t.id() == id))
    }

    pub(crate) fn task(&self, idx: u32) -> &TaskRec {
        self.tasks
            .get(idx as usize)
            .expect("a task index of its job")
    }

    pub(crate) fn task_mut(&mut self, idx: u32) -> &mut TaskRec {
        self.tasks
            .get_mut(idx as usize)
            .expect("a task index of its job")
    }

    /// When a ready task became ready: its creation, its last update (a retry sends it
    /// back with one) or its last prerequisite's DONE, whichever came last.
    pub(crate) fn ready_since(&self, idx: u32) -> i64 {
        let t = self.task(idx);
        t.prereqs()
            .map(|p| self.task(p).updated_at())
            .fold(t.created_at().max(t.updated_at()), i64::max)
    }

    /// A task's state as shown.
    pub fn state_of(&self, idx: u32) -> TaskState {
        self.task(idx).state().effective(self.failed())
    }

    pub(crate) fn part_mut(&mut self, stream: u32) -> &mut Part {
        let pos = match self.parts.iter().position(|p| p.stream == stream) {
            Some(p) => p,
            None => {
                self.parts.push(Part {
                    stream,
                    counts: [0; STATES],
                    ready: Bits::new(),
                });
                self.parts.len() - 1
            }
        };
        &mut self.parts[pos]
    }

    /// Adds a task record (already counted by the caller); its index.
    pub(crate) fn push_task(&mut self, rec: TaskRec) -> u32 {
        let idx = self.tasks.len() as u32;
        self.index.insert(id_hash(rec.id()) << 32 | u64::from(idx));
        let pre: Vec<u32> = rec.prereqs().collect();
        self.tasks.push(rec);
        for p in pre {
            self.link(p, idx);
        }
        idx
    }

    /// Records that `post` waits on `pre`.
    fn link(&mut self, pre: u32, post: u32) {
        let next = self.task(pre).first_dependent();
        let e = self.edges.push(Edge { post, next }) as u32;
        self.task_mut(pre).set_first_dependent(e);
    }

    /// The tasks waiting on `pre`.
    pub(crate) fn dependents(&self, pre: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut e = self.task(pre).first_dependent();
        while e != NONE {
            let Some(edge) = self.edges.get(e as usize) else {
                break;
            };
            out.push(edge.post);
            e = edge.next;
        }
        out
    }

    /// A task's holder, if its claim named one.
    pub fn worker_of(&self, idx: u32) -> Option<&[u8]> {
        self.extras.get(&idx)?.worker.as_deref()
    }

    /// A task's error text: `Some("")` after a retry, the failure's text once failed.
    pub fn error_of(&self, idx: u32) -> Option<&[u8]> {
        let t = self.task(idx);
        if t.has(crate::record::HAS_ERROR) {
            return self.extras.get(&idx)?.error.as_deref();
        }
        t.has(crate::record::ERROR_EMPTY).then_some(&[][..])
    }

    /// Sets a task's error (`None`: none).
    pub(crate) fn set_error(&mut self, idx: u32, error: Option<&[u8]>) {
        use crate::record::{ERROR_EMPTY, HAS_ERROR};
        let t = self.task_mut(idx);
        t.set_flag(ERROR_EMPTY, error.is_some_and(<[u8]>::is_empty));
        t.set_flag(HAS_ERROR, error.is_some_and(|e| !e.is_empty()));
        match error.filter(|e| !e.is_empty()) {
            Some(e) => self.extras.entry(idx).or_default().error = Some(e.into()),
            None => self.clear_extra(idx, |x| x.error = None),
        }
    }

    /// Sets a task's holder (`None`: none).
    pub(crate) fn set_worker(&mut self, idx: u32, worker: Option<&[u8]>) {
        self.task_mut(idx)
            .set_flag(crate::record::HAS_WORKER, worker.is_some());
        match worker {
            Some(w) => self.extras.entry(idx).or_default().worker = Some(w.into()),
            None => self.clear_extra(idx, |x| x.worker = None),
        }
    }

    fn clear_extra(&mut self, idx: u32, f: impl FnOnce(&mut Extra)) {
        if let Some(x) = self.extras.get_mut(&idx) {
            f(x);
            if x.error.is_none() && x.worker.is_none() {
                self.extras.remove(&idx);
            }
        }
    }
}

/// What an operation did that the caller acts on: which worker types gained ready work
/// (to wake waiting workers), which states were entered (keyspace events), and, when
/// asked for, each change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Worker types (interned) that have more ready tasks than before.
    pub woken: Vec<u32>,
    /// Bit `s` for every task state `s` entered; bit `8 + j` for every job state.
    pub entered: u16,
    /// Each change (job id, task index or `None` for the job, new state name), when
    /// [`Namespace::log_changes`] is on.
    pub changes: Option<Vec<Change>>,
}

/// One state change, for subscribers who want the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The job.
    pub job: u128,
    /// The task's id, or `None` for a change of the job's state.
    pub task: Option<Box<[u8]>>,
    /// The new state's name.
    pub state: &'static str,
}

/// Bit of [`Effects::entered`] for a job state.
pub const JOB_BIT: u16 = 8;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Dirty {
    stream: u32,
    ready: i64,
    listed: bool,
    key: Option<FairKey>,
}

/// Everything of a namespace but its jobs, so an operation can hold a job and change the
/// rest at the same time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shared {
    /// The creation counter (streams and jobs).
    pub seq: u64,
    pub streams: Vec<Option<Box<Stream>>>,
    pub free_streams: Vec<u32>,
    pub stream_ids: BTreeMap<u128, u32>,
    pub users: Names,
    pub user_running: Vec<i64>,
    pub types: Names,
    pub type_data: Vec<WorkerType>,
    /// (user, worker type) -> the user's first stream of that type.
    pub user_streams: BTreeMap<(u32, u32), u32>,
    /// Done jobs, and failed ones, by (finish time, sequence): CLEAR_COMPLETED's and
    /// retention's order.
    pub done_jobs: BTreeSet<(i64, u64)>,
    pub failed_jobs: BTreeSet<(i64, u64)>,
    pub job_counts: [i64; 3],
    /// (local deadline, job seq, task index) of every running task.
    pub leases: BTreeSet<(u64, u64, u32)>,
    pub dirty: Vec<Dirty>,
    pub effects: Effects,
    /// Bytes of tasks' records and extras (for the memory estimate).
    pub task_bytes: usize,
    /// Paused streams and worker types.
    pub paused: usize,
    pub task_count: usize,
}

/// One independent TaskDB: streams, jobs, tasks and their indexes.
#[derive(Debug, Clone, Default)]
pub struct Namespace {
    /// Jobs by creation sequence.
    pub(crate) jobs: BTreeMap<u64, Job>,
    /// Job id -> creation sequence.
    pub(crate) job_ids: BTreeMap<u128, u64>,
    pub(crate) s: Shared,
}

impl Shared {
    pub fn stream(&self, ix: u32) -> &Stream {
        self.streams
            .get(ix as usize)
            .and_then(|s| s.as_deref())
            .expect("a live stream index")
    }

    pub fn stream_mut(&mut self, ix: u32) -> &mut Stream {
        self.streams
            .get_mut(ix as usize)
            .and_then(|s| s.as_deref_mut())
            .expect("a live stream index")
    }

    /// The meter of the worker type of a task on stream `ix`.
    pub fn meter_of(&mut self, stream: u32) -> &mut crate::meter::Meter {
        let wt = self.stream(stream).worker_type as usize;
        &mut self.type_data[wt].meter
    }

    /// The oldest stream of each (user, worker type) that `wanted` keeps: who GET_STREAM
    /// names for the pair.
    pub fn oldest_streams(
        &self,
        wanted: impl Fn(&(u32, u32)) -> bool,
    ) -> BTreeMap<(u32, u32), u32> {
        let mut first: BTreeMap<(u32, u32), (u64, u32)> = BTreeMap::new();
        for (i, s) in self.streams.iter().enumerate() {
            let Some(s) = s else { continue };
            let key = (s.user, s.worker_type);
            if wanted(&key) {
                let e = first.entry(key).or_insert((s.seq, i as u32));
                if s.seq < e.0 {
                    *e = (s.seq, i as u32);
                }
            }
        }
        first.into_iter().map(|(k, (_, i))| (k, i)).collect()
    }

    pub fn stream_ix(&self, id: u128) -> Option<u32> {
        self.stream_ids.get(&id).copied()
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Notes a stream's place in the schedule before it changes (once per operation).
    pub fn touch(&mut self, ix: u32) {
        if self.dirty.iter().any(|d| d.stream == ix) {
            return;
        }
        let s = self.stream(ix);
        let d = Dirty {
            stream: ix,
            ready: s.ready(),
            listed: s.listed(),
            key: s.listed().then(|| s.fair_key_at(ix)),
        };
        self.dirty.push(d);
    }

    /// Re-sorts every stream the operation changed, and notes the worker types that
    /// gained ready work.
    pub fn settle(&mut self) {
        // Taken out and put back, so the buffer keeps its capacity from call to call.
        let mut dirty = std::mem::take(&mut self.dirty);
        for d in dirty.drain(..) {
            let Some(Some(s)) = self.streams.get(d.stream as usize) else {
                continue;
            };
            let (ready, listed, wt) = (s.ready(), s.listed(), s.worker_type);
            let key = listed.then(|| s.fair_key_at(d.stream));
            let strict = s.strict_key_at(d.stream);
            let t = &mut self.type_data[wt as usize];
            if d.key != key {
                if let Some(k) = d.key {
                    t.fair.remove(&k);
                }
                if let Some(k) = key {
                    t.fair.insert(k);
                }
            }
            match (d.listed, listed) {
                (false, true) => {
                    t.strict.insert(strict);
                }
                (true, false) => {
                    t.strict.remove(&strict);
                }
                _ => {}
            }
            if listed && (ready > d.ready || !d.listed) && !self.effects.woken.contains(&wt) {
                self.effects.woken.push(wt);
            }
        }
        self.dirty = dirty;
    }

    fn count(&mut self, stream: u32, state: TaskState, by: i64) {
        let s = self.stream_mut(stream);
        s.counts[state as usize] += by;
        let wt = s.worker_type as usize;
        self.type_data[wt].counts[state as usize] += by;
    }

    /// Notes that a task of `job` entered `state` (the task's id only when logging).
    fn note_task(&mut self, job: &Job, idx: u32, state: TaskState) {
        self.effects.entered |= 1 << state as u16;
        if let Some(log) = self.effects.changes.as_mut() {
            log.push(Change {
                job: job.id,
                task: Some(job.task(idx).id().into()),
                state: state.as_str(),
            });
        }
    }

    /// Notes that `job` entered `state`.
    fn note_job(&mut self, job: u128, state: JobState) {
        self.effects.entered |= 1 << (JOB_BIT + state as u16);
        if let Some(log) = self.effects.changes.as_mut() {
            log.push(Change {
                job,
                task: None,
                state: state.as_str(),
            });
        }
    }

    /// Accounts for a task just pushed in state `state` (and already in its job): counts,
    /// ready set and queue, lease (a full lease from `mono`), unresolved.
    pub fn add_task(&mut self, job: &mut Job, idx: u32, mono: u64) {
        let (stream, stored) = {
            let t = job.task(idx);
            (t.stream(), t.state())
        };
        let state = stored.effective(job.failed());
        self.touch(stream);
        self.count(stream, state, 1);
        job.part_mut(stream).counts[state as usize] += 1;
        if state == TaskState::Ready {
            self.ready_insert(job, stream, idx);
        }
        if state == TaskState::Running {
            let timeout = job.task(idx).timeout_secs();
            self.lease_add(job, idx, mono, timeout);
        }
        if state != TaskState::Done {
            job.unresolved += 1;
        }
        self.task_count += 1;
        self.task_bytes += job.task(idx).heap_bytes();
        self.note_task(job, idx, state);
    }

    fn ready_insert(&mut self, job: &mut Job, stream: u32, idx: u32) {
        let key = job.queue_key();
        let part = job.part_mut(stream);
        if part.ready.is_empty() {
            self.stream_mut(stream).queue.insert(key);
        }
        part.ready.insert(idx);
    }

    fn ready_remove(&mut self, job: &mut Job, stream: u32, idx: u32) {
        let key = job.queue_key();
        let part = job.part_mut(stream);
        part.ready.remove(idx);
        if part.ready.is_empty() {
            self.stream_mut(stream).queue.remove(&key);
        }
    }

    fn lease_add(&mut self, job: &mut Job, idx: u32, mono: u64, timeout_secs: u32) {
        let deadline = mono.saturating_add(u64::from(timeout_secs) * 1000);
        job.running.insert(idx, deadline);
        self.leases.insert((deadline, job.seq, idx));
    }

    fn lease_remove(&mut self, job: &mut Job, idx: u32) {
        if let Some(d) = job.running.remove(&idx) {
            self.leases.remove(&(d, job.seq, idx));
        }
    }

    /// Renews a running task's lease: it runs out `timeout_secs` after `mono`.
    pub fn renew(&mut self, job: &mut Job, idx: u32, mono: u64) {
        if job.running.contains_key(&idx) {
            self.lease_remove(job, idx);
            let timeout = job.task(idx).timeout_secs();
            self.lease_add(job, idx, mono, timeout);
        }
    }

    /// Moves a task to state `to`, and with it every count and index derived from task
    /// states; a task that starts running gets a lease from `mono`.
    pub fn move_task(&mut self, job: &mut Job, idx: u32, to: TaskState, mono: u64) {
        let from = job.state_of(idx);
        if from == to {
            return;
        }
        let stream = job.task(idx).stream();
        self.touch(stream);
        self.count(stream, from, -1);
        self.count(stream, to, 1);
        {
            let part = job.part_mut(stream);
            part.counts[from as usize] -= 1;
            part.counts[to as usize] += 1;
        }
        if from == TaskState::Ready {
            self.ready_remove(job, stream, idx);
        }
        if to == TaskState::Ready {
            self.ready_insert(job, stream, idx);
        }
        if from == TaskState::Running {
            self.lease_remove(job, idx);
        }
        if to == TaskState::Running {
            let timeout = job.task(idx).timeout_secs();
            self.lease_add(job, idx, mono, timeout);
        }
        job.task_mut(idx).set_state(to);
        if to == TaskState::Done {
            job.unresolved -= 1;
        }
        self.note_task(job, idx, to);
        if to == TaskState::Done && job.unresolved == 0 && job.state == JobState::Running {
            self.set_job_state(job, JobState::Done, None);
        }
    }

    /// Moves a job to another state, keeping the per-user running count, the job counts
    /// and the done set exact. A job that fails keeps `error` and cancels its ready and
    /// pending tasks (in bulk: they keep their stored state and show as cancelled).
    pub fn set_job_state(&mut self, job: &mut Job, to: JobState, error: Option<&[u8]>) {
        let from = job.state;
        if from == to {
            return;
        }
        job.state = to;
        self.job_counts[from as usize] -= 1;
        self.job_counts[to as usize] += 1;
        if from == JobState::Running {
            self.user_running[job.user as usize] -= 1;
        }
        if to == JobState::Running {
            self.user_running[job.user as usize] += 1;
        }
        if from != JobState::Running {
            self.forget_finished(job, from);
        }
        if to == JobState::Failed {
            if job.error.is_none() {
                job.error = error.map(Into::into);
            }
            self.cancel_waiting(job);
        }
        self.note_finished(job);
        self.note_job(job.id, to);
    }

    /// Enters a job that is done or failed (just now, or loaded so) in its state's set,
    /// finished at its last task update (or its creation) unless known already.
    pub(crate) fn note_finished(&mut self, job: &mut Job) {
        if job.state == JobState::Running {
            return;
        }
        if job.finished_at == 0 {
            job.finished_at = job.last_updated_at.max(job.created_at);
        }
        let key = (job.finished_at, job.seq);
        if job.state == JobState::Done {
            self.done_jobs.insert(key);
        } else {
            self.failed_jobs.insert(key);
        }
    }

    /// Takes a job out of the set of its finished state `state`.
    pub(crate) fn forget_finished(&mut self, job: &mut Job, state: JobState) {
        let key = (job.finished_at, job.seq);
        match state {
            JobState::Done => self.done_jobs.remove(&key),
            JobState::Failed => self.failed_jobs.remove(&key),
            JobState::Running => false,
        };
        job.finished_at = 0;
    }

    /// A task of a job running again after it failed, stored ready or pending but
    /// counted as cancelled meanwhile, counts as what it is stored as again.
    pub(crate) fn uncancel(&mut self, job: &mut Job, idx: u32) {
        let (stream, stored) = {
            let t = job.task(idx);
            (t.stream(), t.state())
        };
        self.touch(stream);
        self.count(stream, TaskState::Cancelled, -1);
        self.count(stream, stored, 1);
        {
            let p = job.part_mut(stream);
            p.counts[TaskState::Cancelled as usize] -= 1;
            p.counts[stored as usize] += 1;
        }
        if stored == TaskState::Ready {
            self.ready_insert(job, stream, idx);
        }
        self.note_task(job, idx, stored);
    }

    /// A failed job's ready and pending tasks leave every queue and count as cancelled.
    fn cancel_waiting(&mut self, job: &mut Job) {
        let key = job.queue_key();
        let mut any = false;
        for i in 0..job.parts.len() {
            let (stream, ready, pending, had_ready) = {
                let p = &job.parts[i];
                (
                    p.stream,
                    p.counts[TaskState::Ready as usize],
                    p.counts[TaskState::Pending as usize],
                    !p.ready.is_empty(),
                )
            };
            if ready + pending == 0 {
                continue;
            }
            any = true;
            self.touch(stream);
            self.count(stream, TaskState::Ready, -ready);
            self.count(stream, TaskState::Pending, -pending);
            self.count(stream, TaskState::Cancelled, ready + pending);
            if had_ready {
                self.stream_mut(stream).queue.remove(&key);
            }
            let p = &mut job.parts[i];
            p.counts[TaskState::Ready as usize] = 0;
            p.counts[TaskState::Pending as usize] = 0;
            p.counts[TaskState::Cancelled as usize] += ready + pending;
            p.ready = Bits::new();
        }
        if any {
            self.effects.entered |= 1 << TaskState::Cancelled as u16;
        }
    }

    /// Forgets a job's tasks in every count and index outside the job (to delete it):
    /// O(its streams and running tasks), not O(its tasks).
    pub fn detach(&mut self, job: &mut Job) {
        let key = job.queue_key();
        for i in 0..job.parts.len() {
            let (stream, counts, had_ready) = {
                let p = &job.parts[i];
                (p.stream, p.counts, !p.ready.is_empty())
            };
            self.touch(stream);
            for s in TaskState::ALL {
                self.count(stream, s, -counts[s as usize]);
            }
            if had_ready {
                self.stream_mut(stream).queue.remove(&key);
            }
        }
        let running: Vec<u32> = job.running.keys().copied().collect();
        for idx in running {
            self.lease_remove(job, idx);
        }
        self.job_counts[job.state as usize] -= 1;
        if job.state == JobState::Running {
            self.user_running[job.user as usize] -= 1;
        }
        let state = job.state;
        self.forget_finished(job, state);
        self.task_count -= job.tasks.len();
        self.task_bytes -= job.tasks.iter().map(TaskRec::heap_bytes).sum::<usize>();
    }
}

impl Namespace {
    /// An empty namespace.
    pub fn new() -> Namespace {
        Namespace::default()
    }

    /// A copy (COPY of the key): the same state, nothing pending from operations.
    pub fn clone_fresh(&self) -> Namespace {
        let mut c = self.clone();
        c.s.effects = Effects::default();
        c.s.dirty.clear();
        c
    }

    /// Asks for (or stops) the detail of every change in [`Effects::changes`].
    pub fn log_changes(&mut self, on: bool) {
        self.s.effects.changes = on.then(Vec::new);
    }

    /// What the last operations did (and clears it).
    pub fn take_effects(&mut self) -> Effects {
        let keep_log = self.s.effects.changes.is_some();
        let e = std::mem::take(&mut self.s.effects);
        if keep_log {
            self.s.effects.changes = Some(Vec::new());
        }
        e
    }

    /// What the operations since [`Namespace::clear_effects`] did.
    pub fn effects(&self) -> &Effects {
        &self.s.effects
    }

    /// Forgets the effects noted so far, keeping their buffers for the next operation.
    pub fn clear_effects(&mut self) {
        let e = &mut self.s.effects;
        e.woken.clear();
        e.entered = 0;
        if let Some(c) = e.changes.as_mut() {
            c.clear();
        }
    }

    /// A worker type's name.
    pub fn worker_type_name(&self, wt: u32) -> &[u8] {
        self.s.types.name(wt)
    }

    /// A user's name.
    pub fn user_name(&self, user: u32) -> &[u8] {
        self.s.users.name(user)
    }

    /// Whether the namespace holds nothing.
    pub fn is_empty(&self) -> bool {
        self.s.stream_ids.is_empty() && self.jobs.is_empty() && self.s.paused == 0
    }

    pub(crate) fn job_seq(&self, id: u128) -> Option<u64> {
        self.job_ids.get(&id).copied()
    }

    /// A job by id.
    pub fn job(&self, id: u128) -> Option<&Job> {
        self.jobs.get(&self.job_seq(id)?)
    }

    /// How many tasks (all jobs).
    pub fn task_count(&self) -> usize {
        self.s.task_count
    }

    /// How many jobs.
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    /// Jobs per state (running, done, failed).
    pub fn job_counts(&self) -> [i64; 3] {
        self.s.job_counts
    }

    /// Tasks per state over every stream.
    pub fn task_counts(&self) -> [i64; STATES] {
        let mut all = [0; STATES];
        for t in &self.s.type_data {
            for (a, n) in all.iter_mut().zip(t.counts) {
                *a += n;
            }
        }
        all
    }

    /// Running tasks (leases held).
    pub fn lease_count(&self) -> usize {
        self.s.leases.len()
    }

    /// The earliest local lease deadline (monotonic ms), if any task runs.
    pub fn next_deadline(&self) -> Option<u64> {
        self.s.leases.first().map(|l| l.0)
    }

    /// An estimate of the bytes the namespace holds, kept as a running count (for
    /// `MEMORY USAGE`): the task records plus a fixed cost per task, job and stream.
    pub fn memory_usage(&self) -> usize {
        const PER_TASK: usize = 48;
        const PER_JOB: usize = 400;
        const PER_STREAM: usize = 300;
        self.s.task_bytes
            + self.s.task_count * PER_TASK
            + self.jobs.len() * PER_JOB
            + self.s.stream_ids.len() * PER_STREAM
            + self.s.users.heap_bytes()
            + self.s.types.heap_bytes()
            + 512
    }
}
