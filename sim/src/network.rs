//! The network fault model: latency, loss, duplication, reordering and partitions, all in one place.
//!
//! Every message between two nodes goes through [`Network::route`], which decides, from the network stream
//! of the seed, whether it is dropped, duplicated or delayed and when each copy arrives. What can go wrong:
//!
//! - **latency**: every link has a minimum and an exponential tail ([`LinkLatency`]), per link or global;
//! - **lost requests / lost acks**: a [`LinkFault`] window drops messages from clients to servers (a request
//!   that never arrives) or from servers to clients (the work was done, the client never hears of it);
//! - **duplicates**: a window delivers some messages twice;
//! - **delay / reorder**: a window adds a random extra delay, so later messages overtake earlier ones;
//! - **partitions**: symmetric, one-way, and bridge ([`PartitionKind`]) until healed. A partition drops
//!   messages at the moment they are sent and also those still in flight when they arrive.
//!
//! Links are FIFO (like the TCP connections Kafka uses) unless a delay window is open on them.

use crate::fault::{LinkDirection, PartitionKind};
use crate::rng::{Ratio, SimRng};
use crate::NodeId;
use serde::{Deserialize, Serialize};

/// Whether a node serves requests or makes them; lost requests and lost acks are told apart by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeRole {
    /// A broker or any other node that answers requests.
    Server,
    /// A client: it sends requests and waits for answers.
    Client,
}

/// Latency distribution of a link: `latency_ns_min` plus an exponential tail of mean `latency_ns_mean`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkLatency {
    /// Fastest possible delivery, in nanoseconds. Default 100 µs.
    pub latency_ns_min: u64,
    /// Mean of the exponential tail added to the minimum, in nanoseconds. Default 400 µs.
    pub latency_ns_mean: u64,
}

impl Default for LinkLatency {
    fn default() -> Self {
        LinkLatency { latency_ns_min: 100_000, latency_ns_mean: 400_000 }
    }
}

/// One link whose latency differs from the global one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkOverride {
    /// Sending node.
    pub source: NodeId,
    /// Receiving node.
    pub target: NodeId,
    /// Latency of this link, one direction only.
    pub latency: LinkLatency,
}

/// Network settings of a run; per-link settings fall back to the global ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkOptions {
    /// Latency of every link without an override.
    pub latency: LinkLatency,
    /// Links with their own latency.
    pub overrides: Vec<LinkOverride>,
    /// Chance that any message is lost, outside any fault window. Default zero.
    pub drop_probability: Ratio,
}

/// An open loss / duplication / delay window on a class of links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkFault {
    /// Which messages it affects.
    pub direction: LinkDirection,
    /// Chance that an affected message is lost.
    pub drop_probability: Ratio,
    /// Chance that an affected message is delivered twice.
    pub duplicate_probability: Ratio,
    /// Chance that an affected message is held back by up to `delay_ns_max`.
    pub delay_probability: Ratio,
    /// Largest extra delay, in nanoseconds.
    pub delay_ns_max: u64,
}

/// What blocks or degrades a link right now; explicit partitions and random windows are kept apart so a
/// heal of one never lifts the other.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LinkState {
    /// No message crosses from `blocked_source` nodes to `blocked_target` nodes.
    Partition { fault_id: usize, blocked_source: Vec<bool>, blocked_target: Vec<bool>, both_ways: bool },
    /// Messages are lost, duplicated or delayed at random.
    Degraded { fault_id: usize, fault: LinkFault },
}

/// The decision for one message: the arrival times of its copies (none if lost). A fixed array, not a
/// `Vec`: routing is on the path of every message and must not allocate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Route {
    arrivals_ns: [u64; 2],
    copies: u8,
    /// True if a partition dropped it.
    pub partitioned: bool,
}

impl Route {
    /// Arrival time of each copy, in nanoseconds; empty if the message is lost.
    #[inline]
    pub fn arrivals_ns(&self) -> &[u64] {
        &self.arrivals_ns[..usize::from(self.copies)]
    }
}

