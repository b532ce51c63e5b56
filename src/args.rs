//! Argument parsing and validation, in one place, so every command rejects bad input the
//! same way and before its first write.
//!
//! The size limits (`taskdb.max-*`) guard client input: replicas and AOF loading replay
//! the primary's packed decisions (`TASKDB.APPLY`), which are never parsed here, so a node
//! with lower limits applies everything its primary accepted.

use crate::error::{Error, Result};
use redis_module::RedisString;
use uuid::Uuid;

/// The longest namespace (key name) accepted, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 256;

use crate::config::{limit, MAX_NAME_BYTES, MAX_PAYLOAD_BYTES, MAX_PREREQUISITES};

/// The size limits that apply to a command's arguments.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest name or id, in bytes.
    pub name: usize,
    /// The longest payload, in bytes.
    pub payload: usize,
    /// The most prerequisites of one task.
    pub prerequisites: usize,
}

impl Limits {
    /// The configured limits, for client input.
    pub fn configured() -> Limits {
        Limits {
            name: limit(&MAX_NAME_BYTES),
            payload: limit(&MAX_PAYLOAD_BYTES),
            prerequisites: limit(&MAX_PREREQUISITES),
        }
    }

    /// No limits (looking up what exists).
    pub fn none() -> Limits {
        Limits {
            name: usize::MAX,
            payload: usize::MAX,
            prerequisites: usize::MAX,
        }
    }
}

/// A command's arguments, consumed front to back.
pub struct Args<'a> {
    args: &'a [RedisString],
    pos: usize,
    usage: &'static str,
    limits: Limits,
}

impl<'a> Args<'a> {
    /// A client's arguments, within the configured limits. Checks arity: at least `min`
    /// and at most `max` arguments after the command name.
    pub fn new(
        args: &'a [RedisString],
        usage: &'static str,
        min: usize,
        max: usize,
    ) -> Result<Self> {
        let n = args.len().saturating_sub(1);
        if n < min || n > max {
            return Err(Error::Arity(usage));
        }
        Ok(Args {
            args,
            pos: 1,
            usage,
            limits: Limits::configured(),
        })
    }

    /// Whether arguments remain.
    pub fn has_more(&self) -> bool {
        self.pos < self.args.len()
    }

