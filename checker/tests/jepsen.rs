//! Jepsen's Kafka checker tests (`jepsen/test/jepsen/tests/kafka_test.clj`), each history transliterated to EDN
//! (without `:index`, so op numbers are positions), checked by eosim under Jepsen's rules (`Rules::Jepsen`, what
//! `eosim check --compat jepsen` uses) and under eosim's own. Each test asserts what Jepsen's deftest asserts: which
//! kinds are found, with which ops. Where eosim's default rules differ, the test asserts the difference that
//! docs/checks/README.md ("Differences from Jepsen") names.

use eosim_checker::{check_with, AnomalyKind, Guarantee, History, Report, Rules};

use AnomalyKind as A;

fn report(text: &str, rules: Rules) -> Report {
    let history = History::parse_edn("jepsen.edn", text).unwrap_or_else(|e| panic!("{e}"));
    check_with(&history, Guarantee::KafkaEos, rules)
}

/// The ops of each anomaly of `kind`, in report order.
fn found(report: &Report, kind: AnomalyKind) -> Vec<Vec<usize>> {
    report.anomalies.iter().filter(|a| a.kind == kind).map(|a| a.ops.clone()).collect()
}

/// Both rules find exactly `expected` of `kind`.
fn both(text: &str, kind: AnomalyKind, expected: &[&[usize]]) {
    let expected: Vec<Vec<usize>> = expected.iter().map(|ops| ops.to_vec()).collect();
    for rules in [Rules::Jepsen, Rules::Eosim] {
        let r = report(text, rules);
        assert_eq!(found(&r, kind), expected, "{} under {} rules:\n{}", kind.name(), rules.name(), r.render_text(9));
    }
}

/// Both rules find as many of `kind` as `expected`, each naming Jepsen's ops and, as evidence, `extra` (the failed
/// operation in between, or the poll that proves a crashed send committed), which Jepsen's cases leave out.
fn both_with_evidence(text: &str, kind: AnomalyKind, expected: &[&[usize]], extra: usize) {
    let expected: Vec<Vec<usize>> = expected
        .iter()
        .map(|ops| {
            let mut ops = ops.to_vec();
            ops.push(extra);
            ops.sort_unstable();
            ops
        })
        .collect();
    for rules in [Rules::Jepsen, Rules::Eosim] {
        let r = report(text, rules);
        assert_eq!(found(&r, kind), expected, "{} under {} rules:\n{}", kind.name(), rules.name(), r.render_text(9));
    }
}

/// Whether the rules count `kind` as a violation in `text`.
fn counts(text: &str, rules: Rules, kind: AnomalyKind) -> bool {
    report(text, rules).violations().any(|a| a.kind == kind)
}

#[test]
fn inconsistent_offsets_test() {
    let base = "{:process 0, :type :invoke, :f :send, :value [[:send :x 1] [:send :y 1]]}
{:process 0, :type :info, :f :send, :value [[:send :x [0 1]] [:send :y 1]]}
{:process 1, :type :invoke, :f :send, :value [[:send :x 2]]}
{:process 1, :type :ok, :f :send, :value [[:send :x [0 2]]]}";
    // The info send may not have committed: no conflict.
    both(base, A::InconsistentOffsets, &[]);
    // A read of its y proves it committed: x's offset 0 holds 1 and 2.
    let read = format!(
        "{base}\n{{:process 2, :type :invoke, :f :poll, :value [[:poll]]}}\n{{:process 2, :type :ok, :f :poll, :value [[:poll {{:y [[5 1]]}}]]}}"
    );
    let r = report(&read, Rules::Jepsen);
    assert_eq!(found(&r, A::InconsistentOffsets).len(), 1, "{}", r.render_text(9));
    assert_eq!(r.anomalies.iter().find(|a| a.kind == A::InconsistentOffsets).map(|a| a.key.as_str()), Some("x"));
    assert_eq!(found(&report(&read, Rules::Eosim), A::InconsistentOffsets).len(), 1);
}

