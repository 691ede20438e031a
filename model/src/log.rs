//! A partition's log: record batches at increasing offsets. This is the durable part of a partition; the
//! leader role (producer state, request handling) lives in `partition.rs`, so replication can add
//! followers that hold the same log without the leader's duties.

use crate::protocol::RecordBatch;

/// A batch as stored, with the offset of its first record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBatch {
    /// Offset of the first record.
    pub base_offset: u64,
    /// The batch as the producer sent it.
    pub batch: RecordBatch,
}

impl StoredBatch {
    /// Offset of the last record.
    pub fn last_offset(&self) -> u64 {
        self.base_offset + self.batch.values.len() as u64 - 1
    }
}

/// The batches of one partition. In this model every append is flushed, so the whole log survives a crash.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionLog {
    batches: Vec<StoredBatch>,
    end_offset: u64,
}

impl PartitionLog {
    /// An empty log.
    pub fn new() -> PartitionLog {
        PartitionLog::default()
    }

    /// Appends a batch at the end; returns its base offset.
    pub fn append(&mut self, batch: RecordBatch) -> u64 {
        assert!(!batch.values.is_empty(), "an empty batch has no offsets");
        let base_offset = self.end_offset;
        self.end_offset += batch.values.len() as u64;
        self.batches.push(StoredBatch { base_offset, batch });
        base_offset
    }

    /// The offset the next record will get.
    pub fn end_offset(&self) -> u64 {
        self.end_offset
    }

    /// Every stored batch, in offset order.
    pub fn batches(&self) -> &[StoredBatch] {
        &self.batches
    }

    /// Up to `max_records` records from `offset` on, as (offset, value).
    pub fn read(&self, offset: u64, max_records: u32) -> Vec<(u64, i64)> {
        // The batch holding `offset` is the last one starting at or before it.
        let first = self.batches.partition_point(|stored| stored.base_offset <= offset).saturating_sub(1);
        let mut records = Vec::new();
        for stored in &self.batches[first..] {
            for (i, value) in stored.batch.values.iter().enumerate() {
                let record_offset = stored.base_offset + i as u64;
                if record_offset < offset {
                    continue;
                }
                if records.len() == max_records as usize {
                    return records;
                }
                records.push((record_offset, *value));
            }
        }
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(values: &[i64]) -> RecordBatch {
        RecordBatch { producer: None, values: values.to_vec() }
    }

    #[test]
    fn appends_get_consecutive_offsets() {
        let mut log = PartitionLog::new();
        assert_eq!(log.append(batch(&[10, 11])), 0);
        assert_eq!(log.append(batch(&[12])), 2);
        assert_eq!(log.end_offset(), 3);
        assert_eq!(log.batches()[1].last_offset(), 2);
    }

    #[test]
    fn reads_start_inside_a_batch_and_stop_at_the_limit() {
        let mut log = PartitionLog::new();
        log.append(batch(&[10, 11, 12]));
        log.append(batch(&[13, 14]));
        assert_eq!(log.read(1, 10), vec![(1, 11), (2, 12), (3, 13), (4, 14)]);
        assert_eq!(log.read(3, 1), vec![(3, 13)]);
        assert_eq!(log.read(5, 10), vec![]);
        assert_eq!(log.read(0, 0), vec![]);
    }
}
