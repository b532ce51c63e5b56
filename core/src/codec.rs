//! The stored form of a namespace (RDB, AOF rewrite, DEBUG DIGEST): a header (the
//! creation counter, the interned names, the streams) and per job a head and its tasks in
//! batches, each a byte string. Only what a command decided is stored; every index and
//! count is rebuilt when loading, through the same code commands use. Leases get a full
//! lease from the load (their deadlines are each node's own).
//!
//! Version 2 (version 1 plus, after the streams, the paused streams and worker types).
//! Every version keeps reading version 1 (a fixture RDB of it is loaded by the module's
//! tests).

use crate::error::{Error, Result};
use crate::names::Names;
use crate::ns::{Job, Namespace, Stream, WorkerType};
use crate::record::TaskRec;
use crate::state::{JobState, Priority, STATES};
use std::collections::BTreeSet;

/// The encoding version this code writes.
pub const VERSION: u32 = 2;
/// The oldest encoding version this code reads.
pub const OLDEST: u32 = 1;

/// Tasks per batch in the stored form (bounded commands and buffers for big jobs).
pub const TASK_BATCH: usize = 4096;

/// Appends values to a byte string.
#[derive(Debug, Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    /// Appends or reads a value (see the module comment for the forms).
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn u128(&mut self, v: u128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn opt(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => {
                self.u8(1);
                self.bytes(b);
            }
            None => self.u8(0),
        }
    }
}

/// Reads values back, refusing what is cut short.
#[derive(Debug)]
pub struct Reader<'a>(&'a [u8]);

fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("stored namespace: {what}"))
}

impl<'a> Reader<'a> {
    /// Reads `b`.
    pub fn new(b: &'a [u8]) -> Reader<'a> {
        Reader(b)
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(corrupt("cut short"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn arr<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn u128(&mut self) -> Result<u128> {
        Ok(u128::from_le_bytes(self.arr()?))
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.arr()?))
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn opt(&mut self) -> Result<Option<&'a [u8]>> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.bytes().map(Some),
            _ => Err(corrupt("bad optional")),
        }
    }
    /// Appends or reads a value (see the module comment for the forms).
    pub fn end(&self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(corrupt("trailing bytes"))
        }
    }
}

fn names(w: &mut Writer, n: &Names) {
    w.u32(n.len() as u32);
    for name in n.iter() {
        w.bytes(name);
    }
}

fn read_names(r: &mut Reader) -> Result<Names> {
    let mut n = Names::default();
    for i in 0..r.u32()? {
        if n.intern(r.bytes()?) != i {
            return Err(corrupt("a name twice"));
        }
    }
    Ok(n)
}

