//! Kafka implementation bugs the model can put back, each a switch named after its JIRA id and off by default.
//!
//! A switch re-introduces the faulty code path as the Kafka releases before the fix had it; it never injects an
//! anomaly by itself: a campaign still has to find the bug through faults, the model and the checker. A
//! scenario turns switches on with a top-level `kafka_bugs = ["KAFKA-19446"]`.

use serde::{Deserialize, Serialize};

/// A Kafka bug the model can re-introduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KafkaBug {
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
            KafkaBug::Kafka19446 => "KAFKA-19446",
        }
    }
}
