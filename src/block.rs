//! The FFI edge of blocking: parking a REQUEST_WORK client inside Redis until work of its
//! worker type becomes ready, the way BLPOP parks on a list.
//!
//! A client blocks on the namespace key. Every time a command gives a worker type more
//! ready work while workers wait, the key is signalled ready (`namespace::changed`); Redis
//! then calls [`on_ready`] for the clients blocked on it, first blocked first served, and
//! each retries its claim: one that gets a task is answered and unblocked, one that finds
//! nothing (another waiter took it, or it waits for another worker type) keeps waiting. On
//! timeout the client gets nil. A client that disconnects while waiting has claimed
//! nothing, so nothing is lost. (Redis 7.0 serves module clients only on keys that exist,
//! so they wait on the namespace itself rather than on a key per worker type.)

use crate::store::api;
use redis_module::{raw, Context, RedisString, RedisValue};
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Parks the running client on the namespace key `name` for `timeout_ms` (0: forever);
/// whenever the key is signalled, `work::serve_blocked` retries the client's own command.
pub fn wait_on(ctx: &Context, name: &RedisString, worker_type: &[u8], timeout_ms: i64) {
    let mut keys = [name.inner];
    crate::info::blocked(worker_type, 1);
    let privdata = Box::into_raw(Box::new(worker_type.to_vec()));
    // SAFETY: ctx is the running command's; the callbacks are extern "C" functions of this
    // module; the key array holds one live string that Redis retains; Redis hands
    // privdata back to on_free exactly once, however the wait ends.
    unsafe {
        api(raw::RedisModule_BlockClientOnKeys)(
            ctx.ctx,
            Some(on_ready),
            Some(on_timeout),
            Some(on_free),
            timeout_ms,
            keys.as_mut_ptr(),
            1,
            privdata.cast(),
        )
    };
}

/// Whether any worker waits in REQUEST_WORK BLOCK (signalling is free otherwise).
pub fn any_waiting() -> bool {
    crate::info::any_blocked()
}

extern "C" fn on_ready(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
) -> c_int {
    let context = Context::new(ctx);
    let args = redis_module::decode_args(ctx, argv, argc);
    match catch_unwind(AssertUnwindSafe(|| {
        crate::work::serve_blocked(&context, &args)
    })) {
        Ok(Ok(true)) => raw::REDISMODULE_OK as c_int,
        Ok(Ok(false)) => raw::REDISMODULE_ERR as c_int,
        Ok(Err(e)) => {
            context.reply(Err(e.into()));
            raw::REDISMODULE_OK as c_int
        }
        Err(_) => {
            context.log_warning("TaskDB internal error while serving a blocked worker");
            context.reply(Err(redis_module::RedisError::Str(
                "ERR internal error; run TASKDB.CHECK to verify the namespace",
            )));
            raw::REDISMODULE_OK as c_int
        }
    }
}

extern "C" fn on_timeout(
    ctx: *mut raw::RedisModuleCtx,
    _argv: *mut *mut raw::RedisModuleString,
    _argc: c_int,
) -> c_int {
    Context::new(ctx).reply(Ok(RedisValue::Null));
    raw::REDISMODULE_OK as c_int
}

extern "C" fn on_free(_ctx: *mut raw::RedisModuleCtx, privdata: *mut std::os::raw::c_void) {
    if privdata.is_null() {
        return;
    }
    // SAFETY: privdata is the Box<Vec<u8>> wait_on leaked, freed here once.
    let worker_type = unsafe { Box::from_raw(privdata.cast::<Vec<u8>>()) };
    crate::info::blocked(&worker_type, -1);
}
