//! The core's semantics, scenario by scenario (no Redis): the same rules the module's
//! integration tests check through commands.

use taskdb_core::*;

const NOW: i64 = 1_700_000_000_000;

fn stream(ns: &mut Namespace, id: u128, wt: &str, reserved: i64, be_mult: f64, user: &str) {
    ns.create_stream(
        id,
        &NewStream {
            worker_type: wt.as_bytes(),
            reserved,
            be_mult,
            user: user.as_bytes(),
        },
        NOW,
    )
    .unwrap();
}

fn job(ns: &mut Namespace, id: u128, stream: u128, user: &str) {
    job_with(ns, id, stream, user, Priority::Medium, 3, 60);
}

fn job_with(
    ns: &mut Namespace,
    id: u128,
    stream: u128,
    user: &str,
    priority: Priority,
    max_retries: u32,
    timeout_secs: u32,
) {
    ns.create_job(
        id,
        &NewJob {
            stream,
            def: b"{}",
            max_retries,
            timeout_secs,
            user: user.as_bytes(),
            priority,
        },
        NOW,
    )
    .unwrap();
}

fn task(ns: &mut Namespace, job: u128, id: &str, stream: u128, prereqs: &[&str]) {
    let pre: Vec<&[u8]> = prereqs.iter().map(|p| p.as_bytes()).collect();
    ns.create_task(
        job,
        &NewTask {
            task_id: id.as_bytes(),
            stream,
            def: b"{}",
            prereqs: &pre,
            max_retries: 3,
            timeout_secs: 60,
        },
        NOW,
    )
    .unwrap();
}

fn claim(ns: &mut Namespace, wt: &str) -> Option<(u128, String)> {
    let c = ns
        .request(wt.as_bytes(), Policy::Fair, NOW, 0, None)
        .unwrap()?;
    Some((
        c.job,
        String::from_utf8(ns.task_id_at(c.seq, c.idx).to_vec()).unwrap(),
    ))
}

fn state(ns: &Namespace, job: u128, t: &str) -> TaskState {
    ns.task(job, t.as_bytes()).unwrap().state
}

const S1: u128 = 0x51;
const S2: u128 = 0x52;
const J1: u128 = 0x11;
const J2: u128 = 0x12;

#[test]
fn a_dag_runs_in_order_and_the_job_ends_done() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    stream(&mut ns, S2, "gpu", 1, 1.0, "u");
    job(&mut ns, J1, S1, "u");
    task(&mut ns, J1, "a", S2, &["init"]);
    task(&mut ns, J1, "b", S2, &["init"]);
    task(&mut ns, J1, "join", S1, &["a", "b"]);
    assert_eq!(state(&ns, J1, "a"), TaskState::Pending);
    assert_eq!(ns.task(J1, b"join").unwrap().waiting_on, 2);
    assert_eq!(ns.job_unresolved(J1).unwrap(), 4);
    assert_eq!(claim(&mut ns, "gpu"), None);
    assert_eq!(claim(&mut ns, "cpu"), Some((J1, "init".into())));
    assert!(ns.done(J1, b"init", b"{\"n\":2}", NOW + 5, None).unwrap());
    assert_eq!(state(&ns, J1, "a"), TaskState::Ready);
    assert_eq!(ns.stream(S2).unwrap().counts[TaskState::Ready as usize], 2);
    assert_eq!(claim(&mut ns, "gpu"), Some((J1, "a".into())));
    assert!(ns.done(J1, b"a", b"{}", NOW + 6, None).unwrap());
    assert_eq!(ns.task(J1, b"join").unwrap().waiting_on, 1);
    assert_eq!(claim(&mut ns, "gpu"), Some((J1, "b".into())));
    assert!(ns.done(J1, b"b", b"{}", NOW + 7, None).unwrap());
    assert_eq!(claim(&mut ns, "cpu"), Some((J1, "join".into())));
    assert_eq!(ns.concurrent_jobs(b"u"), 1);
    assert!(ns.done(J1, b"join", b"{}", NOW + 9, None).unwrap());
    assert_eq!(ns.job_state(J1, b"u").unwrap(), JobState::Done);
    assert_eq!(ns.concurrent_jobs(b"u"), 0);
    assert_eq!(ns.job_counts(), [0, 1, 0]);
    assert_eq!(ns.job_time(J1).unwrap(), Some(0.009));
    assert_eq!(ns.task_output(J1, b"init").unwrap(), b"{\"n\":2}");
    assert!(
        !ns.done(J1, b"join", b"{}", NOW, None).unwrap(),
        "done twice"
    );
    let v = ns.task(J1, b"join").unwrap();
    assert_eq!(v.prereqs, [&b"a"[..], b"b"]);
    assert_eq!(v.progress, 1.0);
}

