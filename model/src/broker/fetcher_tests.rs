//! Hand-built tests of the follower's fetchers (Kafka's `ReplicaFetcherManager` and
//! `AbstractFetcherThread`).
//!
//! Node 0 is a real broker following partitions 0 and 1; nodes 1 and 2 are scripted peers playing their
//! leaders (brokers 1 and 2), answering each follower fetch by a fixed rule; node 1 also plays the controller.

use super::test_world::{broker, image, peer, world, FetchReplies, Peer, MS, REQUEST_TIMEOUT_NS};
use super::TIMER_FETCH_TIMEOUT;
use crate::ctx::timer_parts;
use crate::protocol::{ErrorCode, Msg, PartitionId, RecordBatch, ReplicaFetchPartition, ReplicatedBatch};
use eosim_sim::{NodeId, World};
use std::collections::BTreeMap;

const P0: PartitionId = PartitionId(0);
const P1: PartitionId = PartitionId(1);

/// The follower fetches a peer got: (arrival time, partitions asked).
fn fetches(world: &World<super::test_world::TestNode>, node: u32) -> Vec<(u64, Vec<ReplicaFetchPartition>)> {
    (peer(world, NodeId(node)).received.iter())
        .filter_map(|(at_ns, msg)| match msg {
            Msg::ReplicaFetchRequest { replica: 0, partitions, .. } => Some((*at_ns, partitions.clone())),
            _ => None,
        })
        .collect()
}

/// The partitions a fetch asks for.
fn asked(partitions: &[ReplicaFetchPartition]) -> Vec<PartitionId> {
    partitions.iter().map(|fetch| fetch.partition).collect()
}

/// A leader that holds each fetch `delay_ns` and answers it empty, or as `rule` adjusts.
fn leader(delay_ns: u64, rule: impl FnOnce(&mut FetchReplies)) -> Peer {
    let mut replies = FetchReplies { delay_ns, ..FetchReplies::default() };
    rule(&mut replies);
    Peer { replies: Some(replies), ..Peer::default() }
}

/// Both partitions led by broker 1 at epoch 0.
fn led_by_broker_1() -> crate::protocol::MetadataImage {
    image(1, 3, &[(1, 0), (1, 0)])
}

#[test]
fn one_request_carries_every_partition_of_one_leader() {
    let mut world = world(led_by_broker_1(), vec![leader(5 * MS, |_| {}), Peer::default()]);
    world.run_until(200 * MS);
    let sent = fetches(&world, 1);
    assert!(sent.len() > 5, "the fetcher loops: {} fetches", sent.len());
    assert!(sent.iter().all(|(_, partitions)| asked(partitions) == vec![P0, P1]), "{sent:?}");
    assert!(fetches(&world, 2).is_empty(), "broker 2 leads nothing");
    let (_, tags) = broker(&world);
    let timeouts = tags.iter().filter(|tag| timer_parts(**tag).0 == TIMER_FETCH_TIMEOUT).count();
    assert_eq!(timeouts, 0, "every answered request's timeout timer was cancelled");
}

#[test]
fn an_answer_for_a_partition_that_moved_to_another_leader_is_ignored() {
    // Broker 1 holds the first fetch 100 ms and answers it with a batch of partition 1; at 20 ms the
    // controller moves partition 1 to broker 2 at epoch 1. The follower fetches it from broker 2 at once
    // (that fetcher is idle), and drops broker 1's late data for it.
    let batch = ReplicatedBatch {
        base_offset: 0,
        leader_epoch: 0,
        batch: RecordBatch::data(None, false, vec![5]),
        append_time_ns: 0,
    };
    let mut broker_1 = leader(100 * MS, |replies| {
        replies.batches = BTreeMap::from([(P1, vec![batch])]);
    });
    broker_1.script = vec![(20 * MS, Msg::BrokerHeartbeatResponse { image: Some(image(2, 3, &[(1, 0), (2, 1)])) })];
    let mut world = world(led_by_broker_1(), vec![broker_1, leader(50 * MS, |_| {})]);
    world.run_until(400 * MS);
    let to_broker_2 = fetches(&world, 2);
    assert!(to_broker_2[0].0 < 40 * MS, "fetched from the new leader at once, at {}", to_broker_2[0].0);
    assert_eq!(asked(&to_broker_2[0].1), vec![P1]);
    assert_eq!(to_broker_2[0].1[0].leader_epoch, 1);
    let later_to_broker_1 = fetches(&world, 1).into_iter().skip(1).collect::<Vec<_>>();
    assert!(later_to_broker_1.iter().all(|(_, partitions)| asked(partitions) == vec![P0]), "{later_to_broker_1:?}");
    let (broker, _) = broker(&world);
    assert_eq!(broker.durable().replicas[&P1].log.end_offset(), 0, "the old leader's data was not applied");
    assert_eq!(world.shared().counter("broker:follower-fetch-result-ignored"), 1);
}

