//! The producer-state lifecycle in a tiny cluster under one hand-placed fault, each outcome worked out by hand:
//! every ack from 3 ms to 63 ms is lost, so the producer's batches sit in the log unacknowledged and are
//! retried after its 30 ms request timeout. Whether a retry is recognised depends on whether the partition
//! still knows the producer id when it arrives.

use eosim_checker::{check, AnomalyKind, Guarantee};
use eosim_model::{simulate, Scenario, SimOutcome};
use eosim_sim::{Fault, FaultAction, FaultKind, FaultSchedule, LinkDirection};

const MS: u64 = 1_000_000;

/// One broker, one partition, one idempotent producer thread sending ten values, one consumer; `cluster` adds
/// lifecycle keys; acks are lost from 3 ms to 63 ms.
fn lost_acks(cluster: &str) -> Scenario {
    let text = format!(
        r#"
name = "tiny"
description = "hand-built"
variant = "idempotent"
duration_ms = 400
[cluster]
brokers = 1
topics = [{{ name = "t", partitions = 1 }}]
{cluster}
[workload]
producers = 1
threads_per_producer = 1
messages_per_producer = 10
send_interval_ms = 5
"#
    );
    let mut scenario = Scenario::from_toml("tiny.toml", &text).expect("valid scenario");
    let action = FaultAction::Link {
        kind: FaultKind::LostAck,
        direction: LinkDirection::Acks,
        probability_ppm: 1_000_000,
        delay_ns_max: 0,
    };
    scenario.faults.schedule =
        Some(FaultSchedule { faults: vec![Fault { at_ns: 3 * MS, duration_ns: 60 * MS, action }] });
    scenario
}

fn kinds(outcome: &SimOutcome) -> Vec<AnomalyKind> {
    check(&outcome.history, Guarantee::Idempotent).violations().map(|anomaly| anomaly.kind).collect()
}

fn counter(outcome: &SimOutcome, name: &str) -> u64 {
    outcome.stats.counters.get(name).copied().unwrap_or(0)
}

#[test]
fn a_retry_within_the_expiration_is_deduplicated() {
    // Kafka's default expiration (one day): the retries find the producer and get the original offsets.
    let outcome = simulate(&lost_acks(""), 1);
    assert!(outcome.stall.is_none());
    assert!(counter(&outcome, "broker:duplicate-batch-deduplicated") >= 1);
    assert_eq!(counter(&outcome, "broker:producer-id-expired"), 0);
    assert!(kinds(&outcome).is_empty(), "{:?}", kinds(&outcome));
}

#[test]
fn a_retry_after_the_producer_id_expired_is_appended_again_on_a_kip_360_broker() {
    // Expiration 10 ms, checked every 2 ms: the producer appends nothing new while its acks are lost (its
    // retries are deduplicated, which does not refresh its timestamp), so the partition forgets it, and the next
    // retry is accepted at its old sequence: the value is in the log twice.
    let outcome =
        simulate(&lost_acks("producer_id_expiration_ms = 10\nproducer_id_expiration_check_interval_ms = 2"), 1);
    assert!(outcome.stall.is_none());
    assert!(counter(&outcome, "broker:producer-id-expired") >= 1);
    assert!(kinds(&outcome).contains(&AnomalyKind::Duplicate), "{:?}", kinds(&outcome));
}

#[test]
fn a_pre_kip_360_broker_answers_the_late_retry_unknown_producer_id() {
    // The same expiry on a Kafka 2.4 broker: the retry, at a sequence above 0, gets UNKNOWN_PRODUCER_ID
    // instead of being appended; the client bumps its epoch and goes on without crashing.
    let cluster =
        "producer_id_expiration_ms = 10\nproducer_id_expiration_check_interval_ms = 2\nkip360_producer_state = false";
    let outcome = simulate(&lost_acks(cluster), 1);
    assert!(outcome.stall.is_none());
    assert!(counter(&outcome, "broker-error:UNKNOWN_PRODUCER_ID") >= 1);
    assert!(counter(&outcome, "client:epoch-bump") >= 1);
}
