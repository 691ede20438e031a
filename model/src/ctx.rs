//! What every node handles events with, below the nodes themselves: the event context [`Ctx`], the state the
//! nodes share with the run ([`Shared`]: the history, coverage counters, the run's [`Phase`]), the helpers
//! clients write the history with, and timer tags. Nothing here knows a node kind; `node.rs` is the one file
//! that does.

use crate::protocol::Msg;
use eosim_checker::{History, Key, MicroOp, Op, OpFn, OpType};
use eosim_sim::Context;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Request ids of one client incarnation stay below 2^32. Request ids also travel as timer payloads (below
/// 2^48), which leaves room for 2^16 incarnations of one client.
pub const REQUEST_ID_BITS: u32 = 32;

/// The context every model node handles events with.
pub type Ctx<'a> = Context<'a, Msg, Shared>;

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Faults strike; applications send.
    Faulty,
    /// Faults are healed; applications send nothing new and let in-flight work settle.
    Quiescent,
    /// Producers have settled; consumers read every partition to its end.
    FinalRead,
}

/// A coverage counter named by a string literal, found by where the literal lies in the binary.
#[derive(Clone, Debug)]
struct LiteralCounter {
    /// The literal's address and length.
    address: (usize, usize),
    name: &'static str,
    count: u64,
}

/// State the nodes share that is not part of the simulated system.
#[derive(Clone, Debug)]
pub struct Shared {
    /// What clients observed.
    pub history: History,
    /// The next unused history process id; ids are never reused.
    pub next_process: u64,
    /// Where the run is.
    pub phase: Phase,
    /// Coverage counters named by a string literal (broker errors, client retries, epoch bumps), sorted by the
    /// literal's address and length: a bump, thousands per run, is a binary search over integers instead of
    /// string comparisons, in one contiguous vector (a few dozen names) rather than a B-tree's entry path.
    /// Equal names at two addresses are merged when read ([`Shared::counters`]).
    literal_counters: Vec<LiteralCounter>,
    /// Coverage counters whose names are built at run time.
    built_counters: BTreeMap<String, u64>,
    /// History key of each partition.
    pub keys: Vec<Key>,
    /// The run's BUGGIFY fault points (`buggify!`).
    pub buggify: crate::buggify::Buggify,
}

impl Shared {
    /// Shared state for a run over partitions with these history keys, at the start of the faulty phase,
    /// with every BUGGIFY point off.
    pub fn new(keys: Vec<Key>) -> Shared {
        Shared {
            history: History::new(),
            next_process: 0,
            phase: Phase::Faulty,
            literal_counters: Vec::new(),
            built_counters: BTreeMap::new(),
            keys,
            buggify: crate::buggify::Buggify::new(0, false),
        }
    }

    /// Bumps a coverage counter.
    pub fn count(&mut self, name: &'static str) {
        let address = (name.as_ptr() as usize, name.len());
        match self.literal_counters.binary_search_by_key(&address, |counter| counter.address) {
            Ok(index) => self.literal_counters[index].count += 1,
            Err(index) => self.literal_counters.insert(index, LiteralCounter { address, name, count: 1 }),
        }
    }

    /// Bumps a coverage counter whose name may be built at run time (coordinator states and transitions).
    pub fn count_named(&mut self, name: Cow<'static, str>) {
        match name {
            Cow::Borrowed(name) => self.count(name),
            Cow::Owned(name) => *self.built_counters.entry(name).or_insert(0) += 1,
        }
    }

    /// Every coverage counter bumped so far, by name.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        let mut counters = self.built_counters.clone();
        for LiteralCounter { name, count, .. } in &self.literal_counters {
            *counters.entry((*name).to_string()).or_insert(0) += count;
        }
        counters
    }

    /// How often the coverage counter `name` was bumped so far.
    pub fn counter(&self, name: &str) -> u64 {
        let literal: u64 =
            self.literal_counters.iter().filter(|counter| counter.name == name).map(|counter| counter.count).sum();
        literal + self.built_counters.get(name).copied().unwrap_or(0)
    }

    /// A fresh history process id.
    pub fn new_process(&mut self) -> u64 {
        let process = self.next_process;
        self.next_process += 1;
        process
    }
}

