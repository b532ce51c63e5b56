//! Maintenance: `TASKDB.CHECK` (invariants), `TASKDB.REPAIR` and `TASKDB.STATS` (counts).
//!
//! CHECK recomputes everything derived from task states (the source of truth) and compares
//! it with what is stored: stream counters and priorities, schedules, queues, leases, job
//! unresolved counts and states, the job registries, STATS counts, dependency links, and
//! pending tasks whose prerequisites are all done. It only reads. REPAIR does the same and
//! rewrites what differs.

use crate::args::Args;
use crate::db::{Db, Job, Stream, Task};
use crate::error::{Error, Result};
use crate::keys::field;
use crate::model::{self, JobState, TaskState};
use crate::store::{Key, Kind, Val};
use redis_module::{Context, RedisString, RedisValue};
use std::collections::{BTreeMap, HashMap};

/// One invariant violation: field/value pairs, starting with `kind`.
type Violation = Vec<(String, Vec<u8>)>;

/// Sorted set contents: member -> score.
type Members = BTreeMap<Vec<u8>, f64>;

fn violation(kind: &str, fields: &[(&str, &[u8])]) -> Violation {
    let mut v = vec![("kind".to_string(), kind.as_bytes().to_vec())];
    v.extend(fields.iter().map(|(f, x)| (f.to_string(), x.to_vec())));
    v
}

fn num(x: f64) -> Vec<u8> {
    model::format_double(x).into_bytes()
}

/// Compares a sorted set with what it should hold; with `fix`, makes it so.
fn reconcile_zset(
    db: &Db,
    name: &[u8],
    expected: &BTreeMap<Vec<u8>, f64>,
    fix: bool,
    kind: &str,
    out: &mut Vec<Violation>,
) -> Result<()> {
    let k = db.open(name.to_vec(), fix, Kind::Zset)?;
    let actual: BTreeMap<Vec<u8>, f64> = k
        .zrange_by_score(f64::NEG_INFINITY, f64::INFINITY, false, usize::MAX)
        .into_iter()
        .collect();
    for (m, s) in &actual {
        if !expected.contains_key(m) {
            out.push(violation(
                kind,
                &[
                    ("key", name),
                    ("member", m),
                    ("stored", &num(*s)),
                    ("expected", b"absent"),
                ],
            ));
            if fix {
                k.zrem(m);
            }
        }
    }
    for (m, s) in expected {
        let stored = actual.get(m);
        if stored != Some(s) {
            let shown = stored.map_or(b"absent".to_vec(), |x| num(*x));
            out.push(violation(
                kind,
                &[
                    ("key", name),
                    ("member", m),
                    ("stored", &shown),
                    ("expected", &num(*s)),
                ],
            ));
            if fix {
                k.zadd(*s, m);
            }
        }
    }
    Ok(())
}

/// Compares a hash of counters or values with what it should hold; with `fix`, makes it so.
fn reconcile_hash(
    db: &Db,
    name: &[u8],
    expected: &BTreeMap<Vec<u8>, Vec<u8>>,
    fix: bool,
    kind: &str,
    out: &mut Vec<Violation>,
) -> Result<()> {
    let k = db.open(name.to_vec(), fix, Kind::Hash)?;
    let actual: BTreeMap<Vec<u8>, Vec<u8>> = k.hgetall(db.ctx)?.into_iter().collect();
    for (f, v) in &actual {
        if !expected.contains_key(f) {
            out.push(violation(
                kind,
                &[
                    ("key", name),
                    ("field", f),
                    ("stored", v),
                    ("expected", b"absent"),
                ],
            ));
            if fix {
                k.hdel(f);
            }
        }
    }
    for (f, v) in expected {
        let stored = actual.get(f);
        if stored != Some(v) {
            let shown = stored.cloned().unwrap_or_else(|| b"absent".to_vec());
            out.push(violation(
                kind,
                &[
                    ("key", name),
                    ("field", f),
                    ("stored", &shown),
                    ("expected", v),
                ],
            ));
            if fix {
                k.hset(f, v);
            }
        }
    }
    Ok(())
}

fn counter_map(m: BTreeMap<Vec<u8>, i64>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    m.into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|(f, n)| (f, n.to_string().into_bytes()))
        .collect()
}

/// A job's task as CHECK sees it: its key, its fields, its prerequisite list.
type Loaded = (Key, Task, Vec<String>);

