//! What the pages show, read through the TASKDB commands (RESP2) and INFO: nothing here
//! reads TaskDB's stored data directly.

use redis::aio::ConnectionManager;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::Value;
use std::collections::BTreeMap;

/// A record reply (TASK, JOB, STREAM, SCHEDULE and LEASES rows) as field -> text.
pub type Record = BTreeMap<String, String>;

/// Task states in the order pages show them.
pub const TASK_STATES: [&str; 6] = ["pending", "ready", "running", "done", "failed", "cancelled"];
/// Job states in the order pages show them.
pub const JOB_STATES: [&str; 3] = ["running", "done", "failed"];

/// What a read can fail with: Redis' error, or a reply of an unexpected shape.
pub type Result<T> = std::result::Result<T, redis::RedisError>;

fn shape(what: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::TypeError,
        "unexpected reply",
        what.to_string(),
    ))
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Double(d) => Some(d.to_string()),
        _ => None,
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        _ => &[],
    }
}

/// A flat field/value array as a record (unset fields are absent in RESP2).
pub fn record(v: &Value) -> Record {
    items(v)
        .chunks(2)
        .filter_map(|p| match p {
            [k, v] => Some((text(k)?, text(v)?)),
            _ => None,
        })
        .collect()
}

/// A record's number (0 if absent).
pub fn num(r: &Record, field: &str) -> i64 {
    r.get(field).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// One namespace's counts, as TASKDB.STATS answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Tasks per worker type and state (in `TASK_STATES` order).
    pub tasks: BTreeMap<String, [i64; 6]>,
    /// Jobs per state (in `JOB_STATES` order).
    pub jobs: [i64; 3],
}

impl Stats {
    /// Tasks per state over every worker type.
    pub fn task_totals(&self) -> [i64; 6] {
        let mut out = [0; 6];
        for counts in self.tasks.values() {
            for (o, c) in out.iter_mut().zip(counts) {
                *o += c;
            }
        }
        out
    }
}

/// The node-wide totals of INFO taskdb.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Info {
    /// Tasks claimed, done, failed, retried, requeued since the server started.
    pub totals: BTreeMap<String, i64>,
    /// Workers waiting in REQUEST_WORK … BLOCK, per worker type.
    pub blocked: BTreeMap<String, i64>,
}

/// The INFO totals the console samples and exports, by INFO field.
pub const TOTALS: [&str; 5] = [
    "taskdb_claimed_total",
    "taskdb_done_total",
    "taskdb_failed_total",
    "taskdb_retried_total",
    "taskdb_requeued_total",
];

/// A timing of TASKDB.METRICS: per-bound counts (not cumulative, the last above every
/// bound), their sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timing {
    /// (upper bound in ms, count); the last bound is `u64::MAX`.
    pub buckets: Vec<(u64, u64)>,
    /// Sum, ms.
    pub sum_ms: i64,
    /// Observations.
    pub count: i64,
}

/// One worker type's row of TASKDB.METRICS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meter {
    /// Counts: claimed, done, failed, retried, requeued.
    pub counts: BTreeMap<String, i64>,
    /// Ready to claimed.
    pub wait: Timing,
    /// Claimed to done.
    pub run: Timing,
}

/// The counters of a METRICS row, by field.
pub const METER_COUNTS: [&str; 5] = ["claimed", "done", "failed", "retried", "requeued"];

fn timing(v: &Value) -> Timing {
    let mut t = Timing::default();
    let (mut bounds, mut counts) = (Vec::new(), Vec::new());
    for p in items(v).chunks(2) {
        let [k, v] = p else { continue };
        match text(k).as_deref() {
            Some("count") => t.count = text(v).and_then(|x| x.parse().ok()).unwrap_or(0),
            Some("sum_ms") => t.sum_ms = text(v).and_then(|x| x.parse().ok()).unwrap_or(0),
            Some("bounds_ms") => {
                bounds = items(v)
                    .iter()
                    .filter_map(|b| text(b)?.parse().ok())
                    .collect()
            }
            Some("buckets") => {
                counts = items(v)
                    .iter()
                    .filter_map(|b| text(b)?.parse().ok())
                    .collect()
            }
            _ => {}
        }
    }
    bounds.push(u64::MAX);
    t.buckets = bounds.into_iter().zip(counts).collect();
    t
}

