//! What operators look at: a stream's ready tasks in claim order and the running tasks by
//! lease deadline (the first-class forms of the seed's `ZRANGE`/`LLEN` inspection).

use crate::ns::Namespace;
use crate::tasks::time;

/// A running task and its lease.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseView<'a> {
    /// Its job.
    pub job: u128,
    /// Its id.
    pub task: &'a [u8],
    /// Its holder, if its claim named one.
    pub worker: Option<&'a [u8]>,
    /// The running attempt.
    pub attempt: u32,
    /// When it was claimed, ms.
    pub started_at: Option<i64>,
    /// Its last update, ms.
    pub updated_at: Option<i64>,
    /// Lease length, seconds.
    pub timeout_secs: u32,
    /// The local deadline (this node's monotonic ms).
    pub deadline: u64,
}

impl Namespace {
    /// Up to `count` ready tasks of a stream, in the order REQUEST_WORK hands them out
    /// from it: (job, task id). `None` if there is no such stream.
    pub fn queue(&self, stream: u128, count: usize) -> Option<Vec<(u128, &[u8])>> {
        let ix = self.s.stream_ix(stream)?;
        let mut out = Vec::new();
        for &key in &self.s.stream(ix).queue {
            if out.len() >= count {
                break;
            }
            let Some(j) = self.jobs.get(&crate::schedule::job_of_queue_key(key)) else {
                continue;
            };
            let Some(p) = j.parts.iter().find(|p| p.stream == ix) else {
                continue;
            };
            for idx in p.ready.iter().take(count - out.len()) {
                out.push((j.id, j.task(idx).id()));
            }
        }
        Some(out)
    }

    /// Up to `count` running tasks, earliest lease deadline first.
    pub fn leases(&self, count: usize) -> Vec<LeaseView<'_>> {
        self.s
            .leases
            .iter()
            .take(count)
            .filter_map(|&(deadline, seq, idx)| {
                let j = self.jobs.get(&seq)?;
                let t = j.task(idx);
                Some(LeaseView {
                    job: j.id,
                    task: t.id(),
                    worker: j.worker_of(idx),
                    attempt: t.attempt(),
                    started_at: time(t.started_at()),
                    updated_at: time(t.updated_at()),
                    timeout_secs: t.timeout_secs(),
                    deadline,
                })
            })
            .collect()
    }
}