/// Checks (and with `fix` repairs) a whole namespace; the violations found.
pub fn check_namespace(db: &Db, fix: bool) -> Result<Vec<Violation>> {
    let mut out = Vec::new();
    let registry = db.open(db.keys.streams(), fix, Kind::Hash)?;
    let mut streams: HashMap<String, Stream> = HashMap::new();
    for (sid, _) in registry.hgetall(db.ctx)? {
        let id = String::from_utf8_lossy(&sid).into_owned();
        match db.read_stream(&id, &db.open(db.keys.stream(&id), false, Kind::Hash)?)? {
            Some(s) => {
                streams.insert(id, s);
            }
            None => {
                out.push(violation("missing_stream", &[("stream_id", &sid)]));
                if fix {
                    registry.hdel(&sid);
                }
            }
        }
    }

    let mut stream_counts: HashMap<String, [i64; model::STATES]> = streams
        .keys()
        .map(|k| (k.clone(), [0; model::STATES]))
        .collect();
    let mut job_counts: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    let mut running_jobs: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    let mut done_jobs: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut job_registry: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut job_ids: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut queues: HashMap<String, Members> = streams
        .keys()
        .map(|k| (k.clone(), BTreeMap::new()))
        .collect();
    let mut leases: Members = BTreeMap::new();
    let lease_key = db.keys.leases();

    for (jid, _) in db
        .open(db.keys.jobs(), false, Kind::Hash)?
        .hgetall(db.ctx)?
    {
        let job_id = String::from_utf8_lossy(&jid).into_owned();
        let jk = db.open(db.keys.job(&job_id), fix, Kind::Hash)?;
        let Some(job) = db.read_job(&job_id, &jk)? else {
            out.push(violation("missing_job", &[("job_id", &jid)]));
            continue;
        };
        let ids = db
            .open(db.keys.job_tasks(&job_id), false, Kind::List)?
            .litems();
        let mut tasks: BTreeMap<Vec<u8>, Loaded> = BTreeMap::new();
        for id in ids {
            match db.task(&job_id, &id, fix)? {
                Some((k, t)) => {
                    let [raw] = k.hmget([&field::PREREQUISITES]);
                    let raw = crate::tasks::prerequisites_or_none(raw);
                    let prereqs: Vec<String> = serde_json::from_slice(&raw)
                        .map_err(|_| Error::Corrupt("prerequisites".into()))?;
                    tasks.insert(id, (k, t, prereqs));
                }
                None => out.push(violation(
                    "missing_task",
                    &[("job_id", &jid), ("task_id", &id)],
                )),
            }
        }
        // Pending tasks: waiting_on must count the prerequisites not done.
        let states: HashMap<Vec<u8>, TaskState> = tasks
            .iter()
            .map(|(id, (_, t, _))| (id.clone(), t.state))
            .collect();
        let mut new_states: HashMap<Vec<u8>, TaskState> = HashMap::new();
        let mut links: Members = BTreeMap::new();
        for (id, (k, t, prereqs)) in &tasks {
            for p in prereqs {
                links.insert(model::dependent_link(p.as_bytes(), id), 0.0);
            }
            if t.state != TaskState::Pending {
                continue;
            }
            let done = prereqs
                .iter()
                .filter(|p| states.get(p.as_bytes()) == Some(&TaskState::Done))
                .count() as i64;
            let actual = prereqs.len() as i64 - done;
            let (w, n, d) = (
                t.waiting_on.to_string(),
                prereqs.len().to_string(),
                done.to_string(),
            );
            let fields: [(&str, &[u8]); 6] = [
                ("job_id", &jid),
                ("task_id", id),
                ("waiting_on", w.as_bytes()),
                ("prerequisites", n.as_bytes()),
                ("done", d.as_bytes()),
                ("should_be_ready", if actual == 0 { b"1" } else { b"0" }),
            ];
            if actual == 0 {
                out.push(violation("stuck_pending", &fields));
            } else if actual != t.waiting_on {
                out.push(violation("waiting_on", &fields));
            }
            if actual == 0 {
                new_states.insert(id.clone(), TaskState::Ready);
            }
            if fix && (actual != t.waiting_on || actual == 0) {
                let mut fixed = t.clone();
                fixed.waiting_on = actual;
                if actual == 0 {
                    fixed.state = TaskState::Ready;
                }
                k.hmset(&[(&field::SCHED, Val::Bytes(fixed.sched().pack().bytes()))]);
            }
        }
        reconcile_zset(
            db,
            &db.keys.dependents(&job_id),
            &links,
            fix,
            "dependent_link",
            &mut out,
        )?;
        // A failed job's ready and pending tasks must be cancelled.
        if job.state == JobState::Failed {
            for (id, (k, t, _)) in &tasks {
                let state = new_states.get(id).copied().unwrap_or(t.state);
                if !matches!(state, TaskState::Ready | TaskState::Pending) {
                    continue;
                }
                out.push(violation(
                    "not_cancelled",
                    &[
                        ("job_id", &jid),
                        ("task_id", id),
                        ("state", state.as_str().as_bytes()),
                    ],
                ));
                new_states.insert(id.clone(), TaskState::Cancelled);
                if fix {
                    let mut fixed = t.clone();
                    fixed.state = TaskState::Cancelled;
                    k.hmset(&[(&field::SCHED, Val::Bytes(fixed.sched().pack().bytes()))]);
                }
            }
        }
        // Derived data from the (repaired) task states.
        let mut unresolved = 0;
        let mut any_failed = false;
        for (id, (_, t, _)) in &tasks {
            let state = new_states.get(id).copied().unwrap_or(t.state);
            unresolved += i64::from(state != TaskState::Done);
            any_failed |= state == TaskState::Failed;
            let Some(sc) = stream_counts.get_mut(&t.stream_id) else {
                out.push(violation(
                    "missing_stream",
                    &[
                        ("stream_id", t.stream_id.as_bytes()),
                        ("job_id", &jid),
                        ("task_id", id),
                    ],
                ));
                continue;
            };
            sc[state as usize] += 1;
            match state {
                TaskState::Ready => {
                    queues
                        .entry(t.stream_id.clone())
                        .or_default()
                        .insert(model::queue_member(t.idx, job.seq, id), job.queue_score());
                }
                TaskState::Running => {
                    let member = model::task_ref(&job_id, id);
                    if fix {
                        // A lease REPAIR restores is one this node may never have seen.
                        crate::leases::adopt(db.db_index(), &lease_key, &member, t.timeout_secs);
                    }
                    leases.insert(member, t.deadline() as f64);
                }
                _ => {}
            }
        }
        if unresolved != job.unresolved {
            let (s, e) = (job.unresolved.to_string(), unresolved.to_string());
            out.push(violation(
                "job_unresolved",
                &[
                    ("job_id", &jid),
                    ("stored", s.as_bytes()),
                    ("expected", e.as_bytes()),
                ],
            ));
            if fix {
                let fixed = Job {
                    unresolved,
                    ..job.clone()
                };
                jk.hmset(&[(&field::SCHED, Val::Bytes(fixed.sched().bytes()))]);
            }
        }
        let state = if job.state == JobState::Failed || any_failed {
            JobState::Failed
        } else if unresolved == 0 {
            JobState::Done
        } else {
            JobState::Running
        };
        if state != job.state {
            out.push(violation(
                "job_state",
                &[
                    ("job_id", &jid),
                    ("stored", job.state.as_str().as_bytes()),
                    ("expected", state.as_str().as_bytes()),
                ],
            ));
            if fix {
                jk.hmset(&[(&field::STATE, Val::Bytes(state.as_str().as_bytes()))]);
            }
        }
        *job_counts
            .entry(state.as_str().as_bytes().to_vec())
            .or_default() += 1;
        job_registry.insert(jid.clone(), state.as_str().as_bytes().to_vec());
        job_ids.insert(model::decimal(job.seq), jid.clone());
        match state {
            JobState::Running => *running_jobs.entry(db.job_user(&jk)?).or_default() += 1,
            JobState::Done => {
                done_jobs.insert(jid.clone(), Vec::new());
            }
            JobState::Failed => {}
        }
    }

    // Streams: counters, priority, schedules, queues.
    let mut schedules: BTreeMap<Vec<u8>, (Members, Members)> = BTreeMap::new();
    let mut ids: Vec<&String> = streams.keys().collect();
    ids.sort();
    for id in ids {
        let s = &streams[id];
        schedules.entry(s.worker_type.clone()).or_default();
        let counts = stream_counts.get(id).copied().unwrap_or_default();
        let (ready, running) = (counts[1], counts[2]);
        let k = db.open(db.keys.stream(id), fix, Kind::Hash)?;
        let p = model::priority(ready, running, s.reserved, s.be_mult);
        if s.counts != counts {
            let text =
                |c: &[i64; model::STATES]| c.iter().fold(model::Packed::new(), |p, n| p.int(*n));
            let (stored, want) = (text(&s.counts), text(&counts));
            out.push(violation(
                "stream_counts",
                &[
                    ("stream_id", id.as_bytes()),
                    ("stored", stored.bytes()),
                    ("expected", want.bytes()),
                ],
            ));
            if fix {
                let fixed = Stream {
                    counts,
                    ..s.clone()
                };
                k.hmset(&[(&field::SCHED, Val::Bytes(fixed.sched().pack().bytes()))]);
            }
        }
        if ready > 0 {
            let member = model::schedule_member(s.reserved, s.seq, id).into_bytes();
            let entry = schedules.entry(s.worker_type.clone()).or_default();
            entry.0.insert(member.clone(), p);
            entry.1.insert(member, 0.0);
        }
        let q = queues.remove(id).unwrap_or_default();
        reconcile_zset(db, &db.keys.queue(id), &q, fix, "queue", &mut out)?;
    }
    for (wt, (fair, strict)) in &schedules {
        reconcile_zset(db, &db.keys.schedule(wt), fair, fix, "schedule", &mut out)?;
        reconcile_zset(
            db,
            &db.keys.schedule_strict(wt),
            strict,
            fix,
            "schedule",
            &mut out,
        )?;
    }
    for (sid, q) in queues {
        reconcile_zset(db, &db.keys.queue(&sid), &q, fix, "queue", &mut out)?;
    }
    reconcile_zset(db, &db.keys.leases(), &leases, fix, "lease", &mut out)?;
    let jc = counter_map(job_counts);
    reconcile_hash(db, &db.keys.job_counts(), &jc, fix, "job_count", &mut out)?;
    let rj = counter_map(running_jobs);
    reconcile_hash(
        db,
        &db.keys.running_jobs(),
        &rj,
        fix,
        "running_jobs",
        &mut out,
    )?;
    reconcile_hash(
        db,
        &db.keys.done_jobs(),
        &done_jobs,
        fix,
        "done_jobs",
        &mut out,
    )?;
    reconcile_hash(
        db,
        &db.keys.jobs(),
        &job_registry,
        fix,
        "job_registry",
        &mut out,
    )?;
    reconcile_hash(db, &db.keys.job_ids(), &job_ids, fix, "job_id", &mut out)?;
    Ok(out)
}

