//! Hostile inputs end to end: every value that once passed the loaders and then panicked, hung, or exhausted
//! memory in a run, a replay, a merge or the command line now ends at the boundary with exit status 2 and a
//! message naming the file, line and value (or the flag); and a campaign stopped by SIGTERM, or sharing its
//! `--out` with another, keeps its findings and its files apart.
//!
//! No test here measures time: each input must simply finish, and the ones that used to hang would hang the test.

mod support;

use support::*;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

const U64_MAX: &str = "18446744073709551615";
const U32_MAX: &str = "4294967295";

/// A transactional scenario with a pipeline, so that every section and key a value can go in exists.
const BASE: &str = r#"name = "hostile"
description = "a base scenario the tests break one value of"
variant = "eos-tv2"
duration_ms = 300

[cluster]
brokers = 3
replication_factor = 3
min_insync_replicas = 2
topics = [{ name = "in", partitions = 2 }, { name = "out", partitions = 2 }]

[producer]

[workload]
producers = 1
messages_per_producer = 10
producer_topic = "in"
pipeline = { instances = 2, input = "in", output = "out" }
"#;

fn scratch(name: &str) -> PathBuf {
    scratch_dir("hostile", name)
}

/// Writes `text` as `NAME.toml` in a scratch directory and returns its path.
fn scenario_file(name: &str, text: &str) -> PathBuf {
    let path = scratch(name).join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write the scenario");
    path
}

/// `BASE` with `line` added at the end of `[section]` (or at the top for an empty section).
fn with_line(section: &str, line: &str) -> String {
    if section.is_empty() {
        return BASE.replacen("duration_ms = 300\n", &format!("duration_ms = 300\n{line}\n"), 1);
    }
    let header = format!("[{section}]\n");
    BASE.replacen(&header, &format!("{header}{line}\n"), 1)
}

/// Runs one seed of `text` and asserts exit 2 with an error at `FILE:LINE:` that names `key`.
fn assert_refused(name: &str, text: &str, line: usize, key: &str) {
    let path = scenario_file(name, text);
    let output = eosim(&["run", arg(&path), "--seed", "1"]);
    assert_exit(&output, 2);
    let error = stderr(&output);
    let place = format!("{}:{line}:", path.display());
    assert!(error.contains(&place), "expected {place} in: {error}");
    assert!(error.contains(key), "expected {key} in: {error}");
    assert!(error.contains("expected"), "the error says what was expected: {error}");
}

#[test]
fn every_time_at_u64_max_is_refused_at_its_line() {
    let times = [
        ("", "duration_ms"),
        ("", "quiesce_ms"),
        ("cluster", "replica_lag_time_max_ms"),
        ("cluster", "broker_session_timeout_ms"),
        ("cluster", "broker_heartbeat_ms"),
        ("cluster", "replica_fetch_wait_ms"),
        ("cluster", "transactional_id_expiration_ms"),
        ("cluster", "producer_id_expiration_ms"),
        ("cluster", "producer_id_expiration_check_interval_ms"),
        ("cluster", "retention_ms"),
        ("cluster", "retention_check_interval_ms"),
        ("producer", "linger_ms"),
        ("producer", "request_timeout_ms"),
        ("producer", "delivery_timeout_ms"),
        ("producer", "retry_backoff_ms"),
        ("producer", "max_block_ms"),
        ("workload", "send_interval_ms"),
        ("workload", "poll_interval_ms"),
        ("workload", "transaction_timeout_ms"),
    ];
    for (section, key) in times {
        let text = match key {
            "duration_ms" => BASE.replace("duration_ms = 300", &format!("duration_ms = {U64_MAX}")),
            _ => with_line(section, &format!("{key} = {U64_MAX}")),
        };
        let line = text.lines().position(|line| line.starts_with(&format!("{key} = {U64_MAX}"))).expect("added") + 1;
        assert_refused(key, &text, line, key);
    }
    let network = format!("{BASE}\n[network]\nlatency_us_min = {U64_MAX}\nlatency_us_mean = 400\n");
    assert_refused("latency", &network, 21, "latency_us_min");
    let fault = format!("{BASE}\n[faults]\nbroker-crash = {{ every_ms = 100, duration_ms = [1, {U64_MAX}] }}\n");
    assert_refused("fault-duration", &fault, 21, "broker-crash: duration_ms");
}