#[test]
fn creation_errors_change_nothing() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    job(&mut ns, J1, S1, "u");
    let e = ns
        .create_stream(
            S1,
            &NewStream {
                worker_type: b"cpu",
                reserved: 1,
                be_mult: 1.0,
                user: b"u",
            },
            NOW,
        )
        .unwrap_err();
    assert!(e.to_string().starts_with("EXISTS stream"), "{e}");
    let e = ns
        .create_job(
            J1,
            &NewJob {
                stream: S1,
                def: b"{}",
                max_retries: 1,
                timeout_secs: 1,
                user: b"u",
                priority: Priority::Medium,
            },
            NOW,
        )
        .unwrap_err();
    assert!(e.to_string().starts_with("EXISTS job"), "{e}");
    let nt = |id: &'static str, stream: u128, pre: &'static [&'static [u8]]| NewTask {
        task_id: id.as_bytes(),
        stream,
        def: b"{}",
        prereqs: pre,
        max_retries: 1,
        timeout_secs: 1,
    };
    let e = ns.create_task(J2, &nt("x", S1, &[]), NOW).unwrap_err();
    assert!(e.to_string().starts_with("NOTFOUND job"), "{e}");
    let e = ns.create_task(J1, &nt("x", S2, &[]), NOW).unwrap_err();
    assert!(e.to_string().starts_with("NOTFOUND stream"), "{e}");
    let e = ns.create_task(J1, &nt("init", S1, &[]), NOW).unwrap_err();
    assert!(e.to_string().starts_with("EXISTS task 'init'"), "{e}");
    let e = ns
        .create_task(J1, &nt("x", S1, &[b"nope"]), NOW)
        .unwrap_err();
    assert!(
        e.to_string().starts_with("NOTFOUND prerequisite 'nope'"),
        "{e}"
    );
    assert_eq!(ns.task_count(), 1);
}

#[test]
fn fair_share_serves_the_lowest_priority_then_reservation_then_age() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "gpu", 2, 1.0, "alice");
    stream(&mut ns, S2, "gpu", 1, 1.0, "bob");
    for i in 0..4 {
        job(&mut ns, 0x100 + i, S1, "alice");
        job(&mut ns, 0x200 + i, S2, "bob");
    }
    // Both inside their reservation: priorities -1 and -1; larger reservation first.
    let owner = |j: u128| if j < 0x200 { "alice" } else { "bob" };
    let order: Vec<&str> = (0..5)
        .map(|_| owner(claim(&mut ns, "gpu").unwrap().0))
        .collect();
    // alice -1 → (-0.5) ; bob -1 → 0 ; alice -0.5 → 0 ; tie at 0: alice (reserved 2) ...
    assert_eq!(order, ["alice", "bob", "alice", "alice", "bob"]);
    let p = ns.stream(S1).unwrap().priority;
    assert_eq!(p, 1.0, "alice: running 3, reserved 2, be_mult 1");
}

