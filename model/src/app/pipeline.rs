//! The consume-transform-produce pipeline: a member of a consumer group that reads its input partitions
//! read_committed, and for each batch of input records, in one transaction, sends one output record per
//! input record (carrying its `source`, the input key and offset) and commits the input offsets with the
//! transaction (`sendOffsetsToTransaction`, KIP-447). Optionally it also writes each input record to an
//! external store before the commit: the exactly-once boundary, since the store is not in the transaction.
//!
//! Each transaction is one `txn` operation: invoked once its input was polled, with the poll, the output
//! sends and the store writes it means to make; completed `ok` with the output offsets, `fail` when it
//! aborted, `info` when its commit was asked for but never answered. Its completion lists the store writes
//! the store acknowledged as this transaction's, whatever the Kafka outcome: an aborted transaction cannot
//! take back a row.
//!
//! After an abort the pipeline rewinds to the committed offsets (OffsetFetch with requireStable, waiting
//! out UNSTABLE_OFFSET_COMMIT while another transaction's offsets are pending). A heartbeat that answers
//! REBALANCE_IN_PROGRESS or UNKNOWN_MEMBER_ID makes it abort its open transaction (unless its commit is
//! already asked for) and join again; an `assign` operation records every new assignment. A zombie — paused
//! past its session timeout, then resumed — finds its TxnOffsetCommit fenced by generation (ILLEGAL_GENERATION)
//! or its epoch fenced by the coordinator, and its transaction never commits.

use crate::bugs::KafkaBug;
use crate::client::fetch::complete_fetch;
use crate::client::producer::Delivery;
use crate::client::txn_producer::{TxnClientConfig, TxnEvent, TxnPhase, TxnProducer};
use crate::ctx::REQUEST_ID_BITS;
use crate::ctx::{record, record_assign, record_crash, timer_parts, timer_tag, Ctx};
use crate::protocol::{ErrorCode, FetchData, FetchedBatch, GroupOp, GroupReply, IsolationLevel, Msg, PartitionId};
use eosim_checker::{MicroOp, OpFn, OpType};
use eosim_sim::NodeId;
use std::collections::BTreeMap;

const TIMER_POLL: u16 = 1;
const TIMER_HEARTBEAT: u16 = 2;
const TIMER_GROUP_RETRY: u16 = 3;
const TIMER_FETCH_TIMEOUT: u16 = 4;
const TIMER_GROUP_TIMEOUT: u16 = 5;
const TIMER_STORE_TIMEOUT: u16 = 6;

/// Request ids of the pipeline's own requests (group, fetch, store), apart from its producer's.
const REQUEST_ID_OFFSET: u64 = 1 << 29;

/// A pipeline reads only committed input: an aborted upstream transaction must not be transformed.
const ISOLATION: IsolationLevel = IsolationLevel::ReadCommitted;

/// Records per fetch at most.
const FETCH_MAX_RECORDS: u32 = 64;

/// The external store a pipeline writes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSettings {
    /// The store node.
    pub node: NodeId,
    /// Name of the store in the history.
    pub name: String,
    /// Idempotent writes (upsert keyed by the input record).
    pub upsert: bool,
}

/// What a pipeline does, times in nanoseconds.
#[derive(Clone, Debug)]
pub struct PipelineSettings {
    /// Its transactional producer sessions.
    pub client: TxnClientConfig,
    /// The consumer group.
    pub group_id: String,
    /// Input partitions (the group's subscription).
    pub input: Vec<PartitionId>,
    /// Output partitions; input partition `i` goes to output `i mod len`.
    pub output: Vec<PartitionId>,
    /// Input records per transaction at most.
    pub max_records_per_txn: usize,
    /// Time between polls when idle.
    pub poll_interval_ns: u64,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval_ns: u64,
    /// `session.timeout.ms`.
    pub session_timeout_ns: u64,
    /// `request.timeout.ms` for fetches, group and store requests.
    pub request_timeout_ns: u64,
    /// `retry.backoff.ms`.
    pub retry_backoff_ns: u64,
    /// The external store, if any.
    pub store: Option<StoreSettings>,
    /// First output value; values are unique per pipeline.
    pub value_base: i64,
    /// Index of the pipeline, for member ids.
    pub pipeline_index: u32,
}

