//! The trace hash: one stable digest of everything that happened in a run.
//!
//! Every delivered message, fired timer, fault and client observation is fed, in order, to a BLAKE3 hasher.
//! Values reach it through [`std::hash::Hash`], but with our own [`Hasher`] that writes integers
//! little-endian and sizes as 64 bits, so the digest is the same on every machine; std's `DefaultHasher`
//! promises no such thing across Rust releases. Bytes are buffered and handed to BLAKE3 in large chunks,
//! which is where it is fast.

use std::hash::{Hash, Hasher};

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

/// A running BLAKE3 digest of a run.
#[derive(Clone)]
pub struct Trace {
    hasher: blake3::Hasher,
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
        Trace { hasher: blake3::Hasher::new(), buffer: Vec::with_capacity(FLUSH_BYTES + 1024), records: 0 }
    }
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Trace {
        Trace::default()
    }

    /// Appends one record: its tag, its virtual time and the hashed value.
    pub fn record<T: Hash + ?Sized>(&mut self, tag: TraceTag, time_ns: u64, value: &T) {
        self.records += 1;
        self.buffer.push(tag as u8);
        self.buffer.extend_from_slice(&time_ns.to_le_bytes());
        value.hash(&mut TraceWriter { buffer: &mut self.buffer });
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
        let digest = hasher.finalize();
        digest.as_bytes()[..16].iter().map(|byte| format!("{byte:02x}")).collect()
    }

    fn flush(&mut self) {
        self.hasher.update(&self.buffer);
        self.buffer.clear();
    }
}

/// A [`Hasher`] that only serializes: little-endian integers, 64-bit sizes.
struct TraceWriter<'a> {
    buffer: &'a mut Vec<u8>,
}

impl Hasher for TraceWriter<'_> {
    fn finish(&self) -> u64 {
        // Only the BLAKE3 digest of the whole trace is meaningful.
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    fn write_u8(&mut self, i: u8) {
        self.buffer.push(i);
    }

    fn write_u16(&mut self, i: u16) {
        self.buffer.extend_from_slice(&i.to_le_bytes());
    }

    fn write_u32(&mut self, i: u32) {
        self.buffer.extend_from_slice(&i.to_le_bytes());
    }

    fn write_u64(&mut self, i: u64) {
        self.buffer.extend_from_slice(&i.to_le_bytes());
    }

    fn write_u128(&mut self, i: u128) {
        self.buffer.extend_from_slice(&i.to_le_bytes());
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    fn write_i8(&mut self, i: i8) {
        self.write_u8(i as u8);
    }

    fn write_i16(&mut self, i: i16) {
        self.write_u16(i as u16);
    }

    fn write_i32(&mut self, i: i32) {
        self.write_u32(i as u32);
    }

    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }

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

    const PINNED: &str = "8909d96ece715923be681f115a6c6c02";
}