#[test]
fn strict_policy_serves_the_largest_reservation() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "gpu", 1, 1.0, "a");
    stream(&mut ns, S2, "gpu", 5, 1.0, "b");
    job(&mut ns, J1, S1, "a");
    job(&mut ns, J2, S2, "b");
    let c = ns
        .request(b"gpu", Policy::Strict, NOW, 0, None)
        .unwrap()
        .unwrap();
    assert_eq!(c.job, J2);
}

#[test]
fn high_priority_jobs_go_first_within_a_stream() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    job_with(&mut ns, J1, S1, "u", Priority::Low, 1, 60);
    job_with(&mut ns, J2, S1, "u", Priority::High, 1, 60);
    job(&mut ns, 0x13, S1, "u");
    let order: Vec<u128> = (0..3).map(|_| claim(&mut ns, "cpu").unwrap().0).collect();
    assert_eq!(order, [J2, 0x13, J1]);
}

#[test]
fn retries_requeue_until_the_limit_then_fail_the_job() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    job_with(&mut ns, J1, S1, "u", Priority::Medium, 1, 60);
    task(&mut ns, J1, "next", S1, &["init"]);
    claim(&mut ns, "cpu").unwrap();
    assert!(ns.progress(J1, b"init", Some(0.5), NOW, 0, None).unwrap());
    assert_eq!(ns.retry(J1, b"init", NOW, None).unwrap(), Retried::Requeued);
    let v = ns.task(J1, b"init").unwrap();
    assert_eq!(
        (v.state, v.retries, v.progress, v.error),
        (TaskState::Ready, 1, 0.0, Some(&b""[..]))
    );
    assert_eq!(
        ns.retry(J1, b"init", NOW, None).unwrap(),
        Retried::NotRunning
    );
    claim(&mut ns, "cpu").unwrap();
    assert_eq!(ns.retry(J1, b"init", NOW, None).unwrap(), Retried::LimitHit);
    assert_eq!(ns.job_failure(J1).unwrap(), RETRY_MAX_HIT);
    assert_eq!(state(&ns, J1, "next"), TaskState::Cancelled);
    assert_eq!(ns.stream(S1).unwrap().counts, [0, 0, 0, 0, 1, 1]);
}

#[test]
fn a_failed_job_cancels_its_waiting_tasks_and_done_never_revives_it() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 2, 1.0, "u");
    job(&mut ns, J1, S1, "u");
    task(&mut ns, J1, "a", S1, &[]);
    task(&mut ns, J1, "b", S1, &["a"]);
    task(&mut ns, J1, "c", S1, &[]);
    claim(&mut ns, "cpu").unwrap(); // init
    claim(&mut ns, "cpu").unwrap(); // a
    assert!(ns.failed(J1, b"init", b"boom", NOW, None).unwrap());
    assert_eq!(ns.job_state(J1, b"u").unwrap(), JobState::Failed);
    assert_eq!(state(&ns, J1, "b"), TaskState::Cancelled);
    assert_eq!(state(&ns, J1, "c"), TaskState::Cancelled);
    assert_eq!(state(&ns, J1, "a"), TaskState::Running);
    assert_eq!(
        claim(&mut ns, "cpu"),
        None,
        "cancelled tasks leave the queue"
    );
    assert!(
        ns.done(J1, b"a", b"{}", NOW, None).unwrap(),
        "a running task may finish"
    );
    assert_eq!(ns.job_state(J1, b"u").unwrap(), JobState::Failed);
    assert_eq!(state(&ns, J1, "b"), TaskState::Cancelled, "not released");
    assert_eq!(ns.job_failure(J1).unwrap(), b"boom");
    // New tasks of a failed job start cancelled; a second failure keeps the first error.
    task(&mut ns, J1, "late", S1, &[]);
    assert_eq!(state(&ns, J1, "late"), TaskState::Cancelled);
    assert_eq!(ns.stream(S1).unwrap().counts, [0, 0, 0, 1, 1, 3]);
    assert!(!ns.cancel_job(J1, b"again", NOW).unwrap());
}