/// `TASKDB.CHECK ns` -> list of violations (each field/value pairs); empty when healthy.
/// Only reads: it runs on replicas, for read-only users and at maxmemory.
pub fn check(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, "TASKDB.CHECK ns", 1, 2)?;
    let (_, keys) = a.ns()?;
    if a.has_more() {
        let w = a.bytes()?;
        let why = if w.eq_ignore_ascii_case(b"FIX") {
            "CHECK only reads: repair with TASKDB.REPAIR ns"
        } else {
            "CHECK takes no option (repair with TASKDB.REPAIR ns)"
        };
        return Err(Error::invalid("option", w, why));
    }
    let db = Db::new(ctx, keys);
    let found = check_namespace(&db, false)?;
    Ok(violations(found))
}

/// `TASKDB.REPAIR ns` -> the violations CHECK would report, each now repaired (releasing
/// stuck pending tasks among them); empty when there was nothing to repair
pub fn repair(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, "TASKDB.REPAIR ns", 1, 1)?;
    let (_, keys) = a.ns()?;
    let db = Db::new(ctx, keys);
    let found = check_namespace(&db, true)?;
    if !found.is_empty() {
        // Deterministic: the replica and the AOF repair the same data the same way.
        crate::replicate::verbatim(ctx);
    }
    Ok(violations(found))
}

