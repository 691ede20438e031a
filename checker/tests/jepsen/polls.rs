//! Jepsen's `poll-skip-test`, `nonmonotonic-poll-test`, `int-poll-skip-test` and `int-nonmonotonic-poll-test`.

use super::*;

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
fn int_nonmonotonic_poll_test() {
    let text = "{:process 0, :type :invoke, :f :send, :value [[:send :x :a] [:send :x :b] [:send :x :c]]}
{:process 0, :type :info, :f :send, :value [[:send :x :a] [:send :x :b] [:send :x :c]]}
{:process 0, :type :invoke, :f :poll, :value [[:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {:x [[3 :c] [1 :a]]}]]}
{:process 0, :type :invoke, :f :poll, :value [[:poll]]}
{:process 0, :type :ok, :f :poll, :value [[:poll {:x [[2 :b] [3 :c]]}] [:poll {:x [[3 :c]]}]]}";
    both(text, A::IntNonmonotonicPoll, &[&[3], &[5]]);
}