#[test]
fn cancel_job_stops_a_running_job() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    job(&mut ns, J1, S1, "u");
    assert!(ns.cancel_job(J1, jobs::CANCELLED, NOW).unwrap());
    assert_eq!(ns.job_failure(J1).unwrap(), b"cancelled");
    assert_eq!(state(&ns, J1, "init"), TaskState::Cancelled);
    assert!(ns
        .cancel_job(J2, b"x", NOW)
        .unwrap_err()
        .to_string()
        .starts_with("NOTFOUND"));
}

#[test]
fn a_stale_attempt_cannot_undo_a_live_one() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    job_with(&mut ns, J1, S1, "u", Priority::Medium, 3, 1);
    let a = ns
        .request(b"cpu", Policy::Fair, NOW, 0, Some(b"A"))
        .unwrap()
        .unwrap();
    assert_eq!(a.attempt, 1);
    // A's one-second lease runs out on the local clock.
    let expired = ns.requeue(10, NOW + 2000, 1000);
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].outcome, Retried::Requeued);
    let b = ns
        .request(b"cpu", Policy::Fair, NOW, 1000, Some(b"B"))
        .unwrap()
        .unwrap();
    assert_eq!(b.attempt, 2);
    assert_eq!(ns.task(J1, b"init").unwrap().worker, Some(&b"B"[..]));
    assert!(!ns.failed(J1, b"init", b"late", NOW, Some(1)).unwrap());
    assert_eq!(
        ns.retry(J1, b"init", NOW, Some(1)).unwrap(),
        Retried::NotRunning
    );
    assert!(!ns.progress(J1, b"init", None, NOW, 1000, Some(1)).unwrap());
    let e = ns.done(J1, b"init", b"{}", NOW, Some(3)).unwrap_err();
    assert!(e.to_string().contains("has had 2 attempt(s)"), "{e}");
    assert!(
        ns.done(J1, b"init", b"{\"by\":\"a\"}", NOW, Some(1))
            .unwrap(),
        "first result wins"
    );
    assert!(!ns.done(J1, b"init", b"{}", NOW, Some(2)).unwrap());
    assert_eq!(ns.lease_count(), 0);
}

#[test]
fn leases_run_out_on_the_local_clock_and_heartbeats_renew_them() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 2, 1.0, "u");
    job_with(&mut ns, J1, S1, "u", Priority::Medium, 3, 10);
    job_with(&mut ns, J2, S1, "u", Priority::Medium, 3, 10);
    ns.request(b"cpu", Policy::Fair, NOW, 0, None).unwrap();
    ns.request(b"cpu", Policy::Fair, NOW, 5_000, None).unwrap();
    assert_eq!(ns.next_deadline(), Some(10_000));
    assert!(ns.requeue(10, NOW, 9_999).is_empty());
    assert!(ns.progress(J1, b"init", None, NOW, 9_000, None).unwrap());
    assert_eq!(ns.next_deadline(), Some(15_000));
    let e = ns.requeue(10, NOW, 15_000);
    assert_eq!((e.len(), e[0].job), (1, J2));
    let e = ns.requeue(10, NOW, 19_000);
    assert_eq!((e.len(), e[0].job), (1, J1));
    assert_eq!(ns.lease_count(), 0);
}

#[test]
fn delete_and_clear_keep_every_count_exact() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    job(&mut ns, J1, S1, "u");
    job(&mut ns, J2, S1, "u");
    task(&mut ns, J2, "a", S1, &[]);
    claim(&mut ns, "cpu").unwrap();
    assert!(ns.done(J1, b"init", b"{}", NOW, None).unwrap());
    claim(&mut ns, "cpu").unwrap(); // J2 init
    let (gone, more) = ns.clear_completed(10, None);
    assert_eq!((gone.len(), more), (1, false));
    assert!(ns.job(J1).is_none());
    assert_eq!(ns.stream(S1).unwrap().counts, [0, 1, 1, 0, 0, 0]);
    assert!(ns.delete_job(J2).is_some());
    assert_eq!(ns.stream(S1).unwrap().counts, [0; 6]);
    assert_eq!(
        (ns.lease_count(), ns.task_count(), ns.job_counts()),
        (0, 0, [0, 0, 0])
    );
    assert_eq!(ns.concurrent_jobs(b"u"), 0);
    assert_eq!(claim(&mut ns, "cpu"), None);
    assert!(ns.delete_job(J2).is_none());
}

