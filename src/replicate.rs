//! What TaskDB sends to replicas and the AOF.
//!
//! Commands whose outcome depends on the clock, on a random id or on the schedule
//! (creation, REQUEST_WORK, REQUEUE, every task update) are never replicated as sent: the
//! primary decides, then propagates `TASKDB.APPLY ns <now_ms> <VERB> <args...>` carrying
//! the chosen ids, tasks and time, and replicas and AOF loading replay that decision
//! exactly through the same code (see `apply.rs`). Deterministic maintenance commands
//! (DELETE_JOB, CLEAR_COMPLETED, CHECK FIX) are replicated verbatim. A command that
//! changes nothing replicates nothing.

use crate::store;
use redis_module::{Context, RedisString};
use std::ffi::CStr;

/// The internal command that replays a decision.
pub const APPLY: &str = "TASKDB.APPLY";

/// Propagates a decision taken at `now` in namespace `ns`, with its arguments.
pub fn decision(ctx: &Context, ns: &[u8], now: i64, verb: &str, args: &[&[u8]]) {
    let now = now.to_string();
    let mut all: Vec<&[u8]> = Vec::with_capacity(args.len() + 3);
    all.extend_from_slice(&[ns, now.as_bytes(), verb.as_bytes()]);
    all.extend_from_slice(args);
    store::replicate_apply(ctx, &all);
}

/// Propagates a decision whose arguments are the command's own after the namespace
/// (`argv[2..]`), passed through without copying.
pub fn decision_as_sent(ctx: &Context, argv: &[RedisString], now: i64, verb: &CStr) {
    if let Some(ns) = argv.get(1) {
        store::replicate_apply_as_sent(ctx, ns, now, verb, argv.get(2..).unwrap_or_default());
    }
}

/// Propagates a decision about one task (`job_id task_id`) of the namespace in `argv[1]`.
pub fn task_decision(
    ctx: &Context,
    argv: &[RedisString],
    now: i64,
    verb: &CStr,
    job_id: &str,
    task_id: &[u8],
) {
    if let Some(ns) = argv.get(1) {
        store::replicate_apply2(ctx, ns, now, verb, job_id.as_bytes(), task_id);
    }
}

/// Propagates REQUEST_WORK's claim of one task (`CLAIM job_id task_id [WORKER w]`) in the
/// namespace of `argv[1]`.
pub fn claim(
    ctx: &Context,
    argv: &[RedisString],
    now: i64,
    job_id: &str,
    task_id: &[u8],
    worker: Option<&[u8]>,
) {
    let Some(ns) = argv.get(1) else { return };
    match worker {
        None => store::replicate_apply2(ctx, ns, now, c"CLAIM", job_id.as_bytes(), task_id),
        Some(w) => store::replicate_apply4(
            ctx,
            ns,
            now,
            c"CLAIM",
            [job_id.as_bytes(), task_id, b"WORKER", w],
        ),
    }
}

/// Propagates the running command as it was sent (it is deterministic).
pub fn verbatim(ctx: &Context) {
    ctx.replicate_verbatim();
}
