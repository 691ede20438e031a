//! A campaign: many seeds of one scenario, in parallel, reported in seed order.
//!
//! Each seed is an independent, deterministic run, so running them on J threads changes only the wall time: the
//! records are collected by seed, and the report is byte-for-byte the same for any J. A stop flag (set by Ctrl-C)
//! keeps new seeds from starting; the seeds that finished are still reported, and the report says it was
//! interrupted.

use std::sync::atomic::{AtomicBool, Ordering};

use eosim_model::Scenario;
use eosim_reports::{CampaignHeader, CampaignReport};
use rayon::prelude::*;

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

/// Runs every seed of `options` on `scenario`.
///
/// `on_run` sees each finished run, on the worker thread that ran it and in no particular order: it is where
/// the caller writes a failing seed's files and advances a progress bar, so that no run's history has to be kept
/// until the end. Seeds not yet started when `stop` becomes true are skipped.
pub fn run_campaign(
    scenario: &Scenario,
    options: CampaignOptions,
    stop: &AtomicBool,
    on_run: &(dyn Fn(&RunResult) + Sync),
) -> Result<CampaignReport, CampaignError> {
    let CampaignOptions { seed_start, seeds, jobs } = options;
    let seed_end = seed_start.checked_add(seeds).ok_or(CampaignError::SeedOverflow { seed_start, seeds })?;
    let jobs = jobs.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|index| format!("eosim-seed-{index}"))
        .build()
        .map_err(|source| CampaignError::ThreadPool { jobs, source })?;
    let records: Vec<_> = pool.install(|| {
        (seed_start..seed_end)
            .into_par_iter()
            .filter_map(|seed| {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
                let result = run_seed(scenario, seed);
                on_run(&result);
                Some(result.seed_record())
            })
            .collect()
    });
    assert!(records.len() as u64 <= seeds);
    let header = CampaignHeader {
        scenario: scenario.name.clone(),
        guarantee: scenario.guarantee(),
        seed_start,
        seeds,
        interrupted: (records.len() as u64) < seeds,
    };
    Ok(CampaignReport::new(header, records))
}

/// The default number of worker threads: every core the process may use.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}
