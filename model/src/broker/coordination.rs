//! The broker's side of the coordinators: it loads them, over virtual time, when it comes to lead an internal
//! partition (answering COORDINATOR_LOAD_IN_PROGRESS meanwhile), hands them requests, and carries out the
//! effects they return — appends to its own replicas (answered once replicated), replies, and markers to
//! partition leaders through the marker channel. It also writes the markers it is sent and,
//! under KIP-890, verifies a transactional partition with its coordinator before the first append: a
//! produce's partition, and the offsets partition of a TxnOffsetCommit (KAFKA-15449).

use super::{count_result, Broker, TxnVerification};
use crate::broker::replica::Produced;
use crate::bugs::KafkaBug;
use crate::coordinator::group::{GroupEffect, GroupWrite, LoadedRecord};
use crate::coordinator::marker_channel::InFlightMarker;
use crate::coordinator::txn::{TxnEffect, Waiter};
use crate::coordinator::txn_state::TxnState;
use crate::ctx::Ctx;
use crate::oracle::SplitOutcome;
use crate::protocol::{
    ControlMarker, ErrorCode, GroupOp, InternalRecord, Msg, PartitionId, ProducerIdentity, RecordBatch, TxnInit,
    TxnLogEntry, TxnOp,
};
use crate::scenario::Acks;
use eosim_sim::NodeId;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

/// What a write to one of this broker's own replicas is for, until it is replicated.
#[derive(Clone, Debug)]
pub(super) enum InternalWrite {
    /// A transaction-log entry.
    Txn { log: PartitionId, entry: Rc<TxnLogEntry> },
    /// A group coordinator record.
    Group { log: PartitionId, write: GroupWrite },
    /// A marker some coordinator asked for.
    Marker { coordinator: NodeId, request_id: u64, partition: PartitionId, producer_id: u64, marker: ControlMarker },
}

/// A transactional write held until the coordinator confirms its partition is in the transaction.
#[derive(Clone, Debug)]
pub(super) struct Verification {
    client: NodeId,
    request_id: u64,
    partition: PartitionId,
    producer_id: u64,
    held: Held,
    /// Kafka's VerificationGuard: the log end when verification started. A marker of the producer after it
    /// means the transaction the verification joined has ended, and the write must not append.
    guard_offset: u64,
}

/// The request a verification holds.
#[derive(Clone, Debug)]
enum Held {
    /// A transactional produce (`ReplicaManager.appendRecords`).
    Produce { acks: Acks, batch: RecordBatch },
    /// A TxnOffsetCommit, verified for the group's offsets partition (`GroupMetadataManager.storeOffsets`
    /// with its transactional id, KAFKA-15449).
    OffsetCommit { group_id: String, op: GroupOp },
}

/// The error a produce gets when its verification failed (`ReplicaManager` after `AddPartitionsToTxnManager`).
fn produce_verification_error(error: ErrorCode) -> ErrorCode {
    match error {
        ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch => ErrorCode::InvalidProducerEpoch,
        ErrorCode::InvalidProducerIdMapping | ErrorCode::InvalidTxnState | ErrorCode::TransactionAbortable => {
            ErrorCode::InvalidTxnState
        }
        // Retriable: Kafka answers a produce whose verification could not complete NOT_ENOUGH_REPLICAS.
        _ => ErrorCode::NotEnoughReplicas,
    }
}

/// The error a TxnOffsetCommit gets when its verification failed: INVALID_TXN_STATE and
/// INVALID_PRODUCER_ID_MAPPING are fatal to the producer (KAFKA-15449), a fenced epoch is PRODUCER_FENCED as
/// for the append itself, and anything else is retried at the coordinator (`GroupMetadataManager.storeOffsets`
/// maps a failed append so).
fn offset_commit_verification_error(error: ErrorCode) -> ErrorCode {
    match error {
        ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch => ErrorCode::ProducerFenced,
        ErrorCode::InvalidProducerIdMapping | ErrorCode::InvalidTxnState | ErrorCode::TransactionAbortable => {
            ErrorCode::InvalidTxnState
        }
        _ => ErrorCode::NotCoordinator,
    }
}

impl Broker {
    fn me(&self) -> NodeId {
        NodeId(self.settings.broker_index)
    }

    fn next_internal_id(&mut self) -> u64 {
        self.volatile.next_request_id += 1;
        self.volatile.next_request_id
    }

    /// The leader of `partition` in this broker's metadata.
    fn leader_of(&self, partition: PartitionId) -> Option<NodeId> {
        let image = self.volatile.image.as_ref()?;
        image.partitions[partition.index()].leader.map(NodeId)
    }

