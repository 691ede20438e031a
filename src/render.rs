//! One run on the terminal (`eosim run`, `eosim replay`), as text or as JSON.
//!
//! The text reads in the order the run happened, as TigerBeetle's VOPR prints it: `SEED=…` first, the scenario,
//! this seed's swarm choices, its knobs (`knob request_timeout_ms = 217 ms`), the size of the run, the `buggify!`
//! points that fired; then its story ([`crate::story`]: the fault schedule, with `-v` the event log, what the
//! checker found with the operations that prove it, a timeline around the first violation); then the verdict and
//! the trace hash. A failing run ends with the command that reruns it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use eosim_checker::{Guarantee, Report};
use eosim_model::buggify::PointRecord;
use eosim_model::knobs::{self, KnobValue};
use eosim_model::scenario::fault_kind_name;
use eosim_model::RunStats;
use eosim_reports::{run_command, Verdict};
use eosim_sim::SwarmChoices;
use serde::Serialize;

use crate::runner::RunResult;
use crate::story::Story;

/// `label: text` as terminal lines within the story's 100 columns, the continuation lines indented under the
/// text (`finding: `, `anomaly kinds match: `), so that a long finding or kind list stays readable when piped.
pub fn labelled_lines(label: &str, text: &str) -> String {
    let indent = " ".repeat(label.chars().count() + 2);
    let wrapped = crate::teach::wrap(text, crate::story::WIDTH_CHARS - indent.len());
    format!("{label}: {}\n", wrapped.replace('\n', &format!("\n{indent}")))
}

/// How the run is named on the terminal.
#[derive(Clone, Debug)]
pub struct RunLabel {
    /// The scenario line, e.g. `idempotent` or `idempotent (default resolves to idempotent)`.
    pub scenario: String,
    /// How a rerun command names the scenario (a built-in name or a path), or `None` when only a replay
    /// reproduces it.
    pub rerun_arg: Option<String>,
    /// The run used `--wide`, so its rerun command does too.
    pub wide: bool,
}

/// The run as text: seed, scenario, swarm, sizes, its `story` (schedule, findings and the operations that prove
/// them, timeline), verdict, `trace-hash: <hex>`.
pub fn run_text(label: &RunLabel, result: &RunResult, story: &Story) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "SEED={}", result.seed);
    let _ = writeln!(out, "scenario: {}", label.scenario);
    if let Some(outcome) = &result.outcome {
        swarm_lines(&mut out, &outcome.swarm);
        for value in &outcome.knobs {
            let _ = writeln!(out, "{}", knobs::describe(value));
        }
        let _ = writeln!(out, "faults in schedule: {}", outcome.schedule.faults.len());
        let stats = &outcome.stats;
        let virtual_ms = stats.virtual_ns / 1_000_000;
        let _ = writeln!(out, "events: {}, virtual time: {virtual_ms} ms", stats.events);
        let _ = writeln!(out, "history: {} operations", outcome.history.ops.len());
        for point in outcome.buggify.iter().filter(|point| point.fired > 0) {
            let _ = writeln!(out, "buggify {} fired {}×", point.site, point.fired);
        }
    }
    out.push_str(&story.text(result));
    if let Some(finding) = result.finding() {
        // The words are those of report.json's `finding`.
        out.push_str(&labelled_lines("finding", &finding));
    }
    let _ = writeln!(out, "verdict: {}", result.verdict.name());
    let _ = writeln!(out, "trace-hash: {}", result.trace_hash().unwrap_or("none"));
    if result.verdict.is_failure() {
        if let Some(arg) = &label.rerun_arg {
            let _ =
                writeln!(out, "SEED={} failed; rerun with: {}", result.seed, run_command(arg, result.seed, label.wide));
        }
    }
    out
}

/// This seed's swarm choices, one kind per line, named as scenario files name them (`broker-crash`, not the
/// kernel's `server-crash`), so the lines match the scenario and the fault counts of a campaign.
fn swarm_lines(out: &mut String, swarm: &SwarmChoices) {
    if swarm.enabled.is_empty() {
        out.push_str("swarm: no fault kind on\n");
    }
    for (kind, rate_percent) in &swarm.enabled {
        let _ = writeln!(out, "swarm: {} on, at {rate_percent}% of the scenario's rate", fault_kind_name(*kind));
    }
}

/// The run as a JSON document, for machines.
#[derive(Serialize)]
pub struct RunJson<'a> {
    /// The seed.
    pub seed: u64,
    /// The scenario's name.
    pub scenario: &'a str,
    /// The guarantee it was judged against.
    pub guarantee: Guarantee,
    /// How the run ended.
    pub verdict: Verdict,
    /// The stall or panic, if any.
    pub finding: Option<String>,
    /// The trace hash, unless the model panicked first.
    pub trace_hash: Option<&'a str>,
    /// The seed's swarm choices, with the kinds named as in `stats.faults` and in scenario files.
    pub swarm: Option<SwarmJson>,
    /// The seed's knob values, each with its unit and the scenario's own value.
    pub knobs: Vec<KnobJson<'a>>,
    /// The `buggify!` points the run evaluated, with how often each fired.
    pub buggify: Option<&'a [PointRecord]>,
    /// Faults in the resolved schedule.
    pub faults_scheduled: Option<usize>,
    /// The run's counters.
    pub stats: Option<&'a RunStats>,
    /// The checker's report: every anomaly with its evidence.
    pub report: Option<&'a Report>,
}

