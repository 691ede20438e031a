//! How a message describes itself to a recording ([`eosim_sim::Label`]): its variant, the Kafka API it belongs
//! to, and the fields a person reading a space-time diagram needs (partition, producer id, epoch, sequence,
//! base offset, transactional id, marker, coordinator epoch, error code).
//!
//! Field names are Kafka's own, from the request and response schemas in `clients/src/main/resources/common/
//! message/` (`ProduceRequest.json`: `transactionalId`, `producerId`, `producerEpoch`, `baseSequence`;
//! `WriteTxnMarkersRequest.json`: `transactionResult`, `coordinatorEpoch`), so a tooltip reads like a packet
//! capture. The lumped requests are split by what they carry: a [`Msg::TxnRequest`] is AddPartitionsToTxn
//! (with `verifyOnly` under KIP-890 part 1), AddOffsetsToTxn or EndTxn; a [`Msg::GroupRequest`] is JoinGroup,
//! Heartbeat, OffsetFetch, OffsetCommit or TxnOffsetCommit. Only a recording asks, so none of this runs in a
//! campaign, and none of it touches a trace.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::protocol::{
    ControlMarker, ErrorCode, FetchData, GroupOp, GroupReply, InternalRecord, Msg, PartitionId, RecordBatch,
    ReplicaFetchData, TxnOp,
};
use crate::scenario::Acks;

/// Values of a batch or a fetch shown at most; the history has the rest.
const VALUES_MAX: usize = 12;

/// The API of a follower's fetch: Kafka's Fetch with a replica id, named apart so that a page can hide it.
pub const REPLICA_FETCH_API: &str = "Fetch (replica)";

impl eosim_sim::Label for Msg {
    /// The variant's name ("ProduceRequest"), for space-time diagrams.
    fn label(&self) -> Cow<'static, str> {
        eosim_sim::recording::debug_label(self)
    }

    fn api(&self) -> Option<&'static str> {
        let api = match self {
            Msg::StoreWriteRequest { .. } | Msg::StoreWriteResponse { .. } => "StoreWrite",
            Msg::InitProducerIdRequest { .. } | Msg::InitProducerIdResponse { .. } => "InitProducerId",
            Msg::TxnRequest { op, .. } => txn_api(op),
            Msg::WriteTxnMarkerRequest { .. } | Msg::WriteTxnMarkerResponse { .. } => "WriteTxnMarkers",
            Msg::GroupRequest { op, .. } => group_api(op),
            Msg::ProduceRequest { .. } | Msg::ProduceResponse { .. } => "Produce",
            Msg::FetchRequest { .. } | Msg::FetchResponse { .. } => "Fetch",
            Msg::MetadataRequest { .. } | Msg::MetadataResponse { .. } => "Metadata",
            Msg::BrokerHeartbeat { .. } | Msg::BrokerHeartbeatResponse { .. } => "BrokerHeartbeat",
            Msg::AlterPartition { .. } | Msg::AlterPartitionResponse { .. } => "AlterPartition",
            Msg::ReplicaFetchRequest { .. } | Msg::ReplicaFetchResponse { .. } => REPLICA_FETCH_API,
            // A coordinator's answer does not say which request it answers; the request does.
            Msg::TxnResponse { .. } | Msg::GroupResponse { .. } => return None,
        };
        Some(api)
    }

    fn fields(&self) -> String {
        let mut out = Fields::default();
        match self {
            Msg::StoreWriteRequest { key, value, upsert, writer, .. } => {
                out.add("key", key);
                out.add("value", value);
                out.add("upsert", upsert);
                out.add("writer", writer);
            }
            Msg::StoreWriteResponse { applied, .. } => out.add("applied", applied),
            Msg::InitProducerIdRequest { transactional, .. } => match transactional {
                Some(init) => {
                    out.add("transactionalId", &init.transactional_id);
                    out.add("transactionTimeoutMs", init.timeout_ns / 1_000_000);
                    if let Some((producer_id, epoch)) = init.current {
                        out.add("producerId", producer_id);
                        out.add("producerEpoch", epoch);
                    }
                }
                None => out.add("transactionalId", "null"),
            },
            Msg::TxnRequest { transactional_id, producer_id, epoch, op, .. } => {
                out.add("transactionalId", transactional_id);
                out.add("producerId", producer_id);
                out.add("producerEpoch", epoch);
                txn_fields(&mut out, op);
            }
            Msg::GroupRequest { group_id, op, .. } => {
                out.add("groupId", group_id);
                group_fields(&mut out, op);
            }
            Msg::WriteTxnMarkerRequest { partition, producer, marker, coordinator_epoch, .. } => {
                out.add("partition", partition.0);
                out.add("producerId", producer.producer_id);
                out.add("producerEpoch", producer.epoch);
                out.add("transactionResult", marker_name(*marker));
                out.add("coordinatorEpoch", coordinator_epoch);
            }
            Msg::ProduceRequest { partition, acks, batch, transactional_id, .. } => {
                out.add("partition", partition.0);
                out.add("acks", acks_name(*acks));
                if let Some(id) = transactional_id {
                    out.add("transactionalId", id);
                }
                batch_fields(&mut out, batch);
            }
            Msg::FetchRequest { partition, offset, max_records, leader_epoch, isolation, .. } => {
                out.add("partition", partition.0);
                out.add("fetchOffset", offset);
                out.add("maxRecords", max_records);
                out.add("currentLeaderEpoch", leader_epoch);
                out.add("isolationLevel", format!("{isolation:?}"));
            }
            Msg::ReplicaFetchRequest { replica, partitions, .. } => {
                out.add("replicaId", replica);
                for fetched in partitions {
                    let mut partition = Fields::default();
                    partition.add("fetchOffset", fetched.offset);
                    partition.add("currentLeaderEpoch", fetched.leader_epoch);
                    if let Some(epoch) = fetched.last_fetched_epoch {
                        partition.add("lastFetchedEpoch", epoch);
                    }
                    out.add(&format!("partition {}", fetched.partition.0), format!("({})", partition.text));
                }
            }
            other => response_fields(&mut out, other),
        }
        out.text
    }

    fn correlation_id(&self) -> Option<u64> {
        match self {
            Msg::StoreWriteRequest { request_id, .. }
            | Msg::StoreWriteResponse { request_id, .. }
            | Msg::InitProducerIdRequest { request_id, .. }
            | Msg::InitProducerIdResponse { request_id, .. }
            | Msg::TxnRequest { request_id, .. }
            | Msg::TxnResponse { request_id, .. }
            | Msg::WriteTxnMarkerRequest { request_id, .. }
            | Msg::WriteTxnMarkerResponse { request_id, .. }
            | Msg::GroupRequest { request_id, .. }
            | Msg::GroupResponse { request_id, .. }
            | Msg::ProduceRequest { request_id, .. }
            | Msg::ProduceResponse { request_id, .. }
            | Msg::FetchRequest { request_id, .. }
            | Msg::FetchResponse { request_id, .. }
            | Msg::MetadataRequest { request_id }
            | Msg::MetadataResponse { request_id, .. }
            | Msg::ReplicaFetchRequest { request_id, .. }
            | Msg::ReplicaFetchResponse { request_id, .. } => Some(*request_id),
            Msg::BrokerHeartbeat { .. }
            | Msg::BrokerHeartbeatResponse { .. }
            | Msg::AlterPartition { .. }
            | Msg::AlterPartitionResponse { .. } => None,
        }
    }
}

