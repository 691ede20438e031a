//! The `eosim` binary end to end: output, files, determinism across runs and threads, and exit statuses.
//!
//! Exit statuses are part of the interface (docs/cli.md): 0 no violation, 1 findings, 2 bad usage or input,
//! 3 internal error. Campaigns here use a few hundred seeds at most, so the file runs in well under a minute in
//! release on two cores.

mod support;

use support::*;

use std::path::Path;

use serde_json::Value;

/// A fresh, empty directory for one test's files.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    support::scratch_dir("cli", name)
}

fn trace_hash_line(text: &str) -> String {
    let line = text.lines().find(|line| line.starts_with("trace-hash: ")).expect("a trace-hash line");
    assert_eq!(line.len(), "trace-hash: ".len() + 32, "32 hex digits: {line}");
    line.to_string()
}

/// Per-seed (seed, trace hash) pairs of a report.json.
fn seed_hashes(report: &Value) -> Vec<(u64, String)> {
    let runs = report["runs"].as_array().expect("runs is a list");
    runs.iter()
        .map(|run| (run["seed"].as_u64().expect("seed"), run["trace_hash"].as_str().expect("hash").to_string()))
        .collect()
}

#[test]
fn list_shows_every_builtin_and_the_default_alias() {
    let output = eosim(&["list"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    for name in ["at-most-once", "at-least-once", "idempotent", "idempotent-restart", "default"] {
        assert!(text.lines().any(|line| line.starts_with(name)), "{name} missing:\n{text}");
    }
    // The transactional variants carry Kafka's names (transaction version 1 or 2, KIP-890 part 1
    // verification); the first names stay accepted.
    for variant in ["eos-tv1", "eos-tv1-verify", "eos-tv2"] {
        assert!(text.lines().any(|line| line.split_whitespace().nth(1) == Some(variant)), "{variant} missing:\n{text}");
    }
    for (alias, name) in [("eos-v1", "eos-tv1"), ("eos-v2", "eos-tv2")] {
        assert!(text.contains(&format!("former name of {name}")), "{alias} missing:\n{text}");
        let run = eosim(&["run", alias, "--seed", "1"]);
        assert_exit(&run, 0);
        let renamed = eosim(&["run", name, "--seed", "1"]);
        let hash = |text: String| text.lines().find(|line| line.starts_with("trace-hash:")).map(str::to_string);
        assert_eq!(hash(stdout(&run)), hash(stdout(&renamed)), "{alias} and {name} are one scenario");
    }
    let json = eosim(&["list", "--format", "json"]);
    assert_exit(&json, 0);
    let entries: Value = serde_json::from_str(&stdout(&json)).expect("list --format json is JSON");
    assert!(entries.as_array().is_some_and(|entries| entries.len() >= 4), "{entries}");
}

#[test]
fn every_command_has_help_and_bad_usage_exits_2() {
    for command in ["list", "run", "campaign", "merge", "replay", "shrink", "check", "bench"] {
        let output = eosim(&[command, "--help"]);
        assert_exit(&output, 0);
        assert!(stdout(&output).contains("Usage: eosim"), "{command} --help");
    }
    assert_exit(&eosim(&["run", "idempotent"]), 2);
    assert_exit(&eosim(&["no-such-command"]), 2);
    assert_exit(&eosim(&["campaign", "--jobs", "0"]), 2);
}

#[test]
fn run_twice_with_one_seed_prints_one_trace_hash() {
    let first = eosim(&["run", "idempotent-restart", "--seed", "7"]);
    let second = eosim(&["run", "idempotent-restart", "--seed", "7"]);
    let other = eosim(&["run", "idempotent-restart", "--seed", "8"]);
    let text = stdout(&first);
    assert!(text.starts_with("SEED=7\nscenario: idempotent-restart\n"), "{text}");
    assert!(text.contains("faults in schedule: "), "{text}");
    assert!(text.lines().any(|line| line.starts_with("verdict: ")), "{text}");
    assert_eq!(trace_hash_line(&text), trace_hash_line(&stdout(&second)));
    assert_eq!(stdout(&first), stdout(&second), "the whole output is a function of the seed");
    assert_ne!(trace_hash_line(&text), trace_hash_line(&stdout(&other)));
}

#[test]
fn run_out_writes_a_history_the_checker_judges_the_same_way() {
    let dir = scratch_dir("run-out");
    let output = eosim(&["run", "at-least-once", "--seed", "3", "--out", arg(&dir)]);
    let code = output.status.code().expect("an exit code");
    assert!(code == 0 || code == 1, "{}", stderr(&output));
    let repro = read_json(&dir.join("repro.json"));
    assert_eq!(repro["seed"], 3);
    assert_eq!(repro["scenario"]["name"], "at-least-once");
    let hash = repro["expected"]["trace_hash"].as_str().expect("hash");
    assert_eq!(format!("trace-hash: {hash}"), trace_hash_line(&stdout(&output)));
    let history = dir.join("history.jsonl");
    let check = eosim(&["check", arg(&history), "--guarantee", "idempotent"]);
    assert_exit(&check, code);
}

#[test]
fn the_default_campaign_names_what_default_resolves_to() {
    let output = eosim(&["campaign", "--seeds", "4", "--jobs", "2"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("default: resolves to eos-tv2"), "{text}");
    assert!(text.contains("scenario: eos-tv2\n"), "{text}");
}

#[test]
fn a_campaign_reports_the_same_hashes_on_one_thread_and_on_two() {
    let one = scratch_dir("jobs-1");
    let two = scratch_dir("jobs-2");
    for (dir, jobs) in [(&one, "1"), (&two, "2")] {
        let output = eosim(&["campaign", "idempotent-restart", "--seeds", "24", "--jobs", jobs, "--out", arg(dir)]);
        assert!(matches!(output.status.code(), Some(0 | 1)), "{}", stderr(&output));
    }
    let (report_one, report_two) = (read_json(&one.join("report.json")), read_json(&two.join("report.json")));
    assert_eq!(seed_hashes(&report_one).len(), 24);
    assert_eq!(seed_hashes(&report_one), seed_hashes(&report_two));
    assert_eq!(report_one, report_two, "report.json holds nothing that depends on threads or time");
}

#[test]
fn campaign_json_is_report_json() {
    let dir = scratch_dir("campaign-json");
    let output = eosim(&["campaign", "at-most-once", "--seeds", "10", "--format", "json", "--out", arg(&dir)]);
    let printed: Value = serde_json::from_str(&stdout(&output)).expect("campaign --format json prints JSON");
    assert_eq!(printed, read_json(&dir.join("report.json")));
    assert_eq!(printed["scenario"], "at-most-once");
    assert_eq!(printed["seed_start"], 0);
    assert_eq!(printed["seeds"], 10);
    assert_eq!(printed["totals"]["seeds_run"], 10);
}

/// Runs an at-most-once campaign into `dir` and returns the first failing seed.
fn first_failing_seed(dir: &Path) -> u64 {
    let output = eosim(&["campaign", "at-most-once", "--seeds", "20", "--out", arg(dir)]);
    assert_exit(&output, 1);
    let report = read_json(&dir.join("report.json"));
    let runs = report["runs"].as_array().expect("runs");
    let failing = runs.iter().find(|run| run["verdict"] != "pass").expect("at-most-once loses writes");
    let seed = failing["seed"].as_u64().expect("seed");
    assert!(stdout(&output).contains(&format!("eosim run at-most-once --seed {seed}\n")), "{}", stdout(&output));
    let repro = dir.join(format!("repro-{seed}.json"));
    assert!(stdout(&output).contains(&format!("eosim replay {}\n", repro.display())), "{}", stdout(&output));
    assert!(dir.join(format!("history-{seed}.jsonl")).is_file());
    seed
}

#[test]
fn replay_reproduces_a_failing_seed_and_a_tampered_hash_exits_3() {
    let dir = scratch_dir("replay");
    let seed = first_failing_seed(&dir);
    let repro_path = dir.join(format!("repro-{seed}.json"));
    let replay = eosim(&["replay", arg(&repro_path)]);
    assert_exit(&replay, 1);
    let text = stdout(&replay);
    let repro = read_json(&repro_path);
    let expected_hash = repro["expected"]["trace_hash"].as_str().expect("hash").to_string();
    assert_eq!(trace_hash_line(&text), format!("trace-hash: {expected_hash}"));
    assert!(text.contains("verdict: violation\n"), "{text}");
    assert!(text.contains("trace hash matches: yes"), "{text}");
    assert!(text.contains("anomaly kinds match: yes"), "{text}");

    let rerun = eosim(&["run", "at-most-once", "--seed", &seed.to_string()]);
    assert_eq!(trace_hash_line(&stdout(&rerun)), format!("trace-hash: {expected_hash}"));

    let tampered_hash = "0".repeat(32);
    let tampered = std::fs::read_to_string(&repro_path).expect("repro").replace(&expected_hash, &tampered_hash);
    let tampered_path = dir.join("tampered.json");
    std::fs::write(&tampered_path, tampered).expect("written");
    let diverged = eosim(&["replay", arg(&tampered_path)]);
    assert_exit(&diverged, 3);
    assert!(stderr(&diverged).contains(&tampered_hash), "{}", stderr(&diverged));
    assert!(stderr(&diverged).contains(&expected_hash), "{}", stderr(&diverged));
}

#[test]
fn replay_rejects_missing_and_malformed_repros_with_exit_2() {
    let missing = eosim(&["replay", "tests/fixtures/no-such-repro.json"]);
    assert_exit(&missing, 2);
    assert!(stderr(&missing).contains("no-such-repro.json"), "{}", stderr(&missing));
    let dir = scratch_dir("bad-repro");
    let path = dir.join("bad.json");
    std::fs::write(&path, "{\n  \"version\": \"0.1.0\",\n  \"seed\": \"seven\"\n}\n").expect("written");
    let malformed = eosim(&["replay", arg(&path)]);
    assert_exit(&malformed, 2);
    assert!(stderr(&malformed).contains(&format!("{}:3:", path.display())), "{}", stderr(&malformed));
    assert!(stderr(&malformed).contains("expected u64"), "{}", stderr(&malformed));
}

#[test]
fn check_names_a_duplicate_and_exits_1() {
    let output = eosim(&["check", "tests/fixtures/duplicate.jsonl"]);
    assert_exit(&output, 1);
    assert!(stdout(&output).contains("duplicate"), "{}", stdout(&output));
    // At least once allows duplicates: the same history keeps that weaker guarantee.
    assert_exit(&eosim(&["check", "tests/fixtures/duplicate.jsonl", "--guarantee", "at-least-once"]), 0);
    assert_exit(&eosim(&["check", "tests/fixtures/clean.jsonl"]), 0);
    let json = eosim(&["check", "tests/fixtures/duplicate.jsonl", "--format", "json"]);
    let report: Value = serde_json::from_str(&stdout(&json)).expect("check --format json is JSON");
    assert_eq!(report["anomalies"][0]["kind"], "duplicate");
}

#[test]
fn check_rejects_a_malformed_line_with_its_place_and_exit_2() {
    let output = eosim(&["check", "tests/fixtures/malformed.jsonl"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("tests/fixtures/malformed.jsonl:2:"), "{}", stderr(&output));
    let unknown = eosim(&["check", "tests/fixtures/clean.jsonl", "--guarantee", "exactly-once-please"]);
    assert_exit(&unknown, 2);
    assert!(stderr(&unknown).contains("at-most-once, at-least-once, idempotent, kafka-eos"), "{}", stderr(&unknown));
    assert_exit(&eosim(&["check", "tests/fixtures/no-such-history.jsonl"]), 2);
}

#[test]
fn a_scenario_file_with_an_unknown_key_exits_2_naming_file_and_line() {
    let output = eosim(&["run", "tests/fixtures/unknown-key.toml", "--seed", "1"]);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(text.contains("tests/fixtures/unknown-key.toml:10:"), "{text}");
    assert!(text.contains("partitons"), "{text}");
    let unknown = eosim(&["run", "no-such-scenario", "--seed", "1"]);
    assert_exit(&unknown, 2);
    assert!(stderr(&unknown).contains("idempotent-restart"), "{}", stderr(&unknown));
}

#[test]
fn a_scenario_file_runs_like_a_builtin() {
    let output = eosim(&["campaign", "tests/fixtures/tiny.toml", "--seeds", "20", "--jobs", "2"]);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", stderr(&output));
    assert!(stdout(&output).contains("scenario: tiny\n"), "{}", stdout(&output));
}

/// Runs a campaign, asserts its exit status and returns its text.
fn campaign(scenario: &str, seeds: &str, code: i32) -> String {
    let output = eosim(&["campaign", scenario, "--seeds", seeds, "--jobs", "2"]);
    assert_exit(&output, code);
    stdout(&output)
}

#[test]
fn at_most_once_loses_acknowledged_writes() {
    let text = campaign("at-most-once", "200", 1);
    assert!(text.contains("lost-write"), "{text}");
    assert!(text.contains("result: FAIL"), "{text}");
}

#[test]
fn at_least_once_duplicates() {
    let text = campaign("at-least-once", "200", 1);
    assert!(text.lines().any(|line| line.trim_start().starts_with("duplicate ")), "{text}");
}

#[test]
fn idempotent_producers_keep_their_guarantee() {
    let text = campaign("idempotent", "500", 0);
    assert!(text.contains("passing: 500, failing: 0"), "{text}");
    assert!(text.contains("result: PASS"), "{text}");
}

#[test]
fn idempotence_ends_at_the_producer_session_boundary() {
    let text = campaign("idempotent-restart", "500", 1);
    assert!(text.lines().any(|line| line.trim_start().starts_with("duplicate ")), "{text}");
}

#[test]
fn replication_keeps_idempotence_under_every_fault_kind() {
    let text = campaign("idempotent", "1000", 0);
    assert!(text.contains("passing: 1000, failing: 0"), "{text}");
    for kind in [
        "broker-crash",
        "broker-pause",
        "controller-crash",
        "delay",
        "duplicate",
        "lost-ack",
        "lost-request",
        "partition",
    ] {
        let line =
            text.lines().find(|line| line.trim_start().starts_with(kind)).unwrap_or_else(|| panic!("{kind}: {text}"));
        assert!(!line.contains(" 0 runs"), "every fault kind is exercised: {line}");
    }
}

#[test]
fn acks_1_leader_loss_and_unclean_election_lose_acknowledged_writes() {
    for scenario in ["acks-1-leader-loss", "unclean-election"] {
        let text = campaign(scenario, "300", 1);
        assert!(text.lines().any(|line| line.trim_start().starts_with("lost-write ")), "{scenario}: {text}");
    }
}

#[test]
fn check_reads_jepsen_edn_histories() {
    assert_exit(&eosim(&["check", "checker/tests/fixtures/jepsen-clean.edn"]), 0);
    let anomalies = eosim(&["check", "checker/tests/fixtures/jepsen-anomalies.edn"]);
    assert_exit(&anomalies, 1);
    for kind in ["lost-write", "G1a", "poll-skip", "precommitted-read"] {
        assert!(stdout(&anomalies).contains(kind), "{kind}: {}", stdout(&anomalies));
    }
    let malformed = eosim(&["check", "checker/tests/fixtures/malformed.edn"]);
    assert_exit(&malformed, 2);
    assert!(stderr(&malformed).contains("checker/tests/fixtures/malformed.edn:3:"), "{}", stderr(&malformed));
}

#[test]
fn check_linearizable_finds_a_log_that_no_order_explains() {
    let clean = eosim(&["check", "tests/fixtures/clean.jsonl", "--linearizable"]);
    assert_exit(&clean, 0);
    assert!(stdout(&clean).contains("linearizable: orders-0: yes"), "{}", stdout(&clean));
    // Value 17 sent once but read at two offsets: no order of one append explains the read. At least once allows
    // it (a retry may append a record twice): listed, allowed, valid, exit 0; the idempotent producer forbids it.
    let duplicate =
        eosim(&["check", "tests/fixtures/duplicate.jsonl", "--guarantee", "at-least-once", "--linearizable"]);
    assert_exit(&duplicate, 0);
    let text = stdout(&duplicate);
    assert!(text.contains("verdict: valid") && text.contains("nonlinearizable-log: 1 (allowed)"), "{text}");
    assert!(text.contains("linearizable: orders-0: no"), "{text}");
    let strict = eosim(&["check", "tests/fixtures/duplicate.jsonl", "--guarantee", "idempotent", "--linearizable"]);
    assert_exit(&strict, 1);
    let text = stdout(&strict);
    assert!(text.contains("verdict: INVALID") && text.contains("nonlinearizable-log: 1 (violation)"), "{text}");
    assert!(!text.contains("LogState") && !text.contains("Appended {"), "no debug text: {text}");
    let json = eosim(&["check", "tests/fixtures/clean.jsonl", "--linearizable", "--format", "json"]);
    let report: Value = serde_json::from_str(&stdout(&json)).expect("JSON");
    assert_eq!(report["linearizability"][0]["verdict"], "Linearizable");
}

#[test]
fn check_compat_jepsen_calls_a_history_with_nothing_to_check_invalid() {
    let dir = scratch_dir("compat-jepsen");
    let path = dir.join("assign-only.edn");
    let text =
        "{:process 0, :type :invoke, :f :assign, :value [:x]}\n{:process 0, :type :ok, :f :assign, :value [:x]}\n";
    std::fs::write(&path, text).expect("writes");
    let eosim_rules = eosim(&["check", arg(&path)]);
    assert_exit(&eosim_rules, 0);
    assert!(stdout(&eosim_rules).contains("warning: nothing could be checked"), "{}", stdout(&eosim_rules));
    let jepsen = eosim(&["check", arg(&path), "--compat", "jepsen"]);
    assert_exit(&jepsen, 1);
    assert!(stdout(&jepsen).contains("verdict: INVALID (nothing could be checked)"), "{}", stdout(&jepsen));
    assert_exit(&eosim(&["check", arg(&path), "--compat", "elle"]), 2);
}

/// The EDN reader's bounds end hostile input at once with exit 2 and the place: an index far ahead, discards
/// nested past the depth bound (each level doubled the old reader's work), and 30,000 nested `#_`.
#[test]
fn check_rejects_hostile_edn_with_its_place_and_exit_2() {
    let dir = scratch_dir("hostile-edn");
    let cases = [
        ("gap.edn", "{:index 100000000, :type :ok, :f :poll, :process 1, :value [[:poll]]}\n".to_string(), ":1:9: "),
        ("max.edn", format!("{{:index {}, :type :ok, :f :poll, :process 1}}\n", i64::MAX), ":1:9: "),
        ("discards.edn", "#_[".repeat(40), ":1:"),
        ("deep.edn", format!("{}{{:type :ok}}", "#_ ".repeat(30_000)), ":1:"),
    ];
    for (name, text, place) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("writes");
        let output = eosim(&["check", arg(&path)]);
        assert_exit(&output, 2);
        let expected = format!("{name}{place}");
        assert!(stderr(&output).contains(&expected), "{name}: {}", stderr(&output));
    }
}

/// A failing seed has one reason, printed the same in the terminal, report.json, junit.xml and index.html.
#[test]
fn a_failing_seed_has_one_reason_everywhere() {
    let dir = scratch_dir("one-reason");
    let output = eosim(&["campaign", "at-most-once", "--seeds", "20", "--jobs", "2", "--out", arg(&dir)]);
    assert_exit(&output, 1);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).expect("report.json")).expect("JSON");
    let runs = report["runs"].as_array().expect("runs");
    let failing = runs.iter().find(|run| run["verdict"] == "violation").expect("a violation among 20 seeds");
    let reason = failing["finding"].as_str().expect("a violation has a finding");
    assert!(reason.starts_with("lost-write: "), "{reason}");
    let escaped = eosim_reports::xml_escape(reason);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml");
    let html = std::fs::read_to_string(dir.join("index.html")).expect("index.html");
    assert!(junit.contains(&escaped), "junit.xml lacks {reason}");
    assert!(html.contains(&escaped), "index.html lacks {reason}");
    assert!(stdout(&output).contains(reason), "the terminal lacks {reason}");
    let seed = failing["seed"].as_u64().expect("seed").to_string();
    let run = eosim(&["run", "at-most-once", "--seed", &seed]);
    // The terminal wraps the finding to 100 columns, indenting its continuation lines under its first word.
    let unwrapped = stdout(&run).replace("\n         ", " ");
    assert!(unwrapped.contains(&format!("finding: {reason}\n")), "{}", stdout(&run));
}
