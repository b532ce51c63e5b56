//! The FFI edge: typed access to Redis keys through the module's low-level key API.
//!
//! The `redis-module` crate wraps only part of that API (no sorted sets, one hash field per
//! call, UTF-8 field names), so this file holds TaskDB's thin wrappers and every `unsafe`
//! block of the module. A `Key` is opened for one command and closed when dropped. Hot
//! paths read and write many hash fields in one call ([`Key::hmget`], [`Key::hmset`]) with
//! C-string field names, so no Redis string is allocated per field name.

use crate::error::{Error, Result};
use redis_module::{raw, Context, RedisString};
use std::ffi::CStr;
use std::os::raw::c_int;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

type Rms = raw::RedisModuleString;

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

/// A module API function; every one TaskDB uses exists since Redis 7.0, which the module
/// requires, so a missing one is a broken server and aborts.
pub(crate) fn api<T>(f: Option<T>) -> T {
    match f {
        Some(f) => f,
        None => std::process::abort(),
    }
}

/// A string returned by Redis, freed on drop; read it in place.
pub struct RStr {
    ctx: *mut raw::RedisModuleCtx,
    ptr: *mut Rms,
}

impl RStr {
    fn wrap(ctx: *mut raw::RedisModuleCtx, ptr: *mut Rms) -> Option<RStr> {
        (!ptr.is_null()).then(|| RStr { ctx, ptr })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        RedisString::string_as_slice(self.ptr)
    }

    /// The bytes, copied.
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Drop for RStr {
    fn drop(&mut self) {
        // SAFETY: ptr is a string Redis handed to us (HashGet, ZsetRange, ListGet) and
        // nobody else frees it.
        unsafe { api(raw::RedisModule_FreeString)(self.ctx, self.ptr) };
    }
}

/// A hash field name, created in Redis once and kept for the life of the process.
pub struct Field {
    name: &'static CStr,
    ptr: AtomicPtr<Rms>,
}

impl Field {
    /// A field named `name`.
    pub const fn new(name: &'static CStr) -> Field {
        Field {
            name,
            ptr: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The field's name.
    pub fn name(&self) -> &'static [u8] {
        self.name.to_bytes()
    }

    fn get(&self) -> *mut Rms {
        let p = self.ptr.load(Ordering::Relaxed);
        if !p.is_null() {
            return p;
        }
        let bytes = self.name.to_bytes();
        // SAFETY: a NULL context makes a string owned by no command, which we keep (never
        // free) for the life of the process; commands run under the GIL, one at a time.
        let p = unsafe {
            api(raw::RedisModule_CreateString)(ptr::null_mut(), bytes.as_ptr().cast(), bytes.len())
        };
        self.ptr.store(p, Ordering::Relaxed);
        p
    }
}

/// A value to write into a hash field.
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    /// Bytes as given.
    Bytes(&'a [u8]),
    /// An integer, written in decimal.
    Int(i64),
}

/// Parses a stored number, naming the key and field when it is not one.
pub fn parse_num<T: std::str::FromStr>(key: &[u8], field: &str, v: &[u8]) -> Result<T> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            Error::Corrupt(format!(
                "field '{field}' of '{}' is not a number",
                crate::error::escape(key)
            ))
        })
}

/// Calls the variadic module function wrapped by the local macro `$call` with as many
/// argument groups as `$n` (1 to 16): Redis exposes HashGet/HashSet only as varargs.
macro_rules! by_arity {
    ($n:expr, $call:ident) => {
        match $n {
            1 => $call!(0),
            2 => $call!(0 1),
            3 => $call!(0 1 2),
            4 => $call!(0 1 2 3),
            5 => $call!(0 1 2 3 4),
            6 => $call!(0 1 2 3 4 5),
            7 => $call!(0 1 2 3 4 5 6),
            8 => $call!(0 1 2 3 4 5 6 7),
            9 => $call!(0 1 2 3 4 5 6 7 8),
            10 => $call!(0 1 2 3 4 5 6 7 8 9),
            11 => $call!(0 1 2 3 4 5 6 7 8 9 10),
            12 => $call!(0 1 2 3 4 5 6 7 8 9 10 11),
            13 => $call!(0 1 2 3 4 5 6 7 8 9 10 11 12),
            14 => $call!(0 1 2 3 4 5 6 7 8 9 10 11 12 13),
            15 => $call!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14),
            16 => $call!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15),
            _ => std::process::abort(),
        }
    };
}

