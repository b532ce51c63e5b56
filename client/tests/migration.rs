//! The migration between a real PostgreSQL (started by the test in a temporary directory)
//! and a real redis-server with the module.

use serde_json::json;
use taskdb_redis::migration::{postgres_to_redis, redis_to_postgres, MigrationError, Options};
use taskdb_redis::*;
use taskdb_testkit::{Postgres, Server};
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

/// The PostgreSQL TaskDB's tables, as the issue lists them.
const SCHEMA: &str = "
CREATE TYPE job_state AS ENUM ('running', 'done', 'failed');
CREATE TYPE task_state AS ENUM ('pending', 'ready', 'running', 'done', 'failed');
CREATE TABLE streams (id uuid PRIMARY KEY, worker_type text NOT NULL, reserved int NOT NULL,
  be_mult real NOT NULL, user_id text NOT NULL, running int NOT NULL DEFAULT 0,
  ready int NOT NULL DEFAULT 0, priority real NOT NULL DEFAULT 'infinity');
CREATE TABLE jobs (id uuid PRIMARY KEY, state job_state NOT NULL, error text,
  user_id text NOT NULL, reported bool NOT NULL DEFAULT false);
CREATE TABLE tasks (job_id uuid NOT NULL REFERENCES jobs(id), task_id text NOT NULL,
  stream_id uuid NOT NULL REFERENCES streams(id), task_def jsonb NOT NULL,
  prerequisites jsonb NOT NULL, state task_state NOT NULL, created_at timestamp NOT NULL,
  started_at timestamp, updated_at timestamp, waiting_on int NOT NULL,
  progress real NOT NULL DEFAULT 0, retries int NOT NULL DEFAULT 0,
  max_retries int NOT NULL DEFAULT 0, timeout_secs int NOT NULL, output jsonb, error text,
  job_created_at timestamp NOT NULL, PRIMARY KEY (job_id, task_id));
CREATE TABLE task_deps (job_id uuid NOT NULL, pre_task_id text NOT NULL, post_task_id text NOT NULL);
";

const S1: &str = "11111111-1111-4111-8111-111111111111";
const S2: &str = "22222222-2222-4222-8222-222222222222";
const JDONE: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const JFAIL: &str = "aaaaaaaa-0000-4000-8000-000000000002";
const JRUN: &str = "aaaaaaaa-0000-4000-8000-000000000003";

/// Jobs in every state, tasks in every state, with consistent stream counters.
const DATA: &str = "
INSERT INTO streams VALUES
  ('11111111-1111-4111-8111-111111111111', 'cpu', 1, 1, 'alice', 1, 0, 'infinity'),
  ('22222222-2222-4222-8222-222222222222', 'gpu', 2, 1.5, 'bob', 0, 1, -1);
INSERT INTO jobs VALUES
  ('aaaaaaaa-0000-4000-8000-000000000001', 'done', NULL, 'alice', false),
  ('aaaaaaaa-0000-4000-8000-000000000002', 'failed', 'boom', 'bob', true),
  ('aaaaaaaa-0000-4000-8000-000000000003', 'running', NULL, 'alice', false);
INSERT INTO tasks VALUES
  ('aaaaaaaa-0000-4000-8000-000000000001', 'init', '11111111-1111-4111-8111-111111111111', '{\"a\": 1}', '[]', 'done',
   '2026-11-25 10:00:00.100', '2026-11-25 10:00:01.200', '2026-11-25 10:00:02.300', 0, 1, 0, 3, 60, '{\"out\": [1, 2]}', NULL, '2026-11-25 10:00:00.100'),
  ('aaaaaaaa-0000-4000-8000-000000000001', 'exec', '22222222-2222-4222-8222-222222222222', '{}', '[\"init\"]', 'done',
   '2026-11-25 10:00:00.150', '2026-11-25 10:00:03', '2026-11-25 10:00:04', 0, 1, 1, 3, 60, 'null', '', '2026-11-25 10:00:00.100'),
  ('aaaaaaaa-0000-4000-8000-000000000002', 'init', '11111111-1111-4111-8111-111111111111', '{}', '[]', 'done',
   '2026-11-25 11:00:00', '2026-11-25 11:00:01', '2026-11-25 11:00:02', 0, 1, 0, 3, 60, '{}', NULL, '2026-11-25 11:00:00'),
  ('aaaaaaaa-0000-4000-8000-000000000002', 'exec', '22222222-2222-4222-8222-222222222222', '{}', '[\"init\"]', 'failed',
   '2026-11-25 11:00:00.500', '2026-11-25 11:00:03', '2026-11-25 11:00:05', 0, 1, 2, 2, 30, NULL, 'boom', '2026-11-25 11:00:00'),
  ('aaaaaaaa-0000-4000-8000-000000000003', 'init', '11111111-1111-4111-8111-111111111111', '{\"image\": \"x\"}', '[]', 'done',
   '2026-11-25 12:00:00', '2026-11-25 12:00:01', '2026-11-25 12:00:02', 0, 1, 0, 3, 60, '{\"segments\": 2}', NULL, '2026-11-25 12:00:00'),
  ('aaaaaaaa-0000-4000-8000-000000000003', 'exec', '11111111-1111-4111-8111-111111111111', '{}', '[\"init\"]', 'running',
   '2026-11-25 12:00:00.001', '2026-11-25 12:00:03', '2026-11-25 12:00:04.004', 0, 0.5, 1, 3, 60, NULL, '', '2026-11-25 12:00:00'),
  ('aaaaaaaa-0000-4000-8000-000000000003', 'seg_0', '22222222-2222-4222-8222-222222222222', '{\"s\": 0}', '[\"init\"]', 'ready',
   '2026-11-25 12:00:00.002', NULL, NULL, 0, 0, 0, 3, 60, NULL, NULL, '2026-11-25 12:00:00'),
  ('aaaaaaaa-0000-4000-8000-000000000003', 'seg_1', '22222222-2222-4222-8222-222222222222', '{\"s\": 1}', '[\"exec\"]', 'pending',
   '2026-11-25 12:00:00.003', NULL, NULL, 1, 0, 0, 3, 60, NULL, NULL, '2026-11-25 12:00:00'),
  ('aaaaaaaa-0000-4000-8000-000000000003', 'join', '22222222-2222-4222-8222-222222222222', '{}', '[\"seg_0\", \"seg_1\"]', 'pending',
   '2026-11-25 12:00:00.004', NULL, NULL, 2, 0, 0, 3, 60, NULL, NULL, '2026-11-25 12:00:00');
