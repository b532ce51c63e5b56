//! A namespace key as a command uses it: opened for reading or writing, the value created
//! when a command makes the namespace, and after a change the same epilogue for every
//! command — signal the key (WATCH, client-side caching), wake blocked workers, publish
//! keyspace events, refresh the registry, free big deleted jobs off the main thread.

use crate::datatype::TYPE;
use crate::error::{escape, Error, Result};
use crate::{registry, store};
use redis_module::key::{RedisKey, RedisKeyWritable};
use redis_module::{Context, RedisString};
use taskdb_core::{Job, Namespace, TaskState, STATES};

/// Opens the namespace in `name` for reading: `None` when the key does not exist.
pub fn read<'k>(key: &'k RedisKey, name: &RedisString) -> Result<Option<&'k Namespace>> {
    key.get_value::<Namespace>(&TYPE)
        .map_err(|_| Error::WrongType(escape(name.as_slice())))
}

/// Opens the namespace key `name` for reading.
pub fn open_read(ctx: &Context, name: &RedisString) -> RedisKey {
    ctx.open_key(name)
}

/// Opens the namespace key `name` for writing.
pub fn open_write(ctx: &Context, name: &RedisString) -> RedisKeyWritable {
    ctx.open_key_writable(name)
}

/// The namespace in a key opened for writing: `None` when the key does not exist.
pub fn write<'k>(
    key: &'k RedisKeyWritable,
    name: &RedisString,
) -> Result<Option<&'k mut Namespace>> {
    key.get_value::<Namespace>(&TYPE)
        .map_err(|_| Error::WrongType(escape(name.as_slice())))
}

/// The namespace in a key opened for writing, created empty if the key does not exist.
pub fn write_or_create<'k>(
    ctx: &Context,
    key: &'k RedisKeyWritable,
    name: &RedisString,
) -> Result<&'k mut Namespace> {
    if write(key, name)?.is_none() {
        key.set_value(&TYPE, Namespace::new())
            .map_err(|_| Error::WrongType(escape(name.as_slice())))?;
        if let Some(ns) = write(key, name)? {
            registry::register(ns, store::selected_db(ctx), name.as_slice(), ns);
        }
    }
    write(key, name)?.ok_or_else(|| Error::refused("the namespace could not be created"))
}

/// Whether keyspace notifications or the detail channel want this command's changes.
pub fn prepare(ns: &mut Namespace) {
    ns.log_changes(crate::config::events_wanted());
}

/// After a command changed `ns` (in key `name`): signal the key, wake workers waiting for
/// the worker types that gained ready work, publish the states entered, refresh the
/// registry. A namespace left with nothing is removed with its key.
pub fn changed(ctx: &Context, key: &RedisKeyWritable, name: &RedisString, ns: &mut Namespace) {
    let effects = ns.effects();
    store::signal_modified(ctx, name);
    if !effects.woken.is_empty()
        && crate::block::any_waiting()
        && crate::info::any_blocked_for(effects.woken.iter().map(|&wt| ns.worker_type_name(wt)))
    {
        store::signal_ready(ctx, name);
    }
    if effects.entered != 0 {
        for s in TaskState::ALL {
            if effects.entered & (1 << s as u16) != 0 {
                store::notify(ctx, event_name(s), name);
            }
        }
        for s in taskdb_core::JobState::ALL {
            if effects.entered & (1 << (taskdb_core::ns::JOB_BIT + s as u16)) != 0 {
                store::notify(ctx, job_event_name(s), name);
            }
        }
    }
    if let (Some(changes), Some(channel)) = (&effects.changes, crate::config::event_channel()) {
        for c in changes {
            publish_change(ctx, channel.as_bytes(), name, c);
        }
    }
    ns.clear_effects();
    if ns.is_empty() {
        registry::forget(ns);
        let _ = key.delete();
        return;
    }
    registry::sync(ns, store::selected_db(ctx), name.as_slice(), ns);
}

/// Publishes one change on the event channel: `<ns> <job_id> <task_id> <state>`, or
/// `<ns> <job_id> - job_<state>` for a job.
fn publish_change(ctx: &Context, channel: &[u8], name: &RedisString, c: &taskdb_core::ns::Change) {
    let mut m = name.as_slice().to_vec();
    m.push(b' ');
    m.extend_from_slice(&taskdb_core::error::uuid_bytes(c.job));
    m.push(b' ');
    match &c.task {
        Some(t) => {
            m.extend_from_slice(t);
            m.push(b' ');
            m.extend_from_slice(c.state.as_bytes());
        }
        None => {
            m.extend_from_slice(b"- job_");
            m.extend_from_slice(c.state.as_bytes());
        }
    }
    store::publish(ctx, channel, &m);
}

/// The keyspace event published when a task enters `s`.
pub fn event_name(s: TaskState) -> &'static str {
    [
        "taskdb.pending",
        "taskdb.ready",
        "taskdb.running",
        "taskdb.done",
        "taskdb.failed",
        "taskdb.cancelled",
    ][s as usize]
}

/// The keyspace event published when a job enters `s`.
pub fn job_event_name(s: taskdb_core::JobState) -> &'static str {
    ["taskdb.job_running", "taskdb.job_done", "taskdb.job_failed"][s as usize]
}

/// Jobs with more tasks than this are freed on a background thread.
const LAZY_TASKS: usize = 1024;

/// Frees deleted jobs: small ones here, big ones on a background thread (Redis'
/// allocator is thread-safe; `used_memory` falls once they are freed).
pub fn free_jobs(jobs: Vec<Job>) {
    let tasks: usize = jobs.iter().map(Job::task_count).sum();
    if tasks <= LAZY_TASKS {
        drop(jobs);
        return;
    }
    static DROPPER: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Vec<Job>>>> =
        std::sync::OnceLock::new();
    let tx = DROPPER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<Job>>();
        let _ = std::thread::Builder::new()
            .name("taskdb-lazyfree".into())
            .spawn(move || {
                for jobs in rx {
                    drop(jobs);
                }
            });
        std::sync::Mutex::new(tx)
    });
    let sent = tx.lock().map(|t| t.send(jobs));
    if let Ok(Err(back)) = sent {
        drop(back.0);
    }
}

/// Tasks per state, summed (for INFO).
pub fn add_counts(into: &mut [i64; STATES], from: &[i64; STATES]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}
