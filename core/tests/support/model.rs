//! The reference model of TaskDB's documented semantics, shared by the core's model test
//! (`core/tests/model.rs`, against [`taskdb_core::Namespace`] directly) and the module's
//! (`tests/it/model.rs`, against a real server): random sequences of commands run against
//! the model and a target, comparing every reply and the full state (every task, job and
//! stream) after each step. Failures shrink to a minimal sequence. CHECK must find nothing
//! at the end.
//!
//! Lease expiry is left out (it depends on a clock); the targets' own tests cover it.

#![allow(dead_code)]

use proptest::prelude::*;

/// What the model test drives: TaskDB through its commands, by whatever means.
pub trait Target {
    /// CREATE_STREAM: the new id.
    fn create_stream(&mut self, wt: &str, reserved: i64, mult: f64, user: &str) -> String;
    /// CREATE_JOB (init's definition `{}`, lease 600 s): the new id.
    fn create_job(&mut self, stream: &str, max_retries: i64, user: &str) -> String;
    /// CREATE_TASK (definition `{}`, 1 retry, lease 600 s): an error text if refused.
    fn create_task(
        &mut self,
        job: &str,
        task: &str,
        stream: &str,
        prereqs: &[String],
    ) -> Result<(), String>;
    /// REQUEST_WORK: (job, task) or none.
    fn claim(&mut self, wt: &str) -> Option<(String, String)>;
    /// DONE with output `{}`: whether it changed the task.
    fn done(&mut self, job: &str, task: &str) -> bool;
    /// FAILED with error `boom`.
    fn failed(&mut self, job: &str, task: &str) -> bool;
    /// RETRY: whether the task went back to ready.
    fn retry(&mut self, job: &str, task: &str) -> bool;
    /// CANCEL_JOB (reason `cancelled`): whether it was running.
    fn cancel(&mut self, job: &str) -> bool;
    /// RETRY_JOB: whether a failed job runs again.
    fn retry_job(&mut self, job: &str) -> bool;
    /// PAUSE (`paused`) or RESUME of a stream (`Some`) or a worker type: whether it changed.
    fn pause(&mut self, stream: Option<&str>, wt: &str, paused: bool) -> bool;
    /// DELETE_JOB: whether it existed.
    fn delete(&mut self, job: &str) -> bool;
    /// CLEAR_COMPLETED: how many done jobs were deleted.
    fn clear(&mut self) -> usize;
    /// A job's state and error.
    fn job(&mut self, job: &str) -> (String, Option<String>);
    /// A task's state, waiting_on and retries.
    fn task(&mut self, job: &str, task: &str) -> (String, i64, i64);
    /// A stream's ready and running counts.
    fn stream(&mut self, stream: &str) -> (i64, i64);
    /// CHECK's violations (empty when healthy).
    fn check(&mut self) -> Vec<String>;
}

/// One command, with its targets as indices into what exists (taken modulo the count).
#[derive(Debug, Clone)]
pub enum Op {
    CreateStream {
        wt: usize,
        reserved: i64,
        mult: usize,
        user: usize,
    },
    CreateJob {
        stream: usize,
        max_retries: i64,
        user: usize,
    },
    CreateTask {
        job: usize,
        stream: usize,
        prereqs: u8,
    },
    RequestWork {
        wt: usize,
    },
    Done {
        job: usize,
        task: usize,
    },
    Failed {
        job: usize,
        task: usize,
    },
    Retry {
        job: usize,
        task: usize,
    },
    Cancel {
        job: usize,
    },
    RetryJob {
        job: usize,
    },
    PauseStream {
        stream: usize,
        paused: bool,
    },
    PauseType {
        wt: usize,
        paused: bool,
    },
    Delete {
        job: usize,
    },
    Clear,
}

const TYPES: [&str; 2] = ["cpu", "gpu"];
const MULTS: [f64; 3] = [1.0, 0.5, 2.0];

