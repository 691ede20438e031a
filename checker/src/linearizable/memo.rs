//! The search's memo: the set of (operations linearized, model state) pairs it has already reached.
//!
//! Lowe's observation, which makes Wing & Gong's search practical: two partial orders that linearized the same
//! set of operations and left the model in the same state have the same futures, so the second can be cut. The
//! memo is only ever asked "seen before?" and told "now seen"; nothing iterates it, so the order of a hash set
//! cannot leak into a verdict. That is why this one file may use `std::collections::HashSet`, which `clippy.toml`
//! bans elsewhere because iterating it is nondeterministic. Its hasher is a fixed multiply-rotate (FxHash), both
//! because it is several times faster than SipHash on these small keys and so that even the set's internal layout,
//! and thus the run time, is the same on every run; the keys are not adversarial.
//!
//! A set of linearized operations is stored compressed: the *frontier* (the first operation, in call order, that
//! must still take effect) and the exceptions around it, the operations below it that have not taken effect
//! (pending ones left out) and those above it that have. The search only ever linearizes operations that overlap
//! the frontier operation in time, so the exceptions stay about as many as the history's concurrency, where a
//! plain bitset would cost a bit per operation of the whole partition on every one of its (about as many) entries.
#![allow(clippy::disallowed_types)]

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// One reached point of the search: which operations took effect (compressed, see the module header) and the state.
#[derive(PartialEq, Eq, Hash)]
struct Key<S> {
    frontier: u32,
    exceptions: Box<[u32]>,
    state: S,
}

/// The set of reached points; see the module header for why it may be a `HashSet`.
pub(super) struct Memo<S> {
    seen: HashSet<Key<S>, BuildHasherDefault<FxHasher>>,
}

impl<S: Eq + Hash> Memo<S> {
    /// An empty memo with room for `capacity` points before it grows: a search that never backtracks records one
    /// point per operation, so sizing it to the partition saves every rehash on the way there.
    pub(super) fn with_capacity(capacity: usize) -> Memo<S> {
        Memo { seen: HashSet::with_capacity_and_hasher(capacity, BuildHasherDefault::default()) }
    }

    /// Records a point; true if it is new, false if the search has been here before.
    pub(super) fn insert(&mut self, frontier: u32, exceptions: &[u32], state: S) -> bool {
        assert!(exceptions.windows(2).all(|pair| pair[0] < pair[1]), "exceptions are sorted and distinct");
        assert!(!exceptions.contains(&frontier), "the frontier is never its own exception");
        self.seen.insert(Key { frontier, exceptions: exceptions.into(), state })
    }

    /// How many points were recorded.
    pub(super) fn len(&self) -> usize {
        self.seen.len()
    }
}

/// Firefox's and rustc's FxHash: one rotate, xor and multiply per word.
#[derive(Default)]
struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length goes in the top byte so that a short tail never hashes like a longer one padded with zeros.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_new_once() {
        let mut memo: Memo<u8> = Memo::with_capacity(0);
        assert!(memo.insert(3, &[1, 5], 7));
        assert!(!memo.insert(3, &[1, 5], 7));
        assert!(memo.insert(3, &[1, 5], 8), "another state is another point");
        assert!(memo.insert(3, &[1], 7), "another set is another point");
        assert!(memo.insert(4, &[1, 5], 7));
        assert_eq!(memo.len(), 4);
    }

    #[test]
    fn the_hasher_tells_tails_apart() {
        let hash = |bytes: &[u8]| {
            let mut hasher = FxHasher::default();
            hasher.write(bytes);
            hasher.finish()
        };
        assert_ne!(hash(&[1]), hash(&[1, 0]));
        assert_ne!(hash(&[1, 2, 3, 4, 5, 6, 7, 8, 9]), hash(&[1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(hash(&[4, 2]), hash(&[4, 2]));
    }
}