INSERT INTO task_deps VALUES
  ('aaaaaaaa-0000-4000-8000-000000000001', 'init', 'exec'),
  ('aaaaaaaa-0000-4000-8000-000000000002', 'init', 'exec'),
  ('aaaaaaaa-0000-4000-8000-000000000003', 'init', 'exec'),
  ('aaaaaaaa-0000-4000-8000-000000000003', 'init', 'seg_0'),
  ('aaaaaaaa-0000-4000-8000-000000000003', 'exec', 'seg_1'),
  ('aaaaaaaa-0000-4000-8000-000000000003', 'seg_0', 'join'),
  ('aaaaaaaa-0000-4000-8000-000000000003', 'seg_1', 'join');
";

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to postgres");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Every row of every table, as text, in a stable order.
async fn dump(pg: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for (table, order) in [
        ("streams", "id"),
        ("jobs", "id"),
        ("tasks", "job_id, task_id"),
        ("task_deps", "job_id, pre_task_id, post_task_id"),
    ] {
        let rows = pg
            .query(
                format!("SELECT t::text FROM {table} t ORDER BY {order}").as_str(),
                &[],
            )
            .await
            .unwrap();
        out.extend(
            rows.iter()
                .map(|r| format!("{table}: {}", r.get::<_, String>(0))),
        );
    }
    out
}

/// A PostgreSQL holding the data, a redis-server, and a handle on namespace "moved".
async fn servers() -> (Postgres, Server, Client, RedisTaskDB) {
    let pgs = Postgres::start();
    let redis = Server::start();
    let src = source(&pgs).await;
    let db = RedisTaskDB::with_namespace(&redis.url(), "moved")
        .await
        .unwrap();
    (pgs, redis, src, db)
}

async fn source(pgs: &Postgres) -> Client {
    let pg = connect(&pgs.url()).await;
    pg.batch_execute(SCHEMA).await.unwrap();
    pg.batch_execute(DATA).await.unwrap();
    pg
}

