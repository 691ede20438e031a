//! Hand-built tests of the coordinator.
//!
//! One transactional id, `writer-0`, on transaction-log partition 10, coordinated from an empty log. The
//! harness plays the broker: every [`TxnEffect::Append`] is fed back through `on_append` (replicated, unless a
//! test fails it on purpose) and remembered as the log a new coordinator would load; replies, markers and
//! illegal transitions are collected for the test to compare with the sequence worked out in its comments.
//! Producer id 1000 is the one the broker hands out (2000 the one an exhausted epoch rotates to); transaction
//! timeout 100 ms, marker requests time out after 30 ms (in the broker's marker channel, not here),
//! idle ids expire after 500 ms.

use super::*;
use crate::coordinator::txn_state::TxnState::*;

const MS: u64 = 1_000_000;
const LOG: PartitionId = PartitionId(10);
const ID: &str = "writer-0";
const PID: u64 = 1000;
/// The producer id an exhausted epoch rotates to.
const NEXT_PID: u64 = 2000;
const P0: PartitionId = PartitionId(0);
const P1: PartitionId = PartitionId(1);
const P2: PartitionId = PartitionId(2);
const TIMEOUT_NS: u64 = 100 * MS;
const MARKER_RETRY_NS: u64 = 30 * MS;
const EXPIRATION_NS: u64 = 500 * MS;
/// A coordinator's answer: (producer id, epoch), or why not.
type Answer = Result<(u64, u16), ErrorCode>;
const CONCURRENT: Answer = Err(ErrorCode::ConcurrentTransactions);

/// What the coordinator asked for besides log appends, in order.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    /// (request id, answer).
    replies: Vec<(u64, Answer)>,
    /// (partition, marker, the marker's producer epoch, coordinator epoch).
    markers: Vec<(PartitionId, ControlMarker, u16, u32)>,
    illegal: Vec<String>,
}

impl Seen {
    fn reply(request_id: u64, result: Answer) -> Seen {
        Seen { replies: vec![(request_id, result)], ..Seen::default() }
    }

    fn markers(partitions: &[PartitionId], marker: ControlMarker, epoch: u16, coordinator_epoch: u32) -> Seen {
        let markers = partitions.iter().map(|p| (*p, marker, epoch, coordinator_epoch)).collect();
        Seen { markers, ..Seen::default() }
    }
}

/// The coordinator and the broker around it.
struct Harness {
    coordinator: TxnCoordinator,
    /// Entries replicated so far, in log order: what a coordinator that takes over loads.
    log: Vec<TxnLogEntry>,
    /// Every coverage name the coordinator reported.
    coverage: Vec<String>,
}

fn settings(eos_v2: bool) -> TxnCoordinatorSettings {
    TxnCoordinatorSettings {
        epoch_bump_per_txn: eos_v2,
        transactional_id_expiration_ns: EXPIRATION_NS,
        marker_retry_ns: MARKER_RETRY_NS,
        load_ns_per_record: DEFAULT_LOAD_NS_PER_RECORD,
        producer_epoch_start: 0,
    }
}

fn waiter(request_id: u64) -> Waiter {
    Waiter { client: NodeId(7), request_id, init: false }
}

impl Harness {
    /// A coordinator of `LOG`, loaded from an empty log: nothing to resume.
    fn new(eos_v2: bool) -> Harness {
        Harness::load(eos_v2, 0, Vec::new(), 0)
    }

    /// A coordinator of `LOG` at `coordinator_epoch` that loads `log`; its resumed markers are dropped (a
    /// test that wants them calls `load` itself).
    fn load(eos_v2: bool, coordinator_epoch: u32, log: Vec<TxnLogEntry>, now_ns: u64) -> Harness {
        let mut coordinator = TxnCoordinator::new(settings(eos_v2));
        let effects = coordinator.load(LOG, coordinator_epoch, &log, now_ns);
        assert!(effects.iter().all(|effect| matches!(effect, TxnEffect::Marker { .. })), "{effects:?}");
        let mut harness = Harness { coordinator, log, coverage: Vec::new() };
        harness.drain_coverage();
        assert!(harness.coverage.contains(&"coordinator:txn-log-loaded".to_string()));
        harness
    }

    fn drain_coverage(&mut self) {
        self.coverage.extend(self.coordinator.take_coverage().into_iter().map(Cow::into_owned));
    }

    /// Carries out `effects` as the broker would, every append replicating at `now_ns`.
    fn settle(&mut self, effects: Vec<TxnEffect>, now_ns: u64) -> Seen {
        let mut queue: std::collections::VecDeque<TxnEffect> = effects.into();
        let mut seen = Seen::default();
        while let Some(effect) = queue.pop_front() {
            match effect {
                TxnEffect::Append { log, entry } => {
                    assert_eq!(log, LOG);
                    self.log.push(TxnLogEntry::clone(&entry));
                    queue.extend(self.coordinator.on_append(LOG, &entry, true, now_ns));
                }
                TxnEffect::Reply { waiter, result } => seen.replies.push((waiter.request_id, result)),
                TxnEffect::Marker { transactional_id, partition, producer, marker, coordinator_epoch, .. } => {
                    assert_eq!(transactional_id, ID);
                    assert_eq!(producer.producer_id, self.meta().producer_id);
                    seen.markers.push((partition, marker, producer.epoch, coordinator_epoch));
                }
                TxnEffect::Illegal(message) => seen.illegal.push(message),
            }
        }
        self.drain_coverage();
        seen
    }

    /// The one append `effects` asks for, left pending (not fed back), with whatever else they hold.
    fn hold(&mut self, effects: Vec<TxnEffect>) -> (TxnLogEntry, Seen) {
        let (appends, rest): (Vec<TxnEffect>, Vec<TxnEffect>) =
            effects.into_iter().partition(|effect| matches!(effect, TxnEffect::Append { .. }));
        assert_eq!(appends.len(), 1, "exactly one log write: {appends:?}");
        let Some(TxnEffect::Append { entry, .. }) = appends.into_iter().next() else { unreachable!("one append") };
        assert!(self.meta().is_pending());
        (TxnLogEntry::clone(&entry), self.settle(rest, 0))
    }

    /// The broker reports the held `entry` replicated (`ok`) or failed, at `now_ns`.
    fn complete(&mut self, entry: &TxnLogEntry, ok: bool, now_ns: u64) -> Seen {
        if ok {
            self.log.push(entry.clone());
        }
        let effects = self.coordinator.on_append(LOG, entry, ok, now_ns);
        self.settle(effects, now_ns)
    }

    fn init_effects(&mut self, request_id: u64, now_ns: u64) -> Vec<TxnEffect> {
        let waiter = Waiter { init: true, ..waiter(request_id) };
        self.coordinator.init_producer_id(LOG, ID, TIMEOUT_NS, waiter, || PID, now_ns)
    }

    fn init(&mut self, request_id: u64, now_ns: u64) -> Seen {
        let effects = self.init_effects(request_id, now_ns);
        self.settle(effects, now_ns)
    }

    fn add_effects(&mut self, epoch: u16, partitions: &[PartitionId], request_id: u64, now_ns: u64) -> Vec<TxnEffect> {
        self.coordinator.add_partitions(LOG, ID, PID, epoch, partitions, waiter(request_id), now_ns)
    }

    fn add(&mut self, epoch: u16, partitions: &[PartitionId], request_id: u64, now_ns: u64) -> Seen {
        let effects = self.add_effects(epoch, partitions, request_id, now_ns);
        self.settle(effects, now_ns)
    }

    fn end_effects(&mut self, epoch: u16, commit: bool, request_id: u64, now_ns: u64) -> Vec<TxnEffect> {
        self.coordinator.end_txn(LOG, ID, PID, epoch, commit, waiter(request_id), now_ns, || NEXT_PID)
    }

    fn end(&mut self, epoch: u16, commit: bool, request_id: u64, now_ns: u64) -> Seen {
        let effects = self.end_effects(epoch, commit, request_id, now_ns);
        self.settle(effects, now_ns)
    }

    /// EndTxn from a client that holds another producer id.
    fn end_as(&mut self, producer_id: u64, epoch: u16, request_id: u64) -> Seen {
        let effects = self.coordinator.end_txn(LOG, ID, producer_id, epoch, true, waiter(request_id), 0, || NEXT_PID);
        self.settle(effects, 0)
    }

    fn marker(&mut self, partition: PartitionId, result: Result<(), ErrorCode>, now_ns: u64) -> Seen {
        let effects = self.coordinator.on_marker(LOG, ID, partition, result, now_ns);
        self.settle(effects, now_ns)
    }

    /// Every marker of `partitions` lands at `now_ns`.
    fn markers_land(&mut self, partitions: &[PartitionId], now_ns: u64) {
        for partition in partitions {
            let seen = self.marker(*partition, Ok(()), now_ns);
            assert_eq!(seen, Seen::default(), "a marker is answered by nothing but, at the last, a log write");
        }
    }

