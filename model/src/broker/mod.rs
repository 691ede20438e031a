//! The broker side of the cluster. What lives here: the broker node itself (this file: produce, fetch and
//! metadata requests, follower replication, heartbeats, producer ids), a partition replica ([`replica`]: leader
//! and follower roles, ISR, high watermark, LSO) over its log ([`log`]) with broker-side idempotence and
//! transaction state ([`producer_state`]), the coordinators' requests carried out on this broker
//! (`coordination.rs`), and the [`controller`] that elects leaders.
//!
//! May depend on: `ctx`, `protocol`, `scenario` and the coordinator state machines in [`crate::coordinator`],
//! which a broker hosts when it leads an internal partition. Never on `client` or `app`.
//!
//! A broker that leads an internal partition is also its coordinator: the transaction coordinator
//! ([`crate::coordinator::txn`]) for a transaction-log partition, the group coordinator
//! ([`crate::coordinator::group`]) for an offsets partition; `coordination.rs` carries their requests out.
//!
//! Durable ([`BrokerDurable`]): every replica's log (with its log start offset) and snapshot files, the
//! producer-id counter, and the incarnation number. Two periodic checks run the producer-state lifecycle:
//! producer-id expiry and time retention ([`replica`] has the rules). Volatile: the metadata image, every replica's role, HW and producer state, the
//! follower fetches in flight, and the coordinators' state, all rebuilt after a restart (roles only once the
//! controller answers, coordinators from their logs once the broker leads them again).

pub mod controller;
pub mod log;
pub mod partition_map;
pub mod producer_state;
pub mod replica;

mod coordination;
#[cfg(test)]
mod delayed_fetch_tests;

use crate::broker::replica::{Produced, Replica, ReplicaDurable, ReplicationSettings, Reply, Role};
use crate::coordinator::group::GroupCoordinator;
use crate::coordinator::internal_topics::InternalTopics;
use crate::coordinator::loading::CoordinatorLoads;
use crate::coordinator::marker_channel::TxnMarkerChannel;
use crate::coordinator::txn::{TxnCoordinator, TxnCoordinatorSettings};
use crate::ctx::{timer_parts, timer_tag, Ctx};
use crate::protocol::{ErrorCode, MetadataImage, Msg, PartitionId, RecordBatch, ReplicaFetchData};
use crate::scenario::Acks;
use coordination::{InternalWrite, Verification};
use eosim_sim::NodeId;
use partition_map::PartitionMap;
use std::collections::BTreeMap;

const TIMER_HEARTBEAT: u16 = 1;
const TIMER_ISR_CHECK: u16 = 2;
const TIMER_FOLLOWER_FETCH: u16 = 3;
const TIMER_COORDINATOR: u16 = 4;
const TIMER_PRODUCER_EXPIRATION: u16 = 5;
const TIMER_RETENTION: u16 = 6;
const TIMER_DELAYED_FETCH: u16 = 7;

/// Records per fetch at most.
const FETCH_MAX_RECORDS: u32 = 64;

/// Broker settings, times in nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerSettings {
    /// Kafka bugs put back in this broker (`bugs.rs`).
    pub kafka_bugs: Vec<crate::bugs::KafkaBug>,
    /// This broker's index; its node id is the same number.
    pub broker_index: u32,
    /// Brokers in the cluster.
    pub broker_count: u32,
    /// The controller node.
    pub controller: NodeId,
    /// Time between heartbeats.
    pub heartbeat_ns: u64,
    /// `replica.fetch.wait.max.ms`: how long a leader parks a follower fetch that found nothing new.
    pub fetch_wait_ns: u64,
    /// How long a follower waits for a fetch response before sending another.
    pub request_timeout_ns: u64,
    /// Replication settings.
    pub replication: ReplicationSettings,
    /// Where the internal partitions are.
    pub internal: InternalTopics,
    /// The transaction coordinator's settings.
    pub txn: TxnCoordinatorSettings,
    /// KIP-890: what a partition leader asks the coordinator before a transaction's first append here.
    pub verification: TxnVerification,
    /// How often the coordinators look for timed-out transactions and expired members.
    pub coordinator_tick_ns: u64,
    /// `producer.id.expiration.check.interval.ms`: how often partitions forget expired producers.
    pub producer_id_expiration_check_ns: u64,
    /// `log.retention.check.interval.ms`: how often retention runs (Kafka's `LogManager` cleanup task).
    pub retention_check_ns: u64,
}