#[test]
fn timeouts_and_intervals_of_zero_are_refused() {
    assert_refused("request-timeout", &with_line("producer", "request_timeout_ms = 0"), 13, "request_timeout_ms");
    assert_refused("retry-backoff", &with_line("producer", "retry_backoff_ms = 0"), 13, "retry_backoff_ms");
    assert_refused("poll-interval", &with_line("workload", "poll_interval_ms = 0"), 15, "poll_interval_ms");
}

#[test]
fn counts_no_machine_holds_are_refused() {
    assert_refused("brokers", &BASE.replace("brokers = 3", &format!("brokers = {U32_MAX}")), 7, "brokers");
    let threads = with_line("workload", &format!("threads_per_producer = {U32_MAX}"));
    assert_refused("threads", &threads, 15, "threads_per_producer");
    let offsets = with_line("cluster", &format!("offsets_partitions = {U32_MAX}"));
    assert_refused("offsets", &offsets, 7, "offsets_partitions");
    let log = with_line("cluster", &format!("transaction_log_partitions = {U32_MAX}"));
    assert_refused("txn-log", &log, 7, "transaction_log_partitions");
}

#[test]
fn an_error_in_an_inline_table_and_invalid_utf8_are_placed() {
    let pipeline = BASE.replace("output = \"out\" }", "output = \"out\", max_records_per_txn = 0 }");
    let path = scenario_file("inline", &pipeline);
    let output = eosim(&["run", arg(&path), "--seed", "1"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains(&format!("{}:18:1:", path.display())), "{}", stderr(&output));
    let pipeline = BASE.replace("output = \"out\" }", "output = \"out\", heartbeat_interval_ms = 0 }");
    let path = scenario_file("inline-key", &pipeline);
    let output = eosim(&["run", arg(&path), "--seed", "1"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains(&format!("{}:18:59:", path.display())), "{}", stderr(&output));
    let path = scratch("utf8").join("utf8.toml");
    let mut bytes = b"name = \"t\"\ndescription = \"caf".to_vec();
    bytes.extend([0xe9, b'"', b'\n']);
    std::fs::write(&path, bytes).expect("write");
    let output = eosim(&["run", arg(&path), "--seed", "1"]);
    assert_exit(&output, 2);
    let error = stderr(&output);
    assert!(error.contains(&format!("{}:2:19: invalid UTF-8 (byte 0xe9", path.display())), "{error}");
    for (command, name) in [("replay", "repro.json"), ("merge", "report.json"), ("check", "history.jsonl")] {
        let path = scratch(&format!("utf8-{command}")).join(name);
        std::fs::write(&path, b"{\n  \"version\": \"caf\xe9\"\n}").expect("write");
        let output = eosim(&[command, arg(&path)]);
        assert_exit(&output, 2);
        let error = stderr(&output);
        assert!(error.contains(&format!("{}:2:18: invalid UTF-8 (byte 0xe9", path.display())), "{error}");
    }
}

#[test]
fn a_snippet_places_its_caret_by_characters_after_tabs_and_multibyte_text() {
    let line = "\tpipeline = { group = \"grüppé ✓\", instances = 2, input = \"in\", output = \"öut\" }";
    let text = BASE.replace("pipeline = { instances = 2, input = \"in\", output = \"out\" }", line);
    let path = scenario_file("multibyte", &text);
    let output = eosim(&["run", arg(&path), "--seed", "1"]);
    assert_exit(&output, 2);
    let error = stderr(&output);
    let column = line[..line.find("output").expect("output")].chars().count() + 1;
    assert!(error.starts_with(&format!("error: {}:18:{column}: unknown topic \"öut\"", path.display())), "{error}");
    let lines: Vec<&str> = error.lines().collect();
    let shown = lines.iter().position(|shown| shown.starts_with("18 | ")).expect("the source line");
    let (source, caret) = (lines[shown], lines[shown + 1]);
    let at = |text: &str, what: &str| text[..text.find(what).expect(what)].chars().count();
    assert_eq!(at(caret, "^"), at(source, "output"), "the caret is under the key:\n{error}");
    assert!(!source.contains('\t'), "a tab is shown as one space, as the caret counts it: {error:?}");
    // A bad byte is shown as U+FFFD, one character, with the caret under it.
    let path = scratch("utf8-snippet").join("utf8.toml");
    std::fs::write(&path, b"name = \"t\"\ndescription = \"caf\xe9\"\n").expect("write");
    let output = eosim(&["run", arg(&path), "--seed", "1"]);
    assert_exit(&output, 2);
    let error = stderr(&output);
    assert!(error.contains("2 | description = \"caf\u{fffd}\"\n  |                   ^"), "{error}");
}

/// A real failing run's repro, with `edit` applied to its JSON.
fn edited_repro(name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let dir = scratch(name);
    assert_exit(&eosim(&["run", "at-most-once", "--seed", "2", "--out", arg(&dir)]), 1);
    let path = dir.join("repro.json");
    let mut repro = read_json(&path);
    edit(&mut repro);
    std::fs::write(&path, serde_json::to_string_pretty(&repro).expect("JSON")).expect("write");
    path
}

#[test]
fn a_repro_naming_a_node_the_cluster_lacks_is_refused_before_it_runs() {
    let path = edited_repro("node-99", |repro| {
        let fault = serde_json::json!({
            "at_ns": 1_000_000, "duration_ns": 1_000_000, "action": "crash", "node": 99, "kind": "server-crash"
        });
        repro["schedule"]["faults"].as_array_mut().expect("faults").push(fault);
    });
    for command in ["replay", "shrink"] {
        let output = eosim(&[command, arg(&path)]);
        assert_exit(&output, 2);
        let error = stderr(&output);
        assert!(error.contains(&format!("{}:", path.display())), "{error}");
        assert!(error.contains("names node 99") && error.contains("expected one of"), "{error}");
    }
    let partition = edited_repro("partition-99", |repro| {
        let fault = serde_json::json!({
            "at_ns": 0, "duration_ns": 1, "action": "partition", "kind": "symmetric", "side_a": [0], "side_b": [7]
        });
        repro["schedule"]["faults"].as_array_mut().expect("faults").insert(0, fault);
    });
    let output = eosim(&["replay", arg(&partition)]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("fault 0: partition names node 7"), "{}", stderr(&output));
    let forever = edited_repro("forever", |repro| {
        let fault = serde_json::json!({
            "at_ns": u64::MAX, "duration_ns": 5, "action": "crash", "node": 0, "kind": "server-crash"
        });
        repro["schedule"]["faults"].as_array_mut().expect("faults").push(fault);
    });
    let output = eosim(&["replay", arg(&forever)]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("overflow"), "{}", stderr(&output));
}

/// A shard report of a real two-seed campaign, as JSON to edit.
fn shard_report(name: &str) -> (PathBuf, Value) {
    let dir = scratch(name);
    let args = ["campaign", "idempotent", "--seeds", "2", "--jobs", "1", "--shard", "1/1", "--out", arg(&dir)];
    let output = eosim(&args);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", stderr(&output));
    let path = dir.join("report.json");
    let report = read_json(&path);
    (path, report)
}

#[test]
fn merge_takes_any_coverage_name_and_refuses_a_point_listed_twice() {
    let (path, mut report) = shard_report("long-name");
    let long = "p".repeat(65_536);
    report["coverage"]["points"][&long] = serde_json::json!({ "runs": 1, "count": 1 });
    std::fs::write(&path, serde_json::to_string(&report).expect("JSON")).expect("write");
    let output = eosim(&["merge", arg(&path)]);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", stderr(&output));
    assert!(stdout(&output).contains(&long));
    let (path, mut report) = shard_report("twice");
    let expected = report["coverage"]["expected"].as_array_mut().expect("expected points");
    let first = expected[0].clone();
    expected.push(first);
    std::fs::write(&path, serde_json::to_string_pretty(&report).expect("JSON")).expect("write");
    let output = eosim(&["merge", arg(&path)]);
    assert_exit(&output, 2);
    let error = stderr(&output);
    assert!(error.contains(&format!("{}:", path.display())) && error.contains("listed twice"), "{error}");
}

#[test]
fn flags_out_of_range_are_bad_usage() {
    for args in [
        &["campaign", "--time-budget", "1e20"][..],
        &["bench", "--seconds", "1e20"],
        &["campaign", "idempotent", "--jobs", "99999", "--seeds", "2"],
        &["campaign", "idempotent", "--seeds", "0"],
    ] {
        let output = eosim(args);
        assert_exit(&output, 2);
        let flag = args.iter().find(|arg| arg.starts_with("--")).expect("a flag");
        assert!(stderr(&output).contains(flag), "{args:?}: {}", stderr(&output));
    }
    let file = scratch("out-file").join("report.json");
    std::fs::write(&file, "{}").expect("write");
    let output = eosim(&["campaign", "idempotent", "--seeds", "1", "--out", arg(&file)]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("not a directory"), "{}", stderr(&output));
    let output = command(&["campaign", "idempotent", "--seeds", "2", "--shard", "auto", "--shards", U64_MAX])
        .env("JOB_COMPLETION_INDEX", U64_MAX)
        .output()
        .expect("runs");
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("JOB_COMPLETION_INDEX"), "{}", stderr(&output));
}

#[test]
fn jobs_beyond_the_seeds_run_as_many_threads_as_seeds() {
    let output = eosim(&["campaign", "idempotent", "--seeds", "2", "--jobs", "1024", "--format", "json"]);
    assert_exit(&output, 0);
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(report["runs"].as_array().map(Vec::len), Some(2));
}

fn has_file(dir: &Path, prefix: &str) -> bool {
    std::fs::read_dir(dir)
        .expect("dir")
        .any(|entry| entry.is_ok_and(|e| e.file_name().to_string_lossy().starts_with(prefix)))
}

#[test]
fn sigterm_mid_campaign_leaves_every_report_file_with_the_findings_so_far() {
    let dir = scratch("sigterm");
    let mut child = command(&["campaign", "at-most-once", "--seeds", "1000000", "--jobs", "2", "--out", arg(&dir)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the campaign starts");
    // A failing seed's repro on disk proves the campaign is under way, past installing its signal handler.
    while !has_file(&dir, "repro-") {
        assert!(child.try_wait().expect("wait").is_none(), "the campaign ended before a failing seed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(kill.success());
    let output = child.wait_with_output().expect("output");
    assert_exit(&output, 1);
    let report = read_json(&dir.join("report.json"));
    assert_eq!(report["stopped"], "interrupted");
    let runs = report["runs"].as_array().expect("runs");
    assert!(runs.iter().any(|run| run["verdict"] != "pass"), "the findings so far are in the report");
    for run in runs.iter().filter(|run| run["verdict"] != "pass") {
        let seed = run["seed"].as_u64().expect("seed");
        assert!(dir.join(format!("repro-{seed}.json")).is_file(), "seed {seed} has its repro");
    }
    let junit = read(&dir.join("junit.xml"));
    assert!(junit.starts_with("<?xml") && junit.trim_end().ends_with("</testsuites>"), "{junit}");
    let html = read(&dir.join("index.html"));
    assert!(html.trim_end().ends_with("</html>"), "index.html is whole");
    assert!(!dir.join(".eosim.lock").exists(), "the lock goes when the campaign ends");
}

#[test]
fn a_locked_out_is_refused_and_a_reused_one_loses_the_earlier_campaigns_files() {
    let dir = scratch("locked");
    // This test's own process stands for a campaign still running in that directory.
    std::fs::write(dir.join(".eosim.lock"), format!("{}\n", std::process::id())).expect("write");
    let output = eosim(&["campaign", "idempotent", "--seeds", "1", "--out", arg(&dir)]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("another campaign"), "{}", stderr(&output));
    assert!(!dir.join("report.json").exists(), "nothing was written");
    std::fs::remove_file(dir.join(".eosim.lock")).expect("unlock");
    std::fs::write(dir.join("repro-999999.json"), "{}").expect("write");
    std::fs::write(dir.join("notes.txt"), "mine").expect("write");
    let output = eosim(&["campaign", "idempotent", "--seeds", "1", "--out", arg(&dir)]);
    assert_exit(&output, 0);
    assert!(!dir.join("repro-999999.json").exists(), "the earlier campaign's repro is gone");
    assert!(dir.join("notes.txt").is_file(), "other files stay");
    assert!(stderr(&output).contains("removed 1 file(s) of an earlier campaign"), "{}", stderr(&output));
}
