//! CHECK and REPAIR: recompute what is derived from task states and compare it with what
//! is kept, a page of jobs at a time (bounded by a task budget), and the namespace-wide
//! counts on the page that reaches the end.
//!
//! The operations keep all of it exact; what CHECK usually finds is data restored from
//! elsewhere (a PostgreSQL TaskDB's stuck pending tasks: `stuck_pending`). REPAIR fixes a
//! job by rebuilding its derived state from its task records through the same code that
//! loads a stored namespace.

use crate::error::uuid;
use crate::ns::{Job, Namespace};
use crate::state::{JobState, TaskState, STATES};
use std::collections::BTreeMap;

/// Tasks `from..to` of the job with sequence `seq`, on one CHECK page.
struct Span {
    seq: u64,
    from: u32,
    to: u32,
}

/// One disagreement: its kind and field/value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// What kind (`stuck_pending`, `waiting_on`, `job_unresolved`, ...).
    pub kind: &'static str,
    /// Its fields.
    pub fields: Vec<(&'static str, Vec<u8>)>,
}

fn v(kind: &'static str, fields: Vec<(&'static str, Vec<u8>)>) -> Violation {
    Violation { kind, fields }
}

fn num(n: impl ToString) -> Vec<u8> {
    n.to_string().into_bytes()
}

fn counts_text(c: &[i64; STATES]) -> Vec<u8> {
    c.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(" ")
        .into_bytes()
}

impl Namespace {
    /// The violations of tasks `range` of job `j` taken one by one: links, index, queue,
    /// lease and waiting count.
    fn check_tasks(&self, j: &Job, range: std::ops::Range<u32>) -> Vec<Violation> {
        let mut out = Vec::new();
        let jid = || uuid(j.id).into_bytes();
        for idx in range {
            let t = j.task(idx);
            let state = j.state_of(idx);
            for p in t.prereqs() {
                if !j.dependents(p).contains(&idx) {
                    out.push(v(
                        "dependent_link",
                        vec![
                            ("job_id", jid()),
                            ("pre", j.task(p).id().to_vec()),
                            ("post", t.id().to_vec()),
                        ],
                    ));
                }
            }
            if j.find(t.id()) != Some(idx) {
                out.push(v(
                    "task_index",
                    vec![("job_id", jid()), ("task_id", t.id().to_vec())],
                ));
            }
            let ready = j
                .parts
                .iter()
                .any(|p| p.stream == t.stream() && p.ready.contains(idx));
            if ready != (state == TaskState::Ready) {
                out.push(v(
                    "queue",
                    vec![
                        ("job_id", jid()),
                        ("task_id", t.id().to_vec()),
                        ("state", state.as_str().as_bytes().to_vec()),
                    ],
                ));
            }
            let leased = j.running.contains_key(&idx);
            if leased != (state == TaskState::Running) {
                out.push(v(
                    "lease",
                    vec![("job_id", jid()), ("task_id", t.id().to_vec())],
                ));
            }
            if state != TaskState::Pending {
                continue;
            }
            let n = t.prereqs().len() as i64;
            let done = t
                .prereqs()
                .filter(|&p| j.state_of(p) == TaskState::Done)
                .count() as i64;
            let actual = n - done;
            let fields = vec![
                ("job_id", jid()),
                ("task_id", t.id().to_vec()),
                ("waiting_on", num(t.waiting_on())),
                ("prerequisites", num(n)),
                ("done", num(done)),
                ("should_be_ready", num(u8::from(actual == 0))),
            ];
            if actual == 0 {
                out.push(v("stuck_pending", fields));
            } else if actual != i64::from(t.waiting_on()) {
                out.push(v("waiting_on", fields));
            }
        }
        out
    }

