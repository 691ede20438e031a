//! Shrinking: the smallest fault schedule and workload that still fail the way a repro fails.
//!
//! [`shrink`] keeps the repro's seed, so every random stream but the fault plan stays where it was, and edits only
//! what the repro makes explicit:
//!
//! 0. the knobs, when the repro drew them: each drawn knob goes back to the scenario's own value if the run still
//!    fails that way (FoundationDB's knob randomization, undone one knob at a time);
//! 1. the fault schedule, by delta debugging (Zeller's ddmin): try halves, then quarters, … of the faults, and the
//!    complement of each part, keeping any smaller list that still fails, until removing any single fault makes
//!    the failure go away (the schedule is then *1-minimal*);
//! 2. the workload: make each size smaller in turn — halved, else one less — as long as the run still fails:
//!    messages per producer, transactions per atomic writer, records (partitions) per atomic transaction, input
//!    records per pipeline transaction, then whole clients: consumers, atomic writers, pipeline instances and
//!    producers. A client is removed from the end of its group, and the schedule follows the nodes by name (a
//!    crash of `writer-1` stays a crash of `writer-1` though a producer before it went; a fault on a removed
//!    client goes with it). Then back to step 1 with the smaller workload, until neither step changes anything.
//!
//! "Still fails" is judged against the original run: a violation must still show at least one of the original
//! violation kinds; a stall must still stall; a crash must still panic at the same source location (a different
//! panic is a different bug). Every trial is a full deterministic replay, so the same repro always shrinks to the
//! same result, and the shrunk repro carries its own trace hash and expected anomalies.

use std::collections::BTreeMap;

use eosim_checker::AnomalyKind;
use eosim_model::knobs::{self, KnobValue};
use eosim_model::{node_names, Scenario};
use eosim_reports::Verdict;
use eosim_sim::{Fault, FaultAction, FaultSchedule, NodeId};
use serde::Serialize;

use crate::repro::Repro;
use crate::runner::{run_seed, RunResult};

/// How big a run is: what shrinking makes smaller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RunSize {
    /// Faults in the explicit schedule (0 when the repro has none).
    pub faults: usize,
    /// Producer applications.
    pub producers: u32,
    /// Values each producer sends.
    pub messages_per_producer: u32,
    /// Messages in all: producers × messages per producer.
    pub messages: u64,
    /// Consumer applications.
    pub consumers: u32,
    /// Atomic multi-partition writers.
    pub writers: u32,
    /// Transactions per atomic writer.
    pub transactions_per_writer: u32,
    /// Partitions (one record each) per atomic transaction.
    pub records_per_writer_transaction: u32,
    /// Consume-transform-produce pipeline instances (0 without a pipeline).
    pub pipelines: u32,
    /// Input records per pipeline transaction at most (0 without a pipeline).
    pub records_per_pipeline_transaction: u32,
}

impl RunSize {
    fn of(scenario: &Scenario, schedule: Option<&FaultSchedule>) -> RunSize {
        let workload = &scenario.workload;
        let pipeline = workload.pipeline.as_ref();
        RunSize {
            faults: schedule.map_or(0, |schedule| schedule.faults.len()),
            producers: workload.producers,
            messages_per_producer: workload.messages_per_producer,
            messages: u64::from(workload.producers) * u64::from(workload.messages_per_producer),
            consumers: workload.consumers,
            writers: workload.atomic_writers,
            transactions_per_writer: if workload.atomic_writers > 0 { workload.atomic_txns_per_writer } else { 0 },
            records_per_writer_transaction: if workload.atomic_writers > 0 {
                workload.atomic_partitions_per_txn
            } else {
                0
            },
            pipelines: pipeline.map_or(0, |pipeline| pipeline.instances),
            records_per_pipeline_transaction: pipeline.map_or(0, |pipeline| pipeline.max_records_per_txn),
        }
    }