#[test]
fn a_lost_fetch_is_given_up_after_the_request_timeout_and_retried_after_the_backoff() {
    // Broker 1 never sees the first fetch. Nothing is resent before the request timeout (no periodic poll);
    // then every partition waits the backoff (the shorter of fetch wait and request timeout) and is fetched.
    let mut world = world(led_by_broker_1(), vec![leader(5 * MS, |replies| replies.drop_first = 1), Peer::default()]);
    world.run_until(600 * MS);
    let sent = fetches(&world, 1);
    let backoff_ns = REQUEST_TIMEOUT_NS.min(super::test_world::FETCH_WAIT_NS);
    assert!(sent[0].0 < 10 * MS, "the first fetch went out at start, at {}", sent[0].0);
    let retry_ns = sent[1].0;
    assert!(retry_ns >= REQUEST_TIMEOUT_NS + backoff_ns, "retried after timeout and backoff, at {retry_ns}");
    assert!(retry_ns < REQUEST_TIMEOUT_NS + backoff_ns + 20 * MS, "retried once the backoff ended, at {retry_ns}");
    assert_eq!(asked(&sent[1].1), vec![P0, P1]);
    assert_eq!(world.shared().counter("broker:follower-fetch-timed-out"), 1);
    assert!(sent.len() > 10, "fetching resumed: {} fetches", sent.len());
}

#[test]
fn a_partition_error_delays_only_that_partition() {
    // Broker 1 answers partition 1 with NOT_LEADER_OR_FOLLOWER every time: partition 0 keeps being fetched
    // back to back, partition 1 only once per backoff.
    let mut world = world(
        led_by_broker_1(),
        vec![
            leader(5 * MS, |replies| replies.errors = BTreeMap::from([(P1, ErrorCode::NotLeaderOrFollower)])),
            Peer::default(),
        ],
    );
    world.run_until(500 * MS);
    let sent = fetches(&world, 1);
    let backoff_ns = REQUEST_TIMEOUT_NS.min(super::test_world::FETCH_WAIT_NS);
    assert!(sent.iter().all(|(_, partitions)| asked(partitions).contains(&P0)), "partition 0 is never delayed");
    let with_p1: Vec<u64> = sent.iter().filter(|(_, p)| asked(p).contains(&P1)).map(|(at_ns, _)| *at_ns).collect();
    assert!(with_p1.len() >= 2, "partition 1 retried after its backoff: {with_p1:?}");
    assert!(with_p1.windows(2).all(|pair| pair[1] - pair[0] >= backoff_ns), "{with_p1:?}");
    assert!(sent.len() > 4 * with_p1.len(), "{} fetches, {} with partition 1", sent.len(), with_p1.len());
}

#[test]
fn a_fenced_partition_waits_for_the_metadata_with_the_new_epoch() {
    // Broker 1 answers partition 1 with FENCED_LEADER_EPOCH: the follower stops fetching it until the
    // controller's newer image (at 300 ms) gives it epoch 1, then fetches it at that epoch.
    let mut broker_1 = leader(5 * MS, |replies| replies.errors = BTreeMap::from([(P1, ErrorCode::FencedLeaderEpoch)]));
    broker_1.script = vec![(300 * MS, Msg::BrokerHeartbeatResponse { image: Some(image(2, 3, &[(1, 0), (1, 1)])) })];
    let mut world = world(led_by_broker_1(), vec![broker_1, Peer::default()]);
    world.run_until(500 * MS);
    let sent = fetches(&world, 1);
    let with_p1: Vec<(u64, u32)> = (sent.iter())
        .flat_map(|(at_ns, partitions)| {
            partitions.iter().filter(|p| p.partition == P1).map(|p| (*at_ns, p.leader_epoch))
        })
        .collect();
    assert_eq!(with_p1[0].1, 0);
    assert!(with_p1[1].0 >= 300 * MS, "not fetched before the new metadata: {with_p1:?}");
    assert_eq!(with_p1[1].1, 1, "fetched at the new epoch");
}
