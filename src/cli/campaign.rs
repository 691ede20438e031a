//! `eosim campaign`: many seeds of a scenario on a thread pool, with a progress bar, a graceful stop on Ctrl-C or
//! SIGTERM, the saved regressions replayed first, and the report's files.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use eosim::campaign::{default_jobs, run_campaign_scoped, CampaignError, CampaignOptions, CampaignScope};
use eosim::pages::campaign_page;
use eosim::runner::RunResult;
use eosim_model::Scenario;
use eosim_reports::{history_file_name, repro_file_name, TextOptions};
use indicatif::{ProgressBar, ProgressStyle};

use super::shared::{bad_input, emit, exit_for, load_in_envelope, write_file, write_report_files, write_run_files};
use super::{CampaignArgs, Format};

/// Set by Ctrl-C or SIGTERM: campaigns start no new seed.
static STOP: AtomicBool = AtomicBool::new(false);

/// `eosim campaign`: many seeds of a scenario, summarized.
pub(super) fn command_campaign(args: &CampaignArgs) -> anyhow::Result<ExitCode> {
    let loaded = load_in_envelope(&args.scenario, args.wide)?;
    let shard = eosim::shard::resolve(args.shard, args.shards, &|name| std::env::var(name).ok()).map_err(bad_input)?;
    let in_scope = shard.map_or(args.seeds, |shard| shard.seed_count(args.seeds));
    // A thread beyond the seeds to run would only wait: the pool never starts more threads than seeds.
    let jobs = args
        .jobs
        .map_or_else(default_jobs, |jobs| jobs as usize)
        .min(usize::try_from(in_scope).unwrap_or(usize::MAX))
        .max(1);
    let options = CampaignOptions { seed_start: args.seed_start, seeds: args.seeds, jobs };
    let scope = CampaignScope { shard, stop_on_first: args.stop_on_first, time_budget: args.time_budget };
    // Before --out is claimed: a claimed directory is emptied of an earlier campaign's files.
    let regressions = match &args.regressions {
        Some(dir) => Some(replay_regressions_first(dir, args.out.as_deref(), &loaded.scenario)?),
        None => None,
    };
    let claimed = args.out.as_deref().map(eosim::out_dir::claim).transpose().map_err(bad_input)?;
    if let Some(claimed) = claimed.as_ref().filter(|claimed| !claimed.removed.is_empty()) {
        eprintln!(
            "note: removed {} file(s) of an earlier campaign from {}: {}",
            claimed.removed.len(),
            claimed.path.display(),
            claimed.removed.join(", ")
        );
    }
    let out = args.out.as_deref();
    install_ctrl_c();
    let progress = progress_bar(in_scope);
    let write_errors = Mutex::new(Vec::new());
    let on_run = |result: &RunResult| {
        progress.inc(1);
        let Some(dir) = out.filter(|_| result.verdict.is_failure()) else { return };
        let (history, repro) = (history_file_name(result.seed), repro_file_name(result.seed));
        if let Err(error) = write_run_files(dir, &history, &repro, &loaded.scenario, result) {
            // A full disk should not cost the findings so far: stop starting seeds, report what finished.
            STOP.store(true, Ordering::Relaxed);
            write_errors.lock().unwrap_or_else(|poison| poison.into_inner()).push(format!("{error:#}"));
        }
    };
    let start = Instant::now();
    let report = match run_campaign_scoped(&loaded.scenario, options, scope, &STOP, &on_run) {
        Ok(report) => report,
        Err(error @ CampaignError::SeedOverflow { .. }) => return Err(bad_input(error)),
        Err(error) => return Err(error.into()),
    };
    progress.finish_and_clear();
    let mut report = report;
    if let Some(regressions) = &regressions {
        report.regressions = regressions.records();
    }
    let mut text_options = TextOptions::new(&loaded.arg);
    text_options.out_dir = out.map(|dir| dir.to_string_lossy().into_owned());
    text_options.wall_seconds = Some(start.elapsed().as_secs_f64());
    text_options.wide = args.wide;
    if let Some(dir) = out {
        write_report_files(dir, &report, &text_options)?;
        let files = |seed: u64| vec![repro_file_name(seed), history_file_name(seed)];
        let saved = regressions.as_ref().map(|regressions| regressions.replayed.as_slice()).unwrap_or_default();
        let page = campaign_page(&loaded.scenario, &report, &text_options, &files, saved)?;
        write_file(&dir.join("index.html"), &page)?;
    }
    let text = match args.format {
        Format::Json => report.to_json(),
        Format::Text => {
            text_options.coverage = args.coverage.detail();
            let alias = loaded.alias.as_ref().map(|alias| format!("{alias}: resolves to {}\n", loaded.arg));
            let wide = args.wide.then_some("envelope: wide (drawn settings, wider faults, buggify points on)\n");
            alias.unwrap_or_default() + wide.unwrap_or_default() + &report.render_text(&text_options)
        }
    };
    emit(&text)?;
    let errors = write_errors.into_inner().unwrap_or_else(|poison| poison.into_inner());
    if let Some(first) = errors.first() {
        anyhow::bail!("{first} ({} file(s) could not be written)", errors.len());
    }
    if let Some(diverged) = regressions.as_ref().and_then(|regressions| regressions.diverged().next()) {
        eprintln!(
            "error: the replay diverged: {} expects trace-hash {}, the replay gave {}",
            diverged.path.display(),
            diverged.repro.expected.trace_hash.as_deref().unwrap_or("none"),
            diverged.result.trace_hash().unwrap_or("none")
        );
        return Ok(ExitCode::from(3));
    }
    Ok(exit_for(!report.is_valid()))
}

