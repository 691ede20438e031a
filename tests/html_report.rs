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
    assert_eq!(html.matches("class=\"spacetime\"").count(), seeds.len());
    if !browser_available() {
        return;
    }
    let profiles = scratch_dir("profiles");
    let dom = chromium(&page, &profiles.join("dump"), &["--dump-dom".to_string()]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dom.stderr));
    assert!(dom_text.contains("</html>"), "chromium printed the DOM: {dom_text}");
    let diagrams = dom_text.matches("class=\"spacetime\"").count();
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
    assert_eq!(html.matches("class=\"spacetime\"").count(), 1);
    assert!(html.contains(&format!("id=\"diagram-seed-{seed}\"")));
    assert!(html.contains("<a href=\"repro.json\">repro.json</a>"), "a run links its own files");
    let passing = scratch_dir("run-pass");
    let output = eosim(&["run", "idempotent", "--seed", "1", "--out", arg(&passing)]);
    assert_eq!(output.status.code(), Some(0));
    assert!(!read(&passing.join("index.html")).contains("<svg"), "a passing run has no diagram");
}

/// The start tags in `html` that begin with `prefix`, each up to its closing `>` (quoted values may hold one).
fn start_tags<'a>(html: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(prefix) {
        let tag = &rest[start..];
        let mut quoted = false;
        let end = tag
            .char_indices()
            .find(|(_, character)| {
                if *character == '"' {
                    quoted = !quoted;
                }
                *character == '>' && !quoted
            })
            .map_or(tag.len(), |(index, _)| index + 1);
        tags.push(&tag[..end]);
        rest = &tag[end..];
    }
    tags
}

/// The number after `name ` in `text` ("producerId 7" gives 7).
fn number_after(text: &str, name: &str) -> Option<u64> {
    let start = text.find(&format!("{name} "))? + name.len() + 1;
    text[start..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// The first ProduceRequest drawn in `diagram` that carries a producer id: its element id, producer id and
/// base sequence, read from its tooltip in the page as written.
fn first_produce_request(html: &str, diagram: &str) -> (String, u64, u64) {
    for group in html.split("<g class=\"msg ").skip(1) {
        let group = group.split("</g>").next().unwrap_or_default();
        let id_start = format!("id=\"{diagram}-m");
        if !group.contains(&id_start) || !group.contains("<title>Produce request ") {
            continue;
        }
        let (Some(producer_id), Some(sequence)) =
            (number_after(group, "producerId"), number_after(group, "baseSequence"))
        else {
            continue;
        };
        let id = group.split("id=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("an id");
        return (id.to_string(), producer_id, sequence);
    }
    panic!("no idempotent ProduceRequest drawn in {diagram}");
}

/// Replica-fetch arrows in a DOM, and how many of them are hidden.
fn replication_arrows(dom: &str) -> (usize, usize) {
    let arrows: Vec<&str> =
        start_tags(dom, "<g class=\"msg ").into_iter().filter(|tag| tag.contains(" replication\"")).collect();
    let hidden = arrows.iter().filter(|tag| tag.contains("display=\"none\"")).count();
    (arrows.len(), hidden)
}

#[test]
fn an_external_store_page_filters_replication_and_shows_a_produce_requests_producer_id_at_1400x900() {
    let dir = scratch_dir("explain");
    let output = eosim(&["campaign", "external-store", "--seeds", "2", "--jobs", "2", "--out", arg(&dir)]);
    assert_eq!(output.status.code(), Some(1), "external-store finds sink duplicates: {}", stderr(&output));
    let seed = failing_seeds(&dir)[0];
    let page = dir.join("index.html");
    let html = read(&page);
    let diagram = format!("diagram-seed-{seed}");
    let (produce, producer_id, sequence) = first_produce_request(&html, &diagram);
    for api in ["<title>EndTxn request ", "<title>AddPartitionsToTxn request ", "<title>Fetch (replica) request "] {
        assert!(html.contains(api), "the lumped requests are named by their Kafka API: {api}");
    }
    assert!(html.contains("class=\"msg request chain") || html.contains("class=\"msg response chain"), "a chain");
    assert!(html.contains(&format!("id=\"{diagram}-faults\"")) && html.contains(&format!("id=\"{diagram}-timeline\"")));
    if !browser_available() {
        return;
    }
    let profiles = scratch_dir("explain-profiles");
    let dump = |fragment: &str, name: &str| {
        let dom = chromium_at(&page, fragment, &profiles.join(name), &["--dump-dom".to_string()]);
        assert!(dom.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dom.stderr));
        String::from_utf8_lossy(&dom.stdout).into_owned()
    };
    let before = dump(&format!("#view={diagram}"), "before");
    let (replicas, hidden) = replication_arrows(&before);
    assert!(replicas > 0 && hidden == 0, "{replicas} replica fetches drawn, {hidden} hidden before the filter");
    let tip_view = format!("#view={diagram}&hide=replication&tip={produce}");
    let after = dump(&tip_view, "after");
    assert_eq!(replication_arrows(&after), (replicas, replicas), "the filter hides every replica fetch");
    let shown = start_tags(&after, "<g class=\"msg ").into_iter().filter(|tag| !tag.contains("display=\"none\""));
    assert!(shown.count() > 0, "the filter hides only replication");
    let tip = after.split("<div id=\"tip\"").nth(1).and_then(|rest| rest.split("</div>").next()).expect("the tooltip");
    assert!(!tip.starts_with(" role=\"tooltip\" hidden"), "the tooltip is open: {tip}");
    for wanted in ["Produce request ", &format!("producerId {producer_id}"), &format!("baseSequence {sequence}")] {
        assert!(tip.contains(wanted), "the tooltip shows {wanted}: {tip}");
    }
    let artifacts =
        Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target/tmp is in target").join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("target/test-artifacts can be created");
    let mut shots = Vec::new();
    for (name, fragment) in [
        ("before-filter", format!("#view={diagram}")),
        ("after-filter", format!("#view={diagram}&hide=replication")),
        ("tooltip", tip_view),
    ] {
        let screenshot = artifacts.join(format!("html-report-{name}.png"));
        let _ = std::fs::remove_file(&screenshot);
        let flags = [format!("--screenshot={}", screenshot.display()), "--window-size=1400,900".to_string()];
        let shot = chromium_at(&page, &fragment, &profiles.join(name), &flags);
        assert!(shot.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&shot.stderr));
        let png = std::fs::read(&screenshot).expect("the screenshot was written");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "{name}: a real PNG, {} bytes", png.len());
        eprintln!("screenshot: {}", screenshot.display());
        shots.push(png);
    }
    assert!(shots[0] != shots[1], "hiding replication changes what the window shows");
}
