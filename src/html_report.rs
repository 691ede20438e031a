//! `index.html`: the report page, with a space-time diagram of each failing seed around its anomaly.
//!
//! A campaign does not record its runs: recording costs time and memory, and most seeds pass. When a page is
//! written, each failing seed (up to [`DIAGRAMS_MAX`]) is run again with the kernel's recorder on
//! (`eosim_sim::recording::capture`). A run is a pure function of its seed and recording changes nothing, so
//! the rerun must give the trace hash the campaign saw; [`seed_section`] checks that before it draws anything,
//! and a difference is an internal error ([`HtmlError::Diverged`]), never a wrong picture.
//!
//! The drawing itself is `eosim_reports::svg`; this module turns a recording, a history and a checker report
//! into its data:
//!
//! - lanes: one per node, named by [`node_names`] (`broker-0`, `controller`, `producer-1`, `consumer-0`);
//! - history processes are matched to nodes by time: a client writes its history through the kernel's
//!   `observe`, which the recording notes with the node, so a process belongs to the one node that observed
//!   something at the instant of every one of its operations. A process that matches no single node gets a lane
//!   of its own (`process-7`);
//! - the anomaly drawn is the one the scenario is about: a kind its zoo entry expects, else the run's first
//!   violation (a forbidden anomaly before an allowed one), else its first anomaly; its operations, and the
//!   invocations they complete, are the instants the diagram is focused on;
//! - the anomaly's causal chain ([`causal_chain`]): the messages that carry its values (the produce or store
//!   write, the fetch that delivered it), their answers (a lost ack among them), the retries, and the aborts
//!   that decide their fate (EndTxn with `committed false`, the ABORT marker on the anomaly's partition). They
//!   are drawn bold, listed in a table, and their send times join the focus, so an elided gap never hides them;
//! - messages are named by their Kafka API ([`eosim_sim::Label::api`]); a coordinator's response, which does
//!   not say which API it answers, takes its request's, paired by correlation id.

use std::collections::{BTreeMap, BTreeSet};

use eosim_checker::{Anomaly, AnomalyKind, History, MicroOp, Op, OpType, Report};
use eosim_model::describe::REPLICA_FETCH_API;
use eosim_model::scenario::fault_kind_name;
use eosim_model::Scenario;
use eosim_reports::overview::{LogEntry, LogView, TimelineOp};
use eosim_reports::svg::{Arrow, ArrowEnd, BandStyle, FaultBand, Lane, LaneEvent, LaneKind, OpMark, SpaceTime, Topic};
use eosim_reports::{op_summary, OpRow, SeedRecord, SeedSection};
use eosim_sim::recording::{capture, FaultRecord, MessageFate, Recording};
use eosim_sim::{FaultAction, NodeId, NodeRole, PartitionKind};

use crate::runner::{run_seed, RunResult};

/// Failing seeds drawn at most on one page: each diagram is large, and twenty show any pattern there is.
pub const DIAGRAMS_MAX: usize = 20;

/// Messages of a causal chain at most: past it, the anomaly's values travel in too many messages to tell a story.
const CHAIN_MAX: usize = 40;

/// Offsets of a partition's log shown at most.
const LOG_ENTRIES_MAX: usize = 2000;

/// A page that could not be drawn faithfully.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// The recorded rerun of a seed did not do what the original run did: determinism is broken.
    #[error("seed {seed}: the recorded rerun has trace-hash {replayed}, the run had {expected}")]
    Diverged {
        /// The seed.
        seed: u64,
        /// The original run's trace hash.
        expected: String,
        /// The rerun's.
        replayed: String,
    },
}

