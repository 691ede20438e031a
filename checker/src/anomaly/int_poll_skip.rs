//! `int-poll-skip`: inside one operation, two consecutive reads of a key jumped over a record known to be there.
//!
//! A consumer returns a partition's records in log order, one after another: a poll that hands the application
//! offset 0 and then offset 3, when offset 2 is known to hold a record, has silently dropped that record. The
//! application never processes it, and when the operation commits its position (past offset 3), the record is
//! gone for good for this consumer group, although it is safe in the log. Every guarantee forbids it: consumers
//! read in order whatever the producer promises.
//!
//! Like `poll-skip`, gaps are judged against the key's version order (offsets known, from acknowledged sends or any
//! read, to hold records), never by offset + 1, because transaction markers occupy offsets no consumer returns.
//! Reads of a key are taken in the order the operation lists them, across all its poll micro-ops; every completion
//! counts, whatever its outcome (a failed transaction's consumer still returned what it returned), and a key whose
//! assignment changed while the operation ran (Jepsen's `:rebalance-log`, the `"rebalanced"` field) is not judged.
//!
//! Worked example. Process 1's sends of 17, 18 and 19 are acknowledged at offsets 0, 2 and 3 (offset 1 holds a
//! marker); process 2's single poll returns offsets 0 and 3:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]],["send","orders-0",[2,18]],["send","orders-0",[3,19]]]}
//! {"index":1,"time":1,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
//! {"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17],[3,19]]}]]}
//! ```
//!
//! The version order of orders-0 is 0, 2, 3. Op 2 read offset 0 (rank 0) and then offset 3 (rank 2): it jumped
//! over offset 2. One int-poll-skip, values [17, 19], offsets [0, 3], ops [2]. (18 is also a `lost-write`.) Had
//! op 2 read `[[0,17],[2,18],[3,19]]`, it would pass, although it jumps from raw offset 0 to 2.

use crate::analysis::{Analysis, Step};
use crate::{Anomaly, AnomalyKind};

/// Every pair of consecutive reads of a key inside one operation that jumped over known records.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    analysis.poll_steps.iter().filter(|s| s.delta > 1).map(|s| skip(analysis, s)).collect()
}

fn skip(analysis: &Analysis<'_>, s: &Step) -> Anomaly {
    let index = &analysis.keys[s.key];
    let key = &index.key;
    let (before, after) = (s.before, s.after);
    assert_eq!(before.op, after.op);
    let skipped = super::between(&index.version_order, before.offset, after.offset);
    assert_eq!(skipped.len() as i64, s.delta - 1);
    let process = analysis.history.ops[after.op].process;
    Anomaly {
        kind: AnomalyKind::IntPollSkip,
        key: key.clone(),
        values: vec![before.value, after.value],
        offsets: vec![before.offset, after.offset],
        ops: vec![after.op],
        explanation: format!(
            "op {} of process {process} read {key} at offset {} (value {}) and next at offset {} (value {}), \
             skipping {}",
            after.op,
            before.offset,
            before.value,
            after.offset,
            after.value,
            super::skipped_phrase(skipped)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]],["send","orders-0",[2,18]],["send","orders-0",[3,19]]]}
{"index":1,"time":1,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17],[3,19]]}]]}
"#;

    #[test]
    fn worked_example_skips_offset_2() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![17, 19], vec![0, 3]));
        assert_eq!(found[0].ops, vec![2]);
        assert_eq!(
            found[0].explanation,
            "op 2 of process 2 read orders-0 at offset 0 (value 17) and next at offset 3 (value 19), skipping \
             offset 2, which is known to hold a record"
        );
        assert_eq!(run(crate::anomaly::poll_skip::check, EXAMPLE), vec![], "one poll: nothing across ops");
    }

    #[test]
    fn reading_every_record_passes_despite_raw_gaps() {
        assert_eq!(run(check, &EXAMPLE.replace("[[0,17],[3,19]]", "[[0,17],[2,18],[3,19]]")), vec![]);
    }

    #[test]
    fn reads_are_joined_across_the_polls_of_one_transaction() {
        let text = EXAMPLE.replace(
            r#""ok","f":"poll","value":[["poll",{"orders-0":[[0,17],[3,19]]}]]"#,
            r#""fail","f":"txn","value":[["poll",{"orders-0":[[0,17]]}],["poll",{"orders-0":[[3,19]]}]]"#,
        );
        let found = run(check, &text);
        assert_eq!(found.len(), 1, "a failed transaction's consumer still skipped: {found:?}");
        assert_eq!(found[0].ops, vec![2]);
    }

    #[test]
    fn a_rebalance_during_the_poll_excuses_it() {
        let text = EXAMPLE.replace("]]}]]}", r#"]]}]],"rebalanced":["orders-0"]}"#);
        assert!(text.contains("rebalanced"), "{text}");
        assert_eq!(run(check, &text), vec![]);
    }

    #[test]
    fn several_skipped_offsets_are_listed() {
        let text = EXAMPLE
            .replace(r#"["send","orders-0",[3,19]]]"#, r#"["send","orders-0",[3,19]],["send","orders-0",[4,20]]]"#)
            .replace("[[0,17],[3,19]]", "[[0,17],[4,20]]");
        let found = run(check, &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].explanation.ends_with("skipping 2 offsets (2, 3) known to hold records"), "{found:?}");
    }
}