#[test]
fn g1a_test() {
    let text = "{:process 0, :type :invoke, :f :send, :value [[:send :x 2] [:send :y 3]]}
{:process 0, :type :fail, :f :send, :value [[:send :x 2] [:send :y 3]]}
{:process 1, :type :invoke, :f :poll, :value [[:poll]]}
{:process 1, :type :ok, :f :poll, :value [[:poll {:x [[0 2]]}]]}";
    both(text, A::G1a, &[&[1, 3]]);
}

#[test]
fn lost_write_test_consistent() {
    let text = "{:process 0, :type :invoke, :f :send, :value [[:send :x :a]]}
{:process 0, :type :ok, :f :send, :value [[:send :x [0 :a]]]}
{:process 0, :type :invoke, :f :send, :value [[:send :x :b] [:send :x :d]]}
{:process 0, :type :ok, :f :send, :value [[:send :x [1 :b]] [:send :x [3 :d]]]}
{:process 1, :type :invoke, :f :send, :value [[:send :x :c]]}
{:process 1, :type :info, :f :send, :value [[:send :x :c]]}
{:process 0, :type :invoke, :f :poll, :value [[:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {:x [[2 :c]]}]]}";
    // a (writer 1) and b (writer 3), below c's offset 2, were never read (reader 7).
    both(text, A::LostWrite, &[&[1, 7], &[3, 7]]);
}

#[test]
fn lost_write_test_inconsistent() {
    let text = "{:process 0, :type :invoke, :f :send, :value [[:send :x :a]]}
{:process 0, :type :ok, :f :send, :value [[:send :x [0 :a]]]}
{:process 0, :type :invoke, :f :send, :value [[:send :x :b] [:send :x :c]]}
{:process 0, :type :ok, :f :send, :value [[:send :x [0 :b]] [:send :x [2 :c]]]}
{:process 0, :type :invoke, :f :poll, :value [[:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {:x [[0 :b] [2 :c]]}]]}";
    both(text, A::LostWrite, &[&[1, 5]]);
}

#[test]
fn lost_write_test_atomic() {
    let sends = "{:process 0, :type :invoke, :f :send, :value [[:send :x :a] [:send :y :b]]}
{:process 0, :type :info, :f :send, :value [[:send :x :a] [:send :y [0 :b]]]}
{:process 1, :type :invoke, :f :send, :value [[:send :y :c]]}
{:process 1, :type :info, :f :send, :value [[:send :y :c]]}";
    let poll_c = "{:process 3, :type :invoke, :f :poll, :value [[:poll]]}
{:process 3, :type :ok, :f :poll, :value [[:poll {:y [[1 :c]]}]]}";
    let poll_a = "{:process 2, :type :invoke, :f :poll, :value [[:poll]]}
{:process 2, :type :ok, :f :poll, :value [[:poll {:x [[0 :a]]}]]}";
    // Without the poll of a, nothing proves the info send committed: no lost write.
    both(&format!("{sends}\n{poll_c}"), A::LostWrite, &[]);
    // With it (op 5), b (writer 1) is lost below c (reader 7).
    both_with_evidence(&format!("{sends}\n{poll_a}\n{poll_c}"), A::LostWrite, &[&[1, 7]], 5);
}

/// The poll-skip deftest's base history; `sub` goes between the first two polls of process 0, `assign` after.
fn poll_skip_history(sub: &str, assign: &str) -> String {
    format!(
        "{{:process 0, :type :invoke, :f :poll, :value [[:poll]]}}
{{:process 0, :type :ok, :f :poll, :value [[:poll {{:x [[1 :a] [2 :b]]}}]]}}
{{:process 1, :type :invoke, :f :poll, :value [[:poll]]}}
{{:process 1, :type :ok, :f :poll, :value [[:poll {{:x [[3 :c]]}}]]}}
{sub}{{:process 0, :type :invoke, :f :poll, :value [[:poll]]}}
{{:process 0, :type :ok, :f :poll, :value [[:poll {{:x [[4 :d]]}}]]}}
{assign}{{:process 2, :type :invoke, :f :send, :value [[:send :x :f]]}}
{{:process 2, :type :ok, :f :send, :value [[:send :x [6 :f]]]}}
{{:process 0, :type :invoke, :f :poll, :value [[:poll]]}}
{{:process 0, :type :ok, :f :poll, :value [[:poll {{:x [[7 :g]]}}]]}}
{{:process 3, :type :invoke, :f :send, :value [[:send :x :a] [:send :x :b] [:send :x :c] [:send :x :d] [:send :x :g]]}}
{{:process 3, :type :info, :f :send, :value [[:send :x :a] [:send :x :b] [:send :x :c] [:send :x :d] [:send :x :g]]}}"
    )
}

