//! The fuzz targets: every reader of a file a user hands eosim, through the same public calls the CLI makes.
//!
//! Each target takes one input's bytes and says whether the reader accepted it; a panic is caught by the runner.
//! Accepted inputs go on as the CLI would take them: a history is checked, a scenario or a repro is run (one in
//! `run_every`, since a run costs milliseconds where a parse costs microseconds), a shard report is merged with
//! the real shards and rendered. A run that ends in a `crash` verdict is a finding too, though `run_seed` caught it.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use eosim_checker::{check, Guarantee, History};
use eosim_model::Scenario;
use eosim_reports::{merge, render_junit, CampaignReport, TextOptions, Verdict};

use crate::repro::Repro;
use crate::runner::{run_seed, RunResult};

/// What one input did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The reader accepted it and everything after ran.
    Accepted,
    /// The reader refused it with an error.
    Rejected,
    /// It was accepted, and what ran on it found a crash that `run_seed` caught: the message.
    Crash(String),
}

/// One reader under fuzzing.
pub struct Target {
    /// The name `--target` takes.
    pub name: &'static str,
    /// Inputs from the repository's fixtures that the mutations start from.
    pub corpus: Vec<Vec<u8>>,
    /// Tokens of the format, spliced in by the mutator.
    pub dictionary: &'static [&'static str],
    exec: Exec,
}

/// What a target runs on one input.
pub type Exec = Box<dyn Fn(&[u8]) -> Outcome + Send + Sync>;

impl Target {
    /// A target from its parts.
    pub fn new(name: &'static str, corpus: Vec<Vec<u8>>, dictionary: &'static [&'static str], exec: Exec) -> Target {
        Target { name, corpus, dictionary, exec }
    }

    /// Runs one input through the target.
    pub fn exec(&self, input: &[u8]) -> Outcome {
        (self.exec)(input)
    }
}

/// Every target name, in the order a full run takes them.
pub const TARGET_NAMES: [&str; 5] = ["history-jsonl", "history-edn", "scenario", "repro", "merge"];

/// The target `name`, its corpus read from the repository at `root`; `run_every` sets how many accepted
/// scenarios or repros pass between two that are run.
pub fn target(name: &str, root: &Path, run_every: u64) -> Result<Target, String> {
    let run_every = run_every.max(1);
    let target = match name {
        "history-jsonl" => history_target("history-jsonl", corpus(root, name, &["tests/fixtures"], ".jsonl")?, false),
        "history-edn" => history_target("history-edn", corpus(root, name, &["checker/tests/fixtures"], ".edn")?, true),
        "scenario" => scenario_target(corpus(root, name, &["scenarios", "tests/fixtures"], ".toml")?, run_every),
        "repro" => repro_target(corpus(root, name, &["tests/regressions"], ".json")?, run_every),
        "merge" => merge_target(corpus(root, name, &["tests/fixtures"], ".json")?)?,
        _ => return Err(format!("unknown fuzz target {name:?} (expected one of {})", TARGET_NAMES.join("|"))),
    };
    if target.corpus.is_empty() {
        return Err(format!("{name}: no seed inputs found under {}", root.display()));
    }
    Ok(target)
}

/// The files ending in `suffix` in `dirs` under `root`, then every file of `tests/fuzz/NAME/` (the target's kept
/// regression inputs, if any), each group sorted by path so the corpus order is fixed. Kept regressions are seeds
/// too: mutations near an input that once broke a reader are the likeliest to break it again.
pub fn corpus(root: &Path, name: &str, dirs: &[&str], suffix: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut paths = files(root, dirs, suffix)?;
    let kept = root.join("tests/fuzz").join(name);
    if kept.is_dir() {
        paths.extend(files(&kept, &["."], "")?);
    }
    paths.iter().map(|path| std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))).collect()
}

/// The files ending in `suffix` in `dirs` under `root`, sorted by path.
fn files(root: &Path, dirs: &[&str], suffix: &str) -> Result<Vec<std::path::PathBuf>, String> {
    let mut paths = Vec::new();
    for dir in dirs {
        let dir = root.join(dir);
        let entries = std::fs::read_dir(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.to_string_lossy().ends_with(suffix) && path.is_file() {
                paths.push(path);
            }
        }
    }
    paths.sort();
    Ok(paths)
}

const JSONL_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\"type\"",
    "\"invoke\"",
    "\"ok\"",
    "\"fail\"",
    "\"info\"",
    "\"f\"",
    "\"send\"",
    "\"poll\"",
    "\"txn\"",
    "\"value\"",
    "\"process\"",
    "\"key\"",
    "null",
    "true",
    "\n",
    "\\u0000",
    "\u{1F600}",
];

const EDN_TOKENS: &[&str] = &[
    "{", "}", "[", "]", "(", ")", "#{", "#_", ":type", ":invoke", ":ok", ":fail", ":info", ":f", ":send", ":poll",
    ":txn", ":value", ":process", ":index", "nil", "\"", "\\", ";", "\n", "1N", "1M", "##Inf", "#inst", "^:meta",
];

const TOML_TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    "=",
    "\"",
    "'''",
    "\n",
    "[cluster]",
    "[workload]",
    "[producer]",
    "[faults]",
    "[knobs]",
    "brokers = ",
    "partitions = ",
    "duration_ms = ",
    "quiesce_ms = ",
    "request_timeout_ms = 0\n",
    "poll_interval_ms = 0\n",
    "retry_backoff_ms = 0\n",
    "threads_per_producer = ",
    "offsets_partitions = ",
    "transaction_log_partitions = ",
    "swarm = true\n",
    "envelope = \"wide\"\n",
    "\u{fffd}",
    "#",
];

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "false",
    "\"node\": ",
    "\"at_ns\": ",
    "\"duration_ns\": ",
    "\"shard\": ",
    "\"index\": ",
    "\"count\": ",
    "\"expected\": ",
    "\"points\": ",
    "\"runs\": ",
    "\"seed\": ",
    "\"crash\"",
    "\"partition\"",
    "\"server-crash\"",
    "\"knobs\": ",
    "\\u0000",
];

