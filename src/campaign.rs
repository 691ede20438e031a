//! A campaign: many seeds of one scenario, in parallel, reported in seed order.
//!
//! Each seed is an independent, deterministic run, so running them on J threads changes only the wall time: the
//! records are collected by seed, and the report is byte-for-byte the same for any J. Workers take seeds in
//! increasing order from one shared counter, so when a campaign stops early every seed below the last one
//! started has run: `--stop-on-first` always reports the lowest failing seed among those it ran, and the runs it
//! reports begin with a contiguous range. Three things stop new seeds from starting, and the report says which:
//! a stop flag (Ctrl-C), the first failing seed (`--stop-on-first`) and a wall-clock budget (`--time-budget`).
//! Seeds already running finish and are reported.
//!
//! A campaign may run one shard of its seeds (`--shard K/N`); shard reports join into the unsharded report with
//! `eosim merge` (`eosim_reports::merge`).
//!
//! Before its seeds, a campaign may replay the saved failures of a directory (`--regressions DIR`, as proptest
//! replays its persisted failures first): [`replay_regressions`] replays every repro of the campaign's scenario,
//! and each becomes a record of the report's `regressions`, listed before the seeds.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use eosim_model::Scenario;
use eosim_reports::{CampaignHeader, CampaignReport, Coverage, SeedRecord, Shard, StopReason};

use crate::corpus::{replay_all, Corpus, CorpusError, Judgement, Replayed};
use crate::coverage::{expected_points, run_points};
use crate::runner::{run_seed, RunResult};

/// Which seeds to run, and on how many threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CampaignOptions {
    /// The first seed.
    pub seed_start: u64,
    /// How many seeds: `seed_start .. seed_start + seeds`.
    pub seeds: u64,
    /// Worker threads; at least 1.
    pub jobs: usize,
}

/// Which of the seeds this campaign runs, and when it stops early.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CampaignScope {
    /// Run only this shard of the seeds; `None` runs them all.
    pub shard: Option<Shard>,
    /// Start no new seed once one has failed.
    pub stop_on_first: bool,
    /// Start no new seed once this much wall time has passed since the campaign began.
    pub time_budget: Option<Duration>,
}

/// A campaign that could not run at all (its seeds' findings are never errors).
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// `seed_start + seeds` does not fit in a u64.
    #[error("seeds {seed_start} + {seeds} overflow a 64-bit seed")]
    SeedOverflow {
        /// The first seed.
        seed_start: u64,
        /// How many seeds.
        seeds: u64,
    },
    /// The worker threads could not be started.
    #[error("cannot start {jobs} worker threads: {source}")]
    ThreadPool {
        /// How many were asked for.
        jobs: usize,
        /// Why.
        source: rayon::ThreadPoolBuildError,
    },
}

/// Runs every seed of `options` on `scenario`: [`run_campaign_scoped`] with no shard and no early stop but `stop`.
pub fn run_campaign(
    scenario: &Scenario,
    options: CampaignOptions,
    stop: &AtomicBool,
    on_run: &(dyn Fn(&RunResult) + Sync),
) -> Result<CampaignReport, CampaignError> {
    run_campaign_scoped(scenario, options, CampaignScope::default(), stop, on_run)
}

/// Runs the seeds of `options` that `scope` selects on `scenario`.
///
/// `on_run` sees each finished run, on the worker thread that ran it and in no particular order: it is where
/// the caller writes a failing seed's files and advances a progress bar, so that no run's history has to be kept
/// until the end. Seeds not yet started when `stop` becomes true (or `scope` says to stop) are skipped.
pub fn run_campaign_scoped(
    scenario: &Scenario,
    options: CampaignOptions,
    scope: CampaignScope,
    stop: &AtomicBool,
    on_run: &(dyn Fn(&RunResult) + Sync),
) -> Result<CampaignReport, CampaignError> {
    let CampaignOptions { seed_start, seeds, jobs } = options;
    seed_start.checked_add(seeds).ok_or(CampaignError::SeedOverflow { seed_start, seeds })?;
    let jobs = jobs.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|index| format!("eosim-seed-{index}"))
        .build()
        .map_err(|source| CampaignError::ThreadPool { jobs, source })?;
    let shard = scope.shard.unwrap_or(Shard { index: 1, count: 1 });
    let work = Work {
        scenario,
        seed_start,
        shard,
        in_scope: shard.seed_count(seeds),
        scope,
        stop,
        started: Instant::now(),
        next: AtomicU64::new(0),
        reason: OnceLock::new(),
        finished: Mutex::new(Vec::new()),
    };
    pool.scope(|threads| {
        for _ in 0..jobs {
            threads.spawn(|_| work.worker(on_run));
        }
    });
    Ok(work.into_report(seeds))
}

