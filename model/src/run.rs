//! One simulated run of a scenario: build the cluster, inject the faults, quiesce, read to the end.

use crate::app::atomic_writer::{AtomicWriterApp, AtomicWriterSettings};
use crate::app::consumer::{ConsumerApp, ConsumerSettings};
use crate::app::pipeline::{PipelineApp, PipelineSettings, StoreSettings};
use crate::app::producer_app::{ProducerApp, ProducerWorkload};
use crate::app::store::StoreNode;
use crate::broker::controller::{Controller, ControllerSettings};
use crate::broker::replica::ReplicationSettings;
use crate::broker::{Broker, BrokerSettings, TxnVerification};
use crate::buggify::{Buggify, PointRecord};
use crate::client::txn_producer::{TxnClientConfig, TxnProducerSettings};
use crate::coordinator::internal_topics::InternalTopics;
use crate::coordinator::txn::TxnCoordinatorSettings;
use crate::ctx::{Phase, Shared};
use crate::knobs::KnobValue;
use crate::limits::ms_to_ns;
use crate::node::Node;
use crate::protocol::{MetadataImage, PartitionId, PartitionState};
use crate::scenario::{fault_kind_name, Scenario};
use eosim_checker::History;
use eosim_sim::{FaultSchedule, FaultTargets, NodeId, NodeRole, SwarmChoices, World, WorldOptions};
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
    /// This seed's knob values (empty when the scenario's knobs are off).
    pub knobs: Vec<KnobValue>,
    /// The `buggify!` points the run evaluated.
    pub buggify: Vec<PointRecord>,
}

/// Runs `scenario` with `seed`; uses the scenario's explicit schedule when it has one.
///
/// The run reads in order: build the cluster, resolve the fault plan, run the faulty phase, heal every
/// fault, let producers settle, let consumers read every partition to its end, collect.
pub fn simulate(scenario: &Scenario, seed: u64) -> SimOutcome {
    // The seed's knobs go into a copy of the scenario before anything is built from it.
    let (tuned, knobs) = crate::knobs::apply(scenario, seed);
    let scenario = &tuned;
    let cluster = Cluster::new(scenario);
    let (swarm, schedule) = crate::knobs::resolve_faults(scenario, seed, &cluster.fault_targets());
    let options = WorldOptions { seed, network: scenario.network_options() };
    let mut shared = cluster.shared();
    shared.buggify = Buggify::new(seed, scenario.knobs.buggify());
    let mut world = World::new(options, cluster.nodes(scenario), shared);
    world.install_faults(schedule.clone());
    world.run_until(scenario.duration_ns());
    let stall = transition_to_liveness_mode(&mut world, scenario);
    let stats = run_stats(&world);
    let trace_hash = world.trace_hash();
    let (_, shared) = world.into_parts();
    let buggify = shared.buggify.points();
    SimOutcome { seed, trace_hash, history: shared.history, swarm, schedule, stats, stall, knobs, buggify }
}

/// The nodes each kind of fault may strike in a run of `scenario` (with its knobs already applied): what a
/// fault schedule read from a file is checked against before it runs.
pub fn fault_targets(scenario: &Scenario) -> FaultTargets {
    Cluster::new(scenario).fault_targets()
}

