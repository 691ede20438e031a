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

/// Bytes gathered before they are handed to the hasher. XXH3's streaming digest does not depend on where
/// the input is cut, so a chunk may end anywhere, even inside a record.
const CHUNK_BYTES: usize = 64 * 1024;

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
    /// The bytes not yet hashed are `chunk[..chunk_len]`. A fixed array rather than a `Vec`: a write is one
    /// bounds check against a constant, and the fill level travels in a register while a value is hashed.
    chunk: Box<[u8; CHUNK_BYTES]>,
    chunk_len: usize,
    records: u64,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace").field("records", &self.records).finish()
    }
}

impl Default for Trace {
    fn default() -> Self {
        let chunk = vec![0u8; CHUNK_BYTES].into_boxed_slice().try_into().expect("the chunk has CHUNK_BYTES bytes");
        Trace { hasher: Xxh3::new(), chunk, chunk_len: 0, records: 0 }
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
        self.records += 1;
        let mut writer = self.writer();
        writer.put(header(tag, time_ns));
        value.hash(&mut writer);
        self.chunk_len = writer.len;
    }

    /// Appends one record of the kernel's own, in its fixed layout: the same bytes as [`Trace::record`] of
    /// the value's `Hash`, written in one piece.
    #[inline]
    pub fn record_fixed<R: TraceRecord>(&mut self, tag: TraceTag, time_ns: u64, value: &R) {
        self.records += 1;
        let mut writer = self.writer();
        writer.put(header(tag, time_ns));
        value.write_to(&mut writer);
        self.chunk_len = writer.len;
    }

    /// Appends a delivery: the fixed (source, target) header, then the message through its `Hash`. The same
    /// bytes as `record(TraceTag::Deliver, time_ns, &(source, target, message))`.
    #[inline]
    pub fn record_delivery<M: Hash + ?Sized>(&mut self, time_ns: u64, source: NodeId, target: NodeId, message: &M) {
        self.records += 1;
        let mut head = [0u8; 17];
        head[..9].copy_from_slice(&header(TraceTag::Deliver, time_ns));
        head[9..13].copy_from_slice(&source.0.to_le_bytes());
        head[13..].copy_from_slice(&target.0.to_le_bytes());
        let mut writer = self.writer();
        writer.put(head);
        message.hash(&mut writer);
        self.chunk_len = writer.len;
    }

    /// A writer that appends at the chunk's fill level; the caller stores its `len` back when done.
    #[inline(always)]
    fn writer(&mut self) -> TraceWriter<'_> {
        TraceWriter { chunk: &mut self.chunk, len: self.chunk_len, hasher: &mut self.hasher }
    }

    /// Number of records so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The digest of everything recorded so far, as 32 lowercase hex digits (128 bits).
    pub fn hex(&self) -> String {
        let mut hasher = self.hasher.clone();
        hasher.update(&self.chunk[..self.chunk_len]);
        hasher.update(&self.records.to_le_bytes());
        format!("{:032x}", hasher.digest128())
    }
}

/// A record's first bytes: its tag and its virtual time.
#[inline(always)]
fn header(tag: TraceTag, time_ns: u64) -> [u8; 9] {
    let mut bytes = [0u8; 9];
    bytes[0] = tag as u8;
    bytes[1..].copy_from_slice(&time_ns.to_le_bytes());
    bytes
}

/// A kernel record with a fixed layout: `write_to` appends exactly the bytes the value's `Hash` writes into
/// the trace (integers little-endian, `usize` as 64 bits), in one copy.
pub trait TraceRecord {
    /// Appends the record's bytes.
    fn write_to(&self, out: &mut TraceWriter<'_>);
}

impl TraceRecord for usize {
    #[inline]
    fn write_to(&self, out: &mut TraceWriter<'_>) {
        out.put((*self as u64).to_le_bytes());
    }
}

impl TraceRecord for (NodeId, u64) {
    #[inline]
    fn write_to(&self, out: &mut TraceWriter<'_>) {
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&self.0 .0.to_le_bytes());
        bytes[4..].copy_from_slice(&self.1.to_le_bytes());
        out.put(bytes);
    }
}

impl TraceRecord for (NodeId, u8) {
    #[inline]
    fn write_to(&self, out: &mut TraceWriter<'_>) {
        let mut bytes = [0u8; 5];
        bytes[..4].copy_from_slice(&self.0 .0.to_le_bytes());
        bytes[4] = self.1;
        out.put(bytes);
    }
}

