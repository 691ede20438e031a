//! The campaign engine through the `eosim` binary: shards and `eosim merge`, `--shard auto` from a job's
//! environment, `--stop-on-first`, `--time-budget`, `junit.xml`, `eosim shrink`, and Ctrl-C (SIGINT) leaving a
//! valid report.json. Campaigns stay small (tens of seeds, or a budget of a second), so the file is quick in debug.

mod support;

use support::*;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A fresh, empty directory for one test's files.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    support::scratch_dir("campaign-cli", name)
}

#[test]
fn shards_merged_are_the_unsharded_campaign_byte_for_byte() {
    let root = scratch_dir("merge");
    let (whole, first, second, merged) = (root.join("whole"), root.join("s1"), root.join("s2"), root.join("merged"));
    let base = ["campaign", "at-most-once", "--seeds", "12", "--seed-start", "5", "--jobs", "2"];
    for (dir, shard) in [(&whole, None), (&first, Some("1/2")), (&second, Some("2/2"))] {
        let mut args = base.to_vec();
        args.extend(["--out", arg(dir)]);
        args.extend(shard.iter().flat_map(|shard| ["--shard", *shard]));
        assert_exit(&eosim(&args), 1);
    }
    assert_eq!(read_json(&first.join("report.json"))["shard"], serde_json::json!({ "index": 1, "count": 2 }));
    let reports = [second.join("report.json"), first.join("report.json")];
    let report_args = [arg(&reports[0]), arg(&reports[1])];
    let output = eosim(&["merge", report_args[0], report_args[1], "--out", arg(&merged)]);
    assert_exit(&output, 1);
    assert!(stdout(&output).starts_with("merged 2 report(s)\nscenario: at-most-once\n"), "{}", stdout(&output));
    assert_eq!(read(&merged.join("report.json")), read(&whole.join("report.json")), "the same bytes");
    let junit = |dir: &Path| read(&dir.join("junit.xml")).replace(arg(dir), "DIR");
    assert_eq!(junit(&merged), junit(&whole), "junit.xml too, up to the directory in its replay commands");
    // The merged page draws each failing seed from the repro copied beside it, as the whole campaign's page does.
    let page = read(&merged.join("index.html"));
    let whole_page = read(&whole.join("index.html"));
    let diagrams = |page: &str| page.matches("id=\"diagram-seed-").count();
    assert!(diagrams(&page) > 0, "the merged page draws the failing seeds");
    assert_eq!(diagrams(&page), diagrams(&whole_page), "as many diagrams as the whole campaign's page");
    // The merged directory holds every failing seed's repro, so its replay commands work.
    let report = read_json(&merged.join("report.json"));
    let failing = report["runs"].as_array().expect("runs").iter().find(|run| run["verdict"] != "pass").cloned();
    let seed = failing.expect("a failing seed")["seed"].as_u64().expect("seed");
    assert_exit(&eosim(&["replay", arg(&merged.join(format!("repro-{seed}.json")))]), 1);
    let json = eosim(&["merge", report_args[0], report_args[1], "--format", "json"]);
    assert_eq!(stdout(&json), read(&whole.join("report.json")), "merge --format json prints the merged report");
}

#[test]
fn merge_refuses_reports_that_are_not_one_campaigns_shards() {
    let root = scratch_dir("merge-errors");
    let (first, other) = (root.join("s1"), root.join("other"));
    assert_exit(
        &eosim(&["campaign", "tests/fixtures/tiny.toml", "--seeds", "4", "--shard", "1/2", "--out", arg(&first)]),
        0,
    );
    let args = ["campaign", "tests/fixtures/tiny.toml", "--seeds", "5", "--shard", "2/2", "--out", arg(&other)];
    assert_exit(&eosim(&args), 0);
    let (first_report, other_report) = (first.join("report.json"), other.join("report.json"));
    let missing = eosim(&["merge", arg(&first_report)]);
    assert_exit(&missing, 2);
    assert!(stderr(&missing).contains("shard 2/2 is missing"), "{}", stderr(&missing));
    let mismatch = eosim(&["merge", arg(&first_report), arg(&other_report)]);
    assert_exit(&mismatch, 2);
    assert!(stderr(&mismatch).contains("seeds is 5, but"), "{}", stderr(&mismatch));
    let twice = eosim(&["merge", arg(&first_report), arg(&first_report)]);
    assert_exit(&twice, 2);
    assert!(stderr(&twice).contains("shard 1/2 is also"), "{}", stderr(&twice));
    let malformed = root.join("bad.json");
    std::fs::write(&malformed, "{\n  \"schema\": 1,\n  \"runs\": [}\n").expect("written");
    let bad = eosim(&["merge", arg(&malformed)]);
    assert_exit(&bad, 2);
    assert!(stderr(&bad).contains(&format!("{}:3:", malformed.display())), "{}", stderr(&bad));
    assert_exit(&eosim(&["merge"]), 2);
}

