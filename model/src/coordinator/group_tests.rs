//! Hand-built tests of the coordinator.
//!
//! One group, `pipeline`, on offsets partition 20, subscribed to partitions 0-2, members with a 100 ms
//! session. The harness plays the broker: every [`GroupEffect::Append`] is fed back through `on_append`
//! (replicated, unless a test fails it on purpose) and remembered, with the markers, as the log a new
//! coordinator would load; replies are collected for the test to compare with the sequence worked out in its
//! comments.

use super::*;
use crate::coordinator::txn_state::TxnState;
use crate::protocol::TxnLogEntry;
use eosim_sim::NodeId;

const MS: u64 = 1_000_000;
const LOG: PartitionId = PartitionId(20);
const GROUP: &str = "pipeline";
const P0: PartitionId = PartitionId(0);
const P1: PartitionId = PartitionId(1);
const P2: PartitionId = PartitionId(2);
const SUBSCRIPTION: [PartitionId; 3] = [P0, P1, P2];
const SESSION_NS: u64 = 100 * MS;

type Replies = Vec<(u64, Result<GroupReply, ErrorCode>)>;

/// The coordinator and the broker around it.
struct Harness {
    coordinator: GroupCoordinator,
    /// Records and markers replicated so far, in log order: what a coordinator that takes over loads.
    log: Vec<LoadedRecord>,
    coverage: Vec<String>,
}

fn waiter(request_id: u64) -> Waiter {
    Waiter { client: NodeId(7), request_id, init: false }
}

fn producer(producer_id: u64, epoch: u16) -> ProducerIdentity {
    ProducerIdentity { producer_id, epoch, base_sequence: 0 }
}

fn joined(generation: u32, assignment: &[PartitionId]) -> Result<GroupReply, ErrorCode> {
    Ok(GroupReply::Joined { generation, assignment: assignment.to_vec() })
}

fn offsets(offsets: &[(PartitionId, Option<u64>)]) -> Result<GroupReply, ErrorCode> {
    Ok(GroupReply::Offsets(offsets.to_vec()))
}

impl Harness {
    /// A coordinator of `LOG` loaded from an empty log.
    fn new() -> Harness {
        let mut coordinator = GroupCoordinator::new();
        coordinator.load(LOG, &[], 0);
        assert!(coordinator.coordinates(LOG));
        let mut harness = Harness { coordinator, log: Vec::new(), coverage: Vec::new() };
        harness.drain_coverage();
        assert!(harness.covered("group:loaded"));
        harness
    }

    fn drain_coverage(&mut self) {
        self.coverage.extend(self.coordinator.take_coverage().into_iter().map(Cow::into_owned));
    }

    /// Carries out `effects`, every append replicating.
    fn settle(&mut self, effects: Vec<GroupEffect>) -> Replies {
        let mut queue: std::collections::VecDeque<GroupEffect> = effects.into();
        let mut replies = Vec::new();
        while let Some(effect) = queue.pop_front() {
            match effect {
                GroupEffect::Append { log, producer, record, write } => {
                    assert_eq!(log, LOG);
                    self.log.push(LoadedRecord::Record { producer, record });
                    queue.extend(self.coordinator.on_append(LOG, write, Ok(())));
                }
                GroupEffect::Reply { waiter, result } => replies.push((waiter.request_id, result)),
            }
        }
        self.drain_coverage();
        replies
    }

    /// The one append `effects` ask for, not fed back yet; nothing else may be in them.
    fn hold(&mut self, effects: Vec<GroupEffect>) -> (Option<ProducerIdentity>, InternalRecord, GroupWrite) {
        self.drain_coverage();
        match <[GroupEffect; 1]>::try_from(effects) {
            Ok([GroupEffect::Append { log, producer, record, write }]) => {
                assert_eq!(log, LOG);
                (producer, record, write)
            }
            other => panic!("expected one append, got {other:?}"),
        }
    }

