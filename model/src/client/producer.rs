//! The producer client: what Kafka's `KafkaProducer` does between `send()` and the callback.
//!
//! Records gather into one open batch per partition until it is full or `linger` passes; closed batches
//! wait in a ready queue and go out with at most `max_in_flight` requests per partition. A request that
//! gets no answer within `request_timeout` is retried after `retry_backoff`, while retries and
//! `delivery_timeout` allow; then the record's outcome is unknown (the batch may have landed), never a
//! certain failure (KAFKA-13574).
//!
//! Without idempotence a retry re-sends the batch to the front of the queue, so retries reorder and a
//! retry of a batch whose ack was lost is appended twice. With idempotence the producer first obtains a
//! producer id, numbers every batch with a sequence that stays fixed across retries, keeps retries in
//! sequence order, treats OUT_OF_ORDER_SEQUENCE as retriable while an earlier batch of the partition is
//! still unacknowledged, and otherwise bumps its epoch (KIP-360): every batch that was ever sent then ends
//! with an unknown outcome.
//!
//! In transactional mode ([`ProducerClient::transactional`]) the producer id comes from the transaction
//! coordinator (see `txn_producer.rs`), batches are marked transactional and carry the transactional id,
//! under eos-tv1 a partition's batches wait until the coordinator has added the partition, and errors are
//! not handled here but reported ([`ClientError`], Kafka's `maybeTransitionToErrorState`): PRODUCER_FENCED
//! is fatal (the application closes the producer); every other produce error the client does not retry, a
//! batch given up on and a refused `send()` make the transaction abortable and require a KIP-360 epoch bump.
//!
//! `send()` itself refuses a record above `max.request.size` (RecordTooLargeException) and blocks one that
//! finds `buffer.memory` full for up to `max.block.ms` (then BufferExhaustedException).

use crate::client::metadata::MetadataCache;
use crate::ctx::{timer_parts, timer_tag, Ctx};
use crate::protocol::{ErrorCode, Msg, PartitionId, ProducerIdentity, RecordBatch, MAX_PRODUCER_EPOCH};
use crate::scenario::{Acks, ProducerSettings};
use eosim_sim::{NodeId, TimerId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Identifies one record handed to [`ProducerClient::send`].
pub type RecordId = u64;

/// The size of the application's next record: the workload's fixed size, or one drawn from its range.
pub fn record_bytes(settings: &ProducerSettings, ctx: &mut Ctx<'_>) -> u32 {
    let (min, max) = settings.record_bytes;
    if min >= max {
        return min;
    }
    ctx.rng().range_inclusive(u64::from(min), u64::from(max)) as u32
}

/// Timer kinds of the producer client (the application uses kinds below 16).
const TIMER_LINGER: u16 = 16;
const TIMER_REQUEST_TIMEOUT: u16 = 17;
const TIMER_RETRY: u16 = 18;
const TIMER_PRODUCER_ID: u16 = 19;
const TIMER_METADATA: u16 = 20;
const TIMER_DELIVERY: u16 = 21;
const TIMER_MAX_BLOCK: u16 = 22;

/// What became of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// The broker acknowledged it at this offset (none with acks=0).
    Acked(Option<u64>),
    /// The producer gave up without knowing whether it landed.
    Unknown,
    /// The record certainly never left the client (BufferExhaustedException after `max.block.ms`).
    Failed,
}

/// Why `send()` refused a record on the spot (Kafka's `KafkaProducer.doSend` throws these before the
/// record reaches the accumulator, so it certainly never reached a broker).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// RecordTooLargeException: larger than `max.request.size` or `buffer.memory`
    /// (`KafkaProducer.ensureValidRecordSize`).
    RecordTooLarge,
    /// The transactional producer is in an error state and takes no more records
    /// (`TransactionManager.maybeFailWithError` in `doSend`).
    InErrorState,
}

/// One record's outcome, for the application's callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The record.
    pub record: RecordId,
    /// Its outcome.
    pub delivery: Delivery,
}

/// An error a transactional client reports instead of handling it, in the classes of Kafka's
/// `TransactionManager.maybeTransitionToErrorState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The producer must be closed: its epoch is fenced (PRODUCER_FENCED).
    Fatal(ErrorCode),
    /// The transaction must be aborted; the producer goes on (after an epoch bump when required).
    Abortable(ErrorCode),
}

/// Transactional mode.
#[derive(Clone, Debug)]
struct Transactional {
    transactional_id: String,
    /// eos-tv1: batches of a partition wait until AddPartitionsToTxn has added it.
    explicit_add: bool,
    added: BTreeSet<PartitionId>,
    error: Option<ClientError>,
    /// KIP-360: an abortable error left this epoch's sequences unknown; the abort must bump the epoch.
    epoch_bump_required: bool,
    /// `commitTransaction` or `abortTransaction` was called (Kafka's `isCompleting()`).
    completing: bool,
}

#[derive(Clone, Debug)]
struct Batch {
    partition: PartitionId,
    records: Vec<(RecordId, i64)>,
    /// Bytes of its records, held in `buffer.memory` until the batch completes.
    bytes: u64,
    /// Its sequence was renumbered from 0 after UNKNOWN_PRODUCER_ID (`ProducerBatch.sequenceHasBeenReset`).
    sequence_reset: bool,
    /// Producer id, epoch and sequence, fixed at the first send of an idempotent batch.
    identity: Option<ProducerIdentity>,
    attempts: u32,
    created_ns: u64,
    retry_at_ns: u64,
    sent: bool,
}

