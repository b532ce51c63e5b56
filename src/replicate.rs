//! What TaskDB sends to replicas and the AOF: `TASKDB.APPLY <ns> <decision>`, the
//! primary's decision packed in one argument (`taskdb_core::decision`), with its ids,
//! choices and time. Replicas and AOF loading replay it through the core without deciding
//! again (see `apply.rs`). A command that changes nothing replicates nothing. One
//! argument per decision keeps propagation cheap (Redis' cost is mostly per argument).

use redis_module::{Context, RedisString};
use taskdb_core::Decision;

/// Propagates a decision taken at `now` in namespace `ns`.
pub fn decision(ctx: &Context, ns: &RedisString, d: &Decision, now: i64) {
    crate::store::replicate_decision(ctx, ns, &d.encode(now));
}
