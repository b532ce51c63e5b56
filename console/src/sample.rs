//! Throughput over the last minutes: INFO's totals sampled at an interval, so the overview
//! can draw claimed, done and failed per second without TaskDB keeping history.

use crate::data::{Db, TOTALS};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many samples are kept (with the default 5 s interval: 10 minutes).
pub const KEEP: usize = 120;

/// One sample: when, and each of `TOTALS`.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    totals: [i64; TOTALS.len()],
}

/// The samples taken so far, shared with the pages.
#[derive(Clone, Default)]
pub struct Samples(Arc<Mutex<VecDeque<Sample>>>);

impl Samples {
    fn push(&self, s: Sample) {
        let mut q = self.0.lock().expect("samples lock");
        if q.len() == KEEP {
            q.pop_front();
        }
        q.push_back(s);
    }

    /// Per-second rates of the total named `field` between consecutive samples, oldest
    /// first (a restarted server's drop shows as 0).
    pub fn rates(&self, field: &str) -> Vec<f64> {
        let Some(i) = TOTALS.iter().position(|t| *t == field) else {
            return Vec::new();
        };
        let q = self.0.lock().expect("samples lock");
        q.iter()
            .zip(q.iter().skip(1))
            .map(|(a, b)| {
                let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-3);
                (b.totals[i] - a.totals[i]).max(0) as f64 / secs
            })
            .collect()
    }
}

/// Samples INFO's totals every `every` for as long as the process runs; a failed read is
/// skipped (the chart shows a gap in time, not a wrong rate).
pub fn spawn(db: Db, every: Duration) -> Samples {
    let samples = Samples::default();
    let out = samples.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Ok(info) = db.info().await {
                let mut totals = [0; TOTALS.len()];
                for (t, name) in totals.iter_mut().zip(TOTALS) {
                    *t = info.totals.get(name).copied().unwrap_or(0);
                }
                samples.push(Sample {
                    at: Instant::now(),
                    totals,
                });
            }
        }
    });
    out
}
