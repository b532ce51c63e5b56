//! The client's error type.

use thiserror::Error;

/// What a TaskDB call can fail with.
#[derive(Debug, Error)]
pub enum TaskDbErr {
    /// No such stream, job, task, failure or output (what PostgreSQL reports as
    /// `RowNotFound`).
    #[error("not found: {0}")]
    NotFound(String),
    /// A best-effort multiplier of zero (or not a finite positive number).
    #[error("invalid be_mult: must be a finite number > 0")]
    InvalidBeMult,
    /// An error from Redis or the module (bad arguments, connection, ...).
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A JSON value that could not be read or written.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// A reply of an unexpected shape.
    #[error("unexpected reply: {0}")]
    Reply(String),
}

/// Maps the module's error codes onto the variants callers match on.
pub(crate) fn from_redis(e: redis::RedisError) -> TaskDbErr {
    match e.code() {
        Some("NOTFOUND") => TaskDbErr::NotFound(e.detail().unwrap_or_default().to_string()),
        Some("ERR") if e.detail().is_some_and(|d| d.starts_with("invalid be_mult")) => {
            TaskDbErr::InvalidBeMult
        }
        _ => TaskDbErr::Redis(e),
    }
}
