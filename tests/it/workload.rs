//! A random workload that exercises every writing command, for the replication, AOF and
//! cluster tests.

use crate::common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TYPES: [&str; 3] = ["aux", "cpu", "gpu"];

/// Runs `steps` random operations in `db`'s namespace; every reply is checked for sanity.
pub fn run(db: &mut Ns, seed: u64, steps: usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut streams: Vec<(String, &str)> = Vec::new();
    for (i, wt) in TYPES.iter().enumerate() {
        let user = format!("user{}", i % 2);
        let id: String = db.q(
            "GET_OR_CREATE_STREAM",
            &[wt, &rng.gen_range(0..3).to_string(), "1.5", &user],
        );
        streams.push((id, wt));
    }
    let mut jobs: Vec<String> = Vec::new();
    let mut running: Vec<(String, String)> = Vec::new();
    for step in 0..steps {
        let op = rng.gen_range(0..100);
        let (stream, _) = streams[rng.gen_range(0..streams.len())].clone();
        match op {
            0..=11 => {
                let timeout = if rng.gen_bool(0.3) { "0" } else { "60" };
                let j: String = db.q(
                    "CREATE_JOB",
                    &[&stream, r#"{"k":1}"#, "2", timeout, "user0"],
                );
                jobs.push(j);
            }
            12..=29 if !jobs.is_empty() => {
                let j = jobs[rng.gen_range(0..jobs.len())].clone();
                let prereq = if rng.gen_bool(0.7) {
                    r#"["init"]"#
                } else {
                    "[]"
                };
                let name = format!("t{step}");
                let mut c = redis::cmd("TASKDB.CREATE_TASK");
                c.arg(&db.ns)
                    .arg(&j)
                    .arg(&name)
                    .arg(&stream)
                    .arg("{}")
                    .arg(prereq)
                    .arg("1")
                    .arg("60");
                let _: redis::RedisResult<String> = c.query(&mut db.c); // done jobs refuse
            }
            30..=54 => {
                let wt = TYPES[rng.gen_range(0..TYPES.len())];
                if let Some(t) = db.claim(wt) {
                    running.push(t);
                }
            }
            55..=74 if !running.is_empty() => {
                let (j, t) = running.swap_remove(rng.gen_range(0..running.len()));
                let _: i64 = db.q("DONE", &[&j, &t, r#"{"out":true}"#]);
            }
            75..=79 if !running.is_empty() => {
                let (j, t) = running.swap_remove(rng.gen_range(0..running.len()));
                let _: i64 = db.q("FAILED", &[&j, &t, "worker crashed"]);
            }
            80..=84 if !running.is_empty() => {
                let (j, t) = running[rng.gen_range(0..running.len())].clone();
                let _: i64 = db.q("PROGRESS", &[&j, &t, &format!("{:.2}", rng.gen::<f64>())]);
            }
            85..=88 if !running.is_empty() => {
                let (j, t) = running.swap_remove(rng.gen_range(0..running.len()));
                let _: i64 = db.q("RETRY", &[&j, &t]);
            }
            89..=92 => {
                let _: i64 = db.q("REQUEUE", &["5"]);
            }
            93..=94 if !jobs.is_empty() => {
                let j = jobs.swap_remove(rng.gen_range(0..jobs.len()));
                let _: i64 = db.q("DELETE_JOB", &[&j]);
                running.retain(|(rj, _)| rj != &j);
            }
            95 => {
                let _: i64 = db.q("CLEAR_COMPLETED", &[]);
                // A claim listed twice (requeued, claimed again, done) may name a job
                // deleted now: reports on it would answer NOTFOUND.
                running.retain(|(j, _)| db.q::<redis::Value>("JOB", &[j]) != redis::Value::Nil);
                if rng.gen_bool(0.5) {
                    let _: i64 = db.q("CLEAR_STREAMS", &[]);
                    // Streams left without tasks are gone: each type's stream again.
                    for (i, (id, wt)) in streams.iter_mut().enumerate() {
                        let user = format!("user{}", i % 2);
                        *id = db.q("GET_OR_CREATE_STREAM", &[wt, "1", "1.5", &user]);
                    }
                }
            }
            97 if !jobs.is_empty() => {
                let j = jobs[rng.gen_range(0..jobs.len())].clone();
                // CLEAR_COMPLETED may have deleted it: NOTFOUND is fine here.
                let mut c = redis::cmd("TASKDB.CANCEL_JOB");
                c.arg(&db.ns).arg(&j).arg("changed my mind");
                let _: redis::RedisResult<i64> = c.query(&mut db.c);
                if rng.gen_bool(0.5) {
                    let mut c = redis::cmd("TASKDB.RETRY_JOB");
                    c.arg(&db.ns).arg(&j);
                    let _: redis::RedisResult<i64> = c.query(&mut db.c);
                }
            }
            99 => {
                // A migrated job with a ready and a running task.
                let j = format!("7e57a11e-0000-4000-8000-{step:012}");
                let now = db.server_ms().to_string();
                let _: i64 = db.q("RESTORE_JOB", &[&j, "running", "user1", &now]);
                let _: i64 = db.q(
                    "RESTORE_TASK",
                    &[&j, "a", &stream, "{}", "[]", "ready", "1", "60", &now],
                );
                let _: i64 = db.q(
                    "RESTORE_TASK",
                    &[
                        &j,
                        "b",
                        &stream,
                        "{}",
                        "[]",
                        "running",
                        "1",
                        "0",
                        &now,
                        "STARTED_AT",
                        &now,
                    ],
                );
                jobs.push(j);
            }
            98 if rng.gen_bool(0.3) => {
                // An operator pauses or resumes a stream or a worker type.
                let verb = if rng.gen_bool(0.5) { "PAUSE" } else { "RESUME" };
                let wt = TYPES[rng.gen_range(0..TYPES.len())];
                let _: i64 = if rng.gen_bool(0.5) {
                    db.q(verb, &["STREAM", &stream])
                } else {
                    db.q(verb, &["TYPE", wt])
                };
            }
            98 if !running.is_empty() => {
                let (j, t) = running[rng.gen_range(0..running.len())].clone();
                let _: i64 = db.q("HEARTBEAT", &[&j, &t]);
            }
            96 => {
                // A transaction of several commands replicates as one.
                let mut p = redis::pipe();
                p.atomic()
                    .cmd("TASKDB.CREATE_STREAM")
                    .arg(&db.ns)
                    .arg("aux")
                    .arg("1")
                    .arg("1")
                    .arg("user2")
                    .cmd("TASKDB.REQUEST_WORK")
                    .arg(&db.ns)
                    .arg("aux");
                let _: redis::Value = p.query(&mut db.c).unwrap();
            }
            _ => {
                let v = db.check();
                assert!(v.is_empty(), "step {step}: CHECK found {v:?}");
            }
        }
    }
    assert!(db.check().is_empty());
}
