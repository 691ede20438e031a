//! eosim: deterministic simulation testing of Kafka-style exactly-once protocols — the library behind the CLI.
//!
//! The binary (`src/main.rs`, and `src/cli/` with one module per command) only parses arguments and prints; the
//! work is here:
//!
//! - [`scenarios`]: the built-in scenarios embedded in the binary, and how a SCENARIO argument (a built-in name,
//!   `default`, or a path to a TOML file) becomes an [`eosim_model::Scenario`];
//! - [`runner`]: [`run_seed`] simulates one seed, checks its history against the scenario's guarantee and gives a
//!   [`Verdict`] (`pass`, `violation`, `stall` or `crash`: a panic inside a run is a finding, not the end);
//! - [`campaign`]: [`run_campaign`] runs many seeds on a thread pool and reports them in seed order, so the report is
//!   the same for any number of threads; [`campaign::run_campaign_scoped`] also runs one shard ([`shard`]) and
//!   stops at the first failure or when a time budget runs out;
//! - [`coverage`]: the coverage points a scenario is expected to reach, and one run's points;
//! - [`shrink`]: delta debugging of a failing repro's fault schedule and workload;
//! - [`repro`]: [`Repro`], the file that replays one run exactly (explicit fault schedule, expected trace hash);
//! - [`corpus`]: repro files and directories replayed together, each judged by what it records (`eosim replay`,
//!   `campaign --regressions`);
//! - [`render`]: one run as text or JSON;
//! - [`story`]: how a failing run reads on the terminal: its fault schedule, the operations that prove each
//!   anomaly, a per-node timeline around the first violation, and with `-v` the event log;
//! - [`html_report`]: `index.html`, with each failing seed rerun under the kernel's recorder and drawn as a
//!   space-time diagram around its anomaly;
//! - [`pages`]: which run each failing record of a page is redrawn from (a seed, a repro file), for run, replay,
//!   campaign and merge pages;
//! - [`input`]: a user's file read as text, with the position of the first byte that is not UTF-8, and what kind
//!   of eosim file it is when it is not the kind a command takes;
//! - [`diagnostic`]: an error in a user's file shown with its line, a caret and a `help:` line;
//! - [`out_dir`]: a campaign's `--out` directory, locked while it writes and emptied of an earlier campaign's files;
//! - [`fuzz`]: a deterministic mutation fuzzer for every file eosim reads (histories, scenarios, repros, reports);
//! - [`bench`]: throughput of the kernel, of one scenario and of a campaign;
//! - [`zoo`]: the bug zoo: each historical Kafka bug found by a campaign, shrunk, replayed, and closed by its fix;
//! - [`teach`]: the lessons, each a stored repro replayed and drawn as a terminal space-time diagram.
//!
//! A run is a pure function of (eosim version, scenario, seed) so the same seed gives the same
//! trace hash however and wherever it runs:
//!
//! ```
//! let loaded = eosim::scenarios::load("at-least-once").expect("a built-in scenario");
//! let first = eosim::run_seed(&loaded.scenario, 7);
//! let again = eosim::run_seed(&loaded.scenario, 7);
//! assert_eq!(first.trace_hash(), again.trace_hash());
//! println!("verdict: {}", first.verdict.name());
//! ```
#![deny(missing_docs)]

pub mod bench;
pub mod campaign;
pub mod corpus;
pub mod coverage;
pub mod diagnostic;
pub mod fuzz;
pub mod html_report;
pub mod input;
pub mod out_dir;
pub mod pages;
pub mod render;
pub mod repro;
pub mod runner;
pub mod scenarios;
pub mod shard;
pub mod shrink;
pub mod story;
pub mod teach;
pub mod zoo;

pub use campaign::{run_campaign, CampaignOptions};
pub use eosim_reports::Verdict;
pub use repro::Repro;
pub use runner::{run_seed, RunResult};

/// The eosim version, written into every repro and report: trace hashes are promised equal only within one version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
