//! The event queue: events ordered by (virtual time, insertion sequence).
//!
//! Two events due at the same nanosecond run in the order they were scheduled. That tie-break is what makes
//! a run a pure function of its seed: a heap alone would order equal keys arbitrarily.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One scheduled item with its due time and tie-break sequence.
#[derive(Debug)]
struct Entry<E> {
    time_ns: u64,
    sequence: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time_ns == other.time_ns && self.sequence == other.sequence
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the earliest (time, sequence) pops first.
        (other.time_ns, other.sequence).cmp(&(self.time_ns, self.sequence))
    }
}

/// A min-queue of events by (time, insertion sequence).
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_sequence: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), next_sequence: 0 }
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `time_ns`, after every event already scheduled for that instant.
    pub fn push(&mut self, time_ns: u64, event: E) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.heap.push(Entry { time_ns, sequence, event });
    }

    /// Removes and returns the earliest event with its due time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        self.heap.pop().map(|entry| (entry.time_ns, entry.event))
    }

    /// The due time of the earliest event.
    pub fn peek_time_ns(&self) -> Option<u64> {
        self.heap.peek().map(|entry| entry.time_ns)
    }

    /// Number of scheduled events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_time_first() {
        let mut queue = EventQueue::new();
        queue.push(30, "c");
        queue.push(10, "a");
        queue.push(20, "b");
        assert_eq!(queue.pop(), Some((10, "a")));
        assert_eq!(queue.pop(), Some((20, "b")));
        assert_eq!(queue.pop(), Some((30, "c")));
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn same_instant_in_insertion_order() {
        let mut queue = EventQueue::new();
        for i in 0..100 {
            queue.push(5, i);
        }
        queue.push(4, -1);
        assert_eq!(queue.pop(), Some((4, -1)));
        for i in 0..100 {
            assert_eq!(queue.pop(), Some((5, i)));
        }
    }

    #[test]
    fn interleaved_pushes_keep_order() {
        let mut queue = EventQueue::new();
        queue.push(10, 1);
        queue.push(10, 2);
        assert_eq!(queue.pop(), Some((10, 1)));
        queue.push(10, 3);
        assert_eq!(queue.peek_time_ns(), Some(10));
        assert_eq!(queue.pop(), Some((10, 2)));
        assert_eq!(queue.pop(), Some((10, 3)));
        assert!(queue.is_empty());
    }
}
