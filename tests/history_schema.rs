//! docs/history.schema.json describes what eosim writes: every line of the histories of a few seeds of several
//! scenarios (sends, polls, transactions, crashes, assignments, consume-transform-produce sources, external-store
//! writes) validates against it, and lines that break the format do not.
//!
//! The validator is written here rather than taken from a crate: the schema uses ten JSON Schema keywords, and the
//! `jsonschema` crate would add some sixty crates (regex engines, an HTTP client for remote references) to the
//! test build. It refuses any keyword it does not implement, so a schema it cannot judge fails loudly instead of
//! passing. The schema itself is standard Draft 2020-12, for any validator.

use eosim::{run_seed, scenarios};
use serde_json::{Map, Value};

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/history.schema.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The errors of `value` against `schema` (with `root` for `$ref`s), each with its JSON pointer.
fn errors(root: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let Some(rules) = schema.as_object() else { return vec![format!("{at}: the schema is not an object")] };
    let mut found = Vec::new();
    for (keyword, rule) in rules {
        check_keyword(root, rules, keyword, rule, value, at, &mut found);
    }
    found
}

fn check_keyword(
    root: &Value,
    rules: &Map<String, Value>,
    keyword: &str,
    rule: &Value,
    value: &Value,
    at: &str,
    found: &mut Vec<String>,
) {
    let fail = |found: &mut Vec<String>, what: String| found.push(format!("{at}: {what}"));
    match keyword {
        "$schema" | "$defs" | "title" | "description" => {}
        "type" => {
            let ok = match rule.as_str().unwrap_or("") {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "boolean" => value.is_boolean(),
                "null" => value.is_null(),
                other => panic!("type {other} not implemented"),
            };
            if !ok {
                fail(found, format!("expected {rule}, found {value}"));
            }
        }
        "enum" => {
            if !rule.as_array().is_some_and(|options| options.contains(value)) {
                fail(found, format!("{value} is not one of {rule}"));
            }
        }
        "const" if value != rule => fail(found, format!("expected {rule}, found {value}")),
        "const" => {}
        "minimum" => {
            if value.as_i64().zip(rule.as_i64()).is_some_and(|(v, min)| v < min) {
                fail(found, format!("{value} is below {rule}"));
            }
        }
        "required" => {
            for name in rule.as_array().into_iter().flatten().filter_map(Value::as_str) {
                if value.is_object() && value.get(name).is_none() {
                    fail(found, format!("missing {name}"));
                }
            }
        }
        "properties" => {
            for (name, sub) in rule.as_object().into_iter().flatten() {
                if let Some(field) = value.get(name) {
                    found.extend(errors(root, sub, field, &format!("{at}/{name}")));
                }
            }
        }
        "additionalProperties" => {
            let known = rules.get("properties").and_then(Value::as_object);
            for (name, field) in value.as_object().into_iter().flatten() {
                if known.is_some_and(|known| known.contains_key(name)) {
                    continue;
                }
                match rule {
                    Value::Bool(true) => {}
                    Value::Bool(false) => fail(found, format!("unexpected field {name}")),
                    sub => found.extend(errors(root, sub, field, &format!("{at}/{name}"))),
                }
            }
        }
        "items" | "prefixItems" | "minItems" | "maxItems" => check_array(root, rules, keyword, rule, value, at, found),
        "oneOf" | "anyOf" => {
            let options = rule.as_array().map_or(&[][..], Vec::as_slice);
            let matching = options.iter().filter(|option| errors(root, option, value, at).is_empty()).count();
            let ok = if keyword == "oneOf" { matching == 1 } else { matching >= 1 };
            if !ok {
                fail(found, format!("{value} matches {matching} of the {keyword} options"));
            }
        }
        "$ref" => {
            let name = rule.as_str().and_then(|r| r.strip_prefix("#/$defs/")).expect("a local #/$defs/ reference");
            found.extend(errors(root, &root["$defs"][name], value, at));
        }
        other => panic!("keyword {other} not implemented"),
    }
}