    /// The violations of job `j` as a whole (its counts, links, unresolved count and
    /// state), from one light pass over its task records.
    fn check_totals(&self, j: &Job) -> Vec<Violation> {
        let mut out = Vec::new();
        let jid = || uuid(j.id).into_bytes();
        let mut parts: BTreeMap<u32, [i64; STATES]> = BTreeMap::new();
        let mut unresolved = 0;
        let mut any_failed = false;
        let mut links = 0usize;
        for idx in 0..j.tasks.len() as u32 {
            let t = j.task(idx);
            let state = j.state_of(idx);
            parts.entry(t.stream()).or_insert([0; STATES])[state as usize] += 1;
            unresolved += i64::from(state != TaskState::Done);
            any_failed |= state == TaskState::Failed;
            links += t.prereqs().len();
        }
        if links != j.edges.len() {
            out.push(v(
                "dependent_link",
                vec![
                    ("job_id", jid()),
                    ("stored", num(j.edges.len())),
                    ("expected", num(links)),
                ],
            ));
        }
        for (stream, c) in &parts {
            let kept = j
                .parts
                .iter()
                .find(|p| p.stream == *stream)
                .map_or([0; STATES], |p| p.counts);
            if kept != *c {
                out.push(v(
                    "job_counts",
                    vec![
                        ("job_id", jid()),
                        ("stream_id", uuid(self.s.stream(*stream).id).into_bytes()),
                        ("stored", counts_text(&kept)),
                        ("expected", counts_text(c)),
                    ],
                ));
            }
        }
        if unresolved != j.unresolved {
            out.push(v(
                "job_unresolved",
                vec![
                    ("job_id", jid()),
                    ("stored", num(j.unresolved)),
                    ("expected", num(unresolved)),
                ],
            ));
        }
        let expected = if j.failed() || any_failed {
            JobState::Failed
        } else if unresolved == 0 {
            JobState::Done
        } else {
            JobState::Running
        };
        if expected != j.state {
            out.push(v(
                "job_state",
                vec![
                    ("job_id", jid()),
                    ("stored", j.state.as_str().as_bytes().to_vec()),
                    ("expected", expected.as_str().as_bytes().to_vec()),
                ],
            ));
        }
        out.extend(self.check_entries(j));
        out
    }

    /// The namespace-wide indexes' entries for job `j`: its id, its place among the done
    /// jobs, its queue entries and its leases (here, a page at a time, so the last page's
    /// pass over every job only sums).
    fn check_entries(&self, j: &Job) -> Vec<Violation> {
        let mut out = Vec::new();
        let jid = || uuid(j.id).into_bytes();
        if self.job_ids.get(&j.id) != Some(&j.seq) {
            out.push(v("job_registry", vec![("job_id", jid())]));
        }
        let key = (j.finished_at, j.seq);
        if (j.state == JobState::Done) != self.s.done_jobs.contains(&key)
            || (j.state == JobState::Failed) != self.s.failed_jobs.contains(&key)
        {
            out.push(v("done_jobs", vec![("job_id", jid())]));
        }
        let key = j.queue_key();
        for p in &j.parts {
            let queued = self
                .s
                .streams
                .get(p.stream as usize)
                .and_then(|s| s.as_deref())
                .is_some_and(|s| s.queue.contains(&key));
            if queued == p.ready.is_empty() {
                out.push(v(
                    "queue",
                    vec![
                        ("job_id", jid()),
                        ("stream_id", uuid(self.s.stream(p.stream).id).into_bytes()),
                    ],
                ));
            }
        }
        for (&idx, &d) in &j.running {
            if !self.s.leases.contains(&(d, j.seq, idx)) {
                out.push(v(
                    "lease",
                    vec![("job_id", jid()), ("task_id", j.task(idx).id().to_vec())],
                ));
            }
        }
        out
    }

