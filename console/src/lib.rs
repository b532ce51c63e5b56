//! `taskdb-console`: TaskDB's operator console. Server-rendered pages over the TASKDB
//! commands with live refresh, and Prometheus metrics; read-only unless started with
//! `--allow-actions` and a token.
//!
//! Routes (stable, so links can be shared and scripts can read them): `/`,
//! `/ns/<ns>/scheduling`, `/ns/<ns>/jobs`, `/ns/<ns>/jobs/<job_id>`, `/ns/<ns>/running`,
//! `/ns/<ns>/failures`, `/metrics`. A page requested with the header `X-Fragment: 1`
//! answers its body only (what live refresh swaps in).

#![warn(missing_docs)]

pub mod actions;
pub mod dag;
pub mod data;
pub mod metrics;
pub mod pages;
pub mod sample;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use data::Db;
use maud::Markup;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How the console runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Redis TaskDB runs on (a read-only ACL user's URL is enough without actions).
    pub redis_url: String,
    /// Live refresh period of the pages, ms (0: off).
    pub refresh_ms: u64,
    /// How often the throughput charts sample INFO.
    pub sample_every: Duration,
    /// The token that unlocks actions; `None`: read-only.
    pub action_token: Option<String>,
}

/// What every handler shares.
pub struct App {
    cfg: Config,
    db: Db,
    samples: sample::Samples,
    sessions: actions::Sessions,
}

type Shared = Arc<App>;

/// The console's routes over a connection to `cfg.redis_url`; starts the sampler.
pub async fn router(cfg: Config) -> data::Result<Router> {
    let db = Db::connect(&cfg.redis_url).await?;
    let samples = sample::spawn(db.clone(), cfg.sample_every);
    let app = Arc::new(App {
        cfg,
        db,
        samples,
        sessions: actions::Sessions::default(),
    });
    Ok(Router::new()
        .route("/", get(overview))
        .route("/metrics", get(metrics_page))
        .route("/ns/:ns/scheduling", get(scheduling))
        .route("/ns/:ns/jobs", get(jobs))
        .route("/ns/:ns/jobs/:job", get(job))
        .route("/ns/:ns/running", get(running))
        .route("/ns/:ns/failures", get(failures))
        .route("/login", get(actions::login_form).post(actions::login))
        .route("/ns/:ns/actions", post(actions::act))
        .with_state(app))
}

/// Serves `router` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router).await
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A page: the whole document, or its body for live refresh.
fn page(app: &App, headers: &HeaderMap, title: &str, ns: Option<&str>, body: Markup) -> Response {
    if headers.contains_key("x-fragment") {
        return Html(body.into_string()).into_response();
    }
    Html(pages::layout(title, ns, app.cfg.refresh_ms, body).into_string()).into_response()
}

/// A failed read as a page (Redis down, a refused command): 502, the error shown.
fn failed(app: &App, headers: &HeaderMap, e: redis::RedisError) -> Response {
    let mut r = page(app, headers, "Error", None, pages::error(&e.to_string()));
    *r.status_mut() = StatusCode::BAD_GATEWAY;
    r
}

