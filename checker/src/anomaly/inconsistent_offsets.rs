//! `inconsistent-offsets`: one offset of a key observed holding two or more different values.
//!
//! A partition is a log: each offset holds exactly one record, forever. If two acknowledgements, or an
//! acknowledgement and a read, or two reads, disagree about what sits at an offset, the log was rewritten — the
//! typical cause is a leader that acknowledged a record and then lost it to a new leader that put another record at
//! the same offset (acks=1, or an unclean election). Consumers positioned by offset then skip or re-read records,
//! and committed consumer offsets point at different data than when they were committed, so no delivery guarantee
//! survives it: every guarantee forbids it.
//!
//! Worked example. Processes 1 and 2 both have their sends acknowledged at offset 4; process 3 reads offset 4:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
//! {"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[4,17]]]}
//! {"index":2,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
//! {"index":3,"time":3,"process":2,"type":"ok","f":"send","value":[["send","orders-0",[4,18]]]}
//! {"index":4,"time":4,"process":3,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[4,18]]}]]}
//! ```
//!
//! Offset 4 of orders-0 is said to hold 17 (op 1) and 18 (ops 3 and 4): one anomaly, values [17, 18], offsets
//! [4], ops [1, 3, 4]. (17, acknowledged at or below the highest offset read and never read, is also a
//! `lost-write`.) Had op 3 acknowledged 18 at offset 5, and op 4 read `[[4,17],[5,18]]`, all would be well.

use crate::analysis::{Analysis, KeyIndex, Observation};
use crate::{Anomaly, AnomalyKind};

/// Every offset observed with more than one value, one anomaly per key and offset.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for index in &analysis.keys {
        // Observations are sorted by offset, then value: each offset's values sit together.
        for group in index.observations.chunk_by(|a, b| a.offset == b.offset) {
            let first_value = group[0].value;
            if group.iter().any(|o| o.value != first_value) {
                anomalies.push(inconsistent(index, group));
            }
        }
    }
    anomalies
}

fn inconsistent(index: &KeyIndex, group: &[Observation]) -> Anomaly {
    let offset = group[0].offset;
    assert!(group.iter().all(|o| o.offset == offset));
    let values = super::sorted_distinct(group.iter().map(|o| o.value).collect());
    let ops = super::sorted_distinct(group.iter().map(|o| o.op).collect());
    assert!(values.len() > 1);
    let key = &index.key;
    Anomaly {
        kind: AnomalyKind::InconsistentOffsets,
        key: key.clone(),
        explanation: format!(
            "offset {offset} of {key} was observed holding {} different values ({}) by ops {}, but an offset holds \
             exactly one record",
            values.len(),
            super::join(&values),
            super::join(&ops)
        ),
        values,
        offsets: vec![offset],
        ops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[4,17]]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"send","value":[["send","orders-0",[4,18]]]}
{"index":4,"time":4,"process":3,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[4,18]]}]]}
"#;

    #[test]
    fn worked_example_finds_two_values_at_offset_4() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![17, 18], vec![4]));
        assert_eq!(found[0].ops, vec![1, 3, 4]);
        assert_eq!(
            found[0].explanation,
            "offset 4 of orders-0 was observed holding 2 different values (17, 18) by ops 1, 3, 4, but an offset \
             holds exactly one record"
        );
        assert_eq!(run(crate::anomaly::lost_write::check, EXAMPLE)[0].values, vec![17]);
    }

    #[test]
    fn distinct_offsets_pass() {
        let text = EXAMPLE.replace("[4,18]]]", "[5,18]]]").replace("[[4,18]]", "[[4,17],[5,18]]");
        assert_eq!(run(check, &text), vec![]);
    }

    #[test]
    fn two_reads_disagreeing_fail() {
        // Sends with unknown offsets; two consumers read different values at offset 0.
        let text =
            EXAMPLE.replace("[4,17]", "[null,17]").replace("[4,18]]]", "[null,18]]]").replace("[[4,18]]", "[[0,18]]")
                + r#"{"index":5,"time":5,"process":4,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]]}
"#;
        let found = run(check, &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].offsets.clone(), found[0].ops.clone()), (vec![0], vec![4, 5]));
    }
}
