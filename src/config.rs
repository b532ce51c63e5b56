//! Module configuration (`CONFIG GET/SET taskdb.*`, `loadmodule` arguments, redis.conf).

use redis_module::configuration::ConfigurationContext;
use redis_module::enum_configuration;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;
use taskdb_core::Policy;

enum_configuration! {
    /// `taskdb.scheduling`: how REQUEST_WORK picks among streams with ready work.
    #[allow(non_camel_case_types)]
    pub enum Scheduling {
        /// Lowest priority first (default).
        fair = 0,
        /// Largest reservation first.
        strict = 1,
    }
}

/// The live value of `taskdb.scheduling`.
pub static SCHEDULING: Mutex<Scheduling> = Mutex::new(Scheduling::fair);

/// The scheduling policy in force.
pub fn policy() -> Policy {
    match SCHEDULING.lock().map(|g| g.clone()) {
        Ok(Scheduling::strict) => Policy::Strict,
        _ => Policy::Fair,
    }
}

/// `taskdb.requeue-interval-ms`: how often the lease reaper runs (0: off).
pub static REQUEUE_INTERVAL_MS: AtomicI64 = AtomicI64::new(1000);

/// The lease reaper's interval in force.
pub fn requeue_interval_ms() -> i64 {
    REQUEUE_INTERVAL_MS.load(Ordering::Relaxed)
}

/// `taskdb.retention-done-secs`: done jobs are deleted this long after they finished
/// (0: kept until deleted).
pub static RETENTION_DONE_SECS: AtomicI64 = AtomicI64::new(0);

/// `taskdb.retention-failed-secs`: failed (and cancelled) jobs are deleted this long after
/// they failed (0: kept until deleted).
pub static RETENTION_FAILED_SECS: AtomicI64 = AtomicI64::new(0);

/// Whether any retention is on (a flag the registry reads on every command).
pub fn retention_on() -> bool {
    RETENTION_DONE_SECS.load(Ordering::Relaxed) > 0
        || RETENTION_FAILED_SECS.load(Ordering::Relaxed) > 0
}

/// A retention changed: the next tick looks at every namespace once (their entries only
/// track finish times while a retention is on).
pub fn on_retention_changed<T>(_: &ConfigurationContext, _: &str, _: &'static T) {
    crate::retention::rescan();
}

/// The retention of done and of failed jobs in force, ms (0: off).
pub fn retention_ms() -> (i64, i64) {
    (
        RETENTION_DONE_SECS
            .load(Ordering::Relaxed)
            .saturating_mul(1000),
        RETENTION_FAILED_SECS
            .load(Ordering::Relaxed)
            .saturating_mul(1000),
    )
}

/// `taskdb.max-name-bytes`: the longest task id, user id or worker type accepted.
pub static MAX_NAME_BYTES: AtomicI64 = AtomicI64::new(1024);

/// `taskdb.max-payload-bytes`: the longest task definition, output, error or prerequisite
/// list accepted (16 MiB by default).
pub static MAX_PAYLOAD_BYTES: AtomicI64 = AtomicI64::new(16 << 20);

/// `taskdb.max-prerequisites`: the most prerequisites one task may have.
pub static MAX_PREREQUISITES: AtomicI64 = AtomicI64::new(10_000);

/// Reads a size limit.
pub fn limit(l: &AtomicI64) -> usize {
    l.load(Ordering::Relaxed).max(0) as usize
}

/// `taskdb.event-channel`: a pub/sub channel that receives every state change as
/// `<ns> <job_id> <task_id> <state>` (or `<ns> <job_id> - job_<state>`); empty: off.
pub static EVENT_CHANNEL: Mutex<String> = Mutex::new(String::new());

static EVENT_CHANNEL_ON: AtomicBool = AtomicBool::new(false);

/// Keeps the cheap "is the channel on" flag in step with `taskdb.event-channel`.
pub fn on_event_channel_changed<T>(_: &ConfigurationContext, _: &str, _: &'static T) {
    let on = EVENT_CHANNEL.lock().map(|c| !c.is_empty()).unwrap_or(false);
    EVENT_CHANNEL_ON.store(on, Ordering::Relaxed);
}

/// The channel that wants every change, if one is set.
pub fn event_channel() -> Option<String> {
    if !EVENT_CHANNEL_ON.load(Ordering::Relaxed) {
        return None;
    }
    EVENT_CHANNEL
        .lock()
        .ok()
        .map(|c| c.clone())
        .filter(|c| !c.is_empty())
}

/// Whether a channel wants every change (a flag: no lock on the hot path).
pub fn events_wanted() -> bool {
    EVENT_CHANNEL_ON.load(Ordering::Relaxed)
}