/// One failing seed's section: reruns it with recording on, checks the trace hash, and lays out its diagram.
pub fn seed_section(scenario: &Scenario, record: &SeedRecord, files: Vec<String>) -> Result<SeedSection, HtmlError> {
    let (result, recordings) = capture(|| run_seed(scenario, record.seed));
    let none = || "none".to_string();
    let replayed = result.trace_hash().map(str::to_string);
    if replayed != record.trace_hash {
        let (expected, replayed) = (record.trace_hash.clone().unwrap_or_else(none), replayed.unwrap_or_else(none));
        return Err(HtmlError::Diverged { seed: record.seed, expected, replayed });
    }
    let anomalies_total = result.report.as_ref().map_or(0, |report| report.anomalies.len());
    let mut section = SeedSection::new(record.clone(), anomalies_total, files);
    let Some(recording) = recordings.into_iter().next_back() else {
        section.notes.push("The rerun built no world, so there is nothing to draw.".to_string());
        return Ok(section);
    };
    if let (Some(recorded), Some(expected)) = (&recording.trace_hash, &record.trace_hash) {
        // The recording's own hash is the world's, taken when it was consumed: the same run, or a bug here.
        assert_eq!(recorded, expected, "the recording belongs to the rerun it was captured from");
    }
    fill_section(&mut section, scenario, &result, &recording);
    Ok(section)
}

/// Lanes, arrows, faults, operations and the focus of a recorded run, filled into `section`.
pub fn fill_section(section: &mut SeedSection, scenario: &Scenario, result: &RunResult, recording: &Recording) {
    let names = node_names(scenario, &recording.roles);
    let mut lanes: Vec<Lane> = names
        .iter()
        .zip(&recording.roles)
        .map(|(name, role)| {
            let kind = if *role == NodeRole::Server { LaneKind::Server } else { LaneKind::Client };
            Lane { name: name.clone(), kind }
        })
        .collect();
    let empty = History::new();
    let history = result.outcome.as_ref().map_or(&empty, |outcome| &outcome.history);
    let expected = scenario.zoo.as_ref().map_or(&[][..], |zoo| zoo.expect.as_slice());
    let anomaly = result.report.as_ref().and_then(|report| anomaly_about(report, expected));
    let proving = proving_ops(history, anomaly.as_ref());
    let process_lane = process_lanes(history, recording, &proving, &mut lanes);
    let unmatched = process_lane.values().filter(|lane| **lane >= names.len()).count();
    if unmatched > 0 {
        section.notes.push(format!(
            "{unmatched} history process(es) could not be matched to one node and are drawn on lanes of their own."
        ));
    }
    let ops = op_marks(history, &process_lane, &proving);
    section.proving_ops = proving
        .iter()
        .map(|index| {
            let op = &history.ops[*index];
            let lane = process_lane.get(&op.process).map_or_else(String::new, |lane| lanes[*lane].name.clone());
            OpRow { index: op.index, time_ns: op.time_ns, process: op.process, lane, text: op_summary(op) }
        })
        .collect();
    section.focus_ns = proving.iter().map(|index| history.ops[*index].time_ns).collect();
    if section.focus_ns.is_empty() {
        section.notes.push("No operation proves an anomaly here, so the diagram shows the end of the run.".to_string());
    }
    let (mut arrows, answers) = arrows(recording);
    let mut events = Vec::new();
    if let Some(anomaly) = &anomaly {
        let partition = scenario.keys().iter().position(|key| *key == kafka_key(&anomaly.key));
        let chain = causal_chain(&arrows, &answers, anomaly, partition);
        for index in &chain {
            arrows[*index].chain = true;
            section.focus_ns.push(arrows[*index].send_ns);
        }
        events = broker_events(&arrows, &answers, &chain);
        section.log = log_view(history, anomaly);
    }
    section.timeline = timeline(history, &proving, recording.end_ns);
    let faults = recording.faults.iter().map(|fault| fault_band(fault, &names)).collect();
    section.diagram = Some(SpaceTime { lanes, arrows, faults, ops, events, end_ns: recording.end_ns });
    section.anomaly = anomaly;
}

/// The anomaly a diagram is about: one of a kind the scenario expects (its zoo entry's `expect`), else the first
/// violation, which a guarantee forbids, else the first anomaly, which it allows.
fn anomaly_about(report: &Report, expected: &[String]) -> Option<Anomaly> {
    let about = report.anomalies.iter().find(|anomaly| expected.iter().any(|kind| kind == anomaly.kind.name()));
    about.or_else(|| report.violations().next()).or_else(|| report.anomalies.first()).cloned()
}

