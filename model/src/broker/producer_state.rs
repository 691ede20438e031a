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
//!    producer state silently lets a duplicate in (KIP-360, Kafka 2.5+). A broker before KIP-360 (Kafka
//!    0.11–2.4, `kip360_producer_state = false`) answers UNKNOWN_PRODUCER_ID there instead, unless the batch
//!    starts at sequence 0, and also when the producer's epoch is known but no sequence is (only a marker
//!    of it is left).
//!
//! Producer state also goes away (the lifecycle `ProducerStateManager` runs):
//! - `removeExpiredProducers`: a producer idle for `producer.id.expiration.ms` since its last batch or marker
//!   (KAFKA-9144: markers refresh the timestamp) is forgotten, unless its transaction is open;
//! - `onLogStartOffsetIncremented`: since KAFKA-7190 (Kafka 2.5) the log start offset moving up forgets only
//!   the completed transactions below it; before, `truncateHead` also evicted every producer whose last
//!   batch is below it (KAFKA-5793), which the model does with `kip360_producer_state = false`;
//! - a reload after a crash keeps only what the newest snapshot and the log after it hold.
//!
//! Rebuilding replays the log through [`ProducerStateManager::update`] from the last snapshot. A snapshot
//! keeps only the LAST batch of each producer, as Kafka's do, so after a reload the duplicate window holds
//! one batch plus whatever the log replays after the snapshot: a retry of an older batch then gets
//! OUT_OF_ORDER_SEQUENCE instead of its original offsets. Followers apply the same updates while they
//! replicate (without the checks), so a new leader already knows every producer.

use crate::broker::log::PartitionLog;
use crate::protocol::{ControlMarker, ErrorCode, ProducerIdentity};
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
    /// Offset of the first batch of the producer's open transaction on this partition, until its marker.
    pub current_txn_first_offset: Option<u64>,
    /// The newest coordinator epoch whose marker reached this partition: older coordinators are fenced.
    pub coordinator_epoch: u32,
    /// Append time of its last batch or marker (Kafka's `lastTimestamp`), from which it expires.
    pub last_timestamp_ns: u64,
    /// Append time of its last data batch or offset commit at its current epoch: before KAFKA-9144 Kafka's
    /// `lastTimestamp` was the newest remembered batch's, none once a new epoch cleared them.
    pub last_data_timestamp_ns: Option<u64>,
}

/// An aborted transaction as the partition's aborted-transaction index records it: read_committed
/// consumers skip this producer's records between the two offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbortedTxn {
    /// The producer.
    pub producer_id: u64,
    /// First offset of the transaction on this partition.
    pub first_offset: u64,
    /// Offset of its ABORT marker.
    pub last_offset: u64,
}

impl AbortedTxn {
    /// True if the record at `offset` written by `producer_id` belongs to this aborted transaction.
    pub fn covers(&self, producer_id: u64, offset: u64) -> bool {
        self.producer_id == producer_id && (self.first_offset..=self.last_offset).contains(&offset)
    }
}

impl ProducerEntry {
    /// Sequence of the last record appended.
    pub fn last_sequence(&self) -> Option<u32> {
        self.batches.back().map(|batch| batch.last_sequence)
    }
}

/// One producer in a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotEntry {
    /// Its epoch.
    pub epoch: u16,
    /// Its last batch, if it wrote data.
    pub last_batch: Option<BatchMetadata>,
    /// Its open transaction's first offset, which the LSO must not pass after a reload.
    pub current_txn_first_offset: Option<u64>,
    /// The newest coordinator epoch seen in a marker.
    pub coordinator_epoch: u32,
    /// Its last batch's or marker's append time.
    pub last_timestamp_ns: u64,
    /// Its last data batch's append time at its epoch.
    pub last_data_timestamp_ns: Option<u64>,
}