    fn tick(&mut self, now_ns: u64) -> Seen {
        let effects = self.coordinator.tick(now_ns);
        self.settle(effects, now_ns)
    }

    fn meta(&self) -> &TxnMetadata {
        self.coordinator.metadata(LOG, ID).expect("loaded")
    }

    fn state(&self) -> TxnState {
        self.meta().state
    }

    /// The states of the entries written so far, in log order.
    fn logged_states(&self) -> Vec<TxnState> {
        self.log.iter().map(|entry| entry.state).collect()
    }

    /// The (from, to) pairs of every `txn-transition:` coverage name.
    fn transitions(&self) -> Vec<(TxnState, TxnState)> {
        self.coverage.iter().filter_map(|name| name.strip_prefix("txn-transition:")).map(parse_transition).collect()
    }
}

fn parse_transition(text: &str) -> (TxnState, TxnState) {
    let (from, to) = text.split_once("->").expect("from->to");
    let state = |name: &str| TxnState::ALL.into_iter().find(|s| s.name() == name).expect("a state name");
    (state(from), state(to))
}

/// InitProducerId (request 1 at 0 ms) on a fresh log: producer id 1000 at epoch 0, state Empty.
fn ready(eos_v2: bool) -> Harness {
    let mut harness = Harness::new(eos_v2);
    assert_eq!(harness.init(1, 0), Seen::reply(1, Ok((PID, 0))));
    assert_eq!((harness.state(), harness.meta().epoch), (Empty, 0));
    harness
}

fn reply(request_id: u64, result: Answer) -> Seen {
    Seen::reply(request_id, result)
}

fn refused(request_id: u64, error: ErrorCode) -> Seen {
    Seen::reply(request_id, Err(error))
}

fn entry(state: TxnState, epoch: u16, partitions: &[PartitionId], timeout_ns: u64) -> TxnLogEntry {
    TxnLogEntry {
        transactional_id: ID.to_string(),
        producer_id: PID,
        epoch,
        last_epoch: None,
        state,
        partitions: partitions.to_vec(),
        timeout_ns,
        txn_start_ns: 0,
        next_producer_id: None,
        previous_producer_id: None,
    }
}

#[test]
fn init_of_a_new_id_writes_empty_at_epoch_0_before_answering() {
    let mut harness = Harness::new(false);
    // A new id: producer id 1000 at epoch 0, Empty, written to the log before the client hears of it.
    let effects = harness.init_effects(1, 0);
    let (written, seen) = harness.hold(effects);
    assert_eq!(seen, Seen::default(), "no answer before the write is replicated");
    assert_eq!(written, entry(Empty, 0, &[], TIMEOUT_NS));
    // Another InitProducerId while the first is written is told to retry.
    assert_eq!(harness.init(2, MS), reply(2, CONCURRENT));
    assert_eq!(harness.complete(&written, true, 2 * MS), reply(1, Ok((PID, 0))));
    assert_eq!((harness.state(), harness.meta().is_pending()), (Empty, false));
    assert_eq!(harness.transitions(), vec![(Empty, Empty)]);
}

#[test]
fn init_of_an_existing_id_bumps_the_epoch_and_fences_the_old_one() {
    let mut harness = ready(false);
    // The same id again (a restarted producer): the same producer id at epoch 1.
    assert_eq!(harness.init(2, MS), reply(2, Ok((PID, 1))));
    // After a committed transaction at epoch 1, again: epoch 2.
    assert_eq!(harness.add(1, &[P0], 3, 2 * MS), reply(3, Ok((PID, 1))));
    assert_eq!(harness.end(1, true, 4, 3 * MS).replies, vec![(4, Ok((PID, 1)))]);
    harness.markers_land(&[P0], 4 * MS);
    assert_eq!(harness.state(), CompleteCommit);
    assert_eq!(harness.init(5, 5 * MS), reply(5, Ok((PID, 2))));
    assert_eq!(harness.logged_states(), vec![Empty, Empty, Ongoing, PrepareCommit, CompleteCommit, Empty]);
    // Epoch 1 is fenced now, and epoch 3 was never handed out.
    assert_eq!(harness.add(1, &[P0], 6, 6 * MS), refused(6, ErrorCode::ProducerFenced));
    assert_eq!(harness.add(3, &[P0], 7, 6 * MS), refused(7, ErrorCode::InvalidProducerEpoch));
    assert_eq!(harness.end(1, true, 8, 6 * MS), refused(8, ErrorCode::ProducerFenced));
}

#[test]
fn an_exhausted_epoch_gets_a_new_producer_id() {
    // The log says epoch 32766 (`Short.MAX_VALUE - 1`, exhausted: the last bump is kept for fencing), so
    // InitProducerId gives producer id 2000 at epoch 0 (`prepareProducerIdRotation`).
    let mut harness = Harness::load(false, 0, vec![entry(CompleteCommit, MAX_PRODUCER_EPOCH - 1, &[], TIMEOUT_NS)], 0);
    let waiter = Waiter { init: true, ..waiter(1) };
    let effects = harness.coordinator.init_producer_id(LOG, ID, TIMEOUT_NS, waiter, || 2000, MS);
    assert_eq!(harness.settle(effects, MS), reply(1, Ok((2000, 0))));
    assert_eq!((harness.meta().producer_id, harness.meta().epoch), (2000, 0));
}

#[test]
fn a_new_transactional_id_starts_at_the_configured_epoch() {
    // Kafka creates an id at epoch -1 and bumps it to 0; `producer_epoch_start` stands for an id long in use.
    let mut fresh = Harness::new(true);
    assert_eq!(fresh.init(1, MS), reply(1, Ok((PID, 0))), "the default start is Kafka's 0");
    let mut coordinator =
        TxnCoordinator::new(TxnCoordinatorSettings { producer_epoch_start: 32_765, ..settings(true) });
    coordinator.load(LOG, 0, &[], 0);
    let mut harness = Harness { coordinator, log: Vec::new(), coverage: Vec::new() };
    assert_eq!(harness.init(1, MS), reply(1, Ok((PID, 32_765))));
    // Its first TV2 commit bumps to 32766, exhausted; the next InitProducerId rotates the producer id.
    assert_eq!(harness.add(32_765, &[P0], 2, MS), reply(2, Ok((PID, 32_765))));
    harness.end(32_765, true, 3, 2 * MS);
    harness.markers_land(&[P0], 3 * MS);
    assert!(harness.meta().is_epoch_exhausted());
}

#[test]
fn init_with_an_open_transaction_fences_aborts_and_answers_concurrent_until_done() {
    let mut harness = ready(false);
    assert_eq!(harness.add(0, &[P0, P1], 2, MS), reply(2, Ok((PID, 0))));
    // A new instance of the producer: the epoch is bumped in memory (PrepareEpochFence), PrepareAbort is
    // written at epoch 1, and the new instance is told to retry.
    let effects = harness.init_effects(3, 10 * MS);
    let (written, seen) = harness.hold(effects);
    assert_eq!(seen, reply(3, CONCURRENT));
    assert_eq!((written.state, written.epoch, written.partitions.clone()), (PrepareAbort, 1, vec![P0, P1]));
    assert_eq!((harness.state(), harness.meta().epoch), (PrepareEpochFence, 1));
    assert_eq!(harness.init(4, 11 * MS), reply(4, CONCURRENT), "the abort is being written");
    // Replicated: ABORT markers go out with epoch 1, so they also fence the old producer's late batches.
    let seen = harness.complete(&written, true, 12 * MS);
    assert_eq!(seen, Seen::markers(&[P0, P1], ControlMarker::Abort, 1, 0));
    assert_eq!(harness.init(5, 13 * MS), reply(5, CONCURRENT), "the markers are being written");
    // The old producer's commit is too late: it is fenced.
    assert_eq!(harness.end(0, true, 6, 13 * MS), refused(6, ErrorCode::ProducerFenced));
    harness.markers_land(&[P0], 14 * MS);
    assert_eq!(harness.state(), PrepareAbort, "one marker outstanding");
    assert_eq!(harness.init(7, 15 * MS), reply(7, CONCURRENT));
    harness.markers_land(&[P1], 16 * MS);
    assert_eq!(harness.state(), CompleteAbort);
    // Done: the retried InitProducerId bumps once more, to epoch 2.
    assert_eq!(harness.init(8, 17 * MS), reply(8, Ok((PID, 2))));
    assert_eq!(harness.logged_states(), vec![Empty, Ongoing, PrepareAbort, CompleteAbort, Empty]);
    let expected = vec![
        (Empty, Empty),
        (Empty, Ongoing),
        (Ongoing, PrepareEpochFence),
        (PrepareEpochFence, PrepareAbort),
        (PrepareAbort, CompleteAbort),
        (CompleteAbort, Empty),
    ];
    assert_eq!(harness.transitions(), expected);
    assert!(harness.coverage.contains(&"coordinator:init-aborts-open-txn".to_string()));
}