/// `name value` pairs joined by commas.
#[derive(Default)]
struct Fields {
    text: String,
}

impl Fields {
    fn add(&mut self, name: &str, value: impl std::fmt::Display) {
        if !self.text.is_empty() {
            self.text.push_str(", ");
        }
        let _ = write!(self.text, "{name} {value}");
    }

    fn error(&mut self, error: ErrorCode) {
        self.add("errorCode", error.name());
    }
}

/// The Kafka API a transaction coordinator request is.
fn txn_api(op: &TxnOp) -> &'static str {
    match op {
        TxnOp::AddPartitions(_) | TxnOp::VerifyPartitions(_) => "AddPartitionsToTxn",
        TxnOp::AddOffsets(_) => "AddOffsetsToTxn",
        TxnOp::EndTxn(_) => "EndTxn",
    }
}

/// The Kafka API a group coordinator request is (JoinGroup stands for JoinGroup and SyncGroup, folded).
fn group_api(op: &GroupOp) -> &'static str {
    match op {
        GroupOp::Join { .. } => "JoinGroup",
        GroupOp::Heartbeat { .. } => "Heartbeat",
        GroupOp::OffsetFetch { .. } => "OffsetFetch",
        GroupOp::OffsetCommit { .. } => "OffsetCommit",
        GroupOp::TxnOffsetCommit { .. } => "TxnOffsetCommit",
    }
}

fn txn_fields(out: &mut Fields, op: &TxnOp) {
    match op {
        TxnOp::AddPartitions(partitions) => out.add("partitions", partition_list(partitions)),
        TxnOp::VerifyPartitions(partitions) => {
            out.add("partitions", partition_list(partitions));
            out.add("verifyOnly", true);
        }
        TxnOp::AddOffsets(group) => out.add("groupId", group),
        TxnOp::EndTxn(commit) => out.add("committed", commit),
    }
}