/// An open key. Closed on drop.
pub struct Key {
    ctx: *mut raw::RedisModuleCtx,
    ptr: *mut raw::RedisModuleKey,
    name: Vec<u8>,
}

impl Key {
    /// Opens `name` for reading, or for writing when `write` is set.
    pub fn open(ctx: &Context, name: Vec<u8>, write: bool) -> Key {
        let raw_ctx = ctx.ctx;
        let keyname = RedisString::create_from_slice(raw_ctx, &name);
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
            name,
        }
    }

    /// Opens a key and checks that it is empty or holds `kind`.
    pub fn open_as(ctx: &Context, name: Vec<u8>, write: bool, kind: Kind) -> Result<Key> {
        let k = Key::open(ctx, name, write);
        match k.kind() {
            Kind::Empty => Ok(k),
            t if t == kind => Ok(k),
            _ => Err(Error::WrongType(crate::error::escape(&k.name))),
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

    /// Whether the key exists.
    pub fn exists(&self) -> bool {
        self.kind() != Kind::Empty
    }

    /// Number of elements (fields, members or items).
    pub fn len(&self) -> usize {
        if !self.exists() {
            return 0;
        }
        // SAFETY: ptr is an open key of this command.
        unsafe { api(raw::RedisModule_ValueLength)(self.ptr) }
    }

    /// Whether the key holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Deletes the key.
    pub fn delete(&self) {
        if self.exists() {
            // SAFETY: ptr is an open writable key of this command.
            unsafe { api(raw::RedisModule_DeleteKey)(self.ptr) };
        }
    }

    fn rstr(&self, bytes: &[u8]) -> RedisString {
        RedisString::create_from_slice(self.ctx, bytes)
    }

    // ---- hashes ----

    /// HMGET of up to 16 fields, in one call.
    pub fn hmget<const N: usize>(&self, fields: [&Field; N]) -> [Option<RStr>; N] {
        let mut v: [*mut Rms; N] = [ptr::null_mut(); N];
        if self.exists() {
            let (p, f) = (self.ptr, fields.map(Field::get));
            let cf = raw::REDISMODULE_HASH_NONE as c_int;
            macro_rules! call {
                ($($i:literal)*) => {
                    // SAFETY: an open hash key; each field a live string with an
                    // out-pointer into `v`; the list ends with NULL as HashGet requires.
                    unsafe {
                        api(raw::RedisModule_HashGet)(
                            p, cf, $( f[$i], &mut v[$i] as *mut *mut Rms, )* ptr::null_mut::<Rms>(),
                        )
                    }
                };
            }
            by_arity!(N, call);
        }
        v.map(|s| RStr::wrap(self.ctx, s))
    }

    /// HSET of up to 16 fields, in one call.
    pub fn hmset(&self, pairs: &[(&Field, Val)]) {
        let vals: Vec<RedisString> = pairs
            .iter()
            .map(|(_, v)| match v {
                Val::Bytes(b) => self.rstr(b),
                // SAFETY: the command's context; the new string is owned by the wrapper.
                Val::Int(i) => RedisString::from_redis_module_string(self.ctx, unsafe {
                    api(raw::RedisModule_CreateStringFromLongLong)(self.ctx, *i)
                }),
            })
            .collect();
        let f: Vec<*mut Rms> = pairs.iter().map(|(f, _)| f.get()).collect();
        let (p, v) = (self.ptr, &vals);
        let cf = raw::REDISMODULE_HASH_NONE as c_int;
        macro_rules! call {
            ($($i:literal)*) => {
                // SAFETY: an open writable key; each field a live string with a live value
                // string; the list ends with NULL as HashSet requires.
                unsafe {
                    api(raw::RedisModule_HashSet)(
                        p, cf, $( f[$i], v[$i].inner, )* ptr::null_mut::<Rms>(),
                    )
                }
            };
        }
        if !pairs.is_empty() {
            by_arity!(pairs.len(), call);
        }
    }

    /// HGET of a field given as bytes (user data: worker types, ids).
    pub fn hget(&self, field: &[u8]) -> Option<RStr> {
        if !self.exists() {
            return None;
        }
        let f = self.rstr(field);
        let mut out: *mut Rms = ptr::null_mut();
        // SAFETY: an open hash key, a live field string, an out-pointer, NULL terminator.
        unsafe {
            api(raw::RedisModule_HashGet)(
                self.ptr,
                raw::REDISMODULE_HASH_NONE as c_int,
                f.inner,
                &mut out as *mut *mut Rms,
                ptr::null_mut::<Rms>(),
            )
        };
        RStr::wrap(self.ctx, out)
    }

    /// HSET of a field given as bytes.
    pub fn hset(&self, field: &[u8], value: &[u8]) {
        let (f, v) = (self.rstr(field), self.rstr(value));
        // SAFETY: an open writable key, live strings, NULL terminator.
        unsafe {
            api(raw::RedisModule_HashSet)(
                self.ptr,
                raw::REDISMODULE_HASH_NONE as c_int,
                f.inner,
                v.inner,
                ptr::null_mut::<Rms>(),
            )
        };
    }

    /// HDEL of a field given as bytes.
    pub fn hdel(&self, field: &[u8]) {
        if !self.exists() {
            return;
        }
        let f = self.rstr(field);
        // SAFETY: an open writable key, a live field, the DELETE marker, NULL terminator.
        unsafe {
            api(raw::RedisModule_HashSet)(
                self.ptr,
                raw::REDISMODULE_HASH_NONE as c_int,
                f.inner,
                raw::REDISMODULE_HASH_DELETE as *mut Rms,
                ptr::null_mut::<Rms>(),
            )
        };
    }

    /// HINCRBY on a counter hash: a field that reaches 0 is removed, so counter hashes hold
    /// no zero entries and stay as small as what is live.
    pub fn counter_add(&self, field: &[u8], by: i64) -> Result<i64> {
        let old = match self.hget(field) {
            Some(v) => parse_num(&self.name, &crate::error::escape(field), v.as_bytes())?,
            None => 0,
        };
        let new = old + by;
        if new == 0 {
            self.hdel(field);
        } else {
            self.hset(field, new.to_string().as_bytes());
        }
        Ok(new)
    }

    /// HGETALL, in Redis' order (maintenance only: it goes through RM_Call).
    pub fn hgetall(&self, ctx: &Context) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if !self.exists() {
            return Ok(Vec::new());
        }
        let reply = ctx.call("HGETALL", &[self.name.as_slice()]).map_err(|e| {
            Error::Corrupt(format!("HGETALL {}: {e}", crate::error::escape(&self.name)))
        })?;
        let items = bulk_list(reply);
        Ok(items
            .chunks_exact(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect())
    }

    // ---- sorted sets ----

    /// ZADD (insert or update the score).
    pub fn zadd(&self, score: f64, member: &[u8]) {
        let m = self.rstr(member);
        // SAFETY: an open writable key and a live member string; flags pointer may be NULL.
        unsafe { api(raw::RedisModule_ZsetAdd)(self.ptr, score, m.inner, ptr::null_mut()) };
    }

    /// ZREM; whether the member was there.
    pub fn zrem(&self, member: &[u8]) -> bool {
        if !self.exists() {
            return false;
        }
        let m = self.rstr(member);
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
        let m = self.rstr(member);
        let mut score = 0.0;
        // SAFETY: an open key, a live member, an out-pointer.
        let rc = unsafe { api(raw::RedisModule_ZsetScore)(self.ptr, m.inner, &mut score) };
        (rc == raw::REDISMODULE_OK as c_int).then_some(score)
    }

    /// Walks the current range of the key, collecting at most `limit` elements.
    ///
    /// # Safety
    /// A range must have been started on this key (and is stopped here).
    unsafe fn collect_range(&self, limit: usize) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::new();
        while api(raw::RedisModule_ZsetRangeEndReached)(self.ptr) == 0 && out.len() < limit {
            let mut score = 0.0;
            let e = api(raw::RedisModule_ZsetRangeCurrentElement)(self.ptr, &mut score);
            if let Some(m) = RStr::wrap(self.ctx, e) {
                out.push((m.to_vec(), score));
            }
            if api(raw::RedisModule_ZsetRangeNext)(self.ptr) == 0 {
                break;
            }
        }
        api(raw::RedisModule_ZsetRangeStop)(self.ptr);
        out
    }

    /// Members with score in `[min, max]` (`max` excluded when `max_exclusive`), in
    /// order, at most `limit` of them.
    pub fn zrange_by_score(
        &self,
        min: f64,
        max: f64,
        max_exclusive: bool,
        limit: usize,
    ) -> Vec<(Vec<u8>, f64)> {
        if !self.exists() || limit == 0 {
            return Vec::new();
        }
        // SAFETY: an open zset key; collect_range stops the range it starts.
        unsafe {
            let rc = api(raw::RedisModule_ZsetFirstInScoreRange)(
                self.ptr,
                min,
                max,
                0,
                c_int::from(max_exclusive),
            );
            if rc != raw::REDISMODULE_OK as c_int {
                return Vec::new();
            }
            self.collect_range(limit)
        }
    }

    /// The first member in order, with its score.
    pub fn zfirst(&self) -> Option<(Vec<u8>, f64)> {
        self.zrange_by_score(f64::NEG_INFINITY, f64::INFINITY, false, 1)
            .into_iter()
            .next()
    }

    /// Members (of a zset whose members all have one score) that start with `prefix`.
    pub fn zrange_by_prefix(&self, prefix: &[u8]) -> Vec<Vec<u8>> {
        if !self.exists() {
            return Vec::new();
        }
        let mut min = vec![b'['];
        min.extend_from_slice(prefix);
        let max = match lex_successor(prefix) {
            Some(s) => [&b"("[..], &s].concat(),
            None => b"+".to_vec(),
        };
        let (min, max) = (self.rstr(&min), self.rstr(&max));
        // SAFETY: an open zset key and live range strings; collect_range stops the range.
        unsafe {
            let rc = api(raw::RedisModule_ZsetFirstInLexRange)(self.ptr, min.inner, max.inner);
            if rc != raw::REDISMODULE_OK as c_int {
                return Vec::new();
            }
            self.collect_range(usize::MAX)
                .into_iter()
                .map(|(m, _)| m)
                .collect()
        }
    }

    // ---- lists ----

    /// RPUSH of one item.
    pub fn rpush(&self, item: &[u8]) {
        let v = self.rstr(item);
        // SAFETY: an open writable key and a live item string.
        unsafe {
            api(raw::RedisModule_ListPush)(self.ptr, raw::REDISMODULE_LIST_TAIL as c_int, v.inner)
        };
    }

    /// Every item of a list, in order. Leaves an iterator on this handle: do not delete the
    /// key through the same handle afterwards.
    pub fn litems(&self) -> Vec<Vec<u8>> {
        let n = self.len();
        (0..n)
            .filter_map(|i| {
                // SAFETY: an open list key and an index below its length.
                let s =
                    unsafe { api(raw::RedisModule_ListGet)(self.ptr, i as std::os::raw::c_long) };
                RStr::wrap(self.ctx, s).map(|s| s.to_vec())
            })
            .collect()
    }
}