#[test]
fn a_pending_write_answers_concurrent_transactions_to_every_other_request() {
    for eos_v2 in [false, true] {
        let mut harness = ready(eos_v2);
        let effects = harness.add_effects(0, &[P0], 2, MS);
        let (written, seen) = harness.hold(effects);
        assert_eq!(seen, Seen::default());
        // Every request about the id waits for the write, whatever it asks.
        assert_eq!(harness.add(0, &[P1], 3, 2 * MS), reply(3, CONCURRENT));
        assert_eq!(harness.add(0, &[P0], 4, 2 * MS), reply(4, CONCURRENT));
        assert_eq!(harness.end(0, true, 5, 2 * MS), reply(5, CONCURRENT));
        assert_eq!(harness.end(0, false, 6, 2 * MS), reply(6, CONCURRENT));
        assert_eq!(harness.init(7, 2 * MS), reply(7, CONCURRENT));
        // Far past the timeout, the tick leaves it alone too: the transition in flight comes first.
        assert_eq!(harness.tick(10 * TIMEOUT_NS), Seen::default());
        // The identity check comes before it, as in Kafka: a stranger is refused, not told to retry.
        assert_eq!(harness.end_as(PID + 1, 0, 8), refused(8, ErrorCode::InvalidProducerIdMapping));
        assert!(harness.meta().partitions.is_empty(), "not added until replicated");
        assert_eq!(harness.complete(&written, true, 3 * MS), reply(2, Ok((PID, 0))));
        assert_eq!(harness.meta().partitions, BTreeSet::from([P0]));
        assert_eq!(harness.logged_states(), vec![Empty, Ongoing]);
    }
}

#[test]
fn end_txn_v1_commit_follows_kafkas_error_table() {
    let mut harness = ready(false);
    // Empty: nothing to end, and eos-v1 has no blind abort.
    assert_eq!(harness.end(0, true, 2, MS), refused(2, ErrorCode::InvalidTxnState));
    assert_eq!(harness.end(0, false, 3, MS), refused(3, ErrorCode::InvalidTxnState));
    // A second InitProducerId makes epoch 0 an older epoch.
    assert_eq!(harness.init(4, 2 * MS), reply(4, Ok((PID, 1))));
    assert_eq!(harness.add(1, &[P0, P1], 5, 3 * MS), reply(5, Ok((PID, 1))));
    assert_eq!(harness.end_as(PID + 1, 1, 6), refused(6, ErrorCode::InvalidProducerIdMapping));
    assert_eq!(harness.end(0, true, 7, 4 * MS), refused(7, ErrorCode::ProducerFenced));
    // Ongoing → PrepareCommit, epoch kept (eos-v1); the client hears once it is replicated, markers follow.
    let effects = harness.end_effects(1, true, 8, 5 * MS);
    let (written, _) = harness.hold(effects);
    assert_eq!((written.state, written.epoch, written.last_epoch), (PrepareCommit, 1, None));
    let seen = harness.complete(&written, true, 6 * MS);
    assert_eq!(seen.replies, vec![(8, Ok((PID, 1)))]);
    assert_eq!(seen.markers, Seen::markers(&[P0, P1], ControlMarker::Commit, 1, 0).markers);
    // PrepareCommit: the same result again waits; the opposite is refused, a commit decision is final.
    assert_eq!(harness.end(1, true, 9, 7 * MS), reply(9, CONCURRENT));
    assert_eq!(harness.end(1, false, 10, 7 * MS), refused(10, ErrorCode::InvalidTxnState));
    harness.markers_land(&[P0, P1], 8 * MS);
    assert_eq!(harness.state(), CompleteCommit);
    // CompleteCommit: the same result is an idempotent retry, answered without a write; the opposite is refused.
    let written_before = harness.log.len();
    assert_eq!(harness.end(1, true, 11, 9 * MS), reply(11, Ok((PID, 1))));
    assert_eq!(harness.end(1, false, 12, 9 * MS), refused(12, ErrorCode::InvalidTxnState));
    assert_eq!(harness.log.len(), written_before);
    assert_eq!(harness.meta().epoch, 1, "eos-v1 never bumps at EndTxn");
}

#[test]
fn end_txn_v1_abort_follows_kafkas_error_table() {
    let mut harness = ready(false);
    assert_eq!(harness.add(0, &[P0], 2, MS), reply(2, Ok((PID, 0))));
    // Ongoing → PrepareAbort at epoch 0, then one ABORT marker.
    let seen = harness.end(0, false, 3, 2 * MS);
    assert_eq!(seen.replies, vec![(3, Ok((PID, 0)))]);
    assert_eq!(seen.markers, Seen::markers(&[P0], ControlMarker::Abort, 0, 0).markers);
    // PrepareAbort: abort again waits; commit is refused.
    assert_eq!(harness.end(0, false, 4, 3 * MS), reply(4, CONCURRENT));
    assert_eq!(harness.end(0, true, 5, 3 * MS), refused(5, ErrorCode::InvalidTxnState));
    harness.markers_land(&[P0], 4 * MS);
    // CompleteAbort: abort again succeeds without a write; commit is refused.
    let written_before = harness.log.len();
    assert_eq!(harness.end(0, false, 6, 5 * MS), reply(6, Ok((PID, 0))));
    assert_eq!(harness.end(0, true, 7, 5 * MS), refused(7, ErrorCode::InvalidTxnState));
    assert_eq!(harness.log.len(), written_before);
    assert_eq!(harness.logged_states(), vec![Empty, Ongoing, PrepareAbort, CompleteAbort]);
}

#[test]
fn end_txn_v2_bumps_the_epoch_at_prepare_and_recognises_a_retry_of_the_previous_one() {
    let mut harness = ready(true);
    assert_eq!(harness.add(0, &[P0, P1], 2, MS), reply(2, Ok((PID, 0))));
    // EndTxn(commit) at epoch 0: PrepareCommit is written at epoch 1, with 0 kept as the last epoch.
    let effects = harness.end_effects(0, true, 3, 2 * MS);
    let (written, _) = harness.hold(effects);
    assert_eq!((written.state, written.epoch, written.last_epoch), (PrepareCommit, 1, Some(0)));
    assert_eq!(harness.end(0, true, 4, 2 * MS), reply(4, CONCURRENT), "its retry, while it is written");
    // The client learns epoch 1 and the markers carry it, so a late batch of epoch 0 is fenced.
    let seen = harness.complete(&written, true, 3 * MS);
    assert_eq!(seen.replies, vec![(3, Ok((PID, 1)))]);
    assert_eq!(seen.markers, Seen::markers(&[P0, P1], ControlMarker::Commit, 1, 0).markers);
    assert_eq!(harness.end(0, true, 5, 4 * MS), reply(5, CONCURRENT), "its retry, while the markers go out");
    harness.markers_land(&[P0, P1], 5 * MS);
    // A retry of epoch 0 once it is done is recognised and answered with the new epoch.
    assert_eq!(harness.end(0, true, 6, 6 * MS), reply(6, Ok((PID, 1))));
    // Blind abort at epoch 1 from CompleteCommit: epoch 2, nothing to mark, so CompleteAbort at once.
    assert_eq!(harness.end(1, false, 7, 7 * MS), reply(7, Ok((PID, 2))));
    assert_eq!(harness.state(), CompleteAbort);
    assert!(harness.coverage.contains(&"coordinator:blind-abort".to_string()));
    // Epoch 0 is two bumps old: fenced. Epoch 1's abort is a retry (success), its commit the opposite result.
    assert_eq!(harness.end(0, true, 8, 8 * MS), refused(8, ErrorCode::ProducerFenced));
    assert_eq!(harness.end(1, false, 9, 8 * MS), reply(9, Ok((PID, 2))));
    assert_eq!(harness.end(1, true, 10, 8 * MS), refused(10, ErrorCode::InvalidTxnState));
    assert_eq!(harness.end_as(PID + 1, 2, 11), refused(11, ErrorCode::InvalidProducerIdMapping));
    let states = vec![Empty, Ongoing, PrepareCommit, CompleteCommit, PrepareAbort, CompleteAbort];
    assert_eq!(harness.logged_states(), states);
}

