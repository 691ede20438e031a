//! A partition replica's log: record batches at increasing offsets, each stamped with the leader epoch it
//! was written in. This is the durable part of a replica; the leader and follower roles live in
//! `replica.rs`.
//!
//! The log starts at its log start offset: retention (`deleteRetentionMsBreachedSegments`) and a follower
//! following its leader (`maybeIncrementLogStartOffset`) move it up, deleting whole batches below it. Kafka
//! deletes whole segments; here a segment is the batches whose base offset falls in one block of
//! `segment_messages` offsets, which keeps the rule (oldest segments first, never the active one) without
//! modelling segment files.
//!
//! Only the flushed prefix survives a crash. How often the log is flushed is a scenario setting
//! (`flush_messages`, like Kafka's `log.flush.interval.messages`): Kafka's default never forces a flush and
//! relies on replication, so a broker that loses power loses its unflushed tail.

use std::rc::Rc;

use crate::protocol::{DivergingEpoch, FetchedBatch, RecordBatch, ReplicatedBatch};

/// A batch as stored.
pub type StoredBatch = ReplicatedBatch;

impl ReplicatedBatch {
    /// Offset of the last record.
    pub fn last_offset(&self) -> u64 {
        self.base_offset + u64::from(self.batch.record_count()) - 1
    }

    /// Offset after the last record.
    pub fn next_offset(&self) -> u64 {
        self.base_offset + u64::from(self.batch.record_count())
    }
}

/// A stored batch as a fetch response carries it to a consumer: a control batch keeps its one offset with a
/// placeholder value, so offsets and values line up.
fn fetched_batch(stored: &StoredBatch) -> FetchedBatch {
    assert!(stored.batch.internal.is_none(), "consumers read user partitions only");
    let values = if stored.batch.control.is_some() { Rc::from([0]) } else { Rc::clone(&stored.batch.values) };
    assert_eq!(values.len() as u32, stored.batch.record_count());
    FetchedBatch {
        base_offset: stored.base_offset,
        producer_id: stored.batch.producer.map(|identity| identity.producer_id),
        transactional: stored.batch.transactional,
        control: stored.batch.control,
        values,
    }
}

/// The data records of fetched batches from `offset` on, as (offset, value): what a read_uncommitted
/// consumer takes, for tests.
#[cfg(test)]
pub(crate) fn data_records(batches: &[FetchedBatch], offset: u64) -> Vec<(u64, i64)> {
    let data = batches.iter().filter(|batch| batch.control.is_none());
    let records = data.flat_map(|batch| (batch.base_offset..).zip(batch.values.iter().copied()));
    records.filter(|(record_offset, _)| *record_offset >= offset).collect()
}

/// The batches of one partition replica.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionLog {
    batches: Vec<StoredBatch>,
    /// The log start offset: reads below it are OFFSET_OUT_OF_RANGE.
    start_offset: u64,
    end_offset: u64,
    /// Offsets below this are on disk.
    flushed_offset: u64,
}

impl PartitionLog {
    /// An empty log.
    pub fn new() -> PartitionLog {
        PartitionLog::default()
    }

    /// Appends a batch written in `leader_epoch` at `append_time_ns` at the end; returns its base offset.
    pub fn append(&mut self, batch: RecordBatch, leader_epoch: u32, append_time_ns: u64) -> u64 {
        assert!(batch.record_count() > 0, "an empty batch has no offsets");
        let base_offset = self.end_offset;
        self.append_replicated(ReplicatedBatch { base_offset, leader_epoch, batch, append_time_ns });
        base_offset
    }

    /// Appends a batch copied from the leader; it must start at this log's end.
    pub fn append_replicated(&mut self, stored: StoredBatch) {
        assert_eq!(stored.base_offset, self.end_offset, "replicated batches extend the log exactly");
        assert!(
            self.batches.last().is_none_or(|last| last.leader_epoch <= stored.leader_epoch),
            "leader epochs never decrease along a log"
        );
        self.end_offset = stored.next_offset();
        self.batches.push(stored);
    }

    /// The offset the next record will get (the log end offset, LEO).
    pub fn end_offset(&self) -> u64 {
        self.end_offset
    }

