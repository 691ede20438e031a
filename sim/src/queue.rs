//! The event queue: events ordered by (virtual time, insertion sequence).
//!
//! Two events due at the same nanosecond run in the order they were scheduled. That tie-break is what makes
//! a run a pure function of its seed: a heap alone would order equal keys arbitrarily.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Bits of a key that hold the event's slot; the sequence number sits above them.
const SLOT_BITS: u32 = 24;

/// The slot a key names.
#[inline]
fn slot_of(key: u128) -> u32 {
    (key as u64 & ((1 << SLOT_BITS) - 1)) as u32
}

/// The due time a key holds.
#[inline]
fn time_of(key: u128) -> u64 {
    (key >> 64) as u64
}

/// A min-queue of events by (time, insertion sequence).
///
/// The heap holds only 16-byte keys, `time << 64 | sequence << 24 | slot` as one `u128`; the events
/// themselves wait in a slab and never move while the heap sifts. A queued message is well over a hundred
/// bytes, and moving it at every level of every sift was the largest single cost of a run. One `u128`
/// comparison orders keys by (time, sequence) exactly as the tuple did: the sequence is unique, so the slot
/// bits below it never decide, and a key is two words to move instead of three.
///
/// A queued event can be cancelled ([`EventQueue::cancel`]): its slot is emptied at once and its key is
/// dropped when it reaches the top of the heap, so a cancelled event costs one pop and is never seen.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<u128>>,
    slots: Vec<Option<E>>,
    /// The sequence each slot's event was scheduled with, which tells a cancellation of that event from one
    /// of an earlier event that used the same slot.
    sequences: Vec<u64>,
    free: Vec<u32>,
    next_sequence: u64,
    /// Keys in the heap whose event was cancelled.
    cancelled: usize,
}

/// Names one scheduled event, for [`EventQueue::cancel`]; it never names another event, even once its slot
/// is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    slot: u32,
    sequence: u64,
}

