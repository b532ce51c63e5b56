//! The FFI edge: typed access to Redis keys through the module's low-level key API.
//!
//! The `redis-module` crate wraps only part of that API (no sorted sets, no binary hash
//! fields), so this file holds TaskDB's thin wrappers and every `unsafe` block of the
//! module. A `Key` is opened for one command and closed when dropped; values come back as
//! owned bytes so no Redis string outlives the call.

use crate::error::{Error, Result};
use redis_module::{raw, Context, RedisString};
use std::os::raw::c_int;
use std::ptr;

/// The Redis type a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The key does not exist.
    Empty,
    /// A hash.
    Hash,
    /// A sorted set.
    Zset,
    /// A list.
    List,
    /// Anything else.
    Other,
}

/// An open key. Closed on drop.
pub struct Key {
    ctx: *mut raw::RedisModuleCtx,
    ptr: *mut raw::RedisModuleKey,
    name: Vec<u8>,
}

fn rstr(ctx: *mut raw::RedisModuleCtx, bytes: &[u8]) -> RedisString {
    RedisString::create_from_slice(ctx, bytes)
}

fn api<T>(f: Option<T>) -> T {
    match f {
        Some(f) => f,
        // Every function used here exists since Redis 7.0, which the module requires at load.
        None => std::process::abort(),
    }
}

fn owned(ctx: *mut raw::RedisModuleCtx, s: *mut raw::RedisModuleString) -> Option<Vec<u8>> {
    if s.is_null() {
        return None;
    }
    let v = RedisString::string_as_slice(s).to_vec();
    drop(RedisString::from_redis_module_string(ctx, s));
    Some(v)
}

fn parse_num<T: std::str::FromStr>(key: &[u8], field: &str, v: &[u8]) -> Result<T> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            Error::Corrupt(format!(
                "field '{field}' of '{}' is not a number",
                String::from_utf8_lossy(key)
            ))
        })
}

impl Key {
    /// Opens `name` for reading, or for writing when `write` is set.
    pub fn open(ctx: &Context, name: &[u8], write: bool) -> Key {
        let raw_ctx = ctx.ctx;
        let keyname = rstr(raw_ctx, name);
        let mode = if write {
            raw::REDISMODULE_READ | raw::REDISMODULE_WRITE
        } else {
            raw::REDISMODULE_READ
        };
        // SAFETY: ctx is the live context of the running command; OpenKey retains keyname.
        let ptr =
            unsafe { api(raw::RedisModule_OpenKey)(raw_ctx, keyname.inner, mode as c_int).cast() };
        Key {
            ctx: raw_ctx,
            ptr,
            name: name.to_vec(),
        }
    }

    /// The key's name.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The type the key holds.
    pub fn kind(&self) -> Kind {
        if self.ptr.is_null() {
            return Kind::Empty;
        }
        // SAFETY: ptr is an open key of this command.
        let t = unsafe { api(raw::RedisModule_KeyType)(self.ptr) } as isize;
        match t {
            x if x == raw::REDISMODULE_KEYTYPE_EMPTY => Kind::Empty,
            x if x == raw::REDISMODULE_KEYTYPE_HASH => Kind::Hash,
            x if x == raw::REDISMODULE_KEYTYPE_ZSET => Kind::Zset,
            x if x == raw::REDISMODULE_KEYTYPE_LIST => Kind::List,
            _ => Kind::Other,
        }
    }

    /// Fails with WRONGTYPE unless the key is empty or holds `kind`.
    pub fn expect(&self, kind: Kind) -> Result<&Key> {
        match self.kind() {
            Kind::Empty => Ok(self),
            k if k == kind => Ok(self),
            _ => Err(Error::WrongType(String::from_utf8_lossy(&self.name).into())),
        }
    }

    /// Opens a key and checks its type.
    pub fn open_as(ctx: &Context, name: &[u8], write: bool, kind: Kind) -> Result<Key> {
        let k = Key::open(ctx, name, write);
        k.expect(kind)?;
        Ok(k)
    }

    /// Whether the key exists.
    pub fn exists(&self) -> bool {
        self.kind() != Kind::Empty
    }

    /// Deletes the key.
    pub fn delete(&self) {
        if self.exists() {
            // SAFETY: ptr is an open writable key of this command.
            unsafe { api(raw::RedisModule_DeleteKey)(self.ptr) };
        }
    }

    // ---- hashes ----

