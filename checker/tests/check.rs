//! Whole histories through `check`: how `info` and `fail` outcomes are judged, how each guarantee classifies what
//! was found, and the order of the report. Every verdict here was worked out by hand.

use eosim_checker::{check, AnomalyKind, Guarantee, History, Report};

fn report(text: &str, guarantee: Guarantee) -> Report {
    match History::parse_jsonl("test.jsonl", text) {
        Ok(history) => check(&history, guarantee),
        Err(error) => panic!("test history does not parse: {error}"),
    }
}

fn kinds(report: &Report) -> Vec<AnomalyKind> {
    report.anomalies.iter().map(|a| a.kind).collect()
}

/// Process 1 sends 17 (ok, offset 0) and 18 (info: timed out); process 2's final poll reads orders-0 to its end.
const INFO_SEND: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]]]}
{"index":2,"time":2,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
{"index":3,"time":3,"process":1,"type":"info","f":"send","value":[["send","orders-0",18]]}
{"index":4,"time":4,"process":2,"type":"invoke","f":"poll","value":[["poll"]],"final":true}
{"index":5,"time":5,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]],"final":true}
"#;

#[test]
fn an_info_send_that_is_never_read_is_not_lost() {
    let report = report(INFO_SEND, Guarantee::KafkaEos);
    assert!(report.anomalies.is_empty(), "{}", report.render_text(5));
}

#[test]
fn an_info_send_that_is_read_is_fine() {
    let text = INFO_SEND.replace("[[0,17]]", "[[0,17],[1,18]]");
    let report = report(&text, Guarantee::KafkaEos);
    assert!(report.anomalies.is_empty(), "{}", report.render_text(5));
}

#[test]
fn a_fail_send_that_is_read_is_g1a_under_every_guarantee() {
    let text = INFO_SEND.replace(r#""type":"info""#, r#""type":"fail""#).replace("[[0,17]]", "[[0,17],[1,18]]");
    for &guarantee in Guarantee::ALL {
        let report = report(&text, guarantee);
        assert_eq!(kinds(&report), vec![AnomalyKind::G1a]);
        assert_eq!(report.anomalies[0].ops, vec![3, 5]);
        assert!(!report.is_valid());
    }
}

#[test]
fn an_invocation_never_completed_is_an_unknown_outcome() {
    // 18's invocation has no completion at all: read or not, it is judged like an info send.
    let text = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]]]}
{"index":2,"time":2,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",18]]}
{"index":3,"time":3,"process":2,"type":"invoke","f":"poll","value":[["poll"]],"final":true}
{"index":4,"time":4,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17]]}]],"final":true}
"#;
    assert!(report(text, Guarantee::KafkaEos).anomalies.is_empty());
    let read = text.replace("[[0,17]]", "[[0,17],[1,18]]");
    assert!(report(&read, Guarantee::KafkaEos).anomalies.is_empty());
}

/// A retry duplicate: 17 is acknowledged at offset 1, and the consumer finds it at offsets 0 and 1.
const DUPLICATE: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[1,17]]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17],[1,17]]}]],"final":true}
"#;

#[test]
fn a_duplicate_violates_idempotence_but_not_at_least_once() {
    assert_eq!(kinds(&report(DUPLICATE, Guarantee::Idempotent)), vec![AnomalyKind::Duplicate]);
    assert!(!report(DUPLICATE, Guarantee::Idempotent).is_valid());
    assert!(!report(DUPLICATE, Guarantee::KafkaEos).is_valid());
    assert!(!report(DUPLICATE, Guarantee::AtMostOnce).is_valid());
    let relaxed = report(DUPLICATE, Guarantee::AtLeastOnce);
    assert!(relaxed.is_valid());
    assert_eq!(relaxed.violation_count(), 0);
    assert_eq!(relaxed.anomalies.len(), 1, "allowed anomalies are still listed");
    assert!(relaxed.render_text(3).contains("duplicate: 1 (allowed)"));
}

