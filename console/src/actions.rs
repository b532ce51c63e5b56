//! The console's actions, off unless it was started with a token: a login form trades the
//! token for a session cookie (HttpOnly, SameSite=Strict), and every action is a POST form
//! carrying the session's CSRF value. The token travels only in a POST body, never in a
//! URL, and nothing here logs it. Each action is one TASKDB command, so redis-cli users
//! have the same verbs.

use crate::{pages, App, Shared};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;

const COOKIE: &str = "taskdb_console";

/// Logged-in sessions: session id -> its CSRF value.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, String>>);

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Equal without an early exit, so timing tells nothing about a guessed token.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The session id of the request's cookie, if it names a live session.
fn session(app: &App, headers: &HeaderMap) -> Option<(String, String)> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let sid = cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)?
        .1;
    let s = app.sessions.0.lock().expect("sessions lock");
    s.get(sid).map(|csrf| (sid.to_string(), csrf.clone()))
}

fn off(app: &App) -> Option<Response> {
    app.cfg.action_token.is_none().then(|| {
        (
            StatusCode::NOT_FOUND,
            Html(
                pages::layout(
                    "Actions are off",
                    None,
                    0,
                    pages::error(
                        "actions are off: start the console with --allow-actions and a token",
                    ),
                )
                .into_string(),
            ),
        )
            .into_response()
    })
}

/// `GET /login`: the token form.
pub async fn login_form(State(app): State<Shared>) -> Response {
    if let Some(r) = off(&app) {
        return r;
    }
    let body = html! {
        h1 { "Log in to act" }
        form method="post" action="/login" {
            label { "token " input type="password" name="token" autocomplete="current-password"; }
            " " button { "Log in" }
        }
    };
    Html(pages::layout("Log in", None, 0, body).into_string()).into_response()
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct Login {
    token: String,
}

/// `POST /login`: a session cookie for the right token.
pub async fn login(State(app): State<Shared>, Form(f): Form<Login>) -> Response {
    if let Some(r) = off(&app) {
        return r;
    }
    let want = app.cfg.action_token.as_deref().unwrap_or_default();
    if !same(&f.token, want) {
        return (
            StatusCode::FORBIDDEN,
            Html(pages::layout("Refused", None, 0, pages::error("wrong token")).into_string()),
        )
            .into_response();
    }
    let sid = random();
    app.sessions
        .0
        .lock()
        .expect("sessions lock")
        .insert(sid.clone(), random());
    (
        [(
            header::SET_COOKIE,
            format!("{COOKIE}={sid}; HttpOnly; SameSite=Strict; Path=/"),
        )],
        Redirect::to("/"),
    )
        .into_response()
}

/// One action's form: a button posting the session's CSRF value, the verb and its target.
pub fn form(
    ns: &str,
    csrf: &str,
    action: &str,
    target: Option<(&str, &str)>,
    label: &str,
) -> maud::Markup {
    html! {
        form class="inline" method="post" action={ "/ns/" (pages::enc(ns)) "/actions" } {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="action" value=(action);
            @if let Some((field, value)) = target { input type="hidden" name=(field) value=(value); }
            button data-action=(action) { (label) }
        }
    }
}

/// The CSRF value of the request's session, when actions are on and it is logged in.
pub fn csrf(app: &App, headers: &HeaderMap) -> Option<String> {
    app.cfg.action_token.as_ref()?;
    session(app, headers).map(|(_, c)| c)
}

/// The job page's action forms (or a login link), `None` when actions are off.
pub fn job_forms(
    app: &App,
    headers: &HeaderMap,
    ns: &str,
    job: &str,
    rec: &crate::data::Record,
) -> Option<String> {
    app.cfg.action_token.as_ref()?;
    let Some((_, csrf)) = session(app, headers) else {
        return Some(
            html! { p { a href="/login" { "Log in" } " to act on this job." } }.into_string(),
        );
    };
    let state = rec.get("state").map(String::as_str);
    let running = state == Some("running");
    Some(
        html! {
            p class="actions" {
                @if running { (form(ns, &csrf, "cancel_job", Some(("job", job)), "Cancel job")) " " }
                @if state == Some("failed") { (form(ns, &csrf, "retry_job", Some(("job", job)), "Retry job")) " " }
                (form(ns, &csrf, "delete_job", Some(("job", job)), "Delete job")) " "
                (form(ns, &csrf, "clear_completed", None, "Clear completed jobs"))
            }
        }
        .into_string(),
    )
}

/// An action form's fields.
#[derive(Deserialize)]
pub struct Act {
    csrf: String,
    action: String,
    job: Option<String>,
    stream: Option<String>,
    worker_type: Option<String>,
}

/// `POST /ns/<ns>/actions`: runs one verb for a logged-in session with its CSRF value.
pub async fn act(
    State(app): State<Shared>,
    Path(ns): Path<String>,
    headers: HeaderMap,
    Form(f): Form<Act>,
) -> Response {
    if let Some(r) = off(&app) {
        return r;
    }
    let refuse = |why: &str| {
        (
            StatusCode::FORBIDDEN,
            Html(pages::layout("Refused", None, 0, pages::error(why)).into_string()),
        )
            .into_response()
    };
    let Some((_, csrf)) = session(&app, &headers) else {
        return refuse("log in first");
    };
    if !same(&f.csrf, &csrf) {
        return refuse("this form is stale or not ours (CSRF check failed)");
    }
    let job = f.job.unwrap_or_default();
    let stream = f.stream.unwrap_or_default();
    let wt = f.worker_type.unwrap_or_default();
    let scheduling = format!("/ns/{}/scheduling", pages::enc(&ns));
    let (args, back): (Vec<&str>, String) = match f.action.as_str() {
        "cancel_job" => (
            vec!["TASKDB.CANCEL_JOB", &ns, &job, "cancelled from the console"],
            format!("/ns/{}/jobs/{}", pages::enc(&ns), pages::enc(&job)),
        ),
        "retry_job" => (
            vec!["TASKDB.RETRY_JOB", &ns, &job],
            format!("/ns/{}/jobs/{}", pages::enc(&ns), pages::enc(&job)),
        ),
        "delete_job" => (
            vec!["TASKDB.DELETE_JOB", &ns, &job],
            format!("/ns/{}/jobs", pages::enc(&ns)),
        ),
        "pause_stream" => (vec!["TASKDB.PAUSE", &ns, "STREAM", &stream], scheduling),
        "resume_stream" => (vec!["TASKDB.RESUME", &ns, "STREAM", &stream], scheduling),
        "pause_type" => (vec!["TASKDB.PAUSE", &ns, "TYPE", &wt], scheduling),
        "resume_type" => (vec!["TASKDB.RESUME", &ns, "TYPE", &wt], scheduling),
        "clear_completed" => (
            vec!["TASKDB.CLEAR_COMPLETED", &ns],
            format!("/ns/{}/jobs", pages::enc(&ns)),
        ),
        other => return refuse(&format!("unknown action '{other}'")),
    };
    match app.db.run(&args).await {
        Ok(()) => Redirect::to(&back).into_response(),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            Html(
                pages::layout("Action failed", Some(&ns), 0, pages::error(&e.to_string()))
                    .into_string(),
            ),
        )
            .into_response(),
    }
}
