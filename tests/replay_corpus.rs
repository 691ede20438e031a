//! `eosim replay` of several repros and of directories (a regression corpus), `replay --out` writing the run's
//! page, and `campaign --regressions DIR` replaying saved failures before its seeds.

mod support;

use support::*;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A fresh, empty directory for one test's files.
fn scratch_dir(name: &str) -> PathBuf {
    support::scratch_dir("replay-corpus", name)
}

/// The repro of `eosim run SCENARIO --seed SEED`, written into `dir/name` (the run's exit status checked).
fn save_repro(scenario: &str, seed: u64, exit: i32, dir: &Path, name: &str) -> PathBuf {
    let run_dir = dir.join(format!("run-{name}"));
    assert_exit(&eosim(&["run", scenario, "--seed", &seed.to_string(), "--out", arg(&run_dir)]), exit);
    let path = dir.join(name);
    std::fs::copy(run_dir.join("repro.json"), &path).expect("copies the repro");
    std::fs::remove_dir_all(&run_dir).expect("removes the run's directory");
    path
}

/// A repro file with one JSON field changed.
fn edit(path: &Path, change: impl FnOnce(&mut Value)) {
    let mut repro = read_json(path);
    change(&mut repro);
    std::fs::write(path, serde_json::to_string_pretty(&repro).expect("JSON")).expect("writes");
}

#[test]
fn the_regression_corpus_replays_as_the_regressions_test_judges_it() {
    let output = eosim(&["replay", "tests/regressions"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    let repros = std::fs::read_dir("tests/regressions")
        .expect("tests/regressions")
        .filter(|entry| entry.as_ref().is_ok_and(|entry| entry.path().extension().is_some_and(|e| e == "json")))
        .count();
    assert_eq!(text.lines().filter(|line| line.contains(": reproduces: ")).count(), repros, "{text}");
    assert!(text.contains(&format!("{repros} repro(s): {repros} reproduce, 0 diverged, 0 regressed\n")), "{text}");
    assert!(
        text.contains("at-most-once-wide-1-lost-write.json: seed 1: reproduces: expected violation [lost-write]"),
        "{text}"
    );
    assert!(text.contains("expected pass (fixed), got pass"), "a fixed repro is judged by its fix: {text}");
}

#[test]
fn a_directory_replays_each_repro_by_name_and_the_status_says_what_went_wrong() {
    let dir = scratch_dir("directory");
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).expect("creates");
    let failing = save_repro("at-most-once", 2, 1, &corpus, "b-lost-write.json");
    let passing = save_repro("tests/fixtures/tiny.toml", 1, 0, &corpus, "a-tiny.json");
    std::fs::write(corpus.join("report.json"), "{\"schema\": 1}\n").expect("writes");
    let output = eosim(&["replay", arg(&corpus)]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("a-tiny.json: seed 1: reproduces: expected pass, got pass; trace hash ok"), "{text}");
    assert!(lines[1].starts_with("b-lost-write.json: seed 2: reproduces: expected violation [lost-write]"), "{text}");
    assert!(text.contains("report.json: skipped (another eosim output, not a repro)"), "{text}");
    assert!(text.contains("2 repro(s): 2 reproduce, 0 diverged, 0 regressed"), "{text}");

    // Files and directories together; a file given twice replays twice.
    let both = eosim(&["replay", arg(&failing), arg(&corpus), "--format", "json"]);
    assert_exit(&both, 0);
    let json: Value = serde_json::from_str(&stdout(&both)).expect("JSON");
    assert_eq!(json["tally"]["replayed"], 3);
    assert_eq!(json["repros"][0]["judgement"], "reproduces");

    // A recorded verdict the replay no longer gives is a regression: status 1.
    edit(&passing, |repro| repro["expected"]["verdict"] = "stall".into());
    let regressed = eosim(&["replay", arg(&corpus)]);
    assert_exit(&regressed, 1);
    assert!(
        stdout(&regressed).contains("a-tiny.json: seed 1: REGRESSED: expected stall, got pass"),
        "{}",
        stdout(&regressed)
    );
    assert!(
        stdout(&regressed).contains(&format!("rerun: eosim replay {}", passing.display())),
        "{}",
        stdout(&regressed)
    );

    // A trace hash that is not the recorded one is a diverged replay: status 3, above a regression.
    edit(&failing, |repro| repro["expected"]["trace_hash"] = "0".repeat(32).into());
    let diverged = eosim(&["replay", arg(&corpus)]);
    assert_exit(&diverged, 3);
    assert!(stdout(&diverged).contains("b-lost-write.json: seed 2: DIVERGED: "), "{}", stdout(&diverged));
    assert!(stdout(&diverged).contains("trace hash diverged"), "{}", stdout(&diverged));

    // Any other JSON file in the directory is an error at its line, status 2.
    std::fs::write(corpus.join("c-notes.json"), "{\n  \"note\": 1\n}\n").expect("writes");
    let bad = eosim(&["replay", arg(&corpus)]);
    assert_exit(&bad, 2);
    assert!(stderr(&bad).contains("c-notes.json:2:"), "{}", stderr(&bad));
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("creates");
    assert_exit(&eosim(&["replay", arg(&empty)]), 2);
}

#[test]
fn replay_out_of_a_shrunk_repro_writes_its_page_with_the_diagram() {
    let dir = scratch_dir("shrunk-page");
    let repro = save_repro("at-most-once", 2, 1, &dir, "repro.json");
    let shrunk = dir.join("small.json");
    assert_exit(&eosim(&["shrink", arg(&repro), "--out", arg(&shrunk)]), 1);
    let page_dir = dir.join("page");
    let output = eosim(&["replay", arg(&shrunk), "--out", arg(&page_dir)]);
    assert_exit(&output, 1);
    assert!(stdout(&output).contains("trace hash matches: yes"), "{}", stdout(&output));
    assert_eq!(read(&page_dir.join("repro.json")), read(&shrunk), "the repro as replayed");
    assert!(!read(&page_dir.join("history.jsonl")).is_empty());
    let page = read(&page_dir.join("index.html"));
    assert!(page.contains("<svg"), "the page draws the run");
    assert!(page.contains("id=\"diagram-seed-2\""), "the diagram of the shrunk run's seed");
    assert!(page.contains("lost-write"), "and its finding");
    // The shrunk schedule is what was drawn: replaying the seed's own swarm would have failed the hash check.
    let faults = read_json(&shrunk)["schedule"]["faults"].as_array().expect("faults").len();
    assert!(faults < read_json(&repro)["schedule"]["faults"].as_array().expect("faults").len());
}

#[test]
fn campaign_regressions_replays_a_saved_failure_first() {
    let dir = scratch_dir("campaign-regressions");
    let saved = dir.join("saved");
    std::fs::create_dir_all(&saved).expect("creates");
    let failure = save_repro("at-most-once", 2, 1, &saved, "at-most-once-2.json");
    save_repro("tests/fixtures/tiny.toml", 1, 0, &saved, "tiny-1.json");
    let out = dir.join("out");
    let args = ["campaign", "at-most-once", "--seeds", "4", "--seed-start", "100", "--jobs", "2"];
    let mut with_regressions = args.to_vec();
    with_regressions.extend(["--regressions", arg(&saved), "--out", arg(&out)]);
    let output = eosim(&with_regressions);
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert!(stderr(&output).contains("replayed 1 repro(s) of at-most-once"), "{}", stderr(&output));
    assert!(stderr(&output).contains("skipped 1 of another scenario"), "{}", stderr(&output));
    let listed = text.lines().skip_while(|line| !line.starts_with("failing seeds")).nth(1).expect("a failing record");
    let name = format!("regression {} (seed 2)", failure.display());
    assert!(
        listed.starts_with(&format!("  {name}: violation: lost-write")),
        "the saved failure is listed first: {text}"
    );
    assert!(text.contains(&format!("eosim replay {}", failure.display())), "{text}");
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["regressions"][0]["repro"], failure.display().to_string());
    assert_eq!(report["regressions"][0]["verdict"], "violation");
    assert_eq!(report["runs"].as_array().expect("runs").len(), 4, "the seeds ran after it");
    let junit = read(&out.join("junit.xml"));
    let first_case = junit.find("<testcase ").expect("a case");
    assert!(junit[first_case..].starts_with(&format!("<testcase name=\"{name}\"")), "the first case: {junit}");
    let page = read(&out.join("index.html"));
    assert!(page.contains("id=\"diagram-seed-2\""), "the saved failure is drawn from its own repro");

    // --regressions may not be --out, which a campaign empties; a directory is expected.
    let mut same = args.to_vec();
    same.extend(["--regressions", arg(&out), "--out", arg(&out)]);
    assert_exit(&eosim(&same), 2);
    let mut missing = args.to_vec();
    missing.extend(["--regressions", "tests/no-such-dir"]);
    assert_exit(&eosim(&missing), 2);
}

