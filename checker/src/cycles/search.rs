//! The search for one cycle of a given class inside one strongly connected component, bounded in steps.
//!
//! As in Elle, a cycle of a class is searched for from an edge it must contain (its pivot: an rw edge for the
//! classes with anti-dependencies, a wr edge for G1c, ...): a breadth-first search from the pivot's target back to
//! its source, over the edge kinds the class allows, in the product of the graph with a small state that counts
//! rw edges and remembers which required kinds were seen, so that the first walk back is the shortest one of the
//! class. Before that, the component is split into the strongly connected components of the allowed edges alone
//! (a cycle of the class lies inside one), and, for G-single, a pivot is skipped when its target cannot reach its
//! source without rw edges (their order in the split of the non-rw edges says so). A walk that repeats an
//! operation is cut down to the simple cycle through the pivot and classified again; only a cycle whose class is
//! the one searched for is returned.
//!
//! Every edge looked at, and every node and edge of a split, costs one step of a [`Budget`]; when it runs out, the
//! search stops and says so, rather than answer from a partial search.

use std::collections::BTreeMap;

use petgraph::algo::{kosaraju_scc, TarjanScc};
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::{EdgeFiltered, EdgeRef};

use super::classify::{classify, Base, Spec, Variant};
use super::graph::{Edge, EdgeKind};

/// Steps every component may take, whatever its size.
const STEPS_BASE: u64 = 100_000;
/// Steps a component may take per node and per edge it has, on top: enough for every split of every class.
const STEPS_PER_ELEMENT: u64 = 64;

/// Components of at most this many nodes are split by Tarjan's algorithm, whose recursion is then at most this deep.
const TARJAN_NODES_MAX: usize = 2048;

/// The steps a search may still take.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    left: u64,
}

/// The budget ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted;

impl Budget {
    /// The budget of a component of `nodes` operations and `edges` edges.
    pub fn for_component(nodes: usize, edges: usize) -> Budget {
        Budget { left: STEPS_BASE + STEPS_PER_ELEMENT * (nodes + edges) as u64 }
    }

    /// A budget of `steps`, for tests that run it out.
    #[cfg(test)]
    pub fn new(steps: u64) -> Budget {
        Budget { left: steps }
    }

    /// Takes `steps`, or says the budget ran out.
    fn spend(&mut self, steps: u64) -> Result<(), Exhausted> {
        self.left = self.left.checked_sub(steps).ok_or(Exhausted)?;
        Ok(())
    }
}

/// One strongly connected component, as a graph of its own: node `i` is op `ops[i]`; each edge carries its kind and
/// its index in the full graph's edge list.
#[derive(Debug)]
pub struct Component {
    ops: Vec<usize>,
    graph: DiGraph<(), (EdgeKind, u32)>,
    /// Per allowed-kinds mask: each node's strongly connected component in the edges of those kinds, by its
    /// position in postorder (a component reachable from another comes first).
    splits: BTreeMap<u8, Vec<u32>>,
    /// Tarjan's algorithm's buffers, reused by every split of a small component.
    tarjan: TarjanScc<NodeIndex>,
    walk: Walk,
}

impl Component {
    /// The component of `ops` (ascending), with the edges `inside` (indices into `edges`, both ends in `ops`).
    pub fn new(ops: Vec<usize>, edges: &[Edge], mut inside: Vec<u32>) -> Component {
        assert!(ops.windows(2).all(|w| w[0] < w[1]));
        let local = |op: u32| ops.binary_search(&(op as usize)).expect("an edge inside the component");
        // One edge per (source, target, kind), in a fixed order, so the search is the same on every run.
        inside.sort_unstable_by_key(|&i| (edges[i as usize].from, edges[i as usize].to, edges[i as usize].kind, i));
        inside.dedup_by_key(|i| (edges[*i as usize].from, edges[*i as usize].to, edges[*i as usize].kind));
        let mut graph = DiGraph::with_capacity(ops.len(), inside.len());
        for _ in &ops {
            graph.add_node(());
        }
        for i in inside {
            let e = &edges[i as usize];
            graph.add_edge(NodeIndex::new(local(e.from)), NodeIndex::new(local(e.to)), (e.kind, i));
        }
        let walk = Walk::new(ops.len());
        Component { ops, graph, splits: BTreeMap::new(), tarjan: TarjanScc::new(), walk }
    }

    /// Its operations, ascending.
    pub fn ops(&self) -> &[usize] {
        &self.ops
    }

