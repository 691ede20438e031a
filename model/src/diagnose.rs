//! Where in a scenario file an error lies, and what would fix it, so that a loader error can show the line with a
//! caret under the offending text and a `help:` line, the way cargo does.
//!
//! The TOML parser places its own errors (a wrong type, an unknown key) by byte span; the checks that run after
//! it name a key path (`workload.pipeline.output` is found as `output`, `lost-ack.duration_ms` as `duration_ms`
//! inside `lost-ack`), which [`find_path`] looks up in the spanned document. Did-you-mean suggestions come from
//! [`did_you_mean`], an edit distance over the names that were allowed.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The byte ranges of a key and of its value in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpan {
    /// The key as written.
    pub key: Range<usize>,
    /// The value assigned to it.
    pub value: Range<usize>,
}

/// The first assignment in `text` (by position) whose key path ends with `path`: `["output"]` finds `output`
/// in any table, `["lost-ack", "duration_ms"]` finds `duration_ms` directly inside `lost-ack`. None when the
/// text does not parse or holds no such key.
pub fn find_path(text: &str, path: &[&str]) -> Option<KeySpan> {
    let document = DeTable::parse(text).ok()?;
    let mut best = None;
    search_table(document.get_ref(), path, &mut best);
    best
}

fn search_table(table: &DeTable<'_>, path: &[&str], best: &mut Option<KeySpan>) {
    let Some((first, rest)) = path.split_first() else { return };
    for (key, value) in table.iter() {
        if key.get_ref() == first {
            if let Some(found) = follow(key, value, rest) {
                keep_first(best, found);
            }
        }
        search_value(value, path, best);
    }
}

/// The span of `rest` below `key = value`, or of the pair itself when `rest` is empty.
fn follow(key: &Spanned<std::borrow::Cow<'_, str>>, value: &Spanned<DeValue<'_>>, rest: &[&str]) -> Option<KeySpan> {
    let Some((next, deeper)) = rest.split_first() else {
        return Some(KeySpan { key: key.span(), value: value.span() });
    };
    let table = value.get_ref().as_table()?;
    let (key, value) = table.iter().find(|(key, _)| key.get_ref() == next)?;
    follow(key, value, deeper)
}

fn search_value(value: &Spanned<DeValue<'_>>, path: &[&str], best: &mut Option<KeySpan>) {
    match value.get_ref() {
        DeValue::Table(table) => search_table(table, path, best),
        DeValue::Array(array) => {
            for item in array.iter() {
                search_value(item, path, best);
            }
        }
        _ => {}
    }
}

fn keep_first(best: &mut Option<KeySpan>, found: KeySpan) {
    if best.as_ref().is_none_or(|best| found.key.start < best.key.start) {
        *best = Some(found);
    }
}

/// What kind of TOML value `text` is, as an error says it: "an integer", "a string", …
pub fn kind_of(text: &str) -> &'static str {
    let text = text.trim();
    match text.as_bytes().first() {
        Some(b'"' | b'\'') => "a string",
        Some(b'[') => "an array",
        Some(b'{') => "an inline table",
        _ if text == "true" || text == "false" => "a boolean",
        _ if text.contains(['.', 'e', 'E']) && text.parse::<f64>().is_ok() => "a float",
        Some(b'0'..=b'9' | b'-' | b'+') => "an integer",
        _ => "a bare word",
    }
}

/// The closest of `candidates` to `word` by edit distance, when it is close enough to be a typo: at most a
/// third of the word's length (and at least one edit). Ties go to the earlier candidate.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let allowed = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let distance = edit_distance(word, candidate);
        if distance <= allowed && best.is_none_or(|(closest, _)| distance < closest) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Levenshtein distance in characters: insertions, deletions and substitutions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, left) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, right) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(left != *right);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// The names between backticks in a serde message: "unknown field `x`, expected one of `a`, `b`" gives
/// `["x", "a", "b"]`.
pub fn backticked(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// The key assigned on the line just before byte `offset` (`acks = 1` with `offset` at `1` gives `acks`).
pub fn key_before(text: &str, offset: usize) -> Option<&str> {
    let before = text.get(..offset)?;
    let line_start = before.rfind(['\n', '{', ',']).map_or(0, |at| at + 1);
    let assignment = before[line_start..].trim_end().strip_suffix('=')?.trim();
    let key = assignment.rsplit('.').next()?.trim().trim_matches('"');
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"t\"\n[workload]\npipeline = { input = \"a\", output = \"b\" }\n[faults]\nlost-ack = { every_ms = 1, duration_ms = [200, 20] }\n[faults.partition]\nduration_ms = [1, 2]\n";

    #[test]
    fn a_key_path_is_found_at_its_first_assignment_in_any_table() {
        let output = find_path(TEXT, &["output"]).expect("found");
        assert_eq!(&TEXT[output.key.clone()], "output");
        assert_eq!(&TEXT[output.value], "\"b\"");
        let duration = find_path(TEXT, &["lost-ack", "duration_ms"]).expect("found");
        assert_eq!(&TEXT[duration.value], "[200, 20]");
        let partition = find_path(TEXT, &["partition", "duration_ms"]).expect("found");
        assert_eq!(&TEXT[partition.value], "[1, 2]");
        assert!(find_path(TEXT, &["lost-ack", "probability"]).is_none());
        assert!(find_path("not toml = = 1", &["name"]).is_none());
    }

    #[test]
    fn typos_are_matched_to_the_closest_name_and_far_words_to_none() {
        assert_eq!(did_you_mean("eos-tv3", ["at-most-once", "eos-tv2", "eos-tv1"]), Some("eos-tv2"));
        assert_eq!(did_you_mean("brokerz", ["topics", "brokers"]), Some("brokers"));
        assert_eq!(did_you_mean("lingr_ms", ["acks", "linger_ms"]), Some("linger_ms"));
        assert_eq!(did_you_mean("zzz", ["brokers", "topics"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn kinds_keys_and_backticked_names_are_read_from_the_text() {
        assert_eq!(kind_of("1"), "an integer");
        assert_eq!(kind_of("\"1\""), "a string");
        assert_eq!(kind_of("1.5"), "a float");
        assert_eq!(kind_of("[1]"), "an array");
        assert_eq!(kind_of("true"), "a boolean");
        assert_eq!(key_before("acks = 1", 7), Some("acks"));
        assert_eq!(key_before("p = { a = 1, heartbeat = 0 }", 24), Some("heartbeat"));
        assert_eq!(key_before("x", 1), None);
        assert_eq!(backticked("unknown field `x`, expected one of `a`, `b`"), vec!["x", "a", "b"]);
    }
}
