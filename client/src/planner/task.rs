//! One step of a proving plan.

use std::collections::VecDeque;

/// What a planned step does. Callers match on it exhaustively, so the variants are
/// exactly the PostgreSQL TaskDB crate's.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Command {
    /// Proves one keccak request.
    Keccak,
    /// The last step: resolves the joined segments (and the keccak union, if any).
    Finalize,
    /// Joins two proven ranges of segments, `depends_on[0]` left of `depends_on[1]`.
    Join,
    /// Proves one segment.
    Segment,
    /// Unions two keccak proofs (`keccak_depends_on`).
    Union,
}

/// A planned step: its number (its place in the plan, from 0), its height in the tree
/// (0 for a segment or keccak), and the steps it needs first.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Task {
    /// Its number: the order the plan hands it out in.
    pub task_number: usize,
    /// 0 for leaves; one more than its highest prerequisite otherwise.
    pub task_height: u32,
    /// What it does.
    pub command: Command,
    /// The segment-tree steps it needs (a join's left and right; finalize's root).
    pub depends_on: Vec<usize>,
    /// The keccak steps it needs (a union's two; finalize's keccak root, if any).
    pub keccak_depends_on: VecDeque<usize>,
}

impl Task {
    fn leaf(task_number: usize, command: Command) -> Self {
        Task {
            task_number,
            task_height: 0,
            command,
            depends_on: Vec::new(),
            keccak_depends_on: VecDeque::new(),
        }
    }

    /// A keccak proof (a leaf).
    pub fn new_keccak(task_number: usize) -> Self {
        Task::leaf(task_number, Command::Keccak)
    }

    /// A segment proof (a leaf).
    pub fn new_segment(task_number: usize) -> Self {
        Task::leaf(task_number, Command::Segment)
    }

    /// A join of `left` and `right`.
    pub fn new_join(task_number: usize, task_height: u32, left: usize, right: usize) -> Self {
        Task {
            depends_on: vec![left, right],
            task_height,
            ..Task::leaf(task_number, Command::Join)
        }
    }

    /// A union of two keccak proofs.
    pub fn new_union(task_number: usize, task_height: u32, left: usize, right: usize) -> Self {
        Task {
            keccak_depends_on: VecDeque::from([left, right]),
            task_height,
            ..Task::leaf(task_number, Command::Union)
        }
    }

    /// The final step, after the segment tree's root and the keccak tree's, if any.
    pub fn new_finalize(
        task_number: usize,
        task_height: u32,
        depends_on: usize,
        keccak_depends_on: Option<VecDeque<usize>>,
    ) -> Self {
        Task {
            depends_on: vec![depends_on],
            keccak_depends_on: keccak_depends_on.unwrap_or_default(),
            task_height,
            ..Task::leaf(task_number, Command::Finalize)
        }
    }
}
