//! The delivery guarantees a system can claim, and which anomalies each one forbids.
//!
//! An anomaly is a fact about a history; whether it is a bug depends on the claim. A duplicate is what
//! at-least-once delivery trades for never losing a write, and a loss is what at-most-once trades for never
//! duplicating one. [`Guarantee::forbids`] holds the whole table, in one `match`.

use serde::{Deserialize, Serialize};

use crate::AnomalyKind;

/// A delivery guarantee claimed by a protocol variant (docs/history-format.md).
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

    /// Whether a history showing `kind` breaks this guarantee. The single table of what each claim allows, with a
    /// reason for every allowed entry; everything not allowed is forbidden.
    ///
    /// Compared with Jepsen's `allowed-error-types` (jepsen/tests/kafka.clj), whose claim is kafka-eos:
    /// - Jepsen always allows `int-send-skip`; so do we, under every claim.
    /// - Jepsen allows `poll-skip` and `nonmonotonic-poll` whenever the test subscribes (rebalances may move a
    ///   consumer between operations). We forbid them, because the walk that finds them forgets a process's
    ///   position whenever a reassignment could legitimately move it: an `assign`/`subscribe` that drops the key,
    ///   an info poll, or a rebalance during an operation (Jepsen's `:rebalance-log`). What is left is a consumer
    ///   that moved although nothing allowed it to.
    /// - Jepsen counts `unseen` as an error (its final polls are meant to read everything); we keep it
    ///   informational, because only a poll marked final proves a write should have been read, and then an unread
    ///   acknowledged write is reported as `lost-write` instead.
    /// - The cycle anomalies (G0, G1c-wr, G1c, G-single, G-nonadjacent, G2-item and their `-process` and `-realtime`
    ///   forms) are found by the cycle search (`cycles/`) and judged here like the rest. Jepsen's Kafka test asks
    ///   Elle for strict serializability; no Kafka claim includes it, so only `serializable` forbids most cycles,
    ///   and only those of data dependencies, as Elle's `serializable` model does. G1c-wr (wr edges alone, Jepsen's
    ///   G1c without `:ww-deps`) is forbidden by kafka-eos too, in every form: read_committed rules it out.
    /// - `nonlinearizable-log` (`--linearizable`) is forbidden wherever duplicates are.
    pub fn forbids(self, kind: AnomalyKind) -> bool {
        use AnomalyKind as A;
        use Guarantee as G;
        match (self, kind) {
            // Unseen values may only be late: no claim promises when a consumer catches up.
            (_, A::Unseen) => false,
            // Kafka never promises that one operation's records to a partition are contiguous: other producers and
            // other transactions interleave freely (Jepsen: "normal behavior").
            (_, A::IntSendSkip) => false,
            // At most once gives up on retries, so an acknowledged record may be lost (acks=0, acks=1 leader loss);
            // a store write that was not retried is lost the same way.
            (G::AtMostOnce, A::LostWrite | A::SinkLostWrite) => false,
            // Without sequence numbers, a record the broker ordered by arrival may land after a later one's retry,
            // across operations and inside one batch alike.
            (G::AtMostOnce | G::AtLeastOnce, A::NonmonotonicSend | A::IntNonmonotonicSend) => false,
            // At least once retries a send whose ack was lost, so the broker may append the record twice; a store
            // write retried after an abort is applied twice the same way.
            (G::AtLeastOnce, A::Duplicate | A::SinkDuplicate) => false,
            // An at-most-once pipeline commits its input offsets before it sends the outputs, so a crash in between
            // drops the input for good.
            (G::AtMostOnce, A::TransformLost) => false,
            // An at-least-once pipeline commits its input offsets only after its outputs are acknowledged, so a crash
            // in between makes it read the input again and transform it again.
            (G::AtLeastOnce, A::TransformDuplicate) => false,
            // The idempotent producer removes retries of one record within one producer session, but a pipeline
            // that reads an input again (after a crash or a rebalance, its offsets not committed yet) sends new
            // records; only a transaction committing the offsets with the outputs stops that (Kafka's own docs:
            // exactly-once consume-transform-produce needs transactions).
            (G::Idempotent, A::TransformDuplicate) => false,
            // Without transactions an acknowledged record is visible at once, so an operation that sends and then
            // polls may read its own record back; only a transaction hides its records until it commits.
            (G::AtMostOnce | G::AtLeastOnce | G::Idempotent, A::PrecommittedRead) => false,
            // Without transactions each send is visible once acknowledged and an operation's sends and polls are not
            // atomic, so two operations may each read what the other sent while both run: a cycle of wr edges
            // alone. Only read_committed isolation (kafka-eos) rules that out.
            (G::AtMostOnce | G::AtLeastOnce | G::Idempotent, A::G1cWr | A::G1cWrProcess | A::G1cWrRealtime) => false,
            // Retries without sequence numbers may append a record twice or out of order, which no log that
            // appends each send once, in real-time order, explains; those claims allow both.
            (G::AtMostOnce | G::AtLeastOnce, A::NonlinearizableLog) => false,
            // Kafka does not claim serializability: a transaction's records interleave with another's in a
            // partition (a G0), and a read_committed consumer may see one partition of a transaction before another
            // (a G-single), so every dependency cycle is outside these claims.
            (
                G::AtMostOnce | G::AtLeastOnce | G::Idempotent | G::KafkaEos,
                A::G0
                | A::G0Process
                | A::G0Realtime
                | A::G1c
                | A::G1cProcess
                | A::G1cRealtime
                | A::GSingle
                | A::GSingleProcess
                | A::GSingleRealtime
                | A::GNonadjacent
                | A::GNonadjacentProcess
                | A::GNonadjacentRealtime
                | A::G2Item
                | A::G2ItemProcess
                | A::G2ItemRealtime,
            ) => false,
            // Serializability promises some serial order, not one that agrees with each process's order or with real
            // time (those are strong session serializability and strict serializability): a consumer that lags
            // behind acknowledged records makes such cycles without breaking it. G1c-wr with a process or realtime
            // edge is the exception, forbidden above and below: under read_committed each operation's commit point
            // lies inside its interval and after the commits it read, so wr, process and realtime edges all go
            // forward in commit order and no cycle of them can close (a poll that read a value whose only send began
            // after the poll returned, a read from the future, is the smallest such cycle).
            (
                G::Serializable,
                A::G0Process
                | A::G0Realtime
                | A::G1cProcess
                | A::G1cRealtime
                | A::GSingleProcess
                | A::GSingleRealtime
                | A::GNonadjacentProcess
                | A::GNonadjacentRealtime
                | A::G2ItemProcess
                | A::G2ItemRealtime,
            ) => false,
            (
                _,
                A::LostWrite
                | A::Duplicate
                | A::InconsistentOffsets
                | A::NonmonotonicPoll
                | A::PollSkip
                | A::IntNonmonotonicPoll
                | A::IntPollSkip
                | A::NonmonotonicSend
                | A::IntNonmonotonicSend
                | A::G1a
                | A::PrecommittedRead
                | A::SinkLostWrite
                | A::SinkDuplicate
                | A::TransformLost
                | A::TransformDuplicate
                | A::G0
                | A::G1cWr
                | A::G1cWrProcess
                | A::G1cWrRealtime
                | A::G1c
                | A::GSingle
                | A::GNonadjacent
                | A::G2Item
                | A::NonlinearizableLog,
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
        // The cycle kinds are checked apart, below.
        let cycle = |k: AnomalyKind| crate::cycles::kinds().any(|c| c == k);
        let allowed = |g: Guarantee| -> Vec<AnomalyKind> {
            A::ALL.iter().copied().filter(|&k| !g.forbids(k) && !cycle(k)).collect()
        };
        assert_eq!(
            allowed(Guarantee::AtMostOnce),
            vec![
                A::LostWrite,
                A::NonmonotonicSend,
                A::IntNonmonotonicSend,
                A::IntSendSkip,
                A::PrecommittedRead,
                A::SinkLostWrite,
                A::TransformLost,
                A::Unseen,
                A::NonlinearizableLog
            ]
        );
        assert_eq!(
            allowed(Guarantee::AtLeastOnce),
            vec![
                A::Duplicate,
                A::NonmonotonicSend,
                A::IntNonmonotonicSend,
                A::IntSendSkip,
                A::PrecommittedRead,
                A::SinkDuplicate,
                A::TransformDuplicate,
                A::Unseen,
                A::NonlinearizableLog
            ]
        );
        assert_eq!(
            allowed(Guarantee::Idempotent),
            vec![A::IntSendSkip, A::PrecommittedRead, A::TransformDuplicate, A::Unseen]
        );
        for g in [Guarantee::KafkaEos, Guarantee::Serializable] {
            assert_eq!(allowed(g), vec![A::IntSendSkip, A::Unseen]);
        }
        // Every cycle is allowed but G1c-wr under kafka-eos, and under serializable those of data dependencies
        // alone and every G1c-wr.
        let wr = [A::G1cWr, A::G1cWrProcess, A::G1cWrRealtime];
        for &g in Guarantee::ALL {
            let forbidden: Vec<AnomalyKind> = crate::cycles::kinds().filter(|&k| g.forbids(k)).collect();
            let expected = match g {
                Guarantee::Serializable => {
                    vec![
                        A::G0,
                        A::G1cWr,
                        A::G1cWrProcess,
                        A::G1cWrRealtime,
                        A::G1c,
                        A::GSingle,
                        A::GNonadjacent,
                        A::G2Item,
                    ]
                }
                Guarantee::KafkaEos => wr.to_vec(),
                _ => vec![],
            };
            assert_eq!(forbidden, expected, "{}", g.name());
        }
    }

    #[test]
    fn kafka_eos_forbids_what_the_issue_lists() {
        use AnomalyKind as A;
        for kind in [
            A::G1a,
            A::LostWrite,
            A::Duplicate,
            A::InconsistentOffsets,
            A::PollSkip,
            A::NonmonotonicPoll,
            A::IntPollSkip,
            A::IntNonmonotonicPoll,
            A::PrecommittedRead,
            A::NonmonotonicSend,
            A::IntNonmonotonicSend,
            A::TransformLost,
            A::TransformDuplicate,
        ] {
            assert!(Guarantee::KafkaEos.forbids(kind), "{}", kind.name());
        }
        assert!(!Guarantee::KafkaEos.forbids(A::IntSendSkip));
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
