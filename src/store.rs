//! The FFI edge: the module API calls the `redis-module` crate does not wrap (or wraps in
//! a way that costs on hot paths), and every `unsafe` block of the module's command code.
//! The data type's callbacks live in `datatype.rs`, blocking in `block.rs`.

use redis_module::{raw, Context, RedisString};
use std::os::raw::c_int;
use std::ptr;

/// A module API function; every one TaskDB uses exists since Redis 7.0, which the module
/// requires, so a missing one is a broken server and aborts.
pub(crate) fn api<T>(f: Option<T>) -> T {
    match f {
        Some(f) => f,
        None => std::process::abort(),
    }
}

/// Propagates `TASKDB.APPLY <ns> <decision>`: a decision packed in one argument (see
/// `taskdb_core::decision`).
pub fn replicate_decision(ctx: &Context, ns: &RedisString, packed: &[u8]) {
    // SAFETY: ctx is the running command's (or timer's); "s" a live string, "b" a buffer
    // and its length, which Redis copies before this returns.
    unsafe {
        api(raw::RedisModule_Replicate)(
            ctx.ctx,
            c"TASKDB.APPLY".as_ptr(),
            c"sb".as_ptr(),
            ns.inner,
            packed.as_ptr(),
            packed.len(),
        )
    };
}

/// Publishes a keyspace notification of the module class (`event` on `key`), when the
/// server has module notifications on (`notify-keyspace-events` with `d`).
pub fn notify(ctx: &Context, event: &str, key: &RedisString) {
    use redis_module::NotifyEvent;
    if redis_module::raw::get_keyspace_events().contains(NotifyEvent::MODULE) {
        ctx.notify_keyspace_event(NotifyEvent::MODULE, event, key);
    }
}

/// Publishes `message` on pub/sub `channel`.
pub fn publish(ctx: &Context, channel: &[u8], message: &[u8]) {
    let c = RedisString::create_from_slice(ctx.ctx, channel);
    let m = RedisString::create_from_slice(ctx.ctx, message);
    // SAFETY: ctx is live; both strings are live for the call.
    unsafe { api(raw::RedisModule_PublishMessage)(ctx.ctx, c.inner, m.inner) };
}

/// Tells Redis that `key` changed (WATCH, client-side caching): the module signals it
/// itself, only when a command changed the namespace.
pub fn signal_modified(ctx: &Context, key: &RedisString) {
    // SAFETY: ctx is the running command's and the key a live string.
    unsafe { api(raw::RedisModule_SignalModifiedKey)(ctx.ctx, key.inner) };
}

/// Wakes the clients blocked on `key` (after this command): work became ready there.
pub fn signal_ready(ctx: &Context, key: &RedisString) {
    // SAFETY: ctx is the running command's and the key a live string.
    unsafe { api(raw::RedisModule_SignalKeyAsReady)(ctx.ctx, key.inner) };
}

/// Asks Redis not to signal every key a command opens for writing: TaskDB signals the
/// namespace key itself when something changed (a REQUEST_WORK that finds nothing leaves
/// WATCH alone).
pub fn no_implicit_signal(ctx: &Context) {
    // SAFETY: the load context.
    unsafe {
        api(raw::RedisModule_SetModuleOptions)(
            ctx.ctx,
            raw::REDISMODULE_OPTION_NO_IMPLICIT_SIGNAL_MODIFIED as c_int,
        )
    };
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

static DETACHED_CTX: std::sync::OnceLock<DetachedCtx> = std::sync::OnceLock::new();

/// A context owned by the module for work outside any command (re-arming timers from a
/// config change). Only used on the main thread.
struct DetachedCtx(Context);

// SAFETY: the context is only used on Redis' main thread (see `detached`).
unsafe impl Sync for DetachedCtx {}
// SAFETY: as above; it is created once at load and only used from the main thread.
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

/// A server event TaskDB follows (`RedisModule_SubscribeToServerEvent`).
#[derive(Debug, Clone, Copy)]
pub enum ServerEvent {
    /// Redis' cron, `hz` times a second, on its monotonic clock.
    Cron,
    /// FLUSHDB / FLUSHALL / a replica's full sync emptying its data.
    FlushDb,
    /// SWAPDB.
    SwapDb,
}

type Handler = fn(&Context, u64, *mut std::os::raw::c_void);

static CRON: std::sync::OnceLock<Handler> = std::sync::OnceLock::new();
static FLUSH: std::sync::OnceLock<Handler> = std::sync::OnceLock::new();
static SWAP: std::sync::OnceLock<Handler> = std::sync::OnceLock::new();

fn run_handler(
    cell: &std::sync::OnceLock<Handler>,
    ctx: *mut raw::RedisModuleCtx,
    sub: u64,
    data: *mut std::os::raw::c_void,
) {
    let ctx = Context::new(ctx);
    if let Some(f) = cell.get() {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&ctx, sub, data))).is_err() {
            ctx.log_warning("TaskDB internal error in a server event callback");
        }
    }
}

