//! Reply shapes shared by the commands: ids, field/value arrays of streams, jobs and tasks,
//! and doubles written as Redis writes them.

use crate::store::api;
use redis_module::{raw, Context, RedisValue};
use std::cell::RefCell;
use taskdb_core::{JobView, StreamView, TaskView};

// Direct replies: the hot commands write their reply straight to the client instead of
// building a `RedisValue` tree (each of its strings an allocation), then return
// `RedisValue::NoReply`. Only once every write succeeded, so an error still replaces it.

/// Replies `+OK`.
pub fn ok(ctx: &Context) -> RedisValue {
    // SAFETY: ctx is the running command's; the message is a NUL-terminated literal.
    unsafe { api(raw::RedisModule_ReplyWithSimpleString)(ctx.ctx, c"OK".as_ptr()) };
    RedisValue::NoReply
}

/// Starts an array reply of `n` elements.
pub fn array(ctx: &Context, n: usize) {
    // SAFETY: ctx is the running command's.
    unsafe { api(raw::RedisModule_ReplyWithArray)(ctx.ctx, n as std::os::raw::c_long) };
}

/// Replies a bulk string.
pub fn bulk(ctx: &Context, b: &[u8]) {
    // SAFETY: ctx is the running command's; Redis copies the buffer before returning.
    unsafe { api(raw::RedisModule_ReplyWithStringBuffer)(ctx.ctx, b.as_ptr().cast(), b.len()) };
}

/// Replies an integer.
pub fn int(ctx: &Context, n: i64) {
    // SAFETY: ctx is the running command's.
    unsafe { api(raw::RedisModule_ReplyWithLongLong)(ctx.ctx, n) };
}

/// Replies a UUID as a bulk string.
pub fn uuid_bulk(ctx: &Context, id: u128) {
    bulk(ctx, &taskdb_core::error::uuid_bytes(id));
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a reusable byte buffer (no allocation once it has grown).
pub fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut b) => f(&mut b),
        Err(_) => f(&mut Vec::new()),
    })
}

/// A UUID as a bulk string.
pub fn uuid(id: u128) -> RedisValue {
    RedisValue::StringBuffer(taskdb_core::error::uuid_bytes(id).to_vec())
}

/// Bytes as a bulk string.
pub fn bytes(b: &[u8]) -> RedisValue {
    RedisValue::StringBuffer(b.to_vec())
}

/// Formats a double as Redis does for replies: `inf`, `-inf`, or the shortest exact form.
pub fn format_double(x: f64) -> String {
    if x == f64::INFINITY {
        "inf".into()
    } else if x == f64::NEG_INFINITY {
        "-inf".into()
    } else {
        format!("{x}")
    }
}

/// Field/value pairs: a name and its value (`None`: nil).
pub fn fields(items: Vec<(&'static str, Option<Vec<u8>>)>) -> RedisValue {
    let mut out = Vec::with_capacity(items.len() * 2);
    for (f, v) in items {
        out.push(RedisValue::SimpleStringStatic(f));
        out.push(v.map_or(RedisValue::Null, RedisValue::StringBuffer));
    }
    RedisValue::Array(out)
}

fn num(n: impl ToString) -> Option<Vec<u8>> {
    Some(n.to_string().into_bytes())
}

/// TASKDB.STREAM's reply.
pub fn stream(s: &StreamView) -> RedisValue {
    use taskdb_core::TaskState;
    fields(vec![
        ("worker_type", Some(s.worker_type.to_vec())),
        ("reserved", num(s.reserved)),
        ("be_mult", Some(format_double(s.be_mult).into_bytes())),
        ("user_id", Some(s.user.to_vec())),
        ("ready", num(s.counts[TaskState::Ready as usize])),
        ("running", num(s.counts[TaskState::Running as usize])),
        ("priority", Some(format_double(s.priority).into_bytes())),
    ])
}

/// TASKDB.TASK's reply: every field in a fixed order, nil where unset.
pub fn task(t: &TaskView) -> RedisValue {
    let opt = |v: Option<&[u8]>| v.map(<[u8]>::to_vec);
    fields(vec![
        ("state", Some(t.state.as_str().as_bytes().to_vec())),
        (
            "stream_id",
            Some(taskdb_core::error::uuid(t.stream).into_bytes()),
        ),
        ("task_def", Some(t.def.to_vec())),
        (
            "prerequisites",
            Some(taskdb_core::tasks::json_list(t.prereqs.iter().copied())),
        ),
        ("waiting_on", num(t.waiting_on)),
        ("progress", Some(format_double(t.progress).into_bytes())),
        ("retries", num(t.retries)),
        ("max_retries", num(t.max_retries)),
        ("timeout_secs", num(t.timeout_secs)),
        ("output", opt(t.output)),
        ("error", opt(t.error)),
        ("created_at", num(t.created_at)),
        ("started_at", t.started_at.and_then(num)),
        ("updated_at", t.updated_at.and_then(num)),
        ("attempt", num(t.attempt)),
        ("worker_id", opt(t.worker)),
    ])
}

/// TASKDB.JOB's reply.
pub fn job(j: &JobView) -> RedisValue {
    fields(vec![
        ("state", Some(j.state.as_str().as_bytes().to_vec())),
        ("error", j.error.map(<[u8]>::to_vec)),
        ("user_id", Some(j.user.to_vec())),
        ("created_at", num(j.created_at)),
        ("priority", Some(j.priority.as_str().as_bytes().to_vec())),
        (
            "reported",
            j.reported.map(|r| {
                if r {
                    b"true".to_vec()
                } else {
                    b"false".to_vec()
                }
            }),
        ),
    ])
}

/// A list of field/value pairs of text (CHECK's violations).
pub fn pairs(kind: &str, items: &[(&'static str, Vec<u8>)]) -> RedisValue {
    let mut out = Vec::with_capacity(items.len() * 2 + 2);
    out.push(RedisValue::BulkString("kind".into()));
    out.push(RedisValue::BulkString(kind.into()));
    for (f, v) in items {
        out.push(RedisValue::BulkString((*f).into()));
        out.push(RedisValue::StringBuffer(v.clone()));
    }
    RedisValue::Array(out)
}
