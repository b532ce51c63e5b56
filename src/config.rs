//! Module configuration (`CONFIG GET/SET taskdb.*`, `loadmodule` arguments, redis.conf).

use crate::model::Policy;
use redis_module::enum_configuration;
use std::sync::Mutex;

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
