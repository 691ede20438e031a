//! The bug-zoo entries, embedded in the binary: every `scenarios/zoo/*.toml` at build time (`build.rs` lists the
//! directory, so a new entry needs no code change), each parsed as a scenario that must carry a `[zoo]` table
//! naming the bug its file is named after.

use eosim_model::zoo::ZooSpec;
use eosim_model::{Scenario, ScenarioError};

include!(concat!(env!("OUT_DIR"), "/zoo_files.rs"));

/// One bug-zoo entry: its scenario (the affected protocol) and what a campaign must find.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The file it came from, e.g. `scenarios/zoo/KAFKA-17754.toml`.
    pub file: &'static str,
    /// The scenario, `[zoo]` table included.
    pub scenario: Scenario,
    /// The `[zoo]` table.
    pub spec: ZooSpec,
}

impl Entry {
    /// The JIRA id.
    pub fn bug(&self) -> &str {
        &self.spec.bug
    }
}

/// A zoo file that is not a valid entry, or a bug id that names none.
#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    /// The TOML is malformed or breaks a scenario rule; displays as `FILE:LINE:COL: message`.
    #[error(transparent)]
    Invalid(#[from] ScenarioError),
    /// The scenario has no `[zoo]` table.
    #[error("{file}: a bug-zoo scenario needs a [zoo] table (bug, title, affected, fixed, fix, expect)")]
    NoZooTable {
        /// The file.
        file: &'static str,
    },
    /// The file's name is not the bug it names.
    #[error("{file}: the [zoo] table names {bug}; expected the file to be scenarios/zoo/{bug}.toml")]
    Misnamed {
        /// The file.
        file: &'static str,
        /// The bug its `[zoo]` table names.
        bug: String,
    },
    /// A bug id on the command line that no entry has.
    #[error("unknown bug {id:?} (the zoo has: {known})")]
    Unknown {
        /// The id as given.
        id: String,
        /// The ids the zoo has, joined with `, `.
        known: String,
    },
}

/// Every entry of the zoo, in file-name order.
pub fn all() -> Result<Vec<Entry>, ZooError> {
    ZOO_FILES.iter().map(|(file, text)| parse(file, text)).collect()
}

/// Parses one zoo file.
pub fn parse(file: &'static str, text: &str) -> Result<Entry, ZooError> {
    let scenario = Scenario::from_toml(file, text)?;
    let spec = scenario.zoo.clone().ok_or(ZooError::NoZooTable { file })?;
    if file.rsplit('/').next() != Some(format!("{}.toml", spec.bug).as_str()) {
        return Err(ZooError::Misnamed { file, bug: spec.bug });
    }
    Ok(Entry { file, scenario, spec })
}

/// The entries named by `ids`, in the order given; every entry when `ids` is empty.
pub fn select(entries: Vec<Entry>, ids: &[String]) -> Result<Vec<Entry>, ZooError> {
    if ids.is_empty() {
        return Ok(entries);
    }
    let mut selected = Vec::with_capacity(ids.len());
    for id in ids {
        match entries.iter().find(|entry| entry.bug().eq_ignore_ascii_case(id)) {
            Some(entry) => selected.push(entry.clone()),
            None => {
                let known = entries.iter().map(Entry::bug).collect::<Vec<_>>().join(", ");
                return Err(ZooError::Unknown { id: id.clone(), known });
            }
        }
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_is_an_entry_named_after_its_bug() {
        let entries = all().unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(entries.len(), ZOO_FILES.len());
        assert!(!entries.is_empty(), "scenarios/zoo/ holds at least one entry");
        for entry in &entries {
            assert_eq!(entry.file, format!("scenarios/zoo/{}.toml", entry.bug()));
        }
    }

    #[test]
    fn a_file_named_after_another_bug_is_refused() {
        let (_, text) = ZOO_FILES[0];
        let error = parse("scenarios/zoo/KAFKA-1.toml", text).expect_err("misnamed");
        assert!(error.to_string().contains("expected the file to be scenarios/zoo/KAFKA-"), "{error}");
    }

    #[test]
    fn an_unknown_id_lists_the_zoo() {
        let entries = all().expect("the zoo parses");
        let first = entries[0].bug().to_string();
        let error = select(entries.clone(), &["KAFKA-0".to_string()]).expect_err("unknown");
        assert!(error.to_string().contains(&first), "{error}");
        let picked = select(entries, &[first.to_lowercase()]).expect("ids are case-insensitive");
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].bug(), first);
    }
}
