//! The messages brokers and clients exchange, and Kafka's error codes.
//!
//! Requests carry a `request_id` so a client can match a response to the request it answers and ignore
//! responses to requests it has already given up on, as Kafka's client does when it drops a connection
//! after a request timeout.

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

/// A batch of records as a producer sends it and a log stores it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordBatch {
    /// Set by idempotent producers; absent for plain ones.
    pub producer: Option<ProducerIdentity>,
    /// The record values, in order.
    pub values: Vec<i64>,
}

impl RecordBatch {
    /// Sequence number of the last record, for an idempotent batch.
    pub fn last_sequence(&self) -> Option<u32> {
        let identity = self.producer?;
        Some(identity.base_sequence + self.values.len() as u32 - 1)
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
        }
    }
}

/// Records a fetch returned, with the partition's high watermark.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FetchData {
    /// (offset, value) pairs from the requested offset on.
    pub records: Vec<(u64, i64)>,
    /// The offset after the last readable record.
    pub high_watermark: u64,
}

/// Every message of the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// A producer asks for a producer id.
    InitProducerIdRequest {
        /// Matches the response.
        request_id: u64,
    },
    /// A new producer id and epoch.
    InitProducerIdResponse {
        /// The request this answers.
        request_id: u64,
        /// Producer id.
        producer_id: u64,
        /// Epoch.
        epoch: u16,
    },
    /// A batch for one partition.
    ProduceRequest {
        /// Matches the response.
        request_id: u64,
        /// Target partition.
        partition: PartitionId,
        /// Whether and when the broker answers.
        acks: Acks,
        /// The records.
        batch: RecordBatch,
    },
    /// The outcome of a produce: the batch's base offset, or an error.
    ProduceResponse {
        /// The request this answers.
        request_id: u64,
        /// Base offset of the appended (or already present) batch, or why not.
        result: Result<u64, ErrorCode>,
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
    },
    /// Records, or an error.
    FetchResponse {
        /// The request this answers.
        request_id: u64,
        /// Records and high watermark, or why not.
        result: Result<FetchData, ErrorCode>,
    },
}
