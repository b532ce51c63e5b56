//! The operator's view: keyspace notifications and the INFO taskdb section.

use crate::common::*;
use redis::Value;

#[test]
fn task_and_job_state_changes_are_published_as_keyspace_events() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let _: () = q(
        &mut db.c,
        &["CONFIG", "SET", "notify-keyspace-events", "Ed"],
    );
    let mut sub = s.conn();
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@0__:taskdb.*").unwrap();
    ps.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.claim("cpu").unwrap();
    assert!(db.done(&job, "init"));
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let msg = ps.get_message().expect("an event");
        let key: String = msg.get_payload().unwrap();
        seen.push((
            msg.get_channel_name()
                .trim_start_matches("__keyevent@0__:")
                .to_string(),
            key,
        ));
    }
    // The events are on the namespace's key (the detail comes on taskdb.event-channel).
    let _ = job;
    let ns = "t".to_string();
    assert_eq!(
        seen,
        [
            ("taskdb.ready".to_string(), ns.clone()),
            ("taskdb.running".to_string(), ns.clone()),
            ("taskdb.done".to_string(), ns.clone()),
            ("taskdb.job_done".to_string(), ns),
        ]
    );
}

#[test]
fn info_fields_move_as_operations_happen() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let mut other = Ns::new(&s, "u");
    let i = taskdb_info(&mut db.c);
    assert_eq!(i["namespaces"], "0");
    // As the README says: module sections in INFO everything and INFO modules only.
    for (section, shown) in [
        ("default", false),
        ("all", false),
        ("everything", true),
        ("modules", true),
    ] {
        let text: String = q(&mut db.c, &["INFO", section]);
        assert_eq!(text.contains("taskdb_namespaces:"), shown, "INFO {section}");
    }
    assert_eq!(i["tasks_ready"], "0");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    db.task(&job, "a", &st, &["init"]);
    let ost = other.stream("gpu", 1, 1.0, "u");
    other.job(&ost, "u");
    let i = taskdb_info(&mut db.c);
    assert_eq!(i["namespaces"], "2");
    assert_eq!(
        (i["tasks_ready"].as_str(), i["tasks_pending"].as_str()),
        ("2", "1")
    );
    assert_eq!(i["jobs_running"], "2");
    db.claim("cpu").unwrap();
    assert!(db.done(&job, "init"));
    db.claim("cpu").unwrap();
    assert_eq!(db.q::<i64>("FAILED", &[&job, "a", "x"]), 1);
    let i = taskdb_info(&mut db.c);
    assert_eq!(i["claimed_total"], "2");
    assert_eq!(i["done_total"], "1");
    assert_eq!(i["failed_total"], "1");
    assert_eq!(
        (i["tasks_done"].as_str(), i["tasks_failed"].as_str()),
        ("1", "1")
    );
    assert_eq!(i["jobs_failed"], "1");
    // A worker waiting for AUX work shows up per worker type, and leaves when served.
    let mut w = s.conn();
    let waiter = std::thread::spawn(move || {
        let v: Option<Vec<redis::Value>> = redis::cmd("TASKDB.REQUEST_WORK")
            .arg("t")
            .arg("aux")
            .arg("BLOCK")
            .arg("0")
            .query(&mut w)
            .unwrap();
        v.is_some()
    });
    wait_for(10, "blocked_workers:aux=1", || {
        (taskdb_info(&mut db.c)["blocked_workers"] == "aux=1").then_some(())
    });
    let aux = db.stream("aux", 1, 1.0, "u");
    db.job(&aux, "u");
    assert!(waiter.join().unwrap());
    wait_for(10, "no blocked workers", || {
        taskdb_info(&mut db.c)["blocked_workers"]
            .is_empty()
            .then_some(())
    });
}

#[test]
fn metrics_count_each_worker_types_tasks_and_time_their_wait_and_run() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let cpu = db.stream("cpu", 1, 1.0, "u");
    let gpu = db.stream("gpu", 1, 1.0, "u");
    let job = db.job(&cpu, "u");
    db.task(&job, "g1", &gpu, &["init"]);
    db.task(&job, "g2", &gpu, &["init"]);
    db.claim("cpu").unwrap();
    assert!(db.done(&job, "init"));
    db.claim("gpu").unwrap();
    db.claim("gpu").unwrap();
    assert_eq!(db.q::<i64>("RETRY", &[&job, "g1"]), 1);
    assert_eq!(db.q::<i64>("FAILED", &[&job, "g2", "x"]), 1);
    let rows: Vec<Value> = db.q("METRICS", &[]);
    assert_eq!(rows.len(), 2);
    let by_type: Vec<(String, Vec<(String, Value)>)> = rows
        .into_iter()
        .map(|r| {
            let Value::Array(items) = r else { panic!() };
            let pairs: Vec<(String, Value)> = items
                .chunks(2)
                .map(|p| (redis::from_redis_value(&p[0]).unwrap(), p[1].clone()))
                .collect();
            let wt: String = redis::from_redis_value(&pairs[0].1).unwrap();
            (wt, pairs)
        })
        .collect();
    let get = |wt: &str, k: &str| -> Value {
        let (_, p) = by_type.iter().find(|(w, _)| w == wt).unwrap();
        p.iter().find(|(f, _)| f == k).unwrap().1.clone()
    };
    for (wt, claimed, done, failed, retried) in [("cpu", 1, 1, 0, 0), ("gpu", 2, 0, 1, 1)] {
        assert_eq!(get(wt, "claimed"), Value::Int(claimed), "{wt}");
        assert_eq!(get(wt, "done"), Value::Int(done), "{wt}");
        assert_eq!(get(wt, "failed"), Value::Int(failed), "{wt}");
        assert_eq!(get(wt, "retried"), Value::Int(retried), "{wt}");
    }
    let timing = |wt: &str, k: &str| -> (i64, i64) {
        let Value::Array(t) = get(wt, k) else {
            panic!()
        };
        let count: i64 = redis::from_redis_value(&t[1]).unwrap();
        let Value::Array(buckets) = &t[7] else {
            panic!()
        };
        let sum: i64 = buckets
            .iter()
            .map(|b| redis::from_redis_value::<i64>(b).unwrap())
            .sum();
        (count, sum)
    };
    assert_eq!(timing("cpu", "wait"), (1, 1), "one claim, in one bucket");
    assert_eq!(timing("cpu", "run"), (1, 1));
    assert_eq!(timing("gpu", "wait"), (2, 2));
    assert_eq!(timing("gpu", "run"), (0, 0), "no gpu task was done");
}
