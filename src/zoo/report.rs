//! What `eosim zoo` reports: per entry, the finds in each seed range, the shrunk repro and the fixed run, as
//! `zoo.json` (documented in `docs/zoo/README.md`) and as a table.

use serde::Serialize;

use super::entries::Entry;
use super::find::{found, median, RangeFind};
use super::MAX_SHRUNK_FAULTS;

/// The whole run of `eosim zoo`: `zoo.json`.
#[derive(Clone, Debug, Serialize)]
pub struct ZooReport {
    /// The eosim version that ran it.
    pub version: String,
    /// Seed ranges per entry.
    pub ranges: u32,
    /// The distance between the first seeds of two ranges (range r starts at r × this).
    pub range_stride: u64,
    /// Seeds of each fixed run, from seed 0.
    pub fix_seeds: u64,
    /// True when every entry is `ok`.
    pub ok: bool,
    /// One report per entry, in the order run.
    pub entries: Vec<EntryReport>,
}

impl ZooReport {
    /// The report of `entries` run with `ranges` ranges and `fix_seeds` fixed seeds.
    pub fn new(ranges: u32, fix_seeds: u64, entries: Vec<EntryReport>) -> ZooReport {
        let ok = entries.iter().all(|entry| entry.ok);
        let version = crate::VERSION.to_string();
        ZooReport { version, ranges, range_stride: super::find::RANGE_STRIDE, fix_seeds, ok, entries }
    }

    /// The report as pretty-printed JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        // Plain values, strings and lists only, so serialization cannot fail.
        let mut json = serde_json::to_string_pretty(self).expect("a zoo report always serializes");
        json.push('\n');
        json
    }
}

/// One entry's figures.
#[derive(Clone, Debug, Serialize)]
pub struct EntryReport {
    /// The JIRA id.
    pub bug: String,
    /// What goes wrong.
    pub title: String,
    /// The entry's file.
    pub scenario: String,
    /// The affected protocol's variant.
    pub variant: String,
    /// The switches the affected protocol runs with.
    pub kafka_bugs: Vec<String>,
    /// The findings that count as this bug.
    pub expect: Vec<String>,
    /// The seed budget per range (the entry's own, or the cap `--seed-budget` gave).
    pub seed_budget: u64,
    /// True when the median seeds to find is within the budget.
    pub found: bool,
    /// Ranges with a find.
    pub ranges_with_find: u32,
    /// The median over the ranges of the seeds to the first find; `null` when unbounded.
    pub median_seeds_to_find: Option<u64>,
    /// Each range's figures.
    pub ranges: Vec<RangeFind>,
    /// Every finding of the ranges' first finds, once each, sorted.
    pub kinds_seen: Vec<String>,
    /// The shrunk first find; `null` when nothing was found.
    pub shrink: Option<ShrinkReport>,
    /// The fixed protocol's run.
    pub fix: FixReport,
    /// True when found, shrunk to at most 10 faults, replayed bit-for-bit, and the fix ran clean.
    pub ok: bool,
    /// Why `ok` is false, one line each.
    pub problems: Vec<String>,
}

impl EntryReport {
    /// The figures of `entry`, judged.
    pub fn new(
        entry: &Entry,
        seed_budget: u64,
        ranges: Vec<RangeFind>,
        shrink: Option<ShrinkReport>,
        fix: FixReport,
    ) -> EntryReport {
        let counts: Vec<Option<u64>> = ranges.iter().map(|range| range.seeds_to_find).collect();
        let mut kinds_seen: Vec<String> =
            ranges.iter().filter_map(|range| range.find.as_ref()).flat_map(|find| find.findings.clone()).collect();
        kinds_seen.sort();
        kinds_seen.dedup();
        let scenario = &entry.scenario;
        let mut report = EntryReport {
            bug: entry.spec.bug.clone(),
            title: entry.spec.title.clone(),
            scenario: entry.file.to_string(),
            variant: scenario.variant.name().to_string(),
            kafka_bugs: scenario.kafka_bugs.iter().map(|bug| bug.id().to_string()).collect(),
            expect: entry.spec.expect.clone(),
            seed_budget,
            found: found(&ranges, seed_budget),
            ranges_with_find: counts.iter().filter(|count| count.is_some()).count() as u32,
            median_seeds_to_find: median(&counts),
            ranges,
            kinds_seen,
            shrink,
            fix,
            ok: false,
            problems: Vec::new(),
        };
        report.problems = report.judge();
        report.ok = report.problems.is_empty();
        report
    }

