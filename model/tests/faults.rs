//! End-to-end runs of tiny clusters under hand-placed faults, each with the outcome worked out by hand.

use eosim_checker::{check, AnomalyKind, Guarantee, OpFn, OpType};
use eosim_model::{simulate, Scenario, SimOutcome};
use eosim_sim::{Fault, FaultAction, FaultKind, FaultSchedule, LinkDirection, NodeId};

const MS: u64 = 1_000_000;

/// One broker, one partition, one producer with one thread sending `messages` values, one consumer.
fn tiny(variant: &str, messages: u32) -> Scenario {
    let text = format!(
        r#"
name = "tiny"
description = "hand-built"
variant = "{variant}"
guarantee = "idempotent"
duration_ms = 400
[cluster]
brokers = 1
topics = [{{ name = "t", partitions = 1 }}]
[workload]
producers = 1
threads_per_producer = 1
messages_per_producer = {messages}
send_interval_ms = 5
"#
    );
    Scenario::from_toml("tiny.toml", &text).expect("valid scenario")
}

fn with_faults(mut scenario: Scenario, faults: Vec<Fault>) -> Scenario {
    scenario.faults.schedule = Some(FaultSchedule { faults });
    scenario
}

fn link(kind: FaultKind, direction: LinkDirection, at_ms: u64, duration_ms: u64) -> Fault {
    let action = FaultAction::Link { kind, direction, probability_ppm: 1_000_000, delay_ns_max: 0 };
    Fault { at_ns: at_ms * MS, duration_ns: duration_ms * MS, action }
}

/// Node ids in a tiny cluster: broker 0, controller 1, producer 2, consumer 3.
const BROKER: NodeId = NodeId(0);
const PRODUCER: NodeId = NodeId(2);
const CONSUMER: NodeId = NodeId(3);

fn kinds(outcome: &SimOutcome) -> Vec<AnomalyKind> {
    check(&outcome.history, Guarantee::Idempotent).violations().map(|anomaly| anomaly.kind).collect()
}

fn counter(outcome: &SimOutcome, name: &str) -> u64 {
    outcome.stats.counters.get(name).copied().unwrap_or(0)
}

fn acked_sends(outcome: &SimOutcome) -> usize {
    outcome.history.ops.iter().filter(|op| op.f == OpFn::Send && op.op_type == OpType::Ok).count()
}

#[test]
fn without_faults_every_value_is_acknowledged_and_read_once() {
    let outcome = simulate(&tiny("idempotent", 20), 1);
    assert!(outcome.stall.is_none());
    assert_eq!(acked_sends(&outcome), 20);
    assert!(kinds(&outcome).is_empty());
    let final_polls = outcome.history.ops.iter().filter(|op| op.final_poll).count();
    assert_eq!(final_polls, 1, "one consumer, one final poll");
}

#[test]
fn lost_acks_are_deduplicated_by_an_idempotent_producer() {
    // Every ack from 3 ms (after the producer id arrived) to 63 ms is lost: the producer retries after its
    // 30 ms request timeout, the broker recognises the retried batches by sequence and answers with the
    // original offsets.
    let scenario = with_faults(tiny("idempotent", 10), vec![link(FaultKind::LostAck, LinkDirection::Acks, 3, 60)]);
    let outcome = simulate(&scenario, 1);
    assert!(counter(&outcome, "broker:duplicate-batch-deduplicated") >= 1);
    assert_eq!(acked_sends(&outcome), 10);
    assert!(kinds(&outcome).is_empty(), "no duplicate: {:?}", kinds(&outcome));
}

#[test]
fn lost_acks_duplicate_without_idempotence() {
    // The same faults with at-least-once: the broker cannot recognise a retry and appends it again.
    let scenario = with_faults(tiny("at-least-once", 10), vec![link(FaultKind::LostAck, LinkDirection::Acks, 3, 60)]);
    let outcome = simulate(&scenario, 1);
    assert!(counter(&outcome, "client:retry") >= 1);
    assert!(kinds(&outcome).contains(&AnomalyKind::Duplicate));
    assert!(!kinds(&outcome).contains(&AnomalyKind::LostWrite));
}

#[test]
fn lost_requests_lose_fire_and_forget_writes() {
    // acks=0: each send is ok the moment it leaves; those sent in the first 60 ms never arrive.
    let scenario =
        with_faults(tiny("at-most-once", 10), vec![link(FaultKind::LostRequest, LinkDirection::Requests, 0, 60)]);
    let outcome = simulate(&scenario, 1);
    assert_eq!(acked_sends(&outcome), 10, "acks=0 acknowledges everything");
    assert_eq!(kinds(&outcome), vec![AnomalyKind::LostWrite; kinds(&outcome).len()]);
    assert!(!kinds(&outcome).is_empty());
}

#[test]
fn a_broker_crash_keeps_the_log_and_the_producer_state() {
    // Acks are lost, then the broker crashes before the retries arrive. The log is flushed on every append
    // and the restarted broker rebuilds producer state from it, so the retries are still deduplicated.
    let crash = Fault {
        at_ns: 20 * MS,
        duration_ns: 50 * MS,
        action: FaultAction::Crash { node: BROKER, kind: FaultKind::ServerCrash },
    };
    let faults = vec![link(FaultKind::LostAck, LinkDirection::Acks, 3, 17), crash];
    let outcome = simulate(&with_faults(tiny("idempotent", 10), faults), 1);
    assert_eq!(outcome.stats.faults.get("broker-crash"), Some(&1));
    assert!(counter(&outcome, "broker:duplicate-batch-deduplicated") >= 1);
    assert!(kinds(&outcome).is_empty(), "{:?}", kinds(&outcome));
}

