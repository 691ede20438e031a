//! Running independent parts of the analysis on two threads when the history is long enough to gain from it.
//!
//! Only work whose result cannot depend on scheduling is split: separate passes that each build their own output,
//! and per-key work on disjoint keys. The analysis is therefore the same, bit for bit, on one thread or two.

use std::num::NonZeroUsize;

/// Below this many ops, a thread costs more than it saves.
const PARALLEL_OPS_MIN: usize = 200_000;

/// Whether an analysis of `op_count` ops should use a second thread.
pub(super) fn worth_it(op_count: usize) -> bool {
    op_count >= PARALLEL_OPS_MIN && std::thread::available_parallelism().map_or(1, NonZeroUsize::get) > 1
}

/// Runs `a` and `b`, on two threads if `parallel`, and returns both results.
pub(super) fn join<A: Send, B: Send>(
    parallel: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if !parallel {
        return (a(), b());
    }
    std::thread::scope(|scope| {
        let other = scope.spawn(b);
        let first = a();
        // A panic in `b` is a bug in the analysis; it is raised again here, as it would be on one thread.
        let second = other.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    })
}

/// Applies `f` to every item, on two threads if `parallel`, splitting the items where `weight` is about halved.
pub(super) fn for_each<T: Send>(
    parallel: bool,
    items: &mut [T],
    weight: impl Fn(&T) -> usize,
    f: impl Fn(&mut T) + Sync,
) {
    if !parallel || items.len() < 2 {
        items.iter_mut().for_each(f);
        return;
    }
    let total: usize = items.iter().map(&weight).sum();
    let mut cut = 0;
    let mut running = 0;
    while cut < items.len() - 1 && running * 2 < total {
        running += weight(&items[cut]);
        cut += 1;
    }
    let (left, right) = items.split_at_mut(cut.max(1));
    join(true, || left.iter_mut().for_each(&f), || right.iter_mut().for_each(&f));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways_give_the_same_result() {
        let mut one: Vec<Vec<u32>> = (0..9).map(|i| (0..i * 100).rev().collect()).collect();
        let mut two = one.clone();
        for_each(false, &mut one, Vec::len, |v| v.sort_unstable());
        for_each(true, &mut two, Vec::len, |v| v.sort_unstable());
        assert_eq!(one, two);
        assert!(two.iter().all(|v| v.windows(2).all(|w| w[0] <= w[1])));
        assert_eq!(join(true, || 1, || 2), (1, 2));
        assert_eq!(join(false, || "a", || "b"), ("a", "b"));
    }
}
