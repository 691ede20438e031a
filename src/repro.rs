//! Repro files: everything needed to replay one run exactly, and what it is expected to show.
//!
//! A repro holds the eosim version, the whole scenario inline (so it still replays when the scenario file
//! changes), the seed, this seed's swarm choices, the resolved fault schedule, and the expected verdict, anomaly
//! kinds and trace hash. [`Repro::replay`] runs the scenario with the seed and the *explicit* schedule, which is
//! also what a shrinker will edit; [`Repro::compare`] says whether the replay matched. The layout is documented in
//! `docs/repro-format.md`.

use std::path::Path;

use eosim_checker::AnomalyKind;
use eosim_model::buggify::PointRecord;
use eosim_model::knobs::KnobValue;
use eosim_model::Scenario;
use eosim_reports::Verdict;
use eosim_sim::{FaultSchedule, SwarmChoices};
use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::input::FileKind;
use crate::runner::{run_seed, RunResult};

/// One run, written down so that it can be replayed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repro {
    /// The eosim version that wrote it; trace hashes are only promised to match within one version.
    pub version: String,
    /// The scenario, inline.
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    /// The seed's swarm choices (which fault kinds were on, at what rate).
    pub swarm: SwarmChoices,
    /// The resolved fault schedule; `null` when the run crashed before resolving it, and then the seed resolves
    /// it again from the scenario's fault plan.
    pub schedule: Option<FaultSchedule>,
    /// This seed's knob values; a replay applies them instead of drawing (empty when the knobs were off).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub knobs: Vec<KnobValue>,
    /// The `buggify!` points the run evaluated; the seed decides them again on replay, so this is a record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buggify: Vec<PointRecord>,
    /// What the run showed.
    pub expected: Expected,
    /// Set once the bug this repro found is fixed: what the replay must show from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<Fixed>,
}

/// A regression repro whose bug is fixed: the replay no longer matches the recorded run, and must show this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixed {
    /// The verdict the replay must give now, usually `pass`.
    pub expected: Verdict,
    /// What fixed it (the commit subject).
    pub by: String,
}

/// What a repro's run showed when it was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// The verdict.
    pub verdict: Verdict,
    /// Every anomaly kind found, in report order.
    pub anomalies: Vec<AnomalyKind>,
    /// The kinds the scenario's guarantee forbids, in report order.
    pub violations: Vec<AnomalyKind>,
    /// The trace hash; `null` when the run crashed before it had one.
    pub trace_hash: Option<String>,
}

/// How a replay compares with its repro.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// The trace hashes are equal: the replay did exactly what the original run did.
    pub trace_hash: bool,
    /// The verdicts are equal.
    pub verdict: bool,
    /// The anomaly kinds are equal.
    pub anomalies: bool,
}

/// A repro file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReproError {
    /// The file could not be read, or is not UTF-8 text (placed at its first bad byte).
    #[error(transparent)]
    Read(#[from] crate::input::InputError),
    /// The JSON is malformed, or does not describe a repro; displays as `FILE:LINE:COL: message`.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// The file name as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong, and what was expected.
        message: String,
    },
}

impl Repro {
    /// The repro of a finished run of `scenario`.
    pub fn of_run(scenario: &Scenario, result: &RunResult) -> Repro {
        let outcome = result.outcome.as_ref();
        let mut scenario = scenario.clone();
        // The values go into the repro's own `knobs`, which a replay applies; the scenario keeps only its section.
        scenario.knobs.values = None;
        Repro {
            version: crate::VERSION.to_string(),
            scenario,
            seed: result.seed,
            swarm: outcome.map(|outcome| outcome.swarm.clone()).unwrap_or_default(),
            schedule: outcome.map(|outcome| outcome.schedule.clone()),
            knobs: outcome.map(|outcome| outcome.knobs.clone()).unwrap_or_default(),
            buggify: outcome.map(|outcome| outcome.buggify.clone()).unwrap_or_default(),
            fixed: None,
            expected: Expected {
                verdict: result.verdict,
                anomalies: result.anomaly_kinds(),
                violations: result.violation_kinds(),
                trace_hash: result.trace_hash().map(str::to_string),
            },
        }
    }

    /// Reads a repro file; errors name the file, line and column.
    pub fn read(path: &Path) -> Result<Repro, ReproError> {
        let text = crate::input::read_text(path, "a repro file")?;
        Repro::parse(&path.to_string_lossy(), &text)
    }

    /// Reads a repro file for a command: an error comes with the offending line and a caret, and a campaign
    /// report, zoo report or history given instead of a repro is named as such, with the file to pass.
    pub fn load(path: &Path) -> Result<Repro, Diagnostic> {
        let file = path.to_string_lossy();
        let text =
            crate::input::read_text(path, "a repro file").map_err(|error| Diagnostic::plain(error.to_string()))?;
        Repro::parse(&file, &text).map_err(|error| match crate::input::kind_of(&text) {
            Some(kind) if kind != FileKind::Repro => Diagnostic::plain(kind.mismatch(&file, FileKind::Repro)),
            _ => Diagnostic::located(&file, &text, &error.to_string()),
        })
    }

