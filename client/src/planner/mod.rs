//! The proving-DAG planner, with the API and behaviour of the PostgreSQL TaskDB crate's
//! `taskdb::planner`: an executor enqueues segments (and keccak requests) as it finds them,
//! hands out each planned step as soon as it exists (`next_task`), and `finish` closes the
//! plan with the remaining joins, unions and one finalize step.
//!
//! Segments are joined as they arrive, like a binary counter: two ranges of the same
//! height are joined at once, so proving and joining overlap with execution; `finish`
//! then joins what is left from the newest range back, keeping every join's left range
//! before its right. Keccak proofs are unioned the same way. Steps are numbered in the
//! order they are handed out, and every step comes after the steps it needs.

pub mod task;

use std::fmt;
use task::{Command, Task};
use thiserror::Error;

/// Why a planner call was refused.
#[derive(Error, Debug)]
pub enum PlannerErr {
    /// `finish` before any segment: a plan needs at least one.
    #[error("planning not yet started: a plan needs at least one segment")]
    PlanNotStartedString,
    /// A segment or keccak request after `finish`.
    #[error("the plan is finished: it takes no more segments")]
    PlanFinalized,
}

/// A proving plan being built (see the module documentation).
#[derive(Clone, Eq, PartialEq, Default)]
pub struct Planner {
    tasks: Vec<Task>,
    /// Roots of the joined segment ranges not joined yet, highest (oldest) first.
    segment_peaks: Vec<usize>,
    /// Roots of the keccak unions not unioned yet, highest (oldest) first.
    keccak_peaks: Vec<usize>,
    /// The next step `next_task` hands out.
    consumer_position: usize,
    /// The finalize step, once `finish` ran.
    last_task: Option<usize>,
}

impl Planner {
    /// Plans a segment proof (and the joins it completes); its step number.
    pub fn enqueue_segment(&mut self) -> Result<usize, PlannerErr> {
        self.enqueue(Task::new_segment, Command::Join)
    }

    /// Plans a keccak proof (and the unions it completes); its step number.
    pub fn enqueue_keccak(&mut self) -> Result<usize, PlannerErr> {
        self.enqueue(Task::new_keccak, Command::Union)
    }

    /// Closes the plan: the remaining unions and joins, then the finalize step, whose
    /// number it returns (again on later calls).
    pub fn finish(&mut self) -> Result<usize, PlannerErr> {
        if let Some(last) = self.last_task {
            return Ok(last);
        }
        if self.segment_peaks.is_empty() {
            return Err(PlannerErr::PlanNotStartedString);
        }
        let keccak_root = self.merge_all(Command::Union);
        let root = self
            .merge_all(Command::Join)
            .expect("a plan with a segment has a root");
        let mut height = 1 + self.get_task(root).task_height;
        if let Some(k) = keccak_root {
            height = height.max(1 + self.get_task(k).task_height);
        }
        let number = self.tasks.len();
        self.tasks.push(Task::new_finalize(
            number,
            height,
            root,
            keccak_root.map(|k| [k].into()),
        ));
        self.last_task = Some(number);
        Ok(number)
    }

    /// The number of steps planned so far.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// The step numbered `task_number`; panics if there is none.
    pub fn get_task(&self, task_number: usize) -> &Task {
        match self.tasks.get(task_number) {
            Some(t) => t,
            None => panic!("Invalid task number {task_number}"),
        }
    }

    /// The next step not handed out yet, in plan order.
    pub fn next_task(&mut self) -> Option<&Task> {
        let t = self.tasks.get(self.consumer_position)?;
        self.consumer_position += 1;
        Some(t)
    }

    fn enqueue(&mut self, leaf: fn(usize) -> Task, merge: Command) -> Result<usize, PlannerErr> {
        if self.last_task.is_some() {
            return Err(PlannerErr::PlanFinalized);
        }
        let number = self.tasks.len();
        self.tasks.push(leaf(number));
        let mut peak = number;
        while let Some(&top) = self.peaks(&merge).last() {
            if self.get_task(top).task_height != self.get_task(peak).task_height {
                break;
            }
            self.peaks(&merge).pop();
            peak = self.merge(&merge, top, peak);
        }
        self.peaks(&merge).push(peak);
        Ok(number)
    }

    /// Merges the remaining peaks, newest first; the root, if any.
    fn merge_all(&mut self, merge: Command) -> Option<usize> {
        let mut root = self.peaks(&merge).pop()?;
        while let Some(left) = self.peaks(&merge).pop() {
            root = self.merge(&merge, left, root);
        }
        self.peaks(&merge).push(root);
        Some(root)
    }

    fn merge(&mut self, merge: &Command, left: usize, right: usize) -> usize {
        let number = self.tasks.len();
        let height = 1 + self
            .get_task(left)
            .task_height
            .max(self.get_task(right).task_height);
        self.tasks.push(match merge {
            Command::Union => Task::new_union(number, height, left, right),
            _ => Task::new_join(number, height, left, right),
        });
        number
    }