/// The smallest byte string greater than every string that starts with `prefix`.
pub fn lex_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xff {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
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

/// Propagates `TASKDB.APPLY` with `args` (copied into new strings).
pub fn replicate_apply(ctx: &Context, args: &[&[u8]]) {
    let strings: Vec<RedisString> = args
        .iter()
        .map(|a| RedisString::create_from_slice(ctx.ctx, a))
        .collect();
    let mut argv: Vec<*mut Rms> = strings.iter().map(|s| s.inner).collect();
    // SAFETY: ctx is the running command's; "v" takes an array of live strings and its
    // length, which Redis retains before this returns.
    unsafe {
        api(raw::RedisModule_Replicate)(
            ctx.ctx,
            c"TASKDB.APPLY".as_ptr(),
            c"v".as_ptr(),
            argv.as_mut_ptr(),
            argv.len(),
        )
    };
}

/// Propagates `TASKDB.APPLY <ns> <now> <verb> <rest...>`, passing the namespace and the
/// rest through as the command received them.
pub fn replicate_apply_as_sent(
    ctx: &Context,
    ns: &RedisString,
    now: i64,
    verb: &CStr,
    rest: &[RedisString],
) {
    let mut argv: Vec<*mut Rms> = rest.iter().map(|s| s.inner).collect();
    // SAFETY: "s" a live string, "l" a long long, "c" a C string, "v" an array of live
    // strings with its length; Redis retains or copies them all before this returns.
    unsafe {
        api(raw::RedisModule_Replicate)(
            ctx.ctx,
            c"TASKDB.APPLY".as_ptr(),
            c"slcv".as_ptr(),
            ns.inner,
            now as std::os::raw::c_longlong,
            verb.as_ptr(),
            argv.as_mut_ptr(),
            argv.len(),
        )
    };
}

/// Propagates `TASKDB.APPLY <ns> <now> <verb> <a> <b>` without building strings first.
pub fn replicate_apply2(
    ctx: &Context,
    ns: &RedisString,
    now: i64,
    verb: &CStr,
    a: &[u8],
    b: &[u8],
) {
    // SAFETY: "s" a live string, "l" a long long, "c" a C string, each "b" a buffer and its
    // length; Redis copies them before this returns.
    unsafe {
        api(raw::RedisModule_Replicate)(
            ctx.ctx,
            c"TASKDB.APPLY".as_ptr(),
            c"slcbb".as_ptr(),
            ns.inner,
            now as std::os::raw::c_longlong,
            verb.as_ptr(),
            a.as_ptr(),
            a.len(),
            b.as_ptr(),
            b.len(),
        )
    };
}

/// Propagates `TASKDB.APPLY <ns> <now> <verb> <a> <b> <c> <d>` without building strings
/// first.
pub fn replicate_apply4(ctx: &Context, ns: &RedisString, now: i64, verb: &CStr, v: [&[u8]; 4]) {
    // SAFETY: "s" a live string, "l" a long long, "c" a C string, each "b" a buffer and its
    // length; Redis copies them before this returns.
    unsafe {
        api(raw::RedisModule_Replicate)(
            ctx.ctx,
            c"TASKDB.APPLY".as_ptr(),
            c"slcbbbb".as_ptr(),
            ns.inner,
            now as std::os::raw::c_longlong,
            verb.as_ptr(),
            v[0].as_ptr(),
            v[0].len(),
            v[1].as_ptr(),
            v[1].len(),
            v[2].as_ptr(),
            v[2].len(),
            v[3].as_ptr(),
            v[3].len(),
        )
    };
}

/// Publishes a keyspace notification of the module class (`event` on `key`), when the
/// server has module notifications on (`notify-keyspace-events` with `d`).
pub fn notify(ctx: &Context, event: &str, key: &[u8]) {
    use redis_module::NotifyEvent;
    if !redis_module::raw::get_keyspace_events().contains(NotifyEvent::MODULE) {
        return;
    }
    let name = RedisString::create_from_slice(ctx.ctx, key);
    ctx.notify_keyspace_event(NotifyEvent::MODULE, event, &name);
}

static DETACHED_CTX: std::sync::OnceLock<DetachedCtx> = std::sync::OnceLock::new();

/// A context owned by the module for work outside any command (INFO, re-arming timers
/// from a config change). Only used on the main thread, which holds the lock such a
/// context would take.
struct DetachedCtx(Context);

// SAFETY: the context is only used on Redis' main thread (see `detached`).
unsafe impl Sync for DetachedCtx {}
// SAFETY: as above; it is created once at load and never moved between threads' use.
unsafe impl Send for DetachedCtx {}

/// Creates the module's detached context; called once when the module loads.
pub fn init_detached(ctx: &Context) {
    // SAFETY: ctx is the load context; the detached context lives for the process.
    let d = unsafe { api(raw::RedisModule_GetDetachedThreadSafeContext)(ctx.ctx) };
    let _ = DETACHED_CTX.set(DetachedCtx(Context::new(d)));
}

/// The module's detached context (main thread only), once the module has loaded.
pub fn detached() -> Option<&'static Context> {
    DETACHED_CTX.get().map(|d| &d.0)
}

