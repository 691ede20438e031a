//! The wide envelope against what real Kafka does: transaction version 1 (eos-tv1, before KIP-890) must show its
//! own protocol flaws with no switch at all — a late request of one transaction lands in the next one at the
//! same epoch (KAFKA-17754: aborted reads, torn or duplicated pipeline transactions) and a late write opens a
//! transaction nobody ends (KAFKA-12671: a hanging transaction) — while transaction version 2 holds under the
//! same envelope. docs/findings.md traces each.

mod support;

use support::*;

/// Runs `campaign SCENARIO --wide --seeds N` and returns its exit status and summary.
fn wide_campaign(scenario: &str, seeds: &str) -> (Option<i32>, String) {
    campaign_run(scenario, seeds, &["--wide"])
}

#[test]
fn eos_tv1_under_the_wide_envelope_shows_kafka_17754_and_a_hanging_transaction() {
    let (code, text) = wide_campaign("eos-tv1", "2000");
    assert_eq!(code, Some(1), "eos-tv1 must fail under the wide envelope:\n{text}");
    let violation = |kind: &str| {
        text.lines().any(|line| line.trim_start().starts_with(&format!("{kind} ")) && line.ends_with("runs  violation"))
    };
    assert!(
        ["G1a", "lost-write", "transform-duplicate"].iter().any(|kind| violation(kind)),
        "an aborted read or a torn or duplicated transaction:\n{text}"
    );
    assert!(text.contains("stalled: hanging-transaction"), "a hanging transaction:\n{text}");
}

#[test]
fn eos_tv2_holds_where_eos_tv1_breaks() {
    let (code, text) = wide_campaign("eos-tv2", "300");
    assert_eq!(code, Some(0), "transaction version 2 closes both classes:\n{text}");
}