/// Producer state as a snapshot file keeps it: at an offset, the last batch of each producer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerSnapshot {
    /// The state covers the log below this offset.
    pub offset: u64,
    /// Producer id → its entry.
    pub entries: BTreeMap<u64, SnapshotEntry>,
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
    /// Transactions ended by a marker the high watermark may not have passed yet: (first offset, marker
    /// offset), in marker order. They still hold the LSO, as Kafka's `unreplicatedTxns` do: a marker above the
    /// HW may yet be truncated away (the leader fails before replicating it), and the transaction with it.
    completed: VecDeque<(u64, u64)>,
}

impl ProducerStateManager {
    /// No producer known.
    pub fn new() -> ProducerStateManager {
        ProducerStateManager::default()
    }

    /// Rebuilds the state by replaying every idempotent batch of `log`.
    pub fn rebuild(log: &PartitionLog) -> ProducerStateManager {
        ProducerStateManager::load(None, log)
    }

    /// Loads `snapshot` (if it is not past the log end) and replays the batches of `log` after it.
    pub fn load(snapshot: Option<&ProducerSnapshot>, log: &PartitionLog) -> ProducerStateManager {
        let snapshot = snapshot.filter(|snapshot| snapshot.offset <= log.end_offset());
        let mut state = ProducerStateManager::new();
        let mut replay_from = 0;
        if let Some(snapshot) = snapshot {
            for (producer_id, saved) in &snapshot.entries {
                let entry = ProducerEntry {
                    epoch: saved.epoch,
                    batches: saved.last_batch.into_iter().collect(),
                    current_txn_first_offset: saved.current_txn_first_offset,
                    coordinator_epoch: saved.coordinator_epoch,
                    last_timestamp_ns: saved.last_timestamp_ns,
                    last_data_timestamp_ns: saved.last_data_timestamp_ns,
                };
                state.entries.insert(*producer_id, entry);
            }
            replay_from = snapshot.offset;
        }
        for stored in log.batches().iter().filter(|stored| stored.base_offset >= replay_from) {
            state.apply(stored);
        }
        state
    }

    /// A snapshot at `offset` (the state must cover the log below it): the last batch of each producer.
    pub fn snapshot(&self, offset: u64) -> ProducerSnapshot {
        let entries = self
            .entries
            .iter()
            .map(|(producer_id, entry)| {
                let saved = SnapshotEntry {
                    epoch: entry.epoch,
                    last_batch: entry.batches.back().copied(),
                    current_txn_first_offset: entry.current_txn_first_offset,
                    coordinator_epoch: entry.coordinator_epoch,
                    last_timestamp_ns: entry.last_timestamp_ns,
                    last_data_timestamp_ns: entry.last_data_timestamp_ns,
                };
                (*producer_id, saved)
            })
            .collect();
        ProducerSnapshot { offset, entries }
    }

    /// Applies a batch that is already in the log (append, replication, replay) without checking it;
    /// returns the transaction an ABORT marker completed, for the aborted-transaction index.
    pub fn apply(&mut self, stored: &crate::broker::log::StoredBatch) -> Option<AbortedTxn> {
        let identity = stored.batch.producer?;
        let current = self.entries.get(&identity.producer_id).map(|entry| entry.epoch);
        if current.is_some_and(|epoch| epoch > identity.epoch) {
            // A zombie's batch that reached the log under an older epoch: it cannot roll the epoch back.
            return None;
        }
        if let Some(marker) = stored.batch.control {
            let aborted = self.apply_marker(identity, marker, stored.batch.coordinator_epoch, stored.base_offset);
            // KAFKA-9144's fix (`appendEndTxnMarker`): a marker counts as activity, so a producer whose last
            // data is old but whose transaction just ended does not expire at once.
            self.touch(identity.producer_id, stored.append_time_ns);
            return aborted;
        }
        if stored.batch.internal.is_some() {
            // A coordinator-written transactional record (an offset commit) carries no sequence.
            self.open_coordinator_txn(identity, stored.base_offset);
            self.touch(identity.producer_id, stored.append_time_ns);
            let entry = self.entries.get_mut(&identity.producer_id).expect("opened just before");
            entry.last_data_timestamp_ns = Some(stored.append_time_ns);
            return None;
        }
        let record_count = stored.batch.record_count();
        self.update(identity, record_count, stored.base_offset, stored.batch.transactional, stored.append_time_ns);
        None
    }