/// What a partition leader does with a transactional batch of a producer that has no open transaction on
/// the partition at the batch's epoch (Kafka's `ReplicaManager.appendRecords` with `AddPartitionsToTxnManager`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnVerification {
    /// Transaction version 1 without KIP-890: the batch appends, and may open a transaction the coordinator
    /// never tracks (KAFKA-12671).
    Off,
    /// KIP-890 part 1 on transaction version 1: AddPartitionsToTxn with `verifyOnly`; the client must have
    /// added the partition itself, else the batch is refused (Kafka 3.7–3.9).
    VerifyOnly,
    /// Transaction version 2: the leader adds the partition to the transaction on the client's behalf.
    AddPartition,
}

/// What survives a broker crash.
#[derive(Clone, Debug, Default)]
pub struct BrokerDurable {
    /// Replica logs and snapshots, per hosted partition.
    pub replicas: PartitionMap<ReplicaDurable>,
    /// Producer ids handed out so far; ids are `count * broker_count + broker_index + 1`, unique cluster-wide.
    pub producer_ids_issued: u64,
    /// Bumped at every restart.
    pub incarnation: u64,
}

/// A follower fetch that found nothing new, held at the leader (Kafka's `DelayedFetch`) with what the
/// follower would learn from an answer now, so any change of it answers the fetch early.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ParkedFetch {
    follower_node: NodeId,
    request_id: u64,
    partition: PartitionId,
    follower: u32,
    offset: u64,
    last_fetched_epoch: Option<u32>,
    leader_epoch: u32,
    /// The partition as the fetch saw it when parked.
    seen: FetchView,
}

/// What a parked follower fetch is waiting to change (the conditions of Kafka's `DelayedFetch.tryComplete`):
/// new data, the high watermark or log start offset the answer carries, and the leadership it was sent to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FetchView {
    /// The leader epoch while this broker leads, None otherwise.
    leader_epoch: Option<u32>,
    log_end: u64,
    high_watermark: u64,
    log_start: u64,
}

#[derive(Clone, Debug)]
struct Volatile {
    image: Option<MetadataImage>,
    replicas: PartitionMap<Replica>,
    /// Follower fetch in flight per partition: request id and send time. Set and cleared on every follower
    /// fetch, so indexed by partition rather than searched.
    fetches: PartitionMap<(u64, u64)>,
    /// Follower fetches this leader holds until something changes (Kafka's fetch purgatory), by park id.
    /// Park ids only grow, so pushing keeps this sorted by park id; a vector because it is scanned after every
    /// event this broker handles.
    parked_fetches: Vec<(u64, ParkedFetch)>,
    next_request_id: u64,
    txn: TxnCoordinator,
    groups: GroupCoordinator,
    /// Leader epoch of each internal partition whose coordinator is loaded.
    coordinator_epochs: BTreeMap<PartitionId, u32>,
    /// Writes to this broker's own replicas that wait for replication, by internal request id.
    internal_writes: BTreeMap<u64, InternalWrite>,
    /// Markers this broker's transaction coordinator has in flight.
    marker_channel: TxnMarkerChannel,
    /// Internal partitions whose coordinator is still loading.
    coordinator_loads: CoordinatorLoads,
    /// Transactional produces waiting for their KIP-890 verification, by the verification's request id.
    verifications: BTreeMap<u64, Verification>,
}

impl Volatile {
    fn new(settings: &BrokerSettings) -> Volatile {
        Volatile {
            image: None,
            replicas: PartitionMap::new(),
            fetches: PartitionMap::new(),
            parked_fetches: Vec::new(),
            next_request_id: 0,
            txn: TxnCoordinator::new(settings.txn.clone()).with_kafka_bugs(&settings.kafka_bugs),
            groups: GroupCoordinator::new(),
            coordinator_epochs: BTreeMap::new(),
            internal_writes: BTreeMap::new(),
            marker_channel: TxnMarkerChannel::new(),
            coordinator_loads: CoordinatorLoads::new(),
            verifications: BTreeMap::new(),
        }
    }
}

/// A broker node.
#[derive(Clone, Debug)]
pub struct Broker {
    settings: BrokerSettings,
    durable: BrokerDurable,
    volatile: Volatile,
    /// The metadata the cluster was created with, so the first run starts with roles.
    bootstrap: MetadataImage,
}

impl Broker {
    /// A broker hosting `partitions`, starting from the bootstrap metadata.
    pub fn new(settings: BrokerSettings, partitions: &[PartitionId], bootstrap: MetadataImage) -> Broker {
        let replicas = partitions.iter().map(|partition| (*partition, ReplicaDurable::default())).collect();
        let durable = BrokerDurable { replicas, producer_ids_issued: 0, incarnation: 0 };
        let volatile = Volatile::new(&settings);
        Broker { settings, durable, volatile, bootstrap }
    }

