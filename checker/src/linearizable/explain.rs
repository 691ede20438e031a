//! A partition log that is not linearizable, as a `nonlinearizable-log` [`Anomaly`]: one sentence a person can
//! read, and the fewest operations that show it.
//!
//! The search says which operation could not take effect next. This module looks at that operation beside the
//! others of its partition and names the conflict: a poll that read a value at an offset its send was not
//! acknowledged at, a value nobody sent, a value whose only send began after the poll returned, a record
//! acknowledged before the poll began that the poll's range leaves out, or a send acknowledged at a lower offset
//! than one that completed before it began. When none of these explains it (the conflict involves several
//! operations at once), the sentence names the blocked operation and the last one the search could order before
//! it, and those two are the ops.

use super::{check_history, from_history, HistoryOperations, LogInput, LogOutput, Operation, SearchBudget, Verdict};
use crate::{Anomaly, AnomalyKind, History, Key, Offset, Value};

/// Every partition of `history` checked for linearizability within `budget`: one `nonlinearizable-log` anomaly
/// per partition that is provably not linearizable, and every partition's verdict (events named by history index).
pub fn anomalies(history: &History, budget: SearchBudget) -> (Vec<Anomaly>, Vec<(Key, Verdict)>) {
    let verdicts = check_history(history, budget);
    // The operations are rebuilt only to explain a failing partition; a passing history needs them once.
    let mut operations = None;
    let mut found = Vec::new();
    for (key, verdict) in &verdicts {
        if let Verdict::NotLinearizable { blocked, longest_prefix, .. } = verdict {
            let operations = operations.get_or_insert_with(|| from_history(history));
            let mut anomaly = explain(operations, key, *blocked, longest_prefix.last().copied());
            anomaly.explanation = history.name_values(&anomaly.explanation);
            found.push(anomaly);
        }
    }
    (found, verdicts)
}

type LogOp = Operation<LogInput, LogOutput>;

/// The anomaly for partition `key`, where history event `blocked` could not take effect next.
fn explain(operations: &HistoryOperations, key: &str, blocked: usize, last: Option<usize>) -> Anomaly {
    let part: Vec<(usize, &LogOp)> = operations
        .events
        .iter()
        .zip(&operations.ops)
        .filter(|(_, op)| op.input.key() == key)
        .map(|(&event, op)| (event, op))
        .collect();
    let found = part.iter().filter(|(event, _)| *event == blocked).find_map(|&(_, op)| match &op.output {
        LogOutput::Read { records, to_end } => read_conflict(&part, blocked, op, records, *to_end),
        LogOutput::Appended { offset } => append_conflict(&part, blocked, op, *offset),
    });
    let (explanation, mut ops, values, offsets) = found.unwrap_or_else(|| {
        let mut ops = vec![blocked];
        ops.extend(last);
        let after = match last {
            Some(last) => format!("after op {last}, the last of the longest order the search found"),
            None => "before any other operation".to_string(),
        };
        let text = format!(
            "op {blocked} could not take effect {after}, nor in any other order of {key}'s log that respects real \
             time: no single log explains what the operations around it saw"
        );
        (text, ops, vec![], vec![])
    });
    ops.sort_unstable();
    ops.dedup();
    Anomaly {
        kind: AnomalyKind::NonlinearizableLog,
        key: key.to_string(),
        values: crate::anomaly::sorted_distinct(values),
        offsets: crate::anomaly::sorted_distinct(offsets),
        ops,
        explanation,
    }
}

/// A sentence, the ops that show it, and the values and offsets involved.
type Conflict = (String, Vec<usize>, Vec<Value>, Vec<Offset>);

/// The appends of `value` in the partition, with their events.
fn appends_of<'a>(part: &'a [(usize, &'a LogOp)], value: Value) -> impl Iterator<Item = (usize, &'a LogOp)> + 'a {
    part.iter().copied().filter(move |(_, op)| matches!(op.input, LogInput::Append { value: v, .. } if v == value))
}

/// The offset an append returned (a read returns none).
fn appended_at(op: &LogOp) -> Option<Offset> {
    match op.output {
        LogOutput::Appended { offset } => Some(offset),
        LogOutput::Read { .. } => None,
    }
}

