//! A campaign's `--out` directory: claimed by one campaign at a time, and emptied of an earlier campaign's files.
//!
//! Two campaigns writing one directory would interleave their repro files and overwrite each other's report, and
//! a directory reused after an earlier campaign would show that campaign's `repro-SEED.json` files beside a new
//! report that does not list them. So a campaign [`claim`]s its directory before its first seed: it creates
//! `.eosim.lock` holding its process id (refused while another live process holds it), then removes the files an
//! earlier campaign wrote there — `report.json`, `junit.xml`, `index.html`, `repro-SEED.json` and
//! `history-SEED.jsonl` — and nothing else (a shrunk repro, a scenario file or notes stay). The lock is removed
//! when the [`OutDir`] is dropped; a lock left by a process that no longer runs (killed with SIGKILL) is taken
//! over, since the process id it names is gone.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The lock file's name inside the directory.
pub const LOCK_FILE: &str = ".eosim.lock";

/// A claimed `--out` directory; dropping it releases the lock.
#[derive(Debug)]
pub struct OutDir {
    /// The directory.
    pub path: PathBuf,
    /// The earlier campaign's files that were removed, by name, sorted.
    pub removed: Vec<String>,
    lock: PathBuf,
}

/// Why a directory cannot be a campaign's `--out`: bad usage, exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    /// The path exists and is a file.
    #[error(
        "--out {path}: not a directory (expected a directory to write report.json, junit.xml and index.html into)"
    )]
    NotADirectory {
        /// The path as given.
        path: String,
    },
    /// The directory could not be created or written.
    #[error("--out {path}: {what}: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Another campaign that is still running writes there.
    #[error(
        "--out {path}: another campaign (process {pid}) is writing this directory; wait for it, or choose another \
         --out (remove {lock} only if no eosim process {pid} runs)"
    )]
    Locked {
        /// The path as given.
        path: String,
        /// The process holding the lock.
        pid: u32,
        /// The lock file.
        lock: String,
    },
}

/// Claims `dir` for this process's campaign: creates it if missing, locks it, removes an earlier campaign's files.
pub fn claim(dir: &Path) -> Result<OutDir, OutDirError> {
    let name = dir.display().to_string();
    if dir.exists() && !dir.is_dir() {
        return Err(OutDirError::NotADirectory { path: name });
    }
    let io = |what: &str| {
        let (path, what) = (name.clone(), what.to_string());
        move |source| OutDirError::Io { path, what, source }
    };
    std::fs::create_dir_all(dir).map_err(io("cannot create the directory"))?;
    let lock = dir.join(LOCK_FILE);
    take_lock(&name, &lock)?;
    let mut out = OutDir { path: dir.to_path_buf(), removed: Vec::new(), lock };
    out.removed = remove_stale(dir).map_err(io("cannot remove an earlier campaign's files"))?;
    Ok(out)
}

impl Drop for OutDir {
    fn drop(&mut self) {
        // Only this process's own lock is removed; a failure leaves a lock that the next claim sees as stale.
        if read_pid(&self.lock) == Some(std::process::id()) {
            let _ = std::fs::remove_file(&self.lock);
        }
    }
}

/// Creates the lock file with this process's id; takes over a lock whose process no longer runs.
fn take_lock(name: &str, lock: &Path) -> Result<(), OutDirError> {
    // Two tries: the second follows the removal of a stale lock, and a racing claimant makes it fail cleanly.
    for _ in 0..2 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(lock) {
            Ok(mut file) => {
                let written = writeln!(file, "{}", std::process::id());
                return written.map_err(|source| OutDirError::Io {
                    path: name.to_string(),
                    what: format!("cannot write {}", lock.display()),
                    source,
                });
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = read_pid(lock);
                if let Some(pid) = holder.filter(|pid| process_runs(*pid)) {
                    let lock = lock.display().to_string();
                    return Err(OutDirError::Locked { path: name.to_string(), pid, lock });
                }
                let _ = std::fs::remove_file(lock);
            }
            Err(source) => {
                let what = format!("cannot create {}", lock.display());
                return Err(OutDirError::Io { path: name.to_string(), what, source });
            }
        }
    }
    let pid = read_pid(lock).unwrap_or(0);
    Err(OutDirError::Locked { path: name.to_string(), pid, lock: lock.display().to_string() })
}

fn read_pid(lock: &Path) -> Option<u32> {
    std::fs::read_to_string(lock).ok()?.trim().parse().ok()
}

/// Whether process `pid` runs. Where `/proc` is absent nothing can tell, so the lock is assumed held.
fn process_runs(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    let proc_root = Path::new("/proc/self");
    !proc_root.exists() || Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether `name` is a file a campaign writes into its `--out`.
pub fn is_campaign_file(name: &str) -> bool {
    let seeded = |prefix: &str, suffix: &str| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .is_some_and(|seed| !seed.is_empty() && seed.bytes().all(|byte| byte.is_ascii_digit()))
    };
    matches!(name, "report.json" | "junit.xml" | "index.html")
        || seeded("repro-", ".json")
        || seeded("history-", ".jsonl")
}

fn remove_stale(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_campaign_file(&name) && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed.push(name);
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("eosim-out-dir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn only_the_files_a_campaign_writes_are_stale() {
        for name in ["report.json", "junit.xml", "index.html", "repro-7.json", "history-123.jsonl"] {
            assert!(is_campaign_file(name), "{name}");
        }
        for name in ["repro-7.shrunk.json", "repro-.json", "history-x.jsonl", "my.toml", "repro.json", LOCK_FILE] {
            assert!(!is_campaign_file(name), "{name}");
        }
    }

    #[test]
    fn a_claim_removes_an_earlier_campaigns_files_and_locks_until_dropped() {
        let dir = scratch("claim");
        std::fs::create_dir_all(&dir).expect("scratch dir");
        for name in ["repro-3.json", "history-3.jsonl", "report.json", "notes.txt"] {
            std::fs::write(dir.join(name), "old").expect("write");
        }
        let out = claim(&dir).expect("a free directory");
        assert_eq!(out.removed, vec!["history-3.jsonl", "report.json", "repro-3.json"]);
        assert!(dir.join("notes.txt").is_file(), "other files stay");
        assert_eq!(read_pid(&dir.join(LOCK_FILE)), Some(std::process::id()));
        let second = claim(&dir).expect_err("this process holds it");
        assert!(matches!(second, OutDirError::Locked { .. }), "{second}");
        drop(out);
        assert!(!dir.join(LOCK_FILE).exists(), "the lock goes with the claim");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_lock_of_a_process_that_is_gone_is_taken_over_and_a_file_is_refused() {
        let dir = scratch("stale");
        std::fs::create_dir_all(&dir).expect("scratch dir");
        // Process ids on Linux stay below 2^22, so this one never runs.
        std::fs::write(dir.join(LOCK_FILE), "4294967290\n").expect("write");
        let out = claim(&dir).expect("a stale lock is taken over");
        drop(out);
        let file = dir.join("report.json");
        std::fs::write(&file, "{}").expect("write");
        assert!(matches!(claim(&file), Err(OutDirError::NotADirectory { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