static CRON: std::sync::OnceLock<fn(&Context)> = std::sync::OnceLock::new();

extern "C" fn on_cron_loop(
    ctx: *mut raw::RedisModuleCtx,
    _eid: raw::RedisModuleEvent,
    _subevent: u64,
    _data: *mut std::os::raw::c_void,
) {
    let ctx = Context::new(ctx);
    if let Some(f) = CRON.get() {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&ctx))).is_err() {
            ctx.log_warning("TaskDB internal error in its cron callback");
        }
    }
}

/// Calls `f` from every run of Redis' cron (`hz` times a second). Unlike module timers,
/// which Redis 7.0 schedules on the wall clock (a backward clock step delays them), the
/// cron runs on Redis' monotonic clock. Once, when the module loads.
pub fn on_cron(ctx: &Context, f: fn(&Context)) {
    if CRON.set(f).is_err() {
        return;
    }
    // SAFETY: the load context; the callback is an extern "C" function of this module that
    // Redis calls on the main thread with a context of its own.
    unsafe {
        api(raw::RedisModule_SubscribeToServerEvent)(
            ctx.ctx,
            raw::RedisModuleEvent {
                id: raw::REDISMODULE_EVENT_CRON_LOOP,
                dataver: 1,
            },
            Some(on_cron_loop),
        )
    };
}

