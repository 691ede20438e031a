//! The transaction coordinator: for every transactional id whose transaction-log partition this broker
//! leads, the transaction's metadata and the state machine that moves it (Kafka's
//! `TransactionCoordinator` and `TransactionStateManager`).
//!
//! Every transition is first written to the replicated transaction log (an internal partition); while that
//! write is pending the entry has a `pending` transition and any other request for the id gets
//! CONCURRENT_TRANSACTIONS. Only when the write is replicated does the state change and the client hear back,
//! so a coordinator that fails over loses nothing it answered. The new leader of the partition loads every
//! entry from its log ([`TxnCoordinator::load`]) and resumes what was in flight: a Prepare* entry re-sends
//! its markers, an Ongoing one times out as usual.
//!
//! The coordinator is a pure state machine: it never touches the network or the log itself but returns
//! [`TxnEffect`]s for the broker to carry out, so the hand-built tests below drive it directly.
//!
//! eos-tv1 and eos-tv2 are one code path with switches ([`TxnCoordinatorSettings::epoch_bump_per_txn`]): under
//! KIP-890 every EndTxn bumps the epoch at Prepare, the markers carry the new epoch, and a client may abort
//! with no transaction open.

use crate::bugs::KafkaBug;
use crate::coordinator::txn_state::TxnState;
use crate::protocol::{ControlMarker, ErrorCode, PartitionId, ProducerIdentity, TxnLogEntry};
use eosim_sim::NodeId;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Coordinator settings, times in nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnCoordinatorSettings {
    /// KIP-890: bump the epoch at every EndTxn, allow blind aborts.
    pub epoch_bump_per_txn: bool,
    /// `transactional.id.expiration.ms`: an idle completed id is removed (through Dead) after this long.
    pub transactional_id_expiration_ns: u64,
    /// How long a WriteTxnMarkers request waits for its answer before the marker channel closes its
    /// connection and re-enqueues its markers (Kafka's `request.timeout.ms` on the inter-broker send thread).
    pub marker_retry_ns: u64,
    /// How long loading one record of an internal partition takes, so a long log loads for longer
    /// (`TransactionStateManager.loadTransactionsForTxnTopicPartition`, the group coordinator's load).
    pub load_ns_per_record: u64,
    /// The epoch a transactional id seen for the first time starts at (Kafka: 0, after its -1 is bumped); a
    /// higher one stands for an id long in use, so that its epoch exhausts within a run.
    pub producer_epoch_start: u16,
}

/// Reading one record of an internal partition while loading it: 10 µs, so a log of 10,000 records keeps its
/// coordinator loading for 100 ms.
pub const DEFAULT_LOAD_NS_PER_RECORD: u64 = 10_000;

pub use crate::protocol::MAX_PRODUCER_EPOCH;

/// A client waiting for the answer to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiter {
    /// The client node.
    pub client: NodeId,
    /// Its request id.
    pub request_id: u64,
    /// What it asked: InitProducerId answers with (producer id, epoch), the others with the epoch.
    pub init: bool,
}

/// One marker of a transaction that is being completed, in Kafka's `TransactionMarkerChannelManager`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MarkerProgress {
    /// In the broker queue (`addTxnMarkersToBrokerQueue`): sent at the next tick, to the leader then known.
    Queued,
    /// A WriteTxnMarkers request carries it; its answer, or its connection's failure, is awaited.
    InFlight,
    /// Sending was cancelled (`removeMarkersForTxn`): the producer or coordinator epoch moved on, so this
    /// coordinator never completes the transaction; a coordinator that loads it resends.
    Cancelled,
}

/// What the coordinator does with one partition's WriteTxnMarkers answer, as Kafka's
/// `TransactionMarkerRequestCompletionHandler.onComplete`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerCompletion {
    /// NONE: the partition has its marker (`txnMetadata.removePartition`).
    Written,
    /// NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS(_AFTER_APPEND), UNKNOWN_TOPIC_OR_PARTITION,
    /// REQUEST_TIMED_OUT, KAFKA_STORAGE_ERROR: re-enqueued for the partition's leader as then known.
    Retry,
    /// INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED: the producer or coordinator epoch changed;
    /// every marker of the transaction is cancelled and it is left in Prepare* here.
    CancelSending,
    /// Anything else (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, ... or an error Kafka does not expect): Kafka
    /// throws IllegalStateException; here it is a finding.
    Illegal,
}

impl MarkerCompletion {
    /// Kafka's table. UNSUPPORTED_FOR_MESSAGE_FORMAT and UNSUPPORTED_VERSION, which Kafka also removes as
    /// written, have no counterpart in the model.
    pub fn of(result: Result<(), ErrorCode>) -> MarkerCompletion {
        match result {
            Ok(()) => MarkerCompletion::Written,
            Err(ErrorCode::NotLeaderOrFollower | ErrorCode::NotEnoughReplicas) => MarkerCompletion::Retry,
            Err(ErrorCode::InvalidProducerEpoch | ErrorCode::TransactionCoordinatorFenced) => {
                MarkerCompletion::CancelSending
            }
            Err(_) => MarkerCompletion::Illegal,
        }
    }
}

/// What the coordinator's periodic tick does for one transactional id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TickAction {
    /// The open transaction outlived its timeout: fence the producer and abort it.
    Timeout,
    /// A fence's abort did not reach the log: write PrepareAbort again.
    RewriteAbort,
    /// Every marker landed but the Complete* write did not replicate: write it again.
    RewriteComplete,
    /// Re-send the markers still queued.
    SendMarkers,
    /// The id has been idle past `transactional.id.expiration.ms`: it goes to Dead.
    Expire,
}

