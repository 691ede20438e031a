//! The broker's side of the coordinators: it loads them, over virtual time, when it comes to lead an internal
//! partition (answering COORDINATOR_LOAD_IN_PROGRESS meanwhile), hands them requests, and carries out the
//! effects they return — appends to its own replicas (answered once replicated), replies, and markers to
//! partition leaders through the marker channel. It also writes the markers it is sent and,
//! under KIP-890, verifies a transactional partition with its coordinator before the first append.

use super::{count_result, Broker, TxnVerification};
use crate::broker::replica::Produced;
use crate::coordinator::group::{GroupEffect, GroupWrite, LoadedRecord};
use crate::coordinator::marker_channel::InFlightMarker;
use crate::coordinator::txn::{TxnEffect, Waiter};
use crate::ctx::Ctx;
use crate::protocol::{
    ControlMarker, ErrorCode, GroupOp, InternalRecord, Msg, PartitionId, ProducerIdentity, RecordBatch, TxnInit,
    TxnLogEntry, TxnOp,
};
use crate::scenario::Acks;
use eosim_sim::NodeId;
use std::collections::VecDeque;

/// What a write to one of this broker's own replicas is for, until it is replicated.
#[derive(Clone, Debug)]
pub(super) enum InternalWrite {
    /// A transaction-log entry.
    Txn { log: PartitionId, entry: TxnLogEntry },
    /// A group coordinator record.
    Group { log: PartitionId, write: GroupWrite },
    /// A marker some coordinator asked for.
    Marker { coordinator: NodeId, request_id: u64, partition: PartitionId, producer_id: u64, marker: ControlMarker },
}

/// A transactional produce held until the coordinator confirms its partition is in the transaction.
#[derive(Clone, Debug)]
pub(super) struct Verification {
    client: NodeId,
    request_id: u64,
    partition: PartitionId,
    acks: Acks,
    batch: RecordBatch,
    /// Kafka's VerificationGuard: the log end when verification started. A marker of the producer after it
    /// means the transaction the verification joined has ended, and the batch must not append.
    guard_offset: u64,
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
            let entries: Vec<TxnLogEntry> = log
                .batches()
                .iter()
                .filter_map(|stored| match stored.batch.internal.as_deref() {
                    Some(InternalRecord::Txn(entry)) => Some(entry.clone()),
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
        let waiter = Waiter { client: source, request_id, init: false };
        if let Some(error) = self.loading(ctx, log) {
            ctx.send(source, Msg::GroupResponse { request_id, result: Err(error) });
            return;
        }
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
                    let batch = RecordBatch::internal(None, InternalRecord::Txn(entry.clone()));
                    let write = InternalWrite::Txn { log, entry: entry.clone() };
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
                TxnEffect::Marker { transactional_id, partition, producer, marker, coordinator_epoch } => {
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
        let transaction_version_2 = self.settings.txn.epoch_bump_per_txn;
        let result = match (self.volatile.replicas.get_mut(&partition), self.durable.replicas.get_mut(&partition)) {
            (Some(replica), Some(_)) if !replica.is_leader() => Err(ErrorCode::NotLeaderOrFollower),
            (Some(replica), Some(_))
                if transaction_version_2
                    && replica.producer_state().check_marker_transaction_version_2(producer).is_err() =>
            {
                ctx.shared.count("broker:marker-epoch-not-bumped");
                Err(ErrorCode::InvalidProducerEpoch)
            }
            (Some(replica), Some(durable)) => replica.write_marker(
                durable,
                &self.settings.replication,
                Some((me, internal_id)),
                producer,
                marker,
                coordinator_epoch,
            ),
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
        let log = self.settings.internal.transaction_log_partition(&transactional_id);
        let Some(coordinator) = self.leader_of(log) else {
            let result = Err(ErrorCode::NotEnoughReplicas);
            let log_start_offset = self.log_start_offset(partition);
            ctx.send(client, Msg::ProduceResponse { request_id, result, log_start_offset });
            return;
        };
        ctx.shared.count("broker:txn-verification");
        let identity = batch.producer.expect("transactional batches have a producer");
        let guard_offset = self.durable.replicas[&partition].log.end_offset();
        let verification_id = self.next_internal_id();
        let verification = Verification { client, request_id, partition, acks, batch, guard_offset };
        self.volatile.verifications.insert(verification_id, verification);
        let msg = Msg::TxnRequest {
            request_id: verification_id,
            transactional_id,
            producer_id: identity.producer_id,
            epoch: identity.epoch,
            op: match self.settings.verification {
                TxnVerification::VerifyOnly => TxnOp::VerifyPartitions(vec![partition]),
                TxnVerification::AddPartition | TxnVerification::Off => TxnOp::AddPartitions(vec![partition]),
            },
        };
        ctx.send(coordinator, msg);
    }

    /// The coordinator answered a verification: append the held batch, unless the guard was broken.
    pub(super) fn on_verified(&mut self, ctx: &mut Ctx<'_>, request_id: u64, result: Result<(u64, u16), ErrorCode>) {
        let Some(held) = self.volatile.verifications.remove(&request_id) else { return };
        let producer_id = held.batch.producer.expect("verified batches have a producer").producer_id;
        let error = match result {
            Ok(_) if self.marker_since(held.partition, producer_id, held.guard_offset) => {
                // KAFKA-14884: the transaction ended while the verification was in flight.
                ctx.shared.count("broker:verification-guard-broken");
                Some(ErrorCode::InvalidTxnState)
            }
            Ok(_) => None,
            Err(ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch) => Some(ErrorCode::InvalidProducerEpoch),
            Err(ErrorCode::InvalidProducerIdMapping | ErrorCode::InvalidTxnState | ErrorCode::TransactionAbortable) => {
                Some(ErrorCode::InvalidTxnState)
            }
            // Retriable: Kafka answers a produce whose verification could not complete NOT_ENOUGH_REPLICAS.
            Err(_) => Some(ErrorCode::NotEnoughReplicas),
        };
        match error {
            None => self.produce(ctx, held.client, held.request_id, held.partition, held.acks, held.batch),
            Some(error) => {
                count_result(ctx, &Err(error));
                let (request_id, result) = (held.request_id, Err(error));
                let log_start_offset = self.log_start_offset(held.partition);
                ctx.send(held.client, Msg::ProduceResponse { request_id, result, log_start_offset });
            }
        }
    }

    fn marker_since(&self, partition: PartitionId, producer_id: u64, offset: u64) -> bool {
        let Some(durable) = self.durable.replicas.get(&partition) else { return true };
        let batches = durable.log.batches();
        let first = batches.partition_point(|stored| stored.next_offset() <= offset);
        batches[first..].iter().any(|stored| {
            stored.batch.control.is_some() && stored.batch.producer.is_some_and(|p| p.producer_id == producer_id)
        })
    }
}