/// Whether work the module does by itself (outside a client command: timers, events) may
/// write now: the server is a primary, is not loading, does not refuse writes for OOM, and
/// clients are not paused (`CLIENT PAUSE`, or a `FAILOVER` waiting for a replica). Redis
/// itself stops expiry and eviction in those states; a write would also be propagated while
/// clients are paused, which Redis asserts never happens.
pub fn writes_allowed(ctx: &Context) -> bool {
    use redis_module::ContextFlags as F;
    let flags = ctx.get_flags();
    flags.contains(F::MASTER)
        && !flags.intersects(F::LOADING | F::ASYNC_LOADING | F::OOM)
        && !ctx.avoid_replication_traffic()
}

/// The database the context has selected.
pub fn selected_db(ctx: &Context) -> i32 {
    // SAFETY: ctx is a live context (command or timer).
    unsafe { api(raw::RedisModule_GetSelectedDb)(ctx.ctx) }
}

/// Selects database `db` for the context; false if there is no such database.
pub fn select_db(ctx: &Context, db: i32) -> bool {
    // SAFETY: ctx is a live context; an invalid id is refused, not a crash.
    unsafe { api(raw::RedisModule_SelectDb)(ctx.ctx, db) == raw::REDISMODULE_OK as c_int }
}

/// The server clock in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::lex_successor;

    #[test]
    fn successor_bounds_a_prefix() {
        assert_eq!(lex_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(lex_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(lex_successor(b"\xff\xff"), None);
    }
}
