//! One partition's append-only log: appends return offsets, reads return ranges of records.
//!
//! The log is a sequence of records, each a value at an offset, offsets strictly increasing. An append of a value
//! that returned offset `o` takes effect only if `o` is above every offset in the log, and leaves the record at the
//! end; so appends are linearizable exactly when their offsets are handed out in the order they take effect, and
//! an append that finished before another began must have the lower offset. Offsets need not be consecutive:
//! Kafka's transaction markers and aborted records hold offsets that no consumer returns.
//!
//! A read returns a contiguous range: records `[(o1, v1), …, (ok, vk)]` mean that, when the read took effect, the
//! log held exactly those records between `o1` and `ok`: each `vi` at `oi` (appended before the read returned), and
//! nothing else in between (a consumer returns the records of a partition in order, from its position, without
//! jumping any). It says nothing about records below `o1` (the consumer started there) or above `ok` (a poll
//! returns at most some records), unless it read to the end (a final poll, after the system quiesced): then `ok` is
//! the last record. A read seen to hold a value at another offset than its append returned, a value no append
//! wrote, a range with a hole where a finished append had put a record, or an offset that goes backwards: none of
//! these has a linearization. A read is monotone in time: once valid it stays valid, since appends only add records
//! above the end; that is why a consumer's prefetch (records fetched before `poll` was called) does no harm.
//!
//! Worked example, key orders-0. Client 1 appends 10 over [0, 10], returned offset 0; client 2 appends 20 over
//! [5, 15], returned offset 1; client 3 reads over [20, 30] and sees `[(0, 10), (1, 20)]`. The appends overlap, so
//! either could take effect first; offsets say 10 did; the read comes after both: linearizable. Had client 2's
//! append begun at 12, after client 1's returned, still fine (0 < 1). Had client 2's append returned offset 0 and
//! client 1's offset 1 with that same real-time order (1 finished before 2 began), client 1's append would have
//! to take effect first and so get the lower offset: not linearizable.
//!
//! The state is a persistent list (newest record first, shared between states), so a step copies nothing; each
//! record also keeps a jump pointer (Myers' skew-binary scheme), so a read finds its first offset in O(log n)
//! steps however far behind the end it reads.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use super::Model;
use crate::{Key, Offset, Value};

/// Append-only logs, one per key (a partition of a topic), initially empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Log;

/// What a client asked of a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogInput {
    /// Append `value` to `key`'s log.
    Append {
        /// The partition.
        key: Key,
        /// The record's value.
        value: Value,
    },
    /// Read a range of `key`'s log.
    Read {
        /// The partition.
        key: Key,
    },
}

/// What the log told the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogOutput {
    /// The append's offset.
    Appended {
        /// Where the record landed.
        offset: Offset,
    },
    /// A read's records, in the order returned.
    Read {
        /// `(offset, value)` pairs: a contiguous range of the log.
        records: Vec<(Offset, Value)>,
        /// The range reaches the log's end (a final poll after the system quiesced).
        to_end: bool,
    },
}

impl LogInput {
    /// The partition the operation acts on.
    pub fn key(&self) -> &Key {
        match self {
            LogInput::Append { key, .. } | LogInput::Read { key } => key,
        }
    }
}

impl Model for Log {
    type State = LogState;
    type Input = LogInput;
    type Output = LogOutput;

    fn init(&self) -> LogState {
        LogState::default()
    }

    fn step(&self, state: &LogState, input: &LogInput, output: &LogOutput) -> Option<LogState> {
        match (input, output) {
            (LogInput::Append { value, .. }, LogOutput::Appended { offset }) => {
                state.end_offset().is_none_or(|end| end < *offset).then(|| state.appended(*offset, *value))
            }
            (LogInput::Read { .. }, LogOutput::Read { records, to_end }) => {
                state.holds_range(records, *to_end).then(|| state.clone())
            }
            // An output of another kind than the input is never a legal step.
            _ => None,
        }
    }

    /// Offsets fix the order of appends, and a read can only follow the append of the last record it saw: try the
    /// append at offset `o` (hint `2o`), then the reads that end at `o` (hint `2o + 1`). Without this, the search
    /// tries concurrent appends in call order and, whenever they landed in the other order, explores every order of
    /// the operations after the wrong one before it finds out (measured: a 10^5-operation history then exhausts
    /// the default budget; with it, the search hardly ever backtracks).
    fn order_hint(&self, _: &LogInput, output: &LogOutput) -> u64 {
        match output {
            LogOutput::Appended { offset } => offset.saturating_mul(2),
            LogOutput::Read { records, .. } => records.last().map_or(0, |(offset, _)| offset.saturating_mul(2) | 1),
        }
    }

    fn partition<'a>(&self, input: &'a LogInput) -> Cow<'a, str> {
        Cow::Borrowed(input.key())
    }
}

