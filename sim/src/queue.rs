//! The event queue: events ordered by (virtual time, insertion sequence).
//!
//! Two events due at the same nanosecond run in the order they were scheduled. That tie-break is what makes
//! a run a pure function of its seed: a heap alone would order equal keys arbitrarily.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Bits of a key that hold the event's slot; the sequence number sits above them.
const SLOT_BITS: u32 = 24;

/// A min-queue of events by (time, insertion sequence).
///
/// The heap holds only 16-byte keys, `time << 64 | sequence << 24 | slot` as one `u128`; the events
/// themselves wait in a slab and never move while the heap sifts. A queued message is well over a hundred
/// bytes, and moving it at every level of every sift was the largest single cost of a run. One `u128`
/// comparison orders keys by (time, sequence) exactly as the tuple did: the sequence is unique, so the slot
/// bits below it never decide, and a key is two words to move instead of three.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<u128>>,
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
    #[inline]
    pub fn push(&mut self, time_ns: u64, event: E) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        assert!(sequence < 1 << (64 - SLOT_BITS), "fewer than 2^40 events scheduled in one run");
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => self.grow(event),
        };
        let low = sequence << SLOT_BITS | u64::from(slot);
        self.heap.push(Reverse(u128::from(time_ns) << 64 | u128::from(low)));
    }

    /// A new slot for `event`, when no freed one is left.
    #[cold]
    fn grow(&mut self, event: E) -> u32 {
        let slot = u32::try_from(self.slots.len()).expect("a slot index fits in 32 bits");
        assert!(slot < 1 << SLOT_BITS, "fewer than 2^24 events queued at once");
        self.slots.push(Some(event));
        slot
    }

    /// Removes and returns the earliest event with its due time.
    #[inline]
    pub fn pop(&mut self) -> Option<(u64, E)> {
        let Reverse(key) = self.heap.pop()?;
        let time_ns = (key >> 64) as u64;
        let slot = (key as u64 & ((1 << SLOT_BITS) - 1)) as u32;
        let event = self.slots[slot as usize].take().expect("a queued key points at its event");
        self.free.push(slot);
        Some((time_ns, event))
    }

    /// The due time of the earliest event.
    #[inline]
    pub fn peek_time_ns(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse(key)| (*key >> 64) as u64)
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
    fn the_whole_time_range_orders_by_time_then_sequence() {
        // The key packs time above sequence above slot: extreme times and a slot reused out of order must
        // still come out by (time, sequence).
        let mut queue = EventQueue::new();
        queue.push(u64::MAX, "last");
        queue.push(0, "first");
        queue.push(1 << 63, "middle");
        assert_eq!(queue.pop(), Some((0, "first")));
        queue.push(u64::MAX, "last again");
        queue.push(1 << 63, "middle again");
        assert_eq!(queue.peek_time_ns(), Some(1 << 63));
        assert_eq!(queue.pop(), Some((1 << 63, "middle")));
        assert_eq!(queue.pop(), Some((1 << 63, "middle again")));
        assert_eq!(queue.pop(), Some((u64::MAX, "last")));
        assert_eq!(queue.pop(), Some((u64::MAX, "last again")));
        assert_eq!(queue.pop(), None);
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
