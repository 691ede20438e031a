//! One broker's replica of one partition, in the role the controller gave it: leader, follower, or none.
//!
//! The leader appends produce requests (checking producer state), serves follower fetches, tracks each
//! follower's log end offset, advances the high watermark (HW) to the smallest log end offset in the ISR,
//! answers acks=all requests once the HW passes them, and asks the controller to shrink the ISR when a
//! follower lags more than `replica.lag.time.max.ms` or expand it when a follower has caught up.
//!
//! A follower fetches from its leader with the epoch of its last batch; when the leader says its log
//! diverges (a different history was written under that epoch), it truncates to where the leader's epoch
//! ends and fetches again, as Kafka does since KIP-320/KIP-595. It applies producer state while it copies,
//! so it can deduplicate retries the moment it becomes leader.
//!
//! The producer-state lifecycle runs here too: retention moves the log start offset (deleting snapshots and
//! aborted-index entries below it), a follower takes its leader's log start offset from fetch responses, and
//! idle producers expire on the broker's periodic check.
//!
//! Durable ([`ReplicaDurable`]): the log and the producer-state snapshots. Everything in [`Replica`] is lost
//! in a crash and rebuilt from the durable part and the controller's metadata.

use crate::broker::log::PartitionLog;
use crate::broker::producer_state::{AbortedTxn, AppendCheck, ProducerSnapshot, ProducerStateManager};
use crate::protocol::{
    ControlMarker, ErrorCode, FetchData, IsolationLevel, PartitionState, ProducerIdentity, RecordBatch,
    ReplicaFetchData,
};
use eosim_sim::NodeId;
use std::collections::BTreeMap;

/// Replication settings, times in nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationSettings {
    /// `min.insync.replicas`: acks=all needs at least this many in the ISR.
    pub min_insync_replicas: u32,
    /// `replica.lag.time.max.ms`.
    pub replica_lag_ns: u64,
    /// Flush after this many appended records; zero never flushes (Kafka's default).
    pub flush_messages: u64,
    /// Take a producer-state snapshot at a flush once this many records were appended since the last one.
    pub snapshot_interval_messages: u64,
    /// `producer.id.expiration.ms`: a producer idle this long (no transaction open) is forgotten.
    pub producer_id_expiration_ns: u64,
    /// `retention.ms`: segments whose newest batch is this old are deleted.
    pub retention_ns: u64,
    /// Records per segment, the granularity of retention (Kafka's `segment.bytes`, in offsets).
    pub segment_messages: u64,
    /// KIP-360's broker (Kafka 2.5+): a producer with no state is accepted at any sequence, and retention
    /// keeps producer state (KAFKA-7190). False: a pre-KIP-360 broker, which answers UNKNOWN_PRODUCER_ID (Kafka
    /// 0.11–2.4) and evicts producers below the log start offset (`truncateHead`, 0.11–2.3): Kafka 0.11–2.3.
    pub kip360_producer_state: bool,
    /// The Kafka bugs put back in the partition's producer state (the broker's `kafka_bugs`).
    pub kafka_bugs: Vec<crate::bugs::KafkaBug>,
}

/// What survives a crash of the broker: the log, the producer-state snapshot files and the
/// aborted-transaction index (Kafka's `.txnindex` files).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaDurable {
    /// The log.
    pub log: PartitionLog,
    /// Producer-state snapshot files by offset (Kafka's `<offset>.snapshot`), never past the flushed offset.
    pub snapshots: BTreeMap<u64, ProducerSnapshot>,
    /// Aborted transactions, in marker order.
    pub aborted: Vec<AbortedTxn>,
    unflushed_messages: u64,
}

impl ReplicaDurable {
    /// What a crash leaves: the flushed prefix, and the snapshots and index entries not past it.
    pub fn recover_after_crash(&mut self) {
        self.log.recover_after_crash();
        self.unflushed_messages = 0;
        self.forget_past_end();
    }

    /// Truncates the log and everything derived from it to `offset`.
    fn truncate_to(&mut self, offset: u64) {
        self.log.truncate_to(offset);
        self.forget_past_end();
    }

    /// The newest snapshot, which a reload starts from (Kafka's `latestSnapshotFile`).
    pub fn latest_snapshot(&self) -> Option<&ProducerSnapshot> {
        self.snapshots.values().next_back()
    }

    /// Kafka's `truncateAndReload` drops the snapshots past the log end (they describe batches no longer
    /// there: KAFKA-9892/KAFKA-12964), as truncation drops the index entries past it.
    fn forget_past_end(&mut self) {
        let end_offset = self.log.end_offset();
        self.snapshots.retain(|offset, _| *offset <= end_offset);
        self.aborted.retain(|aborted| aborted.last_offset < end_offset);
        assert!(self.latest_snapshot().is_none_or(|snapshot| snapshot.offset <= end_offset));
    }

    /// Kafka's `deleteSnapshotsBefore` and the deletion of segments' `.txnindex` files below the log start
    /// offset.
    fn forget_before_start(&mut self) {
        let start_offset = self.log.start_offset();
        self.snapshots.retain(|offset, _| *offset >= start_offset);
        self.aborted.retain(|aborted| aborted.last_offset >= start_offset);
    }

    /// Kafka's `UnifiedLog.collectAbortedTransactions` over the transaction index (`collectAbortedTxns`): the
    /// aborted transactions overlapping [`fetch_offset`, `upper_bound_offset`), i.e. whose ABORT marker is at
    /// or past the fetch offset and whose first offset is below the bound, as (producer id, first offset).
    pub fn collect_aborted_transactions(&self, fetch_offset: u64, upper_bound_offset: u64) -> Vec<(u64, u64)> {
        let overlapping = self
            .aborted
            .iter()
            .filter(|aborted| aborted.last_offset >= fetch_offset && aborted.first_offset < upper_bound_offset);
        overlapping.map(|aborted| (aborted.producer_id, aborted.first_offset)).collect()
    }
}

/// A produce request waiting for the HW (acks=all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingProduce {
    /// The client to answer.
    pub client: NodeId,
    /// Its request id.
    pub request_id: u64,
    /// Base offset to acknowledge.
    pub base_offset: u64,
    /// The HW must reach this (the batch's next offset).
    pub required_offset: u64,
}

/// A follower as the leader sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowerProgress {
    /// The follower's log end offset, as its last fetch said.
    pub log_end: u64,
    /// Last time it had everything the leader had.
    pub last_caught_up_ns: u64,
}

/// Every other replica's progress by replica id, in id order: a sorted vector, since a partition has a handful
/// of replicas and every follower fetch looks one up, where a B-tree's search cost more than the rest of the
/// fetch's bookkeeping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Followers(Vec<(u32, FollowerProgress)>);

impl Followers {
    /// The progress of `replica`, if it follows.
    pub fn get(&self, replica: &u32) -> Option<&FollowerProgress> {
        self.0.iter().find(|(id, _)| id == replica).map(|(_, progress)| progress)
    }

    /// The progress of `replica`, if it follows, to update.
    pub fn get_mut(&mut self, replica: &u32) -> Option<&mut FollowerProgress> {
        self.0.iter_mut().find(|(id, _)| id == replica).map(|(_, progress)| progress)
    }

    /// Every follower with its progress, in replica id order.
    pub fn iter(&self) -> impl Iterator<Item = (&u32, &FollowerProgress)> {
        self.0.iter().map(|(id, progress)| (id, progress))
    }
}

impl FromIterator<(u32, FollowerProgress)> for Followers {
    /// As a map collects: in id order, a repeated id keeping its last progress.
    fn from_iter<I: IntoIterator<Item = (u32, FollowerProgress)>>(iter: I) -> Self {
        let mut followers: Vec<(u32, FollowerProgress)> = Vec::new();
        for (id, progress) in iter {
            match followers.binary_search_by_key(&id, |(known, _)| *known) {
                Ok(index) => followers[index].1 = progress,
                Err(index) => followers.insert(index, (id, progress)),
            }
        }
        Followers(followers)
    }
}

/// Leader duties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderRole {
    /// Partition epoch of the ISR below.
    pub partition_epoch: u32,
    /// In-sync replicas, the leader included.
    pub isr: Vec<u32>,
    /// Every other replica's progress.
    pub followers: Followers,
    /// When the AlterPartition in flight was sent.
    pub alter_sent_ns: Option<u64>,
    /// The ISR proposed in that AlterPartition, until the controller's answer or newer metadata settles it.
    pub pending_isr: Option<Vec<u32>>,
    /// acks=all requests waiting for the HW.
    pub pending: Vec<PendingProduce>,
    /// Log end offset when this leader took over.
    pub epoch_start_offset: u64,
}

/// What the replica does now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// No leader known, or this broker was just restarted.
    None,
    /// Leads the partition.
    Leader(LeaderRole),
    /// Copies from the leader, a broker index.
    Follower {
        /// The leader's broker index.
        leader: u32,
    },
}