/// Heals every fault, waits for the applications to settle and every transaction to complete, then for
/// every consumer's final poll; returns what was stuck if that does not happen within the scenario's bound.
fn transition_to_liveness_mode(world: &mut World<Node>, scenario: &Scenario) -> Option<String> {
    world.heal_all();
    world.shared_mut().phase = Phase::Quiescent;
    let settle_end_ns = world.now_ns() + scenario.quiesce_ns();
    let settled = world.run_until_done(settle_end_ns, |world| apps_settled(world) && first_hanging(world).is_none());
    if !settled {
        if let Some(stuck) = unsettled_app(world) {
            let hanging = hanging(world).map(|what| format!("; hanging-transaction: {what}")).unwrap_or_default();
            return Some(format!(
                "stuck-application: {stuck} did not settle within {} ms of the heal{hanging}",
                scenario.quiesce_ms
            ));
        }
        let what = hanging(world).unwrap_or_default();
        return Some(format!("hanging-transaction: {what} {} ms after the heal", scenario.quiesce_ms));
    }
    world.shared_mut().phase = Phase::FinalRead;
    let read_end_ns = world.now_ns() + scenario.quiesce_ns();
    let consumers_done = world.run_until_done(read_end_ns, |world| {
        nodes(world).all(|node| !matches!(node, Node::Consumer(app) if !app.finished_final_poll()))
    });
    if !consumers_done {
        return Some(format!(
            "stuck-consumer: consumers did not finish their final poll within {} ms",
            scenario.quiesce_ms
        ));
    }
    None
}

/// A partition's name (`topic-index`), for stall reports.
fn name(world: &World<Node>, partition: PartitionId) -> String {
    world.shared().keys.get(partition.index()).cloned().unwrap_or_else(|| format!("partition {}", partition.0))
}

fn nodes(world: &World<Node>) -> impl Iterator<Item = &Node> {
    (0..world.node_count()).map(|index| world.actor(NodeId(index as u32)))
}

fn apps_settled(world: &World<Node>) -> bool {
    first_unsettled(world).is_none()
}

/// What keeps the applications from having settled. The check runs after every event of the quiescent phase,
/// so it only points at the culprit; [`Unsettled::describe`] builds the words once a stall is reported.
enum Unsettled {
    /// An application node with work in flight.
    App(usize),
    /// A settled pipeline whose position is below its partition's high watermark.
    Behind { index: usize, partition: PartitionId, position: u64 },
    /// The pipeline group's partitions are not all owned by running members of one generation.
    Group,
    /// A partition whose leader, as the controller chose it, is not running or does not know it leads yet.
    Leader { partition: PartitionId },
    /// A partition whose leader's high watermark is below its log end: acknowledged records may not be
    /// readable yet (a new leader's HW lags until its followers fetch again, Kafka's lagging-HW state of
    /// KIP-207), so a poll that reads to the HW would not read them.
    Replication { index: usize, partition: PartitionId, high_watermark: u64, log_end: u64 },
}

impl Unsettled {
    fn describe(&self, world: &World<Node>) -> String {
        match *self {
            Unsettled::App(index) => {
                let state = match world.actor(NodeId(index as u32)) {
                    Node::AtomicWriter(app) => app.describe(),
                    Node::Pipeline(app) => app.describe(),
                    _ => "producer".to_string(),
                };
                format!("application node {index} ({state})")
            }
            Unsettled::Behind { index, partition, position } => {
                format!("application node {index} (at offset {position} of partition {})", partition.0)
            }
            Unsettled::Group => {
                let states: Vec<String> = nodes(world)
                    .filter_map(|node| match node {
                        Node::Pipeline(app) => Some(app.describe()),
                        Node::Broker(broker) => {
                            Some(broker.describe_groups().join(", ")).filter(|text| !text.is_empty())
                        }
                        _ => None,
                    })
                    .collect();
                format!("the pipeline group, whose partitions are not owned by one generation ({})", states.join("; "))
            }
            Unsettled::Leader { partition } => {
                format!(
                    "leadership of {}: the controller's leader is not running or not leading yet",
                    name(world, partition)
                )
            }
            Unsettled::Replication { index, partition, high_watermark, log_end } => format!(
                "replication of {}: leader node {index}'s high watermark {high_watermark} below its log end {log_end}",
                name(world, partition)
            ),
        }
    }
}

/// The first application that has work in flight, or a group whose partitions are not all owned by
/// running members of one generation, described.
fn unsettled_app(world: &World<Node>) -> Option<String> {
    first_unsettled(world).map(|unsettled| unsettled.describe(world))
}