    /// What shrinking changed, one `name: before -> after` line each (`writers: 3 -> 1`), faults and messages
    /// always, every client and transaction size only when it changed.
    pub fn changes(before: &RunSize, after: &RunSize) -> Vec<String> {
        let mut lines = vec![
            format!("faults: {} -> {}", before.faults, after.faults),
            format!(
                "messages: {} -> {} (producers {} -> {}, messages per producer {} -> {})",
                before.messages,
                after.messages,
                before.producers,
                after.producers,
                before.messages_per_producer,
                after.messages_per_producer
            ),
        ];
        let sizes = [
            ("consumers", before.consumers, after.consumers),
            ("writers", before.writers, after.writers),
            ("transactions per writer", before.transactions_per_writer, after.transactions_per_writer),
            (
                "records per writer transaction",
                before.records_per_writer_transaction,
                after.records_per_writer_transaction,
            ),
            ("pipelines", before.pipelines, after.pipelines),
            (
                "records per pipeline transaction",
                before.records_per_pipeline_transaction,
                after.records_per_pipeline_transaction,
            ),
        ];
        for (name, was, is) in sizes {
            if was != is || name == "consumers" {
                lines.push(format!("{name}: {was} -> {is}"));
            }
        }
        lines
    }
}

/// A shrunk repro and how it got there.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smaller repro: same seed and version, smaller schedule and workload, its own expected outcome.
    pub repro: Repro,
    /// The size of the original run.
    pub before: RunSize,
    /// The size of the shrunk run.
    pub after: RunSize,
    /// Replays tried, the original's included.
    pub trials: u64,
    /// The knobs moved back to the scenario's own value, each with the value the original run drew.
    pub knobs_restored: Vec<KnobValue>,
}

/// A repro that cannot be shrunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShrinkError {
    /// The repro's run passed: there is no failure to keep.
    #[error("the repro's run passes (verdict pass): there is no failure to shrink")]
    Passing,
    /// Replaying the repro no longer fails the way the repro says it did.
    #[error("replaying the repro gives {found}, not the expected {expected}: the repro no longer reproduces")]
    NotReproduced {
        /// What the repro expects.
        expected: String,
        /// What the replay gave.
        found: String,
    },
}

/// What a trial must still show to count as the same failure.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Failure {
    /// At least one of these forbidden anomaly kinds.
    Violations(Vec<AnomalyKind>),
    /// This verdict (a stall, or a violation found only by the linearizability check).
    Verdict(Verdict),
    /// A panic at this source location (or, without a location, with this message).
    Crash(String),
}

impl Failure {
    fn of(result: &RunResult) -> Option<Failure> {
        match result.verdict {
            Verdict::Pass => None,
            Verdict::Crash => Some(Failure::Crash(crash_site(result))),
            Verdict::Violation if !result.violation_kinds().is_empty() => {
                Some(Failure::Violations(result.violation_kinds()))
            }
            verdict => Some(Failure::Verdict(verdict)),
        }
    }

    fn shown_by(&self, result: &RunResult) -> bool {
        match self {
            Failure::Violations(kinds) => result.violation_kinds().iter().any(|kind| kinds.contains(kind)),
            Failure::Verdict(verdict) => result.verdict == *verdict,
            Failure::Crash(site) => result.verdict == Verdict::Crash && crash_site(result) == *site,
        }
    }

    fn describe(&self) -> String {
        match self {
            Failure::Violations(kinds) => {
                let names: Vec<&str> = kinds.iter().map(|kind| kind.name()).collect();
                format!("a violation ({})", names.join(", "))
            }
            Failure::Verdict(verdict) => verdict.name().to_string(),
            Failure::Crash(site) => format!("a crash at {site}"),
        }
    }
}

/// Where a run panicked: the `(at FILE:LINE:COL)` the runner appends, else the whole message.
fn crash_site(result: &RunResult) -> String {
    let message = result.panic_message.as_deref().unwrap_or("");
    match message.rfind(" (at ") {
        Some(start) => message[start..].trim_start().to_string(),
        None => message.to_string(),
    }
}

/// The trials of one shrink: the fixed seed, what a trial must still show, and a count of replays.
struct Trials<'a> {
    seed: u64,
    keep: &'a dyn Fn(&RunResult) -> bool,
    count: u64,
}

impl Trials<'_> {
    /// Whether `scenario` with `schedule` (or the seed's own swarm, when `None`) still fails the same way.
    fn fails(&mut self, scenario: &Scenario, schedule: Option<FaultSchedule>) -> bool {
        let mut scenario = scenario.clone();
        scenario.faults.schedule = schedule;
        self.count += 1;
        (self.keep)(&run_seed(&scenario, self.seed))
    }
}

