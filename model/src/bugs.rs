//! Kafka implementation bugs the model can put back, each a switch named after its JIRA id and off by default.
//!
//! A switch re-introduces the faulty code path as the Kafka releases before the fix had it; it never injects an
//! anomaly by itself: a campaign still has to find the bug through faults, the model and the checker. A
//! scenario turns switches on with a top-level `kafka_bugs = ["KAFKA-19446"]`.

use serde::{Deserialize, Serialize};

/// A Kafka bug the model can re-introduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KafkaBug {
    /// A record `KafkaProducer.doSend` fails before it reaches the accumulator (RecordTooLargeException, or
    /// BufferExhaustedException after `max.block.ms`) is reported only to its callback and future: the
    /// transaction stays committable, so `commitTransaction` succeeds without the record (Kafka 0.11–3.1).
    /// Fixed in 3.2.0 by calling `TransactionManager.maybeTransitionToErrorState` from the `ApiException`
    /// handler of `doSend` (KAFKA-9279, PR #11508, commit 000ba031c3d).
    #[serde(rename = "KAFKA-9279")]
    Kafka9279,
    /// A non-idempotent producer that gives up on a batch whose last answer was NOT_LEADER_OR_FOLLOWER reports
    /// a definite failure, as the error's own words say ("this error indicates that the broker is not the
    /// current leader"), although a leader that stepped down while the batch waited for acks=all replication
    /// may have left it to be committed by the next leader: the record is in the log yet its send failed.
    /// Kafka's answer: the error is retriable, so the outcome is unknown (KAFKA-13574).
    #[serde(rename = "KAFKA-13574")]
    Kafka13574,
    /// A transactional batch that `delivery.timeout.ms` expires on its first attempt, still in flight, while
    /// the transaction is completing (`Sender.getExpiredInflightBatches`, then `failBatch` without adjusting
    /// sequences) makes the transaction abortable without an epoch bump: `maybeTransitionToErrorState` sets
    /// `epochBumpRequired` only when not `isCompleting()`, and a first-attempt batch is never marked
    /// unresolved. The abort and the next transaction keep the epoch, so the late batch, landing after the
    /// abort marker, joins the next transaction. A direct fix (fence with an epoch bump instead of aborting,
    /// PR #12392) was not merged; transaction version 2 (KIP-890, Kafka 4.0) closes it by bumping the epoch
    /// at every EndTxn (KAFKA-14053).
    #[serde(rename = "KAFKA-14053")]
    Kafka14053,
    /// After an abortable error the application aborts and goes on with the same consumer and no rebalance,
    /// but does not seek back to the committed offsets: `abortTransaction` leaves the consumer's position
    /// where the aborted transaction's input ended, so that input is never transformed. Kafka's answer was
    /// the application's duty to rewind (`seek` to `committed()` after an abort), now documented
    /// (KAFKA-17582).
    #[serde(rename = "KAFKA-17582")]
    Kafka17582,
    /// Transaction version 2 as first shipped (Kafka 4.0–4.1): a marker is accepted when its epoch is at least
    /// the partition's producer epoch, as under transaction version 1, so a marker of the previous transaction
    /// that carries the bumped epoch — the epoch the next transaction writes with — ends that next transaction.
    /// Fixed by comparing the marker's epoch minus one (KAFKA-19446).
    #[serde(rename = "KAFKA-19446")]
    Kafka19446,
}

impl KafkaBug {
    /// The JIRA id.
    pub fn id(self) -> &'static str {
        match self {
            KafkaBug::Kafka9279 => "KAFKA-9279",
            KafkaBug::Kafka13574 => "KAFKA-13574",
            KafkaBug::Kafka14053 => "KAFKA-14053",
            KafkaBug::Kafka17582 => "KAFKA-17582",
            KafkaBug::Kafka19446 => "KAFKA-19446",
        }
    }
}
