//! `int-nonmonotonic-poll`: inside one operation, a read of a key went back to, or repeated, an earlier offset.
//!
//! A consumer hands out a partition's records in log order and never the same record twice within one run of
//! polls: its position only moves forward. A poll that returns offset 2 and then offset 0, or offset 2 twice, makes
//! the application process records again (downstream duplicates, though the log holds each record once) and
//! disagrees with the log's own order. Every guarantee forbids it.
//!
//! Order is the key's version order (see [`super::int_poll_skip`] for which reads and operations are judged). A
//! value that sits at two offsets and is read at both, in order, is a `duplicate`, not a step back: the offsets the
//! consumer returned say where it was.
//!
//! Worked example. Process 1's sends of 17 and 18 are acknowledged at offsets 0 and 1; process 2's poll returns
//! offset 1 and then offset 0:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]],["send","orders-0",[1,18]]]}
//! {"index":1,"time":1,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
//! {"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[1,18],[0,17]]}]]}
//! ```
//!
//! Op 2 read offset 1 (rank 1) and then offset 0 (rank 0): it went back. One int-nonmonotonic-poll, values
//! [18, 17], offsets [1, 0], ops [2]. Had op 2 read `[[0,17],[1,18]]`, all would be well.

use crate::analysis::{Analysis, Step};
use crate::{Anomaly, AnomalyKind};

/// Every pair of consecutive reads of a key inside one operation where the later did not come after the earlier.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    analysis.poll_steps.iter().filter(|s| s.delta < 1).map(|s| nonmonotonic(analysis, s)).collect()
}

fn nonmonotonic(analysis: &Analysis<'_>, s: &Step) -> Anomaly {
    let key = &analysis.keys[s.key].key;
    let (before, after) = (s.before, s.after);
    assert_eq!(before.op, after.op);
    assert!(after.offset <= before.offset);
    let how = if after.offset == before.offset {
        format!("read offset {} again", after.offset)
    } else {
        format!("went back to offset {}", after.offset)
    };
    let process = analysis.history.ops[after.op].process;
    Anomaly {
        kind: AnomalyKind::IntNonmonotonicPoll,
        key: key.clone(),
        values: vec![before.value, after.value],
        offsets: vec![before.offset, after.offset],
        ops: vec![after.op],
        explanation: format!(
            "op {} of process {process} read {key} at offset {} (value {}) and next {how} (value {}), but a \
             consumer returns a partition's records in log order",
            after.op, before.offset, before.value, after.value
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]],["send","orders-0",[1,18]]]}
{"index":1,"time":1,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[1,18],[0,17]]}]]}
"#;

    #[test]
    fn worked_example_goes_back() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![18, 17], vec![1, 0]));
        assert_eq!(found[0].ops, vec![2]);
        assert_eq!(
            found[0].explanation,
            "op 2 of process 2 read orders-0 at offset 1 (value 18) and next went back to offset 0 (value 17), but \
             a consumer returns a partition's records in log order"
        );
    }

    #[test]
    fn in_order_passes() {
        assert_eq!(run(check, &EXAMPLE.replace("[[1,18],[0,17]]", "[[0,17],[1,18]]")), vec![]);
    }

    #[test]
    fn a_repeated_record_is_nonmonotonic_but_a_duplicated_value_is_not() {
        let again = run(check, &EXAMPLE.replace("[[1,18],[0,17]]", "[[0,17],[1,18],[1,18]]"));
        assert_eq!(again.len(), 1, "{again:?}");
        assert!(again[0].explanation.contains("and next read offset 1 again (value 18)"), "{again:?}");
        // 18 at offsets 1 and 2, read in order: the log holds it twice, which is `duplicate`'s business.
        let duplicated = EXAMPLE.replace("[[1,18],[0,17]]", "[[0,17],[1,18],[2,18]]");
        assert_eq!(run(check, &duplicated), vec![]);
        assert_eq!(run(crate::anomaly::duplicate::check, &duplicated).len(), 1);
    }

    #[test]
    fn keys_are_judged_apart() {
        let text = EXAMPLE.replace(r#"{"orders-0":[[1,18],[0,17]]}"#, r#"{"audit-0":[[5,1]],"orders-0":[[0,17]]}"#);
        assert_eq!(run(check, &text), vec![]);
    }
}
