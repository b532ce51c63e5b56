//! Leases survive clock trouble. Lease expiry is decided on each node's monotonic clock
//! (`src/leases.rs`), so a wall-clock step of an hour on the primary, or a failover to a
//! replica whose clock is an hour off, never expires a live lease (its worker heartbeats
//! within its timeout) and still reclaims a dead worker's lease within one lease length.
//! The servers run on shifted clocks through an `LD_PRELOAD` shim (testkit's `Clock`).

use crate::common::*;
use std::time::{Duration, Instant};
use taskdb_testkit::Clock;

const HOUR: i64 = 3_600_000;
/// The lease length of these tests, in seconds.
const LEASE: u64 = 2;

/// A job whose init task (lease [`LEASE`]) is claimed: its id.
fn claimed(db: &mut Ns) -> String {
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, "{}", "5", &LEASE.to_string(), "u"]);
    db.claim("cpu").unwrap();
    job
}

fn state(db: &mut Ns, job: &str) -> String {
    db.task_field(job, "init", "state").unwrap_or_default()
}

/// A live worker: heartbeats every quarter lease (its pace, not a wait for a condition)
/// for `for_`, and checks before each that its task is still running, never retried.
fn live_worker(db: &mut Ns, job: &str, for_: Duration) {
    let end = Instant::now() + for_;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(LEASE * 1000 / 4));
        assert_eq!(state(db, job), "running", "the live lease expired");
        assert_eq!(db.task_field(job, "init", "retries").as_deref(), Some("0"));
        assert_eq!(db.q::<i64>("HEARTBEAT", &[job, "init"]), 1);
    }
}

/// The worker died at `since`: its lease must come back within one lease length (plus
/// the reaper's tick and this machine's slack).
fn reclaimed_within_a_lease(db: &mut Ns, job: &str, since: Instant) {
    wait_for(LEASE + 5, "the dead worker's lease to be reclaimed", || {
        (state(db, job) == "ready").then_some(())
    });
    let took = since.elapsed();
    assert!(
        took <= Duration::from_millis(LEASE * 1000 + 1500),
        "reclaimed {took:?} after the worker died"
    );
}

#[test]
fn a_clock_step_an_hour_ahead_on_the_primary_expires_no_live_lease() {
    let clock = Clock::new(0);
    let s = Server::with_clock(&["--save", ""], &clock);
    let mut db = Ns::new(&s, "c");
    db.reaper_every("50");
    let job = claimed(&mut db);
    clock.set(HOUR);
    live_worker(&mut db, &job, Duration::from_secs(LEASE * 2));
    let died = Instant::now();
    assert_eq!(db.q::<i64>("HEARTBEAT", &[&job, "init"]), 1);
    reclaimed_within_a_lease(&mut db, &job, died);
}

#[test]
fn a_clock_step_an_hour_back_on_the_primary_still_reclaims_a_dead_lease() {
    let clock = Clock::new(0);
    let s = Server::with_clock(&["--save", ""], &clock);
    let mut db = Ns::new(&s, "c");
    db.reaper_every("50");
    let job = claimed(&mut db);
    let died = Instant::now();
    clock.set(-HOUR);
    reclaimed_within_a_lease(&mut db, &job, died);
}

/// A primary (real clock) with a replica whose clock is `offset_ms` off; the replica is
/// promoted after the primary dies. Returns the promoted replica.
fn fail_over_to_a_replica_off_by(offset_ms: i64, job_out: &mut String) -> (Server, Clock) {
    let primary = Server::start();
    let clock = Clock::new(offset_ms);
    let replica = Server::replica_with_clock(&primary, &["--save", ""], Some(&clock));
    let mut db = Ns::new(&primary, "c");
    *job_out = claimed(&mut db);
    assert_eq!(db.q::<i64>("HEARTBEAT", &[job_out, "init"]), 1);
    let n: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
    assert_eq!(n, 1);
    drop(db);
    let _ = primary.kill9();
    let mut rc = replica.conn();
    let _: () = q(&mut rc, &["REPLICAOF", "NO", "ONE"]);
    (replica, clock)
}

#[test]
fn a_failover_to_a_replica_an_hour_ahead_expires_no_live_lease() {
    let mut job = String::new();
    let (replica, _clock) = fail_over_to_a_replica_off_by(HOUR, &mut job);
    let mut db = Ns::new(&replica, "c");
    db.reaper_every("50");
    live_worker(&mut db, &job, Duration::from_secs(LEASE * 2));
    let died = Instant::now();
    assert_eq!(db.q::<i64>("HEARTBEAT", &[&job, "init"]), 1);
    reclaimed_within_a_lease(&mut db, &job, died);
    assert!(db.check().is_empty());
}

#[test]
fn a_failover_to_a_replica_an_hour_behind_still_reclaims_a_dead_lease() {
    let mut job = String::new();
    let (replica, _clock) = fail_over_to_a_replica_off_by(-HOUR, &mut job);
    let died = Instant::now();
    let mut db = Ns::new(&replica, "c");
    db.reaper_every("50");
    reclaimed_within_a_lease(&mut db, &job, died);
    assert!(db.check().is_empty());
}
