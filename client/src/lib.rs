//! `taskdb-redis`: the async client of TaskDB on Redis, a drop-in replacement for the
//! PostgreSQL TaskDB crate.
//!
//! Every function the PostgreSQL crate offers exists here twice: as a method of
//! [`RedisTaskDB`] and as a free function taking `&RedisTaskDB` where the PostgreSQL crate
//! takes `&PgPool`, with the same names, argument order and types, and return types; its
//! [`planner`], [`test_helpers`], types and error variants are here under their names too,
//! so an application moves by changing its imports (`client/tests/pg_api.rs` is one).
//! Each call is one `TASKDB.*` command (the clearing and paging calls repeat theirs until
//! done): no scripts, no multi-step client logic.
//!
//! ```no_run
//! # async fn demo() -> Result<(), taskdb_redis::TaskDbErr> {
//! use taskdb_redis::RedisTaskDB;
//! let db = RedisTaskDB::new("redis://127.0.0.1:6379").await?; // namespace "taskdb"
//! let stream_id = db.create_stream("cpu", 2, 1.0, "user1").await?;
//! let job_id = db.create_job(&stream_id, &serde_json::json!({"image": "app"}), 3, 60, "user1").await?;
//! if let Some(task) = db.request_work("cpu").await? {
//!     db.update_task_done(&task.job_id, &task.task_id, serde_json::json!({"ok": true})).await?;
//! }
//! # let _ = job_id; Ok(()) }
//! ```

#![warn(missing_docs)]

mod conn;
mod error;
mod fanout;
mod finished;
pub mod migration;
pub mod planner;
mod shards;
mod share;
pub mod test_helpers;
mod types;

pub use conn::{cluster_seeds, CLUSTER_FAILOVER_WAIT, CLUSTER_RESPONSE_TIMEOUT};
pub use error::{MigrateError, SqlxError, TaskDbErr};
pub use shards::{record_key, shard_name, MAX_SHARDS};
pub use share::{sharer_key, SHARE_EVERY};
pub use types::{
    Attempt, FullTaskState, JobState, ReadyTask, ReadyTaskRaw, StuckTaskInfo, TaskState, INIT_TASK,
};

use error::{from_redis, not_found};
use redis::{FromRedisValue, Value};
use serde::de::DeserializeOwned;
use serde_json::Value as JsonValue;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The namespace `RedisTaskDB::new` uses.
pub const DEFAULT_NAMESPACE: &str = "taskdb";

/// A job's priority (`create_job_with_priority`): within a stream, higher first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPriority {
    /// Before medium and low.
    High,
    /// The default.
    Medium,
    /// After high and medium.
    Low,
}

impl JobPriority {
    fn as_str(self) -> &'static str {
        match self {
            JobPriority::High => "high",
            JobPriority::Medium => "medium",
            JobPriority::Low => "low",
        }
    }
}

/// A handle on one TaskDB: one namespace, or a sharded TaskDB's namespaces (see
/// [`RedisTaskDB::create_sharded`]). An auto-reconnecting multiplexed connection, cheap to
/// clone and share between tasks.
#[derive(Clone)]
pub struct RedisTaskDB {
    conn: conn::Conn,
    ns: String,
    pub(crate) layout: Arc<shards::Layout>,
    /// Replicas every write waits for, and for how long (`with_wait`).
    wait: Option<(u32, Duration)>,
}

/// The commands that only read: a handle `with_wait` sends WAIT after every other one
/// but REQUEST_WORK (see [`RedisTaskDB::with_wait`]).
const READS: [&str; 19] = [
    "TASKDB.GET_STREAM",
    "TASKDB.STREAM",
    "TASKDB.STREAMS",
    "TASKDB.JOB_STATE",
    "TASKDB.JOB_UNRESOLVED",
    "TASKDB.CONCURRENT_JOBS",
    "TASKDB.JOB_TIME",
    "TASKDB.JOB_FAILURE",
    "TASKDB.JOB",
    "TASKDB.JOBS",
    "TASKDB.JOB_TASKS",
    "TASKDB.TASK",
    "TASKDB.TASK_OUTPUT",
    "TASKDB.STATS",
    "TASKDB.CHECK",
    "TASKDB.SCHEDULE",
    "TASKDB.QUEUE",
    "TASKDB.LEASES",
    "TASKDB.METRICS",
];

fn is_write(c: &redis::Cmd) -> bool {
    match c.args_iter().next() {
        Some(redis::Arg::Simple(name)) => {
            name.starts_with(b"TASKDB.")
                && name != b"TASKDB.REQUEST_WORK"
                && !READS.iter().any(|r| r.as_bytes() == name)
        }
        _ => false,
    }
}

fn reply<T: FromRedisValue>(v: &Value) -> Result<T, TaskDbErr> {
    T::from_redis_value(v).map_err(|e| TaskDbErr::InternalErr(e.to_string()))
}

fn uuid(s: &str) -> Result<Uuid, TaskDbErr> {
    Uuid::parse_str(s).map_err(|e| TaskDbErr::InternalErr(format!("not a UUID '{s}': {e}")))
}

fn attempt(v: &Value) -> Result<Attempt, TaskDbErr> {
    let (job_id, task_id, task_def, prereqs, max_retries, attempt): (
        String,
        String,
        String,
        String,
        i64,
        i64,
    ) = reply(v)?;
    let task = ReadyTask {
        job_id: uuid(&job_id)?,
        task_id,
        task_def: serde_json::from_str(&task_def)?,
        prereqs: serde_json::from_str(&prereqs)?,
        max_retries: max_retries as i32,
    };
    Ok(Attempt { task, attempt })
}

/// A claim's reply without its WITHSTREAM element, and that stream id.
fn without_stream(v: Value) -> (Value, Option<Uuid>) {
    match v {
        Value::Array(mut items) if items.len() == 7 => {
            let stream = items
                .pop()
                .and_then(|s| String::from_redis_value(&s).ok())
                .and_then(|s| Uuid::parse_str(&s).ok());
            (Value::Array(items), stream)
        }
        v => (v, None),
    }
}

fn ready_task(v: &Value) -> Result<ReadyTask, TaskDbErr> {
    attempt(v).map(|a| a.task)
}