    /// The broker reports the held write replicated or failed with `result`.
    fn complete(
        &mut self,
        held: (Option<ProducerIdentity>, InternalRecord, GroupWrite),
        result: Result<(), ErrorCode>,
    ) -> Replies {
        let (producer, record, write) = held;
        if result.is_ok() {
            self.log.push(LoadedRecord::Record { producer, record });
        }
        let effects = self.coordinator.on_append(LOG, write, result);
        self.settle(effects)
    }

    fn join_effects(&mut self, member: &str, request_id: u64, now_ns: u64) -> Vec<GroupEffect> {
        self.coordinator.join(LOG, GROUP, member, SESSION_NS, &SUBSCRIPTION, waiter(request_id), now_ns)
    }

    fn join(&mut self, member: &str, request_id: u64, now_ns: u64) -> Replies {
        let effects = self.join_effects(member, request_id, now_ns);
        self.settle(effects)
    }

    fn heartbeat(&mut self, member: &str, generation: u32, request_id: u64, now_ns: u64) -> Replies {
        let effects = self.coordinator.heartbeat(LOG, GROUP, member, generation, waiter(request_id), now_ns);
        self.settle(effects)
    }

    fn fetch(&mut self, partitions: &[PartitionId], require_stable: bool, request_id: u64) -> Replies {
        let effects = self.coordinator.offset_fetch(LOG, GROUP, partitions, require_stable, waiter(request_id));
        self.settle(effects)
    }

    #[allow(clippy::too_many_arguments)]
    fn commit_effects(
        &mut self,
        producer_id: u64,
        epoch: u16,
        member: &str,
        generation: u32,
        offsets: &[(PartitionId, u64)],
        request_id: u64,
    ) -> Vec<GroupEffect> {
        let identity = producer(producer_id, epoch);
        self.coordinator.txn_offset_commit(LOG, GROUP, identity, member, generation, offsets, waiter(request_id))
    }

    /// A marker of `producer_id` lands on the offsets partition.
    fn marker(&mut self, producer_id: u64, marker: ControlMarker) {
        self.log.push(LoadedRecord::Marker { producer_id, marker });
        self.coordinator.on_marker(LOG, producer_id, marker);
        self.drain_coverage();
    }

    fn tick(&mut self, now_ns: u64) -> Replies {
        let effects = self.coordinator.tick(now_ns);
        self.settle(effects)
    }

    fn group(&self) -> &Group {
        self.coordinator.group(LOG, GROUP).expect("the group exists")
    }

    fn assignment(&self, member: &str) -> Vec<PartitionId> {
        self.group().members[member].assignment.clone()
    }

    fn covered(&self, name: &str) -> bool {
        self.coverage.iter().any(|covered| covered == name)
    }
}

/// Members `a` (joined at 0 ms) and `b` (at 2 ms) in generation 2: `a` owns P0 and P2, `b` owns P1.
fn two_members() -> Harness {
    let mut harness = Harness::new();
    assert_eq!(harness.join("a", 1, 0), vec![(1, joined(1, &SUBSCRIPTION))]);
    assert_eq!(harness.join("b", 2, 2 * MS), vec![(2, joined(2, &[P1]))]);
    assert_eq!(harness.join("a", 3, 3 * MS), vec![(3, joined(2, &[P0, P2]))]);
    harness
}

