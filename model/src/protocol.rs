//! The messages brokers and clients exchange, and Kafka's error codes.
//!
//! Requests carry a `request_id` so a client can match a response to the request it answers and ignore
//! responses to requests it has already given up on, as Kafka's client does when it drops a connection
//! after a request timeout.

use std::rc::Rc;

use crate::scenario::Acks;
use serde::{Deserialize, Serialize};

/// A partition of the cluster: its index in the scenario's key list (`Scenario::keys`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartitionId(pub u32);

impl PartitionId {
    /// Position in the scenario's key list.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Who wrote a batch, for idempotence: producer id, epoch and the sequence number of its first record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProducerIdentity {
    /// Producer id, from InitProducerId.
    pub producer_id: u64,
    /// Producer epoch.
    pub epoch: u16,
    /// Sequence number of the batch's first record.
    pub base_sequence: u32,
}

/// Kafka's producer epoch is a short: `Short.MAX_VALUE`. Coordinators and clients both stop bumping there.
pub const MAX_PRODUCER_EPOCH: u16 = 32_767;

/// The decision a control batch (a transaction marker) records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ControlMarker {
    /// The producer's open transaction on this partition committed.
    Commit,
    /// The producer's open transaction on this partition aborted.
    Abort,
}

/// A batch of records as a producer sends it and a log stores it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordBatch {
    /// Set by idempotent and transactional producers, and on markers; absent for plain producers.
    pub producer: Option<ProducerIdentity>,
    /// Part of a transaction: invisible to read_committed consumers until its COMMIT marker.
    pub transactional: bool,
    /// Set on a control batch: a COMMIT or ABORT marker, which occupies one offset and holds no values.
    pub control: Option<ControlMarker>,
    /// The record values, in order (empty for a control batch). Shared, not copied, by the leader's log, its
    /// fetch answers, the followers' logs and the consumers' reads, as a broker serves a batch's bytes as is;
    /// it hashes as the `Vec` it was built from.
    pub values: Rc<[i64]>,
    /// On a marker: the leader epoch of the transaction-log partition of the coordinator that wrote it.
    pub coordinator_epoch: u32,
    /// Set on a record of an internal topic (the transaction log, `__consumer_offsets`): one record, no values.
    /// Shared as `values` is.
    pub internal: Option<Rc<InternalRecord>>,
}

impl RecordBatch {
    /// A data batch.
    pub fn data(producer: Option<ProducerIdentity>, transactional: bool, values: Vec<i64>) -> RecordBatch {
        RecordBatch {
            producer,
            transactional,
            control: None,
            values: values.into(),
            coordinator_epoch: 0,
            internal: None,
        }
    }

    /// One record of an internal topic; `producer` is set on a transactional offset commit.
    pub fn internal(producer: Option<ProducerIdentity>, record: InternalRecord) -> RecordBatch {
        let transactional = producer.is_some();
        RecordBatch {
            producer,
            transactional,
            control: None,
            values: Rc::new([]),
            coordinator_epoch: 0,
            internal: Some(Rc::new(record)),
        }
    }

    /// A transaction marker for `producer`'s open transaction, written by a coordinator of `coordinator_epoch`.
    pub fn marker(producer: ProducerIdentity, marker: ControlMarker, coordinator_epoch: u32) -> RecordBatch {
        RecordBatch {
            producer: Some(producer),
            transactional: true,
            control: Some(marker),
            values: Rc::new([]),
            coordinator_epoch,
            internal: None,
        }
    }

    /// Offsets the batch occupies: its values, or one for a marker or an internal record.
    pub fn record_count(&self) -> u32 {
        if self.control.is_some() || self.internal.is_some() {
            1
        } else {
            self.values.len() as u32
        }
    }

    /// Sequence number of the last record, for an idempotent batch.
    pub fn last_sequence(&self) -> Option<u32> {
        let identity = self.producer?;
        Some(identity.base_sequence + self.record_count() - 1)
    }
}