/// The simulated network.
#[derive(Clone, Debug)]
pub struct Network {
    options: NetworkOptions,
    roles: Vec<NodeRole>,
    states: Vec<LinkState>,
    /// Arrival time of the last message on each link, to keep links FIFO.
    last_arrival_ns: Vec<u64>,
    /// No loss outside fault windows and no per-link latency: with no window open, every message takes
    /// [`Network::route`]'s short path.
    plain: bool,
}

impl Network {
    /// A healed network between nodes with the given roles.
    pub fn new(options: NetworkOptions, roles: Vec<NodeRole>) -> Network {
        let node_count = roles.len();
        let plain = options.drop_probability.is_zero() && options.overrides.is_empty();
        Network { options, roles, states: Vec::new(), last_arrival_ns: vec![0; node_count * node_count], plain }
    }

    /// The role of a node.
    pub fn role(&self, node: NodeId) -> NodeRole {
        self.roles[node.index()]
    }

    /// Decides the fate of one message sent at `now_ns`.
    #[inline]
    pub fn route(&mut self, rng: &mut SimRng, now_ns: u64, source: NodeId, target: NodeId) -> Route {
        match self.healed_arrival_ns(rng, now_ns, source, target) {
            Some(arrival_ns) => Route { arrivals_ns: [arrival_ns, 0], copies: 1, partitioned: false },
            None => self.route_degraded(rng, now_ns, source, target),
        }
    }

    /// The one arrival time of a message sent at `now_ns` while nothing degrades any link (no window or
    /// partition open, no baseline loss, no per-link latency); `None` otherwise, and nothing is drawn.
    ///
    /// The path of nearly every message: one copy, the global latency, FIFO. The draws are the ones
    /// [`Network::route`]'s general path would make (no drop, duplicate or delay draws happen for zero
    /// probabilities), so a run's random streams do not depend on which path routed a message.
    #[inline]
    pub fn healed_arrival_ns(&mut self, rng: &mut SimRng, now_ns: u64, source: NodeId, target: NodeId) -> Option<u64> {
        if !self.plain || !self.states.is_empty() {
            return None;
        }
        let latency = self.options.latency;
        let arrival_ns = now_ns + latency.latency_ns_min + rng.exponential_ns(latency.latency_ns_mean);
        Some(self.fifo_arrival(source, target, arrival_ns))
    }

    /// [`Network::route`] while a window or partition is open, or the options lose or slow some links.
    #[inline(never)]
    fn route_degraded(&mut self, rng: &mut SimRng, now_ns: u64, source: NodeId, target: NodeId) -> Route {
        if self.is_partitioned(source, target) {
            return Route { partitioned: true, ..Route::default() };
        }
        let fault = self.degradation(source, target);
        if self.should_drop(rng, &fault) {
            return Route::default();
        }
        let copies = if self.should_replay(rng, &fault) { 2 } else { 1 };
        let mut route = Route { copies, ..Route::default() };
        for copy in 0..usize::from(copies) {
            let latency = self.latency(source, target);
            let mut arrival_ns = now_ns + latency.latency_ns_min + rng.exponential_ns(latency.latency_ns_mean);
            let clogged = self.should_clog(rng, &fault);
            if clogged > 0 {
                arrival_ns += clogged;
            } else {
                arrival_ns = self.fifo_arrival(source, target, arrival_ns);
            }
            route.arrivals_ns[copy] = arrival_ns;
        }
        route
    }

    /// The arrival time on a FIFO link: never before the previous message on it.
    #[inline]
    fn fifo_arrival(&mut self, source: NodeId, target: NodeId, arrival_ns: u64) -> u64 {
        let link = source.index() * self.roles.len() + target.index();
        let arrival_ns = arrival_ns.max(self.last_arrival_ns[link]);
        self.last_arrival_ns[link] = arrival_ns;
        arrival_ns
    }

