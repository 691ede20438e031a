//! The transaction coordinator's side of WriteTxnMarkers on the wire: Kafka's `TransactionMarkerChannelManager`
//! with its `InterBrokerSendThread` over a `NetworkClient`, one connection per destination broker.
//!
//! What it carries over from Kafka is how a marker request ends. A request is answered on the connection it
//! went out on; when one waits past the request timeout, `NetworkClient.handleTimedOutRequests` closes that
//! connection, and every request still in flight on it completes as disconnected: its answer, should one still
//! come, is never delivered, and its markers go back to the broker queue (`addTxnMarkersToBrokerQueue`) to be
//! sent on a new connection. The request itself may still reach the partition leader after the retry: the
//! leader's marker epoch checks (KIP-890, KAFKA-19446) are what keep it from ending a later transaction.
//! A transaction-log partition that moves away takes its markers with it
//! (`removeMarkersForTxnTopicPartition`); the coordinator that loads it resends them.

use crate::protocol::PartitionId;
use eosim_sim::NodeId;
use std::collections::BTreeMap;

/// A WriteTxnMarkers request in flight, for one transaction's marker on one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlightMarker {
    /// The transaction-log partition of the transaction.
    pub log: PartitionId,
    /// The coordinator epoch it was sent under.
    pub coordinator_epoch: u32,
    /// The transaction.
    pub transactional_id: String,
    /// The partition the marker is for.
    pub partition: PartitionId,
    /// The partition leader it was sent to: the connection it travels on.
    pub destination: NodeId,
    /// When it was sent.
    pub sent_ns: u64,
}

/// Every marker request this broker's transaction coordinator has in flight, by request id.
#[derive(Clone, Debug, Default)]
pub struct TxnMarkerChannel {
    in_flight: BTreeMap<u64, InFlightMarker>,
}

impl TxnMarkerChannel {
    /// No request in flight.
    pub fn new() -> TxnMarkerChannel {
        TxnMarkerChannel::default()
    }

    /// Requests in flight.
    pub fn len(&self) -> usize {
        self.in_flight.len()
    }

    /// True if nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// A marker request went out as `request_id`.
    pub fn sent(&mut self, request_id: u64, marker: InFlightMarker) {
        let earlier = self.in_flight.insert(request_id, marker);
        assert!(earlier.is_none(), "request ids are never reused");
    }

    /// An answer arrived: the request it answers, or None if that request's connection was closed (the
    /// answer is never delivered, as on a closed Kafka connection).
    pub fn answered(&mut self, request_id: u64) -> Option<InFlightMarker> {
        self.in_flight.remove(&request_id)
    }

    /// Closes the connection to every destination with a request older than `request_timeout_ns`; returns
    /// every request that was in flight on them, each to be completed as disconnected.
    pub fn disconnect_timed_out(&mut self, now_ns: u64, request_timeout_ns: u64) -> Vec<InFlightMarker> {
        let mut closed: Vec<NodeId> = self
            .in_flight
            .values()
            .filter(|marker| now_ns.saturating_sub(marker.sent_ns) >= request_timeout_ns)
            .map(|marker| marker.destination)
            .collect();
        closed.sort();
        closed.dedup();
        let ids: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, marker)| closed.contains(&marker.destination))
            .map(|(id, _)| *id)
            .collect();
        let disconnected: Vec<InFlightMarker> =
            ids.iter().map(|id| self.in_flight.remove(id).expect("listed above")).collect();
        assert!(self.in_flight.values().all(|marker| !closed.contains(&marker.destination)));
        disconnected
    }

    /// `removeMarkersForTxnTopicPartition`: this broker no longer coordinates `log` (or coordinates it in a
    /// new epoch), so no answer to a marker of it may complete anything; returns how many were dropped.
    pub fn remove_markers_for_txn_topic_partition(&mut self, log: PartitionId) -> usize {
        let before = self.in_flight.len();
        self.in_flight.retain(|_, marker| marker.log != log);
        assert!(self.in_flight.values().all(|marker| marker.log != log));
        before - self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const TIMEOUT_NS: u64 = 30 * MS;

    fn marker(log: u32, partition: u32, destination: u32, sent_ns: u64) -> InFlightMarker {
        InFlightMarker {
            log: PartitionId(log),
            coordinator_epoch: 0,
            transactional_id: format!("writer-{partition}"),
            partition: PartitionId(partition),
            destination: NodeId(destination),
            sent_ns,
        }
    }

    #[test]
    fn handle_timed_out_requests_closes_the_connection_and_fails_every_request_on_it() {
        let mut channel = TxnMarkerChannel::new();
        channel.sent(1, marker(10, 0, 1, 0));
        channel.sent(2, marker(10, 1, 1, 20 * MS));
        channel.sent(3, marker(10, 2, 2, 0));
        assert_eq!(channel.disconnect_timed_out(29 * MS, TIMEOUT_NS), Vec::new(), "nothing 30 ms old yet");
        // Request 1 timed out at 30 ms: broker 1's connection closes, taking request 2 (sent at 20 ms) with it;
        // request 3 to broker 2 timed out as well. Every one of them completes as disconnected.
        let disconnected = channel.disconnect_timed_out(30 * MS, TIMEOUT_NS);
        assert_eq!(disconnected, vec![marker(10, 0, 1, 0), marker(10, 1, 1, 20 * MS), marker(10, 2, 2, 0)]);
        assert!(channel.is_empty());
        // A late answer on a closed connection is never delivered.
        assert_eq!(channel.answered(1), None);
    }

    #[test]
    fn handle_timed_out_requests_leaves_other_connections_open() {
        let mut channel = TxnMarkerChannel::new();
        channel.sent(1, marker(10, 0, 1, 0));
        channel.sent(2, marker(10, 1, 2, 10 * MS));
        assert_eq!(channel.disconnect_timed_out(30 * MS, TIMEOUT_NS), vec![marker(10, 0, 1, 0)]);
        assert_eq!(channel.len(), 1);
        assert_eq!(channel.answered(2), Some(marker(10, 1, 2, 10 * MS)), "broker 2's answer still counts");
    }

    #[test]
    fn remove_markers_for_txn_topic_partition_drops_only_that_logs_markers() {
        let mut channel = TxnMarkerChannel::new();
        channel.sent(1, marker(10, 0, 1, 0));
        channel.sent(2, marker(11, 1, 1, 0));
        channel.sent(3, marker(10, 2, 2, 0));
        assert_eq!(channel.remove_markers_for_txn_topic_partition(PartitionId(10)), 2);
        assert_eq!(channel.answered(1), None, "an answer for the moved log is ignored");
        assert_eq!(channel.answered(3), None);
        assert_eq!(channel.answered(2), Some(marker(11, 1, 1, 0)));
        assert_eq!(channel.remove_markers_for_txn_topic_partition(PartitionId(10)), 0);
    }
}
