//! The transaction coordinator's state machine for one transactional.id, with Kafka's table of legal
//! transitions (`TransactionState.validPreviousStates` in Kafka's coordinator).
//!
//! Every state change of a transaction goes through [`TxnState::check_transition`]; a transition outside the
//! table is a bug in the model (or in the protocol under test), reported as an internal error, never
//! silently taken. The table differs between protocol generations in one place: with KIP-890 (eos-tv2) a
//! client may abort "blind", so PrepareAbort may also follow Empty, CompleteCommit and CompleteAbort.
//!
//! | state | may be entered from |
//! |---|---|
//! | Empty | Empty, CompleteCommit, CompleteAbort |
//! | Ongoing | Ongoing, Empty, CompleteCommit, CompleteAbort |
//! | PrepareCommit | Ongoing |
//! | PrepareAbort | Ongoing, PrepareEpochFence (eos-tv2 also Empty, CompleteCommit, CompleteAbort) |
//! | CompleteCommit | PrepareCommit |
//! | CompleteAbort | PrepareAbort |
//! | Dead | Empty, CompleteCommit, CompleteAbort |
//! | PrepareEpochFence | Ongoing |

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// A transaction's state at the coordinator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TxnState {
    /// No transaction in progress.
    Empty,
    /// Partitions or offsets were added; the transaction is open.
    Ongoing,
    /// The commit decision is in the transaction log; markers are being written.
    PrepareCommit,
    /// The abort decision is in the transaction log; markers are being written.
    PrepareAbort,
    /// Every COMMIT marker landed.
    CompleteCommit,
    /// Every ABORT marker landed.
    CompleteAbort,
    /// The transactional.id expired and is being removed.
    Dead,
    /// A timed-out transaction: the epoch is being bumped to fence its producer before the abort.
    PrepareEpochFence,
}

impl TxnState {
    /// Every state, in a fixed order.
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    /// Kafka's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// The coverage counter of entering this state, `txn-state:<name>`: a literal, so counting it allocates
    /// nothing on the coordinator's hot path.
    pub fn state_counter(self) -> &'static str {
        match self {
            TxnState::Empty => "txn-state:Empty",
            TxnState::Ongoing => "txn-state:Ongoing",
            TxnState::PrepareCommit => "txn-state:PrepareCommit",
            TxnState::PrepareAbort => "txn-state:PrepareAbort",
            TxnState::CompleteCommit => "txn-state:CompleteCommit",
            TxnState::CompleteAbort => "txn-state:CompleteAbort",
            TxnState::Dead => "txn-state:Dead",
            TxnState::PrepareEpochFence => "txn-state:PrepareEpochFence",
        }
    }

    /// The coverage counter of a transition from `from` to `self`, `txn-transition:<from>-><to>`: a literal
    /// for every transition the table allows, built only for one it does not.
    pub fn transition_counter(self, from: TxnState) -> Cow<'static, str> {
        use TxnState::*;
        let name = match (from, self) {
            (Empty, Empty) => "txn-transition:Empty->Empty",
            (CompleteCommit, Empty) => "txn-transition:CompleteCommit->Empty",
            (CompleteAbort, Empty) => "txn-transition:CompleteAbort->Empty",
            (Ongoing, Ongoing) => "txn-transition:Ongoing->Ongoing",
            (Empty, Ongoing) => "txn-transition:Empty->Ongoing",
            (CompleteCommit, Ongoing) => "txn-transition:CompleteCommit->Ongoing",
            (CompleteAbort, Ongoing) => "txn-transition:CompleteAbort->Ongoing",
            (Ongoing, PrepareCommit) => "txn-transition:Ongoing->PrepareCommit",
            (Ongoing, PrepareAbort) => "txn-transition:Ongoing->PrepareAbort",
            (PrepareEpochFence, PrepareAbort) => "txn-transition:PrepareEpochFence->PrepareAbort",
            (Empty, PrepareAbort) => "txn-transition:Empty->PrepareAbort",
            (CompleteCommit, PrepareAbort) => "txn-transition:CompleteCommit->PrepareAbort",
            (CompleteAbort, PrepareAbort) => "txn-transition:CompleteAbort->PrepareAbort",
            (PrepareCommit, CompleteCommit) => "txn-transition:PrepareCommit->CompleteCommit",
            (PrepareAbort, CompleteAbort) => "txn-transition:PrepareAbort->CompleteAbort",
            (Empty, Dead) => "txn-transition:Empty->Dead",
            (CompleteCommit, Dead) => "txn-transition:CompleteCommit->Dead",
            (CompleteAbort, Dead) => "txn-transition:CompleteAbort->Dead",
            (Ongoing, PrepareEpochFence) => "txn-transition:Ongoing->PrepareEpochFence",
            _ => return Cow::Owned(format!("txn-transition:{}->{}", from.name(), self.name())),
        };
        Cow::Borrowed(name)
    }

    /// True if `from` may be followed by `self`; `blind_abort` is KIP-890's relaxation for PrepareAbort.
    pub fn may_follow(self, from: TxnState, blind_abort: bool) -> bool {
        use TxnState::*;
        match self {
            Empty => matches!(from, Empty | CompleteCommit | CompleteAbort),
            Ongoing => matches!(from, Ongoing | Empty | CompleteCommit | CompleteAbort),
            PrepareCommit => from == Ongoing,
            PrepareAbort => {
                matches!(from, Ongoing | PrepareEpochFence)
                    || (blind_abort && matches!(from, Empty | CompleteCommit | CompleteAbort))
            }
            CompleteCommit => from == PrepareCommit,
            CompleteAbort => from == PrepareAbort,
            Dead => matches!(from, Empty | CompleteCommit | CompleteAbort),
            PrepareEpochFence => from == Ongoing,
        }
    }

    /// `Ok(to)` if the transition is in the table, else the illegal transition as an error.
    pub fn check_transition(self, to: TxnState, blind_abort: bool) -> Result<TxnState, IllegalTransition> {
        if to.may_follow(self, blind_abort) {
            Ok(to)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }

    /// True for the states in which a transaction is open (its partitions may hold undecided records).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            TxnState::Ongoing | TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence
        )
    }
}

