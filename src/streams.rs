//! Streams: a user's share of one worker type (reserved workers, best-effort multiplier).
//!
//! `TASKDB.CREATE_STREAM`, `TASKDB.GET_OR_CREATE_STREAM`, `TASKDB.GET_STREAM`, `TASKDB.STREAM`.

use crate::args::Args;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::keys::field;
use crate::model;
use crate::replicate;
use crate::store::{now_ms, Kind, Val};
use redis_module::{Context, RedisString, RedisValue};

/// A stream's creation arguments, validated.
pub struct NewStream<'a> {
    /// Worker type.
    pub worker_type: &'a [u8],
    /// Reserved workers.
    pub reserved: i64,
    /// Reserved workers, as sent (replicated as is).
    pub reserved_arg: &'a [u8],
    /// Best-effort multiplier.
    pub be_mult: f64,
    /// Best-effort multiplier, as sent (replicated as is).
    pub be_mult_arg: &'a [u8],
    /// Owner.
    pub user_id: &'a [u8],
}

impl<'a> NewStream<'a> {
    /// Parses `worker_type reserved be_mult user_id`.
    pub fn parse(a: &mut Args<'a>) -> Result<Self> {
        let worker_type = a.name("worker_type")?;
        let reserved_arg = a.bytes()?;
        let reserved = crate::args::int("reserved", reserved_arg, 0, i32::MAX.into())?;
        let be_mult_arg = a.bytes()?;
        let be_mult = crate::args::float("be_mult", be_mult_arg, "a finite number > 0", |x| {
            x.is_finite() && x > 0.0
        })?;
        let user_id = a.name("user_id")?;
        Ok(NewStream {
            worker_type,
            reserved,
            reserved_arg,
            be_mult,
            be_mult_arg,
            user_id,
        })
    }

    /// The arguments as replicated after the stream id.
    pub fn to_args(&self) -> [&'a [u8]; 4] {
        [
            self.worker_type,
            self.reserved_arg,
            self.be_mult_arg,
            self.user_id,
        ]
    }
}

/// Writes a new stream with id `id`. Fails if the id is taken.
pub fn insert(db: &Db, id: &str, s: &NewStream, now: i64) -> Result<()> {
    let k = db.open(db.keys.stream(id), true, Kind::Hash)?;
    if k.exists() {
        return Err(Error::Exists(format!("stream '{id}' already exists")));
    }
    let streams = db.open(db.keys.streams(), true, Kind::Hash)?;
    let by_user = db.open(db.keys.user_streams(s.user_id), true, Kind::Hash)?;
    let be_mult = s.be_mult;
    let seq = db.next_seq()?;
    let sched = model::StreamSched {
        reserved: s.reserved,
        be_mult,
        seq,
        counts: [0; model::STATES],
        worker_type: s.worker_type.to_vec(),
    };
    k.hmset(&[
        (&field::SCHED, Val::Bytes(sched.pack().bytes())),
        (&field::WORKER_TYPE, Val::Bytes(s.worker_type)),
        (&field::RESERVED, Val::Int(s.reserved)),
        (
            &field::BE_MULT,
            Val::Bytes(model::format_double(be_mult).as_bytes()),
        ),
        (&field::USER_ID, Val::Bytes(s.user_id)),
        (&field::CREATED_AT, Val::Int(now)),
    ]);
    streams.hset(id.as_bytes(), s.worker_type);
    crate::info::note_namespace(db.ctx, db.keys.ns());
    if by_user.hget(s.worker_type).is_none() {
        by_user.hset(s.worker_type, id.as_bytes());
    }
    Ok(())
}

fn create(ctx: &Context, db: &Db, ns: &[u8], s: &NewStream) -> Result<String> {
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let now = now_ms();
    insert(db, &id, s, now)?;
    let mut all: Vec<&[u8]> = vec![id.as_bytes()];
    all.extend_from_slice(&s.to_args());
    replicate::decision(ctx, ns, now, "CREATE_STREAM", &all);
    Ok(id)
}