/// A random command.
pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..2usize, 0..3i64, 0..3usize, 0..3usize).prop_map(|(wt, reserved, mult, user)| Op::CreateStream { wt, reserved, mult, user }),
        2 => (0..8usize, 0..2i64, 0..3usize).prop_map(|(stream, max_retries, user)| Op::CreateJob { stream, max_retries, user }),
        3 => (0..8usize, 0..8usize, any::<u8>()).prop_map(|(job, stream, prereqs)| Op::CreateTask { job, stream, prereqs }),
        4 => (0..2usize).prop_map(|wt| Op::RequestWork { wt }),
        3 => (0..8usize, 0..8usize).prop_map(|(job, task)| Op::Done { job, task }),
        1 => (0..8usize, 0..8usize).prop_map(|(job, task)| Op::Failed { job, task }),
        1 => (0..8usize, 0..8usize).prop_map(|(job, task)| Op::Retry { job, task }),
        1 => (0..8usize).prop_map(|job| Op::Cancel { job }),
        1 => (0..8usize).prop_map(|job| Op::RetryJob { job }),
        1 => (0..8usize, any::<bool>()).prop_map(|(stream, paused)| Op::PauseStream { stream, paused }),
        1 => (0..2usize, any::<bool>()).prop_map(|(wt, paused)| Op::PauseType { wt, paused }),
        1 => (0..8usize).prop_map(|job| Op::Delete { job }),
        1 => Just(Op::Clear),
    ]
}

#[derive(Debug, Clone)]
struct MStream {
    id: String,
    wt: &'static str,
    reserved: i64,
    mult: f64,
    seq: u64,
    paused: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Pending,
    Ready,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl St {
    fn name(self) -> &'static str {
        ["pending", "ready", "running", "done", "failed", "cancelled"][self as usize]
    }
}

#[derive(Debug, Clone)]
struct MTask {
    id: String,
    stream: usize,
    state: St,
    prereqs: Vec<String>,
    waiting_on: i64,
    retries: i64,
    max_retries: i64,
}

#[derive(Debug, Clone)]
struct MJob {
    id: String,
    state: &'static str,
    error: Option<String>,
    seq: u64,
    tasks: Vec<MTask>,
}

/// The reference model: what the README promises, written without looking at the module.
#[derive(Default)]
struct Model {
    streams: Vec<MStream>,
    /// Paused worker types.
    paused_types: Vec<&'static str>,
    jobs: Vec<MJob>,
    seq: u64,
}

impl Model {
    fn counts(&self, stream: usize) -> (i64, i64) {
        let mut c = (0, 0);
        for j in &self.jobs {
            for t in j.tasks.iter().filter(|t| t.stream == stream) {
                c.0 += i64::from(t.state == St::Ready);
                c.1 += i64::from(t.state == St::Running);
            }
        }
        c
    }

    fn priority(&self, stream: usize) -> f64 {
        let s = &self.streams[stream];
        let (ready, running) = self.counts(stream);
        if ready == 0 {
            f64::INFINITY
        } else if running >= s.reserved {
            (running - s.reserved) as f64 / s.mult
        } else {
            (running - s.reserved) as f64 / s.reserved as f64
        }
    }

    /// REQUEST_WORK's choice: lowest priority, larger reservation, older stream; in it
    /// the oldest job, then the oldest task.
    fn next(&self, wt: &str) -> Option<(usize, usize)> {
        if self.paused_types.contains(&wt) {
            return None;
        }
        let stream = (0..self.streams.len())
            .filter(|&i| {
                self.streams[i].wt == wt && !self.streams[i].paused && self.counts(i).0 > 0
            })
            .min_by(|&a, &b| {
                self.priority(a)
                    .partial_cmp(&self.priority(b))
                    .unwrap()
                    .then(self.streams[b].reserved.cmp(&self.streams[a].reserved))
                    .then(self.streams[a].seq.cmp(&self.streams[b].seq))
            })?;
        let mut best: Option<(u64, usize, usize, usize)> = None;
        for (ji, j) in self.jobs.iter().enumerate() {
            for (ti, t) in j.tasks.iter().enumerate() {
                if t.stream == stream
                    && t.state == St::Ready
                    && best.is_none_or(|b| (j.seq, ti) < (b.0, b.1))
                {
                    best = Some((j.seq, ti, ji, ti));
                }
            }
        }
        best.map(|(_, _, ji, ti)| (ji, ti))
    }

    fn fail_job(&mut self, ji: usize, error: &str) {
        let j = &mut self.jobs[ji];
        if j.state == "running" {
            j.state = "failed";
            j.error = Some(error.to_string());
            for t in &mut j.tasks {
                if matches!(t.state, St::Ready | St::Pending) {
                    t.state = St::Cancelled;
                }
            }
        }
    }

