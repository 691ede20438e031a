//! The world: nodes as actors, the event loop, and fault injection.
//!
//! A [`World`] owns every node, the [`EventQueue`], the [`Network`], one random stream per purpose and the
//! [`Trace`]. [`World::step`] pops the earliest event and hands it to its node through the [`Actor`] trait.
//! Node faults are applied here: a crashed node loses its volatile state (the actor's `on_crash` drops it),
//! its timers and in-flight messages to it; a node that loses power also loses its unflushed storage (the
//! actor's `on_power_loss` drops that too); a paused node keeps everything, but its timers and inbound
//! messages wait until it resumes, and it does not know it was gone.

use crate::fault::{FaultAction, FaultKind, FaultSchedule};
use crate::network::{Network, NetworkOptions, NodeRole};
use crate::queue::{EventId, EventQueue};
use crate::recording::{Arrival, DropCause, Label, Recorder, RecorderSlot, Recording};
use crate::rng::{SimRng, Stream};
use crate::trace::{Trace, TraceTag};
use crate::NodeId;
use std::collections::BTreeMap;
use std::hash::Hash;

/// A simulated node. Keep durable state (what an fsync would keep) apart from volatile state, and drop the
/// volatile part in [`Actor::on_crash`]: that is what makes crash-restart faithful.
pub trait Actor {
    /// The messages nodes exchange; hashed into the trace on delivery, named by [`Label`] in recordings.
    type Msg: Clone + Hash + Label;
    /// State shared by all nodes of a world that is not part of the simulated system (the history that
    /// clients write, counters for coverage).
    type Shared;

