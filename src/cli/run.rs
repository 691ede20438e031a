//! `eosim run`: one seed of a scenario, simulated, checked and told.

use std::path::Path;
use std::process::ExitCode;

use eosim::render::{run_text, RunJson, RunLabel};
use eosim::runner::run_seed;
use eosim::story::{run_recorded, Story, StoryOptions};

use super::shared::{create_dir, emit, exit_for, load_in_envelope, write_run_files, write_run_page};
use super::Format;

/// `eosim run`: one seed of a scenario, checked.
pub(super) fn command_run(
    arg: &str,
    seed: u64,
    out: Option<&Path>,
    format: Format,
    wide: bool,
    story: StoryOptions,
) -> anyhow::Result<ExitCode> {
    let loaded = load_in_envelope(arg, wide)?;
    // Only the text tells the story from a recording; JSON (what tools read) runs at full speed.
    let (result, recording) = match format {
        Format::Text => run_recorded(|| run_seed(&loaded.scenario, seed)),
        Format::Json => (run_seed(&loaded.scenario, seed), None),
    };
    if let Some(dir) = out {
        create_dir(dir)?;
        write_run_files(dir, "history.jsonl", "repro.json", &loaded.scenario, &result)?;
        write_run_page(dir, &loaded.scenario, &loaded.arg, &result, false, wide)?;
    }
    let text = match format {
        Format::Json => RunJson::new(&loaded.scenario.name, loaded.scenario.guarantee(), &result).to_json(),
        Format::Text => {
            let label = RunLabel { scenario: loaded.describe(), rerun_arg: Some(loaded.arg.clone()), wide };
            run_text(&label, &result, &Story::new(&loaded.scenario, &result, recording.as_ref(), story))
        }
    };
    emit(&text)?;
    Ok(exit_for(result.verdict.is_failure()))
}
