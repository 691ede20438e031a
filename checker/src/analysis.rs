//! Indexes over a history, built once and shared by every check.
//!
//! Every check reads the same few facts: who wrote each value and how that write ended, every offset at which each
//! value was observed, each partition's order of known offsets, and what each process polled and sent, one
//! operation after another. [`Analysis::new`] builds them in a handful of passes over the history, sorting instead
//! of hashing so that its output is deterministic, and in O(n log n) for n micro-op entries. Checks then only look
//! things up: none walks the history again, and none copies it.
//!
//! Keys are interned to [`KeyId`]s in sorted order of their names, so that iterating [`Analysis::keys`] visits
//! partitions in name order and per-key data lives in plain vectors.

use std::collections::BTreeMap;

use crate::history::{History, Key, MicroOp, Offset, Op, OpFn, OpType, Value};

/// A partition's position in [`Analysis::keys`]; ids follow the sorted order of key names.
pub type KeyId = usize;

/// How the operation that wrote a value ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WriteStatus {
    /// Acknowledged: the value is in the log.
    Ok,
    /// Unknown (timed out, crashed, or never completed): the value may or may not be in the log.
    Info,
    /// Certainly not written: no consumer may ever see the value.
    Fail,
}

/// The write of one value to one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Write {
    /// The value written.
    pub value: Value,
    /// The offset the broker acknowledged, when the write completed ok with a known offset.
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
    /// An acknowledged send's offset.
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
    /// The version order: every distinct offset known to hold a record, ascending.
    pub version_order: Vec<Offset>,
    /// Every value any poll read, sorted and distinct.
    pub read_values: Vec<Value>,
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

    /// Whether some poll read `value`.
    pub fn was_read(&self, value: Value) -> bool {
        self.read_values.binary_search(&value).is_ok()
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
    /// Successive ok polls of one partition by one process, with no reassignment dropping it in between.
    pub poll_successions: Vec<Succession>,
    /// Successive ok sends to one partition by one process, with known offsets, in completion order.
    pub send_successions: Vec<Succession>,
    key_ids: BTreeMap<&'h str, KeyId>,
}

