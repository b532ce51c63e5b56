//! `/metrics`: TaskDB's counts in the OpenMetrics text format (prometheus-client), read
//! at scrape time from the same commands the pages use, so a scrape is as exact as a page.

use crate::data::{Db, Info, Meter, Stats, Timing, JOB_STATES, METER_COUNTS, TASK_STATES, TOTALS};
use prometheus_client::encoding::{text::encode, EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MeterLabels {
    namespace: String,
    worker_type: String,
}

/// Histograms as TaskDB keeps them (bucket counts from TASKDB.METRICS), one per label set.
#[derive(Debug, Default)]
struct Timings(Vec<(MeterLabels, Timing)>);

impl EncodeMetric for Timings {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, t) in &self.0 {
            let buckets: Vec<(f64, u64)> = t
                .buckets
                .iter()
                .map(|&(le, n)| {
                    (
                        if le == u64::MAX {
                            f64::MAX
                        } else {
                            le as f64 / 1000.0
                        },
                        n,
                    )
                })
                .collect();
            encoder.encode_family(labels)?.encode_histogram::<()>(
                t.sum_ms as f64 / 1000.0,
                t.count as u64,
                &buckets,
                None,
            )?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// The scrape's text, from each namespace's STATS and METRICS and the node's INFO.
pub fn render(
    namespaces: &[(String, Stats)],
    meters: &[(String, Vec<(String, Meter)>)],
    info: &Info,
) -> String {
    let mut reg = Registry::default();
    let mut counts: Vec<Family<MeterLabels, Counter>> = Vec::new();
    for what in METER_COUNTS {
        let f = Family::<MeterLabels, Counter>::default();
        reg.register(
            format!("taskdb_tasks_{what}"),
            format!(
                "Tasks {what} per namespace and worker type, since the server loaded the namespace"
            ),
            f.clone(),
        );
        counts.push(f);
    }
    let (mut wait, mut run) = (Timings::default(), Timings::default());
    for (ns, rows) in meters {
        for (wt, m) in rows {
            let labels = MeterLabels {
                namespace: ns.clone(),
                worker_type: wt.clone(),
            };
            for (f, what) in counts.iter().zip(METER_COUNTS) {
                f.get_or_create(&labels)
                    .inc_by(m.counts.get(what).copied().unwrap_or(0).max(0) as u64);
            }
            wait.0.push((labels.clone(), m.wait.clone()));
            run.0.push((labels, m.run.clone()));
        }
    }
    reg.register(
        "taskdb_task_wait_seconds",
        "Time tasks waited ready (created, released or sent back) before a claim",
        wait,
    );
    reg.register(
        "taskdb_task_run_seconds",
        "Time from a task's claim to its DONE",
        run,
    );
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

/// Every namespace's METRICS.
pub async fn read_meters(
    db: &Db,
    namespaces: &[(String, Stats)],
) -> crate::data::Result<Vec<(String, Vec<(String, Meter)>)>> {
    let mut out = Vec::new();
    for (ns, _) in namespaces {
        out.push((ns.clone(), db.meters(ns).await?));
    }
    Ok(out)
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
