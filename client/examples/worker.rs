//! A worker loop: waits inside Redis for a task of its type, runs it, reports the result.
//!
//! Run against a TaskDB server (scripts/run.sh starts one on 127.0.0.1:6379):
//! `cargo run -p taskdb-redis --example worker -- redis://127.0.0.1:6379 cpu`

use serde_json::json;
use std::time::Duration;
use taskdb_redis::{RedisTaskDB, TaskDbErr};

#[tokio::main]
async fn main() -> Result<(), TaskDbErr> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let worker_type = args.next().unwrap_or_else(|| "cpu".into());
    let db = RedisTaskDB::new(&url).await?;
    println!(
        "worker of type {worker_type} on {url}, namespace {}",
        db.namespace()
    );
    loop {
        // Wait up to 5 s for work; a real worker would also stop on a signal.
        let Some(task) = db
            .request_work_wait(&worker_type, Duration::from_secs(5))
            .await?
        else {
            println!("idle");
            continue;
        };
        println!(
            "running {}/{}: {}",
            task.job_id, task.task_id, task.task_def
        );
        // Report progress now and then: it renews the task's lease.
        db.update_task_progress(&task.job_id, &task.task_id, 0.5)
            .await?;
        let output = json!({ "worker": worker_type, "task": task.task_id });
        db.update_task_done(&task.job_id, &task.task_id, output)
            .await?;
    }
}
