//! `eosim shrink`: a failing repro shrunk to the fewest faults and the smallest workload that still fail the same
//! way, then told as `eosim replay` tells it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use eosim::repro::{Expected, Repro};
use eosim::shrink::RunSize;
use eosim::story::{run_recorded, Story};
use eosim_reports::replay_command;
use serde::Serialize;

use super::shared::{bad_diagnostic, bad_input, emit, exit_for, story_options, to_json, write_file};
use super::Format;

#[derive(Serialize)]
struct ShrinkJson<'a> {
    repro: String,
    out: String,
    seed: u64,
    before: RunSize,
    after: RunSize,
    trials: u64,
    knobs_restored: Vec<KnobRestored>,
    expected: &'a Expected,
}

/// A knob the shrinker moved back to the scenario's own value.
#[derive(Serialize)]
struct KnobRestored {
    name: String,
    drawn: u64,
    default: u64,
}

/// `eosim shrink`: a failing repro made as small as still fails the same way.
pub(super) fn command_shrink(path: &Path, out: Option<&Path>, format: Format) -> anyhow::Result<ExitCode> {
    let repro = Repro::load(path).map_err(bad_diagnostic)?;
    let shrunk = eosim::shrink::shrink(&repro).map_err(|error| bad_input(format!("{}: {error}", path.display())))?;
    let target = out.map_or_else(|| shrunk_path(path), Path::to_path_buf);
    write_file(&target, &shrunk.repro.to_json())?;
    let (before, after) = (shrunk.before, shrunk.after);
    let text = match format {
        Format::Json => to_json(&ShrinkJson {
            repro: path.to_string_lossy().into_owned(),
            out: target.to_string_lossy().into_owned(),
            seed: repro.seed,
            before,
            after,
            trials: shrunk.trials,
            knobs_restored: shrunk
                .knobs_restored
                .iter()
                .map(|knob| KnobRestored { name: knob.name.clone(), drawn: knob.value, default: knob.default })
                .collect(),
            expected: &shrunk.repro.expected,
        })?,
        Format::Text => {
            let expected = &shrunk.repro.expected;
            let kinds: Vec<&str> = expected.violations.iter().map(|kind| kind.name()).collect();
            let mut text = format!("shrunk {} (seed {}) in {} replays\n", path.display(), repro.seed, shrunk.trials);
            for knob in &shrunk.knobs_restored {
                text.push_str(&format!("knob {}: {} -> {} (restored)\n", knob.name, knob.value, knob.default));
            }
            // The shrunk run told as `eosim replay` tells it: the faults left (right under the faults line), what
            // they still break, and how.
            let (replayed, recording) = run_recorded(|| shrunk.repro.replay());
            let scenario = shrunk.repro.replay_scenario();
            let story = Story::new(&scenario, &replayed, recording.as_ref(), story_options(false));
            for (index, line) in RunSize::changes(&before, &after).iter().enumerate() {
                text.push_str(line);
                text.push('\n');
                if index == 0 {
                    text.push_str(&story.schedule_text(&replayed));
                }
            }
            text.push_str(&format!("verdict: {} [{}]\n", expected.verdict.name(), kinds.join(", ")));
            text.push_str(&format!("trace-hash: {}\n", expected.trace_hash.as_deref().unwrap_or("none")));
            text.push_str(&story.findings_text(&replayed));
            text.push_str(&format!("wrote {}\n", target.display()));
            text.push_str(&format!("replay with: {}\n", replay_command(&target.to_string_lossy())));
            text
        }
    };
    emit(&text)?;
    Ok(exit_for(shrunk.repro.expected.verdict.is_failure()))
}

/// `DIR/repro-7.json` becomes `DIR/repro-7.shrunk.json`.
fn shrunk_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().map_or_else(|| "repro".into(), |stem| stem.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}.shrunk.json"))
}
