//! Streams: a user's share of one worker type (reserved workers, best-effort multiplier).

use crate::error::{uuid, Error, Result};
use crate::ns::{Namespace, Stream, WorkerType};
use crate::state::TaskState;
use std::collections::{BTreeMap, BTreeSet};

/// A new stream's fields.
#[derive(Debug, Clone, Copy)]
pub struct NewStream<'a> {
    /// The worker type that runs its tasks.
    pub worker_type: &'a [u8],
    /// Reserved workers (0 to `i32::MAX`).
    pub reserved: i64,
    /// Best-effort multiplier (finite, > 0).
    pub be_mult: f64,
    /// Its owner.
    pub user: &'a [u8],
}

/// A stream as queries show it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamView<'a> {
    /// Its id.
    pub id: u128,
    /// Its worker type.
    pub worker_type: &'a [u8],
    /// Reserved workers.
    pub reserved: i64,
    /// Best-effort multiplier.
    pub be_mult: f64,
    /// Its owner.
    pub user: &'a [u8],
    /// Creation time, ms.
    pub created_at: i64,
    /// Its tasks per state.
    pub counts: [i64; crate::state::STATES],
    /// Its priority now (infinite when nothing is ready).
    pub priority: f64,
    /// Paused by an operator (itself, or its worker type).
    pub paused: bool,
    /// Its worker type is paused.
    pub type_paused: bool,
}

/// What PAUSE and RESUME act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseTarget<'a> {
    /// One stream.
    Stream(u128),
    /// Every stream of a worker type (including streams created later).
    WorkerType(&'a [u8]),
}

impl Namespace {
    /// Creates a stream with id `id` (chosen by the caller) at `now`.
    pub fn create_stream(&mut self, id: u128, s: &NewStream, now: i64) -> Result<()> {
        if self.s.stream_ids.contains_key(&id) {
            return Err(Error::Exists(format!(
                "stream '{}' already exists",
                uuid(id)
            )));
        }
        let seq = self.s.next_seq();
        let wt = self.s.types.intern(s.worker_type);
        if wt as usize == self.s.type_data.len() {
            self.s.type_data.push(WorkerType::default());
        }
        let user = self.s.users.intern(s.user);
        if user as usize == self.s.user_running.len() {
            self.s.user_running.push(0);
        }
        let stream = Box::new(Stream {
            id,
            seq,
            worker_type: wt,
            user,
            reserved: s.reserved,
            be_mult: s.be_mult,
            created_at: now,
            counts: [0; crate::state::STATES],
            paused: false,
            elsewhere: 0,
            queue: BTreeSet::new(),
        });
        let ix = match self.s.free_streams.pop() {
            Some(ix) => {
                self.s.streams[ix as usize] = Some(stream);
                ix
            }
            None => {
                self.s.streams.push(Some(stream));
                (self.s.streams.len() - 1) as u32
            }
        };
        self.s.stream_ids.insert(id, ix);
        self.s.user_streams.entry((user, wt)).or_insert(ix);
        self.s.type_data[wt as usize].streams += 1;
        Ok(())
    }

    /// The user's stream of that worker type (the first one created), if any.
    pub fn stream_of_user(&self, user: &[u8], worker_type: &[u8]) -> Option<u128> {
        let (u, wt) = (self.s.users.find(user)?, self.s.types.find(worker_type)?);
        let ix = *self.s.user_streams.get(&(u, wt))?;
        Some(self.s.stream(ix).id)
    }

