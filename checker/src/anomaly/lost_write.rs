//! `lost-write`: the broker acknowledged a value, the value should have been read, and no poll ever read it.
//!
//! An acknowledgement is a promise: the record is in the log and every consumer reading that partition will see
//! it. Exactly-once means each acknowledged record is delivered once; delivered zero times, it is lost, and the
//! application that trusted the acknowledgement (and perhaps committed its input offsets) has silently dropped it.
//!
//! Not every unread value is lost: a consumer may simply not have got there yet. A value counts as lost only when
//! the history proves it should have been read:
//! - (a) a final poll of the key, invoked after the value was acknowledged, read the partition to its end after
//!   the system quiesced, and still nobody read the value; or
//! - (b) its acknowledged offset is at or below the highest offset any ok poll read of that key (Jepsen's rule):
//!   consumers read partitions in order, so a consumer that got past the offset should have passed the value. "At"
//!   matters only when another value was read at that very offset, which `inconsistent-offsets` also reports.
//!
//! Only committed sends make the promise. An `ok` send is acknowledged. An `info` send (unknown outcome) may
//! never have happened, so on its own it is never required to be read; but an operation's sends commit together
//! (a transaction's atomically, and eosim records a plain produce as one record per op), so when a poll that
//! completed ok read *another* value the same operation sent, the operation committed and every value it sent is
//! required like an acknowledged one (Jepsen's `must-have-committed?`). Only polls that completed ok count as having
//! read a value: a read by a poll that failed or timed out delivered nothing to an application that committed.
//!
//! A value's offset is its acknowledged one, else the lowest offset any observation (a read of any outcome, or an
//! offset reported by a proven-committed unknown outcome) places it at; a value with no known offset can only be
//! judged by rule (a). Acknowledged values that no rule convicts are reported as `unseen` instead (see
//! [`super::unseen`]).
//!
//! Worked example. Process 1 sends 17 and then 18 to orders-0, acknowledged at offsets 0 and 1; process 2 polls
//! and reads only offset 1:
//!
//! ```text
//! {"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
//! {"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]]]}
//! {"index":2,"time":2,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
//! {"index":3,"time":3,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[1,18]]]}
//! {"index":4,"time":4,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[1,18]]}]]}
//! ```
//!
//! The highest offset read of orders-0 is 1 (op 4). Value 17 was acknowledged at offset 0 ≤ 1 by op 1, and no
//! poll read 17: a lost write, proven by ops 1 and 4. Value 18 was read, so it is fine. Had op 4 read
//! `[[0,17],[1,18]]`, nothing would be lost; had it read only `[[0,17]]`, 18 (at offset 1 > 0) would merely be
//! unseen — unless a final poll came after op 3.
//!
//! A torn transaction — one that committed, of which some writes were read and others lost — is reported the same
//! way, as Jepsen does; the explanation then says that the transaction is only partly visible, which breaks its
//! atomicity, and names the reads of its other writes.

use crate::analysis::{Analysis, KeyId, KeyIndex, Observation, Write, WriteStatus};
use crate::{Anomaly, AnomalyKind, OpFn};

/// What became of one write, as far as the history can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// It was not acknowledged (info or fail), so nothing requires it to be read.
    NotRequired,
    /// Some poll read it.
    Read,
    /// It was acknowledged, should have been read, and was not.
    Lost(Witness),
    /// It was acknowledged and not read, and nothing proves it should have been (yet).
    Unseen,
}

/// The op that proves a write should have been read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Witness {
    /// A final poll, by its op index, read the key to its end after the write was acknowledged.
    FinalPoll(usize),
    /// An ok poll read this offset, at or above the write's.
    HigherRead(Observation),
}

