//! `junit.xml`: a campaign as a JUnit report, so that CI shows the failing seeds next to its other tests.
//!
//! One `<testsuite>` per campaign. Each failing record — a replayed regression first, then each failing seed —
//! is a `<testcase>` of its own (`seed 7`, or `regression FILE (seed 7)`) with one `<failure>` whose `message`
//! is the record's one reason (the same text as the terminal, report.json and index.html) and whose body holds
//! the commands that replay it. The passing seeds are one passing `<testcase>` (`12 passing seeds`), so that a
//! CI server counts them without the file growing with every seed. Every text and attribute value is escaped,
//! and characters XML 1.0 cannot hold at all (most control characters) become U+FFFD, because a panic message
//! can contain anything and a CI server that cannot parse the file shows nothing. Nothing in the file depends
//! on the wall clock, so it is as reproducible as report.json.

use std::fmt::Write as _;

use crate::text::{commands, reason, record_name, TextOptions};
use crate::{CampaignReport, SeedRecord};

/// The campaign as a JUnit XML document, ending in a newline.
pub fn render_junit(report: &CampaignReport, options: &TextOptions) -> String {
    let failing: Vec<&SeedRecord> = report.failing().collect();
    let passing =
        report.totals.passing + report.regressions.iter().filter(|run| !run.verdict.is_failure()).count() as u64;
    // A campaign with no failure still has a case, so that a suite that ran is never empty.
    let passing_case = passing > 0 || failing.is_empty();
    let cases = failing.len() + usize::from(passing_case);
    let suite_name = match report.shard {
        Some(shard) => format!("eosim campaign {} (shard {shard})", report.scenario),
        None => format!("eosim campaign {}", report.scenario),
    };
    let classname = xml_attribute(&format!("eosim.campaign.{}", report.scenario));
    let failures = failing.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"eosim\" tests=\"{cases}\" failures=\"{failures}\" errors=\"0\">");
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{cases}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        xml_attribute(&suite_name)
    );
    render_properties(&mut out, report);
    for run in &failing {
        let _ = writeln!(out, "    <testcase name=\"{}\" classname=\"{classname}\">", xml_attribute(&record_name(run)));
        render_failure(&mut out, run, options);
        out.push_str("    </testcase>\n");
    }
    if passing_case {
        let name = match passing {
            1 => "1 passing seed".to_string(),
            n => format!("{n} passing seeds"),
        };
        let _ = writeln!(out, "    <testcase name=\"{name}\" classname=\"{classname}\"/>");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn render_properties(out: &mut String, report: &CampaignReport) {
    let mut properties = vec![
        ("guarantee", report.guarantee.name().to_string()),
        ("version", report.version.clone()),
        ("seed_start", report.seed_start.to_string()),
        ("seeds", report.seeds.to_string()),
        ("seeds_run", report.totals.seeds_run.to_string()),
        ("passing", report.totals.passing.to_string()),
        ("failing", report.totals.failing.to_string()),
    ];
    if !report.regressions.is_empty() {
        properties.push(("regressions", report.regressions.len().to_string()));
    }
    if let Some(shard) = report.shard {
        properties.push(("shard", shard.to_string()));
    }
    if let Some(reason) = report.stopped {
        properties.push(("stopped", reason.name().to_string()));
    }
    if !report.coverage.never_reached.is_empty() {
        properties.push(("never_reached", report.coverage.never_reached.join(",")));
    }
    out.push_str("    <properties>\n");
    for (name, value) in properties {
        let _ = writeln!(out, "      <property name=\"{name}\" value=\"{}\"/>", xml_attribute(&value));
    }
    out.push_str("    </properties>\n");
}

/// One failing record: the message is its one reason; the body repeats it with the trace hash and every command
/// that replays it.
fn render_failure(out: &mut String, run: &SeedRecord, options: &TextOptions) {
    let reason = reason(run);
    let _ = writeln!(out, "      <failure type=\"{}\" message=\"{}\">", run.verdict.name(), xml_attribute(&reason));
    let mut body = format!("{}: {reason}\n", record_name(run));
    let _ = writeln!(body, "trace-hash: {}", run.trace_hash.as_deref().unwrap_or("none"));
    for command in commands(run, options) {
        let _ = writeln!(body, "replay: {command}");
    }
    out.push_str(&xml_escape(&body));
    out.push_str("      </failure>\n");
}

/// `text` escaped for an attribute value: as [`xml_escape`], and newlines as references too, because a parser
/// normalizes a literal newline inside an attribute to a space.
fn xml_attribute(text: &str) -> String {
    xml_escape(text).replace('\n', "&#10;")
}

/// `text` escaped for XML element text: the five markup characters become entities, and
/// characters XML 1.0 forbids (controls other than tab, newline and carriage return) become U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push('\n'),
            // A parser would turn a literal tab or carriage return into a space or a newline; references survive.
            '\t' | '\r' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CampaignHeader, Verdict};
    use eosim_checker::{AnomalyKind, Guarantee};

    fn report(verdicts: &[Verdict]) -> CampaignReport {
        let header = CampaignHeader {
            scenario: "at-most-once".to_string(),
            guarantee: Guarantee::Idempotent,
            seed_start: 0,
            seeds: verdicts.len() as u64,
            shard: None,
            stopped: None,
        };
        let runs = verdicts
            .iter()
            .enumerate()
            .map(|(seed, verdict)| {
                let mut record = SeedRecord::new(seed as u64, *verdict);
                if *verdict == Verdict::Violation {
                    record.violations = vec![AnomalyKind::LostWrite];
                    record.finding = Some(format!("lost-write: value {seed} <was> acknowledged"));
                }
                record
            })
            .collect();
        CampaignReport::new(header, runs)
    }

    #[test]
    fn each_failing_seed_is_a_testcase_with_its_one_reason() {
        let report = report(&[Verdict::Violation, Verdict::Pass, Verdict::Violation, Verdict::Pass, Verdict::Pass]);
        let xml = render_junit(&report, &TextOptions::new("at-most-once"));
        assert!(xml.contains("<testsuite name=\"eosim campaign at-most-once\" tests=\"3\" failures=\"2\""), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
        assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
        assert!(xml.contains("<testcase name=\"seed 0\""), "{xml}");
        assert!(xml.contains("<testcase name=\"seed 2\""), "{xml}");
        let message = "message=\"violation: lost-write: value 2 &lt;was&gt; acknowledged\"";
        assert!(xml.contains(message), "the message is the reason, escaped: {xml}");
        assert!(xml.contains("replay: eosim run at-most-once --seed 2\n"), "{xml}");
        assert!(
            xml.contains("<testcase name=\"3 passing seeds\" classname=\"eosim.campaign.at-most-once\"/>"),
            "{xml}"
        );
    }

    #[test]
    fn a_replayed_regression_comes_first_and_replays_its_repro() {
        let mut report = report(&[Verdict::Pass, Verdict::Violation]);
        let mut saved = SeedRecord::new(9, Verdict::Stall);
        saved.finding = Some("stuck-consumer".to_string());
        saved.repro = Some("saved/repro-9.json".to_string());
        report.regressions = vec![saved];
        let xml = render_junit(&report, &TextOptions::new("at-most-once"));
        let regression = xml.find("name=\"regression saved/repro-9.json (seed 9)\"").expect("a case");
        let seed = xml.find("name=\"seed 1\"").expect("a case");
        assert!(regression < seed, "{xml}");
        assert!(xml.contains("replay: eosim replay saved/repro-9.json\n"), "{xml}");
        assert!(xml.contains("tests=\"3\" failures=\"2\""), "{xml}");
        assert!(xml.contains("<testcase name=\"1 passing seed\""), "{xml}");
    }

    #[test]
    fn a_clean_campaign_is_one_passing_case() {
        let xml = render_junit(&report(&[Verdict::Pass, Verdict::Pass]), &TextOptions::new("at-most-once"));
        assert!(xml.contains("tests=\"1\" failures=\"0\""), "{xml}");
        assert!(xml.contains("<testcase name=\"2 passing seeds\""), "{xml}");
        assert!(!xml.contains("<failure"), "{xml}");
    }

    #[test]
    fn markup_and_forbidden_characters_are_escaped() {
        assert_eq!(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(xml_escape("bell\u{7}tab\t"), "bell\u{FFFD}tab&#9;");
        assert_eq!(xml_escape("plain-text_1.json"), "plain-text_1.json");
        assert_eq!(xml_escape("two\nlines"), "two\nlines");
        assert_eq!(xml_attribute("two\nlines"), "two&#10;lines");
    }
}