#[test]
fn end_txn_v2_aborts_blind_from_empty() {
    let mut harness = ready(true);
    // Empty at epoch 0: PrepareAbort at epoch 1 with no partitions, completed at once (no markers).
    assert_eq!(harness.end(0, false, 2, MS), reply(2, Ok((PID, 1))));
    assert_eq!((harness.state(), harness.meta().epoch), (CompleteAbort, 1));
    // CompleteAbort at epoch 1, abort again at epoch 1: not a retry (that would carry epoch 0, the epoch before
    // the bump), so a new blind abort that bumps to 2 and fences whatever the abandoned transaction left in flight.
    let written_before = harness.log.len();
    assert_eq!(harness.end(1, false, 3, 2 * MS), reply(3, Ok((PID, 2))));
    assert_eq!(harness.log.len(), written_before + 2, "PrepareAbort and CompleteAbort");
    // The retry of that abort carries epoch 1: success with the bumped epoch, nothing written.
    assert_eq!(harness.end(1, false, 4, 3 * MS), reply(4, Ok((PID, 2))));
    assert_eq!(harness.log.len(), written_before + 2);
    // A commit with nothing open is still refused: there is nothing to commit.
    assert_eq!(harness.init(5, 4 * MS), reply(5, Ok((PID, 3))));
    assert_eq!(harness.end(3, true, 6, 5 * MS), refused(6, ErrorCode::InvalidTxnState));
    assert_eq!(harness.logged_states(), vec![Empty, PrepareAbort, CompleteAbort, PrepareAbort, CompleteAbort, Empty]);
    // The blind aborts left Empty and CompleteAbort for PrepareAbort, legal only under KIP-890.
    let transitions = harness.transitions();
    let blind: Vec<&(TxnState, TxnState)> = transitions.iter().filter(|(_, to)| *to == PrepareAbort).collect();
    assert_eq!(blind, vec![&(Empty, PrepareAbort), &(CompleteAbort, PrepareAbort)]);
    assert!(PrepareAbort.may_follow(Empty, true) && !PrepareAbort.may_follow(Empty, false));
}

#[test]
fn every_partition_gets_a_marker_and_commit_completes_only_after_the_last() {
    let mut harness = ready(false);
    assert_eq!(harness.add(0, &[P0, P1, P2], 2, 0), reply(2, Ok((PID, 0))));
    // PrepareCommit at 1 ms: one COMMIT marker per partition, all sent at 1 ms.
    let seen = harness.end(0, true, 3, MS);
    assert_eq!(seen.markers, Seen::markers(&[P0, P1, P2], ControlMarker::Commit, 0, 0).markers);
    assert_eq!(harness.marker(P0, Ok(()), 2 * MS), Seen::default());
    // P1's leader refuses (retriable): back in the queue, sent again at the next tick; P2's is still in
    // flight (its request timeout belongs to the marker channel), so it is not sent again.
    assert_eq!(harness.marker(P1, Err(ErrorCode::NotLeaderOrFollower), 3 * MS), Seen::default());
    assert!(harness.coverage.contains(&"coordinator:marker-retry".to_string()));
    assert_eq!(harness.tick(4 * MS), Seen::markers(&[P1], ControlMarker::Commit, 0, 0));
    assert_eq!(harness.tick(40 * MS), Seen::default(), "every marker is in flight");
    // P2's connection was closed by its request timeout: re-enqueued, sent at the next tick.
    harness.coordinator.requeue_marker(LOG, 0, ID, P2);
    assert_eq!(harness.tick(41 * MS), Seen::markers(&[P2], ControlMarker::Commit, 0, 0));
    assert_eq!(harness.marker(P2, Ok(()), 42 * MS), Seen::default());
    assert_eq!(harness.state(), PrepareCommit, "P1 still has no marker");
    assert_eq!(harness.logged_states().last(), Some(&PrepareCommit));
    assert_eq!(harness.marker(P1, Ok(()), 43 * MS), Seen::default());
    assert_eq!(harness.state(), CompleteCommit);
    assert_eq!(harness.logged_states().last(), Some(&CompleteCommit));
    // A late answer to a marker of a finished transaction changes nothing.
    let written_before = harness.log.len();
    assert_eq!(harness.marker(P0, Ok(()), 34 * MS), Seen::default());
    assert_eq!(harness.tick(100 * MS), Seen::default());
    assert_eq!((harness.log.len(), harness.state()), (written_before, CompleteCommit));
}

#[test]
fn an_ongoing_transaction_past_its_timeout_is_fenced_and_aborted_by_the_tick() {
    for eos_v2 in [false, true] {
        let mut harness = ready(eos_v2);
        assert_eq!(harness.add(0, &[P0], 2, 10 * MS), reply(2, Ok((PID, 0))));
        // Started at 10 ms with a 100 ms timeout: still open at 109 ms.
        assert_eq!(harness.tick(109 * MS), Seen::default());
        assert_eq!(harness.state(), Ongoing);
        // At 110 ms: PrepareEpochFence (epoch 1, in memory), then PrepareAbort written at epoch 1.
        let effects = harness.coordinator.tick(110 * MS);
        let (written, _) = harness.hold(effects);
        assert_eq!((written.state, written.epoch, written.partitions.clone()), (PrepareAbort, 1, vec![P0]));
        assert_eq!((harness.state(), harness.meta().epoch), (PrepareEpochFence, 1));
        assert!(harness.coverage.contains(&"coordinator:txn-timeout".to_string()));
        let seen = harness.complete(&written, true, 111 * MS);
        assert_eq!(seen, Seen::markers(&[P0], ControlMarker::Abort, 1, 0));
        // The timed-out producer, still at epoch 0, is fenced: it cannot add to a transaction any more.
        assert_eq!(harness.add(0, &[P1], 3, 112 * MS), refused(3, ErrorCode::ProducerFenced));
        harness.markers_land(&[P0], 113 * MS);
        assert_eq!(harness.state(), CompleteAbort);
        assert_eq!(harness.logged_states(), vec![Empty, Ongoing, PrepareAbort, CompleteAbort]);
        let fence = [(Ongoing, PrepareEpochFence), (PrepareEpochFence, PrepareAbort)];
        assert!(fence.iter().all(|pair| harness.transitions().contains(pair)), "eos-v2 {eos_v2}");
    }
}

#[test]
fn a_timed_out_producer_cannot_end_its_transaction() {
    for eos_v2 in [false, true] {
        let mut harness = ready(eos_v2);
        assert_eq!(harness.add(0, &[P0], 2, 0), reply(2, Ok((PID, 0))));
        assert_eq!(harness.tick(TIMEOUT_NS), Seen::markers(&[P0], ControlMarker::Abort, 1, 0));
        // The zombie wakes up and asks to end its transaction at epoch 0, during the abort and after it. Under
        // eos-v2 too: Kafka's prepareFenceProducerEpoch sets lastProducerEpoch to NO_PRODUCER_EPOCH, so epoch 0
        // is merely old, never a retry of a KIP-890 bump, and every EndTxn of it is PRODUCER_FENCED.
        assert_eq!(harness.end(0, true, 3, TIMEOUT_NS + MS), refused(3, ErrorCode::ProducerFenced), "v2 {eos_v2}");
        harness.markers_land(&[P0], TIMEOUT_NS + 2 * MS);
        assert_eq!(harness.end(0, true, 4, TIMEOUT_NS + 3 * MS), refused(4, ErrorCode::ProducerFenced));
        assert_eq!(harness.end(0, false, 5, TIMEOUT_NS + 3 * MS), refused(5, ErrorCode::ProducerFenced));
        assert_eq!((harness.state(), harness.meta().epoch), (CompleteAbort, 1), "v2 {eos_v2}");
    }
}

#[test]
fn a_failed_abort_write_after_a_timeout_is_written_again_at_the_same_epoch() {
    let mut harness = ready(false);
    assert_eq!(harness.add(0, &[P0], 2, 0), reply(2, Ok((PID, 0))));
    let effects = harness.coordinator.tick(TIMEOUT_NS);
    let (written, _) = harness.hold(effects);
    // The PrepareAbort write fails: the fence stays (epoch 1, never handed to anyone), nobody is answered.
    assert_eq!(harness.complete(&written, false, TIMEOUT_NS + MS), Seen::default());
    assert_eq!((harness.state(), harness.meta().epoch, harness.meta().is_pending()), (PrepareEpochFence, 1, false));
    assert!(harness.coverage.contains(&"coordinator:txn-log-write-failed".to_string()));
    // The next tick writes the same PrepareAbort again, without a second bump (Kafka's hasFailedEpochFence).
    let effects = harness.coordinator.tick(TIMEOUT_NS + 10 * MS);
    let (again, _) = harness.hold(effects);
    assert_eq!(again, written);
    let seen = harness.complete(&again, true, TIMEOUT_NS + 11 * MS);
    assert_eq!(seen, Seen::markers(&[P0], ControlMarker::Abort, 1, 0));
    assert_eq!(harness.logged_states(), vec![Empty, Ongoing, PrepareAbort]);
}

