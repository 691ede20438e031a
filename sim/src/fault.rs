//! Fault plans: an explicit schedule of faults, or a swarm description resolved into one before the run.
//!
//! A [`FaultSchedule`] is a list of [`Fault`]s, each with a start time, a duration and an action. It is what a
//! repro file stores and what a shrinker edits: removing one fault removes both its start and its end.
//! A [`SwarmSpec`] says which fault kinds a scenario may use and how often; [`SwarmSpec::resolve`] draws,
//! from the seed's swarm and fault streams only, which kinds are on for this seed (swarm testing, as in
//! FoundationDB and TigerBeetle's VOPR), at what rate, and then every fault of the run.

use crate::network::LinkFault;
use crate::rng::{Ratio, SimRng, Stream};
use crate::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Which messages a link fault affects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkDirection {
    /// Client to server: a lost request never reaches the broker.
    Requests,
    /// Server to client: a lost ack, the work was done but the client never hears of it.
    Acks,
    /// Server to server.
    BetweenServers,
    /// Every link.
    Any,
}

/// The shape of a network partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionKind {
    /// Neither side reaches the other.
    Symmetric,
    /// Side A cannot reach side B; B still reaches A.
    OneWay,
    /// Neither side reaches the other, except the bridge node, which is on both sides.
    Bridge {
        /// The node that still talks to everyone.
        bridge: NodeId,
    },
}

/// The kinds of fault a scenario can turn on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Requests from clients to servers are lost.
    LostRequest,
    /// Responses from servers to clients are lost.
    LostAck,
    /// Messages are delivered twice.
    Duplicate,
    /// Messages are held back at random, so they arrive out of order.
    Delay,
    /// The network splits in two (symmetric, one-way or bridge).
    Partition,
    /// A server process crashes (losing its volatile state; what it wrote to storage stays, flushed or not,
    /// as the operating system's page cache keeps it) and later restarts.
    ServerCrash,
    /// A server stops for a while (a GC pause) and resumes unaware.
    ServerPause,
    /// A client crashes and its application restarts.
    ClientCrash,
    /// A client stops for a while and resumes unaware: the zombie maker.
    ClientPause,
    /// The node that controls the cluster (elects leaders) crashes and later restarts.
    ControllerCrash,
    /// A consumer (a group member) crashes and restarts as a new member.
    ConsumerCrash,
    /// A consumer stops for a while and resumes unaware: its group rebalances meanwhile.
    ConsumerPause,
    /// A server loses power: its volatile state and its unflushed storage are lost; it later restarts. Last in
    /// the order so that the kinds before it keep their place (and their hashes) in every schedule.
    ServerPowerLoss,
}

impl FaultKind {
    /// Every kind, in a fixed order.
    pub const ALL: [FaultKind; 13] = [
        FaultKind::LostRequest,
        FaultKind::LostAck,
        FaultKind::Duplicate,
        FaultKind::Delay,
        FaultKind::Partition,
        FaultKind::ServerCrash,
        FaultKind::ServerPause,
        FaultKind::ClientCrash,
        FaultKind::ClientPause,
        FaultKind::ControllerCrash,
        FaultKind::ConsumerCrash,
        FaultKind::ConsumerPause,
        FaultKind::ServerPowerLoss,
    ];

    /// The kebab-case name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::LostRequest => "lost-request",
            FaultKind::LostAck => "lost-ack",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Delay => "delay",
            FaultKind::Partition => "partition",
            FaultKind::ServerCrash => "server-crash",
            FaultKind::ServerPause => "server-pause",
            FaultKind::ClientCrash => "client-crash",
            FaultKind::ClientPause => "client-pause",
            FaultKind::ControllerCrash => "controller-crash",
            FaultKind::ConsumerCrash => "consumer-crash",
            FaultKind::ConsumerPause => "consumer-pause",
            FaultKind::ServerPowerLoss => "server-power-loss",
        }
    }

    /// True for the kind whose crash also loses the node's unflushed storage: the world calls
    /// [`crate::Actor::on_power_loss`] for it, [`crate::Actor::on_crash`] for every other crash.
    pub fn loses_unflushed_storage(self) -> bool {
        self == FaultKind::ServerPowerLoss
    }

    /// The kind with this name.
    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a fault does while it lasts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum FaultAction {
    /// Loses, duplicates or delays messages on a class of links.
    Link {
        /// The kind it was drawn as (lost-request, lost-ack, duplicate or delay).
        kind: FaultKind,
        /// Which messages it affects.
        direction: LinkDirection,
        /// Chance per message, in parts per million.
        probability_ppm: u64,
        /// Largest extra delay for delay faults, in nanoseconds.
        delay_ns_max: u64,
    },
    /// Splits the network; healed at the end.
    Partition {
        /// Shape of the partition.
        kind: PartitionKind,
        /// One side.
        side_a: Vec<NodeId>,
        /// The other side.
        side_b: Vec<NodeId>,
    },
    /// Crashes a node; it restarts at the end.
    Crash {
        /// The node.
        node: NodeId,
        /// The kind it counts as (server crash, server power loss, client or controller crash).
        kind: FaultKind,
    },
    /// Pauses a node; it resumes at the end.
    Pause {
        /// The node.
        node: NodeId,
        /// The kind it counts as (server or client pause).
        kind: FaultKind,
    },
}