    /// RETRY_JOB: a failed job runs again; its failed tasks are ready with retries reset
    /// (pending while a prerequisite is not done), its cancelled ones ready or pending by
    /// what they still wait on.
    fn retry_job(&mut self, ji: usize) -> bool {
        let j = &mut self.jobs[ji];
        if j.state != "failed" {
            return false;
        }
        j.state = "running";
        j.error = None;
        for i in 0..j.tasks.len() {
            let st = j.tasks[i].state;
            if !matches!(st, St::Failed | St::Cancelled) {
                continue;
            }
            let waiting = j.tasks[i]
                .prereqs
                .iter()
                .filter(|p| j.tasks.iter().any(|t| &t.id == *p && t.state != St::Done))
                .count() as i64;
            let t = &mut j.tasks[i];
            if st == St::Failed {
                t.retries = 0;
            }
            t.waiting_on = waiting;
            t.state = if waiting == 0 { St::Ready } else { St::Pending };
        }
        if j.tasks.iter().all(|t| t.state == St::Done) {
            j.state = "done";
        }
        true
    }

    fn done(&mut self, ji: usize, ti: usize) -> bool {
        let j = &mut self.jobs[ji];
        if !matches!(j.tasks[ti].state, St::Ready | St::Running) {
            return false;
        }
        j.tasks[ti].state = St::Done;
        let id = j.tasks[ti].id.clone();
        for t in &mut j.tasks {
            if t.state == St::Pending && t.prereqs.contains(&id) && t.waiting_on > 0 {
                t.waiting_on -= 1;
                if t.waiting_on == 0 {
                    t.state = St::Ready;
                }
            }
        }
        if j.state == "running" && j.tasks.iter().all(|t| t.state == St::Done) {
            j.state = "done";
        }
        true
    }
}

