//! The dependency graph between committed operations, built as Jepsen's Kafka checker builds it for Elle.
//!
//! Nodes are the operations that committed (completed `ok`, or `info` and proven committed) and sent or read
//! records. Each partition's versions are its records in offset order: an offset counts only when one value is
//! known there and it is that value's first offset (`inconsistent-offsets` and `duplicate` report the others,
//! and a cycle built on them would only repeat those findings). Edges:
//! - ww: the writer of a version → the writer of the next version that has a committed writer;
//! - wr: the writer of a version → an operation whose highest read of that partition was that version (writers of
//!   earlier versions it read reach it through ww);
//! - rw: an operation whose highest read of a partition was a version → the writer of the next version, which it
//!   did not see (Jepsen: edges only from the highest read, since earlier reads do not show what it missed);
//! - process: an ok operation → the next committed operation of the same process;
//! - realtime: an ok operation → an operation invoked after it completed, built sparsely as Elle does: each
//!   invocation is linked from the frontier of operations that completed and have no completed successor yet, and
//!   an operation that completes removes its own predecessors from the frontier, since they reach everything after
//!   it through it. The frontier holds at most [`FRONTIER_MAX`] operations (the oldest are dropped: fewer edges can
//!   only hide a cycle, never invent one).
//!
//! Process and realtime edges always go forward in the history, from an earlier end to a later one. So a cycle
//! needs a data edge going backward, and every cut of the history inside the cycle's span is crossed by a backward
//! edge of the cycle: the cycle lies within one connected stretch of the spans of backward data edges. Only those
//! stretches are built into a graph, which on a history without backward edges (a serial one, say) is nothing: one
//! pass over each partition's observations finds that out first, building nothing.

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::analysis::{Analysis, KeyId, KeyIndex, Observation, Source};
use crate::history::{Offset, OpType, Value};

/// How many operations the realtime frontier holds at most.
pub const FRONTIER_MAX: usize = 64;

/// The relation an edge stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EdgeKind {
    /// Write-write: the source wrote a version of a partition, the target the next one.
    Ww,
    /// Write-read: the source wrote a version, the target read it (as its highest read of the partition).
    Wr,
    /// Read-write (anti-dependency): the source read a version, the target wrote the next one.
    Rw,
    /// Process order: successive operations of one process.
    Process,
    /// Realtime order: the source completed before the target was invoked.
    Realtime,
}

impl EdgeKind {
    /// The kind as one bit, so that sets of kinds are masks.
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// One record of a partition whose place in its version order is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    /// Its offset.
    pub offset: Offset,
    /// Its value.
    pub value: Value,
    /// The op that ends its committed writer, when the history has one.
    pub writer: Option<usize>,
}

/// One dependency between two committed operations, with what proves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The source op (the op that ends its operation).
    pub from: u32,
    /// The target op.
    pub to: u32,
    /// The relation.
    pub kind: EdgeKind,
    /// For ww, wr and rw: the partition.
    pub key: u32,
    /// For ww, wr and rw: the version (an index into the partition's versions) the source wrote or read.
    pub version: u32,
    /// For ww and rw: the version the target wrote; for wr, the same as `version`.
    pub next: u32,
}

/// The dependency graph of the stretches of a history where cycles can be, and its strongly connected components.
#[derive(Debug)]
pub struct Graph {
    /// Per partition, by key id, its versions in offset order.
    pub versions: Vec<Vec<Version>>,
    /// Every edge of the graph (data edges between stretches are left out).
    pub edges: Vec<Edge>,
    /// Every strongly connected component of two or more operations, each sorted by op, in order of first op.
    pub components: Vec<Vec<usize>>,
}

/// Builds the graph of `analysis`; with no backward data edge it is empty, and no component is computed.
pub fn build(analysis: &Analysis<'_>) -> Graph {
    // Per op: the last partition whose highest read by that op was taken, plus one.
    let mut stamp: Vec<u32> = vec![0; analysis.history.ops.len()];
    if !has_backward_edge(analysis, &mut stamp) {
        return Graph { versions: Vec::new(), edges: Vec::new(), components: Vec::new() };
    }
    stamp.fill(0);
    let graph = build_all(analysis, &mut stamp);
    assert!(!graph.edges.is_empty(), "the first pass found a backward edge that the build does not have");
    graph
}

