//! What a check found, judged against the claimed guarantee, its text rendering and its JSON layout.
//!
//! A [`Report`] serializes as the document `eosim check --format json` prints (docs/check-schema.md): the layout
//! version [`REPORT_SCHEMA`] first, then the guarantee, the verdict, and every anomaly with a `violation` flag saying
//! whether the guarantee forbids it. The flags and the verdict are derived from the guarantee, so reading a report
//! back takes only `schema`, `guarantee` and each anomaly's evidence, and ignores fields it does not know.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize, Serializer};

use crate::{Anomaly, AnomalyKind, Guarantee, Key, Offset, Rules, Value};

/// The version of a [`Report`]'s JSON layout, its top-level `schema` field (docs/check-schema.md).
///
/// Adding a field keeps the version: readers ignore fields they do not know. Renaming or removing a field, or
/// changing what one means, bumps it.
pub const REPORT_SCHEMA: u32 = 1;

/// Every anomaly found in a history, and the guarantee it was judged against.
///
/// It serializes with the layout of docs/check-schema.md, and deserializes from it, refusing a `schema` other than
/// [`REPORT_SCHEMA`].
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "ReportWire")]
pub struct Report {
    /// The guarantee the system claims.
    pub guarantee: Guarantee,
    /// Every anomaly, violation or not, ordered by kind (in [`AnomalyKind::ALL`] order), key, then first op index.
    pub anomalies: Vec<Anomaly>,
    /// Whose verdict rules judge the anomalies.
    pub rules: Rules,
    /// Whether the history subscribes (Jepsen's rules then allow poll skips and rewinds).
    pub subscribes: bool,
    /// Whether the history held nothing to check: no send, poll or txn operation completed ok or info with a
    /// micro-op. Jepsen calls such a history invalid; eosim warns.
    pub nothing_checked: bool,
}

impl Report {
    /// A report of `anomalies` judged against `guarantee` by eosim's rules, on a history with something in it.
    pub fn new(guarantee: Guarantee, anomalies: Vec<Anomaly>) -> Report {
        Report { guarantee, anomalies, rules: Rules::Eosim, subscribes: false, nothing_checked: false }
    }

    /// Whether the report's rules count `kind` as a violation: the guarantee's table, or Jepsen's list.
    pub fn forbids(&self, kind: AnomalyKind) -> bool {
        match self.rules {
            Rules::Eosim => self.guarantee.forbids(kind),
            Rules::Jepsen => crate::jepsen_forbids(kind, self.subscribes),
        }
    }

    /// The anomalies the rules forbid.
    pub fn violations(&self) -> impl Iterator<Item = &Anomaly> {
        self.anomalies.iter().filter(|a| self.forbids(a.kind))
    }

    /// How many anomalies the guarantee forbids.
    pub fn violation_count(&self) -> usize {
        self.violations().count()
    }

    /// Whether the history keeps the guarantee: no violation (allowed anomalies may remain), and, under Jepsen's
    /// rules, something was checked.
    pub fn is_valid(&self) -> bool {
        self.violations().next().is_none() && !(self.nothing_checked && self.rules == Rules::Jepsen)
    }

