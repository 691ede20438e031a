//! The `eosim` command line: parses arguments, calls the library, prints, and sets the exit status.
//!
//! Exit status: 0 no violation; 1 violations, stalls or crashes found; 2 bad usage or bad input;
//! 3 internal error (including a replay whose trace hash diverged).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::fmt::Display;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use eosim::campaign::{default_jobs, run_campaign_scoped, CampaignError, CampaignOptions, CampaignScope};
use eosim::corpus::{replay_all, Corpus, Entry as CorpusEntry, Judgement, Tally};
use eosim::diagnostic::Diagnostic;
use eosim::input::FileKind;
use eosim::pages::campaign_page;
use eosim::render::{labelled_lines, run_text, RunJson, RunLabel};
use eosim::repro::{Comparison, Expected, Repro};
use eosim::runner::{run_seed, RunResult};
use eosim::scenarios::{self, Loaded};
use eosim::shard::ShardArg;
use eosim::shrink::RunSize;
use eosim::story::{run_recorded, Story, StoryOptions};
use eosim_checker::{check_with, linearizable, Guarantee, History, Report, Rules};
use eosim_model::knobs::Envelope;
use eosim_model::Scenario;
use eosim_reports::{
    history_file_name, render_junit, replay_command, repro_file_name, CampaignReport, CoverageDetail, TextOptions,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Deterministic simulation testing for Kafka-style exactly-once protocols.
///
/// Every run is a pure function of (eosim version, scenario, seed): a failing seed always fails again, and its
/// trace hash proves it did the same thing.
#[derive(Parser, Debug)]
#[command(name = "eosim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the built-in scenarios.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run one seed of a scenario and check its history.
    Run {
        /// A built-in scenario name (see `eosim list`), `default`, or a path to a scenario TOML file.
        scenario: String,
        /// The seed.
        #[arg(long)]
        seed: u64,
        /// Write history.jsonl, repro.json and index.html into this directory (created if missing).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The wide envelope: draw the settings per seed, widen the faults, turn the buggify points on
        /// (`[knobs] swarm = true, envelope = "wide"`).
        #[arg(long)]
        wide: bool,
        /// Also print every fault of the schedule and the event log (one line per message, fault and operation).
        #[arg(short, long)]
        verbose: bool,
    },
    /// Run many seeds of a scenario in parallel and summarize what they found.
    Campaign(CampaignArgs),
    /// Join the report.json files of a campaign's shards into the report of the whole campaign.
    Merge {
        /// The shards' report.json files, one per shard (`eosim campaign --shard K/N --out DIR` writes DIR/report.json).
        #[arg(required = true, num_args = 1..)]
        reports: Vec<PathBuf>,
        /// Write report.json, junit.xml and index.html into this directory, and copy every failing seed's repro
        /// and history there.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Output format; json prints the merged report.json's content.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Shrink a failing repro: the fewest faults and the smallest workload that still fail the same way.
    Shrink {
        /// A repro.json of a failing run (`eosim run --out`, `eosim campaign --out`).
        repro: PathBuf,
        /// Where to write the shrunk repro [default: REPRO with `.shrunk.json` in place of `.json`].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Replay repro files and verify their trace hashes; several files or a directory replay as a corpus.
    Replay {
        /// Repro files (`eosim run --out`, `eosim campaign --out`, `eosim shrink`) or directories of them (every
        /// `*.json` repro, by name). One file prints the whole run; several, or a directory, one line per repro,
        /// each judged by what it records, as tests/regressions.rs judges tests/regressions/.
        #[arg(required = true, num_args = 1..)]
        repros: Vec<PathBuf>,
        /// Write history.jsonl, repro.json and index.html (with the run's space-time diagram) into this
        /// directory; for several repros, into one subdirectory per repro, named after its file.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also print every fault of the schedule and the event log (one line per message, fault and operation).
        #[arg(short, long)]
        verbose: bool,
    },
    /// Check a history (eosim JSON Lines or Jepsen EDN) against a guarantee, without simulating anything.
    Check {
        /// The history file: JSON Lines (one operation event per line) or a Jepsen `history.edn`.
        history: PathBuf,
        /// The guarantee the system claims.
        #[arg(long, default_value = "kafka-eos", value_parser = parse_guarantee)]
        guarantee: Guarantee,
        /// Show every case of every anomaly, not only the first 10 of each kind.
        #[arg(long)]
        all_errors: bool,
        /// Also check that each partition's log is linearizable (appends get offsets in real-time order,
        /// polls read exactly what was appended); a log that is not is a `nonlinearizable-log` anomaly, judged
        /// against the guarantee like every other.
        #[arg(long)]
        linearizable: bool,
        /// Judge by Jepsen's Kafka checker's rules instead of eosim's (`jepsen`): its allowed-error-types, its
        /// send-order and unseen rules, and a history with nothing to check is invalid.
        #[arg(long, value_parser = parse_compat)]
        compat: Option<Rules>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run the bug zoo: find each historical Kafka bug, shrink and replay its first find, run its fix clean.
    Zoo(ZooArgs),
    /// List the lessons, or run one: a stored repro replayed, drawn, checked and explained.
    Teach(TeachArgs),
    /// Measure kernel events/s, scenario events/s and campaign seeds/s in this build.
    Bench {
        /// Wall time per figure, in seconds (above 0, at most an hour).
        #[arg(long, default_value_t = 2.0, value_parser = parse_bench_seconds)]
        seconds: f64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// `eosim campaign`'s arguments.
#[derive(Args, Debug)]
struct CampaignArgs {
    /// A built-in scenario name, `default`, or a path to a scenario TOML file.
    #[arg(default_value = scenarios::DEFAULT_ALIAS)]
    scenario: String,
    /// How many seeds to run (at least 1).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    seed_start: u64,
    /// Worker threads, 1..=1024 [default: every core]; never more than the seeds to run, since each thread
    /// runs one seed at a time.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(JOBS_MAX)))]
    jobs: Option<u32>,
    /// Start no new seed after the first failing one; the seeds that finished are reported.
    #[arg(long)]
    stop_on_first: bool,
    /// Start no new seed after this much wall time, in seconds (at most a year); the report says it was cut short.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    time_budget: Option<Duration>,
    /// Run only shard K of N: the seeds s with (s - seed-start) % N == K - 1. `auto` reads the shard from a
    /// Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with --shards N or EOSIM_SHARDS) or GitLab CI
    /// (CI_NODE_INDEX, CI_NODE_TOTAL). Join the shards' reports with `eosim merge`.
    #[arg(long, value_name = "K/N|auto")]
    shard: Option<ShardArg>,
    /// The shard count for `--shard auto`, which a Kubernetes Indexed Job does not tell its pods.
    #[arg(long, value_name = "N", requires = "shard", value_parser = clap::value_parser!(u64).range(1..))]
    shards: Option<u64>,
    /// Write report.json, junit.xml, index.html (with a space-time diagram of each failing seed), and
    /// repro-SEED.json and history-SEED.jsonl for each failing seed, into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Output format; json prints report.json's content.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The wide envelope for every seed: draw the settings, widen the faults, turn the buggify points on.
    #[arg(long)]
    wide: bool,
    /// Before the seeds, replay every repro in this directory whose scenario is the campaign's (saved failures,
    /// e.g. an earlier campaign's --out or tests/regressions); one that fails is a failing seed of the campaign.
    #[arg(long, value_name = "DIR")]
    regressions: Option<PathBuf>,
    /// How much of the coverage table the summary shows: `flagged` the expected points no run reached and a
    /// count of the rest, `full` every point, `none` nothing (report.json and index.html always hold all of it).
    #[arg(long, value_enum, default_value_t = CoverageArg::Flagged)]
    coverage: CoverageArg,
}

/// `--coverage`: how much of the coverage table a campaign prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CoverageArg {
    /// The expected points no run reached, and a count of the rest.
    Flagged,
    /// Every point with its runs and count.
    Full,
    /// No coverage.
    None,
}

impl CoverageArg {
    fn detail(self) -> CoverageDetail {
        match self {
            CoverageArg::Flagged => CoverageDetail::Flagged,
            CoverageArg::Full => CoverageDetail::Full,
            CoverageArg::None => CoverageDetail::None,
        }
    }
}

/// `eosim zoo`'s arguments.
#[derive(Args, Debug)]
struct ZooArgs {
    /// The bugs to run, by JIRA id (e.g. KAFKA-17754) [default: every entry of the zoo].
    bugs: Vec<String>,
    /// List the entries and exit.
    #[arg(long)]
    list: bool,
    /// Seed ranges to find each bug in; range r starts at seed r × 1,000,000.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    ranges: u32,
    /// Seeds of each fixed protocol that must run clean, from seed 0.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    fix_seeds: u64,
    /// Cap every entry's seed budget at N seeds per range (a quick look; a bug not found within it fails).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    seed_budget: Option<u64>,
    /// Worker threads [default: every core].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Write zoo.json, and each bug's shrunk repro as KAFKA-NNNNN.repro.json, into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Output format; json prints zoo.json's content.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// `eosim teach`'s arguments.
#[derive(Args, Debug)]
struct TeachArgs {
    /// The lesson, by number (1-9) or name [default: list the lessons].
    lesson: Option<String>,
    /// Also write the lesson as a self-contained HTML page with the SVG space-time diagram.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Widest line of the terminal diagram, in characters.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(60..=400))]
    width: u16,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// For machines.
    Json,
}

/// An error in what the user gave us (a file, a name, a flag): exit status 2. Any other error is internal (3).
#[derive(Debug)]
struct BadInput(String);

impl Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

fn bad_input(error: impl Display) -> anyhow::Error {
    anyhow::Error::new(BadInput(error.to_string()))
}

/// Bad input with its place in the file shown: the line, a caret and a `help:` line.
fn bad_diagnostic(diagnostic: Diagnostic) -> anyhow::Error {
    anyhow::Error::new(BadInput(diagnostic.render()))
}

/// The most worker threads `--jobs` takes: far more than the cores of any machine a campaign runs on, far fewer
/// than the threads a process may start.
const JOBS_MAX: u32 = 1_024;
/// The longest `--time-budget`, in seconds: a year. Longer is a mistake, and past `u64` seconds no `Duration`
/// holds it.
const TIME_BUDGET_SECONDS_MAX: f64 = 365.0 * 24.0 * 3_600.0;
/// The longest `bench --seconds`: an hour per figure.
const BENCH_SECONDS_MAX: f64 = 3_600.0;

/// Set by Ctrl-C or SIGTERM: campaigns start no new seed.
static STOP: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    // Usage errors exit 2 and --help/--version exit 0, as clap does by default.
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(error) if error.downcast_ref::<BadInput>().is_some() => {
            // Colour only for a person at a terminal: a log or a test reads plain text.
            let prefix = if std::io::stderr().is_terminal() { "\x1b[1;31merror\x1b[0m" } else { "error" };
            eprintln!("{prefix}: {error:#}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("internal error: {error:#}");
            ExitCode::from(3)
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::List { format } => command_list(format),
        Command::Run { scenario, seed, out, format, wide, verbose } => {
            command_run(&scenario, seed, out.as_deref(), format, wide, story_options(verbose))
        }
        Command::Campaign(args) => command_campaign(&args),
        Command::Merge { reports, out, format } => command_merge(&reports, out.as_deref(), format),
        Command::Shrink { repro, out, format } => command_shrink(&repro, out.as_deref(), format),
        Command::Replay { repros, out, format, verbose } => {
            command_replay(&repros, out.as_deref(), format, story_options(verbose))
        }
        Command::Check { history, guarantee, all_errors, linearizable, compat, format } => {
            let rules = compat.unwrap_or(Rules::Eosim);
            command_check(&history, guarantee, CheckOptions { all_errors, linearizable, rules }, format)
        }
        Command::Zoo(args) => command_zoo(&args),
        Command::Teach(args) => command_teach(&args),
        Command::Bench { seconds, format } => command_bench(seconds, format),
    }
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds = bounded_seconds(text, TIME_BUDGET_SECONDS_MAX)?;
    Duration::try_from_secs_f64(seconds).map_err(|error| format!("{text:?}: {error}"))
}

fn parse_bench_seconds(text: &str) -> Result<f64, String> {
    bounded_seconds(text, BENCH_SECONDS_MAX)
}

/// A number of seconds above 0 and at most `max`.
fn bounded_seconds(text: &str, max: f64) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 && seconds <= max => Ok(seconds),
        _ => Err(format!("expected a number of seconds above 0 and at most {max}, not {text:?}")),
    }
}

fn parse_guarantee(name: &str) -> Result<Guarantee, String> {
    Guarantee::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Guarantee::ALL.iter().map(|guarantee| guarantee.name()).collect();
        format!("unknown guarantee (expected one of: {})", names.join(", "))
    })
}

fn parse_compat(name: &str) -> Result<Rules, String> {
    match Rules::from_name(name) {
        Some(Rules::Jepsen) => Ok(Rules::Jepsen),
        _ => Err("unknown rules (expected: jepsen)".to_string()),
    }
}

/// Prints to stdout; a closed pipe (`eosim ... | head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error).context("cannot write to stdout"),
        _ => Ok(()),
    }
}