fn first_unsettled(world: &World<Node>) -> Option<Unsettled> {
    let mut owned: Vec<PartitionId> = Vec::new();
    let mut generations: Vec<u32> = Vec::new();
    let mut first_pipeline = None;
    for (index, node) in nodes(world).enumerate() {
        match node {
            Node::Producer(app) if !app.is_settled() => return Some(Unsettled::App(index)),
            Node::AtomicWriter(app) if !app.is_settled() => return Some(Unsettled::App(index)),
            Node::Pipeline(app) => {
                first_pipeline.get_or_insert(app);
                if let Some((generation, assignment)) = app.assignment() {
                    owned.extend(assignment);
                    generations.push(generation);
                }
                if !app.is_settled() {
                    return Some(Unsettled::App(index));
                }
                // Only a settled pipeline is worth the scan of the leaders.
                let behind = app
                    .positions()
                    .into_iter()
                    .find(|(partition, position)| committed_end(world, *partition).is_none_or(|end| *position < end));
                if let Some((partition, position)) = behind {
                    return Some(Unsettled::Behind { index, partition, position });
                }
            }
            _ => {}
        }
    }
    if let Some(first) = first_pipeline {
        owned.sort();
        let one_generation = generations.windows(2).all(|pair| pair[0] == pair[1]);
        if !one_generation || owned != first.inputs() {
            return Some(Unsettled::Group);
        }
    }
    unreplicated(world)
}

/// The first partition not ready for the final read, which trusts the HW a leader answers as the end of
/// what was acknowledged: the leader the controller chose is not running or does not lead it yet at the
/// controller's epoch, or its HW is below its log end. Right after an election the new leader's HW lags until
/// its followers fetch again (a follower learns the HW only from fetch answers; Kafka's lagging-HW state of
/// KIP-207), and a read to it would miss acknowledged records and report them lost.
fn unreplicated(world: &World<Node>) -> Option<Unsettled> {
    let controller = nodes(world).find_map(|node| match node {
        Node::Controller(controller) => Some(controller),
        _ => None,
    })?;
    let up = |node: NodeId| world.status(node) == eosim_sim::NodeStatus::Up;
    controller.image().partitions.iter().enumerate().find_map(|(index, state)| {
        let partition = PartitionId(index as u32);
        let leading = state.leader.map(NodeId).filter(|leader| up(*leader)).and_then(|leader| {
            let Node::Broker(broker) = world.actor(leader) else { return None };
            let replica = broker.replica(partition)?;
            let log_end = broker.durable().replicas.get(&partition)?.log.end_offset();
            (replica.is_leader() && replica.leader_epoch == state.leader_epoch).then_some((
                leader,
                replica.high_watermark,
                log_end,
            ))
        });
        match leading {
            None => Some(Unsettled::Leader { partition }),
            Some((leader, high_watermark, log_end)) => (high_watermark < log_end).then_some(Unsettled::Replication {
                index: leader.index(),
                partition,
                high_watermark,
                log_end,
            }),
        }
    })
}

/// The high watermark of `partition` at its leader, if a running broker leads it.
fn committed_end(world: &World<Node>, partition: PartitionId) -> Option<u64> {
    nodes(world).enumerate().find_map(|(index, node)| {
        let Node::Broker(broker) = node else { return None };
        let up = world.status(NodeId(index as u32)) == eosim_sim::NodeStatus::Up;
        let replica = broker.replica(partition).filter(|replica| up && replica.is_leader())?;
        Some(replica.high_watermark)
    })
}

/// A transaction still open at its coordinator, or a partition whose last stable offset is stuck below its
/// high watermark, once the applications have settled: a hanging transaction, described.
fn hanging(world: &World<Node>) -> Option<String> {
    first_hanging(world).map(|hanging| hanging.describe(world))
}

/// What keeps a transaction hanging; like [`Unsettled`], found cheaply and described only when reported.
enum Hanging {
    /// A transaction still open at the coordinator of broker `index`.
    Open { index: usize },
    /// A partition led by a running broker whose last stable offset is below its high watermark.
    Lso { partition: PartitionId, lso: u64, hw: u64 },
}

