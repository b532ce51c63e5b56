//! What the primary decided, packed in one byte string: replicas and the AOF replay it
//! exactly, never deciding again what depends on the clock, a random id or the schedule.
//!
//! Form: `version u8, verb u8, now i64` then the verb's fields. A replayed decision must
//! apply: one that changes nothing here (a DONE of a task that is not ready or running,
//! say) means this node's data is not the primary's, and [`Namespace::replay`] answers an
//! error rather than skipping it. Limits are not checked again (the primary accepted it).

use crate::codec::{Reader, Writer};
use crate::error::{shorten, uuid, Error, Result};
use crate::jobs::NewJob;
use crate::ns::Namespace;
use crate::restore::{RestoredJob, RestoredTask};
use crate::state::{JobState, Priority, TaskState};
use crate::streams::NewStream;
use crate::tasks::NewTask;
use crate::work::Retried;

const VERSION: u8 = 1;

fn claims_body<'c>(w: &mut Writer, claims: impl ExactSizeIterator<Item = ClaimOf<'c>>) {
    w.u32(claims.len() as u32);
    for (job, task, worker) in claims {
        w.u128(job);
        w.bytes(task);
        w.opt(worker);
    }
}

/// One claim REQUEST_WORK decided: (job, task, holder).
pub type ClaimOf<'a> = (u128, &'a [u8], Option<&'a [u8]>);