/// Shrinks a failing repro; see the module documentation for how.
pub fn shrink(repro: &Repro) -> Result<Shrunk, ShrinkError> {
    let original = repro.replay();
    let Some(failure) = Failure::of(&original) else {
        return Err(if repro.expected.verdict == Verdict::Pass {
            ShrinkError::Passing
        } else {
            ShrinkError::NotReproduced { expected: repro.expected.verdict.name().to_string(), found: "pass".into() }
        });
    };
    let expected = repro_failure(repro);
    if expected.as_ref().is_some_and(|expected| !expected.shown_by(&original)) {
        let expected = expected.map_or_else(String::new, |expected| expected.describe());
        return Err(ShrinkError::NotReproduced { expected, found: failure.describe() });
    }
    Ok(shrink_from(repro, &|result| failure.shown_by(result)))
}

/// Shrinks a repro keeping what `keep` asks of every trial (e.g. a bug-zoo entry's expected finding), rather
/// than the failure the repro recorded; refused when the repro's own replay does not satisfy `keep`.
pub fn shrink_keeping(repro: &Repro, keep: &dyn Fn(&RunResult) -> bool) -> Result<Shrunk, ShrinkError> {
    let original = repro.replay();
    if !keep(&original) {
        let expected = "the finding to keep".to_string();
        return Err(ShrinkError::NotReproduced { expected, found: original.verdict.name().to_string() });
    }
    Ok(shrink_from(repro, keep))
}

/// The shrinking loop, given that the repro's replay satisfies `keep` (one replay already made).
fn shrink_from(repro: &Repro, keep: &dyn Fn(&RunResult) -> bool) -> Shrunk {
    let mut trials = Trials { seed: repro.seed, keep, count: 1 };
    let mut scenario = repro.replay_scenario();
    scenario.faults.schedule = None;
    let knobs_restored = restore_knobs(&mut trials, &mut scenario, &repro.schedule);
    let mut faults = repro.schedule.as_ref().map(|schedule| schedule.faults.clone());
    loop {
        if let Some(current) = &faults {
            faults = Some(ddmin_faults(&mut trials, &scenario, current));
        }
        if !shrink_workload(&mut trials, &mut scenario, &mut faults) {
            break;
        }
    }
    let schedule = faults.map(|faults| FaultSchedule { faults });
    let mut final_scenario = scenario.clone();
    final_scenario.faults.schedule = schedule.clone();
    let result = run_seed(&final_scenario, repro.seed);
    assert!((trials.keep)(&result), "the shrunk run fails as every accepted trial did");
    let mut shrunk = Repro::of_run(&scenario, &result);
    // The seed's swarm choices are what the original run drew; shrinking does not draw again.
    shrunk.swarm = repro.swarm.clone();
    let before = RunSize::of(&repro.scenario, repro.schedule.as_ref());
    let after = RunSize::of(&scenario, schedule.as_ref());
    Shrunk { repro: shrunk, before, after, trials: trials.count + 1, knobs_restored }
}

/// The failure the repro's `expected` block describes, when it names one precisely enough to check.
fn repro_failure(repro: &Repro) -> Option<Failure> {
    match repro.expected.verdict {
        Verdict::Violation if !repro.expected.violations.is_empty() => {
            Some(Failure::Violations(repro.expected.violations.clone()))
        }
        Verdict::Pass | Verdict::Crash => None,
        verdict => Some(Failure::Verdict(verdict)),
    }
}

/// ddmin over `faults` for `scenario`; returns a 1-minimal sublist that still fails (in schedule order).
fn ddmin_faults(trials: &mut Trials, scenario: &Scenario, faults: &[Fault]) -> Vec<Fault> {
    // Trials are keyed by which of the faults they keep, so that no list is replayed twice.
    let mut cache: BTreeMap<Vec<usize>, bool> = BTreeMap::new();
    let mut test = |kept: &[usize]| -> bool {
        if let Some(known) = cache.get(kept) {
            return *known;
        }
        let schedule = FaultSchedule { faults: kept.iter().map(|index| faults[*index].clone()).collect() };
        let fails = trials.fails(scenario, Some(schedule));
        cache.insert(kept.to_vec(), fails);
        fails
    };
    let kept = ddmin((0..faults.len()).collect(), &mut test);
    kept.into_iter().map(|index| faults[index].clone()).collect()
}