/// Adds one node's INFO taskdb text to `out` (totals and blocked workers sum).
fn add_info(out: &mut Info, body: &str) {
    for line in body.lines() {
        let Some((k, v)) = line.trim().split_once(':') else {
            continue;
        };
        if k == "taskdb_blocked_workers" {
            for part in v.split(',').filter(|p| !p.is_empty()) {
                if let Some((wt, n)) = part.split_once('=') {
                    *out.blocked.entry(wt.to_string()).or_default() +=
                        n.parse::<i64>().unwrap_or_default();
                }
            }
        } else if TOTALS.contains(&k) {
            *out.totals.entry(k.to_string()).or_default() += v.parse::<i64>().unwrap_or_default();
        }
    }
}

/// How commands about one namespace reach it: one server, or a Redis Cluster (routed by
/// the namespace key, redirects followed).
#[derive(Clone)]
enum Keyed {
    Single(Box<ConnectionManager>),
    Cluster(ClusterConnection),
}

/// A connection to the Redis (or Redis Cluster) TaskDB runs on.
#[derive(Clone)]
pub struct Db {
    keyed: Keyed,
    /// A cluster's seed URLs (credentials included), to reach each primary.
    seeds: Option<Vec<String>>,
}

impl Db {
    /// Connects to `url` (reconnecting by itself later): `redis://…` for one server,
    /// `redis+cluster://host:port,host:port` for a cluster, whose every primary is then
    /// read for the namespaces and the INFO totals.
    pub async fn connect(url: &str) -> Result<Db> {
        if let Some(seeds) = taskdb_redis::cluster_seeds(url) {
            let conn = ClusterClient::builder(seeds.clone())
                .response_timeout(std::time::Duration::from_secs(5))
                .build()?
                .get_async_connection()
                .await?;
            return Ok(Db {
                keyed: Keyed::Cluster(conn),
                seeds: Some(seeds),
            });
        }
        let client = redis::Client::open(url)?;
        Ok(Db {
            keyed: Keyed::Single(Box::new(ConnectionManager::new(client).await?)),
            seeds: None,
        })
    }

    async fn q(&self, args: &[&str]) -> Result<Value> {
        let mut c = redis::cmd(args[0]);
        for a in &args[1..] {
            c.arg(*a);
        }
        match &self.keyed {
            Keyed::Single(m) => c.query_async(&mut (**m).clone()).await,
            Keyed::Cluster(k) => c.query_async(&mut k.clone()).await,
        }
    }

