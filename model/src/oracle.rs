//! The run's record of which outcome the coordinators sent markers for, per transaction: an oracle the harness
//! keeps beside the simulated cluster, never read by a broker or a client.
//!
//! A transaction, once PrepareCommit or PrepareAbort is durable, has one outcome, whichever coordinator
//! completes it. Two coordinators that send opposite markers for one transaction tear it: the read_committed
//! consumers of some partitions see it, those of others never do. Kafka has one known way there
//! (docs/findings.md, "A new transaction coordinator acts on a PrepareCommit its followers never copied"): a
//! coordinator loads its transaction-log partition to the log end (`TransactionStateManager`'s
//! `loadTransactionMetadata` reads with `FetchIsolation.LOG_END`), sends the markers of a Prepare entry above
//! the high watermark, and the leader after it, without that entry, decides the other way. This record tells
//! that flaw's runs from any other torn transaction, so that a gate can name it instead of reporting a new
//! finding.

use std::collections::{BTreeMap, BTreeSet};

use crate::protocol::ControlMarker;

/// One transaction, the same for every coordinator that loads it: its transactional id and when it began.
type TxnKey = (String, u64);

/// What opposite markers for one transaction tell about how it was torn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitOutcome {
    /// A coordinator had loaded the transaction's Prepare entry from above its high watermark and acted on it:
    /// the known flaw.
    UnreplicatedLoad,
    /// No coordinator acted on an unreplicated Prepare entry of it: something else decided it both ways.
    Other,
}

/// Per transaction, the marker the coordinators sent first and whether a coordinator acted on a Prepare entry
/// of it loaded from above the high watermark.
#[derive(Clone, Debug, Default)]
pub struct TxnOutcomes {
    sent: BTreeMap<TxnKey, ControlMarker>,
    unreplicated_loads: BTreeSet<TxnKey>,
}

impl TxnOutcomes {
    /// A coordinator loaded a PrepareCommit or PrepareAbort of this transaction from above its partition's high
    /// watermark, and will send its markers.
    pub fn loaded_unreplicated(&mut self, transactional_id: &str, txn_start_ns: u64) {
        self.unreplicated_loads.insert((transactional_id.to_string(), txn_start_ns));
    }

    /// A coordinator sends `marker` for this transaction; how it was torn if an earlier marker said otherwise.
    pub fn marker_sent(
        &mut self,
        transactional_id: &str,
        txn_start_ns: u64,
        marker: ControlMarker,
    ) -> Option<SplitOutcome> {
        let key = (transactional_id.to_string(), txn_start_ns);
        let first = *self.sent.entry(key.clone()).or_insert(marker);
        (first != marker).then(|| match self.unreplicated_loads.contains(&key) {
            true => SplitOutcome::UnreplicatedLoad,
            false => SplitOutcome::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_of_one_outcome_never_split() {
        let mut outcomes = TxnOutcomes::default();
        assert_eq!(outcomes.marker_sent("t", 5, ControlMarker::Commit), None);
        assert_eq!(outcomes.marker_sent("t", 5, ControlMarker::Commit), None, "a resent marker");
        // The next transaction of the same id (transaction version 1 keeps its epoch) aborts: another key.
        assert_eq!(outcomes.marker_sent("t", 9, ControlMarker::Abort), None);
    }

    #[test]
    fn opposite_markers_split_and_say_whether_an_unreplicated_load_acted() {
        let mut outcomes = TxnOutcomes::default();
        outcomes.loaded_unreplicated("a", 1);
        assert_eq!(outcomes.marker_sent("a", 1, ControlMarker::Commit), None);
        assert_eq!(outcomes.marker_sent("a", 1, ControlMarker::Abort), Some(SplitOutcome::UnreplicatedLoad));
        assert_eq!(outcomes.marker_sent("b", 1, ControlMarker::Abort), None);
        assert_eq!(outcomes.marker_sent("b", 1, ControlMarker::Commit), Some(SplitOutcome::Other));
    }
}