/// Appends an operation to the history and to the trace hash; returns its index.
pub fn record(ctx: &mut Ctx<'_>, process: u64, op_type: OpType, f: OpFn, mops: Vec<MicroOp>) -> usize {
    record_op(
        ctx,
        Op { index: 0, time_ns: ctx.now_ns(), process, op_type, f, mops, keys: Vec::new(), final_poll: false },
    )
}

/// Records that `process` died: a `crash` operation, which always completes as `info` (docs/history-format.md).
pub fn record_crash(ctx: &mut Ctx<'_>, process: u64) {
    record(ctx, process, OpType::Invoke, OpFn::Crash, Vec::new());
    record(ctx, process, OpType::Info, OpFn::Crash, Vec::new());
}

/// Records that `process` now consumes exactly `keys` (an `assign` operation, which completes at once).
pub fn record_assign(ctx: &mut Ctx<'_>, process: u64, keys: Vec<Key>) {
    for op_type in [OpType::Invoke, OpType::Ok] {
        let op = Op {
            index: 0,
            time_ns: ctx.now_ns(),
            process,
            op_type,
            f: OpFn::Assign,
            mops: Vec::new(),
            keys: keys.clone(),
            final_poll: false,
        };
        record_op(ctx, op);
    }
}

/// Appends a fully built operation (assign keys, final polls); returns its index.
pub fn record_op(ctx: &mut Ctx<'_>, op: Op) -> usize {
    ctx.observe(&(op.process, op.op_type, op.f, op.mops.len(), op.final_poll));
    for mop in &op.mops {
        observe_micro_op(ctx, mop);
    }
    ctx.shared.history.push(op)
}

fn observe_micro_op(ctx: &mut Ctx<'_>, mop: &MicroOp) {
    match mop {
        MicroOp::Send { key, value, offset, .. } => ctx.observe(&(0u8, key, value, offset)),
        MicroOp::Poll { reads } => {
            for (key, records) in reads {
                ctx.observe(&(1u8, key, records));
            }
        }
        MicroOp::Sink { store, key, value } => ctx.observe(&(2u8, store, key, value)),
    }
}

/// Timer tags: the kind in the top 16 bits, a payload below.
pub fn timer_tag(kind: u16, payload: u64) -> u64 {
    assert!(payload < 1 << 48, "timer payload too large");
    (u64::from(kind) << 48) | payload
}

/// Splits a timer tag into kind and payload.
pub fn timer_parts(tag: u64) -> (u16, u64) {
    ((tag >> 48) as u16, tag & ((1 << 48) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name counted as a literal, as a borrowed name and as a built one is one counter when read.
    #[test]
    fn counters_merge_literal_and_built_names() {
        let mut shared = Shared::new(Vec::new());
        shared.count("broker:append");
        shared.count_named(Cow::Borrowed("broker:append"));
        shared.count_named(Cow::Owned(format!("broker:{}", "append")));
        shared.count_named(Cow::Owned("txn-state:Ongoing".to_string()));
        assert_eq!(shared.counter("broker:append"), 3);
        assert_eq!(shared.counter("txn-state:Ongoing"), 1);
        assert_eq!(shared.counter("broker:never"), 0);
        let expected: BTreeMap<String, u64> =
            [("broker:append".to_string(), 3), ("txn-state:Ongoing".to_string(), 1)].into_iter().collect();
        assert_eq!(shared.counters(), expected);
    }

    /// Literals bumped in any order land in their own counters, and the sorted index stays sorted.
    #[test]
    fn literal_counters_stay_sorted_and_separate() {
        const NAMES: [&str; 6] = ["a:one", "b:two", "c:three", "d:four", "e:five", "f:six"];
        let mut shared = Shared::new(Vec::new());
        for round in 0..NAMES.len() {
            for (index, name) in NAMES.iter().enumerate().rev() {
                if index <= round {
                    shared.count(name);
                }
            }
        }
        let addresses: Vec<(usize, usize)> = shared.literal_counters.iter().map(|counter| counter.address).collect();
        assert!(addresses.windows(2).all(|pair| pair[0] < pair[1]), "sorted and unique: {addresses:?}");
        for (index, name) in NAMES.iter().enumerate() {
            assert_eq!(shared.counter(name), (NAMES.len() - index) as u64, "{name}");
        }
        assert_eq!(shared.counters().len(), NAMES.len());
    }
}