    fn peaks(&mut self, merge: &Command) -> &mut Vec<usize> {
        match merge {
            Command::Union => &mut self.keccak_peaks,
            _ => &mut self.segment_peaks,
        }
    }
}

/// The plan as a tree from its finalize step, one step per line, indented under the
/// step that needs it.
impl fmt::Debug for Planner {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let Some(last) = self.last_task else {
            return write!(f, "Planner (not finished: {} steps)", self.tasks.len());
        };
        let mut stack = vec![(0usize, last)];
        let mut first = true;
        while let Some((indent, n)) = stack.pop() {
            let t = self.get_task(n);
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{:indent$}{} {:?}", "", t.task_number, t.command)?;
            for &d in t
                .keccak_depends_on
                .iter()
                .rev()
                .chain(t.depends_on.iter().rev())
            {
                stack.push((indent + 2, d));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step as (number, command, height, depends_on, keccak_depends_on).
    type Step = (usize, Command, u32, Vec<usize>, Vec<usize>);

    fn shape(p: &Planner) -> Vec<Step> {
        (0..p.task_count())
            .map(|n| {
                let t = p.get_task(n);
                let k = t.keccak_depends_on.iter().copied().collect();
                (n, t.command.clone(), t.task_height, t.depends_on.clone(), k)
            })
            .collect()
    }

    #[test]
    fn segments_are_joined_as_they_arrive_and_finish_joins_the_rest() {
        use Command::*;
        let mut p = Planner::default();
        for _ in 0..3 {
            p.enqueue_segment().unwrap();
        }
        assert_eq!(p.finish().unwrap(), 5);
        assert_eq!(p.finish().unwrap(), 5, "finish again answers the same step");
        assert_eq!(
            shape(&p),
            vec![
                (0, Segment, 0, vec![], vec![]),
                (1, Segment, 0, vec![], vec![]),
                (2, Join, 1, vec![0, 1], vec![]),
                (3, Segment, 0, vec![], vec![]),
                (4, Join, 2, vec![2, 3], vec![]),
                (5, Finalize, 3, vec![4], vec![]),
            ]
        );
    }

    #[test]
    fn steps_are_handed_out_as_soon_as_they_are_planned() {
        let mut p = Planner::default();
        assert_eq!(p.enqueue_segment().unwrap(), 0);
        assert_eq!(p.next_task().unwrap().command, Command::Segment);
        assert!(p.next_task().is_none());
        assert_eq!(p.enqueue_segment().unwrap(), 1);
        let got: Vec<_> = std::iter::from_fn(|| p.next_task().cloned()).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[1].command.clone(), got[1].depends_on.clone()),
            (Command::Join, vec![0, 1])
        );
    }

    #[test]
    fn keccaks_are_unioned_and_finalize_needs_both_roots() {
        use Command::*;
        let mut p = Planner::default();
        p.enqueue_keccak().unwrap();
        p.enqueue_keccak().unwrap();
        p.enqueue_keccak().unwrap();
        p.enqueue_segment().unwrap();
        p.finish().unwrap();
        assert_eq!(
            shape(&p),
            vec![
                (0, Keccak, 0, vec![], vec![]),
                (1, Keccak, 0, vec![], vec![]),
                (2, Union, 1, vec![], vec![0, 1]),
                (3, Keccak, 0, vec![], vec![]),
                (4, Segment, 0, vec![], vec![]),
                (5, Union, 2, vec![], vec![2, 3]),
                (6, Finalize, 3, vec![4], vec![5]),
            ]
        );
        assert_eq!(
            format!("{p:?}"),
            "6 Finalize\n  4 Segment\n  5 Union\n    2 Union\n      0 Keccak\n      1 Keccak\n    3 Keccak"
        );
    }

    #[test]
    fn a_thousand_segments_make_a_tree_of_height_ten() {
        let mut p = Planner::default();
        for _ in 0..1000 {
            p.enqueue_segment().unwrap();
        }
        let last = p.finish().unwrap();
        // 1000 leaves, 999 joins, one finalize; every step after what it needs.
        assert_eq!(p.task_count(), 2000);
        assert_eq!(p.get_task(last).task_height, 11);
        for n in 0..p.task_count() {
            assert!(p.get_task(n).depends_on.iter().all(|&d| d < n));
        }
    }

    #[test]
    fn refusals() {
        let mut p = Planner::default();
        assert!(matches!(p.finish(), Err(PlannerErr::PlanNotStartedString)));
        p.enqueue_keccak().unwrap();
        assert!(matches!(p.finish(), Err(PlannerErr::PlanNotStartedString)));
        p.enqueue_segment().unwrap();
        p.finish().unwrap();
        assert!(matches!(
            p.enqueue_segment(),
            Err(PlannerErr::PlanFinalized)
        ));
        assert!(matches!(p.enqueue_keccak(), Err(PlannerErr::PlanFinalized)));
        assert_eq!(
            format!("{:?}", Planner::default()),
            "Planner (not finished: 0 steps)"
        );
    }

    #[test]
    #[should_panic(expected = "Invalid task number 7")]
    fn an_unknown_step_panics() {
        Planner::default().get_task(7);
    }
}
