//! Persistence: RDB save and load rates of one namespace, and the size of its DUMP (what
//! MIGRATE sends as one RESTORE argument, so `proto-max-bulk-len` bounds a namespace).

use crate::fill::q;
use crate::server::Server;
use serde::Serialize;
use std::time::Instant;

const NS: &str = "persist";

/// The figures.
#[derive(Debug, Clone, Serialize)]
pub struct Persist {
    /// Tasks in the namespace.
    pub tasks: usize,
    /// SAVE, tasks per second.
    pub save_tasks_per_s: f64,
    /// DEBUG RELOAD NOSAVE (load only), tasks per second.
    pub load_tasks_per_s: f64,
    /// RDB file bytes per task.
    pub rdb_bytes_per_task: f64,
    /// DUMP bytes per task.
    pub dump_bytes_per_task: f64,
    /// The server's `proto-max-bulk-len`.
    pub proto_max_bulk_len: u64,
    /// The most tasks of this kind one namespace can hold and still DUMP/MIGRATE.
    pub max_migratable_tasks: u64,
}

/// A 100-byte JSON string unlike every other (what RDB compression cannot fold away, as
/// real task definitions): hex digits of a mixed counter.
fn unique_def(i: usize) -> String {
    let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut s = String::with_capacity(100);
    s.push('"');
    while s.len() < 99 {
        x ^= x >> 29;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        s.push_str(&format!("{x:016x}"));
    }
    s.truncate(99);
    s.push('"');
    s
}

/// Fills namespace `ns` of an empty server with `n` tasks (jobs of 1,000, 100-byte
/// definitions).
pub fn fill(c: &mut redis::Connection, ns: &str, n: usize) {
    let _: () = q(c, &["FLUSHALL"]);
    let st: String = q(c, &["TASKDB.CREATE_STREAM", ns, "CPU", "1", "1", "u"]);
    let mut made = 0;
    while made < n {
        let job: String = q(
            c,
            &[
                "TASKDB.CREATE_JOB",
                ns,
                &st,
                &unique_def(made),
                "0",
                "3600",
                "u",
            ],
        );
        let k = (n - made).min(1000);
        crate::fill::tasks(c, ns, &job, &st, 1..k, |i| unique_def(made + i), "[]");
        made += k;
        if made % 200_000 == 0 {
            eprintln!("fill: {made} tasks");
        }
    }
}

/// Fills one namespace with `n` tasks (jobs of 1,000, 100-byte definitions), then saves,
/// reloads and dumps it.
pub fn run(server: &Server, n: usize) -> Persist {
    let mut c = server.conn();
    fill(&mut c, NS, n);
    let t = Instant::now();
    let _: () = q(&mut c, &["SAVE"]);
    let save = t.elapsed().as_secs_f64();
    let dir: Vec<String> = q(&mut c, &["CONFIG", "GET", "dir"]);
    let file: Vec<String> = q(&mut c, &["CONFIG", "GET", "dbfilename"]);
    let rdb = std::fs::metadata(std::path::Path::new(&dir[1]).join(&file[1]))
        .map(|m| m.len())
        .unwrap_or(0);
    let t = Instant::now();
    let _: () = q(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]);
    let load = t.elapsed().as_secs_f64();
    let dump: Vec<u8> = redis::cmd("DUMP").arg(NS).query(&mut c).expect("DUMP");
    let bulk: Vec<String> = q(&mut c, &["CONFIG", "GET", "proto-max-bulk-len"]);
    let max_bulk: u64 = bulk[1].parse().unwrap_or(512 * 1024 * 1024);
    // The dump must come back: RESTORE it under another name.
    let _: () = redis::cmd("RESTORE")
        .arg("persist-copy")
        .arg(0)
        .arg(&dump)
        .query(&mut c)
        .expect("RESTORE of the DUMP");
    let per_task = dump.len() as f64 / n as f64;
    let p = Persist {
        tasks: n,
        save_tasks_per_s: n as f64 / save,
        load_tasks_per_s: n as f64 / load,
        rdb_bytes_per_task: rdb as f64 / n as f64,
        dump_bytes_per_task: per_task,
        proto_max_bulk_len: max_bulk,
        max_migratable_tasks: (max_bulk as f64 / per_task) as u64,
    };
    eprintln!("persist: {p:?}");
    let _: () = q(&mut c, &["FLUSHALL"]);
    p
}