fn existing(db: &Db, user_id: &[u8], worker_type: &[u8]) -> Result<Option<Vec<u8>>> {
    Ok(db
        .open(db.keys.user_streams(user_id), false, Kind::Hash)?
        .hget(worker_type)
        .map(|v| v.to_vec()))
}

/// `TASKDB.CREATE_STREAM ns worker_type reserved be_mult user_id` -> stream id
pub fn create_stream(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.CREATE_STREAM ns worker_type reserved be_mult user_id";
    let mut a = Args::new(args, USAGE, 5, 5)?;
    let (ns, keys) = a.ns()?;
    let s = NewStream::parse(&mut a)?;
    let db = Db::new(ctx, keys);
    Ok(RedisValue::BulkString(create(ctx, &db, ns, &s)?))
}

/// `TASKDB.GET_OR_CREATE_STREAM ns worker_type reserved be_mult user_id` -> stream id
pub fn get_or_create_stream(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.GET_OR_CREATE_STREAM ns worker_type reserved be_mult user_id";
    let mut a = Args::new(args, USAGE, 5, 5)?;
    let (ns, keys) = a.ns()?;
    let s = NewStream::parse(&mut a)?;
    let db = Db::new(ctx, keys);
    if let Some(id) = existing(&db, s.user_id, s.worker_type)? {
        return Ok(RedisValue::StringBuffer(id));
    }
    Ok(RedisValue::BulkString(create(ctx, &db, ns, &s)?))
}

/// `TASKDB.GET_STREAM ns user_id worker_type` -> stream id or nil
pub fn get_stream(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.GET_STREAM ns user_id worker_type";
    let mut a = Args::new(args, USAGE, 3, 3)?;
    let (_, keys) = a.ns()?;
    let user_id = a.id("user_id")?;
    let worker_type = a.id("worker_type")?;
    let db = Db::new(ctx, keys);
    Ok(existing(&db, user_id, worker_type)?.map_or(RedisValue::Null, RedisValue::StringBuffer))
}

/// `TASKDB.STREAM ns stream_id` -> field/value pairs or nil
pub fn stream(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    const USAGE: &str = "TASKDB.STREAM ns stream_id";
    let mut a = Args::new(args, USAGE, 2, 2)?;
    let (_, keys) = a.ns()?;
    let id = a.uuid("stream_id")?;
    let db = Db::new(ctx, keys);
    let k = db.open(db.keys.stream(&id), false, Kind::Hash)?;
    let Some(s) = db.read_stream(&id, &k)? else {
        return Ok(RedisValue::Null);
    };
    let [be_mult, user_id] = k.hmget([&field::BE_MULT, &field::USER_ID]);
    let text = |v: Option<crate::store::RStr>| v.map_or_else(Vec::new, |v| v.to_vec());
    Ok(crate::reply::pairs(vec![
        ("worker_type".into(), s.worker_type.clone()),
        ("reserved".into(), s.reserved.to_string().into_bytes()),
        ("be_mult".into(), text(be_mult)),
        ("user_id".into(), text(user_id)),
        ("ready".into(), s.ready().to_string().into_bytes()),
        ("running".into(), s.running().to_string().into_bytes()),
        (
            "priority".into(),
            model::format_double(s.priority()).into_bytes(),
        ),
    ]))
}

/// `TASKDB.STREAMS ns` -> the ids of every stream of the namespace (for tools)
pub fn streams(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, "TASKDB.STREAMS ns", 1, 1)?;
    let (_, keys) = a.ns()?;
    let db = Db::new(ctx, keys);
    let registry = db
        .open(db.keys.streams(), false, Kind::Hash)?
        .hgetall(ctx)?;
    Ok(RedisValue::Array(
        registry
            .into_iter()
            .map(|(id, _)| RedisValue::StringBuffer(id))
            .collect(),
    ))
}