fn violations(found: Vec<Violation>) -> RedisValue {
    RedisValue::Array(found.into_iter().map(crate::reply::pairs).collect())
}

/// `TASKDB.STATS ns` -> ["tasks", [worker_type, [state, n, ...], ...], "jobs", [state, n, ...]]
pub fn stats(ctx: &Context, args: &[RedisString]) -> Result<RedisValue> {
    let mut a = Args::new(args, "TASKDB.STATS ns", 1, 1)?;
    let (_, keys) = a.ns()?;
    let db = Db::new(ctx, keys);
    let mut per_type: BTreeMap<Vec<u8>, [i64; model::STATES]> = BTreeMap::new();
    for (sid, _) in db
        .open(db.keys.streams(), false, Kind::Hash)?
        .hgetall(ctx)?
    {
        let id = String::from_utf8_lossy(&sid).into_owned();
        if let Some(s) = db.read_stream(&id, &db.open(db.keys.stream(&id), false, Kind::Hash)?)? {
            let sum = per_type.entry(s.worker_type.clone()).or_default();
            for (i, n) in s.counts.iter().enumerate() {
                sum[i] += n;
            }
        }
    }
    let mut tasks = Vec::new();
    for (wt, counts) in per_type {
        let mut per = Vec::new();
        for s in TaskState::ALL {
            per.push(RedisValue::BulkString(s.as_str().into()));
            per.push(RedisValue::Integer(counts[s as usize]));
        }
        tasks.push(RedisValue::StringBuffer(wt));
        tasks.push(RedisValue::Array(per));
    }
    let jc = db.open(db.keys.job_counts(), false, Kind::Hash)?;
    let mut jobs = Vec::new();
    for s in JobState::ALL {
        let n = match jc.hget(s.as_str().as_bytes()) {
            Some(v) => crate::store::parse_num(jc.name(), s.as_str(), v.as_bytes())?,
            None => 0,
        };
        jobs.push(RedisValue::BulkString(s.as_str().into()));
        jobs.push(RedisValue::Integer(n));
    }
    Ok(RedisValue::Array(vec![
        RedisValue::BulkString("tasks".into()),
        RedisValue::Array(tasks),
        RedisValue::BulkString("jobs".into()),
        RedisValue::Array(jobs),
    ]))
}