    /// The log start offset (LSO in Kafka's code is the last stable offset; this one is `logStartOffset`).
    pub fn start_offset(&self) -> u64 {
        self.start_offset
    }

    /// Kafka's `maybeIncrementLogStartOffset`: moves the log start offset up to `offset` (never past the end)
    /// and deletes the batches wholly below it. Deletion is durable at once, as deleting segment files is.
    /// Returns true if the start moved.
    ///
    /// Nearly every call (one per fetch answer a follower applies) finds the start already there, so that test
    /// is inlined into the caller and only a deletion pays for a call.
    #[inline]
    pub fn increment_start_offset(&mut self, offset: u64) -> bool {
        let offset = offset.min(self.end_offset);
        if offset <= self.start_offset {
            return false;
        }
        self.delete_below(offset);
        true
    }

    /// The deletion of [`PartitionLog::increment_start_offset`]: the start moves up to `offset`, past the
    /// current start and not past the end, and the batches wholly below it go.
    #[inline(never)]
    fn delete_below(&mut self, offset: u64) {
        assert!(offset > self.start_offset, "the start only moves up");
        assert!(offset <= self.end_offset, "the start never passes the end");
        let deleted = self.batches.partition_point(|stored| stored.next_offset() <= offset);
        self.batches.drain(..deleted);
        self.start_offset = offset;
        self.flushed_offset = self.flushed_offset.max(offset);
        assert!(self.batches.first().is_none_or(|first| first.next_offset() > offset));
    }

    /// Kafka's `truncateFullyAndStartAt`: a follower whose log ends below its leader's log start offset drops
    /// everything and starts empty at that offset.
    pub fn truncate_fully_and_start_at(&mut self, offset: u64) {
        self.batches.clear();
        self.start_offset = offset;
        self.end_offset = offset;
        self.flushed_offset = offset;
    }

    /// Where time retention moves the log start offset (Kafka's `deleteRetentionMsBreachedSegments` over
    /// `deletableSegments`): past each oldest segment whose newest batch is at least `retention_ns` old, while
    /// the whole segment is below the high watermark and is not the active (last) segment. Stops at the first
    /// segment that must stay, as Kafka does.
    pub fn retention_start_offset(
        &self,
        now_ns: u64,
        retention_ns: u64,
        segment_messages: u64,
        high_watermark: u64,
    ) -> u64 {
        assert!(segment_messages > 0, "a segment holds at least one offset");
        let segment_of = |stored: &StoredBatch| stored.base_offset / segment_messages;
        let mut start = self.start_offset;
        let mut first = 0;
        while first < self.batches.len() {
            let segment = segment_of(&self.batches[first]);
            let next = first + self.batches[first..].partition_point(|stored| segment_of(stored) == segment);
            let Some(next_segment) = self.batches.get(next) else { break };
            let newest_ns = self.batches[first..next].iter().map(|stored| stored.append_time_ns).max();
            let expired = newest_ns.is_some_and(|newest_ns| now_ns.saturating_sub(newest_ns) >= retention_ns);
            if !expired || next_segment.base_offset > high_watermark {
                break;
            }
            start = next_segment.base_offset;
            first = next;
        }
        start
    }

    /// Offsets below this survive a crash.
    pub fn flushed_offset(&self) -> u64 {
        self.flushed_offset
    }

    /// Every stored batch, in offset order.
    pub fn batches(&self) -> &[StoredBatch] {
        &self.batches
    }

    /// Batches from `offset` on (whole batches, the first one may start before `offset`), at most
    /// `max_records` records in all but at least one batch.
    #[inline]
    pub fn batches_from(&self, offset: u64, max_records: u32) -> Vec<StoredBatch> {
        // A caught-up follower's fetch, most fetches, needs no search, and this test is inlined into the
        // caller so that it needs no call either.
        if offset >= self.end_offset {
            return Vec::new();
        }
        self.copy_batches_from(offset, max_records)
    }