impl Hanging {
    fn describe(&self, world: &World<Node>) -> String {
        match *self {
            Hanging::Open { index } => {
                let Node::Broker(broker) = world.actor(NodeId(index as u32)) else { unreachable!("a broker") };
                let (id, state) = broker.open_transactions().into_iter().next().expect("found open before");
                let entries = broker.describe_transactions().join(", ");
                format!("transactional id {id} is {state} at broker {index} ({entries})")
            }
            Hanging::Lso { partition, lso, hw } => {
                format!("{}: last stable offset {lso} below high watermark {hw}", name(world, partition))
            }
        }
    }
}

fn first_hanging(world: &World<Node>) -> Option<Hanging> {
    for (index, node) in nodes(world).enumerate() {
        let Node::Broker(broker) = node else { continue };
        if world.status(NodeId(index as u32)) != eosim_sim::NodeStatus::Up {
            continue;
        }
        if broker.has_open_transaction() {
            return Some(Hanging::Open { index });
        }
        for (partition, replica) in broker.replicas() {
            let (lso, hw) = (replica.last_stable_offset(), replica.high_watermark);
            if replica.is_leader() && lso < hw {
                return Some(Hanging::Lso { partition: *partition, lso, hw });
            }
        }
    }
    None
}

fn run_stats(world: &World<Node>) -> RunStats {
    let kernel = world.stats();
    RunStats {
        events: kernel.events,
        messages_sent: kernel.messages_sent,
        messages_dropped: kernel.messages_dropped,
        virtual_ns: world.now_ns(),
        faults: kernel.faults.iter().map(|(kind, count)| (fault_kind_name(*kind).to_string(), *count)).collect(),
        counters: world.shared().counters(),
    }
}

/// The name of every node of `scenario`'s cluster, by node id: `broker-0`, `controller`, `producer-0`,
/// `consumer-0`, `writer-0`, `pipeline-0`, `store`.
pub fn node_names(scenario: &Scenario) -> Vec<String> {
    let cluster = Cluster::new(scenario);
    let mut names: Vec<String> = (0..cluster.brokers.len()).map(|index| format!("broker-{index}")).collect();
    names.push("controller".to_string());
    let groups = [("producer", &cluster.producers), ("consumer", &cluster.consumers)];
    let groups = groups.into_iter().chain([("writer", &cluster.atomic_writers), ("pipeline", &cluster.pipelines)]);
    for (kind, nodes) in groups {
        names.extend((0..nodes.len()).map(|index| format!("{kind}-{index}")));
    }
    names.extend(cluster.store.map(|_| "store".to_string()));
    names
}