#[test]
fn streams_without_tasks_are_cleared_oldest_first_and_the_next_takes_their_place() {
    const S3: u128 = 0x53;
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    stream(&mut ns, S2, "cpu", 0, 1.0, "u");
    stream(&mut ns, S3, "gpu", 0, 1.0, "u");
    job(&mut ns, J1, S2, "u");
    assert_eq!(ns.stream_of_user(b"u", b"cpu"), Some(S1));
    let none = std::collections::BTreeSet::new();
    assert_eq!(ns.empty_streams(10, &none), vec![S1, S3]);
    assert_eq!(ns.empty_streams(1, &none), vec![S1]);
    // Kept streams are passed over, and COUNT counts only the others.
    let keep = std::collections::BTreeSet::from([S1]);
    assert_eq!(ns.empty_streams(1, &keep), vec![S3]);
    // All or nothing: a stream with tasks, an unknown or a repeated id changes nothing.
    for bad in [vec![S1, S2], vec![S1, 0x99], vec![S1, S1]] {
        assert!(ns.delete_streams(&bad).is_err(), "{bad:?}");
        assert!(ns.stream(S1).is_some());
    }
    ns.delete_streams(&[S1, S3]).unwrap();
    assert!(ns.stream(S1).is_none() && ns.stream(S3).is_none());
    assert_eq!(ns.stream_of_user(b"u", b"cpu"), Some(S2));
    assert_eq!(ns.stream_of_user(b"u", b"gpu"), None);
    assert_eq!(ns.check(None, usize::MAX), (vec![], None));
    // Once its job is gone, the last stream holds nothing either.
    ns.delete_job(J1).unwrap();
    assert_eq!(ns.empty_streams(10, &none), vec![S2]);
    ns.delete_streams(&[S2]).unwrap();
    assert_eq!(ns.stream_of_user(b"u", b"cpu"), None);
    // A slot freed is reused by the next stream, which becomes the user's first again.
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    assert_eq!(ns.stream_of_user(b"u", b"cpu"), Some(S1));
    job(&mut ns, J2, S1, "u");
    assert_eq!(claim(&mut ns, "cpu"), Some((J2, "init".into())));
}

