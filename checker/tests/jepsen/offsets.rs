//! Jepsen's `inconsistent-offsets-test` and `duplicate-test`.

use super::*;

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
