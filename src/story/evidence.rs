//! What the checker found, each anomaly with the history operations that prove it.
//!
//! ```text
//! check:
//!   guarantee: idempotent (every acknowledged record is in its partition exactly once, …)
//!   verdict: INVALID (47 violations)
//!   duplicate: 44 (violation)
//!     - key orders-0, values [1000034], offsets [29, 34], ops [211, 214, 228]
//!       value 1000034 of orders-0 was sent once but sits at 2 offsets (29, 34), according to ops 211, 214, 228
//!       op 211    1203.456 ms  p1 producer-0   ok   send orders-0 1000034@29
//!       op 214    1210.000 ms  p2 consumer-0   ok   poll orders-0: 12 records @20..31, has 1000034@29
//! ```
//!
//! A run can find hundreds of cases, so the first violation's kind shows [`CASES_MAIN`] cases, every other
//! kind fewer, and each case at most [`OPS_PER_CASE`] operations; every cut says how much it left out. The
//! JSON output (`--format json`) keeps every case.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use eosim_checker::{Anomaly, AnomalyKind, History, MicroOp, Op, OpType, Report};

use crate::runner::RunResult;
use crate::teach::wrap;

/// Cases shown of the first violation's kind.
pub const CASES_MAIN: usize = 3;
/// Cases shown of every other kind the guarantee forbids.
const CASES_OTHER: usize = 2;
/// Cases shown of a kind the guarantee allows.
const CASES_ALLOWED: usize = 1;
/// Operations shown per case.
pub const OPS_PER_CASE: usize = 6;
/// Micro-ops shown per operation (a transaction may hold dozens).
const MOPS_PER_OP: usize = 3;
/// Records of a poll shown per anomaly value.
const RECORDS_PER_POLL: usize = 4;
/// Widest explanation line before its indent.
const EXPLANATION_CHARS: usize = 92;

/// The `check:` block of a run: the guarantee, the verdict, then per kind found its cases, each with its evidence
/// and the operations that prove it; `op_nodes` names the node of each operation the recording matched.
pub fn check_text(result: &RunResult, op_nodes: &BTreeMap<usize, String>) -> String {
    let (Some(report), Some(outcome)) = (&result.report, &result.outcome) else { return String::new() };
    let history = &outcome.history;
    let mut out = String::from("check:\n");
    let guarantee = format!("guarantee: {} ({})", report.guarantee.name(), report.guarantee.description());
    for line in wrap(&guarantee, EXPLANATION_CHARS).lines() {
        let _ = writeln!(out, "  {line}");
    }
    let violations = report.violation_count();
    let _ = match violations {
        0 => writeln!(out, "  verdict: valid (no violation)"),
        1 => writeln!(out, "  verdict: INVALID (1 violation)"),
        n => writeln!(out, "  verdict: INVALID ({n} violations)"),
    };
    if let Some(line) = report.nothing_checked_line() {
        let _ = writeln!(out, "  {line}");
    }
    if report.anomalies.is_empty() {
        out.push_str("  no anomalies\n");
    }
    if outcome.stall.is_some() && violations == 0 {
        unsettled_text(&mut out, history, op_nodes);
    }
    let main_kind = report.violations().next().map(|anomaly| anomaly.kind);
    for (kind, count) in kinds_in_order(report) {
        let forbidden = report.forbids(kind);
        let verdict = if forbidden { "violation" } else { "allowed" };
        let _ = writeln!(out, "  {}: {count} ({verdict})", kind.name());
        let shown = match (Some(kind) == main_kind, forbidden) {
            (true, _) => CASES_MAIN,
            (false, true) => CASES_OTHER,
            (false, false) => CASES_ALLOWED,
        };
        for anomaly in report.anomalies.iter().filter(|anomaly| anomaly.kind == kind).take(shown) {
            case_text(&mut out, anomaly, history, op_nodes);
        }
        if count > shown {
            let _ =
                writeln!(out, "    … and {} more {} cases (--format json lists them all)", count - shown, kind.name());
        }
    }
    out
}

/// For a stall, which no operation proves: the last operations whose outcome the clients never learned (`info`)
/// or that failed, where the run stopped making progress.
fn unsettled_text(out: &mut String, history: &History, op_nodes: &BTreeMap<usize, String>) {
    let unsettled: Vec<&Op> =
        history.ops.iter().filter(|op| matches!(op.op_type, OpType::Info | OpType::Fail)).collect();
    if unsettled.is_empty() {
        out.push_str("  stalled with every operation settled (ok) in the history\n");
        return;
    }
    let shown = unsettled.len().min(OPS_PER_CASE);
    let _ = writeln!(
        out,
        "  stalled; the last {shown} of {} operations that did not settle (info or fail):",
        unsettled.len()
    );
    for op in &unsettled[unsettled.len() - shown..] {
        let _ = writeln!(out, "      {}", op_line(op, None, op_nodes));
    }
}

