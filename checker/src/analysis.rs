//! Indexes over a history, built once and shared by every check.
//!
//! Every check reads the same few facts: who wrote each value and how that write ended, every offset at which each
//! value was observed, each partition's order of known offsets, what each process polled and sent, one operation
//! after another, and the order of the records inside each operation. [`Analysis::new`] builds them in a handful
//! of passes over the history, sorting rather than iterating anything hashed so that its output is deterministic
//! (the one hash table, for key names in `keys.rs`, is only looked up), and in O(n log n) for n micro-op entries.
//! Checks then only look things up: none walks the history again, and none copies it.
//!
//! Keys are interned to [`KeyId`]s in sorted order of their names, so that iterating [`Analysis::keys`] visits
//! partitions in name order and per-key data lives in plain vectors.
//!
//! The passes, in order: flatten the history once into compact records (`flat.rs`: pairs invocations with
//! completions, interns keys, renumbers processes); index every write with its outcome; gather every observation
//! of (offset, value); prove which unknown outcomes committed (a committed operation read another value the same
//! operation sent, Jepsen's `must-have-committed?`); sort each partition's observations into its version order;
//! walk each process's polls and sends ([`Succession`]s); walk the records inside each operation ([`Step`]s and
//! [`OwnRead`]s, in `intra_op.rs`); index writes to external stores ([`SinkIndex`], in `sinks.rs`); and index
//! consume-transform-produce provenance ([`TransformIndex`], in `transforms.rs`). On long histories, per-key work
//! and the independent walks run on two threads (`parallel.rs`), with the same result.

mod flat;
mod intra_op;
mod keys;
mod parallel;
mod sinks;
mod transforms;

use std::collections::BTreeMap;

use crate::history::{History, Key, Offset, OpFn, OpType, Value};

pub use intra_op::{OwnRead, Step};
pub use sinks::SinkIndex;
pub use transforms::{Output, TransformIndex};

/// A partition's position in [`Analysis::keys`]; ids follow the sorted order of key names.
pub type KeyId = usize;

/// How the operation that wrote a value ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WriteStatus {
    /// Acknowledged: the value is in the log.
    Ok,
    /// Unknown outcome, but proven committed: an ok poll read another value that the same operation sent, and an
    /// operation's sends commit together, so this one is in the log too (Jepsen's `must-have-committed?`).
    InfoCommitted,
    /// Unknown (timed out, crashed, or never completed): the value may or may not be in the log.
    Info,
    /// Certainly not written: no consumer may ever see the value.
    Fail,
}

impl WriteStatus {
    /// Whether the value is known to be in the log: acknowledged, or proven committed.
    pub fn committed(self) -> bool {
        matches!(self, WriteStatus::Ok | WriteStatus::InfoCommitted)
    }
}

/// The write of one value to one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Write {
    /// The value written.
    pub value: Value,
    /// The offset the broker acknowledged: known when the write completed ok with an offset, or when an unknown
    /// outcome that reported an offset was proven committed.
    pub offset: Option<Offset>,
    /// How the write ended.
    pub status: WriteStatus,
    /// The index of the invocation, when the history has one.
    pub invoke: Option<usize>,
    /// The index of the completion, when the history has one.
    pub completion: Option<usize>,
}

impl Write {
    /// The op that best proves this write: its completion if it has one, else its invocation.
    pub fn op(&self) -> usize {
        // Every write comes from at least one event, so one of the two is always present.
        assert!(self.invoke.is_some() || self.completion.is_some());
        self.completion.or(self.invoke).unwrap_or(0)
    }
}

/// Where an observation of (offset, value) came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// An acknowledged send's offset (or the offset reported by an unknown outcome proven committed).
    Send,
    /// A read by a poll that completed ok.
    OkRead,
    /// A read reported by a poll that failed or whose outcome is unknown. Kafka's consumers only ever return
    /// records that are in the log, so such reads still tell where values sit, but they prove nothing about
    /// what a committed consumer saw.
    OtherRead,
}

/// One piece of evidence that a partition holds `value` at `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Observation {
    /// The offset.
    pub offset: Offset,
    /// The value found there.
    pub value: Value,
    /// The op that observed it (a send's completion, or a poll's completion).
    pub op: usize,
    /// How it was observed.
    pub source: Source,
}

/// An ok final poll, which read a partition to its end after the system quiesced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinalPoll {
    /// The poll's completion.
    pub op: usize,
    /// The poll's invocation (its completion when it has none): writes acknowledged before this must be in it.
    pub invoked: usize,
}

/// Everything known about one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyIndex {
    /// The partition's name.
    pub key: Key,
    /// Every write to it, sorted by value, one per value (`writer_of`).
    pub writes: Vec<Write>,
    /// Every observation of (offset, value), sorted by offset, then value, then op.
    pub observations: Vec<Observation>,
    /// Every observation as (value, offset, op), sorted: each value's offsets together, lowest first.
    pub by_value: Vec<(Value, Offset, usize)>,
    /// The version order: every distinct offset known to hold a record, ascending.
    pub version_order: Vec<Offset>,
    /// Every value any poll read, sorted and distinct.
    pub read_values: Vec<Value>,
    /// Every value delivered to an application that committed — read by an operation that completed ok, or by one
    /// proven committed — with its earliest such reader, sorted by value, one per value.
    pub ok_reads: Vec<(Value, usize)>,
    /// The read at the highest offset by an ok poll, the earliest such op on ties.
    pub max_ok_read: Option<Observation>,
    /// The ok final poll of this key invoked last: a poll counts for every key in its result, even an empty one.
    pub final_poll: Option<FinalPoll>,
}

impl KeyIndex {
    /// The write of `value`, if the history has one (`writer_of`).
    pub fn writer_of(&self, value: Value) -> Option<&Write> {
        self.writes.binary_search_by_key(&value, |w| w.value).ok().map(|i| &self.writes[i])
    }

    /// Whether some poll, of any outcome, read `value`.
    pub fn was_read(&self, value: Value) -> bool {
        self.read_values.binary_search(&value).is_ok()
    }