    /// Called once at time zero.
    fn on_start(&mut self, ctx: &mut Context<'_, Self::Msg, Self::Shared>);
    /// A message arrived.
    fn on_message(&mut self, ctx: &mut Context<'_, Self::Msg, Self::Shared>, source: NodeId, msg: Self::Msg);
    /// A timer set with [`Context::set_timer`] fired.
    fn on_timer(&mut self, ctx: &mut Context<'_, Self::Msg, Self::Shared>, tag: u64);
    /// The node's process crashed: drop all volatile state; what it wrote to storage stays, flushed or not.
    /// Sends and timers from here are discarded.
    fn on_crash(&mut self, ctx: &mut Context<'_, Self::Msg, Self::Shared>);
    /// The node lost power: drop all volatile state and whatever storage it had not flushed. Sends and timers
    /// from here are discarded. The default suits a node whose storage has no unflushed part.
    fn on_power_loss(&mut self, ctx: &mut Context<'_, Self::Msg, Self::Shared>) {
        self.on_crash(ctx);
    }
    /// The node restarts from its durable state.
    fn on_restart(&mut self, ctx: &mut Context<'_, Self::Msg, Self::Shared>);
}

/// Whether a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeStatus {
    /// Running.
    Up,
    /// Stopped; timers and messages wait for it.
    Paused,
    /// Crashed; timers and messages to it are lost.
    Down,
}

/// An event in the queue.
#[derive(Clone, Debug)]
enum Event<M> {
    Start(NodeId),
    /// `incarnation` is the target's at send time: a message sent to a node that crashes before it
    /// arrives is lost with the connection, even if the node has restarted by then.
    Deliver {
        source: NodeId,
        target: NodeId,
        incarnation: u32,
        msg: M,
    },
    Timer {
        node: NodeId,
        incarnation: u32,
        tag: u64,
    },
    FaultStart(usize),
    FaultEnd(usize),
}

struct NodeSlot<A: Actor> {
    actor: A,
    status: NodeStatus,
    /// Events that reached the node while it was paused, in arrival order.
    held: Vec<Event<A::Msg>>,
    rng: SimRng,
}

/// Counters of what a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorldStats {
    /// Events popped from the queue.
    pub events: u64,
    /// Messages handed to the network.
    pub messages_sent: u64,
    /// Messages delivered to a running node.
    pub messages_delivered: u64,
    /// Messages lost to loss windows, partitions or a crashed target.
    pub messages_dropped: u64,
    /// Timers that fired.
    pub timers_fired: u64,
    /// Faults injected, per kind.
    pub faults: BTreeMap<FaultKind, u64>,
}

/// The parts of a world that every event touches besides its node: handed to a [`Context`] as one borrow,
/// so that building a context per event costs a few stores, not one per part.
struct Kernel<M> {
    /// Every node's incarnation, bumped on every crash, so timers set and messages sent before the crash
    /// never reach the restarted node.
    incarnations: Vec<u32>,
    queue: EventQueue<Event<M>>,
    network: Network,
    network_rng: SimRng,
    trace: Trace,
    stats: WorldStats,
    /// Empty unless the world records; see `recording.rs`.
    recorder: RecorderSlot,
}

/// Names a timer a node set, for [`Context::cancel_timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(EventId);

impl TimerId {
    /// A timer id that names no timer: cancelling it does nothing.
    pub const NONE: TimerId = TimerId(EventId::NONE);
}

/// What an actor may do while handling an event.
pub struct Context<'a, M, S> {
    now_ns: u64,
    node: NodeId,
    silenced: bool,
    kernel: &'a mut Kernel<M>,
    node_rng: &'a mut SimRng,
    /// State shared by every node of the world, outside the simulated system.
    pub shared: &'a mut S,
}

impl<M: Clone + Hash + Label, S> Context<'_, M, S> {
    /// Virtual time now, in nanoseconds.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// The node handling this event.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Sends `msg` to `target` through the network (it may be lost, duplicated, delayed).
    #[inline]
    pub fn send(&mut self, target: NodeId, msg: M) {
        if self.silenced {
            return;
        }
        self.kernel.stats.messages_sent += 1;
        if self.kernel.recorder.0.is_none() {
            let kernel = &mut *self.kernel;
            if let Some(arrival_ns) =
                kernel.network.healed_arrival_ns(&mut kernel.network_rng, self.now_ns, self.node, target)
            {
                self.enqueue_delivery(arrival_ns, target, msg);
                return;
            }
        }
        self.send_routed(target, msg);
    }

    /// [`Context::send`] through a degraded network, or while the world records.
    #[inline(never)]
    fn send_routed(&mut self, target: NodeId, msg: M) {
        let route = self.kernel.network.route(&mut self.kernel.network_rng, self.now_ns, self.node, target);
        let arrivals_ns = route.arrivals_ns();
        if arrivals_ns.is_empty() {
            self.kernel.stats.messages_dropped += 1;
            if let Some(recorder) = self.kernel.recorder.0.as_deref_mut() {
                let cause = if route.partitioned { DropCause::Partitioned } else { DropCause::Lost };
                recorder.lost(self.now_ns, self.node, target, &msg, cause);
            }
            return;
        }
        if let Some(recorder) = self.kernel.recorder.0.as_deref_mut() {
            recorder.sent(self.now_ns, self.node, target, &msg, arrivals_ns);
        }
        for arrival_ns in &arrivals_ns[1..] {
            self.enqueue_delivery(*arrival_ns, target, msg.clone());
        }
        self.enqueue_delivery(arrivals_ns[0], target, msg);
    }

    /// Queues one copy of a message from this node to `target`'s current incarnation, due at `arrival_ns`.
    #[inline]
    fn enqueue_delivery(&mut self, arrival_ns: u64, target: NodeId, msg: M) {
        let incarnation = self.kernel.incarnations[target.index()];
        self.kernel.queue.push(arrival_ns, Event::Deliver { source: self.node, target, incarnation, msg });
    }

    /// Calls this node's `on_timer(tag)` after `delay_ns`, unless it crashes first or the timer is cancelled.
    pub fn set_timer(&mut self, delay_ns: u64, tag: u64) -> TimerId {
        if self.silenced {
            return TimerId::NONE;
        }
        let event = Event::Timer { node: self.node, incarnation: self.kernel.incarnations[self.node.index()], tag };
        TimerId(self.kernel.queue.push(self.now_ns + delay_ns, event))
    }

    /// Cancels a timer this node set, if it has not fired: it never reaches the actor and is not traced, as
    /// Kafka cancels a purgatory operation's timer task when the operation completes early. Best effort: a
    /// timer that fired while its node was paused is held for it and still arrives, so an actor keeps checking
    /// that a timer's tag is current.
    pub fn cancel_timer(&mut self, timer: TimerId) {
        self.kernel.queue.cancel(timer.0);
    }

    /// This node's own random stream (retry jitter and similar client choices).
    pub fn rng(&mut self) -> &mut SimRng {
        self.node_rng
    }

    /// Adds an observation (a client's view of an outcome) to the trace hash.
    pub fn observe<T: Hash + ?Sized>(&mut self, value: &T) {
        self.kernel.trace.record(TraceTag::Observation, self.now_ns, value);
        if let Some(recorder) = self.kernel.recorder.0.as_deref_mut() {
            recorder.observed(self.now_ns, self.node);
        }
    }
}

/// Settings of a world.
#[derive(Clone, Debug, Default)]
pub struct WorldOptions {
    /// The seed every random stream derives from.
    pub seed: u64,
    /// Latency and baseline loss.
    pub network: NetworkOptions,
}

/// A whole simulated system on virtual time.
pub struct World<A: Actor> {
    now_ns: u64,
    nodes: Vec<NodeSlot<A>>,
    kernel: Kernel<A::Msg>,
    schedule: FaultSchedule,
    /// Set once faults are over: later fault starts are ignored.
    faults_closed: bool,
    shared: A::Shared,
}

impl<A: Actor> World<A> {
    /// A world with the given nodes (node `i` gets `NodeId(i)`), all started at time zero.
    pub fn new(options: WorldOptions, actors: Vec<(A, NodeRole)>, shared: A::Shared) -> World<A> {
        let roles: Vec<NodeRole> = actors.iter().map(|(_, role)| *role).collect();
        let recorder = RecorderSlot::for_new_world(&roles);
        let mut queue = EventQueue::new();
        let nodes: Vec<NodeSlot<A>> = actors
            .into_iter()
            .enumerate()
            .map(|(index, (actor, _))| {
                queue.push(0, Event::Start(NodeId(index as u32)));
                let rng = SimRng::new(options.seed, Stream::Node(index as u32));
                NodeSlot { actor, status: NodeStatus::Up, held: Vec::new(), rng }
            })
            .collect();
        let incarnations = vec![0; nodes.len()];
        World {
            now_ns: 0,
            nodes,
            kernel: Kernel {
                incarnations,
                queue,
                network: Network::new(options.network, roles),
                network_rng: SimRng::new(options.seed, Stream::Network),
                trace: Trace::new(),
                stats: WorldStats::default(),
                recorder,
            },
            schedule: FaultSchedule::default(),
            faults_closed: false,
            shared,
        }
    }

