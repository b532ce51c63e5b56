//! `TASKDB.APPLY ns <decision>`: replays on replicas and at AOF load what the primary
//! decided (`taskdb_core::decision`), with the primary's time and choices, so the
//! replica's namespace is the primary's. It is never validated against this node's
//! limits (the primary accepted it) and must apply: a decision that changes nothing here
//! is an error, never a skipped write; while loading the AOF it stops the server (see
//! `lib.rs`), as Redis does for a corrupt AOF. Clients cannot call it.

use crate::args::Args;
use crate::error::{Error, Result};
use crate::namespace::{changed, open_write, write, write_or_create};
use crate::store::mono_ms;
use redis_module::{Context, ContextFlags, RedisString, RedisValue};
use taskdb_core::Decision;

const USAGE: &str = crate::commands::usage::APPLY;

/// `TASKDB.APPLY ns decision` -> OK (internal)
pub fn apply(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let flags = ctx.get_flags();
    if !flags.contains(ContextFlags::REPLICATED) && !flags.contains(ContextFlags::LOADING) {
        return Err(Error::refused(
            "TASKDB.APPLY is internal: it replays the primary's decisions on replicas and from the AOF",
        ));
    }
    let mut a = Args::new(args, USAGE, 2, 2)?;
    let name = a.ns()?;
    let (d, now) = Decision::decode(a.bytes()?)?;
    let key = open_write(ctx, name);
    let ns = if d.creates() {
        write_or_create(ctx, &key, name)?
    } else {
        write(&key, name)?.ok_or_else(|| {
            Error::refused(format!(
                "a replayed decision does not apply: namespace '{}' does not exist",
                crate::error::shorten(name.as_slice())
            ))
        })?
    };
    crate::namespace::prepare(ns);
    ns.replay(&d, now, mono_ms())?;
    changed(ctx, &key, name, ns);
    ctx.replicate_verbatim();
    Ok(crate::reply::ok(ctx))
}
