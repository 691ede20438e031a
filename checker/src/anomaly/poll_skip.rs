//! `poll-skip`: a process's poll of a key started past the next offset known to hold a record after where its
//! previous poll of that key ended.
//!
//! A consumer that jumps over records never processes them. If it then commits its position (in an exactly-once
//! pipeline, inside the transaction with its output), those inputs are gone for good: their outputs are never
//! produced, though every record is safely in the log. The classic cause is a consumer that does not rewind to its
//! last committed offsets after its transaction aborts (KAFKA-17582). Every guarantee forbids it.
//!
//! Skips are judged against the key's version order — the distinct offsets known, from acknowledged sends or any
//! read, to hold records — not by offset + 1: transaction markers and aborted batches occupy offsets no consumer
//! returns, so gaps in raw offsets are normal. The same per-process, between-reassignments rules as for
//! `nonmonotonic-poll` apply (see [`super::nonmonotonic_poll`]); in particular a failed transaction's poll does
//! not move the position, so the next poll must start where the last committed one ended.
//!
//! Worked example. Process 1's sends of 17, 18 and 19 are acknowledged at offsets 0, 2 and 3 (offset 1 holds a
//! marker); process 2 polls offset 0, then offset 3:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]],["send","orders-0",[2,18]],["send","orders-0",[3,19]]]}
//! {"index":1,"time":1,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]]}
//! {"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[3,19]]}]]}
//! ```
//!
//! The version order of orders-0 is 0, 2, 3. Op 1 ended at 0, so op 2 had to start at 2, but started at 3: one
//! poll-skip over offset 2, values [17, 19], offsets [0, 3], ops [1, 2]. (18 is also a `lost-write`.) Had op 2
//! read `[[2,18],[3,19]]` it would pass, although it jumped from raw offset 0 to 2.

use crate::analysis::{Analysis, Source, Succession};
use crate::{Anomaly, AnomalyKind, OpFn, OpType, Rules};

/// Every pair of successive polls of a key by one process where the later jumped over known records.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    analysis
        .poll_successions
        .iter()
        .filter_map(|s| {
            let skipped = skipped_offsets(analysis, s);
            let excused = analysis.rules == Rules::Eosim && consumed_by_another_member(analysis, s, skipped);
            (!skipped.is_empty() && !excused).then(|| skip(analysis, s, skipped))
        })
        .collect()
}

/// Whether another process's committed — or possibly committed (`info`) — transaction, begun before the later
/// poll returned, read every skipped record (its commit, somewhere inside its interval, may then have moved the
/// group's offsets before the rewind).
///
/// A consume-transform-produce transaction commits its input offsets with it (KIP-447's
/// `sendOffsetsToTransaction`), and a member rewinds to the group's committed offsets after an abort. So when a
/// rebalance hands a member's partition to another that processes and commits records, and the first member, a
/// zombie that has not heard of the rebalance yet, rewinds, it lands past those records: a legitimate jump, whose
/// transaction the group then fences (ILLEGAL_GENERATION), and nothing is lost, since another committed them.
/// A transaction whose outcome the member never learned (`info`: its EndTxn's answer was lost, or it timed out
/// while the coordinator committed) counts too: the group's committed offsets are exactly what can have moved past
/// the records, and if it aborted instead, no committed transaction read them and `transform-lost` says so; a
/// member's poll position is not the place to judge that. (external-store-upsert --wide, seed 149: a zombie
/// rewound past records another member read in a transaction whose EndTxn answer was lost.)
/// Jepsen has no such rule: it allows poll skips altogether when the test subscribes (docs/checks/README.md).
fn consumed_by_another_member(analysis: &Analysis<'_>, s: &Succession, skipped: &[u64]) -> bool {
    let history = &analysis.history.ops;
    let committed_elsewhere = |offset: u64| {
        analysis.keys[s.key].observations.iter().any(|o| {
            let op = &history[o.op];
            let committed_or_maybe = match op.op_type {
                OpType::Ok => o.source == Source::OkRead,
                OpType::Info => o.source == Source::OtherRead,
                _ => false,
            };
            o.offset == offset
                && committed_or_maybe
                && op.f == OpFn::Txn
                && op.process != s.process
                && analysis.invoke_of(o.op).unwrap_or(o.op) < s.after.op
        })
    };
    !skipped.is_empty() && skipped.iter().all(|&offset| committed_elsewhere(offset))
}

/// The offsets known to hold records strictly between where the earlier poll ended and the later one began.
fn skipped_offsets<'a>(analysis: &'a Analysis<'_>, s: &Succession) -> &'a [u64] {
    // A poll that went back is nonmonotonic, not a skip; then the range is empty.
    super::between(&analysis.keys[s.key].version_order, s.before.offset, s.after.offset)
}