/// Field/value pairs of a reply as a map (nil values left out).
pub(crate) fn pairs(v: &Value) -> Result<HashMap<String, String>, TaskDbErr> {
    let items: Vec<Option<String>> = reply(v)?;
    Ok(items
        .chunks(2)
        .filter_map(|p| match p {
            [Some(k), Some(v)] => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect())
}

/// Builds a REQUEST_WORK on a namespace, blocking for the milliseconds given.
type WorkCmd<'a> = dyn Fn(&str, Option<u64>) -> redis::Cmd + Sync + 'a;

/// `TASKDB.REQUEST_WORK ns worker_type [BLOCK ms] [WORKER worker_id]`.
fn work_cmd(ns: &str, worker_type: &str, block: Option<u64>, worker: Option<&str>) -> redis::Cmd {
    let mut c = cmd_on(ns, "TASKDB.REQUEST_WORK");
    c.arg(worker_type);
    if let Some(ms) = block {
        c.arg("BLOCK").arg(ms);
    }
    if let Some(w) = worker {
        c.arg("WORKER").arg(w);
    }
    c
}

/// `name ns`.
pub(crate) fn cmd_on(ns: &str, name: &str) -> redis::Cmd {
    let mut c = redis::cmd(name);
    c.arg(ns);
    c
}

/// A connection to `url`: one server, or a `redis+cluster://` cluster.
async fn connect(url: &str) -> Result<conn::Conn, TaskDbErr> {
    Ok(match conn::cluster_seeds(url) {
        Some(seeds) => conn::Conn::cluster(seeds).await?,
        None => conn::Conn::single(url).await?,
    })
}

impl RedisTaskDB {
    /// Connects to `url`, namespace `taskdb`. `redis://host:port` is one server;
    /// `redis+cluster://host:port,host:port` a Redis Cluster through those seed nodes.
    pub async fn new(url: &str) -> Result<Self, TaskDbErr> {
        Self::with_namespace(url, DEFAULT_NAMESPACE).await
    }

    /// Connects to `url` (one server, or `redis+cluster://…`), namespace `ns` — or the
    /// sharded TaskDB `ns`, if one was created ([`RedisTaskDB::create_sharded`]): the
    /// handle reads the recorded shard count and spreads its calls over the shards.
    pub async fn with_namespace(url: &str, ns: &str) -> Result<Self, TaskDbErr> {
        Self::open(connect(url).await?, ns).await
    }

    /// Creates the sharded TaskDB `ns` with `shards` namespaces (recorded in the key
    /// `ns:shards`; see [`shard_name`]), or opens it if it exists with that count, and
    /// returns a handle on it. Every call of the API works on it as on one namespace: a
    /// job and its tasks live on one shard, chosen from the job id; streams are on every
    /// shard; workers draw from all shards; counts are summed. Fails if `ns` exists with
    /// another shard count, or as a namespace of its own.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), taskdb_redis::TaskDbErr> {
    /// use taskdb_redis::RedisTaskDB;
    /// let url = "redis+cluster://10.0.0.1:6379,10.0.0.2:6379";
    /// let db = RedisTaskDB::create_sharded(url, "proving", 16).await?;
    /// // Later, anywhere: the same logical TaskDB, its shard count read from Redis.
    /// let worker = RedisTaskDB::with_namespace(url, "proving").await?;
    /// # let _ = (db, worker); Ok(()) }
    /// ```
    pub async fn create_sharded(url: &str, ns: &str, shards: u32) -> Result<Self, TaskDbErr> {
        shards::validate(ns, shards).map_err(TaskDbErr::InternalErr)?;
        let db = Self::plain(connect(url).await?, ns);
        let mut ty = redis::cmd("TYPE");
        ty.arg(ns);
        if reply::<String>(&db.run(ty).await?)? != "none" {
            return Err(TaskDbErr::InternalErr(format!(
                "'{ns}' exists as a key of its own (an unsharded namespace?): choose another name for the sharded TaskDB"
            )));
        }
        let mut set = redis::cmd("SET");
        set.arg(record_key(ns)).arg(shards).arg("NX");
        db.run(set).await?;
        match db.recorded_shards().await? {
            Some(n) if n == shards => Self::open(db.conn, ns).await,
            Some(n) => Err(TaskDbErr::InternalErr(format!(
                "the sharded TaskDB '{ns}' has {n} shards, not {shards}"
            ))),
            None => Err(TaskDbErr::InternalErr(format!(
                "'{}' does not hold a shard count",
                record_key(ns)
            ))),
        }
    }

    /// A handle on the one namespace `ns`.
    fn plain(conn: conn::Conn, ns: &str) -> Self {
        RedisTaskDB {
            conn,
            ns: ns.to_string(),
            layout: Arc::new(shards::Layout::single(ns)),
            wait: None,
        }
    }

    /// A handle on `ns`, sharded if a shard count is recorded for it.
    async fn open(conn: conn::Conn, ns: &str) -> Result<Self, TaskDbErr> {
        let mut db = Self::plain(conn, ns);
        if let Some(n) = db.recorded_shards().await? {
            db.layout = Arc::new(shards::Layout::sharded(ns, n));
        }
        Ok(db)
    }

    /// The shard count recorded for `ns`, if any.
    async fn recorded_shards(&self) -> Result<Option<u32>, TaskDbErr> {
        let mut get = redis::cmd("GET");
        get.arg(record_key(&self.ns));
        match self.run_raw(get).await {
            Ok(Ok(Value::Nil)) => Ok(None),
            Ok(v) => {
                let s: String = reply(&v?)?;
                let n: u32 = s.parse().map_err(|_| {
                    TaskDbErr::InternalErr(format!(
                        "'{}' holds '{s}', not a shard count",
                        record_key(&self.ns)
                    ))
                })?;
                shards::validate(&self.ns, n).map_err(TaskDbErr::InternalErr)?;
                Ok(Some(n))
            }
            // Another kind of key by that name: `ns` is not sharded.
            Err(e) if e.kind() == redis::ErrorKind::TypeError => Ok(None),
            Err(e) => Err(from_redis(e)),
        }
    }

    /// The shard count, if this is a sharded TaskDB.
    pub fn shard_count(&self) -> Option<u32> {
        self.layout
            .is_sharded()
            .then_some(self.layout.all().len() as u32)
    }

    /// The namespaces this handle works on: the one, or every shard (shard 0 first).
    pub fn namespaces(&self) -> &[String] {
        self.layout.all()
    }

    /// Connects to a Redis Cluster through any of `seeds` (`redis://host:port` URLs),
    /// namespace `ns`: calls follow MOVED and ASK, survive failovers (no attempt waits
    /// longer than [`CLUSTER_RESPONSE_TIMEOUT`] for a reply; a call whose node is gone
    /// is sent again with a fresh slot map from the live nodes, for up to
    /// [`CLUSTER_FAILOVER_WAIT`], so it reaches the promoted replica), and a blocked
    /// `request_work_wait` cut short by a failover or a slot move waits again.
    pub async fn cluster(seeds: &[&str], ns: &str) -> Result<Self, TaskDbErr> {
        let conn = conn::Conn::cluster(seeds.iter().map(|s| s.to_string()).collect()).await?;
        Self::open(conn, ns).await
    }

    /// This handle, with every write acknowledged only once `replicas` replicas have it
    /// (`WAIT replicas timeout` after each writing command, on the node that ran it): a
    /// write a failover could lose answers `TaskDbErr::NotReplicated` instead (it did take
    /// effect on the primary). Reads are not delayed, and neither are claims: a claim lost
    /// in a failover only makes its task ready again (its reports are then fenced by
    /// ATTEMPT), while waiting for it would stall all work on a primary left without
    /// replicas and cost a WAIT per shard asked.
    pub fn with_wait(mut self, replicas: u32, timeout: Duration) -> Self {
        self.wait = Some((replicas, timeout));
        self
    }

    /// This handle (and its clones), sharing running counts between a sharded TaskDB's
    /// shards every `every` instead of every [`SHARE_EVERY`] once it claims work: shorter
    /// keeps the fair share closer to one namespace's for short tasks, at two small
    /// writes per shard per period; zero turns it off for this handle (each shard then
    /// orders streams by its own running tasks only). No effect on an unsharded handle.
    pub fn with_share_interval(self, every: Duration) -> Self {
        self.layout.set_share_every(every);
        self
    }

    /// The namespace (a sharded TaskDB's name).
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// `name` on the namespace that decides streams (the only one, or shard 0).
    fn cmd(&self, name: &str) -> redis::Cmd {
        cmd_on(self.layout.home(), name)
    }

    /// A command about one job, on its shard: `name ns job_id`.
    pub(crate) fn job_cmd(&self, name: &str, job_id: &Uuid) -> redis::Cmd {
        let mut c = cmd_on(self.layout.of_job(job_id), name);
        c.arg(job_id.to_string());
        c
    }

    /// A command about one task: `name ns job_id task_id`.
    fn task_cmd(&self, name: &str, job_id: &Uuid, task_id: &str) -> redis::Cmd {
        let mut c = self.job_cmd(name, job_id);
        c.arg(task_id);
        c
    }

    async fn run(&self, c: redis::Cmd) -> Result<Value, TaskDbErr> {
        self.run_raw(c).await.map_err(from_redis)?
    }

    /// Runs a command, then (for a write on a handle `with_wait`) WAIT in the same
    /// pipeline, so it runs on the node that took the write.
    async fn run_raw(&self, c: redis::Cmd) -> redis::RedisResult<Result<Value, TaskDbErr>> {
        let Some((replicas, timeout)) = self.wait.filter(|_| is_write(&c)) else {
            return self.conn.query(&c).await.map(Ok);
        };
        let mut p = redis::pipe();
        p.add_command(c);
        p.cmd("WAIT").arg(replicas).arg(timeout.as_millis() as u64);
        let mut out = self.conn.query_pipe(&p).await?;
        let acked: i64 = reply(&out.pop().unwrap_or(Value::Nil)).unwrap_or(0);
        let v = out.pop().unwrap_or(Value::Nil);
        Ok(if acked >= i64::from(replicas) {
            Ok(v)
        } else {
            Err(TaskDbErr::NotReplicated {
                acked,
                wanted: replicas,
            })
        })
    }

    /// A command that refers to a stream or job that must exist (CREATE_JOB, CREATE_TASK):
    /// its `NOTFOUND` stays a Redis error naming what is missing (PostgreSQL answers a
    /// foreign-key violation there, not "no row").
    async fn run_creating(&self, c: redis::Cmd) -> Result<Value, TaskDbErr> {
        self.run_raw(c).await.map_err(|e| match e.code() {
            Some("NOTFOUND") => TaskDbErr::Redis(e),
            _ => from_redis(e),
        })?
    }

    /// The replies of a pipeline, one per command.
    async fn run_pipe(&self, p: redis::Pipeline) -> Result<Vec<Value>, TaskDbErr> {
        self.conn.query_pipe(&p).await.map_err(from_redis)
    }

    /// Every item of a cursor-paged listing (`TASKDB.STREAMS`, `JOBS`, `JOB_TASKS`): the
    /// command, the arguments before its cursor, and after it (`COUNT`, filters).
    pub(crate) async fn list(
        &self,
        name: &str,
        before: &[&str],
        after: &[&str],
    ) -> Result<Vec<String>, TaskDbErr> {
        self.list_on(self.layout.home(), name, before, after).await
    }

    /// [`RedisTaskDB::list`] on namespace `ns`.
    pub(crate) async fn list_on(
        &self,
        ns: &str,
        name: &str,
        before: &[&str],
        after: &[&str],
    ) -> Result<Vec<String>, TaskDbErr> {
        let mut all = Vec::new();
        let mut cursor = "0".to_string();
        loop {
            let mut c = cmd_on(ns, name);
            for a in before {
                c.arg(*a);
            }
            c.arg(&cursor).arg("COUNT").arg(1000);
            for a in after {
                c.arg(*a);
            }
            let (next, items): (String, Vec<String>) = reply(&self.run(c).await?)?;
            all.extend(items);
            if next == "0" {
                return Ok(all);
            }
            cursor = next;
        }
    }

    async fn stream_call(
        &self,
        name: &str,
        worker_type: &str,
        reserved: i32,
        be_mult: f32,
        user_id: &str,
    ) -> Result<Uuid, TaskDbErr> {
        if !(be_mult.is_finite() && be_mult > 0.0) {
            return Err(TaskDbErr::InvalidBeMult);
        }
        let mut c = self.cmd(name);
        c.arg(worker_type)
            .arg(reserved)
            .arg(be_mult.to_string())
            .arg(user_id);
        let id = uuid(&reply::<String>(&self.run(c).await?)?)?;
        self.spread(&id).await?;
        Ok(id)
    }

    /// On a sharded TaskDB, copies stream `id` from shard 0 to every other shard that
    /// lacks it (once per handle and stream).
    async fn spread(&self, id: &Uuid) -> Result<(), TaskDbErr> {
        if !self.layout.is_sharded() || self.layout.is_spread(id) {
            return Ok(());
        }
        let Some(f) = self.home_stream(id).await? else {
            return Ok(());
        };
        let copies = self.layout.all()[1..]
            .iter()
            .map(|ns| self.restore_stream(ns, id, &f));
        for r in futures_util::future::join_all(copies).await {
            r?;
        }
        self.layout.set_spread(*id);
        Ok(())
    }

    /// Stream `id`'s record on shard 0, if it has the stream.
    async fn home_stream(&self, id: &Uuid) -> Result<Option<HashMap<String, String>>, TaskDbErr> {
        let mut get = self.cmd("TASKDB.STREAM");
        get.arg(id.to_string());
        match self.run(get).await? {
            Value::Nil => Ok(None),
            v => pairs(&v).map(Some),
        }
    }

    /// Writes stream `id` as its record `f` on shard 0 has it (settings, pause) to
    /// namespace `ns`, if `ns` lacks it.
    async fn restore_stream(
        &self,
        ns: &str,
        id: &Uuid,
        f: &HashMap<String, String>,
    ) -> Result<(), TaskDbErr> {
        let field = |k: &str| {
            f.get(k)
                .cloned()
                .ok_or_else(|| TaskDbErr::InternalErr(format!("STREAM without {k}")))
        };
        let mut put = cmd_on(ns, "TASKDB.RESTORE_STREAM");
        put.arg(id.to_string())
            .arg(field("worker_type")?)
            .arg(field("reserved")?)
            .arg(field("be_mult")?)
            .arg(field("user_id")?);
        let written: i64 = reply(&self.run(put).await?)?;
        if written == 1 && f.get("paused").map(String::as_str) == Some("1") {
            let mut pause = cmd_on(ns, "TASKDB.PAUSE");
            pause.arg("STREAM").arg(id.to_string());
            self.run(pause).await?;
        }
        Ok(())
    }

    /// Runs a command that refers to stream `stream_id` on the shard `ns`; on a sharded
    /// TaskDB, a stream that shard lacks is copied from shard 0 and the command sent again.
    async fn run_creating_on(
        &self,
        ns: &str,
        stream_id: &Uuid,
        c: redis::Cmd,
    ) -> Result<Value, TaskDbErr> {
        match self.run_creating(c.clone()).await {
            Err(TaskDbErr::Redis(e))
                if self.layout.is_sharded()
                    && e.code() == Some("NOTFOUND")
                    && e.detail().is_some_and(|d| d.starts_with("stream")) =>
            {
                self.layout.unset_spread(stream_id);
                match self.home_stream(stream_id).await? {
                    Some(f) => {
                        self.restore_stream(ns, stream_id, &f).await?;
                        self.run_creating(c).await
                    }
                    None => Err(TaskDbErr::Redis(e)),
                }
            }
            r => r,
        }
    }

    /// Creates a stream: a user's share of one worker type.
    pub async fn create_stream(
        &self,
        worker_type: &str,
        reserved: i32,
        be_mult: f32,
        user_id: &str,
    ) -> Result<Uuid, TaskDbErr> {
        self.stream_call(
            "TASKDB.CREATE_STREAM",
            worker_type,
            reserved,
            be_mult,
            user_id,
        )
        .await
    }

    /// The user's stream of that worker type, created if missing (atomic in the server).
    pub async fn get_or_create_stream(
        &self,
        worker_type: &str,
        reserved: i32,
        be_mult: f32,
        user_id: &str,
    ) -> Result<Uuid, TaskDbErr> {
        self.stream_call(
            "TASKDB.GET_OR_CREATE_STREAM",
            worker_type,
            reserved,
            be_mult,
            user_id,
        )
        .await
    }

    /// Creates a job and its `init` task on `stream_id`.
    pub async fn create_job(
        &self,
        stream_id: &Uuid,
        task_def: &JsonValue,
        max_retries: i32,
        timeout_secs: i32,
        user_id: &str,
    ) -> Result<Uuid, TaskDbErr> {
        self.create_job_with_priority(
            stream_id,
            task_def,
            max_retries,
            timeout_secs,
            user_id,
            JobPriority::Medium,
        )
        .await
    }

    /// Creates a job with a priority (its tasks inherit it).
    pub async fn create_job_with_priority(
        &self,
        stream_id: &Uuid,
        task_def: &JsonValue,
        max_retries: i32,
        timeout_secs: i32,
        user_id: &str,
        priority: JobPriority,
    ) -> Result<Uuid, TaskDbErr> {
        // A sharded TaskDB names the job here: its id chooses its shard.
        let id = self.layout.is_sharded().then(Uuid::new_v4);
        let ns = id.map_or(self.layout.home(), |id| self.layout.of_job(&id));
        let mut c = cmd_on(ns, "TASKDB.CREATE_JOB");
        c.arg(stream_id.to_string())
            .arg(serde_json::to_string(task_def)?)
            .arg(max_retries)
            .arg(timeout_secs)
            .arg(user_id)
            .arg("PRIORITY")
            .arg(priority.as_str());
        if let Some(id) = id {
            c.arg("ID").arg(id.to_string());
        }
        uuid(&reply::<String>(
            &self.run_creating_on(ns, stream_id, c).await?,
        )?)
    }

    /// Creates a task in a job; it waits on `prereqs` (a JSON array of task ids).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_task(
        &self,
        job_id: &Uuid,
        task_id: &str,
        stream_id: &Uuid,
        task_def: &JsonValue,
        prereqs: &JsonValue,
        max_retries: i32,
        timeout_secs: i32,
    ) -> Result<(), TaskDbErr> {
        let mut c = self.task_cmd("TASKDB.CREATE_TASK", job_id, task_id);
        c.arg(stream_id.to_string())
            .arg(serde_json::to_string(task_def)?)
            .arg(serde_json::to_string(prereqs)?)
            .arg(max_retries)
            .arg(timeout_secs);
        self.run_creating_on(self.layout.of_job(job_id), stream_id, c)
            .await
            .map(|_| ())
    }

    /// Claims the next task for a worker of `worker_type`, if any.
    pub async fn request_work(&self, worker_type: &str) -> Result<Option<ReadyTask>, TaskDbErr> {
        match self
            .request_any(&|ns, ms| work_cmd(ns, worker_type, ms, None))
            .await?
        {
            Value::Nil => Ok(None),
            v => ready_task(&v).map(Some),
        }
    }

    /// Claims the next task, waiting inside Redis up to `timeout` for one to become ready
    /// (a zero timeout waits forever). Uses a connection of its own, so other calls on
    /// this handle do not queue behind the wait.
    pub async fn request_work_wait(
        &self,
        worker_type: &str,
        timeout: Duration,
    ) -> Result<Option<ReadyTask>, TaskDbErr> {
        let v = self
            .blocking(timeout, &|ns, ms| work_cmd(ns, worker_type, ms, None))
            .await?;
        match v {
            Value::Nil => Ok(None),
            v => ready_task(&v).map(Some),
        }
    }

    /// A non-blocking REQUEST_WORK built by `cmd(ns, None)` on each shard in turn, in an
    /// order that rotates from call to call, until one hands out a task.
    async fn request_any(&self, cmd: &WorkCmd<'_>) -> Result<Value, TaskDbErr> {
        share::start(&self.conn, &self.ns, &self.layout);
        // A shard that fails (its node failing over) does not keep the others' work
        // from the worker; with no task anywhere, its error is the answer.
        let mut failed = None;
        let tells = self.layout.tells_finishes();
        let told = match tells {
            true => self.layout.finishes.take(self.layout.share_every()),
            false => Vec::new(),
        };
        for ns in self.layout.rotation() {
            let mut c = cmd(ns, None);
            if tells {
                c.arg("WITHSTREAM");
                // A task's own shard knows it finished; the others learn it here.
                let ids: Vec<String> = told
                    .iter()
                    .filter(|(job, _)| self.layout.of_job(job) != ns)
                    .map(|(_, stream)| stream.to_string())
                    .collect();
                if !ids.is_empty() {
                    c.arg("FINISHED").arg(ids);
                }
            }
            match self.run(c).await {
                Ok(Value::Nil) => {}
                Ok(v) => return Ok(self.noted(v, tells)),
                Err(e) if self.layout.is_sharded() => {
                    failed.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        failed.map_or(Ok(Value::Nil), Err)
    }

    /// A blocking REQUEST_WORK built by `cmd(ns, Some(block_ms))` (never WAITed for: see
    /// [`RedisTaskDB::with_wait`]).
    /// On a sharded TaskDB: each shard is asked in turn without waiting, then every shard
    /// is waited on at once; the first task wins and the others' claims are given back.
    async fn blocking(&self, timeout: Duration, cmd: &WorkCmd<'_>) -> Result<Value, TaskDbErr> {
        if !self.layout.is_sharded() {
            let home = self.layout.home();
            return self
                .conn
                .blocking(timeout, |ms| cmd(home, Some(ms)))
                .await
                .map_err(from_redis);
        }
        let v = self.request_any(cmd).await?;
        if v != Value::Nil {
            return Ok(v);
        }
        let tells = self.layout.tells_finishes();
        let g = fanout::block_first(
            &self.conn,
            &self.layout.idle,
            self.layout.all(),
            timeout,
            &|ns, ms| {
                let mut c = cmd(ns, Some(ms));
                if tells {
                    c.arg("WITHSTREAM");
                }
                c
            },
        )
        .await
        .map_err(from_redis)?;
        for claim in g.extra {
            // One not given back is retried when its lease ends: nothing is lost.
            if let Ok(a) = attempt(&without_stream(claim).0) {
                let _ = self.give_back(&a).await;
            }
        }
        Ok(g.first.map_or(Value::Nil, |v| self.noted(v, tells)))
    }

    /// A claim's reply as the drop-in API reads it; with `tells`, its stream (the
    /// WITHSTREAM element) noted first, for the report that ends it.
    fn noted(&self, v: Value, tells: bool) -> Value {
        if !tells {
            return v;
        }
        let (v, stream) = without_stream(v);
        if let (Some(stream), Ok(a)) = (stream, attempt(&v)) {
            self.layout
                .finishes
                .claimed(a.task.job_id, &a.task.task_id, stream);
        }
        v
    }

    /// A report that ends a claim (DONE, FAILED, RETRY, GIVE_BACK) of `task_id` of
    /// `job_id`: its 0/1 reply, the end noted for the next request when it changed.
    async fn ending_flag(
        &self,
        c: redis::Cmd,
        job_id: &Uuid,
        task_id: &str,
    ) -> Result<bool, TaskDbErr> {
        let changed = self.flag(c).await?;
        if changed && self.layout.tells_finishes() {
            let every = self.layout.share_every();
            self.layout.finishes.ended(*job_id, task_id, every);
        }
        Ok(changed)
    }

    /// A report's 0/1 reply. The module answers a report naming a job or task that does
    /// not exist with `NOTFOUND`; the PostgreSQL TaskDB's UPDATE changes no row then, so
    /// the drop-in answer is `false`.
    async fn flag(&self, c: redis::Cmd) -> Result<bool, TaskDbErr> {
        match self.run(c).await {
            Ok(v) => Ok(reply::<i64>(&v)? == 1),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Claims the next task for worker `worker_id` (recorded as the task's holder), as an
    /// attempt whose reports are fenced (see [`Attempt`]).
    pub async fn request_work_as(
        &self,
        worker_type: &str,
        worker_id: &str,
    ) -> Result<Option<Attempt>, TaskDbErr> {
        let cmd = |ns: &str, ms| work_cmd(ns, worker_type, ms, Some(worker_id));
        match self.request_any(&cmd).await? {
            Value::Nil => Ok(None),
            v => attempt(&v).map(Some),
        }
    }

    /// [`RedisTaskDB::request_work_as`], waiting inside Redis up to `timeout` (zero: for
    /// ever) on a connection of its own, as [`RedisTaskDB::request_work_wait`] does.
    pub async fn request_work_wait_as(
        &self,
        worker_type: &str,
        worker_id: &str,
        timeout: Duration,
    ) -> Result<Option<Attempt>, TaskDbErr> {
        let v = self
            .blocking(timeout, &|ns, ms| {
                work_cmd(ns, worker_type, ms, Some(worker_id))
            })
            .await?;
        match v {
            Value::Nil => Ok(None),
            v => attempt(&v).map(Some),
        }
    }

    /// A report about one attempt: `name ns job_id task_id <args> ATTEMPT n`.
    fn attempt_cmd(&self, name: &str, a: &Attempt, args: &[String]) -> redis::Cmd {
        let mut c = self.task_cmd(name, &a.task.job_id, &a.task.task_id);
        for arg in args {
            c.arg(arg);
        }
        c.arg("ATTEMPT").arg(a.attempt);
        c
    }

    /// A report that keeps the attempt running (PROGRESS, HEARTBEAT).
    async fn attempt_flag(
        &self,
        name: &str,
        a: &Attempt,
        args: &[String],
    ) -> Result<bool, TaskDbErr> {
        self.flag(self.attempt_cmd(name, a, args)).await
    }

    /// A report that ends an attempt (DONE, FAILED, RETRY, GIVE_BACK).
    async fn attempt_ending(
        &self,
        name: &str,
        a: &Attempt,
        args: &[String],
    ) -> Result<bool, TaskDbErr> {
        let c = self.attempt_cmd(name, a, args);
        self.ending_flag(c, &a.task.job_id, &a.task.task_id).await
    }

    /// Marks an attempt's task done with `output`: true if it changed (false once it is
    /// done, whoever finished it first).
    pub async fn update_task_done_attempt(
        &self,
        a: &Attempt,
        output: JsonValue,
    ) -> Result<bool, TaskDbErr> {
        let out = serde_json::to_string(&output)?;
        self.attempt_ending("TASKDB.DONE", a, &[out]).await
    }

    /// Fails an attempt's task (and its job): false if the attempt is no longer running.
    pub async fn update_task_failed_attempt(
        &self,
        a: &Attempt,
        error: &str,
    ) -> Result<bool, TaskDbErr> {
        self.attempt_ending("TASKDB.FAILED", a, &[error.to_string()])
            .await
    }

    /// Raises an attempt's progress and renews its lease: false if it is no longer running.
    pub async fn update_task_progress_attempt(
        &self,
        a: &Attempt,
        progress: f32,
    ) -> Result<bool, TaskDbErr> {
        self.attempt_flag("TASKDB.PROGRESS", a, &[progress.to_string()])
            .await
    }

    /// Gives an attempt's task back (to ready): false if it is no longer running.
    pub async fn update_task_retry_attempt(&self, a: &Attempt) -> Result<bool, TaskDbErr> {
        self.attempt_ending("TASKDB.RETRY", a, &[]).await
    }

    /// Gives an attempt's task back (TASKDB.GIVE_BACK): ready again at once, no retry
    /// counted, for a claim this worker will not run; false if the attempt is not running.
    pub async fn give_back(&self, a: &Attempt) -> Result<bool, TaskDbErr> {
        self.attempt_ending("TASKDB.GIVE_BACK", a, &[]).await
    }

    /// Renews an attempt's lease: false if it is no longer running (stop working on it).
    pub async fn heartbeat_attempt(&self, a: &Attempt) -> Result<bool, TaskDbErr> {
        self.attempt_flag("TASKDB.HEARTBEAT", a, &[]).await
    }

    /// Renews a ready or running task's lease without touching its progress.
    pub async fn heartbeat(&self, job_id: &Uuid, task_id: &str) -> Result<bool, TaskDbErr> {
        self.flag(self.task_cmd("TASKDB.HEARTBEAT", job_id, task_id))
            .await
    }

    /// Marks a ready or running task done with `output`; true if it changed.
    pub async fn update_task_done(
        &self,
        job_id: &Uuid,
        task_id: &str,
        output: JsonValue,
    ) -> Result<bool, TaskDbErr> {
        let mut c = self.task_cmd("TASKDB.DONE", job_id, task_id);
        c.arg(serde_json::to_string(&output)?);
        self.ending_flag(c, job_id, task_id).await
    }

    /// Fails a task (and its job) with `error`; true if it changed.
    pub async fn update_task_failed(
        &self,
        job_id: &Uuid,
        task_id: &str,
        error: &str,
    ) -> Result<bool, TaskDbErr> {
        let mut c = self.task_cmd("TASKDB.FAILED", job_id, task_id);
        c.arg(error);
        self.ending_flag(c, job_id, task_id).await
    }

    /// Raises a task's progress (0 to 1) and renews its lease; true if it changed.
    pub async fn update_task_progress(
        &self,
        job_id: &Uuid,
        task_id: &str,
        progress: f32,
    ) -> Result<bool, TaskDbErr> {
        let mut c = self.task_cmd("TASKDB.PROGRESS", job_id, task_id);
        c.arg(progress.to_string());
        self.flag(c).await
    }

    /// Sends a running task back to ready; false if it was not running or hit its limit.
    pub async fn update_task_retry(&self, job_id: &Uuid, task_id: &str) -> Result<bool, TaskDbErr> {
        let c = self.task_cmd("TASKDB.RETRY", job_id, task_id);
        self.ending_flag(c, job_id, task_id).await
    }

    /// Retries up to `limit` running tasks whose lease expired; how many.
    pub async fn requeue_tasks(&self, limit: i64) -> Result<usize, TaskDbErr> {
        let mut total = 0i64;
        for ns in self.layout.all() {
            if self.layout.is_sharded() && total >= limit {
                break;
            }
            let mut c = cmd_on(ns, "TASKDB.REQUEUE");
            c.arg(if self.layout.is_sharded() {
                limit - total
            } else {
                limit
            });
            total += reply::<i64>(&self.run(c).await?)?;
        }
        Ok(total as usize)
    }

    async fn stuck(&self, fix: bool) -> Result<Vec<StuckTaskInfo>, TaskDbErr> {
        let mut found: Vec<Value> = Vec::new();
        for ns in self.layout.all() {
            let mut cursor = "0".to_string();
            loop {
                let mut c = cmd_on(ns, if fix { "TASKDB.REPAIR" } else { "TASKDB.CHECK" });
                c.arg("CURSOR").arg(&cursor);
                let (next, page): (String, Vec<Value>) = reply(&self.run(c).await?)?;
                found.extend(page);
                if next == "0" {
                    break;
                }
                cursor = next;
            }
        }
        let mut out = Vec::new();
        for v in &found {
            let f = pairs(v)?;
            if f.get("kind").map(String::as_str) != Some("stuck_pending") {
                continue;
            }
            let num = |k: &str| f.get(k).and_then(|v| v.parse::<i32>().ok()).unwrap_or(0);
            out.push(StuckTaskInfo {
                job_id: uuid(f.get("job_id").map_or("", String::as_str))?,
                task_id: f.get("task_id").cloned().unwrap_or_default(),
                waiting_on: num("waiting_on"),
                actual_deps: num("prerequisites"),
                completed_deps: num("done"),
                should_be_ready: num("should_be_ready") == 1,
            });
        }
        Ok(out)
    }

    /// Pending tasks whose prerequisites are all done (TaskDB keeps none; kept so callers
    /// compile and to inspect keyspaces edited by hand).
    pub async fn check_stuck_pending_tasks(&self) -> Result<Vec<StuckTaskInfo>, TaskDbErr> {
        self.stuck(false).await
    }

    /// Releases stuck pending tasks (and repairs every other drift CHECK finds); how many
    /// stuck tasks were released.
    pub async fn fix_stuck_pending_tasks(&self) -> Result<i32, TaskDbErr> {
        Ok(self.stuck(true).await?.len() as i32)
    }

    /// Deletes every done job with its tasks, then every stream left holding no task
    /// (as the PostgreSQL TaskDB does); how many jobs. The server deletes a batch per
    /// call, so no call stalls it.
    /// On a sharded TaskDB, shard 0 keeps a stream while another shard still has it.
    pub async fn clear_completed_jobs(&self) -> Result<i32, TaskDbErr> {
        let mut total = 0i64;
        for ns in self.layout.all() {
            total += self.repeat(cmd_on(ns, "TASKDB.CLEAR_COMPLETED")).await?;
        }
        let mut keep = Vec::new();
        for ns in &self.layout.all()[1..] {
            self.repeat(cmd_on(ns, "TASKDB.CLEAR_STREAMS")).await?;
            keep.extend(self.list_on(ns, "TASKDB.STREAMS", &[], &[]).await?);
        }
        keep.sort_unstable();
        keep.dedup();
        let mut home = self.cmd("TASKDB.CLEAR_STREAMS");
        if !keep.is_empty() {
            home.arg("KEEP").arg(&keep);
        }
        self.repeat(home).await?;
        Ok(total as i32)
    }

    /// Sends a batch command until it replies 0; the sum of its replies.
    async fn repeat(&self, c: redis::Cmd) -> Result<i64, TaskDbErr> {
        let mut total = 0;
        loop {
            let n: i64 = reply(&self.run(c.clone()).await?)?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Checks that the server runs TaskDB and that the namespace key is free or a TaskDB
    /// namespace (`MigrateErr` otherwise). TaskDB needs no schema: a namespace comes into
    /// being with its first stream. Idempotent, as the PostgreSQL crate's migrations are.
    pub async fn init_db(&self) -> Result<(), TaskDbErr> {
        let unfit = |why: String| TaskDbErr::MigrateErr(MigrateError(why));
        let mut info = redis::cmd("COMMAND");
        info.arg("INFO").arg("TASKDB.CREATE_STREAM");
        let found: Vec<Value> = reply(&self.run(info).await?)?;
        if found.first().is_none_or(|v| *v == Value::Nil) {
            return Err(unfit(
                "the server has no TaskDB module: start it with --loadmodule libtaskdb.so".into(),
            ));
        }
        for ns in self.layout.all() {
            let mut ty = redis::cmd("TYPE");
            ty.arg(ns);
            let ty: String = reply(&self.run(ty).await?)?;
            match ty.as_str() {
                "none" | "taskdb-ns" => {}
                other => {
                    return Err(unfit(format!(
                        "key '{ns}' holds a {other}, not a TaskDB namespace"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Nothing to do: TaskDB's counters are exact at every moment. Kept so callers compile.
    pub async fn refresh_stream_counters(&self) -> Result<(), TaskDbErr> {
        Ok(())
    }

    /// A job's state, if it belongs to `user_id` (else not found: `SqlError(RowNotFound)`).
    pub async fn get_job_state(&self, job_id: &Uuid, user_id: &str) -> Result<JobState, TaskDbErr> {
        let mut c = self.job_cmd("TASKDB.JOB_STATE", job_id);
        c.arg(user_id);
        let s: String = reply(&self.run(c).await?)?;
        JobState::parse(&s).ok_or(TaskDbErr::InternalErr(s))
    }

    /// The number of a job's tasks not done (0 if there is no such job, as PostgreSQL's
    /// COUNT answers).
    pub async fn get_job_unresolved(&self, job_id: &Uuid) -> Result<i64, TaskDbErr> {
        let c = self.job_cmd("TASKDB.JOB_UNRESOLVED", job_id);
        match self.run(c).await {
            Err(e) if e.is_not_found() => Ok(0),
            r => reply(&r?),
        }
    }

    /// The number of a user's running jobs.
    pub async fn get_concurrent_jobs(&self, user_id: &str) -> Result<i64, TaskDbErr> {
        let mut total = 0;
        for ns in self.layout.all() {
            let mut c = cmd_on(ns, "TASKDB.CONCURRENT_JOBS");
            c.arg(user_id);
            total += reply::<i64>(&self.run(c).await?)?;
        }
        Ok(total)
    }

    /// The user's stream of a worker type, if any.
    pub async fn get_stream(
        &self,
        user_id: &str,
        worker_type: &str,
    ) -> Result<Option<Uuid>, TaskDbErr> {
        let mut c = self.cmd("TASKDB.GET_STREAM");
        c.arg(user_id).arg(worker_type);
        let s: Option<String> = reply(&self.run(c).await?)?;
        s.map(|s| uuid(&s)).transpose()
    }

    /// Seconds from the job's first task start to its last task update (not found if no
    /// task started).
    pub async fn get_job_time(&self, job_id: &Uuid) -> Result<f64, TaskDbErr> {
        let c = self.job_cmd("TASKDB.JOB_TIME", job_id);
        match self.run(c).await? {
            Value::Nil => Err(not_found()),
            v => {
                let s: String = reply(&v)?;
                s.parse().map_err(|_| TaskDbErr::InternalErr(s))
            }
        }
    }

    /// The error a job failed with (not found if it has not failed, or failed with an
    /// empty error, as PostgreSQL's `error <> ''` answers).
    pub async fn get_job_failure(&self, job_id: &Uuid) -> Result<String, TaskDbErr> {
        let c = self.job_cmd("TASKDB.JOB_FAILURE", job_id);
        let error: String = reply(&self.run(c).await?)?;
        if error.is_empty() {
            return Err(not_found());
        }
        Ok(error)
    }

    /// A done task's output, deserialized (not found if the task is not done).
    pub async fn get_task_output<T: DeserializeOwned>(
        &self,
        job_id: &Uuid,
        task_id: &str,
    ) -> Result<T, TaskDbErr> {
        let c = self.task_cmd("TASKDB.TASK_OUTPUT", job_id, task_id);
        let s: String = reply(&self.run(c).await?)?;
        Ok(serde_json::from_str(&s)?)
    }

    /// Runs a failed or cancelled job again (TASKDB.RETRY_JOB): its failed tasks back to
    /// ready with their retries reset, its cancelled ones back; false if it had not failed.
    pub async fn retry_job(&self, job_id: &Uuid) -> Result<bool, TaskDbErr> {
        let c = self.job_cmd("TASKDB.RETRY_JOB", job_id);
        Ok(reply::<i64>(&self.run(c).await?)? == 1)
    }

    /// PAUSE or RESUME on every shard: whether any changed.
    async fn pause_call(&self, verb: &str, kind: &str, target: &str) -> Result<bool, TaskDbErr> {
        let mut changed = false;
        for ns in self.layout.all() {
            let mut c = cmd_on(ns, verb);
            c.arg(kind).arg(target);
            changed |= reply::<i64>(&self.run(c).await?)? == 1;
        }
        Ok(changed)
    }

    /// Pauses a stream (TASKDB.PAUSE): REQUEST_WORK hands out none of its tasks until it
    /// is resumed; false if it was paused already.
    pub async fn pause_stream(&self, stream_id: &Uuid) -> Result<bool, TaskDbErr> {
        self.pause_call("TASKDB.PAUSE", "STREAM", &stream_id.to_string())
            .await
    }

    /// Resumes a paused stream; false if it was not paused.
    pub async fn resume_stream(&self, stream_id: &Uuid) -> Result<bool, TaskDbErr> {
        self.pause_call("TASKDB.RESUME", "STREAM", &stream_id.to_string())
            .await
    }

    /// Pauses a worker type: its workers get no task (blocked ones keep waiting).
    pub async fn pause_worker_type(&self, worker_type: &str) -> Result<bool, TaskDbErr> {
        self.pause_call("TASKDB.PAUSE", "TYPE", worker_type).await
    }

    /// Resumes a paused worker type, waking its waiting workers.
    pub async fn resume_worker_type(&self, worker_type: &str) -> Result<bool, TaskDbErr> {
        self.pause_call("TASKDB.RESUME", "TYPE", worker_type).await
    }

    /// Deletes a job with its tasks (nothing happens if there is no such job).
    pub async fn delete_job(&self, job_id: &Uuid) -> Result<(), TaskDbErr> {
        let c = self.job_cmd("TASKDB.DELETE_JOB", job_id);
        self.run(c).await.map(|_| ())
    }

    /// Tasks per state for each worker type.
    pub async fn get_task_state_counts(
        &self,
    ) -> Result<HashMap<String, HashMap<FullTaskState, i64>>, TaskDbErr> {
        let mut out: HashMap<String, HashMap<FullTaskState, i64>> = HashMap::new();
        for ns in self.layout.all() {
            let v: Vec<Value> = reply(&self.run(cmd_on(ns, "TASKDB.STATS")).await?)?;
            let flat: Vec<Value> = reply(v.get(1).ok_or(TaskDbErr::InternalErr("STATS".into()))?)?;
            for pair in flat.chunks(2) {
                let [wt, counts] = pair else { continue };
                let wt: String = reply(wt)?;
                let counts: Vec<(String, i64)> = reply(counts)?;
                let by_state = out.entry(wt).or_default();
                for (s, n) in counts {
                    if let Some(s) = FullTaskState::parse(&s) {
                        *by_state.entry(s).or_default() += n;
                    }
                }
            }
        }
        Ok(out)
    }
}

macro_rules! free_functions {
    ($( $(#[$m:meta])* fn $name:ident $(<$g:ident: $b:path>)? ($($arg:ident: $ty:ty),*) -> $ret:ty; )*) => {
        $(
            $(#[$m])*
            #[allow(clippy::too_many_arguments)]
            pub async fn $name $(<$g: $b>)? (db: &RedisTaskDB, $($arg: $ty),*) -> Result<$ret, TaskDbErr> {
                db.$name $(::<$g>)? ($($arg),*).await
            }
        )*
    };
}

free_functions! {
    /// See [`RedisTaskDB::create_stream`].
    fn create_stream(worker_type: &str, reserved: i32, be_mult: f32, user_id: &str) -> Uuid;
    /// See [`RedisTaskDB::get_or_create_stream`].
    fn get_or_create_stream(worker_type: &str, reserved: i32, be_mult: f32, user_id: &str) -> Uuid;
    /// See [`RedisTaskDB::create_job`].
    fn create_job(stream_id: &Uuid, task_def: &JsonValue, max_retries: i32, timeout_secs: i32, user_id: &str) -> Uuid;
    /// See [`RedisTaskDB::create_job_with_priority`].
    fn create_job_with_priority(stream_id: &Uuid, task_def: &JsonValue, max_retries: i32, timeout_secs: i32, user_id: &str, priority: JobPriority) -> Uuid;
    /// See [`RedisTaskDB::create_task`].
    fn create_task(job_id: &Uuid, task_id: &str, stream_id: &Uuid, task_def: &JsonValue, prereqs: &JsonValue, max_retries: i32, timeout_secs: i32) -> ();
    /// See [`RedisTaskDB::request_work`].
    fn request_work(worker_type: &str) -> Option<ReadyTask>;
    /// See [`RedisTaskDB::request_work_wait`].
    fn request_work_wait(worker_type: &str, timeout: Duration) -> Option<ReadyTask>;
    /// See [`RedisTaskDB::request_work_as`].
    fn request_work_as(worker_type: &str, worker_id: &str) -> Option<Attempt>;
    /// See [`RedisTaskDB::request_work_wait_as`].
    fn request_work_wait_as(worker_type: &str, worker_id: &str, timeout: Duration) -> Option<Attempt>;
    /// See [`RedisTaskDB::update_task_done_attempt`].
    fn update_task_done_attempt(a: &Attempt, output: JsonValue) -> bool;
    /// See [`RedisTaskDB::update_task_failed_attempt`].
    fn update_task_failed_attempt(a: &Attempt, error: &str) -> bool;
    /// See [`RedisTaskDB::update_task_progress_attempt`].
    fn update_task_progress_attempt(a: &Attempt, progress: f32) -> bool;
    /// See [`RedisTaskDB::update_task_retry_attempt`].
    fn update_task_retry_attempt(a: &Attempt) -> bool;
    /// See [`RedisTaskDB::give_back`].
    fn give_back(a: &Attempt) -> bool;
    /// See [`RedisTaskDB::heartbeat_attempt`].
    fn heartbeat_attempt(a: &Attempt) -> bool;
    /// See [`RedisTaskDB::heartbeat`].
    fn heartbeat(job_id: &Uuid, task_id: &str) -> bool;
    /// See [`RedisTaskDB::update_task_done`].
    fn update_task_done(job_id: &Uuid, task_id: &str, output: JsonValue) -> bool;
    /// See [`RedisTaskDB::update_task_failed`].
    fn update_task_failed(job_id: &Uuid, task_id: &str, error: &str) -> bool;
    /// See [`RedisTaskDB::update_task_progress`].
    fn update_task_progress(job_id: &Uuid, task_id: &str, progress: f32) -> bool;
    /// See [`RedisTaskDB::update_task_retry`].
    fn update_task_retry(job_id: &Uuid, task_id: &str) -> bool;
    /// See [`RedisTaskDB::requeue_tasks`].
    fn requeue_tasks(limit: i64) -> usize;
    /// See [`RedisTaskDB::check_stuck_pending_tasks`].
    fn check_stuck_pending_tasks() -> Vec<StuckTaskInfo>;
    /// See [`RedisTaskDB::fix_stuck_pending_tasks`].
    fn fix_stuck_pending_tasks() -> i32;
    /// See [`RedisTaskDB::clear_completed_jobs`].
    fn clear_completed_jobs() -> i32;
    /// See [`RedisTaskDB::refresh_stream_counters`].
    fn refresh_stream_counters() -> ();
    /// See [`RedisTaskDB::get_job_state`].
    fn get_job_state(job_id: &Uuid, user_id: &str) -> JobState;
    /// See [`RedisTaskDB::get_job_unresolved`].
    fn get_job_unresolved(job_id: &Uuid) -> i64;
    /// See [`RedisTaskDB::get_concurrent_jobs`].
    fn get_concurrent_jobs(user_id: &str) -> i64;
    /// See [`RedisTaskDB::get_stream`].
    fn get_stream(user_id: &str, worker_type: &str) -> Option<Uuid>;
    /// See [`RedisTaskDB::get_job_time`].
    fn get_job_time(job_id: &Uuid) -> f64;
    /// See [`RedisTaskDB::get_job_failure`].
    fn get_job_failure(job_id: &Uuid) -> String;
    /// See [`RedisTaskDB::get_task_output`].
    fn get_task_output<T: DeserializeOwned>(job_id: &Uuid, task_id: &str) -> T;
    /// See [`RedisTaskDB::delete_job`].
    fn delete_job(job_id: &Uuid) -> ();
    /// See [`RedisTaskDB::retry_job`].
    fn retry_job(job_id: &Uuid) -> bool;
    /// See [`RedisTaskDB::pause_stream`].
    fn pause_stream(stream_id: &Uuid) -> bool;
    /// See [`RedisTaskDB::resume_stream`].
    fn resume_stream(stream_id: &Uuid) -> bool;
    /// See [`RedisTaskDB::pause_worker_type`].
    fn pause_worker_type(worker_type: &str) -> bool;
    /// See [`RedisTaskDB::resume_worker_type`].
    fn resume_worker_type(worker_type: &str) -> bool;
    /// See [`RedisTaskDB::get_task_state_counts`].
    fn get_task_state_counts() -> HashMap<String, HashMap<FullTaskState, i64>>;
    /// See [`RedisTaskDB::init_db`].
    fn init_db() -> ();
}