/// `campaign --regressions DIR`: replays the saved failures of the campaign's scenario and says what it did.
fn replay_regressions_first(
    dir: &Path,
    out: Option<&Path>,
    scenario: &Scenario,
) -> anyhow::Result<eosim::campaign::Regressions> {
    let same = |a: &Path, b: &Path| a.canonicalize().ok().zip(b.canonicalize().ok()).is_some_and(|(a, b)| a == b);
    if out.is_some_and(|out| same(dir, out)) {
        return Err(bad_input(format!(
            "--regressions {}: it is also --out, which a campaign empties of an earlier campaign's files \
             (expected a directory the saved failures are kept in, e.g. tests/regressions)",
            dir.display()
        )));
    }
    if !dir.is_dir() {
        return Err(bad_input(format!(
            "--regressions {}: not a directory (expected a directory of repros)",
            dir.display()
        )));
    }
    let regressions = eosim::campaign::replay_regressions(dir, scenario).map_err(bad_input)?;
    let failing = regressions.replayed.iter().filter(|replayed| replayed.result.verdict.is_failure()).count();
    eprintln!(
        "regressions: replayed {} repro(s) of {} from {} first ({failing} fail); skipped {} of another scenario",
        regressions.replayed.len(),
        scenario.name,
        dir.display(),
        regressions.other_scenario
    );
    Ok(regressions)
}

/// Ctrl-C, SIGTERM or SIGHUP once: no new seed starts, the seeds that finished are reported (report.json,
/// junit.xml, index.html). Twice: quit at once. SIGTERM is how Kubernetes and CI runners stop a job, so it must
/// not cost the findings so far.
fn install_ctrl_c() {
    let installed = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
        eprintln!("\nstopping: no new seed starts; the report covers the seeds that finished (a second signal quits)");
    });
    // Without a handler a signal simply ends the process, which loses the report but nothing else.
    if let Err(error) = installed {
        eprintln!("warning: Ctrl-C and SIGTERM will not stop the campaign gracefully: {error}");
    }
}

/// A bar on stderr while stdout is a terminal; hidden when output goes to a file or a pipe.
fn progress_bar(seeds: u64) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(seeds);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} seeds, {per_sec}, eta {eta}") {
        bar.set_style(style);
    }
    bar
}