#[test]
fn two_members_join_and_share_the_subscription_round_robin() {
    let mut harness = Harness::new();
    // a joins: generation 1 with a owning everything is written, and nobody hears of it before it is durable.
    let effects = harness.join_effects("a", 1, 0);
    let held = harness.hold(effects);
    let members = vec![("a".to_string(), SESSION_NS, SUBSCRIPTION.to_vec())];
    assert_eq!(held.0, None, "a generation is not transactional");
    assert_eq!(held.1, InternalRecord::Group { group_id: GROUP.to_string(), generation: 1, members });
    assert_eq!(harness.group().generation, 0, "not before it is replicated");
    // While it is written, another join and a's heartbeat are told a rebalance is in progress.
    assert_eq!(harness.join("b", 2, MS), vec![(2, Err(ErrorCode::RebalanceInProgress))]);
    assert_eq!(harness.heartbeat("a", 0, 3, MS), vec![(3, Err(ErrorCode::RebalanceInProgress))]);
    assert!(!harness.group().members.contains_key("b"), "a refused join adds nobody");
    assert_eq!(harness.complete(held, Ok(())), vec![(1, joined(1, &SUBSCRIPTION))]);
    assert_eq!(harness.group().generation, 1);
    // b joins: generation 2 deals P0, P1, P2 to a, b, a (member ids in order).
    assert_eq!(harness.join("b", 4, 2 * MS), vec![(4, joined(2, &[P1]))]);
    assert_eq!((harness.assignment("a"), harness.assignment("b")), (vec![P0, P2], vec![P1]));
    // a learns of it on its next heartbeat and joins again: it is known, so no new generation.
    assert_eq!(harness.heartbeat("a", 1, 5, 3 * MS), vec![(5, Err(ErrorCode::RebalanceInProgress))]);
    let written_before = harness.log.len();
    assert_eq!(harness.join("a", 6, 3 * MS), vec![(6, joined(2, &[P0, P2]))]);
    assert_eq!(harness.log.len(), written_before);
    assert_eq!(harness.heartbeat("a", 2, 7, 4 * MS), vec![(7, Ok(GroupReply::Done))]);
    assert_eq!(harness.heartbeat("b", 2, 8, 4 * MS), vec![(8, Ok(GroupReply::Done))]);
    assert!(harness.covered("group:rebalance-completed") && harness.covered("group:heartbeat-rebalance"));
}

#[test]
fn a_generation_takes_effect_only_once_its_write_is_replicated() {
    let mut harness = Harness::new();
    let effects = harness.join_effects("a", 1, 0);
    let held = harness.hold(effects);
    // The write fails: the joiner hears NOT_COORDINATOR (retriable), generation 1 never happened.
    assert_eq!(harness.complete(held, Err(ErrorCode::NotEnoughReplicas)), vec![(1, Err(ErrorCode::NotCoordinator))]);
    assert_eq!(harness.group().generation, 0);
    assert!(harness.assignment("a").is_empty());
    assert!(harness.log.is_empty());
    // The tick writes the rebalance again, with the same generation number: 1 was never told to anyone.
    let effects = harness.coordinator.tick(MS);
    let held = harness.hold(effects);
    assert!(matches!(held.1, InternalRecord::Group { generation: 1, .. }), "{:?}", held.1);
    assert_eq!(harness.complete(held, Ok(())), Vec::new(), "nobody waits for a rebalance the tick began");
    assert_eq!((harness.group().generation, harness.assignment("a")), (1, SUBSCRIPTION.to_vec()));
    // a's retried join finds it in generation 1.
    assert_eq!(harness.join("a", 2, 2 * MS), vec![(2, joined(1, &SUBSCRIPTION))]);
    assert_eq!(harness.tick(3 * MS), Vec::new(), "nothing left to rebalance");
}

#[test]
fn a_join_after_its_generation_write_failed_rejoins_the_due_rebalance() {
    // c joins a group of a and b in generation 2; the write of generation 3 fails, so c is a member with no
    // assignment in the group's generation 2. Its retried join must not be answered `Joined(2, [])`: a member
    // holding that would heartbeat at generation 2 forever while another load could hand it a partition
    // (eos-tv2 --wide seed 2982 left partition 1 unowned so). It starts the rebalance that is due instead.
    let mut harness = two_members();
    let effects = harness.join_effects("c", 4, 4 * MS);
    let held = harness.hold(effects);
    assert_eq!(harness.complete(held, Err(ErrorCode::NotEnoughReplicas)), vec![(4, Err(ErrorCode::NotCoordinator))]);
    assert_eq!(harness.group().generation, 2);
    assert_eq!(harness.join("c", 5, 5 * MS), vec![(5, joined(3, &[P2]))]);
    assert!(harness.covered("group:rejoin-after-failed-generation"));
    assert_eq!((harness.assignment("a"), harness.assignment("b")), (vec![P0], vec![P1]));
}

