//! Copying TaskDB data between the PostgreSQL TaskDB and TaskDB on Redis, both ways, so
//! that work in flight continues after the move: ready tasks stay requestable, running
//! tasks keep their leases, pending tasks are released by their prerequisites.
//!
//! It reads and writes the PostgreSQL TaskDB's tables as they are: `streams`, `jobs`,
//! `tasks`, `task_deps`. Into Redis it writes with `TASKDB.RESTORE_*` (each entity as it
//! is, idempotent); out of Redis it reads with `TASKDB.STREAMS/JOBS/JOB_TASKS` (paged) and the
//! per-entity queries. A copy refuses a target that already holds data unless forced, and
//! is safe to re-run (existing rows and entities are skipped, never duplicated).
//!
//! Timestamps travel at millisecond precision (TaskDB's resolution). A `cancelled` task
//! (a state the PostgreSQL TaskDB does not have) is written to PostgreSQL as `failed`.

use crate::{pairs, RedisTaskDB, TaskDbErr};
use redis::Value;
use std::time::Instant;
use thiserror::Error;
use tokio_postgres::Client;
use uuid::Uuid;

/// What a migration can fail with.
#[derive(Debug, Error)]
pub enum MigrationError {
    /// PostgreSQL said no.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// Redis or the module said no.
    #[error("{0}")]
    TaskDb(#[from] TaskDbErr),
    /// The target holds data and the copy was not forced.
    #[error("the target is not empty ({0}); pass --force to copy into it anyway")]
    NotEmpty(String),
    /// A value that does not fit the other side.
    #[error("bad data: {0}")]
    Data(String),
}

/// Rows or entities copied per table (existing ones skipped are not counted).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Streams.
    pub streams: u64,
    /// Jobs.
    pub jobs: u64,
    /// Tasks.
    pub tasks: u64,
    /// Dependency links.
    pub task_deps: u64,
    /// Entities that already existed in the target.
    pub skipped: u64,
}

/// How to run a copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Copy into a target that already holds data.
    pub force: bool,
    /// Print progress to stderr.
    pub progress: bool,
}

struct Progress {
    on: bool,
    what: &'static str,
    total: u64,
    done: u64,
    last: Instant,
}

impl Progress {
    fn new(on: bool, what: &'static str, total: u64) -> Progress {
        Progress {
            on,
            what,
            total,
            done: 0,
            last: Instant::now(),
        }
    }

    fn step(&mut self) {
        self.done += 1;
        if self.on && (self.done == self.total || self.last.elapsed().as_millis() >= 500) {
            self.last = Instant::now();
            let pct = (self.done * 100).checked_div(self.total).unwrap_or(100);
            eprintln!("  {}: {}/{} ({pct}%)", self.what, self.done, self.total);
        }
    }
}

fn reply<T: redis::FromRedisValue>(v: &Value) -> Result<T, MigrationError> {
    T::from_redis_value(v).map_err(|e| MigrationError::Data(e.to_string()))
}

/// Runs `name ns args…` where it belongs: on a sharded TaskDB, a stream is written to
/// every shard, a job and its tasks to the job's shard (its id is `args[0]`).
async fn call(db: &RedisTaskDB, name: &str, args: &[&str]) -> Result<Value, MigrationError> {
    let job = |a: &[&str]| {
        let id = a.first().copied().unwrap_or_default();
        Uuid::parse_str(id).map_err(|_| MigrationError::Data(format!("not a job id '{id}'")))
    };
    let targets: Vec<&str> = match name {
        "TASKDB.RESTORE_STREAM" => db.namespaces().iter().map(String::as_str).collect(),
        "TASKDB.STREAM" => vec![db.layout.home()],
        _ => vec![db.layout.of_job(&job(args)?)],
    };
    let mut first = None;
    for ns in targets {
        let mut c = redis::cmd(name);
        c.arg(ns);
        for a in args {
            c.arg(*a);
        }
        let v = db.run(c).await?;
        first.get_or_insert(v);
    }
    Ok(first.unwrap_or(Value::Nil))
}

/// Every job id, of every shard.
async fn all_jobs(db: &RedisTaskDB) -> Result<Vec<String>, MigrationError> {
    let mut out = Vec::new();
    for ns in db.namespaces() {
        out.extend(db.list_on(ns, "TASKDB.JOBS", &[], &[]).await?);
    }
    Ok(out)
}

