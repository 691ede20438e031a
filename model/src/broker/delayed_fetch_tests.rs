//! Hand-built tests of the leader's fetch purgatory (Kafka's `DelayedFetch`).
//!
//! A two-node world: node 0 is a real broker leading partition 0 (replicas 0 and 1); node 1 is a scripted
//! peer that plays the follower (broker 1), a client that produces, and the controller that hands out
//! metadata. The peer logs every fetch answer with the time it arrived.

use crate::broker::replica::ReplicationSettings;
use crate::broker::{Broker, BrokerSettings, TxnVerification};
use crate::coordinator::internal_topics::InternalTopics;
use crate::coordinator::txn::TxnCoordinatorSettings;
use crate::ctx::{Ctx, Shared};
use crate::protocol::{ErrorCode, MetadataImage, Msg, PartitionId, PartitionState, RecordBatch, ReplicaFetchData};
use crate::scenario::Acks;
use eosim_sim::{Actor, NodeId, NodeRole, World, WorldOptions};

const MS: u64 = 1_000_000;
const LEADER: NodeId = NodeId(0);
const PEER: NodeId = NodeId(1);
const FETCH_WAIT_NS: u64 = 500 * MS;

/// What the peer does at a given time.
#[derive(Clone, Debug)]
enum Action {
    /// A follower fetch from `offset`.
    Fetch { request_id: u64, offset: u64 },
    /// A plain produce of one value, acks=1.
    Produce(i64),
    /// New metadata, as the controller's heartbeat answer.
    Image(MetadataImage),
}

#[derive(Debug)]
struct Peer {
    script: Vec<(u64, Action)>,
    /// (arrival time, request id, answer) of every fetch answer.
    answers: Vec<(u64, u64, Result<ReplicaFetchData, ErrorCode>)>,
}

impl Peer {
    fn act(&mut self, ctx: &mut Ctx<'_>, index: usize) {
        let msg = match self.script[index].1.clone() {
            Action::Fetch { request_id, offset } => Msg::ReplicaFetchRequest {
                request_id,
                partition: PartitionId(0),
                replica: 1,
                offset,
                last_fetched_epoch: None,
                leader_epoch: 0,
            },
            Action::Produce(value) => Msg::ProduceRequest {
                request_id: 1000 + index as u64,
                partition: PartitionId(0),
                acks: Acks::Leader,
                batch: RecordBatch::data(None, false, vec![value]),
                transactional_id: None,
            },
            Action::Image(image) => Msg::BrokerHeartbeatResponse { image: Some(image) },
        };
        ctx.send(LEADER, msg);
    }
}

#[derive(Debug)]
enum TestNode {
    Broker(Box<Broker>),
    Peer(Peer),
}

