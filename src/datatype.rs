//! The `taskdb-ns` data type: one key holds one namespace ([`Namespace`]), and this file
//! is where Redis meets it — RDB save and load, AOF rewrite, DEBUG DIGEST, memory usage,
//! lazy free, COPY and the key's unlinking.
//!
//! The stored form is the core's (`taskdb_core::codec`, version [`ENCVER`]): a header, then
//! per job its head and its tasks in batches, each one byte string; loading rebuilds every
//! index through the same code commands use. The AOF rewrite emits the same pieces as
//! `TASKDB.APPLY ns <LOAD …>` commands, one per piece (bounded, never one giant command).

use crate::registry;
use crate::store::{api, mono_ms, string_bytes};
use redis_module::native_types::RedisType;
use redis_module::{raw, RedisString};
use std::os::raw::{c_int, c_void};
use taskdb_core::codec::TASK_BATCH;
use taskdb_core::{Decision, Namespace};

/// The encoding version of the stored form (`encver`) this module writes; it reads every
/// version from 1 (the header carries the core's own version too).
pub const ENCVER: i32 = 2;

/// The type's name as `TYPE` shows it (exactly nine characters).
pub const NAME: &str = "taskdb-ns";

/// The data type.
pub static TYPE: RedisType = RedisType::new(
    NAME,
    ENCVER,
    raw::RedisModuleTypeMethods {
        version: raw::REDISMODULE_TYPE_METHOD_VERSION as u64,
        rdb_load: Some(rdb_load),
        rdb_save: Some(rdb_save),
        aof_rewrite: Some(aof_rewrite),
        mem_usage: Some(mem_usage),
        digest: Some(digest),
        free: Some(free),
        aux_load: None,
        aux_save: None,
        aux_save2: None,
        aux_save_triggers: 0,
        free_effort: Some(free_effort),
        unlink: None,
        copy: None,
        defrag: None,
        mem_usage2: None,
        free_effort2: None,
        unlink2: Some(unlink2),
        copy2: Some(copy2),
    },
);

/// The value behind a key's pointer.
///
/// # Safety
/// `value` must be a pointer this type's callbacks handed to Redis (a boxed Namespace) and
/// still alive.
unsafe fn ns<'a>(value: *const c_void) -> &'a Namespace {
    // SAFETY: the caller's contract.
    unsafe { &*value.cast::<Namespace>() }
}

extern "C" fn rdb_save(rdb: *mut raw::RedisModuleIO, value: *mut c_void) {
    // SAFETY: Redis passes a live value of this type.
    let ns = unsafe { ns(value) };
    redis_module::raw::save_slice(rdb, &ns.encode_header());
    redis_module::raw::save_unsigned(rdb, ns.job_count() as u64);
    for j in ns.jobs_in_order() {
        redis_module::raw::save_slice(rdb, &ns.encode_job_head(j));
        let batches = j.task_count().div_ceil(TASK_BATCH);
        redis_module::raw::save_unsigned(rdb, batches as u64);
        for b in 0..batches {
            let from = b * TASK_BATCH;
            redis_module::raw::save_slice(rdb, &ns.encode_tasks(j, from, from + TASK_BATCH));
        }
    }
}

