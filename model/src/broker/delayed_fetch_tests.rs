//! Hand-built tests of the leader's fetch purgatory (Kafka's `ReplicaManager.fetchMessages` and
//! `DelayedFetch`).
//!
//! Node 0 is a real broker leading every partition (replicas 0 and 1); node 1 is a scripted peer that plays
//! the follower (broker 1), a client that produces, and the controller that hands out metadata.

use super::test_world::{broker, image, peer, settings, world, world_with, Peer, FETCH_WAIT_NS, MS};
use super::TIMER_DELAYED_FETCH;
use crate::coordinator::internal_topics::InternalTopics;
use crate::ctx::timer_parts;
use crate::protocol::{
    ErrorCode, Msg, PartitionId, RecordBatch, ReplicaFetchData, ReplicaFetchPartition, ReplicaFetchResult, TxnInit,
    TxnOp,
};
use crate::scenario::Acks;
use eosim_sim::NodeId;

const FOLLOWER: NodeId = NodeId(1);

/// A follower fetch of `partitions`, each from the given offset, at leader epoch 0.
fn fetch(request_id: u64, partitions: &[(u32, u64)]) -> Msg {
    fetch_by(1, request_id, partitions)
}

/// A fetch of `partitions` by follower broker `replica`, each from the given offset, at leader epoch 0.
fn fetch_by(replica: u32, request_id: u64, partitions: &[(u32, u64)]) -> Msg {
    let partitions = (partitions.iter())
        .map(|(partition, offset)| ReplicaFetchPartition {
            partition: PartitionId(*partition),
            offset: *offset,
            last_fetched_epoch: None,
            leader_epoch: 0,
        })
        .collect();
    Msg::ReplicaFetchRequest { request_id, replica, partitions }
}

/// A plain produce of one value to `partition`, acks=1.
fn produce(partition: u32, value: i64) -> Msg {
    Msg::ProduceRequest {
        request_id: 1000 + value as u64,
        partition: PartitionId(partition),
        acks: Acks::Leader,
        batch: Box::new(RecordBatch::data(None, false, vec![value])),
        transactional_id: None,
    }
}

type Answer = (u64, Vec<ReplicaFetchResult>);

/// Runs the script for a second against a broker leading `partitions` partitions at epoch 0; returns every
/// fetch answer the follower got, by request id, and the delayed-fetch timers that reached the broker.
fn run(partitions: usize, script: Vec<(u64, Msg)>) -> (Vec<(u64, Answer)>, usize) {
    let mut world = world(image(1, 2, &vec![(0, 0); partitions]), vec![Peer { script, ..Peer::default() }]);
    world.run_until(1_000 * MS);
    let answers = (peer(&world, FOLLOWER).received.iter())
        .filter_map(|(at_ns, msg)| match msg {
            Msg::ReplicaFetchResponse { request_id, partitions } => Some((*request_id, (*at_ns, partitions.clone()))),
            _ => None,
        })
        .collect();
    let (_, tags) = broker(&world);
    let delayed = tags.iter().filter(|tag| timer_parts(**tag).0 == TIMER_DELAYED_FETCH).count();
    (answers, delayed)
}

/// The one answer to `request_id`.
fn answer_to(answers: &[(u64, Answer)], request_id: u64) -> Answer {
    let answers: Vec<_> = answers.iter().filter(|(id, _)| *id == request_id).collect();
    assert_eq!(answers.len(), 1, "one answer per fetch: {answers:?}");
    answers[0].1.clone()
}

/// The data of `partition` in an answer.
fn data_of(answer: &Answer, partition: u32) -> ReplicaFetchData {
    let result = answer.1.iter().find(|(id, _)| *id == PartitionId(partition)).expect("every partition answered");
    result.1.clone().expect("the leader answers with data")
}

#[test]
fn delayed_fetch_completes_when_new_data_is_appended() {
    // An empty log: the fetch at 10 ms finds nothing and is parked; the append at 100 ms answers it with the
    // batch, long before the 500 ms wait runs out. A fetch that finds data is answered at once.
    let script = vec![(10 * MS, fetch(1, &[(0, 0)])), (100 * MS, produce(0, 7)), (300 * MS, fetch(2, &[(0, 0)]))];
    let (answers, delayed) = run(1, script);
    assert_eq!(delayed, 0, "answered early, so its wait timer was cancelled");
    let answer = answer_to(&answers, 1);
    assert!((100 * MS..150 * MS).contains(&answer.0), "answered right after the append, at {}", answer.0);
    let batches = data_of(&answer, 0).batches;
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].batch.values[..], [7]);
    let answer = answer_to(&answers, 2);
    assert!(answer.0 < 350 * MS, "data waiting: no parking, answered at {}", answer.0);
    assert_eq!(data_of(&answer, 0).batches.len(), 1);
}

