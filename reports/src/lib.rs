//! eosim-reports: what a campaign found, as data (`report.json`) and as the text summary on the terminal.
//!
//! The main types:
//!
//! - [`Verdict`]: how one seed ended: `pass`, `violation` (a safety violation of the claimed guarantee), `stall`
//!   (the run did not settle after its faults healed) or `crash` (the model panicked);
//! - [`SeedRecord`]: one seed's verdict, trace hash, anomaly kinds and injected faults;
//! - [`CampaignReport`]: the header of a campaign, every [`SeedRecord`] in seed order and the [`Totals`] derived
//!   from them; it is what `report.json` holds (schema in `docs/report-schema.md`);
//! - [`Coverage`]: per coverage point (protocol state, transition, broker error, fault kind), the runs that
//!   reached it and its total count, and the expected points that no run reached;
//! - [`Shard`] and [`StopReason`]: which slice of the seeds a report covers, and why a campaign stopped early;
//! - [`merge`]: joins the reports of a campaign's shards into the report of the whole campaign;
//! - [`TextOptions`]: what the text summary and `junit.xml` ([`render_junit`]) need beyond the report (how to name
//!   the scenario in replay commands, where repro files went, the wall time);
//! - [`render_html`]: `index.html`, the report as one self-contained page with a [`SeedSection`] per failing seed,
//!   each drawn as a space-time diagram ([`svg::SpaceTime`], rendered by [`svg::render_svg`]) under a whole-run
//!   fault strip, operation timeline and partition log ([`overview`]).
//!
//! The crate knows the checker's anomaly kinds and guarantees, and nothing of the simulator: a report can be read,
//! merged and rendered without running anything.
//!
//! ```
//! use eosim_checker::{AnomalyKind, Guarantee};
//! use eosim_reports::{CampaignHeader, CampaignReport, SeedRecord, TextOptions, Verdict};
//!
//! let header = CampaignHeader {
//!     scenario: "at-most-once".to_string(),
//!     guarantee: Guarantee::Idempotent,
//!     seed_start: 0,
//!     seeds: 2,
//!     shard: None,
//!     stopped: None,
//! };
//! let mut lost = SeedRecord::new(1, Verdict::Violation);
//! lost.anomalies = vec![AnomalyKind::LostWrite];
//! lost.violations = vec![AnomalyKind::LostWrite];
//! let report = CampaignReport::new(header, vec![SeedRecord::new(0, Verdict::Pass), lost]);
//! assert_eq!(report.totals.failing, 1);
//! let text = report.render_text(&TextOptions::new("at-most-once"));
//! assert!(text.contains("eosim run at-most-once --seed 1"));
//! ```
#![deny(missing_docs)]

mod coverage;
mod html;
mod junit;
mod merge;
pub mod overview;
mod shard;
pub mod svg;
mod text;

use std::collections::BTreeMap;

use eosim_checker::{AnomalyKind, Guarantee};
use serde::{Deserialize, Serialize};

pub use coverage::{Coverage, CoveragePoint};
pub use html::{diagram_id, op_summary, render_html, OpRow, SeedSection, STYLE};
pub use junit::{render_junit, xml_escape};
pub use merge::{merge, MergeError};
pub use shard::{Shard, ShardParseError, StopReason};
pub use text::{
    commands, history_file_name, reason, record_name, replay_command, repro_file_name, run_command, CoverageDetail,
    TextOptions,
};

/// The version of the `report.json` layout; bumped when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// How one run ended. Every verdict but `pass` is a finding and makes the exit status 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The history keeps the claimed guarantee and the run settled.
    Pass,
    /// The history shows an anomaly the claimed guarantee forbids.
    Violation,
    /// After the faults healed, the run did not settle within its bound (a liveness finding).
    Stall,
    /// The model or the checker panicked: a bug in the harness or in the protocol's invariants.
    Crash,
}

impl Verdict {
    /// Every verdict, in report order.
    pub const ALL: [Verdict; 4] = [Verdict::Pass, Verdict::Violation, Verdict::Stall, Verdict::Crash];

    /// The name used in output and in JSON: "pass", "violation", "stall" or "crash".
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Violation => "violation",
            Verdict::Stall => "stall",
            Verdict::Crash => "crash",
        }
    }

    /// The verdict named `name`, exactly as [`Verdict::name`] spells it.
    pub fn from_name(name: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|verdict| verdict.name() == name)
    }

    /// Whether this verdict is a finding (anything but `pass`).
    pub fn is_failure(self) -> bool {
        self != Verdict::Pass
    }
}

