//! `eosim check`: a history file (eosim JSON Lines or Jepsen EDN) checked against a guarantee, without
//! simulating anything.

use std::path::Path;
use std::process::ExitCode;

use eosim::input::FileKind;
use eosim_checker::{check_with, linearizable, Guarantee, History, Report, Rules};
use serde::Serialize;

use super::shared::{bad_diagnostic, bad_input, emit, exit_for, refused, to_json};
use super::Format;

/// What `eosim check` does beyond the Kafka checks.
pub(super) struct CheckOptions {
    /// Every case of every anomaly, not only the first 10 of each kind.
    pub(super) all_errors: bool,
    /// Also check each partition's log for linearizability.
    pub(super) linearizable: bool,
    /// Whose verdict rules judge the history.
    pub(super) rules: Rules,
}

/// `eosim check --format json` (docs/check-schema.md): the report's fields, then, with `--linearizable`, the
/// verdict of each partition.
#[derive(Serialize)]
struct CheckJson<'a> {
    #[serde(flatten)]
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    linearizability: Option<Vec<KeyVerdict<'a>>>,
}

/// One partition's linearizability verdict.
#[derive(Serialize)]
struct KeyVerdict<'a> {
    key: &'a str,
    verdict: &'a linearizable::Verdict,
}

/// `eosim check`: a history checked against a guarantee.
pub(super) fn command_check(
    path: &Path,
    guarantee: Guarantee,
    options: CheckOptions,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let name = path.to_string_lossy();
    let text = eosim::input::read_text(path, "a history").map_err(bad_input)?;
    let history = History::parse_auto(&name, &text)
        .map_err(|error| bad_diagnostic(refused(&name, &text, &error.to_string(), FileKind::History)))?;
    // Only an error message quotes the text; freed now, it is not held beside the analysis, the run's peak.
    drop(text);
    let mut report = check_with(&history, guarantee, options.rules);
    let verdicts = if options.linearizable {
        let (found, verdicts) = linearizable::anomalies(&history, linearizable::SearchBudget::default());
        report.anomalies.extend(found);
        verdicts
    } else {
        Vec::new()
    };
    let output = match format {
        Format::Json => {
            let per_key = verdicts.iter().map(|(key, verdict)| KeyVerdict { key, verdict }).collect();
            to_json(&CheckJson { report: &report, linearizability: options.linearizable.then_some(per_key) })?
        }
        Format::Text => {
            let cases = if options.all_errors { usize::MAX } else { 10 };
            let mut text = format!("history: {name} ({} operations)\n{}", history.ops.len(), report.render_text(cases));
            for (key, verdict) in &verdicts {
                text.push_str(&render_linearizability(key, verdict));
            }
            text
        }
    };
    emit(&output)?;
    Ok(exit_for(!report.is_valid()))
}

fn render_linearizability(key: &str, verdict: &linearizable::Verdict) -> String {
    match verdict {
        linearizable::Verdict::Linearizable => format!("linearizable: {key}: yes\n"),
        linearizable::Verdict::NotLinearizable { .. } => {
            format!("linearizable: {key}: no (the nonlinearizable-log case above)\n")
        }
        linearizable::Verdict::Unknown { reason } => format!("linearizable: {key}: unknown ({reason})\n"),
    }
}
