//! The command line: the clap types (`Cli`, `Command`, the `*Args` structs, `Format`), their value parsers, and
//! `dispatch`, which hands each subcommand to its own module (`list`, `run`, `campaign`, `merge`, `replay`,
//! `check`, `shrink`, `zoo`, `teach`, `bench`). What several commands use (errors of the user's input, printing,
//! writing files, loading a scenario) is in `shared`.

mod bench;
mod campaign;
mod check;
mod list;
mod merge;
mod replay;
mod run;
mod shared;
mod shrink;
mod teach;
mod zoo;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use eosim::scenarios;
use eosim::shard::ShardArg;
use eosim_checker::{Guarantee, Rules};
use eosim_reports::CoverageDetail;

use bench::command_bench;
use campaign::command_campaign;
use check::{command_check, CheckOptions};
use list::command_list;
use merge::command_merge;
use replay::command_replay;
use run::command_run;
use shared::story_options;
pub(crate) use shared::BadInput;
use shrink::command_shrink;
use teach::command_teach;
use zoo::command_zoo;

/// Deterministic simulation testing for Kafka-style exactly-once protocols.
///
/// Every run is a pure function of (eosim version, scenario, seed): a failing seed always fails again, and its
/// trace hash proves it did the same thing.
#[derive(Parser, Debug)]
#[command(name = "eosim", version, about, long_about = None)]
pub(crate) struct Cli {
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
    /// The report's coverage detail this flag asks for.
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

/// The most worker threads `--jobs` takes: far more than the cores of any machine a campaign runs on, far fewer
/// than the threads a process may start.
const JOBS_MAX: u32 = 1_024;
/// The longest `--time-budget`, in seconds: a year. Longer is a mistake, and past `u64` seconds no `Duration`
/// holds it.
const TIME_BUDGET_SECONDS_MAX: f64 = 365.0 * 24.0 * 3_600.0;
/// The longest `bench --seconds`: an hour per figure.
const BENCH_SECONDS_MAX: f64 = 3_600.0;

/// Runs the command the user gave, each in its module.
pub(crate) fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
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
