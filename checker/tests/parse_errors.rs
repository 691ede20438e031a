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
