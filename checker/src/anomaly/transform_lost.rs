//! `transform-lost`: a consume-transform-produce pipeline consumed an input record, and none of its outputs is in
//! the log.
//!
//! A pipeline reads input records, transforms each into output records, and commits its consumer offsets: in
//! Kafka's exactly-once, in the same transaction as the outputs (`sendOffsetsToTransaction`), so that outputs and
//! progress commit or abort together. Once an input's offset is committed the pipeline never reads it again; if the
//! outputs it was transformed into did not commit with it — the offsets were committed ahead of the outputs, the
//! transaction committed without its records, a fenced zombie's abort took the real commit's records with it —
//! that input has silently dropped out of the pipeline. Each input must have at least one committed output.
//!
//! How it is judged, per input partition (every key named as a `source`, see
//! [`TransformIndex`](crate::analysis::TransformIndex)):
//! - the input records are every (input key, offset) that an operation that committed read: they are in the input
//!   log, so the pipeline had to transform them;
//! - an output is committed when an operation that committed read it (a read_committed consumer sees only
//!   committed records; final polls are such reads, and so are the others), and it belongs to the input record its
//!   send's `source` names;
//! - judged only when the input key and every output key the pipeline writes have an ok final poll: after the
//!   system quiesced and the pipeline drained, every output that will ever be committed is there. Without them the
//!   pipeline may simply not have got there yet, and nothing is said.
//!
//! An input record none of whose outputs is committed is lost, whether its attempts aborted, ended unknown, or were
//! never made; attempts whose output nobody read are named in the explanation. A pipeline that filters (sends no
//! output for some inputs) is outside this check: it would need to record what it dropped.
//!
//! Worked example. Process 1 writes inputs 17 and 18 to in-0 at offsets 0 and 1; the pipeline (process 3) polls
//! both in one transaction but sends an output for 17 only, and commits; the final poll reads both partitions:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","in-0",[0,17]],["send","in-0",[1,18]]]}
//! {"index":1,"time":1,"process":3,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",100,{"source":["in-0",0]}]]}
//! {"index":2,"time":2,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17],[1,18]]}],["send","out-0",[0,100],{"source":["in-0",0]}]]}
//! {"index":3,"time":3,"process":4,"type":"ok","f":"poll","value":[["poll",{"in-0":[[0,17],[1,18]],"out-0":[[0,100]]}]],"final":true}
//! ```
//!
//! in-0 is an input (op 2's send names it); its pipeline writes out-0; both have a final poll (op 3). The input
//! records read by committed ops: offset 0 (17) and offset 1 (18), both first read by op 2. Offset 0's output 100
//! was read by op 3: transformed. Offset 1 has no output at all: one transform-lost, key in-0, values [18],
//! offsets [1], ops [2, 3]. Had the final poll not read out-0 (or not happened), nothing would be judged.

use crate::analysis::{Analysis, Output, TransformIndex};
use crate::{Anomaly, AnomalyKind, Offset, Value};

/// Every input record, of a pipeline whose partitions all had a final poll, with no committed output.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for transform in &analysis.transforms {
        let Some(final_polls) = &transform.final_polls else { continue };
        for &(offset, value, reader) in &transform.consumed {
            let outputs = transform.outputs_of(offset);
            if outputs.iter().all(|o| o.reader.is_none()) {
                anomalies.push(lost(analysis, transform, final_polls, (offset, value, reader), outputs));
            }
        }
    }
    anomalies
}

