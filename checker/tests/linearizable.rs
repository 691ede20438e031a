//! The linearizability checker on hand-worked histories, on histories generated from the models themselves (always
//! linearizable) and on mutations of them (never), and a benchmark.
//!
//! Every hand-worked verdict is derived in the comment above its history: which operations real time orders, which
//! orders are left, and why the model accepts or rejects each. The benchmark is ignored by default (it wants a
//! release build): `cargo test --release -p eosim-checker --test linearizable -- --ignored --nocapture`; with
//! `EOSIM_LOG_HISTORY_OUT=FILE` it also writes its 10^5 operations (`EOSIM_LOG_HISTORY_OPS` to change the count) as
//! JSON Lines, to time another checker on them.

use std::collections::BTreeMap;
use std::time::Instant;

use eosim_checker::linearizable::{
    check, check_history, check_partitions, from_history, CommittedOffsets, Log, LogInput, LogOutput, Model,
    OffsetsInput, OffsetsOutput, Operation, Register, RegisterInput, RegisterOutput, SearchBudget, Verdict,
};
use eosim_checker::{History, MicroOp, Offset, Op, OpFn, OpType, Value};
use proptest::prelude::*;

const PENDING: u64 = u64::MAX;

fn op<I, O>(client: u64, call_ns: u64, return_ns: u64, input: I, output: O) -> Operation<I, O> {
    Operation { client, input, call_ns, return_ns, output }
}

fn write(key: &str, value: Value) -> RegisterInput {
    RegisterInput::Write { key: key.to_string(), value }
}

fn read(key: &str) -> RegisterInput {
    RegisterInput::Read { key: key.to_string() }
}

fn append(value: Value) -> LogInput {
    LogInput::Append { key: "k".to_string(), value }
}

fn appended(offset: Offset) -> LogOutput {
    LogOutput::Appended { offset }
}

fn log_read() -> LogInput {
    LogInput::Read { key: "k".to_string() }
}

fn records(records: &[(Offset, Value)]) -> LogOutput {
    LogOutput::Read { records: records.to_vec(), to_end: false }
}

fn verdict<M: Model>(model: &M, ops: &[Operation<M::Input, M::Output>]) -> Verdict {
    check(model, ops, SearchBudget::default())
}

