//! `eosim check --format json` end to end, against its schema page, docs/check-schema.md.
//!
//! The histories are the fixtures worked by hand on that page and in `checker/tests/edn.rs`: every field and value
//! asserted here is one the page states, and the page's JSON blocks must be exactly what the binary prints.

use std::process::{Command, Output};

use eosim_checker::{AnomalyKind, Guarantee};
use serde_json::Value;

/// Runs `eosim check` with `args` in the crate root.
fn eosim_check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eosim"))
        .arg("check")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the eosim binary runs")
}

/// The JSON that `eosim check ARGS --format json` prints, its text, after asserting the exit status.
fn check_json(args: &[&str], code: i32) -> (Value, String) {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let output = eosim_check(&args);
    let text = String::from_utf8(output.stdout).expect("UTF-8 output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{args:?}\n--- stdout\n{text}\n--- stderr\n{stderr}");
    let json = serde_json::from_str(&text).unwrap_or_else(|error| panic!("{args:?}: {error}\n{text}"));
    (json, text)
}

/// The schema page.
fn schema_page() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/check-schema.md");
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// `(kind, key, ops, violation)` of each anomaly, in report order.
fn summary(report: &Value) -> Vec<(String, String, Vec<u64>, bool)> {
    let anomalies = report["anomalies"].as_array().expect("anomalies is a list");
    anomalies
        .iter()
        .map(|anomaly| {
            let ops = anomaly["ops"].as_array().expect("ops is a list");
            (
                anomaly["kind"].as_str().expect("kind is a string").to_string(),
                anomaly["key"].as_str().expect("key is a string").to_string(),
                ops.iter().map(|op| op.as_u64().expect("an op index")).collect(),
                anomaly["violation"].as_bool().expect("violation is a bool"),
            )
        })
        .collect()
}

fn row(kind: &str, key: &str, ops: &[u64], violation: bool) -> (String, String, Vec<u64>, bool) {
    (kind.to_string(), key.to_string(), ops.to_vec(), violation)
}

#[test]
fn a_duplicate_is_a_violation_of_kafka_eos_with_its_evidence() {
    let (report, text) = check_json(&["tests/fixtures/duplicate.jsonl"], 1);
    assert!(text.starts_with("{\n  \"schema\": 1,\n  \"guarantee\": \"kafka-eos\",\n"), "schema comes first:\n{text}");
    assert!(text.ends_with("}\n"), "one document ending in a newline");
    assert_eq!(report["schema"], 1);
    assert_eq!(report["guarantee"], "kafka-eos");
    assert_eq!(report["valid"], false);
    assert_eq!(report["violation_count"], 1);
    assert_eq!(report.get("linearizability"), None, "only with --linearizable");
    let anomaly = &report["anomalies"][0];
    assert_eq!(report["anomalies"].as_array().map(Vec::len), Some(1));
    assert_eq!(anomaly["kind"], "duplicate");
    assert_eq!(anomaly["violation"], true);
    assert_eq!(anomaly["key"], "orders-0");
    assert_eq!(anomaly["values"], serde_json::json!([17]));
    assert_eq!(anomaly["offsets"], serde_json::json!([0, 1]));
    assert_eq!(anomaly["ops"], serde_json::json!([1, 5]));
    assert!(anomaly["explanation"].as_str().is_some_and(|sentence| sentence.contains("17")), "{anomaly}");
}

#[test]
fn at_least_once_lists_the_duplicate_as_allowed_and_exits_0() {
    let (report, _) = check_json(&["tests/fixtures/duplicate.jsonl", "--guarantee", "at-least-once"], 0);
    assert_eq!(report["guarantee"], "at-least-once");
    assert_eq!(report["valid"], true);
    assert_eq!(report["violation_count"], 0);
    assert_eq!(summary(&report), vec![row("duplicate", "orders-0", &[1, 5], false)]);
}

#[test]
fn a_log_no_order_explains_is_a_nonlinearizable_log_judged_by_the_guarantee() {
    // At least once allows a duplicate, and so a log it makes non-linearizable: valid, exit 0, listed.
    let args = ["tests/fixtures/duplicate.jsonl", "--guarantee", "at-least-once", "--linearizable"];
    let (report, _) = check_json(&args, 0);
    assert_eq!(report["valid"], true);
    let listed: Vec<&serde_json::Value> = report["anomalies"]
        .as_array()
        .expect("anomalies")
        .iter()
        .filter(|a| a["kind"] == "nonlinearizable-log")
        .collect();
    assert_eq!(listed.len(), 1, "{report}");
    assert_eq!(listed[0]["violation"], false);
    assert!(!listed[0]["explanation"].as_str().unwrap_or("").contains("LogState"), "{report}");
    // The idempotent producer forbids it: invalid, exit 1.
    let strict = ["tests/fixtures/duplicate.jsonl", "--guarantee", "idempotent", "--linearizable"];
    let (strict, _) = check_json(&strict, 1);
    assert_eq!(strict["valid"], false);
    let verdicts = report["linearizability"].as_array().expect("a list with --linearizable");
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0]["key"], "orders-0");
    let proof = &verdicts[0]["verdict"]["NotLinearizable"];
    assert_eq!(proof["partition"], "orders-0");
    assert_eq!(proof["longest_prefix"], serde_json::json!([1, 3]));
    assert!(proof["explanation"].is_string(), "{proof}");

    let (clean, _) = check_json(&["tests/fixtures/clean.jsonl", "--linearizable"], 0);
    assert_eq!(clean["linearizability"], serde_json::json!([{ "key": "orders-0", "verdict": "Linearizable" }]));
}

