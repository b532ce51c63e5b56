//! The console against a real redis-server with the module: a workload driven through the
//! client, then each page read over HTTP and its numbers compared with the commands'
//! answers at that moment; actions and their effects; metrics.

use serde_json::json;
use std::time::Duration;
use taskdb_redis::RedisTaskDB;
use taskdb_testkit::Server;

/// A console serving `s` on a free loopback port; its base URL.
async fn console(s: &Server, token: Option<&str>) -> String {
    let cfg = taskdb_console::Config {
        redis_url: s.url(),
        refresh_ms: 500,
        sample_every: Duration::from_millis(100),
        action_token: token.map(String::from),
    };
    let router = taskdb_console::router(cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(taskdb_console::serve(listener, router));
    format!("http://{addr}")
}

/// A page as the session behind `cookie` sees it.
async fn get_as(url: &str, cookie: &str) -> String {
    http()
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(url: &str) -> (u16, String) {
    let r = http().get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The text of the first element with `data-k="key"` after the first occurrence of
/// `scope` in `html`.
fn value(html: &str, scope: &str, key: &str) -> String {
    let start = html
        .find(scope)
        .unwrap_or_else(|| panic!("no {scope} in page"));
    let rest = &html[start..];
    let k = rest
        .find(&format!("data-k=\"{key}\""))
        .unwrap_or_else(|| panic!("no {key} after {scope}"));
    let rest = &rest[k..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find('<').unwrap();
    rest[open..open + close].trim().to_string()
}

fn redis_q<T: redis::FromRedisValue>(s: &Server, args: &[&str]) -> T {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(&mut s.conn()).unwrap()
}

/// A small workload: a 6-task DAG half done, a running claim, a failed and a cancelled job.
async fn workload(s: &Server) -> (RedisTaskDB, Vec<uuid::Uuid>) {
    let db = RedisTaskDB::with_namespace(&s.url(), "prod").await.unwrap();
    let cpu = db.create_stream("cpu", 1, 1.0, "alice").await.unwrap();
    let gpu = db.create_stream("gpu", 2, 1.5, "alice").await.unwrap();
    let dag = db
        .create_job(&cpu, &json!({"image": "x"}), 1, 60, "alice")
        .await
        .unwrap();
    for i in 0..3 {
        db.create_task(
            &dag,
            &format!("seg{i}"),
            &gpu,
            &json!({"s": i}),
            &json!(["init"]),
            1,
            60,
        )
        .await
        .unwrap();
    }
    db.create_task(
        &dag,
        "join",
        &gpu,
        &json!({}),
        &json!(["seg0", "seg1", "seg2"]),
        1,
        60,
    )
    .await
    .unwrap();
    db.create_task(&dag, "finalize", &cpu, &json!({}), &json!(["join"]), 1, 60)
        .await
        .unwrap();
    let init = db.request_work_as("cpu", "cpu-1").await.unwrap().unwrap();
    assert!(db
        .update_task_done_attempt(&init, json!({"n": 3}))
        .await
        .unwrap());
    let seg = db.request_work_as("gpu", "gpu-7").await.unwrap().unwrap();
    assert!(db
        .update_task_done_attempt(&seg, json!("proof"))
        .await
        .unwrap());
    let running = db.request_work_as("gpu", "gpu-8").await.unwrap().unwrap();
    assert!(db
        .update_task_progress_attempt(&running, 0.4)
        .await
        .unwrap());

    let failed = db.create_job(&cpu, &json!({}), 0, 60, "bob").await.unwrap();
    assert!(db
        .update_task_failed(&failed, "init", "out of <memory>")
        .await
        .unwrap());
    let cancelled = db.create_job(&cpu, &json!({}), 0, 60, "bob").await.unwrap();
    redis_q::<i64>(
        s,
        &[
            "TASKDB.CANCEL_JOB",
            "prod",
            &cancelled.to_string(),
            "changed my mind",
        ],
    );
    (db, vec![dag, failed, cancelled])
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_shows_what_the_commands_answer() {
    let s = Server::start();
    let (db, jobs) = workload(&s).await;
    let base = console(&s, None).await;

    // Overview: per namespace, the task and job counts of STATS.
    let (code, home) = get(&base).await;
    assert_eq!(code, 200);
    // The client's reading of STATS, summed over worker types.
    let counts = db.get_task_state_counts().await.unwrap();
    let count = |state: &str| -> i64 {
        counts
            .values()
            .flat_map(|per| per.iter())
            .filter(|(k, _)| format!("{k:?}").to_lowercase() == state)
            .map(|(_, n)| n)
            .sum()
    };
    for state in ["pending", "ready", "running", "done", "failed", "cancelled"] {
        assert_eq!(
            value(&home, "data-ns=\"prod\"", &format!("tasks.{state}")),
            count(state).to_string(),
            "tasks {state}"
        );
    }
    assert_eq!(value(&home, "data-ns=\"prod\"", "jobs.running"), "1");
    assert_eq!(value(&home, "data-ns=\"prod\"", "jobs.failed"), "2");
    assert!(home.contains("data-k=\"rate.claimed\""));
    assert!(home.contains("id=\"live\""), "live refresh target");

    // Scheduling: SCHEDULE's rows in its order.
    let (_, sched) = get(&format!("{base}/ns/prod/scheduling")).await;
    let rows: Vec<redis::Value> = redis_q(&s, &["TASKDB.SCHEDULE", "prod", "gpu"]);
    assert_eq!(rows.len(), 1);
    assert_eq!(value(&sched, "data-worker-type=\"gpu\"", "ready"), "1");
    assert_eq!(value(&sched, "data-worker-type=\"gpu\"", "running"), "1");
    assert_eq!(value(&sched, "data-worker-type=\"gpu\"", "reserved"), "2");

    // Jobs: newest first, with progress.
    let (_, page) = get(&format!("{base}/ns/prod/jobs")).await;
    let order: Vec<usize> = jobs
        .iter()
        .map(|j| page.find(&format!("data-job-id=\"{j}\"")).unwrap())
        .collect();
    assert!(order[2] < order[1] && order[1] < order[0], "newest first");
    assert_eq!(
        value(&page, &format!("data-job-id=\"{}\"", jobs[0]), "progress"),
        "2 / 6"
    );
    let (_, only_bob) = get(&format!("{base}/ns/prod/jobs?state=&user=bob")).await;
    assert!(!only_bob.contains(&jobs[0].to_string()) && only_bob.contains(&jobs[1].to_string()));

    // A job: one node per task with its state; the task table.
    let (_, jp) = get(&format!("{base}/ns/prod/jobs/{}", jobs[0])).await;
    assert_eq!(jp.matches("class=\"task\"").count(), 6);
    for (task, state) in [
        ("init", "done"),
        ("seg0", "done"),
        ("seg1", "running"),
        ("seg2", "ready"),
        ("join", "pending"),
        ("finalize", "pending"),
    ] {
        let want: String = {
            let v: Vec<String> = redis_q(&s, &["TASKDB.TASK", "prod", &jobs[0].to_string(), task]);
            v[v.iter().position(|x| x == "state").unwrap() + 1].clone()
        };
        assert_eq!(want, state);
        assert!(
            jp.contains(&format!("data-task-id=\"{task}\" data-state=\"{state}\"")),
            "{task} {state}"
        );
    }
    assert!(jp.contains("gpu-8"), "the holder");
    assert_eq!(
        jp.matches("<path").count(),
        3 + 3 + 1,
        "one edge per prerequisite"
    );

    // Running: LEASES.
    let (_, run) = get(&format!("{base}/ns/prod/running")).await;
    assert_eq!(value(&run, "data-task-id=\"seg1\"", "worker_id"), "gpu-8");
    assert_eq!(value(&run, "data-task-id=\"seg1\"", "attempt"), "1");

    // Failures: failed and cancelled jobs, errors escaped.
    let (_, fail) = get(&format!("{base}/ns/prod/failures")).await;
    assert_eq!(
        value(&fail, &format!("data-job-id=\"{}\"", jobs[1]), "error"),
        "out of &lt;memory&gt;"
    );
    assert_eq!(
        value(&fail, &format!("data-job-id=\"{}\"", jobs[2]), "error"),
        "changed my mind"
    );
    assert!(!fail.contains(&format!("data-job-id=\"{}\"", jobs[0])));

    // Live refresh asks for the body only.
    let frag = http()
        .get(format!("{base}/ns/prod/running"))
        .header("X-Fragment", "1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(frag.starts_with("<h1>") && !frag.contains("<html"));
    assert_eq!(
        get(&format!(
            "{base}/ns/prod/jobs/00000000-0000-0000-0000-000000000000"
        ))
        .await
        .0,
        404
    );

    // Metrics: the same counts.
    let (code, m) = get(&format!("{base}/metrics")).await;
    assert_eq!(code, 200);
    assert!(
        m.contains(r#"taskdb_tasks{namespace="prod",worker_type="gpu",state="running"} 1"#),
        "{m}"
    );
    assert!(m.contains(r#"taskdb_jobs{namespace="prod",state="failed"} 2"#));
    assert!(m.contains("taskdb_claimed_total 3"), "{m}");
    assert!(m.ends_with("# EOF\n"));
    // Per namespace and worker type, from TASKDB.METRICS: two GPU claims, one done.
    assert!(
        m.contains(r#"taskdb_tasks_claimed_total{namespace="prod",worker_type="gpu"} 2"#),
        "{m}"
    );
    assert!(m.contains(r#"taskdb_tasks_done_total{namespace="prod",worker_type="gpu"} 1"#));
    assert!(m.contains(r#"taskdb_tasks_failed_total{namespace="prod",worker_type="cpu"} 1"#));
    assert!(m.contains(r#"taskdb_task_wait_seconds_count{namespace="prod",worker_type="gpu"} 2"#));
    assert!(
        m.contains(
            r#"taskdb_task_wait_seconds_bucket{le="+Inf",namespace="prod",worker_type="gpu"} 2"#
        ) || m.contains(
            r#"taskdb_task_wait_seconds_bucket{namespace="prod",worker_type="gpu",le="+Inf"} 2"#
        ),
        "{m}"
    );
    assert!(m.contains(r#"taskdb_task_run_seconds_count{namespace="prod",worker_type="gpu"} 1"#));
    assert!(m.contains("# TYPE taskdb_task_run_seconds histogram"));
}

#[tokio::test(flavor = "multi_thread")]
async fn throughput_charts_sample_the_totals() {
    let s = Server::start();
    let (db, _) = workload(&s).await;
    let base = console(&s, None).await;
    // Wait for two samples around more claims, then the chart's last rate is > 0.
    let st = db
        .get_or_create_stream("aux", 0, 1.0, "carol")
        .await
        .unwrap();
    for _ in 0..20 {
        let j = db
            .create_job(&st, &json!({}), 0, 60, "carol")
            .await
            .unwrap();
        let _ = j;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        while db.request_work("aux").await.unwrap().is_some() {}
        let (_, home) = get(&base).await;
        let caption = &home[home.find("data-k=\"rate.claimed\"").unwrap()..];
        let caption = &caption[caption.find("<figcaption>").unwrap()..];
        if !caption.starts_with("<figcaption>claimed: <b>0.0</b>") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no rate shown");
        for _ in 0..5 {
            db.create_job(&st, &json!({}), 0, 60, "carol")
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_need_a_token_a_session_and_the_forms_csrf_value() {
    let s = Server::start();
    let (db, jobs) = workload(&s).await;
    let dag = jobs[0].to_string();

    // Read-only by default: no forms, and the action route refuses.
    let ro = console(&s, None).await;
    let (_, jp) = get(&format!("{ro}/ns/prod/jobs/{dag}")).await;
    assert!(!jp.contains("data-action"));
    let r = http()
        .post(format!("{ro}/ns/prod/actions"))
        .form(&[("csrf", "x"), ("action", "cancel_job"), ("job", &dag)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);

    let token = "s3cret-token-of-the-operator";
    let base = console(&s, Some(token)).await;
    let (_, jp) = get(&format!("{base}/ns/prod/jobs/{dag}")).await;
    assert!(jp.contains("href=\"/login\"") && !jp.contains("data-action"));
    let bad = http()
        .post(format!("{base}/login"))
        .form(&[("token", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 403);
    let ok = http()
        .post(format!("{base}/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 303);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains(token) && !ok.headers()["location"].to_str().unwrap().contains(token));
    let session = cookie.split(';').next().unwrap().to_string();

    let page = get_as(&format!("{base}/ns/prod/jobs/{dag}"), &session).await;
    assert!(page.contains("data-action=\"cancel_job\""));
    let csrf = {
        let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
        page[at..at + page[at..].find('"').unwrap()].to_string()
    };
    // Without the session, or with a wrong CSRF value: refused, nothing changed.
    for (cookie, c) in [("", csrf.as_str()), (session.as_str(), "forged")] {
        let r = http()
            .post(format!("{base}/ns/prod/actions"))
            .header("cookie", cookie)
            .form(&[("csrf", c), ("action", "cancel_job"), ("job", &dag)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403);
    }
    assert_eq!(
        redis_q::<String>(&s, &["TASKDB.JOB_STATE", "prod", &dag, "alice"]),
        "running"
    );
    let act = |action: &'static str| {
        let (session, csrf, dag, base) = (session.clone(), csrf.clone(), dag.clone(), base.clone());
        async move {
            http()
                .post(format!("{base}/ns/prod/actions"))
                .header("cookie", session)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("action", action),
                    ("job", dag.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(act("cancel_job").await.status().as_u16(), 303);
    assert_eq!(
        redis_q::<String>(&s, &["TASKDB.JOB_STATE", "prod", &dag, "alice"]),
        "failed"
    );
    let page = get_as(&format!("{base}/ns/prod/jobs/{dag}"), &session).await;
    assert!(
        page.contains("data-action=\"retry_job\"") && !page.contains("data-action=\"cancel_job\"")
    );
    assert_eq!(act("retry_job").await.status().as_u16(), 303);
    assert_eq!(
        redis_q::<String>(&s, &["TASKDB.JOB_STATE", "prod", &dag, "alice"]),
        "running"
    );
    assert_eq!(act("cancel_job").await.status().as_u16(), 303);
    assert_eq!(act("delete_job").await.status().as_u16(), 303);
    assert_eq!(
        redis_q::<redis::Value>(&s, &["TASKDB.JOB", "prod", &dag]),
        redis::Value::Nil
    );
    assert_eq!(act("launch_missiles").await.status().as_u16(), 403);

    // Pause and resume a stream and a worker type from the scheduling page.
    let gpu = db
        .get_stream("alice", "gpu")
        .await
        .unwrap()
        .unwrap()
        .to_string();
    let post = |fields: Vec<(&'static str, String)>| {
        let (session, csrf, base) = (session.clone(), csrf.clone(), base.clone());
        async move {
            let mut form = vec![("csrf", csrf)];
            form.extend(fields);
            http()
                .post(format!("{base}/ns/prod/actions"))
                .header("cookie", session)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let sched = || {
        let (session, base) = (session.clone(), base.clone());
        async move { get_as(&format!("{base}/ns/prod/scheduling"), &session).await }
    };
    assert!(sched().await.contains("data-action=\"pause_stream\""));
    let fields = |action: &'static str, k: &'static str, v: &str| {
        vec![("action", action.to_string()), (k, v.to_string())]
    };
    assert_eq!(post(fields("pause_stream", "stream", &gpu)).await, 303);
    let stream: Vec<String> = redis_q(&s, &["TASKDB.STREAM", "prod", &gpu]);
    assert_eq!(
        stream[stream.iter().position(|f| f == "paused").unwrap() + 1],
        "1"
    );
    assert_eq!(
        value(
            &sched().await,
            &format!("data-stream-id=\"{gpu}\""),
            "paused"
        ),
        "paused"
    );
    assert_eq!(post(fields("resume_stream", "stream", &gpu)).await, 303);
    assert_eq!(post(fields("pause_type", "worker_type", "cpu")).await, 303);
    assert_eq!(
        redis_q::<redis::Value>(&s, &["TASKDB.REQUEST_WORK", "prod", "cpu"]),
        redis::Value::Nil
    );
    assert_eq!(post(fields("resume_type", "worker_type", "cpu")).await, 303);
    let info: String = redis_q(&s, &["INFO", "taskdb"]);
    assert!(info.contains("taskdb_paused:0"), "{info}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_acl_user_sees_every_page_and_its_actions_are_refused() {
    let s = Server::start();
    let (_db, jobs) = workload(&s).await;
    // The README's read-only recipe (Redis 7.0 lists the query commands).
    let mut acl = vec!["ACL", "SETUSER", "viewer", "on", ">pw", "~*"];
    acl.extend([
        "+TASKDB.GET_STREAM",
        "+TASKDB.STREAM",
        "+TASKDB.STREAMS",
        "+TASKDB.JOB_STATE",
        "+TASKDB.JOB_UNRESOLVED",
        "+TASKDB.CONCURRENT_JOBS",
        "+TASKDB.JOB_TIME",
        "+TASKDB.JOB_FAILURE",
        "+TASKDB.JOB",
        "+TASKDB.JOBS",
        "+TASKDB.JOB_TASKS",
        "+TASKDB.TASK",
        "+TASKDB.TASK_OUTPUT",
        "+TASKDB.STATS",
        "+TASKDB.CHECK",
        "+TASKDB.SCHEDULE",
        "+TASKDB.QUEUE",
        "+TASKDB.LEASES",
        "+TASKDB.METRICS",
        "+INFO",
        "+SCAN",
    ]);
    redis_q::<()>(&s, &acl);
    let url = s.url().replace("redis://", "redis://viewer:pw@");
    let cfg = taskdb_console::Config {
        redis_url: url,
        refresh_ms: 0,
        sample_every: Duration::from_millis(100),
        action_token: Some("a-token-for-the-viewer-test".into()),
    };
    let router = taskdb_console::router(cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(taskdb_console::serve(listener, router));
    for path in [
        "/".to_string(),
        "/metrics".into(),
        "/ns/prod/scheduling".into(),
        "/ns/prod/jobs".into(),
        format!("/ns/prod/jobs/{}", jobs[0]),
        "/ns/prod/running".into(),
        "/ns/prod/failures".into(),
    ] {
        let (code, body) = get(&format!("{base}{path}")).await;
        assert_eq!(code, 200, "{path}: {body}");
    }
    // Logged in, an action reaches Redis, which refuses the viewer: shown, nothing changed.
    let ok = http()
        .post(format!("{base}/login"))
        .form(&[("token", "a-token-for-the-viewer-test")])
        .send()
        .await
        .unwrap();
    let session = ok.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = get_as(&format!("{base}/ns/prod/jobs/{}", jobs[0]), &session).await;
    let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let csrf = page[at..at + page[at..].find('"').unwrap()].to_string();
    let r = http()
        .post(format!("{base}/ns/prod/actions"))
        .header("cookie", &session)
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "cancel_job"),
            ("job", &jobs[0].to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
    assert!(r.text().await.unwrap().contains("NOPERM"));
    assert_eq!(
        redis_q::<String>(
            &s,
            &["TASKDB.JOB_STATE", "prod", &jobs[0].to_string(), "alice"]
        ),
        "running"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_cluster_the_console_reads_every_primary() {
    let cl = taskdb_testkit::Cluster::start();
    // Three namespaces on three different primaries.
    let mut names: Vec<(usize, String)> = Vec::new();
    for i in 0.. {
        let ns = format!("team-{i}");
        let p = cl.primary_of(&ns);
        if names.iter().all(|(q, _)| *q != p) {
            names.push((p, ns));
        }
        if names.len() == 3 {
            break;
        }
    }
    let url = cl.cluster_url();
    let mut jobs = Vec::new();
    for (k, (_, ns)) in names.iter().enumerate() {
        let db = RedisTaskDB::with_namespace(&url, ns).await.unwrap();
        let st = db.create_stream("cpu", 1, 1.0, "u").await.unwrap();
        for _ in 0..=k {
            jobs.push((
                ns.clone(),
                db.create_job(&st, &json!({}), 0, 60, "u").await.unwrap(),
            ));
        }
        db.request_work("cpu").await.unwrap().unwrap();
    }
    let cfg = taskdb_console::Config {
        redis_url: url,
        refresh_ms: 0,
        sample_every: Duration::from_millis(100),
        action_token: None,
    };
    let router = taskdb_console::router(cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(taskdb_console::serve(listener, router));

    let (code, home) = get(&base).await;
    assert_eq!(code, 200, "{home}");
    for (k, (_, ns)) in names.iter().enumerate() {
        let row = format!("data-ns=\"{ns}\"");
        assert_eq!(
            value(&home, &row, "jobs.running"),
            (k + 1).to_string(),
            "{ns}"
        );
        assert_eq!(value(&home, &row, "tasks.running"), "1", "{ns}");
    }
    // The totals sum over the primaries: three claims, one on each.
    assert_eq!(
        value(
            &home,
            "data-k=\"taskdb_claimed_total\"",
            "taskdb_claimed_total"
        ),
        "3"
    );
    let (_, m) = get(&format!("{base}/metrics")).await;
    assert!(m.contains("taskdb_claimed_total 3"), "{m}");
    for (ns, job) in &jobs {
        let (code, page) = get(&format!("{base}/ns/{ns}/jobs/{job}")).await;
        assert_eq!(code, 200, "{page}");
        assert_eq!(page.matches("class=\"task\"").count(), 1);
    }
}
