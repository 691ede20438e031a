//! The transactional producer: Kafka's `TransactionManager` on top of the producer client —
//! `initTransactions`, `beginTransaction`, `send`, `sendOffsetsToTransaction`, `commitTransaction`,
//! `abortTransaction` — talking to the transaction coordinator and, for offsets, the group coordinator.
//!
//! One coordinator request is in flight at a time, as in Kafka. Retriable answers (NOT_COORDINATOR,
//! CONCURRENT_TRANSACTIONS, a timeout) are retried after a backoff, with fresh metadata when the
//! coordinator may have moved. Errors come to the application as [`TxnEvent`]s in Kafka's classes: a fatal
//! one (PRODUCER_FENCED, a coordinator's INVALID_PRODUCER_EPOCH) means the producer must be closed and a new
//! one started, whose InitProducerId bumps the epoch, fences this one and aborts its open transaction; an
//! abortable one (a produce error, a batch given up on or expired, a refused send, ILLEGAL_GENERATION from a
//! KIP-447-fenced offset commit) means the application must abort and goes on with the same producer. A
//! produce-side abortable error also bumps the epoch with the abort (KIP-360): under transaction version 1
//! by InitProducerId with the current producer id and epoch once EndTxn is done, under version 2 by taking
//! the epoch EndTxn returns.
//!
//! eos-tv1 sends AddPartitionsToTxn before a partition's first batch and keeps its epoch across
//! transactions. eos-tv2 (KIP-890) adds partitions implicitly (the partition leader asks the coordinator) and
//! takes the bumped epoch every EndTxn returns, restarting its sequences.

use crate::bugs::KafkaBug;
use crate::client::producer::{ClientError, Completion, ProducerClient, RecordId, SendError};
use crate::coordinator::internal_topics::InternalTopics;
use crate::ctx::REQUEST_ID_BITS;
use crate::ctx::{timer_parts, timer_tag, Ctx};
use crate::protocol::{ErrorCode, GroupOp, GroupReply, Msg, PartitionId, TxnInit, TxnOp};
use crate::scenario::ProducerSettings;
use eosim_sim::{NodeId, TimerId};

const TIMER_REQUEST_TIMEOUT: u16 = 24;
const TIMER_BACKOFF: u16 = 25;

/// Request ids of the transaction manager, apart from the client's own.
const REQUEST_ID_OFFSET: u64 = 1 << 30;

/// Settings of a transactional producer, times in nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnProducerSettings {
    /// `transactional.id`.
    pub transactional_id: String,
    /// `transaction.timeout.ms`.
    pub transaction_timeout_ns: u64,
    /// Transaction version 1: AddPartitionsToTxn before a partition's first batch (TV2 adds implicitly and
    /// takes the epoch every EndTxn returns).
    pub explicit_add_partitions: bool,
    /// `request.timeout.ms`.
    pub request_timeout_ns: u64,
    /// `retry.backoff.ms`.
    pub retry_backoff_ns: u64,
    /// Where the coordinators' partitions are.
    pub internal: InternalTopics,
    /// Kafka bugs put back in this client (`bugs.rs`).
    pub kafka_bugs: Vec<KafkaBug>,
}

/// Everything an application needs to start transactional producer sessions.
#[derive(Clone, Debug)]
pub struct TxnClientConfig {
    /// The transactional producer's settings (its transactional id is the application's own).
    pub txn: TxnProducerSettings,
    /// The producer client underneath.
    pub producer: ProducerSettings,
    /// Brokers to ask for metadata.
    pub brokers: Vec<NodeId>,
    /// Every partition of the cluster, user and internal, for the client's metadata.
    pub partition_count: usize,
}

impl TxnClientConfig {
    /// Starts a new producer session (`initTransactions`): after a start or a fatal error, with request
    /// ids apart from every earlier session's, so no late answer to an old session is taken for a new one.
    pub fn start_session(&self, ctx: &mut Ctx<'_>, sessions: &mut u64) -> TxnProducer {
        *sessions += 1;
        let first_request_id = *sessions << REQUEST_ID_BITS;
        let client =
            ProducerClient::new(self.producer.clone(), self.brokers.clone(), self.partition_count, first_request_id);
        let mut producer = TxnProducer::new(self.txn.clone(), client, first_request_id);
        producer.start(ctx);
        producer
    }
}

