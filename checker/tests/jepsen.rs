//! Jepsen's Kafka checker tests (`jepsen/test/jepsen/tests/kafka_test.clj`): this harness, and one module per group
//! of deftests in `jepsen/`, each history transliterated to EDN (without `:index`, so op numbers are positions), checked by eosim under Jepsen's rules (`Rules::Jepsen`, what
//! `eosim check --compat jepsen` uses) and under eosim's own. Each test asserts what Jepsen's deftest asserts: which
//! kinds are found, with which ops. Where eosim's default rules differ, the test asserts the difference that
//! docs/checks/README.md ("Differences from Jepsen") names.

use eosim_checker::{check_with, AnomalyKind, Guarantee, History, Report, Rules};

use AnomalyKind as A;

fn report(text: &str, rules: Rules) -> Report {
    let history = History::parse_edn("jepsen.edn", text).unwrap_or_else(|e| panic!("{e}"));
    check_with(&history, Guarantee::KafkaEos, rules)
}

/// The ops of each anomaly of `kind`, in report order.
fn found(report: &Report, kind: AnomalyKind) -> Vec<Vec<usize>> {
    report.anomalies.iter().filter(|a| a.kind == kind).map(|a| a.ops.clone()).collect()
}

/// Both rules find exactly `expected` of `kind`.
fn both(text: &str, kind: AnomalyKind, expected: &[&[usize]]) {
    let expected: Vec<Vec<usize>> = expected.iter().map(|ops| ops.to_vec()).collect();
    for rules in [Rules::Jepsen, Rules::Eosim] {
        let r = report(text, rules);
        assert_eq!(found(&r, kind), expected, "{} under {} rules:\n{}", kind.name(), rules.name(), r.render_text(9));
    }
}

/// Both rules find as many of `kind` as `expected`, each naming Jepsen's ops and, as evidence, `extra` (the failed
/// operation in between, or the poll that proves a crashed send committed), which Jepsen's cases leave out.
fn both_with_evidence(text: &str, kind: AnomalyKind, expected: &[&[usize]], extra: usize) {
    let expected: Vec<Vec<usize>> = expected
        .iter()
        .map(|ops| {
            let mut ops = ops.to_vec();
            ops.push(extra);
            ops.sort_unstable();
            ops
        })
        .collect();
    for rules in [Rules::Jepsen, Rules::Eosim] {
        let r = report(text, rules);
        assert_eq!(found(&r, kind), expected, "{} under {} rules:\n{}", kind.name(), rules.name(), r.render_text(9));
    }
}

/// Whether the rules count `kind` as a violation in `text`.
fn counts(text: &str, rules: Rules, kind: AnomalyKind) -> bool {
    report(text, rules).violations().any(|a| a.kind == kind)
}

#[path = "jepsen/cycles.rs"]
mod cycles;
#[path = "jepsen/offsets.rs"]
mod offsets;
#[path = "jepsen/polls.rs"]
mod polls;
#[path = "jepsen/sends.rs"]
mod sends;
#[path = "jepsen/writes.rs"]
mod writes;