#[test]
fn a_failed_or_cancelled_job_runs_again_when_retried() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    job(&mut ns, J1, S1, "u");
    task(&mut ns, J1, "a", S1, &["init"]);
    task(&mut ns, J1, "b", S1, &[]);
    assert_eq!(claim(&mut ns, "cpu"), Some((J1, "init".into())));
    assert!(ns.failed(J1, b"init", b"boom", NOW, None).unwrap());
    assert_eq!(
        (state(&ns, J1, "a"), state(&ns, J1, "b")),
        (TaskState::Cancelled, TaskState::Cancelled)
    );
    assert_eq!(ns.concurrent_jobs(b"u"), 0);
    // Only a failed job is retried (below); a missing one is an error.
    assert!(ns.retry_job(0x99, NOW).is_err());

    assert!(ns.retry_job(J1, NOW + 5).unwrap());
    assert!(!ns.retry_job(J1, NOW + 5).unwrap(), "running now");
    let init = ns.task(J1, b"init").unwrap();
    assert_eq!(
        (init.state, init.retries, init.error, init.attempt),
        (TaskState::Ready, 0, None, 1)
    );
    assert_eq!(
        (state(&ns, J1, "a"), state(&ns, J1, "b")),
        (TaskState::Pending, TaskState::Ready)
    );
    assert_eq!(ns.task(J1, b"a").unwrap().waiting_on, 1);
    assert_eq!(ns.job_view(J1).unwrap().error, None);
    assert_eq!(ns.concurrent_jobs(b"u"), 1);
    assert_eq!(ns.stream(S1).unwrap().counts, [1, 2, 0, 0, 0, 0]);
    assert_eq!(ns.check(None, usize::MAX), (vec![], None));
    // It runs to the end; the init task's next claim is its second attempt.
    assert_eq!(claim(&mut ns, "cpu"), Some((J1, "init".into())));
    assert_eq!(ns.task(J1, b"init").unwrap().attempt, 2);
    for t in ["init", "b"] {
        assert!(ns.done(J1, t.as_bytes(), b"{}", NOW, None).unwrap());
    }
    assert_eq!(claim(&mut ns, "cpu"), Some((J1, "a".into())));
    assert!(ns.done(J1, b"a", b"{}", NOW, None).unwrap());
    assert_eq!(ns.job_view(J1).unwrap().state, JobState::Done);

    // A cancelled job with a running task that finished meanwhile: done at once.
    job(&mut ns, J2, S1, "u");
    assert_eq!(claim(&mut ns, "cpu"), Some((J2, "init".into())));
    assert!(ns.cancel_job(J2, b"stop", NOW).unwrap());
    assert!(ns.done(J2, b"init", b"{}", NOW, None).unwrap());
    assert_eq!(ns.job_view(J2).unwrap().state, JobState::Failed);
    assert!(ns.retry_job(J2, NOW).unwrap());
    assert_eq!(ns.job_view(J2).unwrap().state, JobState::Done);
    assert_eq!(ns.check(None, usize::MAX), (vec![], None));
    // A prerequisite done while its job had failed: its dependent is released on retry.
    const J3: u128 = 0x13;
    job(&mut ns, J3, S1, "u");
    task(&mut ns, J3, "b", S1, &[]);
    task(&mut ns, J3, "after_b", S1, &["b"]);
    assert_eq!(claim(&mut ns, "cpu"), Some((J3, "init".into())));
    assert_eq!(claim(&mut ns, "cpu"), Some((J3, "b".into())));
    assert!(ns.failed(J3, b"init", b"x", NOW, None).unwrap());
    assert!(
        ns.done(J3, b"b", b"{}", NOW, None).unwrap(),
        "a running task's result still counts"
    );
    assert!(ns.retry_job(J3, NOW).unwrap());
    assert_eq!(state(&ns, J3, "after_b"), TaskState::Ready);
    assert_eq!(ns.task(J3, b"after_b").unwrap().waiting_on, 0);
    assert_eq!(ns.check(None, usize::MAX), (vec![], None));
}

#[test]
fn paused_streams_and_worker_types_hand_out_nothing_until_resumed() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 5, 1.0, "u");
    stream(&mut ns, S2, "cpu", 0, 1.0, "v");
    job(&mut ns, J1, S1, "u");
    job(&mut ns, J2, S2, "v");
    assert!(ns.set_paused(PauseTarget::Stream(S1), true).unwrap());
    assert!(
        !ns.set_paused(PauseTarget::Stream(S1), true).unwrap(),
        "already"
    );
    assert!(ns.set_paused(PauseTarget::Stream(0x99), true).is_err());
    assert!(ns.stream(S1).unwrap().paused);
    assert_eq!(ns.check(None, usize::MAX), (vec![], None));
    // The reserved stream is skipped while paused.
    assert_eq!(claim(&mut ns, "cpu"), Some((J2, "init".into())));
    assert_eq!(claim(&mut ns, "cpu"), None);
    ns.take_effects();
    assert!(ns.set_paused(PauseTarget::Stream(S1), false).unwrap());
    assert!(
        !ns.effects().woken.is_empty(),
        "resuming wakes waiting workers"
    );
    assert_eq!(claim(&mut ns, "cpu"), Some((J1, "init".into())));

    // A worker type, even one with no stream yet.
    assert!(ns
        .set_paused(PauseTarget::WorkerType(b"gpu"), true)
        .unwrap());
    stream(&mut ns, 0x53, "gpu", 1, 1.0, "u");
    task(&mut ns, J1, "g", 0x53, &[]);
    assert!(ns.stream(0x53).unwrap().paused && ns.stream(0x53).unwrap().type_paused);
    assert_eq!(claim(&mut ns, "gpu"), None);
    assert_eq!(ns.paused_count(), 1);
    assert!(ns
        .set_paused(PauseTarget::WorkerType(b"gpu"), false)
        .unwrap());
    assert!(
        !ns.set_paused(PauseTarget::WorkerType(b"tpu"), false)
            .unwrap(),
        "never paused"
    );
    assert_eq!(claim(&mut ns, "gpu"), Some((J1, "g".into())));
    assert_eq!(
        (ns.paused_count(), ns.check(None, usize::MAX)),
        (0, (vec![], None))
    );
}

