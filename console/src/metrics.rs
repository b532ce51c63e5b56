//! `/metrics`: TaskDB's counts in the OpenMetrics text format (prometheus-client), read
//! at scrape time from the same commands the pages use, so a scrape is as exact as a page.

use crate::data::{Db, Info, Stats, JOB_STATES, TASK_STATES, TOTALS};
use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    namespace: String,
    worker_type: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    namespace: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    worker_type: String,
}

/// The scrape's text, from each namespace's STATS and the node's INFO.
pub fn render(namespaces: &[(String, Stats)], info: &Info) -> String {
    let mut reg = Registry::default();
    let tasks = Family::<TaskLabels, Gauge>::default();
    let jobs = Family::<JobLabels, Gauge>::default();
    let blocked = Family::<TypeLabels, Gauge>::default();
    reg.register(
        "taskdb_tasks",
        "Tasks per namespace, worker type and state",
        tasks.clone(),
    );
    reg.register("taskdb_jobs", "Jobs per namespace and state", jobs.clone());
    reg.register(
        "taskdb_blocked_workers",
        "Workers waiting in REQUEST_WORK ... BLOCK on this server, per worker type",
        blocked.clone(),
    );
    for (ns, st) in namespaces {
        for (wt, counts) in &st.tasks {
            for (state, n) in TASK_STATES.iter().zip(counts) {
                tasks
                    .get_or_create(&TaskLabels {
                        namespace: ns.clone(),
                        worker_type: wt.clone(),
                        state: state.to_string(),
                    })
                    .set(*n);
            }
        }
        for (state, n) in JOB_STATES.iter().zip(st.jobs) {
            jobs.get_or_create(&JobLabels {
                namespace: ns.clone(),
                state: state.to_string(),
            })
            .set(n);
        }
    }
    for (wt, n) in &info.blocked {
        blocked
            .get_or_create(&TypeLabels {
                worker_type: wt.clone(),
            })
            .set(*n);
    }
    for field in TOTALS {
        // "taskdb_claimed_total" registers as "taskdb_claimed" (the suffix is the type's).
        let name = field.trim_end_matches("_total");
        let what = name.trim_start_matches("taskdb_");
        let c = Counter::<u64>::default();
        c.inc_by(info.totals.get(field).copied().unwrap_or(0).max(0) as u64);
        reg.register(
            name,
            format!("Tasks {what} on this server since it started"),
            c,
        );
    }
    let mut out = String::new();
    encode(&mut out, &reg).expect("writing to a String");
    out
}

/// Reads every namespace's STATS and INFO: what a page and a scrape show.
pub async fn read_all(db: &Db) -> crate::data::Result<(Vec<(String, Stats)>, Info)> {
    let mut out = Vec::new();
    for ns in db.namespaces().await? {
        let st = db.stats(&ns).await?;
        out.push((ns, st));
    }
    Ok((out, db.info().await?))
}
