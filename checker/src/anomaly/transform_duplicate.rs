//! `transform-duplicate`: a consume-transform-produce pipeline processed one input record twice, and both results
//! are in the log.
//!
//! A pipeline that crashes, is fenced, or loses a rebalance after sending its outputs but before committing its
//! offsets reads the same input again and transforms it again. Exactly-once inside Kafka is the promise that this
//! is invisible: the first attempt's outputs and offsets commit together or abort together, so only one attempt's
//! outputs ever reach a read_committed consumer. If two attempts' outputs are both committed — a zombie whose epoch
//! was not fenced, offsets committed outside the transaction, a commit that the coordinator applied twice — every
//! downstream consumer sees the input processed twice. Every output value is unique per attempt (a retried input
//! gets a new output value), so this is not a `duplicate` of one value: it shows only through the provenance that
//! each output send records, `{"source": [input_key, input_offset]}`.
//!
//! How it is judged: an output is committed when an operation that committed read it (see
//! [`TransformIndex`](crate::analysis::TransformIndex)); the outputs of one input record are grouped by the
//! operation that sent them, since one attempt may fan an input out to several records. An input record with
//! committed outputs from two or more operations is a transform-duplicate. Two committed reads prove it by
//! themselves, so no final poll is needed.
//!
//! Worked example. The pipeline (process 3) transforms in-0 offset 0 into 100 and commits; a second instance
//! (process 5), which should have been fenced, transforms it again into 101 and commits too; the final poll reads
//! both outputs:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","in-0",[0,17]]]}
//! {"index":1,"time":1,"process":3,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",100,{"source":["in-0",0]}]]}
//! {"index":2,"time":2,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[0,100],{"source":["in-0",0]}]]}
//! {"index":3,"time":3,"process":5,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",101,{"source":["in-0",0]}]]}
//! {"index":4,"time":4,"process":5,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[2,101],{"source":["in-0",0]}]]}
//! {"index":5,"time":5,"process":4,"type":"ok","f":"poll","value":[["poll",{"in-0":[[0,17]],"out-0":[[0,100],[2,101]]}]],"final":true}
//! ```
//!
//! in-0 offset 0 has two outputs: 100, sent by op 2 (ops 1 and 2 name the same send) and read by op 5, and 101,
//! sent by op 4 and read by op 5. Both are committed and come from two operations: one transform-duplicate, key
//! in-0, values [100, 101], offsets [0], ops [2, 4, 5]. Had op 4 aborted (`fail`, and the final poll reading only
//! 100), its output would not be committed and all would be well.

use crate::analysis::{Analysis, Output, TransformIndex};
use crate::{Anomaly, AnomalyKind};

/// Every input record with committed outputs sent by two or more operations, one anomaly per input record.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for transform in &analysis.transforms {
        for outputs in transform.sends.chunk_by(|a, b| a.source_offset == b.source_offset) {
            let committed: Vec<&Output> = outputs.iter().filter(|o| o.reader.is_some()).collect();
            // Sends are sorted by op within a source offset, so distinct writers are the changes of op.
            let writers = committed.chunk_by(|a, b| a.op == b.op).count();
            if writers > 1 {
                anomalies.push(duplicate(analysis, transform, &committed, writers));
            }
        }
    }
    anomalies
}

fn duplicate(analysis: &Analysis<'_>, transform: &TransformIndex, committed: &[&Output], writers: usize) -> Anomaly {
    let offset = committed[0].source_offset;
    assert!(committed.iter().all(|o| o.source_offset == offset && o.reader.is_some()));
    assert!(writers > 1);
    let input = &transform.input;
    let value = transform.consumed_value(offset).map(|v| format!(" (value {v})")).unwrap_or_default();
    let mut ops = Vec::new();
    let mut cases = Vec::new();
    for output in committed {
        let reader = output.reader.unwrap_or(output.op);
        ops.extend([output.op, reader]);
        let key = &analysis.keys[output.key].key;
        cases.push(format!("op {} sent {} to {key} (read by op {reader})", output.op, output.value));
    }
    Anomaly {
        kind: AnomalyKind::TransformDuplicate,
        key: input.clone(),
        values: committed.iter().map(|o| o.value).collect(),
        offsets: vec![offset],
        ops: super::sorted_distinct(ops),
        explanation: format!(
            "input {input} offset {offset}{value} was transformed by {writers} operations whose outputs are all \
             committed: {}, so it was processed more than once",
            super::join(&cases)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","in-0",[0,17]]]}
{"index":1,"time":1,"process":3,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",100,{"source":["in-0",0]}]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[0,100],{"source":["in-0",0]}]]}
{"index":3,"time":3,"process":5,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",101,{"source":["in-0",0]}]]}
{"index":4,"time":4,"process":5,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[2,101],{"source":["in-0",0]}]]}
{"index":5,"time":5,"process":4,"type":"ok","f":"poll","value":[["poll",{"in-0":[[0,17]],"out-0":[[0,100],[2,101]]}]],"final":true}
"#;

    #[test]
    fn worked_example_processes_17_twice() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].key.as_str(), found[0].values.clone()), ("in-0", vec![100, 101]));
        assert_eq!((found[0].offsets.clone(), found[0].ops.clone()), (vec![0], vec![2, 4, 5]));
        assert_eq!(
            found[0].explanation,
            "input in-0 offset 0 (value 17) was transformed by 2 operations whose outputs are all committed: op 2 \
             sent 100 to out-0 (read by op 5), op 4 sent 101 to out-0 (read by op 5), so it was processed more than \
             once"
        );
    }

    #[test]
    fn an_aborted_attempt_and_a_committed_retry_pass() {
        // Op 2 aborted; its output 100 is not read by the final poll, so only 101 is committed.
        let text = EXAMPLE
            .replacen(r#""type":"ok","f":"txn""#, r#""type":"fail","f":"txn""#, 1)
            .replace("[0,100],[2,101]", "[2,101]");
        assert!(text.contains(r#""type":"fail""#), "{text}");
        assert_eq!(run(check, &text), vec![]);
    }

    #[test]
    fn one_attempt_fanning_out_is_one_processing() {
        // One operation sends two outputs of one input, to two keys; both committed, neither a duplicate.
        let text = r#"{"index":0,"time":0,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[0,100],{"source":["in-0",0]}],["send","out-1",[0,200],{"source":["in-0",0]}]]}
{"index":1,"time":1,"process":4,"type":"ok","f":"poll","value":[["poll",{"out-0":[[0,100]],"out-1":[[0,200]]}]]}
"#;
        assert_eq!(run(check, text), vec![]);
    }

    #[test]
    fn two_committed_reads_need_no_final_poll() {
        // Ordinary polls read both outputs; the input offset is never read here, so its value is not named.
        let text = EXAMPLE.replace(r#","final":true"#, "").replace(r#""in-0":[[0,17]],"out-0""#, r#""out-0""#);
        let text = text.replace(r#"["send","in-0",[0,17]]"#, r#"["send","other-0",[0,17]]"#);
        let text = text.replace(r#"["poll",{"in-0":[[0,17]]}],"#, "");
        let found = run(check, &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].explanation.starts_with("input in-0 offset 0 was transformed by 2"),
            "{}",
            found[0].explanation
        );
    }

    #[test]
    fn an_unread_output_is_not_committed() {
        // Op 4 committed according to its completion, but no poll read 101: the history does not show it in the log
        // (lost-write may), so only 100 is a committed output.
        let text = EXAMPLE.replace("[0,100],[2,101]", "[0,100]");
        assert_eq!(run(check, &text), vec![]);
    }
}
