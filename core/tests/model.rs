//! The reference model (`support/model.rs`) against the core itself: no server, so it
//! runs many more sequences than the module's model test in the same time.
//! `PROPTEST_CASES=200000 cargo test -p taskdb-core --test model` soaks longer.

mod support;

use proptest::prelude::*;
use support::model::{op, run, Target};
use taskdb_core::*;

/// The core as a target: ids are handed out in order, times advance by a millisecond a
/// command. Every change is also packed as a decision and replayed on a shadow copy (what
/// a replica does); the two must end equal.
#[derive(Default)]
struct Core {
    ns: Namespace,
    shadow: Namespace,
    next_id: u128,
    now: i64,
}

fn id(s: &str) -> u128 {
    u128::from_str_radix(&s.replace('-', ""), 16).expect("an id this target made")
}

impl Core {
    fn fresh(&mut self) -> u128 {
        self.next_id += 1;
        self.next_id
    }
    fn tick(&mut self) -> i64 {
        self.now += 1;
        self.now
    }
    /// Replays what the primary decided at `now` on the shadow copy, through the packed
    /// form.
    fn replicate(&mut self, d: Decision, now: i64) {
        let packed = d.encode(now);
        let (back, at) = Decision::decode(&packed).unwrap();
        self.shadow.replay(&back, at, at as u64).unwrap();
    }
}

/// Every stored byte of a namespace.
fn stored(ns: &Namespace) -> Vec<Vec<u8>> {
    let mut out = vec![ns.encode_header()];
    for j in ns.jobs_in_order() {
        out.push(ns.encode_job_head(j));
        out.push(ns.encode_tasks(j, 0, usize::MAX));
    }
    out
}