/// [`build`] without the first pass: every data edge, then the stretches' order edges and components.
pub(super) fn build_all(analysis: &Analysis<'_>, stamp: &mut [u32]) -> Graph {
    let mut versions = Vec::with_capacity(analysis.keys.len());
    let mut edges = Vec::new();
    let mut reads = Vec::new();
    for (key, index) in analysis.keys.iter().enumerate() {
        let key_versions = versions_of(analysis, index);
        write_edges(key, &key_versions, &mut edges);
        highest_reads(analysis, key, index, stamp, &mut reads);
        read_edges(key, &key_versions, &reads, &mut edges);
        versions.push(key_versions);
    }
    let stretches = stretches(&edges);
    if stretches.is_empty() {
        return Graph { versions, edges: Vec::new(), components: Vec::new() };
    }
    // A data edge can be on a cycle only inside one stretch.
    edges.retain(|e| {
        stretch_of(&stretches, e.from.min(e.to) as usize).is_some_and(|s| e.from.max(e.to) as usize <= s.1)
    });
    for &stretch in &stretches {
        order_edges(analysis, stretch, &mut edges);
    }
    let components = components(analysis, &stretches, &edges);
    Graph { versions, edges, components }
}

/// Whether some data edge of the graph would point backward, found in one pass over each partition's observations,
/// from its end, building nothing: the same versions ([`version_at`]), writers and highest reads as the full build.
pub(super) fn has_backward_edge(analysis: &Analysis<'_>, stamp: &mut [u32]) -> bool {
    for (key, index) in analysis.keys.iter().enumerate() {
        let duplicated = has_duplicates(index);
        let mark = key as u32 + 1;
        // The writer of the nearest later version that has one; the last reader met, to skip its other reads fast.
        let mut later: Option<usize> = None;
        let mut last_reader = usize::MAX;
        for group in index.observations.chunk_by(|a, b| a.offset == b.offset).rev() {
            let version = version_at(analysis, index, group, duplicated);
            for o in group.iter().rev().filter(|o| o.source != Source::Send) {
                if o.op == last_reader || stamp[o.op] == mark {
                    continue;
                }
                (last_reader, stamp[o.op]) = (o.op, mark);
                let Some(version) = version.filter(|v| v.value == o.value) else { continue };
                if o.source == Source::OtherRead && !analysis.is_committed_end(o.op) {
                    continue;
                }
                // wr from the version's writer, rw to the next version's.
                if version.writer.is_some_and(|w| w != o.op && w > o.op) || later.is_some_and(|w| w != o.op && o.op > w)
                {
                    return true;
                }
            }
            if let Some(writer) = version.and_then(|v| v.writer) {
                if later.is_some_and(|w| w != writer && writer > w) {
                    return true;
                }
                later = Some(writer);
            }
        }
    }
    false
}

/// Whether some value of the partition sits at two offsets: only then must a version's first offset be checked.
fn has_duplicates(index: &KeyIndex) -> bool {
    index.by_value.windows(2).any(|w| w[0].0 == w[1].0 && w[0].1 != w[1].1)
}

/// The version at one offset of a partition, from the observations there (`group`), if it is one: a single value,
/// at its first offset.
fn version_at(analysis: &Analysis<'_>, index: &KeyIndex, group: &[Observation], duplicated: bool) -> Option<Version> {
    let (offset, value) = (group[0].offset, group[0].value);
    assert!(group.iter().all(|o| o.offset == offset));
    // Observations are sorted by value within an offset, so one value means the last is the first.
    if group[group.len() - 1].value != value || (duplicated && index.observed_offset(value) != Some(offset)) {
        return None;
    }
    // An acknowledgement is the writer's own observation; otherwise the write is looked up by value.
    let acknowledged = group.iter().find(|o| o.source == Source::Send).map(|o| o.op);
    let writer = acknowledged.or_else(|| {
        let write = index.writer_of(value).filter(|w| w.status.committed());
        write.map(|w| w.op()).filter(|&op| analysis.is_committed_end(op))
    });
    Some(Version { offset, value, writer })
}