    /// The namespace-wide violations (counts over streams, worker types, jobs, users; the
    /// schedules; the sizes of the queues, the lease index and the registries, whose
    /// entries the job pages checked). One pass over the jobs that only sums.
    fn check_global(&self) -> Vec<Violation> {
        let mut out = Vec::new();
        let slots = self.s.streams.len();
        let mut stream_counts = vec![[0i64; STATES]; slots];
        let mut queued = vec![0usize; slots];
        let mut job_counts = [0i64; 3];
        let mut running = vec![0i64; self.s.users.len()];
        let mut leases = 0usize;
        for j in self.jobs.values() {
            job_counts[j.state as usize] += 1;
            if j.state == JobState::Running {
                running[j.user as usize] += 1;
            }
            for p in &j.parts {
                for (a, b) in stream_counts[p.stream as usize].iter_mut().zip(p.counts) {
                    *a += b;
                }
                queued[p.stream as usize] += usize::from(!p.ready.is_empty());
            }
            leases += j.running.len();
        }
        if self.job_ids.len() != self.jobs.len() {
            out.push(v(
                "job_registry",
                vec![
                    ("stored", num(self.job_ids.len())),
                    ("expected", num(self.jobs.len())),
                ],
            ));
        }
        let done = job_counts[JobState::Done as usize] as usize;
        let failed = job_counts[JobState::Failed as usize] as usize;
        let stored = self.s.done_jobs.len() + self.s.failed_jobs.len();
        if self.s.done_jobs.len() != done || stored != done + failed {
            out.push(v(
                "done_jobs",
                vec![("stored", num(stored)), ("expected", num(done + failed))],
            ));
        }
        let mut fair = vec![0usize; self.s.types.len()];
        let mut type_counts = vec![[0i64; STATES]; self.s.types.len()];
        for (ix, s) in self.s.streams.iter().enumerate() {
            let Some(s) = s else { continue };
            let sid = || uuid(s.id).into_bytes();
            if s.counts != stream_counts[ix] {
                out.push(v(
                    "stream_counts",
                    vec![
                        ("stream_id", sid()),
                        ("stored", counts_text(&s.counts)),
                        ("expected", counts_text(&stream_counts[ix])),
                    ],
                ));
            }
            if s.queue.len() != queued[ix] {
                out.push(v("queue", vec![("stream_id", sid())]));
            }
            for (a, b) in type_counts[s.worker_type as usize].iter_mut().zip(s.counts) {
                *a += b;
            }
            let t = &self.s.type_data[s.worker_type as usize];
            fair[s.worker_type as usize] += usize::from(s.listed());
            // A stream listed without ready work shows in the sizes compared below.
            let fair_ok = !s.listed() || t.fair.contains(&s.fair_key_at(ix as u32));
            let strict_ok = t.strict.contains(&s.strict_key_at(ix as u32)) == s.listed();
            if !fair_ok || !strict_ok {
                out.push(v("schedule", vec![("stream_id", sid())]));
            }
        }
        for (i, t) in self.s.type_data.iter().enumerate() {
            if t.fair.len() != fair[i] || t.strict.len() != fair[i] {
                out.push(v(
                    "schedule",
                    vec![("worker_type", self.s.types.name(i as u32).to_vec())],
                ));
            }
            if t.counts != type_counts[i] {
                out.push(v(
                    "worker_type_counts",
                    vec![
                        ("worker_type", self.s.types.name(i as u32).to_vec()),
                        ("stored", counts_text(&t.counts)),
                        ("expected", counts_text(&type_counts[i])),
                    ],
                ));
            }
        }
        if self.s.leases.len() != leases {
            out.push(v(
                "lease",
                vec![
                    ("stored", num(self.s.leases.len())),
                    ("expected", num(leases)),
                ],
            ));
        }
        if job_counts != self.s.job_counts {
            out.push(v(
                "job_count",
                vec![
                    ("stored", counts_text3(&self.s.job_counts)),
                    ("expected", counts_text3(&job_counts)),
                ],
            ));
        }
        for (u, n) in running.iter().enumerate() {
            if self.s.user_running.get(u) != Some(n) {
                out.push(v(
                    "running_jobs",
                    vec![("user_id", self.s.users.name(u as u32).to_vec())],
                ));
            }
        }
        out
    }

    /// Checks tasks from `from` (a job's sequence and a task index in it; `None`: the
    /// start) until about `budget` tasks were visited, and the namespace-wide counts when
    /// the end is reached: the violations and where to continue (`None`: done). A big job
    /// is checked over several pages, its totals on the page that finishes it.
    pub fn check(
        &self,
        from: Option<(u64, u32)>,
        budget: usize,
    ) -> (Vec<Violation>, Option<(u64, u32)>) {
        let (spans, next) = self.page(from, budget);
        let mut out = Vec::new();
        for s in &spans {
            let j = &self.jobs[&s.seq];
            out.extend(self.check_tasks(j, s.from..s.to));
            if s.to as usize == j.tasks.len() {
                out.extend(self.check_totals(j));
            }
        }
        if next.is_none() {
            out.extend(self.check_global());
        }
        (out, next)
    }

