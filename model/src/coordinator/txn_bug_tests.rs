//! The coordinator code paths the `bugs.rs` switches put back, each against the fixed path it replaced, on the
//! harness of `txn_tests.rs`.

use super::*;

impl Harness {
    /// A coordinator of `LOG` with `bugs` put back, loaded from `log`.
    fn with_bugs(eos_v2: bool, bugs: &[KafkaBug], log: Vec<TxnLogEntry>) -> Harness {
        let mut coordinator = TxnCoordinator::new(settings(eos_v2)).with_kafka_bugs(bugs);
        coordinator.load(LOG, 0, &log, 0);
        let mut harness = Harness { coordinator, log, coverage: Vec::new() };
        harness.drain_coverage();
        harness
    }
}

/// Producer 1000 at `epoch`, Empty, as an InitProducerId left it.
fn empty_at(epoch: u16) -> Vec<TxnLogEntry> {
    vec![entry(Empty, epoch, &[], TIMEOUT_NS)]
}

#[test]
fn append_transaction_to_log_before_kafka_5351_leaves_the_pending_state_set() {
    for bug in [true, false] {
        let bugs = if bug { vec![KafkaBug::Kafka5351] } else { Vec::new() };
        let mut harness = Harness::with_bugs(false, &bugs, empty_at(0));
        let effects = harness.add_effects(0, &[P0], 2, MS);
        let (written, _) = harness.hold(effects);
        // NOT_ENOUGH_REPLICAS: the client hears the error either way.
        assert_eq!(harness.complete(&written, false, 2 * MS), refused(2, ErrorCode::NotCoordinator));
        assert_eq!(harness.meta().is_pending(), bug, "the switch leaves pendingState set");
        if bug {
            // Every retry is CONCURRENT_TRANSACTIONS, for as long as this coordinator holds the id.
            assert_eq!(harness.add(0, &[P0], 3, 3 * MS), reply(3, CONCURRENT));
            assert_eq!(harness.add(0, &[P0], 4, 10_000 * MS), reply(4, CONCURRENT));
            assert_eq!(harness.end(0, false, 5, 10_000 * MS), reply(5, CONCURRENT));
            assert!(harness.coverage.contains(&"coordinator:pending-state-left-set".to_string()));
        } else {
            assert_eq!(harness.add(0, &[P0], 3, 3 * MS), reply(3, Ok((PID, 0))));
        }
    }
}

#[test]
fn a_failed_fence_write_before_kafka_5351_stops_the_timeout_for_good() {
    // An Ongoing transaction times out; its PrepareAbort fails. Fixed, the next tick writes it again; with the
    // switch the pending state blocks every later tick, so the transaction is never aborted.
    for bug in [true, false] {
        let bugs = if bug { vec![KafkaBug::Kafka5351] } else { Vec::new() };
        let mut harness = Harness::with_bugs(false, &bugs, vec![entry(Ongoing, 0, &[P0], TIMEOUT_NS)]);
        let effects = harness.coordinator.tick(TIMEOUT_NS);
        let (written, _) = harness.hold(effects);
        assert_eq!(harness.complete(&written, false, TIMEOUT_NS + MS), Seen::default());
        let seen = harness.tick(TIMEOUT_NS + 10 * MS);
        if bug {
            assert_eq!(seen, Seen::default());
            assert_eq!((harness.state(), harness.meta().is_pending()), (PrepareEpochFence, true));
        } else {
            assert_eq!(seen, Seen::markers(&[P0], ControlMarker::Abort, 1, 0));
        }
    }
}

