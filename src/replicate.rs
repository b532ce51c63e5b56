//! What TaskDB sends to replicas and the AOF: `TASKDB.APPLY <ns> <decision>`, the
//! primary's decision packed in one argument (`taskdb_core::decision`), with its ids,
//! choices and time. Replicas and AOF loading replay it through the core without deciding
//! again (see `apply.rs`). A command that changes nothing replicates nothing. One
//! argument per decision keeps propagation cheap (Redis' cost is mostly per argument).

use redis_module::{Context, RedisString};
use taskdb_core::Decision;

/// Propagates a decision taken at `now` in namespace `ns`.
pub fn decision(ctx: &Context, ns: &RedisString, d: &Decision, now: i64) {
    crate::reply::with_scratch(|buf| {
        d.encode_into(now, buf);
        crate::store::replicate_decision(ctx, ns, buf);
    });
}

/// Propagates REQUEST_WORK's claims (job, task, holder) taken at `now` in namespace `ns`,
/// packed as `Decision::Claims` without collecting them first.
pub fn claims<'c>(
    ctx: &Context,
    ns: &RedisString,
    claims: impl ExactSizeIterator<Item = taskdb_core::decision::ClaimOf<'c>>,
    now: i64,
) {
    crate::reply::with_scratch(|buf| {
        Decision::encode_claims_into(now, claims, buf);
        crate::store::replicate_decision(ctx, ns, buf);
    });
}