    /// [`PartitionLog::batches_from`] for an `offset` below the log end: the search and the copies.
    #[inline(never)]
    fn copy_batches_from(&self, offset: u64, max_records: u32) -> Vec<StoredBatch> {
        assert!(offset < self.end_offset, "a read at the log end finds nothing to copy");
        let first = self.batches.partition_point(|stored| stored.next_offset() <= offset);
        // Measured first, then copied into a vector of that size: a follower catching up copies dozens.
        let mut records = 0u32;
        let mut end = first;
        for stored in &self.batches[first..] {
            if end > first && records + stored.batch.record_count() > max_records {
                break;
            }
            records += stored.batch.record_count();
            end += 1;
        }
        self.batches[first..end].to_vec()
    }

    /// A consumer's read (Kafka's `UnifiedLog.read` up to `maxOffset`): whole batches from the one holding
    /// `offset` on, each wholly below `limit_offset` (the HW or the LSO, which fall between batches), control
    /// batches included, at most `max_records` records in all but at least one batch. Nothing is filtered
    /// here: a read_committed consumer drops aborted transactions itself (`client::fetch`).
    pub fn read(&self, offset: u64, limit_offset: u64, max_records: u32) -> Vec<FetchedBatch> {
        let mut batches = Vec::new();
        for stored in self.batches_from(offset, max_records) {
            if stored.next_offset() > limit_offset {
                break;
            }
            batches.push(fetched_batch(&stored));
        }
        assert!(batches.iter().all(|batch| batch.last_offset() < limit_offset));
        assert!(batches.first().is_none_or(|first| first.base_offset <= offset && first.last_offset() >= offset));
        batches
    }

    /// Leader epoch of the last batch.
    pub fn last_epoch(&self) -> Option<u32> {
        self.batches.last().map(|stored| stored.leader_epoch)
    }

    /// The largest epoch at or below `epoch` in this log and the offset where it ends (the start of the next
    /// epoch, or the log end): what Kafka's OffsetsForLeaderEpoch answers. `(0, 0)` if no such epoch.
    /// Inlined: a leader asks it for every partition of every follower fetch.
    #[inline]
    pub fn epoch_end_offset(&self, epoch: u32) -> DivergingEpoch {
        // A follower that copied the leader's latest epoch, most fetches, needs no search.
        if let Some(last) = self.batches.last().filter(|last| last.leader_epoch <= epoch) {
            return DivergingEpoch { epoch: last.leader_epoch, end_offset: self.end_offset };
        }
        let after = self.batches.partition_point(|stored| stored.leader_epoch <= epoch);
        let Some(found) = after.checked_sub(1).map(|index| self.batches[index].leader_epoch) else {
            return DivergingEpoch { epoch: 0, end_offset: 0 };
        };
        let end_offset = self.batches.get(after).map_or(self.end_offset, |next| next.base_offset);
        DivergingEpoch { epoch: found, end_offset }
    }

    /// Drops every batch at or after `offset`, which must be a batch boundary or past the end.
    pub fn truncate_to(&mut self, offset: u64) {
        if offset >= self.end_offset {
            return;
        }
        let keep = self.batches.partition_point(|stored| stored.base_offset < offset);
        assert!(
            keep == 0 || self.batches[keep - 1].next_offset() == offset,
            "truncation at offset {offset} would split a batch"
        );
        self.batches.truncate(keep);
        self.end_offset = offset;
        self.flushed_offset = self.flushed_offset.min(offset);
        // Kafka's `truncateTo` below the log start offset truncates fully and starts there.
        self.start_offset = self.start_offset.min(offset);
    }

    /// Writes everything appended so far to disk.
    pub fn flush(&mut self) {
        self.flushed_offset = self.end_offset;
    }