/// What survives a crash.
#[derive(Clone, Debug, Default)]
pub struct PipelineDurable {
    /// Starts so far.
    pub incarnation: u64,
    /// Producer sessions so far; keeps request ids of different sessions apart.
    pub sessions: u64,
    /// Output values issued so far.
    pub outputs_issued: i64,
    /// Transaction attempts so far (store writers).
    pub attempts: u64,
}

/// Where the pipeline's group membership is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Membership {
    /// A JoinGroup is due or in flight.
    Joining,
    /// Joined; an OffsetFetch is due or in flight (after a join, an abort, or a new producer).
    FetchingOffsets,
    /// Positions are known: polling and transforming.
    Running,
}

#[derive(Clone, Debug)]
struct OpenTxn {
    reads: BTreeMap<PartitionId, Vec<(u64, i64)>>,
    /// (output partition, value, source partition, source offset), indexed by record id.
    sends: Vec<(PartitionId, i64, PartitionId, u64)>,
    offsets: BTreeMap<u64, u64>,
    /// Store writes not yet acknowledged, by request id: (key, value).
    store_pending: BTreeMap<u64, (String, i64)>,
    /// Store rows the transaction writes (the input records), before its commit.
    rows: Vec<(String, i64)>,
    /// Store writes the store acknowledged as this attempt's.
    store_acked: Vec<(String, i64)>,
    writer: u64,
    /// The commit or abort has been asked for.
    ending: bool,
    /// The Kafka outcome, held until every store write is answered: a completion lists the rows the store
    /// acknowledged, so it waits for the store (which never crashes) rather than guess.
    outcome: Option<OpType>,
}

#[derive(Clone, Debug)]
struct Volatile {
    producer: TxnProducer,
    process: u64,
    member_id: String,
    member_serial: u32,
    membership: Membership,
    generation: u32,
    assignment: Vec<PartitionId>,
    positions: BTreeMap<PartitionId, u64>,
    caught_up: BTreeMap<PartitionId, bool>,
    group_request: Option<u64>,
    heartbeat_request: Option<u64>,
    heartbeat_ok: bool,
    /// Fetches of the current round: request id → partition, with what they returned.
    fetches: BTreeMap<u64, PartitionId>,
    fetched: BTreeMap<PartitionId, Vec<(u64, i64)>>,
    fetch_round: u64,
    txn: Option<OpenTxn>,
    rejoin_after_txn: bool,
    next_request_id: u64,
}

/// A consume-transform-produce pipeline node.
#[derive(Clone, Debug)]
pub struct PipelineApp {
    settings: PipelineSettings,
    durable: PipelineDurable,
    volatile: Option<Volatile>,
}

impl PipelineApp {
    /// A pipeline with these settings.
    pub fn new(settings: PipelineSettings) -> PipelineApp {
        PipelineApp { settings, durable: PipelineDurable::default(), volatile: None }
    }

    /// True when the pipeline is running, has nothing open and has read its partitions to their end.
    pub fn is_settled(&self) -> bool {
        let Some(v) = &self.volatile else { return false };
        v.membership == Membership::Running
            && v.heartbeat_ok
            && v.txn.is_none()
            && v.producer.phase() == TxnPhase::Ready
            && v.assignment.iter().all(|partition| v.caught_up.get(partition).copied().unwrap_or(false))
    }

    /// What the pipeline is waiting for, in words, for stall reports.
    pub fn describe(&self) -> String {
        let Some(v) = &self.volatile else { return "pipeline: down".to_string() };
        let txn = v.txn.as_ref().map(|txn| (txn.ending, txn.outcome, txn.store_pending.len()));
        format!(
            "pipeline {}: {:?} generation {} {:?}, heartbeat ok {}, group request {:?}, fetches {}, caught up {:?}, txn (ending, outcome, store pending) {:?}, rejoin {}; {}",
            v.member_id,
            v.membership,
            v.generation,
            v.assignment,
            v.heartbeat_ok,
            v.group_request,
            v.fetches.len(),
            v.caught_up,
            txn,
            v.rejoin_after_txn,
            v.producer.describe()
        )
    }

    /// The next offset the pipeline will read, per assigned partition.
    pub fn positions(&self) -> Vec<(PartitionId, u64)> {
        let Some(v) = &self.volatile else { return Vec::new() };
        v.assignment.iter().map(|partition| (*partition, v.positions.get(partition).copied().unwrap_or(0))).collect()
    }

    /// The group's input partitions.
    pub fn inputs(&self) -> &[PartitionId] {
        &self.settings.input
    }

