//! eosim-checker: reads a history of a Kafka-style system and finds the anomalies Jepsen's Kafka checker names.
//!
//! A [`History`] is a list of [`Op`]s (docs/history-format.md), read from JSON Lines by [`History::parse_jsonl`] (a fast
//! path, in parallel on long files, backed by a careful reader for exact error messages), from Jepsen's EDN
//! `history.edn` by [`History::parse_edn`] (see [`edn`]), or from either by [`History::parse_auto`], and written
//! back by [`History::to_jsonl`]. [`check`] builds an [`Analysis`] (every index the checks share, once), runs each
//! check in [`anomaly`] — one module per [`AnomalyKind`], Jepsen's whole Kafka catalogue plus writes to external
//! stores and consume-transform-produce pipelines — and returns a [`Report`]: every [`Anomaly`] found, each with
//! the key, values, offsets and op indices that prove it, judged against the [`Guarantee`] the system claims.
//! A duplicate is expected under at-least-once and a violation under exactly-once; the report lists both kinds of
//! finding, but only violations make it invalid. The same goes for the dependency cycles that [`cycles`] finds with
//! Elle's names (G0, G1c, G-single, ...): Kafka does not claim serializability, so they are listed, and only a
//! `serializable` claim forbids them.
//!
//! The crate knows nothing of the simulator: it checks a history that any real system produced.
//!
//! ```
//! use eosim_checker::{check, AnomalyKind, Guarantee, History};
//!
//! // Process 1 sends 17 to orders-0, acknowledged at offset 0; process 2's final poll reads orders-0 to its end
//! // and finds nothing there: the acknowledged write was lost.
//! let text = r#"{"index":0,"time":10,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
//! {"index":1,"time":20,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]]]}
//! {"index":2,"time":30,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[]}]],"final":true}
//! "#;
//! let history = History::parse_jsonl("history.jsonl", text)?;
//! let report = check(&history, Guarantee::KafkaEos);
//! assert!(!report.is_valid());
//! assert_eq!(report.anomalies[0].kind, AnomalyKind::LostWrite);
//! assert_eq!(report.anomalies[0].ops, vec![1, 2]);
//!
//! // At most once allows losing writes: the same history is valid under that claim.
//! assert!(check(&history, Guarantee::AtMostOnce).is_valid());
//! # Ok::<(), eosim_checker::ParseError>(())
//! ```
#![deny(missing_docs)]

pub mod analysis;
pub mod anomaly;
pub mod cycles;
pub mod edn;
mod guarantee;
pub mod history;
mod jsonl_fast;
pub mod linearizable;
mod processes;
mod report;
mod rules;
pub mod workload;

use serde::{Deserialize, Serialize};

pub use analysis::Analysis;
pub use guarantee::Guarantee;
pub use history::*;
pub use report::{Report, REPORT_SCHEMA};
pub use rules::{jepsen_forbids, Rules};