#[derive(Clone, Debug, Default)]
struct PartitionQueue {
    open: Vec<(RecordId, i64)>,
    open_bytes: u64,
    open_batch_id: u64,
    ready: VecDeque<u64>,
    in_flight: Vec<u64>,
    next_sequence: u32,
    /// Offset of the last record the broker acknowledged (`TxnPartitionEntry.lastAckedOffset`).
    last_acked_offset: Option<u64>,
}

/// A `send()` blocked until `buffer.memory` has room, failing at its deadline.
#[derive(Clone, Debug)]
struct Blocked {
    partition: PartitionId,
    record: RecordId,
    value: i64,
    bytes: u64,
    /// When `max.block.ms` runs out. Applications reuse record ids across transactions, so a timer set for an
    /// earlier send that was admitted in time must not fail a later send of the same id.
    deadline_ns: u64,
}

/// The producer client of one application; all of it is volatile.
#[derive(Clone, Debug)]
pub struct ProducerClient {
    settings: ProducerSettings,
    brokers: Vec<NodeId>,
    /// Producer id and epoch once InitProducerId answered.
    producer: Option<(u64, u16)>,
    producer_id_request: Option<u64>,
    queues: Vec<PartitionQueue>,
    batches: BTreeMap<u64, Batch>,
    /// In-flight request id → batch id, and the request's timeout timer, cancelled when the answer comes.
    requests: BTreeMap<u64, (u64, TimerId)>,
    next_request_id: u64,
    next_batch_id: u64,
    completions: Vec<Completion>,
    metadata: MetadataCache,
    transactional: Option<Transactional>,
    /// Sends waiting for memory, in order, by record.
    blocked: VecDeque<Blocked>,
    /// Kafka bugs put back in this client (`bugs.rs`).
    kafka_bugs: Vec<crate::bugs::KafkaBug>,
}

impl ProducerClient {
    /// A client for `partition_count` partitions that asks `brokers` for its producer id. Its request ids
    /// start after `first_request_id`, which must differ between incarnations of one application: a
    /// response to a request of the previous incarnation (Kafka would have dropped it with the old
    /// connection) must never match a request of this one.
    pub fn new(
        settings: ProducerSettings,
        brokers: Vec<NodeId>,
        partition_count: usize,
        first_request_id: u64,
    ) -> ProducerClient {
        ProducerClient {
            settings: settings.clone(),
            brokers: brokers.clone(),
            producer: None,
            producer_id_request: None,
            queues: vec![PartitionQueue::default(); partition_count],
            batches: BTreeMap::new(),
            requests: BTreeMap::new(),
            next_request_id: first_request_id,
            next_batch_id: 1,
            completions: Vec::new(),
            metadata: MetadataCache::new(
                partition_count,
                brokers.clone(),
                settings.request_timeout_ns,
                TIMER_METADATA,
                first_request_id,
            ),
            transactional: None,
            blocked: VecDeque::new(),
            kafka_bugs: Vec::new(),
        }
    }

    /// A transactional client for `transactional_id`, with `kafka_bugs` put back; with `explicit_add` (eos-tv1)
    /// a partition's batches wait for [`ProducerClient::mark_added`].
    pub fn transactional(
        mut self,
        transactional_id: &str,
        explicit_add: bool,
        kafka_bugs: &[crate::bugs::KafkaBug],
    ) -> ProducerClient {
        self.transactional = Some(Transactional {
            transactional_id: transactional_id.to_string(),
            explicit_add,
            added: BTreeSet::new(),
            error: None,
            epoch_bump_required: false,
            completing: false,
        });
        self.kafka_bugs = kafka_bugs.to_vec();
        self
    }

    /// Starts the client: an idempotent producer asks for its producer id right away (a transactional one
    /// is given its id by its coordinator).
    pub fn start(&mut self, ctx: &mut Ctx<'_>) {
        self.metadata.refresh(ctx);
        if self.settings.idempotence && self.transactional.is_none() {
            self.request_producer_id(ctx);
        }
    }

    /// The client's settings.
    pub fn settings(&self) -> &ProducerSettings {
        &self.settings
    }

    /// The client's metadata cache.
    pub fn metadata(&self) -> &MetadataCache {
        &self.metadata
    }

    /// The client's metadata cache, to refresh or invalidate.
    pub fn metadata_mut(&mut self) -> &mut MetadataCache {
        &mut self.metadata
    }

    /// Sets the producer id and epoch from the coordinator; a new epoch restarts every sequence at 0, as
    /// the broker expects of a new epoch.
    pub fn set_producer(&mut self, producer_id: u64, epoch: u16) {
        assert!(self.batches.values().all(|batch| !batch.sent), "the epoch changes only with nothing in flight");
        if self.producer != Some((producer_id, epoch)) {
            for queue in &mut self.queues {
                queue.next_sequence = 0;
            }
            for batch in self.batches.values_mut() {
                batch.identity = None;
            }
        }
        self.producer = Some((producer_id, epoch));
    }

