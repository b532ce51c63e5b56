//! A namespace is one key of TaskDB's data type: the keyspace commands (TYPE, DEL, UNLINK,
//! COPY, RENAME, MOVE, SWAPDB, DUMP/RESTORE, MIGRATE, FLUSHALL, WATCH, client tracking)
//! act on it whole, and INFO and the lease reaper follow it wherever it goes.

use crate::common::*;
use redis::Value;

/// A namespace with one stream, one job (init task ready) and `extra` more ready tasks.
fn filled(s: &Server, name: &str, extra: usize) -> (Ns, String, String) {
    let mut db = Ns::new(s, name);
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let mut pipe = redis::pipe();
    for i in 0..extra {
        pipe.cmd("TASKDB.CREATE_TASK")
            .arg(name)
            .arg(&job)
            .arg(format!("t{i}"))
            .arg(&st)
            .arg("{}")
            .arg("[]")
            .arg(3)
            .arg(60)
            .ignore();
    }
    let _: () = pipe.query(&mut db.c).unwrap();
    (db, st, job)
}

/// Claims the init task of a fresh namespace on a lease that is already due, with the
/// reaper off: whoever holds the namespace when the reaper runs must requeue it.
fn due_lease(s: &Server, name: &str) -> (Ns, String) {
    let mut db = Ns::new(s, name);
    db.reaper_every("0");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job: String = db.q("CREATE_JOB", &[&st, "{}", "3", "0", "u"]);
    db.claim("cpu").unwrap();
    (db, job)
}

/// Waits until the reaper has put `job`'s init task back to ready in the namespace `db`
/// names (on `db`'s connection, in its selected database).
fn wait_requeued(db: &mut Ns, job: &str) {
    db.reaper_every("20");
    wait_for(10, "the reaper to requeue the task", || {
        (db.task_field(job, "init", "state").as_deref() == Some("ready")).then_some(())
    });
    assert_eq!(db.task_field(job, "init", "retries").as_deref(), Some("1"));
}

#[test]
fn a_namespace_is_one_key_of_the_taskdb_type_and_del_drops_it() {
    let s = Server::start();
    let (mut db, _, job) = filled(&s, "prod", 3);
    let _ = filled(&s, "dev", 0);
    assert_eq!(q::<String>(&mut db.c, &["TYPE", "prod"]), "taskdb-ns");
    let mut keys: Vec<String> = q(&mut db.c, &["KEYS", "*"]);
    keys.sort();
    assert_eq!(keys, ["dev", "prod"], "one key per namespace, nothing else");
    assert_eq!(taskdb_info(&mut db.c)["namespaces"], "2");
    assert_eq!(taskdb_info(&mut db.c)["tasks_ready"], "5");
    assert_eq!(q::<i64>(&mut db.c, &["DEL", "prod"]), 1);
    let i = taskdb_info(&mut db.c);
    assert_eq!(
        (i["namespaces"].as_str(), i["tasks_ready"].as_str()),
        ("1", "1")
    );
    assert!(db.jobs().is_empty(), "prod is empty");
    assert_eq!(db.q::<Value>("JOB", &[&job]), Value::Nil);
}

#[test]
fn copy_makes_an_independent_namespace_that_info_and_the_reaper_see() {
    let s = Server::start();
    let (mut db, job) = due_lease(&s, "a");
    assert_eq!(q::<i64>(&mut db.c, &["COPY", "a", "b"]), 1);
    assert_eq!(taskdb_info(&mut db.c)["tasks_running"], "2");
    let mut b = Ns::new(&s, "b");
    assert_eq!(b.check(), Vec::<Value>::new());
    // Both leases are due: the reaper requeues the task in each namespace.
    wait_requeued(&mut b, &job);
    wait_requeued(&mut db, &job);
    // They are independent: finishing the task in the copy leaves the original alone.
    let (j, t) = b.claim("cpu").unwrap();
    assert!(b.done(&j, &t));
    assert_eq!(b.task_field(&job, "init", "state").as_deref(), Some("done"));
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("ready")
    );
    let i = taskdb_info(&mut db.c);
    assert_eq!(
        (i["tasks_ready"].as_str(), i["tasks_done"].as_str()),
        ("1", "1")
    );
    assert_eq!(i["namespaces"], "2");
    // COPY to another database, and COPY REPLACE over a namespace.
    assert_eq!(q::<i64>(&mut db.c, &["COPY", "a", "b", "DB", "3"]), 1);
    assert_eq!(q::<i64>(&mut db.c, &["COPY", "a", "b", "REPLACE"]), 1);
    assert_eq!(
        b.task_field(&job, "init", "state").as_deref(),
        Some("ready")
    );
    assert_eq!(taskdb_info(&mut db.c)["namespaces"], "3");
}