    /// True if a partition blocks `source` → `target` now.
    #[inline]
    pub fn is_partitioned(&self, source: NodeId, target: NodeId) -> bool {
        !self.states.is_empty() && self.any_partition_blocks(source, target)
    }

    fn any_partition_blocks(&self, source: NodeId, target: NodeId) -> bool {
        self.states.iter().any(|state| match state {
            LinkState::Partition { blocked_source, blocked_target, both_ways, .. } => {
                let forward = blocked_source[source.index()] && blocked_target[target.index()];
                let backward = *both_ways && blocked_source[target.index()] && blocked_target[source.index()];
                forward || backward
            }
            LinkState::Degraded { .. } => false,
        })
    }

    /// Opens a partition between two sides; `fault_id` names it for [`Network::heal`].
    pub fn partition(&mut self, fault_id: usize, kind: PartitionKind, side_a: &[NodeId], side_b: &[NodeId]) {
        let node_count = self.roles.len();
        let mut blocked_source = vec![false; node_count];
        let mut blocked_target = vec![false; node_count];
        for node in side_a {
            blocked_source[node.index()] = true;
        }
        for node in side_b {
            blocked_target[node.index()] = true;
        }
        if let PartitionKind::Bridge { bridge } = kind {
            // The bridge node keeps talking to both sides; everyone else is cut from the other side.
            blocked_source[bridge.index()] = false;
            blocked_target[bridge.index()] = false;
        }
        let both_ways = !matches!(kind, PartitionKind::OneWay);
        self.states.push(LinkState::Partition { fault_id, blocked_source, blocked_target, both_ways });
    }

    /// Opens a loss / duplication / delay window.
    pub fn degrade(&mut self, fault_id: usize, fault: LinkFault) {
        self.states.push(LinkState::Degraded { fault_id, fault });
    }

    /// Ends the partition or window opened under `fault_id`.
    pub fn heal(&mut self, fault_id: usize) {
        self.states.retain(|state| match state {
            LinkState::Partition { fault_id: id, .. } | LinkState::Degraded { fault_id: id, .. } => *id != fault_id,
        });
    }

    /// Ends every partition and window.
    pub fn heal_all(&mut self) {
        self.states.clear();
    }

    /// True if nothing is partitioned or degraded.
    pub fn is_healed(&self) -> bool {
        self.states.is_empty()
    }

    fn latency(&self, source: NodeId, target: NodeId) -> LinkLatency {
        self.options
            .overrides
            .iter()
            .find(|link| link.source == source && link.target == target)
            .map_or(self.options.latency, |link| link.latency)
    }

    /// The combined degradation of every open window that covers this link.
    fn degradation(&self, source: NodeId, target: NodeId) -> LinkFault {
        let mut combined = LinkFault {
            direction: LinkDirection::Any,
            drop_probability: self.options.drop_probability,
            duplicate_probability: Ratio::ZERO,
            delay_probability: Ratio::ZERO,
            delay_ns_max: 0,
        };
        for state in &self.states {
            let LinkState::Degraded { fault, .. } = state else {
                continue;
            };
            if !self.covers(fault.direction, source, target) {
                continue;
            }
            combined.drop_probability = combined.drop_probability.either(fault.drop_probability);
            combined.duplicate_probability = combined.duplicate_probability.either(fault.duplicate_probability);
            combined.delay_probability = combined.delay_probability.either(fault.delay_probability);
            combined.delay_ns_max = combined.delay_ns_max.max(fault.delay_ns_max);
        }
        combined
    }

    fn covers(&self, direction: LinkDirection, source: NodeId, target: NodeId) -> bool {
        let (source_role, target_role) = (self.role(source), self.role(target));
        match direction {
            LinkDirection::Any => true,
            LinkDirection::Requests => source_role == NodeRole::Client && target_role == NodeRole::Server,
            LinkDirection::Acks => source_role == NodeRole::Server && target_role == NodeRole::Client,
            LinkDirection::BetweenServers => source_role == NodeRole::Server && target_role == NodeRole::Server,
        }
    }

