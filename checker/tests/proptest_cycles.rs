//! Property tests of the cycle search. A history generated from one serial order — operations run one at a time,
//! each invoked and completed before the next, every poll reading its partitions from some position to the end of
//! the log — has no dependency cycle of any kind, whatever the mix of sends, polls, transactions, aborts, unknown
//! outcomes and gaps in the offsets. And a serial history with two records swapped in one partition's log (the
//! earlier operation's record landing after the later's) has a cycle.

use std::collections::BTreeMap;

use eosim_checker::{check, cycles, AnomalyKind, Guarantee, History, MicroOp, Offset, Op, OpFn, OpType, Value};
use proptest::prelude::*;

const KEY_COUNT: usize = 3;

/// One operation of the serial order.
#[derive(Clone, Debug)]
struct Step {
    process: u64,
    /// Keys polled, each from this many records before the end of its log (a consumer's position).
    polls: Vec<(usize, usize)>,
    /// Keys sent to, one record each.
    sends: Vec<usize>,
    outcome: Outcome,
    /// Offsets left empty before each record (transaction markers).
    gap: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Fail,
    /// Unknown outcome; the operation took effect.
    InfoLanded,
    /// Unknown outcome; it did not.
    InfoLost,
}

fn step() -> impl Strategy<Value = Step> {
    let outcome = prop_oneof![
        6 => Just(Outcome::Ok),
        1 => Just(Outcome::Fail),
        1 => Just(Outcome::InfoLanded),
        1 => Just(Outcome::InfoLost),
    ];
    (
        0..4u64,
        prop::collection::vec((0..KEY_COUNT, 0..4usize), 0..3),
        prop::collection::vec(0..KEY_COUNT, 0..3),
        outcome,
        0..2u64,
    )
        .prop_map(|(process, polls, sends, outcome, gap)| Step { process, polls, sends, outcome, gap })
}

fn key(k: usize) -> String {
    format!("k-{k}")
}

fn op(process: u64, op_type: OpType, f: OpFn, mops: Vec<MicroOp>) -> Op {
    Op { index: 0, time_ns: 0, process, op_type, f, mops, keys: Vec::new(), final_poll: false }
}

/// Runs `steps` one at a time against logs of `KEY_COUNT` partitions and records the history.
fn serial(steps: &[Step]) -> History {
    let mut history = History::new();
    let mut logs: Vec<Vec<(Offset, Value)>> = vec![Vec::new(); KEY_COUNT];
    let mut next_offset: Vec<Offset> = vec![0; KEY_COUNT];
    let mut next_value: Value = 0;
    for step in steps {
        // Polls first, then sends: a transaction never reads what it has not committed yet.
        let mut reads: BTreeMap<String, Vec<(Offset, Value)>> = BTreeMap::new();
        for &(k, behind) in &step.polls {
            let log = &logs[k];
            reads.insert(key(k), log[log.len().saturating_sub(behind)..].to_vec());
        }
        let lands = matches!(step.outcome, Outcome::Ok | Outcome::InfoLanded);
        let mut sends = Vec::new();
        for &k in &step.sends {
            next_value += 1;
            let mut offset = None;
            if lands {
                next_offset[k] += step.gap;
                logs[k].push((next_offset[k], next_value));
                offset = Some(next_offset[k]);
                next_offset[k] += 1;
            }
            let offset = if step.outcome == Outcome::Ok { offset } else { None };
            sends.push(MicroOp::Send { key: key(k), value: next_value, offset, source: None });
        }
        let f = match (reads.is_empty(), sends.is_empty()) {
            (false, true) => OpFn::Poll,
            (true, false) => OpFn::Send,
            _ => OpFn::Txn,
        };
        let invoke_mops: Vec<MicroOp> = sends
            .iter()
            .map(|m| match m {
                MicroOp::Send { key, value, .. } => {
                    MicroOp::Send { key: key.clone(), value: *value, offset: None, source: None }
                }
                other => other.clone(),
            })
            .chain((!reads.is_empty()).then(|| MicroOp::Poll { reads: BTreeMap::new() }))
            .collect();
        history.push(op(step.process, OpType::Invoke, f, invoke_mops));
        let mut mops = sends;
        if !reads.is_empty() {
            mops.push(MicroOp::Poll { reads });
        }
        let op_type = match step.outcome {
            Outcome::Ok => OpType::Ok,
            Outcome::Fail => OpType::Fail,
            Outcome::InfoLanded | Outcome::InfoLost => OpType::Info,
        };
        history.push(op(step.process, op_type, f, mops));
    }
    for (i, op) in history.ops.iter_mut().enumerate() {
        op.time_ns = i as u64;
    }
    history
}

fn is_cycle(kind: AnomalyKind) -> bool {
    cycles::kinds().any(|k| k == kind)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    #[test]
    fn a_serial_history_has_no_cycle(steps in prop::collection::vec(step(), 0..60)) {
        let history = serial(&steps);
        let report = check(&history, Guarantee::Serializable);
        let found: Vec<_> = report.anomalies.iter().filter(|a| is_cycle(a.kind)).collect();
        prop_assert!(found.is_empty(), "{}\n{}", report.render_text(5), history.to_jsonl());
        prop_assert_eq!(cycles::search(&eosim_checker::Analysis::new(&history)).exhausted, 0);
    }

    #[test]
    fn two_records_swapped_in_a_log_make_a_cycle(steps in prop::collection::vec(step(), 8..40)) {
        // Two ok sends to k-0 by different operations, the earlier completed before the later was invoked: swapping
        // their offsets (the later record lands first) gives ww later → earlier and realtime earlier → later.
        let mut history = serial(&steps);
        let sends: Vec<(usize, usize)> = history.ops.iter().enumerate().flat_map(|(i, op)| {
            let ok = op.op_type == OpType::Ok;
            op.mops.iter().enumerate().filter_map(move |(j, m)| match m {
                MicroOp::Send { key, offset: Some(_), .. } if ok && key == "k-0" => Some((i, j)),
                _ => None,
            })
        }).collect();
        prop_assume!(sends.len() >= 2 && sends[0].0 != sends[sends.len() - 1].0);
        let ((a, i), (b, j)) = (sends[0], sends[sends.len() - 1]);
        let offset = |h: &History, o: usize, m: usize| match &h.ops[o].mops[m] {
            MicroOp::Send { offset, value, .. } => (offset.unwrap_or(0), *value),
            _ => (0, 0),
        };
        let ((offset_a, value_a), (offset_b, value_b)) = (offset(&history, a, i), offset(&history, b, j));
        // Swap the two records everywhere: in both acknowledgements and in every read.
        for op in &mut history.ops {
            for mop in &mut op.mops {
                match mop {
                    MicroOp::Send { value, offset: Some(offset), .. } if *value == value_a => *offset = offset_b,
                    MicroOp::Send { value, offset: Some(offset), .. } if *value == value_b => *offset = offset_a,
                    MicroOp::Poll { reads } => {
                        for records in reads.values_mut() {
                            for record in records.iter_mut() {
                                if record.1 == value_a {
                                    record.0 = offset_b;
                                } else if record.1 == value_b {
                                    record.0 = offset_a;
                                }
                            }
                            records.sort_unstable();
                        }
                    }
                    _ => {}
                }
            }
        }
        let report = check(&history, Guarantee::Serializable);
        let found = report.anomalies.iter().any(|a| is_cycle(a.kind));
        prop_assert!(found, "{}\n{}", report.render_text(5), history.to_jsonl());
    }
}
