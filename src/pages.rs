//! Which run each failing record of a page is drawn from, for every command that writes `index.html`.
//!
//! `html_report` draws one seed of one scenario. A page may hold records of other runs too: a campaign's
//! replayed regressions (each its own repro's scenario, seed and fault schedule), the seeds of a merged campaign
//! (known only through the repro files copied beside the merged report), and one replayed repro (`replay
//! --out`). Each is redrawn from exactly the run that made it, so [`html_report::seed_section`]'s trace-hash
//! check holds for all of them; a record whose run cannot be found again gets a section that says so instead of
//! a diagram.

use std::path::{Path, PathBuf};

use eosim_model::Scenario;
use eosim_reports::{render_html, CampaignHeader, CampaignReport, Coverage, SeedRecord, SeedSection, TextOptions};

use crate::corpus::Replayed;
use crate::coverage::{expected_points, run_points};
use crate::html_report::{seed_section, HtmlError, DIAGRAMS_MAX};
use crate::repro::{Repro, ReproError};
use crate::runner::RunResult;

/// A page that could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// A rerun did not do what the recorded run did.
    #[error(transparent)]
    Html(#[from] HtmlError),
    /// The repro a record came from can no longer be read.
    #[error(transparent)]
    Repro(#[from] ReproError),
}

/// Where a failing record's run comes from.
pub enum Source<'a> {
    /// A seed of this scenario, resolved from its fault plan as a campaign runs it.
    Seed(&'a Scenario),
    /// A repro: its scenario, seed, schedule and knob values.
    Repro(&'a Repro),
    /// A repro file, read when the page is drawn.
    ReproFile(PathBuf),
    /// Nothing that reruns it (a merged seed whose repro was not copied): the section says why.
    Missing(String),
}

/// The page of `report`: for each of its first [`DIAGRAMS_MAX`] failing records, the section drawn from the run
/// `source_of` names, listing the files `files_of` gives.
pub fn report_page<'a>(
    report: &CampaignReport,
    options: &TextOptions,
    source_of: &dyn Fn(&SeedRecord) -> Source<'a>,
    files_of: &dyn Fn(&SeedRecord) -> Vec<String>,
) -> Result<String, PageError> {
    let mut sections = Vec::new();
    for record in report.failing().take(DIAGRAMS_MAX) {
        let files = files_of(record);
        let section = match source_of(record) {
            Source::Seed(scenario) => seed_section(scenario, record, files)?,
            Source::Repro(repro) => seed_section(&repro.replay_scenario(), record, files)?,
            Source::ReproFile(path) => seed_section(&Repro::read(&path)?.replay_scenario(), record, files)?,
            Source::Missing(why) => {
                let mut section = SeedSection::new(record.clone(), 0, files);
                section.notes.push(why);
                section
            }
        };
        sections.push(section);
    }
    Ok(render_html(report, options, &sections))
}

/// The page of a campaign of `scenario`: its seeds drawn from the scenario, its replayed regressions from the
/// repros in `saved` (matched by file).
pub fn campaign_page(
    scenario: &Scenario,
    report: &CampaignReport,
    options: &TextOptions,
    files_of: &dyn Fn(u64) -> Vec<String>,
    saved: &[Replayed],
) -> Result<String, PageError> {
    let source_of = |record: &SeedRecord| match &record.repro {
        Some(path) => saved
            .iter()
            .find(|replayed| replayed.path.display().to_string() == *path)
            .map_or_else(|| Source::ReproFile(PathBuf::from(path)), |replayed| Source::Repro(&replayed.repro)),
        None => Source::Seed(scenario),
    };
    let files = |record: &SeedRecord| match &record.repro {
        Some(path) => vec![path.clone()],
        None => files_of(record.seed),
    };
    report_page(report, options, &source_of, &files)
}

/// The page of one run of `scenario` (which carries any explicit schedule and knob values the run had): the page
/// of a one-seed campaign, with a diagram when the run failed, listing `repro.json` and `history.jsonl`. A run
/// replayed from a repro is rerun by `eosim replay` of the repro written beside the page (`from_repro`), since a
/// shrunk schedule is not the seed's own. `wide`: the run was in the wide envelope by `--wide`, which its rerun
/// command then carries.
pub fn run_page(
    scenario: &Scenario,
    scenario_arg: &str,
    dir: &Path,
    result: &RunResult,
    from_repro: bool,
    wide: bool,
) -> Result<String, PageError> {
    let header = CampaignHeader {
        scenario: scenario.name.clone(),
        guarantee: scenario.guarantee(),
        seed_start: result.seed,
        seeds: 1,
        shard: None,
        stopped: None,
    };
    let mut seed_record = result.seed_record();
    if from_repro {
        seed_record.repro = Some(dir.join("repro.json").to_string_lossy().into_owned());
    }
    let mut coverage = Coverage::new(expected_points(scenario));
    if let Some(outcome) = &result.outcome {
        coverage.add_run(&run_points(&outcome.stats));
    }
    let report = CampaignReport::with_coverage(header, vec![seed_record], coverage);
    let mut options = TextOptions::new(scenario_arg);
    options.out_dir = Some(dir.to_string_lossy().into_owned());
    options.wide = wide;
    let files = |_: &SeedRecord| vec!["repro.json".to_string(), "history.jsonl".to_string()];
    report_page(&report, &options, &|_| Source::Seed(scenario), &files)
}

/// The page of a merged campaign written into `dir`: each failing seed drawn from the repro copied there (which
/// holds the scenario, so no scenario file is needed), each replayed regression from its own repro.
pub fn merged_page(report: &CampaignReport, options: &TextOptions, dir: &Path) -> Result<String, PageError> {
    let source_of = |record: &SeedRecord| {
        if let Some(path) = &record.repro {
            return Source::ReproFile(PathBuf::from(path));
        }
        let path = dir.join(eosim_reports::repro_file_name(record.seed));
        if path.is_file() {
            Source::ReproFile(path)
        } else {
            Source::Missing(format!(
                "No {} beside the merged report (the shard wrote no --out files), so there is nothing to draw.",
                eosim_reports::repro_file_name(record.seed)
            ))
        }
    };
    let files = |record: &SeedRecord| match &record.repro {
        Some(path) => vec![path.clone()],
        None => vec![eosim_reports::repro_file_name(record.seed), eosim_reports::history_file_name(record.seed)],
    };
    report_page(report, options, &source_of, &files)
}