/// Kafka error codes the model returns, named as Kafka names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The batch's sequence is not the next one expected for its producer id and epoch (retriable while an
    /// earlier batch is still in flight).
    OutOfOrderSequence,
    /// The batch's epoch is older than the one the partition knows for its producer id.
    InvalidProducerEpoch,
    /// The partition has no state for the producer id (after expiry or loss of producer state).
    UnknownProducerId,
    /// The broker does not lead this partition.
    NotLeaderOrFollower,
    /// A fetch asked for an offset past the end of the log.
    OffsetOutOfRange,
    /// acks=all, but the in-sync replicas are fewer than `min.insync.replicas`.
    NotEnoughReplicas,
    /// The request carried a leader epoch older than the replica's.
    FencedLeaderEpoch,
    /// The request carried a leader epoch newer than the replica knows (its metadata is behind).
    UnknownLeaderEpoch,
    /// An AlterPartition from a leader whose partition epoch is stale.
    InvalidUpdateVersion,
    /// A plain batch from a producer with an open transaction, an EndTxn that does not match the
    /// transaction's state, or a transactional batch the coordinator does not know (KIP-890 verification).
    InvalidTxnState,
    /// This broker is not the coordinator of the transactional id or group (it does not lead its partition).
    NotCoordinator,
    /// The transaction's state is being written, or its markers are being written: retry later.
    ConcurrentTransactions,
    /// The producer id is not the one the coordinator holds for the transactional id.
    InvalidProducerIdMapping,
    /// A newer producer with the same transactional id exists (fatal for this producer).
    ProducerFenced,
    /// The coordinator is still loading its partition of the internal topic: retry later.
    CoordinatorLoadInProgress,
    /// KIP-890: the partition is not in the producer's transaction; the transaction must be aborted.
    TransactionAbortable,
    /// A marker from a coordinator older than one the partition has seen.
    TransactionCoordinatorFenced,
    /// The group has moved to a newer generation than the request's (KIP-447 fencing).
    IllegalGeneration,
    /// The group does not know the member.
    UnknownMemberId,
    /// The group is rebalancing: rejoin.
    RebalanceInProgress,
    /// A partition has transactional offsets waiting for their marker (OffsetFetch with requireStable).
    UnstableOffsetCommit,
    /// A record larger than `max.request.size` or `buffer.memory`, refused by the client's `send()`.
    RecordTooLarge,
    /// The client's TimeoutException: a batch past `delivery.timeout.ms`, or a `send()` that found no
    /// memory within `max.block.ms` (BufferExhaustedException).
    RequestTimedOut,
}