    /// Records every message, fault and observation from now on (`recording.rs`); call it before the first
    /// event, so that no message is in flight unrecorded. Recording changes nothing about the run.
    pub fn enable_recording(&mut self) {
        assert_eq!(self.kernel.stats.events, 0, "recording starts before the first event");
        if self.kernel.recorder.0.is_none() {
            let roles = (0..self.nodes.len()).map(|index| self.kernel.network.role(NodeId(index as u32))).collect();
            self.kernel.recorder.0 = Some(Box::new(Recorder::new(roles)));
        }
    }

    /// The recording so far, which ends recording; `None` if the world was not recording.
    pub fn take_recording(&mut self) -> Option<Recording> {
        let recorder = self.kernel.recorder.0.take()?;
        Some(recorder.finish(Some(self.now_ns), Some(self.kernel.trace.hex())))
    }

    /// Schedules every fault of `schedule` (its start and its end).
    pub fn install_faults(&mut self, schedule: FaultSchedule) {
        assert!(self.schedule.faults.is_empty(), "faults are installed once");
        // A schedule read from a file is checked against the cluster where it is read (FaultSchedule::check);
        // here a node past the world is caught before it indexes a vector deep inside a fault.
        for (index, fault) in schedule.faults.iter().enumerate() {
            assert!(
                fault_nodes(&fault.action).all(|node| node.index() < self.nodes.len()),
                "fault {index} names a node past the world's {} nodes",
                self.nodes.len()
            );
            assert!(fault.at_ns.checked_add(fault.duration_ns).is_some(), "fault {index} ends past u64::MAX ns");
        }
        for (index, fault) in schedule.faults.iter().enumerate() {
            self.kernel.queue.push(fault.at_ns, Event::FaultStart(index));
            self.kernel.queue.push(fault.at_ns + fault.duration_ns, Event::FaultEnd(index));
        }
        self.schedule = schedule;
    }

    /// Runs the earliest event; false when nothing is left.
    pub fn step(&mut self) -> bool {
        let Some((time_ns, event)) = self.kernel.queue.pop() else {
            return false;
        };
        assert!(time_ns >= self.now_ns, "time never goes backwards");
        self.now_ns = time_ns;
        self.kernel.stats.events += 1;
        match event {
            Event::Start(node) => self.with_context(node, |actor, ctx| actor.on_start(ctx)),
            Event::Deliver { source, target, incarnation, msg } => self.tick_deliver(source, target, incarnation, msg),
            Event::Timer { node, incarnation, tag } => self.tick_timer(node, incarnation, tag),
            Event::FaultStart(index) => self.tick_fault_start(index),
            Event::FaultEnd(index) => self.tick_fault_end(index),
        }
        true
    }

    /// Runs every event due before or at `end_ns`, then sets the clock to `end_ns`.
    pub fn run_until(&mut self, end_ns: u64) {
        while self.kernel.queue.peek_time_ns().is_some_and(|time_ns| time_ns <= end_ns) {
            self.step();
        }
        self.now_ns = self.now_ns.max(end_ns);
    }

    /// Runs until `done` holds (checked after each event) or the clock passes `end_ns`; true if `done` held.
    pub fn run_until_done(&mut self, end_ns: u64, mut done: impl FnMut(&World<A>) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            match self.kernel.queue.peek_time_ns() {
                Some(time_ns) if time_ns <= end_ns => {
                    self.step();
                }
                _ => return done(self),
            }
        }
    }

    /// Ends every fault now and forever: the network heals, crashed nodes restart, paused nodes resume, and
    /// faults scheduled later never start. The start of a run's quiescent phase.
    pub fn heal_all(&mut self) {
        self.faults_closed = true;
        if let Some(recorder) = self.kernel.recorder.0.as_deref_mut() {
            recorder.healed(self.now_ns);
        }
        self.kernel.network.heal_all();
        for index in 0..self.nodes.len() {
            let node = NodeId(index as u32);
            match self.nodes[index].status {
                NodeStatus::Up => {}
                NodeStatus::Paused => self.resume(node),
                NodeStatus::Down => self.restart(node),
            }
        }
    }

    /// Crashes a node's process now: its storage stays.
    pub fn crash(&mut self, node: NodeId) {
        if self.take_down(node) {
            self.with_context_silenced(node, |actor, ctx| actor.on_crash(ctx));
        }
    }

    /// Cuts a node's power now: its unflushed storage is lost with its volatile state.
    pub fn lose_power(&mut self, node: NodeId) {
        if self.take_down(node) {
            self.with_context_silenced(node, |actor, ctx| actor.on_power_loss(ctx));
        }
    }

    /// What every crash does before the actor hears of it: the node goes down, what was held for it and its
    /// connections are lost. False if it was down already.
    fn take_down(&mut self, node: NodeId) -> bool {
        let slot = &mut self.nodes[node.index()];
        if slot.status == NodeStatus::Down {
            return false;
        }
        slot.status = NodeStatus::Down;
        slot.held.clear();
        if let Some(recorder) = self.kernel.recorder.0.as_deref_mut() {
            recorder.crashed(self.now_ns, node);
        }
        self.kernel.incarnations[node.index()] += 1;
        self.kernel.trace.record_fixed(TraceTag::NodeStatus, self.now_ns, &(node, 0u8));
        assert_eq!(self.nodes[node.index()].status, NodeStatus::Down);
        true
    }