#[test]
fn a_failed_add_partitions_write_leaves_the_partition_out_of_the_transaction() {
    let mut harness = ready(false);
    let effects = harness.add_effects(0, &[P0], 2, MS);
    let (written, _) = harness.hold(effects);
    // Not replicated: the client hears NOT_COORDINATOR (retriable), the metadata is what it was.
    assert_eq!(harness.complete(&written, false, 2 * MS), refused(2, ErrorCode::NotCoordinator));
    assert_eq!((harness.state(), harness.meta().partitions.len()), (Empty, 0));
    // The retry writes again, and the transaction starts when that write is made (3 ms), not at 1 ms.
    let effects = harness.add_effects(0, &[P0], 3, 3 * MS);
    let (written, _) = harness.hold(effects);
    assert_eq!((written.partitions.clone(), written.txn_start_ns), (vec![P0], 3 * MS));
    assert_eq!(harness.complete(&written, true, 4 * MS), reply(3, Ok((PID, 0))));
    // Adding P1 fails: P0 stays in, P1 is not in.
    let effects = harness.add_effects(0, &[P1], 4, 5 * MS);
    let (written, _) = harness.hold(effects);
    assert_eq!(written.partitions, vec![P0, P1]);
    assert_eq!(harness.complete(&written, false, 6 * MS), refused(4, ErrorCode::NotCoordinator));
    assert_eq!(harness.meta().partitions, BTreeSet::from([P0]));
    // P0 again needs no write; P1 does.
    let written_before = harness.log.len();
    assert_eq!(harness.add(0, &[P0], 5, 7 * MS), reply(5, Ok((PID, 0))));
    assert_eq!(harness.log.len(), written_before);
    assert_eq!(harness.add(0, &[P1], 6, 8 * MS), reply(6, Ok((PID, 0))));
    assert_eq!(harness.log.len(), written_before + 1);
    // The markers go to exactly the partitions whose addition was replicated.
    let seen = harness.end(0, true, 7, 9 * MS);
    assert_eq!(seen.markers, Seen::markers(&[P0, P1], ControlMarker::Commit, 0, 0).markers);
}

#[test]
fn a_failed_prepare_write_can_be_retried_at_the_same_epoch() {
    let mut harness = ready(true);
    assert_eq!(harness.add(0, &[P0], 2, MS), reply(2, Ok((PID, 0))));
    let effects = harness.end_effects(0, true, 3, 2 * MS);
    let (written, _) = harness.hold(effects);
    assert_eq!((written.epoch, written.last_epoch), (1, Some(0)));
    assert_eq!(harness.complete(&written, false, 3 * MS), refused(3, ErrorCode::NotCoordinator));
    // Nothing changed: Ongoing at epoch 0 with no last epoch, and no markers went out.
    let meta = harness.meta();
    assert_eq!((meta.state, meta.epoch, meta.last_epoch, meta.markers.len()), (Ongoing, 0, None, 0));
    // So the retry at epoch 0 is a first EndTxn again, not a retry of a bump: the very same entry.
    let effects = harness.end_effects(0, true, 4, 4 * MS);
    let (again, _) = harness.hold(effects);
    assert_eq!(again, written);
    let seen = harness.complete(&again, true, 5 * MS);
    assert_eq!(seen.replies, vec![(4, Ok((PID, 1)))]);
    assert_eq!(seen.markers, Seen::markers(&[P0], ControlMarker::Commit, 1, 0).markers);
}

#[test]
fn a_failed_complete_write_is_written_again_by_the_tick() {
    let mut harness = ready(false);
    assert_eq!(harness.add(0, &[P0], 2, MS), reply(2, Ok((PID, 0))));
    assert_eq!(harness.end(0, true, 3, 2 * MS).markers.len(), 1);
    let effects = harness.coordinator.on_marker(LOG, ID, P0, Ok(()), 3 * MS);
    let (written, _) = harness.hold(effects);
    assert_eq!(written.state, CompleteCommit);
    // Every marker landed but CompleteCommit did not replicate: still PrepareCommit, no marker is re-sent,
    // and the tick writes CompleteCommit again.
    assert_eq!(harness.complete(&written, false, 4 * MS), Seen::default());
    assert_eq!(harness.state(), PrepareCommit);
    assert_eq!(harness.tick(5 * MS), Seen::default());
    assert_eq!(harness.state(), CompleteCommit);
    assert_eq!(harness.logged_states(), vec![Empty, Ongoing, PrepareCommit, CompleteCommit]);
}

#[test]
fn a_new_coordinator_resumes_a_prepared_transaction_by_resending_its_markers() {
    for eos_v2 in [false, true] {
        let mut harness = ready(eos_v2);
        assert_eq!(harness.add(0, &[P0, P1], 2, MS), reply(2, Ok((PID, 0))));
        let epoch = u16::from(eos_v2);
        let seen = harness.end(0, true, 3, 2 * MS);
        assert_eq!(seen.markers, Seen::markers(&[P0, P1], ControlMarker::Commit, epoch, 0).markers);
        // P0's marker landed; then this broker lost the log's leadership before P1's answer came.
        harness.markers_land(&[P0], 3 * MS);
        assert_eq!(harness.coordinator.unload(LOG), Vec::new(), "nobody was waiting");
        assert!(!harness.coordinator.coordinates(LOG));
        assert_eq!(harness.logged_states(), vec![Empty, Ongoing, PrepareCommit]);
        // The new leader, at coordinator epoch 1, loads what was replicated. It cannot know which markers
        // landed, so it sends both again, stamped with its own coordinator epoch.
        let mut successor = TxnCoordinator::new(settings(eos_v2));
        let effects = successor.load(LOG, 1, &harness.log, 10 * MS);
        let mut resumed = Harness { coordinator: successor, log: harness.log.clone(), coverage: Vec::new() };
        assert_eq!(resumed.settle(effects, 10 * MS), Seen::markers(&[P0, P1], ControlMarker::Commit, epoch, 1));
        assert!(resumed.coverage.contains(&"coordinator:markers-resumed".to_string()));
        assert_eq!((resumed.state(), resumed.meta().epoch), (PrepareCommit, epoch));
        // The client's retried EndTxn (at the epoch it asked with) waits for the markers.
        assert_eq!(resumed.end(0, true, 4, 11 * MS), reply(4, CONCURRENT));
        resumed.markers_land(&[P0, P1], 12 * MS);
        assert_eq!(resumed.state(), CompleteCommit);
        assert_eq!(resumed.logged_states().last(), Some(&CompleteCommit));
    }
}

#[test]
fn unloading_answers_a_waiting_client_not_coordinator() {
    let mut harness = ready(false);
    let effects = harness.add_effects(0, &[P0], 2, MS);
    let _pending = harness.hold(effects);
    let effects = harness.coordinator.unload(LOG);
    assert_eq!(effects, vec![TxnEffect::Reply { waiter: waiter(2), result: Err(ErrorCode::NotCoordinator) }]);
    // A request to a broker that no longer coordinates the log is sent elsewhere.
    assert_eq!(harness.coordinator.tick(2 * MS), Vec::new());
    let effects = harness.coordinator.end_txn(LOG, ID, PID, 0, true, waiter(3), 2 * MS, || NEXT_PID);
    assert_eq!(effects, vec![TxnEffect::Reply { waiter: waiter(3), result: Err(ErrorCode::NotCoordinator) }]);
}

#[test]
fn a_loaded_ongoing_transaction_times_out_from_its_original_start() {
    let mut harness = ready(false);
    assert_eq!(harness.add(0, &[P0], 2, 20 * MS), reply(2, Ok((PID, 0))));
    // Fail-over at 50 ms: the entry carries the start (20 ms), so the timeout is still due at 120 ms.
    let mut successor = Harness::load(false, 1, harness.log.clone(), 50 * MS);
    assert_eq!(successor.state(), Ongoing);
    assert_eq!(successor.tick(119 * MS), Seen::default());
    let seen = successor.tick(120 * MS);
    assert_eq!(seen, Seen::markers(&[P0], ControlMarker::Abort, 1, 1));
    assert_eq!(successor.state(), PrepareAbort);
}

#[test]
fn an_idle_id_expires_through_dead_and_is_removed() {
    // Completed at 0 ms (the Empty of InitProducerId), idle since.
    let mut harness = ready(false);
    assert_eq!(harness.tick(EXPIRATION_NS - 1), Seen::default());
    let effects = harness.coordinator.tick(EXPIRATION_NS);
    let (written, _) = harness.hold(effects);
    assert_eq!(written.state, Dead);
    assert_eq!(harness.init(2, EXPIRATION_NS), reply(2, CONCURRENT), "being removed");
    assert_eq!(harness.complete(&written, true, EXPIRATION_NS + MS), Seen::default());
    assert!(harness.coordinator.metadata(LOG, ID).is_none());
    assert!(harness.transitions().contains(&(Empty, Dead)));
    // Gone from the log's point of view too: a coordinator that loads it does not know the id.
    let successor = Harness::load(false, 1, harness.log.clone(), EXPIRATION_NS + 2 * MS);
    assert!(successor.coordinator.metadata(LOG, ID).is_none());
    // A producer that comes back is a new one: a fresh producer id at epoch 0.
    let waiter = Waiter { init: true, ..waiter(3) };
    let effects = harness.coordinator.init_producer_id(LOG, ID, TIMEOUT_NS, waiter, || 2000, EXPIRATION_NS + 3 * MS);
    assert_eq!(harness.settle(effects, EXPIRATION_NS + 3 * MS), reply(3, Ok((2000, 0))));
}