    /// A stream as queries show it.
    pub fn stream(&self, id: u128) -> Option<StreamView<'_>> {
        let ix = self.s.stream_ix(id)?;
        Some(self.stream_view(ix))
    }

    pub(crate) fn stream_view(&self, ix: u32) -> StreamView<'_> {
        let s = self.s.stream(ix);
        StreamView {
            id: s.id,
            worker_type: self.s.types.name(s.worker_type),
            reserved: s.reserved,
            be_mult: s.be_mult,
            user: self.s.users.name(s.user),
            created_at: s.created_at,
            counts: s.counts,
            priority: s.priority(),
            paused: s.paused || self.s.type_data[s.worker_type as usize].paused,
            type_paused: self.s.type_data[s.worker_type as usize].paused,
        }
    }

    /// Pauses (`paused`) or resumes a stream or a worker type: REQUEST_WORK skips a paused
    /// stream and hands out nothing of a paused type, blocked workers keep waiting, and
    /// running tasks finish normally. A worker type not known yet is paused ahead of its
    /// first stream. True if it changed; resuming wakes the workers waiting for it.
    pub fn set_paused(&mut self, target: PauseTarget, paused: bool) -> Result<bool> {
        match target {
            PauseTarget::Stream(id) => {
                let ix = self
                    .s
                    .stream_ix(id)
                    .ok_or_else(|| crate::error::no_stream(id))?;
                if self.s.stream(ix).paused == paused {
                    return Ok(false);
                }
                self.s.touch(ix);
                self.s.stream_mut(ix).paused = paused;
                self.s.settle();
            }
            PauseTarget::WorkerType(name) => {
                let known = self.s.types.find(name);
                if known.map_or(!paused, |wt| self.s.type_data[wt as usize].paused == paused) {
                    return Ok(false);
                }
                let wt = self.s.types.intern(name);
                if wt as usize == self.s.type_data.len() {
                    self.s.type_data.push(WorkerType::default());
                }
                self.s.type_data[wt as usize].paused = paused;
                if !paused && !self.s.type_data[wt as usize].fair.is_empty() {
                    self.s.effects.woken.push(wt);
                }
            }
        }
        if paused {
            self.s.paused += 1;
        } else {
            self.s.paused -= 1;
        }
        Ok(true)
    }

    /// Sets each stream's count of tasks running on the other shards of a sharded
    /// TaskDB (`elsewhere`); every stream not named gets 0, and ids this shard lacks
    /// are passed over (a hint: the stream may reach this shard later). Re-sorts the
    /// streams whose priority moved; how many streams changed. O(streams).
    pub fn set_elsewhere(&mut self, hints: &[(u128, i64)]) -> usize {
        let mut want: BTreeMap<u32, i64> = BTreeMap::new();
        for &(id, n) in hints {
            if let Some(ix) = self.s.stream_ix(id) {
                want.insert(ix, n.max(0));
            }
        }
        let changed: Vec<(u32, i64)> = self
            .s
            .streams
            .iter()
            .enumerate()
            .filter_map(|(ix, s)| {
                let s = s.as_ref()?;
                let n = want.get(&(ix as u32)).copied().unwrap_or(0);
                (s.elsewhere != n).then_some((ix as u32, n))
            })
            .collect();
        for &(ix, n) in &changed {
            self.s.touch(ix);
            self.s.stream_mut(ix).elsewhere = n;
        }
        self.s.settle();
        changed.len()
    }

    /// Counts one task fewer running elsewhere for each of `finished` (a stream id once
    /// per task a worker just finished on another shard, which the last `set_elsewhere`
    /// still counted), never below 0, until the next `set_elsewhere`; ids this shard
    /// lacks are passed over. A hint like `elsewhere`: the caller does not replicate it.
    /// O(ids × log streams).
    pub fn discount_elsewhere(&mut self, finished: &[u128]) {
        for &id in finished {
            let Some(ix) = self.s.stream_ix(id) else {
                continue;
            };
            if self.s.stream(ix).elsewhere > 0 {
                self.s.touch(ix);
                self.s.stream_mut(ix).elsewhere -= 1;
            }
        }
        self.s.settle();
    }

    /// Every stream with tasks running here, and how many: what a sharded TaskDB's
    /// other shards are told (`elsewhere`). O(streams).
    pub fn running_streams(&self) -> Vec<(u128, i64)> {
        self.s
            .streams
            .iter()
            .flatten()
            .filter(|s| s.running() > 0)
            .map(|s| (s.id, s.running()))
            .collect()
    }

    /// Each worker type's meters (counters and timings since this node loaded the
    /// namespace), by name.
    pub fn meters(&self) -> Vec<(&[u8], &crate::meter::Meter)> {
        (0..self.s.type_data.len() as u32)
            .map(|wt| (self.s.types.name(wt), &self.s.type_data[wt as usize].meter))
            .collect()
    }

    /// How many streams and worker types are paused.
    pub fn paused_count(&self) -> usize {
        self.s.paused
    }

    /// Whether a stream exists.
    pub fn has_stream(&self, id: u128) -> bool {
        self.s.stream_ids.contains_key(&id)
    }

    /// Up to `count` stream ids after `after` (in id order), and whether more follow.
    pub fn streams_page(&self, after: Option<u128>, count: usize) -> (Vec<u128>, bool) {
        use std::ops::Bound::{Excluded, Unbounded};
        let lo = after.map_or(Unbounded, Excluded);
        let mut it = self.s.stream_ids.range((lo, Unbounded)).map(|(id, _)| *id);
        let page: Vec<u128> = it.by_ref().take(count).collect();
        (page, it.next().is_some())
    }

    /// Every stream id (for tools; linear).
    pub fn stream_ids(&self) -> impl Iterator<Item = u128> + '_ {
        self.s.stream_ids.keys().copied()
    }

    /// Per worker type (by name), its tasks per state, in name order.
    pub fn stats(&self) -> Vec<(&[u8], [i64; crate::state::STATES])> {
        let mut v: Vec<(&[u8], [i64; crate::state::STATES])> = self
            .s
            .types
            .iter()
            .zip(&self.s.type_data)
            .filter(|(_, t)| t.streams > 0)
            .map(|(name, t)| (name, t.counts))
            .collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// A worker type's streams with ready work in the order REQUEST_WORK serves them (at
    /// most `count`): the seed's `ZRANGE streams_by_priority:<type> WITHSCORES`.
    pub fn schedule(
        &self,
        worker_type: &[u8],
        policy: crate::state::Policy,
        count: usize,
    ) -> Vec<StreamView<'_>> {
        let Some(wt) = self.s.types.find(worker_type) else {
            return Vec::new();
        };
        let t = &self.s.type_data[wt as usize];
        let ixs: Vec<u32> = match policy {
            crate::state::Policy::Fair => t.fair.iter().take(count).map(|k| k.stream).collect(),
            crate::state::Policy::Strict => t.strict.iter().take(count).map(|k| k.stream).collect(),
        };
        ixs.into_iter().map(|ix| self.stream_view(ix)).collect()
    }

    /// Up to `count` streams that hold no task of any state (what a PostgreSQL TaskDB
    /// `clear_completed_jobs` removes), oldest first, leaving out those in `keep` (a sharded
    /// TaskDB keeps a stream on its first shard while other shards hold its tasks). O(streams).
    pub fn empty_streams(&self, count: usize, keep: &BTreeSet<u128>) -> Vec<u128> {
        let mut empty: Vec<(u64, u128)> = self
            .s
            .streams
            .iter()
            .flatten()
            .filter(|s| s.counts.iter().all(|&n| n == 0) && !keep.contains(&s.id))
            .map(|s| (s.seq, s.id))
            .collect();
        empty.sort_unstable();
        empty.into_iter().take(count).map(|(_, id)| id).collect()
    }

    /// Deletes streams that hold no task. All or nothing: an error names the first id
    /// that is unknown, repeated or holds tasks, and then nothing changed. A user's next
    /// oldest stream of a type takes a deleted first stream's place for GET_STREAM.
    /// O(streams) for the whole batch.
    pub fn delete_streams(&mut self, ids: &[u128]) -> Result<()> {
        let mut seen = BTreeSet::new();
        let mut ixs = Vec::with_capacity(ids.len());
        for &id in ids {
            let Some(ix) = self.s.stream_ix(id) else {
                return Err(crate::error::no_stream(id));
            };
            if !seen.insert(id) {
                return Err(Error::Refused(format!(
                    "stream '{}' is named twice",
                    uuid(id)
                )));
            }
            if self.s.stream(ix).counts.iter().any(|&n| n != 0) {
                return Err(Error::Refused(format!("stream '{}' holds tasks", uuid(id))));
            }
            ixs.push((id, ix));
        }
        let mut orphaned = BTreeSet::new();
        for (id, ix) in ixs {
            let s = self.s.stream(ix);
            let (user, wt) = (s.user, s.worker_type);
            self.s.streams[ix as usize] = None;
            self.s.free_streams.push(ix);
            self.s.type_data[wt as usize].streams -= 1;
            self.s.stream_ids.remove(&id);
            if self.s.user_streams.get(&(user, wt)) == Some(&ix) {
                self.s.user_streams.remove(&(user, wt));
                orphaned.insert((user, wt));
            }
        }
        if orphaned.is_empty() {
            return Ok(());
        }
        let first = self.s.oldest_streams(|k| orphaned.contains(k));
        self.s.user_streams.extend(first);
        Ok(())
    }

    /// The number of a stream's ready tasks (0 if none or no such stream).
    pub fn ready_on(&self, id: u128) -> i64 {
        self.s
            .stream_ix(id)
            .map_or(0, |ix| self.s.stream(ix).counts[TaskState::Ready as usize])
    }
}