impl FaultAction {
    /// The fault kind this action counts as.
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultAction::Link { kind, .. } | FaultAction::Crash { kind, .. } | FaultAction::Pause { kind, .. } => *kind,
            FaultAction::Partition { .. } => FaultKind::Partition,
        }
    }

    /// The link window this action opens, if it is a link fault.
    pub fn link_fault(&self) -> Option<LinkFault> {
        let FaultAction::Link { kind, direction, probability_ppm, delay_ns_max } = *self else {
            return None;
        };
        let probability = Ratio::per_million(probability_ppm);
        let mut fault = LinkFault {
            direction,
            drop_probability: Ratio::ZERO,
            duplicate_probability: Ratio::ZERO,
            delay_probability: Ratio::ZERO,
            delay_ns_max,
        };
        match kind {
            FaultKind::Duplicate => fault.duplicate_probability = probability,
            FaultKind::Delay => fault.delay_probability = probability,
            _ => fault.drop_probability = probability,
        }
        Some(fault)
    }
}

/// One fault: it starts at `at_ns` and ends (heals, restarts, resumes) `duration_ns` later.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fault {
    /// Start, in virtual nanoseconds from the beginning of the run.
    pub at_ns: u64,
    /// How long it lasts, in nanoseconds.
    pub duration_ns: u64,
    /// What it does.
    #[serde(flatten)]
    pub action: FaultAction,
}

/// An explicit list of faults, in start order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FaultSchedule {
    /// The faults, sorted by start time.
    pub faults: Vec<Fault>,
}

/// How often and how hard one fault kind strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindSpec {
    /// Mean time between two faults of this kind, in nanoseconds (a Poisson process).
    pub mean_interval_ns: u64,
    /// Shortest duration of one fault, in nanoseconds.
    pub duration_ns_min: u64,
    /// Longest duration of one fault, in nanoseconds.
    pub duration_ns_max: u64,
    /// For link faults: chance per message while the fault lasts.
    pub probability: Ratio,
    /// For delay faults: largest extra delay, in nanoseconds.
    pub delay_ns_max: u64,
}

/// The nodes a resolved fault may strike.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultTargets {
    /// Servers that may crash or pause.
    pub servers: Vec<NodeId>,
    /// Clients that may crash or pause.
    pub clients: Vec<NodeId>,
    /// Controllers that may crash.
    pub controllers: Vec<NodeId>,
    /// Consumers (group members) that may crash or pause.
    pub consumers: Vec<NodeId>,
    /// Every node, for partitions.
    pub all: Vec<NodeId>,
}

/// Which fault kinds a scenario may use, and whether each seed picks a random subset of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmSpec {
    /// When true, each seed turns each kind on with probability 1/2 (at least one stays on) and scales its
    /// rate by 1/4, 1/2, 1 or 2; when false, every kind is on at its given rate.
    pub swarm: bool,
    /// The kinds and their rates.
    pub kinds: BTreeMap<FaultKind, KindSpec>,
}

/// The per-seed swarm choices: each kind on, with its rate in percent of the scenario's rate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmChoices {
    /// Kinds turned on for this seed, with their rate in percent.
    pub enabled: BTreeMap<FaultKind, u64>,
}

impl fmt::Display for SwarmChoices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.enabled.is_empty() {
            return writeln!(f, "faults: none");
        }
        for (kind, rate_percent) in &self.enabled {
            writeln!(f, "fault {kind}: on, rate {rate_percent}%")?;
        }
        Ok(())
    }
}

/// A fault plan as a scenario gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultPlan {
    /// An explicit schedule, used as is.
    Schedule(FaultSchedule),
    /// A swarm description, resolved per seed.
    Swarm(SwarmSpec),
}

