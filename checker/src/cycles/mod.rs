//! Dependency cycles (Elle): operations whose reads and writes admit no serial order.
//!
//! Serializability means the committed operations can be put in one order that explains everything each of them
//! saw. Every dependency between two operations forces one before the other (see [`EdgeKind`], and `graph.rs` for
//! how each is read off a Kafka history): ww, the writer of a partition's record before the writer of the next
//! record; wr, a writer before an operation that read its record; rw (an anti-dependency), an operation that read a
//! partition up to some record before the writer of the next record, which it did not see; and, when the claim also
//! covers them, each process's own order and real time. A cycle of dependencies forces an operation before itself:
//! no serial order exists. Elle names the cycle by its edges (see [`Base`] and [`Variant`]): G0 (ww only: writes
//! interleaved), G1c (ww and wr: circular information flow), G-single (one rw: a read skew), G-nonadjacent and
//! G2-item (two or more rw), each with a `-process` or `-realtime` form when the cycle needs a process or realtime
//! edge.
//!
//! Kafka does not claim serializability: a transaction's records may interleave with another's (a G0), and a
//! read_committed consumer may see one partition of a transaction before another (a G-single). So these cycles are
//! reported for what they are and judged as violations only under the `serializable` claim (see
//! [`Guarantee::forbids`](crate::Guarantee::forbids)).
//!
//! The search, per strongly connected component of the graph: for each class from the most severe (G0, then G1c,
//! ..., then the `-process` forms, then the `-realtime` ones), unless a class found already implies it, look for a
//! cycle of that class ([`search`]), and report the first one found: one anomaly per class per component, naming
//! the operations around the cycle and one sentence per edge. Each component's search has a step budget in
//! proportion to its size; when it runs out, the classes not yet searched are not reported (the cycles already
//! found are real), and [`CycleSearch::exhausted`] counts the component.
//!
//! Worked example (G0). Processes 1 and 2 each write a-0 and b-0 in one transaction; a-0 holds 1's record first,
//! b-0 holds 2's first:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","a-0",10],["send","b-0",11]]}
//! {"index":1,"time":1,"process":2,"type":"invoke","f":"txn","value":[["send","a-0",20],["send","b-0",21]]}
//! {"index":2,"time":2,"process":1,"type":"ok","f":"txn","value":[["send","a-0",[0,10]],["send","b-0",[1,11]]]}
//! {"index":3,"time":3,"process":2,"type":"ok","f":"txn","value":[["send","a-0",[1,20]],["send","b-0",[0,21]]]}
//! ```
//!
//! Versions: a-0 is 10 (op 2) then 20 (op 3); b-0 is 21 (op 3) then 11 (op 2). ww edges: 2 → 3 (a-0) and 3 → 2
//! (b-0): a cycle of ww edges only, a G0, ops [2, 3]. The two transactions were both concurrent, so no process or
//! realtime edge joins it. Had b-0 held 11 first, both edges would run 2 → 3 and there would be no cycle.

mod classify;
mod graph;
mod search;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;

pub use classify::{Base, Variant};
pub use graph::{Edge, EdgeKind, Graph, Version};

use crate::{Analysis, Anomaly, AnomalyKind};
use classify::Spec;
use search::{Budget, Component};

/// Every cycle the search found, with the graph they are cycles of.
#[derive(Debug)]
pub struct CycleSearch {
    /// The dependency graph.
    pub graph: Graph,
    /// Per cycle: its kind and its edges in order around it (indices into `graph.edges`), from its lowest op.
    pub cycles: Vec<(AnomalyKind, Vec<u32>)>,
    /// How many components ran out of steps before every class was searched.
    pub exhausted: usize,
}

/// Every cycle kind, in report order.
pub fn kinds() -> impl Iterator<Item = AnomalyKind> {
    classify::kinds()
}

/// Builds the dependency graph of `analysis` and searches each of its components for cycles.
pub fn search(analysis: &Analysis<'_>) -> CycleSearch {
    search_with(analysis, Budget::for_component)
}

/// [`search`], with the budget of a component of so many nodes and edges given by `budget_of`.
fn search_with(analysis: &Analysis<'_>, budget_of: impl Fn(usize, usize) -> Budget) -> CycleSearch {
    let graph = graph::build(analysis);
    let mut cycles = Vec::new();
    let mut exhausted = 0;
    for (ops, inside) in components_with_edges(analysis, &graph) {
        let mut component = Component::new(ops, &graph.edges, inside);
        let mut budget = budget_of(component.ops().len(), component.edge_count());
        let mut found: Vec<(Base, Variant)> = Vec::new();
        'classes: for variant in classify::VARIANTS {
            // One split tells whether any class of the variant can be there: its cycles use those kinds only.
            match component.has_cycle(Spec::new(Base::G2Item, variant).allowed, &mut budget) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(search::Exhausted) => {
                    exhausted += 1;
                    break 'classes;
                }
            }
            for base in classify::BASES {
                let spec = Spec::new(base, variant);
                if found.iter().any(|&(b, v)| spec.implied_by(b, v)) {
                    continue;
                }
                match component.find(&spec, &mut budget) {
                    Ok(Some(cycle)) => {
                        found.push((base, variant));
                        cycles.push((classify::kind(base, variant), rotate(&graph, cycle)));
                    }
                    Ok(None) => {}
                    Err(search::Exhausted) => {
                        exhausted += 1;
                        break 'classes;
                    }
                }
            }
        }
    }
    CycleSearch { graph, cycles, exhausted }
}

