//! Throughput of the current build: the kernel alone, one scenario, and a whole campaign.
//!
//! Figures, each measured for a fixed wall time, all in the same run so their ratios hold on any machine:
//! - **kernel**: events per second of a trivial workload, pairs of nodes bouncing a counter, on one core. It
//!   measures what every event costs regardless of the model: the queue, the network's latency draw and the
//!   trace hash.
//! - **baseline**: the same ping-pong as a bare loop — a `BinaryHeap` of (time, sequence, node) popped and pushed,
//!   the same ChaCha exponential latency draw and the same trace record per event — and the kernel's share of it.
//! - **floor**: the baseline loop with one sift per event instead of two, as the kernel's queue does it (the
//!   popped key stays on top and the answer's key replaces it), and the kernel's share of it: the loop with
//!   nothing left to take away, so `kernel / floor` is the whole price of the world (actors, the event slab, the
//!   network model, statistics).
//!
//!   The three are measured in alternating rounds after a warm-up, per second of the thread's CPU time where
//!   Linux tells it, so their ratios do not follow the machine's load.
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
use eosim_sim::{Actor, Context, LinkLatency, NodeId, NodeRole, SimRng, Stream, Trace, World, WorldOptions};
use serde::Serialize;

use crate::campaign::{default_jobs, run_campaign, CampaignError, CampaignOptions};
use crate::runner::run_seed;
use crate::scenarios;

/// Pairs of nodes in the kernel workload: enough that the event queue holds more than a handful of events.
const PING_PONG_PAIRS: u32 = 16;

/// Events between two looks at the wall clock, so reading it costs nothing measurable.
const STEPS_PER_CLOCK_READ: u32 = 4096;

/// Rounds of the kernel, baseline and floor figures, alternating; see [`measure_ping_pongs`].
const ROUNDS: u32 = 4;

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