    /// Restarts a crashed node now.
    pub fn restart(&mut self, node: NodeId) {
        if self.nodes[node.index()].status != NodeStatus::Down {
            return;
        }
        self.nodes[node.index()].status = NodeStatus::Up;
        // The restarted process is a new incarnation too: a message sent while the node was down went to no
        // connection (a refused connect), so it must not reach the process that starts now, however late
        // the network brings it. Without this, a reply its previous incarnation asked for, sent while it was
        // down and delayed past the restart, reached it: a broker took such a heartbeat answer's stale
        // metadata for its first and led a partition the controller had already moved.
        self.kernel.incarnations[node.index()] += 1;
        self.kernel.trace.record_fixed(TraceTag::NodeStatus, self.now_ns, &(node, 1u8));
        self.with_context(node, |actor, ctx| actor.on_restart(ctx));
    }

    /// Pauses a running node now.
    pub fn pause(&mut self, node: NodeId) {
        let slot = &mut self.nodes[node.index()];
        if slot.status != NodeStatus::Up {
            return;
        }
        slot.status = NodeStatus::Paused;
        self.kernel.trace.record_fixed(TraceTag::NodeStatus, self.now_ns, &(node, 2u8));
    }

    /// Resumes a paused node now; what waited for it is handled next, in arrival order.
    pub fn resume(&mut self, node: NodeId) {
        let slot = &mut self.nodes[node.index()];
        if slot.status != NodeStatus::Paused {
            return;
        }
        slot.status = NodeStatus::Up;
        for event in std::mem::take(&mut slot.held) {
            self.kernel.queue.push(self.now_ns, event);
        }
        if let Some(recorder) = self.kernel.recorder.0.as_deref_mut() {
            recorder.resumed(self.now_ns, node);
        }
        self.kernel.trace.record_fixed(TraceTag::NodeStatus, self.now_ns, &(node, 3u8));
    }

    /// Virtual time now, in nanoseconds.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The actor of a node.
    pub fn actor(&self, node: NodeId) -> &A {
        &self.nodes[node.index()].actor
    }

    /// Whether a node is up, paused or down.
    pub fn status(&self, node: NodeId) -> NodeStatus {
        self.nodes[node.index()].status
    }

    /// The shared state.
    pub fn shared(&self) -> &A::Shared {
        &self.shared
    }

    /// The shared state, mutably.
    pub fn shared_mut(&mut self) -> &mut A::Shared {
        &mut self.shared
    }

    /// Counters so far.
    pub fn stats(&self) -> &WorldStats {
        &self.kernel.stats
    }

    /// The trace hash so far.
    pub fn trace_hash(&self) -> String {
        self.kernel.trace.hex()
    }

    /// Number of records in the trace.
    pub fn trace_records(&self) -> u64 {
        self.kernel.trace.records()
    }

    /// True if nothing is scheduled any more.
    pub fn is_idle(&self) -> bool {
        self.kernel.queue.is_empty()
    }

    /// Consumes the world, returning its nodes and shared state. Inside [`crate::recording::capture`], the
    /// world's recording is handed over here, with its final time and trace hash.
    pub fn into_parts(mut self) -> (Vec<A>, A::Shared) {
        if self.kernel.recorder.0.is_some() {
            self.kernel.recorder.hand_over(Some(self.now_ns), Some(self.kernel.trace.hex()));
        }
        (self.nodes.into_iter().map(|slot| slot.actor).collect(), self.shared)
    }

    fn tick_deliver(&mut self, source: NodeId, target: NodeId, incarnation: u32, msg: A::Msg) {
        let arrival = self.arrival(source, target, incarnation);
        if let Some(recorder) = self.kernel.recorder.0.as_deref_mut() {
            recorder.arrived(self.now_ns, source, target, arrival);
        }
        match arrival {
            Arrival::Dropped(_) => {
                self.kernel.stats.messages_dropped += 1;
                return;
            }
            Arrival::Held => {
                self.nodes[target.index()].held.push(Event::Deliver { source, target, incarnation, msg });
                return;
            }
            Arrival::Delivered => {}
        }
        self.kernel.stats.messages_delivered += 1;
        self.kernel.trace.record_delivery(self.now_ns, source, target, &msg);
        // Called directly rather than through `with_context`: moving the message into a closure first cost
        // one more copy of it per delivery.
        let (actor, mut ctx) = self.actor_and_context(target, false);
        actor.on_message(&mut ctx, source, msg);
    }

    /// What becomes of a message arriving now; a leaf that decides and changes nothing. Inlined, so that the
    /// decision folds into `tick_deliver`'s branches as if they were written there.
    #[inline(always)]
    fn arrival(&self, source: NodeId, target: NodeId, incarnation: u32) -> Arrival {
        if self.kernel.incarnations[target.index()] != incarnation {
            // Sent to an earlier incarnation of the target: the connection died in the crash.
            return Arrival::Dropped(DropCause::ConnectionLost);
        }
        match self.nodes[target.index()].status {
            NodeStatus::Down => return Arrival::Dropped(DropCause::TargetDown),
            NodeStatus::Paused => return Arrival::Held,
            NodeStatus::Up => {}
        }
        if self.kernel.network.is_partitioned(source, target) {
            // The partition began while the message was in flight.
            return Arrival::Dropped(DropCause::PartitionedInFlight);
        }
        Arrival::Delivered
    }