    /// HGET.
    pub fn hget(&self, field: &[u8]) -> Option<Vec<u8>> {
        if !self.exists() {
            return None;
        }
        let f = rstr(self.ctx, field);
        let mut out: *mut raw::RedisModuleString = ptr::null_mut();
        // SAFETY: an open hash key, a live field string, an out-pointer, NULL terminator.
        unsafe {
            api(raw::RedisModule_HashGet)(
                self.ptr,
                raw::REDISMODULE_HASH_NONE as c_int,
                f.inner,
                &mut out as *mut *mut raw::RedisModuleString,
                ptr::null_mut::<raw::RedisModuleString>(),
            )
        };
        owned(self.ctx, out)
    }

    /// HGET of a field that must exist.
    pub fn hget_req(&self, field: &str) -> Result<Vec<u8>> {
        self.hget(field.as_bytes()).ok_or_else(|| {
            Error::Corrupt(format!(
                "field '{field}' of '{}' is missing",
                String::from_utf8_lossy(&self.name)
            ))
        })
    }

    /// HGET of an integer field that must exist.
    pub fn hget_i64(&self, field: &str) -> Result<i64> {
        parse_num(&self.name, field, &self.hget_req(field)?)
    }

    /// HGET of an integer field, absent meaning `None`.
    pub fn hget_opt_i64(&self, field: &str) -> Result<Option<i64>> {
        match self.hget(field.as_bytes()) {
            Some(v) => parse_num(&self.name, field, &v).map(Some),
            None => Ok(None),
        }
    }

    /// HGET of a double field that must exist.
    pub fn hget_f64(&self, field: &str) -> Result<f64> {
        parse_num(&self.name, field, &self.hget_req(field)?)
    }

    /// HSET of one field.
    pub fn hset(&self, field: &[u8], value: &[u8]) {
        let f = rstr(self.ctx, field);
        let v = rstr(self.ctx, value);
        // SAFETY: an open writable key, live strings, NULL terminator.
        unsafe {
            api(raw::RedisModule_HashSet)(
                self.ptr,
                raw::REDISMODULE_HASH_NONE as c_int,
                f.inner,
                v.inner,
                ptr::null_mut::<raw::RedisModuleString>(),
            )
        };
    }

    /// HSET of an integer field.
    pub fn hset_i64(&self, field: &str, value: i64) {
        self.hset(field.as_bytes(), value.to_string().as_bytes());
    }

    /// HDEL of one field.
    pub fn hdel(&self, field: &[u8]) {
        if !self.exists() {
            return;
        }
        let f = rstr(self.ctx, field);
        // SAFETY: an open writable key, a live field, the DELETE marker, NULL terminator.
        unsafe {
            api(raw::RedisModule_HashSet)(
                self.ptr,
                raw::REDISMODULE_HASH_NONE as c_int,
                f.inner,
                raw::REDISMODULE_HASH_DELETE as *mut raw::RedisModuleString,
                ptr::null_mut::<raw::RedisModuleString>(),
            )
        };
    }

    /// HINCRBY.
    pub fn hincr(&self, field: &[u8], by: i64) -> Result<i64> {
        let new = self.hget_count(field)? + by;
        self.hset(field, new.to_string().as_bytes());
        Ok(new)
    }

    /// HINCRBY on a counter hash: a field that reaches 0 is removed, so counter hashes
    /// hold no zero entries and their size stays bounded by what is live.
    pub fn counter_add(&self, field: &[u8], by: i64) -> Result<i64> {
        let new = self.hget_count(field)? + by;
        if new == 0 {
            self.hdel(field);
        } else {
            self.hset(field, new.to_string().as_bytes());
        }
        Ok(new)
    }

    fn hget_count(&self, field: &[u8]) -> Result<i64> {
        match self.hget(field) {
            Some(v) => parse_num(&self.name, &String::from_utf8_lossy(field), &v),
            None => Ok(0),
        }
    }

    /// HGETALL, in Redis' order.
    pub fn hgetall(&self, ctx: &Context) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if !self.exists() {
            return Ok(Vec::new());
        }
        let reply = ctx.call("HGETALL", &[self.name.as_slice()]).map_err(|e| {
            Error::Corrupt(format!(
                "HGETALL {}: {e}",
                String::from_utf8_lossy(&self.name)
            ))
        })?;
        let items = crate::store::bulk_list(reply);
        Ok(items
            .chunks_exact(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect())
    }