#[test]
fn a_completed_id_expires_from_its_last_update_and_an_open_one_never_does() {
    let mut harness = ready(false);
    assert_eq!(harness.add(0, &[P0], 2, 10 * MS), reply(2, Ok((PID, 0))));
    assert_eq!(harness.end(0, true, 3, 20 * MS).markers.len(), 1);
    harness.markers_land(&[P0], 30 * MS);
    // CompleteCommit at 30 ms: not expired at 529 ms, expired at 530 ms.
    assert_eq!(harness.tick(30 * MS + EXPIRATION_NS - 1), Seen::default());
    assert_eq!(harness.state(), CompleteCommit);
    assert_eq!(harness.tick(30 * MS + EXPIRATION_NS), Seen::default());
    assert!(harness.coordinator.metadata(LOG, ID).is_none());
    assert!(harness.transitions().contains(&(CompleteCommit, Dead)));
    // An open transaction with a long timeout outlives the expiration: it is not idle.
    let mut open = Harness::load(false, 0, vec![entry(Ongoing, 0, &[P0], 10 * EXPIRATION_NS)], 0);
    assert_eq!(open.tick(2 * EXPIRATION_NS), Seen::default());
    assert_eq!(open.state(), Ongoing);
}

#[test]
fn transaction_marker_request_completion_handler_sorts_every_error_as_kafka_does() {
    use MarkerCompletion::*;
    assert_eq!(MarkerCompletion::of(Ok(())), Written);
    assert_eq!(MarkerCompletion::of(Err(ErrorCode::NotLeaderOrFollower)), Retry);
    assert_eq!(MarkerCompletion::of(Err(ErrorCode::NotEnoughReplicas)), Retry);
    assert_eq!(MarkerCompletion::of(Err(ErrorCode::InvalidProducerEpoch)), CancelSending);
    assert_eq!(MarkerCompletion::of(Err(ErrorCode::TransactionCoordinatorFenced)), CancelSending);
    for unexpected in [ErrorCode::NotCoordinator, ErrorCode::OutOfOrderSequence, ErrorCode::InvalidTxnState] {
        assert_eq!(MarkerCompletion::of(Err(unexpected)), Illegal, "{unexpected:?}");
    }
}

#[test]
fn transaction_marker_request_completion_handler_retries_a_retriable_error_and_completes_on_none() {
    for eos_v2 in [false, true] {
        let mut harness = ready(eos_v2);
        let epoch = u16::from(eos_v2);
        assert_eq!(harness.add(0, &[P0], 2, MS), reply(2, Ok((PID, 0))));
        assert_eq!(
            harness.end(0, true, 3, 2 * MS).markers,
            Seen::markers(&[P0], ControlMarker::Commit, epoch, 0).markers
        );
        assert_eq!(harness.marker(P0, Err(ErrorCode::NotEnoughReplicas), 3 * MS), Seen::default());
        assert_eq!(harness.state(), PrepareCommit, "a retriable error is not written");
        assert_eq!(harness.tick(4 * MS), Seen::markers(&[P0], ControlMarker::Commit, epoch, 0));
        assert_eq!(harness.marker(P0, Ok(()), 5 * MS), Seen::default());
        assert_eq!(harness.state(), CompleteCommit);
    }
}

#[test]
fn transaction_marker_request_completion_handler_cancels_sending_on_a_fenced_epoch() {
    // INVALID_PRODUCER_EPOCH is not "written": the transaction stays PrepareCommit at this coordinator, every
    // marker of it is cancelled (the one still in flight too), and the tick sends none again.
    let mut harness = ready(true);
    assert_eq!(harness.add(0, &[P0, P1], 2, MS), reply(2, Ok((PID, 0))));
    assert_eq!(harness.end(0, true, 3, 2 * MS).markers.len(), 2);
    assert_eq!(harness.marker(P0, Err(ErrorCode::InvalidProducerEpoch), 3 * MS), Seen::default());
    assert!(harness.coverage.contains(&"coordinator:marker-sending-cancelled".to_string()));
    assert_eq!(harness.marker(P1, Ok(()), 4 * MS), Seen::default(), "P1's answer no longer counts");
    assert_eq!(harness.tick(5 * MS), Seen::default());
    assert_eq!(harness.state(), PrepareCommit);
    assert_eq!(harness.logged_states().last(), Some(&PrepareCommit));
    // A coordinator that loads the log (a new coordinator epoch) resends both.
    let mut successor = TxnCoordinator::new(settings(true));
    let effects = successor.load(LOG, 1, &harness.log, 10 * MS);
    let mut resumed = Harness { coordinator: successor, log: harness.log.clone(), coverage: Vec::new() };
    assert_eq!(resumed.settle(effects, 10 * MS), Seen::markers(&[P0, P1], ControlMarker::Commit, 1, 1));
}

#[test]
fn transaction_marker_request_completion_handler_reports_an_unexpected_error_as_illegal() {
    let mut harness = ready(false);
    assert_eq!(harness.add(0, &[P0], 2, MS), reply(2, Ok((PID, 0))));
    assert_eq!(harness.end(0, true, 3, 2 * MS).markers.len(), 1);
    let seen = harness.marker(P0, Err(ErrorCode::OutOfOrderSequence), 3 * MS);
    assert_eq!(seen.illegal.len(), 1, "{seen:?}");
    assert_eq!(harness.state(), PrepareCommit);
}

#[test]
fn a_disconnected_marker_is_requeued_only_under_the_coordinator_epoch_it_was_sent_in() {
    let mut harness = Harness::load(false, 2, Vec::new(), 0);
    assert_eq!(harness.init(1, 0), reply(1, Ok((PID, 0))));
    assert_eq!(harness.add(0, &[P0], 2, MS), reply(2, Ok((PID, 0))));
    assert_eq!(harness.end(0, true, 3, 2 * MS).markers, Seen::markers(&[P0], ControlMarker::Commit, 0, 2).markers);
    // A request of coordinator epoch 1 is obsolete: its disconnection changes nothing.
    harness.coordinator.requeue_marker(LOG, 1, ID, P0);
    assert_eq!(harness.tick(3 * MS), Seen::default());
    harness.coordinator.requeue_marker(LOG, 2, ID, P0);
    assert_eq!(harness.tick(4 * MS), Seen::markers(&[P0], ControlMarker::Commit, 0, 2));
    assert!(harness.coverage.contains(&"coordinator:marker-requeued".to_string()));
    // The answer to the disconnected first request never arrives; the resent one completes it.
    assert_eq!(harness.marker(P0, Ok(()), 5 * MS), Seen::default());
    assert_eq!(harness.state(), CompleteCommit);
}

/// A TV2 id whose log says CompleteCommit at `epoch`, loaded at 0 ms.
fn near_the_maximum_epoch(epoch: u16) -> Harness {
    Harness::load(true, 0, vec![entry(CompleteCommit, epoch, &[], TIMEOUT_NS)], 0)
}

#[test]
fn end_transaction_tv2_rotates_the_producer_id_when_the_epoch_is_exhausted() {
    // Epoch 32766 = Short.MAX_VALUE - 1 is exhausted: the commit bumps it to 32767 for its markers, and the
    // client is answered the next producer id at epoch 0 (KAFKA-18660).
    let mut harness = near_the_maximum_epoch(MAX_PRODUCER_EPOCH - 1);
    assert!(harness.meta().is_epoch_exhausted());
    assert_eq!(harness.add(MAX_PRODUCER_EPOCH - 1, &[P0], 2, MS), reply(2, Ok((PID, MAX_PRODUCER_EPOCH - 1))));
    let seen = harness.end(MAX_PRODUCER_EPOCH - 1, true, 3, 2 * MS);
    assert_eq!(seen.replies, vec![(3, Ok((NEXT_PID, 0)))]);
    assert_eq!(seen.markers, Seen::markers(&[P0], ControlMarker::Commit, MAX_PRODUCER_EPOCH, 0).markers);
    assert_eq!(harness.meta().next_producer_id, Some(NEXT_PID));
    // The client's next transaction, under the new id, waits while the old id's markers go out.
    let waiting = harness.coordinator.add_partitions(LOG, ID, NEXT_PID, 0, &[P1], waiter(4), 3 * MS);
    assert_eq!(harness.settle(waiting, 3 * MS), reply(4, CONCURRENT));
    harness.markers_land(&[P0], 4 * MS);
    assert_eq!(harness.state(), CompleteCommit);
    assert_eq!((harness.meta().producer_id, harness.meta().epoch), (NEXT_PID, 0));
    assert_eq!(harness.meta().previous_producer_id, Some(PID));
    assert!(harness.coverage.contains(&"coordinator:producer-id-rotated".to_string()));
    // A retry of the EndTxn under the old id is recognised; the next transaction uses the new id.
    assert_eq!(harness.end(MAX_PRODUCER_EPOCH - 1, true, 5, 5 * MS), reply(5, Ok((NEXT_PID, 0))));
    let added = harness.coordinator.add_partitions(LOG, ID, NEXT_PID, 0, &[P1], waiter(6), 6 * MS);
    assert_eq!(harness.settle(added, 6 * MS), reply(6, Ok((NEXT_PID, 0))));
    let ended = harness.coordinator.end_txn(LOG, ID, NEXT_PID, 0, true, waiter(7), 7 * MS, || unreachable!());
    let seen = harness.settle(ended, 7 * MS);
    assert_eq!(seen.replies, vec![(7, Ok((NEXT_PID, 1)))], "a fresh id bumps as usual");
    // The old id is gone: a request under it at its last epoch is no longer recognised.
    assert_eq!(harness.add(MAX_PRODUCER_EPOCH, &[P0], 8, 8 * MS), refused(8, ErrorCode::InvalidProducerIdMapping));
}