    /// The generation and partitions the pipeline holds, while running.
    pub fn assignment(&self) -> Option<(u32, &[PartitionId])> {
        let v = self.volatile.as_ref()?;
        (v.membership == Membership::Running).then_some((v.generation, v.assignment.as_slice()))
    }

    /// Starts the producer and joins the group.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.durable.incarnation += 1;
        let first_request_id = (self.durable.incarnation << REQUEST_ID_BITS) + REQUEST_ID_OFFSET;
        let producer = self.new_producer(ctx);
        let process = ctx.shared.new_process();
        self.volatile = Some(Volatile {
            producer,
            process,
            member_id: String::new(),
            member_serial: 0,
            membership: Membership::Joining,
            generation: 0,
            assignment: Vec::new(),
            positions: BTreeMap::new(),
            caught_up: BTreeMap::new(),
            group_request: None,
            heartbeat_request: None,
            heartbeat_ok: false,
            fetches: BTreeMap::new(),
            fetched: BTreeMap::new(),
            fetch_round: 0,
            txn: None,
            rejoin_after_txn: false,
            next_request_id: first_request_id,
        });
        self.new_member_id();
        self.send_group_request(ctx);
        ctx.set_timer(self.settings.heartbeat_interval_ns, timer_tag(TIMER_HEARTBEAT, 0));
    }

    /// A restart is a new process, a new member and a new producer (which fences the old one).
    pub fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        ctx.shared.count("app:pipeline-restart");
        self.on_start(ctx);
    }

    /// An open transaction ends unknown and the process dies.
    pub fn on_crash(&mut self, ctx: &mut Ctx<'_>) {
        let volatile = self.volatile.take().expect("running");
        if let Some(txn) = &volatile.txn {
            let mops = strip_offsets(txn_mops(ctx, txn, self.store_name(), false));
            record(ctx, volatile.process, OpType::Info, OpFn::Txn, mops);
        }
        record_crash(ctx, volatile.process);
    }

    fn new_producer(&mut self, ctx: &mut Ctx<'_>) -> TxnProducer {
        self.settings.client.start_session(ctx, &mut self.durable.sessions)
    }

    fn new_member_id(&mut self) {
        let v = self.volatile.as_mut().expect("running");
        v.member_serial += 1;
        v.member_id =
            format!("pipeline-{}-{}-{}", self.settings.pipeline_index, self.durable.incarnation, v.member_serial);
    }

    fn new_request_id(&mut self) -> u64 {
        let v = self.volatile.as_mut().expect("running");
        v.next_request_id += 1;
        v.next_request_id
    }

    /// Handles a response.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_>, msg: Msg) {
        match msg {
            Msg::GroupResponse { request_id, result } => self.on_group_response(ctx, request_id, result),
            Msg::FetchResponse { request_id, result, log_start_offset } => {
                self.on_fetch_response(ctx, request_id, result, log_start_offset)
            }
            Msg::StoreWriteResponse { request_id, applied } => self.on_store_written(ctx, request_id, applied),
            other => {
                self.volatile.as_mut().expect("running").producer.on_message(ctx, other);
            }
        }
        self.after_producer(ctx);
    }

    /// Handles the pipeline's timers and its producer's.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) {
        let (kind, payload) = timer_parts(tag);
        let v = self.volatile.as_mut().expect("running");
        match kind {
            TIMER_POLL => self.tick_poll(ctx),
            TIMER_HEARTBEAT => {
                self.tick_heartbeat(ctx);
                ctx.set_timer(self.settings.heartbeat_interval_ns, tag);
            }
            TIMER_GROUP_RETRY => {
                if v.group_request.is_none() {
                    self.send_group_request(ctx);
                }
            }
            TIMER_GROUP_TIMEOUT => {
                if v.group_request == Some(payload) {
                    v.group_request = None;
                    v.producer.client_mut().metadata_mut().refresh(ctx);
                    self.send_group_request(ctx);
                }
            }
            TIMER_FETCH_TIMEOUT => {
                if v.fetch_round == payload && !v.fetches.is_empty() {
                    ctx.shared.count("client:fetch-timeout");
                    v.producer.client_mut().metadata_mut().refresh(ctx);
                    self.finish_fetch_round(ctx);
                }
            }
            TIMER_STORE_TIMEOUT => self.retry_store_write(ctx, payload),
            _ => {
                let handled = v.producer.on_timer(ctx, tag);
                assert!(handled, "unknown pipeline timer kind {kind}");
            }
        }
        self.after_producer(ctx);
    }

    /// Sends the JoinGroup or OffsetFetch the membership calls for, to the group coordinator.
    fn send_group_request(&mut self, ctx: &mut Ctx<'_>) {
        let offsets_partition = self.settings.client.txn.internal.offsets_partition(&self.settings.group_id);
        let request_id = self.new_request_id();
        let v = self.volatile.as_mut().expect("running");
        let op = match v.membership {
            Membership::Joining => GroupOp::Join {
                member_id: v.member_id.clone(),
                session_timeout_ns: self.settings.session_timeout_ns,
                subscription: self.settings.input.clone(),
            },
            Membership::FetchingOffsets => {
                GroupOp::OffsetFetch { partitions: v.assignment.clone(), require_stable: true }
            }
            Membership::Running => return,
        };
        let Some(coordinator) = v.producer.client().metadata().leader(offsets_partition) else {
            v.producer.client_mut().metadata_mut().refresh(ctx);
            ctx.set_timer(self.settings.retry_backoff_ns, timer_tag(TIMER_GROUP_RETRY, 0));
            return;
        };
        v.group_request = Some(request_id);
        ctx.send(
            coordinator,
            Msg::GroupRequest { request_id, group_id: self.settings.group_id.clone(), op: Box::new(op) },
        );
        ctx.set_timer(self.settings.request_timeout_ns, timer_tag(TIMER_GROUP_TIMEOUT, request_id));
    }

    fn on_group_response(&mut self, ctx: &mut Ctx<'_>, request_id: u64, result: Result<GroupReply, ErrorCode>) {
        let v = self.volatile.as_mut().expect("running");
        if v.heartbeat_request == Some(request_id) {
            v.heartbeat_request = None;
            self.on_heartbeat(ctx, result);
            return;
        }
        if v.group_request != Some(request_id) {
            // The producer's TxnOffsetCommit, answered by the group coordinator too.
            v.producer.on_message(ctx, Msg::GroupResponse { request_id, result });
            return;
        }
        v.group_request = None;
        match result {
            Ok(GroupReply::Joined { generation, assignment }) => self.on_joined(ctx, generation, assignment),
            Ok(GroupReply::Offsets(offsets)) => {
                v.positions = offsets.iter().map(|(partition, offset)| (*partition, offset.unwrap_or(0))).collect();
                v.caught_up = v.assignment.iter().map(|partition| (*partition, false)).collect();
                v.membership = Membership::Running;
                ctx.set_timer(1, timer_tag(TIMER_POLL, 0));
            }
            Ok(GroupReply::Done) => {}
            Err(error) => {
                match error {
                    ErrorCode::UnstableOffsetCommit => ctx.shared.count("client:unstable-offset-commit"),
                    ErrorCode::NotCoordinator => v.producer.client_mut().metadata_mut().refresh(ctx),
                    ErrorCode::UnknownMemberId => {
                        v.membership = Membership::Joining;
                        self.new_member_id();
                    }
                    _ => {}
                }
                ctx.set_timer(self.settings.retry_backoff_ns, timer_tag(TIMER_GROUP_RETRY, 0));
            }
        }
    }

    fn on_joined(&mut self, ctx: &mut Ctx<'_>, generation: u32, assignment: Vec<PartitionId>) {
        let v = self.volatile.as_mut().expect("running");
        ctx.shared.count("app:pipeline-joined");
        v.generation = generation;
        v.assignment = assignment;
        v.heartbeat_ok = true;
        v.membership = Membership::FetchingOffsets;
        let process = v.process;
        let keys = v.assignment.iter().map(|partition| ctx.shared.keys[partition.index()].clone()).collect();
        record_assign(ctx, process, keys);
        self.send_group_request(ctx);
    }

    fn tick_heartbeat(&mut self, ctx: &mut Ctx<'_>) {
        let offsets_partition = self.settings.client.txn.internal.offsets_partition(&self.settings.group_id);
        let request_id = self.new_request_id();
        let v = self.volatile.as_mut().expect("running");
        if v.membership == Membership::Joining {
            return;
        }
        let Some(coordinator) = v.producer.client().metadata().leader(offsets_partition) else {
            // The group coordinator is unknown: look it up again (Kafka's heartbeat thread marks the coordinator
            // unknown and `lookupCoordinator` runs until one answers), or a member left with no coordinator
            // never learns that its group moved on without it.
            v.producer.client_mut().metadata_mut().refresh(ctx);
            return;
        };
        v.heartbeat_request = Some(request_id);
        let op = GroupOp::Heartbeat { member_id: v.member_id.clone(), generation: v.generation };
        ctx.send(
            coordinator,
            Msg::GroupRequest { request_id, group_id: self.settings.group_id.clone(), op: Box::new(op) },
        );
    }

    fn on_heartbeat(&mut self, ctx: &mut Ctx<'_>, result: Result<GroupReply, ErrorCode>) {
        let v = self.volatile.as_mut().expect("running");
        match result {
            Ok(_) => v.heartbeat_ok = true,
            Err(
                error @ (ErrorCode::RebalanceInProgress | ErrorCode::IllegalGeneration | ErrorCode::UnknownMemberId),
            ) => {
                ctx.shared.count("app:pipeline-rebalance");
                v.heartbeat_ok = false;
                if error == ErrorCode::UnknownMemberId {
                    self.new_member_id();
                }
                self.rejoin(ctx);
            }
            Err(ErrorCode::NotCoordinator) => v.producer.client_mut().metadata_mut().refresh(ctx),
            Err(_) => {}
        }
    }

    /// Joins again: an open transaction is aborted first, unless its commit is already asked for.
    fn rejoin(&mut self, ctx: &mut Ctx<'_>) {
        let v = self.volatile.as_mut().expect("running");
        if let Some(txn) = &v.txn {
            v.rejoin_after_txn = true;
            if !txn.ending && v.producer.phase() == TxnPhase::InTxn {
                v.producer.end(ctx, false);
            }
            return;
        }
        v.rejoin_after_txn = false;
        if v.membership != Membership::Joining && !v.assignment.is_empty() {
            // An eager rebalance revokes every partition before the next assignment: positions come from the
            // committed offsets again, whoever committed them meanwhile.
            let process = v.process;
            record_assign(ctx, process, Vec::new());
            v.assignment.clear();
        }
        v.membership = Membership::Joining;
        v.fetches.clear();
        v.fetched.clear();
        // An OffsetFetch still in flight belongs to the old assignment: its answer must be ignored.
        v.group_request = None;
        self.send_group_request(ctx);
    }

    /// Polls every assigned partition, unless busy.
    fn tick_poll(&mut self, ctx: &mut Ctx<'_>) {
        let v = self.volatile.as_mut().expect("running");
        if v.membership != Membership::Running || v.txn.is_some() || !v.fetches.is_empty() {
            // The offsets, the transaction or the round in progress schedules the next poll when it ends.
            return;
        }
        if v.producer.phase() != TxnPhase::Ready || v.rejoin_after_txn {
            ctx.set_timer(self.settings.poll_interval_ns, timer_tag(TIMER_POLL, 0));
            return;
        }
        v.fetch_round += 1;
        v.fetched.clear();
        let assignment = v.assignment.clone();
        for partition in assignment {
            let v = self.volatile.as_mut().expect("running");
            let metadata = v.producer.client().metadata();
            let Some(leader) = metadata.leader(partition) else {
                v.producer.client_mut().metadata_mut().refresh(ctx);
                continue;
            };
            let leader_epoch = metadata.leader_epoch(partition);
            let offset = v.positions.get(&partition).copied().unwrap_or(0);
            let request_id = self.new_request_id();
            let v = self.volatile.as_mut().expect("running");
            v.fetches.insert(request_id, partition);
            let msg = Msg::FetchRequest {
                request_id,
                partition,
                offset,
                max_records: FETCH_MAX_RECORDS,
                leader_epoch,
                isolation: ISOLATION,
            };
            ctx.send(leader, msg);
        }
        let v = self.volatile.as_mut().expect("running");
        if v.fetches.is_empty() {
            ctx.set_timer(self.settings.poll_interval_ns, timer_tag(TIMER_POLL, 0));
        } else {
            ctx.set_timer(self.settings.request_timeout_ns, timer_tag(TIMER_FETCH_TIMEOUT, v.fetch_round));
        }
    }

    fn on_fetch_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        request_id: u64,
        result: Result<Box<FetchData>, ErrorCode>,
        log_start_offset: Option<u64>,
    ) {
        let v = self.volatile.as_mut().expect("running");
        let Some(partition) = v.fetches.remove(&request_id) else { return };
        match result {
            Ok(data) => {
                let position = v.positions.get(&partition).copied().unwrap_or(0);
                // Kafka's `CompletedFetch`: read_committed drops aborted transactions and markers here.
                let batches: Vec<FetchedBatch> =
                    data.batches.into_iter().filter(|batch| batch.last_offset() >= position).collect();
                let completed = complete_fetch(&batches, &data.aborted, position, ISOLATION);
                let fresh = completed.records;
                if fresh.is_empty() {
                    // Markers and aborted records are skipped; the position moves past them.
                    v.positions.insert(partition, position.max(completed.next_offset));
                }
                let position = v.positions[&partition];
                v.caught_up.insert(partition, fresh.is_empty() && position >= data.last_stable_offset);
                if !fresh.is_empty() {
                    v.fetched.insert(partition, fresh);
                }
            }
            Err(ErrorCode::OffsetOutOfRange) => {
                // auto.offset.reset=earliest: a committed offset below the log start offset (retention deleted
                // the input) restarts at the log start offset, skipping the deleted records, as Kafka does.
                ctx.shared.count("client:offset-reset");
                let log_start_offset = log_start_offset.expect("a broker answering OFFSET_OUT_OF_RANGE hosts it");
                v.positions.insert(partition, log_start_offset);
            }
            Err(_) => {
                ctx.shared.count("client:fetch-error");
                v.producer.client_mut().metadata_mut().invalidate(ctx, partition);
            }
        }
        if v.fetches.is_empty() {
            self.finish_fetch_round(ctx);
        }
    }

    /// The fetches of a round are in: transform what arrived in one transaction, or poll again later.
    fn finish_fetch_round(&mut self, ctx: &mut Ctx<'_>) {
        let v = self.volatile.as_mut().expect("running");
        v.fetches.clear();
        let mut fetched = std::mem::take(&mut v.fetched);
        if fetched.is_empty() || v.membership != Membership::Running || v.rejoin_after_txn {
            ctx.set_timer(self.settings.poll_interval_ns, timer_tag(TIMER_POLL, 0));
            return;
        }
        let mut budget = self.settings.max_records_per_txn;
        for records in fetched.values_mut() {
            records.truncate(budget);
            budget -= records.len();
        }
        fetched.retain(|_, records| !records.is_empty());
        self.begin_txn(ctx, fetched);
    }

    /// One transaction: an output per input record (and a store row), the input offsets, the commit.
    fn begin_txn(&mut self, ctx: &mut Ctx<'_>, reads: BTreeMap<PartitionId, Vec<(u64, i64)>>) {
        self.durable.attempts += 1;
        let writer = (u64::from(self.settings.pipeline_index) << 40) | self.durable.attempts;
        let mut sends = Vec::new();
        let mut rows = Vec::new();
        for (partition, records) in &reads {
            let input_index = self.settings.input.iter().position(|p| p == partition).expect("assigned inputs");
            let output = self.settings.output[input_index % self.settings.output.len()];
            for (offset, input_value) in records {
                let value = self.settings.value_base + self.durable.outputs_issued;
                self.durable.outputs_issued += 1;
                sends.push((output, value, *partition, *offset));
                if self.settings.store.is_some() {
                    rows.push((ctx.shared.keys[partition.index()].clone(), *input_value));
                }
            }
        }
        let offsets: Vec<(PartitionId, u64)> =
            reads.iter().map(|(partition, records)| (*partition, records.last().expect("non-empty").0 + 1)).collect();
        let txn = OpenTxn {
            reads,
            sends,
            offsets: BTreeMap::new(),
            store_pending: BTreeMap::new(),
            rows: rows.clone(),
            store_acked: Vec::new(),
            writer,
            ending: false,
            outcome: None,
        };
        let mops = txn_mops(ctx, &txn, self.store_name(), true);
        let v = self.volatile.as_mut().expect("running");
        for (partition, next) in &offsets {
            v.positions.insert(*partition, *next);
        }
        record(ctx, v.process, OpType::Invoke, OpFn::Txn, mops);
        v.producer.begin();
        for (record_id, (partition, value, _, _)) in txn.sends.iter().enumerate() {
            let bytes = v.producer.record_bytes(ctx);
            if v.producer.send(ctx, *partition, record_id as u64, *value, bytes).is_err() {
                // The send threw: the transaction can only abort (the Abortable event asks for it).
                ctx.shared.count("app:pipeline-send-failed");
                break;
            }
        }
        let (group_id, member_id, generation) = (self.settings.group_id.clone(), v.member_id.clone(), v.generation);
        v.producer.send_offsets(ctx, &group_id, &member_id, generation, offsets);
        v.txn = Some(txn);
        for row in rows {
            let request_id = self.new_request_id();
            let txn = self.volatile.as_mut().expect("running").txn.as_mut().expect("just opened");
            txn.store_pending.insert(request_id, row);
            self.send_store_write(ctx, request_id);
        }
        self.maybe_commit(ctx);
    }

    fn store_name(&self) -> Option<&str> {
        self.settings.store.as_ref().map(|store| store.name.as_str())
    }

    fn send_store_write(&mut self, ctx: &mut Ctx<'_>, request_id: u64) {
        let store = self.settings.store.as_ref().expect("a store is configured");
        let v = self.volatile.as_ref().expect("running");
        let txn = v.txn.as_ref().expect("open");
        let (key, value) = txn.store_pending[&request_id].clone();
        let msg =
            Msg::StoreWriteRequest { request_id, key: key.into(), value, upsert: store.upsert, writer: txn.writer };
        ctx.send(store.node, msg);
        ctx.set_timer(self.settings.request_timeout_ns, timer_tag(TIMER_STORE_TIMEOUT, request_id));
    }

    fn retry_store_write(&mut self, ctx: &mut Ctx<'_>, request_id: u64) {
        let v = self.volatile.as_ref().expect("running");
        let pending = v.txn.as_ref().and_then(|txn| txn.store_pending.get(&request_id)).cloned();
        let Some(row) = pending else { return };
        ctx.shared.count("client:store-retry");
        let new_id = self.new_request_id();
        let txn = self.volatile.as_mut().expect("running").txn.as_mut().expect("open");
        txn.store_pending.remove(&request_id);
        txn.store_pending.insert(new_id, row);
        self.send_store_write(ctx, new_id);
    }

    fn on_store_written(&mut self, ctx: &mut Ctx<'_>, request_id: u64, applied: bool) {
        let v = self.volatile.as_mut().expect("running");
        let Some(txn) = v.txn.as_mut() else { return };
        let Some(row) = txn.store_pending.remove(&request_id) else { return };
        if applied && !txn.store_acked.contains(&row) {
            txn.store_acked.push(row);
        }
        if let Some(outcome) = txn.outcome.filter(|_| txn.store_pending.is_empty()) {
            self.finish_txn(ctx, outcome);
            return;
        }
        self.maybe_commit(ctx);
    }

    /// Commits once every store write is acknowledged (the store is written before the Kafka commit).
    fn maybe_commit(&mut self, ctx: &mut Ctx<'_>) {
        let v = self.volatile.as_mut().expect("running");
        let Some(txn) = v.txn.as_mut() else { return };
        if txn.ending || !txn.store_pending.is_empty() || v.producer.phase() != TxnPhase::InTxn {
            return;
        }
        txn.ending = true;
        v.producer.end(ctx, true);
    }

    /// Turns the producer's record outcomes and events into history operations and next steps.
    fn after_producer(&mut self, ctx: &mut Ctx<'_>) {
        let Some(v) = self.volatile.as_mut() else { return };
        for completion in v.producer.take_completions() {
            if let (Some(txn), Delivery::Acked(Some(offset))) = (v.txn.as_mut(), completion.delivery) {
                txn.offsets.insert(completion.record, offset);
            }
        }
        for event in self.volatile.as_mut().expect("running").producer.take_events() {
            match event {
                TxnEvent::Ready => {}
                TxnEvent::Committed => self.finish_txn(ctx, OpType::Ok),
                TxnEvent::Aborted => self.finish_txn(ctx, OpType::Fail),
                TxnEvent::Abortable(_) => {
                    let v = self.volatile.as_mut().expect("running");
                    if let Some(txn) = v.txn.as_mut() {
                        txn.ending = true;
                    }
                    v.producer.end(ctx, false);
                }
                TxnEvent::Fatal(_) => self.on_fatal(ctx),
            }
        }
    }

    /// The transaction ended: record it once the store has answered; after anything but a commit, rewind to
    /// the committed offsets.
    fn finish_txn(&mut self, ctx: &mut Ctx<'_>, outcome: OpType) {
        let store_name = self.settings.store.as_ref().map(|store| store.name.clone());
        let v = self.volatile.as_mut().expect("running");
        let Some(txn) = v.txn.as_mut() else { return };
        if !txn.store_pending.is_empty() {
            txn.outcome = Some(outcome);
            return;
        }
        let txn = v.txn.take().expect("checked above");
        let mops = txn_mops(ctx, &txn, store_name.as_deref(), false);
        let mops = if outcome == OpType::Ok { mops } else { strip_offsets(mops) };
        record(ctx, v.process, outcome, OpFn::Txn, mops);
        if outcome == OpType::Info {
            // A process whose operation ended unknown is retired; its successor holds the same partitions.
            v.process = ctx.shared.new_process();
            let keys = v.assignment.iter().map(|partition| ctx.shared.keys[partition.index()].clone()).collect();
            let process = v.process;
            record_assign(ctx, process, keys);
        }
        if outcome != OpType::Ok && v.membership == Membership::Running {
            if self.settings.client.txn.kafka_bugs.contains(&KafkaBug::Kafka17582) {
                // KAFKA-17582 put back: `abortTransaction` leaves the consumer's position where the aborted
                // transaction's input ended, and with no rebalance nothing seeks it back to the committed
                // offsets, so the next poll goes on past that input.
                ctx.shared.count("app:pipeline-abort-without-rewind");
            } else {
                ctx.shared.count("app:pipeline-rewind");
                v.membership = Membership::FetchingOffsets;
            }
        }
        self.resume(ctx);
    }

    /// What comes after a transaction or a new producer: a rejoin, a rewind, or the next poll.
    fn resume(&mut self, ctx: &mut Ctx<'_>) {
        let v = self.volatile.as_mut().expect("running");
        if v.rejoin_after_txn {
            self.rejoin(ctx);
        } else if v.membership == Membership::FetchingOffsets && v.group_request.is_none() {
            self.send_group_request(ctx);
        } else {
            ctx.set_timer(1, timer_tag(TIMER_POLL, 0));
        }
    }

    /// The producer is closed: the transaction failed (or is unknown), a new producer takes over, and the
    /// pipeline rewinds.
    fn on_fatal(&mut self, ctx: &mut Ctx<'_>) {
        let end_sent = self.volatile.as_ref().expect("running").producer.end_sent();
        ctx.shared.count("app:producer-reinitialized");
        let producer = self.new_producer(ctx);
        let v = self.volatile.as_mut().expect("running");
        v.producer = producer;
        if v.membership == Membership::Running {
            v.membership = Membership::FetchingOffsets;
        }
        if v.txn.is_some() {
            self.finish_txn(ctx, if end_sent { OpType::Info } else { OpType::Fail });
        } else {
            self.resume(ctx);
        }
    }
}