#[test]
fn shard_auto_reads_kubernetes_and_gitlab_environments() {
    let base = ["campaign", "tests/fixtures/tiny.toml", "--seeds", "6", "--format", "json", "--shard", "auto"];
    let missing = eosim(&base);
    assert_exit(&missing, 2);
    assert!(stderr(&missing).contains("JOB_COMPLETION_INDEX"), "{}", stderr(&missing));
    let mut no_count = command(&base);
    assert_exit(&no_count.env("JOB_COMPLETION_INDEX", "0").output().expect("runs"), 2);
    let shard_of = |output: Output| -> Value {
        assert_exit(&output, 0);
        let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
        report["shard"].clone()
    };
    let mut args = base.to_vec();
    args.extend(["--shards", "3"]);
    let kubernetes = command(&args).env("JOB_COMPLETION_INDEX", "2").output().expect("runs");
    assert_eq!(shard_of(kubernetes), serde_json::json!({ "index": 3, "count": 3 }), "0-based index 2 is shard 3");
    let from_var = command(&base).env("JOB_COMPLETION_INDEX", "0").env("EOSIM_SHARDS", "2").output().expect("runs");
    assert_eq!(shard_of(from_var), serde_json::json!({ "index": 1, "count": 2 }));
    let gitlab = command(&base).env("CI_NODE_INDEX", "2").env("CI_NODE_TOTAL", "2").output().expect("runs");
    assert_eq!(shard_of(gitlab), serde_json::json!({ "index": 2, "count": 2 }), "GitLab's index is 1-based");
    assert_exit(&eosim(&["campaign", "--shard", "3/2"]), 2);
    assert_exit(&eosim(&["campaign", "--shards", "2"]), 2);
}

#[test]
fn stop_on_first_stops_at_a_failing_seed_whose_replay_reproduces_it() {
    let dir = scratch_dir("stop-on-first");
    let args = ["campaign", "at-most-once", "--seeds", "500", "--jobs", "1", "--stop-on-first", "--out", arg(&dir)];
    let output = eosim(&args);
    assert_exit(&output, 1);
    let report = read_json(&dir.join("report.json"));
    assert_eq!(report["stopped"], "first-failure");
    let runs = report["runs"].as_array().expect("runs");
    assert!(runs.len() < 500, "it stopped early");
    let last = runs.last().expect("a run");
    assert_ne!(last["verdict"], "pass", "one thread stops right after the failing seed");
    let repro = dir.join(format!("repro-{}.json", last["seed"]));
    let text = stdout(&output);
    assert!(text.contains("stopped at the first failing seed (--stop-on-first)"), "{text}");
    assert!(text.contains(&format!("eosim replay {}\n", repro.display())), "{text}");
    let replay = eosim(&["replay", arg(&repro)]);
    assert_exit(&replay, 1);
    assert!(stdout(&replay).contains("trace hash matches: yes"), "{}", stdout(&replay));
    assert!(stdout(&replay).contains("lost-write"), "{}", stdout(&replay));
}

#[test]
fn a_time_budget_cuts_a_campaign_short_and_says_so() {
    let output = eosim(&["campaign", "idempotent", "--seeds", "1000000", "--time-budget", "0.5", "--format", "json"]);
    assert_exit(&output, 0);
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(report["stopped"], "time-budget");
    assert_eq!(report["interrupted"], false);
    assert!(report["totals"]["seeds_run"].as_u64().expect("seeds_run") < 1_000_000);
    assert_exit(&eosim(&["campaign", "--time-budget", "-1"]), 2);
    assert_exit(&eosim(&["campaign", "--time-budget", "soon"]), 2);
}

