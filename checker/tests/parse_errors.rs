//! Every kind of malformed history line gives `FILE:LINE:COL: message`, with the line of the bad op, the column of
//! the offending token, and what was expected.

use eosim_checker::{History, ParseError};

const SEND: &str = r#"{"index":0,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","orders-0",17]]}"#;
const ACK: &str = r#"{"index":1,"time":2,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]]]}"#;

/// Parses two valid lines, a blank line, then `bad` as the fourth line (the third op).
fn parse_third_op(bad: &str) -> ParseError {
    let text = format!("{SEND}\n{ACK}\n\n{bad}\n");
    match History::parse_jsonl("h.jsonl", &text) {
        Ok(history) => panic!("expected an error for {bad}, got {history:?}"),
        Err(error) => error,
    }
}

/// The 1-based column of the first occurrence of `token` in `line`.
fn column_of(line: &str, token: &str) -> usize {
    match line.find(token) {
        Some(pos) => line[..pos].chars().count() + 1,
        None => panic!("{token} not in {line}"),
    }
}

fn assert_error(bad: &str, token: &str, message: &str) {
    let error = parse_third_op(bad);
    assert_eq!(error.file, "h.jsonl");
    assert_eq!(error.line, 4, "{error}");
    assert_eq!(error.message, message, "{error}");
    let column = if token.is_empty() { 1 } else { column_of(bad, token) };
    assert_eq!(error.column, column, "{error}");
    assert_eq!(error.to_string(), format!("h.jsonl:4:{column}: {message}"));
}

#[test]
fn a_wrong_op_name_on_line_3_of_a_file() {
    let bad_line = r#"{"index":2,"time":3,"process":2,"type":"invoke","f":"sned","value":[["send","orders-0",18]]}"#;
    let text = format!("{SEND}\n{ACK}\n{bad_line}\n");
    let error = History::parse_jsonl("history.jsonl", &text).expect_err("bad op name");
    let column = column_of(bad_line, "\"sned\"");
    assert_eq!(
        error.to_string(),
        format!("history.jsonl:3:{column}: unknown op \"sned\" (expected send|poll|txn|assign|subscribe|crash)")
    );
}

