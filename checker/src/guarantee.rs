//! The delivery guarantees a system can claim, and which anomalies each one forbids.
//!
//! An anomaly is a fact about a history; whether it is a bug depends on the claim. A duplicate is what
//! at-least-once delivery trades for never losing a write, and a loss is what at-most-once trades for never
//! duplicating one. [`Guarantee::forbids`] holds the whole table, in one `match`.

use serde::{Deserialize, Serialize};

use crate::AnomalyKind;

/// A delivery guarantee claimed by a protocol variant (design.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Guarantee {
    /// Each record is delivered at most once: losses allowed, duplicates not.
    #[serde(rename = "at-most-once")]
    AtMostOnce,
    /// Each record is delivered at least once: duplicates allowed, losses not.
    #[serde(rename = "at-least-once")]
    AtLeastOnce,
    /// The idempotent producer: exactly once per partition, in send order.
    #[serde(rename = "idempotent")]
    Idempotent,
    /// Kafka's transactions (KIP-98, KIP-447, KIP-890): exactly once, read_committed.
    #[serde(rename = "kafka-eos")]
    KafkaEos,
    /// Kafka's exactly-once plus serializable transactions (a stronger claim than Kafka makes).
    #[serde(rename = "serializable")]
    Serializable,
}

impl Guarantee {
    /// Every guarantee, weakest first.
    pub const ALL: &'static [Guarantee] = &[
        Guarantee::AtMostOnce,
        Guarantee::AtLeastOnce,
        Guarantee::Idempotent,
        Guarantee::KafkaEos,
        Guarantee::Serializable,
    ];

    /// The name used on the command line and in reports, e.g. "kafka-eos".
    pub fn name(self) -> &'static str {
        match self {
            Guarantee::AtMostOnce => "at-most-once",
            Guarantee::AtLeastOnce => "at-least-once",
            Guarantee::Idempotent => "idempotent",
            Guarantee::KafkaEos => "kafka-eos",
            Guarantee::Serializable => "serializable",
        }
    }

    /// The guarantee named `s` (exactly as [`Guarantee::name`] spells it).
    pub fn from_name(s: &str) -> Option<Guarantee> {
        Guarantee::ALL.iter().copied().find(|g| g.name() == s)
    }

    /// Whether a history showing `kind` breaks this guarantee. The single table of what each claim allows.
    pub fn forbids(self, kind: AnomalyKind) -> bool {
        use AnomalyKind as A;
        use Guarantee as G;
        match (self, kind) {
            // Unseen values may only be late: no claim promises when a consumer catches up.
            (_, A::Unseen) => false,
            // At most once gives up on retries, so an acknowledged record may be lost (acks=0, acks=1 leader loss).
            (G::AtMostOnce, A::LostWrite) => false,
            // Without sequence numbers, a record the broker ordered by arrival may land after a later one's retry.
            (G::AtMostOnce | G::AtLeastOnce, A::NonmonotonicSend) => false,
            // At least once retries a send whose ack was lost, so the broker may append the record twice.
            (G::AtLeastOnce, A::Duplicate) => false,
            (
                _,
                A::LostWrite
                | A::Duplicate
                | A::InconsistentOffsets
                | A::NonmonotonicPoll
                | A::PollSkip
                | A::NonmonotonicSend
                | A::G1a,
            ) => true,
        }
    }

    /// One line saying what the guarantee promises.
    pub fn description(self) -> &'static str {
        match self {
            Guarantee::AtMostOnce => "every record is delivered at most once; acknowledged records may be lost",
            Guarantee::AtLeastOnce => {
                "every acknowledged record is delivered at least once; retries may duplicate or reorder records"
            }
            Guarantee::Idempotent => {
                "every acknowledged record is in its partition exactly once, in each producer's send order"
            }
            Guarantee::KafkaEos => {
                "Kafka exactly-once: idempotent sends, atomic transactions, read_committed consumers see no aborted record"
            }
            Guarantee::Serializable => "Kafka exactly-once, and transactions also claim to be serializable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_the_design() {
        use AnomalyKind as A;
        let allowed =
            |g: Guarantee| -> Vec<AnomalyKind> { A::ALL.iter().copied().filter(|&k| !g.forbids(k)).collect() };
        assert_eq!(allowed(Guarantee::AtMostOnce), vec![A::LostWrite, A::NonmonotonicSend, A::Unseen]);
        assert_eq!(allowed(Guarantee::AtLeastOnce), vec![A::Duplicate, A::NonmonotonicSend, A::Unseen]);
        for g in [Guarantee::Idempotent, Guarantee::KafkaEos, Guarantee::Serializable] {
            assert_eq!(allowed(g), vec![A::Unseen]);
        }
    }

    #[test]
    fn names_round_trip_and_match_serde() {
        for &g in Guarantee::ALL {
            assert_eq!(Guarantee::from_name(g.name()), Some(g));
            assert_eq!(serde_json::to_string(&g).ok(), Some(format!("\"{}\"", g.name())));
            assert!(!g.description().is_empty());
        }
        assert_eq!(Guarantee::from_name("eos"), None);
    }
}