/// Each node's lane name, as the model names its nodes (`eosim_model::node_names`); when the recorded roles do
/// not fit (the servers are the brokers and the controller, first), nodes are named by role and id instead, so
/// that a mismatch never draws a wrong name.
pub fn node_names(scenario: &Scenario, roles: &[NodeRole]) -> Vec<String> {
    let names = eosim_model::node_names(scenario);
    let servers = scenario.cluster.brokers as usize + 1;
    let fits = names.len() == roles.len()
        && roles.iter().enumerate().all(|(node, role)| (*role == NodeRole::Server) == (node < servers));
    if fits {
        return names;
    }
    let by_role = |(node, role): (usize, &NodeRole)| match role {
        NodeRole::Server => format!("server-n{node}"),
        NodeRole::Client => format!("client-n{node}"),
    };
    roles.iter().enumerate().map(by_role).collect()
}

/// The operations that prove `anomaly`, with the invocation each completion answers, ascending by index.
fn proving_ops(history: &History, anomaly: Option<&Anomaly>) -> Vec<usize> {
    let Some(anomaly) = anomaly else { return Vec::new() };
    let mut ops = BTreeSet::new();
    for index in anomaly.ops.iter().copied().filter(|index| *index < history.ops.len()) {
        ops.insert(index);
        let op = &history.ops[index];
        if op.op_type != OpType::Invoke {
            let invoke = history.ops[..index]
                .iter()
                .rev()
                .find(|earlier| earlier.process == op.process && earlier.op_type == OpType::Invoke);
            ops.extend(invoke.map(|invoke| invoke.index));
        }
    }
    ops.into_iter().collect()
}

/// Each history process's lane: the node that observed something at the instant of every one of its
/// operations, when exactly one did. Unmatched processes that prove something get a lane appended to `lanes`.
fn process_lanes(
    history: &History,
    recording: &Recording,
    proving: &[usize],
    lanes: &mut Vec<Lane>,
) -> BTreeMap<u64, usize> {
    let mut candidates: BTreeMap<u64, BTreeSet<NodeId>> = BTreeMap::new();
    for op in &history.ops {
        let observations = &recording.observations;
        let first = observations.partition_point(|observation| observation.time_ns < op.time_ns);
        let at_once: BTreeSet<NodeId> = observations[first..]
            .iter()
            .take_while(|observation| observation.time_ns == op.time_ns)
            .map(|observation| observation.node)
            .collect();
        match candidates.get_mut(&op.process) {
            Some(nodes) => nodes.retain(|node| at_once.contains(node)),
            None => {
                candidates.insert(op.process, at_once);
            }
        }
    }
    let mut process_lane = BTreeMap::new();
    for (process, nodes) in candidates {
        if let (1, Some(node)) = (nodes.len(), nodes.first()) {
            process_lane.insert(process, node.index());
        }
    }
    for index in proving {
        let process = history.ops[*index].process;
        if let std::collections::btree_map::Entry::Vacant(entry) = process_lane.entry(process) {
            entry.insert(lanes.len());
            lanes.push(Lane { name: format!("process-{process}"), kind: LaneKind::Process });
        }
    }
    process_lane
}

/// Every history operation whose process has a lane, the proving ones marked.
fn op_marks(history: &History, process_lane: &BTreeMap<u64, usize>, proving: &[usize]) -> Vec<OpMark> {
    let mark = |op: &Op| {
        let lane = *process_lane.get(&op.process)?;
        let proving = proving.binary_search(&op.index).is_ok();
        let outcome = op.op_type.name();
        Some(OpMark { lane, time_ns: op.time_ns, index: op.index, text: op_summary(op), proving, outcome })
    };
    history.ops.iter().filter_map(mark).collect()
}

/// Every recorded message copy as an arrow, a response without an API of its own named after its request's;
/// and each request's first answer, by arrow index.
fn arrows(recording: &Recording) -> (Vec<Arrow>, BTreeMap<usize, usize>) {
    // The latest request by (client, server, correlation id): a client reuses no id while it waits.
    let mut requests: BTreeMap<(NodeId, NodeId, u64), usize> = BTreeMap::new();
    let mut answers = BTreeMap::new();
    let mut arrows: Vec<Arrow> = Vec::with_capacity(recording.messages.len());
    for (index, message) in recording.messages.iter().enumerate() {
        let mut arrow = arrow(recording, message);
        if let Some(id) = message.correlation_id {
            if recording.label(message).ends_with("Response") {
                if let Some(request) = requests.get(&(message.target, message.source, id)) {
                    answers.entry(*request).or_insert(index);
                    if arrow.api.is_empty() {
                        arrow.api = arrows[*request].api.clone();
                    }
                }
            } else {
                requests.insert((message.source, message.target, id), index);
            }
        }
        arrows.push(arrow);
    }
    (arrows, answers)
}

