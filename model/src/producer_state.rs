//! Broker-side idempotence: per partition, per producer id, the epoch and the last five batches.
//!
//! The rules, in the order a Kafka broker applies them (`UnifiedLog.analyzeAndValidateProducerState`,
//! `ProducerAppendInfo`):
//!
//! 1. duplicate check first: same epoch and the exact (first, last) sequence of one of the last five
//!    batches → success with the ORIGINAL offsets, nothing appended;
//! 2. an older epoch → INVALID_PRODUCER_EPOCH;
//! 3. a newer epoch must start at sequence 0, the same epoch at last sequence + 1, else
//!    OUT_OF_ORDER_SEQUENCE (an old duplicate no longer in the cache lands here too);
//! 4. a producer id with no state at all is accepted at any sequence: the path through which lost
//!    producer state silently lets a duplicate in.
//!
//! Rebuilding from the log replays every batch through [`ProducerStateManager::update`], so a broker that
//! restarts with its whole log (this model flushes every append) has the same five batches as before.

use crate::log::PartitionLog;
use crate::protocol::{ErrorCode, ProducerIdentity};
use std::collections::{BTreeMap, VecDeque};

/// How many recent batches per producer the broker remembers for duplicate detection.
pub const DUPLICATE_WINDOW_BATCHES: usize = 5;

/// One remembered batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchMetadata {
    /// Sequence of its first record.
    pub first_sequence: u32,
    /// Sequence of its last record.
    pub last_sequence: u32,
    /// Offset of its first record.
    pub base_offset: u64,
}

/// What the partition knows of one producer id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerEntry {
    /// Latest epoch seen.
    pub epoch: u16,
    /// The last batches, oldest first, at most [`DUPLICATE_WINDOW_BATCHES`].
    pub batches: VecDeque<BatchMetadata>,
}

impl ProducerEntry {
    /// Sequence of the last record appended.
    pub fn last_sequence(&self) -> Option<u32> {
        self.batches.back().map(|batch| batch.last_sequence)
    }
}

/// The verdict on an incoming idempotent batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendCheck {
    /// Append it.
    Append,
    /// Already in the log at this base offset: answer success, append nothing.
    Duplicate {
        /// Offset of the original's first record.
        base_offset: u64,
    },
}

/// Producer state of one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerStateManager {
    entries: BTreeMap<u64, ProducerEntry>,
}

impl ProducerStateManager {
    /// No producer known.
    pub fn new() -> ProducerStateManager {
        ProducerStateManager::default()
    }

    /// Rebuilds the state by replaying every idempotent batch of `log`.
    pub fn rebuild(log: &PartitionLog) -> ProducerStateManager {
        let mut state = ProducerStateManager::new();
        for stored in log.batches() {
            if let Some(identity) = stored.batch.producer {
                state.update(identity, stored.batch.values.len() as u32, stored.base_offset);
            }
        }
        state
    }

    /// What the partition knows of `producer_id`.
    pub fn entry(&self, producer_id: u64) -> Option<&ProducerEntry> {
        self.entries.get(&producer_id)
    }

