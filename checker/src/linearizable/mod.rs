//! Linearizability: did a concurrent object behave as if each operation took effect at one instant between its call
//! and its return, in an order its sequential specification accepts?
//!
//! The anomaly checks ([`crate::anomaly`]) name the ways a Kafka history can go wrong one at a time; this module asks
//! the single stronger question of Herlihy & Wing. A [`Model`] is the sequential specification: an initial state
//! and a `step` that accepts or rejects one operation (its input and the output the client saw) in a state. An
//! [`Operation`] is one call with its real-time interval. [`check`] searches for a total order of the operations
//! that respects real time (an operation that returned before another was called comes first) and that the model
//! accepts from its initial state, and returns a [`Verdict`]:
//! - [`Verdict::Linearizable`]: such an order exists;
//! - [`Verdict::NotLinearizable`]: none does; it names the partition, the longest prefix of operations the search
//!   could order, and the operation that could not follow it;
//! - [`Verdict::Unknown`]: the search ran out of its [`SearchBudget`] first. It never guesses.
//!
//! The search is Wing & Gong's, with Lowe's memoization as Porcupine uses it (see `search.rs`): each successful
//! step records (set of operations linearized, model state), and a search that reaches a recorded pair again is
//! cut, because it can only repeat work already done. Among the operations that could take effect next, it tries
//! first the one the model's [`Model::order_hint`] puts first (a log's offsets say which append came first), else
//! the first called; that changes how fast it finds an order, never whether one exists. The history is first
//! split by [`Model::partition`] (keys, partitions of a topic) and each part is checked alone: linearizability is
//! compositional (Herlihy & Wing's locality; Horn & Kroening's P-compositionality), so a history is linearizable
//! exactly when each part is, and the parts are exponentially cheaper to search than their union.
//!
//! An operation that never returned (an `info` operation: timed out, crashed) has `return_ns == u64::MAX`: as in
//! Knossos and Porcupine it may take effect at any time after its call, or never. Give it the output it would have
//! had if it took effect.
//!
//! Three models come with the checker: [`Register`] (read, write, compare-and-set, per key), [`Log`] (a partition's
//! append-only log: appends return offsets, reads return ranges of records) and [`CommittedOffsets`] (a consumer
//! group's committed offsets). [`from_history`] turns an eosim [`History`](crate::History) into log operations and
//! [`check_history`] checks every partition of it.
//!
//! ```
//! use eosim_checker::linearizable::{check, Operation, Register, RegisterInput, RegisterOutput, SearchBudget, Verdict};
//!
//! // Client 1 writes 1 to x and is acknowledged at 10; client 2 reads x from 20 to 30 and sees nothing: a stale
//! // read, since the write had finished before the read began.
//! let write = RegisterInput::Write { key: "x".into(), value: 1 };
//! let read = RegisterInput::Read { key: "x".into() };
//! let ops = vec![
//!     Operation { client: 1, input: write, call_ns: 0, return_ns: 10, output: RegisterOutput::Written },
//!     Operation { client: 2, input: read.clone(), call_ns: 20, return_ns: 30, output: RegisterOutput::Read(None) },
//! ];
//! let verdict = check(&Register::default(), &ops, SearchBudget::default());
//! assert!(matches!(verdict, Verdict::NotLinearizable { .. }));
//!
//! // Had the read begun before the write returned, it could have taken effect first.
//! let ops = vec![ops[0].clone(), Operation { call_ns: 5, ..ops[1].clone() }];
//! assert_eq!(check(&Register::default(), &ops, SearchBudget::default()), Verdict::Linearizable);
//! ```

mod explain;
mod from_history;
mod log;
mod memo;
mod offsets;
mod register;
mod search;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

pub use explain::anomalies;
pub use from_history::{check_history, from_history, HistoryOperations};
pub use log::{Log, LogInput, LogOutput, LogState};
pub use offsets::{CommittedOffsets, OffsetsInput, OffsetsOutput};
pub use register::{Register, RegisterInput, RegisterOutput};

/// A sequential specification: what one operation may return in each state, and the state it leaves.
///
/// `step` must be a pure function of its arguments: the search calls it many times on the same state, in any order.
pub trait Model {
    /// The object's state. Compared and hashed by the search's memo, so two states that behave alike should be
    /// equal; `Debug` shows it in explanations.
    type State: Clone + Eq + Hash + Ord + Debug;
    /// What the client asked for (read, write, append, ...).
    type Input: Debug;
    /// What the client was told.
    type Output: Debug;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// The state after an operation with `input` that returned `output` takes effect in `state`, or `None` if
    /// the object could not have returned `output` there.
    fn step(&self, state: &Self::State, input: &Self::Input, output: &Self::Output) -> Option<Self::State>;

    /// Which of several operations that could take effect next the search tries first: the lowest hint first, ties
    /// in call order. Only the speed of the search depends on it, never the verdict: every candidate is still tried
    /// before the search backtracks. A model whose operations carry their own order (a log's offsets) can steer the
    /// search straight to it; by default all hints are equal and the search tries candidates in call order, as
    /// Porcupine does.
    fn order_hint(&self, input: &Self::Input, output: &Self::Output) -> u64 {
        let _ = (input, output);
        0
    }

    /// The independent object an operation acts on (a key, a partition). Operations in different partitions never
    /// constrain each other, and each partition is checked alone from [`Model::init`]. One partition by default.
    fn partition<'a>(&self, input: &'a Self::Input) -> Cow<'a, str> {
        let _ = input;
        Cow::Borrowed("")
    }
}