/// An acknowledged write the final poll did not find.
const LOST: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"poll","value":[["poll"]],"final":true}
{"index":3,"time":3,"process":2,"type":"ok","f":"poll","value":[["poll",{"orders-0":[]}]],"final":true}
"#;

#[test]
fn a_lost_write_is_allowed_only_under_at_most_once() {
    assert!(report(LOST, Guarantee::AtMostOnce).is_valid());
    for guarantee in [Guarantee::AtLeastOnce, Guarantee::Idempotent, Guarantee::KafkaEos, Guarantee::Serializable] {
        let report = report(LOST, guarantee);
        assert_eq!(kinds(&report), vec![AnomalyKind::LostWrite]);
        assert_eq!(report.violation_count(), 1);
    }
    let text = report(LOST, Guarantee::KafkaEos).render_text(3);
    assert!(text.contains("lost-write: 1 (violation)"), "{text}");
    assert!(text.contains("the final poll by op 3 read orders-0 to its end"), "{text}");
}

#[test]
fn without_the_final_poll_the_write_is_only_unseen() {
    let text = LOST.replace(r#","final":true"#, "");
    let report = report(&text, Guarantee::KafkaEos);
    assert_eq!(kinds(&report), vec![AnomalyKind::Unseen]);
    assert!(report.is_valid(), "unseen is never a violation");
}

#[test]
fn anomalies_are_ordered_by_kind_then_key_then_first_op() {
    // b-0: 5 acknowledged at 0, 6 at 1, and a poll reads only offset 1 (5 lost); a-0: a poll reads 9 at two
    // offsets (duplicate), and 8 is acknowledged at offset 7 and never read (unseen).
    let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","b-0",[0,5]],["send","b-0",[1,6]]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","a-0",[7,8]]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"poll","value":[["poll",{"a-0":[[2,9],[3,9]],"b-0":[[1,6]]}]]}
{"index":3,"time":3,"process":3,"type":"ok","f":"send","value":[["send","a-0",[3,9]]]}
"#;
    let report = report(text, Guarantee::KafkaEos);
    let summary: Vec<(AnomalyKind, &str)> = report.anomalies.iter().map(|a| (a.kind, a.key.as_str())).collect();
    assert_eq!(
        summary,
        vec![(AnomalyKind::LostWrite, "b-0"), (AnomalyKind::Duplicate, "a-0"), (AnomalyKind::Unseen, "a-0")]
    );
    assert_eq!(report.counts().values().sum::<usize>(), 3);
    let json = serde_json::to_string(&report).expect("serializes");
    assert!(json.contains(r#""kind":"lost-write""#), "{json}");
}

#[test]
fn a_consume_transform_produce_pipeline_that_keeps_exactly_once_is_valid() {
    // Process 3 reads input 17, and in one transaction writes output 100 (from in-0 offset 0) and sinks it.
    let text = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","in-0",17]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","in-0",[0,17]]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"subscribe","value":["in-0"]}
{"index":3,"time":3,"process":3,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",100,{"source":["in-0",0]}],["sink","db","k",100]]}
{"index":4,"time":4,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[2,100],{"source":["in-0",0]}],["sink","db","k",100]]}
{"index":5,"time":5,"process":4,"type":"ok","f":"poll","value":[["poll",{"in-0":[[0,17]],"out-0":[[2,100]]}]],"final":true}
{"index":6,"time":6,"process":5,"type":"info","f":"crash"}
"#;
    let report = report(text, Guarantee::KafkaEos);
    assert!(report.anomalies.is_empty(), "{}", report.render_text(5));
}

/// A transaction reads back its own send; the same history is a violation only where transactions are claimed.
#[test]
fn a_precommitted_read_is_judged_by_whether_the_claim_has_transactions() {
    let text = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","orders-0",17],["poll"]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"txn","value":[["send","orders-0",[0,17]],["poll",{"orders-0":[[0,17]]}]]}
"#;
    for guarantee in [Guarantee::AtMostOnce, Guarantee::AtLeastOnce, Guarantee::Idempotent] {
        let report = report(text, guarantee);
        assert_eq!(kinds(&report), vec![AnomalyKind::PrecommittedRead]);
        assert!(report.is_valid(), "{}", report.render_text(3));
    }
    for guarantee in [Guarantee::KafkaEos, Guarantee::Serializable] {
        assert_eq!(report(text, guarantee).violation_count(), 1);
    }
}

