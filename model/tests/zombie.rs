//! Zombies, end to end: a transactional application paused past its transaction timeout (and, for a
//! pipeline, past its session timeout) resumes unaware, and must be fenced rather than let its late writes
//! or offsets in.
//!
//! Whether a pause makes a zombie depends on where it catches the application: between two transactions it
//! is just a slow client. So each test runs a range of pause times and judges every run by the same rules:
//! the history is valid under kafka-eos, and in the runs where a transaction was open across the pause (its
//! `txn` invoked before the pause, completed `fail` or `info` after the resume) the coordinator timed it out,
//! the zombie was fenced, and read_committed consumers never saw any of its values. At least one run must
//! have such a zombie, or the test proved nothing.

use eosim_checker::{check, Guarantee, History, MicroOp, Op, OpFn, OpType, Value};
use eosim_model::{simulate, Scenario, SimOutcome};
use eosim_sim::{Fault, FaultAction, FaultKind, FaultSchedule, NodeId};
use std::collections::BTreeSet;

const MS: u64 = 1_000_000;

/// One broker, two partitions, one atomic writer writing both in each transaction, one read_committed
/// consumer; a 100 ms transaction timeout. Nodes: broker 0, controller 1, consumer 2, writer 3.
fn atomic_writer(variant: &str) -> Scenario {
    let text = format!(
        r#"
name = "zombie-writer"
description = "an atomic writer paused past its transaction timeout"
variant = "{variant}"
duration_ms = 600
[cluster]
brokers = 1
topics = [{{ name = "orders", partitions = 2 }}]
[workload]
producers = 0
messages_per_producer = 0
consumers = 1
isolation_level = "read_committed"
atomic_writers = 1
atomic_txns_per_writer = 12
atomic_partitions_per_txn = 2
send_interval_ms = 10
transaction_timeout_ms = 100
"#
    );
    Scenario::from_toml("zombie-writer.toml", &text).expect("valid scenario")
}

const WRITER: NodeId = NodeId(3);

/// `scenario` with one fault: `node` paused from `at_ns` for `duration_ns`.
fn paused(mut scenario: Scenario, node: NodeId, kind: FaultKind, at_ns: u64, duration_ns: u64) -> Scenario {
    let action = FaultAction::Pause { node, kind };
    scenario.faults.schedule = Some(FaultSchedule { faults: vec![Fault { at_ns, duration_ns, action }] });
    scenario
}

fn counter(outcome: &SimOutcome, name: &str) -> u64 {
    outcome.stats.counters.get(name).copied().unwrap_or(0)
}

/// Every `txn` operation as (invocation, completion): an operation's completion is the next op of its
/// process (a process has one operation in flight at a time).
fn txn_ops(history: &History) -> Vec<(&Op, &Op)> {
    let mut pairs = Vec::new();
    for (position, invoke) in history.ops.iter().enumerate() {
        if invoke.f != OpFn::Txn || invoke.op_type != OpType::Invoke {
            continue;
        }
        let completion = history.ops[position + 1..].iter().find(|op| op.process == invoke.process);
        if let Some(completion) = completion.filter(|op| op.f == OpFn::Txn) {
            pairs.push((invoke, completion));
        }
    }
    pairs
}

/// The transactions a pause from `start_ns` to `end_ns` made zombies of: open before it, failed or unknown
/// after it.
fn zombies(history: &History, start_ns: u64, end_ns: u64) -> Vec<(&Op, &Op)> {
    let straddles = |(invoke, completion): &(&Op, &Op)| invoke.time_ns < start_ns && completion.time_ns >= end_ns;
    let failed = |(_, completion): &(&Op, &Op)| matches!(completion.op_type, OpType::Fail | OpType::Info);
    txn_ops(history).into_iter().filter(|pair| straddles(pair) && failed(pair)).collect()
}

fn sent_values(op: &Op) -> BTreeSet<Value> {
    let sends = op.mops.iter().filter_map(|mop| match mop {
        MicroOp::Send { value, .. } => Some(*value),
        _ => None,
    });
    sends.collect()
}