#[test]
fn finished_jobs_are_cleared_and_expire_by_when_they_finished() {
    const J3: u128 = 0x13;
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    for j in [J1, J2, J3] {
        job(&mut ns, j, S1, "u");
    }
    // J2 finishes first, then J1; J3 fails last.
    assert!(ns.done(J2, b"init", b"{}", NOW + 10, None).unwrap());
    assert!(ns.done(J1, b"init", b"{}", NOW + 20, None).unwrap());
    assert!(ns.failed(J3, b"init", b"x", NOW + 30, None).unwrap());
    assert_eq!(ns.earliest_finished(), (Some(NOW + 10), Some(NOW + 30)));
    assert_eq!(ns.expired_jobs(NOW + 100, 85, 0, 10), vec![J2]);
    assert_eq!(ns.expired_jobs(NOW + 100, 50, 60, 10), vec![J2, J1, J3]);
    assert_eq!(ns.expired_jobs(NOW + 100, 50, 60, 1), vec![J2]);
    assert_eq!(ns.expired_jobs(NOW + 100, 0, 0, 10), Vec::<u128>::new());
    let (gone, more) = ns.clear_completed(10, Some(NOW + 15));
    assert_eq!(
        (gone.iter().map(|j| j.id).collect::<Vec<_>>(), more),
        (vec![J2], true)
    );
    assert_eq!(ns.check(None, usize::MAX), (vec![], None));
    // A reopened job leaves the done set; done again, it finished anew.
    task(&mut ns, J1, "late", S1, &[]);
    assert_eq!(ns.earliest_finished(), (None, Some(NOW + 30)));
    assert_eq!(claim(&mut ns, "cpu"), Some((J1, "late".into())));
    assert!(ns.done(J1, b"late", b"{}", NOW + 50, None).unwrap());
    assert_eq!(ns.earliest_finished().0, Some(NOW + 50));
    assert_eq!(ns.check(None, usize::MAX), (vec![], None));
}

#[test]
fn meters_count_claims_and_time_the_wait_and_the_run() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    job_with(&mut ns, J1, S1, "u", Priority::Medium, 1, 60);
    task(&mut ns, J1, "a", S1, &["init"]);
    let c = ns
        .request(b"cpu", Policy::Fair, NOW + 7, 0, None)
        .unwrap()
        .unwrap();
    assert_eq!(c.job, J1);
    assert!(ns.done(J1, b"init", b"{}", NOW + 20, None).unwrap());
    // "a" became ready when init was done (NOW + 20), claimed 30 ms later, retried.
    ns.request(b"cpu", Policy::Fair, NOW + 50, 0, None)
        .unwrap()
        .unwrap();
    assert_eq!(
        ns.retry(J1, b"a", NOW + 60, None).unwrap(),
        Retried::Requeued
    );
    ns.request(b"cpu", Policy::Fair, NOW + 61, 0, None)
        .unwrap()
        .unwrap();
    assert!(ns.failed(J1, b"a", b"x", NOW + 70, None).unwrap());
    let meters = ns.meters();
    let (name, m) = meters[0];
    assert_eq!(name, b"cpu");
    assert_eq!(
        (m.claimed, m.done, m.failed, m.retried, m.requeued),
        (3, 1, 1, 1, 0)
    );
    assert_eq!((m.wait.count, m.wait.sum_ms), (3, 7 + 30 + 1));
    assert_eq!((m.run.count, m.run.sum_ms), (1, 13));
}

