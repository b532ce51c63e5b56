//! The command table: each TASKDB command's syntax, summary and complexity, written once.
//! The handlers name their syntax in usage errors from [`usage`]; TASKDB.HELP lists the
//! table; and when the module loads, [`describe`] hands it to Redis
//! (`RedisModule_SetCommandInfo`, Redis 7.0): the arity Redis checks, the key spec's
//! access flags (queries `RO`, so `%R~` key permissions allow them), and the arguments
//! `COMMAND DOCS` shows and redis-cli hints from.

use crate::store::api;
use redis_module::{raw, Context};
use std::ffi::CString;
use std::os::raw::{c_char, c_int};

/// Every command's syntax, as usage errors, TASKDB.HELP and the README show it.
pub mod usage {
    #![allow(missing_docs)]
    pub const CREATE_STREAM: &str = "TASKDB.CREATE_STREAM ns worker_type reserved be_mult user_id";
    pub const GET_OR_CREATE_STREAM: &str =
        "TASKDB.GET_OR_CREATE_STREAM ns worker_type reserved be_mult user_id";
    pub const GET_STREAM: &str = "TASKDB.GET_STREAM ns user_id worker_type";
    pub const STREAM: &str = "TASKDB.STREAM ns stream_id";
    pub const STREAMS: &str = "TASKDB.STREAMS ns cursor [COUNT n]";
    pub const JOBS: &str =
        "TASKDB.JOBS ns cursor [COUNT n] [STATE running|done|failed] [USER user_id] [REV]";
    pub const JOB_TASKS: &str = "TASKDB.JOB_TASKS ns job_id cursor [COUNT n]";
    pub const SCHEDULE: &str = "TASKDB.SCHEDULE ns worker_type [COUNT n]";
    pub const QUEUE: &str = "TASKDB.QUEUE ns stream_id [COUNT n]";
    pub const LEASES: &str = "TASKDB.LEASES ns [COUNT n]";
    pub const CREATE_JOB: &str = "TASKDB.CREATE_JOB ns stream_id task_def_json max_retries timeout_secs user_id [ID uuid] [PRIORITY high|medium|low]";
    pub const JOB_STATE: &str = "TASKDB.JOB_STATE ns job_id user_id";
    pub const JOB_UNRESOLVED: &str = "TASKDB.JOB_UNRESOLVED ns job_id";
    pub const CONCURRENT_JOBS: &str = "TASKDB.CONCURRENT_JOBS ns user_id";
    pub const JOB_TIME: &str = "TASKDB.JOB_TIME ns job_id";
    pub const JOB_FAILURE: &str = "TASKDB.JOB_FAILURE ns job_id";
    pub const JOB: &str = "TASKDB.JOB ns job_id";
    pub const DELETE_JOB: &str = "TASKDB.DELETE_JOB ns job_id";
    pub const CANCEL_JOB: &str = "TASKDB.CANCEL_JOB ns job_id [reason]";
    pub const CLEAR_COMPLETED: &str = "TASKDB.CLEAR_COMPLETED ns [COUNT n] [AGE seconds]";
    pub const ELSEWHERE: &str = "TASKDB.ELSEWHERE ns [stream_id running ...]";
    pub const CLEAR_STREAMS: &str = "TASKDB.CLEAR_STREAMS ns [COUNT n] [KEEP stream_id ...]";
    pub const RETRY_JOB: &str = "TASKDB.RETRY_JOB ns job_id";
    pub const METRICS: &str = "TASKDB.METRICS ns";
    pub const GIVE_BACK: &str = "TASKDB.GIVE_BACK ns job_id task_id ATTEMPT n";
    pub const PAUSE: &str = "TASKDB.PAUSE ns STREAM|TYPE stream_id|worker_type";
    pub const RESUME: &str = "TASKDB.RESUME ns STREAM|TYPE stream_id|worker_type";
    pub const CREATE_TASK: &str = "TASKDB.CREATE_TASK ns job_id task_id stream_id task_def_json prereqs_json max_retries timeout_secs";
    pub const TASK: &str = "TASKDB.TASK ns job_id task_id";
    pub const TASK_OUTPUT: &str = "TASKDB.TASK_OUTPUT ns job_id task_id";
    pub const REQUEST_WORK: &str =
        "TASKDB.REQUEST_WORK ns worker_type [BLOCK ms] [COUNT n] [WORKER worker_id] [WITHSTREAM] [FINISHED stream_id ...]";
    pub const DONE: &str = "TASKDB.DONE ns job_id task_id output_json [ATTEMPT n]";
    pub const FAILED: &str = "TASKDB.FAILED ns job_id task_id error [ATTEMPT n]";
    pub const PROGRESS: &str = "TASKDB.PROGRESS ns job_id task_id progress [ATTEMPT n]";
    pub const RETRY: &str = "TASKDB.RETRY ns job_id task_id [ATTEMPT n]";
    pub const HEARTBEAT: &str = "TASKDB.HEARTBEAT ns job_id task_id [ATTEMPT n]";
    pub const REQUEUE: &str = "TASKDB.REQUEUE ns limit";
    pub const CHECK: &str = "TASKDB.CHECK ns [CURSOR c] [COUNT n]";
    pub const REPAIR: &str = "TASKDB.REPAIR ns [CURSOR c] [COUNT n]";
    pub const RESTORE_STREAM: &str =
        "TASKDB.RESTORE_STREAM ns stream_id worker_type reserved be_mult user_id";
    pub const RESTORE_JOB: &str = "TASKDB.RESTORE_JOB ns job_id state user_id created_at_ms [ERROR error] [REPORTED true|false]";
    pub const RESTORE_TASK: &str = "TASKDB.RESTORE_TASK ns job_id task_id stream_id task_def_json prereqs_json state max_retries timeout_secs created_at_ms [WAITING_ON n] [PROGRESS p] [RETRIES n] [STARTED_AT ms] [UPDATED_AT ms] [OUTPUT json] [ERROR text] [ATTEMPT n] [WORKER id]";
    pub const STATS: &str = "TASKDB.STATS ns";
    pub const APPLY: &str = "TASKDB.APPLY ns decision";
    pub const HELP: &str = "TASKDB.HELP";
}