/// Each component's ops, with the indices of the edges between two of its ops.
fn components_with_edges(analysis: &Analysis<'_>, graph: &Graph) -> Vec<(Vec<usize>, Vec<u32>)> {
    let mut component_of: Vec<u32> = vec![u32::MAX; analysis.history.ops.len()];
    for (i, ops) in graph.components.iter().enumerate() {
        for &op in ops {
            component_of[op] = i as u32;
        }
    }
    let mut inside: Vec<Vec<u32>> = vec![Vec::new(); graph.components.len()];
    for (i, e) in graph.edges.iter().enumerate() {
        let c = component_of[e.from as usize];
        if c != u32::MAX && c == component_of[e.to as usize] {
            inside[c as usize].push(i as u32);
        }
    }
    graph.components.iter().cloned().zip(inside).collect()
}

/// The cycle `cycle` (edge indices in order around it) started from its lowest op.
fn rotate(graph: &Graph, mut cycle: Vec<u32>) -> Vec<u32> {
    let lowest = (0..cycle.len()).min_by_key(|&i| graph.edges[cycle[i] as usize].from).unwrap_or(0);
    cycle.rotate_left(lowest);
    assert!(cycle.windows(2).all(|w| graph.edges[w[0] as usize].to == graph.edges[w[1] as usize].from));
    cycle
}

/// Every cycle, one anomaly per class found per component.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    let found = search(analysis);
    found.cycles.iter().map(|(kind, cycle)| anomaly(analysis, &found.graph, *kind, cycle)).collect()
}

fn anomaly(analysis: &Analysis<'_>, graph: &Graph, kind: AnomalyKind, cycle: &[u32]) -> Anomaly {
    let edges: Vec<&Edge> = cycle.iter().map(|&i| &graph.edges[i as usize]).collect();
    assert!(edges.len() >= 2);
    let mut ops: Vec<usize> = edges.iter().map(|e| e.from as usize).collect();
    let mut around = ops.iter().map(ToString::to_string).collect::<Vec<_>>().join(" → ");
    let _ = write!(around, " → {}", ops[0]);
    let mut values = Vec::new();
    let mut offsets = Vec::new();
    let mut sentences = Vec::new();
    for e in &edges {
        sentences.push(sentence(analysis, graph, e));
        if matches!(e.kind, EdgeKind::Ww | EdgeKind::Wr | EdgeKind::Rw) {
            let versions = &graph.versions[e.key as usize];
            for v in [versions[e.version as usize], versions[e.next as usize]] {
                values.push(v.value);
                offsets.push(v.offset);
            }
        }
    }
    let key = edges.iter().find(|e| e.kind != EdgeKind::Process && e.kind != EdgeKind::Realtime);
    let key = key.map(|e| analysis.keys[e.key as usize].key.clone()).unwrap_or_default();
    ops.sort_unstable();
    Anomaly {
        kind,
        key,
        values: crate::anomaly::sorted_distinct(values),
        offsets: crate::anomaly::sorted_distinct(offsets),
        ops,
        explanation: format!(
            "ops {around} form a {} cycle ({}): {}; so no serial order of them explains what they saw",
            kind.name(),
            summary(kind),
            sentences.join("; ")
        ),
    }
}

/// What makes a cycle of `kind` that kind, in a few words.
fn summary(kind: AnomalyKind) -> String {
    let (base, variant) = classify::class_of(kind).expect("a cycle kind");
    let data = match base {
        Base::G0 => "write-write dependencies only",
        Base::G1cWr => "write-read dependencies only",
        Base::G1c => "write-write and write-read dependencies, no anti-dependency",
        Base::GSingle => "one anti-dependency",
        Base::GNonadjacent => "two or more anti-dependencies, no two adjacent",
        Base::G2Item => "two or more anti-dependencies, two adjacent",
    };
    let order = match variant {
        Variant::Data => "",
        Variant::Process => ", and process order",
        Variant::Realtime => ", and realtime order",
    };
    format!("{data}{order}")
}

/// One sentence for an edge of the cycle.
fn sentence(analysis: &Analysis<'_>, graph: &Graph, e: &Edge) -> String {
    let (from, to) = (e.from, e.to);
    let version = |j: u32| graph.versions[e.key as usize][j as usize];
    let key = || &analysis.keys[e.key as usize].key;
    match e.kind {
        EdgeKind::Ww => {
            let (a, b) = (version(e.version), version(e.next));
            format!(
                "op {from} wrote {} offset {} (value {}) and op {to} the next version, offset {} (value {})",
                key(),
                a.offset,
                a.value,
                b.offset,
                b.value
            )
        }
        EdgeKind::Wr => {
            let a = version(e.version);
            format!("op {from} wrote {} offset {} (value {}), op {to} read it", key(), a.offset, a.value)
        }
        EdgeKind::Rw => {
            let (a, b) = (version(e.version), version(e.next));
            format!(
                "op {from} read {} up to offset {} (value {}), and op {to} wrote the next version, offset {} \
                 (value {})",
                key(),
                a.offset,
                a.value,
                b.offset,
                b.value
            )
        }
        EdgeKind::Process => {
            let process = analysis.history.ops[from as usize].process;
            format!("op {from} and then op {to} are operations of process {process}")
        }
        EdgeKind::Realtime => {
            let invoked = analysis.invoke_of(to as usize).unwrap_or(to as usize);
            format!("op {from} completed before op {to} was invoked (op {invoked})")
        }
    }
}