/// An XML element, as far as these tests look: its name, attributes, children and text.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attribute(&self, name: &str) -> &str {
        self.attributes.iter().find(|(key, _)| key == name).map_or("", |(_, value)| value.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |child| child.name == name)
    }
}

/// A small well-formedness checker for the XML eosim writes: one root element, matched tags, quoted attributes,
/// only the five predefined entities and character references, no markup characters where they cannot be.
struct XmlParser<'a> {
    text: &'a str,
    at: usize,
}

impl XmlParser<'_> {
    fn parse(text: &str) -> Result<Element, String> {
        let mut parser = XmlParser { text, at: 0 };
        if parser.rest().starts_with("<?xml") {
            let end = parser.rest().find("?>").ok_or("unterminated XML declaration")?;
            parser.at += end + 2;
        }
        parser.skip_space();
        let root = parser.element()?;
        parser.skip_space();
        if parser.at != text.len() {
            return Err(format!("content after the root element at byte {}", parser.at));
        }
        Ok(root)
    }

    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        if !self.rest().starts_with(token) {
            return Err(format!(
                "expected {token:?} at byte {}: {:?}",
                self.at,
                &self.rest()[..self.rest().len().min(40)]
            ));
        }
        self.at += token.len();
        Ok(())
    }

    fn name(&mut self) -> Result<String, String> {
        let length = self.rest().find(|c: char| !(c.is_ascii_alphanumeric() || "_:.-".contains(c))).unwrap_or(0);
        if length == 0 || self.rest().starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
            return Err(format!("expected a name at byte {}", self.at));
        }
        self.at += length;
        Ok(self.text[self.at - length..self.at].to_string())
    }

    fn element(&mut self) -> Result<Element, String> {
        self.expect("<")?;
        let mut element = Element { name: self.name()?, ..Element::default() };
        loop {
            self.skip_space();
            if self.rest().starts_with("/>") {
                self.at += 2;
                return Ok(element);
            }
            if self.rest().starts_with('>') {
                self.at += 1;
                break;
            }
            let key = self.name()?;
            self.expect("=")?;
            let quote = if self.rest().starts_with('"') { "\"" } else { "'" };
            self.expect(quote)?;
            let end = self.rest().find(quote).ok_or("unterminated attribute value")?;
            let value = decode(&self.rest()[..end])?;
            self.at += end + 1;
            if element.attributes.iter().any(|(existing, _)| *existing == key) {
                return Err(format!("attribute {key} twice"));
            }
            element.attributes.push((key, value));
        }
        self.content(&mut element)?;
        Ok(element)
    }

    fn content(&mut self, element: &mut Element) -> Result<(), String> {
        loop {
            if self.rest().starts_with("</") {
                self.at += 2;
                let name = self.name()?;
                if name != element.name {
                    return Err(format!("</{name}> closes <{}>", element.name));
                }
                self.skip_space();
                return self.expect(">");
            }
            if self.rest().starts_with('<') {
                element.children.push(self.element()?);
                continue;
            }
            let end = self.rest().find('<').ok_or_else(|| format!("<{}> is never closed", element.name))?;
            element.text.push_str(&decode(&self.rest()[..end])?);
            self.at += end;
        }
    }
}

/// Character data with its references resolved; a bare `&` or `<`, or a control character, is an error.
fn decode(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find(';').ok_or_else(|| format!("bare & in {raw:?}"))? + start;
        let entity = &rest[start + 1..end];
        let decoded = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let number = entity.strip_prefix('#').ok_or_else(|| format!("unknown entity &{entity};"))?;
                let code = match number.strip_prefix('x') {
                    Some(hex) => u32::from_str_radix(hex, 16),
                    None => number.parse(),
                };
                code.ok().and_then(char::from_u32).ok_or_else(|| format!("bad reference &{entity};"))?
            }
        };
        out.push(decoded);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    if let Some(bad) = raw.chars().find(|c| *c == '<' || (c.is_control() && !"\t\n\r".contains(*c))) {
        return Err(format!("{bad:?} in character data {raw:?}"));
    }
    Ok(out)
}

