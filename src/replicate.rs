//! What TaskDB sends to replicas and the AOF.
//!
//! Commands whose outcome depends on the clock, on a random id or on the schedule
//! (creation, REQUEST_WORK, REQUEUE, every task update) are never replicated as sent: the
//! primary decides, then propagates `TASKDB.APPLY ns <now_ms> <VERB> <args...>` carrying
//! the chosen ids, tasks and time, and replicas and AOF loading replay that decision
//! exactly through the same code (see `apply.rs`). Deterministic maintenance commands
//! (DELETE_JOB, CLEAR_COMPLETED, CHECK FIX) are replicated verbatim.

use redis_module::Context;

/// The internal command that replays a decision.
pub const APPLY: &str = "TASKDB.APPLY";

/// Propagates a decision taken at `now` in namespace `ns`.
pub fn decision(ctx: &Context, ns: &[u8], now: i64, verb: &str, args: &[&[u8]]) {
    let now = now.to_string();
    let mut all: Vec<&[u8]> = Vec::with_capacity(args.len() + 3);
    all.push(ns);
    all.push(now.as_bytes());
    all.push(verb.as_bytes());
    all.extend_from_slice(args);
    ctx.replicate(APPLY, all.as_slice());
}

/// Propagates the running command as it was sent (it is deterministic).
pub fn verbatim(ctx: &Context) {
    ctx.replicate_verbatim();
}
