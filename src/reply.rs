//! Reply shapes shared by the query commands.

use crate::store::Key;
use redis_module::RedisValue;

/// A hash's listed fields as field/value pairs; a missing field takes its value from
/// `defaults`, else nil.
pub fn fields(k: &Key, names: &[&str], defaults: &[(&str, &str)]) -> RedisValue {
    let mut out = Vec::with_capacity(names.len() * 2);
    for n in names {
        out.push(RedisValue::BulkString((*n).to_string()));
        let default = defaults.iter().find(|(f, _)| f == n).map(|(_, v)| *v);
        out.push(match (k.hget(n.as_bytes()), default) {
            (Some(v), _) => RedisValue::StringBuffer(v.to_vec()),
            (None, Some(d)) => RedisValue::BulkString(d.to_string()),
            (None, None) => RedisValue::Null,
        });
    }
    RedisValue::Array(out)
}

/// A list of field/value pairs of text.
pub fn pairs(items: Vec<(String, Vec<u8>)>) -> RedisValue {
    let mut out = Vec::with_capacity(items.len() * 2);
    for (f, v) in items {
        out.push(RedisValue::BulkString(f));
        out.push(RedisValue::StringBuffer(v));
    }
    RedisValue::Array(out)
}
