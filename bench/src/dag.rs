//! A proving job's DAG: `init` (AUX) -> `exec` (CPU) -> S segments `seg_i` (GPU) -> a binary
//! tree of `join` tasks (GPU) -> `final` (AUX).

/// One task of the DAG.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// Task id.
    pub id: String,
    /// Worker type: `AUX`, `CPU` or `GPU`.
    pub worker_type: &'static str,
    /// Prerequisite task ids.
    pub prereqs: Vec<String>,
}

/// The tasks of a job with `segments` segments, `init` first, in creation order.
pub fn proving_job(segments: usize) -> Vec<TaskSpec> {
    let t = |id: String, wt, prereqs: Vec<String>| TaskSpec {
        id,
        worker_type: wt,
        prereqs,
    };
    let mut tasks = vec![
        t("init".into(), "AUX", vec![]),
        t("exec".into(), "CPU", vec!["init".into()]),
    ];
    let mut level: Vec<String> = (0..segments).map(|i| format!("seg_{i}")).collect();
    for s in &level {
        tasks.push(t(s.clone(), "GPU", vec!["exec".into()]));
    }
    let mut n = 0;
    while level.len() > 1 {
        let mut next = Vec::new();
        for pair in level.chunks(2) {
            if pair.len() == 1 {
                next.push(pair[0].clone());
                continue;
            }
            let id = format!("join_{n}");
            n += 1;
            tasks.push(t(id.clone(), "GPU", pair.to_vec()));
            next.push(id);
        }
        level = next;
    }
    tasks.push(t("final".into(), "AUX", vec![level[0].clone()]));
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_segments_make_34_tasks() {
        let tasks = proving_job(16);
        assert_eq!(tasks.len(), 1 + 1 + 16 + 15 + 1);
        assert_eq!(tasks.last().unwrap().prereqs, ["join_14"]);
        let odd = proving_job(3);
        assert_eq!(odd.len(), 1 + 1 + 3 + 2 + 1);
    }
}