/// What a produce did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Produced {
    /// The base offset to acknowledge now; none when the answer waits for the HW.
    pub ack: Option<u64>,
    /// True if the batch was a retry of one already in the log (nothing appended).
    pub duplicate: bool,
}

/// A response the broker must send on the replica's behalf.
pub type Reply = (NodeId, u64, Result<u64, ErrorCode>);

/// The volatile side of one partition replica.
#[derive(Clone, Debug)]
pub struct Replica {
    me: u32,
    /// The role the latest metadata gave.
    pub role: Role,
    /// Latest leader epoch known.
    pub leader_epoch: u32,
    /// The high watermark: records below it are on every ISR member and may be read.
    pub high_watermark: u64,
    producer_state: ProducerStateManager,
    /// The broker's clock: it stamps appended batches and markers and expires producers. The broker sets it
    /// right before each call that reads it (produce, write_marker, append_internal, on_fetch_data,
    /// remove_expired_producers, delete_old_segments) rather than on every replica at every event, which
    /// cost more than any other bookkeeping of a follower fetch.
    clock_ns: u64,
}

impl Replica {
    /// The replica of broker `me` after a (re)start: producer state from the newest snapshot and the log, no role.
    pub fn load(me: u32, durable: &ReplicaDurable) -> Replica {
        let producer_state = ProducerStateManager::load(durable.latest_snapshot(), &durable.log);
        let high_watermark = durable.log.start_offset();
        Replica { me, role: Role::None, leader_epoch: 0, high_watermark, producer_state, clock_ns: 0 }
    }

    /// Sets the clock to the time of the event being handled, before a call that reads it; it never goes back.
    pub fn advance_clock(&mut self, now_ns: u64) {
        assert!(now_ns >= self.clock_ns, "the broker's clock never goes back");
        self.clock_ns = now_ns;
    }

    /// Kafka's `removeExpiredProducers` on this partition; returns how many producers expired.
    pub fn remove_expired_producers(&mut self, settings: &ReplicationSettings) -> usize {
        let markers_count = !settings.kafka_bugs.contains(&crate::bugs::KafkaBug::Kafka9144);
        self.producer_state.remove_expired_producers(self.clock_ns, settings.producer_id_expiration_ns, markers_count)
    }

    /// Kafka's `deleteOldSegments` for time retention: moves the log start offset past the breached
    /// segments below this replica's HW; returns the producers evicted with them (before KAFKA-7190 only).
    pub fn delete_old_segments(&mut self, durable: &mut ReplicaDurable, settings: &ReplicationSettings) -> usize {
        let start = durable.log.retention_start_offset(
            self.clock_ns,
            settings.retention_ns,
            settings.segment_messages,
            self.high_watermark,
        );
        self.increment_log_start_offset(durable, settings, start)
    }

    /// Kafka's `maybeIncrementLogStartOffset` (retention, DeleteRecords, or the leader's offset on a
    /// follower), never past the HW: deletes the log below it and everything derived from it, then
    /// `onLogStartOffsetIncremented`; returns the producers evicted.
    ///
    /// Inlined because a follower calls it for every fetch answer it applies and nearly always finds the start
    /// already there; what follows a move is out of line.
    #[inline]
    pub fn increment_log_start_offset(
        &mut self,
        durable: &mut ReplicaDurable,
        settings: &ReplicationSettings,
        offset: u64,
    ) -> usize {
        assert!(offset <= self.high_watermark.max(durable.log.start_offset()), "never past the HW");
        if !durable.log.increment_start_offset(offset) {
            return 0;
        }
        self.on_log_start_offset_incremented(durable, settings)
    }

    /// Kafka's `onLogStartOffsetIncremented` once the log start moved: what derives from the deleted log goes;
    /// returns the producers evicted.
    #[inline(never)]
    fn on_log_start_offset_incremented(
        &mut self,
        durable: &mut ReplicaDurable,
        settings: &ReplicationSettings,
    ) -> usize {
        durable.forget_before_start();
        let evict = !settings.kip360_producer_state;
        self.producer_state.on_log_start_offset_incremented(durable.log.start_offset(), evict)
    }

    /// Producer state, for tests.
    pub fn producer_state(&self) -> &ProducerStateManager {
        &self.producer_state
    }

    /// True if this replica leads.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// Takes the role `state` gives; returns the acks=all requests that can no longer complete here.
    pub fn apply_metadata(&mut self, durable: &ReplicaDurable, state: &PartitionState, now_ns: u64) -> Vec<Reply> {
        if state.leader_epoch < self.leader_epoch {
            return Vec::new();
        }
        let same_epoch = state.leader_epoch == self.leader_epoch;
        match (&mut self.role, state.leader) {
            (Role::Leader(role), Some(leader)) if leader == self.me && same_epoch => {
                if state.partition_epoch > role.partition_epoch {
                    role.partition_epoch = state.partition_epoch;
                    role.isr = state.isr.clone();
                    role.alter_sent_ns = None;
                    role.pending_isr = None;
                }
                self.maybe_advance_high_watermark(durable);
                return Vec::new();
            }
            (Role::Follower { leader }, Some(new_leader)) if *leader == new_leader && same_epoch => return Vec::new(),
            _ => {}
        }
        let abandoned = self.step_down();
        self.leader_epoch = state.leader_epoch;
        self.role = match state.leader {
            Some(leader) if leader == self.me => {
                let followers = state
                    .replicas
                    .iter()
                    .filter(|replica| **replica != self.me)
                    .map(|replica| (*replica, FollowerProgress { log_end: 0, last_caught_up_ns: now_ns }))
                    .collect();
                let isr = state.isr.clone();
                Role::Leader(LeaderRole {
                    partition_epoch: state.partition_epoch,
                    isr,
                    followers,
                    alter_sent_ns: None,
                    pending_isr: None,
                    pending: Vec::new(),
                    epoch_start_offset: durable.log.end_offset(),
                })
            }
            Some(leader) => Role::Follower { leader },
            None => Role::None,
        };
        self.maybe_advance_high_watermark(durable);
        abandoned
    }

    /// Leaves leadership: every waiting acks=all request fails with NOT_LEADER_OR_FOLLOWER (the batch may
    /// still be committed by the next leader, so the client must not treat it as a definite failure).
    fn step_down(&mut self) -> Vec<Reply> {
        let Role::Leader(role) = &mut self.role else { return Vec::new() };
        let pending = std::mem::take(&mut role.pending);
        pending
            .into_iter()
            .map(|pending| (pending.client, pending.request_id, Err(ErrorCode::NotLeaderOrFollower)))
            .collect()
    }

    /// Handles a produce.
    pub fn produce(
        &mut self,
        durable: &mut ReplicaDurable,
        settings: &ReplicationSettings,
        pending: Option<(NodeId, u64)>,
        batch: RecordBatch,
    ) -> Result<Produced, ErrorCode> {
        let Role::Leader(role) = &self.role else { return Err(ErrorCode::NotLeaderOrFollower) };
        if pending.is_some() && (role.isr.len() as u32) < settings.min_insync_replicas {
            return Err(ErrorCode::NotEnoughReplicas);
        }
        let record_count = batch.record_count();
        if let Some(identity) = batch.producer {
            let kip360 = settings.kip360_producer_state;
            let check = self.producer_state.check(identity, record_count, batch.transactional, kip360)?;
            if let AppendCheck::Duplicate { base_offset } = check {
                // A retry of a batch already in the log: answer with the original offsets once they are
                // committed, as for the original.
                let required_offset = base_offset + u64::from(record_count);
                let ack = self.acknowledge_when_committed(pending, base_offset, required_offset)?;
                return Ok(Produced { ack, duplicate: true });
            }
        }
        self.append_as_leader(durable, settings, pending, batch)
    }

    /// Appends a validated batch (data or marker) under this leader's epoch, applies it to producer state
    /// and the aborted index, and acknowledges it now or once the HW passes it.
    fn append_as_leader(
        &mut self,
        durable: &mut ReplicaDurable,
        settings: &ReplicationSettings,
        pending: Option<(NodeId, u64)>,
        batch: RecordBatch,
    ) -> Result<Produced, ErrorCode> {
        let record_count = batch.record_count();
        let base_offset = durable.log.append(batch, self.leader_epoch, self.clock_ns);
        let stored = durable.log.batches().last().expect("just appended");
        let aborted = self.producer_state.apply(stored);
        durable.aborted.extend(aborted);
        self.after_append(durable, settings, u64::from(record_count));
        self.maybe_advance_high_watermark(durable);
        let required_offset = base_offset + u64::from(record_count);
        let ack = self.acknowledge_when_committed(pending, base_offset, required_offset)?;
        Ok(Produced { ack, duplicate: false })
    }