    /// eos-tv1: the coordinator added these partitions to the transaction; their batches may go out.
    pub fn mark_added(&mut self, ctx: &mut Ctx<'_>, partitions: &[PartitionId]) {
        let txn = self.transactional.as_mut().expect("transactional");
        txn.added.extend(partitions.iter().copied());
        self.drain(ctx);
    }

    /// The transaction ended: the next one adds its partitions again, and an abortable error is cleared
    /// (Kafka's `completeTransaction`).
    pub fn end_transaction(&mut self) {
        let txn = self.transactional.as_mut().expect("transactional");
        txn.added.clear();
        txn.epoch_bump_required = false;
        txn.completing = false;
        if matches!(txn.error, Some(ClientError::Abortable(_))) {
            txn.error = None;
        }
    }

    /// The transaction being aborted left sequences unknown: the abort must bump the epoch (KIP-360).
    pub fn epoch_bump_required(&self) -> bool {
        self.transactional.as_ref().is_some_and(|txn| txn.epoch_bump_required)
    }

    /// `TransactionManager.maybeTransitionToErrorState`: PRODUCER_FENCED (and the authorization errors
    /// the model has no room for) is fatal; any other error makes the transaction abortable and requires
    /// an epoch bump (KIP-360). Nothing more is sent in this transaction. Kafka skips the bump for an error
    /// that strikes while the transaction is completing and gives the failed batch's sequences back instead
    /// (`adjustSequencesDueToFailedBatch`); the model does not renumber, so it bumps then too, as Kafka
    /// does for the same error before the commit was asked for.
    fn maybe_transition_to_error_state(&mut self, ctx: &mut Ctx<'_>, error: ErrorCode) {
        let txn = self.transactional.as_mut().expect("transactional");
        if matches!(txn.error, Some(ClientError::Fatal(_))) {
            return;
        }
        if error == ErrorCode::ProducerFenced {
            txn.error = Some(ClientError::Fatal(error));
            ctx.shared.count("client:txn-fatal-error");
        } else {
            txn.epoch_bump_required = true;
            if txn.error.is_none() {
                ctx.shared.count("client:txn-abortable-error");
                txn.error = Some(ClientError::Abortable(error));
            }
        }
        self.after_transition();
    }

    /// eos-tv1: partitions with records waiting that the coordinator has not added yet.
    pub fn partitions_to_add(&self) -> Vec<PartitionId> {
        let Some(txn) = self.transactional.as_ref().filter(|txn| txn.explicit_add) else { return Vec::new() };
        (0..self.queues.len())
            .map(|index| PartitionId(index as u32))
            .filter(|partition| !txn.added.contains(partition))
            .filter(|partition| {
                let queue = &self.queues[partition.index()];
                !queue.open.is_empty() || !queue.ready.is_empty()
            })
            .collect()
    }

    /// Closes every open batch so it can be sent now (`flush()` before a commit).
    pub fn flush(&mut self, ctx: &mut Ctx<'_>) {
        for index in 0..self.queues.len() {
            self.close_batch(ctx, PartitionId(index as u32));
        }
        self.drain(ctx);
    }

    /// Drops every record not sent yet (an abort): they certainly never reached a broker.
    pub fn drop_unsent(&mut self) {
        for queue in &mut self.queues {
            queue.open.clear();
            queue.open_bytes = 0;
            queue.ready.retain(|batch_id| self.batches.get(batch_id).is_some_and(|batch| batch.sent));
        }
        self.batches.retain(|_, batch| batch.sent);
        for blocked in std::mem::take(&mut self.blocked) {
            self.completions.push(Completion { record: blocked.record, delivery: Delivery::Failed });
        }
    }

    /// Reports a record `send()` refused as [`Delivery::Failed`], so the application's completions carry
    /// every outcome in one place.
    pub fn push_failed(&mut self, record: RecordId) {
        self.completions.push(Completion { record, delivery: Delivery::Failed });
    }

    /// Hands one record of `bytes` to the client (Kafka's `KafkaProducer.doSend`). A record too large
    /// for `max.request.size` or `buffer.memory` is refused at once; one that finds the buffer full
    /// waits up to `max.block.ms` for memory and then completes [`Delivery::Failed`]. In a transactional
    /// producer a refused record makes the transaction abortable (KAFKA-9279), so it cannot commit; the
    /// KAFKA-9279 switch puts back the Kafka 0.11–3.1 path, where only the record's callback hears of it.
    pub fn send(
        &mut self,
        ctx: &mut Ctx<'_>,
        partition: PartitionId,
        record: RecordId,
        value: i64,
        bytes: u32,
    ) -> Result<(), SendError> {
        if let Some(txn) = &self.transactional {
            if txn.error.is_some() {
                return Err(SendError::InErrorState);
            }
        }
        if bytes > self.settings.max_request_size || u64::from(bytes) > self.settings.buffer_memory {
            ctx.shared.count("client:send-failed-sync");
            if self.transactional.is_some() && !self.has_bug(crate::bugs::KafkaBug::Kafka9279) {
                self.maybe_transition_to_error_state(ctx, ErrorCode::RecordTooLarge);
            }
            return Err(SendError::RecordTooLarge);
        }
        let bytes = u64::from(bytes);
        if !self.blocked.is_empty() || self.buffered_bytes() + bytes > self.settings.buffer_memory {
            ctx.shared.count("client:send-blocked-on-memory");
            let deadline_ns = ctx.now_ns() + self.settings.max_block_ns;
            self.blocked.push_back(Blocked { partition, record, value, bytes, deadline_ns });
            ctx.set_timer(self.settings.max_block_ns, timer_tag(TIMER_MAX_BLOCK, record));
            return Ok(());
        }
        self.append(ctx, partition, record, value, bytes);
        Ok(())
    }

