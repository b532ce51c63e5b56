//! A set of task indices as a bitmap: insert, remove and "lowest index" in O(1)
//! (amortised), with no rebalancing and no per-element allocation. A job's ready tasks on
//! one stream live in one of these, so releasing 100,000 dependents is a pass of bit sets.

/// A set of `u32` as a bitmap, tracking its lowest possibly-set word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bits {
    words: Vec<u64>,
    /// No word below this index has a bit set.
    lo: usize,
    len: usize,
}

impl Bits {
    /// An empty set.
    pub fn new() -> Bits {
        Bits::default()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `i`; true if it was not there.
    pub fn insert(&mut self, i: u32) -> bool {
        let (w, b) = (i as usize / 64, i % 64);
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let mask = 1u64 << b;
        if self.words[w] & mask != 0 {
            return false;
        }
        self.words[w] |= mask;
        self.len += 1;
        if w < self.lo {
            self.lo = w;
        }
        true
    }

    /// Removes `i`; true if it was there. An emptied set gives its memory back.
    pub fn remove(&mut self, i: u32) -> bool {
        let (w, b) = (i as usize / 64, i % 64);
        let Some(word) = self.words.get_mut(w) else {
            return false;
        };
        let mask = 1u64 << b;
        if *word & mask == 0 {
            return false;
        }
        *word &= !mask;
        self.len -= 1;
        if self.len == 0 {
            *self = Bits::default();
        }
        true
    }

    /// Whether `i` is in the set.
    pub fn contains(&self, i: u32) -> bool {
        let (w, b) = (i as usize / 64, i % 64);
        self.words.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    /// The lowest element, if any (advances the low-word mark past empty words).
    pub fn first(&mut self) -> Option<u32> {
        while self.lo < self.words.len() {
            let w = self.words[self.lo];
            if w != 0 {
                return Some((self.lo * 64) as u32 + w.trailing_zeros());
            }
            self.lo += 1;
        }
        None
    }

    /// The elements in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words
            .iter()
            .enumerate()
            .skip(self.lo)
            .flat_map(|(wi, &w)| {
                let mut w = w;
                std::iter::from_fn(move || {
                    if w == 0 {
                        return None;
                    }
                    let b = w.trailing_zeros();
                    w &= w - 1;
                    Some((wi * 64) as u32 + b)
                })
            })
    }

    /// Bytes of heap it holds.
    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn lowest_first_and_memory_back_when_empty() {
        let mut b = Bits::new();
        assert_eq!(b.first(), None);
        assert!(b.insert(130));
        assert!(!b.insert(130));
        assert!(b.insert(5));
        assert_eq!(b.first(), Some(5));
        assert!(b.remove(5));
        assert_eq!(b.first(), Some(130));
        assert!(b.insert(64));
        assert_eq!(b.first(), Some(64));
        assert_eq!(b.iter().collect::<Vec<_>>(), [64, 130]);
        assert!(b.remove(64) && b.remove(130));
        assert!(b.is_empty());
        assert_eq!(b.heap_bytes(), 0);
        assert!(!b.remove(3));
    }

    proptest! {
        #[test]
        fn behaves_as_an_ordered_set(ops in proptest::collection::vec((any::<bool>(), 0u32..2000), 0..300)) {
            let (mut b, mut s) = (Bits::new(), BTreeSet::new());
            for (add, i) in ops {
                if add {
                    prop_assert_eq!(b.insert(i), s.insert(i));
                } else {
                    prop_assert_eq!(b.remove(i), s.remove(&i));
                }
                prop_assert_eq!(b.first(), s.first().copied());
                prop_assert_eq!(b.len(), s.len());
            }
            prop_assert_eq!(b.iter().collect::<Vec<_>>(), s.into_iter().collect::<Vec<_>>());
        }
    }
}
