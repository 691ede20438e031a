//! `int-nonmonotonic-send`: inside one operation, a later send to a key landed at or before an earlier one.
//!
//! A producer that sends 17 and then 18 to one partition, in one transaction or one batch, expects 18 after 17 in
//! the log: applications rely on per-partition order (an "updated" event after its "created" event), and the
//! idempotent producer's sequence numbers exist to keep it even across retries. Without them (at-most-once,
//! at-least-once) a retried batch may land after a later one, so those guarantees allow it; idempotent and
//! exactly-once forbid it, as they forbid `nonmonotonic-send` across operations.
//!
//! Sends are placed as for [`super::int_send_skip`].
//!
//! Worked example. Process 1's transaction sends 17 and then 18 to orders-0, acknowledged at offsets 5 and 3:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","orders-0",17],["send","orders-0",18]]}
//! {"index":1,"time":1,"process":1,"type":"ok","f":"txn","value":[["send","orders-0",[5,17]],["send","orders-0",[3,18]]]}
//! ```
//!
//! 18 was sent after 17 in op 1 but landed lower (3 < 5): one int-nonmonotonic-send, values [17, 18], offsets
//! [5, 3], ops [1]. Had 18 landed at offset 6, all would be well.

use crate::analysis::{Analysis, Step};
use crate::{Anomaly, AnomalyKind};

/// Every pair of consecutive sends to a key inside one operation where the later did not land after the earlier.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    analysis.send_steps.iter().filter(|s| s.delta < 1).map(|s| nonmonotonic(analysis, s)).collect()
}

fn nonmonotonic(analysis: &Analysis<'_>, s: &Step) -> Anomaly {
    let key = &analysis.keys[s.key].key;
    let (before, after) = (s.before, s.after);
    assert_eq!(before.op, after.op);
    assert!(after.offset <= before.offset);
    let lower = if after.offset == before.offset { "the same offset" } else { "a lower offset" };
    let process = analysis.history.ops[after.op].process;
    Anomaly {
        kind: AnomalyKind::IntNonmonotonicSend,
        key: key.clone(),
        values: vec![before.value, after.value],
        offsets: vec![before.offset, after.offset],
        ops: vec![after.op],
        explanation: format!(
            "op {} of process {process} sent value {} and then value {} to {key}, but the later landed at {lower}, \
             {}, than the earlier, at {}, so the operation's sends went backwards in the log",
            after.op, before.value, after.value, after.offset, before.offset
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","orders-0",17],["send","orders-0",18]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"txn","value":[["send","orders-0",[5,17]],["send","orders-0",[3,18]]]}
"#;

    #[test]
    fn worked_example_goes_backwards() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![17, 18], vec![5, 3]));
        assert_eq!(found[0].ops, vec![1]);
        assert_eq!(
            found[0].explanation,
            "op 1 of process 1 sent value 17 and then value 18 to orders-0, but the later landed at a lower offset, \
             3, than the earlier, at 5, so the operation's sends went backwards in the log"
        );
        assert_eq!(run(crate::anomaly::nonmonotonic_send::check, EXAMPLE), vec![], "one op: nothing across ops");
    }

    #[test]
    fn forward_sends_and_other_keys_pass() {
        assert_eq!(run(check, &EXAMPLE.replace("[3,18]", "[6,18]")), vec![]);
        assert_eq!(
            run(check, &EXAMPLE.replace(r#"["send","orders-0",[3,18]]"#, r#"["send","audit-0",[3,18]]"#)),
            vec![]
        );
    }

    #[test]
    fn unplaced_sends_are_skipped() {
        assert_eq!(run(check, &EXAMPLE.replace("[3,18]", "[null,18]")), vec![]);
    }
}
