//! Reading a file a user gave as text: a missing file names its path, and bytes that are not UTF-8 name the
//! line and column of the first bad one, as every other input error does (`FILE:LINE:COL: message`).

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
}