/// Zeller's ddmin over `items`, given that `test(items)` holds; the result is 1-minimal for `test`.
pub fn ddmin(items: Vec<usize>, test: &mut dyn FnMut(&[usize]) -> bool) -> Vec<usize> {
    if test(&[]) {
        return Vec::new();
    }
    let mut current = items;
    let mut parts = 2usize;
    while current.len() >= 2 {
        let chunks = split(&current, parts);
        if let Some(chunk) = chunks.iter().find(|chunk| test(chunk)) {
            current = chunk.clone();
            parts = 2;
            continue;
        }
        // With two parts each complement is the other part, already tried.
        let complement = (parts > 2)
            .then(|| (0..chunks.len()).map(|skip| without(&chunks, skip)).find(|complement| test(complement)))
            .flatten();
        if let Some(complement) = complement {
            current = complement;
            parts = (parts - 1).max(2);
            continue;
        }
        if parts >= current.len() {
            break;
        }
        parts = (parts * 2).min(current.len());
    }
    assert!(!current.is_empty(), "an empty list that fails returned early");
    current
}

/// `items` cut into `parts` contiguous chunks whose lengths differ by at most one.
fn split(items: &[usize], parts: usize) -> Vec<Vec<usize>> {
    let parts = parts.clamp(1, items.len().max(1));
    let (base, extra) = (items.len() / parts, items.len() % parts);
    let mut chunks = Vec::with_capacity(parts);
    let mut start = 0;
    for index in 0..parts {
        let length = base + usize::from(index < extra);
        chunks.push(items[start..start + length].to_vec());
        start += length;
    }
    assert_eq!(start, items.len());
    chunks
}

/// Every chunk but the one at `skip`, concatenated in order.
fn without(chunks: &[Vec<usize>], skip: usize) -> Vec<usize> {
    chunks.iter().enumerate().filter(|(index, _)| *index != skip).flat_map(|(_, chunk)| chunk.clone()).collect()
}

/// Moves each drawn knob back to the scenario's own value, one at a time, keeping each move after which the run
/// still fails the same way (and Kafka's limits still hold); returns the knobs restored, with their drawn values.
fn restore_knobs(trials: &mut Trials, scenario: &mut Scenario, schedule: &Option<FaultSchedule>) -> Vec<KnobValue> {
    let count = scenario.knobs.values.as_ref().map_or(0, Vec::len);
    let mut restored = Vec::new();
    for index in 0..count {
        let current = scenario.knobs.values.as_ref().expect("counted above")[index].clone();
        if current.value == current.default {
            continue;
        }
        let mut candidate = scenario.clone();
        candidate.knobs.values.as_mut().expect("counted above")[index].value = current.default;
        let (applied, _) = knobs::apply(&candidate, trials.seed);
        if knobs::check(&applied).is_err() || applied.validate().is_err() {
            continue;
        }
        if trials.fails(&candidate, schedule.clone()) {
            *scenario = candidate;
            restored.push(current);
        }
    }
    restored
}

/// One size of the workload that shrinking makes smaller: its value, if the scenario has it, and the least it
/// may become (a trial still has to pass the scenario's validation and keep failing).
struct Size {
    get: fn(&Scenario) -> Option<u32>,
    set: fn(&mut Scenario, u32),
    least: u32,
}