/// A decision, borrowing its byte fields from the packed form.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision<'a> {
    /// CREATE_STREAM / GET_OR_CREATE_STREAM / RESTORE_STREAM with the id chosen.
    CreateStream {
        /// The stream's id.
        id: u128,
        /// Worker type.
        worker_type: &'a [u8],
        /// Reserved workers.
        reserved: i64,
        /// Best-effort multiplier.
        be_mult: f64,
        /// Owner.
        user: &'a [u8],
    },
    /// CREATE_JOB with the id chosen.
    CreateJob {
        /// The job's id.
        id: u128,
        /// Its init task's stream.
        stream: u128,
        /// Its init task's definition.
        def: &'a [u8],
        /// Retry limit.
        max_retries: u32,
        /// Lease length.
        timeout_secs: u32,
        /// Owner.
        user: &'a [u8],
        /// Priority.
        priority: Priority,
    },
    /// CREATE_TASK.
    CreateTask {
        /// Its job.
        job: u128,
        /// Its id.
        task: &'a [u8],
        /// Its stream.
        stream: u128,
        /// Definition.
        def: &'a [u8],
        /// Prerequisite ids.
        prereqs: Vec<&'a [u8]>,
        /// Retry limit.
        max_retries: u32,
        /// Lease length.
        timeout_secs: u32,
    },
    /// REQUEST_WORK's choices, in order.
    Claims(Vec<ClaimOf<'a>>),
    /// DONE.
    Done {
        /// Job.
        job: u128,
        /// Task.
        task: &'a [u8],
        /// Output.
        output: &'a [u8],
        /// The attempt named.
        attempt: Option<u32>,
    },
    /// FAILED.
    Failed {
        /// Job.
        job: u128,
        /// Task.
        task: &'a [u8],
        /// Error.
        error: &'a [u8],
        /// The attempt named.
        attempt: Option<u32>,
    },
    /// PROGRESS (with a value) or HEARTBEAT (without).
    Progress {
        /// Job.
        job: u128,
        /// Task.
        task: &'a [u8],
        /// The progress reported.
        progress: Option<f64>,
        /// The attempt named.
        attempt: Option<u32>,
    },
    /// RETRY of tasks (one from RETRY, with its attempt; many from REQUEUE and the lease
    /// reaper).
    Retries {
        /// (job, task).
        tasks: Vec<(u128, &'a [u8])>,
        /// The attempt named (RETRY only).
        attempt: Option<u32>,
    },
    /// PAUSE and RESUME.
    Pause {
        /// A stream (`Some`) or a worker type.
        stream: Option<u128>,
        /// The worker type's name (when `stream` is `None`).
        worker_type: &'a [u8],
        /// Paused, or resumed.
        paused: bool,
    },
    /// GIVE_BACK.
    GiveBack {
        /// Job.
        job: u128,
        /// Task.
        task: &'a [u8],
        /// The attempt given back.
        attempt: u32,
    },
    /// RETRY_JOB.
    RetryJob {
        /// Job.
        job: u128,
    },
    /// CANCEL_JOB.
    Cancel {
        /// Job.
        job: u128,
        /// The error it fails with.
        reason: &'a [u8],
    },
    /// DELETE_JOB and CLEAR_COMPLETED: the jobs deleted.
    DeleteJobs(Vec<u128>),
    /// DELETE of streams without tasks.
    DeleteStreams(Vec<u128>),
    /// ELSEWHERE: each stream's tasks running on the other shards (all others 0).
    Elsewhere(Vec<(u128, i64)>),
    /// REPAIR of one page.
    Repair {
        /// The page's start: a job's sequence and a task index in it.
        from: Option<(u64, u32)>,
        /// Its task budget.
        budget: u64,
    },
    /// RESTORE_JOB.
    RestoreJob {
        /// Job.
        id: u128,
        /// Its state.
        state: JobState,
        /// Owner.
        user: &'a [u8],
        /// Creation time.
        created_at: i64,
        /// Error.
        error: Option<&'a [u8]>,
        /// PostgreSQL's `reported`.
        reported: Option<bool>,
    },
    /// RESTORE_TASK.
    RestoreTask {
        /// Its job.
        job: u128,
        /// The task as it is.
        stored: RestoredFields<'a>,
    },
    /// A namespace's stored header (AOF rewrite): the key is created from it.
    LoadHeader(&'a [u8]),
    /// A stored job head (AOF rewrite).
    LoadJob(&'a [u8]),
    /// A batch of a job's stored tasks (AOF rewrite).
    LoadTasks {
        /// The job.
        job: u128,
        /// The batch.
        batch: &'a [u8],
    },
}

/// RESTORE_TASK's fields, owned by the packed form.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredFields<'a> {
    /// Id.
    pub task: &'a [u8],
    /// Stream.
    pub stream: u128,
    /// Definition.
    pub def: &'a [u8],
    /// Prerequisite ids.
    pub prereqs: Vec<&'a [u8]>,
    /// Retry limit.
    pub max_retries: u32,
    /// Lease length.
    pub timeout_secs: u32,
    /// State.
    pub state: TaskState,
    /// Creation time.
    pub created_at: i64,
    /// Waiting count.
    pub waiting_on: Option<u32>,
    /// Progress.
    pub progress: Option<f64>,
    /// Retries.
    pub retries: Option<u32>,
    /// Last claim.
    pub started_at: Option<i64>,
    /// Last update.
    pub updated_at: Option<i64>,
    /// Output.
    pub output: Option<&'a [u8]>,
    /// Error.
    pub error: Option<&'a [u8]>,
    /// Attempts.
    pub attempt: Option<u32>,
    /// Holder.
    pub worker: Option<&'a [u8]>,
}

impl<'a> RestoredFields<'a> {
    /// The fields of a restore, to replicate it.
    pub fn of(r: &RestoredTask<'a>) -> RestoredFields<'a> {
        RestoredFields {
            task: r.task.task_id,
            stream: r.task.stream,
            def: r.task.def,
            prereqs: r.task.prereqs.to_vec(),
            max_retries: r.task.max_retries,
            timeout_secs: r.task.timeout_secs,
            state: r.state,
            created_at: r.created_at,
            waiting_on: r.waiting_on,
            progress: r.progress,
            retries: r.retries,
            started_at: r.started_at,
            updated_at: r.updated_at,
            output: r.output,
            error: r.error,
            attempt: r.attempt,
            worker: r.worker,
        }
    }

    /// The restore these fields describe, to replay it.
    pub fn as_restored(&self) -> RestoredTask<'_> {
        RestoredTask {
            task: NewTask {
                task_id: self.task,
                stream: self.stream,
                def: self.def,
                prereqs: &self.prereqs,
                max_retries: self.max_retries,
                timeout_secs: self.timeout_secs,
            },
            state: self.state,
            created_at: self.created_at,
            waiting_on: self.waiting_on,
            progress: self.progress,
            retries: self.retries,
            started_at: self.started_at,
            updated_at: self.updated_at,
            output: self.output,
            error: self.error,
            attempt: self.attempt,
            worker: self.worker,
        }
    }
}

mod verb {
    pub const CREATE_STREAM: u8 = 1;
    pub const CREATE_JOB: u8 = 2;
    pub const CREATE_TASK: u8 = 3;
    pub const CLAIMS: u8 = 4;
    pub const DONE: u8 = 5;
    pub const FAILED: u8 = 6;
    pub const PROGRESS: u8 = 7;
    pub const RETRIES: u8 = 8;
    pub const CANCEL: u8 = 9;
    pub const DELETE_JOBS: u8 = 10;
    pub const DELETE_STREAMS: u8 = 11;
    pub const REPAIR: u8 = 12;
    pub const RESTORE_JOB: u8 = 13;
    pub const RESTORE_TASK: u8 = 14;
    pub const LOAD_HEADER: u8 = 15;
    pub const LOAD_JOB: u8 = 16;
    pub const LOAD_TASKS: u8 = 17;
    pub const RETRY_JOB: u8 = 18;
    pub const PAUSE: u8 = 19;
    pub const GIVE_BACK: u8 = 20;
    pub const ELSEWHERE: u8 = 21;
}

fn opt_u32(w: &mut Writer, v: Option<u32>) {
    match v {
        Some(n) => {
            w.u8(1);
            w.u32(n);
        }
        None => w.u8(0),
    }
}

fn read_opt_u32(r: &mut Reader) -> Result<Option<u32>> {
    Ok(match r.u8()? {
        0 => None,
        _ => Some(r.u32()?),
    })
}

fn opt_i64(w: &mut Writer, v: Option<i64>) {
    match v {
        Some(n) => {
            w.u8(1);
            w.i64(n);
        }
        None => w.u8(0),
    }
}

fn read_opt_i64(r: &mut Reader) -> Result<Option<i64>> {
    Ok(match r.u8()? {
        0 => None,
        _ => Some(r.i64()?),
    })
}

fn opt_f64(w: &mut Writer, v: Option<f64>) {
    match v {
        Some(n) => {
            w.u8(1);
            w.f64(n);
        }
        None => w.u8(0),
    }
}

fn read_opt_f64(r: &mut Reader) -> Result<Option<f64>> {
    Ok(match r.u8()? {
        0 => None,
        _ => Some(r.f64()?),
    })
}

fn list(w: &mut Writer, items: &[&[u8]]) {
    w.u32(items.len() as u32);
    for i in items {
        w.bytes(i);
    }
}

fn read_list<'a>(r: &mut Reader<'a>) -> Result<Vec<&'a [u8]>> {
    (0..r.u32()?).map(|_| r.bytes()).collect()
}