    fn touch(&mut self, producer_id: u64, timestamp_ns: u64) {
        let entry = self.entries.get_mut(&producer_id).expect("applied just before");
        entry.last_timestamp_ns = entry.last_timestamp_ns.max(timestamp_ns);
    }

    /// Kafka's `isProducerExpired`: idle for the expiration time, and never while its transaction is open
    /// (`currentTxnFirstOffset`), since the LSO and the coordinator's marker still need the entry. Without
    /// `markers_count` (`KafkaBug::Kafka9144`, Kafka before 2.4.1/2.5.0, PR #7687) idle is measured from the
    /// last data batch only, and a producer whose new epoch came with a marker and no data yet has no
    /// timestamp at all (`RecordBatch.NO_TIMESTAMP`), so it expires at the next check: the coordinator's
    /// epoch bump on a timed-out transaction drops the producer at once, and with it the epochs that fence
    /// its zombie and the older coordinators.
    fn is_producer_expired(entry: &ProducerEntry, now_ns: u64, expiration_ns: u64, markers_count: bool) -> bool {
        let idle_since = if markers_count { Some(entry.last_timestamp_ns) } else { entry.last_data_timestamp_ns };
        entry.current_txn_first_offset.is_none()
            && idle_since.is_none_or(|since| now_ns.saturating_sub(since) >= expiration_ns)
    }