#[test]
fn delayed_fetch_expires_after_the_fetch_wait_with_nothing_new() {
    // Nothing is appended: the fetch is answered empty once `replica.fetch.wait.max.ms` has passed, not before.
    let (answers, delayed) = run(1, vec![(10 * MS, fetch(1, &[(0, 0)]))]);
    let answer = answer_to(&answers, 1);
    assert!(answer.0 >= 10 * MS + FETCH_WAIT_NS, "held for the whole wait, answered at {}", answer.0);
    assert!(answer.0 < 10 * MS + FETCH_WAIT_NS + 50 * MS, "answered at expiry, at {}", answer.0);
    let data = data_of(&answer, 0);
    assert!(data.batches.is_empty());
    assert!(data.diverging.is_none());
    assert_eq!(delayed, 1, "the wait's timer answered it");
}

#[test]
fn delayed_fetch_on_leadership_loss_is_answered_not_leader_or_follower() {
    // The controller moves the leadership to broker 1 at 100 ms: the parked fetch is answered at once with
    // the error a read gives now (DelayedFetch's case A), not held until its wait runs out.
    let new_image = Msg::BrokerHeartbeatResponse { image: Some(image(2, 2, &[(1, 1)])) };
    let (answers, _) = run(1, vec![(10 * MS, fetch(1, &[(0, 0)])), (100 * MS, new_image)]);
    let answer = answer_to(&answers, 1);
    assert!((100 * MS..150 * MS).contains(&answer.0), "answered at the leader change, at {}", answer.0);
    assert_eq!(answer.1, vec![(PartitionId(0), Err(ErrorCode::NotLeaderOrFollower))]);
}

#[test]
fn a_fetch_of_several_partitions_is_answered_at_once_when_one_has_data() {
    // Partition 1 has a batch, partition 0 nothing: `fetchMessages` answers at once with both, partition 0
    // empty, and parks nothing.
    let script = vec![(10 * MS, produce(1, 7)), (50 * MS, fetch(1, &[(0, 0), (1, 0)]))];
    let (answers, delayed) = run(2, script);
    let answer = answer_to(&answers, 1);
    assert!(answer.0 < 100 * MS, "answered at once, at {}", answer.0);
    assert!(data_of(&answer, 0).batches.is_empty());
    assert_eq!(data_of(&answer, 1).batches.len(), 1);
    assert_eq!(delayed, 0, "nothing parked, so no wait timer");
}

#[test]
fn a_parked_fetch_of_several_partitions_completes_when_any_changes() {
    // Nothing in either partition: one DelayedFetch for the whole request. An append to partition 1 answers
    // it with that batch and partition 0 empty, in one response.
    let script = vec![(10 * MS, fetch(1, &[(0, 0), (1, 0)])), (100 * MS, produce(1, 9))];
    let (answers, delayed) = run(2, script);
    assert_eq!(delayed, 0, "answered early, so its wait timer was cancelled");
    let answer = answer_to(&answers, 1);
    assert!((100 * MS..150 * MS).contains(&answer.0), "answered right after the append, at {}", answer.0);
    assert!(data_of(&answer, 0).batches.is_empty());
    assert_eq!(data_of(&answer, 1).batches[0].batch.values[..], [9]);
}

#[test]
fn a_new_fetch_from_the_same_follower_replaces_the_parked_one_and_its_timer() {
    // The follower gave up on fetch 1 and sends fetch 2: only fetch 2 is held, and only its wait timer fires.
    let (answers, delayed) = run(1, vec![(10 * MS, fetch(1, &[(0, 0)])), (100 * MS, fetch(2, &[(0, 0)]))]);
    assert!(answers.iter().all(|(id, _)| *id == 2), "the replaced fetch is never answered: {answers:?}");
    let answer = answer_to(&answers, 2);
    assert!(answer.0 >= 100 * MS + FETCH_WAIT_NS, "held for the whole wait, answered at {}", answer.0);
    assert_eq!(delayed, 1, "the replaced fetch's timer was cancelled");
}

