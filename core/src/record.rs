//! One task, packed in one allocation: its fixed fields, then its id, definition,
//! prerequisite indices and output. A task costs one heap block plus the indexes that
//! point at it, and its stored form (RDB, replication of restores) is these bytes.
//!
//! Layout (little-endian): `state u8, flags u8, _ u16, id_len, def_len, prerequisites,
//! output_len (u32::MAX: none), waiting_on, retries, max_retries, timeout_secs, attempt,
//! stream, first_dependent (u32 each), progress f64, created_at, started_at, updated_at
//! (i64 ms, 0: not yet)`, then the bytes.

use crate::error::{Error, Result};
use crate::state::TaskState;

const STATE: usize = 0;
const FLAGS: usize = 1;
const ID_LEN: usize = 4;
const DEF_LEN: usize = 8;
const N_PRE: usize = 12;
const OUT_LEN: usize = 16;
const WAITING: usize = 20;
const RETRIES: usize = 24;
const MAX_RETRIES: usize = 28;
const TIMEOUT: usize = 32;
const ATTEMPT: usize = 36;
const STREAM: usize = 40;
const FIRST_DEP: usize = 44;
const PROGRESS: usize = 48;
const CREATED: usize = 56;
const STARTED: usize = 64;
const UPDATED: usize = 72;
/// Bytes of fixed fields.
pub const HEADER: usize = 80;

/// "No value" for a u32 field (output length, list heads).
pub const NONE: u32 = u32::MAX;

/// Flag: the task's error is "" (after a retry), without storing it.
pub const ERROR_EMPTY: u8 = 1;
/// Flag: the task has an error text, kept in its job's extras.
pub const HAS_ERROR: u8 = 2;
/// Flag: the task has a holder (`worker_id`), kept in its job's extras.
pub const HAS_WORKER: u8 = 4;

/// A task's packed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRec(Box<[u8]>);

/// What a new task is made of.
#[derive(Debug, Clone, Copy)]
pub struct NewRec<'a> {
    /// Its id in its job.
    pub id: &'a [u8],
    /// Its definition (JSON).
    pub def: &'a [u8],
    /// Its prerequisites, as indices in its job.
    pub prereqs: &'a [u32],
    /// Its state.
    pub state: TaskState,
    /// Its stream's index.
    pub stream: u32,
    /// Prerequisites not done.
    pub waiting_on: u32,
    /// Retry limit.
    pub max_retries: u32,
    /// Lease length, seconds.
    pub timeout_secs: u32,
    /// Creation time, ms.
    pub created_at: i64,
}

macro_rules! u32_field {
    ($get:ident, $set:ident, $off:expr, $doc:literal) => {
        #[doc = $doc]
        pub fn $get(&self) -> u32 {
            self.u32_at($off)
        }
        #[doc = concat!("Sets: ", $doc)]
        pub fn $set(&mut self, v: u32) {
            self.0[$off..$off + 4].copy_from_slice(&v.to_le_bytes());
        }
    };
}

macro_rules! i64_field {
    ($get:ident, $set:ident, $off:expr, $doc:literal) => {
        #[doc = $doc]
        pub fn $get(&self) -> i64 {
            i64::from_le_bytes(self.array8($off))
        }
        #[doc = concat!("Sets: ", $doc)]
        pub fn $set(&mut self, v: i64) {
            self.0[$off..$off + 8].copy_from_slice(&v.to_le_bytes());
        }
    };
}

impl TaskRec {
    /// A new task's record (no output, no attempt yet).
    pub fn new(n: &NewRec) -> TaskRec {
        let len = HEADER + n.id.len() + n.def.len() + 4 * n.prereqs.len();
        let mut b = Vec::with_capacity(len);
        b.resize(HEADER, 0);
        b.extend_from_slice(n.id);
        b.extend_from_slice(n.def);
        for p in n.prereqs {
            b.extend_from_slice(&p.to_le_bytes());
        }
        let mut r = TaskRec(b.into_boxed_slice());
        r.0[STATE] = n.state as u8;
        r.set_u32(ID_LEN, n.id.len() as u32);
        r.set_u32(DEF_LEN, n.def.len() as u32);
        r.set_u32(N_PRE, n.prereqs.len() as u32);
        r.set_u32(OUT_LEN, NONE);
        r.set_waiting_on(n.waiting_on);
        r.set_max_retries(n.max_retries);
        r.set_timeout_secs(n.timeout_secs);
        r.set_stream(n.stream);
        r.set_first_dependent(NONE);
        r.set_created_at(n.created_at);
        r
    }