    /// The earliest committed operation (ok, or proven committed) that read `value`, if any did.
    pub fn first_ok_reader(&self, value: Value) -> Option<usize> {
        self.ok_reads.binary_search_by_key(&value, |r| r.0).ok().map(|i| self.ok_reads[i].1)
    }

    /// Whether a committed operation read `value`: only those count as delivered to an application.
    pub fn was_ok_read(&self, value: Value) -> bool {
        self.first_ok_reader(value).is_some()
    }

    /// The lowest offset at which anything (an acknowledgement or a read) places `value`, if anything does.
    pub fn observed_offset(&self, value: Value) -> Option<Offset> {
        let start = self.by_value.partition_point(|o| o.0 < value);
        self.by_value.get(start).filter(|o| o.0 == value).map(|o| o.1)
    }

    /// Where `value` sits: its write's acknowledged offset, else the lowest offset anything observed it at.
    pub fn offset_of(&self, value: Value) -> Option<Offset> {
        self.writer_of(value).and_then(|w| w.offset).or_else(|| self.observed_offset(value))
    }

    /// Whether `next` is the offset right after `offset` in the version order (both known to hold records).
    pub fn follows(&self, offset: Offset, next: Offset) -> bool {
        self.rank(offset).is_some_and(|rank| self.version_order.get(rank + 1) == Some(&next))
    }

    /// `offset`'s position in the version order, if it is known to hold a record.
    pub fn rank(&self, offset: Offset) -> Option<usize> {
        self.version_order.binary_search(&offset).ok()
    }

    /// The values observed at `offset`, distinct, ascending.
    pub fn values_at(&self, offset: Offset) -> Vec<Value> {
        let start = self.observations.partition_point(|o| o.offset < offset);
        let mut values: Vec<Value> =
            self.observations[start..].iter().take_while(|o| o.offset == offset).map(|o| o.value).collect();
        values.dedup();
        values
    }
}

/// Where one process stood in one partition after an operation: the op, and the (offset, value) it ended on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The op.
    pub op: usize,
    /// The offset.
    pub offset: Offset,
    /// The value at that offset.
    pub value: Value,
}

/// Two successive operations of one process on one partition: where the earlier one ended, where the later began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Succession {
    /// The process.
    pub process: u64,
    /// The partition.
    pub key: KeyId,
    /// The last record of the earlier operation.
    pub before: Position,
    /// The first record of the later operation.
    pub after: Position,
    /// The last operation of the process in between that read the partition and failed: an aborted transaction,
    /// after which the consumer had to rewind to `before`.
    pub aborted: Option<usize>,
}

/// Why an operation whose outcome is unknown is known to have committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitProof {
    /// The partition of the value that was read.
    pub key: KeyId,
    /// A value the operation sent.
    pub value: Value,
    /// The earliest operation that read it and committed (completed ok, or was itself proven committed).
    pub reader: usize,
}

/// The indexes every check reads; see the module documentation.
#[derive(Debug)]
pub struct Analysis<'h> {
    /// The history analysed.
    pub history: &'h History,
    /// For each op, its invocation's completion or its completion's invocation.
    pub partner: Vec<Option<usize>>,
    /// Per partition, by [`KeyId`].
    pub keys: Vec<KeyIndex>,
    /// Per operation with an unknown outcome that is proven committed, keyed by [`Write::op`], the proof.
    pub commit_proofs: BTreeMap<usize, CommitProof>,
    /// Successive ok polls of one partition by one process, with no reassignment dropping it in between, where the
    /// later did not start at the record right after the one the earlier ended on (in the version order): the
    /// candidates for nonmonotonic-poll and poll-skip. Regular successions are left out, so this stays small.
    pub poll_successions: Vec<Succession>,
    /// Successive ok sends to one partition by one process, with known offsets, in completion order, where the later
    /// did not land after the earlier: the candidates for nonmonotonic-send.
    pub send_successions: Vec<Succession>,
    /// Consecutive reads of one partition inside one operation that are not neighbours in the version order.
    pub poll_steps: Vec<Step>,
    /// Consecutive sends to one partition inside one operation that are not neighbours in the version order.
    pub send_steps: Vec<Step>,
    /// Reads by an operation of a value that the same operation sent.
    pub own_reads: Vec<OwnRead>,
    /// Writes to external stores, per (store, key), sorted.
    pub sinks: Vec<SinkIndex>,
    /// Consume-transform-produce provenance, per input partition, in order of its name.
    pub transforms: Vec<TransformIndex>,
    /// Whose rules the per-process walks follow (they differ after an `info` poll and around reassignments).
    pub rules: crate::Rules,
    key_ids: keys::KeyTable<'h>,
    flat: flat::Flat,
}