/// The sizes, in the order they are tried. Records and transactions first: they change no node ids. Then whole
/// clients, each removed from the end of its group (a fault on a removed client goes with it, the others are
/// moved onto the renumbered nodes by [`remap_faults`]): consumers beyond the ones the finding needs, atomic
/// writers, pipeline instances, producers.
const SIZES: [Size; 8] = [
    Size {
        get: |scenario| Some(scenario.workload.messages_per_producer),
        set: |scenario, value| scenario.workload.messages_per_producer = value,
        least: 1,
    },
    Size {
        get: |scenario| (scenario.workload.atomic_writers > 0).then_some(scenario.workload.atomic_txns_per_writer),
        set: |scenario, value| scenario.workload.atomic_txns_per_writer = value,
        least: 1,
    },
    Size {
        get: |scenario| (scenario.workload.atomic_writers > 0).then_some(scenario.workload.atomic_partitions_per_txn),
        set: |scenario, value| scenario.workload.atomic_partitions_per_txn = value,
        least: 1,
    },
    Size {
        get: |scenario| scenario.workload.pipeline.as_ref().map(|pipeline| pipeline.max_records_per_txn),
        set: |scenario, value| {
            if let Some(pipeline) = &mut scenario.workload.pipeline {
                pipeline.max_records_per_txn = value;
            }
        },
        least: 1,
    },
    Size {
        get: |scenario| Some(scenario.workload.consumers),
        set: |scenario, value| scenario.workload.consumers = value,
        least: 0,
    },
    Size {
        get: |scenario| (scenario.workload.atomic_writers > 0).then_some(scenario.workload.atomic_writers),
        set: |scenario, value| scenario.workload.atomic_writers = value,
        least: 0,
    },
    Size {
        get: |scenario| scenario.workload.pipeline.as_ref().map(|pipeline| pipeline.instances),
        set: |scenario, value| {
            if let Some(pipeline) = &mut scenario.workload.pipeline {
                pipeline.instances = value;
            }
        },
        least: 1,
    },
    Size {
        get: |scenario| Some(scenario.workload.producers),
        set: |scenario, value| scenario.workload.producers = value,
        least: 0,
    },
];

/// Makes each size smaller — halved, else one less — as long as the run still fails, moving the schedule onto
/// the nodes that remain; true when anything got smaller.
fn shrink_workload(trials: &mut Trials, scenario: &mut Scenario, faults: &mut Option<Vec<Fault>>) -> bool {
    let mut changed = false;
    for size in &SIZES {
        while let Some(value) = (size.get)(scenario).filter(|value| *value > size.least) {
            let accepted = smaller_values(value, size.least).into_iter().find_map(|next| {
                let mut candidate = scenario.clone();
                (size.set)(&mut candidate, next);
                if candidate.validate().is_err() {
                    return None;
                }
                let moved = faults.as_ref().map(|faults| remap_faults(scenario, &candidate, faults));
                let schedule = moved.clone().map(|faults| FaultSchedule { faults });
                trials.fails(&candidate, schedule).then_some((candidate, moved))
            });
            let Some((candidate, moved)) = accepted else { break };
            *scenario = candidate;
            *faults = moved;
            changed = true;
        }
    }
    changed
}

/// The values to try in place of `value`, largest step first: half, three quarters, and one less while that is
/// still a small step (a count of clients or of records per transaction; a long message count is not walked
/// down one by one). Each at least `least`, each tried once.
fn smaller_values(value: u32, least: u32) -> Vec<u32> {
    let mut values = vec![(value / 2).max(least), value - value / 4];
    if value <= SMALL_COUNT {
        values.push(value - 1);
    }
    values.retain(|next| *next < value && *next >= least);
    values.dedup();
    values
}

/// Up to this count a size is also tried one less: the clients and transaction sizes of a scenario.
const SMALL_COUNT: u32 = 16;