/// One seed of a campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRecord {
    /// The seed.
    pub seed: u64,
    /// How the run ended.
    pub verdict: Verdict,
    /// The trace hash (32 hex digits); absent when the run crashed before it had one.
    pub trace_hash: Option<String>,
    /// Every anomaly kind the checker found, violation or not, in report order.
    pub anomalies: Vec<AnomalyKind>,
    /// The anomaly kinds the claimed guarantee forbids, in report order.
    pub violations: Vec<AnomalyKind>,
    /// Faults injected, by kind name.
    pub faults: BTreeMap<String, u64>,
    /// Events the kernel handled.
    pub events: u64,
    /// What went wrong beyond anomalies: the stall or the panic message.
    pub finding: Option<String>,
    /// The repro file this record replayed (`campaign --regressions`); absent for a seed of the campaign itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repro: Option<String>,
}

impl SeedRecord {
    /// A record with nothing found and nothing injected, to fill in.
    pub fn new(seed: u64, verdict: Verdict) -> SeedRecord {
        SeedRecord {
            seed,
            verdict,
            trace_hash: None,
            anomalies: Vec::new(),
            violations: Vec::new(),
            faults: BTreeMap::new(),
            events: 0,
            finding: None,
            repro: None,
        }
    }
}

/// What a campaign ran: everything in a report that is not a per-seed result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignHeader {
    /// The scenario's name.
    pub scenario: String,
    /// The guarantee the runs were judged against.
    pub guarantee: Guarantee,
    /// The first seed.
    pub seed_start: u64,
    /// How many seeds the whole campaign was asked for (`seed_start .. seed_start + seeds`), every shard together.
    pub seeds: u64,
    /// The shard of those seeds this campaign ran; `None` for all of them.
    pub shard: Option<Shard>,
    /// Why the campaign stopped before every seed of its shard ran; `None` when they all ran.
    pub stopped: Option<StopReason>,
}

/// How many runs found one anomaly kind, and whether the guarantee forbids it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyTally {
    /// Runs whose history showed the kind at least once.
    pub runs: u64,
    /// True when the claimed guarantee forbids the kind.
    pub violation: bool,
}

/// Sums over every seed that ran; derived from the runs, never stored apart from them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Seeds that ran to a verdict.
    pub seeds_run: u64,
    /// Runs whose verdict is `pass`.
    pub passing: u64,
    /// Runs with any other verdict.
    pub failing: u64,
    /// Runs per verdict name; every verdict is present, zero or not.
    pub verdicts: BTreeMap<Verdict, u64>,
    /// Runs that found each anomaly kind (kinds never found are absent), in report order.
    pub anomalies: BTreeMap<AnomalyKind, AnomalyTally>,
    /// Runs that injected each fault kind at least once.
    pub faults: BTreeMap<String, u64>,
    /// Kernel events over every run.
    pub events: u64,
}

/// A whole campaign: what `report.json` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignReport {
    /// The layout version, [`SCHEMA_VERSION`].
    pub schema: u32,
    /// The eosim version that ran the seeds; trace hashes are only comparable within one version.
    pub version: String,
    /// The scenario's name.
    pub scenario: String,
    /// The guarantee the runs were judged against.
    pub guarantee: Guarantee,
    /// The first seed.
    pub seed_start: u64,
    /// How many seeds the whole campaign was asked for, every shard together.
    pub seeds: u64,
    /// The shard this report covers; `null` for the whole campaign (also after `eosim merge`).
    #[serde(default)]
    pub shard: Option<Shard>,
    /// True when Ctrl-C stopped the campaign before every seed ran (`stopped` is then `interrupted`).
    pub interrupted: bool,
    /// Why the campaign stopped before every seed of its shard ran; `null` when they all ran.
    #[serde(default)]
    pub stopped: Option<StopReason>,
    /// The saved failures replayed before the seeds (`campaign --regressions DIR`), in file-name order, each
    /// with its `repro`; absent when none was replayed. A failing one is a finding of the campaign.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regressions: Vec<SeedRecord>,
    /// One record per seed that ran, in seed order.
    pub runs: Vec<SeedRecord>,
    /// Sums over `runs`.
    pub totals: Totals,
    /// What the runs exercised, per coverage point; not derivable from `runs`, but additive over shards.
    #[serde(default)]
    pub coverage: Coverage,
}

