//! What several commands share: errors of the user's input (exit status 2), printing, writing files and
//! directories, loading a scenario, and the files and page of one run.

use std::fmt::Display;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use eosim::diagnostic::Diagnostic;
use eosim::input::FileKind;
use eosim::repro::Repro;
use eosim::runner::RunResult;
use eosim::scenarios::{self, Loaded};
use eosim::story::StoryOptions;
use eosim_model::knobs::Envelope;
use eosim_model::Scenario;
use eosim_reports::{render_junit, CampaignReport, TextOptions};
use serde::Serialize;

/// An error in what the user gave us (a file, a name, a flag): exit status 2. Any other error is internal (3).
#[derive(Debug)]
pub(crate) struct BadInput(String);

impl Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// An error of the user's input (exit status 2).
pub(super) fn bad_input(error: impl Display) -> anyhow::Error {
    anyhow::Error::new(BadInput(error.to_string()))
}

/// Bad input with its place in the file shown: the line, a caret and a `help:` line.
pub(super) fn bad_diagnostic(diagnostic: Diagnostic) -> anyhow::Error {
    anyhow::Error::new(BadInput(diagnostic.render()))
}

/// Prints to stdout; a closed pipe (`eosim ... | head`) is not an error.
pub(super) fn emit(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error).context("cannot write to stdout"),
        _ => Ok(()),
    }
}

/// Pretty-printed JSON ending in a newline, as every `--format json` prints it.
pub(super) fn to_json(value: &impl Serialize) -> anyhow::Result<String> {
    let mut json = serde_json::to_string_pretty(value).context("cannot serialize output")?;
    json.push('\n');
    Ok(json)
}

/// Exit status 1 when the command found a failure, else 0.
pub(super) fn exit_for(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes a file, naming it in the error.
pub(super) fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Creates an `--out` directory; a path that is a file, or that cannot be created, is the user's to fix (exit 2).
pub(super) fn create_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(bad_input(format!(
            "--out {}: not a directory (expected a directory to write into)",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|error| bad_input(format!("--out {}: cannot create it: {error}", dir.display())))
}

/// A reader's error on `text`, shown with its snippet; a file of another kind is named as such instead.
pub(super) fn refused(name: &str, text: &str, error: &str, wanted: FileKind) -> Diagnostic {
    match eosim::input::kind_of(text) {
        Some(kind) if kind != wanted => Diagnostic::plain(kind.mismatch(name, wanted)),
        _ => Diagnostic::located(name, text, error),
    }
}

/// A SCENARIO argument resolved, or its diagnostic as bad input.
fn load_scenario(arg: &str) -> anyhow::Result<Loaded> {
    scenarios::load(arg).map_err(|error| bad_diagnostic(error.diagnostic()))
}

/// A scenario loaded, in the wide envelope when `wide` is set.
pub(super) fn load_in_envelope(arg: &str, wide: bool) -> anyhow::Result<Loaded> {
    let mut loaded = load_scenario(arg)?;
    if wide {
        loaded.scenario.knobs.swarm = true;
        loaded.scenario.knobs.envelope = Envelope::Wide;
    }
    Ok(loaded)
}

/// How a run's story is told: colour only on a terminal, so piped output has no escapes.
pub(super) fn story_options(verbose: bool) -> StoryOptions {
    StoryOptions { verbose, color: std::io::stdout().is_terminal() }
}

/// Writes `index.html` for one run: the page of a one-seed campaign, with a diagram when the run failed.
pub(super) fn write_run_page(
    dir: &Path,
    scenario: &Scenario,
    scenario_arg: &str,
    result: &RunResult,
    from_repro: bool,
    wide: bool,
) -> anyhow::Result<()> {
    let page = eosim::pages::run_page(scenario, scenario_arg, dir, result, from_repro, wide)?;
    write_file(&dir.join("index.html"), &page)
}

/// Writes a run's history (when the model got far enough to have one) and its repro.
pub(super) fn write_run_files(
    dir: &Path,
    history_name: &str,
    repro_name: &str,
    scenario: &Scenario,
    result: &RunResult,
) -> anyhow::Result<()> {
    if let Some(outcome) = &result.outcome {
        write_file(&dir.join(history_name), &outcome.history.to_jsonl())?;
    }
    write_file(&dir.join(repro_name), &Repro::of_run(scenario, result).to_json())
}

/// A campaign's report.json and junit.xml.
pub(super) fn write_report_files(dir: &Path, report: &CampaignReport, options: &TextOptions) -> anyhow::Result<()> {
    write_file(&dir.join("report.json"), &report.to_json())?;
    write_file(&dir.join("junit.xml"), &render_junit(report, options))
}
