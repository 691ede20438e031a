//! `junit.xml`: a campaign as a JUnit report, so that CI shows the failing seeds next to its other tests.
//!
//! One `<testsuite>` per campaign, one `<testcase>` per scenario (named after the scenario), and one `<failure>`
//! per failing seed, whose `message` holds the command that replays it. Every text and attribute value is
//! escaped, and characters XML 1.0 cannot hold at all (most control characters) become U+FFFD, because a panic
//! message can contain anything and a CI server that cannot parse the file shows nothing. Nothing in the file
//! depends on the wall clock, so it is as reproducible as report.json.

use std::fmt::Write as _;
use std::path::Path;

use crate::text::{replay_command, repro_file_name, run_command, TextOptions};
use crate::{CampaignReport, SeedRecord};

/// The campaign as a JUnit XML document, ending in a newline.
pub fn render_junit(report: &CampaignReport, options: &TextOptions) -> String {
    let failures = report.totals.failing;
    let failed_cases = u64::from(failures > 0);
    let suite_name = match report.shard {
        Some(shard) => format!("eosim campaign {} (shard {shard})", report.scenario),
        None => format!("eosim campaign {}", report.scenario),
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"eosim\" tests=\"1\" failures=\"{failed_cases}\" errors=\"0\">");
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"1\" failures=\"{failed_cases}\" errors=\"0\" skipped=\"0\">",
        xml_attribute(&suite_name)
    );
    render_properties(&mut out, report);
    let _ = write!(out, "    <testcase name=\"{}\" classname=\"eosim.campaign\"", xml_attribute(&report.scenario));
    if failures == 0 {
        out.push_str("/>\n");
    } else {
        out.push_str(">\n");
        for run in report.failing() {
            render_failure(&mut out, run, options);
        }
        out.push_str("    </testcase>\n");
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

/// One failing seed: the message says what failed and how to replay it; the body has every command.
fn render_failure(out: &mut String, run: &SeedRecord, options: &TextOptions) {
    let kinds: Vec<&str> = run.violations.iter().map(|kind| kind.name()).collect();
    let mut what = format!("seed {}: {}", run.seed, run.verdict.name());
    if !kinds.is_empty() {
        let _ = write!(what, " ({})", kinds.join(", "));
    }
    let rerun = run_command(&options.scenario_arg, run.seed);
    let replay = options.out_dir.as_ref().map(|dir| {
        let path = Path::new(dir).join(repro_file_name(run.seed));
        replay_command(&path.to_string_lossy())
    });
    let message = match &run.finding {
        Some(finding) => format!("{what}: {finding}; replay: {}", replay.as_deref().unwrap_or(&rerun)),
        None => format!("{what}; replay: {}", replay.as_deref().unwrap_or(&rerun)),
    };
    let _ = writeln!(out, "      <failure type=\"{}\" message=\"{}\">", run.verdict.name(), xml_attribute(&message));
    let mut body = format!("{what}\n");
    if let Some(finding) = &run.finding {
        let _ = writeln!(body, "finding: {finding}");
    }
    let _ = writeln!(body, "trace-hash: {}", run.trace_hash.as_deref().unwrap_or("none"));
    let _ = writeln!(body, "rerun: {rerun}");
    if let Some(replay) = &replay {
        let _ = writeln!(body, "replay: {replay}");
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

    #[test]
    fn markup_and_forbidden_characters_are_escaped() {
        assert_eq!(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(xml_escape("bell\u{7}tab\t"), "bell\u{FFFD}tab&#9;");
        assert_eq!(xml_escape("plain-text_1.json"), "plain-text_1.json");
        assert_eq!(xml_escape("two\nlines"), "two\nlines");
        assert_eq!(xml_attribute("two\nlines"), "two&#10;lines");
    }
}