/// The versions of one partition, in offset order.
fn versions_of(analysis: &Analysis<'_>, index: &KeyIndex) -> Vec<Version> {
    let duplicated = has_duplicates(index);
    let groups = index.observations.chunk_by(|a, b| a.offset == b.offset);
    let versions: Vec<Version> = groups.filter_map(|group| version_at(analysis, index, group, duplicated)).collect();
    assert!(versions.windows(2).all(|w| w[0].offset < w[1].offset));
    versions
}

/// The ww edges of one partition: each version's writer to the next version's, when they differ.
fn write_edges(key: KeyId, versions: &[Version], edges: &mut Vec<Edge>) {
    let mut previous: Option<(u32, usize)> = None;
    for (j, version) in versions.iter().enumerate() {
        let Some(writer) = version.writer else { continue };
        if let Some((i, earlier)) = previous.filter(|p| p.1 != writer) {
            edges.push(edge(earlier, writer, EdgeKind::Ww, key, i, j as u32));
        }
        previous = Some((j as u32, writer));
    }
}

/// Each committed operation's highest read of partition `key`, into `reads` (cleared first) as (op, offset, value).
/// `stamp` marks, per op, the last partition (plus one) whose highest read by it was taken.
fn highest_reads(
    analysis: &Analysis<'_>,
    key: KeyId,
    index: &KeyIndex,
    stamp: &mut [u32],
    reads: &mut Vec<(usize, Offset, Value)>,
) {
    reads.clear();
    let mark = key as u32 + 1;
    let mut last_reader = usize::MAX;
    // Observations are sorted by offset, so walking them backwards meets each op's highest read first.
    for o in index.observations.iter().rev().filter(|o| o.source != Source::Send) {
        if o.op == last_reader || stamp[o.op] == mark {
            continue;
        }
        (last_reader, stamp[o.op]) = (o.op, mark);
        // A read by an operation that failed or whose outcome is unknown and unproven is no dependency.
        if o.source == Source::OkRead || analysis.is_committed_end(o.op) {
            reads.push((o.op, o.offset, o.value));
        }
    }
}

/// The wr and rw edges of the highest reads `reads` of partition `key`.
fn read_edges(key: KeyId, versions: &[Version], reads: &[(usize, Offset, Value)], edges: &mut Vec<Edge>) {
    if reads.is_empty() {
        return;
    }
    // Per version: the first version at or after it that has a writer (or the count, if none).
    let mut next_written = vec![versions.len() as u32; versions.len() + 1];
    for j in (0..versions.len()).rev() {
        next_written[j] = if versions[j].writer.is_some() { j as u32 } else { next_written[j + 1] };
    }
    for &(reader, offset, value) in reads {
        let Ok(j) = versions.binary_search_by_key(&offset, |v| v.offset) else { continue };
        if versions[j].value != value {
            continue;
        }
        if let Some(writer) = versions[j].writer.filter(|&w| w != reader) {
            edges.push(edge(writer, reader, EdgeKind::Wr, key, j as u32, j as u32));
        }
        let n = next_written[j + 1] as usize;
        if let Some(writer) = versions.get(n).and_then(|v| v.writer).filter(|&w| w != reader) {
            edges.push(edge(reader, writer, EdgeKind::Rw, key, j as u32, n as u32));
        }
    }
}

fn edge(from: usize, to: usize, kind: EdgeKind, key: KeyId, version: u32, next: u32) -> Edge {
    assert!(from != to, "no self-edges");
    let (from, to) = (u32::try_from(from).expect("op index fits"), u32::try_from(to).expect("op index fits"));
    Edge { from, to, kind, key: key as u32, version, next }
}

/// The stretches of the history where a cycle can be: the spans (target, source) of backward data edges, merged
/// where they overlap, ascending.
fn stretches(edges: &[Edge]) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> =
        edges.iter().filter(|e| e.from > e.to).map(|e| (e.to as usize, e.from as usize)).collect();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (low, high) in spans {
        match merged.last_mut() {
            // Sharing an op is enough: a cycle can cross from one span to the other through it.
            Some(last) if low <= last.1 => last.1 = last.1.max(high),
            _ => merged.push((low, high)),
        }
    }
    assert!(merged.windows(2).all(|w| w[0].1 < w[1].0));
    merged
}