    /// How many distinct edges it has.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// A cycle of class `spec`, as indices into the full edge list in order around it, starting with its pivot.
    pub fn find(&mut self, spec: &Spec, budget: &mut Budget) -> Result<Option<Vec<u32>>, Exhausted> {
        let full = self.split(spec.allowed, budget)?.clone();
        // G-single's walk back has no rw edge: its pivot's target must reach its source in the non-rw edges.
        let rest = match spec.base {
            Base::GSingle => Some(self.split(spec.allowed & !EdgeKind::Rw.bit(), budget)?.clone()),
            _ => None,
        };
        let pivots: Vec<EdgeIndex> = self
            .graph
            .edge_indices()
            .filter(|&e| {
                let (u, v) = self.graph.edge_endpoints(e).expect("an edge of the graph");
                let (u, v) = (u.index(), v.index());
                self.graph[e].0 == spec.pivot
                    && full[u] == full[v]
                    && rest.as_ref().is_none_or(|rest| rest[u] <= rest[v])
            })
            .collect();
        for pivot in pivots {
            budget.spend(1)?;
            if let Some(cycle) = self.walk.back(&self.graph, spec, pivot, &full, budget)? {
                if let Some(cycle) = self.simple(spec, cycle) {
                    return Ok(Some(cycle));
                }
            }
        }
        Ok(None)
    }

    /// Whether the edges of the kinds in `mask` alone make a cycle: a component of their split has two nodes.
    pub fn has_cycle(&mut self, mask: u8, budget: &mut Budget) -> Result<bool, Exhausted> {
        let split = self.split(mask, budget)?;
        // Positions number the split's components from 0, so fewer of them than nodes means a shared one.
        let count = split.iter().max().map_or(0, |&m| m as usize + 1);
        Ok(count < split.len())
    }

    /// The strongly connected components of the edges in `mask`, per node, by postorder position (cached).
    fn split(&mut self, mask: u8, budget: &mut Budget) -> Result<&Vec<u32>, Exhausted> {
        if !self.splits.contains_key(&mask) {
            budget.spend((self.graph.node_count() + self.graph.edge_count()) as u64)?;
            let filtered = EdgeFiltered::from_fn(&self.graph, |e| e.weight().0.bit() & mask != 0);
            let mut position = vec![u32::MAX; self.graph.node_count()];
            let mut count = 0;
            let mut place = |component: &[NodeIndex]| {
                for node in component {
                    position[node.index()] = count;
                }
                count += 1;
            };
            // Both list components in postorder. Tarjan's reuses its buffers but recurses once per node of a path,
            // so it only splits components small enough for any thread's stack; Kosaraju's is iterative.
            if self.graph.node_count() <= TARJAN_NODES_MAX {
                self.tarjan.run(&filtered, place);
            } else {
                kosaraju_scc(&filtered).iter().for_each(|c| place(c));
            }
            assert!(position.iter().all(|&p| p != u32::MAX));
            self.splits.insert(mask, position);
        }
        Ok(&self.splits[&mask])
    }

    /// `cycle` (local edges, pivot first) cut down to a simple cycle through the pivot, as full-graph edge indices,
    /// if that is still of the class searched for.
    fn simple(&self, spec: &Spec, mut cycle: Vec<EdgeIndex>) -> Option<Vec<u32>> {
        // Node i of the walk is the source of its edge i; a node seen twice closes a loop that the cycle through the
        // pivot does not need.
        loop {
            let sources: Vec<usize> =
                cycle.iter().map(|&e| self.graph.edge_endpoints(e).map_or(0, |(u, _)| u.index())).collect();
            let repeat =
                (1..sources.len()).find_map(|j| sources[..j].iter().position(|&s| s == sources[j]).map(|i| (i, j)));
            let Some((i, j)) = repeat else { break };
            cycle.drain(i..j);
        }
        let kinds: Vec<EdgeKind> = cycle.iter().map(|&e| self.graph[e].0).collect();
        assert_eq!(kinds[0], spec.pivot, "the pivot stays first");
        (classify(&kinds) == (spec.base, spec.variant)).then(|| cycle.iter().map(|&e| self.graph[e].1).collect())
    }
}

/// A node reached in a walk, with the state it was reached in and how.
#[derive(Clone, Copy, Debug)]
struct Visit {
    node: u32,
    state: u8,
    /// The visit it was reached from, or `u32::MAX` for the pivot's target.
    parent: u32,
    edge: EdgeIndex,
}

/// Reusable buffers of the breadth-first walk.
#[derive(Debug)]
struct Walk {
    /// Per node: the states it has been reached in, one bit each.
    seen: Vec<u64>,
    queue: Vec<Visit>,
}

