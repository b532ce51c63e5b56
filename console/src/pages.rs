//! The pages' HTML (server-rendered with maud, which escapes every value). Each page is a
//! `<main id="live">` body inside one layout; live refresh reloads that body only.
//! Numbers tests and scripts read carry a `data-k` attribute naming what they count.

use crate::dag::{self, Node};
use crate::data::{num, Info, Record, Stats, JOB_STATES, TASK_STATES};
use maud::{html, Markup, PreEscaped, DOCTYPE};

const CSS: &str = r#"
body{font-family:system-ui,sans-serif;margin:0;color:#1b2631;background:#f7f9fb}
header{background:#1b2631;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center;flex-wrap:wrap}
header a{color:#cfe3ff;text-decoration:none} header b{font-size:1.1em}
main{padding:1em 1.2em}
table{border-collapse:collapse;margin:.4em 0 1.2em;background:#fff}
th,td{border:1px solid #d5dbe1;padding:.25em .6em;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.state{display:inline-block;padding:0 .4em;border-radius:3px}
.dagbox{overflow:auto;max-height:70vh;border:1px solid #d5dbe1;background:#fff}
pre{margin:0;max-width:40em;max-height:8em;overflow:auto;white-space:pre-wrap}
.muted{color:#6b7785} .err{color:#b00020}
form.inline{display:inline}
"#;

/// The whole document around a page's body.
pub fn layout(title: &str, ns: Option<&str>, refresh_ms: u64, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — TaskDB console" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    b { a href="/" { "TaskDB" } }
                    @if let Some(ns) = ns {
                        span { "namespace " b { (ns) } }
                        @for (path, label) in [("scheduling", "Scheduling"), ("jobs", "Jobs"), ("running", "Running"), ("failures", "Failures")] {
                            a href={ "/ns/" (ns) "/" (path) } { (label) }
                        }
                    }
                    a href="/metrics" { "Metrics" }
                }
                main id="live" data-refresh-ms=(refresh_ms) { (body) }
                @if refresh_ms > 0 {
                    script { (PreEscaped(format!(
                        "setInterval(async()=>{{try{{const r=await fetch(location.href,{{headers:{{'X-Fragment':'1'}}}});\
                         if(r.ok)document.getElementById('live').innerHTML=await r.text();}}catch(e){{}}}},{refresh_ms});"
                    ))) }
                }
            }
        }
    }
}

fn state_badge(state: &str) -> Markup {
    html! { span class="state" style={ "background:" (dag::colour(state)) } { (state) } }
}

fn ms_ago(now_ms: i64, at: i64) -> String {
    secs(((now_ms - at).max(0)) as f64 / 1000.0)
}

fn secs(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// A small line chart of per-second rates (newest right).
fn sparkline(label: &str, rates: &[f64]) -> Markup {
    let (w, h) = (240.0, 40.0);
    let max = rates.iter().copied().fold(0.0, f64::max).max(1.0);
    let step = if rates.len() > 1 {
        w / (rates.len() - 1) as f64
    } else {
        w
    };
    let points: Vec<String> = rates
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                h - r / max * (h - 2.0) - 1.0
            )
        })
        .collect();
    let last = rates.last().copied().unwrap_or(0.0);
    html! {
        figure style="display:inline-block;margin:0 1.5em .5em 0" {
            svg class="chart" data-k={ "rate." (label) } width=(w) height=(h) viewBox={ "0 0 " (w) " " (h) } {
                rect width=(w) height=(h) fill="#fff" stroke="#d5dbe1" {}
                polyline points=(points.join(" ")) fill="none" stroke="#1d3557" stroke-width="1.5" {}
            }
            figcaption { (label) ": " b { (format!("{last:.1}")) } "/s (max " (format!("{max:.1}")) ")" }
        }
    }
}

/// `/`: every namespace's counts, throughput, blocked workers.
pub fn overview(namespaces: &[(String, Stats)], info: &Info, rates: &[(&str, Vec<f64>)]) -> Markup {
    html! {
        h1 { "Overview" }
        h2 { "Namespaces" }
        @if namespaces.is_empty() {
            p class="muted" { "No namespace yet: create a stream (TASKDB.CREATE_STREAM)." }
        } @else {
            table {
                tr {
                    th { "namespace" }
                    @for s in TASK_STATES { th { "tasks " (s) } }
                    @for s in JOB_STATES { th { "jobs " (s) } }
                }
                @for (ns, st) in namespaces {
                    @let t = st.task_totals();
                    tr data-ns=(ns) {
                        td { a href={ "/ns/" (ns) "/jobs" } { (ns) } }
                        @for (i, s) in TASK_STATES.iter().enumerate() {
                            td class="n" data-k={ "tasks." (s) } { (t[i]) }
                        }
                        @for (i, s) in JOB_STATES.iter().enumerate() {
                            td class="n" data-k={ "jobs." (s) } { (st.jobs[i]) }
                        }
                    }
                }
            }
        }
        h2 { "Throughput (this server, per second)" }
        @for (label, r) in rates { (sparkline(label, r)) }
        h2 { "Totals since the server started" }
        table {
            @for (k, v) in &info.totals {
                tr { th { (k) } td class="n" data-k=(k) { (v) } }
            }
        }
        h2 { "Blocked workers" }
        @if info.blocked.is_empty() {
            p class="muted" { "No worker waits in REQUEST_WORK … BLOCK." }
        } @else {
            table {
                tr { th { "worker type" } th { "waiting" } }
                @for (wt, n) in &info.blocked {
                    tr { td { (wt) } td class="n" data-k={ "blocked." (wt) } { (n) } }
                }
            }
        }
    }
}

/// `/ns/<ns>/scheduling`: per worker type, the streams in REQUEST_WORK's order, then
/// every stream.
pub fn scheduling(
    ns: &str,
    schedule: &[(String, Vec<Record>)],
    streams: &[(String, Record)],
    csrf: Option<&str>,
) -> Markup {
    html! {
        h1 { "Scheduling of " (ns) }
        p class="muted" { "Streams with ready work, in the order REQUEST_WORK serves them (TASKDB.SCHEDULE); a paused stream is left out, and a paused worker type's streams (shown paused below) wait." }
        @for (wt, rows) in schedule {
            h2 { "Worker type " (wt)
                @if let Some(c) = csrf {
                    " " (crate::actions::form(ns, c, "pause_type", Some(("worker_type", wt)), "Pause type"))
                    " " (crate::actions::form(ns, c, "resume_type", Some(("worker_type", wt)), "Resume type"))
                }
            }
            @if rows.is_empty() {
                p class="muted" { "Nothing ready." }
            } @else {
                table data-worker-type=(wt) {
                    tr { th { "#" } th { "stream" } th { "user" } th { "reserved" } th { "be_mult" } th { "ready" } th { "running" } th { "priority" } }
                    @for (i, r) in rows.iter().enumerate() {
                        tr data-stream-id=(r.get("stream_id").map_or("", String::as_str)) {
                            td class="n" { (i + 1) }
                            td { code { (r.get("stream_id").map_or("", String::as_str)) } }
                            td { (r.get("user_id").map_or("", String::as_str)) }
                            td class="n" data-k="reserved" { (num(r, "reserved")) }
                            td class="n" data-k="be_mult" { (r.get("be_mult").map_or("", String::as_str)) }
                            td class="n" data-k="ready" { (num(r, "ready")) }
                            td class="n" data-k="running" { (num(r, "running")) }
                            td class="n" data-k="priority" { (r.get("priority").map_or("", String::as_str)) }
                        }
                    }
                }
            }
        }
        h2 { "Every stream" }
        table {
            tr { th { "stream" } th { "worker type" } th { "user" } th { "reserved" } th { "be_mult" }
                 @for s in TASK_STATES { th { (s) } } th { "paused" } @if csrf.is_some() { th { "act" } } }
            @for (id, r) in streams {
                tr data-stream-id=(id) {
                    td { code { (id) } }
                    td { (r.get("worker_type").map_or("", String::as_str)) }
                    td { (r.get("user_id").map_or("", String::as_str)) }
                    td class="n" { (num(r, "reserved")) }
                    td class="n" { (r.get("be_mult").map_or("", String::as_str)) }
                    @for s in TASK_STATES { td class="n" data-k=(s) { (num(r, s)) } }
                    td data-k="paused" { @if num(r, "paused") == 1 { "paused" } @else { "no" } }
                    @if let Some(c) = csrf {
                        td { @if num(r, "paused") == 1 {
                            (crate::actions::form(ns, c, "resume_stream", Some(("stream", id)), "Resume"))
                        } @else {
                            (crate::actions::form(ns, c, "pause_stream", Some(("stream", id)), "Pause"))
                        } }
                    }
                }
            }
        }
    }
}

/// A job row's progress: done tasks of its tasks.
fn progress(r: &Record) -> (i64, i64) {
    let tasks = num(r, "tasks");
    (tasks - num(r, "unresolved"), tasks)
}

/// The query string of the jobs page with a different cursor.
fn jobs_link(ns: &str, state: Option<&str>, user: Option<&str>, cursor: &str) -> String {
    let mut q = vec![format!("cursor={}", enc(cursor))];
    if let Some(s) = state {
        q.push(format!("state={}", enc(s)));
    }
    if let Some(u) = user {
        q.push(format!("user={}", enc(u)));
    }
    format!("/ns/{}/jobs?{}", enc(ns), q.join("&"))
}

/// Percent-encodes a path or query component.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/ns/<ns>/jobs`: a page of jobs, newest first.
pub fn jobs(
    ns: &str,
    rows: &[(String, Record)],
    next: &str,
    state: Option<&str>,
    user: Option<&str>,
    now_ms: i64,
) -> Markup {
    html! {
        h1 { "Jobs of " (ns) }
        form method="get" {
            label { "state " select name="state" {
                option value="" selected[state.is_none()] { "any" }
                @for s in JOB_STATES { option value=(s) selected[state == Some(s)] { (s) } }
            } }
            " " label { "user " input name="user" value=(user.unwrap_or("")); }
            " " button { "Filter" }
        }
        table class="jobs" {
            tr { th { "job" } th { "user" } th { "state" } th { "progress" } th { "age" } th { "duration" } th { "priority" } }
            @for (id, r) in rows {
                @let (done, tasks) = progress(r);
                tr data-job-id=(id) {
                    td { a href={ "/ns/" (enc(ns)) "/jobs/" (id) } { code { (id) } } }
                    td { (r.get("user_id").map_or("", String::as_str)) }
                    td data-k="state" { (state_badge(r.get("state").map_or("", String::as_str))) }
                    td class="n" data-k="progress" { (done) " / " (tasks) }
                    td class="n" { (ms_ago(now_ms, num(r, "created_at"))) }
                    td class="n" { (r.get("duration").and_then(|d| d.parse().ok()).map_or(String::from("—"), secs)) }
                    td { (r.get("priority").map_or("", String::as_str)) }
                }
            }
        }
        @if rows.is_empty() { p class="muted" { "No job on this page." } }
        @if next != "0" {
            p { a rel="next" href=(jobs_link(ns, state, user, next)) { "Older jobs →" } }
        }
    }
}

/// `/ns/<ns>/jobs/<id>`: the job, its DAG and its tasks.
pub fn job(
    ns: &str,
    id: &str,
    job: &Record,
    tasks: &[(String, Record)],
    actions: Option<&str>,
    now_ms: i64,
) -> Markup {
    let nodes: Vec<Node> = tasks
        .iter()
        .map(|(t, r)| Node {
            id: t.clone(),
            state: r.get("state").cloned().unwrap_or_default(),
            prereqs: r
                .get("prerequisites")
                .and_then(|p| serde_json::from_str::<Vec<String>>(p).ok())
                .unwrap_or_default(),
            progress: r
                .get("progress")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0.0),
        })
        .collect();
    let (done, total) = progress(job);
    let state = job.get("state").map_or("", String::as_str);
    html! {
        h1 { "Job " code { (id) } " in " (ns) }
        table {
            tr { th { "state" } td data-k="state" { (state_badge(state)) } }
            tr { th { "user" } td { (job.get("user_id").map_or("", String::as_str)) } }
            tr { th { "progress" } td data-k="progress" { (done) " / " (total) " tasks done" } }
            tr { th { "created" } td { (ms_ago(now_ms, num(job, "created_at"))) " ago" } }
            tr { th { "priority" } td { (job.get("priority").map_or("", String::as_str)) } }
            @if let Some(e) = job.get("error") {
                tr { th { "failure" } td class="err" data-k="error" { (e) } }
            }
        }
        @if let Some(token_form) = actions {
            (PreEscaped(token_form))
        }
        p { @for s in TASK_STATES { (state_badge(s)) " " } }
        div class="dagbox" { (dag::svg(&nodes)) }
        h2 { "Tasks" }
        table class="tasks" {
            tr { th { "task" } th { "state" } th { "definition" } th { "output" } th { "error" } th { "retries" } th { "attempt" } th { "holder" } th { "created" } th { "started" } th { "updated" } }
            @for (t, r) in tasks {
                tr data-task-id=(t) {
                    td { code { (t) } }
                    td data-k="state" { (state_badge(r.get("state").map_or("", String::as_str)))
                        @if r.get("state").map(String::as_str) == Some("running") {
                            " " (format!("{:.0}%", r.get("progress").and_then(|p| p.parse::<f64>().ok()).unwrap_or(0.0) * 100.0))
                        }
                    }
                    td { pre { (r.get("task_def").map_or("", String::as_str)) } }
                    td { pre { (r.get("output").map_or("", String::as_str)) } }
                    td class="err" { (r.get("error").map_or("", String::as_str)) }
                    td class="n" { (num(r, "retries")) " / " (num(r, "max_retries")) }
                    td class="n" { (num(r, "attempt")) }
                    td { (r.get("worker_id").map_or("", String::as_str)) }
                    td class="n" { (ms_ago(now_ms, num(r, "created_at"))) }
                    td class="n" { (r.get("started_at").and_then(|v| v.parse().ok()).map_or(String::from("—"), |v| ms_ago(now_ms, v))) }
                    td class="n" { (r.get("updated_at").and_then(|v| v.parse().ok()).map_or(String::from("—"), |v| ms_ago(now_ms, v))) }
                }
            }
        }
    }
}