fn check_array(
    root: &Value,
    rules: &Map<String, Value>,
    keyword: &str,
    rule: &Value,
    value: &Value,
    at: &str,
    found: &mut Vec<String>,
) {
    let Some(items) = value.as_array() else { return };
    let prefix = rules.get("prefixItems").and_then(Value::as_array).map_or(0, Vec::len);
    match keyword {
        "prefixItems" => {
            for (i, (sub, item)) in rule.as_array().into_iter().flatten().zip(items).enumerate() {
                found.extend(errors(root, sub, item, &format!("{at}/{i}")));
            }
        }
        "items" => {
            for (i, item) in items.iter().enumerate().skip(prefix) {
                found.extend(errors(root, rule, item, &format!("{at}/{i}")));
            }
        }
        "minItems" if (items.len() as u64) < rule.as_u64().unwrap_or(0) => {
            found.push(format!("{at}: fewer than {rule} items"));
        }
        "maxItems" if (items.len() as u64) > rule.as_u64().unwrap_or(u64::MAX) => {
            found.push(format!("{at}: more than {rule} items"));
        }
        _ => {}
    }
}

fn line_errors(schema: &Value, line: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    errors(schema, schema, &value, "")
}

#[test]
fn eosim_histories_validate_against_the_schema() {
    let schema = schema();
    let scenarios = ["idempotent", "at-least-once", "eos-tv2", "read-uncommitted", "external-store"];
    let mut lines = 0;
    let mut shapes: Vec<&str> = Vec::new();
    for name in scenarios {
        let scenario = scenarios::load(name).unwrap_or_else(|e| panic!("{name}: {e}")).scenario;
        for seed in 0..2 {
            let result = run_seed(&scenario, seed);
            let outcome = result.outcome.unwrap_or_else(|| panic!("{name} seed {seed} crashed"));
            for line in outcome.history.to_jsonl().lines() {
                let found = line_errors(&schema, line);
                assert!(found.is_empty(), "{name} seed {seed}: {line}\n{found:?}");
                for shape in [
                    "\"sink\"",
                    "\"source\"",
                    "\"final\"",
                    "\"f\":\"txn\"",
                    "\"f\":\"crash\"",
                    "\"f\":\"subscribe\"",
                    "\"f\":\"assign\"",
                ] {
                    if line.contains(shape) && !shapes.contains(&shape) {
                        shapes.push(shape);
                    }
                }
                lines += 1;
            }
        }
    }
    assert!(lines > 1_000, "{lines} lines");
    shapes.sort_unstable();
    // The seeds exercise most of the format's shapes, so the schema is tested on them, not only on plain sends.
    assert!(shapes.len() >= 5, "{shapes:?}");
}

#[test]
fn lines_that_break_the_format_do_not_validate() {
    let schema = schema();
    let good = r#"{"index":1,"time":2,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0,17]]]}"#;
    assert_eq!(line_errors(&schema, good), Vec::<String>::new());
    let bad = [
        r#"{"index":1,"time":2,"process":1,"type":"okay","f":"send","value":[]}"#,
        r#"{"index":1,"time":2,"process":1,"type":"ok","f":"sned","value":[]}"#,
        r#"{"index":-1,"time":2,"process":1,"type":"ok","f":"send","value":[]}"#,
        r#"{"time":2,"process":1,"type":"ok","f":"send","value":[]}"#,
        r#"{"index":1,"time":2,"process":1,"type":"ok","f":"send","value":[["send","orders-0",[0]]]}"#,
        r#"{"index":1,"time":2,"process":1,"type":"ok","f":"send","value":[["send","orders-0","17"]]}"#,
        r#"{"index":1,"time":2,"process":1,"type":"ok","f":"poll","value":[["poll",{"orders-0":[[0]]}]]}"#,
        r#"{"index":1,"time":2,"process":1,"type":"ok","f":"poll","value":[["append","orders-0",1]]}"#,
        r#"{"index":1,"time":2,"process":1,"type":"ok","f":"poll","value":[["poll"]],"final":"yes"}"#,
    ];
    for line in bad {
        assert!(!line_errors(&schema, line).is_empty(), "{line} validated");
    }
}
