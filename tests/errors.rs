//! Errors in what a user gives eosim, shown the way cargo shows them: exit status 2, the `FILE:LINE:COL: message`
//! line that tools read, the offending line with a caret under the span, what was expected and found, and a
//! `help:` line where a fix is known. Also the quiet campaign summary and `eosim list`'s expected outcomes.

mod support;

use support::*;

use std::path::PathBuf;

/// A small transactional scenario with a pipeline; each test breaks one line of it.
const BASE: &str = r#"name = "errors"
description = "a base scenario the tests break one line of"
variant = "eos-tv2"
duration_ms = 300

[cluster]
brokers = 3
topics = [{ name = "in", partitions = 1 }, { name = "out", partitions = 1 }]

[producer]
acks = "all"

[workload]
producers = 1
messages_per_producer = 5
producer_topic = "in"
pipeline = { instances = 1, input = "in", output = "out" }

[faults]
lost-ack = { every_ms = 50, duration_ms = [2, 20], probability = 0.5 }
"#;

/// Writes `text` as `NAME.toml` in a scratch directory.
fn scenario_file(name: &str, text: &str) -> PathBuf {
    let path = scratch_dir("errors", name).join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write the scenario");
    path
}

/// `BASE` with `from` replaced by `to`, which must be there.
fn broken(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

/// What `eosim run FILE --seed 1` prints on stderr, after asserting it exits 2.
fn refused(name: &str, text: &str) -> (PathBuf, String) {
    let path = scenario_file(name, text);
    let output = eosim(&["run", arg(&path), "--seed", "1"]);
    assert_exit(&output, 2);
    (path, stderr(&output))
}

/// The 1-based column of the caret line's first `^`, counted in the snippet's source column.
fn caret_column(error: &str) -> usize {
    let line = error.lines().find(|line| line.trim_start().starts_with("| ") && line.contains('^'));
    let line = line.unwrap_or_else(|| panic!("no caret line in:\n{error}"));
    let bar = line.find("| ").expect("a gutter");
    line[bar + 2..].find('^').expect("a caret") + 1
}

/// The snippet line `LINE | text`, which must be there.
fn has_source_line(error: &str, line: usize, text: &str) -> bool {
    error.lines().any(|shown| shown.trim_start() == format!("{line} | {text}"))
}

#[test]
fn a_wrong_type_says_what_was_expected_and_found_and_how_to_write_it() {
    let (path, error) = refused("acks-integer", &broken("acks = \"all\"", "acks = 1"));
    let first = error.lines().next().unwrap_or_default();
    assert_eq!(first, format!("error: {}:11:8: `acks` must be \"all\", \"1\" or \"0\"", path.display()), "{error}");
    assert!(has_source_line(&error, 11, "acks = 1"), "{error}");
    assert_eq!(caret_column(&error), 8, "{error}");
    assert!(error.contains("^ expected a string, found an integer"), "{error}");
    assert!(error.trim_end().ends_with("help: write `acks = \"1\"`"), "{error}");
    let (_, error) = refused("brokers-string", &broken("brokers = 3", "brokers = \"3\""));
    assert!(error.contains(":7:11: `brokers` must be an integer"), "{error}");
    assert!(error.contains("^^^ expected an integer, found a string"), "{error}");
    assert!(error.contains("help: write `brokers = 3`"), "{error}");
    assert!(!error.contains('\u{1b}'), "no colour when stderr is not a terminal: {error:?}");
}

#[test]
fn a_reversed_range_names_both_bounds_at_the_range() {
    let (path, error) = refused("reversed", &broken("duration_ms = [2, 20]", "duration_ms = [200, 20]"));
    assert!(error.starts_with(&format!("error: {}:20:29: lost-ack:", path.display())), "{error}");
    assert!(error.contains("the lower bound 200 is above the upper bound 20"), "{error}");
    assert_eq!(caret_column(&error), 29, "{error}");
    assert!(error.contains("^^^^^^^^^^^^^^^^^^^^^^^ the lower bound 200"), "the caret spans the assignment: {error}");
    assert!(error.contains("help: write `duration_ms = [20, 200]`"), "{error}");
}

#[test]
fn an_unknown_key_or_value_suggests_the_closest_allowed_one() {
    let (path, error) = refused("key-typo", &broken("brokers = 3", "brokers = 3\nreplication_factr = 3"));
    assert!(error.starts_with(&format!("error: {}:8:1: unknown field `replication_factr`", path.display())));
    assert_eq!(caret_column(&error), 1, "{error}");
    assert!(error.contains("^^^^^^^^^^^^^^^^^ unknown key"), "{error}");
    assert!(error.contains("help: did you mean `replication_factor`?"), "{error}");
    let (_, error) = refused("variant-typo", &broken("variant = \"eos-tv2\"", "variant = \"eos-tb2\""));
    assert!(error.contains(":3:11: unknown variant `eos-tb2`"), "{error}");
    assert!(error.contains("help: did you mean `variant = \"eos-tv2\"`?"), "{error}");
}

#[test]
fn an_unknown_topic_is_placed_at_its_line_in_every_way_a_table_is_written() {
    let (path, error) = refused("topic-inline", &broken("output = \"out\"", "output = \"outt\""));
    assert!(error.starts_with(&format!("error: {}:17:43: unknown topic \"outt\"", path.display())), "{error}");
    assert_eq!(caret_column(&error), 43, "{error}");
    assert!(error.contains("help: did you mean `output = \"out\"`?"), "{error}");
    let table = "[workload.pipeline]\ninstances = 1\ninput = \"in\"\noutput = \"oot\"\n";
    let (path, error) = refused(
        "topic-table",
        &format!("{}{table}", broken("pipeline = { instances = 1, input = \"in\", output = \"out\" }\n", "")),
    );
    assert!(error.starts_with(&format!("error: {}:23:1: unknown topic \"oot\"", path.display())), "{error}");
    let dotted = "pipeline.instances = 1\npipeline.input = \"inn\"\npipeline.output = \"out\"\n";
    let text = broken("pipeline = { instances = 1, input = \"in\", output = \"out\" }\n", dotted);
    let (path, error) = refused("topic-dotted", &text);
    assert!(error.starts_with(&format!("error: {}:18:10: unknown topic \"inn\"", path.display())), "{error}");
    assert!(has_source_line(&error, 18, "pipeline.input = \"inn\""), "{error}");
    assert!(error.contains("help: did you mean `input = \"in\"`?"), "{error}");
}

#[test]
fn an_unknown_scenario_name_suggests_a_builtin_and_a_missing_path_is_no_such_file() {
    let output = eosim(&["run", "eos-tv3", "--seed", "1"]);
    assert_exit(&output, 2);
    let error = stderr(&output);
    assert!(error.starts_with("error: unknown scenario \"eos-tv3\""), "{error}");
    assert!(error.trim_end().ends_with("help: did you mean `eos-tv2`?"), "{error}");
    for path in ["nothere.toml", "no/such/dir/scenario"] {
        let output = eosim(&["campaign", path, "--seeds", "1"]);
        assert_exit(&output, 2);
        let error = stderr(&output);
        assert!(error.starts_with(&format!("error: {path}: no such file (expected a scenario TOML file)")), "{error}");
        assert!(!error.contains("unknown scenario"), "{error}");
    }
}

#[test]
fn a_report_or_history_given_for_a_repro_is_named_with_the_file_to_pass() {
    let dir = scratch_dir("errors", "wrong-file");
    let out = dir.join("out");
    assert_exit(&eosim(&["campaign", "at-most-once", "--seeds", "6", "--jobs", "2", "--out", arg(&out)]), 1);
    let report = out.join("report.json");
    for command in ["shrink", "replay"] {
        let output = eosim(&[command, arg(&report)]);
        assert_exit(&output, 2);
        let expected = format!(
            "error: {}: this is a campaign report, not a repro: pass one of its repro-SEED.json files",
            report.display()
        );
        assert_eq!(stderr(&output).trim_end(), expected, "{command}");
    }
    let failing = read_json(&report)["runs"]
        .as_array()
        .and_then(|runs| runs.iter().find(|run| run["verdict"] != "pass").and_then(|run| run["seed"].as_u64()))
        .expect("a failing seed");
    let history = out.join(format!("history-{failing}.jsonl"));
    let output = eosim(&["replay", arg(&history)]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("this is a history, not a repro"), "{}", stderr(&output));
    let repro = out.join(format!("repro-{failing}.json"));
    let output = eosim(&["merge", arg(&repro)]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("this is a repro, not a campaign report"), "{}", stderr(&output));
    let output = eosim(&["check", arg(&report)]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("pass one of its history-SEED.jsonl files"), "{}", stderr(&output));
}

#[test]
fn a_malformed_repro_shows_its_line_and_caret() {
    let dir = scratch_dir("errors", "bad-repro");
    assert_exit(&eosim(&["run", "at-most-once", "--seed", "2", "--out", arg(&dir)]), 1);
    let repro = dir.join("repro.json");
    let text = read(&repro);
    let (line, source) = text.lines().enumerate().find(|(_, line)| line.contains("\"seed\": ")).expect("a seed line");
    std::fs::write(&repro, text.replacen(source, "  \"seed\": ]", 1)).expect("write");
    let output = eosim(&["replay", arg(&repro)]);
    assert_exit(&output, 2);
    let error = stderr(&output);
    assert!(error.starts_with(&format!("error: {}:{}:11: expected value", repro.display(), line + 1)), "{error}");
    assert!(error.contains(&format!("{} |   \"seed\": ]\n", line + 1)), "{error}");
    assert_eq!(caret_column(&error), 11, "{error}");
}

#[test]
fn an_expectation_must_name_a_kind_the_guarantee_forbids() {
    let (path, error) =
        refused("expect-typo", &broken("duration_ms = 300", "expect = \"lost-writ\"\nduration_ms = 300"));
    assert!(error.starts_with(&format!("error: {}:4:1: expect: \"lost-writ\"", path.display())), "{error}");
    assert!(error.contains("help: did you mean \"lost-write\"?"), "{error}");
    let (_, error) = refused("expect-type", &broken("duration_ms = 300", "expect = 1\nduration_ms = 300"));
    assert!(error.contains("`expect` must be \"pass\", an anomaly kind, or a list of anomaly kinds"), "{error}");
    let text = broken("duration_ms = 300", "expect = [\"lost-write\", \"duplicate\"]\nduration_ms = 300");
    let output = eosim(&["run", arg(&scenario_file("expect-list", &text)), "--seed", "1"]);
    assert_ne!(output.status.code(), Some(2), "a list of forbidden kinds is accepted: {}", stderr(&output));
}

#[test]
fn list_shows_each_scenarios_expected_outcome() {
    let output = eosim(&["list"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    let expect_of = |name: &str| {
        let line = text.lines().find(|line| line.split_whitespace().next() == Some(name));
        line.and_then(|line| line.split_whitespace().nth(2)).unwrap_or_else(|| panic!("{name}:\n{text}")).to_string()
    };
    assert_eq!(expect_of("eos-tv2"), "pass");
    assert_eq!(expect_of("at-most-once"), "lost-write");
    assert_eq!(expect_of("at-least-once"), "duplicate");
    assert_eq!(expect_of("external-store"), "sink-duplicate");
    assert_eq!(expect_of("read-uncommitted"), "G1a");
    let json: serde_json::Value = serde_json::from_str(&stdout(&eosim(&["list", "--format", "json"]))).expect("JSON");
    let power = json.as_array().and_then(|entries| entries.iter().find(|entry| entry["name"] == "power-loss"));
    assert_eq!(power.expect("power-loss")["expect"][0], "lost-write");
}

#[test]
fn a_campaign_summarises_allowed_anomalies_and_flags_only_unreached_coverage() {
    let quiet = eosim(&["campaign", "atomic-writer", "--seeds", "3", "--jobs", "2"]);
    assert_exit(&quiet, 0);
    let text = stdout(&quiet);
    let allowed: Vec<&str> = text.lines().filter(|line| line.starts_with("allowed: ")).collect();
    assert_eq!(allowed.len(), 1, "{text}");
    assert!(allowed[0].ends_with("(the guarantee allows them)") && allowed[0].contains(" runs G0"), "{text}");
    assert!(!text.contains("runs  allowed"), "{text}");
    assert!(text.lines().any(|line| line.starts_with("coverage: ") && line.contains("points reached")), "{text}");
    assert!(!text.contains("txn-state:Ongoing"), "reached points stay out of the quiet summary: {text}");
    let full = stdout(&eosim(&["campaign", "atomic-writer", "--seeds", "3", "--jobs", "2", "--coverage", "full"]));
    assert!(full.contains("coverage (runs that reached each point, total count):"), "{full}");
    assert!(runs_reaching(&full, "txn-state:Ongoing") > 0, "{full}");
    let none = stdout(&eosim(&["campaign", "atomic-writer", "--seeds", "3", "--jobs", "2", "--coverage", "none"]));
    assert!(!none.contains("coverage"), "{none}");
    assert_exit(&eosim(&["campaign", "atomic-writer", "--coverage", "some"]), 2);
    assert_exit(&eosim(&["campaign", "atomic-writer", "--seeds", "0"]), 2);
}