    /// The next argument's bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let a = self.args.get(self.pos).ok_or(Error::Arity(self.usage))?;
        self.pos += 1;
        Ok(a.as_slice())
    }

    /// Fails unless every argument was consumed.
    pub fn end(&self) -> Result<()> {
        if self.has_more() {
            return Err(Error::Arity(self.usage));
        }
        Ok(())
    }

    /// The namespace (always the first argument): the key that holds it.
    pub fn ns(&mut self) -> Result<&'a RedisString> {
        let ns = self.args.get(self.pos).ok_or(Error::Arity(self.usage))?;
        self.pos += 1;
        let b = ns.as_slice();
        if b.is_empty() {
            return Err(Error::invalid("ns", b, "must not be empty"));
        }
        if b.len() > MAX_NAMESPACE_LEN {
            return Err(Error::invalid(
                "ns",
                b,
                format!("must be at most {MAX_NAMESPACE_LEN} bytes"),
            ));
        }
        Ok(ns)
    }

    /// A UUID, as the number TaskDB keeps it as.
    pub fn id(&mut self, arg: &'static str) -> Result<u128> {
        uuid_num(arg, self.bytes()?)
    }

    /// An optional `COUNT n` (1 to `max`), `default` when absent.
    pub fn count(&mut self, default: usize, max: usize) -> Result<usize> {
        if self.keyword("COUNT") {
            return Ok(self.int("COUNT", 1, max as i64)? as usize);
        }
        Ok(default)
    }

    /// A new id or name, to be stored: non-empty, at most `taskdb.max-name-bytes`.
    pub fn name(&mut self, arg: &'static str) -> Result<&'a [u8]> {
        name(arg, self.bytes()?, &self.limits)
    }

    /// An id or name that looks up what exists: non-empty. No size limit: a limit guards
    /// what gets stored, and an entity stored under a higher limit must stay reachable.
    pub fn lookup(&mut self, arg: &'static str) -> Result<&'a [u8]> {
        name(arg, self.bytes()?, &Limits::none())
    }

    /// A payload (an error text) of at most `taskdb.max-payload-bytes`.
    pub fn payload(&mut self, arg: &'static str) -> Result<&'a [u8]> {
        payload(arg, self.bytes()?, &self.limits)
    }

    /// A valid JSON document, returned as given.
    pub fn json(&mut self, arg: &'static str) -> Result<&'a [u8]> {
        json(arg, self.bytes()?, &self.limits)
    }

    /// A prerequisite list (see [`prerequisites`]) of task `task_id`.
    pub fn prerequisites(&mut self, task_id: &[u8]) -> Result<(&'a [u8], Vec<String>)> {
        let v = self.bytes()?;
        Ok((v, prerequisites(v, task_id, &self.limits)?))
    }

    /// An integer in `[min, max]`.
    pub fn int(&mut self, arg: &'static str, min: i64, max: i64) -> Result<i64> {
        int(arg, self.bytes()?, min, max)
    }

    /// A finite double in the range `check` accepts, described by `rule` in errors.
    pub fn float(&mut self, arg: &'static str, rule: &str, check: fn(f64) -> bool) -> Result<f64> {
        float(arg, self.bytes()?, rule, check)
    }

    /// An optional keyword (case-insensitive); consumed when it matches.
    pub fn keyword(&mut self, word: &str) -> bool {
        match self.args.get(self.pos) {
            Some(a) if a.as_slice().eq_ignore_ascii_case(word.as_bytes()) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }
}

/// Validates an id or name.
pub fn name<'b>(arg: &'static str, v: &'b [u8], limits: &Limits) -> Result<&'b [u8]> {
    if v.is_empty() {
        return Err(Error::invalid(arg, v, "must not be empty"));
    }
    let max = limits.name;
    if v.len() > max {
        return Err(Error::invalid(
            arg,
            v,
            format!("must be at most {max} bytes (taskdb.max-name-bytes)"),
        ));
    }
    Ok(v)
}

/// Validates a UUID and returns it as a number.
pub fn uuid_num(arg: &'static str, v: &[u8]) -> Result<u128> {
    Uuid::try_parse_ascii(v)
        .ok()
        .map(|u| u.as_u128())
        .ok_or_else(|| Error::invalid(arg, v, "must be a UUID"))
}

/// Validates a payload's size.
pub fn payload<'b>(arg: &'static str, v: &'b [u8], limits: &Limits) -> Result<&'b [u8]> {
    let max = limits.payload;
    if v.len() > max {
        return Err(Error::invalid(
            arg,
            v,
            format!(
                "is {} bytes, more than {max} (taskdb.max-payload-bytes)",
                v.len()
            ),
        ));
    }
    Ok(v)
}

/// Validates a JSON document (within the payload limit).
pub fn json<'b>(arg: &'static str, v: &'b [u8], limits: &Limits) -> Result<&'b [u8]> {
    payload(arg, v, limits)?;
    serde_json::from_slice::<serde::de::IgnoredAny>(v)
        .map(|_| v)
        .map_err(|e| Error::invalid(arg, v, format!("must be valid JSON ({e})")))
}

/// Validates an integer in `[min, max]`.
pub fn int(arg: &'static str, v: &[u8], min: i64, max: i64) -> Result<i64> {
    let n: i64 = std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::invalid(arg, v, "must be an integer"))?;
    if n < min || n > max {
        let rule = if max == i64::MAX {
            format!("must be an integer >= {min}")
        } else {
            format!("must be an integer from {min} to {max}")
        };
        return Err(Error::invalid(arg, v, rule));
    }
    Ok(n)
}

/// Validates a double.
pub fn float(arg: &'static str, v: &[u8], rule: &str, check: fn(f64) -> bool) -> Result<f64> {
    let x: f64 = std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::invalid(arg, v, format!("must be {rule}")))?;
    if !check(x) {
        return Err(Error::invalid(arg, v, format!("must be {rule}")));
    }
    Ok(x)
}

/// Parses a prerequisite list: a JSON array of distinct, valid task ids, not containing
/// `task_id` itself.
pub fn prerequisites(v: &[u8], task_id: &[u8], limits: &Limits) -> Result<Vec<String>> {
    // Most tasks of a DAG's widest levels have none: skip the JSON parser for them.
    if v == b"[]" {
        return Ok(Vec::new());
    }
    payload("prereqs_json", v, limits)?;
    let list: Vec<String> = serde_json::from_slice(v)
        .map_err(|_| Error::invalid("prereqs_json", v, "must be a JSON array of strings"))?;
    let max = limits.prerequisites;
    if list.len() > max {
        return Err(Error::invalid(
            "prereqs_json",
            v,
            format!(
                "lists {} tasks, more than {max} (taskdb.max-prerequisites)",
                list.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(list.len());
    for p in &list {
        // Each names an existing task: non-empty, any length (see `Args::id`).
        if p.is_empty() {
            return Err(Error::invalid(
                "prereqs_json",
                v,
                "each task id must be non-empty",
            ));
        }
        if p.as_bytes() == task_id {
            return Err(Error::invalid(
                "prereqs_json",
                v,
                "a task cannot depend on itself",
            ));
        }
        if !seen.insert(p.as_str()) {
            return Err(Error::invalid(
                "prereqs_json",
                v,
                format!(
                    "task '{}' is listed twice",
                    crate::error::shorten(p.as_bytes())
                ),
            ));
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(int("reserved", b"3", 0, i32::MAX.into()), Ok(3));
        assert!(int("reserved", b"-1", 0, i32::MAX.into()).is_err());
        assert!(int("reserved", b"1.5", 0, i32::MAX.into()).is_err());
        assert!(int("reserved", b"99999999999", 0, i32::MAX.into()).is_err());
        let pos = |x: f64| x.is_finite() && x > 0.0;
        assert_eq!(
            float("be_mult", b"1.5", "a finite number > 0", pos),
            Ok(1.5)
        );
        for bad in [&b"0"[..], b"nan", b"inf", b"-1", b"x"] {
            let e = float("be_mult", bad, "a finite number > 0", pos).unwrap_err();
            assert!(e.to_string().starts_with("ERR invalid be_mult"), "{e}");
        }
    }

    #[test]
    fn uuids_are_canonical() {
        let u = uuid_num("job_id", b"123E4567-E89B-12D3-A456-426614174000").unwrap();
        assert_eq!(u, 0x123e4567_e89b_12d3_a456_426614174000);
        assert!(uuid_num("job_id", b"nope").is_err());
    }

    #[test]
    fn json_and_prerequisites() {
        let l = Limits {
            name: 4,
            payload: 32,
            prerequisites: 2,
        };
        assert!(json("task_def_json", b"{\"a\":1}", &l).is_ok());
        assert!(json("task_def_json", b"{", &l).is_err());
        assert_eq!(
            prerequisites(b"[\"a\",\"b\"]", b"c", &l).unwrap(),
            ["a", "b"]
        );
        assert!(prerequisites(b"[\"a\",\"a\"]", b"c", &l).is_err());
        assert!(prerequisites(b"[\"c\"]", b"c", &l).is_err());
        assert!(prerequisites(b"[1]", b"c", &l).is_err());
        assert!(prerequisites(b"{}", b"c", &l).is_err());
        assert!(prerequisites(b"[\"\"]", b"c", &l).is_err());
        assert!(prerequisites(b"[\"a\",\"b\",\"d\"]", b"c", &l).is_err());
        assert!(prerequisites(b"[\"abcdefgh\"]", b"c", &l).is_ok());
        assert!(prerequisites(b"[\"abcde\",\"b\",\"d\"]", b"c", &Limits::none()).is_ok());
        assert!(name("task_id", b"abcde", &l).is_err());
        assert!(payload("error", &[b'x'; 40], &l).is_err());
    }
}