/// Ten acknowledged values on a broker that never flushes (Kafka's default), then the broker goes down at
/// 150 ms, once every send was acknowledged, by the given kind of crash. The consumer is paused until 300 ms,
/// so it reads only what the restarted broker still has.
fn unflushed_then_down(kind: FaultKind) -> SimOutcome {
    let mut scenario = tiny("idempotent", 10);
    scenario.cluster.flush_messages = 0;
    let down = Fault { at_ns: 150 * MS, duration_ns: 50 * MS, action: FaultAction::Crash { node: BROKER, kind } };
    let pause = Fault {
        at_ns: MS,
        duration_ns: 299 * MS,
        action: FaultAction::Pause { node: CONSUMER, kind: FaultKind::ConsumerPause },
    };
    simulate(&with_faults(scenario, vec![pause, down]), 1)
}

#[test]
fn a_broker_process_crash_keeps_the_unflushed_tail() {
    // The page cache outlives the process: the restarted broker re-reads all ten values.
    let outcome = unflushed_then_down(FaultKind::ServerCrash);
    assert_eq!(outcome.stats.faults.get("broker-crash"), Some(&1));
    assert_eq!(acked_sends(&outcome), 10);
    assert!(kinds(&outcome).is_empty(), "{:?}", kinds(&outcome));
}

#[test]
fn a_broker_power_loss_drops_the_unflushed_tail() {
    // Nothing was fsynced and there is no other replica: every acknowledged value is gone.
    let outcome = unflushed_then_down(FaultKind::ServerPowerLoss);
    assert_eq!(outcome.stats.faults.get("broker-power-loss"), Some(&1));
    assert_eq!(acked_sends(&outcome), 10);
    let lost = kinds(&outcome).iter().filter(|kind| **kind == AnomalyKind::LostWrite).count();
    assert_eq!(lost, 10, "{:?}", kinds(&outcome));
}

#[test]
fn a_restarted_producer_resends_and_duplicates() {
    // Acks are lost, so the producer never learns its first values landed; it crashes, restarts with a new
    // producer id and re-sends its outbox. The broker sees new batches from an unknown producer id.
    let crash = Fault {
        at_ns: 25 * MS,
        duration_ns: 10 * MS,
        action: FaultAction::Crash { node: PRODUCER, kind: FaultKind::ClientCrash },
    };
    let faults = vec![link(FaultKind::LostAck, LinkDirection::Acks, 3, 37), crash];
    let outcome = simulate(&with_faults(tiny("idempotent", 10), faults), 1);
    assert_eq!(counter(&outcome, "app:producer-restart"), 1);
    assert!(counter(&outcome, "app:resend-after-restart") >= 1);
    assert!(kinds(&outcome).contains(&AnomalyKind::Duplicate));
    let crashes = outcome.history.ops.iter().filter(|op| op.f == OpFn::Crash && op.op_type == OpType::Info).count();
    assert_eq!(crashes, 1, "one thread, one crash op");
}

#[test]
fn a_paused_producer_resumes_unaware_and_stays_correct() {
    let pause = Fault {
        at_ns: 10 * MS,
        duration_ns: 200 * MS,
        action: FaultAction::Pause { node: PRODUCER, kind: FaultKind::ClientPause },
    };
    let outcome = simulate(&with_faults(tiny("idempotent", 10), vec![pause]), 1);
    assert_eq!(outcome.stats.faults.get("producer-pause"), Some(&1));
    assert_eq!(acked_sends(&outcome), 10);
    assert!(kinds(&outcome).is_empty());
}

#[test]
fn a_partition_between_producer_and_broker_heals() {
    let action = FaultAction::Partition {
        kind: eosim_sim::PartitionKind::Symmetric,
        side_a: vec![BROKER],
        side_b: vec![PRODUCER],
    };
    let partition = Fault { at_ns: 5 * MS, duration_ns: 100 * MS, action };
    let outcome = simulate(&with_faults(tiny("idempotent", 10), vec![partition]), 1);
    assert!(counter(&outcome, "client:request-timeout") >= 1);
    assert_eq!(acked_sends(&outcome), 10);
    assert!(kinds(&outcome).is_empty());
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/idempotent-restart.toml"))
        .expect("built-in scenario");
    let scenario = Scenario::from_toml("idempotent-restart.toml", &text).expect("valid");
    for seed in 0..5 {
        let a = simulate(&scenario, seed);
        let b = simulate(&scenario, seed);
        assert_eq!(a.trace_hash, b.trace_hash);
        assert_eq!(a.history, b.history);
        assert_eq!(a.schedule, b.schedule);
    }
    assert_ne!(simulate(&scenario, 1).trace_hash, simulate(&scenario, 2).trace_hash);
}

#[test]
fn replaying_the_resolved_schedule_gives_the_same_hash() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/idempotent.toml"))
        .expect("built-in scenario");
    let scenario = Scenario::from_toml("idempotent.toml", &text).expect("valid");
    let original = simulate(&scenario, 7);
    let replayed = simulate(&with_faults(scenario, original.schedule.faults.clone()), 7);
    assert_eq!(original.trace_hash, replayed.trace_hash);
}