    /// The durable state.
    pub fn durable(&self) -> &BrokerDurable {
        &self.durable
    }

    /// The replica of `partition`, while the broker runs.
    pub fn replica(&self, partition: PartitionId) -> Option<&Replica> {
        self.volatile.replicas.get(&partition)
    }

    /// Every replica, while the broker runs.
    pub fn replicas(&self) -> impl Iterator<Item = (&PartitionId, &Replica)> {
        self.volatile.replicas.iter()
    }

    /// The transaction coordinator's entries, one line each, for stall reports.
    pub fn describe_transactions(&self) -> Vec<String> {
        self.volatile.txn.describe()
    }

    /// The group coordinator's groups, one line each, for stall reports.
    pub fn describe_groups(&self) -> Vec<String> {
        self.volatile.groups.describe()
    }

    /// Transactions this broker coordinates that are open (Ongoing or being completed).
    pub fn open_transactions(&self) -> Vec<(String, crate::coordinator::txn_state::TxnState)> {
        self.volatile.txn.states().into_iter().filter(|(_, state)| state.is_open()).collect()
    }

    /// True if a transaction this broker coordinates is open; [`Broker::open_transactions`] without the copies.
    pub fn has_open_transaction(&self) -> bool {
        self.volatile.txn.any_open()
    }

