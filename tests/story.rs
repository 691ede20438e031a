//! A failing run tells its story on the terminal: `eosim run`, `replay` and `shrink` print the fault schedule, each
//! anomaly with the operations that prove it (by index, with their values), and a timeline around the first
//! violation, every line within 100 columns and without escapes when piped.
//!
//! One test per anomaly kind a built-in scenario or a stored zoo repro shows. Each runs the seed once in the
//! library, for the schedule and the checker's report the text must tell, and once through the binary; the seeds
//! are small runs (the stall, the longest, is one 60-second virtual run), so the file stays fast in debug too.

mod support;

use support::*;

use std::path::Path;

use eosim::story::evidence::OPS_PER_CASE;
use eosim::story::schedule::SHOWN_MAX;
use eosim::{Repro, RunResult};
use eosim_model::scenario::fault_kind_name;

/// The widest line the terminal output may have, in characters.
const WIDTH_CHARS: usize = 100;

/// The text of `eosim run SCENARIO --seed SEED`, and the same run in the library.
fn run_story(scenario: &str, seed: u64) -> (String, RunResult) {
    let loaded = eosim::scenarios::load(scenario).expect("a built-in scenario");
    let result = eosim::run_seed(&loaded.scenario, seed);
    let output = eosim(&["run", scenario, "--seed", &seed.to_string()]);
    assert_exit(&output, 1);
    (stdout(&output), result)
}

/// The text of `eosim replay tests/regressions/NAME.json`, and the same replay in the library.
fn replay_story(name: &str) -> (String, RunResult) {
    let path = format!("tests/regressions/{name}.json");
    let repro = Repro::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(&path)).expect("a stored repro");
    let result = repro.replay();
    let output = eosim(&["replay", &path]);
    assert_exit(&output, 1);
    (stdout(&output), result)
}

/// Every line fits 100 columns (characters, not bytes) and carries no escape.
fn assert_fits(text: &str) {
    for line in text.lines() {
        assert!(line.chars().count() <= WIDTH_CHARS, "{} characters: {line}\n{text}", line.chars().count());
        assert!(!line.contains('\u{1b}'), "an escape in piped output: {line}");
    }
}

/// The schedule is listed one fault a line, each with its index and its kind as scenario files name it.
fn assert_names_the_faults(text: &str, result: &RunResult) {
    let faults = &result.outcome.as_ref().expect("the run finished").schedule.faults;
    assert!(!faults.is_empty(), "a failing seed with faults");
    let lines: Vec<&str> = text.lines().map(str::trim_start).collect();
    let mut shown = 0;
    for (index, fault) in faults.iter().enumerate() {
        let kind = fault_kind_name(fault.action.kind());
        let prefix = format!("#{index} ");
        let listed = lines.iter().any(|line| {
            let line = line.trim_start_matches("* ");
            line.starts_with(&prefix) && line.split_whitespace().nth(3) == Some(kind)
        });
        assert!(listed || faults.len() > SHOWN_MAX, "fault #{index} ({kind}) is not listed:\n{text}");
        shown += usize::from(listed);
    }
    assert!(shown > 0, "no fault listed:\n{text}");
}

/// The first case of `kind` is told with its explanation and every operation that proves it (up to the cap),
/// by index, at least one of them with a value of the case.
fn assert_cites_the_proving_ops(text: &str, result: &RunResult, kind: &str) {
    let report = result.report.as_ref().expect("a checked run");
    let anomaly = report.anomalies.iter().find(|anomaly| anomaly.kind.name() == kind).expect("the kind was found");
    assert!(text.lines().any(|line| line.starts_with(&format!("  {kind}: "))), "no {kind} heading:\n{text}");
    let explanation_start: String = anomaly.explanation.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
    assert!(text.contains(&explanation_start), "the explanation is missing:\n{text}");
    let mut op_lines = Vec::new();
    for index in anomaly.ops.iter().take(OPS_PER_CASE) {
        let prefix = format!("op {index} ");
        let line = text.lines().map(str::trim_start).find(|line| line.starts_with(&prefix));
        op_lines.push(line.unwrap_or_else(|| panic!("op {index} of the {kind} case is not cited:\n{text}")));
    }
    let values: Vec<String> = anomaly.values.iter().map(i64::to_string).collect();
    let has_value =
        |line: &&str| values.iter().any(|value| line.split(|c: char| !c.is_ascii_digit()).any(|word| word == value));
    assert!(values.is_empty() || op_lines.iter().any(has_value), "no proving op shows a value of {values:?}:\n{text}");
}

/// The whole story of a run that found `kind`.
fn assert_tells(text: &str, result: &RunResult, kind: &str) {
    assert_fits(text);
    assert_names_the_faults(text, result);
    assert_cites_the_proving_ops(text, result, kind);
    assert!(text.contains("\ntimeline around "), "no timeline:\n{text}");
}