    /// Parses a repro's JSON text; `file` is only used in error messages.
    pub fn parse(file: &str, text: &str) -> Result<Repro, ReproError> {
        let repro: Repro = serde_json::from_str(text).map_err(|error| json_error(file, &error))?;
        repro.scenario.validate().map_err(|(key, message)| {
            let (line, column) = find_json_key(text, key);
            ReproError::Invalid { file: file.to_string(), line, column, message: format!("scenario: {message}") }
        })?;
        let invalid = |key: &str, message: String| {
            let (line, column) = find_json_key(text, key);
            ReproError::Invalid { file: file.to_string(), line, column, message }
        };
        eosim_model::knobs::check_names(&repro.knobs).map_err(|message| invalid("knobs", message))?;
        // The knob values replace the scenario's settings, so the scenario they make must pass the same checks.
        let (tuned, _) = eosim_model::knobs::apply(&repro.replay_scenario(), repro.seed);
        tuned.validate().map_err(|(key, message)| invalid("knobs", format!("knobs: {key}: {message}")))?;
        if let Some(schedule) = &repro.schedule {
            schedule.check(&eosim_model::fault_targets(&tuned)).map_err(|error| {
                let (line, column) = find_fault(text, error.index);
                ReproError::Invalid { file: file.to_string(), line, column, message: format!("schedule: {error}") }
            })?;
        }
        Ok(repro)
    }

    /// The repro as pretty-printed JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        // Scenarios, schedules and choices are plain data with string keys, so serialization cannot fail.
        let mut json = serde_json::to_string_pretty(self).expect("a repro always serializes");
        json.push('\n');
        json
    }

    /// The repro's scenario with its explicit schedule and knob values, as a replay runs it.
    pub fn replay_scenario(&self) -> Scenario {
        let mut scenario = self.scenario.clone();
        scenario.faults.schedule = self.schedule.clone();
        if !self.knobs.is_empty() {
            scenario.knobs.values = Some(self.knobs.clone());
        }
        scenario
    }

    /// Runs the repro's scenario with its seed, its explicit schedule and its knob values. The result carries
    /// the repro's swarm choices, which an explicit schedule does not re-derive.
    pub fn replay(&self) -> RunResult {
        let scenario = self.replay_scenario();
        let mut result = run_seed(&scenario, self.seed);
        if let Some(outcome) = &mut result.outcome {
            if self.schedule.is_some() {
                outcome.swarm = self.swarm.clone();
            }
        }
        result
    }

    /// Whether a replay still shows what a regression repro records: the recorded verdict and the same
    /// violation kinds, or, once the bug is fixed, the verdict the fix promises. The trace hash is not part of
    /// it: `eosim replay` proves determinism with the hash, while a regression run proves what the schedule
    /// still provokes — a model change that keeps showing a real flaw through a different trace passes, one
    /// that stops showing it fails.
    pub fn reproduces(&self, result: &RunResult) -> bool {
        match &self.fixed {
            Some(fixed) => result.verdict == fixed.expected,
            None => self.expected.verdict == result.verdict && self.expected.violations == result.violation_kinds(),
        }
    }

    /// Compares a replay with what the repro expects.
    pub fn compare(&self, result: &RunResult) -> Comparison {
        Comparison {
            trace_hash: self.expected.trace_hash.as_deref() == result.trace_hash(),
            verdict: self.expected.verdict == result.verdict,
            anomalies: self.expected.anomalies == result.anomaly_kinds(),
        }
    }
}

/// A serde_json error as `FILE:LINE:COL: message`, the position moved out of the message.
fn json_error(file: &str, error: &serde_json::Error) -> ReproError {
    let (line, column) = (error.line().max(1), error.column().max(1));
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let mut message = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
    if message.starts_with("missing field") {
        message
            .push_str(" (expected a repro: version, scenario, seed, swarm, schedule, knobs, buggify, expected, fixed)");
    }
    ReproError::Invalid { file: file.to_string(), line, column, message }
}

/// Line and column of the first `"key"` in JSON text, for errors serde cannot place; 1:1 when absent.
fn find_json_key(text: &str, key: &str) -> (usize, usize) {
    let quoted = format!("\"{key}\"");
    for (number, line) in text.lines().enumerate() {
        if let Some(byte) = line.find(&quoted) {
            return (number + 1, line[..byte].chars().count() + 1);
        }
    }
    (1, 1)
}

/// Line and column of fault `index` of the schedule: its `"at_ns"` key, or the `"schedule"` key when not found.
fn find_fault(text: &str, index: usize) -> (usize, usize) {
    let Some(start) = text.find("\"schedule\"") else {
        return (1, 1);
    };
    let Some((offset, _)) = text[start..].match_indices("\"at_ns\"").nth(index) else {
        return find_json_key(text, "schedule");
    };
    let before = &text[..start + offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(text: &str) -> String {
        match Repro::parse("r.json", text) {
            Ok(_) => panic!("parsed: {text}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn malformed_json_names_file_line_and_column() {
        let message = invalid("{\n  \"version\": \"0.1.0\",\n  \"seed\": ]\n}");
        assert!(message.starts_with("r.json:3:11: expected value"), "{message}");
    }

    #[test]
    fn a_missing_field_says_what_a_repro_holds() {
        let message = invalid("{\"version\": \"0.1.0\"}");
        assert!(message.starts_with("r.json:1:"), "{message}");
        assert!(message.contains("missing field"), "{message}");
        assert!(message.contains("expected a repro"), "{message}");
    }

    #[test]
    fn an_unknown_field_lists_the_known_ones() {
        let message = invalid("{\"versoin\": 1}");
        assert!(message.contains("unknown field `versoin`"), "{message}");
        assert!(message.contains("expected one of"), "{message}");
    }

    #[test]
    fn json_keys_are_found_by_line_and_column() {
        assert_eq!(find_json_key("{\n  \"a\": 1,\n    \"brokers\": 0\n}", "brokers"), (3, 5));
        assert_eq!(find_json_key("{}", "brokers"), (1, 1));
    }
}