fn lost(
    analysis: &Analysis<'_>,
    transform: &TransformIndex,
    final_polls: &[usize],
    (offset, value, reader): (Offset, Value, usize),
    outputs: &[Output],
) -> Anomaly {
    assert!(outputs.iter().all(|o| o.reader.is_none() && o.source_offset == offset));
    assert!(!final_polls.is_empty());
    let input = &transform.input;
    let attempts: Vec<String> =
        outputs.iter().map(|o| format!("{} to {} by op {}", o.value, analysis.keys[o.key].key, o.op)).collect();
    let attempted = if attempts.is_empty() {
        "no output was ever sent from it".to_string()
    } else {
        format!("no committed poll read an output sent from it (sent: {})", super::join(&attempts))
    };
    let partitions: Vec<&str> = transform.outputs.iter().map(|&k| analysis.keys[k].key.as_str()).collect();
    let polls = match final_polls {
        [one] => format!("the final poll by op {one}"),
        _ => format!("the final polls by ops {}", super::join(final_polls)),
    };
    let mut ops = vec![reader];
    ops.extend(final_polls);
    ops.extend(outputs.iter().map(|o| o.op));
    Anomaly {
        kind: AnomalyKind::TransformLost,
        key: input.clone(),
        values: vec![value],
        offsets: vec![offset],
        ops: super::sorted_distinct(ops),
        explanation: format!(
            "input {input} offset {offset} (value {value}) was read by op {reader}, which committed, but {attempted}, \
             although {polls} read {input} and {} to the end: the pipeline consumed it and lost its output",
            partitions.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","in-0",[0,17]],["send","in-0",[1,18]]]}
{"index":1,"time":1,"process":3,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",100,{"source":["in-0",0]}]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17],[1,18]]}],["send","out-0",[0,100],{"source":["in-0",0]}]]}
{"index":3,"time":3,"process":4,"type":"ok","f":"poll","value":[["poll",{"in-0":[[0,17],[1,18]],"out-0":[[0,100]]}]],"final":true}
"#;

    #[test]
    fn worked_example_loses_18() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].key.as_str(), found[0].values.clone()), ("in-0", vec![18]));
        assert_eq!((found[0].offsets.clone(), found[0].ops.clone()), (vec![1], vec![2, 3]));
        assert_eq!(
            found[0].explanation,
            "input in-0 offset 1 (value 18) was read by op 2, which committed, but no output was ever sent from it, \
             although the final poll by op 3 read in-0 and out-0 to the end: the pipeline consumed it and lost its \
             output"
        );
    }

    #[test]
    fn one_input_processed_once_passes() {
        // Only 17 is in in-0; the pipeline transformed it into 100, which the final poll read. Verdict: clean.
        let text = EXAMPLE.replace(r#",["send","in-0",[1,18]]"#, "").replace(",[1,18]]", "]");
        assert!(!text.contains("18"), "{text}");
        assert_eq!(run(check, &text), vec![]);
    }

    #[test]
    fn an_aborted_attempt_and_a_committed_retry_pass() {
        // Op 2's attempt wrote 100 and aborted; its retry (op 4) wrote 101 and committed. The final poll (op 5)
        // reads only 101 from out-0: input offset 0 has one committed output, so nothing is lost.
        let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","in-0",[0,17]]]}
{"index":1,"time":1,"process":3,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",100,{"source":["in-0",0]}]]}
{"index":2,"time":2,"process":3,"type":"fail","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",100,{"source":["in-0",0]}]]}
{"index":3,"time":3,"process":3,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",101,{"source":["in-0",0]}]]}
{"index":4,"time":4,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[2,101],{"source":["in-0",0]}]]}
{"index":5,"time":5,"process":4,"type":"ok","f":"poll","value":[["poll",{"in-0":[[0,17]],"out-0":[[2,101]]}]],"final":true}
"#;
        assert_eq!(run(check, text), vec![]);
        // Had the retry's output been lost too (the final poll reads nothing of out-0), offset 0 would be lost,
        // and both unread attempts are named.
        let found = run(check, &text.replace(r#""out-0":[[2,101]]"#, r#""out-0":[]"#));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].ops, vec![2, 4, 5], "reader 4 (op 2 failed), final poll 5, attempts 2 and 4");
        assert!(
            found[0].explanation.contains(
                "no committed poll read an output sent from it (sent: 100 to out-0 by op 2, 101 to out-0 by op 4)"
            ),
            "{}",
            found[0].explanation
        );
    }

    #[test]
    fn without_a_final_poll_of_every_output_key_nothing_is_judged() {
        // The final poll reads in-0 but not out-0: the pipeline may still be writing 18's output.
        let text = EXAMPLE.replace(r#","out-0":[[0,100]]"#, "");
        assert_eq!(run(check, &text), vec![]);
        // Nor without a final poll at all, or with a final poll of out-0 only.
        assert_eq!(run(check, &EXAMPLE.replace(r#","final":true"#, "")), vec![]);
        assert_eq!(run(check, &EXAMPLE.replace(r#""in-0":[[0,17],[1,18]],"out-0""#, r#""out-0""#)), vec![]);
    }

    #[test]
    fn only_reads_by_committed_operations_make_an_input_required() {
        // 18 is read only by an aborted transaction (op 4), and no final poll reads in-0 beyond offset 0: the
        // history never shows 18 committed in the input, so its missing output proves nothing.
        let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","in-0",[0,17]]]}
{"index":1,"time":1,"process":1,"type":"info","f":"send","value":[["send","in-0",18]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[0,100],{"source":["in-0",0]}]]}
{"index":3,"time":3,"process":4,"type":"ok","f":"poll","value":[["poll",{"in-0":[[0,17]],"out-0":[[0,100]]}]],"final":true}
{"index":4,"time":4,"process":3,"type":"fail","f":"txn","value":[["poll",{"in-0":[[1,18]]}],["send","out-0",101,{"source":["in-0",1]}]]}
"#;
        assert_eq!(run(check, text), vec![]);
    }

    #[test]
    fn fan_out_and_several_pipelines() {
        // Op 1 transforms in-0 offset 0 into two outputs, one per output key; b-in's pipeline is judged apart and
        // has no final poll of its output key, so its untransformed input says nothing.
        let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","in-0",[0,17]],["send","b-in",[0,5]],["send","b-in",[1,6]]]}
{"index":1,"time":1,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[0,100],{"source":["in-0",0]}],["send","out-1",[0,200],{"source":["in-0",0]}]]}
{"index":2,"time":2,"process":5,"type":"ok","f":"txn","value":[["poll",{"b-in":[[0,5],[1,6]]}],["send","b-out",[0,50],{"source":["b-in",0]}]]}
{"index":3,"time":3,"process":4,"type":"ok","f":"poll","value":[["poll",{"b-in":[[0,5],[1,6]],"in-0":[[0,17]],"out-0":[[0,100]],"out-1":[]}]],"final":true}
"#;
        assert_eq!(run(check, text), vec![], "200 is not read, but 100 is: offset 0 has a committed output");
        let found = run(check, &text.replace(r#""out-0":[[0,100]],"out-1":[]"#, r#""out-0":[],"out-1":[],"b-out":[]"#));
        let lost: Vec<(&str, Vec<u64>)> = found.iter().map(|a| (a.key.as_str(), a.offsets.clone())).collect();
        assert_eq!(lost, vec![("b-in", vec![0]), ("b-in", vec![1]), ("in-0", vec![0])]);
        assert!(found[2].explanation.contains("read in-0 and out-0, out-1 to the end"), "{}", found[2].explanation);
    }
}
