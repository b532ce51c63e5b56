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

/// A reply value whose wire form depends on the client's protocol: maps are maps in RESP3
/// and flat field/value arrays in RESP2; a field whose value is [`Val::Null`] is null in
/// RESP3 and left out in RESP2 (so `HashMap<String, String>` readers work); doubles are
/// doubles in RESP3 and their shortest exact text in RESP2 (`0.046`, not Redis 7.0's
/// `0.045999999999999999`).
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    /// An integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// A bulk string.
    Bytes(&'a [u8]),
    /// A bulk string owned by the reply.
    Owned(Vec<u8>),
    /// Null (an absent value).
    Null,
    /// Named fields, in this order.
    Map(Vec<(&'a str, Val<'a>)>),
    /// Items.
    Array(Vec<Val<'a>>),
}

/// Writes `v` to the client and returns `RedisValue::NoReply` for the command to return.
pub fn send(ctx: &Context, v: &Val) -> RedisValue {
    let resp3 = ctx
        .get_flags()
        .contains(redis_module::ContextFlags::FLAGS_RESP3);
    write(ctx, v, resp3);
    RedisValue::NoReply
}

fn write(ctx: &Context, v: &Val, resp3: bool) {
    match v {
        Val::Int(n) => int(ctx, *n),
        Val::Double(x) if resp3 => {
            // SAFETY: ctx is the running command's.
            unsafe { api(raw::RedisModule_ReplyWithDouble)(ctx.ctx, *x) };
        }
        Val::Double(x) => bulk(ctx, format_double(*x).as_bytes()),
        Val::Bytes(b) => bulk(ctx, b),
        Val::Owned(b) => bulk(ctx, b),
        Val::Null => {
            // SAFETY: ctx is the running command's.
            unsafe { api(raw::RedisModule_ReplyWithNull)(ctx.ctx) };
        }
        Val::Map(fields) => {
            let shown = |(_, v): &&(&str, Val)| resp3 || *v != Val::Null;
            let n = fields.iter().filter(shown).count();
            // SAFETY: ctx is the running command's; RESP2 clients get an array of 2n.
            unsafe { api(raw::RedisModule_ReplyWithMap)(ctx.ctx, n as std::os::raw::c_long) };
            for (k, v) in fields.iter().filter(shown) {
                bulk(ctx, k.as_bytes());
                write(ctx, v, resp3);
            }
        }
        Val::Array(items) => {
            array(ctx, items.len());
            for v in items {
                write(ctx, v, resp3);
            }
        }
    }
}

fn opt_int(v: Option<i64>) -> Val<'static> {
    v.map_or(Val::Null, Val::Int)
}

fn opt_bytes(v: Option<&[u8]>) -> Val<'_> {
    v.map_or(Val::Null, Val::Bytes)
}

/// TASKDB.STREAM's reply.
pub fn stream<'a>(s: &StreamView<'a>) -> Val<'a> {
    use taskdb_core::TaskState;
    Val::Map(vec![
        ("worker_type", Val::Bytes(s.worker_type)),
        ("reserved", Val::Int(s.reserved)),
        ("be_mult", Val::Double(s.be_mult)),
        ("user_id", Val::Bytes(s.user)),
        ("ready", Val::Int(s.counts[TaskState::Ready as usize])),
        ("running", Val::Int(s.counts[TaskState::Running as usize])),
        ("priority", Val::Double(s.priority)),
        ("pending", Val::Int(s.counts[TaskState::Pending as usize])),
        ("done", Val::Int(s.counts[TaskState::Done as usize])),
        ("failed", Val::Int(s.counts[TaskState::Failed as usize])),
        (
            "cancelled",
            Val::Int(s.counts[TaskState::Cancelled as usize]),
        ),
        ("created_at", Val::Int(s.created_at)),
        ("paused", Val::Int(i64::from(s.paused))),
    ])
}

/// TASKDB.TASK's reply: every field in a fixed order, null (RESP3) or left out (RESP2)
/// where unset.
pub fn task<'a>(t: &TaskView<'a>) -> Val<'a> {
    Val::Map(vec![
        ("state", Val::Bytes(t.state.as_str().as_bytes())),
        (
            "stream_id",
            Val::Owned(taskdb_core::error::uuid_bytes(t.stream).to_vec()),
        ),
        ("task_def", Val::Bytes(t.def)),
        (
            "prerequisites",
            Val::Owned(taskdb_core::tasks::json_list(t.prereqs.iter().copied())),
        ),
        ("waiting_on", Val::Int(t.waiting_on.into())),
        ("progress", Val::Double(t.progress)),
        ("retries", Val::Int(t.retries.into())),
        ("max_retries", Val::Int(t.max_retries.into())),
        ("timeout_secs", Val::Int(t.timeout_secs.into())),
        ("output", opt_bytes(t.output)),
        ("error", opt_bytes(t.error)),
        ("created_at", Val::Int(t.created_at)),
        ("started_at", opt_int(t.started_at)),
        ("updated_at", opt_int(t.updated_at)),
        ("attempt", Val::Int(t.attempt.into())),
        ("worker_id", opt_bytes(t.worker)),
    ])
}

/// TASKDB.JOB's reply.
pub fn job<'a>(j: &JobView<'a>) -> Val<'a> {
    Val::Map(vec![
        ("state", Val::Bytes(j.state.as_str().as_bytes())),
        ("error", opt_bytes(j.error)),
        ("user_id", Val::Bytes(j.user)),
        ("created_at", Val::Int(j.created_at)),
        ("priority", Val::Bytes(j.priority.as_str().as_bytes())),
        ("tasks", Val::Int(j.tasks as i64)),
        ("unresolved", Val::Int(j.unresolved)),
        (
            "reported",
            j.reported.map_or(Val::Null, |r| {
                Val::Bytes(if r { b"true" } else { b"false" })
            }),
        ),
    ])
}

/// One of CHECK's violations: `kind` and its fields, as a map.
pub fn violation<'a>(kind: &'a str, items: &'a [(&'static str, Vec<u8>)]) -> Val<'a> {
    let mut out = Vec::with_capacity(items.len() + 1);
    out.push(("kind", Val::Bytes(kind.as_bytes())));
    out.extend(items.iter().map(|(f, v)| (*f, Val::Bytes(v))));
    Val::Map(out)
}