    fn acknowledge_when_committed(
        &mut self,
        pending: Option<(NodeId, u64)>,
        base_offset: u64,
        required_offset: u64,
    ) -> Result<Option<u64>, ErrorCode> {
        let Some((client, request_id)) = pending else { return Ok(Some(base_offset)) };
        let Role::Leader(role) = &mut self.role else { unreachable!("checked by the caller") };
        if self.high_watermark >= required_offset {
            return Ok(Some(base_offset));
        }
        role.pending.push(PendingProduce { client, request_id, base_offset, required_offset });
        Ok(None)
    }

    /// Flushes and snapshots as the settings say, after `records` were appended.
    fn after_append(&mut self, durable: &mut ReplicaDurable, settings: &ReplicationSettings, records: u64) {
        durable.unflushed_messages += records;
        if settings.flush_messages == 0 || durable.unflushed_messages < settings.flush_messages {
            return;
        }
        durable.log.flush();
        durable.unflushed_messages = 0;
        let end_offset = durable.log.end_offset();
        let last_snapshot = durable.latest_snapshot().map_or(durable.log.start_offset(), |snapshot| snapshot.offset);
        if end_offset - last_snapshot >= settings.snapshot_interval_messages {
            // Kafka's `takeSnapshot`: a new file at this offset; the older ones stay until retention or
            // truncation deletes them.
            durable.snapshots.insert(end_offset, self.producer_state.snapshot(end_offset));
        }
    }

