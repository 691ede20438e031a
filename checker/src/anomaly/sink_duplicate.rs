//! `sink-duplicate`: an external store acknowledged the same write twice.
//!
//! Kafka's exactly-once stops at Kafka: a consume-transform-produce application that also writes to a database (a
//! "sink") is exactly-once end to end only if that write is idempotent or committed together with the consumer's
//! offsets. The classic failure: the transaction writes the row, then aborts (a fencing, a timeout); the store keeps
//! the row, because it is outside the transaction; the input is processed again and the row is written again. An
//! appended row, an incremented counter or a sent e-mail now happens twice. Judged like a send's `duplicate`: at
//! least once allows it, every other guarantee forbids it. The anomaly's key is `store/key`.
//!
//! A sink micro-op `["sink", store, key, value]` in a completion — `ok`, `fail` or `info` alike — says the store
//! acknowledged that write during the operation (the operation's outcome is that of its Kafka work, which cannot
//! undo a store write); in an invocation it is only the intent (see [`crate::analysis::SinkIndex`]). A value
//! acknowledged by two completions, or twice by one, is a duplicate.
//!
//! Worked example. Process 3's transaction writes db/k = 100 and aborts; its retry writes it again and commits:
//!
//! ```text
//! {"index":0,"time":0,"process":3,"type":"invoke","f":"txn","value":[["poll"],["sink","db","k",100]]}
//! {"index":1,"time":1,"process":3,"type":"fail","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["sink","db","k",100]]}
//! {"index":2,"time":2,"process":3,"type":"invoke","f":"txn","value":[["poll"],["sink","db","k",100]]}
//! {"index":3,"time":3,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["sink","db","k",100]]}
//! ```
//!
//! db/k = 100 was acknowledged by ops 1 and 3: one sink-duplicate, key "db/k", values [100], ops [1, 3]. Had the
//! aborted attempt failed before writing (its completion not listing the sink), all would be well.

use crate::analysis::{Analysis, SinkIndex};
use crate::{Anomaly, AnomalyKind, Value};

/// Every (store, key, value) acknowledged more than once, one anomaly each.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for sink in &analysis.sinks {
        for group in sink.acknowledged.chunk_by(|a, b| a.0 == b.0) {
            if group.len() > 1 {
                anomalies.push(duplicate(sink, group));
            }
        }
    }
    anomalies
}

fn duplicate(sink: &SinkIndex, group: &[(Value, usize)]) -> Anomaly {
    let value = group[0].0;
    assert!(group.len() > 1 && group.iter().all(|g| g.0 == value));
    let ops: Vec<usize> = group.iter().map(|g| g.1).collect();
    let name = sink.name();
    let times = if group.len() == 2 { "twice".to_string() } else { format!("{} times", group.len()) };
    Anomaly {
        kind: AnomalyKind::SinkDuplicate,
        key: name.clone(),
        values: vec![value],
        offsets: Vec::new(),
        explanation: format!(
            "the store acknowledged the write {name} = {value} {times}, by ops {}, so its effect was applied more \
             than once",
            super::join(&ops)
        ),
        ops: super::sorted_distinct(ops),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":3,"type":"invoke","f":"txn","value":[["poll"],["sink","db","k",100]]}
{"index":1,"time":1,"process":3,"type":"fail","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["sink","db","k",100]]}
{"index":2,"time":2,"process":3,"type":"invoke","f":"txn","value":[["poll"],["sink","db","k",100]]}
{"index":3,"time":3,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["sink","db","k",100]]}
"#;

    #[test]
    fn worked_example_writes_100_twice() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].key.as_str(), found[0].values.clone()), ("db/k", vec![100]));
        assert_eq!(found[0].ops, vec![1, 3]);
        assert!(found[0].offsets.is_empty());
        assert_eq!(
            found[0].explanation,
            "the store acknowledged the write db/k = 100 twice, by ops 1, 3, so its effect was applied more than once"
        );
    }

    #[test]
    fn an_attempt_that_failed_before_writing_passes() {
        let text = EXAMPLE.replacen(r#"[[0,17]]}],["sink","db","k",100]]}"#, r#"[[0,17]]}]]}"#, 1);
        // Only op 1's completion lost its sink; op 3's still has it.
        assert_eq!(text.matches(r#"["sink","db","k",100]]}"#).count(), 3, "{text}");
        assert_eq!(run(check, &text), vec![]);
    }

    #[test]
    fn other_keys_stores_and_values_are_apart() {
        let text = EXAMPLE.replacen(r#"["sink","db","k",100]]}"#, r#"["sink","db","j",100]]}"#, 2);
        assert_eq!(run(check, &text), vec![]);
        let text = r#"{"index":0,"time":0,"process":3,"type":"ok","f":"txn","value":[["sink","db","k",1],["sink","db","k",1],["sink","cache","k",1]]}
"#;
        let found = run(check, text);
        assert_eq!(found.len(), 1, "twice in one op: {found:?}");
        assert_eq!((found[0].key.as_str(), found[0].ops.clone()), ("db/k", vec![0]));
    }
}
