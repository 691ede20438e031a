//! Reading a file a user gave as text: a missing file names its path, and bytes that are not UTF-8 name the
//! line and column of the first bad one, as every other input error does (`FILE:LINE:COL: message`). A file of
//! the wrong kind (a campaign report given where a repro is read) is recognised by its shape, so the error can
//! say which file to pass instead.

use std::path::Path;

/// A file that could not be read as text.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("{path}: cannot read {what}: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// What the file was to be (`repro file`, `report`).
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes are not UTF-8.
    #[error("{path}:{line}:{column}: invalid UTF-8 (byte 0x{byte:02x}; expected {what} as UTF-8 text)")]
    NotUtf8 {
        /// The path as given.
        path: String,
        /// What the file was to be.
        what: &'static str,
        /// 1-based line of the first bad byte.
        line: usize,
        /// 1-based column (in characters) of the first bad byte.
        column: usize,
        /// The byte.
        byte: u8,
    },
}

/// Reads `path` as UTF-8 text; `what` names the kind of file in errors.
pub fn read_text(path: &Path, what: &'static str) -> Result<String, InputError> {
    let name = path.to_string_lossy().into_owned();
    let bytes = std::fs::read(path).map_err(|source| InputError::Read { path: name.clone(), what, source })?;
    String::from_utf8(bytes).map_err(|error| {
        let bytes = error.as_bytes();
        let valid_up_to = error.utf8_error().valid_up_to();
        let before = String::from_utf8_lossy(&bytes[..valid_up_to]);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
        InputError::NotUtf8 { path: name, what, line, column, byte: bytes[valid_up_to] }
    })
}

/// The kinds of file eosim writes, told apart by their shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `report.json` of `eosim campaign --out` or `eosim merge`.
    CampaignReport,
    /// `zoo.json` of `eosim zoo --out`.
    ZooReport,
    /// `repro.json`, `repro-SEED.json`, `KAFKA-NNNNN.repro.json`.
    Repro,
    /// `history.jsonl` (one operation per line) or a Jepsen `history.edn`.
    History,
}

impl FileKind {
    /// The kind with its article, as an error names it: "a campaign report".
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::CampaignReport => "a campaign report",
            FileKind::ZooReport => "a bug-zoo report",
            FileKind::Repro => "a repro",
            FileKind::History => "a history",
        }
    }

    /// Which file to pass instead when this kind was given where `wanted` is read.
    pub fn instead(self, wanted: FileKind) -> &'static str {
        match (self, wanted) {
            (FileKind::CampaignReport, FileKind::Repro) => "pass one of its repro-SEED.json files",
            (FileKind::ZooReport, FileKind::Repro) => "pass one of its KAFKA-NNNNN.repro.json files",
            (FileKind::CampaignReport, FileKind::History) => "pass one of its history-SEED.jsonl files",
            (FileKind::History, FileKind::Repro) => {
                "`eosim check` reads a history; a repro is the repro.json beside it"
            }
            (_, FileKind::CampaignReport) => "`eosim merge` joins the report.json files of a campaign's shards",
            (_, FileKind::History) => "`eosim check` reads a history.jsonl or a Jepsen history.edn",
            (_, _) => "`eosim replay` and `eosim shrink` read a repro.json",
        }
    }

    /// `PATH: this is a campaign report, not a repro: pass one of its repro-SEED.json files`.
    pub fn mismatch(self, path: &str, wanted: FileKind) -> String {
        let (this, want) = (self.describe(), wanted.describe());
        let this = this.split_once(' ').map_or(this, |(_, noun)| noun);
        format!("{path}: this is {} {this}, not {want}: {}", article(this), self.instead(wanted))
    }
}

fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// What kind of eosim file `text` is, by the keys of its JSON object (or of its first line, for a history);
/// none when it looks like none of them. Only called once a reader has refused the file, so parsing it again
/// costs nothing in the common case.
pub fn kind_of(text: &str) -> Option<FileKind> {
    let trimmed = text.trim_start();
    let in_vector = trimmed.strip_prefix('[').map(str::trim_start);
    if trimmed.starts_with("{:") || in_vector.is_some_and(|rest| rest.starts_with("{:")) {
        return Some(FileKind::History);
    }
    let has = |object: &serde_json::Map<String, serde_json::Value>, keys: &[&str]| {
        keys.iter().all(|key| object.contains_key(*key))
    };
    if let Ok(serde_json::Value::Object(object)) = serde_json::from_str::<serde_json::Value>(text) {
        return match () {
            () if has(&object, &["schema", "runs", "totals"]) => Some(FileKind::CampaignReport),
            () if has(&object, &["range_stride", "entries"]) => Some(FileKind::ZooReport),
            () if has(&object, &["scenario", "seed", "expected"]) => Some(FileKind::Repro),
            () if has(&object, &["type", "f", "process"]) => Some(FileKind::History),
            () => None,
        };
    }
    let first = text.lines().find(|line| !line.trim().is_empty())?;
    match serde_json::from_str::<serde_json::Value>(first) {
        Ok(serde_json::Value::Object(object)) if has(&object, &["type", "f", "process"]) => Some(FileKind::History),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bad_byte_is_placed_and_a_missing_file_named() {
        let path = std::env::temp_dir().join(format!("eosim-input-{}.json", std::process::id()));
        std::fs::write(&path, b"{\n  \"caf\xe9\": 1\n}").expect("write");
        let error = read_text(&path, "a report").expect_err("not UTF-8").to_string();
        assert!(error.ends_with(":2:7: invalid UTF-8 (byte 0xe9; expected a report as UTF-8 text)"), "{error}");
        std::fs::write(&path, "{}").expect("write");
        assert_eq!(read_text(&path, "a report").expect("UTF-8"), "{}");
        let _ = std::fs::remove_file(&path);
        let missing = read_text(Path::new("no/such/file.json"), "a report").expect_err("missing").to_string();
        assert!(missing.starts_with("no/such/file.json: cannot read a report: "), "{missing}");
    }

    #[test]
    fn eosim_files_are_told_apart_by_their_shape() {
        let report = r#"{"schema": 1, "runs": [], "totals": {}}"#;
        assert_eq!(kind_of(report), Some(FileKind::CampaignReport));
        assert_eq!(kind_of(r#"{"range_stride": 1, "entries": []}"#), Some(FileKind::ZooReport));
        assert_eq!(kind_of(r#"{"scenario": {}, "seed": 1, "expected": {}}"#), Some(FileKind::Repro));
        let history = "{\"index\":0,\"process\":1,\"type\":\"invoke\",\"f\":\"send\"}\n{\"index\":1}\n";
        assert_eq!(kind_of(history), Some(FileKind::History));
        assert_eq!(kind_of("{:type :invoke, :f :send}"), Some(FileKind::History));
        assert_eq!(kind_of("{\"version\": 1}"), None);
        assert_eq!(kind_of("not json"), None);
        assert_eq!(
            FileKind::CampaignReport.mismatch("out/report.json", FileKind::Repro),
            "out/report.json: this is a campaign report, not a repro: pass one of its repro-SEED.json files"
        );
    }
}