/// Completions other than ok carry no offsets.
fn strip_offsets(mops: Vec<MicroOp>) -> Vec<MicroOp> {
    mops.into_iter()
        .map(|mop| match mop {
            MicroOp::Send { key, value, source, .. } => MicroOp::Send { key, value, offset: None, source },
            other => other,
        })
        .collect()
}

/// The micro-ops of a pipeline transaction: the poll, the output sends (with the offsets known), and the
/// store writes — those it means to make on the invocation, those the store acknowledged on a completion.
fn txn_mops(ctx: &Ctx<'_>, txn: &OpenTxn, store: Option<&str>, invoke: bool) -> Vec<MicroOp> {
    let keys = &ctx.shared.keys;
    let reads =
        txn.reads.iter().map(|(partition, records)| (keys[partition.index()].clone(), records.clone())).collect();
    let mut mops = vec![MicroOp::Poll { reads }];
    for (record_id, (partition, value, source, source_offset)) in txn.sends.iter().enumerate() {
        let offset = if invoke { None } else { txn.offsets.get(&(record_id as u64)).copied() };
        let source = Some((keys[source.index()].clone(), *source_offset));
        mops.push(MicroOp::Send { key: keys[partition.index()].clone(), value: *value, offset, source });
    }
    if let Some(store) = store {
        let rows = if invoke { &txn.rows } else { &txn.store_acked };
        for (key, value) in rows {
            mops.push(MicroOp::Sink { store: store.to_string(), key: key.clone(), value: *value });
        }
    }
    mops
}
