//! The bug zoo: historical Kafka exactly-once bugs as scenarios (`scenarios/zoo/*.toml`, each with a `[zoo]`
//! table), and `eosim zoo`, which shows for each that a seeded campaign finds it, that its first finding shrinks
//! to a small repro that replays bit-for-bit, and that the fixed protocol runs clean.
//!
//! - [`entries`]: the entries embedded in the binary, and selecting them by JIRA id;
//! - [`find`]: the seeds to the first find in each seed range, and their median;
//! - [`report`]: what one entry gave, as `zoo.json` and as a table.
//!
//! Every figure is a pure function of (build, entry, options): seeds run on several threads, but in batches
//! whose lowest matching seed is the find, so neither the table nor `zoo.json` depends on `--jobs`.

pub mod entries;
pub mod find;
pub mod report;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use eosim_model::Scenario;

use crate::campaign::{run_campaign, CampaignError, CampaignOptions};
use crate::repro::Repro;
use crate::runner::RunResult;
use crate::shrink::shrink_keeping;
pub use entries::Entry;
use find::{find_in_range, findings, is_find, range_start, Find, RangeFind};
pub use report::{EntryReport, FixFailure, FixReport, ShrinkReport, ZooReport};

/// The most faults a shrunk repro may keep.
pub const MAX_SHRUNK_FAULTS: usize = 10;

/// The most failing seeds of a fixed run that a report lists.
const FIX_FAILURES_LISTED: usize = 10;

/// How `eosim zoo` runs each entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZooOptions {
    /// Seed ranges to find the bug in.
    pub ranges: u32,
    /// Seeds of the fixed protocol that must run clean, from seed 0.
    pub fix_seeds: u64,
    /// Worker threads.
    pub jobs: usize,
    /// A cap on every entry's seed budget (for a quick look; the entry's own budget when `None`).
    pub seed_budget_cap: Option<u64>,
}

/// What one entry gave: the report, and the shrunk repro to write next to it.
#[derive(Clone, Debug)]
pub struct EntryRun {
    /// The figures.
    pub report: EntryReport,
    /// The shrunk repro of the first find, when there was a find.
    pub repro: Option<Repro>,
}

/// Runs one entry: find over the ranges, shrink the first find, replay it twice, run the fix.
pub fn run_entry(entry: &Entry, options: ZooOptions) -> Result<EntryRun, CampaignError> {
    let spec = &entry.spec;
    let budget = options.seed_budget_cap.map_or(spec.seed_budget, |cap| cap.min(spec.seed_budget));
    let batch = (options.jobs as u64 * 4).max(8);
    let mut first_run = None;
    let mut ranges = Vec::with_capacity(options.ranges as usize);
    for index in 0..options.ranges {
        let mut failed = None;
        let mut run_batch = |first: u64, count: u64| {
            let found = first_find(&entry.scenario, &spec.expect, first, count, options.jobs);
            match found {
                Ok(found) => found,
                Err(error) => {
                    failed = Some(error);
                    None
                }
            }
        };
        let range = find_in_range(range_start(index), budget, batch, &mut |first, count| {
            let run = run_batch(first, count)?;
            let find = Find { seed: run.seed, findings: findings(&run) };
            if first_run.is_none() {
                first_run = Some(run);
            }
            Some(find)
        });
        if let Some(error) = failed {
            return Err(error);
        }
        ranges.push(range);
    }
    let (shrink, repro) = match &first_run {
        Some(run) => shrink_find(entry, run),
        None => (None, None),
    };
    let fix = run_fix(&spec.fixed(&entry.scenario), options)?;
    Ok(EntryRun { report: EntryReport::new(entry, budget, ranges, shrink, fix), repro })
}

/// The lowest seed of `first .. first + count` whose findings include one of `expect`, with its run.
fn first_find(
    scenario: &Scenario,
    expect: &[String],
    first: u64,
    count: u64,
    jobs: usize,
) -> Result<Option<RunResult>, CampaignError> {
    let finds: Mutex<BTreeMap<u64, RunResult>> = Mutex::new(BTreeMap::new());
    let on_run = |result: &RunResult| {
        if is_find(&findings(result), expect) {
            finds.lock().unwrap_or_else(|poison| poison.into_inner()).insert(result.seed, result.clone());
        }
    };
    let never = AtomicBool::new(false);
    run_campaign(scenario, CampaignOptions { seed_start: first, seeds: count, jobs }, &never, &on_run)?;
    let finds = finds.into_inner().unwrap_or_else(|poison| poison.into_inner());
    Ok(finds.into_values().next())
}

/// Shrinks a find keeping one of the entry's expected findings, then replays the shrunk repro twice.
fn shrink_find(entry: &Entry, run: &RunResult) -> (Option<ShrinkReport>, Option<Repro>) {
    let repro = Repro::of_run(&entry.scenario, run);
    let expect = &entry.spec.expect;
    let keep = |result: &RunResult| is_find(&findings(result), expect);
    let faults_before = repro.schedule.as_ref().map_or(0, |schedule| schedule.faults.len());
    let shrunk = match shrink_keeping(&repro, &keep) {
        Ok(shrunk) => shrunk,
        Err(error) => {
            let report = ShrinkReport::failed(run.seed, faults_before, error.to_string());
            return (Some(report), Some(repro));
        }
    };
    let expected_hash = shrunk.repro.expected.trace_hash.clone();
    let replays: Vec<RunResult> = (0..2).map(|_| shrunk.repro.replay()).collect();
    let replay_ok = expected_hash.is_some()
        && replays.iter().all(|replay| replay.trace_hash() == expected_hash.as_deref() && keep(replay));
    let report = ShrinkReport {
        seed: run.seed,
        faults_before,
        faults: shrunk.after.faults,
        trials: shrunk.trials,
        findings: findings(&replays[0]),
        trace_hash: expected_hash,
        replay_ok,
        error: None,
    };
    (Some(report), Some(shrunk.repro))
}

/// Runs the fixed protocol's seeds `0 .. fix_seeds`; clean means no violation, stall or crash.
fn run_fix(fixed: &Scenario, options: ZooOptions) -> Result<FixReport, CampaignError> {
    let never = AtomicBool::new(false);
    let campaign = CampaignOptions { seed_start: 0, seeds: options.fix_seeds, jobs: options.jobs };
    let failures: Mutex<BTreeMap<u64, FixFailure>> = Mutex::new(BTreeMap::new());
    let on_run = |result: &RunResult| {
        if result.verdict.is_failure() {
            let failure = FixFailure {
                seed: result.seed,
                verdict: result.verdict.name().to_string(),
                findings: findings(result),
            };
            failures.lock().unwrap_or_else(|poison| poison.into_inner()).insert(result.seed, failure);
        }
    };
    let report = run_campaign(fixed, campaign, &never, &on_run)?;
    let failures = failures.into_inner().unwrap_or_else(|poison| poison.into_inner());
    assert_eq!(failures.len(), report.failing().count(), "every failing seed was seen by on_run");
    Ok(FixReport {
        variant: fixed.variant.name().to_string(),
        kafka_bugs: fixed.kafka_bugs.iter().map(|bug| bug.id().to_string()).collect(),
        seeds: report.runs.len() as u64,
        failing: failures.len() as u64,
        first_failing: failures.into_values().take(FIX_FAILURES_LISTED).collect(),
    })
}

/// The seeds to find of each range.
pub fn seeds_to_find(ranges: &[RangeFind]) -> Vec<Option<u64>> {
    ranges.iter().map(|range| range.seeds_to_find).collect()
}