    /// CHECK, repairing what it finds: a job with a violation on the page has its
    /// pending tasks' counts recomputed (a stuck one released) and its derived state
    /// rebuilt from its task records; at the end the namespace-wide state is rebuilt if
    /// it disagrees.
    pub fn repair(
        &mut self,
        from: Option<(u64, u32)>,
        budget: usize,
        mono: u64,
    ) -> (Vec<Violation>, Option<(u64, u32)>) {
        let (spans, next) = self.page(from, budget);
        let mut out = Vec::new();
        for s in spans {
            let j = &self.jobs[&s.seq];
            let mut found = self.check_tasks(j, s.from..s.to);
            if s.to as usize == j.tasks.len() {
                found.extend(self.check_totals(j));
            }
            if !found.is_empty() {
                self.rebuild_job(s.seq, mono);
                out.extend(found);
            }
        }
        if next.is_none() {
            let found = self.check_global();
            if !found.is_empty() {
                self.rebuild_global();
                out.extend(found);
            }
        }
        (out, next)
    }

    /// The task spans of one page: from `from` until `budget` tasks are covered (a job's
    /// totals pass counts as a tenth of its tasks), and where the next page starts.
    fn page(&self, from: Option<(u64, u32)>, budget: usize) -> (Vec<Span>, Option<(u64, u32)>) {
        let (seq0, idx0) = from.unwrap_or((0, 0));
        let mut spans = Vec::new();
        let mut used = 0usize;
        let mut it = self.jobs.range(seq0..).peekable();
        while let Some((&seq, j)) = it.next() {
            let n = j.tasks.len() as u32;
            let start = if seq == seq0 { idx0.min(n) } else { 0 };
            let room = budget.saturating_sub(used).max(1);
            let end = (start as usize + room).min(n as usize) as u32;
            spans.push(Span {
                seq,
                from: start,
                to: end,
            });
            used += (end - start).max(1) as usize;
            if end < n {
                return (spans, Some((seq, end)));
            }
            used += n as usize / 10;
            if used >= budget {
                return (spans, it.peek().map(|(&s, _)| (s, 0)));
            }
        }
        (spans, None)
    }

    /// Rebuilds one job's derived state from its task records: pending tasks' waiting
    /// counts from their prerequisites (releasing stuck ones), its job state, its
    /// counts, ready sets, dependency links and leases (running tasks keep theirs).
    fn rebuild_job(&mut self, seq: u64, mono: u64) {
        let Some(mut j) = self.jobs.remove(&seq) else {
            return;
        };
        let deadlines = j.running.clone();
        self.s.detach(&mut j);
        let failed = j.failed();
        // Pending counts from the prerequisites, in creation order (a prerequisite comes
        // before its dependent, so its state is final by then).
        let mut stored: Vec<TaskState> = Vec::with_capacity(j.tasks.len());
        let mut shown: Vec<TaskState> = Vec::with_capacity(j.tasks.len());
        let mut waiting: Vec<u32> = Vec::with_capacity(j.tasks.len());
        for idx in 0..j.tasks.len() as u32 {
            let t = j.task(idx);
            let mut s = t.state();
            let mut w = t.waiting_on();
            if s == TaskState::Pending && !failed {
                w = t
                    .prereqs()
                    .filter(|&p| shown[p as usize] != TaskState::Done)
                    .count() as u32;
                if w == 0 {
                    s = TaskState::Ready;
                }
            }
            stored.push(s);
            shown.push(s.effective(failed));
            waiting.push(w);
        }
        let fresh = Job::new(j.id, j.seq, j.user, j.priority, j.created_at);
        let old = std::mem::replace(&mut j, fresh);
        j.first_started_at = old.first_started_at;
        j.last_updated_at = old.last_updated_at;
        j.error = old.error.clone();
        j.reported = old.reported;
        let any_failed = shown.contains(&TaskState::Failed);
        let unresolved = shown.iter().filter(|s| **s != TaskState::Done).count();
        j.state = if old.failed() || any_failed {
            JobState::Failed
        } else if unresolved == 0 {
            JobState::Done
        } else {
            JobState::Running
        };
        self.s.job_counts[j.state as usize] += 1;
        if j.state == JobState::Running {
            self.s.user_running[j.user as usize] += 1;
        }
        j.finished_at = if j.state == old.state {
            old.finished_at
        } else {
            0
        };
        self.s.note_finished(&mut j);
        for (idx, mut rec) in old.tasks.iter().cloned().enumerate() {
            let i = idx as u32;
            rec.set_first_dependent(crate::record::NONE);
            rec.set_waiting_on(waiting[idx]);
            rec.set_state(stored[idx]);
            let x = old.extras.get(&i).cloned();
            let at = j.push_task(rec);
            if let Some(x) = x {
                j.extras.insert(at, x);
            }
            let keep = deadlines.get(&i).copied();
            self.s.add_task(&mut j, at, mono);
            if let Some(d) = keep {
                // A lease that was running keeps its deadline.
                if let Some(now) = j.running.get_mut(&at) {
                    self.s.leases.remove(&(*now, seq, at));
                    *now = d;
                    self.s.leases.insert((d, seq, at));
                }
            }
        }
        self.jobs.insert(seq, j);
        self.s.settle();
    }