#[test]
fn requests_from_strangers_and_to_other_coordinators_are_refused() {
    let mut harness = two_members();
    assert_eq!(harness.heartbeat("c", 2, 10, 4 * MS), vec![(10, Err(ErrorCode::UnknownMemberId))]);
    let effects = harness.coordinator.heartbeat(LOG, "other-group", "a", 2, waiter(11), 4 * MS);
    assert_eq!(harness.settle(effects), vec![(11, Err(ErrorCode::UnknownMemberId))]);
    // A broker that does not lead the offsets partition sends the client to look for the one that does.
    let effects = harness.coordinator.join(PartitionId(21), GROUP, "a", SESSION_NS, &SUBSCRIPTION, waiter(12), 0);
    assert_eq!(harness.settle(effects), vec![(12, Err(ErrorCode::NotCoordinator))]);
    harness.coordinator.unload(LOG);
    let effects = harness.coordinator.heartbeat(LOG, GROUP, "a", 2, waiter(13), 5 * MS);
    assert_eq!(harness.settle(effects), vec![(13, Err(ErrorCode::NotCoordinator))]);
}

#[test]
fn a_member_silent_past_its_session_leaves_and_the_group_rebalances() {
    let mut harness = two_members();
    // a heartbeats at 60 ms; b has been silent since it joined at 2 ms.
    assert_eq!(harness.heartbeat("a", 2, 10, 60 * MS), vec![(10, Ok(GroupReply::Done))]);
    assert_eq!(harness.tick(101 * MS), Vec::new());
    assert_eq!(harness.group().generation, 2, "b is silent 99 ms: still in");
    // At 102 ms b is silent 100 ms: out, and generation 3 gives a everything (nobody is waiting for it).
    assert_eq!(harness.tick(102 * MS), Vec::new());
    assert!(harness.covered("group:member-expired"));
    assert_eq!(harness.group().generation, 3);
    assert_eq!(harness.group().members.keys().collect::<Vec<_>>(), vec!["a"]);
    assert_eq!(harness.assignment("a"), SUBSCRIPTION.to_vec());
    // a is sent to rejoin; b, back from a pause, is a stranger.
    assert_eq!(harness.heartbeat("a", 2, 11, 103 * MS), vec![(11, Err(ErrorCode::RebalanceInProgress))]);
    assert_eq!(harness.join("a", 12, 103 * MS), vec![(12, joined(3, &SUBSCRIPTION))]);
    assert_eq!(harness.heartbeat("b", 2, 13, 104 * MS), vec![(13, Err(ErrorCode::UnknownMemberId))]);
}

#[test]
fn txn_offset_commit_is_fenced_by_member_and_generation() {
    let mut harness = two_members();
    // KIP-447: a zombie of generation 1 may not commit for partitions generation 2 gave away.
    let effects = harness.commit_effects(1000, 0, "a", 1, &[(P0, 5)], 10);
    assert_eq!(harness.settle(effects), vec![(10, Err(ErrorCode::IllegalGeneration))]);
    assert!(harness.covered("group:fenced-stale-generation"));
    let effects = harness.commit_effects(1000, 0, "z", 2, &[(P0, 5)], 11);
    assert_eq!(harness.settle(effects), vec![(11, Err(ErrorCode::UnknownMemberId))]);
    assert!(harness.covered("group:fenced-unknown-member"));
    // While generation 3 is written, generation 2 is already on its way out.
    let effects = harness.join_effects("c", 12, 5 * MS);
    let rebalance = harness.hold(effects);
    let effects = harness.commit_effects(1000, 0, "a", 2, &[(P0, 5)], 13);
    assert_eq!(harness.settle(effects), vec![(13, Err(ErrorCode::IllegalGeneration))]);
    assert_eq!(harness.complete(rebalance, Ok(())), vec![(12, joined(3, &[P2]))]);
    // The current generation: the offsets become the producer's transactional record, pending only once
    // that record is replicated.
    let effects = harness.commit_effects(1000, 0, "a", 3, &[(P0, 5)], 14);
    let held = harness.hold(effects);
    assert_eq!(held.0, Some(producer(1000, 0)));
    assert_eq!(held.1, InternalRecord::Offsets { group_id: GROUP.to_string(), offsets: vec![(P0, 5)] });
    assert!(harness.group().pending_txn.is_empty(), "not before it is replicated");
    assert_eq!(harness.complete(held, Ok(())), vec![(14, Ok(GroupReply::Done))]);
    assert_eq!(harness.group().pending_txn, BTreeMap::from([(1000, BTreeMap::from([(P0, 5)]))]));
    assert!(harness.group().committed.is_empty(), "pending until the marker");
}

