//! Nothing the module does by itself (the lease reaper) writes while clients are paused:
//! `CLIENT PAUSE … WRITE`, `CLIENT PAUSE …` (all) and a `FAILOVER` waiting for a lagging
//! replica. With AOF on or a replica attached, a write there used to abort the server
//! (`propagatePendingCommands` asserts that clients are not paused). Each case: a lease
//! expires during the pause; the server survives, nothing changes until the pause ends,
//! and the expired lease is requeued after it.

use crate::common::*;
use redis::Connection;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Pause {
    Write,
    All,
    Failover,
}

const PAUSE_MS: i64 = 2000;

/// Waits until the server behind `probe` stops answering (it is inside DEBUG SLEEP).
/// The probe is connected beforehand: connecting sends a command of its own.
fn wait_asleep(mut probe: Connection) {
    probe
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    wait_for(10, "the replica to sleep", || {
        let r: redis::RedisResult<String> = redis::cmd("PING").query(&mut probe);
        r.is_err().then_some(())
    });
}

fn case(kind: Pause, aof: bool, with_replica: bool) {
    let mut args = vec!["--save", ""];
    if aof {
        args.extend_from_slice(&["--appendonly", "yes", "--appendfsync", "everysec"]);
    }
    let mut primary = Server::with_args(&args);
    let replica = with_replica.then(|| Server::replica_of(&primary, &["--save", ""]));
    let mut db = Ns::new(&primary, "p");
    db.reaper_every("20");
    let st = db.stream("cpu", 1, 1.0, "u");
    // A one-second lease: it expires in the middle of the pause.
    let job: String = db.q("CREATE_JOB", &[&st, "{}", "3", "1", "u"]);
    db.claim("cpu").unwrap();
    if let Some(r) = &replica {
        let acked: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
        assert_eq!(acked, 1);
        let _ = r;
    }
    let mut watcher = primary.conn();
    let mut before = digest(&mut db.c);
    let t0 = db.server_ms();

    let sleeper = match kind {
        Pause::Write => {
            let _: () = q(
                &mut db.c,
                &["CLIENT", "PAUSE", &PAUSE_MS.to_string(), "WRITE"],
            );
            None
        }
        Pause::All => {
            let _: () = q(&mut db.c, &["CLIENT", "PAUSE", &PAUSE_MS.to_string()]);
            None
        }
        Pause::Failover => {
            let r = replica.as_ref().expect("a failover needs a replica");
            let (mut rc, probe) = (r.conn(), r.conn());
            let sleeper = std::thread::spawn(move || {
                let _: redis::RedisResult<()> =
                    redis::cmd("DEBUG").arg("SLEEP").arg("4").query(&mut rc);
            });
            wait_asleep(probe);
            // The replica now lags: FAILOVER pauses writes while it waits for it.
            let _: () = q(&mut db.c, &["SET", "lag", "1"]);
            before = digest(&mut db.c);
            let _: () = q(&mut db.c, &["FAILOVER", "TIMEOUT", &PAUSE_MS.to_string()]);
            Some(sleeper)
        }
    };

    // During the pause: the lease expires and the reaper ticks ~50 times, yet nothing
    // changes. Under a write pause DEBUG DIGEST and TIME still answer.
    if !matches!(kind, Pause::All) {
        let mut polls = 0;
        loop {
            let now = {
                let t: Vec<i64> = q(&mut watcher, &["TIME"]);
                t[0] * 1000 + t[1] / 1000
            };
            if now > t0 + PAUSE_MS - 100 {
                break;
            }
            assert_eq!(
                digest(&mut watcher),
                before,
                "{kind:?}: changed during the pause"
            );
            polls += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(polls > 10, "the pause was observed");
    }

    // After the pause: the server is alive, and the reaper catches up.
    wait_for(20, "the expired lease to be requeued", || {
        (db.task_field(&job, "init", "state").as_deref() == Some("ready")).then_some(())
    });
    assert!(primary.is_running(), "{kind:?}: the server crashed");
    let updated = db.task_ms(&job, "init", "updated_at");
    assert!(
        updated >= t0 + PAUSE_MS,
        "{kind:?}: requeued at {updated}, during the pause ({t0} + {PAUSE_MS})"
    );
    assert_eq!(db.task_field(&job, "init", "retries").as_deref(), Some("1"));
    if let Some(s) = sleeper {
        s.join().unwrap();
        assert_eq!(info_field(&mut db.c, "replication", "role"), "master");
    }
    if let Some(r) = &replica {
        let acked: i64 = q(&mut db.c, &["WAIT", "1", "20000"]);
        assert_eq!(acked, 1);
        assert_eq!(digest(&mut r.conn()), digest(&mut db.c));
    }
    assert!(db.check().is_empty());
}

#[test]
fn client_pause_write_with_aof_changes_nothing_and_requeues_after() {
    case(Pause::Write, true, false);
}

#[test]
fn client_pause_write_with_a_replica_changes_nothing_and_requeues_after() {
    case(Pause::Write, false, true);
}

#[test]
fn client_pause_all_with_aof_changes_nothing_and_requeues_after() {
    case(Pause::All, true, false);
}

#[test]
fn client_pause_all_with_a_replica_changes_nothing_and_requeues_after() {
    case(Pause::All, false, true);
}

#[test]
fn a_failover_waiting_for_a_lagging_replica_changes_nothing_and_requeues_after() {
    case(Pause::Failover, true, true);
}