impl SwarmSpec {
    /// Draws this seed's swarm choices and every fault that starts before `phase_ns`.
    pub fn resolve(&self, seed: u64, targets: &FaultTargets, phase_ns: u64) -> (SwarmChoices, FaultSchedule) {
        let choices = self.options_swarm(&mut SimRng::new(seed, Stream::Swarm));
        let mut rng = SimRng::new(seed, Stream::Faults);
        let mut faults = Vec::new();
        for (kind, rate_percent) in &choices.enabled {
            let spec = self.kinds[kind];
            let mean_interval_ns = (spec.mean_interval_ns.max(1) as u128 * 100 / u128::from(*rate_percent)) as u64;
            let mut at_ns = 0u64;
            loop {
                at_ns += rng.exponential_ns(mean_interval_ns).max(1);
                if at_ns >= phase_ns {
                    break;
                }
                let duration_ns =
                    rng.range_inclusive(spec.duration_ns_min, spec.duration_ns_max.max(spec.duration_ns_min));
                let duration_ns = duration_ns.min(phase_ns - at_ns);
                let Some(action) = draw_action(&mut rng, *kind, &spec, targets) else {
                    break;
                };
                let fault = Fault { at_ns, duration_ns, action };
                if !overlaps_node_fault(&faults, &fault) {
                    faults.push(fault);
                }
            }
        }
        // Stable sort: equal start times keep kind order, itself fixed by the BTreeMap.
        faults.sort_by_key(|fault| fault.at_ns);
        (choices, FaultSchedule { faults })
    }

    fn options_swarm(&self, rng: &mut SimRng) -> SwarmChoices {
        const RATES_PERCENT: [u64; 4] = [25, 50, 100, 200];
        let mut enabled = BTreeMap::new();
        for kind in self.kinds.keys() {
            // Draw both numbers for every kind whether or not it is used, so one kind's choice never shifts
            // another's.
            let on = rng.below(2) == 0;
            let rate_percent = *rng.pick(&RATES_PERCENT);
            if !self.swarm {
                enabled.insert(*kind, 100);
            } else if on {
                enabled.insert(*kind, rate_percent);
            }
        }
        if self.swarm && enabled.is_empty() {
            if let Some(kind) = self.kinds.keys().nth(rng.below(self.kinds.len().max(1) as u64) as usize) {
                enabled.insert(*kind, 100);
            }
        }
        SwarmChoices { enabled }
    }
}

/// Crash storms: several crashes close together, as when a rack loses power or a bad rollout restarts node
/// after node. A storm starts at a crash the plan already scheduled and adds crashes of the same kind on
/// other nodes of that kind shortly after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StormSpec {
    /// Chance that a scheduled crash starts a storm.
    pub probability: Ratio,
    /// Most extra crashes in one storm; at least one.
    pub crashes_max: u64,
    /// The extra crashes start within this long after the first, in nanoseconds.
    pub window_ns: u64,
}

impl FaultSchedule {
    /// This schedule with crash storms added, drawn from the seed's storm stream only, so that storms never
    /// shift the faults the plan drew; the result is sorted by start time.
    pub fn with_storms(mut self, seed: u64, storm: &StormSpec, targets: &FaultTargets, phase_ns: u64) -> FaultSchedule {
        assert!(storm.crashes_max >= 1, "a storm adds at least one crash");
        let mut rng = SimRng::new(seed, Stream::Storms);
        let firsts: Vec<Fault> =
            self.faults.iter().filter(|fault| matches!(fault.action, FaultAction::Crash { .. })).cloned().collect();
        for first in firsts {
            let FaultAction::Crash { kind, .. } = first.action else { unreachable!("filtered to crashes") };
            // Both numbers are drawn for every crash, so one crash's storm never shifts another's.
            let storms = rng.chance(storm.probability);
            let extra = rng.range_inclusive(1, storm.crashes_max);
            if !storms {
                continue;
            }
            for _ in 0..extra {
                let at_ns = first.at_ns + rng.range_inclusive(0, storm.window_ns);
                let Some(node) = pick_node(&mut rng, crash_targets(targets, kind)) else { break };
                if at_ns >= phase_ns {
                    continue;
                }
                let duration_ns = first.duration_ns.min(phase_ns - at_ns);
                let fault = Fault { at_ns, duration_ns, action: FaultAction::Crash { node: *node, kind } };
                if !overlaps_node_fault(&self.faults, &fault) {
                    self.faults.push(fault);
                }
            }
        }
        self.faults.sort_by_key(|fault| fault.at_ns);
        self
    }
}

