//! The history's micro-ops flattened into one array of small records, built in a single walk.
//!
//! A history is a vector of ops whose micro-ops, keys and reads live in many small heap blocks. Every pass that
//! walks them chases pointers, and on a long history each pass then costs a cache miss or more per op. So the walk
//! is done once: [`flatten`] pairs invocations with completions, interns every key, and copies each op's sends,
//! reads and keys, in order, into [`Rec`]s in one vector, and each op's few fixed fields into a [`Meta`] of eight
//! bytes, with its process renumbered densely. The other passes read those vectors front to back, which the
//! processor streams, and keep per-process state in plain vectors.

use super::keys::KeyTable;
use super::KeyId;
use crate::history::{History, MicroOp, Offset, OpFn, OpType, Value};
use crate::processes::{pair, DenseProcesses};

/// What a record stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A send micro-op to `key` of `value`, at `offset` when `has_offset`.
    Send,
    /// A poll micro-op's result for `key` (possibly empty): its reads follow.
    PollKey,
    /// One record read, (`offset`, `value`), of the key of the `PollKey` before it.
    Read,
    /// One of `op.keys`: assigned (assign, subscribe) or rebalanced during the op (send, poll, txn).
    Key,
}

/// One flattened entry; `key` is a [`KeyId`] once [`flatten`] returns.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rec {
    pub(super) key: u32,
    pub(super) kind: Kind,
    pub(super) has_offset: bool,
    pub(super) offset: Offset,
    pub(super) value: Value,
}

/// An op's fixed fields, in eight bytes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Meta {
    pub(super) op_type: OpType,
    pub(super) f: OpFn,
    pub(super) final_poll: bool,
    /// Whether `op.keys` is not empty (its `Key` records follow its micro-ops' records).
    pub(super) has_keys: bool,
    /// The process, renumbered densely in order of first sight; `Flat::processes` maps it back.
    pub(super) process: u32,
}

/// Every op's records, and what else the walk found.
#[derive(Debug)]
pub(super) struct Flat {
    pub(super) recs: Vec<Rec>,
    /// Per op, its fixed fields.
    pub(super) meta: Vec<Meta>,
    /// Per dense process id, the process.
    pub(super) processes: Vec<u64>,
    /// Op `i`'s records are `recs[starts[i]..starts[i + 1]]`.
    pub(super) starts: Vec<usize>,
    /// For each op, its invocation's completion or its completion's invocation.
    pub(super) partner: Vec<Option<usize>>,
    /// Whether any op has a sink micro-op (they are rare and read from the ops themselves).
    pub(super) has_sinks: bool,
    /// Whether any send names its source record (consume-transform-produce provenance, read from the ops too).
    pub(super) has_sources: bool,
}

impl Flat {
    /// Op `index`'s records, in the order its micro-ops and keys list them.
    pub(super) fn recs(&self, index: usize) -> &[Rec] {
        &self.recs[self.starts[index]..self.starts[index + 1]]
    }
}

/// Walks `history` once: pairs ops, interns keys (ids in sorted order of names) and flattens every op.
pub(super) fn flatten(history: &History) -> (Flat, KeyTable<'_>, Vec<&str>) {
    let mut table = KeyTable::new();
    let mut flat = Flat {
        recs: Vec::with_capacity(history.ops.len() * 2),
        meta: Vec::with_capacity(history.ops.len()),
        processes: Vec::new(),
        starts: Vec::with_capacity(history.ops.len() + 1),
        partner: vec![None; history.ops.len()],
        has_sinks: false,
        has_sources: false,
    };
    let mut processes = DenseProcesses::default();
    let mut in_flight: Vec<Option<usize>> = Vec::new();
    let rec = |key: u32, kind: Kind, offset: Option<Offset>, value: Value| Rec {
        key,
        kind,
        has_offset: offset.is_some(),
        offset: offset.unwrap_or(0),
        value,
    };
    for op in &history.ops {
        let (process, first_sight) = processes.id(op.process);
        if first_sight {
            flat.processes.push(op.process);
            in_flight.push(None);
        }
        pair(&mut flat.partner, &mut in_flight[process], op.op_type, op.index);
        let process = process as u32;
        let has_keys = !op.keys.is_empty();
        flat.meta.push(Meta { op_type: op.op_type, f: op.f, final_poll: op.final_poll, has_keys, process });
        flat.starts.push(flat.recs.len());
        for mop in &op.mops {
            match mop {
                MicroOp::Send { key, value, offset, source } => {
                    flat.has_sources |= source.is_some();
                    flat.recs.push(rec(table.insert(key), Kind::Send, *offset, *value));
                }
                MicroOp::Poll { reads } => {
                    for (key, records) in reads {
                        flat.recs.push(rec(table.insert(key), Kind::PollKey, None, 0));
                        let id = flat.recs[flat.recs.len() - 1].key;
                        flat.recs
                            .extend(records.iter().map(|&(offset, value)| rec(id, Kind::Read, Some(offset), value)));
                    }
                }
                // Sinks name keys of external stores, not partitions.
                MicroOp::Sink { .. } => flat.has_sinks = true,
            }
        }
        for key in &op.keys {
            flat.recs.push(rec(table.insert(key), Kind::Key, None, 0));
        }
    }
    flat.starts.push(flat.recs.len());
    let names = table.finish();
    for rec in &mut flat.recs {
        rec.key = table.id_of_entry(rec.key) as u32;
    }
    assert_eq!(flat.starts.len(), history.ops.len() + 1);
    assert_eq!(flat.processes.len(), processes.len());
    (flat, table, names)
}

/// A record's key as an index into per-key vectors.
pub(super) fn key_of(rec: &Rec) -> KeyId {
    rec.key as KeyId
}