/// What happened, for the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnEvent {
    /// `initTransactions` completed: transactions may begin.
    Ready,
    /// The transaction committed.
    Committed,
    /// The transaction aborted.
    Aborted,
    /// The transaction must be aborted.
    Abortable(ErrorCode),
    /// The producer must be closed.
    Fatal(ErrorCode),
}

/// Where the producer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnPhase {
    /// Waiting for InitProducerId.
    Initializing,
    /// No transaction open.
    Ready,
    /// A transaction is open.
    InTxn,
    /// `commitTransaction` (true) or `abortTransaction` (false) was called.
    Ending(bool),
    /// Closed by a fatal error.
    Failed,
}

/// Offsets sent with the transaction (`sendOffsetsToTransaction`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingOffsets {
    group_id: String,
    member_id: String,
    generation: u32,
    offsets: Vec<(PartitionId, u64)>,
    /// AddOffsetsToTxn done; next the TxnOffsetCommit.
    added: bool,
    /// TxnOffsetCommit done.
    committed: bool,
}

/// A coordinator request.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Init,
    AddPartitions(Vec<PartitionId>),
    AddOffsets,
    CommitOffsets,
    EndTxn(bool),
}

/// A transactional producer.
#[derive(Clone, Debug)]
pub struct TxnProducer {
    settings: TxnProducerSettings,
    client: ProducerClient,
    producer: Option<(u64, u16)>,
    phase: TxnPhase,
    /// The request in flight: its id, its step, and its timeout timer, cancelled when the answer comes.
    in_flight: Option<(u64, Step, TimerId)>,
    backing_off: bool,
    offsets: Option<PendingOffsets>,
    /// eos-tv1: the coordinator knows of this transaction (something was added), so it must be ended there.
    started_on_coordinator: bool,
    /// Set once the transaction's commit request was sent: from then its outcome is the coordinator's.
    end_sent: bool,
    /// The transaction is in Kafka's ABORTABLE_ERROR state and the application was told, once.
    abortable: Option<ErrorCode>,
    /// KIP-360 under transaction version 1: the abort is done and InitProducerId with this producer id and
    /// epoch is bumping the epoch; the application hears Aborted when it completes.
    bumping: Option<(u64, u16)>,
    next_request_id: u64,
    events: Vec<TxnEvent>,
}

impl TxnProducer {
    /// A producer over `client` (made transactional here); request ids start after `first_request_id`.
    pub fn new(settings: TxnProducerSettings, client: ProducerClient, first_request_id: u64) -> TxnProducer {
        let client =
            client.transactional(&settings.transactional_id, settings.explicit_add_partitions, &settings.kafka_bugs);
        TxnProducer {
            settings,
            client,
            producer: None,
            phase: TxnPhase::Initializing,
            in_flight: None,
            backing_off: false,
            offsets: None,
            started_on_coordinator: false,
            end_sent: false,
            abortable: None,
            bumping: None,
            next_request_id: first_request_id + REQUEST_ID_OFFSET,
            events: Vec::new(),
        }
    }

    /// `initTransactions`.
    pub fn start(&mut self, ctx: &mut Ctx<'_>) {
        self.client.start(ctx);
        self.pump(ctx);
    }

    /// Where the producer is.
    pub fn phase(&self) -> TxnPhase {
        self.phase
    }

    /// True once the transaction's EndTxn(commit) was sent: its outcome may be commit even if the answer is
    /// lost.
    pub fn end_sent(&self) -> bool {
        self.end_sent
    }

    /// The producer id and epoch, once initialized.
    pub fn producer(&self) -> Option<(u64, u16)> {
        self.producer
    }

    /// The size of the application's next record (the workload's).
    pub fn record_bytes(&self, ctx: &mut Ctx<'_>) -> u32 {
        crate::client::producer::record_bytes(self.client.settings(), ctx)
    }