/// The arrows of `anomaly`'s causal chain, ascending: the requests that carry its values (a produce or a store
/// write, to its partition when it has one) and the fetch answers that delivered them, the answers to those
/// requests (a lost ack is one), and the aborts that decided their fate: an EndTxn with `committed false` from a
/// carrier's sender between the first carrier and the last, and for a read of aborted records the first ABORT
/// marker written to the partition after the first carrier. Empty when the values travel in more than
/// [`CHAIN_MAX`] messages.
fn causal_chain(
    arrows: &[Arrow],
    answers: &BTreeMap<usize, usize>,
    anomaly: &Anomaly,
    partition: Option<usize>,
) -> Vec<usize> {
    let values: BTreeSet<i64> = anomaly.values.iter().copied().collect();
    let on_partition = |arrow: &Arrow| match partition {
        Some(partition) => arrow.fields.starts_with(&format!("partition {partition},")),
        None => true,
    };
    let carries = |arrow: &Arrow| {
        let request = !arrow.label.ends_with("Response");
        let carried = match arrow.api.as_str() {
            "Produce" if request && on_partition(arrow) => field_numbers(&arrow.fields, "values [", ']'),
            "StoreWrite" if request => field_numbers(&arrow.fields, "value ", ','),
            "Fetch" if !request => field_numbers(&arrow.fields, "records [", ']'),
            _ => Vec::new(),
        };
        carried.iter().any(|value| values.contains(value))
    };
    let carriers: Vec<usize> = (0..arrows.len()).filter(|index| carries(&arrows[*index])).collect();
    if carriers.is_empty() || carriers.len() > CHAIN_MAX {
        return Vec::new();
    }
    let mut chain: BTreeSet<usize> = carriers.iter().copied().collect();
    for carrier in &carriers {
        chain.extend(answers.get(carrier));
    }
    let (first, last) = (arrows[carriers[0]].send_ns, arrows[carriers[carriers.len() - 1]].send_ns);
    let senders: BTreeSet<usize> = carriers.iter().map(|index| arrows[*index].source).collect();
    let abort = |arrow: &Arrow| arrow.api == "EndTxn" && arrow.fields.ends_with("committed false");
    chain.extend((0..arrows.len()).filter(|index| {
        let arrow = &arrows[*index];
        abort(arrow) && senders.contains(&arrow.source) && (first..=last).contains(&arrow.send_ns)
    }));
    if matches!(anomaly.kind, AnomalyKind::G1a) {
        let marker = (0..arrows.len()).find(|index| {
            let arrow = &arrows[*index];
            arrow.api == "WriteTxnMarkers"
                && arrow.send_ns >= first
                && on_partition(arrow)
                && arrow.fields.contains("transactionResult ABORT")
        });
        chain.extend(marker);
    }
    chain.into_iter().take(CHAIN_MAX).collect()
}

/// What the brokers of the causal chain did, read off their answers: a produce answered with `baseOffset N`
/// was appended at offset N (Kafka's `UnifiedLog.appendAsLeader` ran before the leader answered), a
/// WriteTxnMarkers answered without an error wrote its marker. Each is drawn where the broker answered.
fn broker_events(arrows: &[Arrow], answers: &BTreeMap<usize, usize>, chain: &[usize]) -> Vec<LaneEvent> {
    let mut events = Vec::new();
    for (request, response) in answers {
        if chain.binary_search(request).is_err() && chain.binary_search(response).is_err() {
            continue;
        }
        let (request, response) = (&arrows[*request], &arrows[*response]);
        let partition = field_numbers(&request.fields, "partition ", ',');
        let partition = partition.first().map_or_else(String::new, |partition| format!(" of partition {partition}"));
        let text = match request.api.as_str() {
            "Produce" => match field_numbers(&response.fields, "baseOffset ", ',').first() {
                Some(offset) => format!("appended at offset {offset}{partition}"),
                None => continue,
            },
            "WriteTxnMarkers" if !response.fields.contains("errorCode") => {
                let marker = if request.fields.contains("transactionResult ABORT") { "ABORT" } else { "COMMIT" };
                format!("{marker} marker written{partition}")
            }
            _ => continue,
        };
        events.push(LaneEvent { lane: response.source, time_ns: response.send_ns, text });
    }
    events
}

