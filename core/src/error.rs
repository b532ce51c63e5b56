//! The core's errors, and the only place where their messages are worded.
//!
//! Each variant maps to a reply code in the module (`ERR`, `NOTFOUND`, `EXISTS`); the
//! messages are frozen by the module's error-table test, so clients can match on them.

use std::fmt;

/// A rejected or failed operation. Every operation validates before its first change, so
/// a rejected one has changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
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
    /// The request is valid but cannot apply in the current state.
    Refused(String),
    /// Data that cannot be read back (an RDB payload or a replayed record).
    Corrupt(String),
}

/// The result type of the core.
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

    /// The reply code the error maps to.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "NOTFOUND",
            Error::Exists(_) => "EXISTS",
            _ => "ERR",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid { arg, value, why } => write!(f, "ERR invalid {arg} '{value}': {why}"),
            Error::NotFound(what) => write!(f, "NOTFOUND {what}"),
            Error::Exists(what) => write!(f, "EXISTS {what}"),
            Error::Refused(why) => write!(f, "ERR {why}"),
            Error::Corrupt(what) => write!(f, "ERR corrupt TaskDB data: {what}"),
        }
    }
}

impl std::error::Error for Error {}

/// Shows a user value in an error reply: printable ASCII as is, any other byte as `\xNN`
/// (Redis mangles other bytes in error replies), at most 64 bytes of the value.
pub fn shorten(value: &[u8]) -> String {
    let mut out = escape(&value[..value.len().min(64)]);
    if value.len() > 64 {
        out.push_str("...");
    }
    out
}

/// Shows bytes in an error reply: printable ASCII as is, others as `\xNN`.
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

/// A UUID in canonical lowercase hyphenated form, on the stack (replies write it without
/// allocating).
pub fn uuid_bytes(id: u128) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Where each byte's two digits go, between the hyphens at 8, 13, 18 and 23.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let bytes = id.to_be_bytes();
    let mut out = [b'-'; 36];
    for (b, at) in bytes.into_iter().zip(AT) {
        out[at] = HEX[usize::from(b >> 4)];
        out[at + 1] = HEX[usize::from(b & 0xf)];
    }
    out
}

/// A UUID in canonical lowercase hyphenated form.
pub fn uuid(id: u128) -> String {
    uuid_bytes(id).iter().map(|&b| b as char).collect()
}

/// `NOTFOUND stream '<id>' does not exist`.
pub fn no_stream(id: u128) -> Error {
    Error::NotFound(format!("stream '{}' does not exist", uuid(id)))
}

/// `NOTFOUND job '<id>' does not exist`.
pub fn no_job(id: u128) -> Error {
    Error::NotFound(format!("job '{}' does not exist", uuid(id)))
}

/// `NOTFOUND task '<task>' of job '<id>' does not exist`.
pub fn no_task(job: u128, task: &[u8]) -> Error {
    Error::NotFound(format!(
        "task '{}' of job '{}' does not exist",
        shorten(task),
        uuid(job)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_start_with_their_code() {
        let e = Error::invalid("be_mult", b"0", "must be a finite number > 0");
        assert_eq!(
            e.to_string(),
            "ERR invalid be_mult '0': must be a finite number > 0"
        );
        assert!(no_job(1)
            .to_string()
            .starts_with("NOTFOUND job '00000000-0000-0000-0000-000000000001'"));
        assert_eq!(no_job(1).code(), "NOTFOUND");
        assert_eq!(Error::Exists("x".into()).code(), "EXISTS");
    }

    #[test]
    fn values_are_escaped_and_shortened() {
        assert_eq!(shorten(&[b'a'; 200]).len(), 67);
        assert_eq!(shorten(b"a\nb"), "a\\x0ab");
        assert_eq!(shorten("ü".as_bytes()), "\\xc3\\xbc");
        assert_eq!(
            uuid(0x123e4567_e89b_12d3_a456_426614174000),
            "123e4567-e89b-12d3-a456-426614174000"
        );
    }
}