impl ErrorCode {
    /// The coverage counter a broker bumps when it returns this error.
    pub fn counter(self) -> &'static str {
        match self {
            ErrorCode::OutOfOrderSequence => "broker-error:OUT_OF_ORDER_SEQUENCE_NUMBER",
            ErrorCode::InvalidProducerEpoch => "broker-error:INVALID_PRODUCER_EPOCH",
            ErrorCode::UnknownProducerId => "broker-error:UNKNOWN_PRODUCER_ID",
            ErrorCode::NotLeaderOrFollower => "broker-error:NOT_LEADER_OR_FOLLOWER",
            ErrorCode::OffsetOutOfRange => "broker-error:OFFSET_OUT_OF_RANGE",
            ErrorCode::NotEnoughReplicas => "broker-error:NOT_ENOUGH_REPLICAS",
            ErrorCode::FencedLeaderEpoch => "broker-error:FENCED_LEADER_EPOCH",
            ErrorCode::UnknownLeaderEpoch => "broker-error:UNKNOWN_LEADER_EPOCH",
            ErrorCode::InvalidUpdateVersion => "controller-error:INVALID_UPDATE_VERSION",
            ErrorCode::InvalidTxnState => "broker-error:INVALID_TXN_STATE",
            ErrorCode::NotCoordinator => "broker-error:NOT_COORDINATOR",
            ErrorCode::ConcurrentTransactions => "broker-error:CONCURRENT_TRANSACTIONS",
            ErrorCode::InvalidProducerIdMapping => "broker-error:INVALID_PRODUCER_ID_MAPPING",
            ErrorCode::ProducerFenced => "broker-error:PRODUCER_FENCED",
            ErrorCode::TransactionCoordinatorFenced => "broker-error:TRANSACTION_COORDINATOR_FENCED",
            ErrorCode::TransactionAbortable => "broker-error:TRANSACTION_ABORTABLE",
            ErrorCode::CoordinatorLoadInProgress => "broker-error:COORDINATOR_LOAD_IN_PROGRESS",
            ErrorCode::IllegalGeneration => "broker-error:ILLEGAL_GENERATION",
            ErrorCode::UnknownMemberId => "broker-error:UNKNOWN_MEMBER_ID",
            ErrorCode::RebalanceInProgress => "broker-error:REBALANCE_IN_PROGRESS",
            ErrorCode::UnstableOffsetCommit => "broker-error:UNSTABLE_OFFSET_COMMIT",
            ErrorCode::RecordTooLarge => "client-error:RECORD_TOO_LARGE",
            ErrorCode::RequestTimedOut => "client-error:REQUEST_TIMED_OUT",
        }
    }

    /// Kafka's upper-case name, as counters and reports show it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::OutOfOrderSequence => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            ErrorCode::InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            ErrorCode::UnknownProducerId => "UNKNOWN_PRODUCER_ID",
            ErrorCode::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            ErrorCode::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            ErrorCode::NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            ErrorCode::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            ErrorCode::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            ErrorCode::InvalidUpdateVersion => "INVALID_UPDATE_VERSION",
            ErrorCode::InvalidTxnState => "INVALID_TXN_STATE",
            ErrorCode::NotCoordinator => "NOT_COORDINATOR",
            ErrorCode::ConcurrentTransactions => "CONCURRENT_TRANSACTIONS",
            ErrorCode::InvalidProducerIdMapping => "INVALID_PRODUCER_ID_MAPPING",
            ErrorCode::ProducerFenced => "PRODUCER_FENCED",
            ErrorCode::TransactionCoordinatorFenced => "TRANSACTION_COORDINATOR_FENCED",
            ErrorCode::TransactionAbortable => "TRANSACTION_ABORTABLE",
            ErrorCode::CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            ErrorCode::IllegalGeneration => "ILLEGAL_GENERATION",
            ErrorCode::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            ErrorCode::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            ErrorCode::UnstableOffsetCommit => "UNSTABLE_OFFSET_COMMIT",
            ErrorCode::RecordTooLarge => "RECORD_TOO_LARGE",
            ErrorCode::RequestTimedOut => "REQUEST_TIMED_OUT",
        }
    }
}

/// Which records a consumer may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IsolationLevel {
    /// Everything below the high watermark, aborted transactions included (Kafka's default).
    ReadUncommitted,
    /// Only below the last stable offset, without aborted transactions.
    ReadCommitted,
}

/// What a consumer fetch returned for one partition (Kafka's `FetchResponse` partition data): whole batches,
/// control batches included, and for read_committed the aborted transactions the consumer filters out itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FetchData {
    /// Batches from the one holding the fetch offset on, below the HW (read_uncommitted) or the LSO
    /// (read_committed).
    pub batches: Vec<FetchedBatch>,
    /// `abortedTransactions`: (producer id, first offset) of every aborted transaction overlapping the fetched
    /// range; empty for read_uncommitted, as Kafka sends none.
    pub aborted: Vec<(u64, u64)>,
    /// The high watermark.
    pub high_watermark: u64,
    /// The last stable offset: below it no transaction is open.
    pub last_stable_offset: u64,
}

/// One batch of a fetch response, as the consumer receives it: data or a control batch (a marker), with the
/// producer id and transactional flag the consumer needs to filter aborted transactions itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FetchedBatch {
    /// Offset of the batch's first record.
    pub base_offset: u64,
    /// The producer that wrote it, if idempotent or transactional.
    pub producer_id: Option<u64>,
    /// Part of a transaction.
    pub transactional: bool,
    /// Set for a control batch (a COMMIT or ABORT marker), which occupies one offset and is never delivered.
    pub control: Option<ControlMarker>,
    /// The records' values (one placeholder for a control batch), shared with the log the batch was read from.
    pub values: Rc<[i64]>,
}