/// A transaction's two records with another's between them: reported everywhere, a violation nowhere. The same
/// interleaving is a G0 cycle (op 1's 17 before op 0's 30 before op 1's 18: ww edges 1 → 0 → 1), which only a
/// serializable claim forbids.
#[test]
fn an_int_send_skip_is_never_a_violation() {
    let text = r#"{"index":0,"time":0,"process":2,"type":"ok","f":"send","value":[["send","orders-0",[1,30]]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"txn","value":[["send","orders-0",[0,17]],["send","orders-0",[2,18]]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0,17],[1,30],[2,18]]}]],"final":true}
"#;
    for &guarantee in Guarantee::ALL {
        let report = report(text, guarantee);
        assert_eq!(kinds(&report), vec![AnomalyKind::IntSendSkip, AnomalyKind::G0]);
        assert_eq!(report.anomalies[1].ops, vec![0, 1]);
        assert_eq!(report.is_valid(), guarantee != Guarantee::Serializable, "{}", report.render_text(3));
        assert!(report.render_text(3).contains("int-send-skip: 1 (allowed)"));
    }
}

/// A consume-transform-produce step writes its row to a store, aborts, and is retried: the store holds the row
/// twice. Kafka's side is clean; the exactly-once claim is broken at the store.
#[test]
fn a_store_write_retried_after_an_abort_is_a_sink_duplicate() {
    let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","in-0",[0,17]]]}
{"index":1,"time":1,"process":3,"type":"ok","f":"assign","value":["in-0"]}
{"index":2,"time":2,"process":3,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",100],["sink","db","k",100]]}
{"index":3,"time":3,"process":3,"type":"fail","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",100],["sink","db","k",100]]}
{"index":4,"time":4,"process":3,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",101],["sink","db","k",100]]}
{"index":5,"time":5,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[1,101]],["sink","db","k",100]]}
{"index":6,"time":6,"process":4,"type":"ok","f":"poll","value":[["poll",{"in-0":[[0,17]],"out-0":[[1,101]]}]],"final":true}
"#;
    let eos = report(text, Guarantee::KafkaEos);
    assert_eq!(kinds(&eos), vec![AnomalyKind::SinkDuplicate], "{}", eos.render_text(3));
    assert_eq!((eos.anomalies[0].key.as_str(), eos.anomalies[0].ops.clone()), ("db/k", vec![3, 5]));
    assert!(!eos.is_valid());
    assert!(report(text, Guarantee::AtLeastOnce).is_valid());
}

/// A fenced zombie transforms an input again and commits: Kafka's side has no duplicate value, but the input was
/// processed twice. By hand: in-0 offset 0 has committed outputs 100 (op 2) and 101 (op 4), both read by the final
/// poll (op 5); nothing else is wrong (101 sits at offset 2, after the transaction marker of op 2).
#[test]
fn an_input_transformed_twice_breaks_exactly_once_but_not_at_least_once() {
    let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","in-0",[0,17]]]}
{"index":1,"time":1,"process":3,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",100,{"source":["in-0",0]}]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[0,100],{"source":["in-0",0]}]]}
{"index":3,"time":3,"process":5,"type":"invoke","f":"txn","value":[["poll"],["send","out-0",101,{"source":["in-0",0]}]]}
{"index":4,"time":4,"process":5,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17]]}],["send","out-0",[2,101],{"source":["in-0",0]}]]}
{"index":5,"time":5,"process":4,"type":"ok","f":"poll","value":[["poll",{"in-0":[[0,17]],"out-0":[[0,100],[2,101]]}]],"final":true}
"#;
    let eos = report(text, Guarantee::KafkaEos);
    assert_eq!(kinds(&eos), vec![AnomalyKind::TransformDuplicate], "{}", eos.render_text(3));
    assert_eq!(eos.violation_count(), 1);
    assert!(report(text, Guarantee::AtLeastOnce).is_valid());
    assert!(report(text, Guarantee::Idempotent).is_valid());
    assert!(!report(text, Guarantee::AtMostOnce).is_valid());
    // The first attempt aborted and its output is not read: one committed output, a clean history.
    let retried = text
        .replacen(r#""type":"ok","f":"txn""#, r#""type":"fail","f":"txn""#, 1)
        .replace("[0,100],[2,101]", "[2,101]");
    let clean = report(&retried, Guarantee::KafkaEos);
    assert!(clean.anomalies.is_empty(), "{}", clean.render_text(3));
}

