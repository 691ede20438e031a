//! A regression corpus: repro files replayed together and each judged by what it records.
//!
//! `eosim replay` takes repro files and directories; a directory stands for every `*.json` repro in it, sorted by
//! file name. A directory may also hold the other files eosim writes next to repros, `report.json` and
//! `zoo.json`, which are skipped by name; any other file that is not a repro is an error at its line, as a file
//! named on the command line always is.
//!
//! Each repro is judged the way `tests/regressions.rs` judges `tests/regressions/` ([`Repro::reproduces`]): it
//! must still show its recorded verdict and violation kinds, or, once its bug is fixed, the verdict the fix
//! promises. Its trace hash must still be the recorded one, unless the repro is marked fixed, since a fix changes
//! what the run does. A corpus is clean when every repro shows what it records; `campaign --regressions` uses
//! the same replays, and counts a repro whose replay fails as a failing seed of the campaign.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::repro::{Comparison, Repro, ReproError};
use crate::runner::RunResult;

/// Files a directory of repros may hold that are other eosim outputs, not repros: skipped by name.
pub const OTHER_OUTPUTS: [&str; 2] = ["report.json", "zoo.json"];

/// Repro files or directories that could not be read as a corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A path names nothing.
    #[error("{path}: no such file or directory (expected a repro file or a directory of them)")]
    Missing {
        /// The path as given.
        path: String,
    },
    /// A directory could not be listed.
    #[error("{path}: cannot list the directory: {source}")]
    List {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A directory holds no repro.
    #[error("{path}: no repro in the directory (expected *.json repro files)")]
    Empty {
        /// The directory.
        path: String,
    },
    /// A file is not a repro; displays as `FILE:LINE:COL: message`.
    #[error(transparent)]
    Repro(#[from] ReproError),
}

/// One repro of a corpus, read.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The file.
    pub path: PathBuf,
    /// Its repro.
    pub repro: Repro,
}

/// The repros named by the arguments, in argument order, each directory's in file-name order.
#[derive(Clone, Debug, Default)]
pub struct Corpus {
    /// The repros.
    pub entries: Vec<Entry>,
    /// Files of a directory that were skipped as other eosim outputs.
    pub skipped: Vec<PathBuf>,
}

impl Corpus {
    /// Reads every repro the paths name; the first file that is not a repro is an error.
    pub fn read(paths: &[PathBuf]) -> Result<Corpus, CorpusError> {
        let mut corpus = Corpus::default();
        for path in paths {
            if path.is_dir() {
                corpus.read_dir(path)?;
            } else if path.exists() {
                corpus.entries.push(Entry { path: path.clone(), repro: Repro::read(path)? });
            } else {
                return Err(CorpusError::Missing { path: path.display().to_string() });
            }
        }
        Ok(corpus)
    }

    fn read_dir(&mut self, dir: &Path) -> Result<(), CorpusError> {
        let list_error = |source| CorpusError::List { path: dir.display().to_string(), source };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(list_error)? {
            let path = entry.map_err(list_error)?.path();
            if path.is_file() && path.extension().is_some_and(|extension| extension == "json") {
                files.push(path);
            }
        }
        files.sort();
        let before = self.entries.len();
        for path in files {
            let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            if OTHER_OUTPUTS.contains(&name.as_str()) {
                self.skipped.push(path);
                continue;
            }
            let repro = Repro::read(&path)?;
            self.entries.push(Entry { path, repro });
        }
        if self.entries.len() == before {
            return Err(CorpusError::Empty { path: dir.display().to_string() });
        }
        Ok(())
    }
}

/// How a replayed repro compares with what it records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Judgement {
    /// It shows what it records, with the recorded trace hash (or, marked fixed, the verdict the fix promises).
    Reproduces,
    /// It shows what it records, but through another trace: the run is not the one recorded (exit status 3).
    Diverged,
    /// It no longer shows what it records: a regression of the fix, or the flaw no longer provoked.
    Regressed,
}

/// One repro replayed.
#[derive(Debug)]
pub struct Replayed {
    /// The file.
    pub path: PathBuf,
    /// Its repro.
    pub repro: Repro,
    /// The replay.
    pub result: RunResult,
    /// The replay against the recorded run.
    pub comparison: Comparison,
    /// The judgement.
    pub judgement: Judgement,
}

impl Replayed {
    /// Replays one repro and judges it.
    pub fn of(entry: &Entry) -> Replayed {
        let result = entry.repro.replay();
        let comparison = entry.repro.compare(&result);
        let judgement = if !entry.repro.reproduces(&result) {
            Judgement::Regressed
        } else if entry.repro.fixed.is_none() && !comparison.trace_hash {
            Judgement::Diverged
        } else {
            Judgement::Reproduces
        };
        Replayed { path: entry.path.clone(), repro: entry.repro.clone(), result, comparison, judgement }
    }