/// Which node is what: brokers first (broker `i` is node `i`), then the controller, the producer
/// applications and the consumers.
struct Cluster {
    brokers: Vec<NodeId>,
    controller: NodeId,
    producers: Vec<NodeId>,
    consumers: Vec<NodeId>,
    atomic_writers: Vec<NodeId>,
    pipelines: Vec<NodeId>,
    store: Option<NodeId>,
    keys: Vec<String>,
    internal: InternalTopics,
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
        // Transactional applications come after the nodes every scenario has, so adding them never
        // renumbers (and re-hashes) the scenarios without them.
        let first_writer = first_consumer + consumer_count;
        let writer_count = scenario.workload.atomic_writers;
        let atomic_writers = (first_writer..first_writer + writer_count).map(NodeId).collect();
        let first_pipeline = first_writer + writer_count;
        let pipeline = scenario.workload.pipeline.as_ref();
        let pipeline_count = pipeline.map_or(0, |pipeline| pipeline.instances);
        let pipelines = (first_pipeline..first_pipeline + pipeline_count).map(NodeId).collect();
        let has_store = pipeline.is_some_and(|pipeline| pipeline.store.is_some());
        let store = has_store.then_some(NodeId(first_pipeline + pipeline_count));
        let keys = scenario.keys();
        let transactional = scenario.variant.is_transactional();
        let internal = InternalTopics {
            first_partition: keys.len() as u32,
            transaction_log_partitions: if transactional { scenario.cluster.transaction_log_partitions } else { 0 },
            offsets_partitions: if pipeline.is_some() { scenario.cluster.offsets_partitions } else { 0 },
        };
        Cluster { brokers, controller, producers, consumers, atomic_writers, pipelines, store, keys, internal }
    }

    /// The replicas of partition `i`: brokers `i, i+1, …` (mod brokers), the first one preferred leader.
    fn replicas(&self, scenario: &Scenario, partition: usize) -> Vec<u32> {
        let broker_count = self.brokers.len();
        (0..scenario.cluster.replication_factor as usize).map(|i| ((partition + i) % broker_count) as u32).collect()
    }

    /// Every partition led by its preferred replica, every replica in sync.
    fn bootstrap_image(&self, scenario: &Scenario) -> MetadataImage {
        let partitions = (0..self.internal.partition_count() as usize)
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

    /// Brokers crash, lose power and pause; producing applications crash and pause; consumers (pipelines and reading
    /// consumers) crash and pause; the controller crashes; partitions may cut any node but the store, which
    /// stands for a database outside the cluster's network.
    fn fault_targets(&self) -> FaultTargets {
        let nodes = self.brokers.iter().chain([&self.controller]).chain(&self.producers).chain(&self.consumers);
        let nodes = nodes.chain(&self.atomic_writers).chain(&self.pipelines);
        let clients = self.producers.iter().chain(&self.atomic_writers).chain(&self.pipelines);
        FaultTargets {
            servers: self.brokers.clone(),
            clients: clients.copied().collect(),
            controllers: vec![self.controller],
            consumers: self.pipelines.iter().chain(&self.consumers).copied().collect(),
            all: nodes.copied().collect(),
        }
    }

    fn shared(&self) -> Shared {
        Shared::new(self.keys.clone())
    }

    fn nodes(&self, scenario: &Scenario) -> Vec<(Node, NodeRole)> {
        let partition_count = self.internal.partition_count();
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
            session_timeout_ns: ms_to_ns(cluster.broker_session_timeout_ms),
            check_interval_ns: ms_to_ns(cluster.broker_heartbeat_ms),
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
            kafka_bugs: scenario.kafka_bugs.clone(),
            broker_index,
            broker_count: cluster.brokers,
            controller: self.controller,
            heartbeat_ns: ms_to_ns(cluster.broker_heartbeat_ms),
            fetch_wait_ns: ms_to_ns(cluster.replica_fetch_wait_ms),
            request_timeout_ns: scenario.producer_settings().request_timeout_ns,
            replication: ReplicationSettings {
                min_insync_replicas: cluster.min_insync_replicas,
                replica_lag_ns: ms_to_ns(cluster.replica_lag_time_max_ms),
                flush_messages: cluster.flush_messages,
                snapshot_interval_messages: cluster.snapshot_interval_messages,
                producer_id_expiration_ns: ms_to_ns(cluster.producer_id_expiration_ms),
                retention_ns: ms_to_ns(cluster.retention_ms),
                segment_messages: cluster.segment_messages,
                kip360_producer_state: cluster.kip360_producer_state,
                kafka_bugs: scenario.kafka_bugs.clone(),
            },
            producer_id_expiration_check_ns: ms_to_ns(cluster.producer_id_expiration_check_interval_ms),
            retention_check_ns: ms_to_ns(cluster.retention_check_interval_ms),
            internal: self.internal,
            txn: TxnCoordinatorSettings {
                epoch_bump_per_txn: scenario.variant.epoch_bump_per_txn(),
                transactional_id_expiration_ns: ms_to_ns(cluster.transactional_id_expiration_ms),
                marker_retry_ns: MARKER_RETRY_NS,
                load_ns_per_record: crate::coordinator::txn::DEFAULT_LOAD_NS_PER_RECORD,
                producer_epoch_start: u16::try_from(cluster.producer_epoch_start).expect("validated at most 32765"),
            },
            verification: match (scenario.variant.verifies_partitions(), scenario.variant.explicit_add_partitions()) {
                (false, _) => TxnVerification::Off,
                (true, true) => TxnVerification::VerifyOnly,
                (true, false) => TxnVerification::AddPartition,
            },
            coordinator_tick_ns: COORDINATOR_TICK_NS,
        }
    }

    fn push_clients(&self, scenario: &Scenario, nodes: &mut Vec<(Node, NodeRole)>) {
        let partition_count = self.keys.len() as u32;
        let targets = scenario.topic_partitions(scenario.workload.producer_topic.as_deref());
        let workload = ProducerWorkload {
            threads: scenario.workload.threads_per_producer,
            messages_total: scenario.workload.messages_per_producer,
            send_interval_ns: ms_to_ns(scenario.workload.send_interval_ms),
            partitions: targets.into_iter().map(PartitionId).collect(),
            kafka_bugs: scenario.kafka_bugs.clone(),
        };
        for index in 0..self.producers.len() {
            let app =
                ProducerApp::new(index as u32, scenario.producer_settings(), workload.clone(), self.brokers.clone());
            nodes.push((Node::Producer(app), NodeRole::Client));
        }
        let settings = ConsumerSettings {
            poll_interval_ns: ms_to_ns(scenario.workload.poll_interval_ms),
            request_timeout_ns: scenario.producer_settings().request_timeout_ns,
            partition_count,
            brokers: self.brokers.clone(),
            isolation: scenario.workload.isolation_level,
        };
        for _ in &self.consumers {
            nodes.push((Node::Consumer(ConsumerApp::new(settings.clone())), NodeRole::Client));
        }
        self.push_transactional_apps(scenario, nodes);
    }

    fn txn_client(&self, scenario: &Scenario, transactional_id: String) -> TxnClientConfig {
        let producer = scenario.producer_settings();
        let txn = TxnProducerSettings {
            transactional_id,
            transaction_timeout_ns: ms_to_ns(scenario.workload.transaction_timeout_ms),
            explicit_add_partitions: scenario.variant.explicit_add_partitions(),
            request_timeout_ns: producer.request_timeout_ns,
            retry_backoff_ns: producer.retry_backoff_ns,
            internal: self.internal,
            kafka_bugs: scenario.kafka_bugs.clone(),
        };
        let partition_count = self.internal.partition_count() as usize;
        TxnClientConfig { txn, producer, brokers: self.brokers.clone(), partition_count }
    }

    fn push_transactional_apps(&self, scenario: &Scenario, nodes: &mut Vec<(Node, NodeRole)>) {
        let workload = &scenario.workload;
        // Value spaces: plain producers first, then writers, then pipelines.
        let mut app_index = i64::from(workload.producers);
        let targets: Vec<PartitionId> =
            scenario.topic_partitions(workload.atomic_topic.as_deref()).into_iter().map(PartitionId).collect();
        for index in 0..self.atomic_writers.len() {
            let settings = AtomicWriterSettings {
                client: self.txn_client(scenario, format!("writer-{index}")),
                targets: targets.clone(),
                partitions_per_txn: workload.atomic_partitions_per_txn,
                txns_total: workload.atomic_txns_per_writer,
                think_ns: ms_to_ns(workload.send_interval_ms),
                value_base: app_index * VALUES_PER_APP,
            };
            app_index += 1;
            nodes.push((Node::AtomicWriter(AtomicWriterApp::new(settings)), NodeRole::Client));
        }
        let Some(pipeline) = &workload.pipeline else { return };
        let partitions = |topic: &str| -> Vec<PartitionId> {
            scenario.topic_partitions(Some(topic)).into_iter().map(PartitionId).collect()
        };
        for index in 0..self.pipelines.len() {
            let store = pipeline.store.as_ref().map(|store| StoreSettings {
                node: self.store.expect("a store node exists with a store"),
                name: "db".to_string(),
                upsert: store.upsert,
            });
            let producer = scenario.producer_settings();
            let settings = PipelineSettings {
                client: self.txn_client(scenario, format!("pipeline-{index}")),
                group_id: pipeline.group.clone(),
                input: partitions(&pipeline.input),
                output: partitions(&pipeline.output),
                max_records_per_txn: pipeline.max_records_per_txn as usize,
                poll_interval_ns: ms_to_ns(workload.poll_interval_ms),
                heartbeat_interval_ns: ms_to_ns(pipeline.heartbeat_interval_ms),
                session_timeout_ns: ms_to_ns(pipeline.session_timeout_ms),
                request_timeout_ns: producer.request_timeout_ns,
                retry_backoff_ns: producer.retry_backoff_ns,
                store,
                value_base: app_index * VALUES_PER_APP,
                pipeline_index: index as u32,
            };
            app_index += 1;
            nodes.push((Node::Pipeline(PipelineApp::new(settings)), NodeRole::Client));
        }
        if self.store.is_some() {
            nodes.push((Node::Store(StoreNode::new()), NodeRole::Client));
        }
    }
}

