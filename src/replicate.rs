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

/// The internal command that replays a decision.
pub const APPLY: &str = "TASKDB.APPLY";

/// Propagates a decision taken at `now` in namespace `ns`, with its arguments.
pub fn decision(ctx: &Context, ns: &[u8], now: i64, verb: &str, args: &[&[u8]]) {
    let now = now.to_string();
    let mut head: Vec<&[u8]> = Vec::with_capacity(args.len() + 3);
    head.extend_from_slice(&[ns, now.as_bytes(), verb.as_bytes()]);
    head.extend_from_slice(args);
    store::replicate_apply(ctx, &head, &[]);
}

/// Propagates a decision whose arguments are the command's own after the namespace
/// (`argv[2..]`), passed through without copying.
pub fn decision_as_sent(ctx: &Context, argv: &[RedisString], now: i64, verb: &str) {
    let now = now.to_string();
    let ns = argv.get(1).map_or(&b""[..], |a| a.as_slice());
    store::replicate_apply(
        ctx,
        &[ns, now.as_bytes(), verb.as_bytes()],
        argv.get(2..).unwrap_or_default(),
    );
}

/// Propagates the running command as it was sent (it is deterministic).
pub fn verbatim(ctx: &Context) {
    ctx.replicate_verbatim();
}
