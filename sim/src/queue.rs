//! The event queue: events ordered by (virtual time, insertion sequence).
//!
//! Two events due at the same nanosecond run in the order they were scheduled. That tie-break is what makes
//! a run a pure function of its seed: a heap alone would order equal keys arbitrarily.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Bits of a key that hold the event's slot; the sequence number sits above them.
const SLOT_BITS: u32 = 24;

/// How far past the earliest near key the heap's window reaches when it is refilled, in virtual ns.
///
/// Events due within the window sit in the heap; later ones wait unsorted in the near or far overflow.
/// Messages and short timers fall inside it, so the heap stays small. A refill scans the whole near
/// overflow, so the window must not be so short that refills come at every few events: on eos-tv2 seed 1,
/// 16 ms cost 2% fewer instructions per run than one heap, 1 ms cost 10% more, and 1 s gained almost
/// nothing.
const WINDOW_NS: u64 = 16_000_000;

/// How far past the earliest far key the near overflow's window reaches when it is refilled, in virtual ns.
///
/// Producer delivery timeouts (ten seconds ahead, and usually never reached) are most of the keys past
/// the heap's window; in the far overflow they are scanned about once a virtual second instead of at
/// every refill of the heap.
const FAR_WINDOW_NS: u64 = 1_000_000_000;

/// An overflow is swept of cancelled keys when it grows to this many keys more than it held after its
/// last scan, so cancelled far events cost memory only for a while.
const OVERFLOW_SWEEP_SLACK: usize = 256;

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
/// themselves wait in a slab and never move while the heap sifts. A queued event is as large as the largest
/// message (a cache line, once the model's large messages were boxed; well over a hundred bytes before), and
/// moving it at every level of every sift was the largest single cost of a run. One `u128`
/// comparison orders keys by (time, sequence) exactly as the tuple did: the sequence is unique, so the slot
/// bits below it never decide, and a key is two words to move instead of three.
///
/// Only keys due before the horizon are in the heap. Later ones wait unsorted: in the near overflow up to
/// the far horizon, in the far overflow from it on. When the heap runs dry the horizon moves to the
/// earliest near key plus [`WINDOW_NS`] (never past the far horizon) and the keys now before it are
/// heapified at once; when the near overflow is empty too, the far horizon moves to the earliest far key
/// plus [`FAR_WINDOW_NS`] first. Heap keys are due before the horizon, near keys between the horizons, far
/// keys at or after the far horizon, so the heap's top is the earliest event of all, and the order stays
/// exactly (time, sequence).
///
/// A pop leaves its key on top of the heap, marked popped, and the next push into the heap puts its key there
/// instead and sifts it down: most events schedule another, and one sift for the pair costs about half of a
/// pop's sift and a push's. Any other use of the heap removes the popped key first.
///
/// A queued event can be cancelled ([`EventQueue::cancel`]): its slot is emptied at once and its key is
/// dropped when it reaches the top of the heap, comes due in an overflow, or is swept from it, so a
/// cancelled event is never seen.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<u128>>,
    /// The heap's top key is that of an event already popped (its slot is already free).
    popped_top: bool,
    /// Keys due at or after `horizon_ns` and before `far_horizon_ns`.
    near: Overflow,
    /// Keys due at or after `far_horizon_ns`.
    far: Overflow,
    /// Keys due before this time go to the heap. Wider than a time so that the last window can reach past
    /// `u64::MAX`.
    horizon_ns: u128,
    /// Keys due at or after this time go to the far overflow; never before `horizon_ns`.
    far_horizon_ns: u128,
    /// How far a refill moves the horizon past the earliest near key: [`WINDOW_NS`] but in tests.
    window_ns: u64,
    /// How far a refill moves the far horizon past the earliest far key: [`FAR_WINDOW_NS`] but in tests.
    far_window_ns: u64,
    /// How many keys past its last scanned length start a sweep of an overflow: [`OVERFLOW_SWEEP_SLACK`]
    /// but in tests.
    sweep_slack: usize,
    slots: Vec<Option<E>>,
    /// The sequence each slot's event was scheduled with, which tells a cancellation of that event from one
    /// of an earlier event that used the same slot.
    sequences: Vec<u64>,
    free: Vec<u32>,
    next_sequence: u64,
    /// Keys in the heap or an overflow whose event was cancelled.
    cancelled: usize,
}