    /// Rebuilds every namespace-wide count and index from the jobs' own state.
    fn rebuild_global(&mut self) {
        let sh = &mut self.s;
        for s in sh.streams.iter_mut().flatten() {
            s.counts = [0; STATES];
            s.queue.clear();
        }
        for t in sh.type_data.iter_mut() {
            t.counts = [0; STATES];
            t.fair.clear();
            t.strict.clear();
        }
        sh.job_counts = [0; 3];
        sh.user_running.iter_mut().for_each(|n| *n = 0);
        sh.done_jobs.clear();
        sh.failed_jobs.clear();
        sh.leases.clear();
        sh.task_count = 0;
        sh.task_bytes = 0;
        for (seq, j) in &self.jobs {
            sh.job_counts[j.state as usize] += 1;
            match j.state {
                JobState::Running => sh.user_running[j.user as usize] += 1,
                JobState::Done => {
                    sh.done_jobs.insert((j.finished_at, *seq));
                }
                JobState::Failed => {
                    sh.failed_jobs.insert((j.finished_at, *seq));
                }
            }
            for p in &j.parts {
                if let Some(Some(s)) = sh.streams.get_mut(p.stream as usize) {
                    for (a, b) in s.counts.iter_mut().zip(p.counts) {
                        *a += b;
                    }
                    if !p.ready.is_empty() {
                        s.queue.insert(j.queue_key());
                    }
                }
            }
            for (&idx, &d) in &j.running {
                sh.leases.insert((d, *seq, idx));
            }
            sh.task_count += j.tasks.len();
            sh.task_bytes += j.tasks.iter().map(|t| t.heap_bytes()).sum::<usize>();
        }
        for (ix, s) in sh.streams.iter().enumerate() {
            let Some(s) = s else { continue };
            let t = &mut sh.type_data[s.worker_type as usize];
            for (a, b) in t.counts.iter_mut().zip(s.counts) {
                *a += b;
            }
            if s.listed() {
                t.fair.insert(s.fair_key_at(ix as u32));
                t.strict.insert(s.strict_key_at(ix as u32));
            }
        }
    }
}