/// A [`Hasher`] that only serializes into the trace: little-endian integers, 64-bit sizes.
pub struct TraceWriter<'a> {
    chunk: &'a mut [u8; CHUNK_BYTES],
    /// The chunk's fill level, held here (not in the [`Trace`]) so that it can live in a register: a store of
    /// bytes through `chunk` could otherwise overwrite it, as far as the compiler knows, and force a reload.
    len: usize,
    hasher: &'a mut Xxh3,
}

impl TraceWriter<'_> {
    /// Appends a fixed number of bytes, handing the chunk to the hasher first if they do not fit.
    #[inline(always)]
    fn put<const N: usize>(&mut self, bytes: [u8; N]) {
        let mut start = self.len;
        if start + N > CHUNK_BYTES {
            hash_chunk(self.hasher, &self.chunk[..start]);
            start = 0;
        }
        self.chunk[start..start + N].copy_from_slice(&bytes);
        self.len = start + N;
    }
}

/// Hands a full chunk to the hasher; out of line so that the writer's fill level never leaves a register.
#[cold]
#[inline(never)]
fn hash_chunk(hasher: &mut Xxh3, bytes: &[u8]) {
    hasher.update(bytes);
}

impl Hasher for TraceWriter<'_> {
    fn finish(&self) -> u64 {
        // Only the digest of the whole trace is meaningful.
        0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut start = self.len;
        if start + bytes.len() > CHUNK_BYTES {
            hash_chunk(self.hasher, &self.chunk[..start]);
            start = 0;
            if bytes.len() > CHUNK_BYTES {
                hash_chunk(self.hasher, bytes);
                self.len = 0;
                return;
            }
        }
        self.chunk[start..start + bytes.len()].copy_from_slice(bytes);
        self.len = start + bytes.len();
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.put([i]);
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.put(i.to_le_bytes());
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.put(i.to_le_bytes());
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.put(i.to_le_bytes());
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.put(i.to_le_bytes());
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

    /// The bytes recorded but not yet handed to the hasher.
    fn pending_bytes(trace: &Trace) -> Vec<u8> {
        trace.chunk[..trace.chunk_len].to_vec()
    }

    #[test]
    fn chunk_boundaries_do_not_change_the_digest() {
        // Records of uneven sizes cross many chunk boundaries, one write is larger than a chunk; the digest
        // must be that of the same bytes hashed in one piece.
        let mut trace = Trace::new();
        let mut bytes = Vec::new();
        let big = vec![7u8; CHUNK_BYTES + 3];
        for i in 0..40_000u64 {
            let value = (i, (i % 5) as u8, vec![i as u32; (i % 7) as usize]);
            trace.record(TraceTag::Deliver, i, &value);
            bytes.extend_from_slice(&hashed_bytes(TraceTag::Deliver, i, &value));
            if i == 20_000 {
                trace.record(TraceTag::Observation, i, big.as_slice());
                // Spelled out: `hashed_bytes` sees only what is still in the chunk.
                bytes.extend_from_slice(&header(TraceTag::Observation, i));
                bytes.extend_from_slice(&(big.len() as u64).to_le_bytes());
                bytes.extend_from_slice(&big);
            }
        }
        bytes.extend_from_slice(&trace.records().to_le_bytes());
        assert!(bytes.len() > 10 * CHUNK_BYTES);
        assert_eq!(trace.hex(), format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes)));
    }

    /// The bytes `record` writes for `value` through its `Hash`: the layout every stored trace hash was made with.
    fn hashed_bytes<T: Hash + ?Sized>(tag: TraceTag, time_ns: u64, value: &T) -> Vec<u8> {
        let mut trace = Trace::new();
        trace.record(tag, time_ns, value);
        pending_bytes(&trace)
    }

    fn fixed_bytes<R: TraceRecord>(tag: TraceTag, time_ns: u64, value: &R) -> Vec<u8> {
        let mut trace = Trace::new();
        trace.record_fixed(tag, time_ns, value);
        assert_eq!(trace.records(), 1);
        pending_bytes(&trace)
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
                pending_bytes(&delivery),
                hashed_bytes(TraceTag::Deliver, time_ns, &(node, NodeId(other), &message))
            );
        }
    }
}