impl Decision<'_> {
    /// The packed form, decided at `now`.
    pub fn encode(&self, now: i64) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(now, &mut out);
        out
    }

    /// Packs the decision into `out` (cleared first), so a caller can reuse one buffer.
    pub fn encode_into(&self, now: i64, out: &mut Vec<u8>) {
        out.clear();
        let mut w = Writer(std::mem::take(out));
        w.u8(VERSION);
        let v = match self {
            Decision::CreateStream { .. } => verb::CREATE_STREAM,
            Decision::CreateJob { .. } => verb::CREATE_JOB,
            Decision::CreateTask { .. } => verb::CREATE_TASK,
            Decision::Claims(_) => verb::CLAIMS,
            Decision::Done { .. } => verb::DONE,
            Decision::Failed { .. } => verb::FAILED,
            Decision::Progress { .. } => verb::PROGRESS,
            Decision::Retries { .. } => verb::RETRIES,
            Decision::Cancel { .. } => verb::CANCEL,
            Decision::RetryJob { .. } => verb::RETRY_JOB,
            Decision::GiveBack { .. } => verb::GIVE_BACK,
            Decision::Pause { .. } => verb::PAUSE,
            Decision::DeleteJobs(_) => verb::DELETE_JOBS,
            Decision::DeleteStreams(_) => verb::DELETE_STREAMS,
            Decision::Elsewhere(_) => verb::ELSEWHERE,
            Decision::Repair { .. } => verb::REPAIR,
            Decision::RestoreJob { .. } => verb::RESTORE_JOB,
            Decision::RestoreTask { .. } => verb::RESTORE_TASK,
            Decision::LoadHeader(_) => verb::LOAD_HEADER,
            Decision::LoadJob(_) => verb::LOAD_JOB,
            Decision::LoadTasks { .. } => verb::LOAD_TASKS,
        };
        w.u8(v);
        w.i64(now);
        match self {
            Decision::CreateStream {
                id,
                worker_type,
                reserved,
                be_mult,
                user,
            } => {
                w.u128(*id);
                w.bytes(worker_type);
                w.i64(*reserved);
                w.f64(*be_mult);
                w.bytes(user);
            }
            Decision::CreateJob {
                id,
                stream,
                def,
                max_retries,
                timeout_secs,
                user,
                priority,
            } => {
                w.u128(*id);
                w.u128(*stream);
                w.bytes(def);
                w.u32(*max_retries);
                w.u32(*timeout_secs);
                w.bytes(user);
                w.u8(*priority as u8);
            }
            Decision::CreateTask {
                job,
                task,
                stream,
                def,
                prereqs,
                max_retries,
                timeout_secs,
            } => {
                w.u128(*job);
                w.bytes(task);
                w.u128(*stream);
                w.bytes(def);
                list(&mut w, prereqs);
                w.u32(*max_retries);
                w.u32(*timeout_secs);
            }
            Decision::Claims(claims) => claims_body(&mut w, claims.iter().copied()),
            Decision::Done {
                job,
                task,
                output,
                attempt,
            } => {
                w.u128(*job);
                w.bytes(task);
                w.bytes(output);
                opt_u32(&mut w, *attempt);
            }
            Decision::Failed {
                job,
                task,
                error,
                attempt,
            } => {
                w.u128(*job);
                w.bytes(task);
                w.bytes(error);
                opt_u32(&mut w, *attempt);
            }
            Decision::Progress {
                job,
                task,
                progress,
                attempt,
            } => {
                w.u128(*job);
                w.bytes(task);
                opt_f64(&mut w, *progress);
                opt_u32(&mut w, *attempt);
            }
            Decision::Retries { tasks, attempt } => {
                w.u32(tasks.len() as u32);
                for (job, task) in tasks {
                    w.u128(*job);
                    w.bytes(task);
                }
                opt_u32(&mut w, *attempt);
            }
            Decision::Cancel { job, reason } => {
                w.u128(*job);
                w.bytes(reason);
            }
            Decision::RetryJob { job } => w.u128(*job),
            Decision::GiveBack { job, task, attempt } => {
                w.u128(*job);
                w.bytes(task);
                w.u32(*attempt);
            }
            Decision::Pause {
                stream,
                worker_type,
                paused,
            } => {
                match stream {
                    Some(id) => {
                        w.u8(1);
                        w.u128(*id);
                    }
                    None => {
                        w.u8(0);
                        w.bytes(worker_type);
                    }
                }
                w.u8(u8::from(*paused));
            }
            Decision::DeleteJobs(ids) | Decision::DeleteStreams(ids) => {
                w.u32(ids.len() as u32);
                for id in ids {
                    w.u128(*id);
                }
            }
            Decision::Elsewhere(hints) => {
                w.u32(hints.len() as u32);
                for (id, n) in hints {
                    w.u128(*id);
                    w.i64(*n);
                }
            }
            Decision::Repair { from, budget } => {
                match from {
                    Some((seq, idx)) => {
                        w.u8(1);
                        w.u64(*seq);
                        w.u32(*idx);
                    }
                    None => w.u8(0),
                }
                w.u64(*budget);
            }
            Decision::RestoreJob {
                id,
                state,
                user,
                created_at,
                error,
                reported,
            } => {
                w.u128(*id);
                w.u8(*state as u8);
                w.bytes(user);
                w.i64(*created_at);
                w.opt(*error);
                w.u8(match reported {
                    None => 0,
                    Some(false) => 1,
                    Some(true) => 2,
                });
            }
            Decision::RestoreTask { job, stored: s } => {
                w.u128(*job);
                w.bytes(s.task);
                w.u128(s.stream);
                w.bytes(s.def);
                list(&mut w, &s.prereqs);
                w.u32(s.max_retries);
                w.u32(s.timeout_secs);
                w.u8(s.state as u8);
                w.i64(s.created_at);
                opt_u32(&mut w, s.waiting_on);
                opt_f64(&mut w, s.progress);
                opt_u32(&mut w, s.retries);
                opt_i64(&mut w, s.started_at);
                opt_i64(&mut w, s.updated_at);
                w.opt(s.output);
                w.opt(s.error);
                opt_u32(&mut w, s.attempt);
                w.opt(s.worker);
            }
            Decision::LoadHeader(b) | Decision::LoadJob(b) => w.bytes(b),
            Decision::LoadTasks { job, batch } => {
                w.u128(*job);
                w.bytes(batch);
            }
        }
        *out = w.0;
    }

    /// Packs a [`Decision::Claims`] of `claims` into `out` (cleared first) without
    /// collecting them first.
    pub fn encode_claims_into<'c>(
        now: i64,
        claims: impl ExactSizeIterator<Item = ClaimOf<'c>>,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        let mut w = Writer(std::mem::take(out));
        w.u8(VERSION);
        w.u8(verb::CLAIMS);
        w.i64(now);
        claims_body(&mut w, claims);
        *out = w.0;
    }

    /// Reads a packed decision: it and the time it was decided at.
    pub fn decode(b: &[u8]) -> Result<(Decision<'_>, i64)> {
        let mut r = Reader::new(b);
        if r.u8()? != VERSION {
            return Err(Error::Corrupt("a decision of an unknown version".into()));
        }
        let v = r.u8()?;
        let now = r.i64()?;
        let d = match v {
            verb::CREATE_STREAM => Decision::CreateStream {
                id: r.u128()?,
                worker_type: r.bytes()?,
                reserved: r.i64()?,
                be_mult: r.f64()?,
                user: r.bytes()?,
            },
            verb::CREATE_JOB => Decision::CreateJob {
                id: r.u128()?,
                stream: r.u128()?,
                def: r.bytes()?,
                max_retries: r.u32()?,
                timeout_secs: r.u32()?,
                user: r.bytes()?,
                priority: Priority::from_u8(r.u8()?)
                    .ok_or_else(|| Error::Corrupt("a decision's priority".into()))?,
            },
            verb::CREATE_TASK => Decision::CreateTask {
                job: r.u128()?,
                task: r.bytes()?,
                stream: r.u128()?,
                def: r.bytes()?,
                prereqs: read_list(&mut r)?,
                max_retries: r.u32()?,
                timeout_secs: r.u32()?,
            },
            verb::CLAIMS => {
                let n = r.u32()?;
                let mut v = Vec::with_capacity(n.min(1 << 16) as usize);
                for _ in 0..n {
                    v.push((r.u128()?, r.bytes()?, r.opt()?));
                }
                Decision::Claims(v)
            }
            verb::DONE => Decision::Done {
                job: r.u128()?,
                task: r.bytes()?,
                output: r.bytes()?,
                attempt: read_opt_u32(&mut r)?,
            },
            verb::FAILED => Decision::Failed {
                job: r.u128()?,
                task: r.bytes()?,
                error: r.bytes()?,
                attempt: read_opt_u32(&mut r)?,
            },
            verb::PROGRESS => Decision::Progress {
                job: r.u128()?,
                task: r.bytes()?,
                progress: read_opt_f64(&mut r)?,
                attempt: read_opt_u32(&mut r)?,
            },
            verb::RETRIES => {
                let n = r.u32()?;
                let mut tasks = Vec::with_capacity(n.min(1 << 16) as usize);
                for _ in 0..n {
                    tasks.push((r.u128()?, r.bytes()?));
                }
                Decision::Retries {
                    tasks,
                    attempt: read_opt_u32(&mut r)?,
                }
            }
            verb::RETRY_JOB => Decision::RetryJob { job: r.u128()? },
            verb::GIVE_BACK => Decision::GiveBack {
                job: r.u128()?,
                task: r.bytes()?,
                attempt: r.u32()?,
            },
            verb::PAUSE => {
                let (stream, worker_type) = match r.u8()? {
                    1 => (Some(r.u128()?), &[][..]),
                    _ => (None, r.bytes()?),
                };
                Decision::Pause {
                    stream,
                    worker_type,
                    paused: r.u8()? == 1,
                }
            }
            verb::CANCEL => Decision::Cancel {
                job: r.u128()?,
                reason: r.bytes()?,
            },
            verb::DELETE_JOBS | verb::DELETE_STREAMS => {
                let n = r.u32()?;
                let ids = (0..n).map(|_| r.u128()).collect::<Result<Vec<_>>>()?;
                if v == verb::DELETE_JOBS {
                    Decision::DeleteJobs(ids)
                } else {
                    Decision::DeleteStreams(ids)
                }
            }
            verb::ELSEWHERE => {
                let n = r.u32()?;
                let hints = (0..n)
                    .map(|_| Ok((r.u128()?, r.i64()?)))
                    .collect::<Result<Vec<_>>>()?;
                Decision::Elsewhere(hints)
            }
            verb::REPAIR => Decision::Repair {
                from: match r.u8()? {
                    0 => None,
                    _ => Some((r.u64()?, r.u32()?)),
                },
                budget: r.u64()?,
            },
            verb::RESTORE_JOB => Decision::RestoreJob {
                id: r.u128()?,
                state: JobState::from_u8(r.u8()?)
                    .ok_or_else(|| Error::Corrupt("a decision's job state".into()))?,
                user: r.bytes()?,
                created_at: r.i64()?,
                error: r.opt()?,
                reported: match r.u8()? {
                    0 => None,
                    1 => Some(false),
                    _ => Some(true),
                },
            },
            verb::RESTORE_TASK => Decision::RestoreTask {
                job: r.u128()?,
                stored: RestoredFields {
                    task: r.bytes()?,
                    stream: r.u128()?,
                    def: r.bytes()?,
                    prereqs: read_list(&mut r)?,
                    max_retries: r.u32()?,
                    timeout_secs: r.u32()?,
                    state: TaskState::from_u8(r.u8()?)
                        .ok_or_else(|| Error::Corrupt("a decision's task state".into()))?,
                    created_at: r.i64()?,
                    waiting_on: read_opt_u32(&mut r)?,
                    progress: read_opt_f64(&mut r)?,
                    retries: read_opt_u32(&mut r)?,
                    started_at: read_opt_i64(&mut r)?,
                    updated_at: read_opt_i64(&mut r)?,
                    output: r.opt()?,
                    error: r.opt()?,
                    attempt: read_opt_u32(&mut r)?,
                    worker: r.opt()?,
                },
            },
            verb::LOAD_HEADER => Decision::LoadHeader(r.bytes()?),
            verb::LOAD_JOB => Decision::LoadJob(r.bytes()?),
            verb::LOAD_TASKS => Decision::LoadTasks {
                job: r.u128()?,
                batch: r.bytes()?,
            },
            other => return Err(Error::Corrupt(format!("unknown decision verb {other}"))),
        };
        r.end()?;
        Ok((d, now))
    }

    /// Whether replaying it starts from a namespace that may not exist yet.
    pub fn creates(&self) -> bool {
        matches!(
            self,
            Decision::CreateStream { .. } | Decision::LoadHeader(_)
        )
    }
}

