//! After a run: every job done, every task handed out exactly once, and no task handed
//! out before all its prerequisites were done. A run that breaks the semantics fails.

use crate::dag::TaskSpec;
use crate::drain::{Drained, NS};
use redis::Connection;
use std::collections::HashMap;

/// Checks the drain phase's outcome; the problems found (empty when the run was correct).
pub fn verify(c: &mut Connection, jobs: &[String], dag: &[TaskSpec], d: &Drained) -> Vec<String> {
    let mut problems = Vec::new();
    let mut claimed: HashMap<(&str, &str), Vec<u64>> = HashMap::new();
    for cl in &d.claims {
        claimed
            .entry((&cl.job, &cl.task))
            .or_default()
            .push(cl.recv_seq);
    }
    let done_seq: HashMap<(&str, &str), u64> = d
        .dones
        .iter()
        .map(|x| ((x.job.as_str(), x.task.as_str()), x.send_seq))
        .collect();
    for job in jobs {
        for t in dag {
            match claimed
                .get(&(job.as_str(), t.id.as_str()))
                .map(Vec::as_slice)
            {
                Some([recv]) => {
                    for p in &t.prereqs {
                        match done_seq.get(&(job.as_str(), p.as_str())) {
                            Some(sent) if sent < recv => {}
                            _ => problems
                                .push(format!("{job}/{} handed out before {p} was done", t.id)),
                        }
                    }
                }
                Some(many) => {
                    problems.push(format!("{job}/{} handed out {} times", t.id, many.len()))
                }
                None => problems.push(format!("{job}/{} never handed out", t.id)),
            }
        }
    }
    if claimed.len() != jobs.len() * dag.len() {
        problems.push(format!(
            "{} distinct tasks claimed, {} exist",
            claimed.len(),
            jobs.len() * dag.len()
        ));
    }
    // The server's own record: done, never retried, started after its prerequisites ended.
    for job in jobs {
        let state: redis::Value = redis::cmd("TASKDB.JOB")
            .arg(NS)
            .arg(job)
            .query(c)
            .unwrap_or(redis::Value::Nil);
        if !format!("{state:?}").contains("done") {
            problems.push(format!("job {job} is not done: {state:?}"));
        }
        let mut p = redis::pipe();
        for t in dag {
            p.cmd("TASKDB.TASK").arg(NS).arg(job).arg(&t.id);
        }
        let rows: Vec<HashMap<String, String>> = p
            .query::<Vec<Vec<Option<String>>>>(c)
            .unwrap_or_default()
            .into_iter()
            .map(|flat| {
                flat.chunks(2)
                    .filter_map(|kv| Some((kv[0].clone()?, kv.get(1).cloned().flatten()?)))
                    .collect()
            })
            .collect();
        let by_id: HashMap<&str, &HashMap<String, String>> =
            dag.iter().map(|t| t.id.as_str()).zip(rows.iter()).collect();
        let ms = |row: &HashMap<String, String>, f: &str| {
            row.get(f).and_then(|v| v.parse::<i64>().ok()).unwrap_or(-1)
        };
        for t in dag {
            let Some(row) = by_id.get(t.id.as_str()) else {
                problems.push(format!("{job}/{} missing", t.id));
                continue;
            };
            if row.get("state").map(String::as_str) != Some("done")
                || row.get("retries").map(String::as_str) != Some("0")
            {
                problems.push(format!("{job}/{}: {:?}", t.id, row));
            }
            for pre in &t.prereqs {
                if let Some(prow) = by_id.get(pre.as_str()) {
                    if ms(row, "started_at") < ms(prow, "updated_at") {
                        problems.push(format!("{job}/{} started before {pre} was done", t.id));
                    }
                }
            }
        }
    }
    let mut cursor = "0".to_string();
    loop {
        let (next, found): (String, Vec<redis::Value>) = redis::cmd("TASKDB.CHECK")
            .arg(NS)
            .arg("CURSOR")
            .arg(&cursor)
            .query(c)
            .unwrap_or_default();
        if !found.is_empty() {
            problems.push(format!("TASKDB.CHECK: {found:?}"));
        }
        if next == "0" || next.is_empty() {
            break;
        }
        cursor = next;
    }
    problems
}