/// One record of a [`LogState`], linked to the one before it.
struct Record {
    offset: Offset,
    value: Value,
    /// Records up to and including this one.
    len: u64,
    /// A hash of every record up to and including this one.
    hash: u64,
    prev: Option<Rc<Record>>,
    /// An earlier record (Myers' jump pointer), for O(log n) searches by offset.
    jump: Option<Rc<Record>>,
}

/// The records of a log, newest first, shared with the states it grew from: cloning and appending are O(1).
#[derive(Clone, Default)]
pub struct LogState {
    last: Option<Rc<Record>>,
}

impl LogState {
    /// How many records the log holds.
    pub fn len(&self) -> u64 {
        self.last.as_ref().map_or(0, |record| record.len)
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.last.is_none()
    }

    /// The offset of the last record.
    pub fn end_offset(&self) -> Option<Offset> {
        self.last.as_ref().map(|record| record.offset)
    }

    /// The value at `offset`, if a record is there.
    pub fn get(&self, offset: Offset) -> Option<Value> {
        self.find(offset).map(|record| record.value)
    }

    /// Every record, oldest first. O(n): for tests and messages.
    pub fn records(&self) -> Vec<(Offset, Value)> {
        let mut records: Vec<(Offset, Value)> = self.iter().map(|record| (record.offset, record.value)).collect();
        records.reverse();
        records
    }

    /// The log with `(offset, value)` appended; `offset` must be above the end.
    pub fn appended(&self, offset: Offset, value: Value) -> LogState {
        assert!(self.end_offset().is_none_or(|end| end < offset), "offset {offset} is not above the log's end");
        let prev = self.last.clone();
        let len = self.len() + 1;
        let hash = mix(self.last.as_ref().map_or(0, |record| record.hash), offset, value);
        // Myers' rule: jump twice as far as the previous record's jump when its two last jumps were equally long.
        // Every record then reaches any ancestor in O(log n) jumps and steps.
        let jump = match prev.as_ref().and_then(|p| p.jump.as_ref().map(|j| (p, j))) {
            Some((p, j)) if j.jump.as_ref().is_some_and(|jj| p.len - j.len == j.len - jj.len) => j.jump.clone(),
            _ => prev.clone(),
        };
        let state = LogState { last: Some(Rc::new(Record { offset, value, len, hash, prev, jump })) };
        assert_eq!(state.end_offset(), Some(offset));
        state
    }

    /// Whether the log holds exactly `records` between their first and last offsets (and nothing after the last,
    /// if `to_end`): see the module header.
    pub fn holds_range(&self, records: &[(Offset, Value)], to_end: bool) -> bool {
        let Some(&(last_offset, _)) = records.last() else {
            // An empty read observed nothing: the reader's position, which an empty range would be relative to, is
            // not known.
            return true;
        };
        if to_end && self.end_offset() != Some(last_offset) {
            return false;
        }
        let mut record = self.find(last_offset);
        for &(offset, value) in records.iter().rev() {
            match record {
                Some(found) if found.offset == offset && found.value == value => record = found.prev.as_deref(),
                _ => return false,
            }
        }
        true
    }