/// Measures the kernel, its baseline loop and the floor, the default scenario, and its campaign on one thread
/// and on every core, each for about `seconds`.
pub fn run_bench(seconds: f64) -> Result<BenchReport, BenchError> {
    let budget = Duration::from_secs_f64(seconds.max(0.01));
    let kernel_figures = measure_ping_pongs(budget);
    let KernelFigures { kernel: kernel_events_per_second, baseline: baseline_events_per_second, floor, .. } =
        kernel_figures;
    let clock = if kernel_figures.per_cpu_second { "per CPU second" } else { "per wall second" };
    let scenario = scenarios::load(scenarios::DEFAULT_SCENARIO)?.scenario;
    let (scenario_events_per_second, seconds_per_seed) = measure_scenario(&scenario, budget);
    let mut figures = vec![
        Figure {
            name: "kernel".into(),
            value: kernel_events_per_second,
            unit: "events/s".into(),
            workload: format!("ping-pong, {PING_PONG_PAIRS} node pairs, 1 core, {clock}"),
        },
        Figure {
            name: "baseline".into(),
            value: baseline_events_per_second,
            unit: "events/s".into(),
            workload: format!(
                "the same ping-pong as a bare heap loop (same draw, same trace), 1 core, {clock}; kernel = {:.2} of it",
                kernel_events_per_second / baseline_events_per_second
            ),
        },
        Figure {
            name: "floor".into(),
            value: floor,
            unit: "events/s".into(),
            workload: format!(
                "the baseline with one sift per event, as the kernel's queue does it, 1 core, {clock}; kernel = {:.2} of it",
                kernel_events_per_second / floor
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

/// The ping-pong world the kernel figure measures: `PING_PONG_PAIRS` pairs, seed 1, a healed network.
fn ping_pong_world() -> World<PingPong> {
    let nodes = (0..PING_PONG_PAIRS * 2)
        .map(|index| (PingPong { peer: NodeId(index ^ 1) }, NodeRole::Server))
        .collect::<Vec<_>>();
    World::new(WorldOptions { seed: 1, ..WorldOptions::default() }, nodes, ())
}

/// Runs `events` events of the kernel's ping-pong and returns its trace hash: the direct driver, for
/// instruction counts (benches/instructions.rs, examples/ping_pong.rs) and for tests.
pub fn run_kernel(events: u64) -> String {
    let mut world = ping_pong_world();
    for _ in 0..events {
        let stepped = world.step();
        assert!(stepped, "ping-pong never runs out of events");
    }
    assert_eq!(world.stats().events, events);
    world.trace_hash()
}

/// The ping-pong without the world: the floor the kernel is measured against.
///
/// Per event it does what the kernel cannot avoid — pop the earliest (time, sequence), add the same trace
/// record, draw the link's exponential latency from the same ChaCha stream type, push the answer — and
/// nothing else. With `ONE_SIFT` the pop leaves its key on top and the answer's key replaces it, one sift for
/// the pair as the kernel's queue does it; the events and their order are the same either way.
struct BaselineLoop<const ONE_SIFT: bool> {
    latency: LinkLatency,
    rng: SimRng,
    trace: Trace,
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    sequence: u64,
    events: u64,
}

impl<const ONE_SIFT: bool> BaselineLoop<ONE_SIFT> {
    fn new() -> Self {
        let mut baseline = BaselineLoop {
            latency: LinkLatency::default(),
            rng: SimRng::new(1, Stream::Network),
            trace: Trace::new(),
            heap: BinaryHeap::new(),
            sequence: 0,
            events: 0,
        };
        for node in (0..PING_PONG_PAIRS * 2).step_by(2) {
            baseline.heap.push(Reverse((0, baseline.sequence, node)));
            baseline.sequence += 1;
        }
        baseline
    }

    fn step(&mut self) {
        let top = if ONE_SIFT { self.heap.peek().copied() } else { self.heap.pop() };
        let Some(Reverse((now_ns, _, node))) = top else { unreachable!("the balls never stop") };
        let peer = node ^ 1;
        self.trace.record_delivery(now_ns, NodeId(node), NodeId(peer), &self.events);
        let arrival_ns = now_ns + self.latency.latency_ns_min + self.rng.exponential_ns(self.latency.latency_ns_mean);
        let answer = Reverse((arrival_ns, self.sequence, peer));
        if ONE_SIFT {
            // Dropping the guard sifts the replaced top down once.
            *self.heap.peek_mut().expect("the popped key is still on top") = answer;
        } else {
            self.heap.push(answer);
        }
        self.sequence += 1;
        self.events += 1;
    }
}

/// Runs `events` events of the baseline loop and returns its trace hash; see [`run_kernel`].
pub fn run_baseline(events: u64) -> String {
    run_baseline_loop::<false>(events)
}

/// Runs `events` events of the floor, the baseline loop with one sift per event, and returns its trace hash.
pub fn run_floor(events: u64) -> String {
    run_baseline_loop::<true>(events)
}

fn run_baseline_loop<const ONE_SIFT: bool>(events: u64) -> String {
    let mut baseline = BaselineLoop::<ONE_SIFT>::new();
    for _ in 0..events {
        baseline.step();
    }
    baseline.trace.hex()
}

/// The kernel and baseline figures of one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KernelFigures {
    /// Kernel events per second.
    pub kernel: f64,
    /// Baseline events per second.
    pub baseline: f64,
    /// Floor (the baseline with one sift per event) events per second.
    pub floor: f64,
    /// True if all three are per second this thread ran on a CPU, false if per wall-clock second (where the
    /// operating system does not tell a thread's CPU time).
    pub per_cpu_second: bool,
}

/// Kernel, baseline and floor events per second, each measured for about `budget` in total.
///
/// The three are measured in alternating rounds after a warm-up of each, not one after the other: on a shared
/// machine the load drifts within seconds, and a ratio of figures taken at different times measured the drift
/// as much as the code. The first round of a fresh process also ran on cold caches and a cold allocator,
/// which is why a kernel figure measured first read lower than the same kernel driven alone. Each figure is
/// per second of the thread's CPU time where Linux tells it ([`thread_cpu_ns`]): time the thread spent
/// waiting for a core another process held is not the kernel's.
pub fn measure_ping_pongs(budget: Duration) -> KernelFigures {
    let mut world = ping_pong_world();
    let (mut baseline, mut floor) = (BaselineLoop::<false>::new(), BaselineLoop::<true>::new());
    let mut kernel_step = || assert!(world.step(), "ping-pong never runs out of events");
    let mut baseline_step = || baseline.step();
    let mut floor_step = || floor.step();
    let warm_up = budget / 10;
    run_for(&mut kernel_step, warm_up);
    run_for(&mut baseline_step, warm_up);
    run_for(&mut floor_step, warm_up);
    let round = budget / ROUNDS;
    let (mut kernel, mut base, mut least) = (Spent::default(), Spent::default(), Spent::default());
    for _ in 0..ROUNDS {
        kernel.add(run_for(&mut kernel_step, round));
        base.add(run_for(&mut baseline_step, round));
        least.add(run_for(&mut floor_step, round));
    }
    // Keeps every loop's work observable, so none can be optimized away.
    std::hint::black_box((world.trace_hash(), baseline.trace.hex(), floor.trace.hex()));
    let per_cpu_second = [kernel, base, least].iter().all(|spent| spent.cpu_seconds.is_some());
    KernelFigures {
        kernel: kernel.rate(per_cpu_second),
        baseline: base.rate(per_cpu_second),
        floor: least.rate(per_cpu_second),
        per_cpu_second,
    }
}

/// Steps taken and the time they took, summed over rounds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Spent {
    steps: u64,
    wall_seconds: f64,
    /// `None` once any round could not read its CPU time.
    cpu_seconds: Option<f64>,
    rounds: u32,
}

impl Spent {
    fn add(&mut self, round: Spent) {
        self.cpu_seconds = match (self.rounds, self.cpu_seconds, round.cpu_seconds) {
            (0, _, cpu) => cpu,
            (_, Some(total), Some(cpu)) => Some(total + cpu),
            _ => None,
        };
        self.steps += round.steps;
        self.wall_seconds += round.wall_seconds;
        self.rounds += 1;
    }

    fn rate(&self, per_cpu_second: bool) -> f64 {
        let seconds = if per_cpu_second { self.cpu_seconds.unwrap_or(self.wall_seconds) } else { self.wall_seconds };
        self.steps as f64 / seconds.max(1e-9)
    }
}

/// Calls `step` in batches until `budget` has passed; the steps taken and the wall and CPU time they took.
fn run_for(step: &mut impl FnMut(), budget: Duration) -> Spent {
    let cpu_start_ns = thread_cpu_ns();
    let start = Instant::now();
    let mut steps = 0u64;
    while steps == 0 || start.elapsed() < budget {
        for _ in 0..STEPS_PER_CLOCK_READ {
            step();
        }
        steps += u64::from(STEPS_PER_CLOCK_READ);
    }
    let wall_seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = match (cpu_start_ns, thread_cpu_ns()) {
        (Some(start_ns), Some(end_ns)) => Some(end_ns.saturating_sub(start_ns) as f64 / 1e9),
        _ => None,
    };
    Spent { steps, wall_seconds, cpu_seconds, rounds: 1 }
}

/// Nanoseconds the calling thread has run on a CPU, from Linux's `/proc/thread-self/schedstat`; `None` where
/// there is no such file.
pub fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Runs seed `seed` of the default scenario and returns its trace hash: one eos-tv2 run for instruction
/// counts (benches/instructions.rs).
pub fn run_default_seed(seed: u64) -> Result<String, BenchError> {
    let scenario = scenarios::load(scenarios::DEFAULT_SCENARIO)?.scenario;
    Ok(run_seed(&scenario, seed).trace_hash().unwrap_or_default().to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_ping_pong_is_pinned() {
        // The trace of the kernel as it delivers today (re-pinned when the trace moved to XXH3-128):
        // a faster kernel that delivers in another order or writes other trace bytes fails here.
        assert_eq!(run_kernel(10_000), "87da79a8140a4b0245615b462b51df39");
    }

    #[test]
    fn the_baseline_repeats_and_differs_from_the_kernel() {
        assert_eq!(run_baseline(1_000), run_baseline(1_000));
        assert_ne!(run_baseline(1_000), run_baseline(1_001));
        assert_ne!(run_baseline(1_000), run_kernel(1_000), "the baseline has no FIFO links and no start events");
    }

    #[test]
    fn the_floor_runs_the_baselines_events_in_the_same_order() {
        // One sift per event instead of two changes how the heap moves, not which event comes next: the
        // trace, which records every delivery's time and endpoints, is the same.
        assert_eq!(run_floor(10_000), run_baseline(10_000));
    }

    #[test]
    fn run_for_counts_whole_batches() {
        let mut calls = 0u64;
        let spent = run_for(&mut || calls += 1, Duration::ZERO);
        assert_eq!(spent.steps, u64::from(STEPS_PER_CLOCK_READ), "at least one batch, even with no time");
        assert_eq!(calls, spent.steps);
        assert!(spent.wall_seconds >= 0.0);
        if cfg!(target_os = "linux") {
            assert!(spent.cpu_seconds.is_some(), "Linux tells a thread's CPU time");
        }
    }

    #[test]
    fn rounds_add_up_and_one_unknown_cpu_time_falls_back_to_the_wall_clock() {
        let round = |cpu_seconds| Spent { steps: 100, wall_seconds: 2.0, cpu_seconds, rounds: 1 };
        let mut known = Spent::default();
        known.add(round(Some(1.0)));
        known.add(round(Some(1.0)));
        assert_eq!((known.steps, known.rounds, known.cpu_seconds), (200, 2, Some(2.0)));
        assert_eq!(known.rate(true), 100.0);
        assert_eq!(known.rate(false), 50.0);
        let mut partly = Spent::default();
        partly.add(round(Some(1.0)));
        partly.add(round(None));
        assert_eq!(partly.cpu_seconds, None);
        assert_eq!(partly.rate(true), 50.0, "without CPU time the wall clock is all there is");
    }

    #[test]
    fn cpu_time_never_goes_backwards() {
        let (first, second) = (thread_cpu_ns(), thread_cpu_ns());
        assert_eq!(first.is_some(), cfg!(target_os = "linux"), "Linux tells a thread's CPU time");
        assert!(second >= first);
    }
}