#[test]
fn pending_offsets_are_unstable_until_their_marker_commits_or_drops_them() {
    let mut harness = two_members();
    let effects = harness.commit_effects(1000, 0, "a", 2, &[(P0, 5)], 10);
    assert_eq!(harness.settle(effects), vec![(10, Ok(GroupReply::Done))]);
    // A new owner asking with requireStable must wait; without it, it sees the committed offset (none).
    assert_eq!(harness.fetch(&[P0], true, 11), vec![(11, Err(ErrorCode::UnstableOffsetCommit))]);
    assert_eq!(harness.fetch(&[P1, P0], true, 12), vec![(12, Err(ErrorCode::UnstableOffsetCommit))]);
    assert_eq!(harness.fetch(&[P0], false, 13), vec![(13, offsets(&[(P0, None)]))]);
    assert_eq!(harness.fetch(&[P1], true, 14), vec![(14, offsets(&[(P1, None)]))], "P1 has nothing pending");
    assert!(harness.covered("group:unstable-offset-commit"));
    // Another producer's marker settles nothing of producer 1000's.
    harness.marker(2000, ControlMarker::Commit);
    assert_eq!(harness.fetch(&[P0], true, 15), vec![(15, Err(ErrorCode::UnstableOffsetCommit))]);
    // Producer 1000's COMMIT marker: the offset is committed.
    harness.marker(1000, ControlMarker::Commit);
    assert_eq!(harness.fetch(&[P0], true, 16), vec![(16, offsets(&[(P0, Some(5))]))]);
    assert!(harness.covered("group:txn-offsets-committed"));
    // Its next transaction commits offset 9, then aborts: offset 5 stays.
    let effects = harness.commit_effects(1000, 1, "a", 2, &[(P0, 9)], 17);
    assert_eq!(harness.settle(effects), vec![(17, Ok(GroupReply::Done))]);
    assert_eq!(harness.fetch(&[P0], true, 18), vec![(18, Err(ErrorCode::UnstableOffsetCommit))]);
    harness.marker(1000, ControlMarker::Abort);
    assert_eq!(harness.fetch(&[P0], true, 19), vec![(19, offsets(&[(P0, Some(5))]))]);
    assert!(harness.covered("group:txn-offsets-aborted"));
    assert!(harness.group().pending_txn.is_empty());
}

#[test]
fn a_txn_offset_commit_refused_by_the_partition_is_not_pending() {
    let mut harness = two_members();
    // The offsets partition refuses the record: the producer's epoch was fenced by a newer one.
    let effects = harness.commit_effects(1000, 0, "a", 2, &[(P0, 5)], 10);
    let held = harness.hold(effects);
    let replies = harness.complete(held, Err(ErrorCode::InvalidProducerEpoch));
    assert_eq!(replies, vec![(10, Err(ErrorCode::ProducerFenced))]);
    assert!(harness.group().pending_txn.is_empty());
    // Any other failure is retriable: NOT_COORDINATOR sends the producer to look the coordinator up again.
    let effects = harness.commit_effects(1000, 1, "a", 2, &[(P0, 5)], 11);
    let held = harness.hold(effects);
    assert_eq!(harness.complete(held, Err(ErrorCode::NotEnoughReplicas)), vec![(11, Err(ErrorCode::NotCoordinator))]);
    assert!(harness.group().pending_txn.is_empty());
    assert_eq!(harness.fetch(&[P0], true, 12), vec![(12, offsets(&[(P0, None)]))]);
}

