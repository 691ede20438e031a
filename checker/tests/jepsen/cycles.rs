//! Jepsen's `g0-test`, `g1c-pure-wr-test` and `g1c-ww-wr-test`.

use super::*;

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
