//! Every node of the simulated cluster as one [`Actor`], the state the nodes share with the run (the
//! history), and the helpers clients use to write the history.

use crate::atomic_writer::AtomicWriterApp;
use crate::broker::Broker;
use crate::consumer::ConsumerApp;
use crate::controller::Controller;
use crate::pipeline::PipelineApp;
use crate::producer_app::ProducerApp;
use crate::protocol::Msg;
use crate::store::StoreNode;
use eosim_checker::{History, Key, MicroOp, Op, OpFn, OpType};
use eosim_sim::{Actor, Context, NodeId};
use std::borrow::Cow;
use std::collections::BTreeMap;

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

/// State the nodes share that is not part of the simulated system.
#[derive(Clone, Debug)]
pub struct Shared {
    /// What clients observed.
    pub history: History,
    /// The next unused history process id; ids are never reused.
    pub next_process: u64,
    /// Where the run is.
    pub phase: Phase,
    /// Coverage counters: broker errors, client retries, epoch bumps, coordinator states.
    pub counters: BTreeMap<Cow<'static, str>, u64>,
    /// History key of each partition.
    pub keys: Vec<Key>,
}

impl Shared {
    /// Bumps a coverage counter.
    pub fn count(&mut self, name: &'static str) {
        *self.counters.entry(Cow::Borrowed(name)).or_insert(0) += 1;
    }

    /// Bumps a coverage counter whose name is built at run time (coordinator states and transitions).
    pub fn count_named(&mut self, name: String) {
        *self.counters.entry(Cow::Owned(name)).or_insert(0) += 1;
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

/// Records that `process` died: a `crash` operation, which always completes as `info` (design.md §5).
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

/// A node of the cluster.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Node {
    /// A broker.
    Broker(Broker),
    /// The controller.
    Controller(Controller),
    /// A producer application with its producer client.
    Producer(ProducerApp),
    /// A consumer application with its consumer client.
    Consumer(ConsumerApp),
    /// An atomic multi-partition writer with its transactional producer.
    AtomicWriter(AtomicWriterApp),
    /// A consume-transform-produce pipeline.
    Pipeline(PipelineApp),
    /// The external store.
    Store(StoreNode),
}

impl Actor for Node {
    type Msg = Msg;
    type Shared = Shared;

    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        match self {
            Node::Broker(broker) => broker.on_start(ctx),
            Node::Controller(controller) => controller.on_start(ctx),
            Node::Producer(app) => app.on_start(ctx),
            Node::Consumer(app) => app.on_start(ctx),
            Node::AtomicWriter(app) => app.on_start(ctx),
            Node::Pipeline(app) => app.on_start(ctx),
            Node::Store(_) => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, source: NodeId, msg: Msg) {
        match self {
            Node::Broker(broker) => broker.on_message(ctx, source, msg),
            Node::Controller(controller) => controller.on_message(ctx, source, msg),
            Node::Producer(app) => app.on_message(ctx, msg),
            Node::Consumer(app) => app.on_message(ctx, msg),
            Node::AtomicWriter(app) => app.on_message(ctx, msg),
            Node::Pipeline(app) => app.on_message(ctx, msg),
            Node::Store(store) => store.on_message(ctx, source, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) {
        match self {
            Node::Broker(broker) => broker.on_timer(ctx, tag),
            Node::Controller(controller) => controller.on_timer(ctx, tag),
            Node::Producer(app) => app.on_timer(ctx, tag),
            Node::Consumer(app) => app.on_timer(ctx, tag),
            Node::AtomicWriter(app) => app.on_timer(ctx, tag),
            Node::Pipeline(app) => app.on_timer(ctx, tag),
            Node::Store(_) => unreachable!("the store sets no timers"),
        }
    }

    fn on_crash(&mut self, ctx: &mut Ctx<'_>) {
        match self {
            Node::Broker(broker) => broker.crash(),
            Node::Controller(_) => {}
            Node::Producer(app) => app.on_crash(ctx),
            Node::Consumer(app) => app.on_crash(ctx),
            Node::AtomicWriter(app) => app.on_crash(ctx),
            Node::Pipeline(app) => app.on_crash(ctx),
            Node::Store(_) => unreachable!("the store never crashes"),
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        match self {
            Node::Broker(broker) => broker.on_restart(ctx),
            Node::Controller(controller) => controller.on_restart(ctx),
            Node::Producer(app) => app.on_restart(ctx),
            Node::Consumer(app) => app.on_restart(ctx),
            Node::AtomicWriter(app) => app.on_restart(ctx),
            Node::Pipeline(app) => app.on_restart(ctx),
            Node::Store(_) => unreachable!("the store never crashes"),
        }
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