impl<'h> Analysis<'h> {
    /// Builds every index for `history`.
    pub fn new(history: &'h History) -> Analysis<'h> {
        let partner = pair_ops(history);
        let key_ids = intern_keys(history);
        let mut keys: Vec<KeyIndex> = key_ids.keys().map(|k| empty_key_index(k)).collect();
        let mut analysis = Analysis {
            history,
            partner,
            keys: Vec::new(),
            poll_successions: Vec::new(),
            send_successions: Vec::new(),
            key_ids,
        };
        analysis.index_writes(&mut keys);
        analysis.index_observations(&mut keys);
        analysis.keys = keys;
        analysis.poll_successions = analysis.walk_polls();
        analysis.send_successions = analysis.walk_sends();
        analysis
    }

    /// The id of partition `key`, if the history mentions it.
    pub fn key_id(&self, key: &str) -> Option<KeyId> {
        self.key_ids.get(key).copied()
    }

    /// The invocation of completion `index`, if paired.
    pub fn invoke_of(&self, index: usize) -> Option<usize> {
        let op = &self.history.ops[index];
        if op.op_type == OpType::Invoke {
            return None;
        }
        self.partner[index]
    }

    fn index_writes(&self, keys: &mut [KeyIndex]) {
        for op in &self.history.ops {
            if self.completion_repeats_sends(op) {
                continue;
            }
            let (status, invoke, completion) = self.write_context(op);
            for mop in &op.mops {
                if let MicroOp::Send { key, value, offset, .. } = mop {
                    // Only an acknowledgement proves an offset; an invocation's or a failure's offset is a guess.
                    let offset = if op.op_type == OpType::Ok { *offset } else { None };
                    keys[self.id(key)].writes.push(Write { value: *value, offset, status, invoke, completion });
                }
            }
        }
        for index in keys.iter_mut() {
            // If an invocation and its completion both contributed a value, keep the completion's, which knows the
            // offset; a value written by two ops breaks the format, and the earliest writer is kept.
            index.writes.sort_unstable_by_key(|w| (w.value, w.offset.is_none(), w.completion, w.invoke));
            index.writes.dedup_by_key(|w| w.value);
            assert!(index.writes.windows(2).all(|w| w[0].value < w[1].value));
        }
    }

    /// Whether `op` is an invocation whose completion lists as many sends: then the completion alone speaks for
    /// them. Otherwise (no completion, or one listing fewer sends) the invocation's sends are indexed too.
    fn completion_repeats_sends(&self, op: &Op) -> bool {
        let send_count = |op: &Op| op.mops.iter().filter(|m| matches!(m, MicroOp::Send { .. })).count();
        match (op.op_type, self.partner[op.index]) {
            (OpType::Invoke, Some(completion)) => send_count(&self.history.ops[completion]) >= send_count(op),
            _ => false,
        }
    }

    /// The status, invocation and completion of the write made by `op`'s micro-ops.
    fn write_context(&self, op: &Op) -> (WriteStatus, Option<usize>, Option<usize>) {
        let partner = self.partner[op.index];
        let (invoke, completion) =
            if op.op_type == OpType::Invoke { (Some(op.index), partner) } else { (partner, Some(op.index)) };
        // An invocation never completed is an unknown outcome, like an info.
        let status = match completion.map(|c| self.history.ops[c].op_type) {
            Some(OpType::Ok) => WriteStatus::Ok,
            Some(OpType::Fail) => WriteStatus::Fail,
            Some(OpType::Info | OpType::Invoke) | None => WriteStatus::Info,
        };
        (status, invoke, completion)
    }

    fn index_observations(&self, keys: &mut [KeyIndex]) {
        for op in &self.history.ops {
            if op.op_type == OpType::Invoke {
                continue;
            }
            for mop in &op.mops {
                self.observe_mop(keys, op, mop);
            }
        }
        for index in keys.iter_mut() {
            finish_key_index(index);
        }
    }

    fn observe_mop(&self, keys: &mut [KeyIndex], op: &Op, mop: &MicroOp) {
        match mop {
            MicroOp::Send { key, value, offset: Some(offset), .. } if op.op_type == OpType::Ok => {
                keys[self.id(key)].observations.push(Observation {
                    offset: *offset,
                    value: *value,
                    op: op.index,
                    source: Source::Send,
                });
            }
            MicroOp::Poll { reads } => {
                let source = if op.op_type == OpType::Ok { Source::OkRead } else { Source::OtherRead };
                for (key, pairs) in reads {
                    let index = &mut keys[self.id(key)];
                    if op.final_poll && op.op_type == OpType::Ok {
                        note_final_poll(index, op.index, self.partner[op.index]);
                    }
                    index.observations.extend(pairs.iter().map(|&(offset, value)| Observation {
                        offset,
                        value,
                        op: op.index,
                        source,
                    }));
                }
            }
            MicroOp::Send { .. } | MicroOp::Sink { .. } => {}
        }
    }

    /// Walks each process's completions in order and pairs each ok poll of a key with the previous one.
    fn walk_polls(&self) -> Vec<Succession> {
        let mut positions: BTreeMap<u64, BTreeMap<KeyId, Position>> = BTreeMap::new();
        let mut successions = Vec::new();
        let mut extents = Vec::new();
        for op in &self.history.ops {
            match (op.f, op.op_type) {
                (_, OpType::Invoke | OpType::Fail) => {
                    // A failed poll or aborted transaction did not happen: its consumer must rewind to where it
                    // stood, so the position is unchanged.
                }
                (OpFn::Assign | OpFn::Subscribe, _) => {
                    // An info reassignment may have happened; forgetting dropped keys is the cautious reading.
                    let mut kept: Vec<KeyId> = op.keys.iter().map(|k| self.id(k)).collect();
                    kept.sort_unstable();
                    if let Some(process) = positions.get_mut(&op.process) {
                        process.retain(|key, _| kept.binary_search(key).is_ok());
                    }
                }
                (OpFn::Send, OpType::Info) => {
                    // An unknown send says nothing about where the process's consumer stands.
                }
                (OpFn::Poll | OpFn::Txn | OpFn::Crash, OpType::Info) => {
                    // An info poll may have advanced the consumer by records we never saw, so the next poll can be
                    // judged against nothing; a crash ends the process anyway.
                    positions.remove(&op.process);
                }
                (_, OpType::Ok) => {
                    let process = positions.entry(op.process).or_default();
                    self.op_extents(op, true, &mut extents);
                    for &(key, first, last) in &extents {
                        if let Some(before) = process.insert(key, last) {
                            successions.push(succession(op.process, key, before, first));
                        }
                    }
                }
            }
        }
        successions
    }

    /// Walks each process's ok sends in completion order and pairs each send to a key with the previous one.
    fn walk_sends(&self) -> Vec<Succession> {
        let mut positions: BTreeMap<(u64, KeyId), Position> = BTreeMap::new();
        let mut successions = Vec::new();
        let mut extents = Vec::new();
        for op in &self.history.ops {
            if op.op_type != OpType::Ok {
                continue;
            }
            self.op_extents(op, false, &mut extents);
            for &(key, first, last) in &extents {
                if let Some(before) = positions.insert((op.process, key), last) {
                    successions.push(succession(op.process, key, before, first));
                }
            }
        }
        successions
    }

    /// For each key `op` read (or, with `reads` false, sent to with a known offset): its first and last record,
    /// in the order the op lists them, into `extents` (cleared first), by key. Records in between are the business
    /// of intra-op checks. `extents` is a buffer reused across ops, so that the walk allocates nothing per op.
    fn op_extents(&self, op: &Op, reads: bool, extents: &mut Vec<(KeyId, Position, Position)>) {
        extents.clear();
        let position = |&(offset, value): &(Offset, Value)| Position { op: op.index, offset, value };
        for mop in &op.mops {
            match mop {
                MicroOp::Poll { reads: by_key } if reads => {
                    for (key, records) in by_key {
                        if let (Some(first), Some(last)) = (records.first(), records.last()) {
                            extents.push((self.id(key), position(first), position(last)));
                        }
                    }
                }
                MicroOp::Send { key, value, offset: Some(offset), .. } if !reads => {
                    let record = position(&(*offset, *value));
                    extents.push((self.id(key), record, record));
                }
                _ => {}
            }
        }
        // Merge entries of one key, keeping the first's start and the last's end; a stable sort keeps op order.
        extents.sort_by_key(|e| e.0);
        extents.dedup_by(|later, earlier| {
            let same_key = later.0 == earlier.0;
            if same_key {
                earlier.2 = later.2;
            }
            same_key
        });
    }

    fn id(&self, key: &str) -> KeyId {
        // intern_keys saw every key of every op, so the lookup cannot miss.
        let id = self.key_ids.get(key).copied();
        assert!(id.is_some(), "key {key:?} was not interned");
        id.unwrap_or(0)
    }
}

fn succession(process: u64, key: KeyId, before: Position, after: Position) -> Succession {
    assert!(before.op < after.op);
    Succession { process, key, before, after }
}

/// Pairs each invocation with its process's next completion; see [`Analysis::partner`].
fn pair_ops(history: &History) -> Vec<Option<usize>> {
    let mut partner = vec![None; history.ops.len()];
    let mut in_flight: BTreeMap<u64, usize> = BTreeMap::new();
    for op in &history.ops {
        if op.op_type == OpType::Invoke {
            // A second invocation while one is in flight breaks the format; the first then never completes,
            // which is read as an unknown outcome.
            in_flight.insert(op.process, op.index);
        } else if let Some(invoke) = in_flight.remove(&op.process) {
            partner[invoke] = Some(op.index);
            partner[op.index] = Some(invoke);
        }
    }
    assert_eq!(partner.len(), history.ops.len());
    partner
}

/// Every key any op names, each given an id in sorted order of names.
fn intern_keys(history: &History) -> BTreeMap<&str, KeyId> {
    let mut ids: BTreeMap<&str, KeyId> = BTreeMap::new();
    for op in &history.ops {
        for key in &op.keys {
            ids.insert(key, 0);
        }
        for mop in &op.mops {
            match mop {
                MicroOp::Send { key, .. } => {
                    ids.insert(key, 0);
                }
                MicroOp::Poll { reads } => {
                    for key in reads.keys() {
                        ids.insert(key, 0);
                    }
                }
                // Sinks name keys of external stores, not partitions.
                MicroOp::Sink { .. } => {}
            }
        }
    }
    for (id, slot) in ids.values_mut().enumerate() {
        *slot = id;
    }
    ids
}

fn empty_key_index(key: &str) -> KeyIndex {
    KeyIndex {
        key: key.to_string(),
        writes: Vec::new(),
        observations: Vec::new(),
        version_order: Vec::new(),
        read_values: Vec::new(),
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

/// Sorts a key's observations and derives the version order, the values read, and the highest ok read.
fn finish_key_index(index: &mut KeyIndex) {
    index.observations.sort_unstable();
    index.observations.dedup();
    index.version_order = index.observations.iter().map(|o| o.offset).collect();
    index.version_order.dedup();
    index.read_values = index.observations.iter().filter(|o| o.source != Source::Send).map(|o| o.value).collect();
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
}