    /// What keeps the entry from passing.
    fn judge(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.found {
            problems.push(format!(
                "not found: median seeds to find {} over a budget of {}",
                count_text(self.median_seeds_to_find),
                self.seed_budget
            ));
        }
        match &self.shrink {
            None => problems.push("no find to shrink".to_string()),
            Some(shrink) => {
                if let Some(error) = &shrink.error {
                    problems.push(format!("the first find (seed {}) did not shrink: {error}", shrink.seed));
                } else {
                    if shrink.faults > MAX_SHRUNK_FAULTS {
                        problems.push(format!(
                            "the shrunk repro keeps {} faults (at most {MAX_SHRUNK_FAULTS})",
                            shrink.faults
                        ));
                    }
                    if !shrink.replay_ok {
                        problems.push("the shrunk repro does not replay bit-for-bit with its finding".to_string());
                    }
                }
            }
        }
        if !self.fix.clean() {
            problems.push(format!("the fix is not clean: {} of {} seeds failed", self.fix.failing, self.fix.seeds));
        }
        problems
    }
}

/// The shrunk first find.
#[derive(Clone, Debug, Serialize)]
pub struct ShrinkReport {
    /// The seed of the find (the first range's, or the first range with one).
    pub seed: u64,
    /// Faults in the find's schedule.
    pub faults_before: usize,
    /// Faults after shrinking.
    pub faults: usize,
    /// Replays the shrinker made.
    pub trials: u64,
    /// What the shrunk repro's replay found.
    pub findings: Vec<String>,
    /// The shrunk repro's trace hash.
    pub trace_hash: Option<String>,
    /// True when two replays both gave the trace hash and an expected finding.
    pub replay_ok: bool,
    /// Why shrinking failed; `null` when it did not.
    pub error: Option<String>,
}

impl ShrinkReport {
    /// A find that could not be shrunk.
    pub fn failed(seed: u64, faults_before: usize, error: String) -> ShrinkReport {
        ShrinkReport {
            seed,
            faults_before,
            faults: faults_before,
            trials: 0,
            findings: Vec::new(),
            trace_hash: None,
            replay_ok: false,
            error: Some(error),
        }
    }
}

/// The fixed protocol's run.
#[derive(Clone, Debug, Serialize)]
pub struct FixReport {
    /// Its variant.
    pub variant: String,
    /// The switches left on.
    pub kafka_bugs: Vec<String>,
    /// Seeds run, from seed 0.
    pub seeds: u64,
    /// Seeds with a violation, a stall or a crash.
    pub failing: u64,
    /// The first failing seeds (at most 10).
    pub first_failing: Vec<FixFailure>,
}

impl FixReport {
    /// True when no seed failed.
    pub fn clean(&self) -> bool {
        self.failing == 0
    }
}

/// A failing seed of a fixed run.
#[derive(Clone, Debug, Serialize)]
pub struct FixFailure {
    /// The seed.
    pub seed: u64,
    /// Its verdict.
    pub verdict: String,
    /// What it found.
    pub findings: Vec<String>,
}

/// A seed count, `∞` when unbounded.
fn count_text(count: Option<u64>) -> String {
    count.map_or_else(|| "∞".to_string(), |count| count.to_string())
}

/// The table `eosim zoo` prints: one line per entry, then each entry's problems.
pub fn render_table(report: &ZooReport) -> String {
    let header = ["bug", "variant", "found", "median", "per range", "kinds seen", "shrunk", "replay", "fix clean"];
    let mut rows: Vec<[String; 9]> = vec![header.map(str::to_string)];
    for entry in &report.entries {
        let variant = match entry.kafka_bugs.is_empty() {
            true => entry.variant.clone(),
            false => format!("{} +{}", entry.variant, entry.kafka_bugs.join(",")),
        };
        let per_range: Vec<String> = entry.ranges.iter().map(|range| count_text(range.seeds_to_find)).collect();
        let shrink = entry.shrink.as_ref();
        let fix = &entry.fix;
        rows.push([
            entry.bug.clone(),
            variant,
            format!("{}/{}", entry.ranges_with_find, entry.ranges.len()),
            count_text(entry.median_seeds_to_find),
            per_range.join(","),
            if entry.kinds_seen.is_empty() { "-".to_string() } else { entry.kinds_seen.join(",") },
            shrink.map_or_else(|| "-".to_string(), |shrink| shrink.faults.to_string()),
            shrink.map_or("-", |shrink| if shrink.replay_ok { "ok" } else { "NO" }).to_string(),
            format!("{} ({}/{})", if fix.clean() { "yes" } else { "NO" }, fix.seeds - fix.failing, fix.seeds),
        ]);
    }
    let widths: Vec<usize> =
        (0..9).map(|column| rows.iter().map(|row| row[column].chars().count()).max().unwrap_or(0)).collect();
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    for entry in &report.entries {
        for problem in &entry.problems {
            text.push_str(&format!("{}: {problem}\n", entry.bug));
        }
    }
    let failed = report.entries.iter().filter(|entry| !entry.ok).count();
    text.push_str(&match failed {
        0 => format!("result: PASS ({} bug(s) found, shrunk, replayed and fixed)\n", report.entries.len()),
        _ => format!("result: FAIL ({failed} of {} bug(s) not shown)\n", report.entries.len()),
    });
    text
}

