//! Throughput of the current build: the kernel alone, one scenario, and a whole campaign.
//!
//! Figures, each measured for a fixed wall time, all in the same run so their ratios hold on any machine:
//! - **kernel**: events per second of a trivial workload, pairs of nodes bouncing a counter, on one core. It
//!   measures what every event costs regardless of the model: the queue, the network's latency draw and the
//!   trace hash.
//! - **baseline**: the same ping-pong as a bare loop — a `BinaryHeap` of (time, sequence, node), the same
//!   ChaCha exponential latency draw and the same trace record per event — and the kernel's share of it. The
//!   kernel's overhead over this loop is what the world itself costs (actors, the network model, statistics).
//! - **scenario**: kernel events per second while running seeds of the default scenario one after another on
//!   one core, so the model's own work is included.
//! - **campaign**: seeds per second of a campaign of the default scenario on one thread and on every core.
//!
//! `eosim bench` prints them; `cargo bench` (benches/throughput.rs) calls the same [`run_bench`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use eosim_model::Scenario;
use eosim_sim::{Actor, Context, LinkLatency, NodeId, NodeRole, SimRng, Stream, Trace, TraceTag, World, WorldOptions};
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

/// Measures the kernel and its baseline loop, the default scenario, and its campaign on one thread and on every
/// core, each for about `seconds`.
pub fn run_bench(seconds: f64) -> Result<BenchReport, BenchError> {
    let budget = Duration::from_secs_f64(seconds.max(0.01));
    let kernel_events_per_second = measure_kernel(budget);
    let baseline_events_per_second = measure_baseline(budget);
    let scenario = scenarios::load(scenarios::DEFAULT_SCENARIO)?.scenario;
    let (scenario_events_per_second, seconds_per_seed) = measure_scenario(&scenario, budget);
    let mut figures = vec![
        Figure {
            name: "kernel".into(),
            value: kernel_events_per_second,
            unit: "events/s".into(),
            workload: format!("ping-pong, {PING_PONG_PAIRS} node pairs, 1 core"),
        },
        Figure {
            name: "baseline".into(),
            value: baseline_events_per_second,
            unit: "events/s".into(),
            workload: format!(
                "the same ping-pong as a bare heap loop (same draw, same trace), 1 core; kernel = {:.2} of it",
                kernel_events_per_second / baseline_events_per_second
            ),
        },
        Figure {
            name: "scenario".into(),
            value: scenario_events_per_second,
            unit: "events/s".into(),
            workload: format!("{} seeds one after another, 1 core", scenario.name),
        },
    ];
    let mut job_counts = vec![1, default_jobs()];
    job_counts.dedup();
    for jobs in job_counts {
        let seeds_per_second = measure_campaign(&scenario, budget, seconds_per_seed, jobs)?;
        figures.push(Figure {
            name: "campaign".into(),
            value: seeds_per_second,
            unit: "seeds/s".into(),
            workload: format!("{} campaign, {jobs} thread{}", scenario.name, if jobs == 1 { "" } else { "s" }),
        });
    }
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

/// Events per second of the ping-pong without the world: the floor the kernel is measured against.
///
/// Per event it does what the kernel cannot avoid — pop the earliest (time, sequence), draw the link's
/// exponential latency from the same ChaCha stream type, push the answer, and add the same trace record — and
/// nothing else, so `kernel / baseline` is the price of the world's generality.
pub fn measure_baseline(budget: Duration) -> f64 {
    let latency = LinkLatency::default();
    let mut rng = SimRng::new(1, Stream::Network);
    let mut trace = Trace::new();
    let mut heap: BinaryHeap<Reverse<(u64, u64, u32)>> = BinaryHeap::new();
    let mut sequence = 0u64;
    for node in (0..PING_PONG_PAIRS * 2).step_by(2) {
        heap.push(Reverse((0, sequence, node)));
        sequence += 1;
    }
    let mut events = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..STEPS_PER_CLOCK_READ {
            let Some(Reverse((now_ns, _, node))) = heap.pop() else { unreachable!("the balls never stop") };
            let peer = node ^ 1;
            trace.record(TraceTag::Deliver, now_ns, &(NodeId(node), NodeId(peer), events));
            let arrival_ns = now_ns + latency.latency_ns_min + rng.exponential_ns(latency.latency_ns_mean);
            heap.push(Reverse((arrival_ns, sequence, peer)));
            sequence += 1;
            events += 1;
        }
    }
    std::hint::black_box(trace.hex());
    events as f64 / start.elapsed().as_secs_f64()
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
