//! Consume-transform-produce provenance: which output records each input record was transformed into.
//!
//! A pipeline's output sends say which input record they came from: `["send", key, value, {"source": [input_key,
//! input_offset]}]` (docs/history-format.md). Every key named as a source is an input partition; the keys its outputs were
//! sent to are that pipeline's output partitions. Each output value is unique per attempt (a retried input gets a
//! new output value), so an input processed twice shows up as two output values with one source, not as a
//! duplicate value; and whether an attempt's output is in the log is told by reads, not by the attempt's outcome:
//! an output that a committed (read_committed) poll read is committed, whatever its writer's completion said.
//!
//! [`TransformIndex`] holds, per input partition, every output send with its writer and its earliest committed
//! reader, and every input record a committed operation read. It is built in one pass over the operations that
//! name sources, and only when some do, so histories without pipelines pay nothing.

use super::{Analysis, KeyId, Source};
use crate::history::{Key, MicroOp, Offset, OpType, Value};

/// One output record, with the input record it was transformed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Output {
    /// The offset of the input record, in the input partition.
    pub source_offset: Offset,
    /// The operation that sent it: its completion, or its invocation if it never completed (as [`super::Write::op`]).
    pub op: usize,
    /// The output partition.
    pub key: KeyId,
    /// The output value.
    pub value: Value,
    /// The earliest committed operation that read it, if any did: then the output is committed.
    pub reader: Option<usize>,
}

/// Everything known about one input partition of a consume-transform-produce pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransformIndex {
    /// The input partition, as the sources name it.
    pub input: Key,
    /// Its id, when the history also reads or writes it (a key named only in sources has none).
    pub input_id: Option<KeyId>,
    /// Every partition an output of this input was sent to, ascending, distinct.
    pub outputs: Vec<KeyId>,
    /// Every output sent from this input, sorted by (source offset, op, key, value), one per output record.
    pub sends: Vec<Output>,
    /// (offset, value, reader) for every input record an operation that committed read, with its earliest such
    /// reader, sorted by offset, one per offset: the records in the input log, which the pipeline had to transform.
    pub consumed: Vec<(Offset, Value, usize)>,
    /// When the input partition and every output partition have an ok final poll: those polls, ascending. Only
    /// then does a missing output prove a loss rather than a pipeline that has not got there yet.
    pub final_polls: Option<Vec<usize>>,
}

impl TransformIndex {
    /// Every output sent from the input record at `offset`, by op.
    pub fn outputs_of(&self, offset: Offset) -> &[Output] {
        let start = self.sends.partition_point(|o| o.source_offset < offset);
        let end = self.sends.partition_point(|o| o.source_offset <= offset);
        &self.sends[start..end]
    }

    /// The value a committed read found at input `offset`, if one did.
    pub fn consumed_value(&self, offset: Offset) -> Option<Value> {
        self.consumed.binary_search_by_key(&offset, |c| c.0).ok().map(|i| self.consumed[i].1)
    }
}

/// One output send: input name, source offset, writer op, output key, output value.
type Entry<'h> = (&'h str, Offset, usize, KeyId, Value);

impl<'h> Analysis<'h> {
    /// Indexes every send that names a source, per input partition, in order of input name.
    pub(super) fn index_transforms(&self) -> Vec<TransformIndex> {
        let mut entries: Vec<Entry<'h>> = Vec::new();
        for (index, op) in self.history.ops.iter().enumerate() {
            // An invocation and its completion usually list the same sends; both name the completion, so the
            // repeat is removed below.
            let end = if op.op_type == OpType::Invoke { self.partner[index].unwrap_or(index) } else { index };
            for mop in &op.mops {
                let MicroOp::Send { key, value, source: Some((input, offset)), .. } = mop else { continue };
                // Every key of a send is interned by the flattening pass.
                let output = self.key_id(key);
                assert!(output.is_some(), "send key {key} was not interned");
                if let Some(output) = output {
                    entries.push((input.as_str(), *offset, end, output, *value));
                }
            }
        }
        entries.sort_unstable();
        entries.dedup();
        let transforms: Vec<TransformIndex> =
            entries.chunk_by(|a, b| a.0 == b.0).map(|group| self.transform_index(group)).collect();
        assert!(transforms.windows(2).all(|w| w[0].input < w[1].input));
        transforms
    }