impl fmt::Display for TxnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A transition outside Kafka's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("illegal transaction state transition {from} -> {to}")]
pub struct IllegalTransition {
    /// The state it was in.
    pub from: TxnState,
    /// The state it was asked to enter.
    pub to: TxnState,
}

#[cfg(test)]
mod tests {
    use super::*;
    use TxnState::*;

    /// The table above as (to, from) pairs, written out once more by hand so that the `match` and the
    /// documentation are checked against each other.
    const LEGAL: &[(TxnState, TxnState)] = &[
        (Empty, Empty),
        (Empty, CompleteCommit),
        (Empty, CompleteAbort),
        (Ongoing, Ongoing),
        (Ongoing, Empty),
        (Ongoing, CompleteCommit),
        (Ongoing, CompleteAbort),
        (PrepareCommit, Ongoing),
        (PrepareAbort, Ongoing),
        (PrepareAbort, PrepareEpochFence),
        (CompleteCommit, PrepareCommit),
        (CompleteAbort, PrepareAbort),
        (Dead, Empty),
        (Dead, CompleteCommit),
        (Dead, CompleteAbort),
        (PrepareEpochFence, Ongoing),
    ];

    /// What KIP-890 adds: a client may abort with no transaction open.
    const BLIND_ABORT: &[(TxnState, TxnState)] =
        &[(PrepareAbort, Empty), (PrepareAbort, CompleteCommit), (PrepareAbort, CompleteAbort)];

    #[test]
    fn every_legal_transition_is_accepted() {
        for (to, from) in LEGAL {
            assert_eq!(from.check_transition(*to, false), Ok(*to), "{from} -> {to}");
            assert_eq!(from.check_transition(*to, true), Ok(*to), "{from} -> {to} with blind aborts");
        }
        for (to, from) in BLIND_ABORT {
            assert_eq!(from.check_transition(*to, true), Ok(*to), "{from} -> {to} with blind aborts");
        }
    }

    #[test]
    fn every_other_transition_is_refused() {
        let mut refused = 0;
        for from in TxnState::ALL {
            for to in TxnState::ALL {
                let legal = LEGAL.contains(&(to, from));
                let blind = BLIND_ABORT.contains(&(to, from));
                if !legal && !blind {
                    assert_eq!(from.check_transition(to, true), Err(IllegalTransition { from, to }), "{from} -> {to}");
                    refused += 1;
                }
                if !legal {
                    assert!(from.check_transition(to, false).is_err(), "{from} -> {to} without blind aborts");
                }
            }
        }
        // 64 pairs, 16 legal, 3 more with blind aborts.
        assert_eq!(refused, 64 - 16 - 3);
    }

    #[test]
    fn complete_states_only_follow_their_prepare() {
        assert!(Ongoing.check_transition(CompleteCommit, true).is_err());
        assert!(PrepareAbort.check_transition(CompleteCommit, true).is_err());
        assert!(PrepareCommit.check_transition(CompleteAbort, true).is_err());
        assert!(PrepareCommit.check_transition(PrepareAbort, true).is_err(), "a commit decision is final");
    }

    #[test]
    fn open_states() {
        let open: Vec<TxnState> = TxnState::ALL.into_iter().filter(|state| state.is_open()).collect();
        assert_eq!(open, vec![Ongoing, PrepareCommit, PrepareAbort, PrepareEpochFence]);
    }

    /// The literal counter names read exactly as the names built from the states would, for every pair.
    #[test]
    fn counter_names_are_the_built_names() {
        for to in TxnState::ALL {
            assert_eq!(to.state_counter(), format!("txn-state:{}", to.name()));
            for from in TxnState::ALL {
                let built = format!("txn-transition:{}->{}", from.name(), to.name());
                let counter = to.transition_counter(from);
                assert_eq!(counter, built);
                let legal = to.may_follow(from, true);
                assert_eq!(matches!(counter, Cow::Borrowed(_)), legal, "{built}: a literal exactly when legal");
            }
        }
    }
}
