//! Scale: the server's cost per REQUEST_WORK and DONE as the queue, the number of streams
//! and the size of one job grow, and memory per task. Each point runs on a flushed server:
//! fill (pipelined, not measured), CONFIG RESETSTAT, then `cycles` unpipelined
//! REQUEST_WORK + DONE pairs on one connection, read back from INFO commandstats.

use crate::server::{commandstats, reset_stats, used_memory};
use redis::Connection;
use serde::Serialize;

const NS: &str = "scale";

/// One measured point.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// What was varied.
    pub axis: String,
    /// Its value.
    pub size: usize,
    /// Server µs per REQUEST_WORK.
    pub request_work_us: f64,
    /// Server µs per DONE.
    pub done_us: f64,
    /// Server µs per CREATE_TASK during the fill.
    pub create_task_us: f64,
    /// Bytes of used_memory per task created, minus the task definition.
    pub bytes_per_task: f64,
}

/// The 100-byte task definition every scale task carries (a JSON string).
pub fn task_def() -> String {
    format!("\"{}\"", "d".repeat(98))
}

fn per_call(stats: &std::collections::BTreeMap<String, (u64, u64)>, name: &str) -> f64 {
    stats.get(name).map_or(0.0, |(calls, usec)| {
        if *calls == 0 {
            0.0
        } else {
            *usec as f64 / *calls as f64
        }
    })
}

fn q(c: &mut Connection, args: &[&str]) -> redis::Value {
    crate::fill::q(c, args)
}

/// Fills `streams` streams of one worker type with `per_stream` ready tasks each, in jobs of
/// at most `job_size` tasks; returns the memory used per task.
fn fill(c: &mut Connection, streams: usize, per_stream: usize, job_size: usize) -> f64 {
    let _: () = redis::cmd("FLUSHALL").query(c).expect("FLUSHALL");
    let def = task_def();
    let before = used_memory(c);
    reset_stats(c);
    let mut ids = Vec::with_capacity(streams);
    for chunk in (0..streams).collect::<Vec<_>>().chunks(1000) {
        let mut p = redis::pipe();
        for s in chunk {
            p.cmd("TASKDB.CREATE_STREAM")
                .arg(NS)
                .arg("W")
                .arg("1")
                .arg("1")
                .arg(format!("u{s}"));
        }
        let got: Vec<String> = p.query(c).expect("streams");
        ids.extend(got);
    }
    let mut tasks = 0usize;
    for st in &ids {
        let mut left = per_stream;
        while left > 0 {
            let n = left.min(job_size);
            let job: String = redis::from_redis_value(&q(
                c,
                &["TASKDB.CREATE_JOB", NS, st, &def, "0", "3600", "u"],
            ))
            .expect("job");
            crate::fill::tasks(c, NS, &job, st, 1..n, |_| def.clone(), "[]");
            tasks += n;
            left -= n;
        }
    }
    let after = used_memory(c);
    (after - before) as f64 / tasks as f64 - def.len() as f64
}

fn measure(c: &mut Connection, cycles: usize) -> (f64, f64) {
    reset_stats(c);
    for _ in 0..cycles {
        let v: Option<(String, String, redis::Value, redis::Value, i64, i64)> =
            redis::cmd("TASKDB.REQUEST_WORK")
                .arg(NS)
                .arg("W")
                .query(c)
                .expect("REQUEST_WORK");
        let (job, task, _, _, _, _) = v.expect("a ready task");
        let _: i64 = redis::cmd("TASKDB.DONE")
            .arg(NS)
            .arg(&job)
            .arg(&task)
            .arg("{}")
            .query(c)
            .expect("DONE");
    }
    let s = commandstats(c);
    (
        per_call(&s, "taskdb.request_work"),
        per_call(&s, "taskdb.done"),
    )
}

/// One point: fill, then measure.
pub fn point(
    c: &mut Connection,
    axis: &str,
    size: usize,
    streams: usize,
    per_stream: usize,
    job_size: usize,
    cycles: usize,
) -> Point {
    let bytes = fill(c, streams, per_stream, job_size);
    let create = per_call(&commandstats(c), "taskdb.create_task");
    let (rw, done) = measure(c, cycles.min(streams * per_stream));
    Point {
        axis: axis.into(),
        size,
        request_work_us: rw,
        done_us: done,
        create_task_us: create,
        bytes_per_task: bytes,
    }
}
