//! The dispatcher: every node kind of the simulated cluster as one [`Actor`]. This is the one file that knows
//! every kind; the nodes themselves share only [`crate::ctx`].

use crate::app::atomic_writer::AtomicWriterApp;
use crate::app::consumer::ConsumerApp;
use crate::app::pipeline::PipelineApp;
use crate::app::producer_app::ProducerApp;
use crate::app::store::StoreNode;
use crate::broker::controller::Controller;
use crate::broker::Broker;
use crate::ctx::{Ctx, Shared};
use crate::protocol::Msg;
use eosim_sim::{Actor, NodeId};

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

    /// Only a broker has storage it may not have flushed; every other node's durable state is written through
    /// (the controller's metadata, the applications' own records), so for them a power loss is a crash.
    fn on_power_loss(&mut self, ctx: &mut Ctx<'_>) {
        match self {
            Node::Broker(broker) => broker.lose_power(),
            _ => self.on_crash(ctx),
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