/// What the workers share while a campaign runs.
struct Work<'a> {
    scenario: &'a Scenario,
    seed_start: u64,
    shard: Shard,
    /// Seeds in the shard: the campaign is complete when this many have run.
    in_scope: u64,
    scope: CampaignScope,
    stop: &'a AtomicBool,
    started: Instant,
    /// The index, within the shard, of the next seed to start.
    next: AtomicU64,
    /// The first reason to stop that a worker saw; it also stops the other workers.
    reason: OnceLock<StopReason>,
    /// Each finished run's record and coverage points.
    finished: Mutex<Vec<(SeedRecord, BTreeMap<String, u64>)>>,
}

impl Work<'_> {
    /// Takes seeds in order until none is left or something says stop.
    fn worker(&self, on_run: &(dyn Fn(&RunResult) + Sync)) {
        while let Some(seed) = self.next_seed() {
            let result = run_seed(self.scenario, seed);
            on_run(&result);
            if self.scope.stop_on_first && result.verdict.is_failure() {
                let _ = self.reason.set(StopReason::FirstFailure);
            }
            let points = result.outcome.as_ref().map(|outcome| run_points(&outcome.stats)).unwrap_or_default();
            let mut finished = self.finished.lock().unwrap_or_else(|poison| poison.into_inner());
            finished.push((result.seed_record(), points));
        }
    }

    /// The next seed to run, or `None` when every seed started or the campaign must stop.
    fn next_seed(&self) -> Option<u64> {
        if self.reason.get().is_some() {
            return None;
        }
        if self.stop.load(Ordering::Relaxed) {
            let _ = self.reason.set(StopReason::Interrupted);
            return None;
        }
        if self.scope.time_budget.is_some_and(|budget| self.started.elapsed() >= budget) {
            let _ = self.reason.set(StopReason::TimeBudget);
            return None;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        (index < self.in_scope).then(|| self.shard.nth_seed(self.seed_start, index))
    }

    fn into_report(self, seeds: u64) -> CampaignReport {
        let finished = self.finished.into_inner().unwrap_or_else(|poison| poison.into_inner());
        let ran = finished.len() as u64;
        assert!(ran <= self.in_scope, "each seed of the shard runs at most once");
        // A reason noticed only after the last seed had started cut nothing short.
        let stopped = if ran < self.in_scope {
            Some(self.reason.get().copied().unwrap_or(StopReason::Interrupted))
        } else {
            None
        };
        let mut coverage = Coverage::new(expected_points(self.scenario));
        let mut records = Vec::with_capacity(finished.len());
        // Coverage sums are order-independent, so the order workers finished in does not reach the report.
        for (record, points) in finished {
            coverage.add_run(&points);
            records.push(record);
        }
        let header = CampaignHeader {
            scenario: self.scenario.name.clone(),
            guarantee: self.scenario.guarantee(),
            seed_start: self.seed_start,
            seeds,
            shard: self.scope.shard,
            stopped,
        };
        CampaignReport::with_coverage(header, records, coverage)
    }
}

/// The saved failures of a directory, replayed before a campaign's seeds.
#[derive(Debug, Default)]
pub struct Regressions {
    /// The repros of the campaign's scenario, replayed, in file-name order.
    pub replayed: Vec<Replayed>,
    /// The repros of other scenarios, not replayed.
    pub other_scenario: usize,
}

impl Regressions {
    /// Each replay as a report record naming its repro: a replay that fails is a finding of the campaign.
    pub fn records(&self) -> Vec<SeedRecord> {
        let record = |replayed: &Replayed| {
            let mut record = replayed.result.seed_record();
            record.repro = Some(replayed.path.display().to_string());
            record
        };
        self.replayed.iter().map(record).collect()
    }

    /// The replays whose trace hash is not the recorded one: they did not do what the saved run did.
    pub fn diverged(&self) -> impl Iterator<Item = &Replayed> {
        self.replayed.iter().filter(|replayed| replayed.judgement == Judgement::Diverged)
    }
}

/// Replays every repro in `dir` whose scenario has `scenario`'s name; a directory with no repro replays none.
pub fn replay_regressions(dir: &Path, scenario: &Scenario) -> Result<Regressions, CorpusError> {
    let corpus = match Corpus::read(&[dir.to_path_buf()]) {
        Ok(corpus) => corpus,
        // Saved failures accumulate: a directory that has none yet is where the first will go.
        Err(CorpusError::Empty { .. }) => return Ok(Regressions::default()),
        Err(error) => return Err(error),
    };
    let (mine, others): (Vec<_>, Vec<_>) =
        corpus.entries.into_iter().partition(|entry| entry.repro.scenario.name == scenario.name);
    Ok(Regressions { replayed: replay_all(&mine), other_scenario: others.len() })
}

/// The default number of worker threads: every core the process may use.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}