/// Copies every stream, job, task and dependency link from PostgreSQL into Redis.
pub async fn postgres_to_redis(
    pg: &Client,
    db: &RedisTaskDB,
    opts: Options,
) -> Result<Counts, MigrationError> {
    let streams = db.list("TASKDB.STREAMS", &[], &[]).await?;
    let jobs = all_jobs(db).await?;
    if !opts.force && (!streams.is_empty() || !jobs.is_empty()) {
        return Err(MigrationError::NotEmpty(format!(
            "namespace '{}' has {} streams and {} jobs",
            db.namespace(),
            streams.len(),
            jobs.len()
        )));
    }
    let mut counts = Counts::default();
    let rows = pg
        .query(
            "SELECT id, worker_type, reserved, be_mult, user_id FROM streams ORDER BY id",
            &[],
        )
        .await?;
    let mut p = Progress::new(opts.progress, "streams", rows.len() as u64);
    for r in rows {
        let (id, wt, reserved, be_mult, user): (Uuid, String, i32, f32, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        let done: i64 = reply(
            &call(
                db,
                "TASKDB.RESTORE_STREAM",
                &[
                    &id.to_string(),
                    &wt,
                    &reserved.to_string(),
                    &be_mult.to_string(),
                    &user,
                ],
            )
            .await?,
        )?;
        if done == 1 {
            counts.streams += 1;
        } else {
            counts.skipped += 1;
        }
        p.step();
    }
    let rows = pg
        .query(
            "SELECT j.id, j.state::text, j.error, j.user_id, j.reported, \
             (SELECT (EXTRACT(EPOCH FROM MIN(t.job_created_at)) * 1000)::bigint FROM tasks t WHERE t.job_id = j.id) AS created \
             FROM jobs j ORDER BY created NULLS LAST, j.id",
            &[],
        )
        .await?;
    let mut p = Progress::new(opts.progress, "jobs", rows.len() as u64);
    for r in rows {
        let (id, state, error, user, reported, created): (
            Uuid,
            String,
            Option<String>,
            String,
            bool,
            Option<i64>,
        ) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
        let id = id.to_string();
        let created = created.unwrap_or(0).to_string();
        let reported = reported.to_string();
        let mut args: Vec<&str> = vec![&id, &state, &user, &created, "REPORTED", &reported];
        if let Some(e) = &error {
            args.extend_from_slice(&["ERROR", e]);
        }
        let done: i64 = reply(&call(db, "TASKDB.RESTORE_JOB", &args).await?)?;
        if done == 1 {
            counts.jobs += 1;
        } else {
            counts.skipped += 1;
        }
        p.step();
    }
    let ms = |c: &str| format!("(EXTRACT(EPOCH FROM {c}) * 1000)::bigint");
    let sql = format!(
        "SELECT job_id, task_id, stream_id, task_def::text, prerequisites::text, state::text, {}, {}, {}, \
         waiting_on, progress, retries, max_retries, timeout_secs, output::text, error \
         FROM tasks ORDER BY job_created_at, job_id, created_at, task_id",
        ms("created_at"),
        ms("started_at"),
        ms("updated_at")
    );
    let rows = pg.query(sql.as_str(), &[]).await?;
    let mut p = Progress::new(opts.progress, "tasks", rows.len() as u64);
    for r in rows {
        let job: Uuid = r.get(0);
        let task: String = r.get(1);
        let stream: Uuid = r.get(2);
        let (def, pre, state): (String, String, String) = (r.get(3), r.get(4), r.get(5));
        let (created, started, updated): (i64, Option<i64>, Option<i64>) =
            (r.get(6), r.get(7), r.get(8));
        let (waiting, progress, retries, max_retries, timeout): (i32, f32, i32, i32, i32) =
            (r.get(9), r.get(10), r.get(11), r.get(12), r.get(13));
        let (output, error): (Option<String>, Option<String>) = (r.get(14), r.get(15));
        let prereqs: Vec<String> =
            serde_json::from_str(&pre).map_err(|e| MigrationError::Data(e.to_string()))?;
        let (job, stream) = (job.to_string(), stream.to_string());
        let nums = [
            max_retries.to_string(),
            timeout.to_string(),
            created.to_string(),
            waiting.to_string(),
            progress.to_string(),
            retries.to_string(),
        ];
        let mut args: Vec<&str> = vec![
            &job, &task, &stream, &def, &pre, &state, &nums[0], &nums[1], &nums[2],
        ];
        args.extend_from_slice(&[
            "WAITING_ON",
            &nums[3],
            "PROGRESS",
            &nums[4],
            "RETRIES",
            &nums[5],
        ]);
        let (s, u) = (
            started.map(|v| v.to_string()),
            updated.map(|v| v.to_string()),
        );
        if let Some(s) = &s {
            args.extend_from_slice(&["STARTED_AT", s]);
        }
        if let Some(u) = &u {
            args.extend_from_slice(&["UPDATED_AT", u]);
        }
        if let Some(o) = &output {
            args.extend_from_slice(&["OUTPUT", o]);
        }
        if let Some(e) = &error {
            args.extend_from_slice(&["ERROR", e]);
        }
        let done: i64 = reply(&call(db, "TASKDB.RESTORE_TASK", &args).await?)?;
        if done == 1 {
            counts.tasks += 1;
            counts.task_deps += prereqs.len() as u64;
        } else {
            counts.skipped += 1;
        }
        p.step();
    }
    Ok(counts)
}

/// Copies every stream, job, task and dependency link from Redis into PostgreSQL.
pub async fn redis_to_postgres(
    db: &RedisTaskDB,
    pg: &Client,
    opts: Options,
) -> Result<Counts, MigrationError> {
    let row = pg
        .query_one(
            "SELECT (SELECT count(*) FROM streams) + (SELECT count(*) FROM jobs)",
            &[],
        )
        .await?;
    let existing: i64 = row.get(0);
    if !opts.force && existing > 0 {
        return Err(MigrationError::NotEmpty(format!(
            "PostgreSQL holds {existing} streams and jobs"
        )));
    }
    let mut counts = Counts::default();
    let streams = db.list("TASKDB.STREAMS", &[], &[]).await?;
    let mut p = Progress::new(opts.progress, "streams", streams.len() as u64);
    for id in &streams {
        let f = pairs(&call(db, "TASKDB.STREAM", &[id]).await?)?;
        let get = |k: &str| {
            f.get(k)
                .cloned()
                .ok_or_else(|| MigrationError::Data(format!("stream {id}: {k}")))
        };
        let num = |k: &str| {
            get(k)?
                .parse::<f32>()
                .map_err(|_| MigrationError::Data(format!("stream {id}: {k}")))
        };
        let uid = Uuid::parse_str(id).map_err(|e| MigrationError::Data(e.to_string()))?;
        let mut priority = match get("priority")?.as_str() {
            "inf" => f32::INFINITY,
            v => v
                .parse()
                .map_err(|_| MigrationError::Data(format!("stream {id}: priority")))?,
        };
        let (mut running, mut ready) = (num("running")?, num("ready")?);
        if db.shard_count().is_some() {
            // The stream's counts over every shard, and its priority from them.
            for ns in &db.namespaces()[1..] {
                let v = db
                    .run(crate::cmd_on(ns, "TASKDB.STREAM").arg(id).clone())
                    .await?;
                if v != Value::Nil {
                    let g = pairs(&v)?;
                    let n = |k: &str| g.get(k).and_then(|x| x.parse::<f32>().ok()).unwrap_or(0.0);
                    running += n("running");
                    ready += n("ready");
                }
            }
            let (reserved, be_mult) = (num("reserved")?, num("be_mult")?);
            priority = if ready <= 0.0 {
                f32::INFINITY
            } else if running >= reserved {
                (running - reserved) / be_mult
            } else {
                (running - reserved) / reserved
            };
        }
        let n = pg
            .execute(
                "INSERT INTO streams (id, worker_type, reserved, be_mult, user_id, running, ready, priority) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
                &[
                    &uid,
                    &get("worker_type")?,
                    &(num("reserved")? as i32),
                    &num("be_mult")?,
                    &get("user_id")?,
                    &(running as i32),
                    &(ready as i32),
                    &priority,
                ],
            )
            .await?;
        if n == 1 {
            counts.streams += 1;
        } else {
            counts.skipped += 1;
        }
        p.step();
    }
    let jobs = all_jobs(db).await?;
    let mut p = Progress::new(opts.progress, "jobs", jobs.len() as u64);
    for id in &jobs {
        let uid = Uuid::parse_str(id).map_err(|e| MigrationError::Data(e.to_string()))?;
        let f = pairs(&call(db, "TASKDB.JOB", &[id]).await?)?;
        let get = |k: &str| {
            f.get(k)
                .cloned()
                .ok_or_else(|| MigrationError::Data(format!("job {id}: {k}")))
        };
        let reported = f.get("reported").cloned();
        let created_ms: i64 = get("created_at")?
            .parse()
            .map_err(|_| MigrationError::Data(format!("job {id}: created_at")))?;
        let n = pg
            .execute(
                "INSERT INTO jobs (id, state, error, user_id, reported) VALUES ($1, $2::text::job_state, $3, $4, $5) \
                 ON CONFLICT (id) DO NOTHING",
                &[&uid, &get("state")?, &f.get("error"), &get("user_id")?, &(reported.as_deref() == Some("true"))],
            )
            .await?;
        if n == 1 {
            counts.jobs += 1;
        } else {
            counts.skipped += 1;
        }
        let tasks = db
            .list_on(db.layout.of_job(&uid), "TASKDB.JOB_TASKS", &[id], &[])
            .await?;
        for task in &tasks {
            let t = pairs(&call(db, "TASKDB.TASK", &[id, task]).await?)?;
            let tget = |k: &str| {
                t.get(k)
                    .cloned()
                    .ok_or_else(|| MigrationError::Data(format!("task {id}/{task}: {k}")))
            };
            let tnum = |k: &str| -> Result<i64, MigrationError> {
                tget(k)?
                    .parse()
                    .map_err(|_| MigrationError::Data(format!("task {id}/{task}: {k}")))
            };
            let opt_ms = |k: &str| {
                t.get(k)
                    .and_then(|v| v.parse::<i64>().ok())
                    .map(|v| v as f64 / 1000.0)
            };
            let state = match tget("state")?.as_str() {
                "cancelled" => "failed".to_string(),
                s => s.to_string(),
            };
            let stream = Uuid::parse_str(&tget("stream_id")?)
                .map_err(|e| MigrationError::Data(e.to_string()))?;
            let progress: f32 = tget("progress")?
                .parse()
                .map_err(|_| MigrationError::Data("progress".into()))?;
            let n = pg
                .execute(
                    "INSERT INTO tasks (job_id, task_id, stream_id, task_def, prerequisites, state, created_at, started_at, \
                     updated_at, waiting_on, progress, retries, max_retries, timeout_secs, output, error, job_created_at) \
                     VALUES ($1, $2, $3, $4::text::jsonb, $5::text::jsonb, $6::text::task_state, \
                     to_timestamp($7) AT TIME ZONE 'UTC', to_timestamp($8) AT TIME ZONE 'UTC', \
                     to_timestamp($9) AT TIME ZONE 'UTC', $10, $11, $12, $13, $14, $15::text::jsonb, $16, \
                     to_timestamp($17) AT TIME ZONE 'UTC') ON CONFLICT (job_id, task_id) DO NOTHING",
                    &[
                        &uid,
                        task,
                        &stream,
                        &tget("task_def")?,
                        &tget("prerequisites")?,
                        &state,
                        &(tnum("created_at")? as f64 / 1000.0),
                        &opt_ms("started_at"),
                        &opt_ms("updated_at"),
                        &(tnum("waiting_on")? as i32),
                        &progress,
                        &(tnum("retries")? as i32),
                        &(tnum("max_retries")? as i32),
                        &(tnum("timeout_secs")? as i32),
                        &t.get("output"),
                        &t.get("error"),
                        &(created_ms as f64 / 1000.0),
                    ],
                )
                .await?;
            if n == 1 {
                counts.tasks += 1;
            } else {
                counts.skipped += 1;
            }
            let prereqs: Vec<String> = serde_json::from_str(&tget("prerequisites")?)
                .map_err(|e| MigrationError::Data(e.to_string()))?;
            for pre in &prereqs {
                counts.task_deps += pg
                    .execute(
                        "INSERT INTO task_deps (job_id, pre_task_id, post_task_id) SELECT $1, $2, $3 \
                         WHERE NOT EXISTS (SELECT 1 FROM task_deps WHERE job_id = $1 AND pre_task_id = $2 AND post_task_id = $3)",
                        &[&uid, pre, task],
                    )
                    .await?;
            }
        }
        p.step();
    }
    Ok(counts)
}
