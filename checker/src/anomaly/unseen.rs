//! `unseen`: acknowledged values that no poll has read, with nothing yet proving that one should have.
//!
//! This is not an error on its own: consumers lag, and a history may end before they catch up. It is reported
//! (one anomaly per key, listing the values) because a large or growing unseen set is how a loss looks before a
//! final poll proves it, and because a run whose checks saw nothing proves little. No guarantee forbids it. A
//! write the history proves should have been read is a `lost-write` instead; both checks share one decision,
//! [`super::lost_write::fates`], so a value is never both.
//!
//! Worked example. Process 1's sends of 17 and 18 are acknowledged at offsets 0 and 1; process 2 reads offset 0,
//! and the history ends without a final poll:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
//! {"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]]]}
//! {"index":2,"time":2,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
//! {"index":3,"time":3,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[1,18]]]}
//! {"index":4,"time":4,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]]}
//! ```
//!
//! 18 sits at offset 1, above the highest offset read (0), so it may only be late: one `unseen` anomaly for
//! orders-0 with values [18], offsets [1], ops [3]. Had op 4 also read `[1,18]`, nothing would be unseen.

use crate::analysis::Analysis;
use crate::anomaly::lost_write::{fates, Fate};
use crate::{Anomaly, AnomalyKind};

/// One anomaly per key listing its acknowledged values that no poll read and no rule proves lost.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for index in &analysis.keys {
        let unseen: Vec<_> = fates(index).filter(|(_, fate)| *fate == Fate::Unseen).map(|(w, _)| w).collect();
        if unseen.is_empty() {
            continue;
        }
        let values: Vec<i64> = unseen.iter().map(|w| w.value).collect();
        let offsets = super::sorted_distinct(unseen.iter().filter_map(|w| w.offset).collect());
        let ops = super::sorted_distinct(unseen.iter().map(|w| w.op()).collect());
        let key = &index.key;
        let count = values.len();
        let (noun, verb, object, subject) =
            if count == 1 { ("value", "has", "it", "it") } else { ("values", "have", "them", "they") };
        anomalies.push(Anomaly {
            kind: AnomalyKind::Unseen,
            key: key.clone(),
            explanation: format!(
                "{count} acknowledged {noun} of {key} ({}) {verb} not been read by any poll, and no final poll of \
                 {key} came after {object}, so {subject} may only be late",
                super::join(&values),
            ),
            values,
            offsets,
            ops,
        });
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]]]}
{"index":2,"time":2,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
{"index":3,"time":3,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[1,18]]]}
{"index":4,"time":4,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]]}
"#;

    #[test]
    fn worked_example_leaves_18_unseen() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![18], vec![1]));
        assert_eq!(found[0].ops, vec![3]);
        assert_eq!(
            found[0].explanation,
            "1 acknowledged value of orders-0 (18) has not been read by any poll, and no final poll of orders-0 \
             came after it, so it may only be late"
        );
    }

    #[test]
    fn reading_everything_leaves_nothing_unseen() {
        let text = EXAMPLE.replace("[[0,17]]", "[[0,17],[1,18]]");
        assert_eq!(run(check, &text), vec![]);
    }

    #[test]
    fn values_with_null_offsets_and_no_reads_are_listed_together() {
        // Nobody polls at all, and 17 was acknowledged without an offset: both values are unseen, one anomaly.
        let text: String = EXAMPLE.lines().take(4).map(|l| l.replace("[0,17]", "[null,17]") + "\n").collect();
        let found = run(check, &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![17, 18], vec![1]));
        assert_eq!(found[0].ops, vec![1, 3]);
    }

    #[test]
    fn an_info_send_that_is_never_read_is_not_unseen() {
        let text = EXAMPLE.replace(
            r#""type":"ok","f":"send","value":[["send","orders-0",[1,18]]]"#,
            r#""type":"info","f":"send","value":[["send","orders-0",18]]"#,
        );
        assert_eq!(run(check, &text), vec![]);
    }
}
