//! The leader role of a partition: it validates produce requests against the producer state and serves
//! fetches. The log it appends to is passed in, because the log is durable and the role is not: after a
//! crash the role is rebuilt from the log (and, with replication, may move to another broker).

use crate::log::PartitionLog;
use crate::producer_state::{AppendCheck, ProducerStateManager};
use crate::protocol::{ErrorCode, FetchData, RecordBatch};

/// What a produce did to the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProduceResult {
    /// Appended at this base offset.
    Appended(u64),
    /// A retry of a batch already in the log at this base offset.
    Duplicate(u64),
}

impl ProduceResult {
    /// The base offset to acknowledge either way.
    pub fn base_offset(self) -> u64 {
        match self {
            ProduceResult::Appended(offset) | ProduceResult::Duplicate(offset) => offset,
        }
    }
}

/// Leader duties for one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionLeader {
    producer_state: ProducerStateManager,
}

impl PartitionLeader {
    /// Takes over leadership of `log`, rebuilding producer state from it.
    pub fn load(log: &PartitionLog) -> PartitionLeader {
        PartitionLeader { producer_state: ProducerStateManager::rebuild(log) }
    }

    /// Validates and appends one batch.
    pub fn produce(&mut self, log: &mut PartitionLog, batch: RecordBatch) -> Result<ProduceResult, ErrorCode> {
        let record_count = batch.values.len() as u32;
        let Some(identity) = batch.producer else {
            return Ok(ProduceResult::Appended(log.append(batch)));
        };
        match self.producer_state.check(identity, record_count)? {
            AppendCheck::Duplicate { base_offset } => Ok(ProduceResult::Duplicate(base_offset)),
            AppendCheck::Append => {
                let base_offset = log.append(batch);
                self.producer_state.update(identity, record_count, base_offset);
                Ok(ProduceResult::Appended(base_offset))
            }
        }
    }

    /// Records from `offset` on, up to the high watermark (the log end: every append is committed while
    /// partitions have a single replica).
    pub fn fetch(&self, log: &PartitionLog, offset: u64, max_records: u32) -> Result<FetchData, ErrorCode> {
        let high_watermark = log.end_offset();
        if offset > high_watermark {
            return Err(ErrorCode::OffsetOutOfRange);
        }
        Ok(FetchData { records: log.read(offset, max_records), high_watermark })
    }

    /// The producer state, for tests and coverage.
    pub fn producer_state(&self) -> &ProducerStateManager {
        &self.producer_state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ProducerIdentity;

    #[test]
    fn a_reloaded_leader_still_deduplicates() {
        let mut log = PartitionLog::new();
        let mut leader = PartitionLeader::load(&log);
        let identity = ProducerIdentity { producer_id: 4, epoch: 0, base_sequence: 0 };
        let batch = RecordBatch { producer: Some(identity), values: vec![7, 8] };
        assert_eq!(leader.produce(&mut log, batch.clone()), Ok(ProduceResult::Appended(0)));
        // The broker crashes and reloads; the retry of the same batch must get the original offset.
        let mut reloaded = PartitionLeader::load(&log);
        assert_eq!(reloaded.produce(&mut log, batch), Ok(ProduceResult::Duplicate(0)));
        assert_eq!(log.end_offset(), 2);
    }

    #[test]
    fn plain_batches_always_append() {
        let mut log = PartitionLog::new();
        let mut leader = PartitionLeader::load(&log);
        let batch = RecordBatch { producer: None, values: vec![1] };
        assert_eq!(leader.produce(&mut log, batch.clone()), Ok(ProduceResult::Appended(0)));
        assert_eq!(leader.produce(&mut log, batch), Ok(ProduceResult::Appended(1)));
    }

    #[test]
    fn fetch_past_the_end_is_out_of_range() {
        let log = PartitionLog::new();
        let leader = PartitionLeader::load(&log);
        assert_eq!(leader.fetch(&log, 0, 10), Ok(FetchData { records: vec![], high_watermark: 0 }));
        assert_eq!(leader.fetch(&log, 1, 10), Err(ErrorCode::OffsetOutOfRange));
    }
}