#[test]
fn poll_skip_test() {
    both(&poll_skip_history("", ""), A::PollSkip, &[&[1, 5], &[5, 9]]);
    // A subscribe and an assign that drop x allow the skips.
    let sub_y = "{:process 0, :type :invoke, :f :subscribe, :value [:y]}\n{:process 0, :type :ok, :f :subscribe, :value [:y]}\n";
    let assign_y =
        "{:process 0, :type :invoke, :f :assign, :value [:y]}\n{:process 0, :type :info, :f :assign, :value [:y]}\n";
    both(&poll_skip_history(sub_y, assign_y), A::PollSkip, &[]);
    // Ones that keep x keep the position: the skips are found (Jepsen's test leaves :sub-via unset).
    let sub_xy =
        "{:process 0, :type :invoke, :f :subscribe, :value [:x :y]}\n{:process 0, :type :ok, :f :subscribe, :value [:x :y]}\n";
    let assign_xy =
        "{:process 0, :type :invoke, :f :assign, :value [:x :y]}\n{:process 0, :type :ok, :f :assign, :value [:x :y]}\n";
    both(&poll_skip_history(sub_xy, assign_xy), A::PollSkip, &[&[1, 7], &[7, 13]]);
}

const SEND_0_TO_5: &str = "{:process 0, :type :invoke, :f :send, :value [[:send :x 0] [:send :x 1] [:send :x 2] [:send :x 3] [:send :x 4] [:send :x 5]]}
{:process 0, :type :ok, :f :send, :value [[:send :x [0 0]] [:send :x [1 1]] [:send :x [2 2]] [:send :x [3 3]] [:send :x [4 4]] [:send :x [5 5]]]}
{:process 1, :type :invoke, :f :txn, :value [[:poll]]}
{:process 1, :type :ok, :f :txn, :value [[:poll {:x [[0 0]]}]]}
{:process 1, :type :invoke, :f :txn, :value [[:poll]]}
{:process 1, :type :fail, :f :txn, :value [[:poll {:x [[1 1] [2 2]]}]]}";

#[test]
fn poll_skip_test_txn_abort_good() {
    let text = "{:process 0, :type :invoke, :f :send, :value [[:send :x 0] [:send :x 1] [:send :x 2]]}
{:process 0, :type :ok, :f :send, :value [[:send :x [0 0]] [:send :x [1 1]] [:send :x [2 2]]]}
{:process 1, :type :invoke, :f :txn, :value [[:poll]]}
{:process 1, :type :ok, :f :txn, :value [[:poll {:x [[0 0]]}]]}
{:process 1, :type :invoke, :f :txn, :value [[:poll]]}
{:process 1, :type :fail, :f :txn, :value [[:poll {:x [[1 1] [2 2]]}]]}
{:process 1, :type :invoke, :f :txn, :value [[:poll]]}
{:process 1, :type :info, :f :txn, :value [[:poll {:x [[1 1] [2 2]]}]]}
{:process 1, :type :invoke, :f :txn, :value [[:poll]]}
{:process 1, :type :ok, :f :txn, :value [[:poll {:x [[1 1] [2 2]]}]]}";

    for rules in [Rules::Jepsen, Rules::Eosim] {
        let r = report(text, rules);
        let kinds: Vec<AnomalyKind> = r.violations().map(|a| a.kind).collect();
        assert_eq!(kinds, vec![], "{}", r.render_text(9));
    }
}