    /// Starts loading a coordinator for every internal partition this broker now leads (or leads in a new
    /// epoch), abandons the loads of those it no longer leads at the epoch they began in, and unloads the
    /// coordinators it no longer leads (Kafka's `onElection` / `onResignation` for both coordinators).
    pub(super) fn sync_coordinators(&mut self, ctx: &mut Ctx<'_>) {
        let internal = self.settings.internal;
        let hosted: Vec<(PartitionId, bool, u32)> = self
            .volatile
            .replicas
            .iter()
            .filter(|(partition, _)| partition.0 >= internal.first_partition)
            .map(|(partition, replica)| (*partition, replica.is_leader(), replica.leader_epoch))
            .collect();
        let now_ns = ctx.now_ns();
        let load_ns_per_record = self.settings.txn.load_ns_per_record;
        for (partition, leads, epoch) in hosted {
            let loaded = self.volatile.coordinator_epochs.get(&partition).copied();
            let current = leads.then_some(epoch);
            if loaded.is_some() && loaded != current {
                self.unload_coordinator(ctx, partition);
            }
            let loaded = self.volatile.coordinator_epochs.get(&partition).copied();
            let records = self.durable.replicas[&partition].log.batches().len() as u64;
            let loads = &mut self.volatile.coordinator_loads;
            let change = loads.on_leadership(partition, current, loaded, records, now_ns, load_ns_per_record);
            if change.abandoned {
                ctx.shared.count("coordinator:load-abandoned");
            }
            if change.started {
                ctx.shared.count("coordinator:load-started");
            }
        }
    }

    fn unload_coordinator(&mut self, ctx: &mut Ctx<'_>, partition: PartitionId) {
        self.volatile.coordinator_epochs.remove(&partition);
        self.volatile.marker_channel.remove_markers_for_txn_topic_partition(partition);
        let effects = self.volatile.txn.unload(partition);
        self.volatile.groups.unload(partition);
        self.run_txn_effects(ctx, effects);
    }

    /// Completes every load whose log has been read, if this broker still leads its partition at the epoch
    /// the load began in.
    fn finish_loads(&mut self, ctx: &mut Ctx<'_>) {
        for (partition, leader_epoch) in self.volatile.coordinator_loads.take_due(ctx.now_ns()) {
            let replica = self.volatile.replicas.get(&partition);
            if replica.is_some_and(|replica| replica.is_leader() && replica.leader_epoch == leader_epoch) {
                self.load_coordinator(ctx, partition, leader_epoch);
            } else {
                ctx.shared.count("coordinator:load-abandoned");
            }
        }
    }

    /// COORDINATOR_LOAD_IN_PROGRESS if the coordinator of internal partition `log` is still loading here.
    fn loading(&self, ctx: &mut Ctx<'_>, log: PartitionId) -> Option<ErrorCode> {
        if !self.volatile.coordinator_loads.is_loading(log) {
            return None;
        }
        count_result(ctx, &Err(ErrorCode::CoordinatorLoadInProgress));
        Some(ErrorCode::CoordinatorLoadInProgress)
    }

    fn load_coordinator(&mut self, ctx: &mut Ctx<'_>, partition: PartitionId, epoch: u32) {
        assert!(!self.volatile.coordinator_epochs.contains_key(&partition), "unloaded before it loads again");
        self.volatile.coordinator_epochs.insert(partition, epoch);
        ctx.shared.count("coordinator:loaded");
        if epoch > 0 {
            ctx.shared.count("coordinator:failover");
        }
        let log = &self.durable.replicas[&partition].log;
        let now_ns = ctx.now_ns();
        if self.settings.internal.is_transaction_log(partition) {
            // Kafka loads to the log end: a transaction whose last entry is a Prepare above the high watermark
            // has its markers sent as if that entry were committed. An id's entries come in offset order, so its
            // last entry is above the HW exactly when its last entry among those above the HW is: only that tail
            // of the log is read.
            let high_watermark = self.volatile.replicas[&partition].high_watermark;
            let unreplicated = log.batches().partition_point(|stored| stored.base_offset < high_watermark);
            let mut last: BTreeMap<&str, &TxnLogEntry> = BTreeMap::new();
            for stored in &log.batches()[unreplicated..] {
                if let Some(InternalRecord::Txn(entry)) = stored.batch.internal.as_deref() {
                    last.insert(&entry.transactional_id, entry);
                }
            }
            for entry in last.into_values() {
                if matches!(entry.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
                    ctx.shared.txn_outcomes.loaded_unreplicated(&entry.transactional_id, entry.txn_start_ns);
                }
            }
            let entries: Vec<TxnLogEntry> = log
                .batches()
                .iter()
                .filter_map(|stored| match stored.batch.internal.as_deref() {
                    Some(InternalRecord::Txn(entry)) => Some(TxnLogEntry::clone(entry)),
                    _ => None,
                })
                .collect();
            let effects = self.volatile.txn.load(partition, epoch, &entries, now_ns);
            self.run_txn_effects(ctx, effects);
        } else {
            let records: Vec<LoadedRecord> = log
                .batches()
                .iter()
                .filter_map(|stored| {
                    let batch = &stored.batch;
                    if let (Some(marker), Some(producer)) = (batch.control, batch.producer) {
                        return Some(LoadedRecord::Marker { producer_id: producer.producer_id, marker });
                    }
                    let record = batch.internal.as_deref()?.clone();
                    Some(LoadedRecord::Record { producer: batch.producer, record })
                })
                .collect();
            self.volatile.groups.load(partition, &records, now_ns);
            self.drain_coverage(ctx);
        }
    }

    pub(super) fn tick_coordinators(&mut self, ctx: &mut Ctx<'_>) {
        self.finish_loads(ctx);
        let now_ns = ctx.now_ns();
        let request_timeout_ns = self.settings.txn.marker_retry_ns;
        for marker in self.volatile.marker_channel.disconnect_timed_out(now_ns, request_timeout_ns) {
            ctx.shared.count("coordinator:marker-request-disconnected");
            let InFlightMarker { log, coordinator_epoch, transactional_id, partition, .. } = marker;
            self.volatile.txn.requeue_marker(log, coordinator_epoch, &transactional_id, partition);
        }
        let effects = self.volatile.txn.tick(now_ns);
        self.run_txn_effects(ctx, effects);
        let effects = self.volatile.groups.tick(now_ns);
        self.run_group_effects(ctx, effects);
    }

