//! The transactional client's abortable errors, end to end: records whose size straddles
//! `max.request.size` make some sends fail in `send()` (RecordTooLargeException). Since KAFKA-9279 such a
//! transaction can only abort; the pipeline aborts, keeps its producer (no new session, no rebalance:
//! one instance, no faults), rewinds its positions to the committed offsets and transforms the same input
//! again, so every input record still has exactly one committed output (KAFKA-17582 is the bug where a
//! pipeline did not rewind after an abort without a rebalance).
//!
//! Also the producer-side KAFKA-13574 switch on its zoo scenario: a send ended by NOT_LEADER_OR_FOLLOWER taken
//! as a definite failure.

use eosim_checker::check;
use eosim_model::{simulate, Scenario};

/// One pipeline instance over a fault-free cluster; `sizes` is the workload's record size line.
fn pipeline(variant: &str, sizes: &str) -> Scenario {
    let text = format!(
        r#"
name = "record-too-large"
description = "some records exceed max.request.size"
variant = "{variant}"
duration_ms = 1500
[cluster]
brokers = 1
topics = [{{ name = "in", partitions = 2 }}, {{ name = "out", partitions = 2 }}]
[workload]
producers = 0
messages_per_producer = 0
atomic_writers = 1
atomic_topic = "in"
atomic_txns_per_writer = 30
atomic_partitions_per_txn = 2
send_interval_ms = 10
consumers = 1
isolation_level = "read_committed"
pipeline = {{ instances = 1, input = "in", output = "out" }}
{sizes}
"#
    );
    Scenario::from_toml("record-too-large.toml", &text).expect("valid scenario")
}

/// Runs `seeds` and returns the sum of the counters named.
fn run(scenario: &Scenario, names: &[&str]) -> Vec<u64> {
    let mut sums = vec![0; names.len()];
    for seed in 1..=4 {
        let outcome = simulate(scenario, seed);
        assert!(outcome.stall.is_none(), "seed {seed}: {:?}", outcome.stall);
        let report = check(&outcome.history, scenario.guarantee());
        assert!(report.is_valid(), "seed {seed}: {report:?}");
        let counter = |name: &str| outcome.stats.counters.get(name).copied().unwrap_or(0);
        assert_eq!(counter("app:producer-reinitialized"), 0, "seed {seed}: an abortable error keeps the producer");
        assert_eq!(counter("app:pipeline-joined"), 1, "seed {seed}: no rebalance");
        for (sum, name) in sums.iter_mut().zip(names) {
            *sum += counter(name);
        }
    }
    sums
}

const NAMES: [&str; 3] = ["app:pipeline-send-failed", "app:pipeline-rewind", "client:send-failed-sync"];

#[test]
fn pipeline_rewinds_to_the_committed_offsets_after_a_record_too_large_abort() {
    for variant in ["eos-tv1", "eos-tv2"] {
        // About one record in twenty is above max.request.size (1 MiB).
        let sums = run(&pipeline(variant, "record_bytes = 100\nrecord_bytes_max = 1_100_000"), &NAMES);
        assert!(sums.iter().all(|sum| *sum > 0), "{variant}: every path was taken: {sums:?}");
    }
}

#[test]
fn pipeline_with_records_within_max_request_size_never_aborts_for_size() {
    for variant in ["eos-tv1", "eos-tv2"] {
        let sums = run(&pipeline(variant, "record_bytes = 1_048_576"), &NAMES);
        assert_eq!(sums, vec![0, 0, 0], "{variant}");
    }
}

#[test]
fn kafka_17582_pipeline_that_does_not_rewind_after_an_abort_skips_its_input() {
    // The same aborts with KAFKA-17582 put back: no rewind, so the next transaction polls past the aborted
    // input and commits offsets beyond it. The checker sees the skip and the inputs that never got an output.
    let mut scenario = pipeline("eos-tv2", "record_bytes = 100\nrecord_bytes_max = 1_100_000");
    scenario.kafka_bugs = vec![eosim_model::bugs::KafkaBug::Kafka17582];
    let mut kinds = std::collections::BTreeSet::new();
    for seed in 1..=4 {
        let outcome = simulate(&scenario, seed);
        let counter = |name: &str| outcome.stats.counters.get(name).copied().unwrap_or(0);
        assert_eq!(counter("app:pipeline-rewind"), 0, "seed {seed}: the switch takes the rewind away");
        let report = check(&outcome.history, scenario.guarantee());
        if counter("app:pipeline-abort-without-rewind") > 0 {
            assert!(!report.is_valid(), "seed {seed}: an abort without a rewind skips input");
        }
        kinds.extend(report.violations().map(|anomaly| anomaly.kind.name()));
    }
    assert!(kinds.contains("poll-skip") && kinds.contains("transform-lost"), "{kinds:?}");
}

/// The KAFKA-13574 zoo scenario, with the switch on or off.
fn not_leader_scenario(switch_on: bool) -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/zoo/KAFKA-13574.toml");
    let text = std::fs::read_to_string(path).expect("the zoo scenario exists");
    let mut scenario = Scenario::from_toml(path, &text).expect("valid scenario");
    if !switch_on {
        scenario.kafka_bugs.clear();
    }
    scenario
}

#[test]
fn kafka_13574_not_leader_or_follower_taken_as_a_failure_is_read_back() {
    // Seed 3: a leader cut off from the controller steps down and answers a waiting produce
    // NOT_LEADER_OR_FOLLOWER; the new leader had the batch. With the switch the send is reported failed and a
    // consumer reads it (G1a); without it the same send ends unknown and the history is valid.
    let counter =
        |outcome: &eosim_model::SimOutcome, name: &str| outcome.stats.counters.get(name).copied().unwrap_or(0);
    let faulty = not_leader_scenario(true);
    let outcome = simulate(&faulty, 3);
    assert!(counter(&outcome, "client:not-leader-taken-as-failed") > 0);
    let report = check(&outcome.history, faulty.guarantee());
    assert!(report.violations().any(|anomaly| anomaly.kind.name() == "G1a"), "{report:?}");
    let fixed = not_leader_scenario(false);
    let outcome = simulate(&fixed, 3);
    assert_eq!(counter(&outcome, "client:not-leader-taken-as-failed"), 0);
    assert!(check(&outcome.history, fixed.guarantee()).is_valid());
}
