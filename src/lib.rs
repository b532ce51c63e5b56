//! TaskDB: the task database of a compute cluster, as a Redis module.
//!
//! Users own streams (one per worker type, with reserved workers and a best-effort
//! multiplier), submit jobs that grow into DAGs of tasks, and workers claim and report
//! tasks. A namespace is one key holding a `taskdb-ns` value (`datatype.rs`); the
//! scheduler itself is the pure `taskdb-core` crate. Every command parses and validates
//! its arguments, calls the core, replicates what was decided and replies.
//!
//! Layout: `args` (parsing), `error` (replies), `reply` (reply shapes), `store` (the FFI
//! edge), `datatype` (the type's callbacks), `namespace` (a command's key and the
//! epilogue after a change), `registry` (where namespaces are), one file per command
//! family (`streams`, `jobs`, `tasks`, `work`, `maintenance`, `inspect`, `restore`),
//! `replicate` and `apply` (replication of decisions), and one per background duty or
//! operator view (`block`, `reaper`, `info`), `config`, `alloc`, and `commands` (the
//! command table: syntax, documentation, TASKDB.HELP).

pub mod alloc;
pub mod apply;
pub mod args;
pub mod block;
pub mod commands;
pub mod config;
pub mod datatype;
pub mod error;
pub mod info;
pub mod inspect;
pub mod jobs;
pub mod maintenance;
pub mod namespace;
pub mod reaper;
pub mod registry;
pub mod replicate;
pub mod reply;
pub mod restore;
pub mod retention;
pub mod store;
pub mod streams;
pub mod tasks;
pub mod work;

use datatype::TYPE as TASKDB_TYPE;
use redis_module::configuration::ConfigurationFlags;
use redis_module::{redis_module, Context, RedisResult, RedisString, Status};
use std::panic::{catch_unwind, AssertUnwindSafe};

type Handler = fn(&Context, &[RedisString]) -> error::Result<redis_module::RedisValue>;

/// Runs a handler so that neither an error nor a panic escapes into Redis: errors become
/// replies with a code, a panic becomes an `ERR internal error` reply and a log line.
fn guard(ctx: &Context, args: &[RedisString], f: Handler) -> RedisResult {
    match catch_unwind(AssertUnwindSafe(|| f(ctx, args))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            replay_failed(ctx, args, &e);
            Err(e.into())
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            ctx.log_warning(&format!("TaskDB internal error: {msg}"));
            Err(error::Error::refused(format!(
                "internal error: {msg}; run TASKDB.CHECK to verify the namespace"
            ))
            .into())
        }
    }
}

/// A command that fails while the server loads its AOF replays a write the primary made
/// and acknowledged: the AOF does not match the data. Redis would log it and carry on
/// without that write; TaskDB stops the load instead, as Redis does for a corrupt AOF. On
/// a replica the error goes back to the replication link, where Redis logs it and applies
/// `propagation-error-behavior`; TaskDB logs it too.
fn replay_failed(ctx: &Context, args: &[RedisString], e: &error::Error) {
    let flags = ctx.get_flags();
    let loading = flags.contains(redis_module::ContextFlags::LOADING);
    if !loading && !flags.contains(redis_module::ContextFlags::REPLICATED) {
        return;
    }
    let shown: Vec<String> = args.iter().map(|a| error::shorten(a.as_slice())).collect();
    let what = format!("TaskDB cannot replay '{}': {e}", shown.join(" "));
    if loading {
        ctx.log_warning(&format!(
            "{what}. The AOF does not match the data it was written on; stopping rather than \
             loading without this write. Repair the AOF (redis-check-aof) or restore a backup."
        ));
        std::process::exit(1);
    }
    ctx.log_warning(&format!(
        "{what}. This replica's data differs from its primary's."
    ));
}

macro_rules! commands {
    ($($name:ident => $f:path),* $(,)?) => {
        $(
            fn $name(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
                guard(ctx, &args, $f)
            }
        )*
    };
}