impl CampaignReport {
    /// A report of `runs` (sorted here by seed), with totals computed from them and an empty coverage table.
    pub fn new(header: CampaignHeader, runs: Vec<SeedRecord>) -> CampaignReport {
        CampaignReport::with_coverage(header, runs, Coverage::default())
    }

    /// A report of `runs` (sorted here by seed), with totals computed from them and the runs' `coverage`.
    pub fn with_coverage(header: CampaignHeader, mut runs: Vec<SeedRecord>, coverage: Coverage) -> CampaignReport {
        runs.sort_by_key(|run| run.seed);
        assert!(runs.windows(2).all(|pair| pair[0].seed < pair[1].seed), "each seed runs once");
        let totals = Totals::of(header.guarantee, &runs);
        CampaignReport {
            schema: SCHEMA_VERSION,
            version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: header.scenario,
            guarantee: header.guarantee,
            seed_start: header.seed_start,
            seeds: header.seeds,
            shard: header.shard,
            interrupted: header.stopped == Some(StopReason::Interrupted),
            stopped: header.stopped,
            regressions: Vec::new(),
            runs,
            totals,
            coverage,
        }
    }

    /// Everything but the runs: what a report was asked to do.
    pub fn header(&self) -> CampaignHeader {
        CampaignHeader {
            scenario: self.scenario.clone(),
            guarantee: self.guarantee,
            seed_start: self.seed_start,
            seeds: self.seeds,
            shard: self.shard,
            stopped: self.stopped,
        }
    }

    /// How many seeds this report was asked to run: those of its shard, or all of them.
    pub fn seeds_in_scope(&self) -> u64 {
        self.shard.map_or(self.seeds, |shard| shard.seed_count(self.seeds))
    }

    /// Parses a report.json's text; `file` is only used in error messages, `FILE:LINE:COL: message`.
    pub fn parse(file: &str, text: &str) -> Result<CampaignReport, String> {
        let report: CampaignReport = serde_json::from_str(text).map_err(|error| {
            let message = error.to_string();
            let suffix = format!(" at line {} column {}", error.line(), error.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message);
            format!("{file}:{}:{}: {message}", error.line().max(1), error.column().max(1))
        })?;
        report.check_consistent().map_err(|(key, message)| {
            let (line, column) = json_key_position(text, key);
            format!("{file}:{line}:{column}: {message}")
        })?;
        Ok(report)
    }

    /// What serde cannot check of a report read from a file: a shard in range and each expected coverage point
    /// listed once (a report this eosim writes always is). Returns the JSON key and the message.
    fn check_consistent(&self) -> Result<(), (&'static str, String)> {
        if let Some(shard) = self.shard {
            if Shard::new(shard.index, shard.count).is_none() {
                let message =
                    format!("shard {}/{} is out of range (expected K/N with 1 <= K <= N)", shard.index, shard.count);
                return Err(("shard", message));
            }
        }
        let expected = &self.coverage.expected;
        if let Some(twice) =
            expected.iter().enumerate().find_map(|(at, point)| expected[..at].contains(point).then_some(point))
        {
            return Err(("expected", format!("coverage point {twice:?} is listed twice (expected each point once)")));
        }
        Ok(())
    }

    /// The records that did not pass: the replayed regressions first, then the seeds in seed order.
    pub fn failing(&self) -> impl Iterator<Item = &SeedRecord> {
        self.regressions.iter().chain(&self.runs).filter(|run| run.verdict.is_failure())
    }

    /// How many records the report holds: the replayed regressions and the seeds that ran.
    pub fn records_run(&self) -> u64 {
        self.regressions.len() as u64 + self.totals.seeds_run
    }

    /// True when no run that finished is a finding.
    pub fn is_valid(&self) -> bool {
        self.failing().next().is_none()
    }

    /// The report as pretty-printed JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        // Every field is a plain value or a map with string-like keys, so serialization cannot fail.
        let mut json = serde_json::to_string_pretty(self).expect("a report always serializes");
        json.push('\n');
        json
    }

    /// The terminal summary: scenario, verdict counts, anomaly and fault tables, failing seeds with their replay
    /// commands.
    pub fn render_text(&self, options: &TextOptions) -> String {
        text::render(self, options)
    }
}

/// Line and column of the first `"key"` in JSON text; 1:1 when absent.
fn json_key_position(text: &str, key: &str) -> (usize, usize) {
    let quoted = format!("\"{key}\"");
    for (number, line) in text.lines().enumerate() {
        if let Some(byte) = line.find(&quoted) {
            return (number + 1, line[..byte].chars().count() + 1);
        }
    }
    (1, 1)
}

