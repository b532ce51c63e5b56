//! What every measurement fills the server with: one command at a time, and ready tasks
//! of one job by the pipelined batch.

use redis::{Connection, FromRedisValue};
use std::ops::Range;

/// Runs a command and converts its reply (panics with the command on an error: a
/// benchmark that cannot fill has nothing to measure).
pub fn q<T: FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut k = redis::cmd(args[0]);
    for a in &args[1..] {
        k.arg(*a);
    }
    k.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Creates tasks `t<i>` for every `i` in `ids` in job `job` of namespace `ns` on `stream`,
/// with definition `def(i)`, prerequisites `prereqs` (JSON), no retries and an hour's
/// lease, 5,000 to a pipeline.
pub fn tasks(
    c: &mut Connection,
    ns: &str,
    job: &str,
    stream: &str,
    ids: Range<usize>,
    def: impl Fn(usize) -> String,
    prereqs: &str,
) {
    let mut at = ids.start;
    while at < ids.end {
        let to = (at + 5000).min(ids.end);
        let mut p = redis::pipe();
        for i in at..to {
            p.cmd("TASKDB.CREATE_TASK")
                .arg(ns)
                .arg(job)
                .arg(format!("t{i}"))
                .arg(stream)
                .arg(def(i))
                .arg(prereqs)
                .arg(0)
                .arg(3600)
                .ignore();
        }
        let _: () = p.query(c).expect("CREATE_TASK");
        at = to;
    }
}