/// The numbers of `fields` after `start` up to `end` (`values [1 2 3]`, `value 7,`, `records [4:7 5:8]`, whose
/// values follow a colon); empty when `start` is absent.
fn field_numbers(fields: &str, start: &str, end: char) -> Vec<i64> {
    let Some(from) = fields.find(start) else { return Vec::new() };
    let rest = &fields[from + start.len()..];
    let list = rest.split(end).next().unwrap_or_default();
    list.split_whitespace().filter_map(|token| token.rsplit(':').next().and_then(|value| value.parse().ok())).collect()
}

/// Every operation, from its invocation to its completion (or the end of the run), in completion order.
fn timeline(history: &History, proving: &[usize], end_ns: u64) -> Vec<TimelineOp> {
    let mut open: BTreeMap<u64, &Op> = BTreeMap::new();
    let mut ops = Vec::new();
    for op in &history.ops {
        if op.op_type == OpType::Invoke {
            open.insert(op.process, op);
            continue;
        }
        let start_ns = open.remove(&op.process).map_or(op.time_ns, |invoke| invoke.time_ns);
        ops.push(TimelineOp {
            process: op.process,
            start_ns,
            end_ns: op.time_ns,
            outcome: op.op_type.name(),
            index: op.index,
            text: op_summary(op),
            proving: proving.binary_search(&op.index).is_ok(),
        });
    }
    for invoke in open.values() {
        ops.push(TimelineOp {
            process: invoke.process,
            start_ns: invoke.time_ns,
            end_ns: end_ns.max(invoke.time_ns),
            outcome: "info",
            index: invoke.index,
            text: op_summary(invoke),
            proving: proving.binary_search(&invoke.index).is_ok(),
        });
    }
    ops
}