    /// What a crash leaves: the flushed prefix. Truncation is at a batch boundary because flushes are.
    pub fn recover_after_crash(&mut self) {
        let flushed = self.flushed_offset;
        self.truncate_to(flushed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(values: &[i64]) -> RecordBatch {
        RecordBatch::data(None, false, values.to_vec())
    }

    #[test]
    fn appends_get_consecutive_offsets() {
        let mut log = PartitionLog::new();
        assert_eq!(log.append(batch(&[10, 11]), 0, 0), 0);
        assert_eq!(log.append(batch(&[12]), 0, 0), 2);
        assert_eq!(log.end_offset(), 3);
        assert_eq!(log.batches()[1].last_offset(), 2);
    }

    #[test]
    fn reads_start_inside_a_batch_and_stop_at_the_limits() {
        let mut log = PartitionLog::new();
        log.append(batch(&[10, 11, 12]), 0, 0);
        log.append(batch(&[13, 14]), 0, 0);
        let read = |offset, limit, max| data_records(&log.read(offset, limit, max), offset);
        assert_eq!(read(1, 5, 10), vec![(1, 11), (2, 12), (3, 13), (4, 14)]);
        assert_eq!(read(3, 5, 1), vec![(3, 13), (4, 14)], "at least one whole batch");
        assert_eq!(read(1, 5, 4), vec![(1, 11), (2, 12)], "the next batch would pass max_records");
        assert_eq!(read(1, 3, 10), vec![(1, 11), (2, 12)], "stops at the limit offset (the HW)");
        assert_eq!(read(1, 4, 10), vec![(1, 11), (2, 12)], "never a batch the limit cuts");
        assert_eq!(read(5, 5, 10), vec![]);
        assert_eq!(log.read(4, 5, 10)[0].base_offset, 3, "the batch holding the fetch offset comes whole");
    }

    #[test]
    fn epoch_end_offsets() {
        // Offsets 0-1 in epoch 0, 2 in epoch 2, 3-4 in epoch 5.
        let mut log = PartitionLog::new();
        log.append(batch(&[1, 2]), 0, 0);
        log.append(batch(&[3]), 2, 0);
        log.append(batch(&[4, 5]), 5, 0);
        assert_eq!(log.epoch_end_offset(0), DivergingEpoch { epoch: 0, end_offset: 2 });
        assert_eq!(log.epoch_end_offset(1), DivergingEpoch { epoch: 0, end_offset: 2 });
        assert_eq!(log.epoch_end_offset(2), DivergingEpoch { epoch: 2, end_offset: 3 });
        assert_eq!(log.epoch_end_offset(4), DivergingEpoch { epoch: 2, end_offset: 3 });
        assert_eq!(log.epoch_end_offset(9), DivergingEpoch { epoch: 5, end_offset: 5 });
        assert_eq!(PartitionLog::new().epoch_end_offset(3), DivergingEpoch { epoch: 0, end_offset: 0 });
    }

    #[test]
    fn a_crash_keeps_only_the_flushed_prefix() {
        let mut log = PartitionLog::new();
        log.append(batch(&[1, 2]), 0, 0);
        log.flush();
        log.append(batch(&[3]), 0, 0);
        assert_eq!(log.flushed_offset(), 2);
        log.recover_after_crash();
        assert_eq!(log.end_offset(), 2);
        assert_eq!(data_records(&log.read(0, 10, 10), 0), vec![(0, 1), (1, 2)]);
    }

    #[test]
    fn truncation_drops_whole_batches() {
        let mut log = PartitionLog::new();
        log.append(batch(&[1, 2]), 0, 0);
        log.append(batch(&[3]), 1, 0);
        log.flush();
        log.truncate_to(2);
        assert_eq!(log.end_offset(), 2);
        assert_eq!(log.flushed_offset(), 2);
        assert_eq!(log.last_epoch(), Some(0));
        log.truncate_to(7);
        assert_eq!(log.end_offset(), 2, "truncating past the end changes nothing");
    }

    #[test]
    fn batches_from_returns_whole_batches() {
        let mut log = PartitionLog::new();
        log.append(batch(&[1, 2, 3]), 0, 0);
        log.append(batch(&[4]), 0, 0);
        assert_eq!(log.batches_from(1, 100).len(), 2);
        assert_eq!(log.batches_from(3, 100)[0].base_offset, 3);
        assert_eq!(log.batches_from(0, 1).len(), 1, "at least one batch even above the limit");
        assert!(log.batches_from(4, 100).is_empty());
    }

    /// Four one-record batches appended at 0, 10, 20 and 30 ms; segments of two offsets: {0, 1}, {2, 3}.
    fn aged_log() -> PartitionLog {
        let mut log = PartitionLog::new();
        for (value, time_ms) in [(1, 0), (2, 10), (3, 20), (4, 30)] {
            log.append(batch(&[value]), 0, time_ms * 1_000_000);
        }
        log
    }

    #[test]
    fn delete_retention_ms_breached_segments_deletes_old_segments_below_the_high_watermark() {
        let log = aged_log();
        let ms = 1_000_000;
        // At 35 ms with 20 ms retention, segment {0, 1} (newest at 10 ms) is breached, {2, 3} (30 ms) is not.
        assert_eq!(log.retention_start_offset(35 * ms, 20 * ms, 2, 4), 2);
        // Segment {2, 3} is the active one: never deleted, however old.
        assert_eq!(log.retention_start_offset(500 * ms, 20 * ms, 2, 4), 2);
        // The high watermark at 1: segment {0, 1} is not wholly replicated yet.
        assert_eq!(log.retention_start_offset(35 * ms, 20 * ms, 2, 1), 0);
        // Nothing old enough.
        assert_eq!(log.retention_start_offset(25 * ms, 20 * ms, 2, 4), 0);
    }

    #[test]
    fn maybe_increment_log_start_offset_deletes_whole_batches_below_it() {
        let mut log = PartitionLog::new();
        log.append(batch(&[1, 2]), 0, 0);
        log.append(batch(&[3]), 0, 0);
        assert!(log.increment_start_offset(1), "a start inside a batch (DeleteRecords) keeps the batch");
        assert_eq!(log.batches().len(), 2);
        assert_eq!(data_records(&log.read(1, 3, 10), 1), vec![(1, 2), (2, 3)]);
        assert!(log.increment_start_offset(2));
        assert_eq!(log.batches().len(), 1);
        assert_eq!(log.flushed_offset(), 2, "deleted segments stay deleted after a crash");
        assert!(!log.increment_start_offset(1), "the log start offset never goes back");
        log.recover_after_crash();
        assert_eq!((log.start_offset(), log.end_offset()), (2, 2));
        log.truncate_fully_and_start_at(7);
        assert_eq!((log.start_offset(), log.end_offset(), log.batches().len()), (7, 7, 0));
        assert_eq!(log.append(batch(&[8]), 0, 0), 7);
    }

    proptest::proptest! {
        /// The searches' shortcuts for a caught-up follower (a fetch at the log end, an epoch at or past the
        /// last one) answer what a walk over every batch answers, on any log, truncated or not.
        #[test]
        fn shortcuts_agree_with_a_walk_over_the_log(
            batches in proptest::collection::vec((1usize..4, 0u32..3), 0..12),
            truncate_fully_at in proptest::option::of(0u64..40),
            offset in 0u64..45,
            epoch in 0u32..30,
        ) {
            let mut log = PartitionLog::new();
            let mut leader_epoch = 0;
            for (records, epoch_step) in batches {
                leader_epoch += epoch_step;
                log.append(batch(&vec![1; records]), leader_epoch, 0);
            }
            if let Some(at) = truncate_fully_at.filter(|at| *at >= log.end_offset()) {
                log.truncate_fully_and_start_at(at);
            }
            let expected: Vec<u64> =
                log.batches().iter().filter(|b| b.next_offset() > offset).map(|b| b.base_offset).take(1).collect();
            let found: Vec<u64> = log.batches_from(offset, 1).iter().map(|b| b.base_offset).collect();
            proptest::prop_assert_eq!(found, expected);
            let walked = log.batches().iter().enumerate().filter(|(_, b)| b.leader_epoch <= epoch).fold(None, |_, found| Some(found)).map(
                |(index, b)| DivergingEpoch {
                    epoch: b.leader_epoch,
                    end_offset: log.batches().get(index + 1).map_or(log.end_offset(), |next| next.base_offset),
                },
            );
            let walked = walked.unwrap_or(DivergingEpoch { epoch: 0, end_offset: 0 });
            proptest::prop_assert_eq!(log.epoch_end_offset(epoch), walked);
        }
    }
}