    // ---- sorted sets ----

    /// ZADD (insert or update the score).
    pub fn zadd(&self, score: f64, member: &[u8]) {
        let m = rstr(self.ctx, member);
        // SAFETY: an open writable key and a live member string; flags pointer may be NULL.
        unsafe { api(raw::RedisModule_ZsetAdd)(self.ptr, score, m.inner, ptr::null_mut()) };
    }

    /// ZREM; whether the member was there.
    pub fn zrem(&self, member: &[u8]) -> bool {
        if !self.exists() {
            return false;
        }
        let m = rstr(self.ctx, member);
        let mut deleted: c_int = 0;
        // SAFETY: an open writable key, a live member, an out-pointer.
        unsafe { api(raw::RedisModule_ZsetRem)(self.ptr, m.inner, &mut deleted) };
        deleted != 0
    }

    /// ZSCORE.
    pub fn zscore(&self, member: &[u8]) -> Option<f64> {
        if !self.exists() {
            return None;
        }
        let m = rstr(self.ctx, member);
        let mut score = 0.0;
        // SAFETY: an open key, a live member, an out-pointer.
        let rc = unsafe { api(raw::RedisModule_ZsetScore)(self.ptr, m.inner, &mut score) };
        (rc == raw::REDISMODULE_OK as c_int).then_some(score)
    }

    /// Members with score in `[min, max]` (or `(min, max)` ends when exclusive), in order,
    /// at most `limit` of them.
    pub fn zrange_by_score(
        &self,
        min: f64,
        max: f64,
        max_exclusive: bool,
        limit: usize,
    ) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::new();
        if !self.exists() || limit == 0 {
            return out;
        }
        // SAFETY: an open zset key; the range is stopped before returning.
        unsafe {
            let rc = api(raw::RedisModule_ZsetFirstInScoreRange)(
                self.ptr,
                min,
                max,
                0,
                c_int::from(max_exclusive),
            );
            if rc != raw::REDISMODULE_OK as c_int {
                return out;
            }
            while api(raw::RedisModule_ZsetRangeEndReached)(self.ptr) == 0 && out.len() < limit {
                let mut score = 0.0;
                let e = api(raw::RedisModule_ZsetRangeCurrentElement)(self.ptr, &mut score);
                if let Some(m) = owned(self.ctx, e) {
                    out.push((m, score));
                }
                if api(raw::RedisModule_ZsetRangeNext)(self.ptr) == 0 {
                    break;
                }
            }
            api(raw::RedisModule_ZsetRangeStop)(self.ptr);
        }
        out
    }

    /// The first member in order, with its score.
    pub fn zfirst(&self) -> Option<(Vec<u8>, f64)> {
        self.zrange_by_score(f64::NEG_INFINITY, f64::INFINITY, false, 1)
            .into_iter()
            .next()
    }

    // ---- lists ----

    /// RPUSH of one item.
    pub fn rpush(&self, item: &[u8]) {
        let v = rstr(self.ctx, item);
        // SAFETY: an open writable key and a live item string.
        unsafe {
            api(raw::RedisModule_ListPush)(self.ptr, raw::REDISMODULE_LIST_TAIL as c_int, v.inner)
        };
    }

    /// LRANGE 0 -1.
    pub fn litems(&self, ctx: &Context) -> Result<Vec<Vec<u8>>> {
        if !self.exists() {
            return Ok(Vec::new());
        }
        let reply = ctx.call("LRANGE", &[self.name.as_slice(), b"0", b"-1"]);
        reply.map(bulk_list).map_err(|e| {
            Error::Corrupt(format!(
                "LRANGE {}: {e}",
                String::from_utf8_lossy(&self.name)
            ))
        })
    }
}

/// The bulk strings of an array reply from `ctx.call`.
pub fn bulk_list(v: redis_module::RedisValue) -> Vec<Vec<u8>> {
    use redis_module::RedisValue as V;
    match v {
        V::Array(items) => items
            .into_iter()
            .filter_map(|i| match i {
                V::StringBuffer(b) => Some(b),
                V::SimpleString(s) | V::BulkString(s) => Some(s.into_bytes()),
                V::BulkRedisString(s) => Some(s.as_slice().to_vec()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: ptr was opened by this Key and is closed exactly once.
            unsafe { api(raw::RedisModule_CloseKey)(self.ptr) };
        }
    }
}

/// The server clock in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