/// One command's documentation.
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    /// Its syntax (the name first).
    pub usage: &'static str,
    /// What it does, in a line.
    pub summary: &'static str,
    /// Its time complexity.
    pub complexity: &'static str,
    /// Whether it only reads its namespace (its key spec is then `RO`).
    pub read_only: bool,
}

const fn doc(
    usage: &'static str,
    summary: &'static str,
    complexity: &'static str,
    read_only: bool,
) -> Doc {
    Doc {
        usage,
        summary,
        complexity,
        read_only,
    }
}

const R: bool = true;
const W: bool = false;

/// Every command, in the README's order.
pub const DOCS: &[Doc] = &[
    doc(usage::CREATE_STREAM, "Creates a stream: a user's share of one worker type; replies its id.", "O(log N)", W),
    doc(usage::GET_OR_CREATE_STREAM, "The user's first stream of the worker type, created if there is none.", "O(log N)", W),
    doc(usage::GET_STREAM, "The user's first stream of the worker type, or nil.", "O(log N)", R),
    doc(usage::STREAM, "A stream's settings, counts and priority.", "O(log N)", R),
    doc(usage::STREAMS, "Lists stream ids, oldest first, a page at a time.", "O(COUNT)", R),
    doc(usage::JOBS, "Lists job ids, oldest first (REV: newest first), a page at a time, filtered by state and user.", "O(COUNT)", R),
    doc(usage::JOB_TASKS, "Lists a job's task ids in creation order, a page at a time.", "O(COUNT)", R),
    doc(usage::SCHEDULE, "A worker type's streams with ready work, in the order REQUEST_WORK serves them.", "O(COUNT log N)", R),
    doc(usage::QUEUE, "A stream's ready tasks, in the order REQUEST_WORK hands them out.", "O(COUNT log N)", R),
    doc(usage::LEASES, "Running tasks, earliest lease deadline first.", "O(COUNT log N)", R),
    doc(usage::CREATE_JOB, "Creates a job with its init task (ready); replies the job id.", "O(log N)", W),
    doc(usage::JOB_STATE, "A job's state (running, done or failed), if it belongs to the user.", "O(log N)", R),
    doc(usage::JOB_UNRESOLVED, "How many of a job's tasks are not done.", "O(log N)", R),
    doc(usage::CONCURRENT_JOBS, "How many of the user's jobs are running.", "O(log N)", R),
    doc(usage::JOB_TIME, "Seconds from a job's first task start to its last task update.", "O(log N)", R),
    doc(usage::JOB_FAILURE, "The error a job failed with.", "O(log N)", R),
    doc(usage::JOB, "A job's state, error, owner, times and priority.", "O(log N)", R),
    doc(usage::DELETE_JOB, "Deletes a job and its tasks (a big one is freed in the background).", "O(S + R log N): its streams and running tasks", W),
    doc(usage::CANCEL_JOB, "Fails a running job on purpose; its ready and pending tasks are cancelled.", "O(S log N): its streams", W),
    doc(usage::GIVE_BACK, "Gives a running attempt's task back to ready at once, without counting a retry.", "O(log N)", W),
    doc(usage::METRICS, "Per worker type: tasks claimed, done, failed, retried, requeued, and wait and run timings.", "O(worker types)", R),
    doc(usage::PAUSE, "Pauses a stream or a worker type: REQUEST_WORK hands out none of its tasks; running ones finish.", "O(log N)", W),
    doc(usage::RESUME, "Resumes a paused stream or worker type, waking the workers waiting for it.", "O(log N)", W),
    doc(usage::RETRY_JOB, "Runs a failed or cancelled job again: failed tasks back to ready with retries reset, cancelled ones back.", "O(T): its tasks", W),
    doc(usage::CLEAR_COMPLETED, "Deletes up to COUNT done jobs (default 1000) finished at least AGE seconds ago, earliest finished first; replies how many.", "O(COUNT log N)", W),
    doc(usage::CLEAR_STREAMS, "Deletes up to COUNT streams that hold no task (default 1000), oldest first, except those after KEEP; replies how many.", "O(S log S): the streams", W),
    doc(usage::ELSEWHERE, "A sharded TaskDB's shard learns each stream's tasks running on the other shards (counted in its fair order); replies what runs here.", "O(S): the streams", W),
    doc(usage::CREATE_TASK, "Adds a task to a job, ready or pending on its prerequisites; reopens a done job.", "O(P log N): its prerequisites", W),
    doc(usage::TASK, "A task's state, definition, prerequisites, counters, output, error and times.", "O(log N + P)", R),
    doc(usage::TASK_OUTPUT, "The output of a done task.", "O(log N)", R),
    doc(usage::REQUEST_WORK, "Claims the next task of the worker type (up to COUNT; waits up to BLOCK ms).", "O(COUNT log N)", W),
    doc(usage::DONE, "Marks a ready or running task done with its output and releases its dependents.", "O(log N + D): its dependents", W),
    doc(usage::FAILED, "Fails a task and its job.", "O(S log N): the job's streams", W),
    doc(usage::PROGRESS, "Raises a task's progress and renews its lease.", "O(log N)", W),
    doc(usage::RETRY, "Sends a running task back to ready (fails it past its retry limit).", "O(log N)", W),
    doc(usage::HEARTBEAT, "Renews a task's lease without touching its progress.", "O(log N)", W),
    doc(usage::REQUEUE, "Retries up to limit running tasks whose lease ran out, earliest first.", "O(limit log N)", W),
    doc(usage::CHECK, "Checks one page of derived state against the tasks; replies the next cursor and violations.", "O(COUNT log N)", R),
    doc(usage::REPAIR, "CHECK's page, each violation repaired.", "O(COUNT log N)", W),
    doc(usage::RESTORE_STREAM, "Writes a stream as it is, with its id (migration).", "O(log N)", W),
    doc(usage::RESTORE_JOB, "Writes a job as it is, with its id, state and times (migration).", "O(log N)", W),
    doc(usage::RESTORE_TASK, "Writes a task as it is, with its state, counters, times and output (migration).", "O(P log N)", W),
    doc(usage::STATS, "Task counts per worker type and state, and job counts per state.", "O(worker types)", R),
    doc(usage::APPLY, "Internal: replays a decision of the primary on replicas and from the AOF.", "O(the decision)", W),
    doc(usage::HELP, "Lists the TASKDB commands with their syntax.", "O(1)", R),
];