    fn tick_timer(&mut self, node: NodeId, incarnation: u32, tag: u64) {
        if self.kernel.incarnations[node.index()] != incarnation {
            return;
        }
        let slot = &mut self.nodes[node.index()];
        match slot.status {
            NodeStatus::Down => return,
            NodeStatus::Paused => {
                slot.held.push(Event::Timer { node, incarnation, tag });
                return;
            }
            NodeStatus::Up => {}
        }
        self.kernel.stats.timers_fired += 1;
        self.kernel.trace.record_fixed(TraceTag::Timer, self.now_ns, &(node, tag));
        self.with_context(node, |actor, ctx| actor.on_timer(ctx, tag));
    }

    fn tick_fault_start(&mut self, index: usize) {
        if self.faults_closed {
            return;
        }
        let action = self.schedule.faults[index].action.clone();
        let kind = action.kind();
        *self.kernel.stats.faults.entry(kind).or_insert(0) += 1;
        self.kernel.trace.record(TraceTag::FaultStart, self.now_ns, &(index, &action));
        if let Some(recorder) = self.kernel.recorder.0.as_deref_mut() {
            recorder.fault_started(self.now_ns, index, &action);
        }
        match &action {
            FaultAction::Link { .. } => {
                let fault = action.link_fault().expect("link action has a link fault");
                self.kernel.network.degrade(index, fault);
            }
            FaultAction::Partition { kind, side_a, side_b } => {
                self.kernel.network.partition(index, *kind, side_a, side_b)
            }
            FaultAction::Crash { node, kind } if kind.loses_unflushed_storage() => self.lose_power(*node),
            FaultAction::Crash { node, .. } => self.crash(*node),
            FaultAction::Pause { node, .. } => self.pause(*node),
        }
    }

    fn tick_fault_end(&mut self, index: usize) {
        if self.faults_closed {
            return;
        }
        self.kernel.trace.record_fixed(TraceTag::FaultEnd, self.now_ns, &index);
        if let Some(recorder) = self.kernel.recorder.0.as_deref_mut() {
            recorder.fault_ended(self.now_ns, index);
        }
        match self.schedule.faults[index].action {
            FaultAction::Link { .. } | FaultAction::Partition { .. } => self.kernel.network.heal(index),
            FaultAction::Crash { node, .. } => self.restart(node),
            FaultAction::Pause { node, .. } => self.resume(node),
        }
    }

