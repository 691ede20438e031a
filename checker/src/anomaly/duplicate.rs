//! `duplicate`: one value of a key observed at two or more distinct offsets.
//!
//! Every value is sent once in a history, so a value at two offsets means the log holds the record twice: the
//! classic retry duplicate, where a producer's send landed, its acknowledgement was lost, and the retry appended
//! it again. Every consumer then processes it twice. Exactly-once (and the idempotent producer, whose sequence
//! numbers exist to stop exactly this) forbids it; at-least-once accepts it as the price of retrying.
//!
//! Offsets come from acknowledged sends and from reads, by any poll: consumers only return records that are in
//! the log, so even a read by a poll that failed shows where a value sits.
//!
//! Worked example. Process 1's send of 17 is acknowledged at offset 5; process 2's poll finds 17 at offsets 4
//! and 5:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
//! {"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[5,17]]]}
//! {"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[4,17],[5,17]]}]]}
//! ```
//!
//! Value 17 of orders-0 sits at offsets 4 (op 2) and 5 (ops 1 and 2): one duplicate, offsets [4, 5], ops [1, 2].
//! Had the poll read only `[[5,17]]`, 17 would sit at one offset, seen twice, which is fine.

use crate::analysis::{Analysis, KeyIndex};
use crate::{Anomaly, AnomalyKind, Value};

/// Every value found at more than one offset of its key, one anomaly per value.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for index in &analysis.keys {
        // The analysis keeps this key's observations sorted by value: each value's offsets sit together, in order.
        for group in index.by_value.chunk_by(|a, b| a.0 == b.0) {
            let first_offset = group[0].1;
            if group.iter().any(|&(_, offset, _)| offset != first_offset) {
                anomalies.push(duplicate(index, group));
            }
        }
    }
    anomalies
}

fn duplicate(index: &KeyIndex, group: &[(Value, u64, usize)]) -> Anomaly {
    let value = group[0].0;
    assert!(group.iter().all(|g| g.0 == value));
    let offsets = super::sorted_distinct(group.iter().map(|g| g.1).collect());
    let ops = super::sorted_distinct(group.iter().map(|g| g.2).collect());
    assert!(offsets.len() > 1);
    let key = &index.key;
    Anomaly {
        kind: AnomalyKind::Duplicate,
        key: key.clone(),
        explanation: format!(
            "value {value} of {key} was sent once but sits at {} offsets ({}), according to ops {}",
            offsets.len(),
            super::join(&offsets),
            super::join(&ops)
        ),
        values: vec![value],
        offsets,
        ops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[5,17]]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[4,17],[5,17]]}]]}
"#;

    #[test]
    fn worked_example_duplicates_17() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].values, vec![17]);
        assert_eq!(found[0].offsets, vec![4, 5]);
        assert_eq!(found[0].ops, vec![1, 2]);
        assert_eq!(
            found[0].explanation,
            "value 17 of orders-0 was sent once but sits at 2 offsets (4, 5), according to ops 1, 2"
        );
    }

    #[test]
    fn the_same_offset_seen_twice_is_fine() {
        let text = EXAMPLE.replace("[[4,17],[5,17]]", "[[5,17]]");
        assert_eq!(run(check, &text), vec![]);
    }

    #[test]
    fn two_polls_disagreeing_on_a_values_offset_is_a_duplicate() {
        // No offset from the send (acks=0), but two consumers find 17 at offsets 4 and 6.
        let text = EXAMPLE.replace("[5,17]]]", "[null,17]]]").replace("[[4,17],[5,17]]", "[[4,17]]")
            + r#"{"index":3,"time":3,"process":3,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[6,17]]}]]}
"#;
        let found = run(check, &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].offsets.clone(), found[0].ops.clone()), (vec![4, 6], vec![2, 3]));
    }
}