fn group_fields(out: &mut Fields, op: &GroupOp) {
    match op {
        GroupOp::Join { member_id, session_timeout_ns, subscription } => {
            out.add("memberId", member_id);
            out.add("sessionTimeoutMs", session_timeout_ns / 1_000_000);
            out.add("partitions", partition_list(subscription));
        }
        GroupOp::Heartbeat { member_id, generation } => {
            out.add("memberId", member_id);
            out.add("generationId", generation);
        }
        GroupOp::OffsetFetch { partitions, require_stable } => {
            out.add("partitions", partition_list(partitions));
            out.add("requireStable", require_stable);
        }
        GroupOp::OffsetCommit { member_id, generation, offsets } => {
            out.add("memberId", member_id);
            out.add("generationId", generation);
            out.add("offsets", offset_list(offsets));
        }
        GroupOp::TxnOffsetCommit { transactional_id, producer_id, epoch, member_id, generation, offsets } => {
            out.add("transactionalId", transactional_id);
            out.add("producerId", producer_id);
            out.add("producerEpoch", epoch);
            out.add("memberId", member_id);
            out.add("generationId", generation);
            out.add("offsets", offset_list(offsets));
        }
    }
}

/// A produced batch: its producer identity, whether it is transactional, and its values.
fn batch_fields(out: &mut Fields, batch: &RecordBatch) {
    match batch.producer {
        Some(producer) => {
            out.add("producerId", producer.producer_id);
            out.add("producerEpoch", producer.epoch);
            out.add("baseSequence", producer.base_sequence);
        }
        None => out.add("producerId", "-1 (not idempotent)"),
    }
    out.add("isTransactional", batch.transactional);
    out.add("records", batch.record_count());
    if !batch.values.is_empty() {
        out.add("values", value_list(batch.values.iter().copied()));
    }
}

fn response_fields(out: &mut Fields, msg: &Msg) {
    match msg {
        Msg::InitProducerIdResponse { result, .. } | Msg::TxnResponse { result, .. } => match result {
            Ok((producer_id, epoch)) => {
                out.add("producerId", producer_id);
                out.add("producerEpoch", epoch);
            }
            Err(error) => out.error(*error),
        },
        Msg::WriteTxnMarkerResponse { partition, result, .. } => {
            out.add("partition", partition.0);
            if let Err(error) = result {
                out.error(*error);
            }
        }
        Msg::GroupResponse { result, .. } => match result {
            Ok(GroupReply::Joined { generation, assignment }) => {
                out.add("generationId", generation);
                out.add("assignment", partition_list(assignment));
            }
            Ok(GroupReply::Done) => {}
            Ok(GroupReply::Offsets(offsets)) => {
                let shown: Vec<String> = offsets
                    .iter()
                    .map(|(partition, offset)| match offset {
                        Some(offset) => format!("{}:{offset}", partition.0),
                        None => format!("{}:-1", partition.0),
                    })
                    .collect();
                out.add("committedOffsets", format!("[{}]", shown.join(" ")));
            }
            Err(error) => out.error(*error),
        },
        Msg::ProduceResponse { result, log_start_offset, .. } => {
            match result {
                Ok(offset) => out.add("baseOffset", offset),
                Err(error) => out.error(*error),
            }
            if let Some(start) = log_start_offset {
                out.add("logStartOffset", start);
            }
        }
        Msg::FetchResponse { result, .. } => match result {
            Ok(data) => fetch_fields(out, data),
            Err(error) => out.error(*error),
        },
        Msg::ReplicaFetchResponse { partitions, .. } => {
            for (partition, result) in partitions {
                let mut fields = Fields::default();
                match result {
                    Ok(data) => replica_fetch_fields(&mut fields, data),
                    Err(error) => fields.error(*error),
                }
                out.add(&format!("partition {}", partition.0), format!("({})", fields.text));
            }
        }
        other => cluster_fields(out, other),
    }
}