    /// Validates a batch of `record_count` records from `identity` against the rules above.
    pub fn check(&self, identity: ProducerIdentity, record_count: u32) -> Result<AppendCheck, ErrorCode> {
        assert!(record_count > 0, "an empty batch has no sequence");
        let Some(entry) = self.entries.get(&identity.producer_id) else {
            return Ok(AppendCheck::Append);
        };
        let first_sequence = identity.base_sequence;
        let last_sequence = first_sequence + record_count - 1;
        if identity.epoch == entry.epoch {
            let duplicate = entry
                .batches
                .iter()
                .find(|batch| batch.first_sequence == first_sequence && batch.last_sequence == last_sequence);
            if let Some(batch) = duplicate {
                return Ok(AppendCheck::Duplicate { base_offset: batch.base_offset });
            }
        }
        if identity.epoch < entry.epoch {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        let expected = if identity.epoch > entry.epoch { 0 } else { entry.last_sequence().map_or(0, |last| last + 1) };
        if first_sequence != expected {
            return Err(ErrorCode::OutOfOrderSequence);
        }
        Ok(AppendCheck::Append)
    }

    /// Records an appended batch; a new epoch clears the remembered batches.
    pub fn update(&mut self, identity: ProducerIdentity, record_count: u32, base_offset: u64) {
        let entry = self
            .entries
            .entry(identity.producer_id)
            .or_insert(ProducerEntry { epoch: identity.epoch, batches: VecDeque::new() });
        assert!(identity.epoch >= entry.epoch, "an older epoch never reaches update");
        if identity.epoch > entry.epoch {
            entry.epoch = identity.epoch;
            entry.batches.clear();
        }
        let metadata = BatchMetadata {
            first_sequence: identity.base_sequence,
            last_sequence: identity.base_sequence + record_count - 1,
            base_offset,
        };
        entry.batches.push_back(metadata);
        if entry.batches.len() > DUPLICATE_WINDOW_BATCHES {
            entry.batches.pop_front();
        }
        assert!(entry.batches.len() <= DUPLICATE_WINDOW_BATCHES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RecordBatch;

    fn id(producer_id: u64, epoch: u16, base_sequence: u32) -> ProducerIdentity {
        ProducerIdentity { producer_id, epoch, base_sequence }
    }

    /// Appends through check + update as the leader does; returns the check's verdict.
    fn produce(
        state: &mut ProducerStateManager,
        log: &mut PartitionLog,
        identity: ProducerIdentity,
        n: u32,
    ) -> Result<AppendCheck, ErrorCode> {
        let verdict = state.check(identity, n)?;
        if verdict == AppendCheck::Append {
            let values = (0..n).map(|i| i64::from(identity.base_sequence + i)).collect();
            let base_offset = log.append(RecordBatch { producer: Some(identity), values });
            state.update(identity, n, base_offset);
        }
        Ok(verdict)
    }

    #[test]
    fn in_order_batches_append_and_a_retry_is_a_duplicate_with_the_original_offset() {
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        assert_eq!(produce(&mut state, &mut log, id(1, 0, 0), 2), Ok(AppendCheck::Append));
        assert_eq!(produce(&mut state, &mut log, id(1, 0, 2), 3), Ok(AppendCheck::Append));
        // The ack of the second batch was lost; its retry must not append again.
        assert_eq!(produce(&mut state, &mut log, id(1, 0, 2), 3), Ok(AppendCheck::Duplicate { base_offset: 2 }));
        assert_eq!(log.end_offset(), 5);
    }

    #[test]
    fn a_gap_is_out_of_order() {
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        produce(&mut state, &mut log, id(1, 0, 0), 1).unwrap();
        assert_eq!(produce(&mut state, &mut log, id(1, 0, 2), 1), Err(ErrorCode::OutOfOrderSequence));
        assert_eq!(log.end_offset(), 1);
    }

    #[test]
    fn the_duplicate_window_is_five_batches() {
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        for sequence in 0..6 {
            produce(&mut state, &mut log, id(1, 0, sequence), 1).unwrap();
        }
        // Batch 0 fell out of the window: its retry is out of order, not a duplicate.
        assert_eq!(produce(&mut state, &mut log, id(1, 0, 0), 1), Err(ErrorCode::OutOfOrderSequence));
        assert_eq!(produce(&mut state, &mut log, id(1, 0, 1), 1), Ok(AppendCheck::Duplicate { base_offset: 1 }));
    }

    #[test]
    fn epochs_fence_and_reset_sequences() {
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        produce(&mut state, &mut log, id(1, 3, 0), 1).unwrap();
        assert_eq!(produce(&mut state, &mut log, id(1, 2, 1), 1), Err(ErrorCode::InvalidProducerEpoch));
        assert_eq!(produce(&mut state, &mut log, id(1, 4, 5), 1), Err(ErrorCode::OutOfOrderSequence));
        assert_eq!(produce(&mut state, &mut log, id(1, 4, 0), 1), Ok(AppendCheck::Append));
        // The new epoch cleared the cache: epoch 3's batch is no longer a duplicate but a fenced epoch.
        assert_eq!(produce(&mut state, &mut log, id(1, 3, 0), 1), Err(ErrorCode::InvalidProducerEpoch));
    }

    #[test]
    fn an_unknown_producer_is_accepted_at_any_sequence() {
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        assert_eq!(produce(&mut state, &mut log, id(9, 0, 42), 1), Ok(AppendCheck::Append));
        assert_eq!(state.entry(9).unwrap().last_sequence(), Some(42));
    }

    #[test]
    fn rebuild_from_the_log_restores_the_window() {
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        for sequence in 0..7 {
            produce(&mut state, &mut log, id(1, 0, sequence), 1).unwrap();
        }
        log.append(RecordBatch { producer: None, values: vec![100] });
        let rebuilt = ProducerStateManager::rebuild(&log);
        assert_eq!(rebuilt, state);
        assert_eq!(rebuilt.check(id(1, 0, 6), 1), Ok(AppendCheck::Duplicate { base_offset: 6 }));
        assert_eq!(rebuilt.check(id(1, 0, 7), 1), Ok(AppendCheck::Append));
    }
}
