//! `precommitted-read`: an operation read back a value that it sent itself, before it had committed.
//!
//! A Kafka transaction's records become visible to read_committed consumers only once its commit marker is
//! written: until then the last stable offset stops every fetch below them. So a transaction that sends 17 and
//! polls the same partition must not see 17 — if it does, its consumer is reading uncommitted data, and had the
//! transaction aborted, the application would have acted on a record that never existed (the `G1a` it leads to).
//! Most databases let a transaction read its own writes; Kafka's model does not, so kafka-eos forbids it. Without
//! transactions (at-most-once, at-least-once, idempotent) an acknowledged record is visible at once, and an
//! operation that sends and then polls may well read it back, so those guarantees allow it.
//!
//! Every completion counts, whatever its outcome: the consumer returned the record while the operation ran.
//!
//! Worked example. Process 1's transaction sends 17 to orders-0 and polls orders-0, which returns 17 at offset 4:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","orders-0",17],["poll"]]}
//! {"index":1,"time":1,"process":1,"type":"ok","f":"txn","value":[["send","orders-0",[4,17]],["poll",{"orders-0":[[4,17]]}]]}
//! ```
//!
//! Op 1 read its own 17: one precommitted-read, values [17], offsets [4], ops [1]. Had the poll returned only
//! records of other, committed transactions (`[[3,12]]`, say), all would be well.

use crate::analysis::{Analysis, OwnRead};
use crate::{Anomaly, AnomalyKind};

/// Every (operation, key) whose reads include values the same operation sent, one anomaly each.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    let mut own = analysis.own_reads.clone();
    own.sort_unstable_by_key(|r| (r.op, r.key, r.value, r.offset));
    own.chunk_by(|a, b| (a.op, a.key) == (b.op, b.key)).map(|group| precommitted(analysis, group)).collect()
}

fn precommitted(analysis: &Analysis<'_>, group: &[OwnRead]) -> Anomaly {
    let (op, key) = (group[0].op, &analysis.keys[group[0].key].key);
    assert!(group.iter().all(|r| r.op == op && r.key == group[0].key));
    let values = super::sorted_distinct(group.iter().map(|r| r.value).collect());
    let offsets = super::sorted_distinct(group.iter().map(|r| r.offset).collect());
    let process = analysis.history.ops[op].process;
    let (noun, pronoun) = if values.len() == 1 { ("value", "it") } else { ("values", "them") };
    Anomaly {
        kind: AnomalyKind::PrecommittedRead,
        key: key.clone(),
        explanation: format!(
            "op {op} of process {process} sent {noun} {} to {key} and read {pronoun} back (at offset {}) in the same \
             operation, before it had committed, but read_committed consumers see no record of an open transaction",
            super::join(&values),
            super::join(&offsets)
        ),
        values,
        offsets,
        ops: vec![op],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","orders-0",17],["poll"]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"txn","value":[["send","orders-0",[4,17]],["poll",{"orders-0":[[4,17]]}]]}
"#;

    #[test]
    fn worked_example_reads_its_own_17() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![17], vec![4]));
        assert_eq!(found[0].ops, vec![1]);
        assert_eq!(
            found[0].explanation,
            "op 1 of process 1 sent value 17 to orders-0 and read it back (at offset 4) in the same operation, \
             before it had committed, but read_committed consumers see no record of an open transaction"
        );
    }

    #[test]
    fn reading_other_records_passes() {
        assert_eq!(run(check, &EXAMPLE.replace("[[4,17]]}", "[[3,12]]}")), vec![]);
        // The same value in another partition is another record.
        assert_eq!(run(check, &EXAMPLE.replace(r#"{"orders-0":[[4,17]]}"#, r#"{"audit-0":[[4,17]]}"#)), vec![]);
    }

    #[test]
    fn an_aborted_transaction_reading_its_own_sends_is_one_case_per_key() {
        let text = r#"{"index":0,"time":0,"process":1,"type":"fail","f":"txn","value":[["send","orders-0",17],["send","orders-0",18],["poll",{"orders-0":[[4,17],[5,18]]}]]}
"#;
        let found = run(check, text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![17, 18], vec![4, 5]));
        assert!(found[0].explanation.contains("sent values 17, 18 to orders-0 and read them back (at offset 4, 5)"));
    }

    #[test]
    fn another_process_reading_the_value_is_not_precommitted() {
        let text = EXAMPLE.replace(r#",["poll",{"orders-0":[[4,17]]}]"#, "")
            + r#"{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[4,17]]}]]}
"#;
        assert_eq!(run(check, &text), vec![]);
    }
}