/// The command's name: the first word of its syntax.
pub fn name(d: &Doc) -> &'static str {
    d.usage.split(' ').next().unwrap_or(d.usage)
}

/// One argument of a syntax, as COMMAND DOCS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// Its name.
    pub name: String,
    /// Its type: `key`, `string`, `integer`, `double`, `pure-token` or `oneof`.
    pub kind: &'static str,
    /// The keyword that introduces it (`BLOCK` of `[BLOCK ms]`).
    pub token: Option<String>,
    /// Whether it may be left out.
    pub optional: bool,
    /// A `oneof`'s choices.
    pub choices: Vec<Arg>,
    /// Whether it may repeat (`[KEEP stream_id ...]`).
    pub multiple: bool,
}

/// Whether a word of a syntax is a keyword (`COUNT`) rather than a value (`n`).
fn is_token(w: &str) -> bool {
    w.chars().all(|c| c.is_ascii_uppercase() || c == '_')
}

fn kind_of(name: &str) -> &'static str {
    match name {
        "ns" => "key",
        "reserved" | "max_retries" | "timeout_secs" | "limit" | "n" | "ms" | "created_at_ms" => {
            "integer"
        }
        "be_mult" | "progress" | "p" => "double",
        "running" => "integer",
        _ => "string",
    }
}