/// `/ns/<ns>/running`: leased tasks by deadline.
pub fn running(ns: &str, leases: &[Record], now_ms: i64) -> Markup {
    html! {
        h1 { "Running in " (ns) }
        p class="muted" { "Leased tasks, earliest lease deadline first (TASKDB.LEASES)." }
        table class="running" {
            tr { th { "job" } th { "task" } th { "holder" } th { "attempt" } th { "started" } th { "lease left" } }
            @for r in leases {
                @let job = r.get("job_id").map_or("", String::as_str);
                @let left = num(r, "expires_in_ms");
                tr data-job-id=(job) data-task-id=(r.get("task_id").map_or("", String::as_str)) {
                    td { a href={ "/ns/" (enc(ns)) "/jobs/" (job) } { code { (job) } } }
                    td { code { (r.get("task_id").map_or("", String::as_str)) } }
                    td data-k="worker_id" { (r.get("worker_id").map_or("", String::as_str)) }
                    td class="n" data-k="attempt" { (num(r, "attempt")) }
                    td class="n" { (ms_ago(now_ms, num(r, "started_at"))) " ago" }
                    td class={ "n" @if left < 0 { " err" } } data-k="lease_left_ms" data-ms=(left) { (secs(left as f64 / 1000.0)) }
                }
            }
        }
        @if leases.is_empty() { p class="muted" { "Nothing runs." } }
    }
}