#[test]
fn abort_timed_out_transactions_before_kafka_6119_leaves_the_epoch_so_the_zombie_commits_the_rest() {
    let mut harness = Harness::with_bugs(false, &[KafkaBug::Kafka6119], empty_at(0));
    assert_eq!(harness.add(0, &[P0], 2, 0), reply(2, Ok((PID, 0))));
    // Timed out: PrepareAbort at epoch 0 with no PrepareEpochFence; the ABORT marker carries epoch 0.
    assert_eq!(harness.tick(TIMEOUT_NS), Seen::markers(&[P0], ControlMarker::Abort, 0, 0));
    assert!(harness.coverage.contains(&"coordinator:txn-timeout-unfenced".to_string()));
    harness.markers_land(&[P0], TIMEOUT_NS + MS);
    assert_eq!((harness.state(), harness.meta().epoch), (CompleteAbort, 0));
    // The producer, paused through all of it, adds its next partition at epoch 0: a new transaction, which it
    // commits as if it were the one it began. P0's records were aborted, P1's are committed.
    assert_eq!(harness.add(0, &[P1], 3, TIMEOUT_NS + 2 * MS), reply(3, Ok((PID, 0))));
    let seen = harness.end(0, true, 4, TIMEOUT_NS + 3 * MS);
    assert_eq!(seen.replies, vec![(4, Ok((PID, 0)))]);
    assert_eq!(seen.markers, Seen::markers(&[P1], ControlMarker::Commit, 0, 0).markers);
    assert!(!harness.transitions().contains(&(Ongoing, PrepareEpochFence)));
    // Fixed: the timeout fences epoch 0 first, and the zombie's next request is PRODUCER_FENCED.
    let mut fixed = Harness::with_bugs(false, &[], empty_at(0));
    assert_eq!(fixed.add(0, &[P0], 2, 0), reply(2, Ok((PID, 0))));
    assert_eq!(fixed.tick(TIMEOUT_NS), Seen::markers(&[P0], ControlMarker::Abort, 1, 0));
    assert_eq!(fixed.add(0, &[P1], 3, TIMEOUT_NS + 2 * MS), refused(3, ErrorCode::ProducerFenced));
}

#[test]
fn end_transaction_after_a_fence_before_kafka_19367_bumps_the_epoch_twice() {
    // Transaction version 2, an Ongoing transaction at epoch 5 times out. Fixed: the fence bumps to 6 and the
    // abort is written at 6. With the switch `prepareAbortOrCommit` bumps once more: PrepareAbort at 7.
    for (bugs, abort_epoch) in [(vec![KafkaBug::Kafka19367], 7), (Vec::new(), 6)] {
        let mut harness = Harness::with_bugs(true, &bugs, vec![entry(Ongoing, 5, &[P0], TIMEOUT_NS)]);
        assert_eq!(harness.tick(TIMEOUT_NS), Seen::markers(&[P0], ControlMarker::Abort, abort_epoch, 0));
        harness.markers_land(&[P0], TIMEOUT_NS + MS);
        assert_eq!((harness.state(), harness.meta().epoch), (CompleteAbort, abort_epoch));
    }
}

#[test]
fn end_transaction_after_a_fence_at_epoch_32766_before_kafka_19367_overflows_and_the_transaction_stays_open() {
    let exhausted = MAX_PRODUCER_EPOCH - 1;
    let open = vec![entry(Ongoing, exhausted, &[P0], TIMEOUT_NS)];
    let mut harness = Harness::with_bugs(true, &[KafkaBug::Kafka19367], open.clone());
    // The fence takes 32767; the second bump overflows the short, and nothing is written.
    assert_eq!(harness.tick(TIMEOUT_NS), Seen::default());
    assert_eq!((harness.state(), harness.meta().epoch), (Ongoing, MAX_PRODUCER_EPOCH));
    assert!(harness.coverage.contains(&"coordinator:abort-epoch-overflow".to_string()));
    // Every later fence, by the timeout or a new producer's InitProducerId, finds Short.MaxValue and throws.
    assert_eq!(harness.tick(TIMEOUT_NS + 10 * MS), Seen::default());
    assert_eq!(harness.init(2, TIMEOUT_NS + 11 * MS), reply(2, CONCURRENT));
    assert_eq!((harness.state(), harness.log.len()), (Ongoing, 1), "never aborted");
    assert!(harness.coverage.contains(&"coordinator:fence-refused-at-max-epoch".to_string()));
    // Fixed: the abort is written at the fenced epoch 32767 and its markers go out.
    let mut fixed = Harness::with_bugs(true, &[], open);
    let seen = fixed.tick(TIMEOUT_NS);
    assert_eq!(seen, Seen::markers(&[P0], ControlMarker::Abort, MAX_PRODUCER_EPOCH, 0));
}