fn value_arg(name: &str, token: Option<&str>, optional: bool) -> Arg {
    if name.contains('|') {
        return Arg {
            name: token.unwrap_or(name).to_lowercase(),
            kind: "oneof",
            token: token.map(str::to_string),
            optional,
            choices: name
                .split('|')
                .map(|c| Arg {
                    name: c.to_string(),
                    kind: "pure-token",
                    token: Some(c.to_string()),
                    optional: false,
                    choices: vec![],
                    multiple: false,
                })
                .collect(),
            multiple: false,
        };
    }
    Arg {
        name: name.to_string(),
        kind: kind_of(name),
        token: token.map(str::to_string),
        optional,
        choices: vec![],
        multiple: false,
    }
}

/// A syntax's arguments (after the command name), and its arity for Redis: the words
/// with the name, negative ("at least") when some are optional.
pub fn parse(usage: &str) -> (Vec<Arg>, i32) {
    let mut args = Vec::new();
    let mut words = usage.split(' ').skip(1).peekable();
    let (mut required, mut optional) = (1, false);
    while let Some(w) = words.next() {
        if let Some(inner) = w.strip_prefix('[') {
            optional = true;
            let mut group = vec![inner.trim_end_matches(']').to_string()];
            let mut last = w;
            while !last.ends_with(']') {
                let Some(next) = words.next() else { break };
                group.push(next.trim_end_matches(']').to_string());
                last = next;
            }
            match group.as_slice() {
                [only] => args.push(value_arg(only, None, true)),
                [token, value] => args.push(value_arg(value, Some(token), true)),
                [token, value, dots] if dots == "..." && is_token(token) => args.push(Arg {
                    multiple: true,
                    ..value_arg(value, Some(token), true)
                }),
                [words @ .., dots] if dots == "..." && !words.is_empty() => args.push(Arg {
                    name: words.join("_"),
                    kind: "block",
                    token: None,
                    optional: true,
                    choices: words.iter().map(|w| value_arg(w, None, false)).collect(),
                    multiple: true,
                }),
                _ => args.push(value_arg(&group.join(" "), None, true)),
            }
        } else {
            required += 1;
            args.push(value_arg(w, None, false));
        }
    }
    (args, if optional { -required } else { required })
}

