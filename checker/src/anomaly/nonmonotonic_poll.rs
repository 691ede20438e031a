//! `nonmonotonic-poll`: a process's poll of a key started at or before the last offset its previous poll of that
//! key had read.
//!
//! A consumer's position only moves forward: each poll continues where the last one stopped, until the partition
//! is reassigned away. Going back means the consumer will process records it already processed — downstream
//! duplicates, even when the log itself holds each record once. Exactly-once consumption relies on the position
//! (committed with the transaction) moving forward exactly as far as what was processed, so every guarantee
//! forbids it.
//!
//! Polls are judged per process and per key, between reassignments: an ok (or info) `assign` or `subscribe` that
//! drops the key resets the process's position in it; one that keeps the key does not. Every poll that read
//! something is judged against the position, whether its operation completed ok, failed or is unknown (as Jepsen's
//! `poll-skip+nonmonotonic-cases-per-process` does: a consumer must never hand out records out of order, whatever
//! becomes of its transaction). Only ok polls move the position: a failed one's consumer must rewind to where it
//! stood, and after an info one the position is forgotten (the transaction may have committed its offsets), so
//! the next poll starts afresh — Jepsen keeps the old position there (docs/checks/README.md). Polls that read
//! nothing of a key do not move the position. Only each poll's first and last record are compared here; pairs
//! inside one poll are the business of `int-nonmonotonic-poll`.
//!
//! Worked example. Process 2 is assigned orders-0, polls offsets 0–1, is reassigned orders-0 and orders-1 (keeping
//! orders-0), and polls again from offset 1:
//!
//! ```text
//! {"index":0,"time":0,"process":2,"type":"ok","f":"assign","value":["orders-0"]}
//! {"index":1,"time":1,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17],[1,18]]}]]}
//! {"index":2,"time":2,"process":2,"type":"ok","f":"assign","value":["orders-0","orders-1"]}
//! {"index":3,"time":3,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[1,18],[2,19]]}]]}
//! ```
//!
//! Op 1 ended at offset 1; op 2 kept orders-0, so op 3 had to start after offset 1, but started at 1: one
//! nonmonotonic-poll, values [18, 18], offsets [1, 1], ops [1, 3]. Had op 2 assigned only orders-1, dropping
//! orders-0, the position would have been reset and op 3 could start anywhere; had op 3 read `[[2,19]]`, all
//! would be well.

use crate::analysis::{Analysis, Succession};
use crate::{Anomaly, AnomalyKind};

/// Every pair of successive polls of a key by one process where the later did not start after the earlier ended.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    analysis
        .poll_successions
        .iter()
        .filter(|s| s.after.offset <= s.before.offset)
        .map(|s| nonmonotonic(analysis, s))
        .collect()
}

fn nonmonotonic(analysis: &Analysis<'_>, s: &Succession) -> Anomaly {
    let key = &analysis.keys[s.key].key;
    let (before, after) = (s.before, s.after);
    assert!(after.offset <= before.offset);
    let how = if after.offset == before.offset { "again" } else { "back" };
    Anomaly {
        kind: AnomalyKind::NonmonotonicPoll,
        key: key.clone(),
        values: vec![before.value, after.value],
        offsets: vec![before.offset, after.offset],
        ops: vec![before.op, after.op],
        explanation: format!(
            "process {} read {key} up to offset {} (value {}) in op {}, then its next poll, op {}, started {how} at \
             offset {} (value {}), although no reassignment had dropped {key}",
            s.process, before.offset, before.value, before.op, after.op, after.offset, after.value
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":2,"type":"ok","f":"assign","value":["orders-0"]}
{"index":1,"time":1,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17],[1,18]]}]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"assign","value":["orders-0","orders-1"]}
{"index":3,"time":3,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[1,18],[2,19]]}]]}
"#;

    #[test]
    fn worked_example_polls_offset_1_again() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![18, 18], vec![1, 1]));
        assert_eq!(found[0].ops, vec![1, 3]);
        assert_eq!(
            found[0].explanation,
            "process 2 read orders-0 up to offset 1 (value 18) in op 1, then its next poll, op 3, started again at \
             offset 1 (value 18), although no reassignment had dropped orders-0"
        );
    }

    #[test]
    fn continuing_after_the_last_offset_passes() {
        assert_eq!(run(check, &EXAMPLE.replace("[[1,18],[2,19]]", "[[2,19]]")), vec![]);
    }

    #[test]
    fn an_assign_that_drops_the_key_resets_the_position() {
        assert_eq!(run(check, &EXAMPLE.replace(r#"["orders-0","orders-1"]"#, r#"["orders-1"]"#)), vec![]);
        // A failed assign changed nothing, so the position stands.
        let failed = EXAMPLE.replace(
            r#""ok","f":"assign","value":["orders-0","orders-1"]"#,
            r#""fail","f":"assign","value":["orders-1"]"#,
        );
        assert_eq!(run(check, &failed).len(), 1);
    }

    #[test]
    fn going_back_is_reported_and_other_processes_do_not_interfere() {
        let text = EXAMPLE.replace("[[1,18],[2,19]]", "[[0,17]]")
            + r#"{"index":4,"time":4,"process":3,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]]}
"#;
        let found = run(check, &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].offsets.clone(), found[0].ops.clone()), (vec![1, 0], vec![1, 3]));
        assert!(found[0].explanation.contains("started back at offset 0"));
    }

    #[test]
    fn failed_and_info_polls_are_judged_too() {
        // Process 2 stands after offset 1. Its next transaction polls from offset 0 again and then fails (or ends
        // unknown): the consumer handed out records it had already passed, whatever became of the transaction.
        let base: String = EXAMPLE.lines().take(2).map(|l| format!("{l}\n")).collect();
        for outcome in ["fail", "info"] {
            let line = |reads: &str| {
                format!(
                    r#"{{"index":2,"time":2,"process":2,"type":"{outcome}","f":"txn","value":[["poll",{{"orders-0":{reads}}}]]}}
"#
                )
            };
            let found = run(check, &(base.clone() + &line("[[0,17],[1,18]]")));
            assert_eq!(found.len(), 1, "{outcome}: {found:?}");
            assert_eq!((found[0].offsets.clone(), found[0].ops.clone()), (vec![1, 0], vec![1, 2]));
            // Starting after offset 1 is fine.
            assert_eq!(run(check, &(base.clone() + &line("[[2,19]]"))), vec![], "{outcome}");
        }
    }

    #[test]
    fn empty_failed_and_info_polls() {
        // An empty read and an aborted transaction's read leave the position at 1, so re-reading from 2 is fine.
        let base: String = EXAMPLE.lines().take(2).map(|l| format!("{l}\n")).collect();
        let text = base.clone()
            + r#"{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[]}]]}
{"index":3,"time":3,"process":2,"type":"fail","f":"txn","value":[["poll",{"orders-0":[[2,19]]}]]}
{"index":4,"time":4,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[2,19]]}]]}
"#;
        assert_eq!(run(check, &text), vec![]);
        // After an info poll the position is unknown: restarting at 0 is not judged.
        let info = base
            + r#"{"index":2,"time":2,"process":2,"type":"info","f":"poll","value":[["poll"]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]]}
"#;
        assert_eq!(run(check, &info), vec![]);
    }
}
