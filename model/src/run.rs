//! One simulated run of a scenario: build the cluster, inject the faults, quiesce, read to the end.

use crate::broker::Broker;
use crate::consumer::{ConsumerApp, ConsumerSettings};
use crate::node::{Node, Phase, Shared};
use crate::producer_app::{ProducerApp, ProducerWorkload};
use crate::protocol::PartitionId;
use crate::scenario::{fault_kind_name, Scenario};
use eosim_checker::History;
use eosim_sim::{FaultPlan, FaultSchedule, FaultTargets, NodeId, NodeRole, SwarmChoices, World, WorldOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counters of one run: what the kernel did and what the protocol exercised.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStats {
    /// Events the kernel handled.
    pub events: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// Messages lost (loss windows, partitions, crashed targets).
    pub messages_dropped: u64,
    /// Virtual time at the end of the run, in nanoseconds.
    pub virtual_ns: u64,
    /// Faults injected, by scenario-file kind name.
    pub faults: BTreeMap<String, u64>,
    /// Protocol coverage: broker error codes returned, client retries, epoch bumps, and so on.
    pub counters: BTreeMap<String, u64>,
}

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct SimOutcome {
    /// The seed.
    pub seed: u64,
    /// The trace hash (32 hex digits).
    pub trace_hash: String,
    /// What the clients observed.
    pub history: History,
    /// This seed's swarm choices.
    pub swarm: SwarmChoices,
    /// The resolved fault schedule.
    pub schedule: FaultSchedule,
    /// Counters.
    pub stats: RunStats,
    /// Set when the quiescent phase did not settle within its bound: what was stuck.
    pub stall: Option<String>,
}

/// Runs `scenario` with `seed`; uses the scenario's explicit schedule when it has one.
///
/// The run reads in order: build the cluster, resolve the fault plan, run the faulty phase, heal every
/// fault, let producers settle, let consumers read every partition to its end, collect.
pub fn simulate(scenario: &Scenario, seed: u64) -> SimOutcome {
    let cluster = Cluster::new(scenario);
    let (swarm, schedule) = match scenario.fault_plan() {
        FaultPlan::Schedule(schedule) => (SwarmChoices::default(), schedule),
        FaultPlan::Swarm(spec) => spec.resolve(seed, &cluster.fault_targets(), scenario.duration_ns()),
    };
    let options = WorldOptions { seed, network: scenario.network_options() };
    let mut world = World::new(options, cluster.nodes(scenario), cluster.shared());
    world.install_faults(schedule.clone());
    world.run_until(scenario.duration_ns());
    let stall = transition_to_liveness_mode(&mut world, scenario);
    let stats = run_stats(&world);
    let trace_hash = world.trace_hash();
    let (_, shared) = world.into_parts();
    SimOutcome { seed, trace_hash, history: shared.history, swarm, schedule, stats, stall }
}

/// Heals every fault, waits for producers to settle, then for every consumer's final poll; returns what
/// was stuck if either does not happen within the scenario's bound.
fn transition_to_liveness_mode(world: &mut World<Node>, scenario: &Scenario) -> Option<String> {
    world.heal_all();
    world.shared_mut().phase = Phase::Quiescent;
    let settle_end_ns = world.now_ns() + scenario.quiesce_ns();
    let producers_settled = world.run_until_done(settle_end_ns, |world| {
        nodes(world).all(|node| !matches!(node, Node::Producer(app) if !app.is_settled()))
    });
    if !producers_settled {
        return Some(format!("producers did not settle within {} ms of the heal", scenario.quiesce_ms));
    }
    world.shared_mut().phase = Phase::FinalRead;
    let read_end_ns = world.now_ns() + scenario.quiesce_ns();
    let consumers_done = world.run_until_done(read_end_ns, |world| {
        nodes(world).all(|node| !matches!(node, Node::Consumer(app) if !app.finished_final_poll()))
    });
    if !consumers_done {
        return Some(format!("consumers did not finish their final poll within {} ms", scenario.quiesce_ms));
    }
    None
}

fn nodes(world: &World<Node>) -> impl Iterator<Item = &Node> {
    (0..world.node_count()).map(|index| world.actor(NodeId(index as u32)))
}

fn run_stats(world: &World<Node>) -> RunStats {
    let kernel = world.stats();
    RunStats {
        events: kernel.events,
        messages_sent: kernel.messages_sent,
        messages_dropped: kernel.messages_dropped,
        virtual_ns: world.now_ns(),
        faults: kernel.faults.iter().map(|(kind, count)| (fault_kind_name(*kind).to_string(), *count)).collect(),
        counters: world.shared().counters.iter().map(|(name, count)| (name.to_string(), *count)).collect(),
    }
}

/// Which node is what: brokers first, then producer applications, then consumers.
struct Cluster {
    brokers: Vec<NodeId>,
    producers: Vec<NodeId>,
    consumers: Vec<NodeId>,
    keys: Vec<String>,
}

impl Cluster {
    fn new(scenario: &Scenario) -> Cluster {
        let broker_count = scenario.cluster.brokers;
        let producer_count = scenario.workload.producers;
        let consumer_count = scenario.workload.consumers;
        let brokers = (0..broker_count).map(NodeId).collect();
        let producers = (broker_count..broker_count + producer_count).map(NodeId).collect();
        let first_consumer = broker_count + producer_count;
        let consumers = (first_consumer..first_consumer + consumer_count).map(NodeId).collect();
        Cluster { brokers, producers, consumers, keys: scenario.keys() }
    }

    /// Partition `i` is led by broker `i % brokers`.
    fn leader(&self, partition: usize) -> NodeId {
        self.brokers[partition % self.brokers.len()]
    }

    fn fault_targets(&self) -> FaultTargets {
        let all = self.brokers.iter().chain(&self.producers).chain(&self.consumers).copied().collect();
        FaultTargets { servers: self.brokers.clone(), clients: self.producers.clone(), all }
    }

    fn shared(&self) -> Shared {
        Shared {
            history: History::new(),
            next_process: 0,
            phase: Phase::Faulty,
            counters: BTreeMap::new(),
            keys: self.keys.clone(),
            leaders: (0..self.keys.len()).map(|partition| self.leader(partition)).collect(),
            brokers: self.brokers.clone(),
        }
    }

    fn nodes(&self, scenario: &Scenario) -> Vec<(Node, NodeRole)> {
        let partition_count = self.keys.len() as u32;
        let mut nodes = Vec::new();
        for (index, broker) in self.brokers.iter().enumerate() {
            let led: Vec<PartitionId> =
                (0..partition_count).filter(|p| self.leader(*p as usize) == *broker).map(PartitionId).collect();
            let broker = Broker::new(index as u32, self.brokers.len() as u32, &led);
            nodes.push((Node::Broker(broker), NodeRole::Server));
        }
        let workload = ProducerWorkload {
            threads: scenario.workload.threads_per_producer,
            messages_total: scenario.workload.messages_per_producer,
            send_interval_ns: scenario.workload.send_interval_ms * 1_000_000,
            partition_count,
        };
        for index in 0..self.producers.len() {
            let app =
                ProducerApp::new(index as u32, scenario.producer_settings(), workload.clone(), self.brokers.clone());
            nodes.push((Node::Producer(app), NodeRole::Client));
        }
        let settings = ConsumerSettings {
            poll_interval_ns: scenario.workload.poll_interval_ms * 1_000_000,
            request_timeout_ns: scenario.producer_settings().request_timeout_ns,
            partition_count,
        };
        for _ in &self.consumers {
            nodes.push((Node::Consumer(ConsumerApp::new(settings.clone())), NodeRole::Client));
        }
        nodes
    }
}
