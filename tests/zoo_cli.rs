//! `eosim zoo` end to end, kept cheap: one entry (KAFKA-12671, whose single-transaction writers run fast), one or
//! two seed ranges and a few fixed seeds. Exit codes, the table, `zoo.json` and the shrunk repro it writes.

mod support;

use support::*;

/// The cheapest entry: a hanging transaction found within a few seeds.
const ENTRY: &str = "KAFKA-12671";

#[test]
fn one_entry_is_found_shrunk_replayed_and_fixed() {
    let dir = scratch_dir("zoo", "one-entry");
    let output = eosim(&["zoo", ENTRY, "--ranges", "1", "--fix-seeds", "20", "--jobs", "2", "--out", arg(&dir)]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains(ENTRY) && text.contains("result: PASS"), "{text}");
    let report = read_json(&dir.join("zoo.json"));
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["ranges"], 1);
    assert_eq!(report["fix_seeds"], 20);
    let entry = &report["entries"][0];
    assert_eq!(entry["bug"], ENTRY);
    assert_eq!(entry["variant"], "eos-tv1");
    assert_eq!(entry["found"], true, "{entry}");
    let seeds_to_find = entry["ranges"][0]["seeds_to_find"].as_u64().expect("a find in the only range");
    assert_eq!(entry["median_seeds_to_find"].as_u64(), Some(seeds_to_find));
    let findings = entry["ranges"][0]["find"]["findings"].as_array().expect("the find's findings");
    assert!(findings.iter().any(|finding| finding == "hanging-transaction"), "{entry}");
    let shrink = &entry["shrink"];
    assert_eq!(shrink["replay_ok"], true, "{shrink}");
    assert!(shrink["faults"].as_u64().expect("a fault count") <= 10, "{shrink}");
    assert_eq!(entry["fix"]["variant"], "eos-tv1-verify");
    assert_eq!((entry["fix"]["seeds"].as_u64(), entry["fix"]["failing"].as_u64()), (Some(20), Some(0)));

    // The shrunk repro written next to zoo.json replays bit-for-bit: `eosim replay` exits 1 for the stall it
    // shows, never 3 (a diverged trace hash).
    let repro = dir.join(format!("{ENTRY}.repro.json"));
    let replay = eosim(&["replay", arg(&repro)]);
    assert_exit(&replay, 1);
    assert!(stdout(&replay).contains("trace hash matches: yes"), "{}", stdout(&replay));
    assert_eq!(read_json(&repro)["expected"]["trace_hash"], shrink["trace_hash"]);
}

#[test]
fn a_budget_too_small_for_a_range_fails_the_entry() {
    // Range 0 finds the hang at its first seed, range 1 (seeds from 1,000,000) not within one seed: with two
    // ranges the median is the upper one, unbounded, so the bug is not found within the budget.
    let output = eosim(&["zoo", ENTRY, "--ranges", "2", "--seed-budget", "1", "--fix-seeds", "5", "--format", "json"]);
    assert_exit(&output, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("zoo.json on stdout");
    let entry = &report["entries"][0];
    assert_eq!(report["ok"], false);
    assert_eq!(entry["found"], false, "{entry}");
    assert_eq!(entry["seed_budget"], 1);
    assert_eq!(entry["ranges"][1]["seed_start"], 1_000_000);
    assert_eq!(entry["ranges"][1]["seeds_to_find"], serde_json::Value::Null);
    assert_eq!(entry["median_seeds_to_find"], serde_json::Value::Null);
    let problems = entry["problems"].as_array().expect("problems");
    assert!(
        problems.iter().any(|problem| problem.as_str().is_some_and(|text| text.starts_with("not found"))),
        "{entry}"
    );
}

#[test]
fn an_unknown_bug_is_bad_usage_and_names_the_zoo() {
    let output = eosim(&["zoo", "KAFKA-1", "--ranges", "1"]);
    assert_exit(&output, 2);
    let error = stderr(&output);
    assert!(error.contains("unknown bug \"KAFKA-1\""), "{error}");
    assert!(error.contains(ENTRY) && error.contains("KAFKA-17754"), "{error}");
}

#[test]
fn the_list_names_every_entry_and_its_file() {
    let output = eosim(&["zoo", "--list"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    for bug in [ENTRY, "KAFKA-17754", "KAFKA-19446"] {
        assert!(text.contains(&format!("scenarios/zoo/{bug}.toml")), "{text}");
    }
    assert_exit(&eosim(&["zoo", "--ranges", "0"]), 2);
}