    pub(super) fn on_init_transactional(&mut self, ctx: &mut Ctx<'_>, source: NodeId, request_id: u64, init: TxnInit) {
        let log = self.settings.internal.transaction_log_partition(&init.transactional_id);
        let waiter = Waiter { client: source, request_id, init: true };
        if let Some(error) = self.loading(ctx, log) {
            ctx.send(source, Msg::InitProducerIdResponse { request_id, result: Err(error) });
            return;
        }
        let (broker_count, broker_index) =
            (u64::from(self.settings.broker_count), u64::from(self.settings.broker_index));
        let issued = &mut self.durable.producer_ids_issued;
        let new_producer_id = || {
            *issued += 1;
            (*issued - 1) * broker_count + broker_index + 1
        };
        let effects = self.volatile.txn.init_producer_id_expecting(
            log,
            &init.transactional_id,
            init.timeout_ns,
            init.current,
            waiter,
            new_producer_id,
            ctx.now_ns(),
        );
        self.run_txn_effects(ctx, effects);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_txn_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        source: NodeId,
        request_id: u64,
        transactional_id: &str,
        producer_id: u64,
        epoch: u16,
        op: TxnOp,
    ) {
        let internal = self.settings.internal;
        let log = internal.transaction_log_partition(transactional_id);
        let waiter = Waiter { client: source, request_id, init: false };
        if let Some(error) = self.loading(ctx, log) {
            ctx.send(source, Msg::TxnResponse { request_id, result: Err(error) });
            return;
        }
        let now_ns = ctx.now_ns();
        let (broker_count, broker_index) =
            (u64::from(self.settings.broker_count), u64::from(self.settings.broker_index));
        let issued = &mut self.durable.producer_ids_issued;
        let new_producer_id = || {
            *issued += 1;
            (*issued - 1) * broker_count + broker_index + 1
        };
        let txn = &mut self.volatile.txn;
        let effects = match op {
            TxnOp::AddPartitions(partitions) => {
                txn.add_partitions(log, transactional_id, producer_id, epoch, &partitions, waiter, now_ns)
            }
            TxnOp::AddOffsets(group_id) => {
                let partitions = [internal.offsets_partition(&group_id)];
                txn.add_partitions(log, transactional_id, producer_id, epoch, &partitions, waiter, now_ns)
            }
            TxnOp::VerifyPartitions(partitions) => {
                txn.verify_partitions(log, transactional_id, producer_id, epoch, &partitions, waiter)
            }
            TxnOp::EndTxn(commit) => {
                txn.end_txn(log, transactional_id, producer_id, epoch, commit, waiter, now_ns, new_producer_id)
            }
        };
        self.run_txn_effects(ctx, effects);
    }