impl FetchedBatch {
    /// Records in the batch (one for a control batch).
    pub fn record_count(&self) -> u64 {
        self.values.len() as u64
    }

    /// Offset of the batch's last record.
    pub fn last_offset(&self) -> u64 {
        self.base_offset + self.record_count() - 1
    }
}

/// The controller's view of one partition: who leads, since which epoch, and who is in sync.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionState {
    /// Broker index of the leader; none while the partition is offline.
    pub leader: Option<u32>,
    /// Bumped at every leader change; fences the previous leader.
    pub leader_epoch: u32,
    /// In-sync replicas (broker indices), the leader included.
    pub isr: Vec<u32>,
    /// Every replica, preferred leader first.
    pub replicas: Vec<u32>,
    /// Bumped at every change (leader or ISR); an AlterPartition must name the current one.
    pub partition_epoch: u32,
}

/// The controller's metadata: every partition's state, versioned.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MetadataImage {
    /// Bumped at every change.
    pub version: u64,
    /// State per partition, by [`PartitionId`].
    pub partitions: Vec<PartitionState>,
}

/// A log entry as replication carries it: the batch, its base offset and the leader epoch it was written in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReplicatedBatch {
    /// Offset of the first record.
    pub base_offset: u64,
    /// Leader epoch at append.
    pub leader_epoch: u32,
    /// The batch.
    pub batch: RecordBatch,
    /// When the leader appended it (Kafka's batch timestamp): producer-id expiry and time retention read it.
    pub append_time_ns: u64,
}

/// Where a follower's log diverges from the leader's: truncate to `end_offset` and fetch again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DivergingEpoch {
    /// The largest leader epoch the leader has at or below the follower's last fetched epoch.
    pub epoch: u32,
    /// Where that epoch ends in the leader's log.
    pub end_offset: u64,
}

/// A leader's answer to a follower fetch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReplicaFetchData {
    /// Batches from the fetch offset on.
    pub batches: Vec<ReplicatedBatch>,
    /// The leader's high watermark.
    pub high_watermark: u64,
    /// Set when the follower must truncate first.
    pub diverging: Option<DivergingEpoch>,
    /// The leader's log start offset, which the follower's own follows (Kafka's fetch response field).
    pub log_start_offset: u64,
}

/// One partition of a follower's fetch (Kafka's `FetchRequest.FetchPartition` with `lastFetchedEpoch`, KIP-595).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReplicaFetchPartition {
    /// The partition.
    pub partition: PartitionId,
    /// The follower's log end offset.
    pub offset: u64,
    /// Leader epoch of the follower's last batch.
    pub last_fetched_epoch: Option<u32>,
    /// The leader epoch the follower follows.
    pub leader_epoch: u32,
}

/// One partition's answer to a follower's fetch: its batches and the high watermark, or why not.
pub type ReplicaFetchResult = (PartitionId, Result<ReplicaFetchData, ErrorCode>);

/// Most emptied vectors of one kind [`FetchVectors`] keeps: about as many as a run has fetches in flight at
/// once, so a burst of answers does not hold its vectors for the rest of the run.
const FETCH_VECTORS_KEPT: usize = 16;

/// Emptied vectors of the replica fetch messages, kept for the next message of their kind: a broker that has
/// read a replica fetch request or answer hands its vector back, and the next broker to send one takes it. A
/// follower's record of its fetch in flight, a copy of the request, comes from here too and goes back when the
/// answer has been applied.
///
/// Replica fetches are about half of a run's messages (a follower fetches again at every answer), and each
/// carries a vector its sender allocates and its receiver frees. A vector is emptied when handed back and
/// nothing the model does depends on a vector's capacity, so a run stays the same function of its seed.
#[derive(Clone, Debug, Default)]
pub struct FetchVectors {
    requests: Vec<Vec<ReplicaFetchPartition>>,
    answers: Vec<Vec<ReplicaFetchResult>>,
}

impl FetchVectors {
    /// An empty vector for a fetch request of `partitions` partitions.
    pub fn request(&mut self, partitions: usize) -> Vec<ReplicaFetchPartition> {
        reuse(&mut self.requests, partitions)
    }