/// The kinds found with their counts: the forbidden ones first (the story is about them), each group in report
/// order.
fn kinds_in_order(report: &Report) -> Vec<(eosim_checker::AnomalyKind, usize)> {
    let counts = report.counts();
    let forbidden = counts.iter().filter(|(kind, _)| report.forbids(**kind));
    let allowed = counts.iter().filter(|(kind, _)| !report.forbids(**kind));
    forbidden.chain(allowed).map(|(kind, count)| (*kind, *count)).collect()
}

/// One case: its evidence line, its explanation wrapped, then the operations that prove it.
fn case_text(out: &mut String, anomaly: &Anomaly, history: &History, op_nodes: &BTreeMap<usize, String>) {
    let _ = writeln!(
        out,
        "    - key {}, values {:?}, offsets {:?}, ops {:?}",
        anomaly.key, anomaly.values, anomaly.offsets, anomaly.ops
    );
    for line in wrap(&anomaly.explanation, EXPLANATION_CHARS).lines() {
        let _ = writeln!(out, "      {line}");
    }
    let ops = anomaly.ops.iter().filter_map(|index| history.ops.get(*index));
    for op in ops.clone().take(OPS_PER_CASE) {
        let _ = writeln!(out, "      {}", op_line(op, Some(anomaly), op_nodes));
    }
    let cut = ops.count().saturating_sub(OPS_PER_CASE);
    if cut > 0 {
        let _ = writeln!(out, "      … and {cut} more ops");
    }
}

/// One operation as a history line: index, virtual time, process and node, type, then its micro-ops that bear on
/// `anomaly` with their values and offsets.
pub fn op_line(op: &Op, anomaly: Option<&Anomaly>, op_nodes: &BTreeMap<usize, String>) -> String {
    let node = op_nodes.get(&op.index).map_or("", String::as_str);
    let who = format!("p{} {node}", op.process);
    let time_ms = op.time_ns as f64 / 1_000_000.0;
    let mut line = format!("op {:<5} {time_ms:>10.3} ms  {:<14} {:<6}", op.index, who.trim_end(), op.op_type.name());
    let mut relevant: Vec<&MicroOp> = match anomaly {
        Some(anomaly) => op.mops.iter().filter(|mop| bears_on(mop, anomaly)).collect(),
        None => Vec::new(),
    };
    // The micro-ops holding one of the anomaly's values come first: they are the evidence.
    relevant.sort_by_key(|mop| anomaly.is_none_or(|anomaly| !holds_value(mop, anomaly)));
    let mops: Vec<&MicroOp> = if relevant.is_empty() { op.mops.iter().collect() } else { relevant };
    let parts: Vec<String> = mops.iter().take(MOPS_PER_OP).map(|mop| mop_text(mop, anomaly)).collect();
    if parts.is_empty() {
        line.push_str(op.f.name());
    }
    line.push_str(&parts.join("; "));
    let more = op.mops.len().saturating_sub(parts.len());
    if more > 0 {
        let _ = write!(line, "; +{more} more");
    }
    if op.final_poll {
        line.push_str(" (final)");
    }
    line
}

/// Whether a micro-op touches the anomaly's partition or one of its values.
fn bears_on(mop: &MicroOp, anomaly: &Anomaly) -> bool {
    match mop {
        MicroOp::Send { key, value, source, .. } => {
            *key == anomaly.key
                || anomaly.values.contains(value)
                || source.as_ref().is_some_and(|(key, _)| *key == anomaly.key)
        }
        MicroOp::Poll { reads } => reads.contains_key(&anomaly.key),
        MicroOp::Sink { key, value, .. } => *key == anomaly.key || anomaly.values.contains(value),
    }
}

/// Whether a micro-op wrote or read one of the anomaly's values.
fn holds_value(mop: &MicroOp, anomaly: &Anomaly) -> bool {
    match mop {
        MicroOp::Send { value, .. } | MicroOp::Sink { value, .. } => anomaly.values.contains(value),
        MicroOp::Poll { reads } => reads.values().flatten().any(|(_, value)| anomaly.values.contains(value)),
    }
}

/// The partition of a poll to show: one holding an anomaly value, else the anomaly's own, else the first.
fn poll_key<'a>(reads: &'a BTreeMap<String, Vec<(u64, i64)>>, anomaly: Option<&Anomaly>) -> Option<&'a String> {
    if let Some(anomaly) = anomaly {
        let holding = reads.iter().find(|(_, records)| records.iter().any(|(_, value)| anomaly.values.contains(value)));
        if let Some((key, _)) = holding {
            return Some(key);
        }
        if let Some((key, _)) = reads.get_key_value(&anomaly.key) {
            return Some(key);
        }
    }
    reads.keys().next()
}

