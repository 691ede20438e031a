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

/// Literal-named coverage counters in an open-addressing table keyed by the literal's address and length.
///
/// A bump is a multiply, a mask and usually one probe; a B-tree's entry path, and even a binary search over
/// the few dozen names, cost several times that at every bump. Where a counter sits depends on addresses,
/// which differ between builds and runs, so nothing reads the table in slot order except sums and a map
/// sorted by name ([`Shared::counters`]).
#[derive(Clone, Debug)]
struct LiteralCounters {
    /// A power of two long, never more than half full, so a probe always ends at an empty slot.
    slots: Vec<Option<LiteralCounter>>,
    len: usize,
}

impl Default for LiteralCounters {
    fn default() -> Self {
        // Room for the model's counter names without growing in most runs.
        LiteralCounters { slots: vec![None; 256], len: 0 }
    }
}

impl LiteralCounters {
    /// Adds one to the counter named `name`.
    fn bump(&mut self, name: &'static str) {
        let address = (name.as_ptr() as usize, name.len());
        let mut index = self.probe(address);
        if let Some(counter) = &mut self.slots[index] {
            counter.count += 1;
            return;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
            index = self.probe(address);
        }
        self.slots[index] = Some(LiteralCounter { address, name, count: 1 });
        self.len += 1;
    }

    /// The slot holding `address`, or the empty slot where it would go.
    fn probe(&self, address: (usize, usize)) -> usize {
        let mask = self.slots.len() - 1;
        // Fibonacci hashing: the multiply spreads the address bits into the high half that is kept.
        let mixed = (address.0 as u64 ^ (address.1 as u64).rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut index = (mixed >> 32) as usize & mask;
        while let Some(counter) = &self.slots[index] {
            if counter.address == address {
                break;
            }
            index = (index + 1) & mask;
        }
        index
    }

    /// Doubles the table and re-seats every counter.
    #[cold]
    fn grow(&mut self) {
        let doubled = vec![None; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        for counter in old.into_iter().flatten() {
            let index = self.probe(counter.address);
            self.slots[index] = Some(counter);
        }
    }

    /// Every counter, in no meaningful order.
    fn iter(&self) -> impl Iterator<Item = &LiteralCounter> {
        self.slots.iter().flatten()
    }
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
    /// Coverage counters named by a string literal (broker errors, client retries, epoch bumps), by the
    /// literal's address and length: a bump, thousands per run, is a hash of two integers instead of string
    /// comparisons. Equal names at two addresses are merged when read ([`Shared::counters`]).
    literal_counters: LiteralCounters,
    /// Coverage counters whose names are built at run time.
    built_counters: BTreeMap<String, u64>,
    /// History key of each partition.
    pub keys: Vec<Key>,
    /// The run's BUGGIFY fault points (`buggify!`).
    pub buggify: crate::buggify::Buggify,
    /// Which outcome each transaction's markers carried: the harness's oracle of torn transactions.
    pub txn_outcomes: crate::oracle::TxnOutcomes,
    /// Emptied vectors of replica fetch messages, reused by the next one sent.
    pub fetch_vectors: crate::protocol::FetchVectors,
}

impl Shared {
    /// Shared state for a run over partitions with these history keys, at the start of the faulty phase,
    /// with every BUGGIFY point off.
    pub fn new(keys: Vec<Key>) -> Shared {
        Shared {
            history: History::new(),
            next_process: 0,
            phase: Phase::Faulty,
            literal_counters: LiteralCounters::default(),
            built_counters: BTreeMap::new(),
            keys,
            buggify: crate::buggify::Buggify::new(0, false),
            txn_outcomes: Default::default(),
            fetch_vectors: Default::default(),
        }
    }

    /// Bumps a coverage counter.
    pub fn count(&mut self, name: &'static str) {
        self.literal_counters.bump(name);
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
        for LiteralCounter { name, count, .. } in self.literal_counters.iter() {
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

    /// Literals bumped in any order land in their own counters, through the table's growth and probing.
    #[test]
    fn literal_counters_stay_separate_through_growth() {
        // More names than the initial table holds at half load, so it grows (twice) and probes collide.
        let names: Vec<&'static str> =
            (0..700).map(|index| &*Box::leak(format!("counter:{index}").into_boxed_str())).collect();
        let mut shared = Shared::new(Vec::new());
        for round in 0..3 {
            for (index, name) in names.iter().enumerate().rev() {
                if index % 3 >= round {
                    shared.count(name);
                }
            }
        }
        for (index, name) in names.iter().enumerate() {
            assert_eq!(shared.counter(name), (index % 3 + 1) as u64, "{name}");
        }
        assert_eq!(shared.literal_counters.len, names.len());
        assert!(shared.literal_counters.slots.len() >= 2 * names.len());
        assert_eq!(shared.counters().len(), names.len());
        assert_eq!(shared.counter("counter:never"), 0);
    }
}
