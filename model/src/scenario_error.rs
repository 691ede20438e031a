//! A scenario file's error: where it is (`FILE:LINE:COL`), what was expected, the line as written with the span
//! to underline, and a fix when one is known. The TOML parser's errors are reworded here (a wrong type says what
//! was expected and what was found; an unknown key or value suggests the closest allowed one), and the checks
//! that run after parsing are placed at the key they name.

use std::ops::Range;

use eosim_checker::Guarantee;

use crate::diagnose::{backticked, did_you_mean, find_path, key_before, kind_of};
use crate::scenario::{Scenario, Variant};

/// A scenario file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ScenarioError {
    /// The file name as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What was wrong, and what was expected.
    pub message: String,
    /// The line as written, the span to underline and a fix: what the error shows beyond its first line.
    pub snippet: Box<Snippet>,
}

/// What a scenario error shows below its `FILE:LINE:COL: message` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snippet {
    /// The offending line as written; empty when the error has no place in the file.
    pub source_line: String,
    /// How many characters from the column the caret underlines (0 with no place).
    pub width: usize,
    /// What the caret points at (what was expected and what was found); empty when the message says it all.
    pub label: String,
    /// A fix, when one is known.
    pub help: Option<String>,
}

impl ScenarioError {
    /// An error at byte span `span` of `text`: the caret underlines the span, clipped to its first line.
    pub fn at(file: &str, text: &str, span: Range<usize>, message: String) -> ScenarioError {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |at| at + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |at| start + at);
        let source_line = text[line_start..line_end].trim_end_matches('\r').to_string();
        let end = floor_char_boundary(text, span.end.clamp(start, line_end));
        let line = text[..start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count() + 1;
        let width = text[start..end].chars().count().max(1);
        let snippet = Box::new(Snippet { source_line, width, ..Snippet::default() });
        ScenarioError { file: file.to_string(), line, column, message, snippet }
    }

    /// An error with no place in the file (line 1, column 1, no snippet).
    pub fn unplaced(file: &str, message: String) -> ScenarioError {
        let snippet = Box::default();
        ScenarioError { file: file.to_string(), line: 1, column: 1, message, snippet }
    }

    fn labelled(mut self, label: String, help: Option<String>) -> ScenarioError {
        self.snippet.label = label;
        self.snippet.help = help;
        self
    }
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The TOML parser's error, reworded where eosim knows better.
pub(crate) fn parse_error(file: &str, text: &str, error: &toml::de::Error) -> ScenarioError {
    let message = error.message().trim();
    let Some(span) = error.span() else {
        return ScenarioError::unplaced(file, message.to_string());
    };
    let found = text.get(span.clone()).unwrap_or("").trim();
    let key = key_before(text, span.start).unwrap_or("value").to_string();
    let at = |message: String| ScenarioError::at(file, text, span.clone(), message);
    if message.starts_with("unknown field") {
        let names = backticked(message);
        let help = names.split_first().and_then(|(unknown, allowed)| did_you_mean(unknown, allowed.iter().copied()));
        let help = help.map(|name| format!("did you mean `{name}`?"));
        return at(message.to_string()).labelled("unknown key".into(), help);
    }
    if message.starts_with("unknown variant") {
        let names = backticked(message);
        let help = names.split_first().and_then(|(unknown, allowed)| did_you_mean(unknown, allowed.iter().copied()));
        let help = help.map(|name| format!("did you mean `{key} = \"{name}\"`?"));
        return at(message.to_string()).labelled("unknown value".into(), help);
    }
    if message.contains("untagged enum Expect") {
        let label = format!("expected a string or an array of strings, found {}", kind_of(found));
        let headline = "`expect` must be \"pass\", an anomaly kind, or a list of anomaly kinds".to_string();
        return at(headline).labelled(label, Some("write `expect = \"pass\"` or `expect = [\"lost-write\"]`".into()));
    }
    if message.starts_with("invalid type") || message.starts_with("wanted ") {
        return type_error(at, &key, found, message);
    }
    at(message.to_string())
}

/// A value of the wrong type: what was expected, what was found, and the value rewritten when that is clear.
fn type_error(at: impl Fn(String) -> ScenarioError, key: &str, found: &str, message: &str) -> ScenarioError {
    let found_kind = kind_of(found);
    let values = enum_values(key);
    let expected = if values.is_empty() { expected_phrase(message) } else { "a string" };
    let headline = if values.is_empty() {
        format!("`{key}` must be {expected}")
    } else {
        let quoted: Vec<String> = values.iter().map(|value| format!("\"{value}\"")).collect();
        format!("`{key}` must be {}", or_list(&quoted))
    };
    let bare = found.trim_matches(['"', '\'']);
    let help = match (expected, found_kind) {
        ("a string", kind) if kind != "a string" && (values.is_empty() || values.contains(&bare)) => {
            Some(format!("write `{key} = \"{bare}\"`"))
        }
        ("an integer", "a string") if bare.parse::<u64>().is_ok() => Some(format!("write `{key} = {bare}`")),
        ("a boolean", "a string") if matches!(bare, "true" | "false") => Some(format!("write `{key} = {bare}`")),
        _ => None,
    };
    at(headline).labelled(format!("expected {expected}, found {found_kind}"), help)
}

/// The values a key of an enum type takes, as a file writes them; empty for other keys.
fn enum_values(key: &str) -> Vec<&'static str> {
    match key {
        "acks" => vec!["all", "1", "0"],
        "variant" => Variant::ALL.iter().map(|variant| variant.name()).collect(),
        "isolation_level" => vec!["read_uncommitted", "read_committed"],
        _ => Vec::new(),
    }
}