#[test]
fn a_clean_history_exits_0_with_an_empty_list() {
    let (report, _) = check_json(&["tests/fixtures/clean.jsonl"], 0);
    let expected = serde_json::json!({
        "schema": 1,
        "guarantee": "kafka-eos",
        "valid": true,
        "violation_count": 0,
        "rules": "eosim",
        "subscribes": false,
        "nothing_checked": false,
        "anomalies": [],
    });
    assert_eq!(report, expected);
    let (edn, _) = check_json(&["checker/tests/fixtures/jepsen-clean.edn"], 0);
    assert_eq!(edn, expected);
}

#[test]
fn the_hand_worked_jepsen_history_flags_exactly_its_violations() {
    let (report, _) = check_json(&["checker/tests/fixtures/jepsen-anomalies.edn"], 1);
    assert_eq!(report["valid"], false);
    assert_eq!(report["violation_count"], 7);
    assert_eq!(
        summary(&report),
        vec![
            row("lost-write", "4", &[5, 9], true),
            row("lost-write", "7", &[13, 19], true),
            row("poll-skip", "7", &[15, 17, 19], true),
            row("int-nonmonotonic-poll", "8", &[23], true),
            row("int-poll-skip", "4", &[9], true),
            row("int-send-skip", "4", &[7], false),
            row("G1a", "3", &[1, 3], true),
            row("precommitted-read", "6", &[11], true),
            row("G0", "4", &[5, 7], false),
            row("G-single", "7", &[13, 15], false),
        ]
    );
    let args = ["checker/tests/fixtures/jepsen-anomalies.edn", "--guarantee", "serializable"];
    let (serializable, _) = check_json(&args, 1);
    assert_eq!(serializable["violation_count"], 9, "serializable forbids the G0 and the G-single");
    let flags: Vec<(String, bool)> = summary(&serializable).into_iter().map(|(kind, _, _, v)| (kind, v)).collect();
    assert!(flags.contains(&("G0".to_string(), true)) && flags.contains(&("G-single".to_string(), true)));
    assert!(flags.contains(&("int-send-skip".to_string(), false)), "informational under every claim");
}

#[test]
fn the_output_is_deterministic_and_all_errors_does_not_change_it() {
    let history = "checker/tests/fixtures/jepsen-anomalies.edn";
    let (_, first) = check_json(&[history], 1);
    let (_, second) = check_json(&[history], 1);
    let (_, all_errors) = check_json(&[history, "--all-errors"], 1);
    assert_eq!(first, second);
    assert_eq!(first, all_errors);
}

#[test]
fn bad_input_prints_no_json_and_exits_2() {
    for history in ["tests/fixtures/malformed.jsonl", "tests/fixtures/no-such-history.jsonl"] {
        let output = eosim_check(&[history, "--format", "json"]);
        assert_eq!(output.status.code(), Some(2), "{history}");
        assert!(output.stdout.is_empty(), "{history}: {}", String::from_utf8_lossy(&output.stdout));
        assert!(String::from_utf8_lossy(&output.stderr).contains(history), "{history}");
    }
}

/// Every object key anywhere in `value`, in document order, repeats included.
fn field_names(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (name, inner) in fields {
                names.push(name.clone());
                field_names(inner, names);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| field_names(item, names)),
        _ => {}
    }
}

#[test]
fn the_schema_page_shows_what_the_binary_prints_and_names_every_field() {
    let page = schema_page();
    let examples: [&[&str]; 3] = [
        &["tests/fixtures/duplicate.jsonl"],
        &["tests/fixtures/duplicate.jsonl", "--guarantee", "at-least-once", "--linearizable"],
        &["tests/fixtures/clean.jsonl"],
    ];
    let mut names = Vec::new();
    for args in examples {
        let code = if args[0].ends_with("clean.jsonl") || args.contains(&"--linearizable") { 0 } else { 1 };
        let (json, text) = check_json(args, code);
        assert!(page.contains(&format!("```json\n{text}```\n")), "docs/check-schema.md lacks {args:?}:\n{text}");
        field_names(&json, &mut names);
    }
    let (jepsen, _) = check_json(&["checker/tests/fixtures/jepsen-anomalies.edn"], 1);
    field_names(&jepsen, &mut names);
    for name in names {
        let documented = page.contains(&format!("| `{name}` |")) || page.contains(&format!("`{{\"{name}\""));
        assert!(documented, "docs/check-schema.md does not document the field `{name}`");
    }
    for kind in AnomalyKind::ALL {
        assert!(page.contains(&format!("`{}`", kind.name())), "docs/check-schema.md does not name {}", kind.name());
    }
    for guarantee in Guarantee::ALL {
        assert!(page.contains(&format!("`{}`", guarantee.name())), "the page does not name {}", guarantee.name());
    }
}