impl FaultSchedule {
    /// Checks a schedule read from a file against the nodes of the cluster it will run on: every node a fault
    /// names is one that kind of fault may strike, each action fits its kind, a probability is at most one in
    /// one, and no fault ends past `u64::MAX` nanoseconds. The error names the fault by its index.
    pub fn check(&self, targets: &FaultTargets) -> Result<(), ScheduleError> {
        for (index, fault) in self.faults.iter().enumerate() {
            check_fault(fault, targets).map_err(|message| ScheduleError { index, message })?;
        }
        Ok(())
    }
}

/// A fault of a schedule that does not fit the cluster it is to run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    /// The fault's index in the schedule.
    pub index: usize,
    /// What is wrong, and what was expected.
    pub message: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault {}: {}", self.index, self.message)
    }
}

impl std::error::Error for ScheduleError {}

fn check_fault(fault: &Fault, targets: &FaultTargets) -> Result<(), String> {
    if fault.at_ns.checked_add(fault.duration_ns).is_none() {
        return Err(format!("at_ns {} + duration_ns {} overflow u64 nanoseconds", fault.at_ns, fault.duration_ns));
    }
    let kind = fault.action.kind();
    let node_of = |node: NodeId, allowed: &[NodeId], role: &str| {
        if allowed.contains(&node) {
            return Ok(());
        }
        let ids: Vec<String> = allowed.iter().map(|node| node.0.to_string()).collect();
        Err(format!(
            "{kind} names node {}, which is not a {role} of this cluster (expected one of: {})",
            node.0,
            ids.join(" ")
        ))
    };
    match &fault.action {
        FaultAction::Link { probability_ppm, .. } => {
            if !matches!(kind, FaultKind::LostRequest | FaultKind::LostAck | FaultKind::Duplicate | FaultKind::Delay) {
                return Err(format!("a link fault of kind {kind} (expected lost-request|lost-ack|duplicate|delay)"));
            }
            if *probability_ppm > 1_000_000 {
                return Err(format!("probability_ppm {probability_ppm} is out of range (expected 0..=1000000)"));
            }
            Ok(())
        }
        FaultAction::Partition { kind: shape, side_a, side_b } => {
            for node in side_a.iter().chain(side_b) {
                node_of(*node, &targets.all, "node")?;
            }
            match shape {
                PartitionKind::Bridge { bridge } => node_of(*bridge, &targets.all, "node"),
                _ => Ok(()),
            }
        }
        FaultAction::Crash { node, .. } => {
            let crash_kinds = [
                FaultKind::ServerCrash,
                FaultKind::ServerPowerLoss,
                FaultKind::ClientCrash,
                FaultKind::ControllerCrash,
                FaultKind::ConsumerCrash,
            ];
            if !crash_kinds.contains(&kind) {
                return Err(format!("a crash of kind {kind} (expected a crash kind)"));
            }
            node_of(*node, crash_targets(targets, kind), role_of(kind))
        }
        FaultAction::Pause { node, .. } => {
            let allowed: &[NodeId] = match kind {
                FaultKind::ServerPause => &targets.servers,
                FaultKind::ClientPause => &targets.clients,
                FaultKind::ConsumerPause => &targets.consumers,
                _ => return Err(format!("a pause of kind {kind} (expected server-pause|client-pause|consumer-pause)")),
            };
            node_of(*node, allowed, role_of(kind))
        }
    }
}

/// What the nodes a fault of `kind` strikes are called in an error.
fn role_of(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::ServerCrash | FaultKind::ServerPause | FaultKind::ServerPowerLoss => "server (broker)",
        FaultKind::ClientCrash | FaultKind::ClientPause => "client (producer)",
        FaultKind::ControllerCrash => "controller",
        FaultKind::ConsumerCrash | FaultKind::ConsumerPause => "consumer",
        _ => "node",
    }
}

/// The nodes a crash of `kind` may strike.
fn crash_targets(targets: &FaultTargets, kind: FaultKind) -> &[NodeId] {
    match kind {
        FaultKind::ServerCrash | FaultKind::ServerPowerLoss => &targets.servers,
        FaultKind::ClientCrash => &targets.clients,
        FaultKind::ControllerCrash => &targets.controllers,
        FaultKind::ConsumerCrash => &targets.consumers,
        _ => &[],
    }
}