#[test]
fn poll_skip_test_abort_doesnt_roll_back() {
    let text = format!(
        "{SEND_0_TO_5}
{{:process 1, :type :invoke, :f :txn, :value [[:poll]]}}
{{:process 1, :type :fail, :f :txn, :value [[:poll {{:x [[3 3] [4 4]]}}]]}}
{{:process 1, :type :invoke, :f :txn, :value [[:poll]]}}
{{:process 1, :type :ok, :f :txn, :value [[:poll {{:x [[5 5]]}}]]}}"
    );
    // Each failed poll leaves process 1 at offset 0: polling 3, then 5, skips (Jepsen: ops (h 3) (h 7), (h 3) (h 9)).
    // Each case also names the failed operation just before it (5, then 7).
    both(&text, A::PollSkip, &[&[3, 5, 7], &[3, 7, 9]]);
}

#[test]
fn poll_skip_test_info_can_be_a_poll_skip() {
    let text = format!(
        "{SEND_0_TO_5}
{{:process 1, :type :invoke, :f :txn, :value [[:poll]]}}
{{:process 1, :type :info, :f :txn, :value [[:poll {{:x [[3 3] [4 4]]}}]]}}"
    );
    both_with_evidence(&text, A::PollSkip, &[&[3, 7]], 5);
}

/// The nonmonotonic-poll deftest's history, with `between` between the two polls.
fn nonmonotonic_poll_history(between: &str) -> String {
    format!(
        "{{:process 0, :type :invoke, :f :send, :value [[:send :x :a] [:send :x :b] [:send :x :c] [:send :x :d]]}}
{{:process 0, :type :ok, :f :send, :value [[:send :x :a] [:send :x :b] [:send :x :c] [:send :x :d]]}}
{{:process 0, :type :invoke, :f :poll, :value [[:poll]]}}
{{:process 0, :type :ok, :f :poll, :value [[:poll {{:x [[1 :a] [2 :b] [3 :c]]}}]]}}
{between}{{:process 0, :type :invoke, :f :poll, :value [[:poll]]}}
{{:process 0, :type :ok, :f :poll, :value [[:poll {{:x [[2 :b] [3 :c] [4 :d]]}}]]}}"
    )
}

#[test]
fn nonmonotonic_poll_test() {
    both(&nonmonotonic_poll_history(""), A::NonmonotonicPoll, &[&[3, 5]]);
    for (f, keys) in [("subscribe", "[:y]"), ("assign", "[:y]")] {
        let between = format!("{{:process 0, :type :invoke, :f :{f}, :value {keys}}}\n{{:process 0, :type :ok, :f :{f}, :value {keys}}}\n");
        both(&nonmonotonic_poll_history(&between), A::NonmonotonicPoll, &[]);
    }
    for f in ["subscribe", "assign"] {
        let between = format!("{{:process 0, :type :invoke, :f :{f}, :value [:x :y]}}\n{{:process 0, :type :ok, :f :{f}, :value [:x :y]}}\n");
        both(&nonmonotonic_poll_history(&between), A::NonmonotonicPoll, &[&[3, 7]]);
    }
}

fn nonmonotonic_send_history(between: &str) -> String {
    format!(
        "{{:process 0, :type :invoke, :f :send, :value [[:send :x :c] [:send :x :d]]}}
{{:process 0, :type :ok, :f :send, :value [[:send :x [3 :c]] [:send :x [4 :d]]]}}
{between}{{:process 0, :type :invoke, :f :send, :value [[:send :x 1] [:send :x 2]]}}
{{:process 0, :type :ok, :f :send, :value [[:send :x [1 :a]] [:send :x [2 :b]]]}}"
    )
}

