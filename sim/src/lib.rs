//! eosim-sim: a deterministic discrete-event kernel. It knows nothing of Kafka.
//!
//! A run is a pure function of its seed. The main types:
//!
//! - [`World`]: nodes as [`Actor`]s, the event loop on virtual time ([`World::step`], [`World::run_until`]),
//!   node faults (crash, restart, pause, resume) and the [`Trace`] hash of everything that happened;
//! - [`EventQueue`]: events ordered by (time, insertion sequence);
//! - [`SimRng`] and [`Stream`]: one ChaCha stream per purpose, derived from (seed, stream id);
//! - [`Network`] (in `network.rs`, the whole network fault model): latency, lost requests and acks,
//!   duplicates, reordering, partitions;
//! - [`FaultPlan`]: an explicit [`FaultSchedule`] or a [`SwarmSpec`] resolved into one before the run;
//! - [`Recording`] (in `recording.rs`, off by default): every message's send time and fate, every fault's start
//!   and end, for space-time diagrams; messages name themselves with [`Label`].
//!
//! ```
//! use eosim_sim::{Actor, Context, NodeId, NodeRole, World, WorldOptions};
//!
//! /// Sends a number back and forth, counting deliveries.
//! struct Ping { peer: NodeId, received: u64 }
//!
//! impl Actor for Ping {
//!     type Msg = u64;
//!     type Shared = ();
//!     fn on_start(&mut self, ctx: &mut Context<'_, u64, ()>) {
//!         if ctx.node() == NodeId(0) { ctx.send(self.peer, 0); }
//!     }
//!     fn on_message(&mut self, ctx: &mut Context<'_, u64, ()>, _source: NodeId, n: u64) {
//!         self.received += 1;
//!         if n < 9 { ctx.send(self.peer, n + 1); }
//!     }
//!     fn on_timer(&mut self, _ctx: &mut Context<'_, u64, ()>, _tag: u64) {}
//!     fn on_crash(&mut self, _ctx: &mut Context<'_, u64, ()>) {}
//!     fn on_restart(&mut self, _ctx: &mut Context<'_, u64, ()>) {}
//! }
//!
//! let nodes = vec![
//!     (Ping { peer: NodeId(1), received: 0 }, NodeRole::Server),
//!     (Ping { peer: NodeId(0), received: 0 }, NodeRole::Server),
//! ];
//! let mut world = World::new(WorldOptions { seed: 7, ..WorldOptions::default() }, nodes, ());
//! world.run_until(1_000_000_000);
//! assert_eq!(world.actor(NodeId(0)).received + world.actor(NodeId(1)).received, 10);
//! println!("trace-hash: {}", world.trace_hash());
//! ```
#![deny(missing_docs)]

pub mod fault;
pub mod network;
pub mod queue;
pub mod recording;
pub mod rng;
pub mod trace;
pub mod world;

pub use fault::{
    Fault, FaultAction, FaultKind, FaultPlan, FaultSchedule, FaultTargets, KindSpec, LinkDirection, PartitionKind,
    ScheduleError, StormSpec, SwarmChoices, SwarmSpec,
};
pub use network::{LinkFault, LinkLatency, LinkOverride, Network, NetworkOptions, NodeRole};
pub use queue::{EventId, EventQueue};
pub use recording::{Label, Recording};
pub use rng::{Ratio, SimRng, Stream};
pub use trace::{Trace, TraceTag};
pub use world::{Actor, Context, NodeStatus, TimerId, World, WorldOptions, WorldStats};

use serde::{Deserialize, Serialize};

/// A node of the simulated world: an index into the world's node list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The node's position in the world's node list.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "n{}", self.0)
    }
}
