//! Throughput of the current build: the kernel alone, one scenario, and a whole campaign.
//!
//! Three figures, each measured for a fixed wall time:
//! - **kernel**: events per second of a trivial workload, pairs of nodes bouncing a counter, on one core. It
//!   measures what every event costs regardless of the model: the queue, the network's latency draw and the
//!   trace hash.
//! - **scenario**: kernel events per second while running seeds of the `idempotent` scenario one after another on
//!   one core, so the model's own work is included.
//! - **campaign**: seeds per second of an `idempotent` campaign on every core.
//!
//! `eosim bench` prints them; `cargo bench` (benches/throughput.rs) calls the same [`run_bench`].

use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use eosim_model::Scenario;
use eosim_sim::{Actor, Context, NodeId, NodeRole, World, WorldOptions};
use serde::Serialize;

use crate::campaign::{default_jobs, run_campaign, CampaignError, CampaignOptions};
use crate::runner::run_seed;
use crate::scenarios;

/// Pairs of nodes in the kernel workload: enough that the event queue holds more than a handful of events.
const PING_PONG_PAIRS: u32 = 16;

/// Events between two looks at the wall clock, so reading it costs nothing measurable.
const STEPS_PER_CLOCK_READ: u32 = 4096;

/// One measured figure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figure {
    /// What was measured.
    pub name: String,
    /// How much per second.
    pub value: f64,
    /// The unit of `value`.
    pub unit: String,
    /// How it was measured, in a few words.
    pub workload: String,
}

/// Every figure of one benchmark run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchReport {
    /// The figures, in measurement order.
    pub figures: Vec<Figure>,
    /// Whether this was an optimized build; debug figures say little.
    pub release: bool,
}

impl BenchReport {
    /// A table, one figure per line with its unit.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let build = if self.release { "release" } else { "debug (numbers are not representative)" };
        let _ = writeln!(out, "build: {build}");
        for figure in &self.figures {
            let _ = writeln!(out, "{:<10} {:>14.0} {:<10} {}", figure.name, figure.value, figure.unit, figure.workload);
        }
        out
    }
}

/// A benchmark that could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The built-in scenario did not load.
    #[error(transparent)]
    Scenario(#[from] scenarios::LoadError),
    /// The campaign could not start its threads.
    #[error(transparent)]
    Campaign(#[from] CampaignError),
}

/// Measures the kernel, the `idempotent` scenario and an `idempotent` campaign, each for about `seconds`.
pub fn run_bench(seconds: f64) -> Result<BenchReport, BenchError> {
    let budget = Duration::from_secs_f64(seconds.max(0.01));
    let kernel_events_per_second = measure_kernel(budget);
    let scenario = scenarios::load(scenarios::DEFAULT_SCENARIO)?.scenario;
    let (scenario_events_per_second, seconds_per_seed) = measure_scenario(&scenario, budget);
    let jobs = default_jobs();
    let campaign_seeds_per_second = measure_campaign(&scenario, budget, seconds_per_seed, jobs)?;
    let figures = vec![
        Figure {
            name: "kernel".into(),
            value: kernel_events_per_second,
            unit: "events/s".into(),
            workload: format!("ping-pong, {PING_PONG_PAIRS} node pairs, 1 core"),
        },
        Figure {
            name: "scenario".into(),
            value: scenario_events_per_second,
            unit: "events/s".into(),
            workload: format!("{} seeds one after another, 1 core", scenario.name),
        },
        Figure {
            name: "campaign".into(),
            value: campaign_seeds_per_second,
            unit: "seeds/s".into(),
            workload: format!("{} campaign, {jobs} threads", scenario.name),
        },
    ];
    Ok(BenchReport { figures, release: !cfg!(debug_assertions) })
}

/// Bounces a counter between two nodes forever: the cheapest work an event can carry.
struct PingPong {
    peer: NodeId,
}

impl Actor for PingPong {
    type Msg = u64;
    type Shared = ();

    fn on_start(&mut self, ctx: &mut Context<'_, u64, ()>) {
        // One ball per pair: the lower node serves it.
        if ctx.node() < self.peer {
            ctx.send(self.peer, 0);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, u64, ()>, source: NodeId, count: u64) {
        ctx.send(source, count + 1);
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_, u64, ()>, _tag: u64) {}

    fn on_crash(&mut self, _ctx: &mut Context<'_, u64, ()>) {}

    fn on_restart(&mut self, _ctx: &mut Context<'_, u64, ()>) {}
}

/// Kernel events per second of the ping-pong world.
pub fn measure_kernel(budget: Duration) -> f64 {
    let nodes = (0..PING_PONG_PAIRS * 2)
        .map(|index| (PingPong { peer: NodeId(index ^ 1) }, NodeRole::Server))
        .collect::<Vec<_>>();
    let mut world = World::new(WorldOptions { seed: 1, ..WorldOptions::default() }, nodes, ());
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..STEPS_PER_CLOCK_READ {
            let stepped = world.step();
            assert!(stepped, "ping-pong never runs out of events");
        }
    }
    world.stats().events as f64 / start.elapsed().as_secs_f64()
}

/// Kernel events per second running seeds of `scenario` back to back, and the mean wall seconds per seed.
pub fn measure_scenario(scenario: &Scenario, budget: Duration) -> (f64, f64) {
    let start = Instant::now();
    let mut events = 0u64;
    let mut seeds = 0u64;
    while seeds == 0 || start.elapsed() < budget {
        let result = run_seed(scenario, seeds);
        events += result.outcome.map_or(0, |outcome| outcome.stats.events);
        seeds += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    (events as f64 / elapsed, elapsed / seeds as f64)
}

/// Seeds per second of a campaign of `scenario` on `jobs` threads, sized to last about `budget`.
pub fn measure_campaign(
    scenario: &Scenario,
    budget: Duration,
    seconds_per_seed: f64,
    jobs: usize,
) -> Result<f64, CampaignError> {
    let per_thread = (budget.as_secs_f64() / seconds_per_seed.max(1e-6)).ceil() as u64;
    let seeds = (per_thread * jobs as u64).max(jobs as u64 * 2);
    let options = CampaignOptions { seed_start: 0, seeds, jobs };
    let start = Instant::now();
    let report = run_campaign(scenario, options, &AtomicBool::new(false), &|_| {})?;
    Ok(report.totals.seeds_run as f64 / start.elapsed().as_secs_f64())
}