commands! {
    cmd_create_stream => streams::create_stream,
    cmd_get_or_create_stream => streams::get_or_create_stream,
    cmd_get_stream => streams::get_stream,
    cmd_stream => streams::stream,
    cmd_streams => inspect::streams,
    cmd_jobs => inspect::jobs,
    cmd_job_tasks => inspect::job_tasks,
    cmd_schedule => inspect::schedule,
    cmd_queue => inspect::queue,
    cmd_leases => inspect::leases,
    cmd_metrics => inspect::metrics,
    cmd_create_job => jobs::create_job,
    cmd_job_state => jobs::job_state,
    cmd_job_unresolved => jobs::job_unresolved,
    cmd_concurrent_jobs => jobs::concurrent_jobs,
    cmd_job_time => jobs::job_time,
    cmd_job_failure => jobs::job_failure,
    cmd_job => jobs::job,
    cmd_delete_job => jobs::delete_job,
    cmd_cancel_job => jobs::cancel_job,
    cmd_retry_job => jobs::retry_job,
    cmd_pause => streams::pause,
    cmd_resume => streams::resume,
    cmd_clear_completed => jobs::clear_completed,
    cmd_clear_streams => streams::clear_streams,
    cmd_elsewhere => streams::elsewhere,
    cmd_create_task => tasks::create_task,
    cmd_task => tasks::task,
    cmd_task_output => tasks::task_output,
    cmd_request_work => work::request_work,
    cmd_done => work::done_cmd,
    cmd_failed => work::failed_cmd,
    cmd_progress => work::progress_cmd,
    cmd_retry => work::retry_cmd,
    cmd_give_back => work::give_back,
    cmd_heartbeat => work::heartbeat_cmd,
    cmd_requeue => work::requeue,
    cmd_check => maintenance::check,
    cmd_repair => maintenance::repair,
    cmd_restore_stream => restore::restore_stream,
    cmd_restore_job => restore::restore_job,
    cmd_restore_task => restore::restore_task,
    cmd_stats => maintenance::stats,
    cmd_apply => apply::apply,
    cmd_help => commands::help,
}

fn init(ctx: &Context, _args: &[RedisString]) -> Status {
    store::init_detached(ctx);
    store::no_implicit_signal(ctx);
    store::subscribe(ctx, store::ServerEvent::FlushDb, registry::on_flush);
    store::subscribe(ctx, store::ServerEvent::SwapDb, registry::on_swap);
    reaper::start(ctx);
    info::init(ctx);
    commands::describe(ctx);
    ctx.log_notice("TaskDB loaded");
    Status::Ok
}

// Every allocation goes through Redis' allocator (once loaded), so a namespace's memory
// shows in used_memory and counts against maxmemory.
type Alloc = alloc::Alloc;
const ALLOC: Alloc = alloc::Alloc;

// Commands carry ACL categories where the server can set them (Redis 7.2+), so `+@read`
// works there; on 7.0 list the commands (README, "Access control").
const W: &str = "write deny-oom";
const WF: &str = "write deny-oom fast";
// Accepted at maxmemory, as DEL is: they free memory (DELETE_JOB, CLEAR_COMPLETED, CLEAR_STREAMS,
// CANCEL_JOB) or only rewrite a leased task's fixed-size state (HEARTBEAT, PROGRESS,
// RETRY, GIVE_BACK), so an operator can make room and workers keep their leases.
const WM: &str = "write";
const WMF: &str = "write fast";
const R: &str = "readonly";
const RF: &str = "readonly fast";

