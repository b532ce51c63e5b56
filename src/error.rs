//! The one error type of TaskDB, and the only place where error replies are worded.
//!
//! Every reply starts with a code so clients can match on it: `ERR` (bad arguments or a
//! request that cannot apply), `NOTFOUND` (no such stream, job, task or output), `EXISTS`
//! (an id already taken) and `WRONGTYPE` (a key under the namespace holds another type).
//! (`OOM` comes from Redis itself, for the commands flagged deny-oom.)
//! The messages are frozen by a table test (`tests/errors.rs`).

use redis_module::RedisError;
use std::fmt;

/// A rejected or failed TaskDB command. Rejections happen before the first write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Wrong number of arguments; carries the command's syntax line.
    Arity(&'static str),
    /// An argument failed validation.
    Invalid {
        /// The argument's name as in the command reference.
        arg: &'static str,
        /// The value received, shortened for the reply.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// A stream, job, task or value does not exist.
    NotFound(String),
    /// An id that must be new is already taken.
    Exists(String),
    /// A key of the namespace holds a value of another type.
    WrongType(String),
    /// The request is valid but cannot apply in the current state.
    Refused(String),
    /// Stored data that cannot be read back (the keyspace was edited by hand).
    Corrupt(String),
}

/// The result type of TaskDB's internals.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An invalid argument, with its value shown (shortened to stay readable).
    pub fn invalid(arg: &'static str, value: &[u8], why: impl Into<String>) -> Error {
        Error::Invalid {
            arg,
            value: shorten(value),
            why: why.into(),
        }
    }
}

/// Shows a user value in an error reply: printable ASCII as is, any other byte as `\xNN`
/// (Redis mangles other bytes in error replies), at most 64 bytes of the value.
pub fn shorten(value: &[u8]) -> String {
    let mut out = escape(&value[..value.len().min(64)]);
    if value.len() > 64 {
        out.push_str("...");
    }
    out
}

/// Shows bytes (a key name) in an error reply: printable ASCII as is, others as `\xNN`.
pub fn escape(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value {
        if (0x20..0x7f).contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Arity(usage) => write!(f, "ERR wrong number of arguments: usage {usage}"),
            Error::Invalid { arg, value, why } => write!(f, "ERR invalid {arg} '{value}': {why}"),
            Error::NotFound(what) => write!(f, "NOTFOUND {what}"),
            Error::Exists(what) => write!(f, "EXISTS {what}"),
            Error::WrongType(key) => write!(
                f,
                "WRONGTYPE key '{key}' holds a value of the wrong type for TaskDB"
            ),
            Error::Refused(why) => write!(f, "ERR {why}"),
            Error::Corrupt(what) => write!(f, "ERR corrupt TaskDB data: {what}"),
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
            Error::NotFound("job 'x'".into()),
            Error::Exists("task 'x'".into()),
            Error::WrongType("k".into()),
            Error::Refused("no".into()),
            Error::Corrupt("c".into()),
        ];
        for e in all {
            let s = e.to_string();
            let code = s.split(' ').next().unwrap_or_default();
            assert!(
                ["ERR", "NOTFOUND", "EXISTS", "WRONGTYPE"].contains(&code),
                "{s}"
            );
        }
    }

    #[test]
    fn invalid_names_the_argument() {
        let e = Error::invalid("be_mult", b"0", "must be a finite number > 0");
        assert_eq!(
            e.to_string(),
            "ERR invalid be_mult '0': must be a finite number > 0"
        );
    }

    #[test]
    fn long_values_are_shortened() {
        let long = vec![b'a'; 200];
        assert_eq!(shorten(&long).len(), 67);
        assert_eq!(shorten(b"a\nb"), "a\\x0ab");
        assert_eq!(shorten("ü".as_bytes()), "\\xc3\\xbc");
    }
}