/// An offsets partition's records as a hand-written log: two generations, a plain commit, producer 1000's
/// offsets then its COMMIT, producer 2000's offsets with no marker yet, producer 3000's offsets then its
/// ABORT, and a transaction-log record that does not belong here and is skipped.
fn written_log() -> Vec<LoadedRecord> {
    let group = |generation: u32, members: Vec<(&str, Vec<PartitionId>)>| LoadedRecord::Record {
        producer: None,
        record: InternalRecord::Group {
            group_id: GROUP.to_string(),
            generation,
            members: members.into_iter().map(|(id, assignment)| (id.to_string(), SESSION_NS, assignment)).collect(),
        },
    };
    let commit = |producer_id: Option<u64>, offsets: Vec<(PartitionId, u64)>| LoadedRecord::Record {
        producer: producer_id.map(|id| producer(id, 0)),
        record: InternalRecord::Offsets { group_id: GROUP.to_string(), offsets },
    };
    let stray = TxnLogEntry {
        transactional_id: "writer-0".to_string(),
        producer_id: 1000,
        epoch: 0,
        last_epoch: None,
        state: TxnState::Ongoing,
        partitions: vec![P0],
        timeout_ns: SESSION_NS,
        txn_start_ns: 0,
        next_producer_id: None,
        previous_producer_id: None,
    };
    vec![
        group(1, vec![("a", SUBSCRIPTION.to_vec())]),
        group(2, vec![("a", vec![P0, P2]), ("b", vec![P1])]),
        commit(None, vec![(P0, 3)]),
        commit(Some(1000), vec![(P0, 7), (P1, 4)]),
        LoadedRecord::Record { producer: None, record: InternalRecord::Txn(std::rc::Rc::new(stray)) },
        LoadedRecord::Marker { producer_id: 1000, marker: ControlMarker::Commit },
        commit(Some(2000), vec![(P1, 9)]),
        commit(Some(3000), vec![(P2, 8)]),
        LoadedRecord::Marker { producer_id: 3000, marker: ControlMarker::Abort },
    ]
}

#[test]
fn load_rebuilds_generation_members_committed_and_pending_offsets() {
    let mut harness = Harness::new();
    // Taking over at 500 ms: members get a fresh session from then.
    harness.coordinator.load(LOG, &written_log(), 500 * MS);
    let group = harness.group();
    assert_eq!(group.generation, 2);
    assert_eq!(group.subscription, SUBSCRIPTION.to_vec(), "the union of the last generation's assignment");
    assert_eq!((harness.assignment("a"), harness.assignment("b")), (vec![P0, P2], vec![P1]));
    assert!(group.members.values().all(|m| m.last_seen_ns == 500 * MS && m.session_timeout_ns == SESSION_NS));
    // 3 then 7 on P0 (1000 committed), 4 on P1; 2000's 9 pending; 3000's 8 dropped by its ABORT.
    assert_eq!(group.committed, BTreeMap::from([(P0, 7), (P1, 4)]));
    assert_eq!(group.pending_txn, BTreeMap::from([(2000, BTreeMap::from([(P1, 9)]))]));
    assert_eq!(harness.fetch(&[P1], true, 1), vec![(1, Err(ErrorCode::UnstableOffsetCommit))]);
    assert_eq!(harness.fetch(&[P0, P2], true, 2), vec![(2, offsets(&[(P0, Some(7)), (P2, None)]))]);
    // The members are fenced as before: generation 1 is stale, generation 2 current.
    assert_eq!(harness.heartbeat("a", 1, 3, 510 * MS), vec![(3, Err(ErrorCode::RebalanceInProgress))]);
    assert_eq!(harness.heartbeat("b", 2, 4, 510 * MS), vec![(4, Ok(GroupReply::Done))]);
    // The next generation is 3: a generation number is never reused after a fail-over.
    assert_eq!(harness.join("c", 5, 520 * MS), vec![(5, joined(3, &[P2]))]);
    // 2000's marker arrives at the new coordinator and settles its pending offset.
    harness.marker(2000, ControlMarker::Commit);
    assert_eq!(harness.fetch(&[P1], true, 6), vec![(6, offsets(&[(P1, Some(9))]))]);
}

