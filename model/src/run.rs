//! One simulated run of a scenario: build the cluster, inject the faults, quiesce, read to the end.

use crate::broker::{Broker, BrokerSettings};
use crate::consumer::{ConsumerApp, ConsumerSettings};
use crate::controller::{Controller, ControllerSettings};
use crate::node::{Node, Phase, Shared};
use crate::producer_app::{ProducerApp, ProducerWorkload};
use crate::protocol::{MetadataImage, PartitionId, PartitionState};
use crate::replica::ReplicationSettings;
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

/// Which node is what: brokers first (broker `i` is node `i`), then the controller, the producer
/// applications and the consumers.
struct Cluster {
    brokers: Vec<NodeId>,
    controller: NodeId,
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
        let controller = NodeId(broker_count);
        let first_producer = broker_count + 1;
        let producers = (first_producer..first_producer + producer_count).map(NodeId).collect();
        let first_consumer = first_producer + producer_count;
        let consumers = (first_consumer..first_consumer + consumer_count).map(NodeId).collect();
        Cluster { brokers, controller, producers, consumers, keys: scenario.keys() }
    }

    /// The replicas of partition `i`: brokers `i, i+1, …` (mod brokers), the first one preferred leader.
    fn replicas(&self, scenario: &Scenario, partition: usize) -> Vec<u32> {
        let broker_count = self.brokers.len();
        (0..scenario.cluster.replication_factor as usize).map(|i| ((partition + i) % broker_count) as u32).collect()
    }

    /// Every partition led by its preferred replica, every replica in sync.
    fn bootstrap_image(&self, scenario: &Scenario) -> MetadataImage {
        let partitions = (0..self.keys.len())
            .map(|partition| {
                let replicas = self.replicas(scenario, partition);
                PartitionState {
                    leader: Some(replicas[0]),
                    leader_epoch: 0,
                    isr: replicas.clone(),
                    replicas,
                    partition_epoch: 0,
                }
            })
            .collect();
        MetadataImage { version: 1, partitions }
    }

    /// Brokers crash and pause; producers crash and pause; the controller crashes; partitions may cut any node.
    fn fault_targets(&self) -> FaultTargets {
        let nodes = self.brokers.iter().chain([&self.controller]).chain(&self.producers).chain(&self.consumers);
        FaultTargets {
            servers: self.brokers.clone(),
            clients: self.producers.clone(),
            controllers: vec![self.controller],
            all: nodes.copied().collect(),
        }
    }

    fn shared(&self) -> Shared {
        Shared {
            history: History::new(),
            next_process: 0,
            phase: Phase::Faulty,
            counters: BTreeMap::new(),
            keys: self.keys.clone(),
        }
    }

    fn nodes(&self, scenario: &Scenario) -> Vec<(Node, NodeRole)> {
        let partition_count = self.keys.len() as u32;
        let bootstrap = self.bootstrap_image(scenario);
        let mut nodes = Vec::new();
        for index in 0..self.brokers.len() as u32 {
            let hosted: Vec<PartitionId> = (0..partition_count)
                .filter(|partition| bootstrap.partitions[*partition as usize].replicas.contains(&index))
                .map(PartitionId)
                .collect();
            let broker = Broker::new(self.broker_settings(scenario, index), &hosted, bootstrap.clone());
            nodes.push((Node::Broker(broker), NodeRole::Server));
        }
        let cluster = &scenario.cluster;
        let controller_settings = ControllerSettings {
            session_timeout_ns: cluster.broker_session_timeout_ms * NS_PER_MS,
            check_interval_ns: cluster.broker_heartbeat_ms * NS_PER_MS,
            unclean_leader_election: cluster.unclean_leader_election,
        };
        let controller = Controller::new(controller_settings, bootstrap, cluster.brokers);
        nodes.push((Node::Controller(controller), NodeRole::Server));
        self.push_clients(scenario, &mut nodes);
        nodes
    }

    fn broker_settings(&self, scenario: &Scenario, broker_index: u32) -> BrokerSettings {
        let cluster = &scenario.cluster;
        BrokerSettings {
            broker_index,
            broker_count: cluster.brokers,
            controller: self.controller,
            heartbeat_ns: cluster.broker_heartbeat_ms * NS_PER_MS,
            fetch_wait_ns: cluster.replica_fetch_wait_ms * NS_PER_MS,
            request_timeout_ns: scenario.producer_settings().request_timeout_ns,
            replication: ReplicationSettings {
                min_insync_replicas: cluster.min_insync_replicas,
                replica_lag_ns: cluster.replica_lag_time_max_ms * NS_PER_MS,
                flush_messages: cluster.flush_messages,
                snapshot_interval_messages: cluster.snapshot_interval_messages,
            },
        }
    }

    fn push_clients(&self, scenario: &Scenario, nodes: &mut Vec<(Node, NodeRole)>) {
        let partition_count = self.keys.len() as u32;
        let workload = ProducerWorkload {
            threads: scenario.workload.threads_per_producer,
            messages_total: scenario.workload.messages_per_producer,
            send_interval_ns: scenario.workload.send_interval_ms * NS_PER_MS,
            partition_count,
        };
        for index in 0..self.producers.len() {
            let app =
                ProducerApp::new(index as u32, scenario.producer_settings(), workload.clone(), self.brokers.clone());
            nodes.push((Node::Producer(app), NodeRole::Client));
        }
        let settings = ConsumerSettings {
            poll_interval_ns: scenario.workload.poll_interval_ms * NS_PER_MS,
            request_timeout_ns: scenario.producer_settings().request_timeout_ns,
            partition_count,
            brokers: self.brokers.clone(),
            isolation: scenario.workload.isolation_level,
        };
        for _ in &self.consumers {
            nodes.push((Node::Consumer(ConsumerApp::new(settings.clone())), NodeRole::Client));
        }
    }
}

const NS_PER_MS: u64 = 1_000_000;