/// serde's "expected u32" as a person says it.
fn expected_phrase(message: &str) -> &'static str {
    let expected = message.rsplit("expected ").next().unwrap_or("").trim();
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" => "an integer",
        "f32" | "f64" => "a number",
        "a boolean" | "bool" => "a boolean",
        "a string" | "string" => "a string",
        "a sequence" | "an array" => "an array",
        _ if expected.starts_with("an array") || expected.starts_with("a sequence") => "an array",
        _ if expected.starts_with("struct") || expected.starts_with("a map") => "a table",
        _ => "a value of another type",
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// A check after parsing failed at `key` (a key path such as `lost-ack.duration_ms`): the error is placed at
/// the key's first assignment and underlines `key = value`.
pub(crate) fn invalid(file: &str, text: &str, scenario: &Scenario, key: &str, message: String) -> ScenarioError {
    let path: Vec<&str> = key.split('.').collect();
    let Some(span) = find_path(text, &path) else {
        // A default that breaks a rule together with a value given elsewhere has no line of its own.
        return ScenarioError::unplaced(file, message);
    };
    let error = ScenarioError::at(file, text, span.key.start..span.value.end, message);
    let (label, help) = explain(scenario, &path);
    error.labelled(label, help)
}

/// The label and fix of a failed check, where they are known.
fn explain(scenario: &Scenario, path: &[&str]) -> (String, Option<String>) {
    let topics: Vec<&str> = scenario.cluster.topics.iter().map(|topic| topic.name.as_str()).collect();
    let topic_of = |key: &str| -> Option<&str> {
        let workload = &scenario.workload;
        let pipeline = workload.pipeline.as_ref();
        match key {
            "input" => pipeline.map(|pipeline| pipeline.input.as_str()),
            "output" => pipeline.map(|pipeline| pipeline.output.as_str()),
            "producer_topic" => workload.producer_topic.as_deref(),
            "atomic_topic" => workload.atomic_topic.as_deref(),
            _ => None,
        }
    };
    match path {
        [fault, "duration_ms"] => {
            let kind = scenario.faults.kinds().into_iter().find(|(name, _)| name == fault);
            match kind.map(|(_, kind)| kind.duration_ms) {
                Some([low, high]) if low > high => (
                    format!("the lower bound {low} is above the upper bound {high}"),
                    Some(format!("write `duration_ms = [{high}, {low}]`")),
                ),
                _ => (String::new(), None),
            }
        }
        [key] if topic_of(key).is_some() => {
            let name = topic_of(key).unwrap_or_default();
            let help =
                did_you_mean(name, topics.iter().copied()).map(|topic| format!("did you mean `{key} = \"{topic}\"`?"));
            ("no topic of [cluster] has this name".into(), help)
        }
        ["guarantee"] => {
            let name = scenario.guarantee.as_deref().unwrap_or_default();
            let help = did_you_mean(name, Guarantee::ALL.iter().map(|guarantee| guarantee.name()))
                .map(|guarantee| format!("did you mean `guarantee = \"{guarantee}\"`?"));
            ("unknown guarantee".into(), help)
        }
        ["expect"] => {
            let guarantee = scenario.guarantee();
            let names = scenario.expect.as_ref().map(|expect| expect.names()).unwrap_or_default();
            let forbidden: Vec<&str> = eosim_checker::AnomalyKind::ALL
                .iter()
                .filter(|kind| guarantee.forbids(**kind))
                .map(|kind| kind.name())
                .chain(["pass"])
                .collect();
            let unknown = names.iter().find(|name| !forbidden.contains(name));
            let help = unknown
                .and_then(|name| did_you_mean(name, forbidden.iter().copied()))
                .map(|name| format!("did you mean \"{name}\"?"));
            (String::new(), help)
        }
        ["acks"] => (
            "an idempotent or transactional producer needs acks = \"all\"".into(),
            Some("write `acks = \"all\"`, or choose variant = \"at-least-once\" to keep this acks".into()),
        ),
        _ => (String::new(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_is_placed_and_clipped_to_its_line() {
        let text = "a = 1\nacks = 1\nb = 2\n";
        let error = ScenarioError::at("f.toml", text, 13..20, "m".into());
        assert_eq!((error.line, error.column, error.snippet.width), (2, 8, 1));
        assert_eq!(error.snippet.source_line, "acks = 1");
        assert_eq!(error.to_string(), "f.toml:2:8: m");
    }

    const MINIMAL: &str = "name = \"t\"\ndescription = \"d\"\nvariant = \"idempotent\"\nduration_ms = 100\n[cluster]\n\
                           brokers = 1\ntopics = [{ name = \"t\", partitions = 1 }]\n[workload]\nproducers = 1\n\
                           messages_per_producer = 1\n[producer]\nacks = \"all\"\n";

    fn refused(from: &str, to: &str) -> ScenarioError {
        assert!(MINIMAL.contains(from), "{from}");
        Scenario::from_toml("t.toml", &MINIMAL.replacen(from, to, 1)).expect_err(to)
    }

    #[test]
    fn a_wrong_type_is_reworded_with_what_was_expected_found_and_the_fix() {
        let error = refused("acks = \"all\"", "acks = 1");
        assert_eq!(error.to_string(), "t.toml:12:8: `acks` must be \"all\", \"1\" or \"0\"");
        assert_eq!((error.snippet.source_line.as_str(), error.snippet.width), ("acks = 1", 1));
        assert_eq!(error.snippet.label, "expected a string, found an integer");
        assert_eq!(error.snippet.help.as_deref(), Some("write `acks = \"1\"`"));
        let error = refused("brokers = 1", "brokers = true");
        assert_eq!(error.message, "`brokers` must be an integer");
        assert_eq!(
            (error.snippet.label.as_str(), error.snippet.help.as_deref()),
            ("expected an integer, found a boolean", None)
        );
    }

    #[test]
    fn unknown_names_get_the_closest_allowed_one() {
        let error = refused("brokers = 1", "brokerz = 1");
        assert_eq!(error.snippet.help.as_deref(), Some("did you mean `brokers`?"));
        let error = refused("variant = \"idempotent\"", "variant = \"idempotnet\"");
        assert_eq!(error.snippet.help.as_deref(), Some("did you mean `variant = \"idempotent\"`?"));
        let error = refused("duration_ms = 100", "guarantee = \"idempotant\"\nduration_ms = 100");
        assert_eq!((error.line, error.column), (4, 1));
        assert_eq!(error.snippet.help.as_deref(), Some("did you mean `guarantee = \"idempotent\"`?"));
        let error = refused("duration_ms = 100", "expect = \"duplicat\"\nduration_ms = 100");
        assert_eq!(error.snippet.help.as_deref(), Some("did you mean \"duplicate\"?"));
    }

    #[test]
    fn a_reversed_fault_range_is_placed_at_its_own_key() {
        let error = refused("[producer]", "[faults]\npartition = { every_ms = 10, duration_ms = [9, 3] }\n[producer]");
        assert_eq!((error.line, error.column), (12, 30), "{error}");
        assert!(error.message.contains("the lower bound 9 is above the upper bound 3"), "{error}");
        assert_eq!(error.snippet.label, "the lower bound 9 is above the upper bound 3");
        assert_eq!(error.snippet.help.as_deref(), Some("write `duration_ms = [3, 9]`"));
    }

    #[test]
    fn serde_types_read_as_words() {
        assert_eq!(expected_phrase("invalid type: string \"one\", expected u32"), "an integer");
        assert_eq!(expected_phrase("invalid type: integer `1`, expected a boolean"), "a boolean");
        assert_eq!(or_list(&["a".into(), "b".into(), "c".into()]), "a, b or c");
    }
}