/// The longest prefix of a verdict that must be `NotLinearizable`.
fn prefix(verdict: &Verdict) -> Vec<usize> {
    match verdict {
        Verdict::NotLinearizable { longest_prefix, .. } => longest_prefix.clone(),
        other => panic!("expected not linearizable, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Registers.

#[test]
fn a_read_of_a_value_never_written_is_not_linearizable() {
    // op 0 writes 1 over [0, 10]; op 1 reads 2 over [20, 30]. Real time puts op 0 first; then x = 1, and nothing
    // ever makes it 2. The search orders op 0 and gets stuck at op 1's return: prefix [0].
    let ops = vec![
        op(1, 0, 10, write("x", 1), RegisterOutput::Written),
        op(2, 20, 30, read("x"), RegisterOutput::Read(Some(2))),
    ];
    let verdict = verdict(&Register, &ops);
    assert_eq!(prefix(&verdict), vec![0]);
    let Verdict::NotLinearizable { partition, explanation, .. } = &verdict else { unreachable!() };
    assert_eq!(partition, "x");
    assert!(explanation.contains("op 1") && explanation.contains("Some(1)"), "{explanation}");
    assert!(explanation.contains("the model rejects it"), "{explanation}");
}

#[test]
fn a_stale_read_after_a_completed_write_is_not_linearizable() {
    // op 0 writes 1 over [0, 10], op 1 writes 2 over [20, 30], op 2 reads 1 over [40, 50]. Each returned before the
    // next was called, so the only order is 0, 1, 2, and op 2 then finds 2. Prefix [0, 1].
    let ops = vec![
        op(1, 0, 10, write("x", 1), RegisterOutput::Written),
        op(2, 20, 30, write("x", 2), RegisterOutput::Written),
        op(3, 40, 50, read("x"), RegisterOutput::Read(Some(1))),
    ];
    assert_eq!(prefix(&verdict(&Register, &ops)), vec![0, 1]);
    // If the read began before op 1 returned, it may come before op 1: linearizable.
    let mut overlapping = ops.clone();
    overlapping[2].call_ns = 25;
    assert_eq!(verdict(&Register, &overlapping), Verdict::Linearizable);
    // Touching counts as overlapping: neither clearly came first.
    overlapping[2].call_ns = 30;
    assert_eq!(verdict(&Register, &overlapping), Verdict::Linearizable);
}

#[test]
fn concurrent_writes_may_take_effect_in_either_order() {
    // Writes of 1 over [0, 10] and of 2 over [5, 15] overlap; a read over [20, 30] may see either value: "1, 2, read"
    // explains 2 and "2, 1, read" explains 1. But two reads in sequence, 1 then 2, would need write 2 between them,
    // after 20, and it returned at 15.
    let writes = vec![
        op(1, 0, 10, write("x", 1), RegisterOutput::Written),
        op(2, 5, 15, write("x", 2), RegisterOutput::Written),
    ];
    for seen in [1, 2] {
        let mut ops = writes.clone();
        ops.push(op(3, 20, 30, read("x"), RegisterOutput::Read(Some(seen))));
        assert_eq!(verdict(&Register, &ops), Verdict::Linearizable, "read {seen}");
    }
    let mut ops = writes.clone();
    ops.push(op(3, 20, 30, read("x"), RegisterOutput::Read(Some(1))));
    ops.push(op(3, 40, 50, read("x"), RegisterOutput::Read(Some(2))));
    let longest = prefix(&verdict(&Register, &ops));
    assert_eq!(longest, vec![1, 0, 2], "2 then 1 explains the first read, and nothing explains the second");
}

#[test]
fn compare_and_set_succeeds_only_on_the_expected_value() {
    // op 0 writes 1; op 1 swaps 1 for 5 (ok); op 2 tries to swap 1 for 6 and is told it failed; op 3 reads 5. In
    // sequence: 1, cas ok → 5, cas fails as 5 ≠ 1, read 5: linearizable. Had op 2 been told it succeeded, nothing
    // holds 1 by then: not linearizable.
    let cas = |expected, new| RegisterInput::Cas { key: "x".into(), expected, new };
    let mut ops = vec![
        op(1, 0, 1, write("x", 1), RegisterOutput::Written),
        op(1, 2, 3, cas(1, 5), RegisterOutput::Cas(true)),
        op(2, 4, 5, cas(1, 6), RegisterOutput::Cas(false)),
        op(2, 6, 7, read("x"), RegisterOutput::Read(Some(5))),
    ];
    assert_eq!(verdict(&Register, &ops), Verdict::Linearizable);
    ops[2].output = RegisterOutput::Cas(true);
    assert_eq!(prefix(&verdict(&Register, &ops)), vec![0, 1]);
}

#[test]
fn a_write_that_never_returned_may_or_may_not_have_happened() {
    // op 0 writes 1 over [0, 10]. op 1 writes 2 from 5 and never returns. A read over [20, 30] may see 1 (op 1 not
    // yet, or never) or 2 (it happened before the read).
    let base = vec![
        op(1, 0, 10, write("x", 1), RegisterOutput::Written),
        op(2, 5, PENDING, write("x", 2), RegisterOutput::Written),
    ];
    for seen in [1, 2] {
        let mut ops = base.clone();
        ops.push(op(3, 20, 30, read("x"), RegisterOutput::Read(Some(seen))));
        assert_eq!(verdict(&Register, &ops), Verdict::Linearizable, "read {seen}");
    }
    // Reads of 2 then 1: once op 1 took effect, nothing brings 1 back.
    let mut ops = base.clone();
    ops.push(op(3, 20, 30, read("x"), RegisterOutput::Read(Some(2))));
    ops.push(op(3, 40, 50, read("x"), RegisterOutput::Read(Some(1))));
    assert!(!verdict(&Register, &ops).is_linearizable());
    // A read of 2 that returned before op 1 was called: op 1 cannot take effect before its call.
    let mut ops = base.clone();
    ops.push(op(3, 1, 4, read("x"), RegisterOutput::Read(Some(2))));
    assert!(!verdict(&Register, &ops).is_linearizable());
}

#[test]
fn keys_are_checked_alone_and_the_failing_one_is_named() {
    // x is fine; y has a stale read. The partition verdicts say which; the combined verdict names y.
    let ops = vec![
        op(1, 0, 10, write("x", 1), RegisterOutput::Written),
        op(2, 20, 30, read("x"), RegisterOutput::Read(Some(1))),
        op(1, 0, 10, write("y", 1), RegisterOutput::Written),
        op(2, 20, 30, read("y"), RegisterOutput::Read(None)),
    ];
    let parts = check_partitions(&Register, &ops, SearchBudget::default());
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0], ("x".to_string(), Verdict::Linearizable));
    assert_eq!(parts[1].0, "y");
    let verdict = verdict(&Register, &ops);
    assert_eq!(prefix(&verdict), vec![2], "indices are into the whole list");
    assert!(matches!(verdict, Verdict::NotLinearizable { ref partition, .. } if partition == "y"));
}

#[test]
fn an_empty_history_is_linearizable() {
    assert_eq!(verdict(&Register, &[]), Verdict::Linearizable);
    let pending_only = vec![op(1, 0, PENDING, write("x", 1), RegisterOutput::Written)];
    assert_eq!(verdict(&Register, &pending_only), Verdict::Linearizable);
}

// ---------------------------------------------------------------------------------------------------------------
// Logs.

#[test]
fn an_append_whose_offset_contradicts_real_time_is_not_linearizable() {
    // op 0 appends 10 over [0, 10] → offset 1; op 1 appends 20 over [20, 30] → offset 0. op 0 returned before op 1
    // was called, so it took effect first, and the log's next offset was then above 1: op 1 cannot get 0.
    let mut ops = vec![op(1, 0, 10, append(10), appended(1)), op(2, 20, 30, append(20), appended(0))];
    assert_eq!(prefix(&verdict(&Log, &ops)), vec![0]);
    // Overlapping, op 1 may have gone first.
    ops[1].call_ns = 5;
    assert_eq!(verdict(&Log, &ops), Verdict::Linearizable);
    // Two appends can never share an offset, however they overlap.
    ops[1].output = appended(1);
    assert!(!verdict(&Log, &ops).is_linearizable());
}

#[test]
fn a_read_sees_exactly_what_was_appended() {
    // Appends 10 → 0 over [0, 1], 20 → 1 over [2, 3], 30 → 3 over [4, 5] (offset 2 is a marker), in that order.
    let appends = vec![
        op(1, 0, 1, append(10), appended(0)),
        op(1, 2, 3, append(20), appended(1)),
        op(1, 4, 5, append(30), appended(3)),
    ];
    let with_read = |read: LogOutput, call_ns: u64| {
        let mut ops = appends.clone();
        ops.push(op(2, call_ns, call_ns + 1, log_read(), read));
        verdict(&Log, &ops)
    };
    assert_eq!(with_read(records(&[(1, 20), (3, 30)]), 10), Verdict::Linearizable, "the gap at 2 holds no record");
    assert_eq!(with_read(records(&[(0, 10)]), 10), Verdict::Linearizable, "a range need not reach the end");
    // 30 at 3 was appended from 4 to 5; a read over [10, 11] that skips 20 at 1 shows a hole.
    assert!(!with_read(records(&[(0, 10), (3, 30)]), 10).is_linearizable(), "hole");
    assert!(!with_read(records(&[(1, 30)]), 10).is_linearizable(), "30 is at 3, not 1");
    assert!(!with_read(records(&[(4, 40)]), 10).is_linearizable(), "nobody appended 40");
    assert!(!with_read(records(&[(3, 30), (1, 20)]), 10).is_linearizable(), "backwards");
    // A read of 30 over [4, 4] returned before 30's append returned, but not before it was called: it may have
    // landed.
    let mut ops = appends.clone();
    ops.push(op(2, 4, 4, log_read(), records(&[(3, 30)])));
    assert_eq!(verdict(&Log, &ops), Verdict::Linearizable);
    // Over [2, 3], before the append of 30 was called: a read from the future.
    ops[3] = op(2, 2, 3, log_read(), records(&[(3, 30)]));
    assert!(!verdict(&Log, &ops).is_linearizable());
    // A final read that stops at 1 although 30 was acknowledged at 3 before it began.
    let to_end = LogOutput::Read { records: vec![(0, 10), (1, 20)], to_end: true };
    assert!(!with_read(to_end, 10).is_linearizable(), "final read misses 30");
    let to_end = LogOutput::Read { records: vec![(1, 20), (3, 30)], to_end: true };
    assert_eq!(with_read(to_end, 10), Verdict::Linearizable);
}

#[test]
fn an_append_that_never_returned_may_or_may_not_have_landed() {
    // op 0 appends 10 → 0 over [0, 1]; op 1 appends 20 from 2 and never returns; op 2 appends 30 → 5 over [10, 11].
    // A read over [20, 21] may see [10@0, 30@5] (op 1 never landed, or landed above 5 later) or [20@3, 30@5] (op
    // 1 landed at 3 before op 2). But if op 1 was given offset 7, it must land after 30@5, so a read of 20@7
    // before 30@5 is wrong; and a read that shows 20@3 and then one that shows 10@0 then 30@5 has a hole.
    let base = |offset| {
        vec![
            op(1, 0, 1, append(10), appended(0)),
            op(2, 2, PENDING, append(20), appended(offset)),
            op(3, 10, 11, append(30), appended(5)),
        ]
    };
    let with_reads = |offset, reads: &[&[(Offset, Value)]]| {
        let mut ops = base(offset);
        for (i, read) in reads.iter().enumerate() {
            let time = 20 + 10 * i as u64;
            ops.push(op(4, time, time + 1, log_read(), records(read)));
        }
        verdict(&Log, &ops)
    };
    assert!(with_reads(3, &[&[(0, 10), (5, 30)]]).is_linearizable(), "never landed");
    assert!(with_reads(3, &[&[(3, 20), (5, 30)]]).is_linearizable(), "landed before 30");
    assert!(with_reads(7, &[&[(5, 30), (7, 20)]]).is_linearizable(), "landed after 30");
    assert!(!with_reads(7, &[&[(7, 20), (5, 30)]]).is_linearizable(), "backwards");
    assert!(!with_reads(3, &[&[(3, 20), (5, 30)], &[(0, 10), (5, 30)]]).is_linearizable(), "landed, then vanished");
}

// ---------------------------------------------------------------------------------------------------------------
// Committed offsets.

#[test]
fn a_fetch_must_see_the_last_commit() {
    // The worked example of offsets.rs: commits of 5 over [0, 10] and 9 over [20, 30], then a fetch of 5 over
    // [40, 50]: the commit of 9 took effect last, so the fetch must see 9.
    let commit = |offset| OffsetsInput::Commit { group: "g".into(), key: "orders-0".into(), offset };
    let fetch = OffsetsInput::Fetch { group: "g".into(), key: "orders-0".into() };
    let mut ops = vec![
        op(1, 0, 10, commit(5), OffsetsOutput::Committed),
        op(1, 20, 30, commit(9), OffsetsOutput::Committed),
        op(2, 40, 50, fetch.clone(), OffsetsOutput::Fetched(Some(5))),
    ];
    assert_eq!(prefix(&verdict(&CommittedOffsets, &ops)), vec![0, 1]);
    ops[2].call_ns = 25;
    assert_eq!(verdict(&CommittedOffsets, &ops), Verdict::Linearizable);
    // Another group's fetch is its own partition, and never saw a commit.
    let other = OffsetsInput::Fetch { group: "h".into(), key: "orders-0".into() };
    ops.push(op(3, 60, 70, other, OffsetsOutput::Fetched(None)));
    assert_eq!(check_partitions(&CommittedOffsets, &ops, SearchBudget::default()).len(), 2);
    assert_eq!(verdict(&CommittedOffsets, &ops), Verdict::Linearizable);
}

// ---------------------------------------------------------------------------------------------------------------
// Budgets.

#[test]
fn a_search_out_of_budget_says_unknown_and_the_same_every_time() {
    // Eight concurrent writes and a read that saw none of them: every order of the writes is tried before the
    // search gives up, far more than 50 steps (the memo cuts it to 2^8 sets, still too many).
    let mut ops: Vec<_> = (0..8).map(|i| op(i, 0, 100, write("x", i as Value), RegisterOutput::Written)).collect();
    ops.push(op(9, 200, 300, read("x"), RegisterOutput::Read(Some(99))));
    let small = check(&Register, &ops, SearchBudget::steps(50));
    assert!(matches!(&small, Verdict::Unknown { reason } if reason.contains("50 steps")), "{small:?}");
    assert_eq!(check(&Register, &ops, SearchBudget::steps(50)), small);
    assert!(!check(&Register, &ops, SearchBudget::default()).is_linearizable());
    assert!(!matches!(check(&Register, &ops, SearchBudget::default()), Verdict::Unknown { .. }));
}

// ---------------------------------------------------------------------------------------------------------------
// From eosim histories.

fn parse(text: &str) -> History {
    History::parse_jsonl("test.jsonl", text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn sends_acknowledged_against_real_time_order_are_caught_in_a_history() {
    // The worked example of from_history.rs: 17 over events [0, 1] got offset 1, 18 over [2, 3] got offset 0.
    let text = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[1,17]]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"send","value":[["send","orders-0",[0,18]]]}
"#;
    let verdicts = check_history(&parse(text), SearchBudget::default());
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0].0, "orders-0");
    let Verdict::NotLinearizable { longest_prefix, explanation, .. } = &verdicts[0].1 else {
        panic!("{verdicts:?}");
    };
    assert_eq!(longest_prefix, &vec![1], "history events, not operation numbers");
    assert!(explanation.contains("history op 3"), "{explanation}");
    // The second send invoked before the first was acknowledged: they overlap, 18 may have gone first.
    let overlapping = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":2,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
{"index":2,"time":2,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[1,17]]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"send","value":[["send","orders-0",[0,18]]]}
"#;
    assert!(check_history(&parse(overlapping), SearchBudget::default())[0].1.is_linearizable());
}

