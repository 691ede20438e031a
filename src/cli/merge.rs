//! `eosim merge`: the report.json files of a campaign's shards joined into the report of the whole campaign.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use eosim::input::FileKind;
use eosim_reports::{history_file_name, repro_file_name, CampaignReport, TextOptions};

use super::shared::{bad_diagnostic, bad_input, create_dir, emit, exit_for, refused, write_file, write_report_files};
use super::Format;

/// `eosim merge`: the shards' reports joined into one.
pub(super) fn command_merge(paths: &[PathBuf], out: Option<&Path>, format: Format) -> anyhow::Result<ExitCode> {
    let mut reports = Vec::with_capacity(paths.len());
    for path in paths {
        let name = path.to_string_lossy().into_owned();
        let text = eosim::input::read_text(path, "a report").map_err(bad_input)?;
        let report = CampaignReport::parse(&name, &text)
            .map_err(|error| bad_diagnostic(refused(&name, &text, &error, FileKind::CampaignReport)))?;
        reports.push((name, report));
    }
    let merged = eosim_reports::merge(&reports).map_err(bad_input)?;
    let mut text_options = TextOptions::new(&merged.scenario);
    if let Some(dir) = out {
        create_dir(dir)?;
        copy_failing_files(dir, paths, &reports)?;
        text_options.out_dir = Some(dir.to_string_lossy().into_owned());
        write_report_files(dir, &merged, &text_options)?;
        write_file(&dir.join("index.html"), &eosim::pages::merged_page(&merged, &text_options, dir)?)?;
    }
    let text = match format {
        Format::Json => merged.to_json(),
        Format::Text => format!("merged {} report(s)\n{}", reports.len(), merged.render_text(&text_options)),
    };
    emit(&text)?;
    Ok(exit_for(!merged.is_valid()))
}

/// Copies each shard's failing-seed files next to the merged report, so that its replay commands work.
fn copy_failing_files(dir: &Path, paths: &[PathBuf], reports: &[(String, CampaignReport)]) -> anyhow::Result<()> {
    for (path, (_, report)) in paths.iter().zip(reports) {
        let source_dir = path.parent().unwrap_or(Path::new("."));
        // A replayed regression's repro stays where the campaign read it from, so its replay command works.
        for run in report.runs.iter().filter(|run| run.verdict.is_failure()) {
            for name in [repro_file_name(run.seed), history_file_name(run.seed)] {
                let (source, target) = (source_dir.join(&name), dir.join(&name));
                let same = source.canonicalize().ok().zip(target.canonicalize().ok()).is_some_and(|(a, b)| a == b);
                if source.is_file() && !same {
                    std::fs::copy(&source, &target)
                        .with_context(|| format!("cannot copy {} to {}", source.display(), target.display()))?;
                }
            }
        }
    }
    Ok(())
}