/// A stall of the exactly-once pipeline (two writers, two pipeline instances, a consumer; a retry backoff longer
/// than the delivery timeout) needs not its one fault, one writer, one instance nor the consumer: shrinking
/// removes the clients and shortens the transactions, and the shrunk repro replays and draws.
#[test]
#[cfg_attr(debug_assertions, ignore = "fifty replays of a pipeline scenario: run by `cargo test --release`")]
fn shrink_removes_writers_pipelines_and_consumers_and_shortens_transactions() {
    let dir = scratch_dir("shrink-clients");
    let shrunk = dir.join("small.json");
    let repro = "tests/regressions/eos-tv2-wide-341-backoff-beyond-delivery-timeout.json";
    let output = eosim(&["shrink", repro, "--out", arg(&shrunk)]);
    assert_exit(&output, 1);
    let text = stdout(&output);
    for line in ["writers: 2 -> 1", "pipelines: 2 -> 1", "consumers: 1 -> 0", "records per writer transaction: 2 -> 1"]
    {
        assert!(text.contains(&format!("{line}\n")), "{line}: {text}");
    }
    assert!(text.contains("transactions per writer: 40 -> "), "{text}");
    assert!(text.contains("records per pipeline transaction: 8 -> "), "{text}");
    let workload = read_json(&shrunk)["scenario"]["workload"].clone();
    assert_eq!((workload["atomic_writers"].as_u64(), workload["pipeline"]["instances"].as_u64()), (Some(1), Some(1)));
    assert_eq!(read_json(&shrunk)["expected"]["verdict"], "stall");
    let page = dir.join("page");
    let replay = eosim(&["replay", arg(&shrunk), "--out", arg(&page)]);
    assert_exit(&replay, 1);
    assert!(stdout(&replay).contains("trace hash matches: yes"), "{}", stdout(&replay));
    assert!(read(&page.join("index.html")).contains("<svg"), "the shrunk stall is drawn");
    let again = dir.join("again.json");
    assert_exit(&eosim(&["shrink", arg(&shrunk), "--out", arg(&again)]), 1);
    assert_eq!(read(&again), read(&shrunk), "a shrunk repro is already minimal");
}
