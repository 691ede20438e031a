//! Jepsen EDN histories through `parse_edn`, `parse_auto` and `check`, on fixtures written for these tests (in
//! `tests/fixtures/`), whose verdicts were worked out by hand from the definitions in Jepsen's Kafka checker.

use std::path::PathBuf;

use eosim_checker::edn::NON_CLIENT_PROCESS;
use eosim_checker::{check, AnomalyKind, Guarantee, History, OpFn, Report};

fn fixture(name: &str) -> (String, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path.display().to_string(), text)
}

fn parse(name: &str) -> History {
    let (path, text) = fixture(name);
    let history = History::parse_edn(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(History::parse_auto(&path, &text).as_ref(), Ok(&history), "parse_auto picks EDN");
    history
}

fn summary(report: &Report) -> Vec<(AnomalyKind, &str, Vec<usize>)> {
    report.anomalies.iter().map(|a| (a.kind, a.key.as_str(), a.ops.clone())).collect()
}

/// Jepsen's shape: sends, a transaction, assign, polls, an info send read later, a failed send, a client crash,
/// nemesis ops and the final phase's `:debug-topic-partitions` and `:seek-to-beginning?` assign. Nothing is wrong:
/// 21's send timed out but a poll read it, and 22's failed and nobody read it.
#[test]
fn a_clean_jepsen_history_checks_clean_with_jepsen_indices() {
    let history = parse("jepsen-clean.edn");
    assert_eq!(history.ops.len(), 22);
    assert!(history.ops.iter().enumerate().all(|(i, op)| op.index == i));
    for nemesis in [4, 11] {
        assert_eq!(history.ops[nemesis].process, NON_CLIENT_PROCESS);
        assert!(history.ops[nemesis].mops.is_empty());
    }
    assert_eq!((history.ops[16].process, history.ops[16].mops.len()), (4, 0), "debug op kept as a placeholder");
    assert_eq!(history.ops[14].f, OpFn::Crash);
    assert_eq!(history.ops[8].mops.len(), 1);
    let report = check(&history, Guarantee::KafkaEos);
    assert!(report.anomalies.is_empty(), "{}", report.render_text(5));
}

/// One vector of `#jepsen.history.Op` records. By hand, with Jepsen's definitions:
/// - G1a: 30's send failed (op 1) and ok poll op 3 read it.
/// - Transaction op 5 timed out, but op 9 read its 50, so it committed; its 40 sits at offset 1 of key 4 (the
///   offset it reported), which op 9 read past (up to 2) without reading it: lost-write of 40, ops [5, 9].
///   Op 9 read 39 at 0 then 41 at 2, skipping 40's offset 1: int-poll-skip, op [9]. Op 7 sent 39 and 41 to key 4,
///   landing at 0 and 2 around 40: int-send-skip (allowed), op [7].
/// - Op 11 read back its own uncommitted 60: precommitted-read, op [11].
/// - Process 7 read key 7 to offset 0 (op 15); its transaction op 17 read 71 at offset 1 and aborted, so the
///   consumer had to rewind to offset 1; op 19 started at 2 instead: poll-skip, ops [15, 17, 19]. And 71, read only by
///   the aborted transaction, lies below op 19's read at 2: lost-write, ops [13, 19].
/// - Op 23 read key 8 at offset 1 then 0: int-nonmonotonic-poll, op [23].
/// - Cycles (allowed under kafka-eos): key 4 holds op 7's 39, op 5's 40, op 7's 41, so ww edges run 7 → 5 → 7: a
///   G0, ops [5, 7]. Op 15's highest read of key 7 is op 13's 70 at offset 0 (wr 13 → 15), and op 13 also wrote
///   the next version, 71 (rw 15 → 13): a G-single, ops [13, 15].
#[test]
fn hand_worked_anomalies_in_a_vector_of_tagged_records() {
    let history = parse("jepsen-anomalies.edn");
    assert_eq!(history.ops.len(), 25);
    let report = check(&history, Guarantee::KafkaEos);
    assert_eq!(
        summary(&report),
        vec![
            (AnomalyKind::LostWrite, "4", vec![5, 9]),
            (AnomalyKind::LostWrite, "7", vec![13, 19]),
            (AnomalyKind::PollSkip, "7", vec![15, 17, 19]),
            (AnomalyKind::IntNonmonotonicPoll, "8", vec![23]),
            (AnomalyKind::IntPollSkip, "4", vec![9]),
            (AnomalyKind::IntSendSkip, "4", vec![7]),
            (AnomalyKind::G1a, "3", vec![1, 3]),
            (AnomalyKind::PrecommittedRead, "6", vec![11]),
            (AnomalyKind::G0, "4", vec![5, 7]),
            (AnomalyKind::GSingle, "7", vec![13, 15]),
        ],
        "{}",
        report.render_text(10)
    );
    assert_eq!(report.violation_count(), 7, "int-send-skip is allowed");
    let lost_40 = &report.anomalies[0];
    assert_eq!((lost_40.values.clone(), lost_40.offsets.clone()), (vec![40], vec![1, 2]));
    assert!(lost_40.explanation.contains("op 9 read value 50 of 5 that the same operation sent"), "{lost_40:?}");
    assert!(report.anomalies[2].explanation.contains("op 17, which read 7 in between, failed"));
    // Under at-least-once the transactional anomalies change nothing: precommitted reads are allowed there.
    let relaxed = check(&history, Guarantee::AtLeastOnce);
    assert_eq!(relaxed.violation_count(), 6);
}

#[test]
fn a_malformed_fixture_names_its_file_line_and_column() {
    let (path, text) = fixture("malformed.edn");
    let error = History::parse_edn(&path, &text).expect_err("malformed");
    let column = text.lines().nth(2).and_then(|line| line.find(":ten")).map_or(0, |at| at + 1);
    assert_eq!(error.to_string(), format!("{path}:3:{column}: expected an integer value, found :ten"));
    assert_eq!(History::parse_auto(&path, &text).expect_err("malformed"), error);
}

#[test]
fn edn_and_json_lines_give_the_same_history() {
    let history = parse("jepsen-anomalies.edn");
    let again = History::parse_auto("converted.jsonl", &history.to_jsonl()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, history);
}