#[cfg(test)]
mod tests {
    use super::super::entries;
    use super::super::find::{find_in_range, Find};
    use super::*;

    fn fix(failing: u64) -> FixReport {
        FixReport { variant: "eos-tv2".into(), kafka_bugs: Vec::new(), seeds: 100, failing, first_failing: Vec::new() }
    }

    fn shrunk(faults: usize, replay_ok: bool) -> ShrinkReport {
        ShrinkReport {
            seed: 5,
            faults_before: 30,
            faults,
            trials: 40,
            findings: vec!["G1a".into()],
            trace_hash: Some("0123".into()),
            replay_ok,
            error: None,
        }
    }

    /// Ranges where the bug first shows at the 6th seed, searched with `budget` seeds each.
    fn ranges(budget: u64) -> Vec<RangeFind> {
        (0..3u64)
            .map(|index| {
                let start = index * super::super::find::RANGE_STRIDE;
                find_in_range(start, budget, 4, &mut |first, count| {
                    (first..first + count)
                        .contains(&(start + 5))
                        .then(|| Find { seed: start + 5, findings: vec!["G1a".into()] })
                })
            })
            .collect()
    }

    #[test]
    fn an_entry_whose_budget_is_too_small_fails_and_says_why() {
        let entry = &entries::all().expect("the zoo parses")[0];
        let report = EntryReport::new(entry, 5, ranges(5), None, fix(0));
        assert!(!report.found && !report.ok);
        assert_eq!((report.ranges_with_find, report.median_seeds_to_find), (0, None));
        assert_eq!(report.problems[0], "not found: median seeds to find ∞ over a budget of 5");
        assert_eq!(report.problems[1], "no find to shrink");
        let table = render_table(&ZooReport::new(3, 100, vec![report]));
        assert!(table.contains("0/3") && table.contains("∞,∞,∞"), "{table}");
        assert!(table.ends_with("result: FAIL (1 of 1 bug(s) not shown)\n"), "{table}");
    }

    #[test]
    fn an_entry_holds_only_when_found_shrunk_small_replayed_and_fixed() {
        let entry = &entries::all().expect("the zoo parses")[0];
        let good = EntryReport::new(entry, 6, ranges(6), Some(shrunk(3, true)), fix(0));
        assert!(good.ok, "{:?}", good.problems);
        assert_eq!((good.ranges_with_find, good.median_seeds_to_find), (3, Some(6)));
        assert_eq!(good.kinds_seen, vec!["G1a".to_string()]);
        let big = EntryReport::new(entry, 6, ranges(6), Some(shrunk(11, true)), fix(0));
        assert_eq!(big.problems, vec!["the shrunk repro keeps 11 faults (at most 10)".to_string()]);
        let diverged = EntryReport::new(entry, 6, ranges(6), Some(shrunk(3, false)), fix(0));
        assert!(!diverged.ok);
        let unfixed = EntryReport::new(entry, 6, ranges(6), Some(shrunk(3, true)), fix(2));
        assert_eq!(unfixed.problems, vec!["the fix is not clean: 2 of 100 seeds failed".to_string()]);
        let report = ZooReport::new(3, 100, vec![good, unfixed]);
        assert!(!report.ok);
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("zoo.json parses");
        assert_eq!(json["entries"][0]["ranges"][1]["seed_start"], 1_000_000);
        assert_eq!(json["entries"][0]["ranges"][1]["find"]["seed"], 1_000_005);
    }
}
