//! `int-send-skip`: inside one operation, two consecutive sends to a key landed with another record between them.
//!
//! A producer that sends 17 and then 18 to one partition in one operation might expect them to be neighbours in
//! the log. Kafka never promises that: other producers' records, and other transactions', interleave freely with a
//! transaction's own, so every guarantee allows it — Jepsen's checker lists it as normal behaviour too. It is
//! reported because it shows interleaving happened, which is what makes cycles and lost updates possible
//! elsewhere, and because a system that claims contiguous batches would want to know.
//!
//! Sends are placed at their acknowledged offsets, else at the lowest offset anything observed their value at, and
//! ordered by the key's version order; every completion counts, and sends that cannot be placed are skipped.
//!
//! Worked example. Process 1's transaction sends 17 and 18 to orders-0, acknowledged at offsets 0 and 2;
//! process 2's send of 30 landed at offset 1, between them:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","orders-0",17],["send","orders-0",18]]}
//! {"index":1,"time":1,"process":2,"type":"ok","f":"send","value":[["send","orders-0",[1,30]]]}
//! {"index":2,"time":2,"process":1,"type":"ok","f":"txn","value":[["send","orders-0",[0,17]],["send","orders-0",[2,18]]]}
//! ```
//!
//! The version order of orders-0 is 0, 1, 2; op 2's sends sit at ranks 0 and 2, with offset 1 between them: one
//! int-send-skip, values [17, 18], offsets [0, 2], ops [2]. Had 30 not landed at offset 1 (a marker there, say),
//! the sends would be neighbours.

use crate::analysis::{Analysis, Step};
use crate::{Anomaly, AnomalyKind};

/// Every pair of consecutive sends to a key inside one operation with known records between them.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    analysis.send_steps.iter().filter(|s| s.delta > 1).map(|s| skip(analysis, s)).collect()
}

fn skip(analysis: &Analysis<'_>, s: &Step) -> Anomaly {
    let index = &analysis.keys[s.key];
    let key = &index.key;
    let (before, after) = (s.before, s.after);
    assert_eq!(before.op, after.op);
    let between = super::between(&index.version_order, before.offset, after.offset);
    assert_eq!(between.len() as i64, s.delta - 1);
    let process = analysis.history.ops[after.op].process;
    Anomaly {
        kind: AnomalyKind::IntSendSkip,
        key: key.clone(),
        values: vec![before.value, after.value],
        offsets: vec![before.offset, after.offset],
        ops: vec![after.op],
        explanation: format!(
            "op {} of process {process} sent value {} and then value {} to {key}, which landed at offsets {} and \
             {}, with {} between them: other writes interleaved, which Kafka allows",
            after.op,
            before.value,
            after.value,
            before.offset,
            after.offset,
            super::records_at(between)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","orders-0",17],["send","orders-0",18]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"send","value":[["send","orders-0",[1,30]]]}
{"index":2,"time":2,"process":1,"type":"ok","f":"txn","value":[["send","orders-0",[0,17]],["send","orders-0",[2,18]]]}
"#;

    #[test]
    fn worked_example_interleaves_30() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![17, 18], vec![0, 2]));
        assert_eq!(found[0].ops, vec![2]);
        assert_eq!(
            found[0].explanation,
            "op 2 of process 1 sent value 17 and then value 18 to orders-0, which landed at offsets 0 and 2, with 1 \
             known record (at offset 1) between them: other writes interleaved, which Kafka allows"
        );
    }

    #[test]
    fn neighbours_pass() {
        let text = EXAMPLE.replace(r#"[["send","orders-0",[1,30]]]"#, r#"[["send","orders-0",[3,30]]]"#);
        assert_eq!(run(check, &text), vec![]);
    }

    #[test]
    fn unknown_outcomes_are_placed_by_reads() {
        // The transaction timed out; a poll read 17 at 0, 30 at 1 and 18 at 2.
        let text = EXAMPLE.replace(
            r#""type":"ok","f":"txn","value":[["send","orders-0",[0,17]],["send","orders-0",[2,18]]]"#,
            r#""type":"info","f":"txn","value":[["send","orders-0",17],["send","orders-0",18]]"#,
        ) + r#"{"index":3,"time":3,"process":3,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17],[1,30],[2,18]]}]]}
"#;
        assert_eq!(run(check, &text).len(), 1);
        let unplaced = text.replace("[[0,17],[1,30],[2,18]]", "[[1,30]]");
        assert_eq!(run(check, &unplaced), vec![]);
    }
}
