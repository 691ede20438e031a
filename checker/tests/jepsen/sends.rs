//! Jepsen's `nonmonotonic-send-test`, `int-send-skip-test` and `int-nonmonotonic-send-test`.

use super::*;

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