    /// Writes a transaction marker for `producer` (WriteTxnMarkers); it is acknowledged, like acks=all,
    /// once replicated. A marker from an epoch older than the producer's is fenced.
    #[allow(clippy::too_many_arguments)]
    pub fn write_marker(
        &mut self,
        durable: &mut ReplicaDurable,
        settings: &ReplicationSettings,
        pending: Option<(NodeId, u64)>,
        producer: ProducerIdentity,
        marker: ControlMarker,
        coordinator_epoch: u32,
    ) -> Result<Produced, ErrorCode> {
        if !self.is_leader() {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        self.producer_state.check_marker(producer, coordinator_epoch)?;
        self.append_as_leader(durable, settings, pending, RecordBatch::marker(producer, marker, coordinator_epoch))
    }

    /// Appends a record a coordinator writes to its internal partition (transaction log, group metadata,
    /// offset commits), acknowledged once replicated; a transactional offset commit from a fenced
    /// producer epoch is refused.
    pub fn append_internal(
        &mut self,
        durable: &mut ReplicaDurable,
        settings: &ReplicationSettings,
        pending: (NodeId, u64),
        batch: RecordBatch,
    ) -> Result<Produced, ErrorCode> {
        assert!(batch.internal.is_some(), "only internal records take this path");
        let Role::Leader(role) = &self.role else { return Err(ErrorCode::NotLeaderOrFollower) };
        if (role.isr.len() as u32) < settings.min_insync_replicas {
            return Err(ErrorCode::NotEnoughReplicas);
        }
        if let Some(identity) = batch.producer {
            self.producer_state.check_coordinator_append(identity)?;
        }
        self.append_as_leader(durable, settings, Some(pending), batch)
    }

    /// The last stable offset: the first offset of the earliest transaction that is open or whose marker the HW
    /// has not passed (a marker not yet replicated may still be truncated away), capped at the HW.
    pub fn last_stable_offset(&self) -> u64 {
        let first_unstable = self.producer_state.first_unstable_offset(self.high_watermark);
        first_unstable.map_or(self.high_watermark, |first| first.min(self.high_watermark))
    }

    /// A fetch is served only by the leader, and only at its own leader epoch (KIP-320): an older epoch is
    /// fenced, a newer one means this replica's metadata is behind.
    fn check_leader_epoch(&self, leader_epoch: u32) -> Result<(), ErrorCode> {
        if !self.is_leader() {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        if leader_epoch < self.leader_epoch {
            return Err(ErrorCode::FencedLeaderEpoch);
        }
        if leader_epoch > self.leader_epoch {
            return Err(ErrorCode::UnknownLeaderEpoch);
        }
        Ok(())
    }

    /// A consumer fetch (Kafka's `Partition.fetchRecords` with `FetchIsolation`): whole batches below the HW
    /// (read_uncommitted) or the LSO (read_committed), and for read_committed the aborted transactions that
    /// overlap the batches returned (`addAbortedTransactions`), which the consumer filters by.
    pub fn fetch(
        &self,
        durable: &ReplicaDurable,
        offset: u64,
        max_records: u32,
        leader_epoch: u32,
        isolation: IsolationLevel,
    ) -> Result<FetchData, ErrorCode> {
        self.check_leader_epoch(leader_epoch)?;
        if offset > durable.log.end_offset() || offset < durable.log.start_offset() {
            return Err(ErrorCode::OffsetOutOfRange);
        }
        let last_stable_offset = self.last_stable_offset();
        let upper_bound = match isolation {
            IsolationLevel::ReadUncommitted => self.high_watermark,
            IsolationLevel::ReadCommitted => last_stable_offset,
        };
        let batches = durable.log.read(offset, upper_bound, max_records);
        let aborted = match (isolation, batches.last()) {
            (IsolationLevel::ReadCommitted, Some(last)) => {
                durable.collect_aborted_transactions(offset, last.last_offset() + 1)
            }
            _ => Vec::new(),
        };
        Ok(FetchData { batches, aborted, high_watermark: self.high_watermark, last_stable_offset })
    }

    /// A follower fetch at the leader.
    ///
    /// Inlined into its one caller, the leader's read of each partition of a follower fetch, which then builds
    /// the large result in place instead of copying it back.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn replica_fetch(
        &mut self,
        durable: &ReplicaDurable,
        replica: u32,
        offset: u64,
        last_fetched_epoch: Option<u32>,
        leader_epoch: u32,
        max_records: u32,
        now_ns: u64,
    ) -> Result<ReplicaFetchData, ErrorCode> {
        self.check_leader_epoch(leader_epoch)?;
        if let Some(epoch) = last_fetched_epoch {
            let end = durable.log.epoch_end_offset(epoch);
            if end.epoch != epoch || end.end_offset < offset {
                let high_watermark = self.high_watermark;
                let log_start_offset = durable.log.start_offset();
                return Ok(ReplicaFetchData {
                    batches: Vec::new(),
                    high_watermark,
                    diverging: Some(end),
                    log_start_offset,
                });
            }
        }
        if offset > durable.log.end_offset() {
            return Err(ErrorCode::OffsetOutOfRange);
        }
        let leader_end = durable.log.end_offset();
        let Role::Leader(role) = &mut self.role else { unreachable!("checked above") };
        if let Some(progress) = role.followers.get_mut(&replica) {
            progress.log_end = offset;
            if offset >= leader_end {
                progress.last_caught_up_ns = now_ns;
            }
        }
        self.maybe_advance_high_watermark(durable);
        // Below the log start offset nothing is sent: the follower sees the start past its end and starts over
        // there (Kafka answers OFFSET_OUT_OF_RANGE and the follower truncates fully).
        let batches = if offset < durable.log.start_offset() {
            Vec::new()
        } else {
            durable.log.batches_from(offset, max_records)
        };
        let log_start_offset = durable.log.start_offset();
        Ok(ReplicaFetchData { batches, high_watermark: self.high_watermark, diverging: None, log_start_offset })
    }

    /// A follower's fetch came back: truncate where the leader says the logs diverge, else append.
    ///
    /// Inlined for the common answer (two in three) that carries no batch, no divergence and no log start past
    /// this log's end, which only takes the leader's offsets; any other is handled out of line.
    #[inline]
    pub fn on_fetch_data(
        &mut self,
        durable: &mut ReplicaDurable,
        settings: &ReplicationSettings,
        data: ReplicaFetchData,
    ) {
        if !matches!(self.role, Role::Follower { .. }) {
            return;
        }
        if data.batches.is_empty() && data.diverging.is_none() && data.log_start_offset <= durable.log.end_offset() {
            self.take_leader_offsets(durable, settings, data.high_watermark, data.log_start_offset);
            return;
        }
        self.on_fetch_records(durable, settings, data);
    }

    /// [`Replica::on_fetch_data`] for an answer with batches, a divergence or a log start past this log's end.
    #[inline(never)]
    fn on_fetch_records(
        &mut self,
        durable: &mut ReplicaDurable,
        settings: &ReplicationSettings,
        data: ReplicaFetchData,
    ) {
        if let Some(diverging) = data.diverging {
            // Kafka's rule: truncate to the smaller of where that epoch ends on the leader and where it ends
            // here, so whatever this log wrote under a later epoch the leader never had goes too.
            let own_end = durable.log.epoch_end_offset(diverging.epoch).end_offset;
            let truncate_to = diverging.end_offset.min(own_end).min(durable.log.end_offset());
            durable.truncate_to(truncate_to);
            self.reload_producer_state(durable, settings);
            self.high_watermark = self.high_watermark.min(truncate_to);
            return;
        }
        if data.log_start_offset > durable.log.end_offset() {
            // ReplicaFetcherThread's out-of-range handling: the leader deleted everything this log still
            // lacks, so it starts over, empty, at the leader's log start offset.
            durable.log.truncate_fully_and_start_at(data.log_start_offset);
            durable.snapshots.clear();
            durable.aborted.clear();
            self.producer_state = ProducerStateManager::new();
            self.high_watermark = data.log_start_offset;
            return;
        }
        let mut appended = 0;
        for stored in data.batches {
            if stored.base_offset != durable.log.end_offset() {
                continue;
            }
            appended += u64::from(stored.batch.record_count());
            durable.aborted.extend(self.producer_state.apply(&stored));
            durable.log.append_replicated(stored);
        }
        if appended > 0 {
            self.after_append(durable, settings, appended);
        }
        self.take_leader_offsets(durable, settings, data.high_watermark, data.log_start_offset);
    }

    /// The leader's high watermark and log start offset from a fetch answer, once its batches are applied: the
    /// HW up to this log's end, the log start up to that HW.
    #[inline]
    fn take_leader_offsets(
        &mut self,
        durable: &mut ReplicaDurable,
        settings: &ReplicationSettings,
        high_watermark: u64,
        log_start_offset: u64,
    ) {
        self.high_watermark = self.high_watermark.max(high_watermark.min(durable.log.end_offset()));
        self.producer_state.prune_replicated(self.high_watermark);
        let leader_start = log_start_offset.min(self.high_watermark);
        self.increment_log_start_offset(durable, settings, leader_start);
    }

    /// Kafka's `truncateAndReload` after a truncation: the newest snapshot not past the log end, the log
    /// replayed after it, expired producers left out as `loadFromSnapshot` leaves them.
    fn reload_producer_state(&mut self, durable: &ReplicaDurable, settings: &ReplicationSettings) {
        self.producer_state = ProducerStateManager::load(durable.latest_snapshot(), &durable.log);
        self.remove_expired_producers(settings);
    }

    /// The ISR the leader should ask for now (shrunk by lagging followers, grown by caught-up ones), if it
    /// differs from the current one. While a proposal is unanswered nothing new is proposed; after a lag
    /// period the same proposal is sent again (it may have been lost, or applied with its answer lost).
    pub fn wanted_isr(&self, settings: &ReplicationSettings, now_ns: u64) -> Option<Vec<u32>> {
        let Role::Leader(role) = &self.role else { return None };
        if let Some(pending) = &role.pending_isr {
            let sent_ns = role.alter_sent_ns.unwrap_or(0);
            return (now_ns.saturating_sub(sent_ns) >= settings.replica_lag_ns).then(|| pending.clone());
        }
        let fetching =
            |progress: &FollowerProgress| now_ns.saturating_sub(progress.last_caught_up_ns) <= settings.replica_lag_ns;
        let stays = |member: &u32| *member == self.me || role.followers.get(member).is_some_and(fetching);
        // Kafka's rule: back in sync once it has everything up to the HW and everything written since this
        // leader took over; and, as Kafka only expands while serving that follower's fetch, it must be fetching
        // now. (A member that falls out is not fetching, so it never joins again in the same check.)
        let joins = |replica: &u32, progress: &FollowerProgress| {
            let caught_up = progress.log_end >= self.high_watermark && progress.log_end >= role.epoch_start_offset;
            caught_up && fetching(progress) && !role.isr.contains(replica)
        };
        // Most checks (every quarter of `replica.lag.time.max.ms`, on every led partition) change nothing, which
        // is told before any vector is built.
        if role.isr.iter().all(stays) && !role.followers.iter().any(|(replica, progress)| joins(replica, progress)) {
            return None;
        }
        let mut isr: Vec<u32> = role.isr.iter().copied().filter(stays).collect();
        isr.extend(role.followers.iter().filter(|(replica, progress)| joins(replica, progress)).map(|(r, _)| *r));
        isr.sort_unstable();
        let mut current = role.isr.clone();
        current.sort_unstable();
        (isr != current).then_some(isr)
    }

    /// Marks an AlterPartition proposing `isr` as sent.
    pub fn alter_sent(&mut self, isr: Vec<u32>, now_ns: u64) {
        if let Role::Leader(role) = &mut self.role {
            role.alter_sent_ns = Some(now_ns);
            role.pending_isr = Some(isr);
        }
    }

    /// The controller answered an AlterPartition. A rejection keeps the proposal pending: the controller
    /// may hold a newer state this leader has not seen, and only newer metadata settles it (as in Kafka).
    pub fn on_alter_response(
        &mut self,
        durable: &ReplicaDurable,
        result: Result<PartitionState, ErrorCode>,
    ) -> Vec<Reply> {
        let Role::Leader(role) = &mut self.role else { return Vec::new() };
        if let Ok(state) = result {
            if state.leader_epoch == self.leader_epoch && state.partition_epoch > role.partition_epoch {
                role.partition_epoch = state.partition_epoch;
                role.isr = state.isr;
                role.pending_isr = None;
                role.alter_sent_ns = None;
            }
        }
        self.maybe_advance_high_watermark(durable);
        self.complete_pending(None)
    }

    /// The HW is the smallest log end offset in the maximal ISR (the committed ISR plus any member a
    /// pending proposal adds: KIP-497's rule, without which an expansion the controller applied but whose
    /// answer was lost would let the HW pass a member the controller may elect); it never goes back.
    /// Inlined by request: it runs for every partition of every follower fetch, and the compiler's own choice
    /// changes with its callers' size.
    #[inline]
    fn maybe_advance_high_watermark(&mut self, durable: &ReplicaDurable) {
        let Role::Leader(role) = &self.role else { return };
        let leader_end = durable.log.end_offset();
        // Plain loops: this runs on every follower fetch, where an iterator chain over the ISR and the
        // pending ISR cost more than the rest of the fetch's bookkeeping.
        let mut smallest = leader_end;
        // The smallest log end is at most the leader's and the HW never goes back, so a leader whose log ends
        // at the HW (a caught-up partition, most fetches) cannot move it and skips the scan.
        if leader_end > self.high_watermark {
            for member in role.isr.iter().chain(role.pending_isr.iter().flatten()) {
                if *member != self.me {
                    smallest = smallest.min(role.followers.get(member).map_or(0, |progress| progress.log_end));
                }
            }
        }
        self.high_watermark = self.high_watermark.max(smallest);
        self.producer_state.prune_replicated(self.high_watermark);
    }

    /// acks=all requests the HW has passed, answered; with `min_isr`, those that can no longer reach it
    /// because the ISR shrank below it fail with NOT_ENOUGH_REPLICAS.
    pub fn complete_pending(&mut self, min_isr: Option<u32>) -> Vec<Reply> {
        let high_watermark = self.high_watermark;
        let Role::Leader(role) = &mut self.role else { return Vec::new() };
        if role.pending.is_empty() {
            return Vec::new();
        }
        let too_few = min_isr.is_some_and(|min| (role.isr.len() as u32) < min);
        let mut replies = Vec::new();
        role.pending.retain(|pending| {
            if too_few {
                // Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND: the batch is in the log, but fewer replicas than
                // promised have it, so it must not be acknowledged (the client retries).
                replies.push((pending.client, pending.request_id, Err(ErrorCode::NotEnoughReplicas)));
                false
            } else if high_watermark >= pending.required_offset {
                replies.push((pending.client, pending.request_id, Ok(pending.base_offset)));
                false
            } else {
                true
            }
        });
        replies
    }
}

#[cfg(test)]
mod tests {
    //! Hand-built sequences on one partition with replicas 0 (leader), 1 and 2; expected logs worked out by
    //! hand in the comments.
    use super::*;
    use crate::broker::log::data_records;

    #[test]
    fn followers_collect_as_a_map_does() {
        let progress = |log_end| FollowerProgress { log_end, last_caught_up_ns: 0 };
        let mut followers: Followers = [(2, progress(5)), (0, progress(1)), (2, progress(7))].into_iter().collect();
        let ids: Vec<u32> = followers.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [0, 2], "in id order, each id once");
        assert_eq!(followers.get(&2), Some(&progress(7)), "a repeated id keeps its last progress");
        assert_eq!(followers.get(&1), None);
        followers.get_mut(&0).expect("follows").log_end = 9;
        assert_eq!(followers.get(&0).map(|p| p.log_end), Some(9));
    }
    // The consumer's filter, to check what a read_committed consumer ends up with.
    use crate::client::fetch::{complete_fetch, CompletedFetch};
    use crate::protocol::ProducerIdentity;

    const MS: u64 = 1_000_000;