/// TASKDB.HELP's reply: each command's syntax, then its summary indented.
pub fn help_lines() -> Vec<String> {
    let mut out = Vec::with_capacity(DOCS.len() * 2);
    for d in DOCS {
        out.push(d.usage.to_string());
        out.push(format!("    {}", d.summary));
    }
    out
}

/// A C string that lives as long as the process (Redis keeps pointers into the info).
fn leak(s: &str) -> *const c_char {
    CString::new(s).map_or(std::ptr::null(), |c| c.into_raw().cast_const())
}

fn c_args(args: &[Arg]) -> *mut raw::RedisModuleCommandArg {
    if args.is_empty() {
        return std::ptr::null_mut();
    }
    let mut out: Vec<raw::RedisModuleCommandArg> = args
        .iter()
        .map(|a| raw::RedisModuleCommandArg {
            name: leak(&a.name),
            type_: match a.kind {
                "key" => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_KEY,
                "integer" => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_INTEGER,
                "double" => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_DOUBLE,
                "pure-token" => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_PURE_TOKEN,
                "oneof" => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_ONEOF,
                "block" => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_BLOCK,
                _ => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_STRING,
            },
            key_spec_index: if a.kind == "key" { 0 } else { -1 },
            token: a.token.as_deref().map_or(std::ptr::null(), leak),
            summary: std::ptr::null(),
            since: std::ptr::null(),
            flags: if a.optional {
                raw::REDISMODULE_CMD_ARG_OPTIONAL as c_int
            } else {
                raw::REDISMODULE_CMD_ARG_NONE as c_int
            } | if a.multiple {
                raw::REDISMODULE_CMD_ARG_MULTIPLE as c_int
            } else {
                0
            },
            deprecated_since: std::ptr::null(),
            subargs: c_args(&a.choices),
            display_text: std::ptr::null(),
        })
        .collect();
    // SAFETY: a zeroed arg (all null pointers, zero numbers) ends Redis' arg arrays.
    out.push(unsafe { std::mem::zeroed() });
    Box::leak(out.into_boxed_slice()).as_mut_ptr()
}

fn key_specs(read_only: bool) -> *mut raw::RedisModuleCommandKeySpec {
    let flags = if read_only {
        raw::REDISMODULE_CMD_KEY_RO | raw::REDISMODULE_CMD_KEY_ACCESS
    } else {
        raw::REDISMODULE_CMD_KEY_RW
            | raw::REDISMODULE_CMD_KEY_ACCESS
            | raw::REDISMODULE_CMD_KEY_UPDATE
    };
    // SAFETY: zeroed key specs are all-null/zero C structs; the second one ends the array.
    let mut specs: Vec<raw::RedisModuleCommandKeySpec> = vec![unsafe { std::mem::zeroed() }; 2];
    specs[0].flags = u64::from(flags);
    specs[0].begin_search_type = raw::RedisModuleKeySpecBeginSearchType_REDISMODULE_KSPEC_BS_INDEX;
    specs[0].bs.index = raw::RedisModuleCommandKeySpec__bindgen_ty_1__bindgen_ty_1 { pos: 1 };
    specs[0].find_keys_type = raw::RedisModuleKeySpecFindKeysType_REDISMODULE_KSPEC_FK_RANGE;
    specs[0].fk.range = raw::RedisModuleCommandKeySpec__bindgen_ty_2__bindgen_ty_1 {
        lastkey: 0,
        keystep: 1,
        limit: 0,
    };
    Box::leak(specs.into_boxed_slice()).as_mut_ptr()
}

