//! Test helpers over the shared fixture (`taskdb-testkit`): commands, replies, and a
//! namespace-bound helper.

pub use taskdb_testkit::{copy_dir, wait_for, Server};

use redis::{Connection, FromRedisValue, Value};

/// redis-server arguments for AOF persistence fsynced at every write, RDB snapshots off.
pub const AOF_ALWAYS: [&str; 6] = [
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
];

/// One field of an `INFO <section>` reply ("" when absent).
pub fn info_field(c: &mut Connection, section: &str, name: &str) -> String {
    let info: String = q(c, &["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The `INFO taskdb` fields, without their `taskdb_` prefix.
pub fn taskdb_info(c: &mut Connection) -> std::collections::HashMap<String, String> {
    let text: String = q(c, &["INFO", "taskdb"]);
    text.lines()
        .filter_map(|l| l.strip_prefix("taskdb_"))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// Runs a command and converts its reply.
pub fn q<T: FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query(c) {
        Ok(v) => v,
        Err(e) => panic!("{args:?} failed: {e}"),
    }
}

/// Runs a command that must fail; its error text (code and message).
pub fn err(c: &mut Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<Value>(c) {
        Ok(v) => panic!("{args:?} should fail, got {v:?}"),
        Err(e) => {
            let code = e.code().unwrap_or("").to_string();
            let detail = e.detail().unwrap_or("").to_string();
            format!("{code} {detail}").trim().to_string()
        }
    }
}

/// `DEBUG DIGEST` of the whole keyspace.
pub fn digest(c: &mut Connection) -> String {
    q(c, &["DEBUG", "DIGEST"])
}

/// A field/value array reply as pairs (nil values as None).
pub fn fields(v: Value) -> Vec<(String, Option<String>)> {
    let items: Vec<Value> = match v {
        Value::Array(items) => items,
        other => panic!("expected array, got {other:?}"),
    };
    items
        .chunks(2)
        .map(|p| {
            let f: String = String::from_redis_value(&p[0]).unwrap();
            let v: Option<String> = Option::from_redis_value(&p[1]).unwrap();
            (f, v)
        })
        .collect()
}

/// One field of a field/value reply (`None`: absent, as RESP2 replies leave unset fields
/// out).
pub fn field(v: &[(String, Option<String>)], name: &str) -> Option<String> {
    v.iter()
        .find(|(f, _)| f == name)
        .and_then(|(_, v)| v.clone())
}

/// Counts by state, as STATS replies them.
pub type Counts = Vec<(String, i64)>;

/// A namespace-bound helper over one connection.
pub struct Ns {
    /// The connection.
    pub c: Connection,
    /// The namespace.
    pub ns: String,
}

impl Ns {
    /// A helper for namespace `ns` on `server`.
    pub fn new(server: &Server, ns: &str) -> Ns {
        Ns {
            c: server.conn(),
            ns: ns.to_string(),
        }
    }

    /// Runs `TASKDB.<cmd> ns args...`.
    pub fn q<T: FromRedisValue>(&mut self, cmd: &str, args: &[&str]) -> T {
        let name = format!("TASKDB.{cmd}");
        let mut all = vec![name.as_str(), self.ns.as_str()];
        all.extend_from_slice(args);
        q(&mut self.c, &all)
    }

    /// Runs `TASKDB.<cmd> ns args...`, which must fail; the error text.
    pub fn err(&mut self, cmd: &str, args: &[&str]) -> String {
        let name = format!("TASKDB.{cmd}");
        let mut all = vec![name.as_str(), self.ns.as_str()];
        all.extend_from_slice(args);
        err(&mut self.c, &all)
    }

    /// A new stream.
    pub fn stream(&mut self, worker_type: &str, reserved: i64, be_mult: f64, user: &str) -> String {
        self.q(
            "CREATE_STREAM",
            &[
                worker_type,
                &reserved.to_string(),
                &be_mult.to_string(),
                user,
            ],
        )
    }

    /// A new job on `stream` (init task def `{}`, 3 retries, 60 s lease) for `user`.
    pub fn job(&mut self, stream: &str, user: &str) -> String {
        self.q("CREATE_JOB", &[stream, "{}", "3", "60", user])
    }

    /// A new task.
    pub fn task(&mut self, job: &str, task: &str, stream: &str, prereqs: &[&str]) {
        let p = serde_json::to_string(prereqs).unwrap();
        let _: String = self.q("CREATE_TASK", &[job, task, stream, "{}", &p, "3", "60"]);
    }

    /// REQUEST_WORK: (job_id, task_id) or None.
    pub fn claim(&mut self, worker_type: &str) -> Option<(String, String)> {
        let v: Option<(String, String, String, String, i64, i64)> =
            self.q("REQUEST_WORK", &[worker_type]);
        v.map(|(j, t, _, _, _, _)| (j, t))
    }

    /// DONE with output `{}`; whether it changed the task.
    pub fn done(&mut self, job: &str, task: &str) -> bool {
        self.q::<i64>("DONE", &[job, task, "{}"]) == 1
    }

    /// A task's field.
    pub fn task_field(&mut self, job: &str, task: &str, name: &str) -> Option<String> {
        let v: Value = self.q("TASK", &[job, task]);
        field(&fields(v), name)
    }

    /// A stream's field.
    pub fn stream_field(&mut self, stream: &str, name: &str) -> Option<String> {
        let v: Value = self.q("STREAM", &[stream]);
        field(&fields(v), name)
    }

    /// Sets the lease reaper's interval (the fixture starts servers with it off).
    pub fn reaper_every(&mut self, ms: &str) {
        let _: () = q(
            &mut self.c,
            &["CONFIG", "SET", "taskdb.requeue-interval-ms", ms],
        );
    }

    /// The server clock (TIME) in milliseconds.
    pub fn server_ms(&mut self) -> i64 {
        let now: Vec<i64> = q(&mut self.c, &["TIME"]);
        now[0] * 1000 + now[1] / 1000
    }

    /// Waits until the server clock is past `ms` (a deadline, not a fixed sleep).
    pub fn wait_past(&mut self, ms: i64) {
        wait_for(5, "the server clock", || {
            (self.server_ms() > ms).then_some(())
        });
    }

    /// A task's time field (`started_at`, `updated_at`, ...) in ms.
    pub fn task_ms(&mut self, job: &str, task: &str, name: &str) -> i64 {
        self.task_field(job, task, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} of {task} is not set"))
    }

    /// TASKDB.STATS: per worker type its task counts by state, and job counts by state.
    pub fn stats(&mut self) -> (Vec<(String, Counts)>, Counts) {
        let v: Vec<Value> = self.q("STATS", &[]);
        let flat: Vec<Value> = redis::from_redis_value(&v[1]).unwrap();
        let tasks = flat
            .chunks(2)
            .map(|p| {
                let wt: String = redis::from_redis_value(&p[0]).unwrap();
                (wt, redis::from_redis_value(&p[1]).unwrap())
            })
            .collect();
        (tasks, redis::from_redis_value(&v[3]).unwrap())
    }

    /// TASKDB.CHECK over every page: the violations found (empty when healthy).
    pub fn check(&mut self) -> Vec<Value> {
        self.pages("CHECK")
    }

    /// Every item of a cursor-paged listing (`STREAMS`, `JOBS`, `JOB_TASKS`), with the
    /// arguments before its cursor.
    pub fn listing(&mut self, cmd: &str, before: &[&str]) -> Vec<String> {
        let mut all = Vec::new();
        let mut cursor = "0".to_string();
        loop {
            let mut args: Vec<&str> = before.to_vec();
            args.push(&cursor);
            let (next, items): (String, Vec<String>) = self.q(cmd, &args);
            all.extend(items);
            if next == "0" {
                return all;
            }
            cursor = next;
        }
    }

    /// A job's task ids in creation order.
    pub fn job_tasks(&mut self, job: &str) -> Vec<String> {
        self.listing("JOB_TASKS", &[job])
    }

    /// Every stream id.
    pub fn streams(&mut self) -> Vec<String> {
        self.listing("STREAMS", &[])
    }

    /// Every job id, oldest first.
    pub fn jobs(&mut self) -> Vec<String> {
        self.listing("JOBS", &[])
    }

    /// Runs a cursor-paged CHECK or REPAIR to its end: every violation it reported.
    pub fn pages(&mut self, cmd: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor = "0".to_string();
        loop {
            let (next, found): (String, Vec<Value>) = self.q(cmd, &["CURSOR", &cursor]);
            all.extend(found);
            if next == "0" {
                return all;
            }
            cursor = next;
        }
    }
}