/// The metadata and controller messages: leaders, broker liveness, ISR changes.
fn cluster_fields(out: &mut Fields, msg: &Msg) {
    match msg {
        Msg::MetadataResponse { leaders, .. } => {
            let shown: Vec<String> = (leaders.iter().enumerate())
                .map(|(partition, (leader, epoch))| match leader {
                    Some(leader) => format!("{partition}:broker-{leader}@{epoch}"),
                    None => format!("{partition}:none@{epoch}"),
                })
                .collect();
            out.add("leaders", format!("[{}]", shown.join(" ")));
        }
        Msg::BrokerHeartbeat { broker, incarnation, metadata_version } => {
            out.add("brokerId", broker);
            out.add("brokerEpoch", incarnation);
            out.add("metadataOffset", metadata_version);
        }
        Msg::BrokerHeartbeatResponse { image } => match image {
            Some(image) => out.add("metadataVersion", image.version),
            None => out.add("metadata", "up to date"),
        },
        Msg::AlterPartition { partition, broker, leader_epoch, partition_epoch, isr } => {
            out.add("partition", partition.0);
            out.add("brokerId", broker);
            out.add("leaderEpoch", leader_epoch);
            out.add("partitionEpoch", partition_epoch);
            out.add("newIsr", format!("{isr:?}"));
        }
        Msg::AlterPartitionResponse { partition, result } => {
            out.add("partition", partition.0);
            match result {
                Ok(state) => {
                    out.add("leaderEpoch", state.leader_epoch);
                    out.add("partitionEpoch", state.partition_epoch);
                    out.add("isr", format!("{:?}", state.isr));
                }
                Err(error) => out.error(*error),
            }
        }
        _ => {}
    }
}

/// A consumer fetch's answer: the records as offset → value, markers named, and the stable offsets.
fn fetch_fields(out: &mut Fields, data: &FetchData) {
    let mut records = Vec::new();
    for batch in &data.batches {
        match batch.control {
            Some(marker) => records.push(format!("{}:{}", batch.base_offset, marker_name(marker))),
            None => records.extend((batch.values.iter().enumerate()).map(|(i, value)| {
                let producer = batch.producer_id.map(|id| format!(" (pid {id})")).unwrap_or_default();
                format!("{}:{value}{producer}", batch.base_offset + i as u64)
            })),
        }
    }
    out.add("records", shorten_list(&records));
    if !data.aborted.is_empty() {
        let aborted: Vec<String> = data.aborted.iter().map(|(pid, first)| format!("pid {pid} from {first}")).collect();
        out.add("abortedTransactions", format!("[{}]", aborted.join(", ")));
    }
    out.add("highWatermark", data.high_watermark);
    out.add("lastStableOffset", data.last_stable_offset);
}

/// A follower fetch's answer: the batches with their offsets and producers, and the high watermark.
fn replica_fetch_fields(out: &mut Fields, data: &ReplicaFetchData) {
    let batches: Vec<String> = data
        .batches
        .iter()
        .map(|entry| {
            let batch = &entry.batch;
            let what = match (batch.control, &batch.internal) {
                (Some(marker), _) => marker_name(marker).to_string(),
                (None, Some(record)) => internal_record(record),
                (None, None) => value_list(batch.values.iter().copied()),
            };
            let producer = batch.producer.map(|p| format!(" pid {} seq {}", p.producer_id, p.base_sequence));
            format!("{}:{what}{}", entry.base_offset, producer.unwrap_or_default())
        })
        .collect();
    out.add("batches", shorten_list(&batches));
    out.add("highWatermark", data.high_watermark);
    if let Some(diverging) = data.diverging {
        out.add("divergingEpoch", format!("{} ends at {}", diverging.epoch, diverging.end_offset));
    }
}

/// A record of an internal topic as it replicates: a transaction's new state (a coordinator state change), a
/// group's generation, or committed offsets.
fn internal_record(record: &InternalRecord) -> String {
    match record {
        InternalRecord::Txn(entry) => format!(
            "txn {} {:?} (producerId {} epoch {})",
            entry.transactional_id, entry.state, entry.producer_id, entry.epoch
        ),
        InternalRecord::Group { group_id, generation, .. } => format!("group {group_id} generation {generation}"),
        InternalRecord::Offsets { group_id, offsets } => format!("offsets of {group_id} {}", offset_list(offsets)),
    }
}

fn marker_name(marker: ControlMarker) -> &'static str {
    match marker {
        ControlMarker::Commit => "COMMIT",
        ControlMarker::Abort => "ABORT",
    }
}

fn acks_name(acks: Acks) -> &'static str {
    match acks {
        Acks::None => "0",
        Acks::Leader => "1",
        Acks::All => "all",
    }
}

fn partition_list(partitions: &[PartitionId]) -> String {
    let shown: Vec<String> = partitions.iter().map(|partition| partition.0.to_string()).collect();
    format!("[{}]", shown.join(" "))
}

fn offset_list(offsets: &[(PartitionId, u64)]) -> String {
    let shown: Vec<String> = offsets.iter().map(|(partition, offset)| format!("{}:{offset}", partition.0)).collect();
    format!("[{}]", shown.join(" "))
}