fn draw_action(rng: &mut SimRng, kind: FaultKind, spec: &KindSpec, targets: &FaultTargets) -> Option<FaultAction> {
    let probability_ppm = spec.probability.numerator * 1_000_000 / spec.probability.denominator;
    let link = |direction| FaultAction::Link { kind, direction, probability_ppm, delay_ns_max: spec.delay_ns_max };
    let action = match kind {
        FaultKind::LostRequest => link(LinkDirection::Requests),
        FaultKind::LostAck => link(LinkDirection::Acks),
        FaultKind::Duplicate | FaultKind::Delay => link(LinkDirection::Any),
        FaultKind::Partition => draw_partition(rng, &targets.all)?,
        FaultKind::ServerCrash | FaultKind::ServerPowerLoss => {
            FaultAction::Crash { node: *pick_node(rng, &targets.servers)?, kind }
        }
        FaultKind::ServerPause => FaultAction::Pause { node: *pick_node(rng, &targets.servers)?, kind },
        FaultKind::ClientCrash => FaultAction::Crash { node: *pick_node(rng, &targets.clients)?, kind },
        FaultKind::ClientPause => FaultAction::Pause { node: *pick_node(rng, &targets.clients)?, kind },
        FaultKind::ControllerCrash => FaultAction::Crash { node: *pick_node(rng, &targets.controllers)?, kind },
        FaultKind::ConsumerCrash => FaultAction::Crash { node: *pick_node(rng, &targets.consumers)?, kind },
        FaultKind::ConsumerPause => FaultAction::Pause { node: *pick_node(rng, &targets.consumers)?, kind },
    };
    Some(action)
}

fn pick_node<'a>(rng: &mut SimRng, nodes: &'a [NodeId]) -> Option<&'a NodeId> {
    if nodes.is_empty() {
        return None;
    }
    Some(rng.pick(nodes))
}

/// A random split of `nodes` into two non-empty sides, in one of the three shapes.
fn draw_partition(rng: &mut SimRng, nodes: &[NodeId]) -> Option<FaultAction> {
    if nodes.len() < 2 {
        return None;
    }
    let mut shuffled = nodes.to_vec();
    for i in (1..shuffled.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        shuffled.swap(i, j);
    }
    let split = rng.range_inclusive(1, shuffled.len() as u64 - 1) as usize;
    let mut side_a = shuffled[..split].to_vec();
    let mut side_b = shuffled[split..].to_vec();
    let shape = rng.below(3);
    let kind = if shape == 0 || nodes.len() < 3 {
        PartitionKind::Symmetric
    } else if shape == 1 {
        PartitionKind::OneWay
    } else {
        // The bridge is the first node of side B, also placed on side A.
        let bridge = side_b[0];
        if side_b.len() == 1 {
            side_b.push(side_a.pop()?);
            if side_a.is_empty() {
                return None;
            }
        }
        side_a.push(bridge);
        PartitionKind::Bridge { bridge }
    };
    side_a.sort();
    side_b.sort();
    Some(FaultAction::Partition { kind, side_a, side_b })
}