    fn settings() -> ReplicationSettings {
        ReplicationSettings {
            min_insync_replicas: 2,
            replica_lag_ns: 100 * MS,
            flush_messages: 1,
            snapshot_interval_messages: 2,
            producer_id_expiration_ns: 1_000 * MS,
            retention_ns: 1_000 * MS,
            segment_messages: 2,
            kip360_producer_state: true,
            kafka_bugs: Vec::new(),
        }
    }

    fn state(leader: u32, leader_epoch: u32, isr: &[u32], partition_epoch: u32) -> PartitionState {
        PartitionState {
            leader: Some(leader),
            leader_epoch,
            isr: isr.to_vec(),
            replicas: vec![0, 1, 2],
            partition_epoch,
        }
    }

    fn batch(values: &[i64]) -> RecordBatch {
        RecordBatch::data(None, false, values.to_vec())
    }

    /// Broker `me` with an empty log, given `partition_state`.
    fn replica(me: u32, partition_state: &PartitionState) -> (Replica, ReplicaDurable) {
        let durable = ReplicaDurable::default();
        let mut replica = Replica::load(me, &durable);
        assert!(replica.apply_metadata(&durable, partition_state, 0).is_empty());
        (replica, durable)
    }

    /// Copies everything `follower` lacks from `leader`, as one fetch and its response.
    fn replicate(
        leader: &mut Replica,
        leader_log: &ReplicaDurable,
        follower: &mut Replica,
        log: &mut ReplicaDurable,
        now_ns: u64,
    ) {
        let data = leader
            .replica_fetch(
                leader_log,
                follower.me,
                log.log.end_offset(),
                log.log.last_epoch(),
                follower.leader_epoch,
                100,
                now_ns,
            )
            .expect("fetch accepted");
        follower.on_fetch_data(log, &settings(), data);
    }

    fn client(request_id: u64) -> Option<(NodeId, u64)> {
        Some((NodeId(9), request_id))
    }

