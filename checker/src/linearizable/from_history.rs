//! From an eosim [`History`] to [`Log`] operations: each partition's log, checked for linearizability.
//!
//! An operation of the history (an invocation and its process's next completion, paired as `analysis.rs` pairs
//! them) becomes one log operation per micro-op on a key, all with the operation's interval:
//! - a send that completed `ok` with an offset is an append that returned that offset;
//! - a send whose outcome is unknown (`info`, or never completed) may or may not have landed: it becomes a pending
//!   append (it may take effect any time after its call, or never). So does an `ok` send with a `null` offset
//!   (acks=0: the broker promised nothing). A pending append needs an offset: the one at which an `ok` poll saw
//!   its value, if any did; if none did, the append constrains nothing (it may simply never have happened) and is
//!   left out;
//! - a send that `fail`ed certainly did not happen: it is left out, and a poll that read its value has no
//!   linearization (that is `G1a`);
//! - an `ok` poll's records of one key are a read of that range of the log, to its end if the poll was `final`. An
//!   empty range observes nothing and is left out, and so are polls that did not complete `ok` (what they saw is not
//!   recorded, or the harness does not vouch for it).
//!
//! Times are the positions of the events in the file, not their `time` fields: a history is written in real-time
//! order (each event when it happens; eosim orders events of one virtual instant by sequence number), and positions
//! never tie where two events share a `time`. The other checks read the file order as real-time order too
//! (`lost-write`'s final-poll rule). An operation whose completion has no invocation (a final poll) is taken to have
//! been called at its process's previous event, or at the start of the history if it has none: a process runs one
//! operation at a time, so it cannot have called it earlier, and this assumes the least that is sound. Called at the
//! start instead, a final poll is concurrent with every operation of its partition, the search's set of linearized
//! operations can never move its frontier past it, and each step hashes every operation linearized so far: on the
//! 10^6-operation benchmark, 81 CPU-seconds and 10 GB.
//!
//! What the log model rejects that the anomaly checks name one by one: a read at an offset its append did not
//! return (`inconsistent-offsets`, `duplicate`), a read of a failed send (`G1a`), a read range with an acknowledged
//! record missing from it (`int-poll-skip`, `lost-write`), a final read that misses an acknowledged record
//! (`lost-write`), and offsets handed out against real-time order (`nonmonotonic-send` across processes, which the
//! anomaly check sees only within one process). It knows nothing of transactions' atomicity across partitions.
//!
//! Worked example:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
//! {"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[1,17]]]}
//! {"index":2,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
//! {"index":3,"time":3,"process":2,"type":"ok","f":"send","value":[["send","orders-0",[0,18]]]}
//! ```
//!
//! Two appends: 17 over [0, 1] returned offset 1, 18 over [2, 3] returned offset 0. The first returned before the
//! second was called, so it took effect first, yet it got the higher offset: orders-0 is not linearizable. With the
//! offsets the other way round, or with the second send invoked before event 1, it would be.

use std::collections::{BTreeMap, BTreeSet};

use super::{check_partitions_named, Log, LogInput, LogOutput, Operation, SearchBudget, Verdict};
use crate::processes::{self, DenseProcesses};
use crate::{History, Key, MicroOp, Offset, Op, OpType, Value};

/// The log operations of a history, with the history events they came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryOperations {
    /// The operations, in the order of their first event in the history.
    pub ops: Vec<Operation<LogInput, LogOutput>>,
    /// For each operation, the index of the history event that completed it, or that invoked it if it never
    /// completed.
    pub events: Vec<usize>,
}

