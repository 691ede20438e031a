//! Kafka implementation bugs the model can put back, each a switch named after its JIRA id and off by default.
//!
//! A switch re-introduces the faulty code path as the Kafka releases before the fix had it; it never injects an
//! anomaly by itself: a campaign still has to find the bug through faults, the model and the checker. A
//! scenario turns switches on with a top-level `kafka_bugs = ["KAFKA-19446"]`.

use serde::{Deserialize, Serialize};

/// A Kafka bug the model can re-introduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KafkaBug {
    /// Kafka 0.11.0 before its first release candidate: `TransactionStateManager.appendTransactionToLog` left
    /// the transaction's `pendingState` set when the append failed (NOT_ENOUGH_REPLICAS, a leader change), so
    /// every later request for the id was CONCURRENT_TRANSACTIONS until the coordinator moved. Fixed by
    /// resetting the pending state on the error path (KAFKA-5351, PR #3184, commit 049abe7efa).
    #[serde(rename = "KAFKA-5351")]
    Kafka5351,
    /// Kafka 0.11.0.0–0.11.0.1: `TransactionCoordinator.abortTimedOutTransactions` aborted a timed-out transaction
    /// at the producer's own epoch, so the producer, still at that epoch, could go on adding partitions and
    /// commit the rest of a transaction whose first part was aborted. Fixed by fencing the epoch first
    /// (PrepareEpochFence, KAFKA-6119, PR #4137, commit def1a768a6; Kafka 0.11.0.2 / 1.0.0).
    #[serde(rename = "KAFKA-6119")]
    Kafka6119,
    /// Kafka 0.11.0–2.0.0: when the tombstone (Dead) of an expired transactional id failed to reach the
    /// transaction log, `TransactionStateManager.removeExpiredTransactionalIds` left its `pendingState` at Dead,
    /// so every later request for the id was CONCURRENT_TRANSACTIONS until the coordinator moved. Fixed by
    /// clearing the pending state on the error (KAFKA-7519, PR #5820, commit 71eb76630e; Kafka 2.0.1 / 2.1.0).
    #[serde(rename = "KAFKA-7519")]
    Kafka7519,
    /// Producer expiry before KAFKA-9144 (Kafka 0.11–2.4.0): `ProducerStateManager.isProducerExpired` measures
    /// idleness from the last data batch only, markers do not count, and a producer whose epoch a marker bumped
    /// has no timestamp, so a producer fenced by its coordinator's timeout abort is forgotten at the next
    /// check. Fixed by tracking the markers' timestamp (PR #7687, Kafka 2.4.1 and 2.5.0).
    #[serde(rename = "KAFKA-9144")]
    Kafka9144,
    /// A record `KafkaProducer.doSend` fails before it reaches the accumulator (RecordTooLargeException, or
    /// BufferExhaustedException after `max.block.ms`) is reported only to its callback and future: the
    /// transaction stays committable, so `commitTransaction` succeeds without the record (Kafka 0.11–3.1).
    /// Fixed in 3.2.0 by calling `TransactionManager.maybeTransitionToErrorState` from the `ApiException`
    /// handler of `doSend` (KAFKA-9279, PR #11508, commit 000ba031c3d).
    #[serde(rename = "KAFKA-9279")]
    Kafka9279,
    /// Kafka 0.11.0–2.5.x: when the abort that follows a fence (`prepareFenceProducerEpoch`) failed to reach the
    /// transaction log, the bumped epoch stayed in memory and the next fence (a timeout, an InitProducerId)
    /// bumped it again; an unavailable log exhausts the epoch, and at Short.MaxValue the fence throws, so the
    /// transaction can never be aborted. Fixed by remembering the failed fence (`hasFailedEpochFence`) and not
    /// bumping again (KAFKA-9666, PR #8239, commit 1f3f227b59; Kafka 2.6.0).
    #[serde(rename = "KAFKA-9666")]
    Kafka9666,
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
    /// KIP-890 part 1 verification as first merged (KAFKA-14402, Kafka 3.6 development before PR #13787): the
    /// partition leader appends a verified transactional write on the coordinator's answer without checking
    /// that the transaction is still ongoing, so an ABORT marker written while the verification was in flight
    /// lets the write open a transaction the coordinator does not know. Fixed by the VerificationGuard
    /// (KAFKA-14884, `UnifiedLog.maybeStartTransactionVerification`, Kafka 3.6.0).
    #[serde(rename = "KAFKA-14884")]
    Kafka14884,
    /// After an abortable error the application aborts and goes on with the same consumer and no rebalance,
    /// but does not seek back to the committed offsets: `abortTransaction` leaves the consumer's position
    /// where the aborted transaction's input ended, so that input is never transformed. Kafka's answer was
    /// the application's duty to rewind (`seek` to `committed()` after an abort), now documented
    /// (KAFKA-17582).
    #[serde(rename = "KAFKA-17582")]
    Kafka17582,
    /// Transaction version 2 in Kafka 4.0.0: an InitProducerId or a timeout that aborts an open transaction
    /// bumps the epoch to fence its producer (`prepareFenceProducerEpoch`) and `prepareAbortOrCommit` bumps it
    /// again; at epoch 32766 the second bump overflows the short and the abort throws, leaving the transaction
    /// open at epoch 32767, where no later fence may bump it. Fixed by not bumping a second time after a
    /// fence (KAFKA-19367, PR #19910; Kafka 4.0.1 / 4.1.0).
    #[serde(rename = "KAFKA-19367")]
    Kafka19367,
    /// Transaction version 2 as first shipped (Kafka 4.0–4.1): a marker is accepted when its epoch is at least
    /// the partition's producer epoch, as under transaction version 1, so a marker of the previous transaction
    /// that carries the bumped epoch — the epoch the next transaction writes with — ends that next transaction.
    /// Fixed by comparing the marker's epoch minus one (KAFKA-19446).
    #[serde(rename = "KAFKA-19446")]
    Kafka19446,
    /// Transaction version 2 with KAFKA-19446's marker check, before PR #21176: the strict check also refuses
    /// an idempotent retry of a marker whose first copy already landed (same epoch, nothing open), so a
    /// coordinator resending it is refused with INVALID_PRODUCER_EPOCH forever and the transaction hangs in
    /// Prepare*. Fixed by accepting that retry in `ProducerStateManager.checkProducerEpoch` (KAFKA-19999,
    /// PR #21176).
    #[serde(rename = "KAFKA-19999")]
    Kafka19999,
}

impl KafkaBug {
    /// The JIRA id.
    pub fn id(self) -> &'static str {
        match self {
            KafkaBug::Kafka5351 => "KAFKA-5351",
            KafkaBug::Kafka6119 => "KAFKA-6119",
            KafkaBug::Kafka7519 => "KAFKA-7519",
            KafkaBug::Kafka9144 => "KAFKA-9144",
            KafkaBug::Kafka9279 => "KAFKA-9279",
            KafkaBug::Kafka9666 => "KAFKA-9666",
            KafkaBug::Kafka13574 => "KAFKA-13574",
            KafkaBug::Kafka14053 => "KAFKA-14053",
            KafkaBug::Kafka14884 => "KAFKA-14884",
            KafkaBug::Kafka17582 => "KAFKA-17582",
            KafkaBug::Kafka19367 => "KAFKA-19367",
            KafkaBug::Kafka19446 => "KAFKA-19446",
            KafkaBug::Kafka19999 => "KAFKA-19999",
        }
    }
}