/// The `extern "C"` callback Redis calls for one event, handing it to its handler.
macro_rules! event_callback {
    ($name:ident, $cell:ident) => {
        extern "C" fn $name(
            ctx: *mut raw::RedisModuleCtx,
            _e: raw::RedisModuleEvent,
            sub: u64,
            data: *mut std::os::raw::c_void,
        ) {
            run_handler(&$cell, ctx, sub, data);
        }
    };
}

event_callback!(on_cron, CRON);
event_callback!(on_flush, FLUSH);
event_callback!(on_swap, SWAP);

/// Calls `f` on every `event`; once per event, when the module loads.
pub fn subscribe(ctx: &Context, event: ServerEvent, f: Handler) {
    let (cell, id, cb): (_, u64, raw::RedisModuleEventCallback) = match event {
        ServerEvent::Cron => (&CRON, raw::REDISMODULE_EVENT_CRON_LOOP, Some(on_cron)),
        ServerEvent::FlushDb => (&FLUSH, raw::REDISMODULE_EVENT_FLUSHDB, Some(on_flush)),
        ServerEvent::SwapDb => (&SWAP, raw::REDISMODULE_EVENT_SWAPDB, Some(on_swap)),
    };
    if cell.set(f).is_err() {
        return;
    }
    // SAFETY: the load context; the callback is an extern "C" function of this module
    // that Redis calls on the main thread with a context of its own.
    unsafe {
        api(raw::RedisModule_SubscribeToServerEvent)(
            ctx.ctx,
            raw::RedisModuleEvent { id, dataver: 1 },
            cb,
        )
    };
}

/// The database a FLUSHDB event empties (-1: all).
pub fn flushed_db(data: *mut std::os::raw::c_void) -> i32 {
    if data.is_null() {
        return -1;
    }
    // SAFETY: Redis passes a RedisModuleFlushInfoV1 with a FlushDb event.
    unsafe { (*data.cast::<raw::RedisModuleFlushInfoV1>()).dbnum }
}

/// The two databases a SWAPDB event swaps.
pub fn swapped_dbs(data: *mut std::os::raw::c_void) -> Option<(i32, i32)> {
    if data.is_null() {
        return None;
    }
    // SAFETY: Redis passes a RedisModuleSwapDbInfoV1 with a SwapDb event.
    let i = unsafe { &*data.cast::<raw::RedisModuleSwapDbInfoV1>() };
    Some((i.dbnum_first, i.dbnum_second))
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

/// The server clock in milliseconds since the epoch (stored, replicated), read as Redis
/// reads it (cheaper than `SystemTime`, and the same clock Redis' own commands see).
pub fn now_ms() -> i64 {
    // SAFETY: a plain clock read through the module API.
    unsafe { api(raw::RedisModule_Milliseconds)() }
}

/// This node's monotonic clock in milliseconds (lease expiry; never stored), Redis' own
/// monotonic clock: wall-clock steps do not move it. Never 0.
pub fn mono_ms() -> u64 {
    // SAFETY: a plain clock read through the module API (Redis 7.0 and later).
    let us = unsafe { api(raw::RedisModule_MonotonicMicroseconds)() };
    us / 1000 + 1
}

/// A string Redis owns, as a null pointer-safe slice.
pub fn string_bytes<'a>(s: *const raw::RedisModuleString) -> Option<&'a [u8]> {
    if s.is_null() {
        return None;
    }
    Some(RedisString::string_as_slice(s as *mut _))
}

/// A null `RedisModuleString` pointer, for calls that take an optional string.
pub fn null_string() -> *mut raw::RedisModuleString {
    ptr::null_mut()
}
