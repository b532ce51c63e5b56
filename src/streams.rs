//! Streams: a user's share of one worker type (reserved workers, best-effort multiplier).
//!
//! `TASKDB.CREATE_STREAM`, `TASKDB.GET_OR_CREATE_STREAM`, `TASKDB.GET_STREAM`,
//! `TASKDB.STREAM`, `TASKDB.CLEAR_STREAMS`, `TASKDB.PAUSE`, `TASKDB.RESUME`.

use crate::args::{self, Args};
use crate::error::Result;
use crate::namespace::{changed, open_read, open_write, prepare, read, write, write_or_create};
use crate::replicate;
use crate::reply;
use crate::store::now_ms;
use redis_module::{Context, RedisString, RedisValue};
use taskdb_core::{Decision, NewStream, PauseTarget};

/// A stream's creation arguments, validated.
pub struct Parsed<'a> {
    /// Worker type.
    pub worker_type: &'a [u8],
    /// Reserved workers.
    pub reserved: i64,
    /// Best-effort multiplier.
    pub be_mult: f64,
    /// Owner.
    pub user: &'a [u8],
}

impl<'a> Parsed<'a> {
    /// Parses `worker_type reserved be_mult user_id`.
    pub fn parse(a: &mut Args<'a>) -> Result<Self> {
        let worker_type = a.name("worker_type")?;
        let reserved = args::int("reserved", a.bytes()?, 0, i32::MAX.into())?;
        let be_mult = args::float("be_mult", a.bytes()?, "a finite number > 0", |x| {
            x.is_finite() && x > 0.0
        })?;
        let user = a.name("user_id")?;
        Ok(Parsed {
            worker_type,
            reserved,
            be_mult,
            user,
        })
    }

    /// The core's form.
    pub fn core(&self) -> NewStream<'a> {
        NewStream {
            worker_type: self.worker_type,
            reserved: self.reserved,
            be_mult: self.be_mult,
            user: self.user,
        }
    }

    /// The decision that creates it with id `id`.
    pub fn decision(&self, id: u128) -> Decision<'a> {
        Decision::CreateStream {
            id,
            worker_type: self.worker_type,
            reserved: self.reserved,
            be_mult: self.be_mult,
            user: self.user,
        }
    }
}

/// Creates stream `id` (or with `get`, returns the user's existing one): its id.
fn create(
    ctx: &Context,
    name: &RedisString,
    s: &Parsed,
    id: Option<u128>,
    get: bool,
) -> Result<Option<u128>> {
    let key = open_write(ctx, name);
    let ns = write_or_create(ctx, &key, name)?;
    if get {
        if let Some(existing) = ns.stream_of_user(s.user, s.worker_type) {
            return Ok(Some(existing));
        }
    }
    let id = match id {
        Some(id) if ns.has_stream(id) => return Ok(None),
        Some(id) => id,
        None => uuid::Uuid::new_v4().as_u128(),
    };
    let now = now_ms();
    prepare(ns);
    ns.create_stream(id, &s.core(), now)?;
    replicate::decision(ctx, name, &s.decision(id), now);
    changed(ctx, &key, name, ns);
    Ok(Some(id))
}

/// `TASKDB.CREATE_STREAM ns worker_type reserved be_mult user_id` -> stream id
pub fn create_stream(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = crate::commands::usage::CREATE_STREAM;
    let mut a = Args::new(args, USAGE, 5, 5)?;
    let name = a.ns()?;
    let s = Parsed::parse(&mut a)?;
    let id = create(ctx, name, &s, None, false)?.unwrap_or_default();
    Ok(reply::uuid(id))
}

/// `TASKDB.GET_OR_CREATE_STREAM ns worker_type reserved be_mult user_id` -> stream id
pub fn get_or_create_stream(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = crate::commands::usage::GET_OR_CREATE_STREAM;
    let mut a = Args::new(args, USAGE, 5, 5)?;
    let name = a.ns()?;
    let s = Parsed::parse(&mut a)?;
    let id = create(ctx, name, &s, None, true)?.unwrap_or_default();
    Ok(reply::uuid(id))
}

/// Writes stream `id` as it is (RESTORE_STREAM): true if written, false if it exists.
pub fn restore(ctx: &Context, name: &RedisString, id: u128, s: &Parsed) -> Result<bool> {
    Ok(create(ctx, name, s, Some(id), false)?.is_some())
}

/// `TASKDB.GET_STREAM ns user_id worker_type` -> stream id or nil
pub fn get_stream(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = crate::commands::usage::GET_STREAM;
    let mut a = Args::new(args, USAGE, 3, 3)?;
    let name = a.ns()?;
    let user = a.lookup("user_id")?;
    let worker_type = a.lookup("worker_type")?;
    let key = open_read(ctx, name);
    let found = read(&key, name)?.and_then(|ns| ns.stream_of_user(user, worker_type));
    Ok(found.map_or(RedisValue::Null, reply::uuid))
}