/// Every value an ok operation read.
fn read_values(history: &History) -> BTreeSet<Value> {
    let ok = history.ops.iter().filter(|op| op.op_type == OpType::Ok);
    let reads = ok.flat_map(|op| op.mops.iter()).filter_map(|mop| match mop {
        MicroOp::Poll { reads } => Some(reads.values().flatten().map(|(_, value)| *value)),
        _ => None,
    });
    reads.flatten().collect()
}

/// A fencing the run shows: the client closed its producer, or a broker refused the zombie's epoch.
fn fenced(outcome: &SimOutcome) -> bool {
    let names =
        ["client:producer-fenced-or-fatal", "broker-error:INVALID_PRODUCER_EPOCH", "broker-error:PRODUCER_FENCED"];
    names.iter().any(|name| counter(outcome, name) > 0)
}

/// What one paused run showed, judged by the rules every run must meet.
struct PausedRun {
    outcome: SimOutcome,
    /// The `txn` operations the pause made zombies of.
    zombie_invocations: Vec<Op>,
    context: String,
}

/// Runs `scenario` with `node` paused from `at_ms` for `pause_ms`, seed `at_ms`; asserts what holds for
/// every run, zombie or not.
fn paused_run(scenario: Scenario, node: NodeId, kind: FaultKind, at_ms: u64, pause_ms: u64) -> PausedRun {
    let (start_ns, end_ns) = (at_ms * MS, (at_ms + pause_ms) * MS);
    let variant = scenario.variant.name();
    let context = format!("{variant}, {} paused from {at_ms} ms for {pause_ms} ms", scenario.name);
    let outcome = simulate(&paused(scenario, node, kind, start_ns, end_ns - start_ns), at_ms);
    assert!(outcome.stall.is_none(), "{context}: {:?}", outcome.stall);
    assert_eq!(outcome.stats.faults.values().sum::<u64>(), 1, "{context}: the one pause");
    let report = check(&outcome.history, Guarantee::KafkaEos);
    assert!(report.is_valid(), "{context}:\n{}", report.render_text(5));
    let zombie_invocations: Vec<Op> =
        zombies(&outcome.history, start_ns, end_ns).into_iter().map(|(invoke, _)| invoke.clone()).collect();
    if zombie_invocations.is_empty() {
        // A pause between transactions leaves nothing open to time out, and nobody to fence: the counters
        // the zombie runs are judged by are the zombie's doing.
        assert_eq!(counter(&outcome, "coordinator:txn-timeout"), 0, "{context}");
        assert_eq!(counter(&outcome, "client:producer-fenced-or-fatal"), 0, "{context}");
    } else {
        // The zombie's values never reach a read_committed consumer, whether they landed and were aborted or
        // were refused outright.
        let read = read_values(&outcome.history);
        for invoke in &zombie_invocations {
            let seen: Vec<Value> = sent_values(invoke).intersection(&read).copied().collect();
            assert!(seen.is_empty(), "{context}: read_committed saw the zombie's values {seen:?}");
        }
    }
    PausedRun { outcome, zombie_invocations, context }
}

/// Pauses the writer at each of `pause_starts_ms` for 300 ms (three transaction timeouts); returns how many
/// runs made a zombie. The writer's twelve transactions are done by about 130 ms, so later pauses catch
/// nothing.
fn zombie_writer_runs(variant: &str, pause_starts_ms: impl Iterator<Item = u64>) -> usize {
    let mut zombie_runs = 0;
    for at_ms in pause_starts_ms {
        let run = paused_run(atomic_writer(variant), WRITER, FaultKind::ClientPause, at_ms, 300);
        if run.zombie_invocations.is_empty() {
            continue;
        }
        zombie_runs += 1;
        let (outcome, context) = (&run.outcome, &run.context);
        // A transaction the pause caught before it reached the coordinator just goes on after the resume and
        // commits; one that failed across the pause had reached it: it timed out, its epoch was bumped, and
        // the zombie, resuming with the old one, was fenced and replaced.
        assert!(counter(outcome, "coordinator:txn-timeout") >= 1, "{context}: the coordinator timed the zombie out");
        assert!(fenced(outcome), "{context}: the zombie was fenced ({:?})", outcome.stats.counters);
        assert!(counter(outcome, "app:producer-reinitialized") >= 1, "{context}: a new producer took over");
    }
    zombie_runs
}