/// The stretch that holds op `op`, if one does.
fn stretch_of(stretches: &[(usize, usize)], op: usize) -> Option<(usize, usize)> {
    let i = stretches.partition_point(|s| s.1 < op);
    stretches.get(i).copied().filter(|s| s.0 <= op)
}

/// Adds the process and realtime edges between operations of one stretch, walking it once.
fn order_edges(analysis: &Analysis<'_>, (low, high): (usize, usize), edges: &mut Vec<Edge>) {
    // Per process slot: its last ok operation so far in the stretch.
    let mut last_ok: Vec<Option<usize>> = vec![None; analysis.process_count()];
    let mut frontier: Vec<usize> = Vec::new();
    // Per operation in flight (by its end op): the frontier it was linked from, as a range of `linked`.
    let mut preds: Vec<(usize, usize, usize)> = Vec::new();
    let mut linked: Vec<usize> = Vec::new();
    for op in low..=high {
        let invocation = analysis.op_type(op) == OpType::Invoke;
        let end = if invocation { analysis.partner[op].unwrap_or(op) } else { op };
        if end > high || !analysis.is_committed_end(end) {
            continue;
        }
        if invocation {
            // Everything in the frontier completed before this invocation. (An operation with no invocation has
            // no known start, so nothing is known to have completed before it.)
            let start = linked.len();
            for &earlier in &frontier {
                edges.push(edge(earlier, end, EdgeKind::Realtime, 0, 0, 0));
                linked.push(earlier);
            }
            preds.push((end, start, linked.len()));
            if end != op {
                continue;
            }
        }
        // The operation ends here (an invocation never completed ends where it starts).
        let slot = analysis.process_slot(op);
        let started = analysis.invoke_of(op).unwrap_or(op);
        // A process has one operation in flight, so its previous ok one completed before this one started; the
        // check guards against histories that break that rule.
        if let Some(earlier) = last_ok[slot].filter(|&earlier| earlier < started) {
            edges.push(edge(earlier, op, EdgeKind::Process, 0, 0, 0));
        }
        let before = preds.iter().position(|p| p.0 == op).map(|i| preds.swap_remove(i));
        if analysis.op_type(op) == OpType::Ok {
            last_ok[slot] = Some(op);
            advance_frontier(&mut frontier, before.map_or(&[][..], |(_, start, end)| &linked[start..end]), op);
        }
    }
}

/// Operation `op` completed ok: the operations it was linked from (`before`) leave the frontier, since they reach
/// everything after it through it, and it joins.
fn advance_frontier(frontier: &mut Vec<usize>, before: &[usize], op: usize) {
    frontier.retain(|f| !before.contains(f));
    frontier.push(op);
    if frontier.len() > FRONTIER_MAX {
        frontier.remove(0);
    }
    assert!(frontier.len() <= FRONTIER_MAX);
}

/// The strongly connected components of two or more operations.
fn components(analysis: &Analysis<'_>, stretches: &[(usize, usize)], edges: &[Edge]) -> Vec<Vec<usize>> {
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let mut node_of: Vec<u32> = vec![u32::MAX; analysis.history.ops.len()];
    for &(low, high) in stretches {
        for op in (low..=high).filter(|&op| analysis.is_committed_end(op)) {
            node_of[op] = graph.add_node(op).index() as u32;
        }
    }
    for e in edges {
        let (from, to) = (node_of[e.from as usize], node_of[e.to as usize]);
        assert!(from != u32::MAX && to != u32::MAX, "an edge between ops outside the stretches");
        graph.add_edge(NodeIndex::new(from as usize), NodeIndex::new(to as usize), ());
    }
    // Kosaraju's algorithm, which petgraph runs iteratively: its Tarjan recurses once per node of a path, and a
    // partition's ww chain is a path as long as the partition.
    let mut components: Vec<Vec<usize>> = kosaraju_scc(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            let mut ops: Vec<usize> = c.iter().map(|&n| graph[n]).collect();
            ops.sort_unstable();
            ops
        })
        .collect();
    components.sort_unstable();
    components
}