/// True if `fault` crashes or pauses a node that an earlier fault already holds down at that time: a node
/// cannot crash while it is down.
fn overlaps_node_fault(faults: &[Fault], fault: &Fault) -> bool {
    let node_of = |action: &FaultAction| match action {
        FaultAction::Crash { node, .. } | FaultAction::Pause { node, .. } => Some(*node),
        _ => None,
    };
    let Some(node) = node_of(&fault.action) else {
        return false;
    };
    let end_ns = fault.at_ns + fault.duration_ns;
    faults.iter().any(|other| {
        node_of(&other.action) == Some(node) && other.at_ns <= end_ns && fault.at_ns <= other.at_ns + other.duration_ns
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(swarm: bool) -> SwarmSpec {
        let mut kinds = BTreeMap::new();
        let base = KindSpec {
            mean_interval_ns: 50_000_000,
            duration_ns_min: 1_000_000,
            duration_ns_max: 20_000_000,
            probability: Ratio::new(1, 2),
            delay_ns_max: 5_000_000,
        };
        for kind in FaultKind::ALL {
            kinds.insert(kind, base);
        }
        SwarmSpec { swarm, kinds }
    }

    fn targets() -> FaultTargets {
        FaultTargets {
            servers: vec![NodeId(0), NodeId(1)],
            clients: vec![NodeId(2), NodeId(3)],
            controllers: vec![NodeId(1)],
            consumers: vec![NodeId(3)],
            all: (0..4).map(NodeId).collect(),
        }
    }

    #[test]
    fn resolve_is_deterministic() {
        let a = spec(true).resolve(11, &targets(), 1_000_000_000);
        let b = spec(true).resolve(11, &targets(), 1_000_000_000);
        assert_eq!(a, b);
        let c = spec(true).resolve(12, &targets(), 1_000_000_000);
        assert_ne!(a.1, c.1);
    }

    #[test]
    fn without_swarm_every_kind_is_on() {
        let (choices, schedule) = spec(false).resolve(3, &targets(), 2_000_000_000);
        assert_eq!(choices.enabled.len(), FaultKind::ALL.len());
        assert!(choices.enabled.values().all(|rate| *rate == 100));
        assert!(!schedule.faults.is_empty());
    }

    #[test]
    fn swarm_turns_kinds_off_across_seeds() {
        let counts: Vec<usize> = (0..20).map(|seed| spec(true).resolve(seed, &targets(), 1).0.enabled.len()).collect();
        assert!(counts.iter().all(|count| *count >= 1));
        assert!(counts.iter().any(|count| *count < FaultKind::ALL.len()));
    }

    #[test]
    fn faults_fit_in_the_phase_and_are_sorted() {
        for seed in 0..50 {
            let (_, schedule) = spec(true).resolve(seed, &targets(), 500_000_000);
            assert!(schedule.faults.windows(2).all(|pair| pair[0].at_ns <= pair[1].at_ns));
            for fault in &schedule.faults {
                assert!(fault.at_ns + fault.duration_ns <= 500_000_000);
            }
        }
    }

    #[test]
    fn a_node_is_never_crashed_twice_at_once() {
        for seed in 0..50 {
            let (_, schedule) = spec(false).resolve(seed, &targets(), 2_000_000_000);
            for (i, fault) in schedule.faults.iter().enumerate() {
                assert!(!overlaps_node_fault(&schedule.faults[..i], fault), "seed {seed}: overlap at {i}");
            }
        }
    }

    #[test]
    fn storms_add_crashes_close_to_a_scheduled_one_and_keep_the_rest() {
        let (_, schedule) = spec(false).resolve(3, &targets(), 2_000_000_000);
        let crashes = |schedule: &FaultSchedule| {
            schedule.faults.iter().filter(|fault| matches!(fault.action, FaultAction::Crash { .. })).count()
        };
        let always = StormSpec { probability: Ratio::new(1, 1), crashes_max: 3, window_ns: 5_000_000 };
        let stormy = schedule.clone().with_storms(3, &always, &targets(), 2_000_000_000);
        assert!(crashes(&stormy) > crashes(&schedule), "a certain storm adds crashes");
        assert!(schedule.faults.iter().all(|fault| stormy.faults.contains(fault)), "no planned fault moves");
        assert!(stormy.faults.windows(2).all(|pair| pair[0].at_ns <= pair[1].at_ns));
        let never = StormSpec { probability: Ratio::ZERO, ..always };
        assert_eq!(schedule.clone().with_storms(3, &never, &targets(), 2_000_000_000), schedule);
    }

    #[test]
    fn partitions_have_two_non_empty_sides() {
        let mut rng = SimRng::new(5, Stream::Faults);
        for _ in 0..200 {
            let Some(FaultAction::Partition { kind, side_a, side_b }) = draw_partition(&mut rng, &targets().all) else {
                panic!("four nodes always split");
            };
            assert!(!side_a.is_empty() && !side_b.is_empty());
            if let PartitionKind::Bridge { bridge } = kind {
                assert!(side_a.contains(&bridge) && side_b.contains(&bridge));
            }
        }
    }

    #[test]
    fn schedule_round_trips_through_json() {
        let (_, schedule) = spec(false).resolve(9, &targets(), 1_000_000_000);
        let json = serde_json::to_string(&schedule).expect("serializable");
        let back: FaultSchedule = serde_json::from_str(&json).expect("parses");
        assert_eq!(schedule, back);
    }

    #[test]
    fn link_actions_set_the_right_probability() {
        let drop = FaultAction::Link {
            kind: FaultKind::LostAck,
            direction: LinkDirection::Acks,
            probability_ppm: 250_000,
            delay_ns_max: 0,
        };
        let fault = drop.link_fault().expect("a link fault");
        assert_eq!(fault.drop_probability, Ratio::per_million(250_000));
        assert!(fault.duplicate_probability.is_zero());
        assert!(FaultAction::Crash { node: NodeId(0), kind: FaultKind::ServerCrash }.link_fault().is_none());
    }
}