/// The log operations of every partition of `history`; see the module header.
pub fn from_history(history: &History) -> HistoryOperations {
    let (process_ids, process_count) = process_ids(history);
    let partner = pair(history, &process_ids, process_count);
    let (unplaced, bound) = unplaced_sends(history, &partner);
    let observed = observed_offsets(history, &unplaced);
    // Sized once, from the bound: grown by doubling, the lists would reserve up to twice the room they need and
    // copy themselves on the way, beside the whole history.
    let mut built = HistoryOperations { ops: Vec::with_capacity(bound), events: Vec::with_capacity(bound) };
    // Each process's latest event so far.
    let mut latest: Vec<Option<usize>> = vec![None; process_count];
    for (op, &process) in history.ops.iter().zip(&process_ids) {
        let previous = latest[process].replace(op.index);
        let Some((invoke, completion)) = operation_events(history, &partner, op) else { continue };
        let call_ns = match invoke {
            Some(invoke) => invoke.index as u64,
            None => previous.map_or(0, |index| index as u64),
        };
        let event = completion.or(invoke).map_or(0, |event| event.index);
        let first = built.ops.len();
        push_operations(invoke, completion, call_ns, &observed, &mut built.ops);
        for operation in &built.ops[first..] {
            assert!(operation.call_ns <= operation.return_ns);
        }
        built.events.resize(built.ops.len(), event);
    }
    assert_eq!(built.ops.len(), built.events.len());
    built
}

/// Checks every partition's log in `history` for linearizability, in key order, each within `budget`.
///
/// A [`Verdict::NotLinearizable`]'s `longest_prefix` lists history event indices (see
/// [`HistoryOperations::events`]; an operation with several micro-ops on the key appears once for each), and its
/// explanation names events the same way.
pub fn check_history(history: &History, budget: SearchBudget) -> Vec<(Key, Verdict)> {
    let HistoryOperations { ops, events } = from_history(history);
    let name = |index: usize| format!("history op {}", events[index]);
    let mut verdicts = check_partitions_named(&Log, &ops, budget, &name);
    for (_, verdict) in &mut verdicts {
        if let Verdict::NotLinearizable { longest_prefix, blocked, .. } = verdict {
            for index in longest_prefix.iter_mut() {
                *index = events[*index];
            }
            *blocked = events[*blocked];
        }
    }
    verdicts
}

/// The invocation and completion of the history operation that `op` starts, or None if `op` completes one
/// that its invocation started.
fn operation_events<'h>(
    history: &'h History,
    partner: &[Option<usize>],
    op: &'h Op,
) -> Option<(Option<&'h Op>, Option<&'h Op>)> {
    match (op.op_type, partner[op.index]) {
        (OpType::Invoke, Some(completion)) => Some((Some(op), Some(&history.ops[completion]))),
        (OpType::Invoke, None) => Some((Some(op), None)),
        // A completion paired with an invocation was handled at the invocation.
        (_, Some(_)) => None,
        (_, None) => Some((None, Some(op))),
    }
}

