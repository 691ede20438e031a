//! `index.html` in a real browser: a small failing campaign writes the page, headless Chromium loads it from
//! disk, and the DOM it builds must hold one space-time diagram per failing seed. A screenshot is kept in
//! `target/test-artifacts/` for a person to look at.
//!
//! Chromium is required: without `/usr/bin/chromium` the test fails, so that CI cannot pass by silently
//! skipping it (`.ci/run` installs it). Set `EOSIM_SKIP_BROWSER=1` to skip the browser half on purpose.

mod support;

use support::*;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Longest a Chromium run may take before the test gives up on it.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(180);

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

/// Runs headless Chromium on `page` with `extra` flags and a fresh profile, and returns its output.
fn chromium(page: &Path, profile: &Path, extra: &[String]) -> Output {
    let _ = std::fs::remove_dir_all(profile);
    std::fs::create_dir_all(profile).expect("a fresh profile directory");
    let url = format!("file://{}", page.canonicalize().expect("the page exists").display());
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(|flag| flag.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(extra.iter().cloned());
    args.push(url);
    let child = Command::new(CHROMIUM)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    wait_bounded(child)
}

/// Waits for a child, killing it after [`BROWSER_TIMEOUT`]: a hung browser must fail the test, not hang CI.
fn wait_bounded(mut child: std::process::Child) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("chromium can be waited for").is_none() {
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            panic!("chromium did not finish within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("chromium's output can be read")
}

/// Whether the browser half runs: Chromium is there, or skipping was asked for; else the test fails.
fn browser_available() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    if std::env::var("EOSIM_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("EOSIM_SKIP_BROWSER=1: not loading index.html in a browser");
        return false;
    }
    panic!(
        "{CHROMIUM} is missing, so index.html cannot be checked in a real browser. Install it \
         (`apt-get install -y chromium`; .ci/run does) or set EOSIM_SKIP_BROWSER=1 to skip this check on purpose."
    );
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