    /// Bytes of records the client holds (Kafka's `BufferPool`): open batches and batches not completed.
    fn buffered_bytes(&self) -> u64 {
        let open: u64 = self.queues.iter().map(|queue| queue.open_bytes).sum();
        open + self.batches.values().map(|batch| batch.bytes).sum::<u64>()
    }

    /// Blocked sends take the memory completed batches freed, in order.
    fn admit_blocked(&mut self, ctx: &mut Ctx<'_>) {
        while let Some(front) = self.blocked.front() {
            if self.buffered_bytes() + front.bytes > self.settings.buffer_memory {
                return;
            }
            let blocked = self.blocked.pop_front().expect("front exists");
            self.append(ctx, blocked.partition, blocked.record, blocked.value, blocked.bytes);
        }
    }

    /// `max.block.ms` passed for a blocked send: BufferExhaustedException; the record never left.
    fn on_max_block(&mut self, ctx: &mut Ctx<'_>, record: RecordId) {
        let now_ns = ctx.now_ns();
        let due = |blocked: &Blocked| blocked.record == record && blocked.deadline_ns <= now_ns;
        let Some(position) = self.blocked.iter().position(due) else { return };
        self.blocked.remove(position);
        ctx.shared.count("client:send-failed-sync");
        ctx.shared.count("client:buffer-exhausted");
        self.completions.push(Completion { record, delivery: Delivery::Failed });
        if self.transactional.is_some() && !self.has_bug(crate::bugs::KafkaBug::Kafka9279) {
            self.maybe_transition_to_error_state(ctx, ErrorCode::RequestTimedOut);
        }
    }

    fn append(&mut self, ctx: &mut Ctx<'_>, partition: PartitionId, record: RecordId, value: i64, bytes: u64) {
        let linger_ns = self.settings.linger_ns;
        let queue = &mut self.queues[partition.index()];
        if queue.open.is_empty() {
            queue.open_batch_id = self.next_batch_id;
            self.next_batch_id += 1;
            let tag = timer_tag(TIMER_LINGER, (queue.open_batch_id << 16) | u64::from(partition.0));
            ctx.set_timer(linger_ns, tag);
        }
        queue.open.push((record, value));
        queue.open_bytes += bytes;
        // BUGGIFY: the accumulator closes a batch early (`batch.size` in bytes fills before the record count the
        // model batches by, or the sender drains a batch that became ready for another partition's sake).
        if queue.open.len() >= self.settings.batch_records as usize || crate::buggify!(ctx, "early-batch-close") {
            self.close_batch(ctx, partition);
        }
        self.drain(ctx);
    }