fn counts_text3(c: &[i64; 3]) -> Vec<u8> {
    c.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(" ")
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewJob, NewStream, NewTask, Policy, Priority, RestoredTask};

    fn ns_with_dag() -> Namespace {
        let mut ns = Namespace::new();
        let s = NewStream {
            worker_type: b"cpu",
            reserved: 1,
            be_mult: 1.0,
            user: b"u",
        };
        ns.create_stream(1, &s, 0).unwrap();
        let j = NewJob {
            stream: 1,
            def: b"{}",
            max_retries: 1,
            timeout_secs: 60,
            user: b"u",
            priority: Priority::Medium,
        };
        ns.create_job(9, &j, 0).unwrap();
        let t = NewTask {
            task_id: b"a",
            stream: 1,
            def: b"{}",
            prereqs: &[b"init"],
            max_retries: 1,
            timeout_secs: 60,
        };
        ns.create_task(9, &t, 0).unwrap();
        ns
    }

    #[test]
    fn a_healthy_namespace_has_nothing_to_report() {
        let mut ns = ns_with_dag();
        ns.request(b"cpu", Policy::Fair, 0, 0, None).unwrap();
        assert_eq!(ns.check(None, 10), (vec![], None));
        assert_eq!(ns.repair(None, 10, 0), (vec![], None));
    }

    #[test]
    fn a_stuck_pending_task_is_reported_and_released() {
        let mut ns = ns_with_dag();
        // A restored task that says it waits although its prerequisite is done.
        ns.request(b"cpu", Policy::Fair, 0, 0, None).unwrap();
        ns.done(9, b"init", b"{}", 1, None).unwrap();
        let r = RestoredTask {
            task: NewTask {
                task_id: b"stuck",
                stream: 1,
                def: b"{}",
                prereqs: &[b"init"],
                max_retries: 1,
                timeout_secs: 60,
            },
            state: TaskState::Pending,
            created_at: 0,
            waiting_on: Some(1),
            progress: None,
            retries: None,
            started_at: None,
            updated_at: None,
            output: None,
            error: None,
            attempt: None,
            worker: None,
        };
        assert!(ns.restore_task(9, &r, 0).unwrap());
        let (found, next) = ns.check(None, 100);
        assert_eq!(next, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, "stuck_pending");
        let (fixed, _) = ns.repair(None, 100, 0);
        assert_eq!(fixed, found);
        assert_eq!(ns.check(None, 100).0, vec![]);
        assert_eq!(ns.task(9, b"stuck").unwrap().state, TaskState::Ready);
    }

    #[test]
    fn damaged_derived_state_is_found_and_rebuilt() {
        let mut ns = ns_with_dag();
        ns.request(b"cpu", Policy::Fair, 0, 5, None).unwrap();
        let snapshot = |ns: &Namespace| {
            let stats: Vec<(Vec<u8>, [i64; STATES])> = ns
                .stats()
                .into_iter()
                .map(|(n, c)| (n.to_vec(), c))
                .collect();
            (stats, ns.job_counts(), ns.leases(9).len())
        };
        let healthy = snapshot(&ns);
        // Damage a job's counts, a stream's counts and the lease index.
        let j = ns.jobs.values_mut().next().unwrap();
        j.parts[0].counts[0] += 3;
        j.unresolved = 7;
        ns.s.streams[0].as_mut().unwrap().counts[1] = 9;
        ns.s.leases.clear();
        let kinds: Vec<&str> = ns.check(None, 100).0.iter().map(|v| v.kind).collect();
        for k in ["job_counts", "job_unresolved", "stream_counts", "lease"] {
            assert!(kinds.contains(&k), "{k} not in {kinds:?}");
        }
        ns.repair(None, 100, 0);
        assert_eq!(ns.check(None, 100).0, vec![]);
        assert_eq!(snapshot(&ns), healthy);
        assert_eq!(
            ns.next_deadline(),
            Some(60_005),
            "the lease kept its deadline"
        );
    }

    #[test]
    fn pages_cover_every_job_once() {
        let mut ns = ns_with_dag();
        for id in 10..20u128 {
            let j = NewJob {
                stream: 1,
                def: b"{}",
                max_retries: 1,
                timeout_secs: 60,
                user: b"u",
                priority: Priority::Medium,
            };
            ns.create_job(id, &j, 0).unwrap();
        }
        let (mut after, mut pages) = (None, 0);
        loop {
            let (found, next) = ns.check(after, 3);
            assert!(found.is_empty());
            pages += 1;
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert!(pages >= 4, "{pages}");
    }

    #[test]
    fn a_big_job_is_checked_over_several_pages_and_its_totals_on_the_last() {
        let mut ns = ns_with_dag();
        for i in 0..50 {
            let id = format!("t{i}");
            let t = NewTask {
                task_id: id.as_bytes(),
                stream: 1,
                def: b"{}",
                prereqs: &[],
                max_retries: 1,
                timeout_secs: 60,
            };
            ns.create_task(9, &t, 0).unwrap();
        }
        // Damage one task's queue membership in the middle and the job's totals.
        let j = ns.jobs.values_mut().next().unwrap();
        let mid = j.find(b"t25").unwrap();
        j.parts[0].ready.remove(mid);
        j.unresolved += 1;
        let (mut from, mut pages, mut kinds) = (None, Vec::new(), Vec::new());
        loop {
            let (found, next) = ns.check(from, 10);
            pages.push(found.iter().map(|v| v.kind).collect::<Vec<_>>());
            kinds.extend(found.iter().map(|v| v.kind));
            match next {
                Some(n) => from = Some(n),
                None => break,
            }
        }
        assert!(pages.len() >= 5, "{pages:?}");
        assert!(pages[..pages.len() - 1]
            .iter()
            .all(|p| !p.contains(&"job_unresolved")));
        assert!(kinds.contains(&"queue"), "{kinds:?}");
        assert!(
            pages.last().unwrap().contains(&"job_unresolved"),
            "{pages:?}"
        );
        // REPAIR page by page fixes both.
        let mut from = None;
        loop {
            let (_, next) = ns.repair(from, 10, 0);
            match next {
                Some(n) => from = Some(n),
                None => break,
            }
        }
        assert_eq!(ns.check(None, usize::MAX).0, vec![]);
    }
}
