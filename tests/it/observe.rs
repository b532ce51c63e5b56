//! The operator's view: keyspace notifications and the INFO taskdb section.

use crate::common::*;

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
    let task_key = format!("{{t}}:task:{job}:init");
    let job_key = format!("{{t}}:job:{job}");
    assert_eq!(
        seen,
        [
            ("taskdb.ready".to_string(), task_key.clone()),
            ("taskdb.running".to_string(), task_key.clone()),
            ("taskdb.done".to_string(), task_key),
            ("taskdb.job_done".to_string(), job_key),
        ]
    );
}