/// A transactional id's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnMetadata {
    /// The producer id.
    pub producer_id: u64,
    /// The current epoch.
    pub epoch: u16,
    /// The epoch before the last KIP-890 bump.
    pub last_epoch: Option<u16>,
    /// Transaction version 2, epoch exhausted: the producer id the transaction completes into.
    pub next_producer_id: Option<u64>,
    /// The producer id before the last rotation.
    pub previous_producer_id: Option<u64>,
    /// The state.
    pub state: TxnState,
    /// Partitions in the transaction.
    pub partitions: BTreeSet<PartitionId>,
    /// `transaction.timeout.ms`.
    pub timeout_ns: u64,
    /// When the open transaction started.
    pub txn_start_ns: u64,
    /// Last state change.
    pub last_update_ns: u64,
    /// The transition being written to the log, with the client to answer once it is replicated.
    pending: Option<(Rc<TxnLogEntry>, Option<Waiter>)>,
    /// Markers still to be acknowledged, while in Prepare*.
    markers: BTreeMap<PartitionId, MarkerProgress>,
}

impl TxnMetadata {
    fn from_entry(entry: &TxnLogEntry, now_ns: u64) -> TxnMetadata {
        TxnMetadata {
            producer_id: entry.producer_id,
            epoch: entry.epoch,
            last_epoch: entry.last_epoch,
            next_producer_id: entry.next_producer_id,
            previous_producer_id: entry.previous_producer_id,
            state: entry.state,
            partitions: entry.partitions.iter().copied().collect(),
            timeout_ns: entry.timeout_ns,
            txn_start_ns: entry.txn_start_ns,
            last_update_ns: now_ns,
            pending: None,
            markers: BTreeMap::new(),
        }
    }

    fn log_entry(&self, transactional_id: &str, state: TxnState) -> TxnLogEntry {
        TxnLogEntry {
            transactional_id: transactional_id.to_string(),
            producer_id: self.producer_id,
            epoch: self.epoch,
            last_epoch: self.last_epoch,
            state,
            partitions: self.partitions.iter().copied().collect(),
            timeout_ns: self.timeout_ns,
            txn_start_ns: self.txn_start_ns,
            next_producer_id: self.next_producer_id,
            previous_producer_id: self.previous_producer_id,
        }
    }

    /// `TransactionMetadata.isEpochExhausted`: at `Short.MAX_VALUE - 1` one bump is left, which the
    /// coordinator keeps for fencing, so the next transaction needs a new producer id.
    pub fn is_epoch_exhausted(&self) -> bool {
        self.epoch >= MAX_PRODUCER_EPOCH - 1
    }

    /// InitProducerId of an existing id under transaction version 1: `prepareIncrementProducerEpoch`, or
    /// `prepareProducerIdRotation` (a new id at epoch 0) once the epoch is exhausted. Returns the
    /// (producer id, epoch) the InitProducerId handler writes.
    pub fn prepare_increment_producer_epoch(&self, new_producer_id: impl FnOnce() -> u64) -> (u64, u16) {
        if self.is_epoch_exhausted() {
            return (new_producer_id(), 0);
        }
        assert!(self.epoch < MAX_PRODUCER_EPOCH - 1);
        (self.producer_id, self.epoch + 1)
    }

    /// The entry that completes this Prepare* transaction: under transaction version 2 with an exhausted
    /// epoch, the producer id rotates to `next_producer_id` at epoch 0 (`TransactionMetadata.prepareComplete`).
    fn complete_entry(&self, transactional_id: &str) -> TxnLogEntry {
        let complete =
            if self.state == TxnState::PrepareCommit { TxnState::CompleteCommit } else { TxnState::CompleteAbort };
        let mut entry = self.log_entry(transactional_id, complete);
        if let Some(next) = self.next_producer_id {
            entry.previous_producer_id = Some(self.producer_id);
            entry.producer_id = next;
            entry.epoch = 0;
            entry.next_producer_id = None;
        }
        entry
    }

    /// True while a transition is being written.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }
}

/// What the broker must do for the coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnEffect {
    /// Append this entry to transaction-log partition `log`, then call [`TxnCoordinator::on_append`].
    Append {
        /// The transaction-log partition.
        log: PartitionId,
        /// The entry, shared with the pending transition that waits for it.
        entry: Rc<TxnLogEntry>,
    },
    /// Answer a client.
    Reply {
        /// Who.
        waiter: Waiter,
        /// (producer id, epoch), or why not.
        result: Result<(u64, u16), ErrorCode>,
    },
    /// Write a marker to `partition` and report with [`TxnCoordinator::on_marker`].
    Marker {
        /// The transaction's id, to route the answer.
        transactional_id: String,
        /// The partition.
        partition: PartitionId,
        /// Producer and the marker's epoch.
        producer: ProducerIdentity,
        /// COMMIT or ABORT.
        marker: ControlMarker,
        /// The coordinator's epoch.
        coordinator_epoch: u32,
        /// When the transaction began: with its transactional id, it names the transaction for the run's
        /// record of outcomes ([`crate::oracle`]).
        txn_start_ns: u64,
    },
    /// A transition outside Kafka's table was attempted: a bug, reported as a finding.
    Illegal(String),
}

/// The transaction state of one transaction-log partition this broker leads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct LogPartition {
    coordinator_epoch: u32,
    txns: BTreeMap<String, TxnMetadata>,
}

/// Every transaction this broker coordinates.
#[derive(Clone, Debug)]
pub struct TxnCoordinator {
    settings: TxnCoordinatorSettings,
    /// The Kafka bugs put back in this coordinator (`bugs.rs`).
    kafka_bugs: Vec<KafkaBug>,
    partitions: BTreeMap<PartitionId, LogPartition>,
    /// Counts of states entered and transitions taken since the last [`TxnCoordinator::take_coverage`].
    coverage: Vec<Cow<'static, str>>,
}