#[test]
fn end_transaction_tv2_keeps_the_producer_id_before_the_epoch_is_exhausted() {
    let mut harness = near_the_maximum_epoch(MAX_PRODUCER_EPOCH - 2);
    assert!(!harness.meta().is_epoch_exhausted());
    assert_eq!(harness.add(MAX_PRODUCER_EPOCH - 2, &[P0], 2, MS), reply(2, Ok((PID, MAX_PRODUCER_EPOCH - 2))));
    let effects = harness.coordinator.end_txn(LOG, ID, PID, MAX_PRODUCER_EPOCH - 2, true, waiter(3), 2 * MS, || {
        unreachable!("no rotation before the epoch is exhausted")
    });
    assert_eq!(harness.settle(effects, 2 * MS).replies, vec![(3, Ok((PID, MAX_PRODUCER_EPOCH - 1)))]);
    harness.markers_land(&[P0], 3 * MS);
    assert_eq!((harness.meta().producer_id, harness.meta().epoch), (PID, MAX_PRODUCER_EPOCH - 1));
    assert!(!harness.coverage.contains(&"coordinator:producer-id-rotated".to_string()));
}

#[test]
fn prepare_increment_producer_epoch_bumps_then_rotates_at_exhaustion() {
    // Transaction version 1 rotates at InitProducerId: `prepareIncrementProducerEpoch` until the epoch is
    // exhausted, `prepareProducerIdRotation` from then on.
    let harness = near_the_maximum_epoch(MAX_PRODUCER_EPOCH - 2);
    assert_eq!(harness.meta().prepare_increment_producer_epoch(|| NEXT_PID), (PID, MAX_PRODUCER_EPOCH - 1));
    let harness = near_the_maximum_epoch(MAX_PRODUCER_EPOCH - 1);
    assert_eq!(harness.meta().prepare_increment_producer_epoch(|| NEXT_PID), (NEXT_PID, 0));
}

/// Every kind of transaction the coordinator runs, one after the other: commit, abort, timeout, a new
/// producer instance, blind aborts (eos-v2), expiration.
fn tour(eos_v2: bool) -> Harness {
    let mut harness = ready(eos_v2);
    let epoch = |harness: &Harness| harness.meta().epoch;
    harness.add(0, &[P0], 2, MS);
    harness.add(0, &[P1], 3, MS);
    harness.end(0, true, 4, 2 * MS);
    harness.markers_land(&[P0, P1], 3 * MS);
    harness.add(epoch(&harness), &[P0], 5, 4 * MS);
    harness.end(epoch(&harness), false, 6, 5 * MS);
    harness.markers_land(&[P0], 6 * MS);
    harness.add(epoch(&harness), &[P1], 7, 7 * MS);
    harness.tick(7 * MS + TIMEOUT_NS);
    harness.markers_land(&[P1], 8 * MS + TIMEOUT_NS);
    let t_ns = 10 * MS + TIMEOUT_NS;
    harness.init(8, t_ns);
    harness.add(epoch(&harness), &[P0], 9, t_ns);
    harness.end(epoch(&harness), true, 10, t_ns);
    harness.markers_land(&[P0], t_ns);
    if eos_v2 {
        // Blind aborts from CompleteCommit and, after a new instance, from Empty.
        harness.end(epoch(&harness), false, 11, t_ns);
        harness.init(12, t_ns);
        harness.end(epoch(&harness), false, 13, t_ns);
    }
    harness.init(14, t_ns);
    harness.tick(t_ns + EXPIRATION_NS);
    assert!(harness.coordinator.metadata(LOG, ID).is_none(), "the tour ends with the id expired");
    harness
}

#[test]
fn every_transition_the_coordinator_takes_is_in_kafkas_table() {
    for eos_v2 in [false, true] {
        let harness = tour(eos_v2);
        let transitions = harness.transitions();
        for (from, to) in &transitions {
            assert!(to.may_follow(*from, eos_v2), "{from} -> {to} taken with eos-v2 {eos_v2}");
        }
        let mut taken: Vec<(TxnState, TxnState)> = transitions.clone();
        taken.sort();
        taken.dedup();
        let mut expected = vec![
            (Empty, Empty),
            (Empty, Ongoing),
            (Ongoing, Ongoing),
            (Ongoing, PrepareCommit),
            (PrepareCommit, CompleteCommit),
            (CompleteCommit, Ongoing),
            (Ongoing, PrepareAbort),
            (PrepareAbort, CompleteAbort),
            (CompleteAbort, Ongoing),
            (Ongoing, PrepareEpochFence),
            (PrepareEpochFence, PrepareAbort),
            (CompleteAbort, Empty),
            (Empty, Dead),
        ];
        if eos_v2 {
            expected.extend([(CompleteCommit, PrepareAbort), (Empty, PrepareAbort)]);
        } else {
            expected.push((CompleteCommit, Empty));
        }
        expected.sort();
        assert_eq!(taken, expected, "eos-v2 {eos_v2}");
        // Every state but the fence was written to the log; the fence lives in memory only, as in Kafka.
        assert!(!harness.logged_states().contains(&PrepareEpochFence));
        assert!(harness.coverage.contains(&"txn-state:PrepareEpochFence".to_string()));
    }
}

/// The coordinator's public methods cannot take an illegal transition: every write it begins goes to a
/// state that is legal from the state it matched on, `on_append` only accepts the entry it has pending, and
/// nothing changes the state while an entry is pending. So this test reaches into the metadata (a child
/// module may) to put the pending entry and the state out of step, as a bug elsewhere would, and checks
/// that the table in `on_append` catches it instead of applying it.
#[test]
fn a_transition_outside_the_table_is_reported_as_illegal_and_not_taken() {
    let mut harness = Harness::load(false, 0, vec![entry(Ongoing, 0, &[P0], TIMEOUT_NS)], 0);
    let complete = entry(CompleteCommit, 0, &[P0], TIMEOUT_NS);
    harness.coordinator.partitions.get_mut(&LOG).unwrap().txns.get_mut(ID).unwrap().pending =
        Some((complete.clone().into(), Some(waiter(1))));
    let effects = harness.coordinator.on_append(LOG, &complete, true, MS);
    let expected = format!("{ID}: illegal transaction state transition Ongoing -> CompleteCommit");
    assert_eq!(effects, vec![TxnEffect::Illegal(expected)]);
    assert_eq!((harness.state(), harness.meta().is_pending()), (Ongoing, false), "the transition is not applied");
    // The fence checks the table too: a completed transaction is never fenced.
    let mut done = Harness::load(false, 0, vec![entry(CompleteCommit, 0, &[], TIMEOUT_NS)], 0);
    let effects = done.coordinator.fence_and_abort(LOG, ID, MS);
    let expected = format!("{ID}: illegal transaction state transition CompleteCommit -> PrepareEpochFence");
    assert_eq!(effects, vec![TxnEffect::Illegal(expected)]);
    assert_eq!((done.state(), done.meta().epoch), (CompleteCommit, 0));
}

#[test]
fn the_table_on_append_depends_on_the_variant() {
    // A blind abort entry (Empty → PrepareAbort) is illegal for an eos-v1 coordinator, legal for eos-v2.
    for eos_v2 in [false, true] {
        let mut harness = Harness::load(eos_v2, 0, vec![entry(Empty, 0, &[], TIMEOUT_NS)], 0);
        let abort = entry(PrepareAbort, 1, &[], TIMEOUT_NS);
        harness.coordinator.partitions.get_mut(&LOG).unwrap().txns.get_mut(ID).unwrap().pending =
            Some((abort.clone().into(), None));
        let seen = harness.complete(&abort, true, MS);
        if eos_v2 {
            assert_eq!((seen.illegal.len(), harness.state()), (0, CompleteAbort));
        } else {
            assert_eq!(seen.illegal, vec![format!("{ID}: illegal transaction state transition Empty -> PrepareAbort")]);
            assert_eq!(harness.state(), Empty);
        }
    }
}