    /// Kafka's `removeExpiredProducers`: forgets every expired producer; returns how many. `markers_count` is
    /// false only with the KAFKA-9144 switch on.
    pub fn remove_expired_producers(&mut self, now_ns: u64, expiration_ns: u64, markers_count: bool) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, entry| !Self::is_producer_expired(entry, now_ns, expiration_ns, markers_count));
        before - self.entries.len()
    }

    /// Kafka's `onLogStartOffsetIncremented`: completed transactions whose marker is below the new log start
    /// offset are gone with their segments. With `evict_producers` (`truncateHead`, Kafka before 2.5 and
    /// KAFKA-7190), batches below it leave the duplicate window and a producer with none left is forgotten,
    /// open transaction or not; returns how many producers were evicted.
    pub fn on_log_start_offset_incremented(&mut self, log_start_offset: u64, evict_producers: bool) -> usize {
        self.completed.retain(|(_, marker)| *marker >= log_start_offset);
        if !evict_producers {
            return 0;
        }
        let before = self.entries.len();
        for entry in self.entries.values_mut() {
            entry.batches.retain(|batch| {
                batch.base_offset + u64::from(batch.last_sequence - batch.first_sequence) >= log_start_offset
            });
        }
        self.entries.retain(|_, entry| !entry.batches.is_empty());
        before - self.entries.len()
    }

    /// A transactional offset commit opens the producer's transaction on an offsets partition, without
    /// touching sequences (Kafka appends it with the coordinator as origin, which skips sequence checks).
    fn open_coordinator_txn(&mut self, identity: ProducerIdentity, base_offset: u64) {
        let entry = self.entry_mut(identity);
        if identity.epoch > entry.epoch {
            entry.epoch = identity.epoch;
            entry.batches.clear();
            entry.last_data_timestamp_ns = None;
        }
        entry.current_txn_first_offset.get_or_insert(base_offset);
    }

    fn entry_mut(&mut self, identity: ProducerIdentity) -> &mut ProducerEntry {
        self.entries.entry(identity.producer_id).or_insert(ProducerEntry {
            epoch: identity.epoch,
            batches: VecDeque::new(),
            current_txn_first_offset: None,
            coordinator_epoch: 0,
            last_timestamp_ns: 0,
            last_data_timestamp_ns: None,
        })
    }

    /// Ends the producer's open transaction at a marker written at `offset`.
    fn apply_marker(
        &mut self,
        identity: ProducerIdentity,
        marker: ControlMarker,
        coordinator_epoch: u32,
        offset: u64,
    ) -> Option<AbortedTxn> {
        let entry = self.entry_mut(identity);
        entry.coordinator_epoch = entry.coordinator_epoch.max(coordinator_epoch);
        if identity.epoch > entry.epoch {
            // KIP-890 markers carry the bumped epoch: the next transaction starts its sequences afresh.
            entry.epoch = identity.epoch;
            entry.batches.clear();
            entry.last_data_timestamp_ns = None;
        }
        let first_offset = entry.current_txn_first_offset.take()?;
        self.completed.push_back((first_offset, offset));
        (marker == ControlMarker::Abort).then_some(AbortedTxn {
            producer_id: identity.producer_id,
            first_offset,
            last_offset: offset,
        })
    }

    /// Validates a marker: an older producer epoch than the partition knows is fenced, and so is a marker
    /// from a coordinator older than one whose marker already landed here.
    pub fn check_marker(&self, identity: ProducerIdentity, coordinator_epoch: u32) -> Result<(), ErrorCode> {
        match self.entries.get(&identity.producer_id) {
            Some(entry) if identity.epoch < entry.epoch => Err(ErrorCode::InvalidProducerEpoch),
            Some(entry) if coordinator_epoch < entry.coordinator_epoch => Err(ErrorCode::TransactionCoordinatorFenced),
            _ => Ok(()),
        }
    }

    /// The marker epoch rule of transaction version 2 (KIP-890 part 2), checked before [`Self::check_marker`]:
    /// a TV2 marker carries the epoch the coordinator bumped at Prepare, so a marker whose epoch is not above
    /// the partition's producer epoch belongs to a transaction already ended here, and landing it could end
    /// the producer's next transaction instead (KAFKA-19446, which carries the transaction version in
    /// WriteTxnMarkers down to `ProducerStateManager.checkProducerEpoch`). The one exception is an idempotent
    /// retry: the same epoch with no transaction open here is a marker whose first copy already landed, and
    /// is accepted (KAFKA-19999: without it a reloaded coordinator re-sending its Prepare* markers, or a
    /// retry after a lost answer, hangs the transaction). A rotated producer id (KAFKA-18660) is a new entry,
    /// so its markers are never compared with the old id's epoch. `accept_retry` false is the check before that
    /// fix (the `KAFKA-19999` switch): the bare `markerEpoch > currentEpoch` rule.
    pub fn check_marker_transaction_version_2(
        &self,
        identity: ProducerIdentity,
        accept_retry: bool,
    ) -> Result<(), ErrorCode> {
        let Some(entry) = self.entries.get(&identity.producer_id) else { return Ok(()) };
        if identity.epoch > entry.epoch {
            return Ok(());
        }
        if accept_retry && identity.epoch == entry.epoch && entry.current_txn_first_offset.is_none() {
            return Ok(());
        }
        Err(ErrorCode::InvalidProducerEpoch)
    }

    /// Validates a coordinator-written transactional record: only the producer epoch is checked.
    pub fn check_coordinator_append(&self, identity: ProducerIdentity) -> Result<(), ErrorCode> {
        match self.entries.get(&identity.producer_id) {
            Some(entry) if identity.epoch < entry.epoch => Err(ErrorCode::InvalidProducerEpoch),
            _ => Ok(()),
        }
    }

    /// True if the producer has an open transaction on this partition at `epoch` (KIP-890 verification
    /// is then not needed: the coordinator already knows the partition).
    pub fn has_open_txn(&self, producer_id: u64, epoch: u16) -> bool {
        self.entries
            .get(&producer_id)
            .is_some_and(|entry| entry.epoch == epoch && entry.current_txn_first_offset.is_some())
    }

    /// The first offset of the earliest transaction that is open, or ended by a marker the high watermark has
    /// not passed: the LSO may not pass it.
    pub fn first_unstable_offset(&self, high_watermark: u64) -> Option<u64> {
        let unreplicated =
            self.completed.iter().filter(|(_, marker)| *marker >= high_watermark).map(|(first, _)| *first);
        let open = self.entries.values().filter_map(|entry| entry.current_txn_first_offset);
        open.chain(unreplicated).min()
    }

    /// Forgets the completed transactions whose markers the high watermark has passed: they are committed.
    pub fn prune_replicated(&mut self, high_watermark: u64) {
        while self.completed.front().is_some_and(|(_, marker)| *marker < high_watermark) {
            self.completed.pop_front();
        }
    }

    /// What the partition knows of `producer_id`.
    pub fn entry(&self, producer_id: u64) -> Option<&ProducerEntry> {
        self.entries.get(&producer_id)
    }

    /// Validates a data batch of `record_count` records from `identity` against the rules above; a plain
    /// batch from a producer with an open transaction is INVALID_TXN_STATE. `kip360` chooses how a producer
    /// with no known sequence is treated (`ProducerAppendInfo.checkSequence` since and before KIP-360).
    pub fn check(
        &self,
        identity: ProducerIdentity,
        record_count: u32,
        transactional: bool,
        kip360: bool,
    ) -> Result<AppendCheck, ErrorCode> {
        assert!(record_count > 0, "an empty batch has no sequence");
        let Some(entry) = self.entries.get(&identity.producer_id) else {
            // Kafka 2.4 and before: "Found no record of producerId ... It is possible that the last message
            // with the producerId has been removed due to hitting the retention limit" (KAFKA-7298 left the
            // client to decide, from the log start offset, whether to reset its sequences).
            if !kip360 && identity.base_sequence != 0 {
                return Err(ErrorCode::UnknownProducerId);
            }
            return Ok(AppendCheck::Append);
        };
        let sequence_unknown = entry.batches.is_empty() && identity.epoch == entry.epoch;
        if !kip360 && sequence_unknown && identity.base_sequence != 0 {
            // Before KIP-360 a known epoch with no known sequence (only a marker is left) was UNKNOWN_PRODUCER_ID
            // too, after the fencing check, so a marker still fences older epochs.
            return Err(ErrorCode::UnknownProducerId);
        }
        if !transactional && entry.current_txn_first_offset.is_some() && identity.epoch == entry.epoch {
            return Err(ErrorCode::InvalidTxnState);
        }
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

    /// Records an appended data batch; a new epoch clears the remembered batches, and the first
    /// transactional batch opens the producer's transaction on this partition.
    pub fn update(
        &mut self,
        identity: ProducerIdentity,
        record_count: u32,
        base_offset: u64,
        transactional: bool,
        timestamp_ns: u64,
    ) {
        let entry = self.entry_mut(identity);
        entry.last_timestamp_ns = entry.last_timestamp_ns.max(timestamp_ns);
        assert!(identity.epoch >= entry.epoch, "an older epoch never reaches update");
        if identity.epoch > entry.epoch {
            entry.epoch = identity.epoch;
            entry.batches.clear();
        }
        entry.last_data_timestamp_ns = Some(timestamp_ns);
        let metadata = BatchMetadata {
            first_sequence: identity.base_sequence,
            last_sequence: identity.base_sequence + record_count - 1,
            base_offset,
        };
        entry.batches.push_back(metadata);
        if transactional && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(base_offset);
        }
        if entry.batches.len() > DUPLICATE_WINDOW_BATCHES {
            entry.batches.pop_front();
        }
        assert!(entry.batches.len() <= DUPLICATE_WINDOW_BATCHES);
    }
}