#[test]
fn a_lost_write_is_told_with_the_acknowledged_send_and_the_final_poll() {
    let (text, result) = run_story("at-most-once", 2);
    assert_tells(&text, &result, "lost-write");
}

#[test]
fn a_duplicate_is_told_with_the_send_and_the_polls_that_read_it_twice() {
    let (text, result) = run_story("at-least-once", 0);
    assert_tells(&text, &result, "duplicate");
    assert!(text.contains("lost-ack") && text.contains("broker-crash"), "{text}");
    assert!(!text.contains("server-crash"), "kinds are named as scenario files name them:\n{text}");
}

#[test]
fn an_aborted_read_is_told() {
    let (text, result) = run_story("read-uncommitted", 6);
    assert_tells(&text, &result, "G1a");
}

#[test]
fn a_transform_duplicate_is_told() {
    let (text, result) = replay_story("eos-tv1-wide-3640-kafka-17754");
    assert_tells(&text, &result, "transform-duplicate");
}

#[test]
fn a_transform_lost_is_told() {
    let (text, result) = replay_story("zoo-KAFKA-17582");
    assert_tells(&text, &result, "transform-lost");
}

#[test]
fn a_sink_duplicate_is_told_with_both_store_writes() {
    let (text, result) = run_story("external-store", 6);
    assert_tells(&text, &result, "sink-duplicate");
    assert!(
        text.lines().filter(|line| line.trim_start().starts_with("op ") && line.contains(" sink db ")).count() >= 2
    );
}

#[test]
fn a_nonlinearizable_log_is_told() {
    let (text, result) = replay_story("eos-tv1-wide-3640-kafka-17754");
    assert_tells(&text, &result, "nonlinearizable-log");
}

#[test]
fn a_hanging_transaction_is_told_with_the_operations_that_never_settled() {
    let (text, result) = replay_story("zoo-KAFKA-12671");
    assert_fits(&text);
    assert_names_the_faults(&text, &result);
    assert!(text.contains("finding: stalled: hanging-transaction"), "{text}");
    assert!(text.contains("operations that did not settle (info or fail):"), "{text}");
    let ops = text.lines().map(str::trim_start).filter(|line| line.starts_with("op ")).count();
    assert!(ops > 0, "the unsettled operations are cited:\n{text}");
    assert!(text.contains("\ntimeline around the end of the run:"), "{text}");
}

#[test]
fn shrink_prints_the_faults_that_are_left_and_what_they_still_break() {
    let dir = scratch_dir("story", "shrink");
    let repro = dir.join("repro.json");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions/zoo-KAFKA-14053.json"), &repro)
        .expect("copy the repro");
    // Relative to the crate root, where the binary runs, so that the lines naming the file stay short.
    let relative = repro.strip_prefix(env!("CARGO_MANIFEST_DIR")).expect("scratch is under the crate");
    let output = eosim(&["shrink", arg(relative)]);
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert_fits(&text);
    let shrunk = Repro::read(&dir.join("repro.shrunk.json")).expect("the shrunk repro");
    let left = shrunk.schedule.as_ref().map_or(0, |schedule| schedule.faults.len());
    let heading = text.lines().position(|line| line.starts_with("faults: ")).expect("a faults line");
    let after: Vec<&str> = text.lines().skip(heading + 1).collect();
    assert!(after[0].starts_with("fault schedule"), "the schedule follows the faults line:\n{text}");
    for (index, fault) in shrunk.schedule.iter().flat_map(|schedule| &schedule.faults).enumerate() {
        let kind = fault_kind_name(fault.action.kind());
        let listed = after[1..=left].iter().any(|line| line.contains(&format!("#{index} ")) && line.contains(kind));
        assert!(listed, "fault #{index} ({kind}) is not listed after the faults line:\n{text}");
    }
    let result = shrunk.replay();
    assert_cites_the_proving_ops(&text, &result, result.violation_kinds()[0].name());
}

#[test]
fn verbose_prints_every_fault_and_the_event_log_and_json_is_unchanged() {
    let path = "tests/regressions/zoo-KAFKA-14053.json";
    let output = eosim(&["replay", path, "-v"]);
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert_fits(&text);
    let heading = text.lines().find(|line| line.starts_with("event log (")).expect("an event log");
    let messages: usize =
        heading["event log (".len()..].split(' ').next().and_then(|n| n.parse().ok()).expect("a count");
    let sends = text.lines().filter(|line| line.contains(" → ")).count();
    assert!(sends >= messages && messages > 0, "one line per message: {sends} for {messages}");
    assert!(text.lines().any(|line| line.contains("fault: ")), "fault starts are logged");
    let quiet = stdout(&eosim(&["replay", path]));
    assert!(!quiet.contains("event log"), "the event log is only for -v");
    let json = stdout(&eosim(&["replay", path, "--format", "json"]));
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert!(value["run"]["report"]["anomalies"].is_array(), "{json}");
    assert!(!json.contains("fault schedule") && !json.contains("timeline"), "JSON carries no story text");
}