impl Namespace {
    /// The header: creation counter, interned names, streams.
    pub fn encode_header(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(VERSION);
        w.u64(self.s.seq);
        names(&mut w, &self.s.users);
        names(&mut w, &self.s.types);
        w.u32(self.s.streams.len() as u32);
        w.u32(self.s.free_streams.len() as u32);
        for &f in &self.s.free_streams {
            w.u32(f);
        }
        let live: Vec<(usize, &Stream)> = self
            .s
            .streams
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_deref().map(|s| (i, s)))
            .collect();
        w.u32(live.len() as u32);
        for (i, s) in live {
            w.u32(i as u32);
            w.u128(s.id);
            w.u64(s.seq);
            w.u32(s.worker_type);
            w.u32(s.user);
            w.i64(s.reserved);
            w.f64(s.be_mult);
            w.i64(s.created_at);
        }
        let paused: Vec<u32> = self
            .s
            .streams
            .iter()
            .enumerate()
            .filter(|(_, s)| s.as_ref().is_some_and(|s| s.paused))
            .map(|(i, _)| i as u32)
            .collect();
        w.u32(paused.len() as u32);
        for ix in paused {
            w.u32(ix);
        }
        let types: Vec<u32> = (0..self.s.type_data.len() as u32)
            .filter(|&t| self.s.type_data[t as usize].paused)
            .collect();
        w.u32(types.len() as u32);
        for t in types {
            w.u32(t);
        }
        w.0
    }

    /// The jobs in creation order.
    pub fn jobs_in_order(&self) -> impl Iterator<Item = &Job> {
        self.jobs.values()
    }

    /// A job's head: its own fields and how many tasks follow.
    pub fn encode_job_head(&self, j: &Job) -> Vec<u8> {
        let mut w = Writer::default();
        w.u128(j.id);
        w.u64(j.seq);
        w.u8(j.state as u8);
        w.u8(j.priority as u8);
        w.u32(j.user);
        w.i64(j.created_at);
        w.i64(j.first_started_at);
        w.i64(j.last_updated_at);
        w.opt(j.error.as_deref());
        w.u8(match j.reported {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
        w.u32(j.tasks.len() as u32);
        w.0
    }

    /// Tasks `from..to` of a job: each record (state as shown) with its error and holder.
    pub fn encode_tasks(&self, j: &Job, from: usize, to: usize) -> Vec<u8> {
        let mut w = Writer::default();
        let to = to.min(j.tasks.len());
        w.u32(to.saturating_sub(from) as u32);
        for idx in from..to {
            let idx = idx as u32;
            w.bytes(&j.task(idx).stored_bytes(j.state_of(idx)));
            w.opt(j.error_of(idx));
            w.opt(j.worker_of(idx));
        }
        w.0
    }

    /// A namespace from a header (loading, or replaying an AOF rewrite): empty of jobs.
    pub fn from_header(header: &[u8]) -> Result<Namespace> {
        let mut r = Reader::new(header);
        let v = r.u32()?;
        if !(OLDEST..=VERSION).contains(&v) {
            return Err(corrupt(&format!("encoding version {v} is not known")));
        }
        let mut ns = Namespace::new();
        ns.s.seq = r.u64()?;
        ns.s.users = read_names(&mut r)?;
        ns.s.types = read_names(&mut r)?;
        ns.s.user_running = vec![0; ns.s.users.len()];
        ns.s.type_data = vec![WorkerType::default(); ns.s.types.len()];
        let slots = r.u32()? as usize;
        ns.s.streams = (0..slots).map(|_| None).collect();
        for _ in 0..r.u32()? {
            ns.s.free_streams.push(r.u32()?);
        }
        for _ in 0..r.u32()? {
            let ix = r.u32()?;
            let s = Stream {
                id: r.u128()?,
                seq: r.u64()?,
                worker_type: r.u32()?,
                user: r.u32()?,
                reserved: r.i64()?,
                be_mult: r.f64()?,
                created_at: r.i64()?,
                counts: [0; STATES],
                paused: false,
                elsewhere: 0,
                queue: BTreeSet::new(),
            };
            if s.worker_type as usize >= ns.s.types.len() || s.user as usize >= ns.s.users.len() {
                return Err(corrupt("a stream names an unknown type or user"));
            }
            let slot =
                ns.s.streams
                    .get_mut(ix as usize)
                    .ok_or_else(|| corrupt("a stream slot out of range"))?;
            ns.s.stream_ids.insert(s.id, ix);
            ns.s.type_data[s.worker_type as usize].streams += 1;
            *slot = Some(Box::new(s));
        }
        // The first stream of each (user, type) is the oldest.
        ns.s.user_streams = ns.s.oldest_streams(|_| true);
        if v >= 2 {
            for _ in 0..r.u32()? {
                let ix = r.u32()?;
                let s =
                    ns.s.streams
                        .get_mut(ix as usize)
                        .and_then(|s| s.as_deref_mut())
                        .ok_or_else(|| corrupt("a paused stream that does not exist"))?;
                s.paused = true;
                ns.s.paused += 1;
            }
            for _ in 0..r.u32()? {
                let t = r.u32()? as usize;
                let wt =
                    ns.s.type_data
                        .get_mut(t)
                        .ok_or_else(|| corrupt("a paused worker type that does not exist"))?;
                wt.paused = true;
                ns.s.paused += 1;
            }
        }
        r.end()?;
        Ok(ns)
    }

    /// Adds a job from its head (no tasks yet).
    pub fn load_job_head(&mut self, head: &[u8]) -> Result<u128> {
        let mut r = Reader::new(head);
        let id = r.u128()?;
        let seq = r.u64()?;
        let state = JobState::from_u8(r.u8()?).ok_or_else(|| corrupt("job state"))?;
        let priority = Priority::from_u8(r.u8()?).ok_or_else(|| corrupt("job priority"))?;
        let user = r.u32()?;
        if user as usize >= self.s.users.len() {
            return Err(corrupt("a job names an unknown user"));
        }
        let created_at = r.i64()?;
        let mut j = Job::new(id, seq, user, priority, created_at);
        j.state = state;
        j.first_started_at = r.i64()?;
        j.last_updated_at = r.i64()?;
        j.error = r.opt()?.map(Into::into);
        j.reported = match r.u8()? {
            0 => None,
            1 => Some(false),
            2 => Some(true),
            _ => return Err(corrupt("reported flag")),
        };
        let _tasks = r.u32()?;
        r.end()?;
        if self.job_ids.contains_key(&id) || self.jobs.contains_key(&seq) {
            return Err(corrupt("a job twice"));
        }
        self.s.job_counts[state as usize] += 1;
        if state == JobState::Running {
            self.s.user_running[user as usize] += 1;
        }
        self.s.note_finished(&mut j);
        self.jobs.insert(seq, j);
        self.job_ids.insert(id, seq);
        Ok(id)
    }

    /// Appends a batch of stored tasks to job `id`, in order (running ones get a full lease
    /// from `mono`).
    pub fn load_tasks(&mut self, id: u128, batch: &[u8], mono: u64) -> Result<()> {
        let seq = self
            .job_seq(id)
            .ok_or_else(|| corrupt("tasks of an unknown job"))?;
        let slots = self.s.streams.len();
        let j = self.jobs.get_mut(&seq).expect("indexed");
        let mut r = Reader::new(batch);
        for _ in 0..r.u32()? {
            let rec = TaskRec::from_bytes(r.bytes()?)?;
            let (error, worker) = (r.opt()?, r.opt()?);
            let idx = j.tasks.len() as u32;
            if rec.prereqs().any(|p| p >= idx) {
                return Err(corrupt("a prerequisite after its dependent"));
            }
            let s = rec.stream() as usize;
            if s >= slots || self.s.streams[s].is_none() {
                return Err(corrupt("a task on an unknown stream"));
            }
            if j.find(rec.id()).is_some() {
                return Err(corrupt("a task id twice in a job"));
            }
            let idx = j.push_task(rec);
            j.set_error(idx, error);
            j.set_worker(idx, worker);
            self.s.add_task(j, idx, mono);
        }
        r.end()?;
        self.s.settle();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewJob, NewStream, NewTask, Policy};

    fn sample() -> Namespace {
        let mut ns = Namespace::new();
        for (id, wt, user) in [(1u128, &b"cpu"[..], &b"u"[..]), (2, b"gpu", b"v")] {
            let s = NewStream {
                worker_type: wt,
                reserved: 1,
                be_mult: 1.5,
                user,
            };
            ns.create_stream(id, &s, 10).unwrap();
        }
        for j in [7u128, 8] {
            let nj = NewJob {
                stream: 1,
                def: b"{\"d\":1}",
                max_retries: 2,
                timeout_secs: 30,
                user: b"u",
                priority: Priority::High,
            };
            ns.create_job(j, &nj, 20).unwrap();
            let t = NewTask {
                task_id: b"seg",
                stream: 2,
                def: b"{}",
                prereqs: &[b"init"],
                max_retries: 1,
                timeout_secs: 5,
            };
            ns.create_task(j, &t, 21).unwrap();
        }
        ns.request(b"cpu", Policy::Fair, 30, 0, Some(b"w1"))
            .unwrap();
        ns.done(7, b"init", b"{\"o\":1}", 31, None).unwrap();
        ns.request(b"gpu", Policy::Fair, 32, 0, None).unwrap();
        ns.failed(8, b"init", b"boom", 33, None).unwrap();
        ns.set_paused(crate::PauseTarget::Stream(2), true).unwrap();
        ns.set_paused(crate::PauseTarget::WorkerType(b"aux"), true)
            .unwrap();
        ns
    }

    fn round_trip(ns: &Namespace, batch: usize) -> Namespace {
        let mut back = Namespace::from_header(&ns.encode_header()).unwrap();
        for j in ns.jobs_in_order() {
            let id = back.load_job_head(&ns.encode_job_head(j)).unwrap();
            let mut from = 0;
            while from < j.task_count() {
                back.load_tasks(id, &ns.encode_tasks(j, from, from + batch), 0)
                    .unwrap();
                from += batch;
            }
        }
        back
    }

    #[test]
    fn a_namespace_round_trips_with_every_view_equal() {
        let ns = sample();
        for batch in [1, TASK_BATCH] {
            let back = round_trip(&ns, batch);
            assert_eq!(back.encode_header(), ns.encode_header());
            for j in ns.jobs_in_order() {
                let b = back.job(j.id).unwrap();
                assert_eq!(back.encode_job_head(b), ns.encode_job_head(j));
                assert_eq!(back.encode_tasks(b, 0, 99), ns.encode_tasks(j, 0, 99));
                for t in [&b"init"[..], b"seg"] {
                    assert_eq!(back.task(j.id, t), ns.task(j.id, t));
                }
            }
            assert_eq!(back.stats(), ns.stats());
            assert_eq!(back.job_counts(), ns.job_counts());
            assert_eq!(back.lease_count(), ns.lease_count());
            assert_eq!(back.concurrent_jobs(b"u"), ns.concurrent_jobs(b"u"));
            assert_eq!(
                (back.stream(2).unwrap().paused, back.paused_count()),
                (true, 2)
            );
        }
    }

    #[test]
    fn a_version_1_header_loads_with_nothing_paused() {
        let mut ns = sample();
        ns.set_paused(crate::PauseTarget::Stream(2), false).unwrap();
        ns.set_paused(crate::PauseTarget::WorkerType(b"aux"), false)
            .unwrap();
        let mut v1 = ns.encode_header();
        v1.truncate(v1.len() - 8); // the two empty paused lists
        v1[..4].copy_from_slice(&1u32.to_le_bytes());
        let back = Namespace::from_header(&v1).unwrap();
        assert_eq!(back.paused_count(), 0);
        assert_eq!(back.encode_header(), ns.encode_header());
    }

    #[test]
    fn damaged_stored_forms_are_refused() {
        let ns = sample();
        let h = ns.encode_header();
        assert!(Namespace::from_header(&h[..h.len() - 1]).is_err());
        let mut v3 = h.clone();
        v3[0] = 3;
        let e = Namespace::from_header(&v3).unwrap_err();
        assert!(e.to_string().contains("version 3"), "{e}");
        let mut back = Namespace::from_header(&h).unwrap();
        let j = ns.jobs_in_order().next().unwrap();
        let id = back.load_job_head(&ns.encode_job_head(j)).unwrap();
        assert!(back.load_job_head(&ns.encode_job_head(j)).is_err(), "twice");
        let tasks = ns.encode_tasks(j, 1, 2);
        assert!(back.load_tasks(id, &tasks, 0).is_err(), "seg before init");
    }
}