redis_module! {
    name: "taskdb",
    version: 1,
    allocator: (Alloc, ALLOC),
    data_types: [TASKDB_TYPE],
    init: init,
    commands: [
        ["TASKDB.CREATE_STREAM", cmd_create_stream, WF, 1, 1, 1, "", "write"],
        ["TASKDB.GET_OR_CREATE_STREAM", cmd_get_or_create_stream, WF, 1, 1, 1, "", "write"],
        ["TASKDB.GET_STREAM", cmd_get_stream, RF, 1, 1, 1, "", "read"],
        ["TASKDB.STREAM", cmd_stream, RF, 1, 1, 1, "", "read"],
        ["TASKDB.STREAMS", cmd_streams, R, 1, 1, 1, "", "read"],
        ["TASKDB.JOBS", cmd_jobs, R, 1, 1, 1, "", "read"],
        ["TASKDB.JOB_TASKS", cmd_job_tasks, R, 1, 1, 1, "", "read"],
        ["TASKDB.SCHEDULE", cmd_schedule, R, 1, 1, 1, "", "read"],
        ["TASKDB.QUEUE", cmd_queue, R, 1, 1, 1, "", "read"],
        ["TASKDB.LEASES", cmd_leases, R, 1, 1, 1, "", "read"],
        ["TASKDB.METRICS", cmd_metrics, R, 1, 1, 1, "", "read"],
        ["TASKDB.CREATE_JOB", cmd_create_job, WF, 1, 1, 1, "", "write"],
        ["TASKDB.JOB_STATE", cmd_job_state, RF, 1, 1, 1, "", "read"],
        ["TASKDB.JOB_UNRESOLVED", cmd_job_unresolved, RF, 1, 1, 1, "", "read"],
        ["TASKDB.CONCURRENT_JOBS", cmd_concurrent_jobs, RF, 1, 1, 1, "", "read"],
        ["TASKDB.JOB_TIME", cmd_job_time, RF, 1, 1, 1, "", "read"],
        ["TASKDB.JOB_FAILURE", cmd_job_failure, RF, 1, 1, 1, "", "read"],
        ["TASKDB.JOB", cmd_job, RF, 1, 1, 1, "", "read"],
        ["TASKDB.DELETE_JOB", cmd_delete_job, WM, 1, 1, 1, "", "write"],
        ["TASKDB.CANCEL_JOB", cmd_cancel_job, WM, 1, 1, 1, "", "write"],
        ["TASKDB.RETRY_JOB", cmd_retry_job, W, 1, 1, 1, "", "write"],
        ["TASKDB.PAUSE", cmd_pause, WF, 1, 1, 1, "", "write"],
        ["TASKDB.RESUME", cmd_resume, WF, 1, 1, 1, "", "write"],
        ["TASKDB.CLEAR_COMPLETED", cmd_clear_completed, WM, 1, 1, 1, "", "write"],
        ["TASKDB.CLEAR_STREAMS", cmd_clear_streams, WM, 1, 1, 1, "", "write"],
        ["TASKDB.ELSEWHERE", cmd_elsewhere, WM, 1, 1, 1, "", "write"],
        ["TASKDB.CREATE_TASK", cmd_create_task, W, 1, 1, 1, "", "write"],
        ["TASKDB.TASK", cmd_task, RF, 1, 1, 1, "", "read"],
        ["TASKDB.TASK_OUTPUT", cmd_task_output, RF, 1, 1, 1, "", "read"],
        ["TASKDB.REQUEST_WORK", cmd_request_work, W, 1, 1, 1, "", "write"],
        ["TASKDB.DONE", cmd_done, W, 1, 1, 1, "", "write"],
        ["TASKDB.FAILED", cmd_failed, WF, 1, 1, 1, "", "write"],
        ["TASKDB.PROGRESS", cmd_progress, WMF, 1, 1, 1, "", "write"],
        ["TASKDB.RETRY", cmd_retry, WMF, 1, 1, 1, "", "write"],
        ["TASKDB.GIVE_BACK", cmd_give_back, WMF, 1, 1, 1, "", "write"],
        ["TASKDB.HEARTBEAT", cmd_heartbeat, WMF, 1, 1, 1, "", "write"],
        ["TASKDB.REQUEUE", cmd_requeue, W, 1, 1, 1, "", "write"],
        ["TASKDB.CHECK", cmd_check, R, 1, 1, 1, "", "read"],
        ["TASKDB.REPAIR", cmd_repair, W, 1, 1, 1, "", "write"],
        ["TASKDB.RESTORE_STREAM", cmd_restore_stream, W, 1, 1, 1, "", "write"],
        ["TASKDB.RESTORE_JOB", cmd_restore_job, W, 1, 1, 1, "", "write"],
        ["TASKDB.RESTORE_TASK", cmd_restore_task, W, 1, 1, 1, "", "write"],
        ["TASKDB.STATS", cmd_stats, R, 1, 1, 1, "", "read"],
        ["TASKDB.APPLY", cmd_apply, W, 1, 1, 1, "", "write"],
        ["TASKDB.HELP", cmd_help, RF, 0, 0, 0, "", "read"],
    ],
    event_handlers: [
        [@GENERIC: registry::on_key_event],
    ],
    configurations: [
        i64: [
            ["requeue-interval-ms", &config::REQUEUE_INTERVAL_MS, 1000, 0, 3_600_000, ConfigurationFlags::DEFAULT, Some(Box::new(reaper::on_interval_changed))],
            ["retention-done-secs", &config::RETENTION_DONE_SECS, 0, 0, 315_360_000, ConfigurationFlags::DEFAULT, Some(Box::new(config::on_retention_changed))],
            ["retention-failed-secs", &config::RETENTION_FAILED_SECS, 0, 0, 315_360_000, ConfigurationFlags::DEFAULT, Some(Box::new(config::on_retention_changed))],
            ["max-name-bytes", &config::MAX_NAME_BYTES, 1024, 1, 65_536, ConfigurationFlags::DEFAULT, None],
            ["max-payload-bytes", &config::MAX_PAYLOAD_BYTES, 16 << 20, 1, 512 << 20, ConfigurationFlags::MEMORY, None],
            ["max-prerequisites", &config::MAX_PREREQUISITES, 10_000, 0, 10_000_000, ConfigurationFlags::DEFAULT, None],
        ],
        string: [
            ["event-channel", &config::EVENT_CHANNEL, "", ConfigurationFlags::DEFAULT, Some(Box::new(config::on_event_channel_changed))],
        ],
        bool: [],
        enum: [
            ["scheduling", &config::SCHEDULING, config::Scheduling::fair, ConfigurationFlags::DEFAULT, None],
        ],
        module_args_as_configuration: true,
    ]
}