/// The kinds of anomaly the checker finds, with Jepsen's names; the declaration order is the report order.
///
/// `sink-lost-write` and `sink-duplicate` are eosim's own (Jepsen has no external stores): the same two failures as
/// `lost-write` and `duplicate`, for writes to a store outside Kafka, keyed `store/key`. So are `transform-lost` and
/// `transform-duplicate`: the same two failures for a consume-transform-produce pipeline's input records, judged
/// through the `source` each output send names, keyed by the input partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AnomalyKind {
    /// An acknowledged value that should have been read, but no poll ever read it.
    #[serde(rename = "lost-write")]
    LostWrite,
    /// One value at two or more offsets of a key.
    #[serde(rename = "duplicate")]
    Duplicate,
    /// One offset of a key holding two or more values.
    #[serde(rename = "inconsistent-offsets")]
    InconsistentOffsets,
    /// A process's poll of a key went back to, or repeated, an offset its previous poll had read.
    #[serde(rename = "nonmonotonic-poll")]
    NonmonotonicPoll,
    /// A process's poll of a key jumped over offsets known to hold records.
    #[serde(rename = "poll-skip")]
    PollSkip,
    /// Inside one operation, a read of a key went back to, or repeated, an earlier offset.
    #[serde(rename = "int-nonmonotonic-poll")]
    IntNonmonotonicPoll,
    /// Inside one operation, two consecutive reads of a key jumped over offsets known to hold records.
    #[serde(rename = "int-poll-skip")]
    IntPollSkip,
    /// A process's later send to a key was acknowledged at a lower offset than its earlier one.
    #[serde(rename = "nonmonotonic-send")]
    NonmonotonicSend,
    /// Inside one operation, a later send to a key landed at or before an earlier one.
    #[serde(rename = "int-nonmonotonic-send")]
    IntNonmonotonicSend,
    /// Inside one operation, two consecutive sends to a key landed with other records between them.
    #[serde(rename = "int-send-skip")]
    IntSendSkip,
    /// Aborted read: an ok poll saw a value whose send definitely failed.
    #[serde(rename = "G1a")]
    G1a,
    /// An operation read a value it sent itself, before it had committed.
    #[serde(rename = "precommitted-read")]
    PrecommittedRead,
    /// An operation committed, but an external store never acknowledged a write it meant to make.
    #[serde(rename = "sink-lost-write")]
    SinkLostWrite,
    /// An external store acknowledged the same write more than once.
    #[serde(rename = "sink-duplicate")]
    SinkDuplicate,
    /// A consume-transform-produce pipeline consumed an input record, and none of its outputs is committed.
    #[serde(rename = "transform-lost")]
    TransformLost,
    /// A consume-transform-produce pipeline's outputs of one input record were committed by two or more operations.
    #[serde(rename = "transform-duplicate")]
    TransformDuplicate,
    /// Acknowledged values that no poll has read yet, with nothing proving they should have been (informational).
    #[serde(rename = "unseen")]
    Unseen,
    /// Dependency cycle: a cycle of write-write dependencies only.
    #[serde(rename = "G0")]
    G0,
    /// Dependency cycle: G0, with a process-order edge.
    #[serde(rename = "G0-process")]
    G0Process,
    /// Dependency cycle: G0, with a realtime edge.
    #[serde(rename = "G0-realtime")]
    G0Realtime,
    /// Dependency cycle: write-read dependencies alone (Jepsen's G1c without `:ww-deps`): each operation read what
    /// another wrote, around a loop, which no read_committed consumer can see.
    #[serde(rename = "G1c-wr")]
    G1cWr,
    /// Dependency cycle: G1c-wr, with a process-order edge.
    #[serde(rename = "G1c-wr-process")]
    G1cWrProcess,
    /// Dependency cycle: G1c-wr, with a realtime edge (e.g. a poll that read a value whose send began after it).
    #[serde(rename = "G1c-wr-realtime")]
    G1cWrRealtime,
    /// Dependency cycle: write-write and write-read dependencies, at least one of each (circular information flow
    /// through interleaved writes).
    #[serde(rename = "G1c")]
    G1c,
    /// Dependency cycle: G1c, with a process-order edge.
    #[serde(rename = "G1c-process")]
    G1cProcess,
    /// Dependency cycle: G1c, with a realtime edge.
    #[serde(rename = "G1c-realtime")]
    G1cRealtime,
    /// Dependency cycle: a dependency cycle with exactly one anti-dependency (read-write) edge.
    #[serde(rename = "G-single")]
    GSingle,
    /// Dependency cycle: G-single, with a process-order edge.
    #[serde(rename = "G-single-process")]
    GSingleProcess,
    /// Dependency cycle: G-single, with a realtime edge.
    #[serde(rename = "G-single-realtime")]
    GSingleRealtime,
    /// Dependency cycle: a dependency cycle with two or more anti-dependency edges, no two of them adjacent.
    #[serde(rename = "G-nonadjacent")]
    GNonadjacent,
    /// Dependency cycle: G-nonadjacent, with a process-order edge.
    #[serde(rename = "G-nonadjacent-process")]
    GNonadjacentProcess,
    /// Dependency cycle: G-nonadjacent, with a realtime edge.
    #[serde(rename = "G-nonadjacent-realtime")]
    GNonadjacentRealtime,
    /// Dependency cycle: a dependency cycle with two or more anti-dependency edges, two of them adjacent.
    #[serde(rename = "G2-item")]
    G2Item,
    /// Dependency cycle: G2-item, with a process-order edge.
    #[serde(rename = "G2-item-process")]
    G2ItemProcess,
    /// Dependency cycle: G2-item, with a realtime edge.
    #[serde(rename = "G2-item-realtime")]
    G2ItemRealtime,
    /// A partition's log admits no order of its appends and reads that respects real time (`--linearizable`, see
    /// [`linearizable`]).
    #[serde(rename = "nonlinearizable-log")]
    NonlinearizableLog,
}