#[test]
fn rename_and_move_carry_the_namespace_with_its_leases() {
    let s = Server::start();
    let (mut db, job) = due_lease(&s, "a");
    let _: () = q(&mut db.c, &["RENAME", "a", "b"]);
    assert_eq!(q::<i64>(&mut db.c, &["EXISTS", "a"]), 0);
    let mut b = Ns::new(&s, "b");
    wait_requeued(&mut b, &job);
    assert_eq!(taskdb_info(&mut b.c)["namespaces"], "1");

    b.reaper_every("0");
    b.claim("cpu").unwrap();
    assert_eq!(q::<i64>(&mut b.c, &["MOVE", "b", "5"]), 1);
    assert_eq!(q::<i64>(&mut b.c, &["EXISTS", "b"]), 0);
    let mut moved = Ns::new(&s, "b");
    let _: () = q(&mut moved.c, &["SELECT", "5"]);
    assert_eq!(
        moved.task_field(&job, "init", "state").as_deref(),
        Some("running")
    );
    moved.reaper_every("20");
    wait_for(10, "the reaper to requeue the moved task", || {
        (moved.task_field(&job, "init", "retries").as_deref() == Some("2")).then_some(())
    });
    let i = taskdb_info(&mut moved.c);
    assert_eq!(
        (i["namespaces"].as_str(), i["tasks_ready"].as_str()),
        ("1", "1")
    );
    // RENAME over an existing namespace drops the one it replaces.
    let _ = filled(&s, "c", 4);
    assert_eq!(taskdb_info(&mut moved.c)["tasks_ready"], "6");
    let mut db0 = s.conn();
    let _: () = q(&mut db0, &["MOVE", "c", "5"]);
    let _: () = q(&mut moved.c, &["RENAME", "b", "c"]);
    let i = taskdb_info(&mut moved.c);
    assert_eq!(
        (i["namespaces"].as_str(), i["tasks_ready"].as_str()),
        ("1", "1")
    );
}

#[test]
fn swapdb_swaps_namespaces_and_the_reaper_follows_them() {
    let s = Server::start();
    let (mut db, job) = due_lease(&s, "a");
    let _: () = q(&mut db.c, &["SWAPDB", "0", "7"]);
    assert_eq!(q::<i64>(&mut db.c, &["EXISTS", "a"]), 0);
    let mut other = Ns::new(&s, "a");
    let _: () = q(&mut other.c, &["SELECT", "7"]);
    wait_requeued(&mut other, &job);
    let _: () = q(&mut db.c, &["SWAPDB", "7", "0"]);
    assert_eq!(
        db.task_field(&job, "init", "state").as_deref(),
        Some("ready")
    );
    db.reaper_every("0");
    db.claim("cpu").unwrap();
    let _: () = q(&mut db.c, &["SWAPDB", "0", "7"]);
    let _: () = q(&mut db.c, &["SWAPDB", "7", "3"]);
    let mut third = Ns::new(&s, "a");
    let _: () = q(&mut third.c, &["SELECT", "3"]);
    third.reaper_every("20");
    wait_for(10, "the reaper to requeue the task in db 3", || {
        (third.task_field(&job, "init", "retries").as_deref() == Some("2")).then_some(())
    });
    assert_eq!(taskdb_info(&mut third.c)["namespaces"], "1");
}