#[test]
fn nonmonotonic_send_test() {
    both(&nonmonotonic_send_history(""), A::NonmonotonicSend, &[&[1, 3]]);
    for f in ["subscribe", "assign"] {
        let between = format!("{{:process 0, :type :invoke, :f :{f}, :value [:x :y]}}\n{{:process 0, :type :ok, :f :{f}, :value [:x :y]}}\n");
        both(&nonmonotonic_send_history(&between), A::NonmonotonicSend, &[&[1, 5]]);
    }
    // A subscribe or assign (even info) that drops x: Jepsen forgets the process's send order; eosim keeps it (a
    // producer's send order does not depend on what its consumer is assigned). The documented difference.
    let sub_y = "{:process 0, :type :invoke, :f :subscribe, :value [:y]}\n{:process 0, :type :ok, :f :subscribe, :value [:y]}\n";
    let assign_y =
        "{:process 0, :type :invoke, :f :assign, :value [:y]}\n{:process 0, :type :info, :f :assign, :value [:y]}\n";
    for between in [sub_y, assign_y] {
        let text = nonmonotonic_send_history(between);
        assert_eq!(found(&report(&text, Rules::Jepsen), A::NonmonotonicSend), Vec::<Vec<usize>>::new());
        assert_eq!(found(&report(&text, Rules::Eosim), A::NonmonotonicSend), vec![vec![1, 5]]);
    }
}

#[test]
fn int_poll_skip_test() {
    let text = "{:process 1, :type :invoke, :f :send, :value [[:send :x :a] [:send :x :b] [:send :x :d]]}
{:process 1, :type :info, :f :send, :value [[:send :x :a] [:send :x :b] [:send :x :d]]}
{:process 0, :type :invoke, :f :poll, :value [[:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {:x [[1 :a] [4 :d]]}]]}
{:process 0, :type :invoke, :f :poll, :value [[:poll] [:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {:x [[1 :a]]}] [:poll {:x [[4 :d]]}]]}
{:process 0, :type :invoke, :f :poll, :value [[:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {:x [[2 :b]]}]]}";
    both(text, A::IntPollSkip, &[&[3], &[5]]);
}

#[test]
fn int_send_skip_test() {
    let text = "{:process 0, :type :invoke, :f :send, :value [[:send :x :a] [:send :x :c]]}
{:process 0, :type :ok, :f :send, :value [[:send :x [1 :a]] [:send :x :c]]}
{:process 1, :type :invoke, :f :send, :value [[:send :x :b]]}
{:process 1, :type :info, :f :send, :value [[:send :x :b]]}
{:process 2, :type :invoke, :f :poll, :value [[:poll]]}
{:process 2, :type :ok, :f :poll, :value [[:poll {:x [[2 :b] [3 :c]]}]]}";
    both(text, A::IntSendSkip, &[&[1]]);
    // Allowed by both rules.
    assert!(
        report(text, Rules::Jepsen).is_valid()
            || !report(text, Rules::Jepsen).violations().any(|a| a.kind == A::IntSendSkip)
    );
}

#[test]
fn int_nonmonotonic_poll_test() {
    let text = "{:process 0, :type :invoke, :f :send, :value [[:send :x :a] [:send :x :b] [:send :x :c]]}
{:process 0, :type :info, :f :send, :value [[:send :x :a] [:send :x :b] [:send :x :c]]}
{:process 0, :type :invoke, :f :poll, :value [[:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {:x [[3 :c] [1 :a]]}]]}
{:process 0, :type :invoke, :f :poll, :value [[:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {:x [[2 :b] [3 :c]]}] [:poll {:x [[3 :c]]}]]}";
    both(text, A::IntNonmonotonicPoll, &[&[3], &[5]]);
}

#[test]
fn int_nonmonotonic_send_test() {
    let text = "{:process 0, :type :invoke, :f :send, :value [[:send :x 3] [:send :x 1]]}
{:process 0, :type :ok, :f :send, :value [[:send :x [3 :c]] [:send :x [1 :a]]]}
{:process 0, :type :invoke, :f :send, :value [[:send :y :d] [:send :y :b]]}
{:process 0, :type :info, :f :send, :value [[:send :y :d] [:send :y :b]]}
{:process 1, :type :invoke, :f :send, :value [[:send :y :c]]}
{:process 1, :type :info, :f :send, :value [[:send :y :c]]}
{:process 0, :type :invoke, :f :poll, :value [[:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {:y [[2 :b] [3 :c] [4 :d]]}]]}";
    both(text, A::IntNonmonotonicSend, &[&[1], &[3]]);
}