#[test]
fn load_of_what_a_coordinator_wrote_rebuilds_the_same_group() {
    let mut harness = two_members();
    let effects = harness.commit_effects(1000, 0, "a", 2, &[(P0, 5), (P2, 6)], 10);
    assert_eq!(harness.settle(effects), vec![(10, Ok(GroupReply::Done))]);
    harness.marker(1000, ControlMarker::Commit);
    let effects = harness.commit_effects(1000, 1, "b", 2, &[(P1, 2)], 11);
    assert_eq!(harness.settle(effects), vec![(11, Ok(GroupReply::Done))]);
    // A new coordinator loads the records replicated so far.
    let mut successor = GroupCoordinator::new();
    successor.load(LOG, &harness.log, 50 * MS);
    let (before, after) = (harness.group(), successor.group(LOG, GROUP).expect("loaded"));
    assert_eq!((after.generation, &after.subscription), (before.generation, &before.subscription));
    assert_eq!((&after.committed, &after.pending_txn), (&before.committed, &before.pending_txn));
    let assignments = |group: &Group| -> Vec<(String, Vec<PartitionId>)> {
        group.members.iter().map(|(id, member)| (id.clone(), member.assignment.clone())).collect()
    };
    assert_eq!(assignments(after), assignments(before));
    assert_eq!(after.committed, BTreeMap::from([(P0, 5), (P2, 6)]));
}

#[test]
fn loaded_members_expire_from_the_take_over_if_they_stay_silent() {
    let mut harness = Harness::new();
    harness.coordinator.load(LOG, &written_log(), 500 * MS);
    assert_eq!(harness.tick(500 * MS + SESSION_NS - 1), Vec::new());
    assert_eq!(harness.group().generation, 2);
    // Both silent 100 ms since the take-over: gone, and generation 3 has nobody to deal partitions to.
    assert_eq!(harness.tick(500 * MS + SESSION_NS), Vec::new());
    assert_eq!((harness.group().generation, harness.group().members.len()), (3, 0));
    assert_eq!(harness.group().committed, BTreeMap::from([(P0, 7), (P1, 4)]), "offsets outlive members");
}

#[test]
fn a_plain_offset_commit_is_fenced_alike_and_committed_once_replicated() {
    let mut harness = two_members();
    // No producer: the same generation fencing as a TxnOffsetCommit.
    let stale = harness.coordinator.commit_offsets(LOG, GROUP, None, "a", 1, &[(P0, 7)], waiter(20));
    assert_eq!(harness.settle(stale), vec![(20, Err(ErrorCode::IllegalGeneration))]);
    let unknown = harness.coordinator.commit_offsets(LOG, GROUP, None, "z", 2, &[(P0, 7)], waiter(21));
    assert_eq!(harness.settle(unknown), vec![(21, Err(ErrorCode::UnknownMemberId))]);
    // The current generation: a plain Offsets record, committed (not pending) once it is replicated.
    let effects = harness.coordinator.commit_offsets(LOG, GROUP, None, "a", 2, &[(P0, 7)], waiter(22));
    let held = harness.hold(effects);
    assert_eq!(held.0, None, "no producer: not transactional");
    assert!(harness.group().committed.is_empty(), "not before it is replicated");
    assert_eq!(harness.complete(held, Ok(())), vec![(22, Ok(GroupReply::Done))]);
    assert_eq!(harness.group().committed, BTreeMap::from([(P0, 7)]));
    assert!(harness.group().pending_txn.is_empty());
    // Stable at once: requireStable has nothing to wait for.
    assert_eq!(harness.fetch(&[P0], true, 23), vec![(23, offsets(&[(P0, Some(7))]))]);
}
