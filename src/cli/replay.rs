//! `eosim replay`: one repro replayed and told whole, or several (or a directory) replayed as a corpus, one line
//! each.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use eosim::corpus::{replay_all, Corpus, Entry as CorpusEntry, Judgement, Tally};
use eosim::render::{labelled_lines, run_text, RunJson, RunLabel};
use eosim::repro::{Comparison, Expected, Repro};
use eosim::runner::RunResult;
use eosim::story::{run_recorded, Story, StoryOptions};
use eosim_reports::replay_command;
use serde::Serialize;

use super::shared::{bad_diagnostic, bad_input, create_dir, emit, exit_for, to_json, write_file, write_run_page};
use super::Format;

#[derive(Serialize)]
struct ReplayJson<'a> {
    run: RunJson<'a>,
    expected: &'a Expected,
    matches: Comparison,
}

/// `eosim replay`: one repro told whole, or several judged as a corpus.
pub(super) fn command_replay(
    paths: &[PathBuf],
    out: Option<&Path>,
    format: Format,
    story: StoryOptions,
) -> anyhow::Result<ExitCode> {
    // A file named on the command line gets the whole diagnostic: its line and a caret, or the file to pass instead.
    for path in paths.iter().filter(|path| path.is_file()) {
        Repro::load(path).map_err(bad_diagnostic)?;
    }
    let corpus = Corpus::read(paths).map_err(bad_input)?;
    for entry in corpus.entries.iter().filter(|entry| entry.repro.version != eosim::VERSION) {
        eprintln!(
            "warning: {} was written by eosim {}, this is {}; trace hashes may differ",
            entry.path.display(),
            entry.repro.version,
            eosim::VERSION
        );
    }
    if let (1, [path]) = (corpus.entries.len(), paths) {
        if !path.is_dir() {
            return replay_one(&corpus.entries[0], out, format, story);
        }
    }
    replay_corpus(&corpus, out, format)
}

/// One repro file: the whole run, and a status from its verdict (3 when its trace hash diverged).
fn replay_one(
    entry: &CorpusEntry,
    out: Option<&Path>,
    format: Format,
    story: StoryOptions,
) -> anyhow::Result<ExitCode> {
    let (path, repro) = (entry.path.as_path(), &entry.repro);
    let (result, recording) = match format {
        Format::Text => run_recorded(|| repro.replay()),
        Format::Json => (repro.replay(), None),
    };
    let comparison = repro.compare(&result);
    if let Some(dir) = out {
        write_replay_files(dir, repro, &result)?;
    }
    let text = match format {
        Format::Json => {
            let run = RunJson::new(&repro.scenario.name, repro.scenario.guarantee(), &result);
            to_json(&ReplayJson { run, expected: &repro.expected, matches: comparison })?
        }
        Format::Text => {
            let story = Story::new(&repro.replay_scenario(), &result, recording.as_ref(), story);
            replay_text(path, repro, &result, comparison, &story)
        }
    };
    emit(&text)?;
    if !comparison.trace_hash {
        eprintln!(
            "error: the replay diverged: {} expects trace-hash {}, the replay gave {}",
            path.display(),
            repro.expected.trace_hash.as_deref().unwrap_or("none"),
            result.trace_hash().unwrap_or("none")
        );
        return Ok(ExitCode::from(3));
    }
    Ok(exit_for(result.verdict.is_failure()))
}

/// `replay --out DIR`: the replay's history, the repro as read, and the run's page.
fn write_replay_files(dir: &Path, repro: &Repro, result: &RunResult) -> anyhow::Result<()> {
    create_dir(dir)?;
    if let Some(outcome) = &result.outcome {
        write_file(&dir.join("history.jsonl"), &outcome.history.to_jsonl())?;
    }
    write_file(&dir.join("repro.json"), &repro.to_json())?;
    write_run_page(dir, &repro.replay_scenario(), &repro.scenario.name, result, true, false)
}

/// `eosim replay --format json` of several repros: each one's judgement, then the tally.
#[derive(Serialize)]
struct CorpusJson<'a> {
    repros: Vec<CorpusEntryJson<'a>>,
    tally: Tally,
}

/// One repro of a corpus replay.
#[derive(Serialize)]
struct CorpusEntryJson<'a> {
    file: String,
    seed: u64,
    judgement: Judgement,
    expected: String,
    got: String,
    expected_trace_hash: Option<&'a str>,
    trace_hash: Option<&'a str>,
}

/// Several repros, or a directory: one line each, judged by what each records, and a summary.
fn replay_corpus(corpus: &Corpus, out: Option<&Path>, format: Format) -> anyhow::Result<ExitCode> {
    let replayed = replay_all(&corpus.entries);
    if let Some(dir) = out {
        for replay in &replayed {
            let stem = replay.path.file_stem().map_or_else(|| "repro".into(), |stem| stem.to_string_lossy());
            write_replay_files(&dir.join(stem.as_ref()), &replay.repro, &replay.result)?;
        }
    }
    let tally = Tally::of(&replayed);
    let text = match format {
        Format::Json => {
            let repros = replayed
                .iter()
                .map(|replay| CorpusEntryJson {
                    file: replay.path.display().to_string(),
                    seed: replay.repro.seed,
                    judgement: replay.judgement,
                    expected: replay.expected(),
                    got: replay.got(),
                    expected_trace_hash: replay.repro.expected.trace_hash.as_deref(),
                    trace_hash: replay.result.trace_hash(),
                })
                .collect();
            to_json(&CorpusJson { repros, tally })?
        }
        Format::Text => {
            let mut text: String = replayed.iter().map(|replay| replay.line()).collect();
            for path in &corpus.skipped {
                text.push_str(&format!("{}: skipped (another eosim output, not a repro)\n", path.display()));
            }
            text.push_str(&tally.summary());
            for replay in replayed.iter().filter(|replay| replay.judgement != Judgement::Reproduces) {
                text.push_str(&format!("rerun: {}\n", replay_command(&replay.path.to_string_lossy())));
            }
            text
        }
    };
    emit(&text)?;
    Ok(ExitCode::from(tally.exit_status()))
}

fn replay_text(path: &Path, repro: &Repro, result: &RunResult, comparison: Comparison, story: &Story) -> String {
    let scenario = format!("{} (from {})", repro.scenario.name, path.display());
    let label = RunLabel { scenario, rerun_arg: None, wide: false };
    let mut text = run_text(&label, result, story);
    let yes_no = |same: bool| if same { "yes" } else { "NO" };
    let expected = &repro.expected;
    let kinds: Vec<&str> = expected.anomalies.iter().map(|kind| kind.name()).collect();
    text.push_str(&format!("expected trace-hash: {}\n", expected.trace_hash.as_deref().unwrap_or("none")));
    text.push_str(&format!("trace hash matches: {}\n", yes_no(comparison.trace_hash)));
    text.push_str(&format!("verdict matches: {} (expected {})\n", yes_no(comparison.verdict), expected.verdict.name()));
    let anomalies = format!("{} (expected [{}])", yes_no(comparison.anomalies), kinds.join(", "));
    text.push_str(&labelled_lines("anomaly kinds match", &anomalies));
    if result.verdict.is_failure() {
        text.push_str(&format!(
            "SEED={} failed; replay with: {}\n",
            repro.seed,
            replay_command(&path.to_string_lossy())
        ));
    }
    text
}