#[test]
fn a_paused_eos_tv2_writer_is_timed_out_fenced_and_never_read() {
    let zombie_runs = zombie_writer_runs("eos-tv2", (20..130).step_by(7));
    assert!(zombie_runs >= 1, "no pause caught a transaction open");
}

#[test]
fn a_paused_eos_tv1_writer_is_timed_out_fenced_and_never_read() {
    let zombie_runs = zombie_writer_runs("eos-tv1", (20..130).step_by(7));
    assert!(zombie_runs >= 1, "no pause caught a transaction open");
}

/// One broker; an atomic writer fills `in` (2 partitions); two pipeline instances in one group transform it
/// into `out`, read_committed; one read_committed consumer. Transaction timeout 100 ms, session 200 ms.
/// Nodes: broker 0, controller 1, consumer 2, writer 3, pipelines 4 and 5.
fn pipeline(variant: &str) -> Scenario {
    let text = format!(
        r#"
name = "zombie-pipeline"
description = "a pipeline instance paused past its session and transaction timeouts"
variant = "{variant}"
duration_ms = 600
[cluster]
brokers = 1
topics = [{{ name = "in", partitions = 2 }}, {{ name = "out", partitions = 2 }}]
[workload]
producers = 0
messages_per_producer = 0
consumers = 1
isolation_level = "read_committed"
atomic_writers = 1
atomic_topic = "in"
atomic_txns_per_writer = 20
atomic_partitions_per_txn = 2
send_interval_ms = 10
transaction_timeout_ms = 100
pipeline = {{ instances = 2, input = "in", output = "out", max_records_per_txn = 4, session_timeout_ms = 200, heartbeat_interval_ms = 40 }}
"#
    );
    Scenario::from_toml("zombie-pipeline.toml", &text).expect("valid scenario")
}

const PIPELINE: NodeId = NodeId(4);

/// KIP-447's fencing of a TxnOffsetCommit by generation, at the coordinator or as the client heard it.
fn generation_fenced(outcome: &SimOutcome) -> bool {
    let names = ["group:fenced-stale-generation", "group:fenced-unknown-member", "client:txn-offset-commit-fenced"];
    names.iter().any(|name| counter(outcome, name) > 0)
}

/// True if some committed output names the input record it came from, so the transform checks had
/// something to judge.
fn transformed_with_sources(history: &History) -> bool {
    let committed = history.ops.iter().filter(|op| op.f == OpFn::Txn && op.op_type == OpType::Ok);
    committed.flat_map(|op| op.mops.iter()).any(|mop| matches!(mop, MicroOp::Send { source: Some(_), .. }))
}

#[test]
fn a_paused_pipeline_is_fenced_and_its_inputs_are_transformed_exactly_once() {
    for variant in ["eos-tv2", "eos-tv1"] {
        let mut zombie_runs = 0;
        for at_ms in (30..200).step_by(7) {
            // 400 ms: past the 200 ms session (the group gives the partitions to the other instance) and the
            // 100 ms transaction timeout.
            let run = paused_run(pipeline(variant), PIPELINE, FaultKind::ConsumerPause, at_ms, 400);
            let (outcome, context) = (&run.outcome, &run.context);
            // Valid under kafka-eos includes transform-lost and transform-duplicate: every input record the
            // zombie had taken was transformed, once, by the new owner.
            assert!(transformed_with_sources(&outcome.history), "{context}");
            assert!(counter(outcome, "group:member-expired") >= 1, "{context}: the paused member left the group");
            if run.zombie_invocations.is_empty() {
                continue;
            }
            zombie_runs += 1;
            if counter(outcome, "coordinator:txn-timeout") >= 1 {
                // Its transaction reached the coordinator and timed out: fenced by epoch.
                assert!(fenced(outcome), "{context}: fenced by epoch ({:?})", outcome.stats.counters);
            } else {
                // It never reached the coordinator (its batches were still lingering): its TxnOffsetCommit, of
                // a generation the group has left behind, is fenced and the transaction aborted.
                assert!(generation_fenced(outcome), "{context}: fenced by generation ({:?})", outcome.stats.counters);
            }
        }
        assert!(zombie_runs >= 1, "{variant}: no pause caught a pipeline transaction open");
    }
}