impl Actor for TestNode {
    type Msg = Msg;
    type Shared = Shared;

    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        match self {
            TestNode::Broker(broker) => broker.on_start(ctx),
            TestNode::Peer(peer) => {
                for (index, (at_ns, _)) in peer.script.iter().enumerate() {
                    ctx.set_timer(*at_ns, index as u64);
                }
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, source: NodeId, msg: Msg) {
        match self {
            TestNode::Broker(broker) => broker.on_message(ctx, source, msg),
            TestNode::Peer(peer) => {
                if let Msg::ReplicaFetchResponse { request_id, result, .. } = msg {
                    peer.answers.push((ctx.now_ns(), request_id, result));
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) {
        match self {
            TestNode::Broker(broker) => broker.on_timer(ctx, tag),
            TestNode::Peer(peer) => peer.act(ctx, tag as usize),
        }
    }

    fn on_crash(&mut self, _ctx: &mut Ctx<'_>) {
        unreachable!("nothing crashes here");
    }

    fn on_restart(&mut self, _ctx: &mut Ctx<'_>) {
        unreachable!("nothing restarts here");
    }
}

/// Partition 0 led by `leader` at `leader_epoch`, both brokers in sync.
fn image(version: u64, leader: u32, leader_epoch: u32) -> MetadataImage {
    let state = PartitionState {
        leader: Some(leader),
        leader_epoch,
        isr: vec![0, 1],
        replicas: vec![0, 1],
        partition_epoch: 0,
    };
    MetadataImage { version, partitions: vec![state] }
}

fn settings() -> BrokerSettings {
    BrokerSettings {
        kafka_bugs: Vec::new(),
        broker_index: 0,
        broker_count: 2,
        controller: PEER,
        heartbeat_ns: 20 * MS,
        fetch_wait_ns: FETCH_WAIT_NS,
        request_timeout_ns: 30_000 * MS,
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
        internal: InternalTopics { first_partition: 1, transaction_log_partitions: 0, offsets_partitions: 0 },
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

/// Runs the script for a second and returns the fetch answers the peer got.
fn run(script: Vec<(u64, Action)>) -> Vec<(u64, u64, Result<ReplicaFetchData, ErrorCode>)> {
    let broker = Broker::new(settings(), &[PartitionId(0)], image(1, 0, 0));
    let peer = Peer { script, answers: Vec::new() };
    let nodes = vec![(TestNode::Broker(Box::new(broker)), NodeRole::Server), (TestNode::Peer(peer), NodeRole::Client)];
    let mut world =
        World::new(WorldOptions { seed: 3, ..WorldOptions::default() }, nodes, Shared::new(vec!["p0".into()]));
    world.run_until(1_000 * MS);
    let TestNode::Peer(peer) = world.actor(PEER) else { unreachable!("node 1 is the peer") };
    peer.answers.clone()
}

/// The answer to `request_id` and when it came.
fn answer_to(
    answers: &[(u64, u64, Result<ReplicaFetchData, ErrorCode>)],
    request_id: u64,
) -> (u64, Result<ReplicaFetchData, ErrorCode>) {
    let answers: Vec<_> = answers.iter().filter(|(_, id, _)| *id == request_id).collect();
    assert_eq!(answers.len(), 1, "one answer per fetch: {answers:?}");
    (answers[0].0, answers[0].2.clone())
}

#[test]
fn delayed_fetch_completes_when_new_data_is_appended() {
    // An empty log: the fetch at 10 ms finds nothing and is parked; the append at 100 ms answers it with the
    // batch, long before the 500 ms wait runs out. A fetch that finds data is answered at once.
    let script = vec![
        (10 * MS, Action::Fetch { request_id: 1, offset: 0 }),
        (100 * MS, Action::Produce(7)),
        (300 * MS, Action::Fetch { request_id: 2, offset: 0 }),
    ];
    let answers = run(script);
    let (at_ns, result) = answer_to(&answers, 1);
    assert!((100 * MS..150 * MS).contains(&at_ns), "answered right after the append, at {at_ns}");
    let batches = result.expect("the leader answers").batches;
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].batch.values, vec![7]);
    let (at_ns, result) = answer_to(&answers, 2);
    assert!(at_ns < 350 * MS, "data waiting: no parking, answered at {at_ns}");
    assert_eq!(result.expect("the leader answers").batches.len(), 1);
}

#[test]
fn delayed_fetch_expires_after_the_fetch_wait_with_nothing_new() {
    // Nothing is appended: the fetch is answered empty once `replica.fetch.wait.max.ms` has passed, not before.
    let answers = run(vec![(10 * MS, Action::Fetch { request_id: 1, offset: 0 })]);
    let (at_ns, result) = answer_to(&answers, 1);
    assert!(at_ns >= 10 * MS + FETCH_WAIT_NS, "held for the whole wait, answered at {at_ns}");
    assert!(at_ns < 10 * MS + FETCH_WAIT_NS + 50 * MS, "answered at expiry, at {at_ns}");
    let data = result.expect("an expired fetch is answered, not failed");
    assert!(data.batches.is_empty());
    assert!(data.diverging.is_none());
}

#[test]
fn delayed_fetch_on_leadership_loss_is_answered_not_leader_or_follower() {
    // The controller moves the leadership to broker 1 at 100 ms: the parked fetch is answered at once with
    // the error a read gives now (DelayedFetch's case A), not held until its wait runs out.
    let script = vec![(10 * MS, Action::Fetch { request_id: 1, offset: 0 }), (100 * MS, Action::Image(image(2, 1, 1)))];
    let answers = run(script);
    let (at_ns, result) = answer_to(&answers, 1);
    assert!((100 * MS..150 * MS).contains(&at_ns), "answered at the leader change, at {at_ns}");
    assert_eq!(result, Err(ErrorCode::NotLeaderOrFollower));
}
