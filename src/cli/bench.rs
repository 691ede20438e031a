//! `eosim bench`: kernel events/s, scenario events/s and campaign seeds/s in this build.

use std::process::ExitCode;

use super::shared::{emit, to_json};
use super::Format;

/// `eosim bench`: this build's speed.
pub(super) fn command_bench(seconds: f64, format: Format) -> anyhow::Result<ExitCode> {
    let report = eosim::bench::run_bench(seconds)?;
    let text = match format {
        Format::Json => to_json(&report)?,
        Format::Text => report.render_text(),
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}