/// The (key, value) of every send whose offset the history does not state: one that did not complete `ok`, or
/// completed `ok` with no offset. Only these look up where a poll saw them ([`operations`]). Also at most how
/// many log operations [`push_operations`] makes: one per send of an operation that did not fail, and one per
/// key an `ok` poll read records of.
fn unplaced_sends<'h>(history: &'h History, partner: &[Option<usize>]) -> (BTreeSet<(&'h str, Value)>, usize) {
    let mut unplaced = BTreeSet::new();
    let mut bound = 0;
    for op in &history.ops {
        let Some((invoke, completion)) = operation_events(history, partner, op) else { continue };
        let (outcome, mops) = outcome_and_mops(invoke, completion);
        if outcome == OpType::Fail {
            continue;
        }
        for mop in mops {
            match mop {
                MicroOp::Send { key, value, offset, .. } => {
                    bound += 1;
                    if offset.is_none() || outcome != OpType::Ok {
                        unplaced.insert((key.as_str(), *value));
                    }
                }
                MicroOp::Poll { reads } if outcome == OpType::Ok => {
                    bound += reads.values().filter(|records| !records.is_empty()).count();
                }
                _ => {}
            }
        }
    }
    (unplaced, bound)
}

/// Each event's process, renumbered densely in order of first sight ([`DenseProcesses`]), and how many processes
/// there are: per-process state then lives in vectors indexed by that id.
fn process_ids(history: &History) -> (Vec<usize>, usize) {
    let mut processes = DenseProcesses::default();
    let process_ids: Vec<usize> = history.ops.iter().map(|op| processes.id(op.process).0).collect();
    (process_ids, processes.len())
}

/// Pairs each invocation with its process's next completion, both ways, as `analysis.rs` does: an invocation
/// followed by another of the same process never completed. `process_ids` and `process_count` are
/// [`process_ids`]'s.
fn pair(history: &History, process_ids: &[usize], process_count: usize) -> Vec<Option<usize>> {
    let mut partner = vec![None; history.ops.len()];
    let mut in_flight: Vec<Option<usize>> = vec![None; process_count];
    for (op, &process) in history.ops.iter().zip(process_ids) {
        processes::pair(&mut partner, &mut in_flight[process], op.op_type, op.index);
    }
    assert_eq!(partner.len(), history.ops.len());
    partner
}

/// The offset at which an `ok` poll first saw each (key, value) of `wanted`. Most histories state every send's
/// offset, and then no poll is read here.
fn observed_offsets<'h>(
    history: &'h History,
    wanted: &BTreeSet<(&'h str, Value)>,
) -> BTreeMap<(&'h str, Value), Offset> {
    let mut observed = BTreeMap::new();
    if wanted.is_empty() {
        return observed;
    }
    for op in history.ops.iter().filter(|op| op.op_type == OpType::Ok) {
        for mop in &op.mops {
            if let MicroOp::Poll { reads } = mop {
                for (key, records) in reads {
                    for &(offset, value) in records {
                        if wanted.contains(&(key.as_str(), value)) {
                            observed.entry((key.as_str(), value)).or_insert(offset);
                        }
                    }
                }
            }
        }
    }
    observed
}

/// How a history operation ended (`info` if it never completed) and its micro-ops: a completion states the
/// outcome of each; an info completion may repeat the invocation or say nothing, and then the invocation's
/// micro-ops are all there is.
fn outcome_and_mops<'h>(invoke: Option<&'h Op>, completion: Option<&'h Op>) -> (OpType, &'h [MicroOp]) {
    let outcome = completion.map_or(OpType::Info, |completion| completion.op_type);
    let mops = match completion {
        Some(completion) if !completion.mops.is_empty() => &completion.mops,
        _ => invoke.map_or(&[][..], |invoke| &invoke.mops),
    };
    (outcome, mops)
}

/// Appends the log operations of one history operation to `built`; see the module header for each case. They go
/// straight into the history's list: a list per history operation would cost an allocation each.
fn push_operations(
    invoke: Option<&Op>,
    completion: Option<&Op>,
    call_ns: u64,
    observed: &BTreeMap<(&str, Value), Offset>,
    built: &mut Vec<Operation<LogInput, LogOutput>>,
) {
    let (outcome, mops) = outcome_and_mops(invoke, completion);
    let process = invoke.or(completion).map_or(0, |op| op.process);
    let return_ns = match outcome {
        OpType::Ok => completion.map_or(u64::MAX, |completion| completion.index as u64),
        OpType::Info | OpType::Invoke => u64::MAX,
        OpType::Fail => return,
    };
    let final_poll = completion.is_some_and(|completion| completion.final_poll);
    for mop in mops {
        match mop {
            MicroOp::Send { key, value, offset, .. } => {
                let (offset, returned) = match (*offset, outcome) {
                    (Some(offset), OpType::Ok) => (Some(offset), return_ns),
                    (offset, _) => (offset.or_else(|| observed.get(&(key.as_str(), *value)).copied()), u64::MAX),
                };
                let Some(offset) = offset else { continue };
                let input = LogInput::Append { key: key.clone(), value: *value };
                let output = LogOutput::Appended { offset };
                built.push(Operation { client: process, input, call_ns, return_ns: returned, output });
            }
            MicroOp::Poll { reads } if outcome == OpType::Ok => {
                for (key, records) in reads.iter().filter(|(_, records)| !records.is_empty()) {
                    let input = LogInput::Read { key: key.clone() };
                    let output = LogOutput::Read { records: records.clone(), to_end: final_poll };
                    built.push(Operation { client: process, input, call_ns, return_ns, output });
                }
            }
            // Polls that did not complete ok, and writes to external stores, are not log operations.
            _ => {}
        }
    }
}