impl Totals {
    /// Sums over `runs`, judging anomaly kinds against `guarantee`.
    pub fn of(guarantee: Guarantee, runs: &[SeedRecord]) -> Totals {
        let mut totals = Totals { verdicts: Verdict::ALL.into_iter().map(|v| (v, 0)).collect(), ..Totals::default() };
        for run in runs {
            totals.seeds_run += 1;
            *totals.verdicts.entry(run.verdict).or_insert(0) += 1;
            if run.verdict.is_failure() {
                totals.failing += 1;
            } else {
                totals.passing += 1;
            }
            for kind in &run.anomalies {
                let tally = totals
                    .anomalies
                    .entry(*kind)
                    .or_insert(AnomalyTally { runs: 0, violation: guarantee.forbids(*kind) });
                tally.runs += 1;
            }
            for (kind, count) in &run.faults {
                if *count > 0 {
                    *totals.faults.entry(kind.clone()).or_insert(0) += 1;
                }
            }
            // Saturating: a report read from a file may carry any counts, and a sum is no place to panic.
            totals.events = totals.events.saturating_add(run.events);
        }
        assert_eq!(totals.passing + totals.failing, totals.seeds_run);
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(seeds: u64) -> CampaignHeader {
        CampaignHeader {
            scenario: "at-least-once".to_string(),
            guarantee: Guarantee::Idempotent,
            seed_start: 10,
            seeds,
            shard: None,
            stopped: None,
        }
    }

    fn record(seed: u64, verdict: Verdict, anomalies: &[AnomalyKind], faults: &[(&str, u64)]) -> SeedRecord {
        let mut record = SeedRecord::new(seed, verdict);
        record.trace_hash = Some(format!("{seed:032x}"));
        record.anomalies = anomalies.to_vec();
        record.violations = anomalies.iter().copied().filter(|k| Guarantee::Idempotent.forbids(*k)).collect();
        record.faults = faults.iter().map(|(name, count)| (name.to_string(), *count)).collect();
        record.events = 100;
        record
    }

    fn sample() -> CampaignReport {
        let runs = vec![
            record(12, Verdict::Violation, &[AnomalyKind::Duplicate, AnomalyKind::Unseen], &[("lost-ack", 2)]),
            record(10, Verdict::Pass, &[AnomalyKind::Unseen], &[("lost-ack", 1), ("delay", 0)]),
            record(11, Verdict::Stall, &[], &[("broker-crash", 1)]),
        ];
        CampaignReport::new(header(3), runs)
    }

    #[test]
    fn totals_count_runs_not_occurrences() {
        let report = sample();
        assert_eq!(report.runs.iter().map(|r| r.seed).collect::<Vec<_>>(), vec![10, 11, 12]);
        let totals = &report.totals;
        assert_eq!((totals.seeds_run, totals.passing, totals.failing), (3, 1, 2));
        assert_eq!(totals.verdicts[&Verdict::Stall], 1);
        assert_eq!(totals.verdicts[&Verdict::Crash], 0);
        assert_eq!(totals.anomalies[&AnomalyKind::Unseen], AnomalyTally { runs: 2, violation: false });
        assert_eq!(totals.anomalies[&AnomalyKind::Duplicate], AnomalyTally { runs: 1, violation: true });
        assert_eq!(totals.faults.get("lost-ack"), Some(&2));
        assert_eq!(totals.faults.get("delay"), None, "a kind injected zero times is not counted");
        assert_eq!(totals.events, 300);
        assert!(!report.is_valid());
    }

    #[test]
    fn json_round_trips_with_names() {
        let report = sample();
        let json = report.to_json();
        assert!(json.contains("\"verdict\": \"violation\""), "{json}");
        assert!(json.contains("\"duplicate\": {"), "{json}");
        assert!(json.contains("\"guarantee\": \"idempotent\""), "{json}");
        let back: CampaignReport = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, report);
    }

    #[test]
    fn verdict_names_round_trip() {
        for verdict in Verdict::ALL {
            assert_eq!(Verdict::from_name(verdict.name()), Some(verdict));
            assert_eq!(serde_json::to_string(&verdict).ok(), Some(format!("\"{}\"", verdict.name())));
        }
        assert!(!Verdict::Pass.is_failure());
        assert!(Verdict::Crash.is_failure());
    }
}