    /// Reads a record from its stored bytes, checking that its lengths add up; the
    /// derived list head is reset.
    pub fn from_bytes(b: &[u8]) -> Result<TaskRec> {
        let bad = || Error::Corrupt("a task record's lengths do not add up".into());
        if b.len() < HEADER {
            return Err(bad());
        }
        let mut r = TaskRec(b.into());
        TaskState::from_u8(r.0[STATE]).ok_or_else(bad)?;
        let out = match r.u32_at(OUT_LEN) {
            NONE => 0,
            n => n as usize,
        };
        let want = HEADER
            + r.u32_at(ID_LEN) as usize
            + r.u32_at(DEF_LEN) as usize
            + 4 * r.u32_at(N_PRE) as usize
            + out;
        if want != b.len() {
            return Err(bad());
        }
        r.set_first_dependent(NONE);
        Ok(r)
    }

    /// The stored bytes (with the derived list head cleared and the state as shown).
    pub fn stored_bytes(&self, state: TaskState) -> Vec<u8> {
        let mut b = self.0.to_vec();
        b[STATE] = state as u8;
        b[FIRST_DEP..FIRST_DEP + 4].copy_from_slice(&NONE.to_le_bytes());
        b
    }

    fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes([
            self.0[off],
            self.0[off + 1],
            self.0[off + 2],
            self.0[off + 3],
        ])
    }

    fn set_u32(&mut self, off: usize, v: u32) {
        self.0[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn array8(&self, off: usize) -> [u8; 8] {
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.0[off..off + 8]);
        a
    }

    /// The state it holds (see [`TaskState::effective`] for the one it shows).
    pub fn state(&self) -> TaskState {
        TaskState::from_u8(self.0[STATE]).unwrap_or(TaskState::Failed)
    }

    /// Sets the state.
    pub fn set_state(&mut self, s: TaskState) {
        self.0[STATE] = s as u8;
    }

    /// Whether `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.0[FLAGS] & flag != 0
    }

    /// Sets or clears `flag`.
    pub fn set_flag(&mut self, flag: u8, on: bool) {
        if on {
            self.0[FLAGS] |= flag;
        } else {
            self.0[FLAGS] &= !flag;
        }
    }

    u32_field!(
        waiting_on,
        set_waiting_on,
        WAITING,
        "Prerequisites not done."
    );
    u32_field!(retries, set_retries, RETRIES, "Retries so far.");
    u32_field!(max_retries, set_max_retries, MAX_RETRIES, "Retry limit.");
    u32_field!(
        timeout_secs,
        set_timeout_secs,
        TIMEOUT,
        "Lease length, seconds."
    );
    u32_field!(
        attempt,
        set_attempt,
        ATTEMPT,
        "Claims so far: the current or last attempt."
    );
    u32_field!(stream, set_stream, STREAM, "Its stream's index.");
    u32_field!(
        first_dependent,
        set_first_dependent,
        FIRST_DEP,
        "Head of its dependents list in its job's edges (derived)."
    );
    i64_field!(created_at, set_created_at, CREATED, "Creation time, ms.");
    i64_field!(
        started_at,
        set_started_at,
        STARTED,
        "Last claim time, ms (0: never)."
    );
    i64_field!(
        updated_at,
        set_updated_at,
        UPDATED,
        "Last update time, ms (0: never)."
    );

    /// Progress, 0 to 1, as reported (the stored value: ended tasks show 1).
    pub fn progress(&self) -> f64 {
        f64::from_le_bytes(self.array8(PROGRESS))
    }

    /// Sets the progress.
    pub fn set_progress(&mut self, p: f64) {
        self.0[PROGRESS..PROGRESS + 8].copy_from_slice(&p.to_le_bytes());
    }

    fn id_end(&self) -> usize {
        HEADER + self.u32_at(ID_LEN) as usize
    }

    fn def_end(&self) -> usize {
        self.id_end() + self.u32_at(DEF_LEN) as usize
    }

    fn pre_end(&self) -> usize {
        self.def_end() + 4 * self.u32_at(N_PRE) as usize
    }

    /// Its id.
    pub fn id(&self) -> &[u8] {
        &self.0[HEADER..self.id_end()]
    }

    /// Its definition.
    pub fn def(&self) -> &[u8] {
        &self.0[self.id_end()..self.def_end()]
    }

    /// Its prerequisites, as indices in its job, in the order given.
    pub fn prereqs(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.0[self.def_end()..self.pre_end()]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// Its output, once done.
    pub fn output(&self) -> Option<&[u8]> {
        match self.u32_at(OUT_LEN) {
            NONE => None,
            n => Some(&self.0[self.pre_end()..self.pre_end() + n as usize]),
        }
    }

    /// Stores (or with `None` clears) the output: the record is rebuilt once.
    pub fn set_output(&mut self, out: Option<&[u8]>) {
        let keep = self.pre_end();
        let mut b = Vec::with_capacity(keep + out.map_or(0, <[u8]>::len));
        b.extend_from_slice(&self.0[..keep]);
        if let Some(o) = out {
            b.extend_from_slice(o);
        }
        self.0 = b.into_boxed_slice();
        self.set_u32(OUT_LEN, out.map_or(NONE, |o| o.len() as u32));
    }

    /// Bytes of heap the record holds.
    pub fn heap_bytes(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TaskRec {
        TaskRec::new(&NewRec {
            id: b"join 1",
            def: b"{\"x\":1}",
            prereqs: &[0, 7],
            state: TaskState::Pending,
            stream: 3,
            waiting_on: 2,
            max_retries: 5,
            timeout_secs: 60,
            created_at: 1_700_000_000_000,
        })
    }

    #[test]
    fn fields_and_bytes_read_back() {
        let mut r = sample();
        assert_eq!(r.id(), b"join 1");
        assert_eq!(r.def(), b"{\"x\":1}");
        assert_eq!(r.prereqs().collect::<Vec<_>>(), [0, 7]);
        assert_eq!(r.output(), None);
        assert_eq!(
            (r.state(), r.waiting_on(), r.stream()),
            (TaskState::Pending, 2, 3)
        );
        assert_eq!((r.max_retries(), r.timeout_secs(), r.attempt()), (5, 60, 0));
        assert_eq!(r.first_dependent(), NONE);
        r.set_attempt(2);
        r.set_started_at(-5);
        r.set_progress(0.25);
        r.set_flag(ERROR_EMPTY, true);
        r.set_output(Some(b"{\"ok\":true}"));
        assert_eq!(r.output(), Some(&b"{\"ok\":true}"[..]));
        assert_eq!(r.prereqs().collect::<Vec<_>>(), [0, 7]);
        assert_eq!((r.attempt(), r.started_at(), r.progress()), (2, -5, 0.25));
        assert!(r.has(ERROR_EMPTY) && !r.has(HAS_ERROR));
        r.set_first_dependent(9);
        let back = TaskRec::from_bytes(&r.stored_bytes(TaskState::Done)).unwrap();
        assert_eq!(back.first_dependent(), NONE);
        assert_eq!(back.state(), TaskState::Done);
        assert_eq!(back.output(), r.output());
        r.set_output(None);
        assert_eq!(r.output(), None);
    }

    #[test]
    fn bad_stored_bytes_are_refused() {
        let r = sample();
        let mut b = r.stored_bytes(TaskState::Pending);
        b.push(0);
        assert!(TaskRec::from_bytes(&b).is_err());
        assert!(TaskRec::from_bytes(&b[..10]).is_err());
        let mut b = r.stored_bytes(TaskState::Pending);
        b[0] = 99;
        assert!(TaskRec::from_bytes(&b).is_err());
    }
}