#[test]
fn a_new_high_watermark_does_not_complete_a_parked_fetch() {
    // Brokers 1 and 2 follow one partition. Broker 1 copies the batch at 20 ms and parks its next fetch at
    // 30 ms; the HW is still 0, since broker 2 has nothing. Broker 2's fetch at 100 ms moves the HW to 1.
    // A follower's DelayedFetch waits for the log end (`FetchIsolation.LOG_END`), not the HW: broker 1's fetch
    // stays parked for the whole wait and learns the new HW only from that late answer.
    let first = vec![(20 * MS, fetch_by(1, 1, &[(0, 0)])), (30 * MS, fetch_by(1, 2, &[(0, 1)]))];
    let second = vec![(10 * MS, produce(0, 7)), (100 * MS, fetch_by(2, 10, &[(0, 1)]))];
    let peers = vec![Peer { script: first, ..Peer::default() }, Peer { script: second, ..Peer::default() }];
    let mut world = world(image(1, 3, &[(0, 0)]), peers);
    world.run_until(1_000 * MS);
    let answers: Vec<(u64, Answer)> = (peer(&world, FOLLOWER).received.iter())
        .filter_map(|(at_ns, msg)| match msg {
            Msg::ReplicaFetchResponse { request_id, partitions } => Some((*request_id, (*at_ns, partitions.clone()))),
            _ => None,
        })
        .collect();
    let copied = answer_to(&answers, 1);
    assert_eq!(data_of(&copied, 0).batches.len(), 1);
    assert_eq!(data_of(&copied, 0).high_watermark, 0, "broker 2 has not fetched yet");
    let parked = answer_to(&answers, 2);
    assert!(parked.0 >= 30 * MS + FETCH_WAIT_NS, "held for the whole wait, answered at {}", parked.0);
    assert_eq!(data_of(&parked, 0).high_watermark, 1, "the late answer carries the new HW");
    assert!(data_of(&parked, 0).batches.is_empty());
}

#[test]
fn a_fetch_whose_read_appended_to_it_is_answered_at_once() {
    // Partition 0 is the transaction log, led by broker 0, its coordinator, under transaction version 2; the
    // peer is follower broker 1 and a transactional client. The id's first record (offset 0) and a blind abort's
    // PrepareAbort (offset 1) each wait for the follower. Fetch 3, at offset 2, is the one that replicates the
    // PrepareAbort: serving it completes that write, and the coordinator, with no marker to send, appends
    // CompleteAbort at offset 2 within the same read, after it found nothing there. Kafka parks the fetch with
    // `tryCompleteElseWatch`, whose first try finds the new record: the fetch is answered with it at once, not
    // after the 500 ms wait.
    let mut settings = settings(2, 0);
    settings.internal = InternalTopics { first_partition: 0, transaction_log_partitions: 1, offsets_partitions: 0 };
    settings.txn.epoch_bump_per_txn = true;
    let init = TxnInit { transactional_id: "t".into(), timeout_ns: 10_000 * MS, current: None };
    let end = TxnOp::EndTxn(false);
    let script = vec![
        (30 * MS, Msg::InitProducerIdRequest { request_id: 1, transactional: Some(Box::new(init)) }),
        (40 * MS, fetch(1, &[(0, 0)])),
        (50 * MS, fetch(2, &[(0, 1)])),
        (
            100 * MS,
            Msg::TxnRequest {
                request_id: 2,
                transactional_id: "t".into(),
                producer_id: 1,
                epoch: 0,
                op: Box::new(end),
            },
        ),
        (110 * MS, fetch(3, &[(0, 2)])),
    ];
    let mut world = world_with(settings, image(1, 2, &[(0, 0)]), vec![Peer { script, ..Peer::default() }]);
    world.run_until(1_000 * MS);
    let received = &peer(&world, FOLLOWER).received;
    let init_answer = received.iter().find_map(|(_, msg)| match msg {
        Msg::InitProducerIdResponse { request_id: 1, result } => Some(*result),
        _ => None,
    });
    assert_eq!(init_answer, Some(Ok((1, 0))), "the script's EndTxn names this producer id and epoch");
    let answers: Vec<(u64, Answer)> = (received.iter())
        .filter_map(|(at_ns, msg)| match msg {
            Msg::ReplicaFetchResponse { request_id, partitions } => Some((*request_id, (*at_ns, partitions.clone()))),
            _ => None,
        })
        .collect();
    let prepare = answer_to(&answers, 2);
    assert!((100 * MS..150 * MS).contains(&prepare.0), "the PrepareAbort answers fetch 2, at {}", prepare.0);
    assert_eq!(data_of(&prepare, 0).batches[0].base_offset, 1);
    let complete = answer_to(&answers, 3);
    assert!((110 * MS..160 * MS).contains(&complete.0), "answered at once, at {}", complete.0);
    let batches = data_of(&complete, 0).batches;
    assert_eq!(batches.len(), 1, "the CompleteAbort its own read appended: {batches:?}");
    assert_eq!(batches[0].base_offset, 2);
}