#[test]
fn a_failed_fence_write_before_kafka_9666_bumps_the_epoch_again_until_it_cannot_be_fenced() {
    // Transaction version 1, an Ongoing transaction at epoch 32765 times out while the transaction log refuses
    // every write (NOT_ENOUGH_REPLICAS).
    let open = vec![entry(Ongoing, MAX_PRODUCER_EPOCH - 2, &[P0], TIMEOUT_NS)];
    let mut harness = Harness::with_bugs(false, &[KafkaBug::Kafka9666], open.clone());
    let fence = |harness: &mut Harness, now_ns: u64| {
        let effects = harness.coordinator.tick(now_ns);
        let (written, _) = harness.hold(effects);
        assert_eq!(harness.complete(&written, false, now_ns), Seen::default());
        written.epoch
    };
    // Each failed fence leaves its bump in memory and the transaction Ongoing: the next tick bumps again.
    assert_eq!(fence(&mut harness, TIMEOUT_NS), MAX_PRODUCER_EPOCH - 1);
    assert_eq!((harness.state(), harness.meta().epoch), (Ongoing, MAX_PRODUCER_EPOCH - 1));
    assert_eq!(fence(&mut harness, TIMEOUT_NS + 10 * MS), MAX_PRODUCER_EPOCH);
    // At Short.MaxValue `prepareFenceProducerEpoch` throws: once the log is back nothing aborts the transaction.
    assert_eq!(harness.tick(TIMEOUT_NS + 20 * MS), Seen::default());
    assert_eq!(harness.init(2, TIMEOUT_NS + 21 * MS), reply(2, CONCURRENT));
    assert_eq!((harness.state(), harness.log.len()), (Ongoing, 1), "never aborted");
    assert!(harness.coverage.contains(&"coordinator:fence-refused-at-max-epoch".to_string()));
    // Fixed (`hasFailedEpochFence`): the failed fence stays PrepareEpochFence, and the next tick writes the
    // same abort at the first bumped epoch.
    let mut fixed = Harness::with_bugs(false, &[], open);
    assert_eq!(fence(&mut fixed, TIMEOUT_NS), MAX_PRODUCER_EPOCH - 1);
    assert_eq!((fixed.state(), fixed.meta().epoch), (PrepareEpochFence, MAX_PRODUCER_EPOCH - 1));
    let seen = fixed.tick(TIMEOUT_NS + 10 * MS);
    assert_eq!(seen, Seen::markers(&[P0], ControlMarker::Abort, MAX_PRODUCER_EPOCH - 1, 0));
}

#[test]
fn remove_expired_transactional_ids_before_kafka_7519_leaves_a_failed_tombstone_pending() {
    for bug in [true, false] {
        let bugs = if bug { vec![KafkaBug::Kafka7519] } else { Vec::new() };
        let mut harness = Harness::with_bugs(false, &bugs, vec![entry(CompleteCommit, 3, &[], TIMEOUT_NS)]);
        // Idle past `transactional.id.expiration.ms`: the tombstone is written, and the write fails.
        let effects = harness.coordinator.tick(EXPIRATION_NS);
        let (tombstone, _) = harness.hold(effects);
        assert_eq!(tombstone.state, Dead);
        assert_eq!(harness.complete(&tombstone, false, EXPIRATION_NS + MS), Seen::default());
        assert_eq!(harness.meta().is_pending(), bug);
        let answer = harness.init(2, EXPIRATION_NS + 2 * MS);
        if bug {
            // The producer of the id comes back: CONCURRENT_TRANSACTIONS, for as long as this coordinator holds it.
            assert_eq!(answer, reply(2, CONCURRENT));
            assert_eq!(harness.init(3, 100 * EXPIRATION_NS), reply(3, CONCURRENT));
        } else {
            assert_eq!(answer, reply(2, Ok((PID, 4))));
        }
    }
    // The switch is only the expiry's callback: another failed write clears its pending state.
    let mut harness = Harness::with_bugs(false, &[KafkaBug::Kafka7519], empty_at(0));
    let effects = harness.add_effects(0, &[P0], 2, MS);
    let (written, _) = harness.hold(effects);
    assert_eq!(harness.complete(&written, false, 2 * MS), refused(2, ErrorCode::NotCoordinator));
    assert!(!harness.meta().is_pending());
}