impl AnomalyKind {
    /// Every kind, in report order.
    pub const ALL: &'static [AnomalyKind] = &[
        AnomalyKind::LostWrite,
        AnomalyKind::Duplicate,
        AnomalyKind::InconsistentOffsets,
        AnomalyKind::NonmonotonicPoll,
        AnomalyKind::PollSkip,
        AnomalyKind::IntNonmonotonicPoll,
        AnomalyKind::IntPollSkip,
        AnomalyKind::NonmonotonicSend,
        AnomalyKind::IntNonmonotonicSend,
        AnomalyKind::IntSendSkip,
        AnomalyKind::G1a,
        AnomalyKind::PrecommittedRead,
        AnomalyKind::SinkLostWrite,
        AnomalyKind::SinkDuplicate,
        AnomalyKind::TransformLost,
        AnomalyKind::TransformDuplicate,
        AnomalyKind::Unseen,
        AnomalyKind::G0,
        AnomalyKind::G0Process,
        AnomalyKind::G0Realtime,
        AnomalyKind::G1cWr,
        AnomalyKind::G1cWrProcess,
        AnomalyKind::G1cWrRealtime,
        AnomalyKind::G1c,
        AnomalyKind::G1cProcess,
        AnomalyKind::G1cRealtime,
        AnomalyKind::GSingle,
        AnomalyKind::GSingleProcess,
        AnomalyKind::GSingleRealtime,
        AnomalyKind::GNonadjacent,
        AnomalyKind::GNonadjacentProcess,
        AnomalyKind::GNonadjacentRealtime,
        AnomalyKind::G2Item,
        AnomalyKind::G2ItemProcess,
        AnomalyKind::G2ItemRealtime,
        AnomalyKind::NonlinearizableLog,
    ];

    /// Jepsen's name for the kind, e.g. "lost-write" or "G1a".
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::LostWrite => "lost-write",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::InconsistentOffsets => "inconsistent-offsets",
            AnomalyKind::NonmonotonicPoll => "nonmonotonic-poll",
            AnomalyKind::PollSkip => "poll-skip",
            AnomalyKind::IntNonmonotonicPoll => "int-nonmonotonic-poll",
            AnomalyKind::IntPollSkip => "int-poll-skip",
            AnomalyKind::NonmonotonicSend => "nonmonotonic-send",
            AnomalyKind::IntNonmonotonicSend => "int-nonmonotonic-send",
            AnomalyKind::IntSendSkip => "int-send-skip",
            AnomalyKind::G1a => "G1a",
            AnomalyKind::PrecommittedRead => "precommitted-read",
            AnomalyKind::SinkLostWrite => "sink-lost-write",
            AnomalyKind::SinkDuplicate => "sink-duplicate",
            AnomalyKind::TransformLost => "transform-lost",
            AnomalyKind::TransformDuplicate => "transform-duplicate",
            AnomalyKind::Unseen => "unseen",
            AnomalyKind::G0 => "G0",
            AnomalyKind::G0Process => "G0-process",
            AnomalyKind::G0Realtime => "G0-realtime",
            AnomalyKind::G1cWr => "G1c-wr",
            AnomalyKind::G1cWrProcess => "G1c-wr-process",
            AnomalyKind::G1cWrRealtime => "G1c-wr-realtime",
            AnomalyKind::G1c => "G1c",
            AnomalyKind::G1cProcess => "G1c-process",
            AnomalyKind::G1cRealtime => "G1c-realtime",
            AnomalyKind::GSingle => "G-single",
            AnomalyKind::GSingleProcess => "G-single-process",
            AnomalyKind::GSingleRealtime => "G-single-realtime",
            AnomalyKind::GNonadjacent => "G-nonadjacent",
            AnomalyKind::GNonadjacentProcess => "G-nonadjacent-process",
            AnomalyKind::GNonadjacentRealtime => "G-nonadjacent-realtime",
            AnomalyKind::G2Item => "G2-item",
            AnomalyKind::G2ItemProcess => "G2-item-process",
            AnomalyKind::G2ItemRealtime => "G2-item-realtime",
            AnomalyKind::NonlinearizableLog => "nonlinearizable-log",
        }
    }

    /// The kind named `s` (exactly as [`AnomalyKind::name`] spells it).
    pub fn from_name(s: &str) -> Option<AnomalyKind> {
        AnomalyKind::ALL.iter().copied().find(|kind| kind.name() == s)
    }
}