/// Runs `ops` against the model and `t`, comparing replies and state after each step.
pub fn run(ops: &[Op], t: &mut dyn Target) -> Result<(), TestCaseError> {
    let mut m = Model::default();
    for (step, op) in ops.iter().enumerate() {
        let here = format!("step {step} {op:?}");
        match *op {
            Op::CreateStream {
                wt,
                reserved,
                mult,
                user,
            } => {
                let id = t.create_stream(TYPES[wt], reserved, MULTS[mult], &format!("u{user}"));
                m.seq += 1;
                m.streams.push(MStream {
                    id,
                    wt: TYPES[wt],
                    reserved,
                    mult: MULTS[mult],
                    seq: m.seq,
                    paused: false,
                });
            }
            Op::CreateJob {
                stream,
                max_retries,
                user,
            } => {
                if m.streams.is_empty() {
                    continue;
                }
                let si = stream % m.streams.len();
                let id = t.create_job(&m.streams[si].id.clone(), max_retries, &format!("u{user}"));
                m.seq += 1;
                let init = MTask {
                    id: "init".into(),
                    stream: si,
                    state: St::Ready,
                    prereqs: vec![],
                    waiting_on: 0,
                    retries: 0,
                    max_retries,
                };
                m.jobs.push(MJob {
                    id,
                    state: "running",
                    error: None,
                    seq: m.seq,
                    tasks: vec![init],
                });
            }
            Op::CreateTask {
                job,
                stream,
                prereqs,
            } => {
                if m.jobs.is_empty() || m.streams.is_empty() {
                    continue;
                }
                let (ji, si) = (job % m.jobs.len(), stream % m.streams.len());
                let j = &m.jobs[ji];
                let pre: Vec<String> = j
                    .tasks
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i < &8 && prereqs & (1 << i) != 0)
                    .map(|(_, t)| t.id.clone())
                    .collect();
                let tid = format!("t{}", j.tasks.len());
                let reply = t.create_task(&j.id.clone(), &tid, &m.streams[si].id.clone(), &pre);
                prop_assert!(reply.is_ok(), "{here}: {reply:?}");
                if m.jobs[ji].state == "done" {
                    // A new task reopens a done job.
                    m.jobs[ji].state = "running";
                }
                let j = &m.jobs[ji];
                let not_done = pre
                    .iter()
                    .filter(|p| j.tasks.iter().any(|t| &t.id == *p && t.state != St::Done))
                    .count() as i64;
                let state = if j.state == "failed" {
                    St::Cancelled
                } else if not_done == 0 {
                    St::Ready
                } else {
                    St::Pending
                };
                m.jobs[ji].tasks.push(MTask {
                    id: tid,
                    stream: si,
                    state,
                    prereqs: pre,
                    waiting_on: not_done,
                    retries: 0,
                    max_retries: 1,
                });
            }
            Op::RequestWork { wt } => {
                let got = t.claim(TYPES[wt]);
                let want = m
                    .next(TYPES[wt])
                    .map(|(ji, ti)| (m.jobs[ji].id.clone(), m.jobs[ji].tasks[ti].id.clone()));
                prop_assert_eq!(&got, &want, "{}", here);
                if let Some((ji, ti)) = m.next(TYPES[wt]) {
                    m.jobs[ji].tasks[ti].state = St::Running;
                }
            }
            Op::Done { job, task } | Op::Failed { job, task } | Op::Retry { job, task } => {
                if m.jobs.is_empty() {
                    continue;
                }
                let ji = job % m.jobs.len();
                let ti = task % m.jobs[ji].tasks.len();
                let (jid, tid) = (m.jobs[ji].id.clone(), m.jobs[ji].tasks[ti].id.clone());
                match *op {
                    Op::Done { .. } => {
                        let got = t.done(&jid, &tid);
                        prop_assert_eq!(got, m.done(ji, ti), "{}", here);
                    }
                    Op::Failed { .. } => {
                        let got = t.failed(&jid, &tid);
                        let mt = &mut m.jobs[ji].tasks[ti];
                        let want = matches!(mt.state, St::Ready | St::Running | St::Pending);
                        if want {
                            mt.state = St::Failed;
                            m.fail_job(ji, "boom");
                        }
                        prop_assert_eq!(got, want, "{}", here);
                    }
                    _ => {
                        let got = t.retry(&jid, &tid);
                        let failed_job = m.jobs[ji].state == "failed";
                        let mt = &mut m.jobs[ji].tasks[ti];
                        let mut want = false;
                        if mt.state == St::Running {
                            mt.retries += 1;
                            if mt.retries > mt.max_retries {
                                mt.state = St::Failed;
                                m.fail_job(ji, "retry max hit");
                            } else if failed_job {
                                mt.state = St::Cancelled;
                            } else {
                                mt.state = St::Ready;
                                want = true;
                            }
                        }
                        prop_assert_eq!(got, want, "{}", here);
                    }
                }
            }
            Op::Cancel { job } => {
                if m.jobs.is_empty() {
                    continue;
                }
                let ji = job % m.jobs.len();
                let got = t.cancel(&m.jobs[ji].id.clone());
                let want = m.jobs[ji].state == "running";
                m.fail_job(ji, "cancelled");
                prop_assert_eq!(got, want, "{}", here);
            }
            Op::RetryJob { job } => {
                if m.jobs.is_empty() {
                    continue;
                }
                let ji = job % m.jobs.len();
                let got = t.retry_job(&m.jobs[ji].id.clone());
                let want = m.retry_job(ji);
                prop_assert_eq!(got, want, "{}", here);
            }
            Op::PauseStream { stream, paused } => {
                if m.streams.is_empty() {
                    continue;
                }
                let si = stream % m.streams.len();
                let got = t.pause(Some(&m.streams[si].id.clone()), "", paused);
                let want = m.streams[si].paused != paused;
                m.streams[si].paused = paused;
                prop_assert_eq!(got, want, "{}", here);
            }
            Op::PauseType { wt, paused } => {
                let wt = TYPES[wt];
                let got = t.pause(None, wt, paused);
                let was = m.paused_types.contains(&wt);
                m.paused_types.retain(|w| *w != wt);
                if paused {
                    m.paused_types.push(wt);
                }
                prop_assert_eq!(got, was != paused, "{}", here);
            }
            Op::Delete { job } => {
                if m.jobs.is_empty() {
                    continue;
                }
                let ji = job % m.jobs.len();
                let got = t.delete(&m.jobs[ji].id.clone());
                prop_assert!(got, "{}", here);
                m.jobs.remove(ji);
            }
            Op::Clear => {
                let got = t.clear();
                let before = m.jobs.len();
                m.jobs.retain(|j| j.state != "done");
                prop_assert_eq!(got, before - m.jobs.len(), "{}", here);
            }
        }
        // The full state after every step.
        for j in &m.jobs {
            let (state, error) = t.job(&j.id);
            prop_assert_eq!(state, j.state.to_string(), "{} job {}", here, j.id);
            prop_assert_eq!(error, j.error.clone(), "{} job error", here);
            for mt in &j.tasks {
                let (state, waiting_on, retries) = t.task(&j.id, &mt.id);
                prop_assert_eq!(
                    state,
                    mt.state.name().to_string(),
                    "{} task {}",
                    here,
                    mt.id
                );
                prop_assert_eq!(waiting_on, mt.waiting_on, "{} waiting_on {}", here, mt.id);
                prop_assert_eq!(retries, mt.retries, "{} retries {}", here, mt.id);
            }
        }
        for (i, s) in m.streams.iter().enumerate() {
            prop_assert_eq!(t.stream(&s.id), m.counts(i), "{} stream counts", here);
        }
    }
    let found = t.check();
    prop_assert!(found.is_empty(), "CHECK: {:?}", found);
    Ok(())
}