    /// The warning or verdict line for a history with nothing in it, if it had nothing.
    pub fn nothing_checked_line(&self) -> Option<&'static str> {
        match (self.nothing_checked, self.rules) {
            (false, _) => None,
            (true, Rules::Eosim) => {
                Some("warning: nothing could be checked (no send, poll or txn operation completed ok or info)")
            }
            (true, Rules::Jepsen) => {
                Some("nothing could be checked (no send, poll or txn operation completed ok or info): invalid, as Jepsen's empty-transaction-graph")
            }
        }
    }

    /// How many anomalies of each kind were found, violations or not; kinds not found are absent.
    pub fn counts(&self) -> BTreeMap<AnomalyKind, usize> {
        let mut counts = BTreeMap::new();
        for anomaly in &self.anomalies {
            *counts.entry(anomaly.kind).or_insert(0) += 1;
        }
        counts
    }

    /// A human-readable summary: the verdict, then per kind found whether it is a violation or allowed, its count,
    /// and up to `max_cases_per_kind` cases with their evidence.
    pub fn render_text(&self, max_cases_per_kind: usize) -> String {
        let mut out = String::new();
        let violations = self.violation_count();
        // Writing to a String cannot fail.
        let _ = writeln!(out, "guarantee: {} ({})", self.guarantee.name(), self.guarantee.description());
        if self.rules == Rules::Jepsen {
            out.push_str("rules: jepsen (Jepsen's allowed-error-types, send-order and unseen rules)\n");
        }
        let _ = match (violations, self.is_valid()) {
            (0, true) => writeln!(out, "verdict: valid (no violation)"),
            (0, false) => writeln!(out, "verdict: INVALID (nothing could be checked)"),
            (1, _) => writeln!(out, "verdict: INVALID (1 violation)"),
            (n, _) => writeln!(out, "verdict: INVALID ({n} violations)"),
        };
        if let Some(line) = self.nothing_checked_line() {
            let _ = writeln!(out, "{line}");
        }
        if self.anomalies.is_empty() {
            out.push_str("no anomalies\n");
        }
        for (kind, count) in self.counts() {
            let verdict = if self.forbids(kind) { "violation" } else { "allowed" };
            let _ = writeln!(out, "{}: {count} ({verdict})", kind.name());
            for anomaly in self.anomalies.iter().filter(|a| a.kind == kind).take(max_cases_per_kind) {
                render_case(&mut out, anomaly);
            }
            if count > max_cases_per_kind {
                let _ = writeln!(out, "  ... and {} more", count - max_cases_per_kind);
            }
        }
        out
    }
}

/// A report as written: the schema version and the verdict first, then each anomaly with its violation flag.
#[derive(Serialize)]
struct ReportJson<'a> {
    schema: u32,
    guarantee: Guarantee,
    valid: bool,
    violation_count: usize,
    rules: Rules,
    subscribes: bool,
    nothing_checked: bool,
    anomalies: Vec<AnomalyJson<'a>>,
}

/// One anomaly as written: its kind, whether the guarantee forbids it, then its evidence.
#[derive(Serialize)]
struct AnomalyJson<'a> {
    kind: AnomalyKind,
    violation: bool,
    key: &'a Key,
    values: &'a [Value],
    offsets: &'a [Offset],
    ops: &'a [usize],
    explanation: &'a str,
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let anomalies: Vec<AnomalyJson<'_>> = self
            .anomalies
            .iter()
            .map(|anomaly| AnomalyJson {
                kind: anomaly.kind,
                violation: self.forbids(anomaly.kind),
                key: &anomaly.key,
                values: &anomaly.values,
                offsets: &anomaly.offsets,
                ops: &anomaly.ops,
                explanation: &anomaly.explanation,
            })
            .collect();
        let violation_count = anomalies.iter().filter(|anomaly| anomaly.violation).count();
        assert_eq!(violation_count, self.violation_count(), "the flags and the count come from one table");
        let json = ReportJson {
            schema: REPORT_SCHEMA,
            guarantee: self.guarantee,
            rules: self.rules,
            subscribes: self.subscribes,
            nothing_checked: self.nothing_checked,
            valid: self.is_valid(),
            violation_count,
            anomalies,
        };
        json.serialize(serializer)
    }
}

/// A report as read: what the derived fields (`valid`, `violation_count`, each `violation`) are computed from.
/// Unknown fields, those among them, are ignored, so that a later layout that only adds fields still reads.
#[derive(Deserialize)]
struct ReportWire {
    schema: u32,
    guarantee: Guarantee,
    anomalies: Vec<Anomaly>,
    #[serde(default)]
    rules: Rules,
    #[serde(default)]
    subscribes: bool,
    #[serde(default)]
    nothing_checked: bool,
}

impl TryFrom<ReportWire> for Report {
    type Error = String;

    fn try_from(wire: ReportWire) -> Result<Report, String> {
        if wire.schema != REPORT_SCHEMA {
            return Err(format!("report schema {} (expected {REPORT_SCHEMA})", wire.schema));
        }
        let mut report = Report::new(wire.guarantee, wire.anomalies);
        (report.rules, report.subscribes, report.nothing_checked) = (wire.rules, wire.subscribes, wire.nothing_checked);
        Ok(report)
    }
}