#[test]
fn duplicate_test_basic() {
    let text = "{:process 0, :type :invoke, :f :send, :value [[:send :x :a]]}
{:process 0, :type :ok, :f :send, :value [[:send :x [1 :a]]]}
{:process 1, :type :invoke, :f :send, :value [[:send :x :b]]}
{:process 1, :type :info, :f :send, :value [[:send :x :b]]}
{:process 2, :type :invoke, :f :poll, :value [[:poll]]}
{:process 2, :type :ok, :f :poll, :value [[:poll {:x [[2 :b] [3 :a]]}]]}";
    for rules in [Rules::Jepsen, Rules::Eosim] {
        let r = report(text, rules);
        let dups: Vec<&eosim_checker::Anomaly> = r.anomalies.iter().filter(|a| a.kind == A::Duplicate).collect();
        assert_eq!(dups.len(), 1, "{}", r.render_text(9));
        assert_eq!(dups[0].offsets, vec![1, 3]);
    }
}

#[test]
fn duplicate_test_hash_insensitive() {
    let mut text = String::new();
    for value in 0..10 {
        text.push_str(&format!(
            "{{:process 0, :type :invoke, :f :send, :value [[:send :x {value}]]}}
{{:process 0, :type :ok, :f :send, :value [[:send :x [0 {value}]]]}}
{{:process 1, :type :invoke, :f :poll, :value [[:poll]]}}
{{:process 1, :type :ok, :f :poll, :value [[:poll {{:x [[1 {value}]]}}]]}}\n"
        ));
    }
    for rules in [Rules::Jepsen, Rules::Eosim] {
        let r = report(&text, rules);
        let mut values: Vec<i64> =
            r.anomalies.iter().filter(|a| a.kind == A::Duplicate).flat_map(|a| a.values.clone()).collect();
        values.sort_unstable();
        values.dedup();
        assert_eq!(values, (0..10).collect::<Vec<i64>>(), "{}", r.render_text(3));
        let offsets: Vec<Vec<u64>> =
            r.anomalies.iter().filter(|a| a.kind == A::InconsistentOffsets).map(|a| a.offsets.clone()).collect();
        assert_eq!(offsets, vec![vec![0], vec![1]], "{}", r.render_text(3));
    }
}

#[test]
fn duplicate_test_aborted_txns() {
    let text = "{:process 0, :type :invoke, :f :send, :value [[:send :x 0]]}
{:process 0, :type :ok, :f :send, :value [[:send :x [1 0]]]}
{:process 0, :type :invoke, :f :send, :value [[:send :x 1]]}
{:process 0, :type :fail, :f :send, :value [[:send :x [2 1]]]}
{:process 1, :type :invoke, :f :poll, :value [[:poll]]}
{:process 1, :type :fail, :f :poll, :value [[:poll {:x [[11 0] [12 1]]}]]}";
    for rules in [Rules::Jepsen, Rules::Eosim] {
        let r = report(text, rules);
        let dups: Vec<(Vec<i64>, Vec<u64>)> = r
            .anomalies
            .iter()
            .filter(|a| a.kind == A::Duplicate)
            .map(|a| (a.values.clone(), a.offsets.clone()))
            .collect();
        assert_eq!(dups, vec![(vec![0], vec![1, 11])], "{}", r.render_text(9));
    }
}