/// One anomaly, with the evidence that proves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    /// What went wrong (serialized as its name).
    pub kind: AnomalyKind,
    /// The partition it happened in.
    pub key: Key,
    /// The values involved.
    pub values: Vec<Value>,
    /// The offsets involved.
    pub offsets: Vec<Offset>,
    /// Indices of the operations that prove it, ascending.
    pub ops: Vec<usize>,
    /// One sentence for a person.
    pub explanation: String,
}

/// A check: reads the shared indexes, returns every anomaly of its kind.
type Check = fn(&Analysis<'_>) -> Vec<Anomaly>;

/// The single list of checks, one per kind, in [`AnomalyKind::ALL`] order, but for the cycle kinds, which one
/// search finds together ([`cycles::check`], run after these). Which of them a claim allows, and why, is the table in
/// [`Guarantee::forbids`].
const CHECKS: [(AnomalyKind, Check); 17] = [
    (AnomalyKind::LostWrite, anomaly::lost_write::check),
    (AnomalyKind::Duplicate, anomaly::duplicate::check),
    (AnomalyKind::InconsistentOffsets, anomaly::inconsistent_offsets::check),
    (AnomalyKind::NonmonotonicPoll, anomaly::nonmonotonic_poll::check),
    (AnomalyKind::PollSkip, anomaly::poll_skip::check),
    (AnomalyKind::IntNonmonotonicPoll, anomaly::int_nonmonotonic_poll::check),
    (AnomalyKind::IntPollSkip, anomaly::int_poll_skip::check),
    (AnomalyKind::NonmonotonicSend, anomaly::nonmonotonic_send::check),
    (AnomalyKind::IntNonmonotonicSend, anomaly::int_nonmonotonic_send::check),
    (AnomalyKind::IntSendSkip, anomaly::int_send_skip::check),
    (AnomalyKind::G1a, anomaly::aborted_read::check),
    (AnomalyKind::PrecommittedRead, anomaly::precommitted_read::check),
    (AnomalyKind::SinkLostWrite, anomaly::sink_lost_write::check),
    (AnomalyKind::SinkDuplicate, anomaly::sink_duplicate::check),
    (AnomalyKind::TransformLost, anomaly::transform_lost::check),
    (AnomalyKind::TransformDuplicate, anomaly::transform_duplicate::check),
    (AnomalyKind::Unseen, anomaly::unseen::check),
];

/// Checks `history` for every anomaly and judges them against `guarantee`.
///
/// # Panics
/// Only if one of the checker's own invariants is broken, which is a bug in the checker: every parsed history,
/// however strange, gets a report.
pub fn check(history: &History, guarantee: Guarantee) -> Report {
    check_with(history, guarantee, Rules::Eosim)
}

/// [`check`], judging by `rules`: eosim's own, or Jepsen's Kafka checker's ([`Rules`]).
///
/// # Panics
/// As [`check`].
pub fn check_with(history: &History, guarantee: Guarantee, rules: Rules) -> Report {
    let analysis = Analysis::with_rules(history, rules);
    let mut anomalies = Vec::new();
    for (kind, run) in CHECKS {
        let found = run(&analysis);
        assert!(found.iter().all(|a| a.kind == kind), "check for {} reported another kind", kind.name());
        anomalies.extend(found);
    }
    let cycles = cycles::check(&analysis);
    assert!(
        cycles.iter().all(|a| cycles::kinds().any(|kind| kind == a.kind)),
        "the cycle search reported another kind"
    );
    anomalies.extend(cycles);
    for anomaly in &mut anomalies {
        anomaly.explanation = history.name_values(&anomaly.explanation);
    }
    anomalies.sort_by(|a, b| {
        (a.kind, &a.key, a.ops.first(), &a.ops, &a.values, &a.offsets).cmp(&(
            b.kind,
            &b.key,
            b.ops.first(),
            &b.ops,
            &b.values,
            &b.offsets,
        ))
    });
    let mut report = Report::new(guarantee, anomalies);
    report.rules = rules;
    report.subscribes = history.ops.iter().any(|op| op.f == OpFn::Subscribe);
    report.nothing_checked = !history.ops.iter().any(|op| {
        matches!(op.op_type, OpType::Ok | OpType::Info)
            && matches!(op.f, OpFn::Send | OpFn::Poll | OpFn::Txn)
            && !op.mops.is_empty()
    });
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_list_covers_every_kind_in_order() {
        let mut kinds: Vec<AnomalyKind> = CHECKS.iter().map(|(kind, _)| *kind).collect();
        kinds.extend(cycles::kinds());
        // Linearizability is searched apart, on request (`linearizable`).
        kinds.push(AnomalyKind::NonlinearizableLog);
        assert_eq!(kinds, AnomalyKind::ALL);
        let mut sorted = kinds.clone();
        sorted.sort();
        assert_eq!(sorted, kinds, "declaration order must be report order");
    }

    #[test]
    fn kind_names_round_trip_and_match_serde() {
        for &kind in AnomalyKind::ALL {
            assert_eq!(AnomalyKind::from_name(kind.name()), Some(kind));
            let json = serde_json::to_string(&kind).expect("serializes");
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<AnomalyKind>(&json).ok(), Some(kind));
        }
        assert_eq!(AnomalyKind::from_name("g1a"), None);
        assert_eq!(AnomalyKind::G1a.name(), "G1a");
    }

    #[test]
    fn an_empty_history_is_valid_under_every_guarantee_with_a_warning() {
        for &guarantee in Guarantee::ALL {
            let report = check(&History::new(), guarantee);
            assert!(report.is_valid());
            assert!(report.nothing_checked);
            assert!(report.anomalies.is_empty());
            assert!(report.render_text(10).contains("warning: nothing could be checked"));
            // Jepsen calls it invalid: nothing could be checked.
            let jepsen = check_with(&History::new(), guarantee, Rules::Jepsen);
            assert!(!jepsen.is_valid());
            assert!(jepsen.render_text(10).contains("verdict: INVALID (nothing could be checked)"));
        }
    }
}
