//! What a check found, judged against the claimed guarantee, and its text rendering.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::{Anomaly, AnomalyKind, Guarantee};

/// Every anomaly found in a history, and the guarantee it was judged against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The guarantee the system claims.
    pub guarantee: Guarantee,
    /// Every anomaly, violation or not, ordered by kind (in [`AnomalyKind::ALL`] order), key, then first op index.
    pub anomalies: Vec<Anomaly>,
}

impl Report {
    /// The anomalies the guarantee forbids.
    pub fn violations(&self) -> impl Iterator<Item = &Anomaly> {
        self.anomalies.iter().filter(|a| self.guarantee.forbids(a.kind))
    }

    /// How many anomalies the guarantee forbids.
    pub fn violation_count(&self) -> usize {
        self.violations().count()
    }

    /// Whether the history keeps the guarantee: no violation (allowed anomalies may remain).
    pub fn is_valid(&self) -> bool {
        self.violations().next().is_none()
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
        let _ = match violations {
            0 => writeln!(out, "verdict: valid (no violation)"),
            1 => writeln!(out, "verdict: INVALID (1 violation)"),
            n => writeln!(out, "verdict: INVALID ({n} violations)"),
        };
        if self.anomalies.is_empty() {
            out.push_str("no anomalies\n");
        }
        for (kind, count) in self.counts() {
            let verdict = if self.guarantee.forbids(kind) { "violation" } else { "allowed" };
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
}