#[test]
fn unseen_test() {
    let text = "{:process 0, :type :invoke, :f :poll, :value [[:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {}]]}
{:process 0, :type :invoke, :f :send, :value [[:send :x :a] [:send :x :b]]}
{:process 0, :type :ok, :f :send, :value [[:send :x [0 :a]] [:send :x [1 :b]]]}
{:process 0, :type :invoke, :f :poll, :value [[:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {:x [[0 :a]]}]]}
{:process 0, :type :invoke, :f :poll, :value [[:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {:x [[1 :b]]}]]}";
    // In the end everything sent was seen: nothing unseen under either rules.
    both(text, A::Unseen, &[]);
    // Without the last poll, b stays unseen: an error to Jepsen, informational to eosim (the documented difference).
    let cut: String = text.lines().take(6).collect::<Vec<_>>().join("\n");
    let jepsen = report(&cut, Rules::Jepsen);
    assert_eq!(found(&jepsen, A::Unseen).len(), 1);
    assert!(!jepsen.is_valid());
    let eosim = report(&cut, Rules::Eosim);
    assert_eq!(found(&eosim, A::Unseen).len(), 1);
    assert!(eosim.is_valid());
}

#[test]
fn g0_test() {
    let text = "{:process 0, :type :invoke, :f :send, :value [[:send :x :a] [:send :y :a]]}
{:process 1, :type :invoke, :f :send, :value [[:send :x :b] [:send :y :b]]}
{:process 0, :type :ok, :f :send, :value [[:send :x [0 :a]] [:send :y [1 :a]]]}
{:process 1, :type :ok, :f :send, :value [[:send :x [1 :b]] [:send :y [0 :b]]]}";
    both(text, A::G0, &[&[2, 3]]);
    // Allowed by both.
    assert!(!counts(text, Rules::Jepsen, A::G0) && !counts(text, Rules::Eosim, A::G0));
}

#[test]
fn g1c_pure_wr_test() {
    let text = "{:process 0, :type :invoke, :f :txn, :value [[:send :x :a] [:poll]]}
{:process 1, :type :invoke, :f :txn, :value [[:send :y :b] [:poll]]}
{:process 0, :type :ok, :f :txn, :value [[:send :x [0 :a]] [:poll {:y [[0 :b]]}]]}
{:process 1, :type :ok, :f :txn, :value [[:send :y [0 :b]] [:poll {:x [[0 :a]]}]]}";
    // Jepsen's G1c of wr edges alone is eosim's G1c-wr, and both count it.
    both(text, A::G1cWr, &[&[2, 3]]);
    assert!(counts(text, Rules::Jepsen, A::G1cWr) && counts(text, Rules::Eosim, A::G1cWr));
}

#[test]
fn g1c_ww_wr_test() {
    let text = "{:process 0, :type :invoke, :f :txn, :value [[:send :x :a] [:send :y :c]]}
{:process 1, :type :invoke, :f :txn, :value [[:poll] [:send :y :b]]}
{:process 0, :type :ok, :f :txn, :value [[:send :x [0 :a]] [:send :y [2 :c]]]}
{:process 1, :type :ok, :f :txn, :value [[:poll {:x [[0 :a]]}] [:send :y [1 :b]]]}";
    // With ww edges (Jepsen's :ww-deps) it is G1c, which Jepsen then allows, and so does kafka-eos.
    both(text, A::G1c, &[&[2, 3]]);
    assert!(!counts(text, Rules::Jepsen, A::G1c) && !counts(text, Rules::Eosim, A::G1c));
}

#[test]
fn precommitted_read_test() {
    let text = "{:process 0, :type :invoke, :f :txn, :value [[:send :x :a] [:poll]]}
{:process 0, :type :ok, :f :txn, :value [[:send :x [0 :a]] [:poll {:x [[0 :a]]}]]}";
    both(text, A::PrecommittedRead, &[&[1]]);
}

#[test]
fn empty_history_test() {
    let text = "{:process 0, :type :invoke, :f :assign, :value [:x]}\n{:process 0, :type :ok, :f :assign, :value [:x]}";
    let jepsen = report(text, Rules::Jepsen);
    assert!(jepsen.nothing_checked && !jepsen.is_valid());
    // eosim warns instead (the documented difference): no anomaly, nothing to call invalid.
    let eosim = report(text, Rules::Eosim);
    assert!(eosim.nothing_checked && eosim.is_valid());
}