    /// A connection to each primary of the cluster (for what is per node: SCAN, INFO),
    /// or `None` on one server.
    async fn primaries(&self) -> Result<Option<Vec<redis::aio::MultiplexedConnection>>> {
        let Some(seeds) = &self.seeds else {
            return Ok(None);
        };
        let nodes = text(&self.q(&["CLUSTER", "NODES"]).await?).unwrap_or_default();
        let auth = seeds
            .first()
            .and_then(|u| u.strip_prefix("redis://"))
            .and_then(|u| u.rsplit_once('@'))
            .map(|(a, _)| format!("{a}@"))
            .unwrap_or_default();
        let mut out = Vec::new();
        for line in nodes.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() < 3 || !f[2].contains("master") || f[2].contains("fail") {
                continue;
            }
            let addr = f[1].split('@').next().unwrap_or_default();
            let client = redis::Client::open(format!("redis://{auth}{addr}/"))?;
            out.push(client.get_multiplexed_async_connection().await?);
        }
        Ok(Some(out))
    }

    /// Every item of a SCAN-like listing: `before` the cursor, the cursor, then `after`
    /// (COUNT, filters), page after page until the cursor comes back 0.
    async fn every(&self, before: &[&str], after: &[&str]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut cursor = "0".to_string();
        loop {
            let mut args = before.to_vec();
            args.push(&cursor);
            args.extend_from_slice(after);
            let v = self.q(&args).await?;
            let [next, page] = items(&v) else {
                return Err(shape(before[0]));
            };
            out.extend(items(page).iter().filter_map(text));
            cursor = text(next).ok_or_else(|| shape(before[0]))?;
            if cursor == "0" {
                return Ok(out);
            }
        }
    }

    /// Runs a command for its effect (an action).
    pub async fn run(&self, args: &[&str]) -> Result<()> {
        self.q(args).await.map(|_| ())
    }

    async fn pipe(&self, cmds: Vec<Vec<String>>) -> Result<Vec<Value>> {
        let mut p = redis::pipe();
        for args in &cmds {
            let mut c = redis::cmd(&args[0]);
            for a in &args[1..] {
                c.arg(a);
            }
            p.add_command(c);
        }
        match &self.keyed {
            Keyed::Single(m) => p.query_async(&mut (**m).clone()).await,
            Keyed::Cluster(k) => p.query_async(&mut k.clone()).await,
        }
    }

    /// Every namespace key of the current database (SCAN … TYPE taskdb-ns; on a cluster,
    /// of every primary), sorted.
    pub async fn namespaces(&self) -> Result<Vec<String>> {
        let mut out = match self.primaries().await? {
            None => {
                self.every(&["SCAN"], &["COUNT", "1000", "TYPE", "taskdb-ns"])
                    .await?
            }
            Some(nodes) => {
                let mut all = Vec::new();
                for mut n in nodes {
                    let mut cursor = "0".to_string();
                    loop {
                        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
                            .arg(&cursor)
                            .arg("COUNT")
                            .arg(1000)
                            .arg("TYPE")
                            .arg("taskdb-ns")
                            .query_async(&mut n)
                            .await?;
                        all.extend(keys);
                        if next == "0" {
                            break;
                        }
                        cursor = next;
                    }
                }
                all
            }
        };
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// TASKDB.STATS of a namespace.
    pub async fn stats(&self, ns: &str) -> Result<Stats> {
        let v = self.q(&["TASKDB.STATS", ns]).await?;
        let mut out = Stats::default();
        for pair in items(&v).chunks(2) {
            let [k, body] = pair else { continue };
            match text(k).as_deref() {
                Some("tasks") => {
                    for t in items(body).chunks(2) {
                        let [wt, counts] = t else { continue };
                        let r = record(counts);
                        let mut c = [0; 6];
                        for (i, s) in TASK_STATES.iter().enumerate() {
                            c[i] = num(&r, s);
                        }
                        out.tasks.insert(text(wt).unwrap_or_default(), c);
                    }
                }
                Some("jobs") => {
                    let r = record(body);
                    for (i, s) in JOB_STATES.iter().enumerate() {
                        out.jobs[i] = num(&r, s);
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// INFO taskdb's totals and blocked workers (on a cluster, summed over the primaries).
    pub async fn info(&self) -> Result<Info> {
        let bodies = match self.primaries().await? {
            None => vec![text(&self.q(&["INFO", "taskdb"]).await?).unwrap_or_default()],
            Some(nodes) => {
                let mut all = Vec::new();
                for mut n in nodes {
                    let body: String = redis::cmd("INFO").arg("taskdb").query_async(&mut n).await?;
                    all.push(body);
                }
                all
            }
        };
        let mut out = Info::default();
        for body in bodies {
            add_info(&mut out, &body);
        }
        Ok(out)
    }

    /// TASKDB.METRICS of a namespace: per worker type, its meter.
    pub async fn meters(&self, ns: &str) -> Result<Vec<(String, Meter)>> {
        let v = self.q(&["TASKDB.METRICS", ns]).await?;
        let mut out = Vec::new();
        for row in items(&v) {
            let mut m = Meter::default();
            let mut wt = String::new();
            for p in items(row).chunks(2) {
                let [k, v] = p else { continue };
                match text(k).as_deref() {
                    Some("worker_type") => wt = text(v).unwrap_or_default(),
                    Some("wait") => m.wait = timing(v),
                    Some("run") => m.run = timing(v),
                    Some(f) if METER_COUNTS.contains(&f) => {
                        m.counts.insert(
                            f.to_string(),
                            text(v).and_then(|x| x.parse().ok()).unwrap_or(0),
                        );
                    }
                    _ => {}
                }
            }
            out.push((wt, m));
        }
        Ok(out)
    }

    /// A worker type's streams with ready work, in the order REQUEST_WORK serves them.
    pub async fn schedule(&self, ns: &str, worker_type: &str, count: usize) -> Result<Vec<Record>> {
        let v = self
            .q(&[
                "TASKDB.SCHEDULE",
                ns,
                worker_type,
                "COUNT",
                &count.to_string(),
            ])
            .await?;
        Ok(items(&v).iter().map(record).collect())
    }

    /// Every stream of a namespace with its settings and counts, oldest first.
    pub async fn streams(&self, ns: &str) -> Result<Vec<(String, Record)>> {
        let ids = self
            .every(&["TASKDB.STREAMS", ns], &["COUNT", "1000"])
            .await?;
        let cmds = ids
            .iter()
            .map(|id| vec!["TASKDB.STREAM".into(), ns.into(), id.clone()])
            .collect();
        let recs = if ids.is_empty() {
            Vec::new()
        } else {
            self.pipe(cmds).await?
        };
        Ok(ids.into_iter().zip(recs.iter().map(record)).collect())
    }

    /// One page of jobs, newest first: `(next_cursor, [(job_id, record)])`. `count`
    /// bounds the jobs examined (a filtered page may be short).
    pub async fn jobs(
        &self,
        ns: &str,
        cursor: &str,
        count: usize,
        state: Option<&str>,
        user: Option<&str>,
    ) -> Result<(String, Vec<(String, Record)>)> {
        let count = count.to_string();
        let mut args = vec!["TASKDB.JOBS", ns, cursor, "COUNT", &count, "REV"];
        if let Some(s) = state {
            args.extend(["STATE", s]);
        }
        if let Some(u) = user {
            args.extend(["USER", u]);
        }
        let v = self.q(&args).await?;
        let [next, page] = items(&v) else {
            return Err(shape("JOBS"));
        };
        let ids: Vec<String> = items(page).iter().filter_map(text).collect();
        let next = text(next).ok_or_else(|| shape("JOBS cursor"))?;
        if ids.is_empty() {
            return Ok((next, Vec::new()));
        }
        let mut cmds: Vec<Vec<String>> = Vec::new();
        for id in &ids {
            cmds.push(vec!["TASKDB.JOB".into(), ns.into(), id.clone()]);
            cmds.push(vec!["TASKDB.JOB_TIME".into(), ns.into(), id.clone()]);
        }
        let replies = self.pipe(cmds).await?;
        let rows = ids
            .into_iter()
            .zip(replies.chunks(2))
            .filter_map(|(id, r)| {
                let mut rec = record(&r[0]);
                if rec.is_empty() {
                    return None; // deleted between the two calls
                }
                if let Some(t) = text(&r[1]) {
                    rec.insert("duration".into(), t);
                }
                Some((id, rec))
            })
            .collect();
        Ok((next, rows))
    }

    /// A job's record (None if there is no such job).
    pub async fn job(&self, ns: &str, id: &str) -> Result<Option<Record>> {
        let r = record(&self.q(&["TASKDB.JOB", ns, id]).await?);
        Ok((!r.is_empty()).then_some(r))
    }

    /// Every task of a job in creation order, with its record.
    pub async fn job_tasks(&self, ns: &str, id: &str) -> Result<Vec<(String, Record)>> {
        let ids = self
            .every(&["TASKDB.JOB_TASKS", ns, id], &["COUNT", "10000"])
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            let cmds = chunk
                .iter()
                .map(|t| vec!["TASKDB.TASK".into(), ns.into(), id.into(), t.clone()])
                .collect();
            for (t, v) in chunk.iter().zip(self.pipe(cmds).await?) {
                let r = record(&v);
                if !r.is_empty() {
                    out.push((t.clone(), r));
                }
            }
        }
        Ok(out)
    }

    /// Running tasks, earliest lease deadline first.
    pub async fn leases(&self, ns: &str, count: usize) -> Result<Vec<Record>> {
        let v = self
            .q(&["TASKDB.LEASES", ns, "COUNT", &count.to_string()])
            .await?;
        Ok(items(&v).iter().map(record).collect())
    }
}