/// `/ns/<ns>/failures`: failed and cancelled jobs with their errors, newest first.
pub fn failures(ns: &str, rows: &[(String, Record)], next: &str, now_ms: i64) -> Markup {
    html! {
        h1 { "Failures in " (ns) }
        p class="muted" { "Failed and cancelled jobs, newest first." }
        table class="failures" {
            tr { th { "job" } th { "user" } th { "error" } th { "progress" } th { "age" } }
            @for (id, r) in rows {
                @let (done, tasks) = progress(r);
                tr data-job-id=(id) {
                    td { a href={ "/ns/" (enc(ns)) "/jobs/" (id) } { code { (id) } } }
                    td { (r.get("user_id").map_or("", String::as_str)) }
                    td class="err" data-k="error" { (r.get("error").map_or("", String::as_str)) }
                    td class="n" { (done) " / " (tasks) }
                    td class="n" { (ms_ago(now_ms, num(r, "created_at"))) }
                }
            }
        }
        @if rows.is_empty() { p class="muted" { "No failed job on this page." } }
        @if next != "0" {
            p { a rel="next" href={ "/ns/" (enc(ns)) "/failures?cursor=" (enc(next)) } { "Older failures →" } }
        }
    }
}

/// An error page body (Redis unreachable, a command refused).
pub fn error(what: &str) -> Markup {
    html! { h1 { "Error" } p class="err" { (what) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_links_encoded() {
        let r: Record = [("error".to_string(), "<script>".to_string())].into();
        let page = failures("a b", &[("j".into(), r)], "0", 0).into_string();
        assert!(page.contains("&lt;script&gt;") && !page.contains("<script>"));
        assert!(page.contains("/ns/a%20b/jobs/j"));
    }
}
