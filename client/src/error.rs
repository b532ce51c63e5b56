//! The client's error type: the PostgreSQL TaskDB crate's variants, plus TaskDB's own.

use thiserror::Error;

/// TaskDB's stand-in for `sqlx::Error` when the `sqlx` feature is off: the one value the
/// drop-in API returns in [`TaskDbErr::SqlError`], so code matching
/// `TaskDbErr::SqlError(SqlxError::RowNotFound)` compiles and behaves the same with and
/// without the feature. With the feature, `SqlxError` is `sqlx::Error` itself.
#[cfg(not(feature = "sqlx"))]
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SqlxError {
    /// No such stream, job, task, failure or output (what PostgreSQL answers with no row).
    #[error("no rows returned by a query that expected to return at least one row")]
    RowNotFound,
}

/// What the error variants carry for "not found".
#[cfg(feature = "sqlx")]
pub use sqlx::Error as SqlxError;

/// Why `init_db` found the server or the namespace unfit for TaskDB.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct MigrateError(pub String);

/// What a TaskDB call can fail with.
#[derive(Debug, Error)]
pub enum TaskDbErr {
    /// Not found (`SqlxError::RowNotFound`): a lookup of a job, task, failure or output
    /// that does not exist, as the PostgreSQL crate reports it.
    #[error("sqlx failure: {0}")]
    SqlError(#[from] SqlxError),
    /// A reply of an unexpected shape (a server that is not TaskDB, or a bug).
    #[error("taskdb internal error: {0}")]
    InternalErr(String),
    /// `init_db` found the server or the namespace unfit (no TaskDB module loaded, or the
    /// namespace key holds another type).
    #[error("migration failure: {0}")]
    MigrateErr(MigrateError),
    /// A JSON value that could not be read or written.
    #[error("jsonb serialization error, invalid json in DB: {0}")]
    JsonErr(#[from] serde_json::Error),
    /// A best-effort multiplier of zero (or not a finite positive number).
    #[error("Stream be_mult cannot be 0.0: it must be a finite number > 0")]
    InvalidBeMult,
    /// A handle `with_wait`: the write took effect on the primary, but fewer replicas than
    /// asked acknowledged it in time (a failover now could lose it).
    #[error("write not replicated: {acked} of {wanted} replicas acknowledged it in time")]
    NotReplicated {
        /// Replicas that acknowledged.
        acked: i64,
        /// Replicas asked for.
        wanted: u32,
    },
    /// An error from Redis or the module, as it replied (connection, bad arguments, a job
    /// created on a stream that does not exist: `NOTFOUND stream '…' does not exist`).
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl TaskDbErr {
    /// Whether this is the drop-in API's not-found (`SqlError(RowNotFound)`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, TaskDbErr::SqlError(SqlxError::RowNotFound))
    }
}

/// The drop-in API's not-found.
pub(crate) fn not_found() -> TaskDbErr {
    TaskDbErr::SqlError(SqlxError::RowNotFound)
}

/// Maps the module's error codes onto the variants callers match on.
pub(crate) fn from_redis(e: redis::RedisError) -> TaskDbErr {
    match e.code() {
        Some("NOTFOUND") => not_found(),
        Some("ERR") if e.detail().is_some_and(|d| d.starts_with("invalid be_mult")) => {
            TaskDbErr::InvalidBeMult
        }
        _ => TaskDbErr::Redis(e),
    }
}