fn refused(verb: &str, job: u128, task: &[u8], found: String) -> Error {
    Error::Refused(format!(
        "replayed {verb} of task '{}' of job '{}' does not apply: {found}",
        shorten(task),
        uuid(job)
    ))
}

impl Namespace {
    fn found(&self, job: u128, task: &[u8]) -> String {
        match self.task(job, task) {
            Some(t) => format!("it is {}", t.state.as_str()),
            None => "it does not exist".into(),
        }
    }

    fn must(&self, changed: bool, verb: &str, job: u128, task: &[u8]) -> Result<()> {
        if changed {
            Ok(())
        } else {
            Err(refused(verb, job, task, self.found(job, task)))
        }
    }

    /// Replays a decision taken at `now` (this node's monotonic clock at `mono` for the
    /// leases it starts). An error means it does not apply here.
    pub fn replay(&mut self, d: &Decision, now: i64, mono: u64) -> Result<()> {
        match d {
            Decision::CreateStream {
                id,
                worker_type,
                reserved,
                be_mult,
                user,
            } => {
                let s = NewStream {
                    worker_type,
                    reserved: *reserved,
                    be_mult: *be_mult,
                    user,
                };
                self.create_stream(*id, &s, now)
            }
            Decision::CreateJob {
                id,
                stream,
                def,
                max_retries,
                timeout_secs,
                user,
                priority,
            } => {
                let j = NewJob {
                    stream: *stream,
                    def,
                    max_retries: *max_retries,
                    timeout_secs: *timeout_secs,
                    user,
                    priority: *priority,
                };
                self.create_job(*id, &j, now)
            }
            Decision::CreateTask {
                job,
                task,
                stream,
                def,
                prereqs,
                max_retries,
                timeout_secs,
            } => {
                let t = NewTask {
                    task_id: task,
                    stream: *stream,
                    def,
                    prereqs,
                    max_retries: *max_retries,
                    timeout_secs: *timeout_secs,
                };
                self.create_task(*job, &t, now)
            }
            Decision::Claims(claims) => {
                for (job, task, worker) in claims {
                    self.claim(*job, task, now, mono, *worker)?;
                }
                Ok(())
            }
            Decision::Done {
                job,
                task,
                output,
                attempt,
            } => {
                let changed = self.done(*job, task, output, now, *attempt)?;
                self.must(changed, "DONE", *job, task)
            }
            Decision::Failed {
                job,
                task,
                error,
                attempt,
            } => {
                let changed = self.failed(*job, task, error, now, *attempt)?;
                self.must(changed, "FAILED", *job, task)
            }
            Decision::Progress {
                job,
                task,
                progress,
                attempt,
            } => {
                let changed = self.progress(*job, task, *progress, now, mono, *attempt)?;
                let verb = if progress.is_some() {
                    "PROGRESS"
                } else {
                    "HEARTBEAT"
                };
                self.must(changed, verb, *job, task)
            }
            Decision::Retries { tasks, attempt } => {
                for (job, task) in tasks {
                    let r = self.retry(*job, task, now, *attempt)?;
                    self.must(r != Retried::NotRunning, "RETRY", *job, task)?;
                }
                Ok(())
            }
            Decision::Pause {
                stream,
                worker_type,
                paused,
            } => {
                let target = match stream {
                    Some(id) => crate::PauseTarget::Stream(*id),
                    None => crate::PauseTarget::WorkerType(worker_type),
                };
                if self.set_paused(target, *paused)? {
                    Ok(())
                } else {
                    Err(Error::Refused(
                        "replayed PAUSE or RESUME does not apply: nothing changes".into(),
                    ))
                }
            }
            Decision::GiveBack { job, task, attempt } => {
                if self.give_back(*job, task, *attempt, now)? {
                    Ok(())
                } else {
                    Err(Error::Refused(format!(
                        "replayed GIVE_BACK of task '{}' of job '{}' does not apply: attempt {attempt} is not running",
                        crate::error::shorten(task),
                        uuid(*job)
                    )))
                }
            }
            Decision::RetryJob { job } => {
                if self.retry_job(*job, now)? {
                    Ok(())
                } else {
                    Err(Error::Refused(format!(
                        "replayed RETRY_JOB of job '{}' does not apply: it has not failed",
                        uuid(*job)
                    )))
                }
            }
            Decision::Cancel { job, reason } => {
                if self.cancel_job(*job, reason, now)? {
                    Ok(())
                } else {
                    Err(Error::Refused(format!(
                        "replayed CANCEL_JOB of job '{}' does not apply: it is not running",
                        uuid(*job)
                    )))
                }
            }
            Decision::DeleteJobs(ids) => {
                for id in ids {
                    if self.delete_job(*id).is_none() {
                        return Err(Error::Refused(format!(
                            "replayed DELETE_JOB of job '{}' does not apply: no such job",
                            uuid(*id)
                        )));
                    }
                }
                Ok(())
            }
            Decision::DeleteStreams(ids) => self.delete_streams(ids),
            Decision::Elsewhere(hints) => {
                self.set_elsewhere(hints);
                Ok(())
            }
            Decision::Repair { from, budget } => {
                self.repair(*from, *budget as usize, mono);
                Ok(())
            }
            Decision::RestoreJob {
                id,
                state,
                user,
                created_at,
                error,
                reported,
            } => {
                let r = RestoredJob {
                    state: *state,
                    user,
                    created_at: *created_at,
                    error: *error,
                    reported: *reported,
                };
                if self.restore_job(*id, &r, now) {
                    Ok(())
                } else {
                    Err(Error::Refused(format!(
                        "replayed RESTORE_JOB of job '{}' does not apply: it exists",
                        uuid(*id)
                    )))
                }
            }
            Decision::RestoreTask { job, stored: s } => {
                let r = s.as_restored();
                if self.restore_task(*job, &r, mono)? {
                    Ok(())
                } else {
                    Err(refused("RESTORE_TASK", *job, s.task, "it exists".into()))
                }
            }
            Decision::LoadHeader(h) => {
                *self = Namespace::from_header(h)?;
                Ok(())
            }
            Decision::LoadJob(head) => self.load_job_head(head).map(|_| ()),
            Decision::LoadTasks { job, batch } => self.load_tasks(*job, batch, mono),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_decision_round_trips() {
        let all = vec![
            Decision::CreateStream {
                id: 1,
                worker_type: b"gpu",
                reserved: 2,
                be_mult: 1.5,
                user: b"u",
            },
            Decision::CreateJob {
                id: 2,
                stream: 1,
                def: b"{}",
                max_retries: 3,
                timeout_secs: 60,
                user: b"u",
                priority: Priority::High,
            },
            Decision::CreateTask {
                job: 2,
                task: b"t",
                stream: 1,
                def: b"[1]",
                prereqs: vec![b"init"],
                max_retries: 1,
                timeout_secs: 5,
            },
            Decision::Claims(vec![(2, b"init", Some(b"w")), (2, b"t", None)]),
            Decision::Done {
                job: 2,
                task: b"t",
                output: b"{}",
                attempt: Some(2),
            },
            Decision::Failed {
                job: 2,
                task: b"t",
                error: b"e",
                attempt: None,
            },
            Decision::Progress {
                job: 2,
                task: b"t",
                progress: Some(0.5),
                attempt: None,
            },
            Decision::Retries {
                tasks: vec![(2, b"t")],
                attempt: Some(1),
            },
            Decision::Cancel {
                job: 2,
                reason: b"r",
            },
            Decision::RetryJob { job: 2 },
            Decision::GiveBack {
                job: 2,
                task: b"t",
                attempt: 3,
            },
            Decision::Pause {
                stream: Some(3),
                worker_type: b"",
                paused: true,
            },
            Decision::Pause {
                stream: None,
                worker_type: b"gpu",
                paused: false,
            },
            Decision::DeleteJobs(vec![2, 3]),
            Decision::DeleteStreams(vec![1]),
            Decision::Elsewhere(vec![(1, 3), (2, 0)]),
            Decision::Repair {
                from: Some((9, 3)),
                budget: 100,
            },
            Decision::RestoreJob {
                id: 4,
                state: JobState::Done,
                user: b"u",
                created_at: 5,
                error: None,
                reported: Some(true),
            },
            Decision::LoadHeader(b"h"),
            Decision::LoadJob(b"j"),
            Decision::LoadTasks {
                job: 4,
                batch: b"b",
            },
        ];
        for d in all {
            let b = d.encode(77);
            assert_eq!(Decision::decode(&b).unwrap(), (d, 77));
            assert!(Decision::decode(&b[..b.len() - 1]).is_err());
        }
        assert!(Decision::decode(b"\x02").is_err());
    }
}