    #[test]
    fn the_high_watermark_waits_for_every_in_sync_replica() {
        let partition = state(0, 0, &[0, 1, 2], 0);
        let (mut leader, mut leader_log) = replica(0, &partition);
        let (mut one, mut one_log) = replica(1, &partition);
        let (mut two, mut two_log) = replica(2, &partition);
        // acks=all: appended at offsets 0-1, answered only once the HW reaches 2.
        let produced = leader.produce(&mut leader_log, &settings(), client(7), batch(&[10, 11])).unwrap();
        assert_eq!(produced, Produced { ack: None, duplicate: false });
        assert_eq!(leader.high_watermark, 0);
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, MS);
        // Follower 1 fetched at offset 0 and got the batch; the leader learns it has it on the next fetch.
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 2 * MS);
        assert_eq!(leader.high_watermark, 0, "replica 2 has nothing yet");
        replicate(&mut leader, &leader_log, &mut two, &mut two_log, 3 * MS);
        replicate(&mut leader, &leader_log, &mut two, &mut two_log, 4 * MS);
        assert_eq!(leader.high_watermark, 2);
        assert_eq!(leader.complete_pending(Some(2)), vec![(NodeId(9), 7, Ok(0))]);
        assert_eq!(data_records(&one_log.log.read(0, 10, 10), 0), vec![(0, 10), (1, 11)]);
        assert_eq!(one.high_watermark, 0, "a follower learns the HW on its next fetch");
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 5 * MS);
        assert_eq!(one.high_watermark, 2);
    }

    #[test]
    fn a_lagging_follower_leaves_the_isr_and_comes_back_when_caught_up() {
        let partition = state(0, 0, &[0, 1, 2], 0);
        let (mut leader, mut leader_log) = replica(0, &partition);
        let (mut one, mut one_log) = replica(1, &partition);
        leader.produce(&mut leader_log, &settings(), None, batch(&[1])).unwrap();
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 10 * MS);
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 20 * MS);
        // Replica 2 never fetched: 150 ms later it has lagged past replica.lag.time.max.ms (100 ms), replica 1
        // (caught up at 20 ms) has not.
        assert_eq!(leader.wanted_isr(&settings(), 110 * MS), Some(vec![0, 1]));
        leader.alter_sent(vec![0, 1], 110 * MS);
        assert_eq!(leader.wanted_isr(&settings(), 120 * MS), None, "one proposal at a time");
        let replies = leader.on_alter_response(&leader_log, Ok(state(0, 0, &[0, 1], 1)));
        assert!(replies.is_empty());
        let Role::Leader(role) = &leader.role else { panic!("still leads") };
        assert_eq!(role.isr, vec![0, 1]);
        // Replica 2 fetches everything: at the HW and past the epoch start, it is proposed back (replica 1
        // keeps fetching, so it stays).
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 125 * MS);
        let (mut two, mut two_log) = replica(2, &partition);
        replicate(&mut leader, &leader_log, &mut two, &mut two_log, 130 * MS);
        replicate(&mut leader, &leader_log, &mut two, &mut two_log, 131 * MS);
        assert_eq!(leader.wanted_isr(&settings(), 132 * MS), Some(vec![0, 1, 2]));
    }

    #[test]
    fn a_pending_expansion_holds_the_high_watermark_back() {
        // ISR {0}; replica 1 caught up and is proposed back. Until the controller answers, the HW must
        // count replica 1: the controller may already have added it and may elect it.
        let partition = state(0, 0, &[0], 0);
        let (mut leader, mut leader_log) = replica(0, &partition);
        let (mut one, mut one_log) = replica(1, &partition);
        let mut relaxed = settings();
        relaxed.min_insync_replicas = 1;
        leader.produce(&mut leader_log, &relaxed, None, batch(&[1])).unwrap();
        assert_eq!(leader.high_watermark, 1, "alone in the ISR");
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, MS);
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 2 * MS);
        leader.alter_sent(vec![0, 1], 2 * MS);
        leader.produce(&mut leader_log, &relaxed, None, batch(&[2])).unwrap();
        assert_eq!(leader.high_watermark, 1, "replica 1 does not have offset 1 yet");
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 3 * MS);
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 4 * MS);
        assert_eq!(leader.high_watermark, 2);
    }

    #[test]
    fn acks_all_below_min_isr_is_refused_and_a_shrink_after_append_fails_the_wait() {
        let (mut leader, mut leader_log) = replica(0, &state(0, 0, &[0], 0));
        let refused = leader.produce(&mut leader_log, &settings(), client(1), batch(&[1]));
        assert_eq!(refused, Err(ErrorCode::NotEnoughReplicas));
        assert_eq!(leader_log.log.end_offset(), 0, "nothing appended");
        let (mut leader, mut leader_log) = replica(0, &state(0, 0, &[0, 1], 0));
        leader.produce(&mut leader_log, &settings(), client(2), batch(&[1])).unwrap();
        leader.apply_metadata(&leader_log, &state(0, 0, &[0], 1), MS);
        // The HW may now pass offset 0, but only one replica has it: NOT_ENOUGH_REPLICAS, not an ack.
        assert_eq!(leader.complete_pending(Some(2)), vec![(NodeId(9), 2, Err(ErrorCode::NotEnoughReplicas))]);
    }

    #[test]
    fn a_follower_truncates_what_a_deposed_leader_wrote_under_its_epoch() {
        // Leader 0 (epoch 0) writes [1] and [2]; follower 1 copies both. Then 0 writes [3] alone and is
        // deposed. Replica 1 leads epoch 1 and writes [4] at offset 2. When 0 follows 1, it must drop [3]
        // (offset 2, epoch 0) and copy [4]: expected log of 0 is 1, 2, 4.
        let (mut zero, mut zero_log) = replica(0, &state(0, 0, &[0, 1], 0));
        let (mut one, mut one_log) = replica(1, &state(0, 0, &[0, 1], 0));
        let mut relaxed = settings();
        relaxed.min_insync_replicas = 1;
        zero.produce(&mut zero_log, &relaxed, None, batch(&[1])).unwrap();
        zero.produce(&mut zero_log, &relaxed, None, batch(&[2])).unwrap();
        replicate(&mut zero, &zero_log, &mut one, &mut one_log, MS);
        zero.produce(&mut zero_log, &relaxed, None, batch(&[3])).unwrap();
        let epoch_one = state(1, 1, &[1], 1);
        one.apply_metadata(&one_log, &epoch_one, 2 * MS);
        one.produce(&mut one_log, &relaxed, None, batch(&[4])).unwrap();
        zero.apply_metadata(&zero_log, &epoch_one, 3 * MS);
        assert_eq!(zero.role, Role::Follower { leader: 1 });
        replicate(&mut one, &one_log, &mut zero, &mut zero_log, 4 * MS);
        assert_eq!(zero_log.log.end_offset(), 2, "offset 2 of epoch 0 truncated");
        replicate(&mut one, &one_log, &mut zero, &mut zero_log, 5 * MS);
        assert_eq!(data_records(&zero_log.log.read(0, 10, 10), 0), vec![(0, 1), (1, 2), (2, 4)]);
        assert_eq!(zero_log.log.batches()[2].leader_epoch, 1);
    }

    #[test]
    fn a_stale_epoch_is_fenced() {
        let (mut leader, leader_log) = replica(0, &state(0, 2, &[0, 1], 0));
        assert_eq!(leader.replica_fetch(&leader_log, 1, 0, None, 1, 10, 0), Err(ErrorCode::FencedLeaderEpoch));
        assert_eq!(leader.replica_fetch(&leader_log, 1, 0, None, 3, 10, 0), Err(ErrorCode::UnknownLeaderEpoch));
        assert_eq!(
            leader.fetch(&leader_log, 0, 10, 1, IsolationLevel::ReadCommitted),
            Err(ErrorCode::FencedLeaderEpoch)
        );
        assert!(leader.fetch(&leader_log, 0, 10, 2, IsolationLevel::ReadCommitted).is_ok());
    }

    #[test]
    fn followers_build_producer_state_so_a_new_leader_deduplicates() {
        let (mut zero, mut zero_log) = replica(0, &state(0, 0, &[0, 1], 0));
        let (mut one, mut one_log) = replica(1, &state(0, 0, &[0, 1], 0));
        let identity = ProducerIdentity { producer_id: 5, epoch: 0, base_sequence: 0 };
        let idempotent = RecordBatch::data(Some(identity), false, vec![7]);
        zero.produce(&mut zero_log, &settings(), None, idempotent.clone()).unwrap();
        replicate(&mut zero, &zero_log, &mut one, &mut one_log, MS);
        one.apply_metadata(&one_log, &state(1, 1, &[1], 1), 2 * MS);
        // The retry of the batch whose ack the old leader never sent: the new leader knows it.
        let mut relaxed = settings();
        relaxed.min_insync_replicas = 1;
        let retried = one.produce(&mut one_log, &relaxed, None, idempotent).unwrap();
        assert_eq!(retried, Produced { ack: Some(0), duplicate: true });
        assert_eq!(one_log.log.end_offset(), 1);
    }

    #[test]
    fn a_crash_loses_the_unflushed_tail_and_reloads_producer_state_from_the_snapshot() {
        let mut lazy = settings();
        lazy.flush_messages = 2;
        lazy.min_insync_replicas = 1;
        let (mut leader, mut log) = replica(0, &state(0, 0, &[0], 0));
        for sequence in 0..3 {
            let identity = ProducerIdentity { producer_id: 5, epoch: 0, base_sequence: sequence };
            leader.produce(&mut log, &lazy, None, RecordBatch::data(Some(identity), false, vec![7])).unwrap();
        }
        // Flushed after two records (with a snapshot of batch 1 at offset 2); the third is lost.
        log.recover_after_crash();
        assert_eq!(log.log.end_offset(), 2);
        assert_eq!(log.latest_snapshot().map(|snapshot| snapshot.offset), Some(2));
        let reloaded = Replica::load(0, &log);
        let entry = reloaded.producer_state().entry(5).expect("from the snapshot");
        assert_eq!(entry.batches.len(), 1, "a snapshot keeps the last batch only");
        assert_eq!(entry.last_sequence(), Some(1));
    }

    fn txn(producer_id: u64, base_sequence: u32, values: &[i64]) -> RecordBatch {
        let identity = ProducerIdentity { producer_id, epoch: 0, base_sequence };
        RecordBatch::data(Some(identity), true, values.to_vec())
    }

    /// What a consumer takes from a fetch at `offset`: the leader's answer through the consumer's own filter
    /// (`CompletedFetch`), since the broker no longer filters.
    fn consume(leader: &Replica, log: &ReplicaDurable, offset: u64, isolation: IsolationLevel) -> CompletedFetch {
        let data = leader.fetch(log, offset, 100, leader.leader_epoch, isolation).expect("the leader answers");
        complete_fetch(&data.batches, &data.aborted, offset, isolation)
    }

    fn producer(producer_id: u64) -> ProducerIdentity {
        ProducerIdentity { producer_id, epoch: 0, base_sequence: 0 }
    }

    #[test]
    fn the_lso_and_the_aborted_index_filter_read_committed() {
        // Worked by hand. Producers: A=1 (transactional, aborts), B=2 (plain), C=3 (transactional, commits).
        //   offset 0-1  A [1, 2]   txn
        //   offset 2    B [3]
        //   offset 3    C [4]      txn
        //   offset 4    ABORT(A)   -> aborted index (A, 0, 4)
        //   offset 5    B [5]
        //   offset 6    COMMIT(C)
        let mut alone = settings();
        alone.min_insync_replicas = 1;
        let (mut leader, mut log) = replica(0, &state(0, 0, &[0], 0));
        let committed = |leader: &Replica, log: &ReplicaDurable| consume(leader, log, 0, IsolationLevel::ReadCommitted);
        leader.produce(&mut log, &alone, None, txn(1, 0, &[1, 2])).unwrap();
        leader.produce(&mut log, &alone, None, batch(&[3])).unwrap();
        leader.produce(&mut log, &alone, None, txn(3, 0, &[4])).unwrap();
        assert_eq!(leader.last_stable_offset(), 0, "A's transaction is open from offset 0");
        assert!(committed(&leader, &log).records.is_empty());
        leader.write_marker(&mut log, &alone, None, producer(1), ControlMarker::Abort, 0).unwrap();
        assert_eq!(log.aborted, vec![AbortedTxn { producer_id: 1, first_offset: 0, last_offset: 4 }]);
        assert_eq!(leader.last_stable_offset(), 3, "C's transaction is still open from offset 3");
        let read = committed(&leader, &log);
        assert_eq!((read.records, read.next_offset), (vec![(2, 3)], 3));
        leader.produce(&mut log, &alone, None, batch(&[5])).unwrap();
        leader.write_marker(&mut log, &alone, None, producer(3), ControlMarker::Commit, 0).unwrap();
        assert_eq!(leader.last_stable_offset(), 7);
        let read = committed(&leader, &log);
        assert_eq!(read.records, vec![(2, 3), (3, 4), (5, 5)], "aborted 0-1 and the markers 4, 6 are skipped");
        assert_eq!(read.next_offset, 7, "the position passes the last marker");
        let everything = consume(&leader, &log, 0, IsolationLevel::ReadUncommitted);
        assert_eq!(everything.records, vec![(0, 1), (1, 2), (2, 3), (3, 4), (5, 5)]);
        let from_inside = consume(&leader, &log, 1, IsolationLevel::ReadCommitted);
        assert_eq!(from_inside.records, vec![(2, 3), (3, 4), (5, 5)]);
    }

    #[test]
    fn collect_aborted_transactions_returns_those_overlapping_the_fetch_range() {
        // Aborted index: producer 1 over 0..=4, producer 2 over 6..=9, producer 3 over 12..=13. Kafka's
        // `collectAbortedTxns` keeps an entry when its marker is at or past the fetch offset and its first
        // offset is below the (exclusive) upper bound.
        let aborted = [(1, 0, 4), (2, 6, 9), (3, 12, 13)];
        let durable = ReplicaDurable {
            aborted: aborted
                .iter()
                .map(|&(producer_id, first_offset, last_offset)| AbortedTxn { producer_id, first_offset, last_offset })
                .collect(),
            ..ReplicaDurable::default()
        };
        assert_eq!(durable.collect_aborted_transactions(0, 20), vec![(1, 0), (2, 6), (3, 12)]);
        assert_eq!(durable.collect_aborted_transactions(4, 6), vec![(1, 0)], "ends at the fetch offset: kept");
        assert_eq!(durable.collect_aborted_transactions(5, 6), vec![], "starts at the bound: left out");
        assert_eq!(durable.collect_aborted_transactions(5, 7), vec![(2, 6)]);
        assert_eq!(durable.collect_aborted_transactions(8, 12), vec![(2, 6)], "a fetch inside a transaction");
        assert_eq!(durable.collect_aborted_transactions(10, 12), vec![]);
    }

    #[test]
    fn a_read_committed_fetch_returns_every_batch_below_the_lso_and_the_aborted_list() {
        // Producer 1's transactional [1, 2] at 0-1, plain [3] at 2, ABORT(1) at 3, producer 2's open [4] at 4.
        let mut alone = settings();
        alone.min_insync_replicas = 1;
        let (mut leader, mut log) = replica(0, &state(0, 0, &[0], 0));
        leader.produce(&mut log, &alone, None, txn(1, 0, &[1, 2])).unwrap();
        leader.produce(&mut log, &alone, None, batch(&[3])).unwrap();
        leader.write_marker(&mut log, &alone, None, producer(1), ControlMarker::Abort, 0).unwrap();
        leader.produce(&mut log, &alone, None, txn(2, 0, &[4])).unwrap();
        assert_eq!(leader.last_stable_offset(), 4);
        let committed = leader.fetch(&log, 0, 100, 0, IsolationLevel::ReadCommitted).unwrap();
        let offsets: Vec<u64> = committed.batches.iter().map(|batch| batch.base_offset).collect();
        assert_eq!(offsets, vec![0, 2, 3], "the aborted batch and the marker too, not the open transaction");
        assert_eq!(committed.batches[2].control, Some(ControlMarker::Abort));
        assert_eq!(committed.aborted, vec![(1, 0)]);
        let uncommitted = leader.fetch(&log, 0, 100, 0, IsolationLevel::ReadUncommitted).unwrap();
        assert_eq!(uncommitted.batches.len(), 4);
        assert!(uncommitted.aborted.is_empty(), "read_uncommitted gets no aborted list");
        let past = leader.fetch(&log, 4, 100, 0, IsolationLevel::ReadCommitted).unwrap();
        assert!(past.batches.is_empty() && past.aborted.is_empty(), "nothing stable from 4 on");
    }

    #[test]
    fn a_transaction_stays_unstable_until_its_marker_is_replicated() {
        // Worked by hand. ISR {0, 1}. Producer 1's transactional [7] at offset 0 is copied, so the HW is 1.
        // Its COMMIT lands at offset 1 on the leader only: were the LSO the HW (1), read_committed would return
        // offset 0 although the marker may still be truncated away if the leader fails. Once the follower has
        // the marker the HW is 2 and the record is committed for good.
        let partition = state(0, 0, &[0, 1], 0);
        let (mut leader, mut leader_log) = replica(0, &partition);
        let (mut one, mut one_log) = replica(1, &partition);
        leader.produce(&mut leader_log, &settings(), None, txn(1, 0, &[7])).unwrap();
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, MS);
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 2 * MS);
        assert_eq!(leader.high_watermark, 1);
        leader.write_marker(&mut leader_log, &settings(), None, producer(1), ControlMarker::Commit, 0).unwrap();
        assert_eq!(leader.last_stable_offset(), 0, "the marker at offset 1 is above the HW");
        let read = consume(&leader, &leader_log, 0, IsolationLevel::ReadCommitted);
        assert!(read.records.is_empty(), "nothing is stable yet: {read:?}");
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 3 * MS);
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 4 * MS);
        assert_eq!(leader.high_watermark, 2);
        assert_eq!(leader.last_stable_offset(), 2);
        let read = consume(&leader, &leader_log, 0, IsolationLevel::ReadCommitted);
        assert_eq!(read.records, vec![(0, 7)]);
    }

    #[test]
    fn transactions_fence_plain_writes_and_stale_markers_and_survive_a_reload() {
        let mut alone = settings();
        alone.min_insync_replicas = 1;
        let (mut leader, mut log) = replica(0, &state(0, 0, &[0], 0));
        leader.produce(&mut log, &alone, None, txn(1, 0, &[1])).unwrap();
        let plain =
            RecordBatch::data(Some(ProducerIdentity { producer_id: 1, epoch: 0, base_sequence: 1 }), false, vec![2]);
        assert_eq!(leader.produce(&mut log, &alone, None, plain), Err(ErrorCode::InvalidTxnState));
        // A reload (snapshot taken every two records, so at offset 2 after this batch) keeps the open
        // transaction: the LSO must not jump past it.
        leader.produce(&mut log, &alone, None, txn(1, 1, &[2])).unwrap();
        let reloaded = Replica::load(0, &log);
        assert_eq!(reloaded.producer_state().first_unstable_offset(0), Some(0));
        let bumped = ProducerIdentity { producer_id: 1, epoch: 1, base_sequence: 0 };
        leader.write_marker(&mut log, &alone, None, bumped, ControlMarker::Abort, 0).unwrap();
        let stale = ProducerIdentity { producer_id: 1, epoch: 0, base_sequence: 0 };
        assert_eq!(
            leader.write_marker(&mut log, &alone, None, stale, ControlMarker::Commit, 0),
            Err(ErrorCode::InvalidProducerEpoch)
        );
        // The index is durable: a crash with everything flushed keeps it, a truncation below it drops it.
        log.recover_after_crash();
        assert_eq!(log.aborted.len(), 1);
        log.truncate_to(2);
        assert!(log.aborted.is_empty());
    }

    fn idempotent(producer_id: u64, base_sequence: u32, value: i64) -> RecordBatch {
        let identity = ProducerIdentity { producer_id, epoch: 0, base_sequence };
        RecordBatch::data(Some(identity), false, vec![value])
    }

    /// A leader alone in the ISR with segments of two offsets and 1 s retention, flushing every record and
    /// snapshotting every `snapshot_interval` records. Producer 5 writes offsets 0-1 at 0 ms, producer 6
    /// offsets 2-3 at 2000 ms: segment {0, 1} is past retention, segment {2, 3} is the active one.
    fn aged_leader(snapshot_interval: u64, kip360: bool) -> (Replica, ReplicaDurable, ReplicationSettings) {
        let mut alone = settings();
        alone.min_insync_replicas = 1;
        alone.snapshot_interval_messages = snapshot_interval;
        alone.kip360_producer_state = kip360;
        let (mut leader, mut log) = replica(0, &state(0, 0, &[0], 0));
        leader.produce(&mut log, &alone, None, idempotent(5, 0, 1)).unwrap();
        leader.produce(&mut log, &alone, None, idempotent(5, 1, 2)).unwrap();
        leader.advance_clock(2_000 * MS);
        leader.produce(&mut log, &alone, None, idempotent(6, 0, 3)).unwrap();
        leader.produce(&mut log, &alone, None, idempotent(6, 1, 4)).unwrap();
        (leader, log, alone)
    }

    #[test]
    fn delete_old_segments_moves_the_log_start_offset_and_deletes_what_lies_below_it() {
        let (mut leader, mut log, alone) = aged_leader(1, true);
        assert_eq!(log.snapshots.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!(leader.delete_old_segments(&mut log, &alone), 0);
        assert_eq!(log.log.start_offset(), 2);
        assert_eq!(log.snapshots.keys().copied().collect::<Vec<_>>(), vec![2, 3, 4], "deleteSnapshotsBefore");
        assert_eq!(leader.fetch(&log, 1, 10, 0, IsolationLevel::ReadUncommitted), Err(ErrorCode::OffsetOutOfRange));
        assert_eq!(consume(&leader, &log, 2, IsolationLevel::ReadUncommitted).records, vec![(2, 3), (3, 4)]);
        // Since KAFKA-7190 the partition still knows producer 5: its retry is a duplicate.
        let retried = leader.produce(&mut log, &alone, None, idempotent(5, 1, 2)).unwrap();
        assert_eq!(retried, Produced { ack: Some(1), duplicate: true });
        // Nothing else is old enough: the active segment stays.
        leader.advance_clock(60_000 * MS);
        leader.delete_old_segments(&mut log, &alone);
        assert_eq!(log.log.start_offset(), 2);
    }

    #[test]
    fn truncate_head_before_kafka_7190_evicts_producers_below_the_log_start_offset() {
        let (mut leader, mut log, alone) = aged_leader(1, false);
        assert_eq!(leader.delete_old_segments(&mut log, &alone), 1, "producer 5 evicted");
        assert!(leader.producer_state().entry(5).is_none());
        let retried = leader.produce(&mut log, &alone, None, idempotent(5, 1, 2));
        assert_eq!(retried, Err(ErrorCode::UnknownProducerId));
        assert!(leader.producer_state().entry(6).is_some());
    }

    #[test]
    fn a_reload_after_retention_deleted_every_snapshot_forgets_the_deleted_producers() {
        // No snapshot is ever taken (interval 100): after retention, a restart rebuilds producer state from the
        // retained log only, and producer 5's late retry is appended again at any sequence (KIP-360's hole).
        let (mut leader, mut log, alone) = aged_leader(100, true);
        leader.delete_old_segments(&mut log, &alone);
        assert!(leader.producer_state().entry(5).is_some(), "in memory it stays");
        log.recover_after_crash();
        let mut restarted = Replica::load(0, &log);
        assert!(restarted.producer_state().entry(5).is_none());
        restarted.apply_metadata(&log, &state(0, 1, &[0], 1), 0);
        let retried = restarted.produce(&mut log, &alone, None, idempotent(5, 1, 2)).unwrap();
        assert_eq!(retried, Produced { ack: Some(4), duplicate: false });
    }

    #[test]
    fn truncate_and_reload_from_the_newest_snapshot_not_past_the_log_end() {
        // Snapshots at offsets 1, 2, 3, 4. A truncation to 2 (a follower's divergence) deletes 3 and 4; the reload
        // starts from snapshot 2, which holds producer 5's last batch only (sequence 1).
        let (_, mut log, alone) = aged_leader(1, true);
        log.truncate_to(2);
        assert_eq!(log.snapshots.keys().copied().collect::<Vec<_>>(), vec![1, 2], "stale snapshots gone");
        let mut reloaded = Replica::load(0, &log);
        let entry = reloaded.producer_state().entry(5).expect("from snapshot 2");
        assert_eq!((entry.batches.len(), entry.last_sequence()), (1, Some(1)));
        assert!(reloaded.producer_state().entry(6).is_none(), "its batches were truncated");
        reloaded.apply_metadata(&log, &state(0, 1, &[0], 1), 0);
        let duplicate = reloaded.produce(&mut log, &alone, None, idempotent(5, 1, 2)).unwrap();
        assert_eq!(duplicate, Produced { ack: Some(1), duplicate: true });
        let older = reloaded.produce(&mut log, &alone, None, idempotent(5, 0, 1));
        assert_eq!(older, Err(ErrorCode::OutOfOrderSequence), "the window shrank to one batch");
    }

    #[test]
    fn remove_expired_producers_after_a_load_and_on_the_periodic_check() {
        let (mut leader, mut log, alone) = aged_leader(1, true);
        leader.advance_clock(2_999 * MS);
        assert_eq!(leader.remove_expired_producers(&alone), 1, "producer 5 idle 2999 ms, expiration 1000 ms");
        assert_eq!(leader.remove_expired_producers(&alone), 0);
        leader.advance_clock(3_000 * MS);
        assert_eq!(leader.remove_expired_producers(&alone), 1, "producer 6 idle exactly 1000 ms");
        // A late retry of producer 6's last batch is appended again.
        let retried = leader.produce(&mut log, &alone, None, idempotent(6, 1, 4)).unwrap();
        assert!(!retried.duplicate);
    }

    #[test]
    fn a_follower_takes_the_leaders_log_start_offset_or_starts_over_there() {
        let (mut leader, mut log, alone) = aged_leader(1, true);
        let partition = state(0, 0, &[0], 0);
        let (mut caught_up, mut caught_up_log) = replica(1, &partition);
        replicate(&mut leader, &log, &mut caught_up, &mut caught_up_log, 2_000 * MS);
        replicate(&mut leader, &log, &mut caught_up, &mut caught_up_log, 2_000 * MS);
        assert_eq!(caught_up.high_watermark, 4);
        leader.delete_old_segments(&mut log, &alone);
        replicate(&mut leader, &log, &mut caught_up, &mut caught_up_log, 2_001 * MS);
        assert_eq!((caught_up_log.log.start_offset(), caught_up_log.log.batches().len()), (2, 2));
        assert!(caught_up.producer_state().entry(5).is_some(), "KAFKA-7190 on followers too");
        // A new replica with an empty log is below the leader's log start offset: it starts over at 2.
        let (mut fresh, mut fresh_log) = replica(2, &partition);
        replicate(&mut leader, &log, &mut fresh, &mut fresh_log, 2_002 * MS);
        assert_eq!((fresh_log.log.start_offset(), fresh_log.log.end_offset()), (2, 2));
        replicate(&mut leader, &log, &mut fresh, &mut fresh_log, 2_003 * MS);
        assert_eq!(fresh_log.log.end_offset(), 4);
        assert!(fresh.producer_state().entry(5).is_none(), "it never saw producer 5");
    }

    #[test]
    fn the_lso_with_several_open_transactions_is_the_smallest_first_offset() {
        // Producers 1, 2, 3 open transactions at offsets 0, 1, 2; alone in the ISR, the HW follows the log end.
        let mut alone = settings();
        alone.min_insync_replicas = 1;
        let (mut leader, mut log) = replica(0, &state(0, 0, &[0], 0));
        for producer_id in 1..=3 {
            leader.produce(&mut log, &alone, None, txn(producer_id, 0, &[producer_id as i64])).unwrap();
        }
        assert_eq!(leader.last_stable_offset(), 0);
        leader.write_marker(&mut log, &alone, None, producer(2), ControlMarker::Commit, 0).unwrap();
        assert_eq!(leader.last_stable_offset(), 0, "producer 1 still holds it");
        leader.write_marker(&mut log, &alone, None, producer(1), ControlMarker::Commit, 0).unwrap();
        assert_eq!(leader.last_stable_offset(), 2, "producer 3's transaction from offset 2");
        leader.write_marker(&mut log, &alone, None, producer(3), ControlMarker::Abort, 0).unwrap();
        assert_eq!(leader.last_stable_offset(), 6, "everything stable: the HW");
        let read = consume(&leader, &log, 0, IsolationLevel::ReadCommitted);
        assert_eq!(read.records, vec![(0, 1), (1, 2)], "producer 3 aborted");
    }

    #[test]
    fn the_high_watermark_counts_a_member_a_pending_shrink_would_remove() {
        // ISR {0, 1, 2}; replica 2 never fetches and the leader proposes {0, 1}. Until the controller answers,
        // replica 2 may still be elected: the HW waits for it (KIP-497's maximal ISR).
        let partition = state(0, 0, &[0, 1, 2], 0);
        let (mut leader, mut leader_log) = replica(0, &partition);
        let (mut one, mut one_log) = replica(1, &partition);
        leader.alter_sent(vec![0, 1], 150 * MS);
        leader.produce(&mut leader_log, &settings(), None, batch(&[1])).unwrap();
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 151 * MS);
        replicate(&mut leader, &leader_log, &mut one, &mut one_log, 152 * MS);
        assert_eq!(leader.high_watermark, 0, "replica 2 is still counted");
        leader.on_alter_response(&leader_log, Ok(state(0, 0, &[0, 1], 1)));
        assert_eq!(leader.high_watermark, 1, "the shrink is committed");
    }

    #[test]
    fn a_follower_builds_the_aborted_index_from_a_copied_abort_marker() {
        // Leader 0: producer 1's transactional [1, 2] at 0-1, plain [3] at 2, ABORT(1) at 3. Follower 1 copies
        // everything, then leads: its read_committed fetch skips offsets 0-1 and the marker.
        let partition = state(0, 0, &[0, 1], 0);
        let (mut zero, mut zero_log) = replica(0, &partition);
        let (mut one, mut one_log) = replica(1, &partition);
        zero.produce(&mut zero_log, &settings(), None, txn(1, 0, &[1, 2])).unwrap();
        zero.produce(&mut zero_log, &settings(), None, batch(&[3])).unwrap();
        zero.write_marker(&mut zero_log, &settings(), None, producer(1), ControlMarker::Abort, 0).unwrap();
        replicate(&mut zero, &zero_log, &mut one, &mut one_log, MS);
        assert_eq!(one_log.aborted, vec![AbortedTxn { producer_id: 1, first_offset: 0, last_offset: 3 }]);
        one.apply_metadata(&one_log, &state(1, 1, &[1], 1), 2 * MS);
        let read = consume(&one, &one_log, 0, IsolationLevel::ReadCommitted);
        assert_eq!((read.records, read.next_offset), (vec![(2, 3)], 4));
        let uncommitted = consume(&one, &one_log, 0, IsolationLevel::ReadUncommitted);
        assert_eq!(uncommitted.records, vec![(0, 1), (1, 2), (2, 3)], "read_uncommitted sees the aborted records");
    }

    #[test]
    fn a_crash_reloads_from_the_newest_snapshot_at_or_below_the_recovery_point() {
        // Flushed every two records with a snapshot at each flush: snapshots at 2 and 4, a fifth record unflushed.
        // After the crash the log ends at 4 and the reload starts from snapshot 4, not 2: producer 6's window
        // holds its last flushed batch only (a reload from 2 would have replayed both of its batches).
        let mut lazy = settings();
        lazy.min_insync_replicas = 1;
        lazy.flush_messages = 2;
        let (mut leader, mut log) = replica(0, &state(0, 0, &[0], 0));
        for (producer_id, sequence) in [(5, 0), (5, 1), (6, 0), (6, 1), (6, 2)] {
            leader.produce(&mut log, &lazy, None, idempotent(producer_id, sequence, 1)).unwrap();
        }
        assert_eq!(log.snapshots.keys().copied().collect::<Vec<_>>(), vec![2, 4]);
        assert_eq!(leader.producer_state().entry(6).map(|entry| entry.batches.len()), Some(3), "before the crash");
        log.recover_after_crash();
        assert_eq!(log.log.end_offset(), 4);
        assert_eq!(log.latest_snapshot().map(|snapshot| snapshot.offset), Some(4));
        let reloaded = Replica::load(0, &log);
        let six = reloaded.producer_state().entry(6).expect("in snapshot 4");
        assert_eq!((six.batches.len(), six.last_sequence()), (1, Some(1)));
    }
}
