//! TaskDB's scheduler as a plain Rust library: no Redis in it.
//!
//! A [`Namespace`] holds one independent TaskDB: users' streams (a share of one worker
//! type: reserved workers and a best-effort multiplier), jobs that grow into DAGs of
//! tasks, and workers' claims on them. Its operations are the commands' semantics: they
//! validate, then change, and keep every count and index exact. The Redis module parses
//! arguments, calls these, replicates what was decided and replies; it owns no rule.
//!
//! Layout by concept: [`state`] (the closed sets of states), [`schedule`] (fair and
//! strict orders), [`streams`], [`jobs`], [`tasks`], [`work`] (claims, reports, lease
//! expiry), [`ns`] (the namespace and the transitions every operation shares), [`record`]
//! (a task's packed form), [`bits`] and [`chunked`] (containers that grow without
//! pauses), [`names`] (interning), [`error`].

pub mod bits;
pub mod check;
pub mod chunked;
pub mod codec;
pub mod decision;
pub mod error;
pub mod inspect;
pub mod jobs;
pub mod meter;
pub mod names;
pub mod ns;
pub mod record;
pub mod restore;
pub mod schedule;
pub mod state;
pub mod streams;
pub mod tasks;
pub mod work;

pub use check::Violation;
pub use decision::Decision;
pub use error::{Error, Result};
pub use inspect::LeaseView;
pub use jobs::{JobFilter, JobView, NewJob, INIT_TASK};
pub use meter::{Meter, Timing};
pub use ns::{Change, Effects, Job, Namespace};
pub use restore::{RestoredJob, RestoredTask};
pub use state::{JobState, Policy, Priority, TaskState, STATES};
pub use streams::{NewStream, PauseTarget, StreamView};
pub use tasks::{NewTask, TaskView};
pub use work::{Claim, Expired, Retried, RETRY_MAX_HIT};