impl<'h> Analysis<'h> {
    /// Builds every index for `history`.
    pub fn new(history: &'h History) -> Analysis<'h> {
        Analysis::with_rules(history, crate::Rules::Eosim)
    }

    /// Builds every index for `history`, its per-process walks following `rules`.
    pub fn with_rules(history: &'h History, rules: crate::Rules) -> Analysis<'h> {
        Analysis::build(history, parallel::worth_it(history.ops.len()), rules)
    }

    /// Builds every index for `history`, using a second thread for independent work if `parallel`.
    fn build(history: &'h History, parallel: bool, rules: crate::Rules) -> Analysis<'h> {
        let (mut flat, key_ids, names) = flat::flatten(history);
        let mut keys: Vec<KeyIndex> = names.into_iter().map(empty_key_index).collect();
        let mut analysis = Analysis {
            history,
            partner: std::mem::take(&mut flat.partner),
            keys: Vec::new(),
            commit_proofs: BTreeMap::new(),
            poll_successions: Vec::new(),
            send_successions: Vec::new(),
            poll_steps: Vec::new(),
            send_steps: Vec::new(),
            own_reads: Vec::new(),
            sinks: Vec::new(),
            transforms: Vec::new(),
            rules,
            key_ids,
            flat,
        };
        // Per-key work and the independent walks may use a second thread; the result is the same either way.
        analysis.index_writes(&mut keys);
        parallel::for_each(parallel, &mut keys, |k| k.writes.len(), sort_writes);
        analysis.index_observations(&mut keys);
        parallel::for_each(parallel, &mut keys, |k| k.observations.len(), index_ok_reads);
        analysis.commit_proofs = analysis.prove_commits(&mut keys);
        parallel::for_each(parallel, &mut keys, |k| k.observations.len(), finish_key_index);
        analysis.keys = keys;
        let this = &analysis;
        let ((polls, sends), intra) =
            parallel::join(parallel, || (this.walk_polls(), this.walk_sends()), || this.walk_intra_op());
        analysis.poll_successions = polls;
        analysis.send_successions = sends;
        (analysis.poll_steps, analysis.send_steps, analysis.own_reads) = intra;
        if analysis.flat.has_sinks {
            analysis.sinks = analysis.index_sinks();
        }
        if analysis.flat.has_sources {
            analysis.transforms = analysis.index_transforms();
        }
        assert_eq!(analysis.partner.len(), history.ops.len());
        analysis
    }

    /// The id of partition `key`, if the history mentions it.
    pub fn key_id(&self, key: &str) -> Option<KeyId> {
        self.key_ids.get(key)
    }

    /// The invocation of completion `index`, if paired.
    pub fn invoke_of(&self, index: usize) -> Option<usize> {
        if self.flat.meta[index].op_type == OpType::Invoke {
            return None;
        }
        self.partner[index]
    }

    /// Whether the operation ending at `index` (a completion, or an invocation never completed) committed: it
    /// completed ok, or its outcome is unknown and [`Analysis::commit_proofs`] proves it.
    pub fn committed(&self, index: usize) -> bool {
        match self.flat.meta[index].op_type {
            OpType::Ok => true,
            OpType::Fail => false,
            OpType::Info | OpType::Invoke => self.commit_proofs.contains_key(&index),
        }
    }

    /// Whether op `index` ends an operation that committed and read or wrote records: a completion, or an
    /// invocation that never completed, of a send, poll or txn, that [`Analysis::committed`] says committed. These
    /// are the nodes of the dependency graph the cycle search builds.
    pub fn is_committed_end(&self, index: usize) -> bool {
        let meta = &self.flat.meta[index];
        let ends = meta.op_type != OpType::Invoke || self.partner[index].is_none();
        ends && matches!(meta.f, OpFn::Send | OpFn::Poll | OpFn::Txn) && self.committed(index)
    }

    /// Op `index`'s process, numbered densely from 0 in order of first appearance (below [`Analysis::process_count`]),
    /// for per-process vectors.
    pub(crate) fn process_slot(&self, index: usize) -> usize {
        self.flat.meta[index].process as usize
    }

    /// How many distinct processes the history has.
    pub(crate) fn process_count(&self) -> usize {
        self.flat.processes.len()
    }

    /// Whether op `index` is an invocation, and whether it is an ok completion: all the realtime order needs.
    pub(crate) fn op_type(&self, index: usize) -> OpType {
        self.flat.meta[index].op_type
    }

    /// The sends of the operation that op `op` begins or ends — listed by its invocation or its completion — as
    /// (key, value), sorted and distinct.
    pub fn sends_of(&self, op: usize) -> Vec<(KeyId, Value)> {
        let mut sends: Vec<(KeyId, Value)> = std::iter::once(op)
            .chain(self.partner[op])
            .flat_map(|i| self.flat.recs(i).iter().filter(|r| r.kind == flat::Kind::Send))
            .map(|r| (flat::key_of(r), r.value))
            .collect();
        sends.sort_unstable();
        sends.dedup();
        sends
    }

    fn index_writes(&self, keys: &mut [KeyIndex]) {
        let mut counts = vec![0; keys.len()];
        for (index, _) in self.writing_ops() {
            for rec in self.flat.recs(index).iter().filter(|r| r.kind == flat::Kind::Send) {
                counts[flat::key_of(rec)] += 1;
            }
        }
        reserve_exact(keys, counts, |key| &mut key.writes);
        for (index, meta) in self.writing_ops() {
            let (status, invoke, completion) = self.write_context(index, meta);
            // Only a completion can know an offset. An ok one's is an acknowledgement; an info one's is kept only
            // if the operation is later proven committed (see `prove_commits`).
            let knows_offsets = matches!(meta.op_type, OpType::Ok | OpType::Info);
            for rec in self.flat.recs(index).iter().filter(|r| r.kind == flat::Kind::Send) {
                let offset = (knows_offsets && rec.has_offset).then_some(rec.offset);
                let value = rec.value;
                keys[flat::key_of(rec)].writes.push(Write { value, offset, status, invoke, completion });
            }
        }
    }

    /// The ops whose sends are indexed as writes: all but the invocations whose completions speak for them.
    fn writing_ops(&self) -> impl Iterator<Item = (usize, &flat::Meta)> {
        self.flat.meta.iter().enumerate().filter(|&(index, meta)| !self.completion_repeats_sends(index, meta))
    }

    /// Whether op `index` is an invocation whose completion lists as many sends: then the completion alone speaks
    /// for them. Otherwise (no completion, or one listing fewer sends) the invocation's sends are indexed too.
    fn completion_repeats_sends(&self, index: usize, meta: &flat::Meta) -> bool {
        let send_count = |index: usize| self.flat.recs(index).iter().filter(|r| r.kind == flat::Kind::Send).count();
        match (meta.op_type, self.partner[index]) {
            (OpType::Invoke, Some(completion)) => send_count(completion) >= send_count(index),
            _ => false,
        }
    }

    /// The status, invocation and completion of the write made by op `index`'s micro-ops.
    fn write_context(&self, index: usize, meta: &flat::Meta) -> (WriteStatus, Option<usize>, Option<usize>) {
        let partner = self.partner[index];
        let (invoke, completion) =
            if meta.op_type == OpType::Invoke { (Some(index), partner) } else { (partner, Some(index)) };
        // An invocation never completed is an unknown outcome, like an info.
        let status = match completion.map(|c| self.flat.meta[c].op_type) {
            Some(OpType::Ok) => WriteStatus::Ok,
            Some(OpType::Fail) => WriteStatus::Fail,
            Some(OpType::Info | OpType::Invoke) | None => WriteStatus::Info,
        };
        (status, invoke, completion)
    }

    fn index_observations(&self, keys: &mut [KeyIndex]) {
        let completions = || self.flat.meta.iter().enumerate().filter(|(_, meta)| meta.op_type != OpType::Invoke);
        let mut counts = vec![0; keys.len()];
        for (op, meta) in completions() {
            let ok = meta.op_type == OpType::Ok;
            for rec in self.flat.recs(op).iter().filter(|rec| observes(rec, ok)) {
                counts[flat::key_of(rec)] += 1;
            }
        }
        reserve_exact(keys, counts, |key| &mut key.observations);
        for (op, meta) in completions() {
            let ok = meta.op_type == OpType::Ok;
            let source = if ok { Source::OkRead } else { Source::OtherRead };
            for rec in self.flat.recs(op) {
                let index = &mut keys[flat::key_of(rec)];
                let (offset, value) = (rec.offset, rec.value);
                match rec.kind {
                    flat::Kind::Send if observes(rec, ok) => {
                        index.observations.push(Observation { offset, value, op, source: Source::Send });
                    }
                    flat::Kind::PollKey if ok && meta.final_poll => note_final_poll(index, op, self.partner[op]),
                    flat::Kind::Read => index.observations.push(Observation { offset, value, op, source }),
                    flat::Kind::Send | flat::Kind::PollKey | flat::Kind::Key => {}
                }
            }
        }
    }

    /// Finds every operation with an unknown outcome of which a committed operation read some sent value: such an
    /// operation committed, so all of its writes are upgraded to [`WriteStatus::InfoCommitted`], the offsets it
    /// reported join the observations, and what it read counts as delivered (in [`KeyIndex::ok_reads`]) — which
    /// may prove more operations, so this runs until nothing changes. Unproven unknown outcomes forget their
    /// offsets, which prove nothing.
    fn prove_commits(&self, keys: &mut [KeyIndex]) -> BTreeMap<usize, CommitProof> {
        let unknown: Vec<(KeyId, usize)> = keys
            .iter()
            .enumerate()
            .flat_map(|(key, index)| {
                index
                    .writes
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| w.status == WriteStatus::Info)
                    .map(move |(i, _)| (key, i))
            })
            .collect();
        let mut proofs = BTreeMap::new();
        loop {
            let mut found = Vec::new();
            for &(key, i) in &unknown {
                let write = &keys[key].writes[i];
                if !proofs.contains_key(&write.op()) {
                    if let Some(reader) = keys[key].first_ok_reader(write.value) {
                        found.push((write.op(), CommitProof { key, value: write.value, reader }));
                    }
                }
            }
            if found.is_empty() {
                break;
            }
            let mut touched = Vec::new();
            for (op, proof) in found {
                if proofs.contains_key(&op) {
                    continue;
                }
                proofs.insert(op, proof);
                // Only a completion lists what the operation read.
                if self.flat.meta[op].op_type == OpType::Invoke {
                    continue;
                }
                for rec in self.flat.recs(op).iter().filter(|r| r.kind == flat::Kind::Read) {
                    keys[flat::key_of(rec)].ok_reads.push((rec.value, op));
                    touched.push(flat::key_of(rec));
                }
            }
            touched.sort_unstable();
            touched.dedup();
            for key in touched {
                sort_ok_reads(&mut keys[key]);
            }
        }
        for index in keys.iter_mut() {
            let mut reported = Vec::new();
            for write in index.writes.iter_mut().filter(|w| w.status == WriteStatus::Info) {
                if !proofs.contains_key(&write.op()) {
                    write.offset = None;
                    continue;
                }
                write.status = WriteStatus::InfoCommitted;
                if let Some(offset) = write.offset {
                    reported.push(Observation { offset, value: write.value, op: write.op(), source: Source::Send });
                }
            }
            index.observations.extend(reported);
        }
        proofs
    }

    /// Walks each process's completions in order and pairs each ok poll of a key with the previous one.
    fn walk_polls(&self) -> Vec<Succession> {
        // Per dense process id: where it stands in each key.
        let mut positions: Vec<BTreeMap<KeyId, Standing>> = vec![BTreeMap::new(); self.flat.processes.len()];
        let mut successions = Vec::new();
        let mut extents = Vec::new();
        for (op, meta) in self.flat.meta.iter().enumerate() {
            let process = &mut positions[meta.process as usize];
            if meta.op_type != OpType::Invoke && meta.has_keys {
                self.forget_rebalanced(op, meta, process);
            }
            match (meta.f, meta.op_type) {
                (_, OpType::Invoke) | (OpFn::Assign | OpFn::Subscribe, OpType::Fail) => {}
                (OpFn::Assign | OpFn::Subscribe, _) => {
                    // An info reassignment may have happened; forgetting dropped keys is the cautious reading.
                    let mut kept: Vec<KeyId> = self.flat.recs(op).iter().map(flat::key_of).collect();
                    kept.sort_unstable();
                    process.retain(|key, _| kept.binary_search(key).is_ok());
                }
                (OpFn::Send, _) => {
                    // A send says nothing about where the process's consumer stands.
                }
                (OpFn::Crash, _) if self.rules == crate::Rules::Eosim => process.clear(),
                (OpFn::Crash, _) => {}
                (OpFn::Poll | OpFn::Txn, op_type) => {
                    // Every poll that read something is judged against where the process stood, whether its
                    // operation committed, failed or is unknown (Jepsen's poll-skip+nonmonotonic-cases-per-process):
                    // a consumer must never return records out of order, whatever becomes of its transaction.
                    self.op_extents(op, meta, true, &mut extents);
                    let name = self.flat.processes[meta.process as usize];
                    for &(key, first, _) in &extents {
                        match process.get(&key) {
                            Some(&before) if !self.keys[key].follows(before.last.offset, first.offset) => {
                                successions.push(succession(name, key, before, first));
                            }
                            _ => {}
                        }
                    }
                    self.move_position(op, op_type, &extents, process);
                }
            }
        }
        successions
    }

    /// Where a process stands after a poll or transaction `op` that read `extents`: an ok one moves it to the end
    /// of what it read. A failed one did not happen, so its consumer must rewind: the position stays, noting the
    /// abort so that a later skip can name it. After an info one, eosim forgets the position (the operation may
    /// have committed its offsets, and then the consumer legitimately stands past it); Jepsen keeps it.
    fn move_position(
        &self,
        op: usize,
        op_type: OpType,
        extents: &[(KeyId, Position, Position)],
        process: &mut BTreeMap<KeyId, Standing>,
    ) {
        match op_type {
            OpType::Ok => {
                for &(key, _, last) in extents {
                    process.insert(key, Standing { last, aborted: None });
                }
            }
            OpType::Fail => {
                for &(key, _, _) in extents {
                    if let Some(standing) = process.get_mut(&key) {
                        standing.aborted = Some(op);
                    }
                }
            }
            OpType::Info if self.rules == crate::Rules::Eosim => process.clear(),
            OpType::Info | OpType::Invoke => {}
        }
    }

    /// Forgets where a process stood in the partitions whose assignment changed while op `op` ran (Jepsen's
    /// `:rebalance-log`, kept in [`Op::keys`] for send, poll and txn operations): the consumer may have been
    /// moved to its committed offset, legitimately.
    fn forget_rebalanced(&self, op: usize, meta: &flat::Meta, process: &mut BTreeMap<KeyId, Standing>) {
        if matches!(meta.f, OpFn::Assign | OpFn::Subscribe) {
            return;
        }
        for rec in self.flat.recs(op).iter().filter(|r| r.kind == flat::Kind::Key) {
            process.remove(&flat::key_of(rec));
        }
    }

    /// Walks each process's ok sends in completion order and pairs each send to a key with the previous one.
    /// Under Jepsen's rules, info sends count too (where their offset is known, from the ack or a read), and an
    /// assign or subscribe that drops a key forgets the process's sends to it.
    fn walk_sends(&self) -> Vec<Succession> {
        let jepsen = self.rules == crate::Rules::Jepsen;
        let mut positions: Vec<BTreeMap<KeyId, Position>> = vec![BTreeMap::new(); self.flat.processes.len()];
        let mut successions = Vec::new();
        let mut extents = Vec::new();
        for (op, meta) in self.flat.meta.iter().enumerate() {
            let counts = meta.op_type == OpType::Ok || (jepsen && meta.op_type == OpType::Info);
            if !counts {
                continue;
            }
            if jepsen && matches!(meta.f, OpFn::Assign | OpFn::Subscribe) {
                let mut kept: Vec<KeyId> = self.flat.recs(op).iter().map(flat::key_of).collect();
                kept.sort_unstable();
                positions[meta.process as usize].retain(|key, _| kept.binary_search(key).is_ok());
                continue;
            }
            self.op_extents(op, meta, false, &mut extents);
            for &(key, first, last) in &extents {
                match positions[meta.process as usize].insert(key, last) {
                    Some(before) if first.offset <= before.offset => {
                        let before = Standing { last: before, aborted: None };
                        let name = self.flat.processes[meta.process as usize];
                        successions.push(succession(name, key, before, first));
                    }
                    _ => {}
                }
            }
        }
        successions
    }

    /// For each key op `op` read (or, with `reads` false, sent to with a known offset): its first and last
    /// record, in the order the op lists them, into `extents` (cleared first), by key. Records in between are the
    /// business of intra-op checks. Keys rebalanced during the op are left out: where the consumer stood in them
    /// is not known. `extents` is a buffer reused across ops, so that the walk allocates nothing per op.
    fn op_extents(&self, op: usize, meta: &flat::Meta, reads: bool, extents: &mut Vec<(KeyId, Position, Position)>) {
        extents.clear();
        let recs = self.flat.recs(op);
        let position = |rec: &flat::Rec| Position { op, offset: rec.offset, value: rec.value };
        for (i, rec) in recs.iter().enumerate() {
            match rec.kind {
                flat::Kind::PollKey if reads => {
                    let records = recs[i + 1..].iter().take_while(|r| r.kind == flat::Kind::Read);
                    if let (Some(first), Some(last)) = (records.clone().next(), records.last()) {
                        extents.push((flat::key_of(rec), position(first), position(last)));
                    }
                }
                flat::Kind::Send if !reads && rec.has_offset => {
                    extents.push((flat::key_of(rec), position(rec), position(rec)));
                }
                flat::Kind::Send if !reads && self.rules == crate::Rules::Jepsen => {
                    // Jepsen places a send without an acknowledged offset by its value, where a poll read it.
                    let key = flat::key_of(rec);
                    if let Some(offset) = self.keys[key].observed_offset(rec.value) {
                        let at = Position { op, offset, value: rec.value };
                        extents.push((key, at, at));
                    }
                }
                _ => {}
            }
        }
        if reads && meta.has_keys && !matches!(meta.f, OpFn::Assign | OpFn::Subscribe) {
            let rebalanced = |key: KeyId| recs.iter().any(|r| r.kind == flat::Kind::Key && flat::key_of(r) == key);
            extents.retain(|e| !rebalanced(e.0));
        }
        // Merge entries of one key, keeping the first's start and the last's end; a stable sort keeps op order.
        if extents.len() > 1 {
            extents.sort_by_key(|e| e.0);
            extents.dedup_by(|later, earlier| {
                let same_key = later.0 == earlier.0;
                if same_key {
                    earlier.2 = later.2;
                }
                same_key
            });
        }
    }
}

/// Where a process stands in a partition: the last record its ok polls read, and any abort since.
#[derive(Clone, Copy, Debug)]
struct Standing {
    last: Position,
    aborted: Option<usize>,
}

fn succession(process: u64, key: KeyId, before: Standing, after: Position) -> Succession {
    assert!(before.last.op < after.op);
    assert!(before.aborted.is_none_or(|a| before.last.op < a && a < after.op));
    Succession { process, key, before: before.last, after, aborted: before.aborted }
}

fn empty_key_index(key: &str) -> KeyIndex {
    KeyIndex {
        key: key.to_string(),
        writes: Vec::new(),
        observations: Vec::new(),
        by_value: Vec::new(),
        version_order: Vec::new(),
        read_values: Vec::new(),
        ok_reads: Vec::new(),
        max_ok_read: None,
        final_poll: None,
    }
}

fn note_final_poll(index: &mut KeyIndex, op: usize, invoke: Option<usize>) {
    let candidate = FinalPoll { op, invoked: invoke.unwrap_or(op) };
    if index.final_poll.is_none_or(|f| f.invoked < candidate.invoked) {
        index.final_poll = Some(candidate);
    }
}

/// Sorts a key's writes by value, one per value. If an invocation and its completion both contributed a value, the
/// completion's is kept, which knows the offset; a value written by two ops breaks the format, and the earliest
/// writer is kept.
fn sort_writes(index: &mut KeyIndex) {
    index.writes.sort_unstable_by_key(|w| (w.value, w.offset.is_none(), w.completion, w.invoke));
    index.writes.dedup_by_key(|w| w.value);
    assert!(index.writes.windows(2).all(|w| w[0].value < w[1].value));
}

/// Whether `rec`, of an op that completed ok if `ok`, places a value at an offset: a read, or an acknowledged send.
fn observes(rec: &flat::Rec, ok: bool) -> bool {
    match rec.kind {
        flat::Kind::Send => ok && rec.has_offset,
        flat::Kind::Read => true,
        flat::Kind::PollKey | flat::Kind::Key => false,
    }
}

/// Gives each key's vector (chosen by `field`) room for exactly its count, before anything is pushed. Grown by
/// doubling instead, a vector reserves up to twice the room it needs, and the blocks it outgrows, as large again,
/// go back to the allocator, which keeps them a while: on a long history, tens of megabytes at the check's peak.
fn reserve_exact<T>(keys: &mut [KeyIndex], counts: Vec<usize>, field: impl Fn(&mut KeyIndex) -> &mut Vec<T>) {
    for (key, count) in keys.iter_mut().zip(counts) {
        field(key).reserve_exact(count);
    }
}

/// `items` collected into a vector of exactly their number (see [`reserve_exact`]); `items` is walked twice.
fn collect_exact<T>(items: impl Iterator<Item = T> + Clone) -> Vec<T> {
    let mut collected = Vec::with_capacity(items.clone().count());
    collected.extend(items);
    collected
}

/// Collects the values ok polls read, each with its earliest reader (observations are not sorted yet).
fn index_ok_reads(index: &mut KeyIndex) {
    let ok_reads = index.observations.iter().filter(|o| o.source == Source::OkRead).map(|o| (o.value, o.op));
    index.ok_reads = collect_exact(ok_reads);
    sort_ok_reads(index);
}

/// Sorts `ok_reads` by value, keeping each value's earliest reader.
fn sort_ok_reads(index: &mut KeyIndex) {
    index.ok_reads.sort_unstable();
    index.ok_reads.dedup_by_key(|r| r.0);
    assert!(index.ok_reads.windows(2).all(|w| w[0].0 < w[1].0));
}

/// Sorts `observations` as `sort_unstable` does. A partition's offsets are dense from zero, so when they span no
/// more than a few times as many slots as there are observations, a counting sort by offset places each one in a
/// single pass, and only the few observations sharing an offset are compared; equal observations are identical,
/// so the order is the same either way.
fn sort_observations(observations: &mut Vec<Observation>) {
    let Some(max_offset) = observations.iter().map(|o| o.offset).max() else { return };
    if max_offset >= 4 * observations.len() as u64 {
        observations.sort_unstable();
        return;
    }
    // starts[o] is where offset o's observations begin in the sorted order.
    let mut starts = vec![0usize; max_offset as usize + 2];
    for o in observations.iter() {
        starts[o.offset as usize + 1] += 1;
    }
    for slot in 1..starts.len() {
        starts[slot] += starts[slot - 1];
    }
    let mut sorted = observations.clone();
    let mut next = starts.clone();
    for &o in observations.iter() {
        sorted[next[o.offset as usize]] = o;
        next[o.offset as usize] += 1;
    }
    for pair in starts.windows(2) {
        sorted[pair[0]..pair[1]].sort_unstable();
    }
    assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
    *observations = sorted;
}

/// Sorts a key's observations and derives the version order, the values read, and the highest ok read.
fn finish_key_index(index: &mut KeyIndex) {
    sort_observations(&mut index.observations);
    index.observations.dedup();
    let observations = &index.observations;
    let new_offset = |&(i, o): &(usize, &Observation)| i == 0 || observations[i - 1].offset != o.offset;
    index.version_order = collect_exact(observations.iter().enumerate().filter(new_offset).map(|(_, o)| o.offset));
    index.by_value = index.observations.iter().map(|o| (o.value, o.offset, o.op)).collect();
    index.by_value.sort_unstable();
    index.read_values = collect_exact(index.observations.iter().filter(|o| o.source != Source::Send).map(|o| o.value));
    index.read_values.sort_unstable();
    index.read_values.dedup();
    // Observations are sorted by offset then op, so the first ok read at the highest offset is the earliest op.
    let max_offset = index.observations.iter().rev().find(|o| o.source == Source::OkRead).map(|o| o.offset);
    index.max_ok_read = max_offset.and_then(|m| {
        index.observations.iter().filter(|o| o.offset == m && o.source == Source::OkRead).min_by_key(|o| o.op).copied()
    });
    assert!(index.version_order.windows(2).all(|w| w[0] < w[1]));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyse(text: &str) -> History {
        match History::parse_jsonl("analysis.jsonl", text) {
            Ok(history) => history,
            Err(error) => panic!("test history does not parse: {error}"),
        }
    }

    #[test]
    fn invocations_pair_with_their_process_next_completion() {
        // Process 1 invokes twice: the first invocation (op 0) never completes, so 17 is an unknown outcome; the
        // second (op 1) completes ok at op 3, interleaved with process 2's completion at op 2 (which has no invoke).
        let history = analyse(
            r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","a-0",17]]}
{"index":1,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","a-0",18]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"a-0":[[3,18]]}]]}
{"index":3,"time":3,"process":1,"type":"ok","f":"send","value":[["send","a-0",[3,18]]]}
"#,
        );
        let analysis = Analysis::new(&history);
        assert_eq!(analysis.partner, vec![None, Some(3), None, Some(1)]);
        assert_eq!(analysis.invoke_of(3), Some(1));
        assert_eq!(analysis.invoke_of(1), None);
        let a0 = &analysis.keys[analysis.key_id("a-0").unwrap_or(usize::MAX)];
        let statuses: Vec<_> = a0.writes.iter().map(|w| (w.value, w.status, w.offset, w.op())).collect();
        assert_eq!(statuses, vec![(17, WriteStatus::Info, None, 0), (18, WriteStatus::Ok, Some(3), 3)]);
    }

    #[test]
    fn version_orders_reads_and_final_polls() {
        // Offsets come from the ack (5) and from reads (2, 5, 9); the failed poll's read (9) still places 21.
        let history = analyse(
            r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","a-0",[5,20]]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"poll","value":[["poll",{"a-0":[[2,19],[5,20]]}]]}
{"index":2,"time":2,"process":2,"type":"fail","f":"poll","value":[["poll",{"a-0":[[9,21]]}]]}
{"index":3,"time":3,"process":3,"type":"ok","f":"poll","value":[["poll",{"a-0":[],"b-0":[]}]],"final":true}
"#,
        );
        let analysis = Analysis::new(&history);
        assert_eq!(analysis.keys.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(), vec!["a-0", "b-0"]);
        let a0 = &analysis.keys[0];
        assert_eq!(a0.version_order, vec![2, 5, 9]);
        assert_eq!(a0.read_values, vec![19, 20, 21]);
        assert_eq!(a0.max_ok_read.map(|o| (o.offset, o.op)), Some((5, 1)));
        assert_eq!(a0.values_at(5), vec![20]);
        assert_eq!(a0.rank(9), Some(2));
        assert_eq!(a0.final_poll, Some(FinalPoll { op: 3, invoked: 3 }));
        assert_eq!(analysis.keys[1].final_poll, Some(FinalPoll { op: 3, invoked: 3 }));
        assert_eq!(analysis.poll_successions, vec![]);
    }

    #[test]
    fn an_unknown_outcome_is_proven_committed_by_a_read_of_a_sibling() {
        // Op 1's transaction timed out; op 2 read b-0's 21, so the whole transaction committed, 20 included, and
        // the offset op 1 reported for 20 joins the version order. Op 4's info send of 30 is never read: unproven.
        let history = analyse(
            r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","a-0",20],["send","b-0",21]]}
{"index":1,"time":1,"process":1,"type":"info","f":"txn","value":[["send","a-0",[7,20]],["send","b-0",21]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"b-0":[[0,21]]}]]}
{"index":3,"time":3,"process":3,"type":"invoke","f":"send","value":[["send","a-0",30]]}
{"index":4,"time":4,"process":3,"type":"info","f":"send","value":[["send","a-0",[9,30]]]}
"#,
        );
        let analysis = Analysis::new(&history);
        assert_eq!(analysis.commit_proofs.keys().copied().collect::<Vec<_>>(), vec![1]);
        assert_eq!(analysis.commit_proofs[&1], CommitProof { key: 1, value: 21, reader: 2 });
        let a0 = &analysis.keys[0];
        let statuses: Vec<_> = a0.writes.iter().map(|w| (w.value, w.status, w.offset)).collect();
        assert_eq!(statuses, vec![(20, WriteStatus::InfoCommitted, Some(7)), (30, WriteStatus::Info, None)]);
        assert_eq!(a0.version_order, vec![7]);
        assert!(analysis.committed(1) && analysis.committed(2) && !analysis.committed(4));
        assert_eq!(analysis.keys[1].first_ok_reader(21), Some(2));
        assert!(!a0.was_ok_read(20));
    }

    #[test]
    fn a_failed_read_places_a_value_but_does_not_deliver_it() {
        let history = analyse(
            r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","a-0",[null,20]]]}
{"index":1,"time":1,"process":2,"type":"fail","f":"txn","value":[["poll",{"a-0":[[4,20]]}]]}
"#,
        );
        let analysis = Analysis::new(&history);
        let a0 = &analysis.keys[0];
        assert!(a0.was_read(20));
        assert!(!a0.was_ok_read(20));
        assert_eq!((a0.observed_offset(20), a0.offset_of(20), a0.observed_offset(21)), (Some(4), Some(4), None));
    }

    #[test]
    fn steps_inside_one_operation() {
        // Version order of a-0: 0, 2, 3, 5. Op 1 reads 0 then 3 (over 2) in one poll, then 2 in a second poll of the
        // same op (back); op 2's reads are all neighbours; op 3 sends 12 then 10, which landed lower.
        let history = analyse(
            r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","a-0",[0,10]],["send","a-0",[2,11]],["send","a-0",[3,12]],["send","a-0",[5,13]]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"txn","value":[["poll",{"a-0":[[0,10],[3,12]]}],["poll",{"a-0":[[2,11]]}]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"poll","value":[["poll",{"a-0":[[0,10],[2,11],[3,12],[5,13]]}]]}
{"index":3,"time":3,"process":4,"type":"info","f":"txn","value":[["send","a-0",12],["send","a-0",10]]}
"#,
        );
        let analysis = Analysis::new(&history);
        let steps: Vec<_> =
            analysis.poll_steps.iter().map(|s| (s.before.op, s.before.offset, s.after.offset, s.delta)).collect();
        assert_eq!(steps, vec![(1, 0, 3, 2), (1, 3, 2, -1)]);
        // Op 0's sends are neighbours; op 3's unknown sends are placed by the offsets others observed.
        let sends: Vec<_> =
            analysis.send_steps.iter().map(|s| (s.after.op, s.before.value, s.after.value, s.delta)).collect();
        assert_eq!(sends, vec![(3, 12, 10, -2)]);
        assert_eq!(analysis.own_reads, vec![]);
    }

    #[test]
    fn rebalanced_keys_are_not_judged_inside_or_across_an_operation() {
        let history = analyse(
            r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","a-0",[0,10]],["send","a-0",[1,11]],["send","a-0",[2,12]]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"poll","value":[["poll",{"a-0":[[1,11]]}]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"a-0":[[0,10],[2,12]]}]],"rebalanced":["a-0"]}
{"index":3,"time":3,"process":2,"type":"ok","f":"poll","value":[["poll",{"a-0":[[0,10]]}]]}
"#,
        );
        let analysis = Analysis::new(&history);
        assert_eq!(analysis.poll_steps, vec![]);
        assert_eq!(analysis.poll_successions, vec![]);
        let judged = history.ops[2].clone();
        let mut plain = history.clone();
        plain.ops[2].keys.clear();
        let analysis = Analysis::new(&plain);
        assert_eq!(analysis.poll_steps.len(), 1);
        assert_eq!(analysis.poll_successions.len(), 2, "both go back");
        assert_eq!(judged.keys, vec!["a-0".to_string()]);
    }

    #[test]
    fn own_reads_and_aborts_between_polls() {
        // Op 1 sends 10 and reads it back in the same transaction, which then aborts; op 2 continues from op 0.
        let history = analyse(
            r#"{"index":0,"time":0,"process":1,"type":"ok","f":"poll","value":[["poll",{"a-0":[[0,9]]}]]}
{"index":1,"time":1,"process":1,"type":"fail","f":"txn","value":[["send","a-0",10],["poll",{"a-0":[[1,10]]}]]}
{"index":2,"time":2,"process":1,"type":"ok","f":"poll","value":[["poll",{"a-0":[[2,11]]}]]}
"#,
        );
        let analysis = Analysis::new(&history);
        assert_eq!(analysis.own_reads, vec![OwnRead { op: 1, key: 0, value: 10, offset: 1 }]);
        assert_eq!(analysis.poll_successions.len(), 1);
        assert_eq!(analysis.poll_successions[0].aborted, Some(1));
    }

    #[test]
    fn sinks_acknowledged_and_required() {
        // Op 1 (aborted) got db/k=5 acknowledged; op 3 committed and got it acknowledged again; op 5 committed but
        // its completion does not acknowledge db/k=6; op 7 failed before writing 7, which nothing requires.
        let history = analyse(
            r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["sink","db","k",5]]}
{"index":1,"time":1,"process":1,"type":"fail","f":"txn","value":[["sink","db","k",5]]}
{"index":2,"time":2,"process":1,"type":"invoke","f":"txn","value":[["sink","db","k",5]]}
{"index":3,"time":3,"process":1,"type":"ok","f":"txn","value":[["sink","db","k",5]]}
{"index":4,"time":4,"process":1,"type":"invoke","f":"txn","value":[["sink","db","k",6]]}
{"index":5,"time":5,"process":1,"type":"ok","f":"txn","value":[]}
{"index":6,"time":6,"process":1,"type":"invoke","f":"txn","value":[["sink","db","k",7]]}
{"index":7,"time":7,"process":1,"type":"fail","f":"txn","value":[]}
"#,
        );
        let analysis = Analysis::new(&history);
        assert_eq!(analysis.sinks.len(), 1);
        let sink = &analysis.sinks[0];
        assert_eq!(sink.name(), "db/k");
        assert_eq!(sink.acknowledged, vec![(5, 1), (5, 3)]);
        assert_eq!(sink.required, vec![(5, 3), (6, 5)]);
        assert!(sink.was_acknowledged(5) && !sink.was_acknowledged(6));
        assert!(analysis.keys.is_empty(), "sink keys are not partitions");
    }

    #[test]
    fn one_thread_or_two_give_the_same_analysis() {
        // A history with a bit of everything: transactions, unknown outcomes, aborts, skips and repeats.
        let mut text = String::new();
        for i in 0..400u64 {
            let (key, value) = (i % 3, i as i64);
            let outcome = ["ok", "ok", "info", "fail"][(i % 4) as usize];
            let offset = if outcome == "ok" { format!("[{},{value}]", i / 3 * 2) } else { value.to_string() };
            text += &format!(
                "{{\"index\":{},\"time\":0,\"process\":{},\"type\":\"{outcome}\",\"f\":\"txn\",\"value\":[[\"send\",\"k-{key}\",{offset}],[\"poll\",{{\"k-{key}\":[[{},{}],[{},{}]]}}]]}}\n",
                2 * i,
                i % 7,
                i / 2,
                value - 3,
                i / 2 + (i % 5),
                value - 1
            );
            text += &format!(
                "{{\"index\":{},\"time\":0,\"process\":9,\"type\":\"ok\",\"f\":\"poll\",\"value\":[[\"poll\",{{\"k-{key}\":[[{},{value}]]}}]]}}\n",
                2 * i + 1,
                i + i % 2
            );
        }
        let history = analyse(&text);
        let (one, two) = (
            Analysis::build(&history, false, crate::Rules::Eosim),
            Analysis::build(&history, true, crate::Rules::Eosim),
        );
        assert_eq!(one.keys, two.keys);
        assert_eq!(one.commit_proofs, two.commit_proofs);
        assert_eq!((&one.poll_successions, &one.send_successions), (&two.poll_successions, &two.send_successions));
        assert_eq!(
            (&one.poll_steps, &one.send_steps, &one.own_reads),
            (&two.poll_steps, &two.send_steps, &two.own_reads)
        );
        let sizes =
            (one.poll_steps.len(), one.poll_successions.len(), one.commit_proofs.len(), one.send_successions.len());
        assert!(sizes.0 > 0 && sizes.1 > 0 && sizes.2 > 0, "{sizes:?}");
    }

    #[test]
    fn observations_sort_as_the_comparison_sort_does() {
        let sources = [Source::Send, Source::OkRead, Source::OtherRead];
        // Dense offsets (the counting sort) with repeats and ties on every field, then one far offset (the fallback).
        let mut dense: Vec<Observation> = (0..200u64)
            .map(|i| Observation {
                offset: (i * 7) % 23,
                value: ((i * 5) % 3) as Value,
                op: ((i * 11) % 4) as usize,
                source: sources[(i % 3) as usize],
            })
            .collect();
        let mut sparse = dense.clone();
        sparse.push(Observation { offset: 1 << 40, value: 0, op: 0, source: Source::Send });
        for observations in [&mut dense, &mut sparse] {
            let mut expected = observations.clone();
            expected.sort_unstable();
            sort_observations(observations);
            assert_eq!(*observations, expected);
        }
        let mut empty = Vec::new();
        sort_observations(&mut empty);
        assert!(empty.is_empty());
    }
}