    pub(super) fn on_group_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        source: NodeId,
        request_id: u64,
        group_id: &str,
        op: GroupOp,
    ) {
        let log = self.settings.internal.offsets_partition(group_id);
        if let Some(error) = self.loading(ctx, log) {
            ctx.send(source, Msg::GroupResponse { request_id, result: Err(error) });
            return;
        }
        if let GroupOp::TxnOffsetCommit { transactional_id, producer_id, epoch, .. } = &op {
            if self.offset_commit_needs_verification(log, *producer_id, *epoch) {
                let transactional_id = transactional_id.clone();
                let held = Held::OffsetCommit { group_id: group_id.to_string(), op };
                self.start_verification(ctx, source, request_id, log, held, transactional_id);
                return;
            }
        }
        self.run_group_op(ctx, source, request_id, group_id, op);
    }

    /// Hands a group request to the group coordinator of `group_id`'s offsets partition.
    fn run_group_op(&mut self, ctx: &mut Ctx<'_>, source: NodeId, request_id: u64, group_id: &str, op: GroupOp) {
        let log = self.settings.internal.offsets_partition(group_id);
        let waiter = Waiter { client: source, request_id, init: false };
        let now_ns = ctx.now_ns();
        let groups = &mut self.volatile.groups;
        let effects = match op {
            GroupOp::Join { member_id, session_timeout_ns, subscription } => {
                groups.join(log, group_id, &member_id, session_timeout_ns, &subscription, waiter, now_ns)
            }
            GroupOp::Heartbeat { member_id, generation } => {
                groups.heartbeat(log, group_id, &member_id, generation, waiter, now_ns)
            }
            GroupOp::OffsetFetch { partitions, require_stable } => {
                groups.offset_fetch(log, group_id, &partitions, require_stable, waiter)
            }
            GroupOp::OffsetCommit { member_id, generation, offsets } => {
                groups.commit_offsets(log, group_id, None, &member_id, generation, &offsets, waiter)
            }
            GroupOp::TxnOffsetCommit { producer_id, epoch, member_id, generation, offsets, .. } => {
                let producer = ProducerIdentity { producer_id, epoch, base_sequence: 0 };
                groups.txn_offset_commit(log, group_id, producer, &member_id, generation, &offsets, waiter)
            }
        };
        self.run_group_effects(ctx, effects);
    }

    /// Carries out the transaction coordinator's effects, and those that follow from them.
    pub(super) fn run_txn_effects(&mut self, ctx: &mut Ctx<'_>, effects: Vec<TxnEffect>) {
        let mut queue: VecDeque<TxnEffect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            match effect {
                TxnEffect::Append { log, entry } => {
                    let batch = RecordBatch::internal(None, InternalRecord::Txn(Rc::clone(&entry)));
                    let write = InternalWrite::Txn { log, entry: Rc::clone(&entry) };
                    if let Some(result) = self.append_internal(ctx, log, batch, write) {
                        queue.extend(self.volatile.txn.on_append(log, &entry, result.is_ok(), ctx.now_ns()));
                    }
                }
                TxnEffect::Reply { waiter, result } => {
                    let msg = if waiter.init {
                        Msg::InitProducerIdResponse { request_id: waiter.request_id, result }
                    } else {
                        Msg::TxnResponse { request_id: waiter.request_id, result }
                    };
                    ctx.send(waiter.client, msg);
                }
                TxnEffect::Marker {
                    transactional_id,
                    partition,
                    producer,
                    marker,
                    coordinator_epoch,
                    txn_start_ns,
                } => {
                    match ctx.shared.txn_outcomes.marker_sent(&transactional_id, txn_start_ns, marker) {
                        Some(SplitOutcome::UnreplicatedLoad) => {
                            ctx.shared.count("oracle:split-outcome-unreplicated-load")
                        }
                        Some(SplitOutcome::Other) => ctx.shared.count("oracle:split-outcome"),
                        None => {}
                    }
                    let log = self.settings.internal.transaction_log_partition(&transactional_id);
                    let Some(destination) = self.leader_of(partition) else {
                        // No leader known: the marker waits in the queue for the next send.
                        self.volatile.txn.requeue_marker(log, coordinator_epoch, &transactional_id, partition);
                        continue;
                    };
                    let request_id = self.next_internal_id();
                    let sent_ns = ctx.now_ns();
                    let in_flight =
                        InFlightMarker { log, coordinator_epoch, transactional_id, partition, destination, sent_ns };
                    self.volatile.marker_channel.sent(request_id, in_flight);
                    let msg = Msg::WriteTxnMarkerRequest { request_id, partition, producer, marker, coordinator_epoch };
                    ctx.send(destination, msg);
                }
                TxnEffect::Illegal(message) => panic!("transaction coordinator: {message}"),
            }
        }
        self.drain_coverage(ctx);
    }

    /// Carries out the group coordinator's effects.
    pub(super) fn run_group_effects(&mut self, ctx: &mut Ctx<'_>, effects: Vec<GroupEffect>) {
        let mut queue: VecDeque<GroupEffect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            match effect {
                GroupEffect::Append { log, producer, record, write } => {
                    let batch = RecordBatch::internal(producer, record);
                    if let Some(result) =
                        self.append_internal(ctx, log, batch, InternalWrite::Group { log, write: write.clone() })
                    {
                        queue.extend(self.volatile.groups.on_append(log, write, result));
                    }
                }
                GroupEffect::Reply { waiter, result } => {
                    ctx.send(waiter.client, Msg::GroupResponse { request_id: waiter.request_id, result });
                }
            }
        }
        self.drain_coverage(ctx);
    }

    fn drain_coverage(&mut self, ctx: &mut Ctx<'_>) {
        for name in self.volatile.txn.take_coverage().into_iter().chain(self.volatile.groups.take_coverage()) {
            ctx.shared.count_named(name);
        }
    }

    /// Appends a coordinator record to this broker's replica of `log`; returns the outcome if it is known
    /// at once, else remembers `write` until the record is replicated.
    fn append_internal(
        &mut self,
        ctx: &mut Ctx<'_>,
        log: PartitionId,
        batch: RecordBatch,
        write: InternalWrite,
    ) -> Option<Result<(), ErrorCode>> {
        let request_id = self.next_internal_id();
        let me = self.me();
        let result = match (self.volatile.replicas.get_mut(&log), self.durable.replicas.get_mut(&log)) {
            (Some(replica), Some(durable)) => {
                replica.advance_clock(ctx.now_ns());
                replica.append_internal(durable, &self.settings.replication, (me, request_id), batch)
            }
            _ => Err(ErrorCode::NotLeaderOrFollower),
        };
        count_result(ctx, &result.map(|_| ()));
        match result {
            Ok(Produced { ack: None, .. }) => {
                self.volatile.internal_writes.insert(request_id, write);
                None
            }
            Ok(Produced { ack: Some(_), .. }) => Some(Ok(())),
            Err(error) => Some(Err(error)),
        }
    }

    /// A write this broker made to its own replica was replicated, or failed.
    pub(super) fn on_internal_write_done(&mut self, ctx: &mut Ctx<'_>, request_id: u64, result: Result<(), ErrorCode>) {
        let Some(write) = self.volatile.internal_writes.remove(&request_id) else { return };
        match write {
            InternalWrite::Txn { log, entry } => {
                let effects = self.volatile.txn.on_append(log, &entry, result.is_ok(), ctx.now_ns());
                self.run_txn_effects(ctx, effects);
            }
            InternalWrite::Group { log, write } => {
                let effects = self.volatile.groups.on_append(log, write, result);
                self.run_group_effects(ctx, effects);
            }
            InternalWrite::Marker { coordinator, request_id, partition, producer_id, marker } => {
                self.marker_done(ctx, coordinator, request_id, partition, producer_id, marker, result);
            }
        }
    }

    /// WriteTxnMarkers for one partition this broker should lead.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_write_marker(
        &mut self,
        ctx: &mut Ctx<'_>,
        coordinator: NodeId,
        request_id: u64,
        partition: PartitionId,
        producer: ProducerIdentity,
        marker: ControlMarker,
        coordinator_epoch: u32,
    ) {
        let internal_id = self.next_internal_id();
        let me = self.me();
        // Kafka 4.x carries the transaction version in each marker (KAFKA-19446); a cluster here runs one
        // version, so the leader's own is the coordinator's.
        let transaction_version_2 = self.settings.txn.epoch_bump_per_txn
            && !self.settings.kafka_bugs.contains(&crate::bugs::KafkaBug::Kafka19446);
        let accept_retry = !self.settings.kafka_bugs.contains(&crate::bugs::KafkaBug::Kafka19999);
        let result = match (self.volatile.replicas.get_mut(&partition), self.durable.replicas.get_mut(&partition)) {
            (Some(replica), Some(_)) if !replica.is_leader() => Err(ErrorCode::NotLeaderOrFollower),
            (Some(replica), Some(_))
                if transaction_version_2
                    && replica.producer_state().check_marker_transaction_version_2(producer, accept_retry).is_err() =>
            {
                ctx.shared.count("broker:marker-epoch-not-bumped");
                Err(ErrorCode::InvalidProducerEpoch)
            }
            (Some(replica), Some(durable)) => {
                replica.advance_clock(ctx.now_ns());
                replica.write_marker(
                    durable,
                    &self.settings.replication,
                    Some((me, internal_id)),
                    producer,
                    marker,
                    coordinator_epoch,
                )
            }
            _ => Err(ErrorCode::NotLeaderOrFollower),
        };
        count_result(ctx, &result.map(|_| ()));
        let producer_id = producer.producer_id;
        match result {
            Ok(Produced { ack: None, .. }) => {
                let write = InternalWrite::Marker { coordinator, request_id, partition, producer_id, marker };
                self.volatile.internal_writes.insert(internal_id, write);
            }
            Ok(Produced { ack: Some(_), .. }) => {
                self.marker_done(ctx, coordinator, request_id, partition, producer_id, marker, Ok(()));
            }
            Err(error) => {
                self.marker_done(ctx, coordinator, request_id, partition, producer_id, marker, Err(error));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn marker_done(
        &mut self,
        ctx: &mut Ctx<'_>,
        coordinator: NodeId,
        request_id: u64,
        partition: PartitionId,
        producer_id: u64,
        marker: ControlMarker,
        result: Result<(), ErrorCode>,
    ) {
        if result.is_ok() {
            ctx.shared.count("broker:marker-written");
            if self.settings.internal.is_offsets(partition) {
                self.volatile.groups.on_marker(partition, producer_id, marker);
                self.drain_coverage(ctx);
            }
        }
        ctx.send(coordinator, Msg::WriteTxnMarkerResponse { request_id, partition, result });
    }

    /// The coordinator answered a marker this broker's coordinator sent.
    pub(super) fn on_marker_written(&mut self, ctx: &mut Ctx<'_>, request_id: u64, result: Result<(), ErrorCode>) {
        // An answer on a connection closed by its request timeout is never delivered.
        let Some(answered) = self.volatile.marker_channel.answered(request_id) else { return };
        let InFlightMarker { log, coordinator_epoch, transactional_id, partition, .. } = answered;
        if self.volatile.coordinator_epochs.get(&log) != Some(&coordinator_epoch) {
            // `TransactionMarkerRequestCompletionHandler`: the coordinator epoch changed, the markers are obsolete.
            return;
        }
        let effects = self.volatile.txn.on_marker(log, &transactional_id, partition, result, ctx.now_ns());
        self.run_txn_effects(ctx, effects);
    }

    /// KIP-890: a transactional batch for a partition where its producer has no open transaction at its
    /// epoch must first be added to the transaction by the coordinator.
    pub(super) fn needs_verification(
        &self,
        partition: PartitionId,
        batch: &RecordBatch,
        transactional_id: Option<&str>,
    ) -> bool {
        if self.settings.verification == TxnVerification::Off || !batch.transactional || transactional_id.is_none() {
            return false;
        }
        let (Some(identity), Some(replica)) = (batch.producer, self.volatile.replicas.get(&partition)) else {
            return false;
        };
        replica.is_leader() && !replica.producer_state().has_open_txn(identity.producer_id, identity.epoch)
    }

    /// KAFKA-15449 (Kafka 3.7, KIP-890 part 1): the group coordinator verifies a TxnOffsetCommit with the
    /// transaction coordinator before appending it, when the producer has no open transaction on the offsets
    /// partition at its epoch; transaction version 1 without KIP-890 appends it unverified.
    fn offset_commit_needs_verification(&self, log: PartitionId, producer_id: u64, epoch: u16) -> bool {
        let Some(replica) = self.volatile.replicas.get(&log) else { return false };
        let open = replica.producer_state().has_open_txn(producer_id, epoch);
        offset_commit_verification_wanted(self.settings.verification, replica.is_leader(), open)
    }

    /// Asks the coordinator to add `partition` to the producer's transaction, holding the batch meanwhile.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn verify(
        &mut self,
        ctx: &mut Ctx<'_>,
        client: NodeId,
        request_id: u64,
        partition: PartitionId,
        acks: Acks,
        batch: RecordBatch,
        transactional_id: String,
    ) {
        self.start_verification(ctx, client, request_id, partition, Held::Produce { acks, batch }, transactional_id);
    }

    /// Sends the verification of `held` for `partition` to the transaction coordinator and holds the request
    /// until it answers.
    fn start_verification(
        &mut self,
        ctx: &mut Ctx<'_>,
        client: NodeId,
        request_id: u64,
        partition: PartitionId,
        held: Held,
        transactional_id: String,
    ) {
        let (producer_id, epoch) = match &held {
            Held::Produce { batch, .. } => {
                let identity = batch.producer.expect("transactional batches have a producer");
                (identity.producer_id, identity.epoch)
            }
            Held::OffsetCommit { op: GroupOp::TxnOffsetCommit { producer_id, epoch, .. }, .. } => {
                (*producer_id, *epoch)
            }
            Held::OffsetCommit { .. } => unreachable!("only a TxnOffsetCommit is verified"),
        };
        let log = self.settings.internal.transaction_log_partition(&transactional_id);
        let Some(coordinator) = self.leader_of(log) else {
            self.refuse_held(ctx, client, request_id, partition, held, ErrorCode::NotEnoughReplicas);
            return;
        };
        ctx.shared.count("broker:txn-verification");
        if matches!(held, Held::OffsetCommit { .. }) {
            ctx.shared.count("broker:txn-offset-commit-verification");
        }
        let guard_offset = self.durable.replicas[&partition].log.end_offset();
        let verification_id = self.next_internal_id();
        let verification = Verification { client, request_id, partition, producer_id, held, guard_offset };
        self.volatile.verifications.insert(verification_id, verification);
        let msg = Msg::TxnRequest {
            request_id: verification_id,
            transactional_id: transactional_id.into(),
            producer_id,
            epoch,
            op: Box::new(match self.settings.verification {
                TxnVerification::VerifyOnly => TxnOp::VerifyPartitions(vec![partition]),
                TxnVerification::AddPartition | TxnVerification::Off => TxnOp::AddPartitions(vec![partition]),
            }),
        };
        ctx.send(coordinator, msg);
    }

    /// The coordinator answered a verification: carry out the held request, unless the guard was broken.
    pub(super) fn on_verified(&mut self, ctx: &mut Ctx<'_>, request_id: u64, result: Result<(u64, u16), ErrorCode>) {
        let Some(verification) = self.volatile.verifications.remove(&request_id) else { return };
        let Verification { client, request_id, partition, producer_id, held, guard_offset } = verification;
        let produce = matches!(held, Held::Produce { .. });
        let ended = self.marker_since(partition, producer_id, guard_offset);
        if result.is_ok() && ended && !self.guard_broken(partition, producer_id, guard_offset, produce) {
            ctx.shared.count("broker:kafka-14884-unguarded-append");
        }
        let error = match result {
            Ok(_) if self.guard_broken(partition, producer_id, guard_offset, produce) => {
                // KAFKA-14884: the transaction ended while the verification was in flight.
                ctx.shared.count("broker:verification-guard-broken");
                Some(ErrorCode::InvalidTxnState)
            }
            Ok(_) => None,
            Err(error) => Some(error),
        };
        match (held, error) {
            (Held::Produce { acks, batch }, None) => self.produce(ctx, client, request_id, partition, acks, batch),
            (Held::OffsetCommit { group_id, op }, None) => self.run_group_op(ctx, client, request_id, &group_id, op),
            (held, Some(error)) => self.refuse_held(ctx, client, request_id, partition, held, error),
        }
    }

    /// Answers a held request whose verification failed with `error`, in its own protocol's terms.
    fn refuse_held(
        &mut self,
        ctx: &mut Ctx<'_>,
        client: NodeId,
        request_id: u64,
        partition: PartitionId,
        held: Held,
        error: ErrorCode,
    ) {
        match held {
            Held::Produce { .. } => {
                let error = produce_verification_error(error);
                count_result(ctx, &Err(error));
                let log_start_offset = self.log_start_offset(partition);
                ctx.send(client, Msg::ProduceResponse { request_id, result: Err(error), log_start_offset });
            }
            Held::OffsetCommit { .. } => {
                let error = offset_commit_verification_error(error);
                count_result(ctx, &Err(error));
                if error == ErrorCode::InvalidTxnState {
                    ctx.shared.count("broker:txn-offset-commit-refused");
                }
                ctx.send(client, Msg::GroupResponse { request_id, result: Err(error) });
            }
        }
    }

    fn marker_since(&self, partition: PartitionId, producer_id: u64, offset: u64) -> bool {
        self.durable
            .replicas
            .get(&partition)
            .is_some_and(|durable| marker_in_log_since(&durable.log, producer_id, offset))
    }

    fn guard_broken(&self, partition: PartitionId, producer_id: u64, guard_offset: u64, produce: bool) -> bool {
        let Some(durable) = self.durable.replicas.get(&partition) else { return true };
        verification_guard_broken(&durable.log, producer_id, guard_offset, produce, &self.settings.kafka_bugs)
    }
}

/// Whether a verified write must be refused because its transaction ended while the verification was in
/// flight. A produce is checked only since KAFKA-14884 (PR #13787, in 3.6.0): KIP-890 part 1 as first merged
/// (KAFKA-14402, PR #13231) checked `hasOngoingTransaction` when it sent the verification and appended on the
/// coordinator's answer, so an ABORT marker written meanwhile let the write open a transaction the coordinator
/// does not know, which is what `Kafka14884` restores. A TxnOffsetCommit is always checked: its verification
/// (KAFKA-15449, 3.7) came after the guard.
fn verification_guard_broken(
    log: &crate::broker::log::PartitionLog,
    producer_id: u64,
    guard_offset: u64,
    produce: bool,
    kafka_bugs: &[KafkaBug],
) -> bool {
    if produce && kafka_bugs.contains(&KafkaBug::Kafka14884) {
        return false;
    }
    marker_in_log_since(log, producer_id, guard_offset)
}

/// Kafka's VerificationGuard check in `UnifiedLog.analyzeAndValidateProducerState`: true if a marker of
/// `producer_id` was appended at or after `offset`, the log end when the verification started, so the
/// transaction the coordinator verified has ended here and the held write belongs to no transaction.
fn marker_in_log_since(log: &crate::broker::log::PartitionLog, producer_id: u64, offset: u64) -> bool {
    let batches = log.batches();
    let first = batches.partition_point(|stored| stored.next_offset() <= offset);
    batches[first..].iter().any(|stored| {
        stored.batch.control.is_some() && stored.batch.producer.is_some_and(|p| p.producer_id == producer_id)
    })
}

/// Whether a TxnOffsetCommit must be verified before it appends: under KIP-890 (either transaction version),
/// at the offsets partition's leader, when its producer has no open transaction there at its epoch.
fn offset_commit_verification_wanted(verification: TxnVerification, leader: bool, open_txn: bool) -> bool {
    verification != TxnVerification::Off && leader && !open_txn
}

#[cfg(test)]
mod tests {
    //! A late TxnOffsetCommit, built by hand: the pipeline's transaction at epoch 0 committed its offsets on
    //! offsets partition 20 (the TxnOffsetCommit at offset 0, the COMMIT marker at offset 1), and a delayed
    //! copy of that TxnOffsetCommit arrives afterwards. The group coordinator's leader sees no open
    //! transaction of the producer there; whether it asks the transaction coordinator first decides whether
    //! the copy opens a transaction that no marker will ever end (KAFKA-12671's class on the offsets topic).

    use super::*;
    use crate::broker::log::PartitionLog;
    use crate::broker::producer_state::ProducerStateManager;
    use crate::coordinator::group::GroupCoordinator;
    use crate::coordinator::txn::{TxnCoordinator, TxnCoordinatorSettings, DEFAULT_LOAD_NS_PER_RECORD};
    use crate::coordinator::txn_state::TxnState;

    const OFFSETS: PartitionId = PartitionId(20);
    const TXN_LOG: PartitionId = PartitionId(10);
    const ID: &str = "pipeline-0";
    const GROUP: &str = "pipeline";
    const PID: u64 = 1000;
    const PRODUCER: ProducerIdentity = ProducerIdentity { producer_id: PID, epoch: 0, base_sequence: 0 };

    fn commit_record() -> InternalRecord {
        InternalRecord::Offsets { group_id: GROUP.to_string(), offsets: vec![(PartitionId(0), 5)] }
    }

    /// The offsets partition's producer state after the TxnOffsetCommit and its COMMIT marker.
    fn offsets_after_the_marker() -> ProducerStateManager {
        let mut log = PartitionLog::new();
        log.append(RecordBatch::internal(Some(PRODUCER), commit_record()), 0, 0);
        assert!(ProducerStateManager::rebuild(&log).has_open_txn(PID, 0), "open until its marker");
        log.append(RecordBatch::marker(PRODUCER, ControlMarker::Commit, 0), 0, 0);
        ProducerStateManager::rebuild(&log)
    }

    /// The transaction coordinator once that commit completed: CompleteCommit, no partitions, at epoch 0 under
    /// transaction version 1 and at 1 under version 2, whose EndTxn bumped it.
    fn coordinator_after_the_commit(epoch_bump_per_txn: bool) -> TxnCoordinator {
        let settings = TxnCoordinatorSettings {
            epoch_bump_per_txn,
            transactional_id_expiration_ns: u64::MAX / 2,
            marker_retry_ns: 30_000_000,
            load_ns_per_record: DEFAULT_LOAD_NS_PER_RECORD,
            producer_epoch_start: 0,
        };
        let entry = TxnLogEntry {
            transactional_id: ID.to_string(),
            producer_id: PID,
            epoch: u16::from(epoch_bump_per_txn),
            last_epoch: epoch_bump_per_txn.then_some(0),
            state: TxnState::CompleteCommit,
            partitions: Vec::new(),
            timeout_ns: 100_000_000,
            txn_start_ns: 0,
            next_producer_id: None,
            previous_producer_id: None,
        };
        let mut coordinator = TxnCoordinator::new(settings);
        coordinator.load(TXN_LOG, 0, &[entry], 0);
        coordinator
    }

    /// The transaction coordinator's answer to verifying the offsets partition, as the late commit gets it.
    fn verified(coordinator: &mut TxnCoordinator, op: TxnOp) -> Result<(), ErrorCode> {
        let waiter = Waiter { client: NodeId(7), request_id: 1, init: false };
        let effects = match op {
            TxnOp::VerifyPartitions(partitions) => {
                coordinator.verify_partitions(TXN_LOG, ID, PID, 0, &partitions, waiter)
            }
            TxnOp::AddPartitions(partitions) => coordinator.add_partitions(TXN_LOG, ID, PID, 0, &partitions, waiter, 0),
            _ => unreachable!("a verification verifies or adds"),
        };
        match effects.as_slice() {
            [TxnEffect::Reply { result: Ok(_), .. }] => Ok(()),
            [TxnEffect::Reply { result: Err(error), .. }] => Err(offset_commit_verification_error(*error)),
            other => panic!("one answer expected: {other:?}"),
        }
    }

    #[test]
    fn verification_guard_refuses_a_write_whose_transaction_ended_unless_kafka_14884() {
        // Partition 0: the producer's batch at offset 0; a verification starts with the log end 1 as its guard;
        // the client's abort lands at offset 1 before the coordinator's answer comes back.
        let mut log = PartitionLog::new();
        log.append(RecordBatch::data(Some(PRODUCER), true, vec![1]), 0, 0);
        let guard_offset = log.end_offset();
        assert!(!verification_guard_broken(&log, PID, guard_offset, true, &[]), "nothing ended yet");
        log.append(RecordBatch::marker(PRODUCER, ControlMarker::Abort, 0), 0, 0);
        assert!(verification_guard_broken(&log, PID, guard_offset, true, &[]), "fixed: refused");
        assert!(!verification_guard_broken(&log, PID + 1, guard_offset, true, &[]), "another producer's marker");
        let bug = [KafkaBug::Kafka14884];
        assert!(!verification_guard_broken(&log, PID, guard_offset, true, &bug), "KAFKA-14884: appended anyway");
        assert!(verification_guard_broken(&log, PID, guard_offset, false, &bug), "a TxnOffsetCommit stays guarded");
        // The earlier marker does not count against a verification started after it.
        assert!(!verification_guard_broken(&log, PID, log.end_offset(), true, &[]));
    }

    #[test]
    fn store_offsets_verifies_a_late_txn_offset_commit_under_kip_890_and_refuses_it() {
        let open = offsets_after_the_marker().has_open_txn(PID, 0);
        assert!(!open, "the marker closed the transaction on the offsets partition");
        // eos-tv1-verify (Kafka 3.7-3.9): AddPartitionsToTxn verifyOnly for the offsets partition, which the
        // completed transaction no longer holds: INVALID_TXN_STATE, fatal to the producer.
        assert!(offset_commit_verification_wanted(TxnVerification::VerifyOnly, true, open));
        let mut tv1 = coordinator_after_the_commit(false);
        assert_eq!(verified(&mut tv1, TxnOp::VerifyPartitions(vec![OFFSETS])), Err(ErrorCode::InvalidTxnState));
        // A follower never appends, and an open transaction at the epoch needs no verification.
        assert!(!offset_commit_verification_wanted(TxnVerification::VerifyOnly, false, open));
        assert!(!offset_commit_verification_wanted(TxnVerification::VerifyOnly, true, true));
        // eos-tv2 verifies too, adding the partition on the producer's behalf; the late copy carries epoch 0,
        // which the commit's bump retired, so it is fenced instead of opening a transaction.
        assert!(offset_commit_verification_wanted(TxnVerification::AddPartition, true, open));
        let mut tv2 = coordinator_after_the_commit(true);
        assert_eq!(verified(&mut tv2, TxnOp::AddPartitions(vec![OFFSETS])), Err(ErrorCode::ProducerFenced));
    }

    #[test]
    fn store_offsets_appends_a_late_txn_offset_commit_unverified_under_transaction_version_1() {
        let open = offsets_after_the_marker().has_open_txn(PID, 0);
        assert!(!offset_commit_verification_wanted(TxnVerification::Off, true, open));
        // The group coordinator appends it as a transactional record of producer 1000: a transaction on the
        // offsets partition that its coordinator, already CompleteCommit, will never send a marker for.
        let mut groups = GroupCoordinator::new();
        let member = ("a".to_string(), 100_000_000, vec![PartitionId(0)]);
        let generation = InternalRecord::Group { group_id: GROUP.to_string(), generation: 1, members: vec![member] };
        groups.load(OFFSETS, &[LoadedRecord::Record { producer: None, record: generation }], 0);
        let waiter = Waiter { client: NodeId(7), request_id: 3, init: false };
        let effects = groups.txn_offset_commit(OFFSETS, GROUP, PRODUCER, "a", 1, &[(PartitionId(0), 5)], waiter);
        let [GroupEffect::Append { producer, record, .. }] = effects.as_slice() else {
            panic!("one append expected: {effects:?}")
        };
        assert_eq!((*producer, record), (Some(PRODUCER), &commit_record()));
        let mut log = PartitionLog::new();
        log.append(RecordBatch::internal(Some(PRODUCER), commit_record()), 0, 0);
        log.append(RecordBatch::marker(PRODUCER, ControlMarker::Commit, 0), 0, 0);
        log.append(RecordBatch::internal(*producer, record.clone()), 0, 0);
        assert!(ProducerStateManager::rebuild(&log).has_open_txn(PID, 0), "the late copy reopened it");
    }
}