/// `faults`, written for the nodes of `before`, moved onto the nodes of `after` by node name (`writer-1` stays
/// `writer-1` when a producer before it is removed). A crash or pause of a node `after` lacks is dropped, as is
/// that node from a partition's side; a partition left with an empty side is dropped.
fn remap_faults(before: &Scenario, after: &Scenario, faults: &[Fault]) -> Vec<Fault> {
    let (old, new) = (node_names(before), node_names(after));
    if old == new {
        return faults.to_vec();
    }
    let moved = |node: NodeId| {
        let name = old.get(node.0 as usize)?;
        new.iter().position(|candidate| candidate == name).map(|index| NodeId(index as u32))
    };
    let side = |nodes: &[NodeId]| nodes.iter().filter_map(|node| moved(*node)).collect::<Vec<_>>();
    faults
        .iter()
        .filter_map(|fault| {
            let action = match &fault.action {
                FaultAction::Crash { node, kind } => FaultAction::Crash { node: moved(*node)?, kind: *kind },
                FaultAction::Pause { node, kind } => FaultAction::Pause { node: moved(*node)?, kind: *kind },
                FaultAction::Partition { kind, side_a, side_b } => {
                    let (side_a, side_b) = (side(side_a), side(side_b));
                    if side_a.is_empty() || side_b.is_empty() {
                        return None;
                    }
                    FaultAction::Partition { kind: *kind, side_a, side_b }
                }
                link @ FaultAction::Link { .. } => link.clone(),
            };
            Some(Fault { action, ..fault.clone() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test that fails when every item of `needed` is kept.
    fn needs(needed: &'static [usize]) -> impl FnMut(&[usize]) -> bool {
        move |kept| needed.iter().all(|item| kept.contains(item))
    }

    #[test]
    fn ddmin_finds_the_faults_that_matter() {
        assert_eq!(ddmin((0..16).collect(), &mut needs(&[3, 11])), vec![3, 11]);
        assert_eq!(ddmin((0..7).collect(), &mut needs(&[6])), vec![6]);
        assert_eq!(ddmin((0..5).collect(), &mut needs(&[])), Vec::<usize>::new());
        assert_eq!(ddmin((0..9).collect(), &mut needs(&[0, 4, 8])), vec![0, 4, 8]);
    }

    #[test]
    fn ddmin_is_1_minimal_for_a_test_with_alternatives() {
        // Fails with both of {1, 2} or with 5 alone: either answer is 1-minimal, and the same one comes out twice.
        let mut test = |kept: &[usize]| (kept.contains(&1) && kept.contains(&2)) || kept.contains(&5);
        let first = ddmin((0..8).collect(), &mut test);
        assert_eq!(first, ddmin((0..8).collect(), &mut test));
        for index in 0..first.len() {
            let mut smaller = first.clone();
            smaller.remove(index);
            assert!(!test(&smaller), "removing {} keeps it failing: {first:?}", first[index]);
        }
    }

    #[test]
    fn sizes_shrink_by_halves_quarters_and_small_steps() {
        assert_eq!(smaller_values(3, 0), vec![1, 2]);
        assert_eq!(smaller_values(2, 1), vec![1]);
        assert_eq!(smaller_values(1, 1), Vec::<u32>::new());
        assert_eq!(smaller_values(16, 1), vec![8, 12, 15]);
        assert_eq!(smaller_values(120, 1), vec![60, 90]);
    }

    #[test]
    fn a_removed_client_takes_its_faults_and_the_rest_follow_their_nodes() {
        let before = crate::scenarios::load("atomic-writer").expect("built in").scenario;
        let mut after = before.clone();
        after.workload.consumers -= 1;
        after.workload.atomic_writers -= 1;
        let names = node_names(&before);
        let id = |name: &str| NodeId(names.iter().position(|node| node == name).expect("a node") as u32);
        let last_writer = format!("writer-{}", before.workload.atomic_writers - 1);
        let crash = |node| Fault {
            at_ns: 1,
            duration_ns: 2,
            action: FaultAction::Crash { node, kind: eosim_sim::FaultKind::ClientCrash },
        };
        let faults = vec![crash(id("writer-0")), crash(id(&last_writer)), crash(id("broker-0"))];
        let moved = remap_faults(&before, &after, &faults);
        let after_names = node_names(&after);
        let struck: Vec<&str> = moved
            .iter()
            .map(|fault| match &fault.action {
                FaultAction::Crash { node, .. } => after_names[node.0 as usize].as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(struck, vec!["writer-0", "broker-0"], "the removed writer's crash is gone");
        assert_ne!(moved[0], faults[0], "writer-0 moved down with the consumer removed before it");
    }

    #[test]
    fn chunks_cover_the_items_in_order() {
        assert_eq!(split(&[1, 2, 3, 4, 5], 2), vec![vec![1, 2, 3], vec![4, 5]]);
        assert_eq!(split(&[1, 2, 3], 3), vec![vec![1], vec![2], vec![3]]);
        assert_eq!(without(&split(&[1, 2, 3, 4], 4), 1), vec![1, 3, 4]);
    }
}