#[test]
fn dump_restore_and_migrate_move_a_namespace_whole() {
    let s = Server::start();
    let (mut db, _, job) = filled(&s, "a", 50);
    db.claim("cpu").unwrap();
    let before = db.stats();
    let dump: Vec<u8> = redis::cmd("DUMP").arg("a").query(&mut db.c).unwrap();
    let _: () = redis::cmd("RESTORE")
        .arg("b")
        .arg(0)
        .arg(&dump)
        .query(&mut db.c)
        .unwrap();
    let mut b = Ns::new(&s, "b");
    assert_eq!(b.stats(), before);
    assert_eq!(b.job_tasks(&job), db.job_tasks(&job));
    assert_eq!(
        q::<Vec<String>>(&mut db.c, &["DEBUG", "DIGEST-VALUE", "a"]),
        q::<Vec<String>>(&mut db.c, &["DEBUG", "DIGEST-VALUE", "b"]),
    );
    assert_eq!(taskdb_info(&mut db.c)["tasks_running"], "2");
    // RESTORE REPLACE over a namespace, then the restored copy's lease is reaped.
    let _: () = redis::cmd("RESTORE")
        .arg("a")
        .arg(0)
        .arg(&dump)
        .arg("REPLACE")
        .query(&mut db.c)
        .unwrap();
    assert_eq!(taskdb_info(&mut db.c)["namespaces"], "2");
    assert!(db.check().is_empty());

    // MIGRATE to another server: the namespace leaves this one and works there.
    let t = Server::start();
    let port = t.port.to_string();
    let r: String = q(
        &mut db.c,
        &["MIGRATE", "127.0.0.1", &port, "a", "0", "5000"],
    );
    assert_eq!(r, "OK");
    assert_eq!(q::<i64>(&mut db.c, &["EXISTS", "a"]), 0);
    assert_eq!(taskdb_info(&mut db.c)["namespaces"], "1");
    let mut there = Ns::new(&t, "a");
    assert_eq!(there.stats(), before);
    assert_eq!(taskdb_info(&mut there.c)["namespaces"], "1");
    assert_eq!(taskdb_info(&mut there.c)["tasks_ready"], "50");
    let (j, task) = there.claim("cpu").unwrap();
    assert!(there.done(&j, &task));
    assert!(there.check().is_empty());
}

#[test]
fn unlink_and_flushall_async_free_a_big_namespace_off_the_main_thread() {
    let s = Server::start();
    let mut c = s.conn();
    for name in ["big", "big2"] {
        filled(&s, name, 20_000);
    }
    let lazy = |c: &mut redis::Connection| -> i64 {
        info_field(c, "memory", "lazyfreed_objects")
            .parse()
            .unwrap()
    };
    let start = lazy(&mut c);
    assert_eq!(q::<i64>(&mut c, &["UNLINK", "big"]), 1);
    let i = taskdb_info(&mut c);
    assert_eq!(
        (i["namespaces"].as_str(), i["tasks_ready"].as_str()),
        ("1", "20001")
    );
    wait_for(10, "the lazy free of the namespace", || {
        (lazy(&mut c) == start + 1).then_some(())
    });
    let _: () = q(&mut c, &["FLUSHALL", "ASYNC"]);
    let i = taskdb_info(&mut c);
    assert_eq!(
        (i["namespaces"].as_str(), i["tasks_ready"].as_str()),
        ("0", "0")
    );
    wait_for(10, "the lazy free of the flushed database", || {
        (info_field(&mut c, "memory", "lazyfree_pending_objects") == "0").then_some(())
    });
    // The server still works on a namespace of the same name.
    let (mut db, _, _) = filled(&s, "big", 1);
    assert_eq!(taskdb_info(&mut db.c)["tasks_ready"], "2");
}

