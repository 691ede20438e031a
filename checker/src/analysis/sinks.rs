//! Writes to external stores: `["sink", store, key, value]` micro-ops (docs/history-format.md), the exactly-once boundary.
//!
//! A store is outside Kafka's transaction, so an operation's outcome (which is the outcome of its Kafka work) does
//! not say whether its store writes happened. The contract is therefore per micro-op: an invocation lists the
//! store writes the operation means to make, and its completion — `ok`, `fail` or `info` alike — lists those the
//! store acknowledged. A write acknowledged twice is applied twice; a write the operation meant to make, whose
//! Kafka work committed (so its input will not be processed again), and that no completion acknowledges, is lost.

use super::Analysis;
use crate::history::{Key, MicroOp, OpType, Value};

/// Every write to one key of one external store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkIndex {
    /// The store.
    pub store: String,
    /// The key in that store.
    pub key: Key,
    /// (value, completion) for every write a completion lists as acknowledged, sorted, repeats kept.
    pub acknowledged: Vec<(Value, usize)>,
    /// (value, completion) for every write an operation that committed meant to make, sorted, distinct.
    pub required: Vec<(Value, usize)>,
    /// (value, completion) for every write an operation with an unknown outcome (`info`, or never completed)
    /// meant to make, sorted, distinct: the store may have applied it, the acknowledgement lost with the
    /// operation.
    pub maybe_applied: Vec<(Value, usize)>,
}

impl SinkIndex {
    /// The name used in reports: "store/key".
    pub fn name(&self) -> String {
        format!("{}/{}", self.store, self.key)
    }

    /// Whether some completion acknowledged `value`.
    pub fn was_acknowledged(&self, value: Value) -> bool {
        let start = self.acknowledged.partition_point(|a| a.0 < value);
        self.acknowledged.get(start).is_some_and(|a| a.0 == value)
    }

    /// Whether an operation whose outcome is unknown, other than the operations `besides`, meant to write
    /// `value`. An operation's own completion says what it knows of its writes; another one may have made it.
    pub fn may_have_been_applied(&self, value: Value, besides: &[usize]) -> bool {
        let start = self.maybe_applied.partition_point(|a| a.0 < value);
        self.maybe_applied[start..].iter().take_while(|a| a.0 == value).any(|a| !besides.contains(&a.1))
    }
}

/// What a sink micro-op says of its write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    /// A committed operation meant to make it.
    Required,
    /// The store acknowledged it.
    Acknowledged,
    /// An operation whose outcome is unknown meant to make it.
    MaybeApplied,
}

/// One sink micro-op: store, key, value, the op that ends its operation, and what it says of the write.
type Entry<'h> = (&'h str, &'h str, Value, usize, Role);

impl<'h> Analysis<'h> {
    /// Indexes every sink micro-op of the history, per (store, key).
    pub(super) fn index_sinks(&self) -> Vec<SinkIndex> {
        let mut entries: Vec<Entry<'h>> = Vec::new();
        for op in &self.history.ops {
            let acknowledgement = op.op_type != OpType::Invoke;
            // The operation's end: its completion, or the invocation itself if it never completed.
            let end = if acknowledgement { op.index } else { self.partner[op.index].unwrap_or(op.index) };
            // An intent counts once per operation: from the invocation, or from a completion that has none.
            let intent = !acknowledgement || self.partner[op.index].is_none();
            let unknown = self.partner[op.index].is_none_or(|end| self.history.ops[end].op_type == OpType::Info);
            for mop in &op.mops {
                let MicroOp::Sink { store, key, value } = mop else { continue };
                if acknowledgement {
                    entries.push((store, key, *value, end, Role::Acknowledged));
                }
                if intent && self.committed(end) {
                    entries.push((store, key, *value, end, Role::Required));
                }
                if intent && unknown && op.op_type == OpType::Invoke {
                    entries.push((store, key, *value, end, Role::MaybeApplied));
                }
            }
        }
        entries.sort_unstable();
        let mut sinks = Vec::new();
        for group in entries.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let pick = |role: Role| group.iter().filter(move |e| e.4 == role).map(|e| (e.2, e.3));
            let mut required: Vec<(Value, usize)> = pick(Role::Required).collect();
            required.dedup();
            let mut maybe_applied: Vec<(Value, usize)> = pick(Role::MaybeApplied).collect();
            maybe_applied.dedup();
            sinks.push(SinkIndex {
                store: group[0].0.to_string(),
                key: group[0].1.to_string(),
                acknowledged: pick(Role::Acknowledged).collect(),
                required,
                maybe_applied,
            });
        }
        assert!(sinks.windows(2).all(|w| (&w[0].store, &w[0].key) < (&w[1].store, &w[1].key)));
        sinks
    }
}