    /// An empty vector for the answer to a fetch of `partitions` partitions.
    pub fn answer(&mut self, partitions: usize) -> Vec<ReplicaFetchResult> {
        reuse(&mut self.answers, partitions)
    }

    /// Hands back the vector of a fetch request that has been read.
    pub fn recycle_request(&mut self, request: Vec<ReplicaFetchPartition>) {
        recycle(&mut self.requests, request);
    }

    /// Hands back the vector of a fetch answer that has been read.
    pub fn recycle_answer(&mut self, answer: Vec<ReplicaFetchResult>) {
        recycle(&mut self.answers, answer);
    }
}

/// A kept vector with room for `len` items, or a new one.
fn reuse<T>(kept: &mut Vec<Vec<T>>, len: usize) -> Vec<T> {
    let mut vector = kept.pop().unwrap_or_default();
    vector.reserve(len);
    vector
}

/// Keeps `vector`, emptied, unless enough are kept already.
fn recycle<T>(kept: &mut Vec<Vec<T>>, mut vector: Vec<T>) {
    if kept.len() < FETCH_VECTORS_KEPT && vector.capacity() > 0 {
        vector.clear();
        kept.push(vector);
    }
}

/// What a transactional producer tells the coordinator at InitProducerId.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxnInit {
    /// The transactional id.
    pub transactional_id: String,
    /// `transaction.timeout.ms`, in nanoseconds.
    pub timeout_ns: u64,
    /// KIP-360: the producer id and epoch the client holds, when it asks for an epoch bump after an abortable
    /// error instead of starting over (None from `initTransactions`).
    pub current: Option<(u64, u16)>,
}

/// The transaction coordinator's requests besides InitProducerId.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TxnOp {
    /// AddPartitionsToTxn: the producer will write to these partitions in its transaction. Sent by the
    /// client (eos-tv1), or by a partition leader on the client's behalf before the first append (eos-tv2).
    AddPartitions(Vec<PartitionId>),
    /// AddPartitionsToTxn with `verifyOnly` (KIP-890 part 1 on transaction version 1): a partition leader asks
    /// whether these partitions are already in the producer's ongoing transaction, adding nothing.
    VerifyPartitions(Vec<PartitionId>),
    /// AddOffsetsToTxn: the transaction will commit offsets of this group.
    AddOffsets(String),
    /// EndTxn: commit (true) or abort (false).
    EndTxn(bool),
}

/// The group coordinator's requests.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupOp {
    /// JoinGroup (with SyncGroup folded in: the coordinator assigns partitions itself).
    Join {
        /// The member id the consumer has chosen, unique per consumer incarnation.
        member_id: String,
        /// `session.timeout.ms` in nanoseconds: a member silent this long leaves the group.
        session_timeout_ns: u64,
        /// The partitions the member subscribes to (one topic's partitions).
        subscription: Vec<PartitionId>,
    },
    /// Heartbeat of a member at a generation.
    Heartbeat {
        /// The member.
        member_id: String,
        /// Its generation.
        generation: u32,
    },
    /// OffsetFetch; with `require_stable`, partitions with pending transactional offsets are refused.
    OffsetFetch {
        /// The partitions.
        partitions: Vec<PartitionId>,
        /// KIP-447's requireStable.
        require_stable: bool,
    },
    /// OffsetCommit: offsets committed at once, fenced by generation.
    OffsetCommit {
        /// The member committing.
        member_id: String,
        /// The generation it believes current.
        generation: u32,
        /// Next offset to consume, per partition.
        offsets: Vec<(PartitionId, u64)>,
    },
    /// TxnOffsetCommit (KIP-447): offsets committed with the producer's transaction, fenced by generation.
    TxnOffsetCommit {
        /// The transactional id.
        transactional_id: String,
        /// The producer.
        producer_id: u64,
        /// Its epoch.
        epoch: u16,
        /// The member committing.
        member_id: String,
        /// The generation it believes current.
        generation: u32,
        /// Next offset to consume, per partition.
        offsets: Vec<(PartitionId, u64)>,
    },
}