/// `TASKDB.STREAM ns stream_id` -> field/value pairs or nil
pub fn stream(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::STREAM, 2, 2)?;
    let name = a.ns()?;
    let id = a.id("stream_id")?;
    let key = open_read(ctx, name);
    Ok(match read(&key, name)?.and_then(|ns| ns.stream(id)) {
        Some(s) => reply::send(ctx, &reply::stream(&s)),
        None => RedisValue::Null,
    })
}

/// `TASKDB.CLEAR_STREAMS ns [COUNT n] [KEEP stream_id ...]` -> the number of streams
/// deleted: up to n (default 1000) that hold no task of any state, oldest first, as the
/// PostgreSQL TaskDB's `clear_completed_jobs` removes streams no task refers to, except
/// the streams named after KEEP. Call again until it replies 0.
pub fn clear_streams(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::CLEAR_STREAMS, 1, usize::MAX)?;
    let name = a.ns()?;
    let count = a.count(crate::jobs::CLEAR_BATCH, 100_000)?;
    let mut keep = std::collections::BTreeSet::new();
    if a.keyword("KEEP") {
        keep.insert(a.id("stream_id")?);
        while a.has_more() {
            keep.insert(a.id("stream_id")?);
        }
    }
    a.end()?;
    let key = open_write(ctx, name);
    let Some(ns) = write(&key, name)? else {
        return Ok(RedisValue::Integer(0));
    };
    prepare(ns);
    let ids = ns.empty_streams(count, &keep);
    if ids.is_empty() {
        return Ok(RedisValue::Integer(0));
    }
    ns.delete_streams(&ids)?;
    let n = ids.len() as i64;
    replicate::decision(ctx, name, &Decision::DeleteStreams(ids), now_ms());
    changed(ctx, &key, name, ns);
    Ok(RedisValue::Integer(n))
}

/// `TASKDB.ELSEWHERE ns [stream_id running ...]` -> `[stream_id, running, ...]`: tells a
/// shard of a sharded TaskDB how many tasks of each stream run on the other shards (every
/// stream not named: none), counted in its fair order, and replies what runs here. The
/// client handles send it every 50 ms by default (`SHARE_EVERY`); ids the shard lacks are passed
/// over. Replicated only when a count changed.
pub fn elsewhere(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, crate::commands::usage::ELSEWHERE, 1, usize::MAX)?;
    let name = a.ns()?;
    let mut hints = Vec::new();
    while a.has_more() {
        let id = a.id("stream_id")?;
        let n = a.int("running", 0, i64::from(i32::MAX))?;
        hints.push((id, n));
    }
    let key = open_write(ctx, name);
    let Some(ns) = write(&key, name)? else {
        return Ok(RedisValue::Array(vec![]));
    };
    prepare(ns);
    if ns.set_elsewhere(&hints) > 0 {
        replicate::decision(ctx, name, &Decision::Elsewhere(hints), now_ms());
        changed(ctx, &key, name, ns);
    } else {
        ns.clear_effects();
    }
    let mut out = Vec::new();
    for (id, n) in ns.running_streams() {
        out.push(reply::uuid(id));
        out.push(RedisValue::Integer(n));
    }
    Ok(RedisValue::Array(out))
}

/// `TASKDB.PAUSE ns STREAM stream_id|TYPE worker_type` -> 1 if it was not paused.
pub fn pause(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    set_paused(ctx, args, crate::commands::usage::PAUSE, true)
}

/// `TASKDB.RESUME ns STREAM stream_id|TYPE worker_type` -> 1 if it was paused.
pub fn resume(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    set_paused(ctx, args, crate::commands::usage::RESUME, false)
}

fn set_paused(
    ctx: &Context,
    args: &[RedisString],
    usage: &'static str,
    paused: bool,
) -> Result<RedisValue> {
    let mut a = Args::new(args, usage, 3, 3)?;
    let name = a.ns()?;
    let what = a.bytes()?;
    let (target, stream) = if what.eq_ignore_ascii_case(b"STREAM") {
        let id = a.id("stream_id")?;
        (PauseTarget::Stream(id), Some(id))
    } else if what.eq_ignore_ascii_case(b"TYPE") {
        (PauseTarget::WorkerType(a.name("worker_type")?), None)
    } else {
        return Err(taskdb_core::Error::invalid(
            "target",
            what,
            "expected STREAM stream_id or TYPE worker_type",
        )
        .into());
    };
    a.end()?;
    let key = open_write(ctx, name);
    // A worker type may be paused before its namespace has a stream; a stream must exist.
    let ns = match stream {
        Some(id) => write(&key, name)?.ok_or_else(|| taskdb_core::error::no_stream(id))?,
        None if paused => write_or_create(ctx, &key, name)?,
        None => match write(&key, name)? {
            Some(ns) => ns,
            None => return Ok(RedisValue::Integer(0)),
        },
    };
    prepare(ns);
    if !ns.set_paused(target, paused)? {
        return Ok(RedisValue::Integer(0));
    }
    let worker_type = match target {
        PauseTarget::WorkerType(w) => w,
        PauseTarget::Stream(_) => &[],
    };
    replicate::decision(
        ctx,
        name,
        &Decision::Pause {
            stream,
            worker_type,
            paused,
        },
        now_ms(),
    );
    changed(ctx, &key, name, ns);
    Ok(RedisValue::Integer(1))
}
