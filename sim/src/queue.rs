//! The event queue: events ordered by (virtual time, insertion sequence).
//!
//! Two events due at the same nanosecond run in the order they were scheduled. That tie-break is what makes
//! a run a pure function of its seed: a heap alone would order equal keys arbitrarily.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A min-queue of events by (time, insertion sequence).
///
/// The heap holds only 24-byte keys `(time, sequence, slot)`; the events themselves wait in a slab and never
/// move while the heap sifts. A queued message is well over a hundred bytes, and moving it at every level of
/// every sift was the largest single cost of a run.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    slots: Vec<Option<E>>,
    free: Vec<u32>,
    next_sequence: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), slots: Vec::new(), free: Vec::new(), next_sequence: 0 }
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
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 events queued at once");
                self.slots.push(Some(event));
                slot
            }
        };
        // (time, sequence) is unique, so the slot never decides the order.
        self.heap.push(Reverse((time_ns, sequence, slot)));
    }

    /// Removes and returns the earliest event with its due time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        let Reverse((time_ns, _, slot)) = self.heap.pop()?;
        let event = self.slots[slot as usize].take().expect("a queued key points at its event");
        self.free.push(slot);
        Some((time_ns, event))
    }

    /// The due time of the earliest event.
    pub fn peek_time_ns(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((time_ns, _, _))| *time_ns)
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

    #[test]
    fn freed_slots_are_reused_without_disturbing_the_order() {
        let mut queue = EventQueue::new();
        queue.push(1, 'a');
        queue.push(3, 'c');
        assert_eq!(queue.pop(), Some((1, 'a')));
        // 'b' takes the slot 'a' left; it is still ordered by time, then by when it was scheduled.
        queue.push(3, 'b');
        queue.push(2, 'x');
        assert_eq!(queue.slots.len(), 3);
        assert_eq!(queue.pop(), Some((2, 'x')));
        assert_eq!(queue.pop(), Some((3, 'c')));
        assert_eq!(queue.pop(), Some((3, 'b')));
        assert_eq!(queue.len(), 0);
    }
}
