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
pub mod fetcher;
pub mod log;
pub mod partition_map;
pub mod producer_state;
pub mod replica;
#[cfg(test)]
mod test_world;

mod coordination;
#[cfg(test)]
mod delayed_fetch_tests;
mod fetch_purgatory;
#[cfg(test)]
mod fetcher_tests;
mod follower;

use crate::broker::replica::{Produced, Replica, ReplicaDurable, ReplicationSettings, Reply, Role};
use crate::coordinator::group::GroupCoordinator;
use crate::coordinator::internal_topics::InternalTopics;
use crate::coordinator::loading::CoordinatorLoads;
use crate::coordinator::marker_channel::TxnMarkerChannel;
use crate::coordinator::txn::{TxnCoordinator, TxnCoordinatorSettings};
use crate::ctx::{timer_parts, timer_tag, Ctx, REQUEST_ID_BITS};
use crate::protocol::{ErrorCode, MetadataImage, Msg, PartitionId, RecordBatch};
use crate::scenario::Acks;
use coordination::{InternalWrite, Verification};
use eosim_sim::NodeId;
use fetch_purgatory::ParkedFetch;
use fetcher::ReplicaFetchers;
use partition_map::PartitionMap;
use std::collections::BTreeMap;

const TIMER_HEARTBEAT: u16 = 1;
const TIMER_ISR_CHECK: u16 = 2;
const TIMER_FETCH_TIMEOUT: u16 = 3;
const TIMER_COORDINATOR: u16 = 4;
const TIMER_PRODUCER_EXPIRATION: u16 = 5;
const TIMER_RETENTION: u16 = 6;
const TIMER_DELAYED_FETCH: u16 = 7;
const TIMER_FETCH_BACKOFF: u16 = 8;

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
    /// How long a follower waits for a fetch response before giving the request up.
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

#[derive(Clone, Debug)]
struct Volatile {
    image: Option<MetadataImage>,
    replicas: PartitionMap<Replica>,
    /// The follower's fetchers, one per source broker (Kafka's `ReplicaFetcherManager`).
    fetchers: ReplicaFetchers,
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
    /// Fresh state of incarnation `incarnation`, whose request ids no earlier incarnation used, so an answer
    /// to a request sent before a restart never matches one sent after it.
    fn new(settings: &BrokerSettings, incarnation: u64) -> Volatile {
        Volatile {
            image: None,
            replicas: PartitionMap::new(),
            fetchers: ReplicaFetchers::default(),
            parked_fetches: Vec::new(),
            next_request_id: incarnation << REQUEST_ID_BITS,
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
        let volatile = Volatile::new(&settings, 0);
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
        self.volatile = Volatile::new(&self.settings, self.durable.incarnation + 1);
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
        if self.durable.replicas.keys().any(|partition| partition.0 >= self.settings.internal.first_partition) {
            ctx.set_timer(self.settings.coordinator_tick_ns, timer_tag(TIMER_COORDINATOR, 0));
        }
        ctx.set_timer(self.settings.producer_id_expiration_check_ns, timer_tag(TIMER_PRODUCER_EXPIRATION, 0));
        ctx.set_timer(self.settings.retention_check_ns, timer_tag(TIMER_RETENTION, 0));
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
            TIMER_FETCH_TIMEOUT => self.on_replica_fetch_timeout(ctx, payload),
            TIMER_FETCH_BACKOFF => self.on_replica_fetch_backoff(ctx, payload as u32),
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
                self.on_init_transactional(ctx, source, request_id, *init);
            }
            Msg::TxnRequest { request_id, transactional_id, producer_id, epoch, op } => {
                self.on_txn_request(ctx, source, request_id, &transactional_id, producer_id, epoch, *op);
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
                    self.verify(ctx, source, request_id, partition, acks, *batch, transactional_id);
                } else {
                    self.produce(ctx, source, request_id, partition, acks, *batch);
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
                ctx.send(source, Msg::FetchResponse { request_id, result: result.map(Box::new), log_start_offset });
            }
            Msg::ReplicaFetchRequest { request_id, replica, partitions } => {
                self.on_replica_fetch(ctx, source, request_id, replica, partitions);
            }
            Msg::ReplicaFetchResponse { request_id, partitions } => {
                self.on_replica_fetched(ctx, source, request_id, partitions);
            }
            Msg::BrokerHeartbeatResponse { image: Some(image) } => self.apply_image(ctx, image),
            Msg::BrokerHeartbeatResponse { image: None } => {}
            Msg::AlterPartitionResponse { partition, result } => {
                if let (Some(replica), Some(durable)) =
                    (self.volatile.replicas.get_mut(&partition), self.durable.replicas.get(&partition))
                {
                    let replies = replica.on_alter_response(durable, result.map(|state| *state));
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

    /// The log start offset of a partition this broker hosts.
    fn log_start_offset(&self, partition: PartitionId) -> Option<u64> {
        self.durable.replicas.get(&partition).map(|durable| durable.log.start_offset())
    }

    fn apply_image(&mut self, ctx: &mut Ctx<'_>, image: MetadataImage) {
        if self.volatile.image.as_ref().is_some_and(|current| current.version >= image.version) {
            return;
        }
        let mut replies = Vec::new();
        let mut moved = Vec::new();
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
            if following != followed {
                moved.push(*partition);
            }
        }
        self.volatile.image = Some(image);
        self.send_partition_replies(ctx, replies);
        // Kafka's `ReplicaFetcherManager.addFetcherForPartitions`: a follower of a new leader or epoch leaves
        // the fetcher it was in (an answer for it there is ignored) and joins the new leader's, fetched from at
        // once if that fetcher has nothing in flight.
        let mut woken = std::collections::BTreeSet::new();
        for partition in moved {
            woken.extend(self.move_partition_fetch(partition).into_iter().flatten());
        }
        for leader in woken {
            self.fetch_from(ctx, leader);
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