    /// What the repro expects: `violation [lost-write]`, or `pass (fixed)` once its bug is fixed.
    pub fn expected(&self) -> String {
        match &self.repro.fixed {
            Some(fixed) => format!("{} (fixed)", fixed.expected.name()),
            None => verdict_and_kinds(self.repro.expected.verdict.name(), &self.repro.expected.violations),
        }
    }

    /// What the replay gave, in the same form as [`Replayed::expected`].
    pub fn got(&self) -> String {
        verdict_and_kinds(self.result.verdict.name(), &self.result.violation_kinds())
    }

    /// `ok`, `diverged`, or `not compared (fixed)` for a repro whose fix changed the run.
    pub fn hash(&self) -> &'static str {
        match (self.comparison.trace_hash, self.repro.fixed.is_some()) {
            (true, _) => "ok",
            (false, true) => "not compared (fixed)",
            (false, false) => "diverged",
        }
    }

    /// The file's name without its directory.
    pub fn name(&self) -> String {
        self.path.file_name().map_or_else(|| self.path.display().to_string(), |name| name.to_string_lossy().into())
    }

    /// One line: name, seed, judgement, expected against got, trace hash.
    pub fn line(&self) -> String {
        let judgement = match self.judgement {
            Judgement::Reproduces => "reproduces",
            Judgement::Diverged => "DIVERGED",
            Judgement::Regressed => "REGRESSED",
        };
        format!(
            "{}: seed {}: {judgement}: expected {}, got {}; trace hash {}\n",
            self.name(),
            self.repro.seed,
            self.expected(),
            self.got(),
            self.hash()
        )
    }
}

fn verdict_and_kinds(verdict: &str, kinds: &[eosim_checker::AnomalyKind]) -> String {
    if kinds.is_empty() {
        return verdict.to_string();
    }
    let names: Vec<&str> = kinds.iter().map(|kind| kind.name()).collect();
    format!("{verdict} [{}]", names.join(", "))
}

/// Replays every entry, in parallel; the results keep the entries' order, and each replay is deterministic, so
/// the thread count changes only the wall time.
pub fn replay_all(entries: &[Entry]) -> Vec<Replayed> {
    entries.par_iter().map(Replayed::of).collect()
}

/// What a corpus replay found, for its summary and its exit status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Repros replayed.
    pub replayed: usize,
    /// Repros that show what they record.
    pub reproduces: usize,
    /// Repros that show it through another trace.
    pub diverged: usize,
    /// Repros that no longer show it.
    pub regressed: usize,
}

impl Tally {
    /// Counts the judgements.
    pub fn of(replayed: &[Replayed]) -> Tally {
        let count = |judgement| replayed.iter().filter(|replay| replay.judgement == judgement).count();
        Tally {
            replayed: replayed.len(),
            reproduces: count(Judgement::Reproduces),
            diverged: count(Judgement::Diverged),
            regressed: count(Judgement::Regressed),
        }
    }

    /// The exit status: 3 when a trace hash diverged (the replay is not the recorded run), else 1 when a repro
    /// regressed (a finding), else 0.
    pub fn exit_status(&self) -> u8 {
        if self.diverged > 0 {
            3
        } else if self.regressed > 0 {
            1
        } else {
            0
        }
    }

    /// `28 repros: 28 reproduce, 0 diverged, 0 regressed`.
    pub fn summary(&self) -> String {
        format!(
            "{} repro(s): {} reproduce, {} diverged, {} regressed\n",
            self.replayed, self.reproduces, self.diverged, self.regressed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_puts_a_diverged_hash_before_a_regression() {
        let tally =
            |diverged, regressed| Tally { replayed: 3, reproduces: 3 - diverged - regressed, diverged, regressed };
        assert_eq!(tally(0, 0).exit_status(), 0);
        assert_eq!(tally(0, 1).exit_status(), 1);
        assert_eq!(tally(1, 1).exit_status(), 3);
        assert_eq!(tally(1, 0).exit_status(), 3);
    }

    #[test]
    fn a_directory_without_repros_and_a_missing_path_are_errors() {
        let dir = std::env::temp_dir().join(format!("eosim-corpus-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creates");
        std::fs::write(dir.join("report.json"), "{}").expect("writes");
        let error = Corpus::read(std::slice::from_ref(&dir)).expect_err("only report.json");
        assert!(error.to_string().contains("no repro in the directory"), "{error}");
        std::fs::write(dir.join("notes.json"), "{\"x\": 1}\n").expect("writes");
        let error = Corpus::read(std::slice::from_ref(&dir)).expect_err("notes.json is not a repro");
        assert!(error.to_string().contains("notes.json:1:"), "{error}");
        let missing = dir.join("missing");
        let error = Corpus::read(&[missing]).expect_err("missing");
        assert!(error.to_string().contains("no such file or directory"), "{error}");
        std::fs::remove_dir_all(&dir).expect("removes");
    }
}