#[test]
fn releasing_a_hundred_thousand_dependents_is_one_pass() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    job(&mut ns, J1, S1, "u");
    for i in 0..100_000 {
        task(&mut ns, J1, &format!("seg_{i}"), S1, &["init"]);
    }
    claim(&mut ns, "cpu").unwrap();
    let t = std::time::Instant::now();
    assert!(ns.done(J1, b"init", b"{}", NOW, None).unwrap());
    let took = t.elapsed();
    assert_eq!(
        ns.stream(S1).unwrap().counts[TaskState::Ready as usize],
        100_000
    );
    assert_eq!(claim(&mut ns, "cpu"), Some((J1, "seg_0".into())));
    eprintln!("released 100,000 dependents in {took:?}");
}

#[test]
fn views_listings_and_inspection() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    stream(&mut ns, S2, "cpu", 0, 2.0, "v");
    job(&mut ns, J1, S1, "u");
    job(&mut ns, J2, S2, "v");
    task(&mut ns, J1, "x", S1, &[]);
    assert_eq!(ns.stream_of_user(b"u", b"cpu"), Some(S1));
    assert_eq!(ns.stream_of_user(b"u", b"gpu"), None);
    let q = ns.queue(S1, 10).unwrap();
    assert_eq!(q, [(J1, &b"init"[..]), (J1, &b"x"[..])]);
    let order: Vec<u128> = ns
        .schedule(b"cpu", Policy::Fair, 10)
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(order, [S1, S2]);
    ns.request(b"cpu", Policy::Fair, NOW, 0, Some(b"w"))
        .unwrap();
    let l = ns.leases(10);
    assert_eq!((l.len(), l[0].job, l[0].worker), (1, J1, Some(&b"w"[..])));
    let (ids, next) = ns.jobs_page(None, 1, &JobFilter::default());
    assert_eq!((ids.clone(), next.is_some()), (vec![J1], true));
    let (ids, next) = ns.jobs_page(next, 1, &JobFilter::default());
    assert_eq!((ids, next), (vec![J2], None));
    let only_v = JobFilter {
        user: Some(b"v"),
        ..Default::default()
    };
    assert_eq!(ns.jobs_page(None, 10, &only_v).0, vec![J2]);
    let (ids, next) = ns.job_tasks_page(J1, None, 1).unwrap();
    assert_eq!((ids, next), (vec![&b"init"[..]], Some(0)));
    let (ids, next) = ns.job_tasks_page(J1, next, 5).unwrap();
    assert_eq!((ids, next), (vec![&b"x"[..]], None));
    let stats = ns.stats();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].1, [0, 2, 1, 0, 0, 0]);
}

#[test]
fn effects_name_the_woken_worker_types_and_the_states_entered() {
    let mut ns = Namespace::new();
    stream(&mut ns, S1, "cpu", 1, 1.0, "u");
    ns.take_effects();
    ns.log_changes(true);
    job(&mut ns, J1, S1, "u");
    let e = ns.take_effects();
    assert_eq!(e.woken.len(), 1);
    assert_ne!(e.entered & (1 << TaskState::Ready as u16), 0);
    assert_eq!(e.changes.unwrap()[0].state, "ready");
    claim(&mut ns, "cpu").unwrap();
    let e = ns.take_effects();
    assert!(e.woken.is_empty());
    assert_eq!(e.entered, 1 << TaskState::Running as u16);
}