// The walk's state, in six bits: rw edges so far (0, 1, or 2 for two or more), the last edge was rw, two rw edges
// were adjacent, a wr edge was seen, the variant's order edge was seen.
const RW_COUNT: u8 = 0b11;
const LAST_RW: u8 = 1 << 2;
const ADJACENT: u8 = 1 << 3;
const WR_SEEN: u8 = 1 << 4;
const ORDER_SEEN: u8 = 1 << 5;

impl Walk {
    fn new(nodes: usize) -> Walk {
        Walk { seen: vec![0; nodes], queue: Vec::new() }
    }

    /// The shortest walk of class `spec` from the pivot's target back to its source, inside the pivot's split
    /// component, as local edges, pivot first.
    fn back(
        &mut self,
        graph: &DiGraph<(), (EdgeKind, u32)>,
        spec: &Spec,
        pivot: EdgeIndex,
        split: &[u32],
        budget: &mut Budget,
    ) -> Result<Option<Vec<EdgeIndex>>, Exhausted> {
        let (source, target) = graph.edge_endpoints(pivot).expect("an edge of the graph");
        let start = step(spec, 0, spec.pivot).expect("the pivot is allowed");
        self.queue.clear();
        self.queue.push(Visit { node: target.index() as u32, state: start, parent: u32::MAX, edge: pivot });
        self.seen[target.index()] |= 1 << start;
        let mut found = None;
        let mut head = 0;
        'walk: while head < self.queue.len() {
            let visit = self.queue[head];
            for e in graph.edges(NodeIndex::new(visit.node as usize)) {
                budget.spend(1)?;
                let next = e.target();
                if split[next.index()] != split[source.index()] {
                    continue;
                }
                let Some(state) = step(spec, visit.state, e.weight().0) else { continue };
                if next == source {
                    if accepts(spec, state) {
                        found = Some((head as u32, e.id()));
                        break 'walk;
                    }
                } else if self.seen[next.index()] & (1 << state) == 0 {
                    self.seen[next.index()] |= 1 << state;
                    self.queue.push(Visit { node: next.index() as u32, state, parent: head as u32, edge: e.id() });
                }
            }
            head += 1;
        }
        for visit in &self.queue {
            self.seen[visit.node as usize] = 0;
        }
        Ok(found.map(|(last, edge)| self.path(last, edge)))
    }

    /// The edges from the pivot to `last` (a visit) and then `edge`.
    fn path(&self, last: u32, edge: EdgeIndex) -> Vec<EdgeIndex> {
        let mut edges = vec![edge];
        let mut at = last;
        while at != u32::MAX {
            let visit = self.queue[at as usize];
            edges.push(visit.edge);
            at = visit.parent;
        }
        edges.reverse();
        edges
    }
}

/// The state after taking an edge of `kind` in `state`, or `None` if a cycle of class `spec` cannot take it.
fn step(spec: &Spec, state: u8, kind: EdgeKind) -> Option<u8> {
    if spec.allowed & kind.bit() == 0 {
        return None;
    }
    let rw = kind == EdgeKind::Rw;
    let count = ((state & RW_COUNT) + u8::from(rw)).min(2);
    // G-single has one rw edge: its pivot.
    if spec.base == Base::GSingle && count > 1 {
        return None;
    }
    let adjacent = state & ADJACENT != 0 || (rw && state & LAST_RW != 0);
    if spec.base == Base::GNonadjacent && adjacent {
        return None;
    }
    let order = match spec.variant {
        Variant::Data => false,
        Variant::Process => kind == EdgeKind::Process,
        Variant::Realtime => kind == EdgeKind::Realtime,
    };
    let mut next = count;
    next |= if rw { LAST_RW } else { 0 };
    next |= if adjacent { ADJACENT } else { 0 };
    next |= state & WR_SEEN | if kind == EdgeKind::Wr { WR_SEEN } else { 0 };
    next |= state & ORDER_SEEN | if order { ORDER_SEEN } else { 0 };
    assert!(next < 64);
    Some(next)
}

/// Whether a walk back to the pivot's source in `state` closes a cycle of class `spec`.
fn accepts(spec: &Spec, state: u8) -> bool {
    let count = state & RW_COUNT;
    // Around the cycle, the last edge is followed by the pivot.
    let adjacent = state & ADJACENT != 0 || (state & LAST_RW != 0 && spec.pivot == EdgeKind::Rw);
    let data = match spec.base {
        Base::G0 => count == 0,
        Base::G1cWr | Base::G1c => count == 0 && state & WR_SEEN != 0,
        Base::GSingle => count == 1,
        Base::GNonadjacent => count == 2 && !adjacent,
        Base::G2Item => count == 2 && adjacent,
    };
    data && (spec.variant == Variant::Data || state & ORDER_SEEN != 0)
}
