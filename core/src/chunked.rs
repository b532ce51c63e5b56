//! A growable array in fixed-size chunks: pushing never copies more than one chunk, so a
//! job of ten million tasks grows without a pause (a plain `Vec` would copy all of them
//! when it doubles).

/// Elements per chunk.
const CHUNK: usize = 1024;

/// A vector of chunks of at most [`CHUNK`] elements; the first chunk grows as a `Vec` does
/// (small jobs stay small), later chunks are allocated whole.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkedVec<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> ChunkedVec<T> {
    /// An empty vector.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `v`; its index.
    pub fn push(&mut self, v: T) -> usize {
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(v),
            _ => {
                let cap = if self.chunks.is_empty() { 1 } else { CHUNK };
                let mut c = Vec::with_capacity(cap);
                c.push(v);
                self.chunks.push(c);
            }
        }
        self.len += 1;
        self.len - 1
    }

    /// The element at `i`.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    /// The element at `i`, to change.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i / CHUNK)?.get_mut(i % CHUNK)
    }

    /// The elements in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    /// Bytes of heap the chunks hold (not what the elements point to).
    pub fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Vec<T>>()
            + self
                .chunks
                .iter()
                .map(|c| c.capacity() * std::mem::size_of::<T>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_across_chunks_and_reads_back() {
        let mut v = ChunkedVec::new();
        for i in 0..(CHUNK * 3 + 5) {
            assert_eq!(v.push(i), i);
        }
        assert_eq!(v.len(), CHUNK * 3 + 5);
        assert_eq!(v.get(CHUNK + 7), Some(&(CHUNK + 7)));
        *v.get_mut(3).unwrap() = 99;
        assert_eq!(v.iter().nth(3), Some(&99));
        assert_eq!(v.get(CHUNK * 3 + 5), None);
        assert_eq!(v.iter().count(), CHUNK * 3 + 5);
    }
}