impl TxnCoordinator {
    /// A coordinator of nothing yet.
    pub fn new(settings: TxnCoordinatorSettings) -> TxnCoordinator {
        TxnCoordinator { settings, kafka_bugs: Vec::new(), partitions: BTreeMap::new(), coverage: Vec::new() }
    }

    /// The same coordinator with the code paths of `kafka_bugs` put back.
    pub fn with_kafka_bugs(mut self, kafka_bugs: &[KafkaBug]) -> TxnCoordinator {
        self.kafka_bugs = kafka_bugs.to_vec();
        self
    }

    fn has_bug(&self, bug: KafkaBug) -> bool {
        self.kafka_bugs.contains(&bug)
    }

    /// True if this broker coordinates the transaction-log partition `log`.
    pub fn coordinates(&self, log: PartitionId) -> bool {
        self.partitions.contains_key(&log)
    }

    /// The metadata of `transactional_id`, if loaded here.
    pub fn metadata(&self, log: PartitionId, transactional_id: &str) -> Option<&TxnMetadata> {
        self.partitions.get(&log)?.txns.get(transactional_id)
    }

    /// Every loaded transactional id with its state, for the end-of-run check of hanging transactions.
    pub fn states(&self) -> Vec<(String, TxnState)> {
        let entries = self.partitions.values().flat_map(|partition| partition.txns.iter());
        entries.map(|(id, txn)| (id.clone(), txn.state)).collect()
    }

    /// True if a loaded transaction is open (Ongoing or being completed); cheap, for the check after every event.
    pub fn any_open(&self) -> bool {
        self.partitions.values().any(|partition| partition.txns.values().any(|txn| txn.state.is_open()))
    }

    /// One line per loaded transactional id: state, epoch, pending transition and markers outstanding.
    pub fn describe(&self) -> Vec<String> {
        let entries = self.partitions.iter().flat_map(|(log, partition)| partition.txns.iter().map(move |t| (log, t)));
        entries
            .map(|(log, (id, txn))| {
                let pending = txn.pending.as_ref().map(|(entry, _)| entry.state);
                let markers: Vec<u32> = txn.markers.keys().map(|partition| partition.0).collect();
                format!("{id}@{}: {} epoch {} pending {pending:?} markers {markers:?}", log.0, txn.state, txn.epoch)
            })
            .collect()
    }