/// Hands every command's documentation to Redis; called once while the module loads
/// (after the commands are registered). A command Redis does not know is logged.
pub fn describe(ctx: &Context) {
    let version = Box::leak(Box::new(raw::RedisModuleCommandInfoVersion {
        version: 1,
        sizeof_historyentry: std::mem::size_of::<raw::RedisModuleCommandHistoryEntry>(),
        sizeof_keyspec: std::mem::size_of::<raw::RedisModuleCommandKeySpec>(),
        sizeof_arg: std::mem::size_of::<raw::RedisModuleCommandArg>(),
    }));
    for d in DOCS {
        let c_name = CString::new(name(d)).unwrap_or_default();
        // SAFETY: ctx is the load context; c_name a NUL-terminated command name.
        let cmd = unsafe { api(raw::RedisModule_GetCommand)(ctx.ctx, c_name.as_ptr()) };
        if cmd.is_null() {
            ctx.log_warning(&format!("TaskDB: no command {} to describe", name(d)));
            continue;
        }
        let (args, arity) = parse(d.usage);
        let keyless = !args.iter().any(|a| a.kind == "key");
        let info = Box::leak(Box::new(raw::RedisModuleCommandInfo {
            version: &*version,
            summary: leak(d.summary),
            complexity: leak(d.complexity),
            since: leak(env!("CARGO_PKG_VERSION")),
            history: std::ptr::null_mut(),
            tips: std::ptr::null(),
            arity,
            key_specs: if keyless {
                std::ptr::null_mut()
            } else {
                key_specs(d.read_only)
            },
            args: c_args(&args),
        }));
        // SAFETY: cmd is this module's command; info and everything it points to are
        // leaked, so they outlive the call (and the process's use of them).
        if unsafe { api(raw::RedisModule_SetCommandInfo)(cmd, info) }
            != raw::REDISMODULE_OK as c_int
        {
            ctx.log_warning(&format!(
                "TaskDB: Redis refused the documentation of {}",
                name(d)
            ));
        }
    }
}

/// `TASKDB.HELP` -> every command's syntax and summary, as Redis' `… HELP` commands reply
pub fn help(
    _ctx: &Context,
    args: &[redis_module::RedisString],
) -> crate::error::Result<redis_module::RedisValue> {
    crate::args::Args::new(args, usage::HELP, 0, 0)?;
    Ok(redis_module::RedisValue::Array(
        help_lines()
            .into_iter()
            .map(redis_module::RedisValue::SimpleString)
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syntax_gives_its_arguments_and_arity() {
        let (args, arity) = parse(usage::REQUEST_WORK);
        assert_eq!(arity, -3);
        assert_eq!(args[0].kind, "key");
        assert_eq!(args[1].name, "worker_type");
        assert_eq!(
            (
                args[2].name.as_str(),
                args[2].kind,
                args[2].token.as_deref(),
                args[2].optional
            ),
            ("ms", "integer", Some("BLOCK"), true)
        );
        let (args, arity) = parse(usage::JOBS);
        assert_eq!(arity, -3);
        let state = &args[3];
        assert_eq!(
            (state.kind, state.token.as_deref()),
            ("oneof", Some("STATE"))
        );
        assert_eq!(state.choices.len(), 3);
        assert_eq!(parse(usage::CREATE_TASK).1, 9);
        assert_eq!(parse(usage::STATS).1, 2);
        assert_eq!(parse(usage::HELP), (vec![], 1));
        assert_eq!(parse(usage::CANCEL_JOB).0[2].name, "reason");
        let keep = &parse(usage::CLEAR_STREAMS).0[2];
        assert_eq!(
            (keep.name.as_str(), keep.token.as_deref(), keep.multiple),
            ("stream_id", Some("KEEP"), true)
        );
        let hints = &parse(usage::ELSEWHERE).0[1];
        assert_eq!(
            (hints.kind, hints.multiple, hints.choices.len()),
            ("block", true, 2)
        );
        assert_eq!(hints.choices[1].kind, "integer");
    }

    #[test]
    fn every_command_has_one_entry() {
        let mut names: Vec<&str> = DOCS.iter().map(name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