/// Why read `op` (event `at`) of `records` cannot take effect.
fn read_conflict(
    part: &[(usize, &LogOp)],
    at: usize,
    op: &LogOp,
    records: &[(Offset, Value)],
    to_end: bool,
) -> Option<Conflict> {
    let key = op.input.key();
    for &(offset, value) in records {
        let sends: Vec<(usize, &LogOp)> = appends_of(part, value).collect();
        if sends.is_empty() {
            let text = format!("op {at} read value {value} at offset {offset} of {key}, but no send of {value} to {key} succeeded or may have");
            return Some((text, vec![at], vec![value], vec![offset]));
        }
        if sends.iter().all(|(_, send)| send.call_ns > op.return_ns) {
            let (event, _) = sends[0];
            let text = format!(
                "op {at} read value {value} at offset {offset} of {key}, but its only send (op {event}) was invoked after the poll completed"
            );
            return Some((text, vec![at, event], vec![value], vec![offset]));
        }
        let elsewhere = |send: &LogOp| appended_at(send).filter(|&acked| !send.is_pending() && acked != offset);
        if let Some((event, acked)) =
            sends.iter().find_map(|&(event, send)| elsewhere(send).map(|acked| (event, acked)))
        {
            let text = format!(
                "op {at} read value {value} at offset {offset} of {key}, but its send (op {event}) was acknowledged at offset {acked}"
            );
            return Some((text, vec![event, at], vec![value], vec![offset, acked]));
        }
    }
    let (first, last) = (records.first()?.0, records.last()?.0);
    for &(event, send) in part {
        let LogInput::Append { value, .. } = send.input else { continue };
        let Some(acked) = appended_at(send).filter(|_| !send.is_pending() && send.return_ns < op.call_ns) else {
            continue;
        };
        let inside = first <= acked && acked <= last && !records.iter().any(|r| r.0 == acked);
        if inside {
            let text = format!(
                "op {at} read {key} from offset {first} to {last}, but op {event}'s send of {value}, acknowledged at offset {acked} before the poll was invoked, is not among what it read"
            );
            return Some((text, vec![event, at], vec![value], vec![acked]));
        }
        if to_end && acked > last {
            let text = format!(
                "op {at} read {key} to its end at offset {last}, but op {event}'s send of {value} was acknowledged at offset {acked}, past that end, before the final poll was invoked"
            );
            return Some((text, vec![event, at], vec![value], vec![last, acked]));
        }
    }
    None
}

/// Why append `op` (event `at`) at `offset` cannot take effect.
fn append_conflict(part: &[(usize, &LogOp)], at: usize, op: &LogOp, offset: Offset) -> Option<Conflict> {
    let LogInput::Append { key, value } = &op.input else { return None };
    for &(event, other) in part {
        if event == at {
            continue;
        }
        match (&other.input, &other.output) {
            (LogInput::Append { value: earlier, .. }, LogOutput::Appended { offset: acked }) => {
                if !other.is_pending() && other.return_ns < op.call_ns && *acked > offset {
                    let text = format!(
                        "op {event}'s send of {earlier} to {key} was acknowledged at offset {acked} before op {at}'s send of {value} was invoked, but op {at}'s got the lower offset {offset}"
                    );
                    return Some((text, vec![event, at], vec![*earlier, *value], vec![offset, *acked]));
                }
                if !other.is_pending() && *acked == offset && earlier != value {
                    let text = format!(
                        "op {event}'s send of {earlier} and op {at}'s send of {value} were both acknowledged at offset {offset} of {key}"
                    );
                    return Some((text, vec![event, at], vec![*earlier, *value], vec![offset]));
                }
            }
            (LogInput::Read { .. }, LogOutput::Read { records, .. }) if other.return_ns < op.call_ns => {
                if let Some(&(_, seen)) = records.iter().find(|r| r.0 == offset && r.1 != *value) {
                    let text = format!(
                        "op {event} read value {seen} at offset {offset} of {key} before op {at}'s send of {value} was invoked, which was then acknowledged at that offset"
                    );
                    return Some((text, vec![event, at], vec![seen, *value], vec![offset]));
                }
            }
            _ => {}
        }
    }
    None
}