    /// Loads the replicas and applies the bootstrap metadata.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.load_replicas(ctx.now_ns());
        let bootstrap = self.bootstrap.clone();
        self.apply_image(ctx, bootstrap);
        self.start_timers(ctx);
    }

    /// A process crash (kill -9, out of memory): the volatile state is lost; every log stays whole, its
    /// unflushed tail included, because the operating system's page cache outlives the process. The restart
    /// re-reads the logs as Kafka's `LogLoader.recoverLog` does after an unclean shutdown, and rebuilds
    /// producer state from the newest snapshot plus the log after it.
    pub fn crash(&mut self) {
        self.volatile = Volatile::new(&self.settings);
    }

    /// A power loss: the volatile state and the unflushed tail of every log are lost, with the snapshots and
    /// index entries past it. Kafka keeps no more than was fsynced (`log.flush.interval.messages`), and by
    /// default fsyncs nothing itself, trusting replication.
    pub fn lose_power(&mut self) {
        for durable in self.durable.replicas.values_mut() {
            durable.recover_after_crash();
            assert_eq!(durable.log.end_offset(), durable.log.flushed_offset(), "only the flushed prefix stays");
        }
        self.crash();
    }

    /// Comes back as a new incarnation with no roles; the controller's answer gives them back.
    pub fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        self.durable.incarnation += 1;
        self.load_replicas(ctx.now_ns());
        self.start_timers(ctx);
    }

    /// Rebuilds every replica from its durable part; producers already expired are left out, as Kafka's
    /// `loadFromSnapshot` leaves them.
    fn load_replicas(&mut self, now_ns: u64) {
        let me = self.settings.broker_index;
        self.volatile.replicas =
            self.durable.replicas.iter().map(|(partition, durable)| (*partition, Replica::load(me, durable))).collect();
        for replica in self.volatile.replicas.values_mut() {
            replica.advance_clock(now_ns);
            replica.remove_expired_producers(&self.settings.replication);
        }
    }

    fn start_timers(&mut self, ctx: &mut Ctx<'_>) {
        self.send_heartbeat(ctx);
        ctx.set_timer(self.settings.heartbeat_ns, timer_tag(TIMER_HEARTBEAT, 0));
        ctx.set_timer(self.settings.replication.replica_lag_ns / 4, timer_tag(TIMER_ISR_CHECK, 0));
        for partition in self.durable.replicas.keys() {
            ctx.set_timer(self.follower_retry_ns(), timer_tag(TIMER_FOLLOWER_FETCH, u64::from(partition.0)));
        }
        if self.durable.replicas.keys().any(|partition| partition.0 >= self.settings.internal.first_partition) {
            ctx.set_timer(self.settings.coordinator_tick_ns, timer_tag(TIMER_COORDINATOR, 0));
        }
        ctx.set_timer(self.settings.producer_id_expiration_check_ns, timer_tag(TIMER_PRODUCER_EXPIRATION, 0));
        ctx.set_timer(self.settings.retention_check_ns, timer_tag(TIMER_RETENTION, 0));
    }

    /// How often a follower checks for a fetch to resend: one whose answer is overdue, or after an error.
    /// Kafka resends at `replica.socket.timeout.ms` and backs off `replica.fetch.backoff.ms` after an error;
    /// the model has neither knob and uses the shorter of the fetch wait and the request timeout.
    fn follower_retry_ns(&self) -> u64 {
        self.settings.fetch_wait_ns.min(self.settings.request_timeout_ns)
    }

    /// Kafka's `PeriodicProducerExpirationCheck`: every partition forgets its expired producers.
    fn tick_producer_expiration(&mut self, ctx: &mut Ctx<'_>) {
        for replica in self.volatile.replicas.values_mut() {
            replica.advance_clock(ctx.now_ns());
            for _ in 0..replica.remove_expired_producers(&self.settings.replication) {
                ctx.shared.count("broker:producer-id-expired");
            }
        }
    }

    /// Kafka's `LogManager.cleanupLogs` with `deleteOldSegments` on every hosted data partition. Internal
    /// partitions are compacted in Kafka, never deleted by time, so retention leaves them alone.
    fn tick_retention(&mut self, ctx: &mut Ctx<'_>) {
        let first_internal = self.settings.internal.first_partition;
        for (partition, replica) in
            self.volatile.replicas.iter_mut().filter(|(partition, _)| partition.0 < first_internal)
        {
            let durable = self.durable.replicas.get_mut(partition).expect("hosted");
            let start_before = durable.log.start_offset();
            replica.advance_clock(ctx.now_ns());
            let evicted = replica.delete_old_segments(durable, &self.settings.replication);
            if durable.log.start_offset() > start_before {
                ctx.shared.count("broker:log-start-offset-incremented");
            }
            for _ in 0..evicted {
                ctx.shared.count("broker:producer-evicted-by-retention");
            }
        }
    }

    fn send_heartbeat(&mut self, ctx: &mut Ctx<'_>) {
        let metadata_version = self.volatile.image.as_ref().map_or(0, |image| image.version);
        let msg = Msg::BrokerHeartbeat {
            broker: self.settings.broker_index,
            incarnation: self.durable.incarnation,
            metadata_version,
        };
        ctx.send(self.settings.controller, msg);
    }

    /// Heartbeats, ISR checks and follower fetches.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) {
        let (kind, payload) = timer_parts(tag);
        match kind {
            TIMER_PRODUCER_EXPIRATION => {
                self.tick_producer_expiration(ctx);
                ctx.set_timer(self.settings.producer_id_expiration_check_ns, tag);
            }
            TIMER_RETENTION => {
                self.tick_retention(ctx);
                ctx.set_timer(self.settings.retention_check_ns, tag);
            }
            TIMER_HEARTBEAT => {
                self.send_heartbeat(ctx);
                ctx.set_timer(self.settings.heartbeat_ns, tag);
            }
            TIMER_ISR_CHECK => {
                self.tick_isr(ctx);
                ctx.set_timer(self.settings.replication.replica_lag_ns / 4, tag);
            }
            TIMER_FOLLOWER_FETCH => {
                let partition = PartitionId(payload as u32);
                let stale = self.volatile.fetches.get(&partition).is_none_or(|(_, sent_ns)| {
                    ctx.now_ns().saturating_sub(*sent_ns) >= self.settings.request_timeout_ns
                });
                if stale {
                    self.send_follower_fetch(ctx, partition);
                }
                ctx.set_timer(self.follower_retry_ns(), tag);
            }
            TIMER_COORDINATOR => {
                self.tick_coordinators(ctx);
                ctx.set_timer(self.settings.coordinator_tick_ns, tag);
            }
            TIMER_DELAYED_FETCH => self.answer_parked_fetch(ctx, payload),
            _ => unreachable!("unknown broker timer kind {kind}"),
        }
        self.try_complete_parked_fetches(ctx);
    }

    /// Handles one request or response.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_>, source: NodeId, msg: Msg) {
        match msg {
            Msg::InitProducerIdRequest { request_id, transactional: None } => {
                let producer_id = self.new_producer_id();
                let result = Ok((producer_id, 0));
                ctx.send(source, Msg::InitProducerIdResponse { request_id, result });
            }
            Msg::InitProducerIdRequest { request_id, transactional: Some(init) } => {
                self.on_init_transactional(ctx, source, request_id, init);
            }
            Msg::TxnRequest { request_id, transactional_id, producer_id, epoch, op } => {
                self.on_txn_request(ctx, source, request_id, &transactional_id, producer_id, epoch, op);
            }
            Msg::TxnResponse { request_id, result } => self.on_verified(ctx, request_id, result),
            Msg::WriteTxnMarkerRequest { request_id, partition, producer, marker, coordinator_epoch } => {
                self.on_write_marker(ctx, source, request_id, partition, producer, marker, coordinator_epoch);
            }
            Msg::WriteTxnMarkerResponse { request_id, partition: _, result } => {
                self.on_marker_written(ctx, request_id, result);
            }
            Msg::GroupRequest { request_id, group_id, op } => {
                self.on_group_request(ctx, source, request_id, &group_id, *op);
            }
            Msg::MetadataRequest { request_id } => {
                let leaders = self.volatile.image.as_ref().map_or_else(Vec::new, |image| {
                    image.partitions.iter().map(|state| (state.leader, state.leader_epoch)).collect()
                });
                ctx.send(source, Msg::MetadataResponse { request_id, leaders });
            }
            Msg::ProduceRequest { request_id, partition, acks, batch, transactional_id } => {
                if self.needs_verification(partition, &batch, transactional_id.as_deref()) {
                    let transactional_id = transactional_id.expect("checked by needs_verification");
                    self.verify(ctx, source, request_id, partition, acks, batch, transactional_id);
                } else {
                    self.produce(ctx, source, request_id, partition, acks, batch);
                }
            }
            Msg::FetchRequest { request_id, partition, offset, max_records, leader_epoch, isolation } => {
                let result = match (self.volatile.replicas.get(&partition), self.durable.replicas.get(&partition)) {
                    (Some(replica), Some(durable)) => {
                        replica.fetch(durable, offset, max_records, leader_epoch, isolation)
                    }
                    _ => Err(ErrorCode::NotLeaderOrFollower),
                };
                count_result(ctx, &result.as_ref().map(|_| ()).map_err(|error| *error));
                let log_start_offset = self.log_start_offset(partition);
                ctx.send(source, Msg::FetchResponse { request_id, result, log_start_offset });
            }
            Msg::ReplicaFetchRequest { request_id, partition, replica, offset, last_fetched_epoch, leader_epoch } => {
                let fetch = ParkedFetch {
                    follower_node: source,
                    request_id,
                    partition,
                    follower: replica,
                    offset,
                    last_fetched_epoch,
                    leader_epoch,
                    seen: FetchView { leader_epoch: None, log_end: 0, high_watermark: 0, log_start: 0 },
                };
                self.on_follower_fetch(ctx, fetch);
            }
            Msg::ReplicaFetchResponse { request_id, partition, result } => {
                self.on_follower_fetched(ctx, request_id, partition, result);
            }
            Msg::BrokerHeartbeatResponse { image: Some(image) } => self.apply_image(ctx, image),
            Msg::BrokerHeartbeatResponse { image: None } => {}
            Msg::AlterPartitionResponse { partition, result } => {
                if let (Some(replica), Some(durable)) =
                    (self.volatile.replicas.get_mut(&partition), self.durable.replicas.get(&partition))
                {
                    let replies = replica.on_alter_response(durable, result);
                    self.send_replies(ctx, partition, replies);
                }
            }
            other => unreachable!("a broker never receives {other:?}"),
        }
        self.try_complete_parked_fetches(ctx);
    }

    /// A producer id unique in the cluster.
    fn new_producer_id(&mut self) -> u64 {
        let producer_id = self.durable.producer_ids_issued * u64::from(self.settings.broker_count)
            + u64::from(self.settings.broker_index)
            + 1;
        self.durable.producer_ids_issued += 1;
        producer_id
    }

    /// Appends a produce request's batch (after its verification, if it needed one) and answers it now or,
    /// with acks=all, once replicated.
    fn produce(
        &mut self,
        ctx: &mut Ctx<'_>,
        client: NodeId,
        request_id: u64,
        partition: PartitionId,
        acks: Acks,
        batch: RecordBatch,
    ) {
        let waiting = (acks == Acks::All).then_some((client, request_id));
        let result = match self.volatile.replicas.get_mut(&partition) {
            Some(replica) => {
                let durable = self.durable.replicas.get_mut(&partition).expect("hosted");
                replica.advance_clock(ctx.now_ns());
                replica.produce(durable, &self.settings.replication, waiting, batch)
            }
            None => Err(ErrorCode::NotLeaderOrFollower),
        };
        count_result(ctx, &result.map(|_| ()));
        match result {
            Ok(produced) if produced.duplicate => ctx.shared.count("broker:duplicate-batch-deduplicated"),
            Ok(_) => ctx.shared.count("broker:append"),
            Err(_) => {}
        }
        // Kafka's ProduceResponse carries the partition's log start offset, which a pre-KIP-360 client
        // compares with its last acknowledged offset on UNKNOWN_PRODUCER_ID (KAFKA-7298).
        let log_start_offset = self.log_start_offset(partition);
        match result {
            Ok(Produced { ack: None, .. }) => {}
            _ if acks == Acks::None => {}
            Ok(Produced { ack: Some(offset), .. }) => {
                ctx.send(client, Msg::ProduceResponse { request_id, result: Ok(offset), log_start_offset })
            }
            Err(error) => ctx.send(client, Msg::ProduceResponse { request_id, result: Err(error), log_start_offset }),
        }
    }

    fn serve_follower(
        &mut self,
        ctx: &mut Ctx<'_>,
        partition: PartitionId,
        follower: u32,
        offset: u64,
        last_fetched_epoch: Option<u32>,
        leader_epoch: u32,
    ) -> Result<ReplicaFetchData, ErrorCode> {
        let (Some(replica), Some(durable)) =
            (self.volatile.replicas.get_mut(&partition), self.durable.replicas.get(&partition))
        else {
            return Err(ErrorCode::NotLeaderOrFollower);
        };
        let now_ns = ctx.now_ns();
        let result = replica.replica_fetch(
            durable,
            follower,
            offset,
            last_fetched_epoch,
            leader_epoch,
            FETCH_MAX_RECORDS,
            now_ns,
        );
        if result.as_ref().is_ok_and(|data| data.diverging.is_some()) {
            ctx.shared.count("broker:follower-diverged");
        }
        count_result(ctx, &result.as_ref().map(|_| ()).map_err(|error| *error));
        let replies = replica.complete_pending(Some(self.settings.replication.min_insync_replicas));
        self.send_replies(ctx, partition, replies);
        result
    }

    /// Kafka's `ReplicaManager.fetchMessages` for a follower: answered at once when there is something to send
    /// (batches, a divergence, a log start offset past the fetch offset) or an error; otherwise parked as a
    /// `DelayedFetch` until the partition changes or `replica.fetch.wait.max.ms` passes.
    fn on_follower_fetch(&mut self, ctx: &mut Ctx<'_>, mut fetch: ParkedFetch) {
        let result = self.serve_follower(
            ctx,
            fetch.partition,
            fetch.follower,
            fetch.offset,
            fetch.last_fetched_epoch,
            fetch.leader_epoch,
        );
        let nothing_new = result.as_ref().is_ok_and(|data| {
            data.batches.is_empty() && data.diverging.is_none() && data.log_start_offset <= fetch.offset
        });
        if !nothing_new {
            let msg = Msg::ReplicaFetchResponse { request_id: fetch.request_id, partition: fetch.partition, result };
            ctx.send(fetch.follower_node, msg);
            return;
        }
        // A follower sends a new fetch only once it gave up on the previous one, whose answer it would ignore.
        let (partition, follower) = (fetch.partition, fetch.follower);
        self.volatile.parked_fetches.retain(|(_, parked)| (parked.partition, parked.follower) != (partition, follower));
        fetch.seen = self.fetch_view(partition).expect("a served fetch names a hosted partition");
        assert!(fetch.seen.leader_epoch == Some(fetch.leader_epoch), "only the leader at the fetch's epoch parks it");
        self.volatile.next_request_id += 1;
        let park_id = self.volatile.next_request_id;
        self.volatile.parked_fetches.push((park_id, fetch));
        ctx.shared.count("broker:fetch-parked");
        ctx.set_timer(self.settings.fetch_wait_ns, timer_tag(TIMER_DELAYED_FETCH, park_id));
    }

    /// What a parked fetch of `partition` waits to change, if this broker hosts it.
    fn fetch_view(&self, partition: PartitionId) -> Option<FetchView> {
        let replica = self.volatile.replicas.get(&partition)?;
        let durable = self.durable.replicas.get(&partition)?;
        Some(FetchView {
            leader_epoch: replica.is_leader().then_some(replica.leader_epoch),
            log_end: durable.log.end_offset(),
            high_watermark: replica.high_watermark,
            log_start: durable.log.start_offset(),
        })
    }

    /// Kafka's `DelayedFetch.tryComplete`, run after every event this broker handles (Kafka runs it after
    /// appends, HW moves and leader changes): answers each parked fetch whose partition changed, in park-id
    /// order. Answering one records its follower's progress, which may move the HW and so complete others: it
    /// runs until none is left to answer. Only partitions the replica maps lent out for change since the last
    /// check can have moved, so only their parked fetches are re-read.
    ///
    /// Most events leave nothing to check (no fetch parked, or no partition lent out), so that test is inlined
    /// into the event handlers and the scan, with its larger frame, is entered only when it can find something.
    #[inline]
    fn try_complete_parked_fetches(&mut self, ctx: &mut Ctx<'_>) {
        if !self.volatile.parked_fetches.is_empty() && self.partitions_changed() {
            self.complete_changed_parked_fetches(ctx);
        }
        self.volatile.replicas.forget_changes();
        self.durable.replicas.forget_changes();
        #[cfg(debug_assertions)]
        self.assert_parked_fetches_see_their_partitions();
    }

    /// The scan of [`Broker::try_complete_parked_fetches`], once some partition changed with fetches parked.
    #[inline(never)]
    fn complete_changed_parked_fetches(&mut self, ctx: &mut Ctx<'_>) {
        while !self.volatile.parked_fetches.is_empty() && self.partitions_changed() {
            let changed = self.volatile.parked_fetches.iter().find(|(_, parked)| {
                self.partition_changed(parked.partition) && self.fetch_view(parked.partition) != Some(parked.seen)
            });
            let Some(park_id) = changed.map(|(park_id, _)| *park_id) else { break };
            ctx.shared.count("broker:fetch-completed-early");
            self.answer_parked_fetch(ctx, park_id);
        }
    }

    /// True if some hosted partition may have changed since the last parked-fetch check.
    fn partitions_changed(&self) -> bool {
        self.volatile.replicas.has_changes() || self.durable.replicas.has_changes()
    }

    /// True if `partition` may have changed since the last parked-fetch check.
    fn partition_changed(&self, partition: PartitionId) -> bool {
        self.volatile.replicas.is_changed(&partition) || self.durable.replicas.is_changed(&partition)
    }

    /// The full scan the change tracking stands in for: after a check, every parked fetch still sees its
    /// partition as it was when parked. Debug builds (every `cargo test`) run it after every event; release
    /// builds skip it because it costs what the tracking saves.
    #[cfg(debug_assertions)]
    fn assert_parked_fetches_see_their_partitions(&self) {
        for (park_id, parked) in &self.volatile.parked_fetches {
            let view = self.fetch_view(parked.partition);
            assert!(view == Some(parked.seen), "parked fetch {park_id} missed a change of its partition: {view:?}");
        }
    }

    /// Kafka's `DelayedFetch.onComplete`: reads again and answers; a broker that lost the leadership answers
    /// the error the read gives (NOT_LEADER_OR_FOLLOWER, or FENCED_LEADER_EPOCH once it follows a newer epoch).
    fn answer_parked_fetch(&mut self, ctx: &mut Ctx<'_>, park_id: u64) {
        let Ok(index) = self.volatile.parked_fetches.binary_search_by_key(&park_id, |(id, _)| *id) else { return };
        let (_, parked) = self.volatile.parked_fetches.remove(index);
        let result = self.serve_follower(
            ctx,
            parked.partition,
            parked.follower,
            parked.offset,
            parked.last_fetched_epoch,
            parked.leader_epoch,
        );
        let msg = Msg::ReplicaFetchResponse { request_id: parked.request_id, partition: parked.partition, result };
        ctx.send(parked.follower_node, msg);
    }

    /// The log start offset of a partition this broker hosts.
    fn log_start_offset(&self, partition: PartitionId) -> Option<u64> {
        self.durable.replicas.get(&partition).map(|durable| durable.log.start_offset())
    }

    fn send_follower_fetch(&mut self, ctx: &mut Ctx<'_>, partition: PartitionId) {
        let Some(replica) = self.volatile.replicas.get(&partition) else { return };
        let Role::Follower { leader } = replica.role else {
            self.volatile.fetches.remove(&partition);
            return;
        };
        let durable = &self.durable.replicas[&partition];
        self.volatile.next_request_id += 1;
        let request_id = self.volatile.next_request_id;
        self.volatile.fetches.insert(partition, (request_id, ctx.now_ns()));
        let msg = Msg::ReplicaFetchRequest {
            request_id,
            partition,
            replica: self.settings.broker_index,
            offset: durable.log.end_offset(),
            last_fetched_epoch: durable.log.last_epoch(),
            leader_epoch: replica.leader_epoch,
        };
        ctx.send(NodeId(leader), msg);
    }

    fn on_follower_fetched(
        &mut self,
        ctx: &mut Ctx<'_>,
        request_id: u64,
        partition: PartitionId,
        result: Result<ReplicaFetchData, ErrorCode>,
    ) {
        if self.volatile.fetches.get(&partition).map(|(id, _)| *id) != Some(request_id) {
            return;
        }
        self.volatile.fetches.remove(&partition);
        // After an error the periodic timer retries (Kafka's `replica.fetch.backoff.ms`).
        let Ok(data) = result else { return };
        if data.diverging.is_some() {
            ctx.shared.count("broker:follower-truncated");
        }
        let replica = self.volatile.replicas.get_mut(&partition).expect("fetching replicas exist");
        let durable = self.durable.replicas.get_mut(&partition).expect("hosted");
        replica.advance_clock(ctx.now_ns());
        replica.on_fetch_data(durable, &self.settings.replication, data);
        // The leader holds a fetch that finds nothing new, so the follower always fetches again at once, as
        // Kafka's `ReplicaFetcherThread` loop does.
        self.send_follower_fetch(ctx, partition);
    }

    fn apply_image(&mut self, ctx: &mut Ctx<'_>, image: MetadataImage) {
        if self.volatile.image.as_ref().is_some_and(|current| current.version >= image.version) {
            return;
        }
        let mut replies = Vec::new();
        let mut new_leaders = Vec::new();
        for (partition, replica) in &mut self.volatile.replicas {
            let state = &image.partitions[partition.index()];
            let durable = &self.durable.replicas[partition];
            let was_leader = replica.is_leader();
            let followed = (followed_leader(&replica.role), replica.leader_epoch);
            let abandoned = replica.apply_metadata(durable, state, ctx.now_ns());
            replies.extend(abandoned.into_iter().map(|reply| (*partition, reply)));
            if replica.is_leader() && !was_leader {
                ctx.shared.count("broker:became-leader");
            }
            let following = (followed_leader(&replica.role), replica.leader_epoch);
            if following.0.is_some() && following != followed {
                new_leaders.push(*partition);
            }
        }
        self.volatile.image = Some(image);
        self.send_partition_replies(ctx, replies);
        // Kafka's `ReplicaFetcherManager.addFetcherForPartitions`: a follower of a new leader or epoch drops the
        // fetch it has parked at the old leader and fetches from the new one at once.
        for partition in new_leaders {
            self.volatile.fetches.remove(&partition);
            self.send_follower_fetch(ctx, partition);
        }
        self.sync_coordinators(ctx);
    }

    fn tick_isr(&mut self, ctx: &mut Ctx<'_>) {
        let mut replies = Vec::new();
        for (partition, replica) in &mut self.volatile.replicas {
            let completed = replica.complete_pending(Some(self.settings.replication.min_insync_replicas));
            replies.extend(completed.into_iter().map(|reply| (*partition, reply)));
            let Some(isr) = replica.wanted_isr(&self.settings.replication, ctx.now_ns()) else { continue };
            let Role::Leader(role) = &replica.role else { continue };
            let msg = Msg::AlterPartition {
                partition: *partition,
                broker: self.settings.broker_index,
                leader_epoch: replica.leader_epoch,
                partition_epoch: role.partition_epoch,
                isr: isr.clone(),
            };
            ctx.send(self.settings.controller, msg);
            replica.alter_sent(isr, ctx.now_ns());
        }
        self.send_partition_replies(ctx, replies);
    }

    fn send_partition_replies(&mut self, ctx: &mut Ctx<'_>, replies: Vec<(PartitionId, Reply)>) {
        for (partition, reply) in replies {
            self.send_replies(ctx, partition, vec![reply]);
        }
    }

    /// Answers the acks=all requests a replica completed; those this broker made itself (coordinator writes,
    /// markers) go to whoever waits for them here.
    fn send_replies(&mut self, ctx: &mut Ctx<'_>, partition: PartitionId, replies: Vec<Reply>) {
        if replies.is_empty() {
            return;
        }
        let me = NodeId(self.settings.broker_index);
        let log_start_offset = self.log_start_offset(partition);
        for (client, request_id, result) in replies {
            if client == me {
                self.on_internal_write_done(ctx, request_id, result.map(|_| ()));
                continue;
            }
            count_result(ctx, &result.map(|_| ()));
            ctx.send(client, Msg::ProduceResponse { request_id, result, log_start_offset });
        }
    }
}

/// The leader a follower copies from; None in any other role.
fn followed_leader(role: &Role) -> Option<u32> {
    match role {
        Role::Follower { leader } => Some(*leader),
        Role::Leader(_) | Role::None => None,
    }
}

fn count_result(ctx: &mut Ctx<'_>, result: &Result<(), ErrorCode>) {
    if let Err(error) = result {
        ctx.shared.count(error.counter());
    }
}