impl Target for Core {
    fn create_stream(&mut self, wt: &str, reserved: i64, mult: f64, user: &str) -> String {
        let i = self.fresh();
        let s = NewStream {
            worker_type: wt.as_bytes(),
            reserved,
            be_mult: mult,
            user: user.as_bytes(),
        };
        let now = self.tick();
        self.ns.create_stream(i, &s, now).unwrap();
        self.replicate(
            Decision::CreateStream {
                id: i,
                worker_type: wt.as_bytes(),
                reserved,
                be_mult: mult,
                user: user.as_bytes(),
            },
            now,
        );
        error::uuid(i)
    }
    fn create_job(&mut self, stream: &str, max_retries: i64, user: &str) -> String {
        let i = self.fresh();
        let j = NewJob {
            stream: id(stream),
            def: b"{}",
            max_retries: max_retries as u32,
            timeout_secs: 600,
            user: user.as_bytes(),
            priority: Priority::Medium,
        };
        let now = self.tick();
        self.ns.create_job(i, &j, now).unwrap();
        self.replicate(
            Decision::CreateJob {
                id: i,
                stream: j.stream,
                def: j.def,
                max_retries: j.max_retries,
                timeout_secs: j.timeout_secs,
                user: j.user,
                priority: j.priority,
            },
            now,
        );
        error::uuid(i)
    }
    fn create_task(
        &mut self,
        job: &str,
        task: &str,
        stream: &str,
        prereqs: &[String],
    ) -> std::result::Result<(), String> {
        let pre: Vec<&[u8]> = prereqs.iter().map(|p| p.as_bytes()).collect();
        let t = NewTask {
            task_id: task.as_bytes(),
            stream: id(stream),
            def: b"{}",
            prereqs: &pre,
            max_retries: 1,
            timeout_secs: 600,
        };
        let now = self.tick();
        self.ns
            .create_task(id(job), &t, now)
            .map_err(|e| e.to_string())?;
        self.replicate(
            Decision::CreateTask {
                job: id(job),
                task: t.task_id,
                stream: t.stream,
                def: t.def,
                prereqs: pre.clone(),
                max_retries: t.max_retries,
                timeout_secs: t.timeout_secs,
            },
            now,
        );
        Ok(())
    }
    fn claim(&mut self, wt: &str) -> Option<(String, String)> {
        let now = self.tick();
        let c = self
            .ns
            .request(wt.as_bytes(), Policy::Fair, now, now as u64, None)
            .unwrap()?;
        let task = String::from_utf8(self.ns.task_id_at(c.seq, c.idx).to_vec()).unwrap();
        self.replicate(Decision::Claims(vec![(c.job, task.as_bytes(), None)]), now);
        Some((error::uuid(c.job), task))
    }
    fn done(&mut self, job: &str, task: &str) -> bool {
        let now = self.tick();
        let changed = self
            .ns
            .done(id(job), task.as_bytes(), b"{}", now, None)
            .unwrap();
        if changed {
            let d = Decision::Done {
                job: id(job),
                task: task.as_bytes(),
                output: b"{}",
                attempt: None,
            };
            self.replicate(d, now);
        }
        changed
    }
    fn failed(&mut self, job: &str, task: &str) -> bool {
        let now = self.tick();
        let changed = self
            .ns
            .failed(id(job), task.as_bytes(), b"boom", now, None)
            .unwrap();
        if changed {
            let d = Decision::Failed {
                job: id(job),
                task: task.as_bytes(),
                error: b"boom",
                attempt: None,
            };
            self.replicate(d, now);
        }
        changed
    }
    fn retry(&mut self, job: &str, task: &str) -> bool {
        let now = self.tick();
        let r = self.ns.retry(id(job), task.as_bytes(), now, None).unwrap();
        if r != Retried::NotRunning {
            let d = Decision::Retries {
                tasks: vec![(id(job), task.as_bytes())],
                attempt: None,
            };
            self.replicate(d, now);
        }
        r == Retried::Requeued
    }
    fn cancel(&mut self, job: &str) -> bool {
        let now = self.tick();
        let stopped = self.ns.cancel_job(id(job), jobs::CANCELLED, now).unwrap();
        if stopped {
            let d = Decision::Cancel {
                job: id(job),
                reason: jobs::CANCELLED,
            };
            self.replicate(d, now);
        }
        stopped
    }
    fn pause(&mut self, stream: Option<&str>, wt: &str, paused: bool) -> bool {
        let now = self.tick();
        let target = match stream {
            Some(s) => PauseTarget::Stream(id(s)),
            None => PauseTarget::WorkerType(wt.as_bytes()),
        };
        let changed = self.ns.set_paused(target, paused).unwrap();
        if changed {
            let d = Decision::Pause {
                stream: stream.map(id),
                worker_type: if stream.is_some() { b"" } else { wt.as_bytes() },
                paused,
            };
            self.replicate(d, now);
        }
        changed
    }
    fn retry_job(&mut self, job: &str) -> bool {
        let now = self.tick();
        let again = self.ns.retry_job(id(job), now).unwrap();
        if again {
            self.replicate(Decision::RetryJob { job: id(job) }, now);
        }
        again
    }
    fn delete(&mut self, job: &str) -> bool {
        let gone = self.ns.delete_job(id(job)).is_some();
        if gone {
            self.replicate(Decision::DeleteJobs(vec![id(job)]), self.now);
        }
        gone
    }
    fn clear(&mut self) -> usize {
        let gone: Vec<u128> = self
            .ns
            .clear_completed(usize::MAX, None)
            .0
            .iter()
            .map(|j| j.id)
            .collect();
        if !gone.is_empty() {
            self.replicate(Decision::DeleteJobs(gone.clone()), self.now);
        }
        gone.len()
    }
    fn job(&mut self, job: &str) -> (String, Option<String>) {
        let v = self.ns.job_view(id(job)).unwrap();
        let e = v.error.map(|e| String::from_utf8(e.to_vec()).unwrap());
        (v.state.as_str().to_string(), e)
    }
    fn task(&mut self, job: &str, task: &str) -> (String, i64, i64) {
        let v = self.ns.task(id(job), task.as_bytes()).unwrap();
        (
            v.state.as_str().to_string(),
            i64::from(v.waiting_on),
            i64::from(v.retries),
        )
    }
    fn stream(&mut self, stream: &str) -> (i64, i64) {
        let c = self.ns.stream(id(stream)).unwrap().counts;
        (c[TaskState::Ready as usize], c[TaskState::Running as usize])
    }
    fn check(&mut self) -> Vec<String> {
        let (found, next) = self.ns.check(None, usize::MAX);
        assert_eq!(next, None);
        let mut out: Vec<String> = found.iter().map(|v| format!("{v:?}")).collect();
        // A stored copy of the namespace behaves the same: round-trip it and compare.
        let mut back = Namespace::from_header(&self.ns.encode_header()).unwrap();
        for j in self.ns.jobs_in_order() {
            let jid = back.load_job_head(&self.ns.encode_job_head(j)).unwrap();
            back.load_tasks(jid, &self.ns.encode_tasks(j, 0, usize::MAX), 0)
                .unwrap();
        }
        if back.check(None, usize::MAX).0 != vec![] {
            out.push("the reloaded copy has violations".into());
        }
        if back.stats() != self.ns.stats() || back.job_counts() != self.ns.job_counts() {
            out.push("the reloaded copy counts differently".into());
        }
        if stored(&back) != stored(&self.ns) {
            out.push("the reloaded copy stores different bytes".into());
        }
        if stored(&self.shadow) != stored(&self.ns) {
            out.push("the replica (decisions replayed) differs from the primary".into());
        }
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn the_core_behaves_like_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops, &mut Core::default())?;
    }
}
