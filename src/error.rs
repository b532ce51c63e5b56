//! The module's error type: the core's errors plus what only the command layer knows
//! (arity, a key of another type). Every reply starts with a code (`ERR`, `NOTFOUND`,
//! `EXISTS`, `WRONGTYPE`; `OOM`, `READONLY` and `NOPERM` come from Redis itself). The
//! messages are frozen by a table test (`tests/it/errors.rs`).

use redis_module::RedisError;
use std::fmt;

pub use taskdb_core::error::{escape, shorten};

/// A rejected or failed TaskDB command. Rejections happen before the first write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Wrong number of arguments; carries the command's syntax line.
    Arity(&'static str),
    /// The namespace key holds a value of another type.
    WrongType(String),
    /// What the core refused or could not find.
    Core(taskdb_core::Error),
}

/// The result type of the module.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An invalid argument, with its value shown (shortened to stay readable).
    pub fn invalid(arg: &'static str, value: &[u8], why: impl Into<String>) -> Error {
        Error::Core(taskdb_core::Error::invalid(arg, value, why))
    }

    /// A request that is valid but cannot apply (`ERR …`).
    pub fn refused(why: impl Into<String>) -> Error {
        Error::Core(taskdb_core::Error::Refused(why.into()))
    }
}

impl From<taskdb_core::Error> for Error {
    fn from(e: taskdb_core::Error) -> Error {
        Error::Core(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Arity(usage) => write!(f, "ERR wrong number of arguments: usage {usage}"),
            Error::WrongType(key) => write!(
                f,
                "WRONGTYPE key '{key}' holds a value of the wrong type for TaskDB"
            ),
            Error::Core(e) => e.fmt(f),
        }
    }
}

impl From<Error> for RedisError {
    fn from(e: Error) -> RedisError {
        RedisError::String(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_starts_with_a_code() {
        let all = [
            Error::Arity("TASKDB.X ns"),
            Error::invalid("be_mult", b"0", "must be a finite number > 0"),
            Error::Core(taskdb_core::Error::NotFound("job 'x'".into())),
            Error::Core(taskdb_core::Error::Exists("task 'x'".into())),
            Error::WrongType("k".into()),
            Error::refused("no"),
            Error::Core(taskdb_core::Error::Corrupt("c".into())),
        ];
        for e in all {
            let s = e.to_string();
            let code = s.split(' ').next().unwrap_or_default();
            assert!(
                ["ERR", "NOTFOUND", "EXISTS", "WRONGTYPE"].contains(&code),
                "{s}"
            );
        }
        assert_eq!(
            Error::invalid("be_mult", b"0", "must be a finite number > 0").to_string(),
            "ERR invalid be_mult '0': must be a finite number > 0"
        );
    }
}
