//! `G1a` (aborted read): a poll that completed ok read a value whose send, or whose transaction, definitely failed.
//!
//! A `fail` completion says the write certainly did not happen: the producer was told so, and the application may
//! have retried the work elsewhere or reported the error to its user. Kafka's read_committed consumers promise to
//! skip every record of an aborted transaction (the broker marks the aborted range, and the consumer filters it).
//! A consumer that sees such a record acts on data that, as far as its producer knows, never existed — and often
//! the retry delivers it a second time. Every guarantee forbids it: at-most-once and at-least-once forbid it too,
//! since a failure report that is false breaks the producer's own retry logic.
//!
//! An `info` send (unknown outcome) that is read is fine: that is how unknown outcomes get resolved. A read by a
//! poll that did not complete ok proves nothing about what a consumer acted on, so only ok polls count.
//!
//! Worked example. Process 1's transaction sending 17 aborts; process 2 then reads 17 at offset 0:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","orders-0",17]]}
//! {"index":1,"time":1,"process":1,"type":"fail","f":"txn","value":[["send","orders-0",17]]}
//! {"index":2,"time":2,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
//! {"index":3,"time":3,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]]}
//! ```
//!
//! 17's writer failed (op 1) and an ok poll read it (op 3): one G1a, values [17], offsets [0], ops [1, 3]. Had the
//! transaction completed `ok` or `info`, the read would be fine.

use crate::analysis::{Analysis, KeyIndex, Observation, Source, WriteStatus};
use crate::{Anomaly, AnomalyKind, Value};

/// Every value of a failed write read by an ok poll, one anomaly per value (naming all its readers).
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for index in &analysis.keys {
        // Failed writes are few: look each one's observations up by value, rather than every observation's writer.
        for write in index.writes.iter().filter(|w| w.status == WriteStatus::Fail) {
            let start = index.by_value.partition_point(|o| o.0 < write.value);
            let hits: Vec<(Value, u64, usize)> = index.by_value[start..]
                .iter()
                .take_while(|o| o.0 == write.value)
                .filter(|&&(_, offset, op)| read_ok(index, offset, write.value, op))
                .copied()
                .collect();
            if !hits.is_empty() {
                anomalies.push(aborted_read(index, &hits));
            }
        }
    }
    anomalies
}

/// Whether op `op` observed `value` at `offset` as an ok read.
fn read_ok(index: &KeyIndex, offset: u64, value: Value, op: usize) -> bool {
    let probe = Observation { offset, value, op, source: Source::OkRead };
    index.observations.binary_search(&probe).is_ok()
}

fn aborted_read(index: &KeyIndex, group: &[(Value, u64, usize)]) -> Anomaly {
    let value = group[0].0;
    let writer = index.writer_of(value).map(|w| w.op());
    assert!(writer.is_some(), "a G1a case always has a writer");
    let readers = super::sorted_distinct(group.iter().map(|g| g.2).collect());
    let offsets = super::sorted_distinct(group.iter().map(|g| g.1).collect());
    let key = &index.key;
    let writer = writer.unwrap_or(0);
    let explanation = format!(
        "value {value} of {key} was read at offset {} by op {}, but its send definitely failed (op {writer}), so \
         a consumer saw an aborted write",
        super::join(&offsets),
        super::join(&readers)
    );
    let mut ops = readers;
    ops.push(writer);
    Anomaly {
        kind: AnomalyKind::G1a,
        key: key.clone(),
        values: vec![value],
        offsets,
        ops: super::sorted_distinct(ops),
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":1,"type":"fail","f":"txn","value":[["send","orders-0",17]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]]}
"#;

    #[test]
    fn worked_example_reads_an_aborted_write() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![17], vec![0]));
        assert_eq!(found[0].ops, vec![1, 3]);
        assert_eq!(
            found[0].explanation,
            "value 17 of orders-0 was read at offset 0 by op 3, but its send definitely failed (op 1), so a consumer \
             saw an aborted write"
        );
    }

    #[test]
    fn reading_an_ok_or_info_write_is_fine() {
        let ok = EXAMPLE.replace(
            r#""type":"fail","f":"txn","value":[["send","orders-0",17]]"#,
            r#""type":"ok","f":"txn","value":[["send","orders-0",[0,17]]]"#,
        );
        assert_eq!(run(check, &ok), vec![]);
        let info = EXAMPLE.replace(r#""type":"fail""#, r#""type":"info""#);
        assert_eq!(run(check, &info), vec![]);
    }

    #[test]
    fn only_ok_polls_count() {
        let failed_poll = EXAMPLE.replace(r#""type":"ok","f":"poll""#, r#""type":"fail","f":"poll""#);
        assert_eq!(run(check, &failed_poll), vec![]);
    }

    #[test]
    fn a_failed_send_read_in_a_transaction_by_two_readers_is_one_case() {
        let text = EXAMPLE.replace(r#""f":"txn""#, r#""f":"send""#).to_string()
            + r#"{"index":4,"time":4,"process":3,"type":"ok","f":"txn","value":[["poll",{"orders-0":[[0,17]]}],["send","audit-0",[0,1]]]}
"#;
        let found = run(check, &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].ops, vec![1, 3, 4]);
    }
}