#[cfg(test)]
#[path = "producer_state_marker_tests.rs"]
mod marker_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ControlMarker, RecordBatch};

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
        let verdict = state.check(identity, n, false, true)?;
        if verdict == AppendCheck::Append {
            let values = (0..n).map(|i| i64::from(identity.base_sequence + i)).collect();
            let base_offset = log.append(RecordBatch::data(Some(identity), false, values), 0, 0);
            state.update(identity, n, base_offset, false, 0);
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
    fn a_snapshot_reload_shrinks_the_window_to_one_batch() {
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        for sequence in 0..4 {
            produce(&mut state, &mut log, id(1, 0, sequence), 1).unwrap();
        }
        let snapshot = state.snapshot(log.end_offset());
        assert_eq!(snapshot.entries[&1].last_batch.map(|batch| batch.first_sequence), Some(3));
        produce(&mut state, &mut log, id(1, 0, 4), 1).unwrap();
        let reloaded = ProducerStateManager::load(Some(&snapshot), &log);
        // Batches 3 (from the snapshot) and 4 (replayed) are remembered; batch 2 is not any more.
        assert_eq!(reloaded.check(id(1, 0, 4), 1, false, true), Ok(AppendCheck::Duplicate { base_offset: 4 }));
        assert_eq!(reloaded.check(id(1, 0, 3), 1, false, true), Ok(AppendCheck::Duplicate { base_offset: 3 }));
        assert_eq!(reloaded.check(id(1, 0, 2), 1, false, true), Err(ErrorCode::OutOfOrderSequence));
        assert_eq!(
            state.check(id(1, 0, 2), 1, false, true),
            Ok(AppendCheck::Duplicate { base_offset: 2 }),
            "before the reload"
        );
    }

    #[test]
    fn a_snapshot_past_the_log_end_is_ignored() {
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        produce(&mut state, &mut log, id(1, 0, 0), 1).unwrap();
        let snapshot = state.snapshot(5);
        assert_eq!(ProducerStateManager::load(Some(&snapshot), &log), ProducerStateManager::rebuild(&log));
    }

    #[test]
    fn rebuild_from_the_log_restores_the_window() {
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        for sequence in 0..7 {
            produce(&mut state, &mut log, id(1, 0, sequence), 1).unwrap();
        }
        log.append(RecordBatch::data(None, false, vec![100]), 0, 0);
        let rebuilt = ProducerStateManager::rebuild(&log);
        assert_eq!(rebuilt, state);
        assert_eq!(rebuilt.check(id(1, 0, 6), 1, false, true), Ok(AppendCheck::Duplicate { base_offset: 6 }));
        assert_eq!(rebuilt.check(id(1, 0, 7), 1, false, true), Ok(AppendCheck::Append));
    }

    const MS: u64 = 1_000_000;

    /// Appends `batch` at `time_ms` and applies it, as the leader does after its checks.
    fn append_at(state: &mut ProducerStateManager, log: &mut PartitionLog, batch: RecordBatch, time_ms: u64) {
        log.append(batch, 0, time_ms * MS);
        state.apply(log.batches().last().expect("just appended"));
    }

    #[test]
    fn remove_expired_producers_forgets_idle_producers_only() {
        // Expiration 100 ms. Producer 1 writes at 0 ms; producer 2 opens a transaction at 0 ms; producer 3
        // writes at 50 ms.
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        append_at(&mut state, &mut log, RecordBatch::data(Some(id(1, 0, 0)), false, vec![1]), 0);
        append_at(&mut state, &mut log, RecordBatch::data(Some(id(2, 0, 0)), true, vec![2]), 0);
        append_at(&mut state, &mut log, RecordBatch::data(Some(id(3, 0, 0)), false, vec![3]), 50);
        assert_eq!(state.remove_expired_producers(99 * MS, 100 * MS, true), 0, "nobody idle for 100 ms yet");
        assert_eq!(state.remove_expired_producers(100 * MS, 100 * MS, true), 1);
        assert!(state.entry(1).is_none(), "idle for exactly the expiration");
        assert!(state.entry(2).is_some(), "an open transaction never expires (currentTxnFirstOffset)");
        assert!(state.entry(3).is_some());
        assert_eq!(state.remove_expired_producers(10_000 * MS, 100 * MS, true), 1, "producer 3 in time");
        assert!(state.entry(2).is_some(), "still open after ten seconds");
    }

    #[test]
    fn remove_expired_producers_counts_a_marker_as_activity() {
        // KAFKA-9144: producer 1's data is from 0 ms, its COMMIT from 90 ms. At 150 ms (expiration 100 ms) the
        // data alone would have expired it, the marker keeps it until 190 ms.
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        append_at(&mut state, &mut log, RecordBatch::data(Some(id(1, 0, 0)), true, vec![1]), 0);
        append_at(&mut state, &mut log, RecordBatch::marker(id(1, 0, 0), ControlMarker::Commit, 0), 90);
        assert_eq!(state.entry(1).map(|entry| entry.last_timestamp_ns), Some(90 * MS));
        assert_eq!(state.remove_expired_producers(150 * MS, 100 * MS, true), 0);
        assert_eq!(state.remove_expired_producers(190 * MS, 100 * MS, true), 1);
        // The timestamp survives a snapshot and a reload.
        let mut fresh = ProducerStateManager::new();
        append_at(&mut fresh, &mut log, RecordBatch::data(Some(id(2, 0, 0)), false, vec![2]), 120);
        let reloaded = ProducerStateManager::load(Some(&fresh.snapshot(log.end_offset())), &log);
        assert_eq!(reloaded.entry(2).map(|entry| entry.last_timestamp_ns), Some(120 * MS));
    }

    #[test]
    fn remove_expired_producers_before_kafka_9144_counts_data_only() {
        // Expiration 100 ms. Producer 1's transaction wrote at 0 ms and the coordinator timed it out, fencing
        // the producer: its ABORT marker at 90 ms carries the bumped epoch 1. Producer 2 wrote at 0 ms and
        // committed at 90 ms at its own epoch.
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        append_at(&mut state, &mut log, RecordBatch::data(Some(id(1, 0, 0)), true, vec![1]), 0);
        append_at(&mut state, &mut log, RecordBatch::data(Some(id(2, 0, 0)), true, vec![2]), 0);
        append_at(&mut state, &mut log, RecordBatch::marker(id(1, 1, 0), ControlMarker::Abort, 0), 90);
        append_at(&mut state, &mut log, RecordBatch::marker(id(2, 0, 0), ControlMarker::Commit, 0), 90);
        let mut before_fix = state.clone();
        // Fixed: both markers count as activity until 190 ms.
        assert_eq!(state.remove_expired_producers(150 * MS, 100 * MS, true), 0);
        assert_eq!(state.entry(1).map(|entry| entry.epoch), Some(1), "the epoch that fences the zombie");
        // KAFKA-9144: the bumped epoch cleared producer 1's batches, so it has no timestamp and goes at the
        // first check after its marker; producer 2 goes 100 ms after its data, its marker not counted.
        assert_eq!(before_fix.remove_expired_producers(91 * MS, 100 * MS, false), 1);
        assert!(before_fix.entry(1).is_none(), "fenced epoch forgotten: a zombie at epoch 0 is a stranger now");
        assert_eq!(before_fix.check(id(1, 0, 0), 1, true, false), Ok(AppendCheck::Append));
        assert_eq!(state.check(id(1, 0, 0), 1, true, false), Err(ErrorCode::InvalidProducerEpoch));
        assert_eq!(before_fix.remove_expired_producers(100 * MS, 100 * MS, false), 1);
        assert!(before_fix.entry(2).is_none());
        // The data timestamp survives a snapshot and a reload.
        let reloaded = ProducerStateManager::load(Some(&state.snapshot(log.end_offset())), &log);
        assert_eq!(reloaded.entry(2).and_then(|entry| entry.last_data_timestamp_ns), Some(0));
        assert_eq!(reloaded.entry(1).and_then(|entry| entry.last_data_timestamp_ns), None);
    }

    #[test]
    fn check_sequence_of_an_expired_producer_before_and_after_kip_360() {
        // Producer 1 appends sequences 0-2, acknowledged; then it expires. A late retry of sequence 1 (its
        // acknowledgement was lost) arrives.
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        for sequence in 0..3 {
            append_at(&mut state, &mut log, RecordBatch::data(Some(id(1, 0, sequence)), false, vec![7]), 0);
        }
        assert_eq!(state.check(id(1, 0, 1), 1, false, true), Ok(AppendCheck::Duplicate { base_offset: 1 }));
        state.remove_expired_producers(200 * MS, 100 * MS, true);
        // KIP-360 (Kafka 2.5+): no state, any sequence goes: the retry is appended again, a duplicate.
        assert_eq!(state.check(id(1, 0, 1), 1, false, true), Ok(AppendCheck::Append));
        // Kafka 0.11–2.4: UNKNOWN_PRODUCER_ID, except at sequence 0, which a new producer starts with.
        assert_eq!(state.check(id(1, 0, 1), 1, false, false), Err(ErrorCode::UnknownProducerId));
        assert_eq!(state.check(id(1, 0, 0), 1, false, false), Ok(AppendCheck::Append));
    }

    #[test]
    fn check_sequence_with_only_a_marker_left() {
        // Producer 1's only state is its epoch 2 from an ABORT marker: the epoch is known, the sequence not.
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        append_at(&mut state, &mut log, RecordBatch::marker(id(1, 2, 0), ControlMarker::Abort, 0), 0);
        assert_eq!(state.check(id(1, 2, 5), 1, false, false), Err(ErrorCode::UnknownProducerId));
        assert_eq!(state.check(id(1, 2, 5), 1, false, true), Err(ErrorCode::OutOfOrderSequence));
        assert_eq!(state.check(id(1, 2, 0), 1, false, false), Ok(AppendCheck::Append));
        // The fencing check comes first: an older epoch is fenced, not unknown.
        assert_eq!(state.check(id(1, 1, 5), 1, false, false), Err(ErrorCode::InvalidProducerEpoch));
    }

    #[test]
    fn on_log_start_offset_incremented_keeps_producers_since_kafka_7190() {
        // Producer 1 at offsets 0-1, producer 2 at offset 2, producer 3 opens a transaction at offset 3; the
        // log start offset moves to 2.
        let (mut state, mut log) = (ProducerStateManager::new(), PartitionLog::new());
        append_at(&mut state, &mut log, RecordBatch::data(Some(id(1, 0, 0)), false, vec![1]), 0);
        append_at(&mut state, &mut log, RecordBatch::data(Some(id(1, 0, 1)), false, vec![1]), 0);
        append_at(&mut state, &mut log, RecordBatch::data(Some(id(2, 0, 0)), false, vec![2]), 0);
        append_at(&mut state, &mut log, RecordBatch::data(Some(id(3, 0, 0)), true, vec![3]), 0);
        let mut before_kafka_7190 = state.clone();
        assert_eq!(state.on_log_start_offset_incremented(2, false), 0);
        assert_eq!(state.check(id(1, 0, 1), 1, false, true), Ok(AppendCheck::Duplicate { base_offset: 1 }));
        // `truncateHead` (Kafka ≤ 2.4): producer 1 has nothing left at or above 2 and is evicted.
        assert_eq!(before_kafka_7190.on_log_start_offset_incremented(2, true), 1);
        assert!(before_kafka_7190.entry(1).is_none());
        assert_eq!(before_kafka_7190.check(id(1, 0, 2), 1, false, false), Err(ErrorCode::UnknownProducerId));
        assert!(before_kafka_7190.entry(2).is_some() && before_kafka_7190.entry(3).is_some());
        assert_eq!(before_kafka_7190.first_unstable_offset(10), Some(3));
    }
}