#[tokio::test]
async fn postgres_to_redis_to_postgres_keeps_every_row() {
    let (pgs, _redis, src, db) = servers().await;
    let opts = Options::default();
    let there = postgres_to_redis(&src, &db, opts).await.unwrap();
    assert_eq!(
        (there.streams, there.jobs, there.tasks, there.task_deps),
        (2, 3, 9, 7)
    );
    assert!(db.check_stuck_pending_tasks().await.unwrap().is_empty());
    src.batch_execute("CREATE DATABASE dst").await.unwrap();
    let dst = connect(&pgs.url_for("dst")).await;
    dst.batch_execute(SCHEMA).await.unwrap();
    let back = redis_to_postgres(&db, &dst, opts).await.unwrap();
    assert_eq!(
        (back.streams, back.jobs, back.tasks, back.task_deps),
        (2, 3, 9, 7)
    );
    let (a, b) = (dump(&src).await, dump(&dst).await);
    assert_eq!(a, b);
    // A second copy refuses the non-empty target, and when forced adds nothing.
    let again = redis_to_postgres(&db, &dst, opts).await;
    assert!(matches!(again, Err(MigrationError::NotEmpty(_))));
    let forced = redis_to_postgres(
        &db,
        &dst,
        Options {
            force: true,
            progress: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (
            forced.streams,
            forced.jobs,
            forced.tasks,
            forced.task_deps,
            forced.skipped
        ),
        (0, 0, 0, 0, 14)
    );
    assert_eq!(dump(&dst).await, a);
    let again = postgres_to_redis(&src, &db, opts).await;
    assert!(matches!(again, Err(MigrationError::NotEmpty(_))));
    let forced = postgres_to_redis(
        &src,
        &db,
        Options {
            force: true,
            progress: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(forced.skipped, 14);
}

#[tokio::test]
async fn a_sharded_taskdb_takes_every_row_and_gives_it_back() {
    let pgs = Postgres::start();
    let redis = Server::start();
    let src = source(&pgs).await;
    let db = RedisTaskDB::create_sharded(&redis.url(), "moved", 4)
        .await
        .unwrap();
    let there = postgres_to_redis(&src, &db, Options::default())
        .await
        .unwrap();
    assert_eq!(
        (there.streams, there.jobs, there.tasks, there.task_deps),
        (2, 3, 9, 7)
    );
    // Each job on its shard, the streams on every shard.
    for j in [JDONE, JFAIL, JRUN] {
        let id = Uuid::parse_str(j).unwrap();
        let home = shard_name("moved", (id.as_u128() % 4) as u32);
        let rec: redis::Value = redis::cmd("TASKDB.JOB")
            .arg(&home)
            .arg(j)
            .query(&mut redis.conn())
            .unwrap();
        assert_ne!(rec, redis::Value::Nil, "{j} on {home}");
    }
    for ns in db.namespaces() {
        let rec: redis::Value = redis::cmd("TASKDB.STREAM")
            .arg(ns)
            .arg(S2)
            .query(&mut redis.conn())
            .unwrap();
        assert_ne!(rec, redis::Value::Nil, "{S2} on {ns}");
    }
    src.batch_execute("CREATE DATABASE dst").await.unwrap();
    let dst = connect(&pgs.url_for("dst")).await;
    dst.batch_execute(SCHEMA).await.unwrap();
    let back = redis_to_postgres(&db, &dst, Options::default())
        .await
        .unwrap();
    assert_eq!(
        (back.streams, back.jobs, back.tasks, back.task_deps),
        (2, 3, 9, 7)
    );
    assert_eq!(dump(&src).await, dump(&dst).await);
}

#[tokio::test]
async fn a_job_half_way_through_its_dag_finishes_on_redis() {
    let (_pgs, _redis, src, db) = servers().await;
    postgres_to_redis(&src, &db, Options::default())
        .await
        .unwrap();
    let job = Uuid::parse_str(JRUN).unwrap();
    assert_eq!(
        db.get_job_state(&job, "alice").await.unwrap(),
        JobState::Running
    );
    assert_eq!(
        db.get_job_state(&Uuid::parse_str(JDONE).unwrap(), "alice")
            .await
            .unwrap(),
        JobState::Done
    );
    assert_eq!(
        db.get_job_failure(&Uuid::parse_str(JFAIL).unwrap())
            .await
            .unwrap(),
        "boom"
    );
    assert_eq!(db.get_job_unresolved(&job).await.unwrap(), 4);
    assert_eq!(
        db.get_stream("bob", "gpu").await.unwrap(),
        Some(Uuid::parse_str(S2).unwrap())
    );
    assert_eq!(
        db.get_stream("alice", "cpu").await.unwrap(),
        Some(Uuid::parse_str(S1).unwrap())
    );
    // The ready segment is requestable; the running executor reports done and releases
    // its dependent; the join follows its two prerequisites.
    let t = db.request_work("gpu").await.unwrap().unwrap();
    assert_eq!((t.job_id, t.task_id.as_str()), (job, "seg_0"));
    assert!(db.update_task_done(&job, "seg_0", json!({})).await.unwrap());
    assert!(
        db.request_work("gpu").await.unwrap().is_none(),
        "seg_1 waits on exec"
    );
    assert!(db
        .update_task_done(&job, "exec", json!({"ok": 1}))
        .await
        .unwrap());
    let t = db.request_work("gpu").await.unwrap().unwrap();
    assert_eq!(t.task_id, "seg_1");
    assert!(db.update_task_done(&job, "seg_1", json!({})).await.unwrap());
    let t = db.request_work("gpu").await.unwrap().unwrap();
    assert_eq!(t.task_id, "join");
    assert!(db.update_task_done(&job, "join", json!({})).await.unwrap());
    assert_eq!(
        db.get_job_state(&job, "alice").await.unwrap(),
        JobState::Done
    );
    let out: serde_json::Value = db.get_task_output(&job, "init").await.unwrap();
    assert_eq!(out, json!({"segments": 2}));
    assert!(db.get_job_time(&job).await.unwrap() > 0.0);
}
