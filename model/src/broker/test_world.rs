//! A small world for hand-built replication tests: node 0 is a real broker; every other node is a scripted
//! peer that plays whatever else the test needs (a follower, a leader, a producing client, the controller
//! handing out metadata). Peers log every message they get with its arrival time, and may answer follower
//! fetches by a fixed rule; the broker's node logs the timer tags that reached it.

use crate::broker::replica::ReplicationSettings;
use crate::broker::{Broker, BrokerSettings, TxnVerification};
use crate::coordinator::internal_topics::InternalTopics;
use crate::coordinator::txn::TxnCoordinatorSettings;
use crate::ctx::{Ctx, Shared};
use crate::protocol::{ErrorCode, MetadataImage, Msg, PartitionId, PartitionState, ReplicaFetchData, ReplicatedBatch};
use eosim_sim::{Actor, NodeId, NodeRole, World, WorldOptions};
use std::collections::BTreeMap;

/// A millisecond in nanoseconds.
pub const MS: u64 = 1_000_000;
/// The real broker's node.
pub const BROKER: NodeId = NodeId(0);
/// `replica.fetch.wait.max.ms` of the broker under test.
pub const FETCH_WAIT_NS: u64 = 500 * MS;
/// The broker's request timeout, after which it gives a follower fetch up.
pub const REQUEST_TIMEOUT_NS: u64 = 200 * MS;
/// Timer tags at or above this answer a held fetch; below it they index the script.
const REPLY_TAG: u64 = 1 << 32;

/// How a peer answers the follower fetches it gets, as a leader would.
#[derive(Clone, Debug, Default)]
pub struct FetchReplies {
    /// How long the peer holds a fetch before answering it.
    pub delay_ns: u64,
    /// Requests left unanswered, as if lost, before answering any.
    pub drop_first: usize,
    /// Partitions answered with an error.
    pub errors: BTreeMap<PartitionId, ErrorCode>,
    /// Batches sent for a partition the first time it is fetched from offset 0.
    pub batches: BTreeMap<PartitionId, Vec<ReplicatedBatch>>,
}

/// A scripted node.
#[derive(Debug, Default)]
pub struct Peer {
    /// What the peer sends the broker, and when.
    pub script: Vec<(u64, Msg)>,
    /// Answers to follower fetches, if this peer plays a leader.
    pub replies: Option<FetchReplies>,
    /// (arrival time, message) of everything the peer got.
    pub received: Vec<(u64, Msg)>,
    /// Answers waiting for their timer.
    pub held: Vec<Msg>,
}

impl Peer {
    /// The answer this peer's rule gives a follower fetch, if it answers it.
    fn reply_to(&mut self, msg: &Msg) -> Option<Msg> {
        let Msg::ReplicaFetchRequest { request_id, partitions, .. } = msg else { return None };
        let replies = self.replies.as_mut()?;
        if replies.drop_first > 0 {
            replies.drop_first -= 1;
            return None;
        }
        let results = (partitions.iter())
            .map(|asked| {
                let result = match replies.errors.get(&asked.partition) {
                    Some(error) => Err(*error),
                    None => {
                        let batches = if asked.offset == 0 {
                            replies.batches.get(&asked.partition).cloned().unwrap_or_default()
                        } else {
                            Vec::new()
                        };
                        let high_watermark = batches.iter().map(|b| b.base_offset + 1).max().unwrap_or(asked.offset);
                        Ok(ReplicaFetchData { batches, high_watermark, diverging: None, log_start_offset: 0 })
                    }
                };
                (asked.partition, result)
            })
            .collect();
        Some(Msg::ReplicaFetchResponse { request_id: *request_id, partitions: results })
    }
}

/// A node of the test world.
#[derive(Debug)]
pub enum TestNode {
    /// The broker under test and the timer tags that reached it.
    Broker(Box<Broker>, Vec<u64>),
    /// A scripted node.
    Peer(Peer),
}