#[test]
fn info_fail_and_ok_sends_in_a_history() {
    // Process 1's send of 1 is acknowledged at 0; process 2's send of 2 times out (info); process 3's send of 3
    // fails. A poll reads [1@0, 2@1]: the info send landed (at 1, before the poll). Linearizable. A second poll
    // that reads 3@2 saw a failed send: no append put 3 anywhere (G1a).
    let text = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","k-0",1]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","k-0",[0,1]]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","k-0",2]]}
{"index":3,"time":3,"process":2,"type":"info","f":"send","value":[["send","k-0",2]]}
{"index":4,"time":4,"process":3,"type":"invoke","f":"send","value":[["send","k-0",3]]}
{"index":5,"time":5,"process":3,"type":"fail","f":"send","value":[["send","k-0",3]]}
{"index":6,"time":6,"process":4,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":7,"time":7,"process":4,"type":"ok","f":"poll","value":[["poll",{"k-0":[[0,1],[1,2]]}]]}
"#;
    let history = parse(text);
    let ops = from_history(&history);
    assert_eq!(ops.ops.len(), 3, "the failed send is left out: {ops:?}");
    assert_eq!(ops.events, vec![1, 3, 7]);
    assert!(ops.ops[1].is_pending());
    assert_eq!(ops.ops[1].output, appended(1), "the info send's offset comes from the poll");
    assert!(check_history(&history, SearchBudget::default())[0].1.is_linearizable());

    let g1a = format!(
        "{text}{}\n{}\n",
        r#"{"index":8,"time":8,"process":4,"type":"invoke","f":"poll","value":[["poll"]]}"#,
        r#"{"index":9,"time":9,"process":4,"type":"ok","f":"poll","value":[["poll",{"k-0":[[2,3]]}]]}"#
    );
    let verdicts = check_history(&parse(&g1a), SearchBudget::default());
    assert!(!verdicts[0].1.is_linearizable(), "{verdicts:?}");
}