impl EventId {
    /// An id that names no event: cancelling it does nothing.
    pub const NONE: EventId = EventId { slot: u32::MAX, sequence: u64::MAX };
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            sequences: Vec::new(),
            free: Vec::new(),
            next_sequence: 0,
            cancelled: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `time_ns`, after every event already scheduled for that instant.
    #[inline]
    pub fn push(&mut self, time_ns: u64, event: E) -> EventId {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        assert!(sequence < 1 << (64 - SLOT_BITS), "fewer than 2^40 events scheduled in one run");
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                self.sequences[slot as usize] = sequence;
                slot
            }
            None => self.grow(sequence, event),
        };
        let low = sequence << SLOT_BITS | u64::from(slot);
        self.heap.push(Reverse(u128::from(time_ns) << 64 | u128::from(low)));
        EventId { slot, sequence }
    }

    /// A new slot for `event`, when no freed one is left.
    #[cold]
    fn grow(&mut self, sequence: u64, event: E) -> u32 {
        let slot = u32::try_from(self.slots.len()).expect("a slot index fits in 32 bits");
        assert!(slot < 1 << SLOT_BITS, "fewer than 2^24 events queued at once");
        self.slots.push(Some(event));
        self.sequences.push(sequence);
        slot
    }

    /// Takes the event `id` names out of the queue, if it is still queued: it will never be popped.
    pub fn cancel(&mut self, id: EventId) -> Option<E> {
        if self.sequences.get(id.slot as usize) != Some(&id.sequence) {
            return None;
        }
        let event = self.slots[id.slot as usize].take()?;
        self.cancelled += 1;
        Some(event)
    }

    /// Removes and returns the earliest event with its due time.
    #[inline]
    pub fn pop(&mut self) -> Option<(u64, E)> {
        self.drop_cancelled_top();
        let Reverse(key) = self.heap.pop()?;
        let slot = slot_of(key);
        let event = self.slots[slot as usize].take().expect("the top key is live once cancelled ones are dropped");
        self.free.push(slot);
        Some((time_of(key), event))
    }

    /// The due time of the earliest event.
    #[inline]
    pub fn peek_time_ns(&mut self) -> Option<u64> {
        self.drop_cancelled_top();
        self.heap.peek().map(|Reverse(key)| time_of(*key))
    }

    /// Drops the keys of cancelled events from the top of the heap, so that the top, if any, is live.
    #[inline]
    fn drop_cancelled_top(&mut self) {
        while let Some(&Reverse(key)) = self.heap.peek() {
            let slot = slot_of(key);
            if self.slots[slot as usize].is_some() {
                return;
            }
            self.heap.pop();
            self.free.push(slot);
            self.cancelled -= 1;
        }
    }

    /// Number of scheduled events, cancelled ones not counted.
    pub fn len(&self) -> usize {
        self.heap.len() - self.cancelled
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    #[test]
    fn a_cancelled_event_is_never_popped_and_not_counted() {
        let mut queue = EventQueue::new();
        queue.push(1, 'a');
        let b = queue.push(2, 'b');
        queue.push(3, 'c');
        assert_eq!(queue.cancel(b), Some('b'));
        assert_eq!(queue.cancel(b), None, "a second cancellation finds nothing");
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.pop(), Some((1, 'a')));
        // The cancelled key is on top now: peeking drops it and shows the next live event.
        assert_eq!(queue.peek_time_ns(), Some(3));
        assert_eq!(queue.pop(), Some((3, 'c')));
        assert!(queue.is_empty());
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn an_id_never_cancels_the_event_that_reuses_its_slot() {
        let mut queue = EventQueue::new();
        let a = queue.push(1, 'a');
        assert_eq!(queue.pop(), Some((1, 'a')));
        let b = queue.push(2, 'b');
        assert_eq!(b.slot, a.slot, "the freed slot is reused");
        assert_eq!(queue.cancel(a), None);
        assert_eq!(queue.cancel(EventId::NONE), None);
        assert_eq!(queue.pop(), Some((2, 'b')));
    }

    #[test]
    fn cancelling_everything_empties_the_queue() {
        let mut queue = EventQueue::new();
        let ids: Vec<EventId> = (0..10).map(|i| queue.push(i % 3, i)).collect();
        for id in ids {
            assert!(queue.cancel(id).is_some());
        }
        assert!(queue.is_empty());
        assert_eq!(queue.peek_time_ns(), None);
        assert_eq!(queue.pop(), None);
    }

    proptest::proptest! {
        /// Any mix of pushes, cancellations and pops gives what a sorted map of live events gives.
        #[test]
        fn behaves_as_a_sorted_map_of_live_events(
            steps in proptest::collection::vec((0u8..3, 0u64..20, proptest::prelude::any::<proptest::sample::Index>()), 1..200)
        ) {
            let mut queue = EventQueue::new();
            let mut model = std::collections::BTreeMap::new();
            let mut ids = Vec::new();
            for (step, (action, time_ns, pick)) in steps.into_iter().enumerate() {
                match action {
                    0 => {
                        let id = queue.push(time_ns, step);
                        model.insert((time_ns, id.sequence), step);
                        ids.push((time_ns, id));
                    }
                    1 if !ids.is_empty() => {
                        let (time_ns, id) = ids[pick.index(ids.len())];
                        proptest::prop_assert_eq!(queue.cancel(id), model.remove(&(time_ns, id.sequence)));
                    }
                    _ => {
                        let expected = model.pop_first().map(|((time_ns, _), value)| (time_ns, value));
                        proptest::prop_assert_eq!(queue.pop(), expected);
                    }
                }
                proptest::prop_assert_eq!(queue.len(), model.len());
                proptest::prop_assert_eq!(queue.peek_time_ns(), model.keys().next().map(|(time_ns, _)| *time_ns));
            }
        }
    }
}