/// The group coordinator's successful replies.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupReply {
    /// Joined: the generation and this member's partitions.
    Joined {
        /// The generation.
        generation: u32,
        /// The partitions assigned to the member.
        assignment: Vec<PartitionId>,
    },
    /// Heartbeat or TxnOffsetCommit accepted.
    Done,
    /// Committed offsets (none where nothing was committed).
    Offsets(Vec<(PartitionId, Option<u64>)>),
}

/// A record of an internal topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InternalRecord {
    /// The transaction log: one transactional id's metadata after a transition; shared with the coordinator's
    /// pending transition and the broker's write in flight, which hold the same entry.
    Txn(Rc<TxnLogEntry>),
    /// `__consumer_offsets`: a group's generation and assignment after a rebalance.
    Group {
        /// The group.
        group_id: String,
        /// The generation.
        generation: u32,
        /// Members with their session timeout and partitions.
        members: Vec<(String, u64, Vec<PartitionId>)>,
    },
    /// `__consumer_offsets`: committed offsets; transactional (pending until the marker) when the batch has a
    /// producer.
    Offsets {
        /// The group.
        group_id: String,
        /// Next offset to consume, per partition.
        offsets: Vec<(PartitionId, u64)>,
    },
}

/// The transaction log's record of one transactional id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxnLogEntry {
    /// The transactional id.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: u64,
    /// The current epoch.
    pub epoch: u16,
    /// The epoch before the last KIP-890 bump, to recognise a retried EndTxn.
    pub last_epoch: Option<u16>,
    /// The state entered.
    pub state: crate::coordinator::txn_state::TxnState,
    /// Partitions in the transaction.
    pub partitions: Vec<PartitionId>,
    /// `transaction.timeout.ms` in nanoseconds.
    pub timeout_ns: u64,
    /// When the open transaction started (the first partition added).
    pub txn_start_ns: u64,
    /// Transaction version 2: the producer id the client moves to once this transaction completes, because
    /// its epoch is exhausted (Kafka's `nextProducerId`, KAFKA-18660).
    #[serde(default)]
    pub next_producer_id: Option<u64>,
    /// The producer id before the last rotation, to recognise a retried EndTxn of the old id (Kafka's
    /// `previousProducerId`).
    #[serde(default)]
    pub previous_producer_id: Option<u64>,
}