/// A micro-op with its values and offsets; a poll shows where the anomaly's values sit in what it read.
fn mop_text(mop: &MicroOp, anomaly: Option<&Anomaly>) -> String {
    match mop {
        MicroOp::Send { key, value, offset, source } => {
            let offset = offset.map_or_else(|| " (offset unknown)".to_string(), |offset| format!("@{offset}"));
            let source = source.as_ref().map(|(key, offset)| format!(" from {key}@{offset}")).unwrap_or_default();
            format!("send {key} {value}{offset}{source}")
        }
        MicroOp::Poll { reads } => {
            let Some(key) = poll_key(reads, anomaly) else { return "poll nothing".to_string() };
            let mut text = format!("poll {}", poll_read(key, &reads[key], anomaly));
            if reads.len() > 1 {
                let _ = write!(text, " (+{} more partitions)", reads.len() - 1);
            }
            text
        }
        MicroOp::Sink { store, key, value } => format!("sink {store} {key} = {value}"),
    }
}

/// What a poll read of one partition: how many records over which offsets, and where the anomaly's values sit
/// in it (or that they are absent, for a value the anomaly says is missing).
fn poll_read(key: &str, records: &[(u64, i64)], anomaly: Option<&Anomaly>) -> String {
    let (Some((first, _)), Some((last, _))) = (records.first(), records.last()) else {
        return format!("{key}: no records");
    };
    let mut text = format!("{key}: {} records @{first}..{last}", records.len());
    let Some(anomaly) = anomaly.filter(|anomaly| !anomaly.values.is_empty()) else { return text };
    let hits: Vec<String> = records
        .iter()
        .filter(|(_, value)| anomaly.values.contains(value))
        .map(|(offset, value)| format!("{value}@{offset}"))
        .collect();
    // Only a lost write's values are missing from its own partition; a transform's live in another one.
    let missing = matches!(anomaly.kind, AnomalyKind::LostWrite | AnomalyKind::SinkLostWrite) && key == anomaly.key;
    if hits.is_empty() && missing {
        let values: Vec<String> = anomaly.values.iter().map(i64::to_string).collect();
        let _ = write!(text, ", without {}", values.join(", "));
    } else if !hits.is_empty() {
        let _ = write!(text, ", has {}", hits.iter().take(RECORDS_PER_POLL).cloned().collect::<Vec<_>>().join(", "));
        if hits.len() > RECORDS_PER_POLL {
            let _ = write!(text, " +{}", hits.len() - RECORDS_PER_POLL);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use eosim_checker::OpFn;

    fn op(index: usize, op_type: OpType, f: OpFn, mops: Vec<MicroOp>) -> Op {
        Op { index, time_ns: 1_500_000, process: 2, op_type, f, mops, keys: Vec::new(), final_poll: false }
    }

    fn duplicate() -> Anomaly {
        Anomaly {
            kind: AnomalyKind::Duplicate,
            key: "orders-0".to_string(),
            values: vec![7],
            offsets: vec![3, 5],
            ops: vec![0, 1],
            explanation: "value 7 of orders-0 was sent once but sits at 2 offsets (3, 5)".to_string(),
        }
    }

    #[test]
    fn a_poll_shows_where_the_anomalys_value_sits_and_a_send_its_offset() {
        let anomaly = duplicate();
        let nodes = BTreeMap::from([(1, "consumer-0".to_string())]);
        let send = MicroOp::Send { key: "orders-0".to_string(), value: 7, offset: Some(3), source: None };
        let line = op_line(&op(0, OpType::Ok, OpFn::Send, vec![send]), Some(&anomaly), &nodes);
        assert_eq!(line, "op 0          1.500 ms  p2             ok    send orders-0 7@3");
        let records = vec![(2, 6), (3, 7), (4, 8), (5, 7)];
        let poll = MicroOp::Poll { reads: BTreeMap::from([("orders-0".to_string(), records)]) };
        let line = op_line(&op(1, OpType::Ok, OpFn::Poll, vec![poll]), Some(&anomaly), &nodes);
        assert!(line.contains("p2 consumer-0"), "{line}");
        assert!(line.ends_with("poll orders-0: 4 records @2..5, has 7@3, 7@5"), "{line}");
    }

    #[test]
    fn a_poll_without_a_lost_value_says_so() {
        let mut anomaly = duplicate();
        anomaly.kind = AnomalyKind::LostWrite;
        let poll = MicroOp::Poll { reads: BTreeMap::from([("orders-0".to_string(), vec![(0, 1), (1, 2)])]) };
        let mut final_poll = op(4, OpType::Ok, OpFn::Poll, vec![poll]);
        final_poll.final_poll = true;
        let line = op_line(&final_poll, Some(&anomaly), &BTreeMap::new());
        assert!(line.ends_with("poll orders-0: 2 records @0..1, without 7 (final)"), "{line}");
    }
}