#[test]
fn end_txn_with_an_epoch_the_coordinator_never_handed_out_is_refused() {
    let mut harness = ready(false);
    assert_eq!(harness.add(0, &[P0], 2, MS), reply(2, Ok((PID, 0))));
    // Kafka enforces strict equality on a client's EndTxn epoch; AddPartitions here already refuses epoch 1.
    assert_eq!(harness.add(1, &[P1], 3, 2 * MS), refused(3, ErrorCode::InvalidProducerEpoch));
    let seen = harness.end(1, true, 4, 2 * MS);
    assert!(
        matches!(seen.replies[..], [(4, Err(ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch))]),
        "{seen:?}"
    );
    assert_eq!((harness.state(), harness.logged_states().len()), (Ongoing, 2), "nothing written");
}

/// KIP-360: InitProducerId from a producer that holds `expected` (its producer id and epoch).
fn init_expecting(harness: &mut Harness, expected: (u64, u16), request_id: u64, now_ns: u64) -> Seen {
    let waiter = Waiter { init: true, ..waiter(request_id) };
    let effects =
        harness.coordinator.init_producer_id_expecting(LOG, ID, TIMEOUT_NS, Some(expected), waiter, || 2000, now_ns);
    harness.settle(effects, now_ns)
}

#[test]
fn handle_init_producer_id_with_the_current_epoch_bumps_it_and_a_retry_gets_the_same_epoch() {
    // prepareIncrementProducerEpoch: the producer aborted at epoch 0 and asks for a bump with (1000, 0).
    let mut harness = ready(false);
    assert_eq!(harness.add(0, &[P0], 2, MS), reply(2, Ok((PID, 0))));
    let aborting = Seen { replies: vec![(3, Ok((PID, 0)))], ..Seen::markers(&[P0], ControlMarker::Abort, 0, 0) };
    assert_eq!(harness.end(0, false, 3, 2 * MS), aborting);
    harness.markers_land(&[P0], 3 * MS);
    assert_eq!(harness.state(), CompleteAbort);
    assert_eq!(init_expecting(&mut harness, (PID, 0), 4, 4 * MS), reply(4, Ok((PID, 1))));
    assert_eq!((harness.state(), harness.meta().epoch, harness.meta().last_epoch), (Empty, 1, Some(0)));
    assert!(harness.coverage.contains(&"coordinator:init-epoch-bumped".to_string()));
    // The answer was lost and the producer asks again with epoch 0: epoch 1 again, no second bump.
    assert_eq!(init_expecting(&mut harness, (PID, 0), 5, 5 * MS), reply(5, Ok((PID, 1))));
    assert_eq!(harness.meta().epoch, 1);
    assert!(harness.coverage.contains(&"coordinator:init-bump-retried".to_string()));
    // The bumped producer goes on at epoch 1; its old epoch is fenced.
    assert_eq!(harness.add(1, &[P1], 6, 6 * MS), reply(6, Ok((PID, 1))));
    assert_eq!(harness.add(0, &[P1], 7, 6 * MS), refused(7, ErrorCode::ProducerFenced));
}

#[test]
fn handle_init_producer_id_fences_a_producer_id_or_epoch_that_does_not_match() {
    // isValidProducerId: another producer id is fenced, as is an epoch neither current nor the last one.
    let mut harness = ready(false);
    assert_eq!(harness.init(2, MS), reply(2, Ok((PID, 1))), "a new instance took over at epoch 1");
    assert_eq!(harness.meta().last_epoch, None, "a fresh InitProducerId keeps no last epoch");
    assert_eq!(init_expecting(&mut harness, (PID + 1, 1), 3, 2 * MS), refused(3, ErrorCode::ProducerFenced));
    assert_eq!(init_expecting(&mut harness, (PID, 0), 4, 2 * MS), refused(4, ErrorCode::ProducerFenced));
    assert!(harness.coverage.contains(&"coordinator:init-fenced-producer-id".to_string()));
    assert!(harness.coverage.contains(&"coordinator:init-fenced-epoch".to_string()));
    assert_eq!(harness.meta().epoch, 1, "nothing was bumped");
    // The current holder of epoch 1 may bump.
    assert_eq!(init_expecting(&mut harness, (PID, 1), 5, 3 * MS), reply(5, Ok((PID, 2))));
}

#[test]
fn handle_init_producer_id_with_an_expected_epoch_waits_for_prepare_and_aborts_ongoing() {
    // PrepareCommit: CONCURRENT_TRANSACTIONS; Ongoing: the transaction is fenced and aborted first.
    let mut harness = ready(false);
    assert_eq!(harness.add(0, &[P0], 2, MS), reply(2, Ok((PID, 0))));
    let seen = init_expecting(&mut harness, (PID, 0), 3, 2 * MS);
    assert_eq!(seen.replies, vec![(3, CONCURRENT)]);
    assert_eq!(seen.markers, vec![(P0, ControlMarker::Abort, 1, 0)], "the open transaction is aborted at epoch 1");
    assert_eq!(init_expecting(&mut harness, (PID, 0), 4, 3 * MS), reply(4, CONCURRENT), "markers pending");
    harness.markers_land(&[P0], 4 * MS);
    // The fence took epoch 1 from this producer: its expected epoch 0 is now neither current nor last.
    assert_eq!(init_expecting(&mut harness, (PID, 0), 5, 5 * MS), refused(5, ErrorCode::ProducerFenced));
}

#[test]
fn prepare_producer_id_rotation_on_a_kip_360_bump_at_the_exhausted_epoch_and_its_retry() {
    // Transaction version 1: a producer at the exhausted epoch 32766 aborts and asks for its KIP-360 bump. The
    // coordinator rotates to producer id 2000 at epoch 0; a retry with the old id and epoch (the answer was
    // lost) is recognised by `isValidProducerId`'s previous-id rule and gets the same new id back.
    let exhausted = MAX_PRODUCER_EPOCH - 1;
    let mut harness = Harness::load(false, 0, vec![entry(CompleteAbort, exhausted, &[], TIMEOUT_NS)], 0);
    assert_eq!(init_expecting(&mut harness, (PID, exhausted), 1, MS), reply(1, Ok((2000, 0))));
    assert_eq!((harness.meta().producer_id, harness.meta().epoch), (2000, 0));
    assert!(harness.coverage.contains(&"coordinator:producer-id-rotated".to_string()));
    assert_eq!(init_expecting(&mut harness, (PID, exhausted), 2, 2 * MS), reply(2, Ok((2000, 0))));
    // The old id at any other epoch is a zombie.
    assert_eq!(init_expecting(&mut harness, (PID, 7), 3, 3 * MS), refused(3, ErrorCode::ProducerFenced));
}

#[test]
fn handle_verify_partitions_in_transaction_passes_only_partitions_of_the_open_transaction() {
    // KIP-890 part 1 on transaction version 1 (AddPartitionsToTxn with verifyOnly): a leader's check passes for a
    // partition the client added to the ongoing transaction, and is TRANSACTION_ABORTABLE for any other — and for
    // the same partition once the transaction ended, so a write (or TxnOffsetCommit) delayed past its
    // transaction's end cannot open a new one (eos-tv1-verify --wide seed 805 hung `__consumer_offsets` when
    // an ended transaction's partitions still passed).
    let mut harness = ready(false);
    let verify = |harness: &mut Harness, partition: PartitionId, request_id: u64, now_ns: u64| {
        let effects = harness.coordinator.verify_partitions(LOG, ID, PID, 0, &[partition], waiter(request_id));
        harness.settle(effects, now_ns)
    };
    assert_eq!(harness.add(0, &[P0], 2, MS), reply(2, Ok((PID, 0))));
    assert_eq!(verify(&mut harness, P0, 3, MS), reply(3, Ok((PID, 0))));
    assert_eq!(verify(&mut harness, P1, 4, MS), refused(4, ErrorCode::TransactionAbortable));
    let committing = Seen { replies: vec![(5, Ok((PID, 0)))], ..Seen::markers(&[P0], ControlMarker::Commit, 0, 0) };
    assert_eq!(harness.end(0, true, 5, 2 * MS), committing);
    assert_eq!(verify(&mut harness, P0, 6, 2 * MS), refused(6, ErrorCode::ConcurrentTransactions));
    harness.markers_land(&[P0], 3 * MS);
    assert_eq!(harness.state(), CompleteCommit);
    assert_eq!(verify(&mut harness, P0, 7, 4 * MS), refused(7, ErrorCode::TransactionAbortable));
}

#[path = "txn_bug_tests.rs"]
mod kafka_bugs;