/// One call of an operation on the object, with its real-time interval.
///
/// Times may be in any unit whose order is real-time order: only comparisons between them matter. An operation
/// that returned at the very time another was called counts as concurrent with it, since neither clearly came first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// The client (process) that called it; shown in explanations.
    pub client: u64,
    /// What was asked.
    pub input: I,
    /// When it was called.
    pub call_ns: u64,
    /// When it returned; `u64::MAX` if it never did (info): then it may take effect at any time after its call,
    /// or never.
    pub return_ns: u64,
    /// What was returned (for an operation that never returned: what it would have returned had it taken effect).
    pub output: O,
}

impl<I, O> Operation<I, O> {
    /// Whether the operation never returned, so that it may or may not have taken effect.
    pub fn is_pending(&self) -> bool {
        self.return_ns == u64::MAX
    }
}

/// How much work the search may do before it gives up with [`Verdict::Unknown`].
///
/// A count of steps, not a time: the same history and budget always give the same verdict, on any machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchBudget {
    /// The most model steps and backtracks the search of one partition may take.
    pub max_steps_per_partition: u64,
}

impl SearchBudget {
    /// A budget of `max_steps_per_partition` steps for each partition.
    pub fn steps(max_steps_per_partition: u64) -> SearchBudget {
        SearchBudget { max_steps_per_partition }
    }
}

impl Default for SearchBudget {
    /// Ten million steps per partition: a linearizable history costs about one step per operation plus a few per
    /// concurrent neighbour, so this covers millions of operations while bounding a pathological search to seconds.
    fn default() -> SearchBudget {
        SearchBudget { max_steps_per_partition: 10_000_000 }
    }
}

/// What the search concluded about a history (or one partition of it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Some order of the operations respects real time and the model.
    Linearizable,
    /// No order does.
    NotLinearizable {
        /// The partition (see [`Model::partition`]) where no order exists.
        partition: String,
        /// Indices (into the operations given) of the longest sequence the search could order before it got
        /// stuck, in that order.
        longest_prefix: Vec<usize>,
        /// In words: the operation that could not come next, and the state it found.
        explanation: String,
        /// The operation that could not come next (an index into the operations given, or a history event for
        /// [`check_history`]).
        blocked: usize,
    },
    /// The search hit its budget before it found an order or proved there is none.
    Unknown {
        /// The partition, the budget and how far the search got.
        reason: String,
    },
}

impl Verdict {
    /// Whether the history was proven linearizable.
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }

    /// The verdict of a whole history from those of its partitions: any proven violation, else any unknown, else
    /// linearizable. The first of each kind, in partition order, speaks for the history.
    pub fn combine(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut unknown = None;
        for verdict in verdicts {
            match verdict {
                Verdict::NotLinearizable { .. } => return verdict,
                Verdict::Unknown { .. } if unknown.is_none() => unknown = Some(verdict),
                _ => {}
            }
        }
        unknown.unwrap_or(Verdict::Linearizable)
    }
}

/// Checks `ops` against `model`, each partition within `budget`; one verdict for the whole history.
///
/// # Panics
/// If an operation returned before it was called (`return_ns < call_ns`): such a history has no meaning.
pub fn check<M: Model>(model: &M, ops: &[Operation<M::Input, M::Output>], budget: SearchBudget) -> Verdict {
    Verdict::combine(check_partitions(model, ops, budget).into_iter().map(|(_, verdict)| verdict))
}

/// Checks `ops` against `model`, one verdict per partition, in partition order.
///
/// # Panics
/// If an operation returned before it was called, as [`check`].
pub fn check_partitions<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    budget: SearchBudget,
) -> Vec<(String, Verdict)> {
    check_partitions_named(model, ops, budget, &|index| format!("op {index}"))
}

/// [`check_partitions`], naming operation `i` in explanations as `name(i)`: [`check_history`] names history events.
pub(crate) fn check_partitions_named<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    budget: SearchBudget,
    name: &dyn Fn(usize) -> String,
) -> Vec<(String, Verdict)> {
    let parts = partition(model, ops);
    let verdicts: Vec<(String, Verdict)> = parts
        .into_iter()
        .map(|(part, indices)| {
            let verdict = search::check_partition(model, ops, &indices, &part, budget, name);
            (part, verdict)
        })
        .collect();
    assert!(verdicts.windows(2).all(|pair| pair[0].0 < pair[1].0), "partitions are distinct and ordered");
    verdicts
}

/// Groups operation indices by partition, in partition order, each group in index order.
///
/// The names are borrowed from the operations while grouping (most models name a partition by a key the input
/// holds), so an operation costs a map lookup, not an allocation.
fn partition<M: Model>(model: &M, ops: &[Operation<M::Input, M::Output>]) -> BTreeMap<String, Vec<usize>> {
    let mut parts: BTreeMap<Cow<'_, str>, Vec<usize>> = BTreeMap::new();
    for (index, op) in ops.iter().enumerate() {
        assert!(
            op.call_ns <= op.return_ns,
            "op {index} returned (at {}) before its call (at {})",
            op.return_ns,
            op.call_ns
        );
        let name = model.partition(&op.input);
        match parts.get_mut(name.as_ref()) {
            Some(indices) => indices.push(index),
            None => {
                parts.insert(name, vec![index]);
            }
        }
    }
    parts.into_iter().map(|(name, indices)| (name.into_owned(), indices)).collect()
}