    /// Handles a timer of kind ≥ 16; false if the tag is not the client's.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) -> bool {
        let (kind, payload) = timer_parts(tag);
        match kind {
            TIMER_LINGER => {
                let partition = PartitionId((payload & 0xffff) as u32);
                if self.queues[partition.index()].open_batch_id == payload >> 16 {
                    self.close_batch(ctx, partition);
                }
            }
            TIMER_REQUEST_TIMEOUT => self.on_request_timeout(ctx, payload),
            TIMER_RETRY => {}
            TIMER_DELIVERY => self.on_delivery_timeout(ctx, payload),
            TIMER_MAX_BLOCK => self.on_max_block(ctx, payload),
            TIMER_METADATA => self.metadata.on_timeout(ctx, payload),
            TIMER_PRODUCER_ID => {
                if self.producer_id_request == Some(payload) {
                    ctx.shared.count("client:producer-id-retry");
                    self.request_producer_id(ctx);
                }
            }
            _ => return false,
        }
        self.drain(ctx);
        true
    }

    /// Handles a response.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_>, msg: Msg) {
        match msg {
            Msg::InitProducerIdResponse { request_id, result: Ok((producer_id, epoch)) }
                if self.producer_id_request == Some(request_id) =>
            {
                self.producer_id_request = None;
                self.producer = Some((producer_id, epoch));
            }
            Msg::MetadataResponse { request_id, leaders } => {
                self.metadata.on_response(request_id, &leaders);
            }
            Msg::ProduceResponse { request_id, result, log_start_offset } => {
                if let Some((batch_id, timeout)) = self.requests.remove(&request_id) {
                    ctx.cancel_timer(timeout);
                    self.on_produce_response(ctx, batch_id, result, log_start_offset);
                }
            }
            _ => {}
        }
        self.drain(ctx);
    }

    fn close_batch(&mut self, ctx: &mut Ctx<'_>, partition: PartitionId) {
        let queue = &mut self.queues[partition.index()];
        let records = std::mem::take(&mut queue.open);
        let bytes = std::mem::take(&mut queue.open_bytes);
        if records.is_empty() {
            return;
        }
        let batch_id = queue.open_batch_id;
        queue.ready.push_back(batch_id);
        // `ProducerBatch.hasReachedDeliveryTimeout`: the batch is failed when this fires, in flight or not.
        ctx.set_timer(self.settings.delivery_timeout_ns, timer_tag(TIMER_DELIVERY, batch_id));
        let batch = Batch {
            partition,
            records,
            bytes,
            sequence_reset: false,
            identity: None,
            attempts: 0,
            created_ns: ctx.now_ns(),
            retry_at_ns: 0,
            sent: false,
        };
        self.batches.insert(batch_id, batch);
    }

    fn request_producer_id(&mut self, ctx: &mut Ctx<'_>) {
        let request_id = self.new_request_id();
        self.producer_id_request = Some(request_id);
        let broker = self.brokers[(request_id % self.brokers.len() as u64) as usize];
        ctx.send(broker, Msg::InitProducerIdRequest { request_id, transactional: None });
        ctx.set_timer(self.settings.request_timeout_ns, timer_tag(TIMER_PRODUCER_ID, request_id));
    }

    fn new_request_id(&mut self) -> u64 {
        self.next_request_id += 1;
        self.next_request_id
    }

    /// Sends every ready batch that the in-flight limit, backoff and known leaders allow.
    fn drain(&mut self, ctx: &mut Ctx<'_>) {
        self.admit_blocked(ctx);
        if self.metadata.incomplete() && self.queues.iter().any(|queue| !queue.ready.is_empty()) {
            self.metadata.refresh(ctx);
        }
        if self.settings.idempotence && self.producer.is_none() {
            return;
        }
        if self.transactional.as_ref().is_some_and(|txn| txn.error.is_some()) {
            return;
        }
        for index in 0..self.queues.len() {
            while let Some(batch_id) = self.next_sendable(index, ctx.now_ns()) {
                self.queues[index].ready.pop_front();
                self.send_batch(ctx, batch_id);
            }
        }
    }

    fn next_sendable(&self, index: usize, now_ns: u64) -> Option<u64> {
        let queue = &self.queues[index];
        if queue.in_flight.len() >= self.settings.max_in_flight as usize {
            return None;
        }
        let batch_id = *queue.ready.front()?;
        let partition = PartitionId(index as u32);
        if let Some(txn) = self.transactional.as_ref().filter(|txn| txn.explicit_add) {
            if !txn.added.contains(&partition) {
                return None;
            }
        }
        self.metadata.leader(partition)?;
        (self.batches[&batch_id].retry_at_ns <= now_ns).then_some(batch_id)
    }

    fn send_batch(&mut self, ctx: &mut Ctx<'_>, batch_id: u64) {
        let request_id = self.new_request_id();
        let producer = self.producer;
        let batch = self.batches.get_mut(&batch_id).expect("ready batches exist");
        let queue = &mut self.queues[batch.partition.index()];
        if let (Some((producer_id, epoch)), None) = (producer, batch.identity) {
            // The sequence is fixed at the first send and kept by every retry.
            batch.identity = Some(ProducerIdentity { producer_id, epoch, base_sequence: queue.next_sequence });
            queue.next_sequence += batch.records.len() as u32;
        }
        if batch.sent {
            ctx.shared.count("client:retry");
        }
        batch.sent = true;
        let values = batch.records.iter().map(|(_, value)| *value).collect();
        let partition = batch.partition;
        let msg = Msg::ProduceRequest {
            request_id,
            partition,
            acks: self.settings.acks,
            batch: Box::new(RecordBatch::data(batch.identity, self.transactional.is_some(), values)),
            transactional_id: self.transactional.as_ref().map(|txn| txn.transactional_id.clone()),
        };
        let leader = self.metadata.leader(partition).expect("only batches with a known leader are sent");
        ctx.send(leader, msg);
        if self.settings.acks == Acks::None {
            // Fire and forget: the send is complete the moment it leaves.
            let batch = self.batches.remove(&batch_id).expect("just sent");
            self.complete(&batch, |_| Delivery::Acked(None));
            return;
        }
        self.queues[partition.index()].in_flight.push(batch_id);
        // BUGGIFY: the request times out early, as when the connection it rides on is closed for another
        // request's timeout (NetworkClient fails every request in flight on a closed connection).
        let timeout_ns = if crate::buggify!(ctx, "early-request-timeout") {
            self.settings.request_timeout_ns / 4
        } else {
            self.settings.request_timeout_ns
        };
        let timeout = ctx.set_timer(timeout_ns.max(1), timer_tag(TIMER_REQUEST_TIMEOUT, request_id));
        self.requests.insert(request_id, (batch_id, timeout));
    }

    fn on_produce_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        batch_id: u64,
        result: Result<u64, ErrorCode>,
        log_start_offset: Option<u64>,
    ) {
        self.leave_flight(batch_id);
        if self.in_error_state() {
            // A transaction in error retries nothing: what was in flight completes as it is answered, and
            // the abort waits only for that (Kafka's Sender with `abortUndrainedBatches`).
            let batch = self.batches.remove(&batch_id).expect("in-flight batches exist");
            match result {
                Ok(base_offset) => self.complete(&batch, |i| Delivery::Acked(Some(base_offset + i as u64))),
                Err(_) => self.complete(&batch, |_| Delivery::Unknown),
            }
            return;
        }
        let error = match result {
            Ok(base_offset) => {
                let batch = self.batches.remove(&batch_id).expect("in-flight batches exist");
                let last = base_offset + batch.records.len() as u64 - 1;
                let acked = &mut self.queues[batch.partition.index()].last_acked_offset;
                *acked = Some(acked.map_or(last, |acked| acked.max(last)));
                self.complete(&batch, |i| Delivery::Acked(Some(base_offset + i as u64)));
                return;
            }
            Err(error) => error,
        };
        match error {
            ErrorCode::OutOfOrderSequence if self.has_earlier_unacked(batch_id) => {
                // An earlier batch of this partition is being retried; this one follows it.
                ctx.shared.count("client:retry-out-of-order");
                self.retry(ctx, batch_id);
            }
            ErrorCode::NotLeaderOrFollower => {
                let partition = self.batches[&batch_id].partition;
                self.metadata.invalidate(ctx, partition);
                self.retry_or_give_up(ctx, batch_id, error);
            }
            ErrorCode::NotEnoughReplicas => self.retry_or_give_up(ctx, batch_id, error),
            ErrorCode::UnknownProducerId => self.on_unknown_producer_id(ctx, batch_id, log_start_offset),
            _ => self.fail_batch(ctx, batch_id, error),
        }
    }

    fn in_error_state(&self) -> bool {
        self.transactional.as_ref().is_some_and(|txn| txn.error.is_some())
    }

    /// UNKNOWN_PRODUCER_ID, as Kafka's `TransactionManager.canRetry` decides it from the response's log
    /// start offset: unknown → retry; the log was truncated past everything acknowledged (the producer
    /// state expired with it) → a transactional producer renumbers the partition's batches from 0 and
    /// retries, an idempotent one bumps its epoch; otherwise the broker lost state it should have had →
    /// the idempotent producer bumps its epoch and the transactional one fails the batch (abortable).
    fn on_unknown_producer_id(&mut self, ctx: &mut Ctx<'_>, batch_id: u64, log_start_offset: Option<u64>) {
        ctx.shared.count("client:unknown-producer-id");
        let error = ErrorCode::UnknownProducerId;
        let batch = &self.batches[&batch_id];
        let partition = batch.partition;
        let Some(log_start_offset) = log_start_offset else {
            return self.retry_or_give_up(ctx, batch_id, error);
        };
        if batch.sequence_reset {
            return self.retry_or_give_up(ctx, batch_id, error);
        }
        let truncated = self.queues[partition.index()].last_acked_offset.is_none_or(|acked| acked < log_start_offset);
        match (truncated, self.transactional.is_some()) {
            (true, true) => {
                ctx.shared.count("client:sequences-reset");
                self.start_sequences_at_beginning(partition, batch_id);
                self.retry_or_give_up(ctx, batch_id, error);
            }
            (false, true) => self.fail_batch(ctx, batch_id, error),
            (_, false) => self.bump_epoch(ctx),
        }
    }

    /// `TxnPartitionMap.startSequencesAtBeginning`: the partition's numbered batches (`failed` among them,
    /// out of flight already) take sequences from 0 in their order, under the current epoch.
    fn start_sequences_at_beginning(&mut self, partition: PartitionId, failed: u64) {
        let queue = &self.queues[partition.index()];
        let mut numbered: Vec<(u32, u64)> = queue
            .in_flight
            .iter()
            .chain(queue.ready.iter())
            .chain(std::iter::once(&failed))
            .filter_map(|id| self.batches[id].identity.map(|identity| (identity.base_sequence, *id)))
            .collect();
        numbered.sort_unstable();
        let (producer_id, epoch) = self.producer.expect("numbered batches have a producer");
        let mut next = 0;
        for (_, batch_id) in numbered {
            let batch = self.batches.get_mut(&batch_id).expect("listed");
            batch.identity = Some(ProducerIdentity { producer_id, epoch, base_sequence: next });
            batch.sequence_reset = true;
            next += batch.records.len() as u32;
        }
        self.queues[partition.index()].next_sequence = next;
    }

    fn on_request_timeout(&mut self, ctx: &mut Ctx<'_>, request_id: u64) {
        let Some((batch_id, _)) = self.requests.remove(&request_id) else {
            return;
        };
        ctx.shared.count("client:request-timeout");
        // A silent broker may have lost its leadership: ask again who leads.
        self.metadata.refresh(ctx);
        self.leave_flight(batch_id);
        if self.in_error_state() {
            let batch = self.batches.remove(&batch_id).expect("in-flight batches exist");
            self.complete(&batch, |_| Delivery::Unknown);
            return;
        }
        self.retry_or_give_up(ctx, batch_id, ErrorCode::RequestTimedOut);
    }

    /// `Sender.getExpiredInflightBatches` and `RecordAccumulator.expiredBatches`: a batch not completed
    /// within `delivery.timeout.ms` of its creation fails with a TimeoutException, in flight or not.
    fn on_delivery_timeout(&mut self, ctx: &mut Ctx<'_>, batch_id: u64) {
        if !self.batches.contains_key(&batch_id) {
            return;
        }
        ctx.shared.count("client:delivery-timeout-expired");
        self.requests.retain(|_, (id, _)| *id != batch_id);
        self.leave_flight(batch_id);
        let partition = self.batches[&batch_id].partition;
        self.queues[partition.index()].ready.retain(|id| *id != batch_id);
        if self.expires_without_epoch_bump(batch_id) {
            ctx.shared.count("client:expired-in-flight-without-bump");
            let batch = self.batches.remove(&batch_id).expect("batch exists");
            self.complete(&batch, |_| Delivery::Unknown);
            // Kafka's `maybeTransitionToErrorState` while `isCompleting()`: abortable, no bump asked for.
            let bump_required = self.epoch_bump_required();
            self.maybe_transition_to_error_state(ctx, ErrorCode::RequestTimedOut);
            self.transactional.as_mut().expect("transactional").epoch_bump_required = bump_required;
            return;
        }
        self.give_up(ctx, batch_id, ErrorCode::RequestTimedOut);
    }

    /// KAFKA-14053 put back: Kafka fails a batch expired on its first attempt with `failBatch(batch,
    /// TimeoutException, adjustSequenceNumbers = false)`; `maybeTransitionToErrorState` asks for an epoch bump
    /// only when the transaction is not completing, and only a batch expired in retry is marked unresolved
    /// (`markSequenceUnresolved`, whose `maybeResolveSequences` bumps). So a batch still in flight on its first
    /// attempt when the commit is already asked for leaves the epoch and the sequences as they are.
    fn expires_without_epoch_bump(&self, batch_id: u64) -> bool {
        let Some(txn) = self.transactional.as_ref() else { return false };
        let batch = &self.batches[&batch_id];
        self.has_bug(crate::bugs::KafkaBug::Kafka14053) && txn.completing && batch.sent && batch.attempts == 0
    }

    /// `Sender.canRetry`: retry while `retries` and `delivery.timeout.ms` allow, else give up.
    fn retry_or_give_up(&mut self, ctx: &mut Ctx<'_>, batch_id: u64, error: ErrorCode) {
        let batch = &self.batches[&batch_id];
        let expired = ctx.now_ns().saturating_sub(batch.created_ns) >= self.settings.delivery_timeout_ns;
        if batch.attempts < self.settings.retries && !expired {
            self.retry(ctx, batch_id);
            return;
        }
        ctx.shared.count("client:gave-up");
        self.give_up(ctx, batch_id, error);
    }

    /// A batch out of its queues fails: one never sent certainly never landed; a sent one's outcome is
    /// unknown, and its sequence leaves a gap the broker can never fill.
    fn give_up(&mut self, ctx: &mut Ctx<'_>, batch_id: u64, error: ErrorCode) {
        if !self.batches[&batch_id].sent {
            let batch = self.batches.remove(&batch_id).expect("batch exists");
            self.complete(&batch, |_| Delivery::Failed);
            if self.transactional.is_some() {
                self.maybe_transition_to_error_state(ctx, error);
            }
            return;
        }
        if self.transactional.is_some() || !self.settings.idempotence {
            return self.fail_batch(ctx, batch_id, error);
        }
        // The sequence now has a gap the broker can never fill: start over under a new epoch.
        self.bump_epoch(ctx);
    }

    /// `Sender.failBatch` and `TransactionManager.handleFailedBatch`: the batch ends with an unknown
    /// outcome; a transactional producer moves to an error state (abortable unless fenced) and stops
    /// sending, an idempotent one bumps its epoch (KIP-360).
    fn fail_batch(&mut self, ctx: &mut Ctx<'_>, batch_id: u64, error: ErrorCode) {
        if self.transactional.is_none() {
            if self.settings.idempotence {
                return self.bump_epoch(ctx);
            }
            let batch = self.batches.remove(&batch_id).expect("batch exists");
            if error == ErrorCode::NotLeaderOrFollower && self.has_bug(crate::bugs::KafkaBug::Kafka13574) {
                // KAFKA-13574 put back: taken at its word, NOT_LEADER_OR_FOLLOWER says the batch was never
                // written, though a leader that stepped down while waiting for replication may have left it to
                // be committed by the next one.
                ctx.shared.count("client:not-leader-taken-as-failed");
                return self.complete(&batch, |_| Delivery::Failed);
            }
            return self.complete(&batch, |_| Delivery::Unknown);
        }
        let batch = self.batches.remove(&batch_id).expect("batch exists");
        self.complete(&batch, |_| Delivery::Unknown);
        self.maybe_transition_to_error_state(ctx, error);
    }

    /// After an error: a fatal one ends every batch at once (the producer is closed); an abortable one
    /// ends every batch not in flight and every blocked send (`RecordAccumulator.abortUndrainedBatches`)
    /// and lets the in-flight ones finish, so the abort cannot overtake them.
    fn after_transition(&mut self) {
        let fatal = matches!(self.error(), Some(ClientError::Fatal(_)));
        if fatal {
            self.requests.clear();
            for queue in &mut self.queues {
                queue.in_flight.clear();
            }
        }
        let in_flight: BTreeSet<u64> = self.queues.iter().flat_map(|queue| queue.in_flight.iter().copied()).collect();
        let ended: Vec<u64> = self.batches.keys().copied().filter(|id| !in_flight.contains(id)).collect();
        for batch_id in ended {
            let batch = self.batches.remove(&batch_id).expect("listed");
            self.complete(&batch, |_| if batch.sent { Delivery::Unknown } else { Delivery::Failed });
        }
        for blocked in std::mem::take(&mut self.blocked) {
            self.completions.push(Completion { record: blocked.record, delivery: Delivery::Failed });
        }
        for index in 0..self.queues.len() {
            let queue = &mut self.queues[index];
            queue.ready.clear();
            queue.open_bytes = 0;
            for (record, _) in std::mem::take(&mut queue.open) {
                self.completions.push(Completion { record, delivery: Delivery::Failed });
            }
        }
    }

    fn retry(&mut self, ctx: &mut Ctx<'_>, batch_id: u64) {
        let backoff_ns = self.settings.retry_backoff_ns;
        let batch = self.batches.get_mut(&batch_id).expect("batch exists");
        batch.attempts += 1;
        batch.retry_at_ns = ctx.now_ns() + backoff_ns;
        let sequence = batch.identity.map(|identity| identity.base_sequence);
        let partition = batch.partition;
        let ready = &mut self.queues[partition.index()].ready;
        if self.settings.idempotence {
            // Retries go out in sequence order, or the broker would reject them as out of order.
            let position = ready
                .iter()
                .position(|other| {
                    let other_sequence = self.batches[other].identity.map(|identity| identity.base_sequence);
                    other_sequence.is_none() || other_sequence > sequence
                })
                .unwrap_or(ready.len());
            ready.insert(position, batch_id);
        } else {
            // Kafka re-enqueues a retried batch at the front of its partition's deque.
            ready.push_front(batch_id);
        }
        ctx.set_timer(backoff_ns, timer_tag(TIMER_RETRY, batch_id));
    }

    /// KIP-360 for an idempotent producer: every batch that was ever sent ends with an unknown outcome,
    /// the epoch is bumped locally so sequences restart at 0 (the broker accepts a new epoch only from
    /// sequence 0 and fences the old one), and batches never sent keep their place under the new epoch. A
    /// producer whose epoch is exhausted asks for a new producer id instead.
    fn bump_epoch(&mut self, ctx: &mut Ctx<'_>) {
        ctx.shared.count("client:epoch-bump");
        self.requests.clear();
        let sent: Vec<u64> = self.batches.iter().filter(|(_, batch)| batch.sent).map(|(id, _)| *id).collect();
        for batch_id in sent {
            let batch = self.batches.remove(&batch_id).expect("listed");
            self.complete(&batch, |_| Delivery::Unknown);
        }
        for queue in &mut self.queues {
            queue.in_flight.clear();
            queue.ready.retain(|batch_id| self.batches.contains_key(batch_id));
            queue.next_sequence = 0;
        }
        for batch in self.batches.values_mut() {
            batch.identity = None;
        }
        match self.producer {
            Some((producer_id, epoch)) if epoch < MAX_PRODUCER_EPOCH => self.producer = Some((producer_id, epoch + 1)),
            _ => {
                self.producer = None;
                if self.producer_id_request.is_none() {
                    self.request_producer_id(ctx);
                }
            }
        }
    }

    fn has_earlier_unacked(&self, batch_id: u64) -> bool {
        let batch = &self.batches[&batch_id];
        let Some(identity) = batch.identity else { return false };
        let queue = &self.queues[batch.partition.index()];
        queue
            .ready
            .iter()
            .chain(queue.in_flight.iter())
            .any(|other| self.batches[other].identity.is_some_and(|other| other.base_sequence < identity.base_sequence))
    }

    fn leave_flight(&mut self, batch_id: u64) {
        let partition = self.batches[&batch_id].partition;
        self.queues[partition.index()].in_flight.retain(|id| *id != batch_id);
    }

    fn complete(&mut self, batch: &Batch, delivery: impl Fn(usize) -> Delivery) {
        for (i, (record, _)) in batch.records.iter().enumerate() {
            self.completions.push(Completion { record: *record, delivery: delivery(i) });
        }
    }

    /// True when the transactional client puts `bug` back.
    fn has_bug(&self, bug: crate::bugs::KafkaBug) -> bool {
        self.kafka_bugs.contains(&bug)
    }

    /// The client with `kafka_bugs` put back.
    pub fn with_kafka_bugs(mut self, kafka_bugs: &[crate::bugs::KafkaBug]) -> ProducerClient {
        self.kafka_bugs = kafka_bugs.to_vec();
        self
    }

    /// The application asked to commit or abort: the transaction is completing (Kafka's `isCompleting()`).
    pub fn begin_completing(&mut self) {
        self.transactional.as_mut().expect("transactional").completing = true;
    }

    /// The error a transactional client reported, if any; an abortable one stays until the transaction ends.
    pub fn error(&self) -> Option<ClientError> {
        self.transactional.as_ref().and_then(|txn| txn.error)
    }

    /// True while a batch is in flight.
    pub fn has_in_flight(&self) -> bool {
        self.batches.values().any(|batch| batch.sent)
    }

    /// Outcomes since the last call.
    pub fn take_completions(&mut self) -> Vec<Completion> {
        std::mem::take(&mut self.completions)
    }

    /// True when nothing is queued, blocked or in flight.
    pub fn is_idle(&self) -> bool {
        self.batches.is_empty() && self.blocked.is_empty() && self.queues.iter().all(|queue| queue.open.is_empty())
    }
}