    /// The client underneath, for its metadata.
    pub fn client(&self) -> &ProducerClient {
        &self.client
    }

    /// Events since the last call.
    pub fn take_events(&mut self) -> Vec<TxnEvent> {
        std::mem::take(&mut self.events)
    }

    /// Record outcomes since the last call.
    pub fn take_completions(&mut self) -> Vec<Completion> {
        self.client.take_completions()
    }

    /// `beginTransaction`.
    pub fn begin(&mut self) {
        assert_eq!(self.phase, TxnPhase::Ready, "a transaction begins only when none is open");
        self.phase = TxnPhase::InTxn;
        self.end_sent = false;
        self.abortable = None;
    }

    /// `send` within the open transaction; an error means the record certainly never left, and (Kafka
    /// since KAFKA-9279) the transaction can no longer commit.
    pub fn send(
        &mut self,
        ctx: &mut Ctx<'_>,
        partition: PartitionId,
        record: RecordId,
        value: i64,
        bytes: u32,
    ) -> Result<(), SendError> {
        assert_eq!(self.phase, TxnPhase::InTxn, "sends belong to an open transaction");
        let result = self.client.send(ctx, partition, record, value, bytes);
        self.after_client(ctx);
        result
    }

    /// `sendOffsetsToTransaction`: the offsets commit with the transaction, fenced by the member's generation.
    pub fn send_offsets(
        &mut self,
        ctx: &mut Ctx<'_>,
        group_id: &str,
        member_id: &str,
        generation: u32,
        offsets: Vec<(PartitionId, u64)>,
    ) {
        assert_eq!(self.phase, TxnPhase::InTxn, "offsets belong to an open transaction");
        if self.abortable.is_some() {
            // `sendOffsetsToTransaction` throws the transaction's abortable error.
            return;
        }
        self.offsets = Some(PendingOffsets {
            group_id: group_id.to_string(),
            member_id: member_id.to_string(),
            generation,
            offsets,
            added: false,
            committed: false,
        });
        self.pump(ctx);
    }

    /// `commitTransaction` (true) or `abortTransaction` (false).
    pub fn end(&mut self, ctx: &mut Ctx<'_>, commit: bool) {
        assert_eq!(self.phase, TxnPhase::InTxn, "only an open transaction ends");
        if commit && self.abortable.is_some() {
            // `commitTransaction` in ABORTABLE_ERROR throws the error again: the application must abort.
            return;
        }
        self.phase = TxnPhase::Ending(commit);
        self.client.begin_completing();
        if commit {
            self.client.flush(ctx);
        } else {
            self.client.drop_unsent();
            self.offsets = None;
        }
        self.pump(ctx);
    }

