//! Jepsen's `g1a-test`, `lost-write-test`, `precommitted-read-test`, `unseen-test` and `empty-history-test`.

use super::*;

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