/// True if `key`'s event is still queued; otherwise the key is a cancelled event's, whose slot is freed and
/// which is no longer counted as cancelled. Every place that finds a cancelled key drops it this way.
#[inline]
fn is_live<E>(key: u128, slots: &[Option<E>], free: &mut Vec<u32>, cancelled: &mut usize) -> bool {
    let slot = slot_of(key);
    if slots[slot as usize].is_some() {
        return true;
    }
    free.push(slot);
    *cancelled -= 1;
    false
}

/// Keys due at or after a horizon, in no order: a part of the queue that a pop does not look at.
#[derive(Debug)]
struct Overflow {
    keys: Vec<u128>,
    /// The earliest due time among `keys`, live or cancelled; `u64::MAX` when there are none.
    earliest_ns: u64,
    /// The length of `keys` after the last scan; a sweep is due once it grows well past that.
    scanned_len: usize,
}

impl Overflow {
    /// An empty overflow.
    fn new() -> Self {
        Overflow { keys: Vec::new(), earliest_ns: u64::MAX, scanned_len: 0 }
    }

    /// Adds `key`; true when the overflow has grown by `sweep_slack` keys since its last scan.
    #[inline]
    fn push(&mut self, key: u128, sweep_slack: usize) -> bool {
        self.keys.push(key);
        self.earliest_ns = self.earliest_ns.min(time_of(key));
        self.keys.len() >= self.scanned_len + sweep_slack
    }

    /// Hands every key due before `horizon_ns` to `take` and keeps the rest, noting the earliest of them.
    /// A key that stays is not looked up in the slab: most stay, and a cancelled one is dropped when it
    /// comes due or at a sweep.
    fn take_due(&mut self, horizon_ns: u128, mut take: impl FnMut(u128)) {
        let mut earliest_ns = u64::MAX;
        self.keys.retain(|&key| {
            let due = u128::from(time_of(key)) < horizon_ns;
            if due {
                take(key);
            } else {
                earliest_ns = earliest_ns.min(time_of(key));
            }
            !due
        });
        self.earliest_ns = earliest_ns;
        self.scanned_len = self.keys.len();
    }