    /// The record at `offset`, searching back from the end by jumps.
    fn find(&self, offset: Offset) -> Option<&Record> {
        let mut record = self.last.as_deref()?;
        loop {
            match record.offset.cmp(&offset) {
                Ordering::Equal => return Some(record),
                Ordering::Less => return None,
                Ordering::Greater => {
                    record = match record.jump.as_deref() {
                        Some(jump) if jump.offset >= offset => jump,
                        _ => record.prev.as_deref()?,
                    };
                }
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Record> {
        std::iter::successors(self.last.as_deref(), |record| record.prev.as_deref())
    }
}

/// Folds one record into the hash of the records before it (SplitMix64's finalizer: every input bit moves many).
fn mix(hash: u64, offset: Offset, value: Value) -> u64 {
    let mut x = hash ^ offset.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (value as u64).rotate_left(29);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Drop for Record {
    /// Unlinks the list one record at a time: the default recursive drop would overflow the stack on a long log.
    fn drop(&mut self) {
        // Dropping a jump pointer never frees its target here: the `prev` chain, still held, reaches it too.
        self.jump = None;
        let mut prev = self.prev.take();
        while let Some(record) = prev {
            match Rc::try_unwrap(record) {
                Ok(mut record) => {
                    record.jump = None;
                    prev = record.prev.take();
                }
                // Another state shares the rest of the list: it stays.
                Err(_) => break,
            }
        }
    }
}

impl PartialEq for LogState {
    fn eq(&self, other: &LogState) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for LogState {}

impl PartialOrd for LogState {
    fn partial_cmp(&self, other: &LogState) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LogState {
    /// By length, then hash, then records from the newest: any total order consistent with equal contents would
    /// do, and this one decides most pairs in O(1). Lists that share a tail stop comparing where they meet.
    fn cmp(&self, other: &LogState) -> Ordering {
        let (mut a, mut b) = (self.last.as_ref(), other.last.as_ref());
        let quick = self.len().cmp(&other.len()).then_with(|| a.map(|r| r.hash).cmp(&b.map(|r| r.hash)));
        if quick != Ordering::Equal {
            return quick;
        }
        while let (Some(x), Some(y)) = (a, b) {
            if Rc::ptr_eq(x, y) {
                return Ordering::Equal;
            }
            let order = (x.offset, x.value).cmp(&(y.offset, y.value));
            if order != Ordering::Equal {
                return order;
            }
            (a, b) = (x.prev.as_ref(), y.prev.as_ref());
        }
        // Equal lengths: both lists ended together.
        assert!(a.is_none() && b.is_none());
        Ordering::Equal
    }
}

impl Hash for LogState {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.len());
        state.write_u64(self.last.as_ref().map_or(0, |record| record.hash));
    }
}

impl fmt::Debug for LogState {
    /// The last few records only: a log in an explanation may hold millions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 4;
        let mut tail: Vec<(Offset, Value)> = self.iter().take(SHOWN).map(|r| (r.offset, r.value)).collect();
        tail.reverse();
        let earlier = self.len() - tail.len() as u64;
        write!(f, "log [")?;
        if earlier > 0 {
            write!(f, "{earlier} earlier records, ")?;
        }
        let shown: Vec<String> = tail.iter().map(|(offset, value)| format!("{value}@{offset}")).collect();
        write!(f, "{}]", shown.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(records: &[(Offset, Value)]) -> LogState {
        records.iter().fold(LogState::default(), |log, &(offset, value)| log.appended(offset, value))
    }

    #[test]
    fn finds_every_offset_of_a_long_log_and_none_between() {
        let records: Vec<(Offset, Value)> = (0..5_000).map(|i| (i * 3, i as i64)).collect();
        let log = log_of(&records);
        assert_eq!(log.len(), 5_000);
        for &(offset, value) in &records {
            assert_eq!(log.get(offset), Some(value));
            assert_eq!(log.get(offset + 1), None);
        }
        assert_eq!(log.records(), records);
    }

    #[test]
    fn a_read_must_match_a_contiguous_range() {
        let log = log_of(&[(0, 10), (1, 11), (3, 13), (4, 14)]);
        assert!(log.holds_range(&[(1, 11), (3, 13)], false), "a gap in offsets is not a skipped record");
        assert!(log.holds_range(&[], true));
        assert!(log.holds_range(&[(3, 13), (4, 14)], true));
        assert!(!log.holds_range(&[(1, 11), (3, 13)], true), "4 follows");
        assert!(!log.holds_range(&[(0, 10), (3, 13)], false), "skips 11 at offset 1");
        assert!(!log.holds_range(&[(1, 11), (2, 12)], false), "nothing at offset 2");
        assert!(!log.holds_range(&[(3, 13), (1, 11)], false), "backwards");
        assert!(!log.holds_range(&[(4, 99)], false), "another value");
        assert!(!log.holds_range(&[(5, 15)], false), "not yet appended");
    }

    #[test]
    fn appends_need_rising_offsets() {
        let model = Log;
        let append = |value| LogInput::Append { key: "k".into(), value };
        let log = log_of(&[(4, 1)]);
        assert!(model.step(&log, &append(2), &LogOutput::Appended { offset: 4 }).is_none());
        assert!(model.step(&log, &append(2), &LogOutput::Appended { offset: 3 }).is_none());
        let grown = model.step(&log, &append(2), &LogOutput::Appended { offset: 9 }).expect("above the end");
        assert_eq!(grown.records(), vec![(4, 1), (9, 2)]);
        assert_eq!(log.records(), vec![(4, 1)], "the old state is unchanged");
    }

    #[test]
    fn states_with_the_same_records_are_equal_however_built() {
        let shared = log_of(&[(0, 1), (1, 2)]);
        let a = shared.appended(2, 3);
        let b = shared.appended(2, 3);
        let c = log_of(&[(0, 1), (1, 2), (2, 3)]);
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_ne!(a, shared.appended(2, 4));
        assert_ne!(a, shared);
        assert_eq!(format!("{c:?}"), "log [1@0, 2@1, 3@2]");
    }

    #[test]
    fn dropping_a_long_log_does_not_overflow_the_stack() {
        let log = (0..1_000_000u64).fold(LogState::default(), |log, i| log.appended(i, i as i64));
        assert_eq!(log.len(), 1_000_000);
        drop(log);
    }
}