    fn with_context(&mut self, node: NodeId, handle: impl FnOnce(&mut A, &mut Context<'_, A::Msg, A::Shared>)) {
        self.with_context_inner(node, false, handle);
    }

    fn with_context_silenced(
        &mut self,
        node: NodeId,
        handle: impl FnOnce(&mut A, &mut Context<'_, A::Msg, A::Shared>),
    ) {
        self.with_context_inner(node, true, handle);
    }

    fn with_context_inner(
        &mut self,
        node: NodeId,
        silenced: bool,
        handle: impl FnOnce(&mut A, &mut Context<'_, A::Msg, A::Shared>),
    ) {
        let (actor, mut ctx) = self.actor_and_context(node, silenced);
        handle(actor, &mut ctx);
    }

    /// A node's actor and a context for handling an event on it, borrowed apart from each other.
    #[inline]
    fn actor_and_context(&mut self, node: NodeId, silenced: bool) -> (&mut A, Context<'_, A::Msg, A::Shared>) {
        let slot = &mut self.nodes[node.index()];
        let ctx = Context {
            now_ns: self.now_ns,
            node,
            silenced,
            kernel: &mut self.kernel,
            node_rng: &mut slot.rng,
            shared: &mut self.shared,
        };
        (&mut slot.actor, ctx)
    }
}

/// Every node a fault action names.
fn fault_nodes(action: &FaultAction) -> impl Iterator<Item = NodeId> + '_ {
    let (side_a, side_b, node): (&[NodeId], &[NodeId], Option<NodeId>) = match action {
        FaultAction::Partition { kind, side_a, side_b } => {
            let bridge = match kind {
                crate::PartitionKind::Bridge { bridge } => Some(*bridge),
                _ => None,
            };
            (side_a, side_b, bridge)
        }
        FaultAction::Crash { node, .. } | FaultAction::Pause { node, .. } => (&[], &[], Some(*node)),
        FaultAction::Link { .. } => (&[], &[], None),
    };
    side_a.iter().chain(side_b).copied().chain(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Fault, LinkDirection};
    use crate::network::LinkLatency;
    use crate::recording::MessageFate;

    /// Counts what reaches it; `durable` survives crashes, `volatile` does not.
    #[derive(Default)]
    struct Counter {
        durable: Vec<u64>,
        volatile: Vec<u64>,
        timers: Vec<(u64, u64)>,
        restarts: u32,
        crashes: u32,
        power_losses: u32,
    }

    impl Actor for Counter {
        type Msg = u64;
        type Shared = Vec<String>;

        fn on_start(&mut self, _ctx: &mut Context<'_, u64, Vec<String>>) {}

        fn on_message(&mut self, ctx: &mut Context<'_, u64, Vec<String>>, source: NodeId, msg: u64) {
            self.durable.push(msg);
            self.volatile.push(msg);
            ctx.shared.push(format!("{} got {msg} from {source} at {}", ctx.node(), ctx.now_ns()));
        }

        fn on_timer(&mut self, ctx: &mut Context<'_, u64, Vec<String>>, tag: u64) {
            self.timers.push((tag, ctx.now_ns()));
        }

        fn on_crash(&mut self, ctx: &mut Context<'_, u64, Vec<String>>) {
            self.crashes += 1;
            self.volatile.clear();
            ctx.set_timer(1, 999);
            ctx.send(NodeId(0), 999);
        }

        fn on_power_loss(&mut self, _ctx: &mut Context<'_, u64, Vec<String>>) {
            self.power_losses += 1;
            self.volatile.clear();
        }

        fn on_restart(&mut self, _ctx: &mut Context<'_, u64, Vec<String>>) {
            self.restarts += 1;
        }
    }

    fn world(seed: u64) -> World<Counter> {
        let nodes = vec![(Counter::default(), NodeRole::Server), (Counter::default(), NodeRole::Client)];
        World::new(WorldOptions { seed, ..WorldOptions::default() }, nodes, Vec::new())
    }

    /// Sends from `source` as if its actor did.
    fn send(world: &mut World<Counter>, source: NodeId, target: NodeId, msg: u64) {
        world.with_context(source, |_, ctx| ctx.send(target, msg));
    }

    fn timer(world: &mut World<Counter>, node: NodeId, delay_ns: u64, tag: u64) {
        world.with_context(node, |_, ctx| {
            ctx.set_timer(delay_ns, tag);
        });
    }

    #[test]
    fn messages_and_timers_arrive() {
        let mut world = world(1);
        send(&mut world, NodeId(1), NodeId(0), 5);
        timer(&mut world, NodeId(0), 10, 3);
        world.run_until(1_000_000_000);
        assert_eq!(world.actor(NodeId(0)).durable, vec![5]);
        assert_eq!(world.actor(NodeId(0)).timers, vec![(3, 10)]);
        assert_eq!(world.stats().messages_delivered, 1);
    }

    #[test]
    fn a_cancelled_timer_never_fires_and_leaves_no_trace() {
        let mut cancelled = world(1);
        timer(&mut cancelled, NodeId(0), 10, 1);
        let mut id = None;
        cancelled.with_context(NodeId(0), |_, ctx| id = Some(ctx.set_timer(20, 2)));
        let id = id.expect("set");
        timer(&mut cancelled, NodeId(0), 30, 3);
        cancelled.with_context(NodeId(0), |_, ctx| ctx.cancel_timer(id));
        cancelled.run_until(1_000);
        assert_eq!(cancelled.actor(NodeId(0)).timers, vec![(1, 10), (3, 30)]);

        let mut never_set = world(1);
        timer(&mut never_set, NodeId(0), 10, 1);
        timer(&mut never_set, NodeId(0), 30, 3);
        never_set.run_until(1_000);
        assert_eq!(cancelled.stats().events, never_set.stats().events, "a cancelled timer is not an event");
        assert_eq!(cancelled.trace_hash(), never_set.trace_hash());
    }

    #[test]
    fn a_timer_held_for_a_paused_node_still_fires_after_cancellation() {
        let mut world = world(1);
        let mut id = None;
        world.with_context(NodeId(0), |_, ctx| id = Some(ctx.set_timer(10, 4)));
        let id = id.expect("set");
        world.pause(NodeId(0));
        world.run_until(100);
        world.with_context(NodeId(0), |_, ctx| ctx.cancel_timer(id));
        world.resume(NodeId(0));
        world.run_until(200);
        assert_eq!(world.actor(NodeId(0)).timers.iter().map(|(tag, _)| *tag).collect::<Vec<_>>(), vec![4]);
    }

    #[test]
    fn crash_loses_volatile_state_timers_and_inbound_messages() {
        let mut world = world(1);
        send(&mut world, NodeId(1), NodeId(0), 1);
        world.run_until(10_000_000);
        assert_eq!(world.actor(NodeId(0)).volatile, vec![1]);
        timer(&mut world, NodeId(0), 1_000, 7);
        send(&mut world, NodeId(1), NodeId(0), 2);
        world.crash(NodeId(0));
        assert_eq!(world.status(NodeId(0)), NodeStatus::Down);
        world.run_until(20_000_000);
        let node = world.actor(NodeId(0));
        assert_eq!(node.durable, vec![1], "the message to a down node is lost");
        assert!(node.volatile.is_empty(), "volatile state is gone");
        assert!(node.timers.is_empty(), "timers set before the crash never fire");
        world.restart(NodeId(0));
        world.run_until(30_000_000);
        let node = world.actor(NodeId(0));
        assert_eq!(node.restarts, 1);
        assert!(node.timers.is_empty(), "timers set during on_crash are discarded, even after restart");
        assert!(!node.durable.contains(&999), "sends during on_crash are discarded");
    }

    #[test]
    fn a_message_in_flight_across_a_crash_and_restart_is_lost() {
        let mut world = world(1);
        send(&mut world, NodeId(1), NodeId(0), 3);
        world.crash(NodeId(0));
        world.restart(NodeId(0));
        send(&mut world, NodeId(1), NodeId(0), 4);
        world.run_until(50_000_000);
        assert_eq!(world.actor(NodeId(0)).durable, vec![4], "only the message sent after the restart arrives");
    }

    #[test]
    fn a_message_sent_while_the_target_is_down_never_reaches_its_restart() {
        // Sent to a down node with a long delay, it would arrive after the restart: it is lost all the same,
        // as a connection refused while the node was down loses it.
        let latency = LinkLatency { latency_ns_min: 5_000_000, latency_ns_mean: 1_000 };
        let network = NetworkOptions { latency, ..NetworkOptions::default() };
        let nodes = vec![(Counter::default(), NodeRole::Server), (Counter::default(), NodeRole::Client)];
        let mut world = World::new(WorldOptions { seed: 1, network }, nodes, Vec::new());
        world.crash(NodeId(0));
        send(&mut world, NodeId(1), NodeId(0), 5);
        world.restart(NodeId(0));
        send(&mut world, NodeId(1), NodeId(0), 6);
        world.run_until(50_000_000);
        assert_eq!(world.actor(NodeId(0)).durable, vec![6], "only the message sent after the restart arrives");
    }

    #[test]
    fn pause_holds_messages_and_timers_until_resume() {
        let mut world = world(1);
        timer(&mut world, NodeId(0), 1_000, 4);
        send(&mut world, NodeId(1), NodeId(0), 8);
        world.pause(NodeId(0));
        world.run_until(50_000_000);
        assert!(world.actor(NodeId(0)).durable.is_empty());
        assert!(world.actor(NodeId(0)).timers.is_empty());
        world.resume(NodeId(0));
        world.run_until(50_000_000);
        let node = world.actor(NodeId(0));
        assert_eq!(node.timers, vec![(4, 50_000_000)], "the held timer fires at resume, late");
        assert_eq!(node.durable, vec![8]);
        assert_eq!(node.restarts, 0, "a paused node never learns it was gone");
    }

    #[test]
    fn scheduled_faults_start_and_end() {
        let mut world = world(1);
        let action = FaultAction::Link {
            kind: FaultKind::LostRequest,
            direction: LinkDirection::Requests,
            probability_ppm: 1_000_000,
            delay_ns_max: 0,
        };
        let crash = FaultAction::Crash { node: NodeId(1), kind: FaultKind::ClientCrash };
        world.install_faults(FaultSchedule {
            faults: vec![
                Fault { at_ns: 0, duration_ns: 100_000_000, action },
                Fault { at_ns: 200_000_000, duration_ns: 50_000_000, action: crash },
            ],
        });
        world.run_until(1_000);
        send(&mut world, NodeId(1), NodeId(0), 1);
        world.run_until(150_000_000);
        send(&mut world, NodeId(1), NodeId(0), 2);
        world.run_until(210_000_000);
        assert_eq!(world.status(NodeId(1)), NodeStatus::Down);
        world.run_until(300_000_000);
        assert_eq!(world.status(NodeId(1)), NodeStatus::Up);
        assert_eq!(world.actor(NodeId(0)).durable, vec![2], "request 1 was lost, request 2 after the heal arrived");
        assert_eq!(world.actor(NodeId(1)).restarts, 1);
        assert_eq!(world.stats().faults[&FaultKind::LostRequest], 1);
        assert_eq!(world.stats().faults[&FaultKind::ClientCrash], 1);
    }

    #[test]
    fn the_crash_kind_reaches_the_actor() {
        let mut world = world(1);
        let fault = |at_ns, kind| Fault {
            at_ns,
            duration_ns: 10_000_000,
            action: FaultAction::Crash { node: NodeId(0), kind },
        };
        world.install_faults(FaultSchedule {
            faults: vec![fault(10_000_000, FaultKind::ServerCrash), fault(50_000_000, FaultKind::ServerPowerLoss)],
        });
        world.run_until(30_000_000);
        assert_eq!((world.actor(NodeId(0)).crashes, world.actor(NodeId(0)).power_losses), (1, 0));
        world.run_until(100_000_000);
        let node = world.actor(NodeId(0));
        assert_eq!((node.crashes, node.power_losses), (1, 1), "a power loss is not heard as a process crash");
        assert_eq!(node.restarts, 2, "both kinds restart at their end");
        assert_eq!(world.stats().faults[&FaultKind::ServerPowerLoss], 1);
    }

    #[test]
    fn heal_all_restarts_resumes_and_cancels_later_faults() {
        let mut world = world(1);
        world.install_faults(FaultSchedule {
            faults: vec![
                Fault {
                    at_ns: 10,
                    duration_ns: 1_000_000_000,
                    action: FaultAction::Crash { node: NodeId(0), kind: FaultKind::ServerCrash },
                },
                Fault {
                    at_ns: 10,
                    duration_ns: 1_000_000_000,
                    action: FaultAction::Pause { node: NodeId(1), kind: FaultKind::ClientPause },
                },
                Fault {
                    at_ns: 500,
                    duration_ns: 10,
                    action: FaultAction::Crash { node: NodeId(1), kind: FaultKind::ClientCrash },
                },
            ],
        });
        world.run_until(100);
        world.heal_all();
        assert_eq!(world.status(NodeId(0)), NodeStatus::Up);
        assert_eq!(world.status(NodeId(1)), NodeStatus::Up);
        world.run_until(2_000_000_000);
        assert_eq!(world.status(NodeId(1)), NodeStatus::Up, "a fault after heal_all never starts");
        assert_eq!(world.actor(NodeId(1)).restarts, 0);
    }

    /// A run with every kind of fate: loss, a partition, a pause that holds messages, a crash.
    fn faulty_run(record: bool) -> (String, WorldStats, Option<Recording>) {
        let mut world = world(3);
        if record {
            world.enable_recording();
        }
        let lossy = FaultAction::Link {
            kind: FaultKind::LostRequest,
            direction: LinkDirection::Requests,
            probability_ppm: 500_000,
            delay_ns_max: 0,
        };
        let partition = FaultAction::Partition {
            kind: crate::fault::PartitionKind::Symmetric,
            side_a: vec![NodeId(0)],
            side_b: vec![NodeId(1)],
        };
        let pause = FaultAction::Pause { node: NodeId(0), kind: FaultKind::ServerPause };
        let crash = FaultAction::Crash { node: NodeId(0), kind: FaultKind::ServerCrash };
        world.install_faults(FaultSchedule {
            faults: vec![
                Fault { at_ns: 0, duration_ns: 20_000_000, action: lossy },
                Fault { at_ns: 30_000_000, duration_ns: 10_000_000, action: partition },
                Fault { at_ns: 50_000_000, duration_ns: 10_000_000, action: pause },
                Fault { at_ns: 70_000_000, duration_ns: 10_000_000, action: crash },
            ],
        });
        for step in 0..100u64 {
            world.run_until(step * 1_000_000);
            send(&mut world, NodeId(1), NodeId(0), step);
            send(&mut world, NodeId(0), NodeId(1), step);
        }
        world.run_until(200_000_000);
        let recording = world.take_recording();
        (world.trace_hash(), world.stats().clone(), recording)
    }

    #[test]
    fn recording_changes_nothing_and_accounts_for_every_message() {
        let (plain_hash, plain_stats, none) = faulty_run(false);
        let (hash, stats, recording) = faulty_run(true);
        assert!(none.is_none());
        assert_eq!(hash, plain_hash, "recording must not change the run");
        assert_eq!(stats, plain_stats);
        let recording = recording.expect("the world recorded");
        assert_eq!(recording.trace_hash.as_deref(), Some(hash.as_str()));
        let delivered = recording.messages.iter().filter(|m| matches!(m.fate, MessageFate::Delivered { .. })).count();
        let dropped: Vec<DropCause> = recording
            .messages
            .iter()
            .filter_map(|m| match m.fate {
                MessageFate::Dropped { cause, .. } => Some(cause),
                _ => None,
            })
            .collect();
        assert_eq!(delivered as u64, stats.messages_delivered);
        assert_eq!(
            dropped.iter().filter(|cause| **cause != DropCause::HeldAtCrash).count() as u64,
            stats.messages_dropped
        );
        for cause in [DropCause::Lost, DropCause::Partitioned, DropCause::TargetDown] {
            assert!(dropped.contains(&cause), "{cause:?} in {dropped:?}");
        }
        let held_late = recording.messages.iter().any(
            |m| matches!(m.fate, MessageFate::Delivered { at_ns } if at_ns == 60_000_000 && m.target == NodeId(0)),
        );
        assert!(held_late, "messages held by the pause are delivered at the resume");
        let ends: Vec<Option<u64>> = recording.faults.iter().map(|fault| fault.end_ns).collect();
        assert_eq!(ends, vec![Some(20_000_000), Some(40_000_000), Some(60_000_000), Some(80_000_000)]);
        assert_eq!(recording.faults[3].nodes, vec![NodeId(0)]);
        assert_eq!(recording.labels, vec!["u64"]);
    }

    #[test]
    fn capture_records_worlds_built_out_of_reach() {
        let (hash, recordings) = crate::recording::capture(|| {
            let mut world = world(9);
            send(&mut world, NodeId(1), NodeId(0), 1);
            world.run_until(1_000_000_000);
            let hash = world.trace_hash();
            let _ = world.into_parts();
            hash
        });
        assert_eq!(recordings.len(), 1);
        assert_eq!(recordings[0].trace_hash.as_deref(), Some(hash.as_str()));
        assert_eq!(recordings[0].messages.len(), 1);
        assert_eq!(recordings[0].observations, Vec::new());
        let ((), dropped) = crate::recording::capture(|| drop(world(9)));
        assert_eq!(dropped.len(), 1, "a world dropped unfinished still hands over its recording");
        assert_eq!(dropped[0].trace_hash, None);
    }

    fn ping_hash(seed: u64) -> String {
        let mut world = world(seed);
        for i in 0..50 {
            send(&mut world, NodeId(1), NodeId(0), i);
            send(&mut world, NodeId(0), NodeId(1), i);
        }
        world.run_until(1_000_000_000);
        world.trace_hash()
    }

    #[test]
    fn different_seeds_give_different_hashes() {
        assert_ne!(ping_hash(1), ping_hash(2));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn same_seed_same_hash(seed in proptest::prelude::any::<u64>()) {
            proptest::prop_assert_eq!(ping_hash(seed), ping_hash(seed));
        }
    }
}
