//! A job's DAG as an SVG picture: one node per task, placed in columns by depth (a task
//! stands right of everything it waits on), an edge per prerequisite, coloured by state.
//! A column taller than `ROWS` nodes wraps into several, so a thousand segments stay a
//! readable block rather than a strip thousands of nodes high.

use maud::{html, Markup};
use std::collections::HashMap;

/// A task as the picture needs it.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its id.
    pub id: String,
    /// Its state (`pending`, `ready`, …).
    pub state: String,
    /// The ids it waits on.
    pub prereqs: Vec<String>,
    /// Its progress, 0 to 1.
    pub progress: f64,
}

/// Most nodes in one drawn column.
pub const ROWS: usize = 40;
const W: usize = 132;
const H: usize = 26;
const GAP_X: usize = 56;
const GAP_Y: usize = 10;
const PAD: usize = 12;

/// The fill colour of a state (also used by the legend and the tables).
pub fn colour(state: &str) -> &'static str {
    match state {
        "pending" => "#d0d4da",
        "ready" => "#8ecae6",
        "running" => "#ffb703",
        "done" => "#52b788",
        "failed" => "#e63946",
        "cancelled" => "#8d99ae",
        _ => "#ffffff",
    }
}

/// Where each node goes: (x, y) of its top-left corner, and the picture's size.
fn layout(nodes: &[Node]) -> (Vec<(usize, usize)>, usize, usize) {
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    // Tasks come in creation order and a prerequisite exists before its dependents, so
    // one pass finds every depth; an unknown prerequisite counts as depth 0.
    let mut depth = vec![0usize; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        depth[i] = n
            .prereqs
            .iter()
            .filter_map(|p| index.get(p.as_str()))
            .filter(|&&j| j < i)
            .map(|&j| depth[j] + 1)
            .max()
            .unwrap_or(0);
    }
    let levels = depth.iter().copied().max().map_or(0, |d| d + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); levels];
    for (i, &d) in depth.iter().enumerate() {
        members[d].push(i);
    }
    let mut pos = vec![(0, 0); nodes.len()];
    let (mut x, mut height) = (PAD, 0);
    for level in &members {
        // Each task beside the mean height of what it waits on (placed already, in the
        // columns to its left): joins line up with their inputs and edges rarely cross.
        let key = |i: usize| -> f64 {
            let ys: Vec<f64> = nodes[i]
                .prereqs
                .iter()
                .filter_map(|p| index.get(p.as_str()))
                .filter(|&&j| j < i)
                .map(|&j| pos[j].1 as f64)
                .collect();
            if ys.is_empty() {
                0.0
            } else {
                ys.iter().sum::<f64>() / ys.len() as f64
            }
        };
        let mut keyed: Vec<(f64, usize)> = level.iter().map(|&i| (key(i), i)).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        let cols = keyed.len().div_ceil(ROWS).max(1);
        if cols == 1 {
            // One column: each node as near its inputs' height as the one above allows.
            let mut next = PAD;
            for &(want, i) in &keyed {
                let y = next.max(want.round() as usize);
                pos[i] = (x, y);
                next = y + H + GAP_Y;
            }
            height = height.max(next - PAD);
        } else {
            height = height.max(ROWS * (H + GAP_Y));
            for (k, &(_, i)) in keyed.iter().enumerate() {
                let (c, r) = (k / ROWS, k % ROWS);
                pos[i] = (x + c * (W + GAP_X / 2), PAD + r * (H + GAP_Y));
            }
        }
        x += cols * (W + GAP_X / 2) + GAP_X / 2;
    }
    (pos, x + PAD, height + 2 * PAD)
}

/// The picture: `<svg>` with a `<g class="task" data-task-id data-state>` per task.
pub fn svg(nodes: &[Node]) -> Markup {
    let (pos, width, height) = layout(nodes);
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    html! {
        svg class="dag" xmlns="http://www.w3.org/2000/svg" width=(width) height=(height)
            viewBox={ "0 0 " (width) " " (height) } role="img" aria-label="the job's tasks and their prerequisites" {
            g class="edges" stroke="#9aa5b1" stroke-width="1" fill="none" {
                @for (i, n) in nodes.iter().enumerate() {
                    @for p in &n.prereqs {
                        @if let Some(&j) = index.get(p.as_str()) {
                            path d={ "M" (pos[j].0 + W) " " (pos[j].1 + H / 2) " L" (pos[i].0) " " (pos[i].1 + H / 2) } {}
                        }
                    }
                }
            }
            @for (i, n) in nodes.iter().enumerate() {
                g class="task" data-task-id=(n.id) data-state=(n.state) transform={ "translate(" (pos[i].0) "," (pos[i].1) ")" } {
                    title { (n.id) " — " (n.state) }
                    rect width=(W) height=(H) rx="4" fill=(colour(&n.state)) stroke="#33415c" stroke-width="0.6" {}
                    @if n.state == "running" && n.progress > 0.0 {
                        rect class="progress" y=(H - 4) width=(format!("{:.1}", W as f64 * n.progress.clamp(0.0, 1.0))) height="4" fill="#33415c" {}
                    }
                    text x="6" y="17" font-size="12" font-family="sans-serif" fill="#111" {
                        (short(&n.id))
                    }
                }
            }
        }
    }
}

fn short(id: &str) -> String {
    if id.chars().count() <= 18 {
        id.to_string()
    } else {
        let head: String = id.chars().take(17).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, prereqs: &[&str]) -> Node {
        Node {
            id: id.into(),
            state: "pending".into(),
            prereqs: prereqs.iter().map(|p| p.to_string()).collect(),
            progress: 0.0,
        }
    }

    #[test]
    fn a_task_stands_right_of_what_it_waits_on() {
        let nodes = [
            node("init", &[]),
            node("a", &["init"]),
            node("b", &["init"]),
            node("join", &["a", "b"]),
            node("late", &["nope"]),
        ];
        let (pos, _, _) = layout(&nodes);
        assert!(pos[0].0 < pos[1].0 && pos[1].0 == pos[2].0 && pos[2].0 < pos[3].0);
        assert_ne!(pos[1].1, pos[2].1);
        assert_eq!(pos[4].0, pos[0].0, "an unknown prerequisite: depth 0");
    }

    #[test]
    fn a_wide_level_wraps_into_columns() {
        let mut nodes = vec![node("init", &[])];
        nodes.extend((0..1000).map(|i| node(&format!("s{i}"), &["init"])));
        let (pos, w, h) = layout(&nodes);
        assert!(h <= PAD * 2 + ROWS * (H + GAP_Y));
        assert!(w > 20 * W);
        let s = svg(&nodes).into_string();
        assert_eq!(s.matches("class=\"task\"").count(), 1001);
        assert_eq!(s.matches("<path").count(), 1000);
        assert!(pos.iter().skip(1).all(|p| p.0 > pos[0].0));
    }
}