fn load(rdb: *mut raw::RedisModuleIO) -> Result<Namespace, String> {
    let buf = |rdb| redis_module::raw::load_string_buffer(rdb).map_err(|e| e.to_string());
    let num = |rdb| redis_module::raw::load_unsigned(rdb).map_err(|e| e.to_string());
    let mono = mono_ms();
    let mut ns = Namespace::from_header(buf(rdb)?.as_ref()).map_err(|e| e.to_string())?;
    for _ in 0..num(rdb)? {
        let id = ns
            .load_job_head(buf(rdb)?.as_ref())
            .map_err(|e| e.to_string())?;
        for _ in 0..num(rdb)? {
            ns.load_tasks(id, buf(rdb)?.as_ref(), mono)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(ns)
}

extern "C" fn rdb_load(rdb: *mut raw::RedisModuleIO, encver: c_int) -> *mut c_void {
    if !(1..=ENCVER).contains(&encver) {
        log_io(rdb, &format!("TaskDB cannot read stored namespaces of encoding version {encver}; this module reads versions 1 to {ENCVER}"));
        return std::ptr::null_mut();
    }
    match load(rdb) {
        Ok(ns) => {
            // SAFETY: the io of this load; both accessors may return null/-1 (RESTORE).
            let (key, db) = unsafe {
                (
                    string_bytes(api(raw::RedisModule_GetKeyNameFromIO)(rdb)),
                    api(raw::RedisModule_GetDbIdFromIO)(rdb),
                )
            };
            let p = Box::into_raw(Box::new(ns));
            // SAFETY: p was just made from a Box and is handed to Redis below.
            registry::register(p, db, key.unwrap_or_default(), unsafe { &*p });
            p.cast()
        }
        Err(e) => {
            log_io(rdb, &format!("TaskDB cannot load a namespace: {e}"));
            std::ptr::null_mut()
        }
    }
}

fn log_io(rdb: *mut raw::RedisModuleIO, msg: &str) {
    let m = std::ffi::CString::new(msg.replace('\0', " ")).unwrap_or_default();
    // SAFETY: a live io; "%s" with a NUL-terminated message.
    unsafe {
        api(raw::RedisModule_LogIOError)(rdb, c"warning".as_ptr(), c"%s".as_ptr(), m.as_ptr())
    };
}

extern "C" fn aof_rewrite(
    aof: *mut raw::RedisModuleIO,
    key: *mut raw::RedisModuleString,
    value: *mut c_void,
) {
    // SAFETY: Redis passes a live value of this type.
    let ns = unsafe { ns(value) };
    let emit = |d: Decision| {
        let b = d.encode(0);
        // SAFETY: a live io and key; "sb": the key string and a buffer with its length.
        unsafe {
            api(raw::RedisModule_EmitAOF)(
                aof,
                c"TASKDB.APPLY".as_ptr(),
                c"sb".as_ptr(),
                key,
                b.as_ptr(),
                b.len(),
            )
        };
    };
    emit(Decision::LoadHeader(&ns.encode_header()));
    for j in ns.jobs_in_order() {
        emit(Decision::LoadJob(&ns.encode_job_head(j)));
        let mut from = 0;
        while from < j.task_count() {
            let batch = ns.encode_tasks(j, from, from + TASK_BATCH);
            emit(Decision::LoadTasks {
                job: j.id,
                batch: &batch,
            });
            from += TASK_BATCH;
        }
    }
}

extern "C" fn digest(md: *mut raw::RedisModuleDigest, value: *mut c_void) {
    // SAFETY: Redis passes a live value of this type.
    let ns = unsafe { ns(value) };
    let add = |b: &[u8]| {
        // SAFETY: a live digest and a buffer with its length.
        unsafe {
            api(raw::RedisModule_DigestAddStringBuffer)(md, b.as_ptr().cast_mut().cast(), b.len())
        };
    };
    add(&ns.encode_header());
    for j in ns.jobs_in_order() {
        add(&ns.encode_job_head(j));
        add(&ns.encode_tasks(j, 0, j.task_count()));
    }
    // SAFETY: a live digest.
    unsafe { api(raw::RedisModule_DigestEndSequence)(md) };
}

extern "C" fn mem_usage(value: *const c_void) -> usize {
    // SAFETY: Redis passes a live value of this type.
    unsafe { ns(value) }.memory_usage()
}

extern "C" fn free_effort(_key: *mut raw::RedisModuleString, value: *const c_void) -> usize {
    // SAFETY: Redis passes a live value of this type.
    let ns = unsafe { ns(value) };
    // Above Redis' lazy-free threshold (64), UNLINK and FLUSHALL ASYNC free it off the
    // main thread.
    ns.task_count() + ns.job_count()
}

extern "C" fn free(value: *mut c_void) {
    registry::forget(value.cast());
    // SAFETY: the value Redis hands back to be freed, made by Box::into_raw; it may be
    // called on a lazy-free thread, and the allocator is thread-safe.
    drop(unsafe { Box::from_raw(value.cast::<Namespace>()) });
}

extern "C" fn unlink2(_ctx: *mut raw::RedisModuleKeyOptCtx, value: *const c_void) {
    // The key is leaving its place (DEL, UNLINK, an overwrite, or MOVE and RENAME, which
    // register it again where it arrives).
    registry::forget(value.cast_mut().cast());
}

extern "C" fn copy2(ctx: *mut raw::RedisModuleKeyOptCtx, value: *const c_void) -> *mut c_void {
    // SAFETY: Redis passes a live value of this type.
    let copy = unsafe { ns(value) }.clone_fresh();
    // SAFETY: ctx is the live COPY context; the accessors return the destination.
    let (key, db) = unsafe {
        (
            string_bytes(api(raw::RedisModule_GetToKeyNameFromOptCtx)(ctx)),
            api(raw::RedisModule_GetToDbIdFromOptCtx)(ctx),
        )
    };
    let p = Box::into_raw(Box::new(copy));
    // SAFETY: p was just made from a Box and is handed to Redis on return.
    registry::register(p, db, key.unwrap_or_default(), unsafe { &*p });
    p.cast()
}

/// The namespace in `key` (a key of this type): `None` if the key is empty.
pub fn value_of(key: &redis_module::key::RedisKey) -> crate::error::Result<Option<&Namespace>> {
    key.get_value::<Namespace>(&TYPE)
        .map_err(|_| wrong_type(key))
}

fn wrong_type(_key: &redis_module::key::RedisKey) -> crate::error::Error {
    crate::error::Error::WrongType(String::new())
}

/// A key's name, shown in errors.
pub fn shown(name: &RedisString) -> String {
    crate::error::escape(name.as_slice())
}
