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
    let column = text.lines().nth(2).and_then(|line| line.find("1.5")).map_or(0, |at| at + 1);
    assert_eq!(
        error.to_string(),
        format!("{path}:3:{column}: expected a value (an integer, a keyword or a string), found 1.5")
    );
    assert_eq!(History::parse_auto(&path, &text).expect_err("malformed"), error);
}

#[test]
fn edn_and_json_lines_give_the_same_history() {
    let history = parse("jepsen-anomalies.edn");
    let again = History::parse_auto("converted.jsonl", &history.to_jsonl()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, history);
}

/// The error `parse_edn` gives for `text`.
fn edn_error(text: &str) -> eosim_checker::ParseError {
    match History::parse_edn("h.edn", text) {
        Ok(history) => panic!("expected an error, got {} ops", history.ops.len()),
        Err(error) => error,
    }
}

/// An index far ahead is refused at its place, with the gap allowed; the reader never builds the placeholders.
#[test]
fn an_index_gap_is_bounded() {
    let e = edn_error("{:index 100000000, :type :ok, :f :poll, :process 1, :value [[:poll]]}");
    assert_eq!((e.line, e.column), (1, 9), "{e}");
    assert!(e.message.contains("expected :index at most 1000000"), "{e}");
    assert!(e.message.contains("found 100000000"), "{e}");
    let e = edn_error(&format!("{{:index {}, :type :ok, :f :poll, :process 1}}", i64::MAX));
    assert_eq!((e.line, e.column), (1, 9), "{e}");
    // The bound is on all gaps together: two gaps of 600,000 are too many.
    let text = "{:index 600000, :type :ok, :f :poll, :process 1}\n{:index 1200001, :type :ok, :f :poll, :process 1}";
    let e = edn_error(text);
    assert_eq!((e.line, e.column), (2, 9), "{e}");
    assert!(e.message.contains("expected :index at most 1000001"), "{e}");
    // A gap inside the bound still keeps Jepsen's indices.
    let history = History::parse_edn("h.edn", "{:index 5, :type :ok, :f :poll, :process 1}").expect("a small gap");
    assert_eq!(history.ops.len(), 6);
}

/// Nested discards are read once each: 5,000 of them (2^5000 re-reads for a reader that rewinds) end at once,
/// rejected for their depth, and 100 of them, within the depth bound, read as nothing.
#[test]
fn nested_discards_are_read_in_linear_time() {
    let deep = "#_[".repeat(5_000);
    let e = edn_error(&deep);
    assert!(e.message.starts_with("expected forms nested at most 256 deep"), "{e}");
    assert_eq!(e.line, 1);
    let unclosed = "#_[".repeat(100);
    let e = edn_error(&unclosed);
    assert!(e.message.starts_with("unexpected end of input (expected ])"), "{e}");
    let closed = format!("{}{}", "#_[".repeat(100), "]".repeat(100));
    assert_eq!(History::parse_edn("h.edn", &closed).map(|h| h.ops.len()), Ok(0));
    // Discards side by side are not nested: a million of them are fine.
    let flat = "#_1 ".repeat(1_000_000);
    assert_eq!(History::parse_edn("h.edn", &flat).map(|h| h.ops.len()), Ok(0));
}

/// `#_` nested 30,000 deep counts towards the depth bound like any other nesting, instead of overflowing the stack.
#[test]
fn discards_count_towards_the_depth_bound() {
    let text = format!("[{}1]", "#_#_".repeat(15_000));
    let e = edn_error(&text);
    assert!(e.message.starts_with("expected forms nested at most 256 deep"), "{e}");
    let text = format!("{}{{:type :ok}}", "#_ ".repeat(30_000));
    let e = edn_error(&text);
    assert!(e.message.starts_with("expected forms nested at most 256 deep"), "{e}");
}

/// Values may be integers, keywords or strings, as in Jepsen's own tests; explanations name them as written.
#[test]
fn keyword_and_string_values() {
    let text = r#"{:type :invoke, :f :send, :process 0, :value [[:send :x :a] [:send :x "b"]]}
{:type :ok, :f :send, :process 0, :value [[:send :x [0 :a]] [:send :x [1 "b"]]]}
{:type :invoke, :f :send, :process 1, :value [[:send :x 7]]}
{:type :ok, :f :send, :process 1, :value [[:send :x [2 7]]]}
{:type :invoke, :f :poll, :process 2, :value [[:poll]]}
{:type :ok, :f :poll, :process 2, :value [[:poll {:x [[0 :a] [1 "b"] [2 7] [3 :a]]}]]}"#;
    let history = History::parse_edn("h.edn", text).expect("reads");
    let a = history.value_names.iter().find(|(_, name)| name.as_str() == ":a").map(|(v, _)| *v).expect(":a");
    let b = history.value_names.iter().find(|(_, name)| name.as_str() == "\"b\"").map(|(v, _)| *v).expect("\"b\"");
    assert_ne!(a, b);
    assert_eq!(history.value_text(a), ":a");
    assert_eq!(history.value_text(7), "7");
    let report = check(&history, Guarantee::KafkaEos);
    let duplicate = report.anomalies.iter().find(|x| x.kind == AnomalyKind::Duplicate).expect("a duplicate");
    assert_eq!(duplicate.values, vec![a]);
    assert!(duplicate.explanation.contains(":a"), "{}", duplicate.explanation);
    assert!(!duplicate.explanation.contains(&a.to_string()), "{}", duplicate.explanation);
    // An integer in the range that numbers names is refused where it is.
    let e = edn_error(&format!("{{:type :ok, :f :send, :process 1, :value [[:send :x [0 {}]]]}}", i64::MIN + 5));
    assert_eq!(e.column, 56, "{e}");
    assert!(e.message.contains("lower ones number keyword and string values"), "{e}");
}