/// A seed's swarm choices in a run's JSON: each fault kind that was on, by its scenario-file name
/// (`broker-crash`, not the kernel's `server-crash`), with its rate in percent of the scenario's. The repro file
/// keeps the kernel's names (`docs/repro-format.md`), as stored repros must still load.
#[derive(Serialize)]
pub struct SwarmJson {
    /// Kinds turned on for this seed, with their rate in percent.
    pub enabled: BTreeMap<&'static str, u64>,
}

impl SwarmJson {
    /// The JSON view of `swarm`.
    pub fn new(swarm: &SwarmChoices) -> SwarmJson {
        SwarmJson { enabled: swarm.enabled.iter().map(|(kind, rate)| (fault_kind_name(*kind), *rate)).collect() }
    }
}

/// One knob's value in a run's JSON.
#[derive(Serialize)]
pub struct KnobJson<'a> {
    /// The knob's name.
    pub name: &'a str,
    /// The value the run used.
    pub value: u64,
    /// The unit of the value.
    pub unit: &'static str,
    /// The scenario's own value.
    pub default: u64,
}

impl<'a> KnobJson<'a> {
    fn new(value: &'a KnobValue) -> KnobJson<'a> {
        let unit = knobs::knob(&value.name).map_or("", |knob| knob.unit);
        KnobJson { name: &value.name, value: value.value, unit, default: value.default }
    }
}

impl<'a> RunJson<'a> {
    /// The JSON view of `result`, a run of the scenario named `scenario`.
    pub fn new(scenario: &'a str, guarantee: Guarantee, result: &'a RunResult) -> RunJson<'a> {
        let outcome = result.outcome.as_ref();
        RunJson {
            seed: result.seed,
            scenario,
            guarantee,
            verdict: result.verdict,
            finding: result.finding(),
            trace_hash: result.trace_hash(),
            swarm: outcome.map(|outcome| SwarmJson::new(&outcome.swarm)),
            knobs: outcome.map_or_else(Vec::new, |outcome| outcome.knobs.iter().map(KnobJson::new).collect()),
            buggify: outcome.map(|outcome| outcome.buggify.as_slice()),
            faults_scheduled: outcome.map(|outcome| outcome.schedule.faults.len()),
            stats: outcome.map(|outcome| &outcome.stats),
            report: result.report.as_ref(),
        }
    }

    /// Pretty-printed, ending in a newline.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialization cannot fail.
        let mut json = serde_json::to_string_pretty(self).expect("a run always serializes");
        json.push('\n');
        json
    }
}

#[cfg(test)]
mod tests {
    use eosim_sim::FaultKind;

    use super::*;

    #[test]
    fn a_crash_prints_its_message_no_hash_and_the_rerun_command() {
        let result = RunResult {
            seed: 4,
            verdict: Verdict::Crash,
            outcome: None,
            report: None,
            panic_message: Some("boom (at model/src/x.rs:1:1)".to_string()),
        };
        let label =
            RunLabel { scenario: "idempotent".to_string(), rerun_arg: Some("idempotent".to_string()), wide: false };
        let scenario = crate::scenarios::load("idempotent").expect("built in").scenario;
        let story = Story::new(&scenario, &result, None, crate::story::StoryOptions::default());
        let text = run_text(&label, &result, &story);
        assert!(text.starts_with("SEED=4\nscenario: idempotent\n"), "{text}");
        assert!(text.contains("finding: the model panicked: boom (at model/src/x.rs:1:1)\n"), "{text}");
        assert!(text.contains("verdict: crash\ntrace-hash: none\n"), "{text}");
        assert!(text.contains("rerun with: eosim run idempotent --seed 4"), "{text}");
        let json = RunJson::new("idempotent", Guarantee::Idempotent, &result).to_json();
        assert!(json.contains("\"verdict\": \"crash\""), "{json}");
    }

    #[test]
    fn a_long_labelled_line_wraps_within_the_columns_indented_under_its_text() {
        let kinds =
            ["G1a", "G0", "G-single", "G-single-realtime", "G2-item", "G2-item-realtime", "nonlinearizable-log"];
        let text = labelled_lines("anomaly kinds match", &format!("yes (expected [{}])", kinds.join(", ")));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("anomaly kinds match: yes (expected [G1a, G0,"), "{text}");
        assert!(lines[1].starts_with("                     ") && lines[1].ends_with("nonlinearizable-log])"), "{text}");
        assert!(lines.iter().all(|line| line.chars().count() <= crate::story::WIDTH_CHARS), "{text}");
        assert_eq!(labelled_lines("verdict", "pass"), "verdict: pass\n");
    }

    #[test]
    fn the_swarm_names_each_kind_as_scenario_files_do() {
        let mut swarm = SwarmChoices::default();
        swarm.enabled.insert(FaultKind::ServerCrash, 50);
        swarm.enabled.insert(FaultKind::ClientPause, 200);
        swarm.enabled.insert(FaultKind::LostAck, 100);
        let json = serde_json::to_value(SwarmJson::new(&swarm)).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({ "enabled": { "broker-crash": 50, "lost-ack": 100, "producer-pause": 200 } })
        );
    }
}
