//! `nonmonotonic-send`: a process's later acknowledged send to a key landed at a lower offset than an earlier one.
//!
//! A producer that sends 17 and, after 17 is acknowledged, sends 18 expects 18 after 17 in the log; applications
//! rely on that per-partition order (a "deleted" event after its "created" event). The idempotent producer
//! guarantees it with per-partition sequence numbers: the broker rejects a batch that arrives out of sequence
//! instead of appending it. Without them (at-most-once, at-least-once) a retried batch can land after a later
//! one, so those guarantees allow it; idempotent and exactly-once forbid it.
//!
//! Sends are compared per process and per key, in completion order, each op's first acknowledged offset against
//! the previous op's last; sends with a null offset are skipped, and pairs inside one op are the business of
//! `int-nonmonotonic-send`.
//!
//! Worked example. Process 1's send of 17 is acknowledged at offset 5; its next send, 18, at offset 3:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
//! {"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[5,17]]]}
//! {"index":2,"time":2,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
//! {"index":3,"time":3,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[3,18]]]}
//! ```
//!
//! 18 was acknowledged after 17 but at a lower offset (3 < 5): one nonmonotonic-send, values [17, 18], offsets
//! [5, 3], ops [1, 3]. Had 18 landed at offset 6, all would be well.

use crate::analysis::{Analysis, Succession};
use crate::{Anomaly, AnomalyKind};

/// Every pair of successive acknowledged sends to a key by one process where the later landed lower.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    analysis
        .send_successions
        .iter()
        .filter(|s| s.after.offset < s.before.offset)
        .map(|s| nonmonotonic(analysis, s))
        .collect()
}

fn nonmonotonic(analysis: &Analysis<'_>, s: &Succession) -> Anomaly {
    let key = &analysis.keys[s.key].key;
    let (before, after) = (s.before, s.after);
    assert!(after.offset < before.offset);
    Anomaly {
        kind: AnomalyKind::NonmonotonicSend,
        key: key.clone(),
        values: vec![before.value, after.value],
        offsets: vec![before.offset, after.offset],
        ops: vec![before.op, after.op],
        explanation: format!(
            "process {} had value {} of {key} acknowledged at offset {} by op {}, then value {} at the lower offset \
             {} by the later op {}, so its sends went backwards in the log",
            s.process, before.value, before.offset, before.op, after.value, after.offset, after.op
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[5,17]]]}
{"index":2,"time":2,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
{"index":3,"time":3,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[3,18]]]}
"#;

    #[test]
    fn worked_example_goes_backwards() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![17, 18], vec![5, 3]));
        assert_eq!(found[0].ops, vec![1, 3]);
        assert_eq!(
            found[0].explanation,
            "process 1 had value 17 of orders-0 acknowledged at offset 5 by op 1, then value 18 at the lower offset 3 \
             by the later op 3, so its sends went backwards in the log"
        );
    }

    #[test]
    fn forward_sends_pass_and_other_processes_do_not_count() {
        assert_eq!(run(check, &EXAMPLE.replace("[3,18]", "[6,18]")), vec![]);
        assert_eq!(
            run(
                check,
                &EXAMPLE.replace(
                    r#""process":1,"type":"ok","f":"send","value":[["send","orders-0",[3,18]]]"#,
                    r#""process":1,"type":"info","f":"send","value":[["send","orders-0",18]]"#
                )
            ),
            vec![]
        );
        let other = EXAMPLE
            .replace(
                r#""process":1,"type":"invoke","f":"send","value":[["send","orders-0",18]]"#,
                r#""process":2,"type":"invoke","f":"send","value":[["send","orders-0",18]]"#,
            )
            .replace(
                r#""process":1,"type":"ok","f":"send","value":[["send","orders-0",[3,18]]]"#,
                r#""process":2,"type":"ok","f":"send","value":[["send","orders-0",[3,18]]]"#,
            );
        assert_eq!(run(check, &other), vec![]);
    }

    #[test]
    fn null_offsets_are_skipped() {
        let text = EXAMPLE.replace("[3,18]", "[null,18]")
            + r#"{"index":4,"time":4,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[4,19]]]}
"#;
        let found = run(check, &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].ops.clone()), (vec![17, 19], vec![1, 4]));
    }
}