#[test]
fn a_final_poll_must_reach_every_acknowledged_record() {
    // A transaction sends 1 and 2 to k-0, acknowledged at 0 and 1 (event 1). A final poll after it (events 2-3)
    // reads only 1@0 "to the end", but the log ended with 2@1, appended before the poll began: not linearizable
    // (a lost write). Reading [1@0, 2@1] is fine.
    let text = |read: &str| {
        let template = r#"
{"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","k-0",1],["send","k-0",2]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"txn","value":[["send","k-0",[0,1]],["send","k-0",[1,2]]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"poll","value":[["poll",{"k-0":READ}]],"final":true}
"#;
        template.replace("READ", read)
    };
    let lost = check_history(&parse(&text("[[0,1]]")), SearchBudget::default());
    assert_eq!(prefix(&lost[0].1), vec![1, 1], "both sends of event 1, then the final poll is stuck");
    let whole = check_history(&parse(&text("[[0,1],[1,2]]")), SearchBudget::default());
    assert!(whole[0].1.is_linearizable(), "{whole:?}");
}

#[test]
fn an_unread_info_send_constrains_nothing() {
    // An info send nobody read is left out: it may never have happened. An ok send with a null offset (acks=0)
    // likewise.
    let text = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","k-0",1]]}
{"index":1,"time":1,"process":1,"type":"info","f":"send","value":[["send","k-0",1]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","k-0",2]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"send","value":[["send","k-0",[null,2]]]}
{"index":4,"time":4,"process":3,"type":"invoke","f":"send","value":[["send","k-0",3]]}
"#;
    let history = parse(text);
    assert!(from_history(&history).ops.is_empty());
    assert!(check_history(&history, SearchBudget::default()).is_empty());
}

#[test]
fn the_docs_page_example_is_not_linearizable() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/checks/linearizability.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let block = text.split("```").nth(1).expect("a fenced example").trim_start_matches("jsonl");
    let history = History::parse_jsonl(&path.display().to_string(), block).unwrap_or_else(|e| panic!("{e}"));
    let verdicts = check_history(&history, SearchBudget::default());
    assert_eq!(verdicts.len(), 1);
    assert_eq!(prefix(&verdicts[0].1), vec![1, 3], "{verdicts:?}");
    let Verdict::NotLinearizable { explanation, .. } = &verdicts[0].1 else { unreachable!() };
    assert!(explanation.contains("history op 5") && explanation.contains("the model rejects it"), "{explanation}");
}

// ---------------------------------------------------------------------------------------------------------------
// Generated histories.

/// SplitMix64: a small deterministic generator, so that the benchmark needs no dependency and every run is equal.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Where a client is in its current operation.
enum Phase<I, O> {
    Idle,
    Called { call_ns: u64, input: I },
    Applied { call_ns: u64, input: I, output: O },
}

/// `clients` clients run operations concurrently, one at a time each: at every tick one of them, chosen at random,
/// calls a new operation, or makes its operation take effect (`apply`, which returns its output), or returns. The
/// result is linearizable by construction, in the order of the `apply` calls. About `info_percent` of the
/// operations never return (after taking effect).
fn concurrent<I: Clone, O: Clone>(
    rng: &mut Rng,
    op_count: usize,
    clients: usize,
    info_percent: u64,
    mut new_input: impl FnMut(&mut Rng) -> I,
    mut apply: impl FnMut(&mut Rng, &I) -> O,
) -> Vec<Operation<I, O>> {
    let mut phases: Vec<Phase<I, O>> = (0..clients).map(|_| Phase::Idle).collect();
    let mut ops = Vec::with_capacity(op_count);
    let (mut started, mut time_ns) = (0, 0u64);
    while started < op_count || phases.iter().any(|phase| !matches!(phase, Phase::Idle)) {
        time_ns += 1;
        let client = rng.below(clients as u64) as usize;
        phases[client] = match std::mem::replace(&mut phases[client], Phase::Idle) {
            Phase::Idle if started < op_count => {
                started += 1;
                Phase::Called { call_ns: time_ns, input: new_input(rng) }
            }
            Phase::Idle => Phase::Idle,
            Phase::Called { call_ns, input } => {
                let output = apply(rng, &input);
                Phase::Applied { call_ns, input, output }
            }
            Phase::Applied { call_ns, input, output } => {
                let return_ns = if rng.below(100) < info_percent { PENDING } else { time_ns };
                ops.push(Operation { client: client as u64, input, call_ns, return_ns, output });
                Phase::Idle
            }
        };
    }
    ops
}

/// A concurrent log history on key "k": appends of unique values (offsets with occasional gaps, as markers make)
/// and reads of up to four records from a random position, about one in three.
fn log_history(seed: u64, op_count: usize, clients: usize, info_percent: u64) -> Vec<Operation<LogInput, LogOutput>> {
    let mut rng = Rng(seed);
    let mut log: Vec<(Offset, Value)> = Vec::new();
    let mut next_value = 0;
    let new_input = |rng: &mut Rng| {
        if rng.below(3) == 0 {
            log_read()
        } else {
            next_value += 1;
            append(next_value)
        }
    };
    let apply = |rng: &mut Rng, input: &LogInput| match input {
        LogInput::Append { value, .. } => {
            let offset = log.last().map_or(0, |&(last, _)| last + 1 + rng.below(4) / 3);
            log.push((offset, *value));
            appended(offset)
        }
        LogInput::Read { .. } => {
            // Readers mostly keep up with the end, as consumers do, and sometimes reread from the start.
            let from = if log.is_empty() || rng.below(8) == 0 {
                0
            } else {
                log.len() - 1 - rng.below(6).min(log.len() as u64 - 1) as usize
            };
            let to = (from + 1 + rng.below(4) as usize).min(log.len());
            records(&log[from..to])
        }
    };
    concurrent(&mut rng, op_count, clients, info_percent, new_input, apply)
}

/// A concurrent register history on one key: reads, writes of unique values, and compare-and-sets.
fn register_history(seed: u64, op_count: usize, clients: usize) -> Vec<Operation<RegisterInput, RegisterOutput>> {
    let mut rng = Rng(seed);
    let mut value: Option<Value> = None;
    let mut next_value = 0;
    let new_input = |rng: &mut Rng| {
        next_value += 1;
        match rng.below(3) {
            0 => read("x"),
            1 => write("x", next_value),
            _ => RegisterInput::Cas {
                key: "x".into(),
                expected: next_value - 1 - rng.below(2) as Value,
                new: next_value,
            },
        }
    };
    let apply = |_: &mut Rng, input: &RegisterInput| match input {
        RegisterInput::Read { .. } => RegisterOutput::Read(value),
        RegisterInput::Write { value: new, .. } => {
            value = Some(*new);
            RegisterOutput::Written
        }
        RegisterInput::Cas { expected, new, .. } => {
            let swapped = value == Some(*expected);
            if swapped {
                value = Some(*new);
            }
            RegisterOutput::Cas(swapped)
        }
    };
    concurrent(&mut rng, op_count, clients, 5, new_input, apply)
}

/// Indices of two appends that both returned, the first before the second was called.
fn ordered_appends(ops: &[Operation<LogInput, LogOutput>], pick: usize) -> Option<(usize, usize)> {
    let appends: Vec<usize> =
        (0..ops.len()).filter(|&i| matches!(ops[i].input, LogInput::Append { .. }) && !ops[i].is_pending()).collect();
    let pairs: Vec<(usize, usize)> = appends
        .iter()
        .flat_map(|&a| appends.iter().map(move |&b| (a, b)))
        .filter(|&(a, b)| ops[a].return_ns < ops[b].call_ns)
        .collect();
    (!pairs.is_empty()).then(|| pairs[pick % pairs.len()])
}

proptest! {
    #[test]
    fn a_log_history_generated_from_the_model_is_linearizable(
        seed in any::<u64>(), op_count in 0usize..80, clients in 1usize..7, info_percent in 0u64..30,
    ) {
        let ops = log_history(seed, op_count, clients, info_percent);
        prop_assert_eq!(check(&Log, &ops, SearchBudget::default()), Verdict::Linearizable);
    }

    #[test]
    fn swapping_the_offsets_of_two_ordered_appends_is_caught(
        seed in any::<u64>(), op_count in 2usize..80, clients in 1usize..7, pick in any::<usize>(),
    ) {
        // a returned before b was called, so a took effect first and got the lower offset. Swapped, a holds the
        // higher one, yet must still take effect first: no order works, whatever the reads say.
        let mut ops = log_history(seed, op_count, clients, 10);
        let Some((a, b)) = ordered_appends(&ops, pick) else { return Ok(()) };
        let (offset_a, offset_b) = (ops[a].output.clone(), ops[b].output.clone());
        prop_assert_ne!(&offset_a, &offset_b);
        ops[a].output = offset_b;
        ops[b].output = offset_a;
        let verdict = check(&Log, &ops, SearchBudget::default());
        prop_assert!(matches!(verdict, Verdict::NotLinearizable { .. }), "{:?}", verdict);
    }

    #[test]
    fn a_register_history_generated_from_the_model_is_linearizable(
        seed in any::<u64>(), op_count in 0usize..60, clients in 1usize..6,
    ) {
        let ops = register_history(seed, op_count, clients);
        prop_assert_eq!(check(&Register, &ops, SearchBudget::default()), Verdict::Linearizable);
    }

    #[test]
    fn an_eosim_history_of_a_correct_log_is_linearizable_and_its_mutations_are_not(
        seed in any::<u64>(), op_count in 2usize..60, clients in 1usize..6, pick in any::<usize>(),
    ) {
        let ops = log_history(seed, op_count, clients, 10);
        let history = as_history(&ops);
        let verdicts = check_history(&history, SearchBudget::default());
        prop_assert!(verdicts.iter().all(|(_, v)| v.is_linearizable()), "{:?}", verdicts);
        // A read that saw a value nobody sent.
        let nonempty_read = |op: &Op| match op.mops.first() {
            Some(MicroOp::Poll { reads }) => op.op_type == OpType::Ok && reads.values().any(|r| !r.is_empty()),
            _ => false,
        };
        if let Some(read) = history.ops.iter().position(nonempty_read) {
            let mut mutated = history.clone();
            let MicroOp::Poll { reads } = &mut mutated.ops[read].mops[0] else { unreachable!() };
            let records = reads.values_mut().next().expect("one key");
            let victim = pick % records.len();
            records[victim].1 = -1;
            let verdicts = check_history(&mutated, SearchBudget::default());
            prop_assert!(!verdicts[0].1.is_linearizable(), "{:?}", verdicts);
        }
        // Two ordered ok sends with their offsets swapped.
        if let Some((a, b)) = ordered_appends(&ops, pick) {
            let mut swapped = ops.clone();
            let (offset_a, offset_b) = (swapped[a].output.clone(), swapped[b].output.clone());
            swapped[a].output = offset_b;
            swapped[b].output = offset_a;
            let verdicts = check_history(&as_history(&swapped), SearchBudget::default());
            prop_assert!(!verdicts[0].1.is_linearizable(), "{:?}", verdicts);
        }
    }
}

/// The eosim history of log operations on key "k": each operation an invocation at its call and, unless it never
/// returned, an ok completion at its return. One that never returned gets an info completion at the end, and a
/// process of its own, as a harness gives a crashed client a new process.
fn as_history(ops: &[Operation<LogInput, LogOutput>]) -> History {
    // (time, completion?, op): invocations before completions at one time never happen, as times are distinct.
    let mut events: Vec<(u64, bool, usize)> = Vec::new();
    for (index, op) in ops.iter().enumerate() {
        events.push((op.call_ns, false, index));
        events.push((op.return_ns, true, index));
    }
    events.sort_unstable();
    let mut history = History::new();
    for (time_ns, completion, index) in events {
        let op = &ops[index];
        let (f, mops) = match (&op.input, &op.output, completion && !op.is_pending()) {
            (LogInput::Append { key, value }, LogOutput::Appended { offset }, ok) => {
                let offset = ok.then_some(*offset);
                (OpFn::Send, vec![MicroOp::Send { key: key.clone(), value: *value, offset, source: None }])
            }
            (LogInput::Read { key }, LogOutput::Read { records, .. }, true) => {
                (OpFn::Poll, vec![MicroOp::Poll { reads: BTreeMap::from([(key.clone(), records.clone())]) }])
            }
            _ => (OpFn::Poll, vec![MicroOp::Poll { reads: BTreeMap::new() }]),
        };
        let op_type = match (completion, op.is_pending()) {
            (false, _) => OpType::Invoke,
            (true, false) => OpType::Ok,
            (true, true) => OpType::Info,
        };
        let time_ns = time_ns.min(u64::MAX / 2);
        let process = if op.is_pending() { 1_000_000 + index as u64 } else { op.client };
        history.push(Op { time_ns, ..Op::new(process, op_type, f, mops) });
    }
    history
}

// ---------------------------------------------------------------------------------------------------------------
// Benchmark.

#[test]
#[ignore = "a benchmark: run in release with --ignored --nocapture"]
fn checks_a_log_of_a_hundred_thousand_operations() {
    // Another size, to compare with a checker that cannot finish this one: `EOSIM_LOG_HISTORY_OPS=10000`.
    let op_count = std::env::var("EOSIM_LOG_HISTORY_OPS").map_or(100_000, |count| count.parse().expect("a count"));
    let ops = log_history(7, op_count, 8, 2);
    let appends = ops.iter().filter(|op| matches!(op.input, LogInput::Append { .. })).count();
    let pending = ops.iter().filter(|op| op.is_pending()).count();
    let started = Instant::now();
    let verdict = check(&Log, &ops, SearchBudget::default());
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(verdict, Verdict::Linearizable);
    println!(
        "linearizability, log model: {} ops ({appends} appends, {pending} never returned), 8 clients: {elapsed:.3} s, \
         {:.0} ops/s",
        ops.len(),
        ops.len() as f64 / elapsed
    );

    if let Some(path) = std::env::var_os("EOSIM_LOG_HISTORY_OUT") {
        std::fs::write(&path, log_history_lines(&ops)).expect("write the benchmark history");
        println!("wrote the benchmark's operations to {}", path.to_string_lossy());
    }

    let history = as_history(&ops);
    let started = Instant::now();
    let verdicts = check_history(&history, SearchBudget::default());
    let elapsed = started.elapsed().as_secs_f64();
    assert!(verdicts.iter().all(|(_, verdict)| verdict.is_linearizable()));
    println!(
        "linearizability, eosim history ({} events) through from_history: {elapsed:.3} s, {:.0} ops/s",
        history.ops.len(),
        ops.len() as f64 / elapsed
    );
}

/// The benchmark's operations, one JSON object per line, for timing another linearizability checker (Porcupine, say)
/// on the very same history: `{"client", "call", "return" (null if it never returned), "append": value, "offset"}`
/// or `{..., "read": [[offset, value], ...]}`. Times are ticks; a return equal to a call counts as concurrent.
fn log_history_lines(ops: &[Operation<LogInput, LogOutput>]) -> String {
    let mut text = String::new();
    for op in ops {
        let returned = if op.is_pending() { "null".to_string() } else { op.return_ns.to_string() };
        let body = match (&op.input, &op.output) {
            (LogInput::Append { value, .. }, LogOutput::Appended { offset }) => {
                format!(r#""append":{value},"offset":{offset}"#)
            }
            (LogInput::Read { .. }, LogOutput::Read { records, .. }) => {
                let records: Vec<String> =
                    records.iter().map(|(offset, value)| format!("[{offset},{value}]")).collect();
                format!(r#""read":[{}]"#, records.join(","))
            }
            _ => unreachable!("the generator pairs each input with its own output"),
        };
        text.push_str(&format!(r#"{{"client":{},"call":{},"return":{returned},{body}}}"#, op.client, op.call_ns));
        text.push('\n');
    }
    text
}

/// The benchmark's shape (`tests/throughput.rs`): producers append one record at a time, a consumer polls every 16
/// records, and a final poll, a completion with no invocation, reads the whole log at the end. The final poll's
/// call is its process's previous event, so the search stays linear: it fits a budget of a few steps per
/// operation. (Called at the start of the history, it was concurrent with every append, and the search of the
/// 10^6-operation benchmark took 81 CPU-seconds and 10 GB.)
#[test]
fn a_final_poll_without_invocation_keeps_the_search_linear() {
    let send_count = 4_010i64;
    let mut history = History::new();
    let mut log: Vec<(Offset, Value)> = Vec::new();
    let mut read_to = 0;
    for value in 0..send_count {
        let producer = (value % 4) as u64;
        let send = |offset| vec![MicroOp::Send { key: "t-0".into(), value, offset, source: None }];
        history.push(Op::new(producer, OpType::Invoke, OpFn::Send, send(None)));
        let offset = log.len() as u64 * 2;
        log.push((offset, value));
        history.push(Op::new(producer, OpType::Ok, OpFn::Send, send(Some(offset))));
        if log.len() - read_to >= 16 {
            let reads = BTreeMap::from([("t-0".to_string(), log[read_to..].to_vec())]);
            read_to = log.len();
            history.push(Op::new(100, OpType::Invoke, OpFn::Poll, vec![MicroOp::Poll { reads: BTreeMap::new() }]));
            history.push(Op::new(100, OpType::Ok, OpFn::Poll, vec![MicroOp::Poll { reads }]));
        }
    }
    let reads = BTreeMap::from([("t-0".to_string(), log[read_to..].to_vec())]);
    let mut last = Op::new(100, OpType::Ok, OpFn::Poll, vec![MicroOp::Poll { reads }]);
    last.final_poll = true;
    history.push(last);
    let operations = from_history(&history);
    let final_read = operations.ops.last().expect("the final read");
    // Called at the consumer's previous event (its last poll's completion), not at the start of the history.
    let previous = history.ops.iter().rev().skip(1).find(|op| op.process == 100).map(|op| op.index as u64);
    assert_eq!(Some(final_read.call_ns), previous);
    assert_eq!(final_read.return_ns, history.ops.len() as u64 - 1);
    let operation_count = operations.ops.len() as u64;
    let budget = SearchBudget::steps(operation_count);
    let verdicts = check_history(&history, budget);
    assert_eq!(verdicts, vec![("t-0".to_string(), Verdict::Linearizable)]);
}

/// A log that is not linearizable becomes one `nonlinearizable-log` anomaly with a sentence and the fewest ops.
#[test]
fn a_nonlinearizable_log_is_one_anomaly_with_a_sentence_and_the_ops_that_show_it() {
    use eosim_checker::linearizable::anomalies;
    use eosim_checker::AnomalyKind;
    // Worked by hand (docs/checks/linearizability.md): 17 at 0, then 18 at 2, then 19 at 1, one after another.
    let text = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"send","value":[["send","orders-0",[2,18]]]}
{"index":4,"time":4,"process":3,"type":"invoke","f":"send","value":[["send","orders-0",19]]}
{"index":5,"time":5,"process":3,"type":"ok","f":"send","value":[["send","orders-0",[1,19]]]}
"#;
    let (found, verdicts) = anomalies(&parse(text), SearchBudget::default());
    assert_eq!(verdicts.len(), 1);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, AnomalyKind::NonlinearizableLog);
    assert_eq!(found[0].ops, vec![3, 5]);
    assert_eq!(
        found[0].explanation,
        "op 3's send of 18 to orders-0 was acknowledged at offset 2 before op 5's send of 19 was invoked, but op 5's \
         got the lower offset 1"
    );
    // With 18 at offset 1 and 19 at 2, the log is linearizable: nothing.
    let fixed = text.replace("[2,18]", "[1,18]").replace("[1,19]", "[2,19]");
    assert_eq!(anomalies(&parse(&fixed), SearchBudget::default()).0, vec![]);

    // A read from the future: the poll returned 5 before 5's only send was invoked.
    let future = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"poll","value":[["poll",{"x-0":[[0,5]]}]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","x-0",5]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"send","value":[["send","x-0",[0,5]]]}
"#;
    let (found, _) = anomalies(&parse(future), SearchBudget::default());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].ops, vec![1, 3]);
    assert_eq!(
        found[0].explanation,
        "op 1 read value 5 at offset 0 of x-0, but its only send (op 3) was invoked after the poll completed"
    );
    // The poll invoked after the send completed: linearizable.
    let past = r#"{"index":0,"time":0,"process":2,"type":"invoke","f":"send","value":[["send","x-0",5]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"send","value":[["send","x-0",[0,5]]]}
{"index":2,"time":2,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":3,"process":1,"type":"ok","f":"poll","value":[["poll",{"x-0":[[0,5]]}]]}
"#;
    assert_eq!(anomalies(&parse(past), SearchBudget::default()).0, vec![]);
}