fn skip(analysis: &Analysis<'_>, s: &Succession, skipped: &[u64]) -> Anomaly {
    let index = &analysis.keys[s.key];
    let key = &index.key;
    let (before, after) = (s.before, s.after);
    assert!(before.offset < after.offset && !skipped.is_empty());
    let what = super::skipped_phrase(skipped);
    let mut ops = vec![before.op, after.op];
    let rewind = match s.aborted {
        Some(aborted) => {
            ops.push(aborted);
            format!(
                "; op {aborted}, which read {key} in between, failed, so the consumer had to rewind to just after \
                 offset {}",
                before.offset
            )
        }
        None => String::new(),
    };
    Anomaly {
        kind: AnomalyKind::PollSkip,
        key: key.clone(),
        values: vec![before.value, after.value],
        offsets: vec![before.offset, after.offset],
        ops: super::sorted_distinct(ops),
        explanation: format!(
            "process {} read {key} up to offset {} in op {}, then its next poll, op {}, started at offset {}, \
             skipping {what}{rewind}",
            s.process, before.offset, before.op, after.op, after.offset
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]],["send","orders-0",[2,18]],["send","orders-0",[3,19]]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[3,19]]}]]}
"#;

    #[test]
    fn worked_example_skips_offset_2() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].offsets.clone()), (vec![17, 19], vec![0, 3]));
        assert_eq!(found[0].ops, vec![1, 2]);
        assert_eq!(
            found[0].explanation,
            "process 2 read orders-0 up to offset 0 in op 1, then its next poll, op 2, started at offset 3, \
             skipping offset 2, which is known to hold a record"
        );
    }

    #[test]
    fn gaps_in_raw_offsets_are_not_skips() {
        assert_eq!(run(check, &EXAMPLE.replace("[[3,19]]", "[[2,18],[3,19]]")), vec![]);
    }

    #[test]
    fn going_back_is_not_a_skip() {
        // Op 1 ends at offset 3 and op 2 starts back at 0: nonmonotonic-poll's business, not a skip.
        let back: String = EXAMPLE
            .lines()
            .map(|line| match line {
                l if l.contains(r#""index":1,"#) => l.replace("[[0,17]]", "[[2,18],[3,19]]"),
                l if l.contains(r#""index":2,"#) => l.replace("[[3,19]]", "[[0,17]]"),
                l => l.to_string(),
            } + "\n")
            .collect();
        assert_eq!(run(check, &back), vec![]);
        assert_eq!(run(crate::anomaly::nonmonotonic_poll::check, &back).len(), 1);
    }

    #[test]
    fn not_rewinding_after_an_aborted_transaction_skips() {
        // Op 2's transaction read 18 and aborted, so the consumer had to rewind to after offset 0; op 3 did not.
        let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]],["send","orders-0",[1,18]],["send","orders-0",[2,19]]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]]}
{"index":2,"time":2,"process":2,"type":"fail","f":"txn","value":[["poll",{"orders-0":[[1,18]]}],["send","out-0",100]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[2,19]]}]]}
"#;
        let found = run(check, text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].offsets.clone(), found[0].ops.clone()), (vec![0, 2], vec![1, 2, 3]));
        assert_eq!(
            found[0].explanation,
            "process 2 read orders-0 up to offset 0 in op 1, then its next poll, op 3, started at offset 2, skipping \
             offset 1, which is known to hold a record; op 2, which read orders-0 in between, failed, so the consumer \
             had to rewind to just after offset 0"
        );
        let rewound = text.replace("[[2,19]]", "[[1,18],[2,19]]");
        assert_eq!(run(check, &rewound), vec![]);
    }

    #[test]
    fn a_zombie_that_rewinds_past_what_another_member_committed_is_not_a_skip() {
        // Process 2 read offset 0 in a committed transaction; the group then handed orders-0 to process 3, which
        // read and committed offset 1 (op 2); process 2, a zombie, rewound to the group's committed offset and read
        // offset 2 in a transaction that failed (fenced). Offset 1 was consumed by another member: no skip by
        // eosim's rules; Jepsen's rules (without subscribe) call it one.
        let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]],["send","orders-0",[1,18]],["send","orders-0",[2,19]]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"txn","value":[["poll",{"orders-0":[[0,17]]}]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"txn","value":[["poll",{"orders-0":[[1,18]]}]]}
{"index":3,"time":3,"process":2,"type":"fail","f":"txn","value":[["poll",{"orders-0":[[2,19]]}]]}
"#;
        assert_eq!(run(check, text), vec![]);
        let history = crate::History::parse_jsonl("h.jsonl", text).expect("parses");
        let jepsen = crate::check_with(&history, crate::Guarantee::KafkaEos, crate::Rules::Jepsen);
        let skips: Vec<Vec<usize>> =
            jepsen.anomalies.iter().filter(|a| a.kind == AnomalyKind::PollSkip).map(|a| a.ops.clone()).collect();
        assert_eq!(skips, vec![vec![1, 3]]);
        // A plain poll (no offsets committed) or a failed transaction of the other process excuses nothing.
        for other in [r#""type":"ok","f":"poll""#, r#""type":"fail","f":"txn""#] {
            let text = text.replace(r#""process":3,"type":"ok","f":"txn""#, &format!(r#""process":3,{other}"#));
            assert_eq!(run(check, &text).len(), 1, "{other}");
        }
        // A transaction of unknown outcome may have committed, and with it the offsets the zombie rewound to.
        let info = text.replace(r#""process":3,"type":"ok","f":"txn""#, r#""process":3,"type":"info","f":"txn""#);
        assert_eq!(run(check, &info), vec![]);
        // It must have begun before the zombie's poll returned: one invoked after cannot have moved the offsets.
        let late = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]],["send","orders-0",[1,18]],["send","orders-0",[2,19]]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"txn","value":[["poll",{"orders-0":[[0,17]]}]]}
{"index":2,"time":2,"process":2,"type":"fail","f":"txn","value":[["poll",{"orders-0":[[2,19]]}]]}
{"index":3,"time":3,"process":3,"type":"info","f":"txn","value":[["poll",{"orders-0":[[1,18]]}]]}
"#;
        assert_eq!(run(check, late).len(), 1, "{late}");
    }
}
