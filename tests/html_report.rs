//! `index.html` in a real browser: a small failing campaign writes the page, headless Chromium loads it from
//! disk, and the DOM it builds must hold one space-time diagram per failing seed. A screenshot is kept in
//! `target/test-artifacts/` for a person to look at.
//!
//! Chromium is required: without `/usr/bin/chromium` the test fails, so that CI cannot pass by silently
//! skipping it (`.ci/run` installs it). Set `EOSIM_SKIP_BROWSER=1` to skip the browser half on purpose.

mod support;

use support::*;

use std::path::Path;

use serde_json::Value;

/// A fresh, empty directory for one test's files.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    support::scratch_dir("html-report", name)
}

/// The failing seeds of a campaign, from its report.json.
fn failing_seeds(dir: &Path) -> Vec<u64> {
    let report: Value = serde_json::from_str(&read(&dir.join("report.json"))).expect("report.json parses");
    let runs = report["runs"].as_array().expect("runs is a list");
    runs.iter().filter(|run| run["verdict"] != "pass").map(|run| run["seed"].as_u64().expect("a seed")).collect()
}

/// Runs a small failing campaign into `dir` and returns its failing seeds.
fn failing_campaign(dir: &Path) -> Vec<u64> {
    let output = eosim(&["campaign", "at-most-once", "--seeds", "6", "--jobs", "2", "--out", arg(dir)]);
    assert_eq!(output.status.code(), Some(1), "at-most-once loses writes: {}", String::from_utf8_lossy(&output.stderr));
    let seeds = failing_seeds(dir);
    assert!(!seeds.is_empty(), "the campaign found something to draw");
    seeds
}

#[test]
fn a_failing_campaign_page_shows_one_diagram_per_failing_seed_in_chromium() {
    let dir = scratch_dir("campaign");
    let seeds = failing_campaign(&dir);
    let page = dir.join("index.html");
    let html = read(&page);
    for seed in &seeds {
        assert_eq!(html.matches(&format!("id=\"diagram-seed-{seed}\"")).count(), 1, "seed {seed}'s diagram");
    }
    assert_eq!(html.matches("<svg").count(), seeds.len());
    if !browser_available() {
        return;
    }
    let profiles = scratch_dir("profiles");
    let dom = chromium(&page, &profiles.join("dump"), &["--dump-dom".to_string()]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dom.stderr));
    assert!(dom_text.contains("</html>"), "chromium printed the DOM: {dom_text}");
    let diagrams = dom_text.matches("<svg").count();
    assert_eq!(diagrams, seeds.len(), "one <svg> per failing seed in the DOM Chromium built");
    for seed in &seeds {
        assert!(dom_text.contains(&format!("id=\"diagram-seed-{seed}\"")), "seed {seed}'s diagram in the DOM");
    }
    assert!(dom_text.contains("class=\"spacetime\""));
    let artifacts =
        Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target/tmp is in target").join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("target/test-artifacts can be created");
    let screenshot = artifacts.join("html-report.png");
    let _ = std::fs::remove_file(&screenshot);
    let shot = chromium(
        &page,
        &profiles.join("shot"),
        &[format!("--screenshot={}", screenshot.display()), "--window-size=1400,2000".to_string()],
    );
    assert!(shot.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&shot.stderr));
    let png = std::fs::read(&screenshot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "a real PNG: {} bytes", png.len());
    eprintln!("screenshot: {}", screenshot.display());
}

#[test]
fn the_page_is_the_same_for_any_thread_count_and_a_run_writes_one_too() {
    let (one, two) = (scratch_dir("jobs-1"), scratch_dir("jobs-2"));
    for (dir, jobs) in [(&one, "1"), (&two, "2")] {
        let output = eosim(&["campaign", "at-most-once", "--seeds", "6", "--jobs", jobs, "--out", arg(dir)]);
        assert_eq!(output.status.code(), Some(1));
    }
    let normalize = |dir: &Path| read(&dir.join("index.html")).replace(arg(dir), "DIR");
    assert!(normalize(&one) == normalize(&two), "index.html depends only on the seeds");
    let run = scratch_dir("run");
    let seed = failing_seeds(&one)[0].to_string();
    let output = eosim(&["run", "at-most-once", "--seed", &seed, "--out", arg(&run)]);
    assert_eq!(output.status.code(), Some(1));
    let html = read(&run.join("index.html"));
    assert_eq!(html.matches("<svg").count(), 1);
    assert!(html.contains(&format!("id=\"diagram-seed-{seed}\"")));
    assert!(html.contains("<a href=\"repro.json\">repro.json</a>"), "a run links its own files");
    let passing = scratch_dir("run-pass");
    let output = eosim(&["run", "idempotent", "--seed", "1", "--out", arg(&passing)]);
    assert_eq!(output.status.code(), Some(0));
    assert!(!read(&passing.join("index.html")).contains("<svg"), "a passing run has no diagram");
}