#[test]
fn json_syntax_errors() {
    let error = parse_third_op(r#"{"index":2,"time":3"#);
    assert_eq!(error.line, 4);
    assert!(error.message.starts_with("expected a valid JSON object ("), "{error}");
    assert!(!error.message.contains(" at line "), "serde_json's own position is replaced: {error}");
    let error = parse_third_op(r#"{"index":2,"time":x}"#);
    assert_eq!(error.column, column_of(r#"{"index":2,"time":x}"#, ":x") + 1, "{error}");
}

#[test]
fn not_an_object() {
    assert_error("[1, 2, 3]", "[", "expected a JSON object");
    assert_error("  42", "42", "expected a JSON object");
}

#[test]
fn missing_and_mistyped_top_level_fields() {
    assert_error(
        r#"{"index":2,"time":3,"type":"ok","f":"poll","value":[["poll"]]}"#,
        "",
        r#"missing field "process" (expected a non-negative integer)"#,
    );
    assert_error(
        r#"{"index":2,"time":-3,"process":1,"type":"ok","f":"poll","value":[["poll"]]}"#,
        "-3",
        r#"expected a non-negative integer for "time", found -3"#,
    );
    assert_error(
        r#"{"index":7,"time":3,"process":1,"type":"ok","f":"poll","value":[["poll"]]}"#,
        "7",
        "expected index 2 (the op's position in the file), found 7",
    );
    assert_error(
        r#"{"index":2,"time":3,"process":1,"type":"okay","f":"poll","value":[["poll"]]}"#,
        r#""okay""#,
        r#"unknown type "okay" (expected invoke|ok|fail|info)"#,
    );
    assert_error(
        r#"{"index":2,"time":3,"process":1,"type":"ok","f":7,"value":[["poll"]]}"#,
        "7,",
        r#"expected a string for "f" (send|poll|txn|assign|subscribe|crash), found 7"#,
    );
    assert_error(
        r#"{"index":2,"time":3,"process":1,"type":"ok","f":"poll","value":[["poll"]],"final":"yes"}"#,
        r#""yes""#,
        r#"expected true or false for "final", found "yes""#,
    );
}

#[test]
fn malformed_values() {
    assert_error(
        r#"{"index":2,"time":3,"process":1,"type":"ok","f":"send"}"#,
        "",
        r#"missing field "value" (expected a list of micro-ops for send)"#,
    );
    assert_error(
        r#"{"index":2,"time":3,"process":1,"type":"ok","f":"txn","value":{"a":1}}"#,
        r#"{"a""#,
        r#"expected a list of micro-ops for "value", found {"a":1}"#,
    );
    assert_error(
        r#"{"index":2,"time":3,"process":1,"type":"ok","f":"assign","value":["a-0", 3]}"#,
        "3]",
        "expected a list of keys (strings), found 3",
    );
    assert_error(
        r#"{"index":2,"time":3,"process":1,"type":"info","f":"crash","value":[1]}"#,
        "[1]",
        r#"expected null or no "value" for a crash, found [1]"#,
    );
}

#[test]
fn malformed_micro_ops() {
    let cases = [
        (
            r#"["send","orders-0"]"#,
            r#"expected ["send", key, value] or ["send", key, [offset, value]], found ["send","orders-0"]"#,
        ),
        (
            r#"["send", "orders-0", [-1, 17]]"#,
            r#"expected ["send", key, value] or ["send", key, [offset, value]], found ["send","orders-0",[-1,17]]"#,
        ),
        (
            r#"["send","orders-0",17,{"source":[1,2]}]"#,
            r#"expected ["send", key, value, {"source": [key, offset]}], found ["send","orders-0",17,{"source":[1,2]}]"#,
        ),
        (
            r#"["poll",{"orders-0":[["x",17]]}]"#,
            r#"expected [[offset, value], ...] with non-negative integer offsets and integer values, found ["poll",{"orders-0":[["x",17]]}]"#,
        ),
        (r#"["poll",[]]"#, r#"expected ["poll"] or ["poll", {key: [[offset, value], ...]}], found ["poll",[]]"#),
        (r#"["sink","db","k"]"#, r#"expected ["sink", store, key, value], found ["sink","db","k"]"#),
        (r#"["snd","orders-0",17]"#, r#"unknown micro-op "snd" (expected send|poll|sink)"#),
        (r#"17"#, r#"expected a micro-op ["send", ...], ["poll", ...] or ["sink", ...], found 17"#),
    ];
    for (mop, message) in cases {
        let bad = format!(r#"{{"index":2,"time":3,"process":1,"type":"ok","f":"txn","value":[{mop}]}}"#);
        assert_error(&bad, mop, message);
    }
}

#[test]
fn columns_count_characters_and_survive_whitespace() {
    let bad = r#"{"index":2, "time":3, "process":1, "note":"héllo wörld", "type":"ok", "f":"sned", "value":[]}"#;
    assert_error(bad, r#""sned""#, r#"unknown op "sned" (expected send|poll|txn|assign|subscribe|crash)"#);
    let spaced = r#"{"index":2,"time":3,"process":1,"type":"ok","f":"txn","value":[ [ "send" , "k" ] ]}"#;
    let error = parse_third_op(spaced);
    assert_eq!(error.column, column_of(spaced, r#"[ "send""#), "{error}");
}

#[test]
fn huge_values_are_cut_in_messages() {
    let keys: Vec<String> = (0..100).map(|i| format!("\"k-{i}\"")).collect();
    let bad =
        format!(r#"{{"index":2,"time":3,"process":1,"type":"ok","f":"poll","value":{{"x":[{}]}}}}"#, keys.join(","));
    let error = parse_third_op(&bad);
    assert!(error.message.len() < 120, "{error}");
    assert!(error.message.ends_with("...\"}") || error.message.ends_with("..."), "{error}");
}

/// A history long enough to be read in parallel chunks, with lines only the careful reader takes (an escaped key),
/// blank lines and CRLF endings: it reads like a short one, and its first mistake is the one reported, with the
/// right line number, wherever the chunks were cut.
#[test]
fn long_histories_read_in_chunks_report_the_first_mistake_by_its_line() {
    let line = |index: usize| {
        let key = if index % 9_999 == 7 { "\\u006b-0".to_string() } else { "k-0".to_string() };
        format!(
            r#"{{"index":{index},"time":{index},"process":1,"type":"ok","f":"send","value":[["send","{key}",[{index},{index}]]]}}"#
        )
    };
    let count = 60_000;
    let mut text = String::new();
    for index in 0..count {
        text.push_str(&line(index));
        text.push_str(if index % 1_000 == 0 { "\r\n\n" } else { "\n" });
    }
    assert!(text.len() > 4 << 20, "long enough for several chunks");
    let history = History::parse_jsonl("long.jsonl", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(history.ops.len(), count);
    assert!(history.ops.iter().enumerate().all(|(i, op)| op.index == i && op.mops.len() == 1));
    assert_eq!(History::parse_jsonl("long.jsonl", &history.to_jsonl()), Ok(history));

    // Op 45,000 sits on line 45,046: its own position, plus one, plus the blank lines after ops 0, 1000 ... 44,000.
    let bad_index = 45_000;
    let bad_line = bad_index + 1 + bad_index / 1_000;
    let broken = text.replacen(
        r#""index":45000,"time":45000,"process":1,"type":"ok","f":"send""#,
        r#""index":45000,"time":45000,"process":1,"type":"ok","f":"sned""#,
        1,
    );
    let error = History::parse_jsonl("long.jsonl", &broken).expect_err("bad op name");
    assert_eq!(
        (error.line, error.message.as_str()),
        (bad_line, r#"unknown op "sned" (expected send|poll|txn|assign|subscribe|crash)"#)
    );
    // A wrong index that the fast path reads happily is still caught, on its own line.
    let shifted = text.replacen(r#""index":50000,"#, r#""index":50001,"#, 1);
    let error = History::parse_jsonl("long.jsonl", &shifted).expect_err("wrong index");
    assert_eq!(error.line, 50_000 + 1 + 50);
    assert_eq!(error.message, "expected index 50000 (the op's position in the file), found 50001");
    // Two mistakes: the earlier one wins, even when a later chunk sees its own first.
    let both = broken.replacen(
        r#""index":1000,"time":1000,"process":1,"type":"ok""#,
        r#""index":1000,"time":1000,"process":1,"type":"okay""#,
        1,
    );
    let error = History::parse_jsonl("long.jsonl", &both).expect_err("two mistakes");
    assert_eq!(error.line, 1_000 + 1 + 1);
}