    /// The index of one input partition, from its output sends (sorted, all naming that input).
    fn transform_index(&self, group: &[Entry<'h>]) -> TransformIndex {
        let input = group[0].0;
        assert!(group.iter().all(|e| e.0 == input));
        let sends: Vec<Output> = group
            .iter()
            .map(|&(_, source_offset, op, key, value)| Output {
                source_offset,
                op,
                key,
                value,
                reader: self.keys[key].first_ok_reader(value),
            })
            .collect();
        let mut outputs: Vec<KeyId> = sends.iter().map(|o| o.key).collect();
        outputs.sort_unstable();
        outputs.dedup();
        let input_id = self.key_id(input);
        let consumed = input_id.map(|id| self.consumed(id)).unwrap_or_default();
        let final_poll = |key: KeyId| self.keys[key].final_poll.map(|f| f.op);
        let final_polls: Option<Vec<usize>> =
            input_id.into_iter().chain(outputs.iter().copied()).map(final_poll).collect();
        let final_polls = final_polls.map(crate::anomaly::sorted_distinct);
        TransformIndex { input: input.to_string(), input_id, outputs, sends, consumed, final_polls }
    }

    /// Every record of partition `key` that an operation that committed read, with its earliest such reader.
    fn consumed(&self, key: KeyId) -> Vec<(Offset, Value, usize)> {
        let mut consumed: Vec<(Offset, Value, usize)> = self.keys[key]
            .observations
            .iter()
            .filter(|o| o.source != Source::Send && self.committed(o.op))
            .map(|o| (o.offset, o.value, o.op))
            .collect();
        consumed.sort_unstable_by_key(|c| (c.0, c.2, c.1));
        consumed.dedup_by_key(|c| c.0);
        assert!(consumed.windows(2).all(|w| w[0].0 < w[1].0));
        consumed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::History;

    #[test]
    fn outputs_are_indexed_by_source_with_their_writer_and_reader() {
        // Op 1's invocation and op 2's completion list the same output 100 (one entry, named by op 2); op 3's
        // aborted attempt sends 101; op 4 reads in-0 and 100. a-in is named only as a source: it has no id.
        let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","in-0",[0,17]]]}
{"index":1,"time":1,"process":3,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",100,{"source":["in-0",0]}]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[0,100],{"source":["in-0",0]}]]}
{"index":3,"time":3,"process":3,"type":"fail","f":"txn","value":[["send","out-0",101,{"source":["in-0",0]}],["send","out-1",7,{"source":["a-in",4]}]]}
{"index":4,"time":4,"process":4,"type":"ok","f":"poll","value":[["poll",{"in-0":[[0,17]],"out-0":[[0,100]]}]],"final":true}
"#;
        let history = History::parse_jsonl("t.jsonl", text).unwrap_or_default();
        let analysis = Analysis::new(&history);
        let names: Vec<&str> = analysis.transforms.iter().map(|t| t.input.as_str()).collect();
        assert_eq!(names, vec!["a-in", "in-0"]);
        let (a_in, in_0) = (&analysis.transforms[0], &analysis.transforms[1]);
        assert_eq!((a_in.input_id, a_in.final_polls.clone(), a_in.consumed.clone()), (None, None, vec![]));
        let out_0 = analysis.key_id("out-0").unwrap_or(usize::MAX);
        let sends: Vec<(Offset, usize, Value, Option<usize>)> =
            in_0.sends.iter().map(|o| (o.source_offset, o.op, o.value, o.reader)).collect();
        assert_eq!(sends, vec![(0, 2, 100, Some(4)), (0, 3, 101, None)]);
        assert_eq!(in_0.outputs, vec![out_0]);
        assert_eq!(in_0.consumed, vec![(0, 17, 2)]);
        assert_eq!(in_0.final_polls, Some(vec![4]));
        assert_eq!((in_0.outputs_of(0).len(), in_0.outputs_of(1).len()), (2, 0));
        assert_eq!((in_0.consumed_value(0), in_0.consumed_value(1)), (Some(17), None));
    }
}