const NS_PER_MS: u64 = 1_000_000;

/// How long a transaction marker waits for its answer before it is sent again: longer than the largest
/// delay a delay fault adds, so a retried marker never overtakes the original.
const MARKER_RETRY_NS: u64 = 100 * NS_PER_MS;

/// How often coordinators look for timed-out transactions and silent group members.
const COORDINATOR_TICK_NS: u64 = 10 * NS_PER_MS;

/// Values one application may issue (as the producer applications use).
const VALUES_PER_APP: i64 = 1_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    /// Three brokers, one topic of three partitions replicated three times, one idempotent producer.
    const CLUSTER: &str = r#"name = "t"
description = "d"
variant = "idempotent"
duration_ms = 200

[cluster]
brokers = 3
topics = [{ name = "t", partitions = 3 }]
replication_factor = 3
min_insync_replicas = 2

[workload]
producers = 1
messages_per_producer = 20
"#;

    /// The cluster of [`CLUSTER`], run fault-free for `ms` milliseconds.
    fn world_after(ms: u64) -> World<Node> {
        let scenario = Scenario::from_toml("t.toml", CLUSTER).expect("valid");
        let cluster = Cluster::new(&scenario);
        let options = WorldOptions { seed: 1, network: scenario.network_options() };
        let mut world = World::new(options, cluster.nodes(&scenario), cluster.shared());
        world.run_until(ms * 1_000_000);
        world
    }

    #[test]
    fn a_quiet_cluster_is_ready_for_the_final_read() {
        // Every write acknowledged long ago: each partition's leader leads at the controller's epoch and its
        // followers have fetched everything, so its HW is its log end.
        let world = world_after(1_000);
        assert!(unreplicated(&world).is_none(), "{:?}", unreplicated(&world).map(|u| u.describe(&world)));
    }

    #[test]
    fn a_partition_whose_leader_is_down_is_not_ready_for_the_final_read() {
        // The controller has not moved the leadership yet when its leader crashes: the final read would find no
        // leader to read from, or, once another broker takes over, a high watermark that lags until the
        // followers fetch from it again.
        let mut world = world_after(1_000);
        let Node::Controller(controller) = world.actor(NodeId(3)) else { unreachable!("node 3 is the controller") };
        let leader = controller.image().partitions[0].leader.expect("a leader");
        world.crash(NodeId(leader));
        let unsettled = unreplicated(&world).expect("a partition of the crashed leader");
        assert!(matches!(unsettled, Unsettled::Leader { .. }), "{}", unsettled.describe(&world));
        assert!(unsettled.describe(&world).starts_with("leadership of t-"), "{}", unsettled.describe(&world));
    }
}
