//! `sink-lost-write`: an operation committed its Kafka work but the external store never acknowledged a write the
//! operation meant to make.
//!
//! In a consume-transform-produce pipeline that also writes to a store, committing the transaction commits the
//! consumer's input offsets: the input will not be processed again. If the store write had not been acknowledged
//! by then — it was to be done after the commit and the process crashed, or it failed and was not retried — it is
//! gone for good, though Kafka's side is perfect. Judged like a send's `lost-write`: at most once allows it, every
//! other guarantee forbids it. The anomaly's key is `store/key`.
//!
//! The history format has no reads of external stores, so a sink write is proven lost by its absence: an
//! invocation lists the writes the operation means to make; the operation committed (it completed `ok`, or its
//! outcome is unknown and an ok poll read one of its sends, as for `lost-write`); and no completion in the history
//! lists that (store, key, value) as acknowledged (see [`crate::analysis::SinkIndex`]); nor did another operation
//! whose outcome is unknown mean to make it — that one may have made it, its acknowledgement lost with it (a
//! crash between the store's write and its answer, the retry then finding the row already there).
//!
//! Worked example. Process 3's transaction reads input 17 and means to write db/k = 100; it commits, but its
//! completion does not list the store write (it was never acknowledged), and nothing else writes it:
//!
//! ```text
//! {"index":0,"time":0,"process":3,"type":"invoke","f":"txn","value":[["poll"],["sink","db","k",100]]}
//! {"index":1,"time":1,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}]]}
//! ```
//!
//! db/k = 100 was required by op 1, which committed, and no completion acknowledged it: one sink-lost-write, key
//! "db/k", values [100], ops [1]. Had op 1's completion listed `["sink","db","k",100]`, all would be well.

use crate::analysis::{Analysis, SinkIndex};
use crate::{Anomaly, AnomalyKind, Value};

/// Every (store, key, value) an operation that committed meant to write, that no completion acknowledged, and
/// that no other operation with an unknown outcome meant to write too (that one may have made it, its
/// acknowledgement lost with it: a crash between the store's write and its answer, and the retry then found
/// the row there).
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for sink in &analysis.sinks {
        for group in sink.required.chunk_by(|a, b| a.0 == b.0) {
            let value = group[0].0;
            let requirers: Vec<usize> = group.iter().map(|g| g.1).collect();
            if !sink.was_acknowledged(value) && !sink.may_have_been_applied(value, &requirers) {
                anomalies.push(lost(analysis, sink, group));
            }
        }
    }
    anomalies
}

fn lost(analysis: &Analysis<'_>, sink: &SinkIndex, group: &[(Value, usize)]) -> Anomaly {
    let value = group[0].0;
    assert!(group.iter().all(|g| g.0 == value));
    let mut ops: Vec<usize> = group.iter().map(|g| g.1).collect();
    let how = match analysis.commit_proofs.get(&ops[0]) {
        Some(proof) => {
            ops.push(proof.reader);
            format!(
                "op {}, whose outcome is unknown, committed (op {} read value {} of {}, which it sent)",
                ops[0], proof.reader, proof.value, analysis.keys[proof.key].key
            )
        }
        None => format!("op {} committed", ops[0]),
    };
    let name = sink.name();
    Anomaly {
        kind: AnomalyKind::SinkLostWrite,
        key: name.clone(),
        values: vec![value],
        offsets: Vec::new(),
        explanation: format!(
            "{how} and meant to write {name} = {value}, but no operation's completion says the store acknowledged \
             that write, so its input was consumed without its effect"
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
{"index":1,"time":1,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}]]}
"#;

    #[test]
    fn worked_example_loses_100() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].key.as_str(), found[0].values.clone()), ("db/k", vec![100]));
        assert_eq!(found[0].ops, vec![1]);
        assert_eq!(
            found[0].explanation,
            "op 1 committed and meant to write db/k = 100, but no operation's completion says the store \
             acknowledged that write, so its input was consumed without its effect"
        );
    }

    #[test]
    fn an_acknowledged_write_passes_and_an_aborted_one_is_not_required() {
        let acknowledged = EXAMPLE.replace(r#"[[0,17]]}]]}"#, r#"[[0,17]]}],["sink","db","k",100]]}"#);
        assert_eq!(run(check, &acknowledged), vec![]);
        assert_eq!(run(check, &EXAMPLE.replace(r#""type":"ok""#, r#""type":"fail""#)), vec![]);
        assert_eq!(run(check, &EXAMPLE.replace(r#""type":"ok""#, r#""type":"info""#)), vec![]);
    }

    #[test]
    fn an_unknown_outcome_proven_committed_requires_its_sink_write() {
        // The transaction also sent 200 to out-0, which op 2 read: it committed, and db/k = 100 was never acked.
        let text = r#"{"index":0,"time":0,"process":3,"type":"invoke","f":"txn","value":[["send","out-0",200],["sink","db","k",100]]}
{"index":1,"time":1,"process":3,"type":"info","f":"txn","value":[["send","out-0",200]]}
{"index":2,"time":2,"process":4,"type":"ok","f":"poll","value":[["poll",{"out-0":[[0,200]]}]]}
"#;
        let found = run(check, text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].ops, vec![1, 2]);
        assert!(found[0].explanation.starts_with(
            "op 1, whose outcome is unknown, committed (op 2 read value 200 of out-0, which it sent) and meant to write"
        ));
        // A retry by another operation that got it acknowledged makes up for it.
        let retried = text.to_string()
            + r#"{"index":3,"time":3,"process":5,"type":"ok","f":"txn","value":[["sink","db","k",100]]}
"#;
        assert_eq!(run(check, &retried), vec![]);
    }

    #[test]
    fn a_crashed_attempt_may_have_made_the_write_its_committed_retry_needed() {
        // Op 1 (process 3) meant to write db/k = 100 and crashed before the store answered: unknown. Its
        // retry, op 3, committed without the store acknowledging the row as its own (the row was there). Nothing
        // proves the write lost: op 1 may have made it. Without op 1 the loss is proven.
        let text = r#"{"index":0,"time":0,"process":3,"type":"invoke","f":"txn","value":[["poll"],["sink","db","k",100]]}
{"index":1,"time":1,"process":3,"type":"info","f":"txn","value":[["poll",{}]]}
{"index":2,"time":2,"process":5,"type":"invoke","f":"txn","value":[["poll"],["sink","db","k",100]]}
{"index":3,"time":3,"process":5,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}]]}
"#;
        assert_eq!(run(check, text), vec![]);
        let without_the_crash: String = text.lines().skip(2).map(|line| format!("{line}\n")).collect();
        let without_the_crash =
            without_the_crash.replace("\"index\":2", "\"index\":0").replace("\"index\":3", "\"index\":1");
        let found = run(check, &without_the_crash);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].values, vec![100]);
    }
}