#[test]
fn info_follows_namespaces_through_reload_restart_full_sync_and_on_replicas() {
    let primary = Server::with_args(&["--appendonly", "no"]);
    let (mut db, _, _) = filled(&primary, "a", 10);
    let _ = filled(&primary, "b", 5);
    db.claim("cpu").unwrap();
    let want = taskdb_info(&mut db.c);
    let counts = |i: &std::collections::HashMap<String, String>| {
        let mut v: Vec<(String, String)> = i
            .iter()
            .filter(|(k, _)| {
                k.starts_with("tasks_") || k.starts_with("jobs_") || *k == "namespaces"
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(want["namespaces"], "2");
    let _: () = q(&mut db.c, &["DEBUG", "RELOAD"]);
    assert_eq!(
        counts(&taskdb_info(&mut db.c)),
        counts(&want),
        "after DEBUG RELOAD"
    );

    // A replica's full sync fills its INFO, and it follows the primary's changes.
    let replica = Server::replica_of(&primary, &["--save", ""]);
    let mut rc = replica.conn();
    assert_eq!(
        counts(&taskdb_info(&mut rc)),
        counts(&want),
        "on the replica"
    );
    let (j, t) = db.claim("cpu").unwrap();
    assert!(db.done(&j, &t));
    let _: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
    let now = taskdb_info(&mut db.c);
    assert_eq!(counts(&taskdb_info(&mut rc)), counts(&now));
    assert_eq!(now["tasks_done"], "1");

    // A second full sync replaces the replica's data, and its INFO with it.
    let _: () = q(&mut rc, &["REPLICAOF", "NO", "ONE"]);
    let _: i64 = q(&mut rc, &["DEL", "a"]);
    let _ = filled(&replica, "c", 7);
    let port = primary.port.to_string();
    let _: () = q(&mut rc, &["REPLICAOF", "127.0.0.1", &port]);
    wait_for(20, "the second full sync", || {
        (info_field(&mut rc, "replication", "master_link_status") == "up"
            && info_field(&mut rc, "persistence", "loading") == "0")
            .then_some(())
    });
    assert_eq!(
        counts(&taskdb_info(&mut rc)),
        counts(&now),
        "after the resync"
    );
    assert_eq!(digest(&mut rc), digest(&mut db.c));

    // FLUSHALL reaches the replica too.
    let _: () = q(&mut db.c, &["FLUSHALL"]);
    let _: i64 = q(&mut db.c, &["WAIT", "1", "10000"]);
    assert_eq!(taskdb_info(&mut rc)["namespaces"], "0");
    assert_eq!(taskdb_info(&mut db.c)["tasks_ready"], "0");
}

#[test]
fn a_restart_from_rdb_brings_back_info_and_the_reaper() {
    let first = Server::with_args(&["--appendonly", "no"]);
    let (mut db, job) = due_lease(&first, "a");
    let _: () = q(&mut db.c, &["SAVE"]);
    let copy = tempfile::tempdir().unwrap();
    copy_dir(first.dir.path(), copy.path());
    drop(db);
    drop(first);
    let second = Server::in_dir(copy, &["--appendonly", "no"]);
    let mut db = Ns::new(&second, "a");
    let i = taskdb_info(&mut db.c);
    assert_eq!(
        (i["namespaces"].as_str(), i["tasks_running"].as_str()),
        ("1", "1")
    );
    wait_requeued(&mut db, &job);
}

#[test]
fn short_lived_namespaces_leave_nothing_behind() {
    let s = Server::start();
    let mut c = s.conn();
    for round in 0..20 {
        let mut pipe = redis::pipe();
        for i in 0..100 {
            let name = format!("n{round}-{i}");
            pipe.cmd("TASKDB.CREATE_STREAM")
                .arg(&name)
                .arg("cpu")
                .arg(1)
                .arg(1.0)
                .arg("u")
                .ignore();
            pipe.cmd("DEL").arg(&name).ignore();
        }
        let _: () = pipe.query(&mut c).unwrap();
    }
    assert_eq!(taskdb_info(&mut c)["namespaces"], "0");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 0);
}

#[test]
fn watch_and_client_tracking_see_every_write_to_a_namespace() {
    let s = Server::start();
    let (mut db, st, job) = filled(&s, "a", 0);
    // WATCH: a write from another client aborts the transaction.
    let _: () = q(&mut db.c, &["WATCH", "a"]);
    let mut other = Ns::new(&s, "a");
    other.claim("cpu").unwrap();
    let _: () = q(&mut db.c, &["MULTI"]);
    let _: () = q(&mut db.c, &["TASKDB.STATS", "a"]);
    let r: Value = q(&mut db.c, &["EXEC"]);
    assert_eq!(r, Value::Nil, "the claim touched the watched namespace");
    // A read-only command is tracked; the next write invalidates the namespace key.
    let mut inval = s.conn();
    let id: i64 = q(&mut inval, &["CLIENT", "ID"]);
    let mut pubsub = inval.as_pubsub();
    pubsub.subscribe("__redis__:invalidate").unwrap();
    let _: () = q(
        &mut db.c,
        &["CLIENT", "TRACKING", "on", "REDIRECT", &id.to_string()],
    );
    let _: Value = q(&mut db.c, &["TASKDB.STREAM", "a", &st]);
    assert!(other.done(&job, "init"));
    pubsub
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let msg = pubsub.get_message().unwrap();
    let keys: Vec<String> = msg.get_payload().unwrap();
    assert_eq!(keys, ["a"]);
}

#[test]
fn memory_usage_and_used_memory_see_a_namespace() {
    let s = Server::start();
    let mut c = s.conn();
    let used = |c: &mut redis::Connection| -> i64 {
        info_field(c, "memory", "used_memory").parse().unwrap()
    };
    let before = used(&mut c);
    let (mut db, _, _) = filled(&s, "a", 20_000);
    let grown = used(&mut db.c) - before;
    let reported: i64 = q(&mut c, &["MEMORY", "USAGE", "a"]);
    assert!(
        grown > 20_000 * 40,
        "used_memory grew by {grown} bytes only: the tasks are not in Redis' allocator"
    );
    let ratio = reported as f64 / grown as f64;
    assert!(
        (0.8..=1.2).contains(&ratio),
        "MEMORY USAGE {reported} vs used_memory growth {grown} (ratio {ratio:.2})"
    );
}