/// The pipeline's transaction consumed 17 and 18 and committed, but sent an output for 17 only. By hand: 18 is a
/// transform-lost (ops 2, 3); at most once allows it; without the final poll of out-0 nothing is judged.
#[test]
fn an_input_consumed_without_output_is_lost_unless_at_most_once() {
    let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","in-0",[0,17]],["send","in-0",[1,18]]]}
{"index":1,"time":1,"process":3,"type":"ok","f":"txn","value":[["poll",{"in-0":[[0,17],[1,18]]}],["send","out-0",[0,100],{"source":["in-0",0]}]]}
{"index":2,"time":2,"process":4,"type":"ok","f":"poll","value":[["poll",{"in-0":[[0,17],[1,18]],"out-0":[[0,100]]}]],"final":true}
"#;
    let eos = report(text, Guarantee::KafkaEos);
    assert_eq!(kinds(&eos), vec![AnomalyKind::TransformLost], "{}", eos.render_text(3));
    assert_eq!((eos.anomalies[0].offsets.clone(), eos.anomalies[0].ops.clone()), (vec![1], vec![1, 2]));
    assert!(report(text, Guarantee::AtMostOnce).is_valid());
    assert!(!report(text, Guarantee::AtLeastOnce).is_valid());
    let unjudged = report(&text.replace(r#","out-0":[[0,100]]"#, ""), Guarantee::KafkaEos);
    assert!(!kinds(&unjudged).contains(&AnomalyKind::TransformLost), "{}", unjudged.render_text(3));
}

/// A read from the future: process 1's poll returned 5 (event 1) before 5's only send was invoked (event 2). The
/// wr edge send → poll and the realtime edge poll → send close a G1c-wr-realtime cycle. Worked by hand: under
/// read_committed the send's commit point lies in [2, 3] and the poll's read in [0, 1], after the commit it read:
/// impossible, so kafka-eos and serializable forbid it; the weaker claims allow the class (see docs/checks/cycles.md).
#[test]
fn a_read_from_the_future_is_g1c_wr_realtime_forbidden_under_kafka_eos_and_serializable() {
    let text = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"poll","value":[["poll",{"x-0":[[0,5]]}]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","x-0",5]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"send","value":[["send","x-0",[0,5]]]}
"#;
    for guarantee in [Guarantee::KafkaEos, Guarantee::Serializable] {
        let r = report(text, guarantee);
        let found: Vec<(AnomalyKind, Vec<usize>)> = r.violations().map(|a| (a.kind, a.ops.clone())).collect();
        assert_eq!(found, vec![(AnomalyKind::G1cWrRealtime, vec![1, 3])], "{}", r.render_text(5));
    }
    assert!(report(text, Guarantee::AtLeastOnce).anomalies.iter().any(|a| a.kind == AnomalyKind::G1cWrRealtime));
    assert!(report(text, Guarantee::AtLeastOnce).is_valid());
    // The poll invoked after the send completed reads the past: no cycle.
    let past = r#"{"index":0,"time":0,"process":2,"type":"invoke","f":"send","value":[["send","x-0",5]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"send","value":[["send","x-0",[0,5]]]}
{"index":2,"time":2,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":3,"process":1,"type":"ok","f":"poll","value":[["poll",{"x-0":[[0,5]]}]]}
"#;
    assert!(report(past, Guarantee::Serializable).anomalies.is_empty());
}