/// Every message of the model.
///
/// A message is moved into the event queue's slab when sent and out of it when delivered, and every queued
/// event is as large as the largest message: so no variant is larger than the replica fetches and acks that
/// make most of a run's traffic (48 bytes, which makes a queued event one 64-byte cache line). A larger
/// payload is boxed, and a string that never grows is a `Box<str>`. Boxing changes neither a message's
/// hash (a `Box` hashes as what it holds, so the trace is the same) nor its JSON.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// A pipeline writes one row to the external store.
    StoreWriteRequest {
        /// Matches the response.
        request_id: u64,
        /// The row's key (a boxed `str`, two words, not three: see [`Msg`]).
        key: Box<str>,
        /// The row's value.
        value: i64,
        /// Upsert: write the row only if no row with this key and value exists (an idempotent write).
        upsert: bool,
        /// The transaction attempt writing it.
        writer: u64,
    },
    /// The store's answer.
    StoreWriteResponse {
        /// The request this answers.
        request_id: u64,
        /// True if this writer's write is in the store (an upsert of a row another writer made is not).
        applied: bool,
    },
    /// A producer asks for a producer id: any broker for an idempotent producer, the transaction
    /// coordinator for a transactional one.
    InitProducerIdRequest {
        /// Matches the response.
        request_id: u64,
        /// Set for a transactional producer; boxed (see [`Msg`]).
        transactional: Option<Box<TxnInit>>,
    },
    /// A producer id and epoch, or why not.
    InitProducerIdResponse {
        /// The request this answers.
        request_id: u64,
        /// Producer id and epoch.
        result: Result<(u64, u16), ErrorCode>,
    },
    /// A request to the transaction coordinator about one transactional id.
    TxnRequest {
        /// Matches the response.
        request_id: u64,
        /// The transactional id (a boxed `str`, see [`Msg`]).
        transactional_id: Box<str>,
        /// The producer id the client holds.
        producer_id: u64,
        /// The epoch the client holds.
        epoch: u16,
        /// What it asks; boxed (see [`Msg`]).
        op: Box<TxnOp>,
    },
    /// The coordinator's answer: the producer epoch to use from now on (bumped by a KIP-890 EndTxn), or why not.
    TxnResponse {
        /// The request this answers.
        request_id: u64,
        /// The producer id and epoch the transaction continues with (under transaction version 2 an EndTxn
        /// bumps the epoch, and rotates the producer id once the epoch is exhausted), or the error.
        result: Result<(u64, u16), ErrorCode>,
    },
    /// The transaction coordinator asks a partition leader to write a marker.
    WriteTxnMarkerRequest {
        /// Matches the response.
        request_id: u64,
        /// The partition.
        partition: PartitionId,
        /// The producer whose transaction ends, with the marker's epoch.
        producer: ProducerIdentity,
        /// COMMIT or ABORT.
        marker: ControlMarker,
        /// The leader epoch of the coordinator's transaction-log partition: fences older coordinators.
        coordinator_epoch: u32,
    },
    /// The marker is replicated, or why not.
    WriteTxnMarkerResponse {
        /// The request this answers.
        request_id: u64,
        /// The partition.
        partition: PartitionId,
        /// Ok, or the error.
        result: Result<(), ErrorCode>,
    },
    /// A request to the group coordinator.
    GroupRequest {
        /// Matches the response.
        request_id: u64,
        /// The group.
        group_id: String,
        /// What it asks; boxed (see [`Msg`]).
        op: Box<GroupOp>,
    },
    /// The group coordinator's answer.
    GroupResponse {
        /// The request this answers.
        request_id: u64,
        /// The reply, or the error.
        result: Result<GroupReply, ErrorCode>,
    },
    /// A batch for one partition.
    ProduceRequest {
        /// Matches the response.
        request_id: u64,
        /// Target partition.
        partition: PartitionId,
        /// Whether and when the broker answers.
        acks: Acks,
        /// The records; boxed (see [`Msg`]).
        batch: Box<RecordBatch>,
        /// Set by a transactional producer: the leader verifies the partition with its coordinator (KIP-890).
        transactional_id: Option<String>,
    },
    /// The outcome of a produce: the batch's base offset, or an error.
    ProduceResponse {
        /// The request this answers.
        request_id: u64,
        /// Base offset of the appended (or already present) batch, or why not.
        result: Result<u64, ErrorCode>,
        /// The partition's log start offset when the leader answered (Kafka's `logStartOffset` in the
        /// ProduceResponse), which the client compares with its last acknowledged offset on UNKNOWN_PRODUCER_ID;
        /// None when the answering broker does not know it.
        log_start_offset: Option<u64>,
    },
    /// A consumer reads a partition from an offset.
    FetchRequest {
        /// Matches the response.
        request_id: u64,
        /// Partition to read.
        partition: PartitionId,
        /// First offset wanted.
        offset: u64,
        /// Most records to return.
        max_records: u32,
        /// The leader epoch the consumer believes current (KIP-320): a broker with another epoch refuses
        /// rather than answer from a log the consumer's position does not belong to.
        leader_epoch: u32,
        /// read_committed or read_uncommitted.
        isolation: IsolationLevel,
    },
    /// Records, or an error.
    FetchResponse {
        /// The request this answers.
        request_id: u64,
        /// Batches and high watermark, or why not; boxed (see [`Msg`]).
        result: Result<Box<FetchData>, ErrorCode>,
        /// The partition's log start offset (Kafka's `logStartOffset`, sent with an error too), where
        /// `auto.offset.reset=earliest` moves a consumer on OFFSET_OUT_OF_RANGE; None when the answering broker
        /// does not host the partition.
        log_start_offset: Option<u64>,
    },
    /// A client asks a broker which broker leads each partition.
    MetadataRequest {
        /// Matches the response.
        request_id: u64,
    },
    /// The leader of each partition as the broker knows it (possibly stale).
    MetadataResponse {
        /// The request this answers.
        request_id: u64,
        /// Leader broker index and leader epoch per partition.
        leaders: Vec<(Option<u32>, u32)>,
    },
    /// A broker tells the controller it is alive, and which metadata it has.
    BrokerHeartbeat {
        /// Broker index.
        broker: u32,
        /// Bumped at every restart: a new incarnation makes the controller move leadership away first.
        incarnation: u64,
        /// Metadata version the broker has.
        metadata_version: u64,
    },
    /// The controller's answer: newer metadata, if the broker is behind.
    BrokerHeartbeatResponse {
        /// The current image when newer than the broker's.
        image: Option<MetadataImage>,
    },
    /// A leader asks the controller to change a partition's ISR.
    AlterPartition {
        /// The partition.
        partition: PartitionId,
        /// The leader asking.
        broker: u32,
        /// Its leader epoch.
        leader_epoch: u32,
        /// The partition epoch it last saw.
        partition_epoch: u32,
        /// The ISR it wants.
        isr: Vec<u32>,
    },
    /// The new partition state, or why not.
    AlterPartitionResponse {
        /// The partition.
        partition: PartitionId,
        /// New state or error; boxed (see [`Msg`]).
        result: Result<Box<PartitionState>, ErrorCode>,
    },
    /// A follower fetches every partition it replicates from this leader in one request (Kafka's Fetch with a
    /// replica id, sent by the follower's `ReplicaFetcherThread` for that source broker).
    ReplicaFetchRequest {
        /// Matches the response.
        request_id: u64,
        /// The follower's broker index.
        replica: u32,
        /// What the follower asks of each partition.
        partitions: Vec<ReplicaFetchPartition>,
    },
    /// One result per partition of the request: batches and the high watermark, or why not.
    ReplicaFetchResponse {
        /// The request this answers.
        request_id: u64,
        /// Each partition's batches or error, in the request's order.
        partitions: Vec<ReplicaFetchResult>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stored trace hash was made while a batch's values were a `Vec`: the shared slice must feed a
    /// hasher the same writes.
    #[test]
    fn shared_values_hash_as_the_vec_did() {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let values = vec![3_i64, -1, 1 << 40];
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        let shared = RecordBatch::data(None, true, values.clone());
        assert_eq!(hasher.hash_one(&shared.values), hasher.hash_one(&values));
        let empty: Vec<i64> = Vec::new();
        let producer = ProducerIdentity { producer_id: 7, epoch: 1, base_sequence: 0 };
        assert_eq!(
            hasher.hash_one(&RecordBatch::marker(producer, ControlMarker::Commit, 2).values),
            hasher.hash_one(&empty)
        );
    }

    #[test]
    fn fetch_vectors_come_back_empty_with_their_room_and_only_so_many_are_kept() {
        let mut vectors = FetchVectors::default();
        let asked =
            ReplicaFetchPartition { partition: PartitionId(2), offset: 7, last_fetched_epoch: None, leader_epoch: 1 };
        let mut request = vectors.request(3);
        assert!(request.is_empty() && request.capacity() >= 3, "a new vector with room for three");
        request.extend([asked; 3]);
        let room = request.capacity();
        vectors.recycle_request(request);
        let again = vectors.request(1);
        assert!(again.is_empty(), "handed back emptied");
        assert_eq!(again.capacity(), room, "the same vector, not a new one");
        vectors.recycle_request(Vec::new());
        assert_eq!(vectors.request(0).capacity(), 0, "a vector without room is not kept");
        for _ in 0..FETCH_VECTORS_KEPT + 4 {
            vectors.recycle_answer(Vec::with_capacity(1));
        }
        assert_eq!(vectors.answers.len(), FETCH_VECTORS_KEPT, "a burst keeps at most FETCH_VECTORS_KEPT");
    }

    #[test]
    fn a_message_is_no_larger_than_a_replica_fetch() {
        // Every queued event carries a `Msg` and moves it into the queue's slab; a rare variant that grows
        // past the common ones makes every delivery copy more (a message grown by 48 bytes made eos-tv2 6%
        // slower by the clock).
        assert!(std::mem::size_of::<Msg>() <= 48, "a Msg of {} bytes", std::mem::size_of::<Msg>());
    }
}