fn to_json(value: &impl Serialize) -> anyhow::Result<String> {
    let mut json = serde_json::to_string_pretty(value).context("cannot serialize output")?;
    json.push('\n');
    Ok(json)
}

fn exit_for(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Creates an `--out` directory; a path that is a file, or that cannot be created, is the user's to fix (exit 2).
fn create_dir(dir: &Path) -> anyhow::Result<()> {
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
fn refused(name: &str, text: &str, error: &str, wanted: FileKind) -> Diagnostic {
    match eosim::input::kind_of(text) {
        Some(kind) if kind != wanted => Diagnostic::plain(kind.mismatch(name, wanted)),
        _ => Diagnostic::located(name, text, error),
    }
}

fn load_scenario(arg: &str) -> anyhow::Result<Loaded> {
    scenarios::load(arg).map_err(|error| bad_diagnostic(error.diagnostic()))
}

#[derive(Serialize)]
struct ListEntry {
    name: &'static str,
    description: String,
    variant: &'static str,
    guarantee: &'static str,
    /// `["pass"]`, or the anomaly kinds the scenario's failing seeds show, the one it is about first.
    expect: Vec<String>,
}

fn command_list(format: Format) -> anyhow::Result<ExitCode> {
    let mut entries = Vec::new();
    for builtin in scenarios::BUILTINS {
        let scenario = Scenario::from_toml(builtin.file, builtin.text).context("a built-in scenario is invalid")?;
        let expect = scenario.expect.as_ref().with_context(|| format!("{} states no expect", builtin.file))?;
        entries.push(ListEntry {
            name: builtin.name,
            description: scenario.description.clone(),
            variant: scenario.variant.name(),
            guarantee: scenario.guarantee().name(),
            expect: expect.names().into_iter().map(str::to_string).collect(),
        });
    }
    let text = match format {
        Format::Json => to_json(&entries)?,
        Format::Text => list_text(&entries),
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// One line per built-in: name, variant, expected outcome, description; then the aliases.
fn list_text(entries: &[ListEntry]) -> String {
    // The kind a scenario is about comes first; the others it also shows are counted (--format json lists them).
    let expects: Vec<String> = entries
        .iter()
        .map(|entry| match entry.expect.split_first() {
            Some((first, [])) => first.clone(),
            Some((first, rest)) => format!("{first} +{}", rest.len()),
            None => String::new(),
        })
        .collect();
    let width = entries.iter().map(|entry| entry.name.len()).max().unwrap_or(0);
    let variant_width = entries.iter().map(|entry| entry.variant.len()).max().unwrap_or(0);
    let expect_width = expects.iter().map(String::len).max().unwrap_or(0);
    let mut text = String::new();
    for (entry, expect) in entries.iter().zip(&expects) {
        text.push_str(&format!(
            "{:<width$}  {:<variant_width$}  {expect:<expect_width$}  {}\n",
            entry.name, entry.variant, entry.description
        ));
    }
    text.push_str(&format!("{:<width$}  alias of {}\n", scenarios::DEFAULT_ALIAS, scenarios::DEFAULT_SCENARIO));
    for (alias, name) in scenarios::RENAMED {
        text.push_str(&format!("{alias:<width$}  former name of {name}\n"));
    }
    text
}

/// A scenario loaded, in the wide envelope when `wide` is set.
fn load_in_envelope(arg: &str, wide: bool) -> anyhow::Result<Loaded> {
    let mut loaded = load_scenario(arg)?;
    if wide {
        loaded.scenario.knobs.swarm = true;
        loaded.scenario.knobs.envelope = Envelope::Wide;
    }
    Ok(loaded)
}

/// How a run's story is told: colour only on a terminal, so piped output has no escapes.
fn story_options(verbose: bool) -> StoryOptions {
    StoryOptions { verbose, color: std::io::stdout().is_terminal() }
}

fn command_run(
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
        write_run_page(dir, &loaded.scenario, &loaded.arg, &result, false)?;
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

/// Writes `index.html` for one run: the page of a one-seed campaign, with a diagram when the run failed.
fn write_run_page(
    dir: &Path,
    scenario: &Scenario,
    scenario_arg: &str,
    result: &RunResult,
    from_repro: bool,
) -> anyhow::Result<()> {
    let page = eosim::pages::run_page(scenario, scenario_arg, dir, result, from_repro)?;
    write_file(&dir.join("index.html"), &page)
}

/// Writes a run's history (when the model got far enough to have one) and its repro.
fn write_run_files(
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

fn command_campaign(args: &CampaignArgs) -> anyhow::Result<ExitCode> {
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
            let wide = args.wide.then_some("envelope: wide (every rerun command needs --wide; repro files carry it)\n");
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

/// A campaign's report.json and junit.xml.
fn write_report_files(dir: &Path, report: &CampaignReport, options: &TextOptions) -> anyhow::Result<()> {
    write_file(&dir.join("report.json"), &report.to_json())?;
    write_file(&dir.join("junit.xml"), &render_junit(report, options))
}

fn command_merge(paths: &[PathBuf], out: Option<&Path>, format: Format) -> anyhow::Result<ExitCode> {
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

#[derive(Serialize)]
struct ReplayJson<'a> {
    run: RunJson<'a>,
    expected: &'a Expected,
    matches: Comparison,
}

fn command_replay(
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
    write_run_page(dir, &repro.replay_scenario(), &repro.scenario.name, result, true)
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

/// What `eosim check` does beyond the Kafka checks.
struct CheckOptions {
    all_errors: bool,
    linearizable: bool,
    rules: Rules,
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

fn command_check(path: &Path, guarantee: Guarantee, options: CheckOptions, format: Format) -> anyhow::Result<ExitCode> {
    let name = path.to_string_lossy();
    let text = eosim::input::read_text(path, "a history").map_err(bad_input)?;
    let history = History::parse_auto(&name, &text)
        .map_err(|error| bad_diagnostic(refused(&name, &text, &error.to_string(), FileKind::History)))?;
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

fn command_teach(args: &TeachArgs) -> anyhow::Result<ExitCode> {
    use eosim::teach::{self, diagram::DiagramOptions, lessons};
    let all = lessons::all().context("the lessons are invalid")?;
    let Some(arg) = &args.lesson else {
        emit(&teach::list_text(&all))?;
        return Ok(ExitCode::SUCCESS);
    };
    let lesson = lessons::find(&all, arg).map_err(bad_input)?;
    let runs = teach::run_lesson(lesson).context("the lesson does not show what it teaches")?;
    let color = std::io::stdout().is_terminal();
    let options = DiagramOptions { width_chars: args.width as usize, color, ..DiagramOptions::default() };
    emit(&teach::lesson_text(&all, lesson, &runs, &options))?;
    if let Some(path) = &args.html {
        write_file(path, &teach::html::lesson_page(&all, lesson, &runs))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn command_zoo(args: &ZooArgs) -> anyhow::Result<ExitCode> {
    use eosim::zoo::{self, entries};
    let all = entries::all().context("a bug-zoo entry is invalid")?;
    let selected = entries::select(all, &args.bugs).map_err(bad_input)?;
    if args.list {
        let width = selected.iter().map(|entry| entry.bug().len()).max().unwrap_or(0);
        let lines: Vec<String> = selected
            .iter()
            .map(|entry| format!("{:<width$}  {}  {}\n", entry.bug(), entry.file, entry.spec.title))
            .collect();
        emit(&lines.concat())?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = &args.out {
        create_dir(dir)?;
    }
    let jobs = args.jobs.map_or_else(default_jobs, |jobs| jobs as usize);
    let options =
        zoo::ZooOptions { ranges: args.ranges, fix_seeds: args.fix_seeds, jobs, seed_budget_cap: args.seed_budget };
    let start = Instant::now();
    let mut reports = Vec::with_capacity(selected.len());
    for entry in &selected {
        eprintln!("{}: finding, shrinking, running the fix ({})", entry.bug(), entry.file);
        let run = zoo::run_entry(entry, options)?;
        if let (Some(dir), Some(repro)) = (&args.out, &run.repro) {
            write_file(&dir.join(format!("{}.repro.json", entry.bug())), &repro.to_json())?;
        }
        reports.push(run.report);
    }
    let report = zoo::ZooReport::new(args.ranges, args.fix_seeds, reports);
    if let Some(dir) = &args.out {
        write_file(&dir.join("zoo.json"), &report.to_json())?;
    }
    let text = match args.format {
        Format::Json => report.to_json(),
        Format::Text => {
            let wall = format!("wall time: {:.1} s\n", start.elapsed().as_secs_f64());
            zoo::report::render_table(&report) + &wall
        }
    };
    emit(&text)?;
    Ok(exit_for(!report.ok))
}

fn command_bench(seconds: f64, format: Format) -> anyhow::Result<ExitCode> {
    let report = eosim::bench::run_bench(seconds)?;
    let text = match format {
        Format::Json => to_json(&report)?,
        Format::Text => report.render_text(),
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

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

fn command_shrink(path: &Path, out: Option<&Path>, format: Format) -> anyhow::Result<ExitCode> {
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