    /// Drops the keys of cancelled events (their slot in `slots` is empty), freeing their slots.
    fn sweep<E>(&mut self, slots: &[Option<E>], free: &mut Vec<u32>, cancelled: &mut usize) {
        let mut earliest_ns = u64::MAX;
        self.keys.retain(|&key| {
            let live = is_live(key, slots, free, cancelled);
            if live {
                earliest_ns = earliest_ns.min(time_of(key));
            }
            live
        });
        self.earliest_ns = earliest_ns;
        self.scanned_len = self.keys.len();
    }
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
            popped_top: false,
            near: Overflow::new(),
            far: Overflow::new(),
            horizon_ns: u128::from(WINDOW_NS),
            far_horizon_ns: u128::from(FAR_WINDOW_NS),
            window_ns: WINDOW_NS,
            far_window_ns: FAR_WINDOW_NS,
            sweep_slack: OVERFLOW_SWEEP_SLACK,
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
        let key = u128::from(time_ns) << 64 | u128::from(low);
        if u128::from(time_ns) < self.horizon_ns {
            self.push_to_heap(key);
        } else if u128::from(time_ns) < self.far_horizon_ns {
            if self.near.push(key, self.sweep_slack) {
                self.near.sweep(&self.slots, &mut self.free, &mut self.cancelled);
            }
        } else if self.far.push(key, self.sweep_slack) {
            self.far.sweep(&self.slots, &mut self.free, &mut self.cancelled);
        }
        EventId { slot, sequence }
    }

    /// Adds `key` to the heap, in the popped top's place if there is one.
    #[inline]
    fn push_to_heap(&mut self, key: u128) {
        if self.popped_top {
            self.popped_top = false;
            // Replacing the top through `PeekMut` sifts the new key down once when the guard drops.
            *self.heap.peek_mut().expect("a popped top is in the heap") = Reverse(key);
        } else {
            self.heap.push(Reverse(key));
        }
    }

    /// Removes the popped top's key, if the heap holds one, before the heap is looked at.
    #[inline]
    fn remove_popped_top(&mut self) {
        if self.popped_top {
            self.popped_top = false;
            self.heap.pop();
        }
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
        self.settle_top();
        let &Reverse(key) = self.heap.peek()?;
        let slot = slot_of(key);
        let event = self.slots[slot as usize].take().expect("the top key is live once cancelled ones are dropped");
        self.free.push(slot);
        self.popped_top = true;
        Some((time_of(key), event))
    }

    /// The due time of the earliest event.
    #[inline]
    pub fn peek_time_ns(&mut self) -> Option<u64> {
        self.settle_top();
        self.heap.peek().map(|Reverse(key)| time_of(*key))
    }

    /// Makes the heap's top, if any, the earliest live event: drops cancelled keys from the top, and refills
    /// the heap from the overflow when it runs dry.
    #[inline]
    fn settle_top(&mut self) {
        self.remove_popped_top();
        self.drop_cancelled_top();
        if self.heap.is_empty() {
            self.refill();
        }
    }

    /// Drops the keys of cancelled events from the top of the heap, so that the top, if any, is live.
    #[inline]
    fn drop_cancelled_top(&mut self) {
        if self.cancelled == 0 {
            return;
        }
        while let Some(&Reverse(key)) = self.heap.peek() {
            if is_live(key, &self.slots, &mut self.free, &mut self.cancelled) {
                return;
            }
            self.heap.pop();
        }
    }

    /// Moves the horizon a window past the earliest near key and heapifies every live key now before it,
    /// until the heap holds a live key or both overflows are empty.
    #[cold]
    fn refill(&mut self) {
        while self.heap.is_empty() {
            if self.near.keys.is_empty() {
                if self.far.keys.is_empty() {
                    return;
                }
                self.refill_near();
                continue;
            }
            assert!(u128::from(self.near.earliest_ns) >= self.horizon_ns, "near keys are at or past the horizon");
            let window_end_ns = u128::from(self.near.earliest_ns) + u128::from(self.window_ns);
            self.horizon_ns = window_end_ns.min(self.far_horizon_ns);
            let EventQueue { heap, near, slots, free, cancelled, horizon_ns, .. } = self;
            let mut due = std::mem::take(heap).into_vec();
            near.take_due(*horizon_ns, |key| {
                if is_live(key, slots, free, cancelled) {
                    due.push(Reverse(key));
                }
            });
            // Heapifying all of them at once is linear; pushing them one by one would sift each.
            *heap = BinaryHeap::from(due);
        }
    }

    /// Moves the far horizon a far window past the earliest far key and moves every live far key before it
    /// to the near overflow, which is empty.
    #[cold]
    fn refill_near(&mut self) {
        assert!(self.near.keys.is_empty(), "the near overflow is refilled only once it is empty");
        assert!(u128::from(self.far.earliest_ns) >= self.far_horizon_ns, "far keys are at or past the far horizon");
        self.far_horizon_ns = u128::from(self.far.earliest_ns) + u128::from(self.far_window_ns);
        let EventQueue { near, far, slots, free, cancelled, far_horizon_ns, sweep_slack, .. } = self;
        far.take_due(*far_horizon_ns, |key| {
            if is_live(key, slots, free, cancelled) {
                near.push(key, *sweep_slack);
            }
        });
        near.scanned_len = near.keys.len();
    }

    /// Number of scheduled events, cancelled ones not counted.
    pub fn len(&self) -> usize {
        self.heap.len() - usize::from(self.popped_top) + self.near.keys.len() + self.far.keys.len() - self.cancelled
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue whose heap window is `window_ns` wide and whose near window is `far_window_ns` wide, to
    /// reach both horizons with a few small times.
    fn with_windows<E>(window_ns: u64, far_window_ns: u64) -> EventQueue<E> {
        EventQueue {
            window_ns,
            horizon_ns: u128::from(window_ns.min(far_window_ns)),
            far_window_ns,
            far_horizon_ns: u128::from(far_window_ns),
            ..EventQueue::default()
        }
    }

    /// A queue whose heap window is `window_ns` wide and whose far horizon no test reaches.
    fn with_window<E>(window_ns: u64) -> EventQueue<E> {
        with_windows(window_ns, 1 << 40)
    }

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

    #[test]
    fn events_past_the_horizon_come_out_in_order() {
        let mut queue = with_window(10);
        queue.push(25, 'd');
        queue.push(5, 'a');
        queue.push(12, 'b');
        queue.push(25, 'e');
        assert_eq!((queue.heap.len(), queue.near.keys.len()), (1, 3), "only the key before 10 is in the heap");
        assert_eq!(queue.pop(), Some((5, 'a')));
        // The heap is dry: the horizon moves to 12 + 10, so 'b' is heapified and both 25s stay out.
        assert_eq!(queue.peek_time_ns(), Some(12));
        assert_eq!(queue.horizon_ns, 22);
        assert_eq!(queue.near.keys.len(), 2);
        // A key pushed before the new horizon goes to the heap, one after it to the overflow, behind 'd', 'e'.
        queue.push(20, 'c');
        queue.push(25, 'f');
        assert_eq!(queue.near.keys.len(), 3);
        for expected in [(12, 'b'), (20, 'c'), (25, 'd'), (25, 'e'), (25, 'f')] {
            assert_eq!(queue.pop(), Some(expected));
        }
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn a_refill_skips_windows_that_hold_only_cancelled_events() {
        let mut queue = with_window(10);
        let far = queue.push(15, 'x');
        queue.push(40, 'y');
        assert_eq!(queue.cancel(far), Some('x'));
        assert_eq!(queue.len(), 1);
        // The first window (15 to 25) holds only the cancelled key; the refill goes on to 40.
        assert_eq!(queue.peek_time_ns(), Some(40));
        assert_eq!(queue.horizon_ns, 50);
        assert_eq!(queue.free.len(), 1, "the cancelled key's slot is free again");
        assert_eq!(queue.pop(), Some((40, 'y')));
        assert!(queue.is_empty());
    }

    #[test]
    fn far_events_wait_for_the_far_horizon() {
        let mut queue = with_windows(10, 100);
        queue.push(5, 'a');
        queue.push(50, 'b');
        queue.push(150, 'c');
        let cancelled = queue.push(160, 'x');
        queue.push(400, 'd');
        assert_eq!(queue.cancel(cancelled), Some('x'));
        assert_eq!((queue.heap.len(), queue.near.keys.len(), queue.far.keys.len()), (1, 1, 3));
        assert_eq!(queue.pop(), Some((5, 'a')));
        assert_eq!(queue.pop(), Some((50, 'b')));
        // Both the heap and the near overflow are dry: the far horizon moves to 150 + 100, so 'c' moves near,
        // the cancelled key is dropped, 'd' stays far, and the heap's window is 150 to 160.
        assert_eq!(queue.peek_time_ns(), Some(150));
        assert_eq!((queue.horizon_ns, queue.far_horizon_ns), (160, 250));
        assert_eq!((queue.heap.len(), queue.near.keys.len(), queue.far.keys.len()), (1, 0, 1));
        // The heap's window never reaches past the far horizon, whatever its width.
        queue.push(245, 'e');
        queue.push(250, 'f');
        assert_eq!(queue.pop(), Some((150, 'c')));
        assert_eq!(queue.pop(), Some((245, 'e')));
        assert_eq!(queue.horizon_ns, 250);
        assert_eq!(queue.pop(), Some((250, 'f')));
        assert_eq!(queue.pop(), Some((400, 'd')));
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn the_last_window_reaches_past_the_end_of_time() {
        let mut queue = with_window(10);
        queue.push(u64::MAX, 'b');
        queue.push(u64::MAX - 3, 'a');
        assert_eq!(queue.pop(), Some((u64::MAX - 3, 'a')));
        assert_eq!(queue.horizon_ns, u128::from(u64::MAX) + 7);
        queue.push(u64::MAX, 'c');
        assert_eq!(queue.near.keys.len(), 0, "u64::MAX is before the horizon now");
        assert_eq!(queue.pop(), Some((u64::MAX, 'b')));
        assert_eq!(queue.pop(), Some((u64::MAX, 'c')));
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn cancelled_far_events_are_swept_before_the_horizon_reaches_them() {
        let mut queue = with_window(10);
        queue.push(1, 0);
        for round in 0..10 {
            let ids: Vec<EventId> = (0..100).map(|i| queue.push(1_000, round * 100 + i)).collect();
            for id in ids {
                assert!(queue.cancel(id).is_some());
            }
        }
        queue.push(2_000, 9);
        // 1,001 far keys were pushed, but each sweep dropped the cancelled ones and freed their slots for
        // reuse: neither the overflow nor the slab grew past the keys of two sweeps.
        assert!(queue.near.keys.len() < 2 * OVERFLOW_SWEEP_SLACK, "{} keys left", queue.near.keys.len());
        assert!(queue.slots.len() < 2 * OVERFLOW_SWEEP_SLACK, "{} slots", queue.slots.len());
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.pop(), Some((1, 0)));
        assert_eq!(queue.pop(), Some((2_000, 9)));
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn a_popped_key_is_replaced_by_the_next_push_and_never_resurfaces() {
        let mut queue = with_window(10);
        queue.push(1, 'a');
        queue.push(3, 'b');
        assert_eq!(queue.pop(), Some((1, 'a')));
        assert!(queue.popped_top);
        // 'c' reuses the popped event's slot but is due past the horizon: the popped key stays on top, and
        // must not be taken for 'c' although its slot is full again.
        queue.push(50, 'c');
        assert_eq!((queue.len(), queue.heap.len(), queue.near.keys.len()), (2, 2, 1));
        assert_eq!(queue.pop(), Some((3, 'b')));
        // 'd' is due within the window: its key takes the popped one's place, and the heap does not grow.
        queue.push(4, 'd');
        assert!(!queue.popped_top);
        assert_eq!((queue.len(), queue.heap.len()), (2, 1));
        queue.push(2, 'e');
        for expected in [(2, 'e'), (4, 'd'), (50, 'c')] {
            assert_eq!(queue.pop(), Some(expected));
        }
        assert_eq!(queue.pop(), None);
        assert!(queue.is_empty());
    }

    proptest::proptest! {
        /// Any mix of pushes, cancellations and pops gives what a sorted map of live events gives. Windows
        /// of one to a hundred ns put both horizons among the times, so keys cross them both ways, and a
        /// slack of one to eight keys sweeps the overflows often. The next time is looked at only now and
        /// then, since a look removes a popped key that a push would otherwise have replaced.
        #[test]
        fn behaves_as_a_sorted_map_of_live_events(
            window_ns in 1u64..50,
            far_window_ns in 1u64..100,
            sweep_slack in 1usize..8,
            steps in proptest::collection::vec((0u8..4, 0u64..100, proptest::prelude::any::<proptest::sample::Index>()), 1..400)
        ) {
            let mut queue = with_windows(window_ns, far_window_ns);
            queue.sweep_slack = sweep_slack;
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
                    3 => {
                        proptest::prop_assert_eq!(queue.peek_time_ns(), model.keys().next().map(|(time_ns, _)| *time_ns));
                    }
                    _ => {
                        let expected = model.pop_first().map(|((time_ns, _), value)| (time_ns, value));
                        proptest::prop_assert_eq!(queue.pop(), expected);
                    }
                }
                proptest::prop_assert_eq!(queue.len(), model.len());
            }
        }
    }
}
