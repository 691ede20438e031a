//! The trace hash: one stable digest of everything that happened in a run.
//!
//! Every delivered message, fired timer, fault and client observation is fed, in order, to an XXH3-128 hasher.
//! A record is its tag (one byte), its virtual time (u64, little-endian) and its value. Values reach it
//! through [`std::hash::Hash`], but with our own [`Hasher`] that writes integers little-endian and sizes as
//! 64 bits, so the digest is the same on every machine; std's `DefaultHasher` promises no such thing across
//! Rust releases. Bytes are buffered and handed to the hasher in large chunks, which is where it is fast.
//!
//! The digest is a fingerprint against accidental divergence, not a seal against an adversary: XXH3's 128-bit
//! output makes an accidental collision as unlikely as a cryptographic hash truncated to 128 bits does, and
//! it reads a byte for about a sixth of the instructions BLAKE3 took (a tenth of a run's work went to BLAKE3).
//!
//! The kernel's own records (a delivery's endpoints, a timer, a node status change, a fault's end) have a
//! fixed layout and are written by [`TraceRecord::write_to`] in one copy instead of one `Hasher` call per
//! field; the bytes are exactly those their `Hash` writes (a test compares both for random values), so the
//! digest and every stored replay hash are unchanged.

use std::hash::{Hash, Hasher};

use crate::NodeId;
use xxhash_rust::xxh3::Xxh3;

const FLUSH_BYTES: usize = 64 * 1024;

/// What kind of record a trace entry is; part of the hashed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TraceTag {
    /// A message reached its target.
    Deliver = 1,
    /// A timer fired.
    Timer = 2,
    /// A fault began.
    FaultStart = 3,
    /// A fault ended (heal, restart, resume).
    FaultEnd = 4,
    /// A client observed an outcome.
    Observation = 5,
    /// A node crashed, restarted, paused or resumed.
    NodeStatus = 6,
}

/// A running XXH3-128 digest of a run.
#[derive(Clone)]
pub struct Trace {
    hasher: Xxh3,
    buffer: Vec<u8>,
    records: u64,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace").field("records", &self.records).finish()
    }
}

impl Default for Trace {
    fn default() -> Self {
        Trace { hasher: Xxh3::new(), buffer: Vec::with_capacity(FLUSH_BYTES + 1024), records: 0 }
    }
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Trace {
        Trace::default()
    }

    /// Appends one record: its tag, its virtual time and the hashed value.
    #[inline]
    pub fn record<T: Hash + ?Sized>(&mut self, tag: TraceTag, time_ns: u64, value: &T) {
        self.write_header(tag, time_ns);
        value.hash(&mut TraceWriter { buffer: &mut self.buffer });
        self.end_record();
    }

    /// Appends one record of the kernel's own, in its fixed layout: the same bytes as [`Trace::record`] of
    /// the value's `Hash`, written in one piece.
    #[inline]
    pub fn record_fixed<R: TraceRecord>(&mut self, tag: TraceTag, time_ns: u64, value: &R) {
        self.write_header(tag, time_ns);
        value.write_to(&mut self.buffer);
        self.end_record();
    }

    /// Appends a delivery: the fixed (source, target) header, then the message through its `Hash`. The same
    /// bytes as `record(TraceTag::Deliver, time_ns, &(source, target, message))`.
    #[inline]
    pub fn record_delivery<M: Hash + ?Sized>(&mut self, time_ns: u64, source: NodeId, target: NodeId, message: &M) {
        self.records += 1;
        let mut header = [0u8; 17];
        header[0] = TraceTag::Deliver as u8;
        header[1..9].copy_from_slice(&time_ns.to_le_bytes());
        header[9..13].copy_from_slice(&source.0.to_le_bytes());
        header[13..].copy_from_slice(&target.0.to_le_bytes());
        self.buffer.extend_from_slice(&header);
        message.hash(&mut TraceWriter { buffer: &mut self.buffer });
        self.end_record();
    }

    #[inline(always)]
    fn write_header(&mut self, tag: TraceTag, time_ns: u64) {
        self.records += 1;
        let mut header = [0u8; 9];
        header[0] = tag as u8;
        header[1..].copy_from_slice(&time_ns.to_le_bytes());
        self.buffer.extend_from_slice(&header);
    }

    #[inline(always)]
    fn end_record(&mut self) {
        if self.buffer.len() >= FLUSH_BYTES {
            self.flush();
        }
    }

    /// Number of records so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The digest of everything recorded so far, as 32 lowercase hex digits (128 bits).
    pub fn hex(&self) -> String {
        let mut hasher = self.hasher.clone();
        hasher.update(&self.buffer);
        hasher.update(&self.records.to_le_bytes());
        format!("{:032x}", hasher.digest128())
    }

    #[cold]
    fn flush(&mut self) {
        self.hasher.update(&self.buffer);
        self.buffer.clear();
    }
}

/// A kernel record with a fixed layout: `write_to` appends exactly the bytes the value's `Hash` writes into
/// the trace (integers little-endian, `usize` as 64 bits), in one copy.
pub trait TraceRecord {
    /// Appends the record's bytes.
    fn write_to(&self, out: &mut Vec<u8>);
}

impl TraceRecord for usize {
    #[inline]
    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(*self as u64).to_le_bytes());
    }
}

impl TraceRecord for (NodeId, u64) {
    #[inline]
    fn write_to(&self, out: &mut Vec<u8>) {
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&self.0 .0.to_le_bytes());
        bytes[4..].copy_from_slice(&self.1.to_le_bytes());
        out.extend_from_slice(&bytes);
    }
}