fn render_case(out: &mut String, anomaly: &Anomaly) {
    let _ = writeln!(
        out,
        "  - key {}, values {:?}, offsets {:?}, ops {:?}\n    {}",
        anomaly.key, anomaly.values, anomaly.offsets, anomaly.ops, anomaly.explanation
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anomaly(kind: AnomalyKind, ops: Vec<usize>) -> Anomaly {
        Anomaly {
            kind,
            key: "orders-0".to_string(),
            values: vec![17],
            offsets: vec![4],
            ops,
            explanation: format!("a {} case", kind.name()),
        }
    }

    fn report(guarantee: Guarantee) -> Report {
        Report {
            rules: Rules::Eosim,
            subscribes: false,
            nothing_checked: false,
            guarantee,
            anomalies: vec![
                anomaly(AnomalyKind::Duplicate, vec![1, 3]),
                anomaly(AnomalyKind::Duplicate, vec![5, 7]),
                anomaly(AnomalyKind::Unseen, vec![9]),
            ],
        }
    }

    #[test]
    fn violations_follow_the_guarantee() {
        let strict = report(Guarantee::Idempotent);
        assert_eq!(strict.violation_count(), 2);
        assert!(!strict.is_valid());
        let relaxed = report(Guarantee::AtLeastOnce);
        assert_eq!(relaxed.violation_count(), 0);
        assert!(relaxed.is_valid());
        let counts = relaxed.counts();
        assert_eq!(counts.get(&AnomalyKind::Duplicate), Some(&2));
        assert_eq!(counts.get(&AnomalyKind::Unseen), Some(&1));
        assert_eq!(counts.get(&AnomalyKind::LostWrite), None);
    }

    #[test]
    fn text_names_the_verdict_each_kind_and_truncates_cases() {
        let text = report(Guarantee::KafkaEos).render_text(1);
        assert!(text.contains("verdict: INVALID (2 violations)"), "{text}");
        assert!(text.contains("duplicate: 2 (violation)"), "{text}");
        assert!(text.contains("unseen: 1 (allowed)"), "{text}");
        assert!(text.contains("ops [1, 3]"), "{text}");
        assert!(!text.contains("ops [5, 7]"), "{text}");
        assert!(text.contains("... and 1 more"), "{text}");
        let valid = report(Guarantee::AtLeastOnce).render_text(5);
        assert!(valid.contains("verdict: valid"), "{valid}");
    }

    #[test]
    fn json_uses_names() {
        let json = serde_json::to_string(&report(Guarantee::KafkaEos)).expect("serializes");
        assert!(json.contains("\"guarantee\":\"kafka-eos\""), "{json}");
        assert!(json.contains("\"kind\":\"duplicate\""), "{json}");
        let back: Report = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, report(Guarantee::KafkaEos));
    }

    #[test]
    fn json_starts_with_the_schema_and_flags_each_violation() {
        let json = serde_json::to_string(&report(Guarantee::Idempotent)).expect("serializes");
        assert!(json.starts_with("{\"schema\":1,\"guarantee\":\"idempotent\",\"valid\":false,"), "{json}");
        assert!(json.contains("\"violation_count\":2,"), "{json}");
        assert!(json.contains("{\"kind\":\"duplicate\",\"violation\":true,\"key\":\"orders-0\","), "{json}");
        assert!(json.contains("{\"kind\":\"unseen\",\"violation\":false,"), "{json}");
        let relaxed = serde_json::to_string(&report(Guarantee::AtLeastOnce)).expect("serializes");
        assert!(relaxed.contains("\"valid\":true,\"violation_count\":0,"), "{relaxed}");
        assert!(!relaxed.contains("\"violation\":true"), "{relaxed}");
    }

    #[test]
    fn json_reads_back_ignoring_unknown_fields_and_refusing_other_schemas() {
        let later = r#"{"schema":1,"guarantee":"kafka-eos","valid":true,"future":[1],"anomalies":[]}"#;
        let back: Report = serde_json::from_str(later).expect("an added field still reads");
        assert_eq!(back, Report::new(Guarantee::KafkaEos, Vec::new()));
        let other = r#"{"schema":2,"guarantee":"kafka-eos","anomalies":[]}"#;
        let error = serde_json::from_str::<Report>(other).expect_err("schema 2 is another layout");
        assert!(error.to_string().contains("report schema 2 (expected 1)"), "{error}");
        let unversioned = r#"{"guarantee":"kafka-eos","anomalies":[]}"#;
        assert!(serde_json::from_str::<Report>(unversioned).is_err(), "schema is required");
    }
}