    /// Coverage counter names since the last call.
    pub fn take_coverage(&mut self) -> Vec<Cow<'static, str>> {
        std::mem::take(&mut self.coverage)
    }

    /// Becomes the coordinator of `log` at `coordinator_epoch`, from the entries in its log (later entries
    /// of an id replace earlier ones); returns the markers of every Prepare* transaction to re-send.
    pub fn load(
        &mut self,
        log: PartitionId,
        coordinator_epoch: u32,
        entries: &[TxnLogEntry],
        now_ns: u64,
    ) -> Vec<TxnEffect> {
        let mut txns: BTreeMap<String, TxnMetadata> = BTreeMap::new();
        for entry in entries {
            if entry.state == TxnState::Dead {
                txns.remove(&entry.transactional_id);
            } else {
                txns.insert(entry.transactional_id.clone(), TxnMetadata::from_entry(entry, now_ns));
            }
        }
        self.partitions.insert(log, LogPartition { coordinator_epoch, txns });
        self.coverage.push("coordinator:txn-log-loaded".into());
        let preparing: Vec<String> = self.partitions[&log]
            .txns
            .iter()
            .filter(|(_, txn)| matches!(txn.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
            .map(|(id, _)| id.clone())
            .collect();
        let mut effects = Vec::new();
        for id in preparing {
            self.coverage.push("coordinator:markers-resumed".into());
            effects.extend(self.start_markers(log, &id));
        }
        effects
    }

    /// Stops coordinating `log` (leadership moved): waiting clients hear NOT_COORDINATOR.
    pub fn unload(&mut self, log: PartitionId) -> Vec<TxnEffect> {
        let Some(partition) = self.partitions.remove(&log) else { return Vec::new() };
        partition
            .txns
            .into_values()
            .filter_map(|txn| txn.pending.and_then(|(_, waiter)| waiter))
            .map(|waiter| TxnEffect::Reply { waiter, result: Err(ErrorCode::NotCoordinator) })
            .collect()
    }

    /// InitProducerId for a transactional id from `initTransactions`: see
    /// [`TxnCoordinator::init_producer_id_expecting`] with no producer id and epoch.
    #[allow(clippy::too_many_arguments)]
    pub fn init_producer_id(
        &mut self,
        log: PartitionId,
        transactional_id: &str,
        timeout_ns: u64,
        waiter: Waiter,
        new_producer_id: impl FnMut() -> u64,
        now_ns: u64,
    ) -> Vec<TxnEffect> {
        self.init_producer_id_expecting(log, transactional_id, timeout_ns, None, waiter, new_producer_id, now_ns)
    }

    /// InitProducerId (Kafka's `TransactionCoordinator.handleInitProducerId` and
    /// `prepareInitProducerIdTransit`): a new producer id, or the old one with its epoch bumped, which fences
    /// every older producer; an open transaction is aborted first (the client retries). With `expected`
    /// (KIP-360, a producer bumping its own epoch after an abortable error) the producer id must be the
    /// current one (`isValidProducerId`) and the epoch the current one (bump) or the one before it (a retry
    /// of a bump whose answer was lost: the current epoch again, no second bump); anything else is
    /// PRODUCER_FENCED.
    #[allow(clippy::too_many_arguments)]
    pub fn init_producer_id_expecting(
        &mut self,
        log: PartitionId,
        transactional_id: &str,
        timeout_ns: u64,
        expected: Option<(u64, u16)>,
        waiter: Waiter,
        mut new_producer_id: impl FnMut() -> u64,
        now_ns: u64,
    ) -> Vec<TxnEffect> {
        let Some(partition) = self.partitions.get_mut(&log) else { return reply(waiter, ErrorCode::NotCoordinator) };
        let existed = partition.txns.contains_key(transactional_id);
        let epoch_start = self.settings.producer_epoch_start;
        assert!(epoch_start < MAX_PRODUCER_EPOCH - 1, "a new id can bump at least once before it is exhausted");
        let txn = partition.txns.entry(transactional_id.to_string()).or_insert_with(|| TxnMetadata {
            producer_id: new_producer_id(),
            epoch: epoch_start,
            last_epoch: None,
            next_producer_id: None,
            previous_producer_id: None,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            timeout_ns,
            txn_start_ns: now_ns,
            last_update_ns: now_ns,
            pending: None,
            markers: BTreeMap::new(),
        });
        if txn.pending.is_some() {
            return reply(waiter, ErrorCode::ConcurrentTransactions);
        }
        // `isValidProducerId`: a metadata created just now has no epoch yet (Kafka's -1), so any expected
        // producer id is valid; so is the previous id at an exhausted epoch, a retry of a bump that rotated it.
        let retried_rotation = |(producer_id, epoch): (u64, u16)| {
            txn.previous_producer_id == Some(producer_id) && epoch >= MAX_PRODUCER_EPOCH - 1
        };
        if existed && expected.is_some_and(|expected| expected.0 != txn.producer_id && !retried_rotation(expected)) {
            self.coverage.push("coordinator:init-fenced-producer-id".into());
            return reply(waiter, ErrorCode::ProducerFenced);
        }
        match txn.state {
            TxnState::Ongoing => {
                // Fence the current producer and abort its transaction; the new one retries until it is done.
                self.coverage.push("coordinator:init-aborts-open-txn".into());
                let mut effects = self.fence_and_abort(log, transactional_id, now_ns);
                effects.extend(reply(waiter, ErrorCode::ConcurrentTransactions));
                effects
            }
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence | TxnState::Dead => {
                reply(waiter, ErrorCode::ConcurrentTransactions)
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let (mut entry, exhausted) =
                    match Self::init_entry(txn, transactional_id, timeout_ns, existed, expected) {
                        Ok(entry) => entry,
                        Err(error) => {
                            self.coverage.push("coordinator:init-fenced-epoch".into());
                            return reply(waiter, error);
                        }
                    };
                if expected.is_some() {
                    let name = if entry.epoch == txn.epoch { "init-bump-retried" } else { "init-epoch-bumped" };
                    self.coverage.push(format!("coordinator:{name}").into());
                }
                if exhausted {
                    // `prepareProducerIdRotation`: a new producer id starts at epoch 0; a producer that asked
                    // with its own id and epoch may retry with them and be recognised.
                    self.coverage.push("coordinator:producer-id-rotated".into());
                    entry.previous_producer_id = expected.map(|(producer_id, _)| producer_id);
                    entry.last_epoch = expected.map(|(_, epoch)| epoch);
                    entry.producer_id = new_producer_id();
                    entry.epoch = 0;
                }
                self.begin_transition(log, entry, Some(waiter))
            }
        }
    }

    /// The Empty entry InitProducerId writes (Kafka's `prepareIncrementProducerEpoch`): the epoch bumped,
    /// and `last_epoch` the one before it when a producer bumps its own epoch (KIP-360), so a retry with
    /// that epoch gets the current one back; true when the epoch is exhausted and the producer id must
    /// rotate (the caller's hook).
    fn init_entry(
        txn: &TxnMetadata,
        transactional_id: &str,
        timeout_ns: u64,
        existed: bool,
        expected: Option<(u64, u16)>,
    ) -> Result<(TxnLogEntry, bool), ErrorCode> {
        let mut entry = txn.log_entry(transactional_id, TxnState::Empty);
        entry.timeout_ns = timeout_ns;
        entry.partitions.clear();
        entry.last_epoch = None;
        if !existed {
            return Ok((entry, false));
        }
        // Kafka rotates only when the expected epoch (if any) is the exhausted one itself.
        let exhausted = txn.is_epoch_exhausted() && expected.is_none_or(|(_, epoch)| epoch == txn.epoch);
        match expected {
            None => entry.epoch = txn.epoch + 1,
            Some((_, epoch)) if epoch == txn.epoch => {
                entry.epoch = txn.epoch + 1;
                entry.last_epoch = Some(txn.epoch);
            }
            Some((_, epoch)) if Some(epoch) == txn.last_epoch => {
                entry.last_epoch = txn.last_epoch;
                return Ok((entry, false));
            }
            Some(_) => return Err(ErrorCode::ProducerFenced),
        }
        Ok((entry, exhausted))
    }

    /// AddPartitionsToTxn (client or, under KIP-890, a partition leader on its behalf) and AddOffsetsToTxn
    /// (the group's offsets partition): the transaction becomes (or stays) Ongoing with these partitions.
    #[allow(clippy::too_many_arguments)]
    pub fn add_partitions(
        &mut self,
        log: PartitionId,
        transactional_id: &str,
        producer_id: u64,
        epoch: u16,
        partitions: &[PartitionId],
        waiter: Waiter,
        now_ns: u64,
    ) -> Vec<TxnEffect> {
        let txn = match self.validate(log, transactional_id, producer_id, epoch) {
            Ok(txn) => txn,
            Err(error) => return reply(waiter, error),
        };
        match txn.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence | TxnState::Dead => {
                return reply(waiter, ErrorCode::ConcurrentTransactions);
            }
            TxnState::Ongoing if partitions.iter().all(|partition| txn.partitions.contains(partition)) => {
                return vec![TxnEffect::Reply { waiter, result: Ok((txn.producer_id, txn.epoch)) }];
            }
            TxnState::Ongoing => {}
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {}
        }
        // The metadata changes only once the entry is replicated (Kafka's prepareTransitionTo, then
        // completeTransitionTo): a partition whose addition never reached the log must not count as added.
        let mut entry = txn.log_entry(transactional_id, TxnState::Ongoing);
        if txn.state != TxnState::Ongoing {
            entry.partitions.clear();
            entry.txn_start_ns = now_ns;
        }
        entry.partitions.extend(partitions.iter().copied());
        entry.partitions.sort();
        entry.partitions.dedup();
        self.begin_transition(log, entry, Some(waiter))
    }

    /// AddPartitionsToTxn with `verifyOnly`, as Kafka's `handleVerifyPartitionsInTransaction`: a partition
    /// leader asks, before a transaction's first append there, whether the client has added the partition.
    /// The pending state is not checked (the append is validated again when it reaches the log); a partition
    /// that is not in the transaction is TRANSACTION_ABORTABLE, which the leader answers the producer as
    /// INVALID_TXN_STATE.
    pub fn verify_partitions(
        &mut self,
        log: PartitionId,
        transactional_id: &str,
        producer_id: u64,
        epoch: u16,
        partitions: &[PartitionId],
        waiter: Waiter,
    ) -> Vec<TxnEffect> {
        let Some(partition) = self.partitions.get(&log) else { return reply(waiter, ErrorCode::NotCoordinator) };
        let Some(txn) = partition.txns.get(transactional_id) else {
            return reply(waiter, ErrorCode::InvalidProducerIdMapping);
        };
        if txn.producer_id != producer_id {
            return reply(waiter, ErrorCode::InvalidProducerIdMapping);
        }
        if txn.epoch != epoch {
            return reply(waiter, ErrorCode::ProducerFenced);
        }
        if matches!(txn.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
            return reply(waiter, ErrorCode::ConcurrentTransactions);
        }
        // Kafka's `topicPartitions` holds a transaction's partitions only while it is open: they are removed when
        // its end is written. The model keeps them past Complete* (for its own bookkeeping), so the state decides.
        let open = txn.state == TxnState::Ongoing;
        if !open || !partitions.iter().all(|partition| txn.partitions.contains(partition)) {
            return reply(waiter, ErrorCode::TransactionAbortable);
        }
        vec![TxnEffect::Reply { waiter, result: Ok((txn.producer_id, txn.epoch)) }]
    }

    /// EndTxn, with Kafka's error table; under KIP-890 the epoch is bumped at Prepare and a retried EndTxn
    /// of the previous epoch is recognised. Under transaction version 2 an exhausted epoch rotates the
    /// producer id (`TransactionCoordinator.endTransaction` with `nextProducerId`, KAFKA-18660): the markers
    /// carry the old id at its last epoch, the client is answered the new id at epoch 0.
    #[allow(clippy::too_many_arguments)]
    pub fn end_txn(
        &mut self,
        log: PartitionId,
        transactional_id: &str,
        producer_id: u64,
        epoch: u16,
        commit: bool,
        waiter: Waiter,
        now_ns: u64,
        new_producer_id: impl FnOnce() -> u64,
    ) -> Vec<TxnEffect> {
        let bump = self.settings.epoch_bump_per_txn;
        let Some(partition) = self.partitions.get_mut(&log) else { return reply(waiter, ErrorCode::NotCoordinator) };
        let Some(txn) = partition.txns.get_mut(transactional_id) else {
            return reply(waiter, ErrorCode::InvalidProducerIdMapping);
        };
        // KIP-890: the epoch was bumped at Prepare, so a retry of that EndTxn carries the epoch before it; after
        // a rotation it also carries the producer id before it.
        let retry_on_bump =
            bump && txn.producer_id == producer_id && txn.last_epoch == Some(epoch) && epoch < txn.epoch;
        let retry_on_rotation = bump && txn.previous_producer_id == Some(producer_id) && txn.last_epoch == Some(epoch);
        let retry = retry_on_bump || retry_on_rotation;
        if txn.producer_id != producer_id && !retry {
            return reply(waiter, ErrorCode::InvalidProducerIdMapping);
        }
        if epoch != txn.epoch && !retry {
            return reply(waiter, ErrorCode::ProducerFenced);
        }
        if txn.pending.is_some() {
            return reply(waiter, ErrorCode::ConcurrentTransactions);
        }
        let (prepare, complete) = if commit {
            (TxnState::PrepareCommit, TxnState::CompleteCommit)
        } else {
            (TxnState::PrepareAbort, TxnState::CompleteAbort)
        };
        let current = (txn.producer_id, txn.epoch);
        let state = txn.state;
        let mut entry = match state {
            _ if retry && state == complete => return vec![TxnEffect::Reply { waiter, result: Ok(current) }],
            _ if retry && state == prepare => return reply(waiter, ErrorCode::ConcurrentTransactions),
            _ if retry => return reply(waiter, ErrorCode::InvalidTxnState),
            TxnState::Ongoing => txn.log_entry(transactional_id, prepare),
            // eos-tv1 keeps the epoch, so a retried EndTxn comes at the same epoch: the same result succeeds.
            _ if !bump && state == complete => return vec![TxnEffect::Reply { waiter, result: Ok(current) }],
            _ if state == prepare || (bump && matches!(state, TxnState::PrepareCommit | TxnState::PrepareAbort)) => {
                return reply(waiter, ErrorCode::ConcurrentTransactions);
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort if bump && !commit => {
                // KIP-890 blind abort: nothing may be open, but the epoch bump fences any late write of the
                // transaction the client is abandoning.
                self.coverage.push("coordinator:blind-abort".into());
                let mut entry = txn.log_entry(transactional_id, prepare);
                entry.partitions.clear();
                entry.txn_start_ns = now_ns;
                entry
            }
            _ => return reply(waiter, ErrorCode::InvalidTxnState),
        };
        if bump {
            // `prepareAbortOrCommit` under transaction version 2.
            assert!(txn.epoch < MAX_PRODUCER_EPOCH, "an exhausted epoch rotated the producer id before its last bump");
            entry.last_epoch = Some(txn.epoch);
            entry.epoch += 1;
            entry.previous_producer_id = None;
            entry.next_producer_id = txn.is_epoch_exhausted().then(new_producer_id);
        }
        self.begin_transition(log, entry, Some(waiter))
    }

    /// The transaction log write of `entry` finished (replicated, or failed).
    pub fn on_append(&mut self, log: PartitionId, entry: &TxnLogEntry, ok: bool, now_ns: u64) -> Vec<TxnEffect> {
        let Some(partition) = self.partitions.get_mut(&log) else { return Vec::new() };
        let Some(txn) = partition.txns.get_mut(&entry.transactional_id) else { return Vec::new() };
        if txn.pending.as_ref().is_none_or(|(pending, _)| **pending != *entry) {
            return Vec::new();
        }
        let (_, waiter) = txn.pending.take().expect("checked above");
        if !ok {
            // The write did not replicate: the state stays, the client retries (NOT_COORDINATOR makes it look
            // the coordinator up again, as Kafka's NOT_ENOUGH_REPLICAS handling does).
            self.coverage.push("coordinator:txn-log-write-failed".into());
            // `appendTransactionToLog` before KAFKA-5351 answered the error but left `pendingState` set: every
            // later request for the id is CONCURRENT_TRANSACTIONS, and the timeout and expiry tasks skip it,
            // until the coordinator moves. The expiry task's own callback (`removeExpiredTransactionalIds`)
            // did the same with a failed tombstone until KAFKA-7519.
            let expiry = entry.state == TxnState::Dead && self.kafka_bugs.contains(&KafkaBug::Kafka7519);
            if expiry || self.kafka_bugs.contains(&KafkaBug::Kafka5351) {
                self.coverage.push("coordinator:pending-state-left-set".into());
                txn.pending = Some((Rc::new(entry.clone()), None));
            } else if txn.state == TxnState::PrepareEpochFence && self.kafka_bugs.contains(&KafkaBug::Kafka9666) {
                // Before KAFKA-9666 a fence whose abort was not written left its bumped epoch in memory with the
                // transaction Ongoing (the fence was only the pending state), so the next fence bumps again.
                self.coverage.push("coordinator:failed-fence-unmarked".into());
                txn.state = TxnState::Ongoing;
            }
            return waiter.map(|waiter| reply(waiter, ErrorCode::NotCoordinator)).unwrap_or_default();
        }
        let mut effects = Vec::new();
        if let Err(illegal) = txn.state.check_transition(entry.state, self.settings.epoch_bump_per_txn) {
            effects.push(TxnEffect::Illegal(format!("{}: {illegal}", entry.transactional_id)));
            return effects;
        }
        if entry.producer_id != txn.producer_id {
            self.coverage.push("coordinator:producer-id-rotated".into());
        }
        self.coverage.push(entry.state.state_counter().into());
        self.coverage.push(entry.state.transition_counter(txn.state));
        txn.state = entry.state;
        txn.producer_id = entry.producer_id;
        txn.epoch = entry.epoch;
        txn.last_epoch = entry.last_epoch;
        txn.next_producer_id = entry.next_producer_id;
        txn.previous_producer_id = entry.previous_producer_id;
        txn.partitions = entry.partitions.iter().copied().collect();
        txn.timeout_ns = entry.timeout_ns;
        txn.txn_start_ns = entry.txn_start_ns;
        txn.last_update_ns = now_ns;
        if let Some(waiter) = waiter {
            // KAFKA-18660: a transaction that rotates the producer id answers the new id at epoch 0.
            let identity = txn.next_producer_id.map_or((txn.producer_id, txn.epoch), |next| (next, 0));
            effects.push(TxnEffect::Reply { waiter, result: Ok(identity) });
        }
        match entry.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                effects.extend(self.start_markers(log, &entry.transactional_id));
            }
            TxnState::Dead => {
                self.partitions.get_mut(&log).expect("loaded").txns.remove(&entry.transactional_id);
            }
            _ => {}
        }
        effects
    }

    /// A marker's answer, by Kafka's `TransactionMarkerRequestCompletionHandler` table ([`MarkerCompletion`]):
    /// once every partition has its marker, the transaction completes.
    pub fn on_marker(
        &mut self,
        log: PartitionId,
        transactional_id: &str,
        partition: PartitionId,
        result: Result<(), ErrorCode>,
        now_ns: u64,
    ) -> Vec<TxnEffect> {
        let Some(txn) = self.partitions.get_mut(&log).and_then(|p| p.txns.get_mut(transactional_id)) else {
            return Vec::new();
        };
        if !matches!(txn.state, TxnState::PrepareCommit | TxnState::PrepareAbort) || txn.pending.is_some() {
            return Vec::new();
        }
        if txn.markers.get(&partition) != Some(&MarkerProgress::InFlight) {
            return Vec::new();
        }
        match MarkerCompletion::of(result) {
            MarkerCompletion::Written => {
                txn.markers.remove(&partition);
            }
            MarkerCompletion::Retry => {
                self.coverage.push("coordinator:marker-retry".into());
                txn.markers.insert(partition, MarkerProgress::Queued);
                return Vec::new();
            }
            MarkerCompletion::CancelSending => {
                self.coverage.push("coordinator:marker-sending-cancelled".into());
                txn.markers.values_mut().for_each(|progress| *progress = MarkerProgress::Cancelled);
                return Vec::new();
            }
            MarkerCompletion::Illegal => {
                let error = result.expect_err("only an error is illegal");
                return vec![TxnEffect::Illegal(format!(
                    "{transactional_id}: marker for {partition:?} failed with {error:?}"
                ))];
            }
        }
        if !txn.markers.is_empty() {
            return Vec::new();
        }
        txn.last_update_ns = now_ns;
        let entry = txn.complete_entry(transactional_id);
        self.begin_transition(log, entry, None)
    }

    /// The connection that carried a marker was closed before its answer came (`onComplete` with
    /// `wasDisconnected`), or no leader was known to send it to: it goes back to the broker queue, unless the
    /// coordinator moved on (another coordinator epoch, or the transaction no longer waits for it).
    pub fn requeue_marker(
        &mut self,
        log: PartitionId,
        coordinator_epoch: u32,
        transactional_id: &str,
        partition: PartitionId,
    ) {
        let Some(loaded) = self.partitions.get_mut(&log) else { return };
        if loaded.coordinator_epoch != coordinator_epoch {
            return;
        }
        let Some(txn) = loaded.txns.get_mut(transactional_id) else { return };
        if let Some(progress @ MarkerProgress::InFlight) = txn.markers.get_mut(&partition) {
            self.coverage.push("coordinator:marker-requeued".into());
            *progress = MarkerProgress::Queued;
        }
    }

    /// Periodic work: time out open transactions, re-send unanswered markers, expire idle ids.
    ///
    /// Most ticks (every `coordinator_tick_ns` on every broker) find nothing due, so the ids are listed, their
    /// names copied, only when due; each is tested again when its turn comes.
    pub fn tick(&mut self, now_ns: u64) -> Vec<TxnEffect> {
        let due: Vec<(PartitionId, String)> = (self.partitions.iter())
            .flat_map(|(log, partition)| partition.txns.iter().map(move |(id, txn)| (*log, id, txn)))
            .filter(|(_, _, txn)| self.tick_action(txn, now_ns).is_some())
            .map(|(log, id, _)| (log, id.clone()))
            .collect();
        let mut effects = Vec::new();
        for (log, id) in due {
            effects.extend(self.tick_txn(log, &id, now_ns));
        }
        effects
    }

    /// What a tick does for `txn` now, if anything.
    fn tick_action(&self, txn: &TxnMetadata, now_ns: u64) -> Option<TickAction> {
        if txn.pending.is_some() {
            return None;
        }
        match txn.state {
            TxnState::Ongoing if now_ns.saturating_sub(txn.txn_start_ns) >= txn.timeout_ns => Some(TickAction::Timeout),
            TxnState::PrepareEpochFence => Some(TickAction::RewriteAbort),
            TxnState::PrepareCommit | TxnState::PrepareAbort if txn.markers.is_empty() => {
                Some(TickAction::RewriteComplete)
            }
            TxnState::PrepareCommit | TxnState::PrepareAbort => Some(TickAction::SendMarkers),
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
                if now_ns.saturating_sub(txn.last_update_ns) >= self.settings.transactional_id_expiration_ns =>
            {
                Some(TickAction::Expire)
            }
            _ => None,
        }
    }

    fn tick_txn(&mut self, log: PartitionId, id: &str, now_ns: u64) -> Vec<TxnEffect> {
        let txn = &self.partitions[&log].txns[id];
        let Some(action) = self.tick_action(txn, now_ns) else { return Vec::new() };
        match action {
            TickAction::Timeout => {
                self.coverage.push("coordinator:txn-timeout".into());
                if self.has_bug(KafkaBug::Kafka6119) {
                    // `abortTimedOutTransactions` before KAFKA-6119: `handleEndTransaction(ABORT)` at the
                    // producer's own epoch, no fence; the producer may go on at that epoch after the abort.
                    self.coverage.push("coordinator:txn-timeout-unfenced".into());
                    return self.transition(log, id, TxnState::PrepareAbort, None);
                }
                self.fence_and_abort(log, id, now_ns)
            }
            // The abort that follows the fence did not reach the log: write it again.
            TickAction::RewriteAbort => self.transition(log, id, TxnState::PrepareAbort, None),
            TickAction::RewriteComplete => {
                // Every marker landed but the Complete* write did not replicate: write it again.
                let entry = txn.complete_entry(id);
                self.begin_transition(log, entry, None)
            }
            TickAction::SendMarkers => self.send_markers(log, id),
            TickAction::Expire => self.transition(log, id, TxnState::Dead, None),
        }
    }

    /// Ongoing → PrepareEpochFence (the epoch is bumped, fencing the producer) → PrepareAbort.
    fn fence_and_abort(&mut self, log: PartitionId, id: &str, now_ns: u64) -> Vec<TxnEffect> {
        let blind_abort = self.settings.epoch_bump_per_txn;
        let double_bump = blind_abort && self.kafka_bugs.contains(&KafkaBug::Kafka19367);
        // Until KAFKA-20090 (PR #21469) `prepareFenceProducerEpoch` threw IllegalStateException at Short.MaxValue;
        // the model's fixed path keeps the epoch there instead, as that fix does. The switches that reach that
        // epoch restore the throw.
        let throws_at_max = double_bump || self.kafka_bugs.contains(&KafkaBug::Kafka9666);
        let txn = self.partitions.get_mut(&log).expect("loaded").txns.get_mut(id).expect("present");
        if throws_at_max && txn.epoch == MAX_PRODUCER_EPOCH {
            // The transaction cannot be fenced, and stays open.
            self.coverage.push("coordinator:fence-refused-at-max-epoch".into());
            return Vec::new();
        }
        let mut effects = Vec::new();
        match txn.state.check_transition(TxnState::PrepareEpochFence, blind_abort) {
            Ok(_) => {
                self.coverage.push("txn-state:PrepareEpochFence".into());
                self.coverage.push(TxnState::PrepareEpochFence.transition_counter(txn.state));
                txn.state = TxnState::PrepareEpochFence;
            }
            Err(illegal) => {
                effects.push(TxnEffect::Illegal(format!("{id}: {illegal}")));
                return effects;
            }
        }
        // No last epoch, as Kafka's prepareFenceProducerEpoch: the fenced producer's EndTxn at its old epoch
        // must be PRODUCER_FENCED, never taken for a retry.
        txn.last_epoch = None;
        // The epoch is a short: a fence at the exhausted epoch takes the one bump kept for it.
        txn.epoch = txn.epoch.saturating_add(1).min(MAX_PRODUCER_EPOCH);
        txn.last_update_ns = now_ns;
        if double_bump {
            // Kafka 4.0.0 (KAFKA-19367): `endTransaction` aborts the fenced transaction with
            // `prepareAbortOrCommit` under transaction version 2, which bumps the epoch once more. From
            // Short.MaxValue the short overflows and the abort throws: nothing is written, the fenced epoch stays
            // in memory, the transaction stays Ongoing (its pending state was already cleared).
            if txn.epoch == MAX_PRODUCER_EPOCH {
                self.coverage.push("coordinator:abort-epoch-overflow".into());
                txn.state = TxnState::Ongoing;
                return effects;
            }
            let mut entry = txn.log_entry(id, TxnState::PrepareAbort);
            entry.last_epoch = Some(txn.epoch);
            entry.epoch = txn.epoch + 1;
            self.coverage.push("coordinator:abort-epoch-bumped-twice".into());
            effects.extend(self.begin_transition(log, entry, None));
            return effects;
        }
        effects.extend(self.transition(log, id, TxnState::PrepareAbort, None));
        effects
    }

    /// Writes the transition to `to`, with the metadata as it is, to the log.
    fn transition(&mut self, log: PartitionId, id: &str, to: TxnState, waiter: Option<Waiter>) -> Vec<TxnEffect> {
        let txn = &self.partitions[&log].txns[id];
        let entry = txn.log_entry(id, to);
        self.begin_transition(log, entry, waiter)
    }

    /// Writes `entry` to the log; the metadata becomes the entry's only when the write is replicated.
    fn begin_transition(&mut self, log: PartitionId, entry: TxnLogEntry, waiter: Option<Waiter>) -> Vec<TxnEffect> {
        let partition = self.partitions.get_mut(&log).expect("loaded");
        let txn = partition.txns.get_mut(&entry.transactional_id).expect("present");
        assert!(txn.pending.is_none(), "one transition at a time per transactional id");
        // One entry for the pending transition, the record appended and the write in flight.
        let entry = Rc::new(entry);
        txn.pending = Some((Rc::clone(&entry), waiter));
        vec![TxnEffect::Append { log, entry }]
    }

    fn start_markers(&mut self, log: PartitionId, id: &str) -> Vec<TxnEffect> {
        let txn = self.partitions.get_mut(&log).expect("loaded").txns.get_mut(id).expect("present");
        txn.markers = txn.partitions.iter().map(|partition| (*partition, MarkerProgress::Queued)).collect();
        if txn.markers.is_empty() {
            // Nothing was written (a blind abort): complete at once.
            let entry = txn.complete_entry(id);
            return self.begin_transition(log, entry, None);
        }
        self.send_markers(log, id)
    }

    /// Sends every queued marker of the transaction (the send thread draining the broker queues).
    fn send_markers(&mut self, log: PartitionId, id: &str) -> Vec<TxnEffect> {
        let partition = self.partitions.get_mut(&log).expect("loaded");
        let coordinator_epoch = partition.coordinator_epoch;
        let txn = partition.txns.get_mut(id).expect("present");
        let marker = if txn.state == TxnState::PrepareCommit { ControlMarker::Commit } else { ControlMarker::Abort };
        let producer = ProducerIdentity { producer_id: txn.producer_id, epoch: txn.epoch, base_sequence: 0 };
        let txn_start_ns = txn.txn_start_ns;
        let mut effects = Vec::new();
        for (target, progress) in &mut txn.markers {
            if *progress != MarkerProgress::Queued {
                continue;
            }
            *progress = MarkerProgress::InFlight;
            effects.push(TxnEffect::Marker {
                transactional_id: id.to_string(),
                partition: *target,
                producer,
                marker,
                coordinator_epoch,
                txn_start_ns,
            });
        }
        effects
    }

    /// The checks every request about an existing transaction shares: coordinator, producer id, epoch, and
    /// no transition in flight.
    fn validate(
        &mut self,
        log: PartitionId,
        id: &str,
        producer_id: u64,
        epoch: u16,
    ) -> Result<&mut TxnMetadata, ErrorCode> {
        let partition = self.partitions.get_mut(&log).ok_or(ErrorCode::NotCoordinator)?;
        let txn = partition.txns.get_mut(id).ok_or(ErrorCode::InvalidProducerIdMapping)?;
        // KAFKA-18660: a client already answered the rotated id may ask while the old id's markers are
        // still being written; it must wait, not be taken for another producer.
        if txn.next_producer_id == Some(producer_id) && epoch == 0 {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        if txn.producer_id != producer_id {
            return Err(ErrorCode::InvalidProducerIdMapping);
        }
        if epoch < txn.epoch {
            return Err(ErrorCode::ProducerFenced);
        }
        if epoch > txn.epoch {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        if txn.pending.is_some() {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        Ok(txn)
    }
}

fn reply(waiter: Waiter, error: ErrorCode) -> Vec<TxnEffect> {
    vec![TxnEffect::Reply { waiter, result: Err(error) }]
}

#[cfg(test)]
#[path = "txn_tests.rs"]
mod tests;