impl TraceRecord for (NodeId, u8) {
    #[inline]
    fn write_to(&self, out: &mut Vec<u8>) {
        let mut bytes = [0u8; 5];
        bytes[..4].copy_from_slice(&self.0 .0.to_le_bytes());
        bytes[4] = self.1;
        out.extend_from_slice(&bytes);
    }
}

/// A [`Hasher`] that only serializes: little-endian integers, 64-bit sizes.
struct TraceWriter<'a> {
    buffer: &'a mut Vec<u8>,
}

impl Hasher for TraceWriter<'_> {
    fn finish(&self) -> u64 {
        // Only the digest of the whole trace is meaningful.
        0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.buffer.push(i);
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.buffer.extend_from_slice(&i.to_le_bytes());
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.buffer.extend_from_slice(&i.to_le_bytes());
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.buffer.extend_from_slice(&i.to_le_bytes());
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.buffer.extend_from_slice(&i.to_le_bytes());
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    #[inline]
    fn write_i8(&mut self, i: i8) {
        self.write_u8(i as u8);
    }

    #[inline]
    fn write_i16(&mut self, i: i16) {
        self.write_u16(i as u16);
    }

    #[inline]
    fn write_i32(&mut self, i: i32) {
        self.write_u32(i as u32);
    }

    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }

    #[inline]
    fn write_isize(&mut self, i: isize) {
        // Enum discriminants arrive here; widen so 32- and 64-bit machines agree.
        self.write_u64(i as i64 as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_records_same_hash() {
        let mut a = Trace::new();
        let mut b = Trace::new();
        for i in 0..10_000u64 {
            a.record(TraceTag::Deliver, i, &(i, "x"));
            b.record(TraceTag::Deliver, i, &(i, "x"));
        }
        assert_eq!(a.hex(), b.hex());
        assert_eq!(a.hex().len(), 32);
    }

    #[test]
    fn any_difference_changes_the_hash() {
        let mut base = Trace::new();
        base.record(TraceTag::Timer, 5, &1u32);
        let mut other_time = Trace::new();
        other_time.record(TraceTag::Timer, 6, &1u32);
        let mut other_tag = Trace::new();
        other_tag.record(TraceTag::Deliver, 5, &1u32);
        let mut other_value = Trace::new();
        other_value.record(TraceTag::Timer, 5, &2u32);
        assert_ne!(base.hex(), other_time.hex());
        assert_ne!(base.hex(), other_tag.hex());
        assert_ne!(base.hex(), other_value.hex());
        assert_ne!(base.hex(), Trace::new().hex());
    }

    #[test]
    fn hash_is_pinned() {
        // The digest is part of the replay contract: a change here invalidates every stored repro.
        let mut trace = Trace::new();
        trace.record(TraceTag::Observation, 42, &("send", 7i64, Some(3u64)));
        assert_eq!(trace.hex(), PINNED);
    }

    /// XXH3-128 of the record's 38 bytes (tag 5, time 42, `send`, 0xff, 7, 1, 3, each integer as 8 little-endian
    /// bytes) and the record count 1, as the reference C implementation computes it.
    const PINNED: &str = "4d3ce1bfb3edd2f7be445a591e3f2f3b";

    /// The bytes `record` writes for `value` through its `Hash`: the layout every stored trace hash was made with.
    fn hashed_bytes<T: Hash + ?Sized>(tag: TraceTag, time_ns: u64, value: &T) -> Vec<u8> {
        let mut trace = Trace::new();
        trace.record(tag, time_ns, value);
        trace.buffer
    }

    fn fixed_bytes<R: TraceRecord>(tag: TraceTag, time_ns: u64, value: &R) -> Vec<u8> {
        let mut trace = Trace::new();
        trace.record_fixed(tag, time_ns, value);
        assert_eq!(trace.records(), 1);
        trace.buffer
    }

    #[test]
    fn hashed_layout_is_pinned() {
        // Spelled out once by hand, so a change to the Hash path cannot carry the fixed path along with it.
        let bytes = hashed_bytes(TraceTag::Timer, 0x0102, &(NodeId(7), 0x0a0bu64));
        assert_eq!(bytes, [2, 2, 1, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0x0b, 0x0a, 0, 0, 0, 0, 0, 0]);
    }

    proptest::proptest! {
        #[test]
        fn fixed_records_write_the_hashed_bytes(
            time_ns in proptest::prelude::any::<u64>(),
            node in proptest::prelude::any::<u32>(),
            other in proptest::prelude::any::<u32>(),
            tag in proptest::prelude::any::<u64>(),
            status in proptest::prelude::any::<u8>(),
            index in proptest::prelude::any::<usize>(),
            message in proptest::prelude::any::<(u64, String, Vec<u32>, Option<i16>)>(),
        ) {
            let node = NodeId(node);
            proptest::prop_assert_eq!(
                fixed_bytes(TraceTag::Timer, time_ns, &(node, tag)),
                hashed_bytes(TraceTag::Timer, time_ns, &(node, tag))
            );
            proptest::prop_assert_eq!(
                fixed_bytes(TraceTag::NodeStatus, time_ns, &(node, status)),
                hashed_bytes(TraceTag::NodeStatus, time_ns, &(node, status))
            );
            proptest::prop_assert_eq!(
                fixed_bytes(TraceTag::FaultEnd, time_ns, &index),
                hashed_bytes(TraceTag::FaultEnd, time_ns, &index)
            );
            let mut delivery = Trace::new();
            delivery.record_delivery(time_ns, node, NodeId(other), &message);
            proptest::prop_assert_eq!(delivery.records(), 1);
            proptest::prop_assert_eq!(
                delivery.buffer,
                hashed_bytes(TraceTag::Deliver, time_ns, &(node, NodeId(other), &message))
            );
        }
    }
}