/// The Kafka partition behind a history key: itself, or for a store's row (`db/in-0`) the input partition its
/// key names.
fn kafka_key(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// The anomaly's partition as the history saw it: offsets from acknowledged sends and from reads, values
/// written by a failed (aborted) send marked, a value at two offsets marked a duplicate; `None` when the history
/// has no offset of that key (a store's key).
fn log_view(history: &History, anomaly: &Anomaly) -> Option<LogView> {
    let key = kafka_key(&anomaly.key);
    let mut log: BTreeMap<u64, i64> = BTreeMap::new();
    let mut aborted: BTreeSet<i64> = BTreeSet::new();
    for op in &history.ops {
        for mop in &op.mops {
            match mop {
                MicroOp::Send { key: sent, value, offset, .. } if *sent == key => match (op.op_type, offset) {
                    (OpType::Ok, Some(offset)) => {
                        log.entry(*offset).or_insert(*value);
                    }
                    (OpType::Fail, _) => {
                        aborted.insert(*value);
                    }
                    _ => {}
                },
                MicroOp::Poll { reads } if op.op_type == OpType::Ok => {
                    for (offset, value) in reads.get(key).into_iter().flatten() {
                        log.entry(*offset).or_insert(*value);
                    }
                }
                _ => {}
            }
        }
    }
    if log.is_empty() {
        return None;
    }
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    for value in log.values() {
        *seen.entry(*value).or_default() += 1;
    }
    let entries = (log.iter().take(LOG_ENTRIES_MAX))
        .map(|(offset, value)| LogEntry {
            offset: *offset,
            value: *value,
            duplicate: seen[value] > 1,
            aborted: aborted.contains(value),
            cited: anomaly.values.contains(value) || anomaly.offsets.contains(offset),
        })
        .collect();
    Some(LogView { key: key.to_string(), entries })
}

/// A recorded message copy as an arrow.
fn arrow(recording: &Recording, message: &eosim_sim::recording::MessageRecord) -> Arrow {
    let (end, mut note) = match message.fate {
        MessageFate::Delivered { at_ns } => (ArrowEnd::Delivered { at_ns }, String::new()),
        MessageFate::Dropped { at_ns, cause } => {
            (ArrowEnd::Dropped { at_ns, at_send: cause.at_send() }, cause.describe().to_string())
        }
        MessageFate::InFlight => (ArrowEnd::InFlight, String::new()),
    };
    if message.copy > 0 {
        note = if note.is_empty() { "a duplicate copy".to_string() } else { format!("a duplicate copy, {note}") };
    }
    Arrow {
        source: message.source.index(),
        target: message.target.index(),
        send_ns: message.send_ns,
        end,
        label: recording.label(message).to_string(),
        note,
        api: message.api.map_or_else(String::new, str::to_string),
        fields: message.fields.clone(),
        topic: match message.api {
            Some(REPLICA_FETCH_API) => Topic::Replication,
            Some("Heartbeat" | "BrokerHeartbeat") => Topic::Heartbeat,
            _ => Topic::Ordinary,
        },
        chain: false,
    }
}

/// A recorded fault as a band, labeled with its scenario-file kind name and what it struck.
fn fault_band(fault: &FaultRecord, names: &[String]) -> FaultBand {
    let name = |node: &NodeId| names.get(node.index()).cloned().unwrap_or_else(|| node.to_string());
    let kind = fault_kind_name(fault.kind);
    let mut lanes: Vec<usize> = fault.nodes.iter().map(|node| node.index()).collect();
    let mut side_b = Vec::new();
    let (style, label) = match &fault.action {
        FaultAction::Crash { node, .. } => (BandStyle::Crash, format!("{kind} {}", name(node))),
        FaultAction::Pause { node, .. } => (BandStyle::Pause, format!("{kind} {}", name(node))),
        FaultAction::Partition { kind: shape, side_a, side_b: other } => {
            lanes = side_a.iter().map(|node| node.index()).collect();
            side_b = other.iter().map(|node| node.index()).collect();
            let side = |nodes: &[NodeId]| nodes.iter().map(name).collect::<Vec<_>>().join(" ");
            let shape = match shape {
                PartitionKind::Symmetric => String::new(),
                PartitionKind::OneWay => " one-way".to_string(),
                PartitionKind::Bridge { bridge } => format!(" bridged by {}", name(bridge)),
            };
            (BandStyle::Partition, format!("partition{shape}: {} | {}", side(side_a), side(other)))
        }
        FaultAction::Link { direction, probability_ppm, delay_ns_max, .. } => {
            let percent = *probability_ppm as f64 / 10_000.0;
            let delay =
                if *delay_ns_max > 0 { format!(" up to {} ms", delay_ns_max / 1_000_000) } else { String::new() };
            let direction = serde_json::to_value(direction).ok().and_then(|value| value.as_str().map(str::to_string));
            let direction = direction.unwrap_or_default();
            (BandStyle::Link, format!("{kind} {direction} {percent:.0}%{delay}"))
        }
    };
    FaultBand { style, label, start_ns: fault.start_ns, end_ns: fault.end_ns, lanes, side_b }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios;
    use eosim_checker::{Guarantee, OpFn};

    /// An arrow of `api` from lane `source` to `target`, sent at `send_ns` ms and delivered 1 ms later.
    fn message(source: usize, target: usize, send_ms: u64, label: &str, api: &str, fields: &str) -> Arrow {
        let send_ns = send_ms * 1_000_000;
        let end = ArrowEnd::Delivered { at_ns: send_ns + 1_000_000 };
        Arrow {
            api: api.to_string(),
            fields: fields.to_string(),
            ..Arrow::message(source, target, send_ns, end, label)
        }
    }

    fn anomaly(kind: AnomalyKind, key: &str, values: Vec<i64>) -> Anomaly {
        Anomaly { kind, key: key.to_string(), values, offsets: Vec::new(), ops: Vec::new(), explanation: String::new() }
    }

    #[test]
    fn the_causal_chain_is_the_write_its_lost_ack_the_retry_and_the_abort() {
        // Lanes: 0 broker, 1 producer, 2 another producer. Partition 1 holds the duplicated value 7.
        let produce = "partition 1, acks all, producerId 3, producerEpoch 0, baseSequence 4, records 1, values [7]";
        let mut lost_ack = message(0, 1, 2, "ProduceResponse", "Produce", "baseOffset 10");
        lost_ack.end = ArrowEnd::Dropped { at_ns: 2_000_000, at_send: true };
        let arrows = vec![
            message(1, 0, 1, "ProduceRequest", "Produce", produce),
            lost_ack,
            message(2, 0, 3, "ProduceRequest", "Produce", &produce.replace("partition 1", "partition 2")),
            message(2, 0, 4, "TxnRequest", "EndTxn", "transactionalId b, producerId 4, committed false"),
            message(1, 0, 5, "TxnRequest", "EndTxn", "transactionalId a, producerId 3, committed false"),
            message(1, 0, 6, "ProduceRequest", "Produce", produce),
            message(0, 1, 7, "ProduceResponse", "Produce", "baseOffset 11"),
            message(0, 0, 8, "WriteTxnMarkerRequest", "WriteTxnMarkers", "partition 1, transactionResult ABORT"),
        ];
        let answers = BTreeMap::from([(0, 1), (5, 6)]);
        let duplicate = anomaly(AnomalyKind::Duplicate, "k-1", vec![7]);
        // The write, its lost ack, its own abort, the retry and its ack; not the other partition or producer.
        assert_eq!(causal_chain(&arrows, &answers, &duplicate, Some(1)), vec![0, 1, 4, 5, 6]);
        let aborted_read = anomaly(AnomalyKind::G1a, "k-1", vec![7]);
        assert_eq!(causal_chain(&arrows, &answers, &aborted_read, Some(1)), vec![0, 1, 4, 5, 6, 7], "the marker too");
        let chain = causal_chain(&arrows, &answers, &duplicate, Some(1));
        let events: Vec<(usize, u64, String)> = (broker_events(&arrows, &answers, &chain).into_iter())
            .map(|event| (event.lane, event.time_ns, event.text))
            .collect();
        // The lost ack still says the first copy was appended: the retry's append at 11 is the duplicate.
        let appended = |ms: u64, offset| (0, ms * 1_000_000, format!("appended at offset {offset} of partition 1"));
        assert_eq!(events, vec![appended(2, 10), appended(7, 11)]);
        let unrelated = anomaly(AnomalyKind::Duplicate, "k-1", vec![8]);
        assert!(causal_chain(&arrows, &answers, &unrelated, Some(1)).is_empty());
        assert_eq!(field_numbers("key a, value 7, upsert false", "value ", ','), vec![7]);
        assert_eq!(field_numbers("records [3:12 (pid 4) 4:-2], highWatermark 5", "records [", ']'), vec![12, -2]);
        assert!(field_numbers("baseOffset 3", "values [", ']').is_empty());
    }

    #[test]
    fn the_log_view_marks_duplicates_aborted_records_and_the_anomalys() {
        let op = |index, op_type, mops| Op {
            index,
            time_ns: index as u64,
            process: 0,
            op_type,
            f: OpFn::Txn,
            mops,
            keys: Vec::new(),
            final_poll: false,
        };
        let send = |value, offset| MicroOp::Send { key: "in-0".to_string(), value, offset, source: None };
        let poll = MicroOp::Poll { reads: [("in-0".to_string(), vec![(0, 5), (1, 6), (2, 5)])].into_iter().collect() };
        let history = History {
            ops: vec![
                op(0, OpType::Ok, vec![send(5, Some(0))]),
                op(1, OpType::Fail, vec![send(6, None)]),
                op(2, OpType::Ok, vec![poll]),
            ],
            ..History::new()
        };
        let view = log_view(&history, &anomaly(AnomalyKind::SinkDuplicate, "db/in-0", vec![5])).expect("a log");
        assert_eq!(view.key, "in-0", "a store row's key names its input partition");
        let marks: Vec<(u64, i64, bool, bool, bool)> =
            view.entries.iter().map(|e| (e.offset, e.value, e.duplicate, e.aborted, e.cited)).collect();
        assert_eq!(marks, vec![(0, 5, true, false, true), (1, 6, false, true, false), (2, 5, true, false, true)]);
        assert!(log_view(&history, &anomaly(AnomalyKind::Duplicate, "other-0", vec![5])).is_none());
    }

    #[test]
    fn the_diagram_is_about_the_expected_kind_then_a_violation_then_any_anomaly() {
        let report = |anomalies| Report {
            guarantee: Guarantee::KafkaEos,
            anomalies,
            rules: eosim_checker::Rules::default(),
            subscribes: false,
            nothing_checked: false,
        };
        let g2 = anomaly(AnomalyKind::G2Item, "k", vec![1]);
        let sink = anomaly(AnomalyKind::SinkDuplicate, "db/k", vec![2]);
        let g1a = anomaly(AnomalyKind::G1a, "k", vec![3]);
        let both = report(vec![g1a.clone(), sink.clone(), g2.clone()]);
        assert_eq!(anomaly_about(&both, &[]).map(|a| a.kind), Some(AnomalyKind::G1a), "the first violation");
        let expected = ["sink-duplicate".to_string()];
        assert_eq!(anomaly_about(&both, &expected).map(|a| a.kind), Some(AnomalyKind::SinkDuplicate));
        let allowed = report(vec![g2]);
        assert_eq!(
            anomaly_about(&allowed, &[]).map(|a| a.kind),
            Some(AnomalyKind::G2Item),
            "allowed, but all there is"
        );
        assert!(anomaly_about(&report(Vec::new()), &[]).is_none());
    }

    #[test]
    fn nodes_are_named_after_the_cluster_and_by_role_when_the_layout_differs() {
        let scenario = scenarios::load("at-most-once").expect("built in").scenario;
        let (server, client) = (NodeRole::Server, NodeRole::Client);
        let roles = [server, server, server, server, client, client, client];
        let names = node_names(&scenario, &roles);
        assert_eq!(names, ["broker-0", "broker-1", "broker-2", "controller", "producer-0", "producer-1", "consumer-0"]);
        assert_eq!(node_names(&scenario, &[server, client]), ["server-n0", "client-n1"]);
    }

    #[test]
    fn recording_changes_no_run_and_accounts_for_every_lost_message() {
        for builtin in scenarios::BUILTINS {
            let scenario = scenarios::load(builtin.name).expect("built in").scenario;
            for seed in 0..3 {
                let plain = eosim_model::simulate(&scenario, seed);
                let (recorded, recordings) = capture(|| eosim_model::simulate(&scenario, seed));
                assert_eq!(recorded.trace_hash, plain.trace_hash, "{} seed {seed}", builtin.name);
                let [recording] = recordings.as_slice() else { panic!("one world per run") };
                assert_eq!(recording.trace_hash.as_deref(), Some(plain.trace_hash.as_str()));
                let lost = recording.messages.iter().filter(|message| {
                    matches!(message.fate, MessageFate::Dropped { cause, .. }
                        if cause != eosim_sim::recording::DropCause::HeldAtCrash)
                });
                assert_eq!(lost.count() as u64, plain.stats.messages_dropped, "{} seed {seed}", builtin.name);
                let originals = recording.messages.iter().filter(|message| message.copy == 0).count() as u64;
                assert_eq!(originals, plain.stats.messages_sent, "{} seed {seed}", builtin.name);
            }
        }
    }

    #[test]
    fn a_failing_seed_is_redrawn_from_an_identical_rerun() {
        let scenario = scenarios::load("at-most-once").expect("built in").scenario;
        let result = run_seed(&scenario, 2);
        assert!(result.verdict.is_failure(), "seed 2 of at-most-once loses a write");
        let section = seed_section(&scenario, &result.seed_record(), Vec::new()).expect("same hash");
        let diagram = section.diagram.expect("a diagram");
        assert_eq!(diagram.lanes.len(), 7, "every process matched one node: {:?}", section.notes);
        assert!(section.anomaly.is_some());
        assert!(!section.proving_ops.is_empty());
        assert!(section.proving_ops.iter().all(|op| !op.lane.is_empty()));
        assert!(diagram.ops.iter().any(|op| op.proving));
        assert!(diagram.arrows.iter().any(|arrow| arrow.label == "ProduceRequest"));
        let mut record = result.seed_record();
        record.trace_hash = Some("0".repeat(32));
        assert!(matches!(seed_section(&scenario, &record, Vec::new()), Err(HtmlError::Diverged { seed: 2, .. })));
    }
}