fn history_target(name: &'static str, corpus: Vec<Vec<u8>>, edn: bool) -> Target {
    let dictionary = if edn { EDN_TOKENS } else { JSONL_TOKENS };
    let exec = move |input: &[u8]| {
        // The CLI reads a history as UTF-8 text and refuses other bytes before the reader sees them.
        let Ok(text) = std::str::from_utf8(input) else { return Outcome::Rejected };
        let parsed = if edn { History::parse_edn("fuzz.edn", text) } else { History::parse_jsonl("fuzz.jsonl", text) };
        match parsed {
            Ok(history) => {
                check(&history, Guarantee::KafkaEos);
                Outcome::Accepted
            }
            Err(_) => Outcome::Rejected,
        }
    };
    Target { name, corpus, dictionary, exec: Box::new(exec) }
}

/// The outcome of a run of an accepted input.
fn judged(result: &RunResult) -> Outcome {
    match (&result.verdict, &result.panic_message) {
        (Verdict::Crash, message) => Outcome::Crash(message.clone().unwrap_or_default()),
        _ => Outcome::Accepted,
    }
}

/// The most operations (writes times readers) a fuzzed scenario may ask for and still be run: a run is there to
/// find a crash in how the settings are used, which small workloads show as well as large ones, while a large one
/// (found by the fuzzer: 255 producers of 360 values; 99 consumers of 720 values) spends minutes in the
/// linearizability search and only slows the fuzz run.
const RUN_OPERATIONS_MAX: u64 = 10_000;

/// Whether an accepted scenario is small enough to run inside a fuzz loop.
fn small_enough_to_run(scenario: &Scenario) -> bool {
    let workload = &scenario.workload;
    let sends = u64::from(workload.producers) * u64::from(workload.messages_per_producer);
    let txns = u64::from(workload.atomic_writers) * u64::from(workload.atomic_txns_per_writer);
    // Every consumer reads every record, and each read is an operation the linearizability search orders.
    let readers = 1
        + u64::from(workload.consumers)
        + workload.pipeline.as_ref().map_or(0, |pipeline| u64::from(pipeline.instances));
    let partitions: u64 = scenario.cluster.topics.iter().map(|topic| u64::from(topic.partitions)).sum();
    (sends + txns) * readers <= RUN_OPERATIONS_MAX && partitions <= 64 && scenario.duration_ms <= 10_000
}

fn scenario_target(corpus: Vec<Vec<u8>>, run_every: u64) -> Target {
    let accepted = AtomicU64::new(0);
    let exec = move |input: &[u8]| match Scenario::from_bytes("fuzz.toml", input) {
        Ok(scenario)
            if (accepted.fetch_add(1, Ordering::Relaxed) + 1).checked_rem(run_every) == Some(0)
                && small_enough_to_run(&scenario) =>
        {
            judged(&run_seed(&scenario, 1))
        }
        Ok(_) => Outcome::Accepted,
        Err(_) => Outcome::Rejected,
    };
    Target { name: "scenario", corpus, dictionary: TOML_TOKENS, exec: Box::new(exec) }
}

fn repro_target(corpus: Vec<Vec<u8>>, run_every: u64) -> Target {
    let accepted = AtomicU64::new(0);
    let exec = move |input: &[u8]| {
        let Ok(text) = std::str::from_utf8(input) else { return Outcome::Rejected };
        match Repro::parse("fuzz.json", text) {
            Ok(repro)
                if (accepted.fetch_add(1, Ordering::Relaxed) + 1).checked_rem(run_every) == Some(0)
                    && small_enough_to_run(&repro.scenario) =>
            {
                judged(&repro.replay())
            }
            Ok(_) => Outcome::Accepted,
            Err(_) => Outcome::Rejected,
        }
    };
    Target { name: "repro", corpus, dictionary: JSON_TOKENS, exec: Box::new(exec) }
}

/// A mutated report merged with each real shard report, the way `eosim merge` joins shards, then rendered.
fn merge_target(corpus: Vec<Vec<u8>>) -> Result<Target, String> {
    let mut shards = Vec::new();
    for (index, bytes) in corpus.iter().enumerate() {
        let text = std::str::from_utf8(bytes).map_err(|error| format!("shard fixture {index}: {error}"))?;
        if let Ok(report) = CampaignReport::parse(&format!("shard-{index}.json"), text) {
            shards.push((format!("shard-{index}.json"), report));
        }
    }
    let exec = move |input: &[u8]| {
        let Ok(text) = std::str::from_utf8(input) else { return Outcome::Rejected };
        let Ok(report) = CampaignReport::parse("fuzz.json", text) else { return Outcome::Rejected };
        let mut inputs = vec![vec![("fuzz.json".to_string(), report.clone())]];
        inputs.extend(shards.iter().map(|shard| vec![("fuzz.json".to_string(), report.clone()), shard.clone()]));
        for reports in inputs {
            if let Ok(merged) = merge(&reports) {
                let options = TextOptions::new(&merged.scenario);
                merged.render_text(&options);
                render_junit(&merged, &options);
                merged.to_json();
            }
        }
        Outcome::Accepted
    };
    let corpus = corpus.into_iter().filter(|bytes| bytes.starts_with(b"{")).collect();
    Ok(Target { name: "merge", corpus, dictionary: JSON_TOKENS, exec: Box::new(exec) })
}
