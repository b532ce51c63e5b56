//! The console in a real browser: headless Chromium (Debian's `chromium`) loads the
//! overview and the job page of a running 34-task proving DAG, checks that the picture has
//! one node per task coloured by its state, and that live refresh shows a task finishing.
//! Screenshots go to the test's temp dir (and to `$TASKDB_SCREENSHOT_DIR` if set: that is
//! how the README's picture is made).

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use taskdb_redis::planner::{task::Command, Planner};
use taskdb_redis::{Attempt, RedisTaskDB};
use taskdb_testkit::{Chromedriver, Server};

/// A proving DAG: init, executor, 16 segments, 15 joins, finalize. Returns the job and
/// the GPU stream's workers' view.
async fn proving_dag(db: &RedisTaskDB) -> uuid::Uuid {
    let aux = db.create_stream("aux", 1, 1.0, "alice").await.unwrap();
    let cpu = db.create_stream("cpu", 1, 1.0, "alice").await.unwrap();
    let gpu = db.create_stream("gpu", 4, 1.0, "alice").await.unwrap();
    let job = db
        .create_job(&aux, &json!({"image": "demo"}), 1, 60, "alice")
        .await
        .unwrap();
    let init = db.request_work("aux").await.unwrap().unwrap();
    db.create_task(&job, "executor", &cpu, &json!({}), &json!([]), 1, 60)
        .await
        .unwrap();
    assert!(db
        .update_task_done(&job, &init.task_id, json!({}))
        .await
        .unwrap());
    let exec = db.request_work("cpu").await.unwrap().unwrap();
    let mut planner = Planner::default();
    for _ in 0..16 {
        planner.enqueue_segment().unwrap();
    }
    planner.finish().unwrap();
    while let Some(step) = planner.next_task() {
        let name = |n: &usize| n.to_string();
        let (id, stream, prereqs): (String, _, Vec<String>) = match step.command {
            Command::Segment | Command::Keccak => (name(&step.task_number), &gpu, vec![]),
            Command::Join | Command::Union => (
                name(&step.task_number),
                &gpu,
                step.depends_on
                    .iter()
                    .chain(&step.keccak_depends_on)
                    .map(name)
                    .collect(),
            ),
            Command::Finalize => (
                "finalize".into(),
                &aux,
                step.depends_on.iter().map(name).collect(),
            ),
        };
        db.create_task(
            &job,
            &id,
            stream,
            &json!({"step": format!("{:?}", step.command)}),
            &json!(prereqs),
            1,
            60,
        )
        .await
        .unwrap();
    }
    assert!(db
        .update_task_done(&exec.job_id, &exec.task_id, json!({"segments": 16}))
        .await
        .unwrap());
    job
}

async fn screenshot(c: &Client, dir: &Path, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(name), &png).unwrap();
    if let Ok(d) = std::env::var("TASKDB_SCREENSHOT_DIR") {
        std::fs::write(Path::new(&d).join(name), &png).unwrap();
    }
}

async fn eval(c: &Client, js: &str) -> Value {
    c.execute(js, vec![]).await.unwrap()
}

/// Waits up to 10 s for `js` to answer something else than `null`.
async fn wait_js(c: &Client, js: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = eval(c, js).await;
        if v != Value::Null {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {js}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dag_page_draws_every_task_in_its_colour_and_refreshes_live() {
    let s = Server::start();
    let db = RedisTaskDB::with_namespace(&s.url(), "prod").await.unwrap();
    let job = proving_dag(&db).await;
    // GPU workers: five segments done, one running at 40%.
    let mut claims: Vec<Attempt> = Vec::new();
    for i in 0..6 {
        claims.push(
            db.request_work_as("gpu", &format!("gpu-{i}"))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    for a in &claims[..5] {
        assert!(db
            .update_task_done_attempt(a, json!("proof"))
            .await
            .unwrap());
    }
    assert!(db
        .update_task_progress_attempt(&claims[5], 0.4)
        .await
        .unwrap());
    let cfg = taskdb_console::Config {
        redis_url: s.url(),
        refresh_ms: 300,
        sample_every: Duration::from_millis(200),
        action_token: None,
    };
    let router = taskdb_console::router(cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(taskdb_console::serve(listener, router));

    let shots = tempfile::tempdir().unwrap();
    let driver = Chromedriver::start();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": ["--headless=new", "--no-sandbox",
            "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]}),
    );
    let c = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url())
        .await
        .expect("a chromium session");

    c.goto(&base).await.unwrap();
    let running = wait_js(&c, r#"const e = document.querySelector('tr[data-ns="prod"] [data-k="tasks.running"]'); return e && e.textContent;"#).await;
    assert_eq!(running, json!("1"));
    screenshot(&c, shots.path(), "console-overview.png").await;

    c.goto(&format!("{base}/ns/prod/jobs/{job}")).await.unwrap();
    let nodes = wait_js(
        &c,
        "const g = [...document.querySelectorAll('svg.dag g.task')]; return g.length ? \
         g.map(g => [g.dataset.taskId, g.dataset.state, g.querySelector('rect').getAttribute('fill')]) : null;",
    )
    .await;
    let nodes: Vec<(String, String, String)> = serde_json::from_value(nodes).unwrap();
    assert_eq!(nodes.len(), 34, "one node per task");
    let tasks = taskdb_redis::test_helpers::get_job_tasks(&db, &job)
        .await
        .unwrap();
    for (id, state, fill) in &nodes {
        let t = tasks.iter().find(|t| &t.task_id == id).unwrap();
        assert_eq!(state, &format!("{:?}", t.full_state).to_lowercase(), "{id}");
        assert_eq!(
            fill,
            taskdb_console::dag::colour(state),
            "{id} is drawn in its state's colour"
        );
    }
    let count = |s: &str| nodes.iter().filter(|n| n.1 == s).count();
    // Five segments done released two joins: 10 segments and 2 joins ready.
    assert_eq!(
        (
            count("done"),
            count("running"),
            count("ready"),
            count("pending")
        ),
        (7, 1, 12, 14)
    );
    screenshot(&c, shots.path(), "console-job.png").await;

    // Live refresh: the running segment finishes; the page shows it without a reload.
    let progress = r#"return document.querySelector('[data-k="progress"]').textContent;"#;
    assert_eq!(eval(&c, progress).await, json!("7 / 34 tasks done"));
    assert!(db
        .update_task_done_attempt(&claims[5], json!("proof"))
        .await
        .unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    while eval(&c, progress).await == json!("7 / 34 tasks done") {
        assert!(
            Instant::now() < deadline,
            "live refresh never showed the change"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(eval(&c, progress).await, json!("8 / 34 tasks done"));
    let id = &claims[5].task.task_id;
    let state = eval(
        &c,
        &format!("return document.querySelector('g.task[data-task-id=\"{id}\"]').dataset.state;"),
    )
    .await;
    assert_eq!(state, json!("done"));
    screenshot(&c, shots.path(), "console-job-refreshed.png").await;
    assert!(
        shots
            .path()
            .join("console-job.png")
            .metadata()
            .unwrap()
            .len()
            > 10_000
    );
    c.close().await.unwrap();
}