fn value_list(values: impl Iterator<Item = i64>) -> String {
    let shown: Vec<String> = values.map(|value| value.to_string()).collect();
    shorten_list(&shown)
}

/// `[a b c]`, the first [`VALUES_MAX`] items and how many more.
fn shorten_list(items: &[String]) -> String {
    let shown = items.iter().take(VALUES_MAX).cloned().collect::<Vec<_>>().join(" ");
    match items.len().saturating_sub(VALUES_MAX) {
        0 => format!("[{shown}]"),
        more => format!("[{shown} … {more} more]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ProducerIdentity;
    use eosim_sim::Label;

    #[test]
    fn a_produce_request_names_its_api_and_idempotence_fields() {
        let producer = ProducerIdentity { producer_id: 7, epoch: 2, base_sequence: 5 };
        let msg = Msg::ProduceRequest {
            request_id: 11,
            partition: PartitionId(1),
            acks: Acks::All,
            batch: Box::new(RecordBatch::data(Some(producer), true, vec![40, 41])),
            transactional_id: Some("tx-0".to_string()),
        };
        assert_eq!(msg.label(), "ProduceRequest");
        assert_eq!(msg.api(), Some("Produce"));
        assert_eq!(msg.correlation_id(), Some(11));
        assert_eq!(
            msg.fields(),
            "partition 1, acks all, transactionalId tx-0, producerId 7, producerEpoch 2, baseSequence 5, \
             isTransactional true, records 2, values [40 41]"
        );
    }

    #[test]
    fn lumped_requests_split_by_what_they_carry_and_responses_defer_to_them() {
        let txn = |op| Msg::TxnRequest {
            request_id: 1,
            transactional_id: "t".into(),
            producer_id: 3,
            epoch: 0,
            op: Box::new(op),
        };
        assert_eq!(txn(TxnOp::EndTxn(false)).api(), Some("EndTxn"));
        assert!(txn(TxnOp::EndTxn(false)).fields().ends_with("committed false"));
        assert_eq!(txn(TxnOp::VerifyPartitions(vec![PartitionId(0)])).api(), Some("AddPartitionsToTxn"));
        let heartbeat = GroupOp::Heartbeat { member_id: "m".into(), generation: 4 };
        let group = Msg::GroupRequest { request_id: 2, group_id: "g".into(), op: Box::new(heartbeat) };
        assert_eq!(group.api(), Some("Heartbeat"));
        let response = Msg::TxnResponse { request_id: 1, result: Err(ErrorCode::ProducerFenced) };
        assert_eq!((response.api(), response.fields()), (None, "errorCode PRODUCER_FENCED".to_string()));
        let marker = Msg::WriteTxnMarkerRequest {
            request_id: 5,
            partition: PartitionId(2),
            producer: ProducerIdentity { producer_id: 3, epoch: 1, base_sequence: 0 },
            marker: ControlMarker::Abort,
            coordinator_epoch: 9,
        };
        assert_eq!(
            marker.fields(),
            "partition 2, producerId 3, producerEpoch 1, transactionResult ABORT, coordinatorEpoch 9"
        );
        let long = value_list(0..20);
        assert!(long.ends_with("11 … 8 more]"), "{long}");
    }

    #[test]
    fn a_replica_fetch_lists_each_partition_of_its_session() {
        let asked = |partition, offset, last_fetched_epoch| crate::protocol::ReplicaFetchPartition {
            partition: PartitionId(partition),
            offset,
            last_fetched_epoch,
            leader_epoch: 2,
        };
        let request = Msg::ReplicaFetchRequest {
            request_id: 4,
            replica: 1,
            partitions: vec![asked(0, 3, Some(1)), asked(2, 0, None)],
        };
        assert_eq!(request.api(), Some(REPLICA_FETCH_API));
        assert_eq!(
            request.fields(),
            "replicaId 1, partition 0 (fetchOffset 3, currentLeaderEpoch 2, lastFetchedEpoch 1), \
             partition 2 (fetchOffset 0, currentLeaderEpoch 2)"
        );
        let data = ReplicaFetchData { batches: Vec::new(), high_watermark: 3, diverging: None, log_start_offset: 0 };
        let response = Msg::ReplicaFetchResponse {
            request_id: 4,
            partitions: vec![(PartitionId(0), Ok(data)), (PartitionId(2), Err(ErrorCode::NotLeaderOrFollower))],
        };
        assert_eq!(response.correlation_id(), Some(4));
        assert_eq!(
            response.fields(),
            "partition 0 (batches [], highWatermark 3), partition 2 (errorCode NOT_LEADER_OR_FOLLOWER)"
        );
    }
}