impl Actor for TestNode {
    type Msg = Msg;
    type Shared = Shared;

    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        match self {
            TestNode::Broker(broker, _) => broker.on_start(ctx),
            TestNode::Peer(peer) => {
                for (index, (at_ns, _)) in peer.script.iter().enumerate() {
                    ctx.set_timer(*at_ns, index as u64);
                }
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, source: NodeId, msg: Msg) {
        match self {
            TestNode::Broker(broker, _) => broker.on_message(ctx, source, msg),
            TestNode::Peer(peer) => {
                if let Some(reply) = peer.reply_to(&msg) {
                    let delay_ns = peer.replies.as_ref().map_or(0, |replies| replies.delay_ns);
                    ctx.set_timer(delay_ns, REPLY_TAG + peer.held.len() as u64);
                    peer.held.push(reply);
                }
                peer.received.push((ctx.now_ns(), msg));
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) {
        match self {
            TestNode::Broker(broker, tags) => {
                tags.push(tag);
                broker.on_timer(ctx, tag);
            }
            TestNode::Peer(peer) if tag >= REPLY_TAG => ctx.send(BROKER, peer.held[(tag - REPLY_TAG) as usize].clone()),
            TestNode::Peer(peer) => ctx.send(BROKER, peer.script[tag as usize].1.clone()),
        }
    }

    fn on_crash(&mut self, _ctx: &mut Ctx<'_>) {
        unreachable!("nothing crashes here");
    }

    fn on_restart(&mut self, _ctx: &mut Ctx<'_>) {
        unreachable!("nothing restarts here");
    }
}

/// Metadata version `version`: each partition led by its (leader, leader epoch), every broker a replica in
/// sync.
pub fn image(version: u64, brokers: u32, partitions: &[(u32, u32)]) -> MetadataImage {
    let replicas: Vec<u32> = (0..brokers).collect();
    let partitions = (partitions.iter())
        .map(|(leader, leader_epoch)| PartitionState {
            leader: Some(*leader),
            leader_epoch: *leader_epoch,
            isr: replicas.clone(),
            replicas: replicas.clone(),
            partition_epoch: 0,
        })
        .collect();
    MetadataImage { version, partitions }
}

/// Settings of broker 0 in a cluster of `brokers`, node 1 standing in for the controller.
pub fn settings(brokers: u32, partitions: u32) -> BrokerSettings {
    BrokerSettings {
        kafka_bugs: Vec::new(),
        broker_index: 0,
        broker_count: brokers,
        controller: NodeId(1),
        heartbeat_ns: 20 * MS,
        fetch_wait_ns: FETCH_WAIT_NS,
        request_timeout_ns: REQUEST_TIMEOUT_NS,
        replication: ReplicationSettings {
            min_insync_replicas: 1,
            replica_lag_ns: 10_000 * MS,
            flush_messages: 1,
            snapshot_interval_messages: 50,
            producer_id_expiration_ns: 86_400_000 * MS,
            retention_ns: 86_400_000 * MS,
            segment_messages: 1000,
            kip360_producer_state: true,
            kafka_bugs: Vec::new(),
        },
        internal: InternalTopics { first_partition: partitions, transaction_log_partitions: 0, offsets_partitions: 0 },
        txn: TxnCoordinatorSettings {
            epoch_bump_per_txn: false,
            transactional_id_expiration_ns: 86_400_000 * MS,
            marker_retry_ns: 30 * MS,
            load_ns_per_record: 0,
            producer_epoch_start: 0,
        },
        verification: TxnVerification::Off,
        coordinator_tick_ns: 10 * MS,
        producer_id_expiration_check_ns: 600_000 * MS,
        retention_check_ns: 300_000 * MS,
    }
}

/// A world of broker 0 (hosting every partition of `bootstrap`) and `peers` as nodes 1, 2, ….
pub fn world(bootstrap: MetadataImage, peers: Vec<Peer>) -> World<TestNode> {
    let brokers = 1 + peers.len() as u32;
    world_with(settings(brokers, bootstrap.partitions.len() as u32), bootstrap, peers)
}

/// [`world`] with broker 0 set up by `settings` (internal topics, transaction version).
pub fn world_with(settings: BrokerSettings, bootstrap: MetadataImage, peers: Vec<Peer>) -> World<TestNode> {
    let partition_count = bootstrap.partitions.len() as u32;
    let partitions: Vec<PartitionId> = (0..partition_count).map(PartitionId).collect();
    let broker = Broker::new(settings, &partitions, bootstrap);
    let mut nodes = vec![(TestNode::Broker(Box::new(broker), Vec::new()), NodeRole::Server)];
    nodes.extend(peers.into_iter().map(|peer| (TestNode::Peer(peer), NodeRole::Client)));
    let names = partitions.iter().map(|partition| format!("p{}", partition.0)).collect();
    World::new(WorldOptions { seed: 3, ..WorldOptions::default() }, nodes, Shared::new(names))
}

/// The peer at `node`.
pub fn peer(world: &World<TestNode>, node: NodeId) -> &Peer {
    let TestNode::Peer(peer) = world.actor(node) else { unreachable!("node {node:?} is a peer") };
    peer
}

/// The broker under test and the timer tags that reached it.
pub fn broker(world: &World<TestNode>) -> (&Broker, &[u64]) {
    let TestNode::Broker(broker, tags) = world.actor(BROKER) else { unreachable!("node 0 is the broker") };
    (broker, tags)
}
