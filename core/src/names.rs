//! Interned names (users, worker types): each distinct name is stored once and entities
//! refer to it by a small index.

use std::collections::BTreeMap;

/// A table of distinct names, each with an index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    names: Vec<Box<[u8]>>,
    index: BTreeMap<Box<[u8]>, u32>,
}

impl Names {
    /// The index of `name`, if known.
    pub fn find(&self, name: &[u8]) -> Option<u32> {
        self.index.get(name).copied()
    }

    /// The index of `name`, added if new.
    pub fn intern(&mut self, name: &[u8]) -> u32 {
        if let Some(i) = self.find(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.into());
        self.index.insert(name.into(), i);
        i
    }

    /// The name with index `i`.
    pub fn name(&self, i: u32) -> &[u8] {
        self.names.get(i as usize).map_or(&[], |n| n)
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every name, by index.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.names.iter().map(|n| &n[..])
    }

    /// Bytes of heap held.
    pub fn heap_bytes(&self) -> usize {
        self.names.iter().map(|n| 2 * n.len() + 48).sum()
    }
}