    fn should_drop(&self, rng: &mut SimRng, fault: &LinkFault) -> bool {
        rng.chance(fault.drop_probability)
    }

    fn should_replay(&self, rng: &mut SimRng, fault: &LinkFault) -> bool {
        rng.chance(fault.duplicate_probability)
    }

    /// Extra delay for one copy, zero when it is not held back.
    fn should_clog(&self, rng: &mut SimRng, fault: &LinkFault) -> u64 {
        if fault.delay_ns_max == 0 || !rng.chance(fault.delay_probability) {
            return 0;
        }
        rng.range_inclusive(1, fault.delay_ns_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    fn network() -> Network {
        // Nodes 0 and 1 are servers, 2 and 3 clients.
        let roles = vec![NodeRole::Server, NodeRole::Server, NodeRole::Client, NodeRole::Client];
        Network::new(NetworkOptions::default(), roles)
    }

    fn n(index: u32) -> NodeId {
        NodeId(index)
    }

    fn window(direction: LinkDirection) -> LinkFault {
        LinkFault {
            direction,
            drop_probability: Ratio::new(1, 1),
            duplicate_probability: Ratio::ZERO,
            delay_probability: Ratio::ZERO,
            delay_ns_max: 0,
        }
    }

    #[test]
    fn healthy_links_deliver_once_with_latency() {
        let mut net = network();
        let mut rng = SimRng::new(1, Stream::Network);
        let route = net.route(&mut rng, 1_000, n(2), n(0));
        assert_eq!(route.arrivals_ns().len(), 1);
        assert!(route.arrivals_ns()[0] >= 1_000 + 100_000);
        assert!(!route.partitioned);
    }

    #[test]
    fn the_healed_path_draws_and_routes_as_the_general_path() {
        // The same messages through the short path and through `route_degraded` on the same healed network:
        // the same arrivals (FIFO included) and the same draws, so neither path shifts a run's stream.
        let (mut healed, mut general) = (network(), network());
        let (mut healed_rng, mut general_rng) = (SimRng::new(5, Stream::Network), SimRng::new(5, Stream::Network));
        for (now_ns, source, target) in [(0, 2, 0), (10, 2, 0), (10, 0, 2), (500_000, 1, 0), (500_001, 2, 0)] {
            let arrival_ns = healed.healed_arrival_ns(&mut healed_rng, now_ns, n(source), n(target));
            let route = general.route_degraded(&mut general_rng, now_ns, n(source), n(target));
            assert_eq!(arrival_ns.as_slice(), route.arrivals_ns());
        }
        assert_eq!(healed_rng.next_u64(), general_rng.next_u64());
        // With a window open the short path declines before it draws.
        healed.degrade(1, window(LinkDirection::Any));
        assert_eq!(healed.healed_arrival_ns(&mut healed_rng, 0, n(2), n(0)), None);
        let mut unused = SimRng::new(5, Stream::Network);
        for _ in 0..6 {
            unused.next_u64();
        }
        assert_eq!(healed_rng.next_u64(), unused.next_u64());
    }

    #[test]
    fn lost_requests_spare_acks() {
        let mut net = network();
        let mut rng = SimRng::new(1, Stream::Network);
        net.degrade(7, window(LinkDirection::Requests));
        assert!(net.route(&mut rng, 0, n(2), n(0)).arrivals_ns().is_empty(), "request lost");
        assert_eq!(net.route(&mut rng, 0, n(0), n(2)).arrivals_ns().len(), 1, "ack delivered");
        assert_eq!(net.route(&mut rng, 0, n(0), n(1)).arrivals_ns().len(), 1, "server link untouched");
        net.heal(7);
        assert_eq!(net.route(&mut rng, 0, n(2), n(0)).arrivals_ns().len(), 1, "healed");
    }

    #[test]
    fn lost_acks_spare_requests() {
        let mut net = network();
        let mut rng = SimRng::new(1, Stream::Network);
        net.degrade(1, window(LinkDirection::Acks));
        assert!(net.route(&mut rng, 0, n(1), n(3)).arrivals_ns().is_empty());
        assert_eq!(net.route(&mut rng, 0, n(3), n(1)).arrivals_ns().len(), 1);
    }

    #[test]
    fn duplicates_deliver_twice() {
        let mut net = network();
        let mut rng = SimRng::new(1, Stream::Network);
        let mut fault = window(LinkDirection::Any);
        fault.drop_probability = Ratio::ZERO;
        fault.duplicate_probability = Ratio::new(1, 1);
        net.degrade(1, fault);
        assert_eq!(net.route(&mut rng, 0, n(2), n(0)).arrivals_ns().len(), 2);
    }

    #[test]
    fn fifo_without_delay_reorders_with_it() {
        let mut net = network();
        let mut rng = SimRng::new(5, Stream::Network);
        let mut previous = 0;
        for step in 0..200 {
            let arrival = net.route(&mut rng, step, n(2), n(0)).arrivals_ns()[0];
            assert!(arrival >= previous, "FIFO link delivered out of order");
            previous = arrival;
        }
        let mut fault = window(LinkDirection::Any);
        fault.drop_probability = Ratio::ZERO;
        fault.delay_probability = Ratio::new(1, 2);
        fault.delay_ns_max = 50_000_000;
        net.degrade(2, fault);
        let arrivals: Vec<u64> =
            (0..200).map(|step| net.route(&mut rng, 1_000 + step, n(3), n(1)).arrivals_ns()[0]).collect();
        assert!(arrivals.windows(2).any(|pair| pair[1] < pair[0]), "a delay window must reorder");
    }

    #[test]
    fn symmetric_partition_blocks_both_ways_until_heal() {
        let mut net = network();
        net.partition(3, PartitionKind::Symmetric, &[n(0)], &[n(1), n(2)]);
        assert!(net.is_partitioned(n(0), n(1)));
        assert!(net.is_partitioned(n(2), n(0)));
        assert!(!net.is_partitioned(n(1), n(2)));
        let mut rng = SimRng::new(1, Stream::Network);
        assert!(net.route(&mut rng, 0, n(0), n(2)).partitioned);
        net.heal(3);
        assert!(!net.is_partitioned(n(0), n(1)));
    }

    #[test]
    fn one_way_partition_blocks_one_direction() {
        let mut net = network();
        net.partition(1, PartitionKind::OneWay, &[n(0)], &[n(2)]);
        assert!(net.is_partitioned(n(0), n(2)));
        assert!(!net.is_partitioned(n(2), n(0)));
    }

    #[test]
    fn bridge_node_talks_to_both_sides() {
        let mut net = network();
        // 1 is the bridge: 0 and 2 cannot talk, both still reach 1.
        net.partition(1, PartitionKind::Bridge { bridge: n(1) }, &[n(0), n(1)], &[n(1), n(2)]);
        assert!(net.is_partitioned(n(0), n(2)));
        assert!(net.is_partitioned(n(2), n(0)));
        assert!(!net.is_partitioned(n(0), n(1)));
        assert!(!net.is_partitioned(n(1), n(2)));
        assert!(!net.is_partitioned(n(2), n(1)));
    }

    #[test]
    fn per_link_latency_override() {
        let mut options = NetworkOptions::default();
        let slow = LinkLatency { latency_ns_min: 9_000_000, latency_ns_mean: 0 };
        options.overrides.push(LinkOverride { source: n(2), target: n(0), latency: slow });
        let roles = vec![NodeRole::Server, NodeRole::Server, NodeRole::Client];
        let mut net = Network::new(options, roles);
        let mut rng = SimRng::new(1, Stream::Network);
        assert_eq!(net.route(&mut rng, 0, n(2), n(0)).arrivals_ns(), &[9_000_000]);
        assert!(net.route(&mut rng, 0, n(2), n(1)).arrivals_ns()[0] < 9_000_000);
    }
}