/// The fate of every write of `index`, in order; shared with the `unseen` check, so that the two never disagree.
/// Writes and delivered reads are both sorted by value, so one merge
/// tells which were read, instead of a search per write.
pub(crate) fn fates<'i>(index: &'i KeyIndex) -> impl Iterator<Item = (&'i Write, Fate)> + 'i {
    let mut reads = index.ok_reads.iter().peekable();
    index.writes.iter().map(move |write| {
        while reads.next_if(|r| r.0 < write.value).is_some() {}
        let read = reads.peek().is_some_and(|r| r.0 == write.value);
        (write, fate_read(index, write, read))
    })
}

/// The fate of `write`, knowing whether a committed operation read it.
fn fate_read(index: &KeyIndex, write: &Write, read: bool) -> Fate {
    if !write.status.committed() {
        return Fate::NotRequired;
    }
    if read {
        return Fate::Read;
    }
    // Rule (a): the final poll started after the write ended, so the record was in the log it read to the end.
    if let Some(final_poll) = index.final_poll {
        if final_poll.invoked > write.op() {
            return Fate::Lost(Witness::FinalPoll(final_poll.op));
        }
    }
    // Rule (b): a consumer read past the record's offset.
    let offset = write.offset.or_else(|| index.observed_offset(write.value));
    if let (Some(offset), Some(max_read)) = (offset, index.max_ok_read) {
        if offset <= max_read.offset {
            return Fate::Lost(Witness::HigherRead(max_read));
        }
    }
    // A proven-committed unknown outcome is not "acknowledged", which is what `unseen` lists.
    if write.status == WriteStatus::Ok {
        Fate::Unseen
    } else {
        Fate::NotRequired
    }
}

/// Every committed write that should have been read and was not, one anomaly per value.
pub fn check(analysis: &Analysis<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for (key, index) in analysis.keys.iter().enumerate() {
        for (write, fate) in fates(index) {
            if let Fate::Lost(witness) = fate {
                anomalies.push(lost(analysis, key, write, witness));
            }
        }
    }
    anomalies
}

fn lost(analysis: &Analysis<'_>, key_id: KeyId, write: &Write, witness: Witness) -> Anomaly {
    let index = &analysis.keys[key_id];
    let key = &index.key;
    let value = write.value;
    let writer = write.op();
    let offset = write.offset.or_else(|| index.observed_offset(value));
    let placed = match (write.offset, offset) {
        (Some(offset), _) => format!("at offset {offset}"),
        (None, Some(offset)) => format!("(observed at offset {offset})"),
        (None, None) => "(offset unknown)".to_string(),
    };
    let mut offsets: Vec<u64> = offset.into_iter().collect();
    let mut ops = vec![writer];
    let committed = match (write.status, analysis.commit_proofs.get(&writer)) {
        (WriteStatus::InfoCommitted, Some(proof)) => {
            ops.push(proof.reader);
            let sibling = &analysis.keys[proof.key].key;
            format!(
                "was sent {placed} by op {writer}, whose outcome is unknown, but op {} read value {} of {sibling} \
                 that the same operation sent, so it committed",
                proof.reader, proof.value
            )
        }
        _ => format!("was acknowledged {placed} by op {writer}"),
    };
    let (witness_op, because) = match witness {
        Witness::FinalPoll(op) => (op, format!("the final poll by op {op} read {key} to its end")),
        Witness::HigherRead(read) => {
            offsets.push(read.offset);
            (read.op, format!("op {} read {key} up to offset {}", read.op, read.offset))
        }
    };
    ops.push(witness_op);
    // The witness may be the writer itself: a transaction can send a value and poll past its offset.
    assert!(write.status.committed());
    let nobody = if index.was_read(value) { "no poll that completed ok read it" } else { "no poll ever read it" };
    let torn = torn(analysis, key_id, write, &mut ops);
    Anomaly {
        kind: AnomalyKind::LostWrite,
        key: key.clone(),
        values: vec![value],
        offsets: super::sorted_distinct(offsets),
        ops: super::sorted_distinct(ops),
        explanation: format!("value {value} of {key} {committed}, but {nobody}, although {because}{torn}"),
    }
}

/// When the lost value's operation is a transaction of which other writes were read: a clause saying it is only
/// partly visible, which breaks its atomicity (Jepsen reports such a torn transaction as a lost write), with the
/// readers added to `ops`; otherwise nothing.
fn torn(analysis: &Analysis<'_>, key_id: KeyId, write: &Write, ops: &mut Vec<usize>) -> String {
    let writer = write.op();
    if analysis.history.ops[writer].f != OpFn::Txn {
        return String::new();
    }
    let proof = analysis.commit_proofs.get(&writer).map(|p| (p.key, p.value));
    let mut visible = false;
    let mut reads = Vec::new();
    for (key, value) in analysis.sends_of(writer) {
        if (key, value) == (key_id, write.value) {
            continue;
        }
        let Some(reader) = analysis.keys[key].first_ok_reader(value) else { continue };
        visible = true;
        ops.push(reader);
        // The read that proved the commit is already named in the sentence.
        if proof != Some((key, value)) {
            reads.push(format!("op {reader} read its value {value} of {}", analysis.keys[key].key));
        }
    }
    match (visible, reads.is_empty()) {
        (false, _) => String::new(),
        (true, true) => "; so the transaction is only partly visible, which breaks its atomicity".to_string(),
        (true, false) => format!(
            "; op {writer} is a transaction and only part of it is visible ({}), which breaks its atomicity",
            super::join(&reads)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::test_support::run;

    /// The worked example of the module header.
    const EXAMPLE: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]]]}
{"index":2,"time":2,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
{"index":3,"time":3,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[1,18]]]}
{"index":4,"time":4,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[1,18]]}]]}
"#;

    /// A final poll by process 3 that read orders-0 from offset 1 to its end.
    const FINAL_POLL: &str = r#"{"index":5,"time":5,"process":3,"type":"invoke","f":"poll","value":[["poll"]],"final":true}
{"index":6,"time":6,"process":3,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[1,18]]}]],"final":true}
"#;

    #[test]
    fn worked_example_loses_17() {
        let found = run(check, EXAMPLE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].values, vec![17]);
        assert_eq!(found[0].offsets, vec![0, 1]);
        assert_eq!(found[0].ops, vec![1, 4]);
        assert_eq!(
            found[0].explanation,
            "value 17 of orders-0 was acknowledged at offset 0 by op 1, but no poll ever read it, \
             although op 4 read orders-0 up to offset 1"
        );
    }

    #[test]
    fn reading_everything_passes() {
        let text = EXAMPLE.replace("[[1,18]]", "[[0,17],[1,18]]");
        assert_eq!(run(check, &text), vec![]);
    }

    #[test]
    fn a_value_above_the_highest_read_is_only_unseen() {
        let text = EXAMPLE.replace("[[1,18]]", "[[0,17]]");
        assert_eq!(run(check, &text), vec![]);
        assert_eq!(run(super::super::unseen::check, &text).len(), 1);
    }

    #[test]
    fn a_final_poll_turns_unseen_into_lost() {
        let text = EXAMPLE.replace("[[1,18]]", "[[0,17]]") + FINAL_POLL.replace("[[1,18]]", "[]").as_str();
        let found = run(check, &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].values.clone(), found[0].ops.clone()), (vec![18], vec![3, 6]));
        assert!(found[0].explanation.ends_with("although the final poll by op 6 read orders-0 to its end"));
    }

    #[test]
    fn a_final_poll_invoked_before_the_ack_proves_nothing() {
        // The final poll is invoked (op 2) before 18 is acknowledged (op 4): the poll may have ended before it.
        let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]]]}
{"index":1,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"poll","value":[["poll"]],"final":true}
{"index":3,"time":3,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]],"final":true}
{"index":4,"time":4,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[1,18]]]}
"#;
        assert_eq!(run(check, text), vec![]);
    }

    #[test]
    fn info_sends_are_never_required_to_be_read() {
        // 17's send timed out (info): unread even below the highest read and before a final poll, it is not lost.
        let text = EXAMPLE.replace(
            r#""type":"ok","f":"send","value":[["send","orders-0",[0,17]]]"#,
            r#""type":"info","f":"send","value":[["send","orders-0",17]]"#,
        ) + FINAL_POLL;
        assert_eq!(run(check, &text), vec![]);
        assert_eq!(run(super::super::unseen::check, &text), vec![]);
    }

    #[test]
    fn a_null_offset_is_judged_by_the_final_poll_only() {
        let acks0 = EXAMPLE.replace("[0,17]", "[null,17]");
        assert_eq!(run(check, &acks0), vec![], "rule (b) needs an offset");
        let found = run(check, &(acks0 + FINAL_POLL));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].offsets.clone(), found[0].ops.clone()), (vec![], vec![1, 6]));
        assert!(found[0].explanation.contains("acknowledged (offset unknown) by op 1"));
    }

    #[test]
    fn an_unknown_transaction_proven_committed_must_be_read_whole() {
        // Op 1's transaction sent 17 to orders-0 and 50 to audit-0 and timed out; op 2 read 50, so it committed;
        // the final poll by op 4 read orders-0 to its end without 17.
        let text = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","orders-0",17],["send","audit-0",50]]}
{"index":1,"time":1,"process":1,"type":"info","f":"txn","value":[["send","orders-0",17],["send","audit-0",50]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"audit-0":[[0,50]]}]]}
{"index":3,"time":3,"process":3,"type":"invoke","f":"poll","value":[["poll"]],"final":true}
{"index":4,"time":4,"process":3,"type":"ok","f":"poll","value":[["poll",{"orders-0":[]}]],"final":true}
"#;
        let found = run(check, text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].key.as_str(), found[0].values.clone()), ("orders-0", vec![17]));
        assert_eq!(found[0].ops, vec![1, 2, 4]);
        assert_eq!(
            found[0].explanation,
            "value 17 of orders-0 was sent (offset unknown) by op 1, whose outcome is unknown, but op 2 read value 50 \
             of audit-0 that the same operation sent, so it committed, but no poll ever read it, although the final \
             poll by op 4 read orders-0 to its end; so the transaction is only partly visible, which breaks its \
             atomicity"
        );
        // Unproven (nobody read 50), the same history is clean; read, 17 is fine.
        assert_eq!(run(check, &text.replace("[[0,50]]", "[]")), vec![]);
        assert_eq!(run(check, &text.replace(r#"{"orders-0":[]}"#, r#"{"orders-0":[[0,17]]}"#)), vec![]);
        assert_eq!(run(super::super::unseen::check, &text.replace(r#","final":true"#, "")), vec![]);
    }

    #[test]
    fn a_torn_transaction_names_atomicity() {
        // Op 1's transaction wrote 17 to orders-0 and 50 to audit-0 and committed; op 2 read 50, and the final poll
        // by op 3 (invoked after op 1) read orders-0 to its end without 17. By hand: 17 is lost by rule (a), and
        // since the same transaction's 50 was read, the transaction is only partly visible: ops 1, 2 and 3.
        let text = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","orders-0",17],["send","audit-0",50]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"txn","value":[["send","orders-0",[0,17]],["send","audit-0",[0,50]]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"audit-0":[[0,50]]}]]}
{"index":3,"time":3,"process":3,"type":"ok","f":"poll","value":[["poll",{"orders-0":[]}]],"final":true}
"#;
        let found = run(check, text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].key.as_str(), found[0].ops.clone()), ("orders-0", vec![1, 2, 3]));
        assert_eq!(
            found[0].explanation,
            "value 17 of orders-0 was acknowledged at offset 0 by op 1, but no poll ever read it, although the final \
             poll by op 3 read orders-0 to its end; op 1 is a transaction and only part of it is visible (op 2 read \
             its value 50 of audit-0), which breaks its atomicity"
        );
        // Nothing of the transaction read: both values are lost, and neither names atomicity.
        let unread = text
            .replace(r#"{"audit-0":[[0,50]]}"#, r#"{"audit-0":[]}"#)
            .replace(r#"{"orders-0":[]}"#, r#"{"audit-0":[],"orders-0":[]}"#);
        let found = run(check, &unread);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|a| !a.explanation.contains("atomicity")), "{found:?}");
        // Two plain sends in one op are not atomic: no clause either.
        let plain = text.replace(r#""f":"txn""#, r#""f":"send""#);
        let found = run(check, &plain);
        assert_eq!((found.len(), found[0].ops.clone()), (1, vec![1, 3]));
        assert!(!found[0].explanation.contains("atomicity"), "{}", found[0].explanation);
    }

    #[test]
    fn a_value_read_only_by_failed_polls_was_never_delivered() {
        // 17 is read only by op 5's aborted transaction; op 6 read past it (offset 1) without it: lost, placed at 0.
        let text = EXAMPLE.replace("[0,17]", "[null,17]")
            + r#"{"index":5,"time":5,"process":3,"type":"fail","f":"txn","value":[["poll",{"orders-0":[[0,17]]}]]}
"#;
        let found = run(check, &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].offsets.clone(), found[0].ops.clone()), (vec![0, 1], vec![1, 4]));
        assert_eq!(
            found[0].explanation,
            "value 17 of orders-0 was acknowledged (observed at offset 0) by op 1, but no poll that completed ok read \
             it, although op 4 read orders-0 up to offset 1"
        );
    }
}