#[test]
fn the_xml_checker_refuses_what_is_not_well_formed() {
    assert!(XmlParser::parse("<a x=\"1\"><b/>t&amp;t&#10;</a>").is_ok());
    for bad in ["<a>", "<a></b>", "<a x=1/>", "<a>&nbsp;</a>", "<a>x & y</a>", "<a/><b/>", "<a x='<'/>", "<a>\u{7}</a>"]
    {
        assert!(XmlParser::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn junit_xml_has_one_failing_case_per_failing_seed_and_one_passing_case() {
    let dir = scratch_dir("junit");
    assert_exit(&eosim(&["campaign", "at-most-once", "--seeds", "12", "--out", arg(&dir)]), 1);
    let root = XmlParser::parse(&read(&dir.join("junit.xml"))).unwrap_or_else(|error| panic!("junit.xml: {error}"));
    assert_eq!(root.name, "testsuites");
    let suites: Vec<&Element> = root.all("testsuite").collect();
    assert_eq!(suites.len(), 1, "one suite per campaign");
    let report = read_json(&dir.join("report.json"));
    let runs = report["runs"].as_array().expect("runs");
    let failing: Vec<&Value> = runs.iter().filter(|run| run["verdict"] != "pass").collect();
    assert!(failing.len() >= 2, "at-most-once fails at least twice in 12 seeds: {}", failing.len());
    let cases: Vec<&Element> = suites[0].all("testcase").collect();
    let failed: Vec<&&Element> = cases.iter().filter(|case| case.all("failure").count() == 1).collect();
    assert_eq!(failed.len(), failing.len(), "one failing case per failing seed");
    for (case, run) in failed.iter().zip(&failing) {
        let seed = run["seed"].as_u64().expect("seed");
        assert_eq!(case.attribute("name"), format!("seed {seed}"));
        let failure = case.all("failure").next().expect("a failure");
        let reason = run["finding"].as_str().expect("a violation has a finding");
        assert_eq!(failure.attribute("message"), format!("violation: {reason}"), "the message is the one reason");
        let replay = format!("eosim replay {}", dir.join(format!("repro-{seed}.json")).display());
        assert!(failure.text.contains(&replay), "{failure:?}");
        assert!(failure.text.contains(&format!("eosim run at-most-once --seed {seed}")), "{failure:?}");
    }
    let passing = runs.len() - failing.len();
    assert_eq!(cases.len(), failing.len() + 1, "and one case for the passing seeds");
    assert_eq!(cases.last().expect("a case").attribute("name"), format!("{passing} passing seeds"));
    assert_eq!(suites[0].attribute("failures"), failing.len().to_string());
    assert_eq!(suites[0].attribute("tests"), cases.len().to_string());
    let clean = scratch_dir("junit-clean");
    assert_exit(&eosim(&["campaign", "tests/fixtures/tiny.toml", "--seeds", "3", "--out", arg(&clean)]), 0);
    let root = XmlParser::parse(&read(&clean.join("junit.xml"))).unwrap_or_else(|error| panic!("{error}"));
    let cases: Vec<&Element> = root.all("testsuite").flat_map(|suite| suite.all("testcase")).collect();
    assert_eq!(cases.len(), 1, "a clean campaign is one passing case");
    assert_eq!((cases[0].attribute("name"), cases[0].children.len()), ("3 passing seeds", 0), "with no failure");
}

/// Writes a failing seed's repro with `eosim run --out`, shrinks it and checks the result.
fn shrink_and_replay(scenario: &str, anomaly: &str) {
    let dir = scratch_dir(&format!("shrink-{scenario}"));
    let seed = (0..50)
        .find(|seed| eosim(&["run", scenario, "--seed", &seed.to_string()]).status.code() == Some(1))
        .unwrap_or_else(|| panic!("{scenario} fails within 50 seeds"));
    assert_exit(&eosim(&["run", scenario, "--seed", &seed.to_string(), "--out", arg(&dir)]), 1);
    let original = read_json(&dir.join("repro.json"));
    let shrunk_path = dir.join("small.json");
    let output = eosim(&["shrink", arg(&dir.join("repro.json")), "--out", arg(&shrunk_path), "--format", "json"]);
    assert_exit(&output, 1);
    let summary: Value = serde_json::from_str(&stdout(&output)).expect("shrink --format json is JSON");
    let shrunk = read_json(&shrunk_path);
    let faults = |repro: &Value| repro["schedule"]["faults"].as_array().expect("faults").len() as u64;
    assert!(faults(&shrunk) < faults(&original), "{scenario}: {} -> {} faults", faults(&original), faults(&shrunk));
    assert_eq!(summary["after"]["faults"].as_u64(), Some(faults(&shrunk)));
    assert_eq!(summary["before"]["faults"].as_u64(), Some(faults(&original)));
    assert_eq!(shrunk["seed"], original["seed"], "shrinking keeps the seed");
    assert!(shrunk["expected"]["violations"].as_array().expect("list").iter().any(|kind| kind == anomaly));
    let replay = eosim(&["replay", arg(&shrunk_path)]);
    assert_exit(&replay, 1);
    assert!(stdout(&replay).contains("trace hash matches: yes"), "{}", stdout(&replay));
    assert!(stdout(&replay).contains(anomaly), "{}", stdout(&replay));
    let again = dir.join("again.json");
    assert_exit(&eosim(&["shrink", arg(&dir.join("repro.json")), "--out", arg(&again)]), 1);
    assert_eq!(read(&again), read(&shrunk_path), "the same repro shrinks to the same file");
    let twice = dir.join("twice.json");
    assert_exit(&eosim(&["shrink", arg(&shrunk_path), "--out", arg(&twice)]), 1);
    assert_eq!(read(&twice), read(&shrunk_path), "a shrunk repro is already minimal");
}

#[test]
fn shrink_keeps_a_lost_write_with_fewer_faults() {
    shrink_and_replay("at-most-once", "lost-write");
}

#[test]
fn shrink_keeps_a_duplicate_with_fewer_faults() {
    shrink_and_replay("idempotent-restart", "duplicate");
}

#[test]
fn shrink_refuses_a_passing_repro_and_writes_next_to_the_input_by_default() {
    let dir = scratch_dir("shrink-pass");
    assert_exit(&eosim(&["run", "tests/fixtures/tiny.toml", "--seed", "1", "--out", arg(&dir)]), 0);
    let passing = eosim(&["shrink", arg(&dir.join("repro.json"))]);
    assert_exit(&passing, 2);
    assert!(stderr(&passing).contains("no failure to shrink"), "{}", stderr(&passing));
    assert_exit(&eosim(&["shrink", "tests/fixtures/no-such-repro.json"]), 2);
    let failing = scratch_dir("shrink-default-out");
    assert_exit(&eosim(&["run", "at-most-once", "--seed", "2", "--out", arg(&failing)]), 1);
    let output = eosim(&["shrink", arg(&failing.join("repro.json"))]);
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert!(text.contains("faults: ") && text.contains("messages: "), "{text}");
    assert!(text.contains(&format!("eosim replay {}", failing.join("repro.shrunk.json").display())), "{text}");
}

#[test]
fn ctrl_c_during_a_campaign_leaves_a_valid_report_with_the_findings_so_far() {
    let dir = scratch_dir("sigint");
    let mut child = command(&["campaign", "at-most-once", "--seeds", "1000000", "--jobs", "2", "--out", arg(&dir)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the campaign starts");
    // A failing seed's repro on disk proves the campaign is under way, past installing its Ctrl-C handler.
    let started = Instant::now();
    while !std::fs::read_dir(&dir)
        .expect("dir")
        .any(|entry| entry.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("repro-")))
    {
        assert!(started.elapsed() < Duration::from_secs(60), "no failing seed within a minute");
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the campaign did not stop within a minute of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    assert_exit(&output, 1);
    let report = read_json(&dir.join("report.json"));
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["stopped"], "interrupted");
    let runs = report["runs"].as_array().expect("runs");
    assert!(!runs.is_empty() && runs.len() < 1_000_000);
    assert!(runs.iter().any(|run| run["verdict"] != "pass"), "the findings so far are in the report");
    assert!(stdout(&output).contains("interrupted: "), "{}", stdout(&output));
    assert!(XmlParser::parse(&read(&dir.join("junit.xml"))).is_ok(), "junit.xml is written too");
}

#[test]
fn merge_and_shrink_have_help() {
    for command in ["merge", "shrink"] {
        let output = eosim(&[command, "--help"]);
        assert_exit(&output, 0);
        assert!(stdout(&output).contains("--format"), "{command} --help");
    }
}