fn not_found(app: &App, headers: &HeaderMap, what: &str) -> Response {
    let mut r = page(app, headers, "Not found", None, pages::error(what));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

async fn overview(State(app): State<Shared>, headers: HeaderMap) -> Response {
    match metrics::read_all(&app.db).await {
        Ok((namespaces, info)) => {
            let rates: Vec<(&str, Vec<f64>)> = ["claimed", "done", "failed"]
                .into_iter()
                .map(|k| (k, app.samples.rates(&format!("taskdb_{k}_total"))))
                .collect();
            page(
                &app,
                &headers,
                "Overview",
                None,
                pages::overview(&namespaces, &info, &rates),
            )
        }
        Err(e) => failed(&app, &headers, e),
    }
}

async fn metrics_page(State(app): State<Shared>) -> Response {
    let read = async {
        let (namespaces, info) = metrics::read_all(&app.db).await?;
        let meters = metrics::read_meters(&app.db, &namespaces).await?;
        Ok::<_, redis::RedisError>((namespaces, meters, info))
    };
    match read.await {
        Ok((namespaces, meters, info)) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            metrics::render(&namespaces, &meters, &info),
        )
            .into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

async fn scheduling(
    State(app): State<Shared>,
    Path(ns): Path<String>,
    headers: HeaderMap,
) -> Response {
    let read = async {
        let stats = app.db.stats(&ns).await?;
        let mut schedule = Vec::new();
        for wt in stats.tasks.keys() {
            schedule.push((wt.clone(), app.db.schedule(&ns, wt, 100).await?));
        }
        Ok::<_, redis::RedisError>((schedule, app.db.streams(&ns).await?))
    };
    match read.await {
        Ok((schedule, streams)) => {
            let csrf = actions::csrf(&app, &headers);
            page(
                &app,
                &headers,
                &format!("Scheduling of {ns}"),
                Some(&ns),
                pages::scheduling(&ns, &schedule, &streams, csrf.as_deref()),
            )
        }
        Err(e) => failed(&app, &headers, e),
    }
}

/// The jobs page's query: a cursor and filters.
#[derive(Debug, Deserialize, Default)]
pub struct JobsQuery {
    cursor: Option<String>,
    state: Option<String>,
    user: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Jobs per page of the jobs and failures pages.
pub const PAGE: usize = 50;

async fn jobs(
    State(app): State<Shared>,
    Path(ns): Path<String>,
    Query(q): Query<JobsQuery>,
    headers: HeaderMap,
) -> Response {
    let (state, user) = (nonempty(&q.state), nonempty(&q.user));
    let cursor = nonempty(&q.cursor).unwrap_or("0");
    match app.db.jobs(&ns, cursor, PAGE, state, user).await {
        Ok((next, rows)) => page(
            &app,
            &headers,
            &format!("Jobs of {ns}"),
            Some(&ns),
            pages::jobs(&ns, &rows, &next, state, user, now_ms()),
        ),
        Err(e) => failed(&app, &headers, e),
    }
}

async fn job(
    State(app): State<Shared>,
    Path((ns, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let read = async {
        let Some(j) = app.db.job(&ns, &id).await? else {
            return Ok(None);
        };
        Ok::<_, redis::RedisError>(Some((j, app.db.job_tasks(&ns, &id).await?)))
    };
    match read.await {
        Ok(Some((j, tasks))) => {
            let forms = actions::job_forms(&app, &headers, &ns, &id, &j);
            page(
                &app,
                &headers,
                &format!("Job {id}"),
                Some(&ns),
                pages::job(&ns, &id, &j, &tasks, forms.as_deref(), now_ms()),
            )
        }
        Ok(None) => not_found(
            &app,
            &headers,
            &format!("no job '{id}' in namespace '{ns}'"),
        ),
        Err(e) => failed(&app, &headers, e),
    }
}

async fn running(
    State(app): State<Shared>,
    Path(ns): Path<String>,
    headers: HeaderMap,
) -> Response {
    match app.db.leases(&ns, 1000).await {
        Ok(leases) => page(
            &app,
            &headers,
            &format!("Running in {ns}"),
            Some(&ns),
            pages::running(&ns, &leases, now_ms()),
        ),
        Err(e) => failed(&app, &headers, e),
    }
}

async fn failures(
    State(app): State<Shared>,
    Path(ns): Path<String>,
    Query(q): Query<JobsQuery>,
    headers: HeaderMap,
) -> Response {
    let cursor = nonempty(&q.cursor).unwrap_or("0");
    match app.db.jobs(&ns, cursor, PAGE, Some("failed"), None).await {
        Ok((next, rows)) => page(
            &app,
            &headers,
            &format!("Failures in {ns}"),
            Some(&ns),
            pages::failures(&ns, &rows, &next, now_ms()),
        ),
        Err(e) => failed(&app, &headers, e),
    }
}
