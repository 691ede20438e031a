//! Whose verdict rules a check follows: eosim's own (the default), or Jepsen's Kafka checker's, for people who
//! compare the two (`eosim check --compat jepsen`).
//!
//! The anomalies are the same; the rules differ in a few places, each written down with its reason in
//! docs/checks/README.md ("Differences from Jepsen"):
//! - Which kinds make a history invalid: eosim judges each kind against the claimed [`Guarantee`](crate::Guarantee)
//!   ([`Guarantee::forbids`](crate::Guarantee::forbids)); Jepsen has one list, `allowed-error-types`, for Kafka's
//!   claim ([`Rules::Jepsen`] reproduces it in [`jepsen_forbids`]).
//! - A process's send order: eosim pairs each ok send with the process's previous ok send to the key, whatever the
//!   consumer was assigned in between; Jepsen also pairs `info` sends, and forgets the order when an `assign` or
//!   `subscribe` drops the key.
//! - After an `info` poll: eosim forgets where the consumer stood (the operation may have committed its position);
//!   Jepsen keeps the position of the last `ok` poll.
//! - A history with nothing to check: a warning under eosim's rules, invalid under Jepsen's.

use serde::{Deserialize, Serialize};

use crate::AnomalyKind;

/// Whose verdict rules to follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Rules {
    /// eosim's: each anomaly judged against the claimed guarantee.
    #[default]
    #[serde(rename = "eosim")]
    Eosim,
    /// Jepsen's Kafka checker's (jepsen/tests/kafka.clj), without `:ww-deps`.
    #[serde(rename = "jepsen")]
    Jepsen,
}

impl Rules {
    /// The name on the command line: "eosim" or "jepsen".
    pub fn name(self) -> &'static str {
        match self {
            Rules::Eosim => "eosim",
            Rules::Jepsen => "jepsen",
        }
    }

    /// The rules named `s`.
    pub fn from_name(s: &str) -> Option<Rules> {
        [Rules::Eosim, Rules::Jepsen].into_iter().find(|r| r.name() == s)
    }
}

/// Whether Jepsen's Kafka checker counts `kind` as an error: everything but its `allowed-error-types`.
///
/// Jepsen always allows `int-send-skip` and G0 (writes are never isolated). Without `:ww-deps` its graph has no ww
/// edges, so every G1c it finds is of wr edges alone and counts ([`AnomalyKind::G1cWr`] and its forms); the G1c,
/// G-single, G-nonadjacent and G2-item cycles that need eosim's ww or rw edges are ones Jepsen's graph cannot show,
/// so they do not count. With `subscribe` in the history (Jepsen's `:sub-via #{:subscribe}`), `poll-skip` and
/// `nonmonotonic-poll` are allowed too. `unseen` counts, and so does a history with nothing to check.
pub fn jepsen_forbids(kind: AnomalyKind, subscribes: bool) -> bool {
    use AnomalyKind as A;
    match kind {
        A::IntSendSkip | A::G0 | A::G0Process | A::G0Realtime => false,
        A::G1c | A::G1cProcess | A::G1cRealtime => false,
        A::GSingle | A::GSingleProcess | A::GSingleRealtime => false,
        A::GNonadjacent | A::GNonadjacentProcess | A::GNonadjacentRealtime => false,
        A::G2Item | A::G2ItemProcess | A::G2ItemRealtime => false,
        A::PollSkip | A::NonmonotonicPoll => !subscribes,
        _ => true,
    }
}