    /// Handles a response; false if it was not for this producer.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> bool {
        match msg {
            Msg::InitProducerIdResponse { request_id, result } => {
                if self.take_in_flight(ctx, request_id).is_some() {
                    self.on_init(ctx, result);
                }
            }
            Msg::TxnResponse { request_id, result } => {
                if let Some(step) = self.take_in_flight(ctx, request_id) {
                    self.on_txn_response(ctx, step, result);
                }
            }
            Msg::GroupResponse { request_id, result } => {
                if self.take_in_flight(ctx, request_id).is_some() {
                    self.on_offsets_committed(ctx, result);
                }
            }
            Msg::ProduceResponse { .. } | Msg::MetadataResponse { .. } => self.client.on_message(ctx, msg),
            _ => return false,
        }
        self.after_client(ctx);
        true
    }

    /// Handles a timer of the producer or its client; false if the tag is neither's.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) -> bool {
        let (kind, payload) = timer_parts(tag);
        match kind {
            TIMER_REQUEST_TIMEOUT => {
                if self.in_flight.as_ref().is_some_and(|(request_id, _, _)| *request_id == payload) {
                    ctx.shared.count("client:txn-request-timeout");
                    self.in_flight = None;
                    self.client.metadata_mut().refresh(ctx);
                    self.backoff(ctx);
                }
            }
            TIMER_BACKOFF => {
                self.backing_off = false;
                self.pump(ctx);
            }
            _ => {
                if !self.client.on_timer(ctx, tag) {
                    return false;
                }
            }
        }
        self.after_client(ctx);
        true
    }

    fn take_in_flight(&mut self, ctx: &mut Ctx<'_>, request_id: u64) -> Option<Step> {
        if self.in_flight.as_ref().is_some_and(|(id, _, _)| *id == request_id) {
            let (_, step, timeout) = self.in_flight.take().expect("checked above");
            ctx.cancel_timer(timeout);
            return Some(step);
        }
        None
    }

    /// Looks at the client's errors, then at what to send next.
    fn after_client(&mut self, ctx: &mut Ctx<'_>) {
        match self.client.error() {
            Some(ClientError::Fatal(error)) if self.phase != TxnPhase::Failed => self.fail(ctx, error),
            Some(ClientError::Abortable(error)) if matches!(self.phase, TxnPhase::InTxn | TxnPhase::Ending(true)) => {
                // A commit cannot go ahead: the application must abort instead.
                self.transition_to_abortable_error(ctx, error);
            }
            _ => {}
        }
        self.pump(ctx);
    }

    /// `TransactionManager.transitionToAbortableError`: the open transaction can only abort; the
    /// application hears it once.
    fn transition_to_abortable_error(&mut self, ctx: &mut Ctx<'_>, error: ErrorCode) {
        self.phase = TxnPhase::InTxn;
        if self.abortable.is_none() {
            ctx.shared.count("client:txn-abortable-reported");
            self.abortable = Some(error);
            self.events.push(TxnEvent::Abortable(error));
        }
    }

    fn fail(&mut self, ctx: &mut Ctx<'_>, error: ErrorCode) {
        ctx.shared.count("client:producer-fenced-or-fatal");
        self.phase = TxnPhase::Failed;
        self.in_flight = None;
        self.events.push(TxnEvent::Fatal(error));
    }

    /// Sends the next coordinator request the phase calls for, if none is in flight.
    fn pump(&mut self, ctx: &mut Ctx<'_>) {
        if self.in_flight.is_some() || self.backing_off {
            return;
        }
        let Some(step) = self.next_step() else { return };
        self.send_step(ctx, step);
    }

    fn next_step(&mut self) -> Option<Step> {
        match self.phase {
            TxnPhase::Initializing => Some(Step::Init),
            TxnPhase::Ready | TxnPhase::Failed => None,
            TxnPhase::InTxn => self.next_step_in_txn(),
            TxnPhase::Ending(commit) => {
                if let Some(step) = self.next_step_in_txn() {
                    return (commit).then_some(step);
                }
                if self.client.has_in_flight() || (commit && !self.client.is_idle()) {
                    return None;
                }
                if commit && self.client.error().is_some() {
                    return None;
                }
                if !self.started_on_coordinator && self.settings.explicit_add_partitions {
                    // Nothing reached the coordinator: the transaction ends here (transaction version 1).
                    self.complete_transaction(commit);
                    return self.bumping.map(|_| Step::Init);
                }
                Some(Step::EndTxn(commit))
            }
        }
    }

    fn next_step_in_txn(&self) -> Option<Step> {
        if self.abortable.is_some() {
            return None;
        }
        let partitions = self.client.partitions_to_add();
        if !partitions.is_empty() {
            return Some(Step::AddPartitions(partitions));
        }
        let offsets = self.offsets.as_ref()?;
        if !offsets.added {
            Some(Step::AddOffsets)
        } else if !offsets.committed {
            Some(Step::CommitOffsets)
        } else {
            None
        }
    }

    fn send_step(&mut self, ctx: &mut Ctx<'_>, step: Step) {
        let coordinator_partition = match step {
            Step::CommitOffsets => {
                let group_id = &self.offsets.as_ref().expect("offsets pending").group_id;
                self.settings.internal.offsets_partition(group_id)
            }
            _ => self.settings.internal.transaction_log_partition(&self.settings.transactional_id),
        };
        let Some(coordinator) = self.client.metadata().leader(coordinator_partition) else {
            self.client.metadata_mut().refresh(ctx);
            self.backoff(ctx);
            return;
        };
        self.next_request_id += 1;
        let request_id = self.next_request_id;
        let msg = self.request(request_id, &step);
        if step == Step::EndTxn(true) {
            // Only a commit can end in a commit: an abort sent stays a certain abort.
            self.end_sent = true;
        }
        ctx.send(coordinator, msg);
        // BUGGIFY: the coordinator request times out early, as when its connection is closed for another
        // request's timeout; the request itself may still arrive and take effect.
        let timeout_ns = if crate::buggify!(ctx, "early-coordinator-request-timeout") {
            self.settings.request_timeout_ns / 4
        } else {
            self.settings.request_timeout_ns
        };
        let timeout = ctx.set_timer(timeout_ns.max(1), timer_tag(TIMER_REQUEST_TIMEOUT, request_id));
        self.in_flight = Some((request_id, step, timeout));
    }

    fn request(&self, request_id: u64, step: &Step) -> Msg {
        let transactional_id = self.settings.transactional_id.clone();
        let (producer_id, epoch) = self.producer.unwrap_or((0, 0));
        let op = match step {
            Step::Init => {
                let timeout_ns = self.settings.transaction_timeout_ns;
                let init = TxnInit { transactional_id, timeout_ns, current: self.bumping };
                return Msg::InitProducerIdRequest { request_id, transactional: Some(Box::new(init)) };
            }
            Step::AddPartitions(partitions) => TxnOp::AddPartitions(partitions.clone()),
            Step::AddOffsets => TxnOp::AddOffsets(self.offsets.as_ref().expect("offsets pending").group_id.clone()),
            Step::EndTxn(commit) => TxnOp::EndTxn(*commit),
            Step::CommitOffsets => {
                let offsets = self.offsets.as_ref().expect("offsets pending");
                let op = GroupOp::TxnOffsetCommit {
                    transactional_id,
                    producer_id,
                    epoch,
                    member_id: offsets.member_id.clone(),
                    generation: offsets.generation,
                    offsets: offsets.offsets.clone(),
                };
                return Msg::GroupRequest { request_id, group_id: offsets.group_id.clone(), op: Box::new(op) };
            }
        };
        Msg::TxnRequest { request_id, transactional_id: transactional_id.into(), producer_id, epoch, op: Box::new(op) }
    }

    fn backoff(&mut self, ctx: &mut Ctx<'_>) {
        if !self.backing_off {
            self.backing_off = true;
            ctx.set_timer(self.settings.retry_backoff_ns, timer_tag(TIMER_BACKOFF, 0));
        }
    }

    fn on_init(&mut self, ctx: &mut Ctx<'_>, result: Result<(u64, u16), ErrorCode>) {
        match result {
            Ok((producer_id, epoch)) => {
                self.producer = Some((producer_id, epoch));
                self.client.set_producer(producer_id, epoch);
                self.phase = TxnPhase::Ready;
                if let Some((old_producer_id, old_epoch)) = self.bumping.take() {
                    // `abortTransaction` completes only once the epoch is bumped.
                    assert!(epoch > old_epoch || producer_id != old_producer_id, "a bump moves the epoch on");
                    ctx.shared.count("client:abortable-epoch-bump");
                    self.events.push(TxnEvent::Aborted);
                } else {
                    self.events.push(TxnEvent::Ready);
                }
            }
            Err(error) => self.retry_or_fail(ctx, error),
        }
    }

    fn on_txn_response(&mut self, ctx: &mut Ctx<'_>, step: Step, result: Result<(u64, u16), ErrorCode>) {
        let (producer_id, epoch) = match result {
            Ok(producer) => producer,
            Err(error) => return self.retry_or_fail(ctx, error),
        };
        match step {
            Step::AddPartitions(partitions) => {
                self.started_on_coordinator = true;
                self.client.mark_added(ctx, &partitions);
            }
            Step::AddOffsets => {
                self.started_on_coordinator = true;
                if let Some(offsets) = self.offsets.as_mut() {
                    offsets.added = true;
                }
            }
            Step::EndTxn(commit) => {
                if !self.settings.explicit_add_partitions {
                    // Transaction version 2: the coordinator bumped the epoch at Prepare (and rotated the
                    // producer id once the epoch was exhausted); the next transaction uses what it returned,
                    // which is also the KIP-360 bump an abortable error asked for.
                    if self.client.epoch_bump_required() && self.producer != Some((producer_id, epoch)) {
                        ctx.shared.count("client:abortable-epoch-bump");
                    }
                    self.producer = Some((producer_id, epoch));
                    self.client.set_producer(producer_id, epoch);
                }
                self.complete_transaction(commit);
            }
            Step::Init | Step::CommitOffsets => unreachable!("answered by other messages"),
        }
    }

    fn on_offsets_committed(&mut self, ctx: &mut Ctx<'_>, result: Result<GroupReply, ErrorCode>) {
        match result {
            Ok(_) => {
                if let Some(offsets) = self.offsets.as_mut() {
                    offsets.committed = true;
                }
            }
            Err(error @ (ErrorCode::IllegalGeneration | ErrorCode::UnknownMemberId)) => {
                // KIP-447: a newer generation owns these partitions; this transaction must not commit.
                ctx.shared.count("client:txn-offset-commit-fenced");
                self.offsets = None;
                if matches!(self.phase, TxnPhase::InTxn | TxnPhase::Ending(true)) {
                    self.transition_to_abortable_error(ctx, error);
                }
            }
            Err(error) => self.retry_or_fail(ctx, error),
        }
    }

    /// Retriable errors are retried after a backoff (with fresh metadata when the coordinator may have
    /// moved); the others are fatal.
    fn retry_or_fail(&mut self, ctx: &mut Ctx<'_>, error: ErrorCode) {
        match error {
            ErrorCode::ConcurrentTransactions | ErrorCode::NotEnoughReplicas | ErrorCode::CoordinatorLoadInProgress => {
                self.backoff(ctx)
            }
            ErrorCode::NotCoordinator | ErrorCode::NotLeaderOrFollower => {
                self.client.metadata_mut().refresh(ctx);
                self.backoff(ctx);
            }
            ErrorCode::TransactionAbortable
                if self.phase == TxnPhase::InTxn || self.phase == TxnPhase::Ending(true) =>
            {
                self.transition_to_abortable_error(ctx, error);
            }
            _ => self.fail(ctx, error),
        }
    }

    /// Kafka's `completeTransaction`: under transaction version 1 an abort whose transaction left
    /// sequences unknown goes on to InitProducerId with the current producer id and epoch (KIP-360,
    /// `beginCompletingTransaction`), and the application hears Aborted once the epoch is bumped.
    fn complete_transaction(&mut self, commit: bool) {
        let bump = !commit && self.settings.explicit_add_partitions && self.client.epoch_bump_required();
        if !bump {
            return self.finish_txn(commit);
        }
        self.client.end_transaction();
        self.offsets = None;
        self.started_on_coordinator = false;
        // The abort is certain now: a fatal error during the bump cannot make it a commit.
        self.end_sent = false;
        self.bumping = self.producer;
        self.phase = TxnPhase::Initializing;
    }

    fn finish_txn(&mut self, commit: bool) {
        self.client.end_transaction();
        self.offsets = None;
        self.started_on_coordinator = false;
        self.phase = TxnPhase::Ready;
        self.events.push(if commit { TxnEvent::Committed } else { TxnEvent::Aborted });
    }

    /// What the producer is waiting for, in words, for stall reports.
    pub fn describe(&self) -> String {
        let request = self.in_flight.as_ref().map_or("none".to_string(), |(_, step, _)| format!("{step:?}"));
        format!(
            "producer {} {:?} (epoch {:?}), request in flight: {request}, backing off: {}, client idle: {}, in flight: {}, error: {:?}",
            self.settings.transactional_id,
            self.phase,
            self.producer,
            self.backing_off,
            self.client.is_idle(),
            self.client.has_in_flight(),
            self.client.error(),
        )
    }

    /// The client underneath, to refresh its metadata.
    pub fn client_mut(&mut self) -> &mut ProducerClient {
        &mut self.client
    }
}

#[cfg(test)]
#[path = "txn_producer_tests.rs"]
mod tests;
