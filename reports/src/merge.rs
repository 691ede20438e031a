//! `eosim merge`: the reports of a campaign's shards joined into the report of the whole campaign.
//!
//! Each seed is a pure function of (version, scenario, seed), so shard K of N ran exactly the runs the unsharded
//! campaign would have run for its seeds. Joining them is concatenating `runs`, recomputing `totals` and adding
//! up `coverage`; the result is byte for byte the unsharded report. That holds only if the shards belong
//! together, so [`merge`] refuses (each error names the file) reports of different versions, scenarios,
//! guarantees, seed ranges or shard counts, a shard given twice or missing, a run outside its shard, and a shard
//! that says it ran every seed yet lacks some. The saved failures each shard replayed first
//! (`campaign --regressions`) are kept once each, in the order the first shard that has them lists them.

use crate::{CampaignHeader, CampaignReport, Coverage, SeedRecord, Shard, SCHEMA_VERSION};

/// Shard reports that do not join into one campaign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// No report was given.
    #[error("nothing to merge (expected the report.json of every shard)")]
    Empty,
    /// A report's layout is newer or older than this eosim reads.
    #[error("{file}: report schema {found}, expected {expected}")]
    Schema {
        /// The file.
        file: String,
        /// The schema it has.
        found: u32,
        /// The schema this eosim writes.
        expected: u32,
    },
    /// A report differs from the first one in what the campaign was.
    #[error("{file}: {field} is {found}, but {first} has {expected}: shards of one campaign agree on it")]
    Mismatch {
        /// The file that differs.
        file: String,
        /// The field: version, scenario, guarantee, seed_start, seeds, coverage.expected or shard count.
        field: &'static str,
        /// The value in `file`.
        found: String,
        /// The first file.
        first: String,
        /// The value in the first file.
        expected: String,
    },
    /// A report of the whole campaign was given together with others, so seeds would be counted twice.
    #[error("{file}: not a shard (no `shard` field); only the report.json of `eosim campaign --shard K/N` merge")]
    NotAShard {
        /// The file.
        file: String,
    },
    /// Two reports are the same shard.
    #[error("{file}: shard {shard} is also {other}: each shard is merged once")]
    DuplicateShard {
        /// The second file.
        file: String,
        /// The first file with that shard.
        other: String,
        /// The shard.
        shard: Shard,
    },
    /// A shard is missing, so some seeds were never run.
    #[error("shard {shard} is missing (expected the report.json of every shard 1/{count} .. {count}/{count})")]
    MissingShard {
        /// The shard that is missing.
        shard: Shard,
        /// How many shards there are.
        count: u64,
    },
    /// A run is not a seed of the report's shard, or appears twice.
    #[error("{file}: seed {seed} is not a seed of shard {shard} of {seed_start}..{seed_end}, or appears twice")]
    ForeignSeed {
        /// The file.
        file: String,
        /// The seed.
        seed: u64,
        /// The report's shard.
        shard: Shard,
        /// The campaign's first seed.
        seed_start: u64,
        /// One past its last seed.
        seed_end: u64,
    },
    /// A shard says it ran to the end, yet lacks seeds.
    #[error("{file}: shard {shard} ran {found} of its {expected} seeds but does not say it stopped early")]
    MissingSeeds {
        /// The file.
        file: String,
        /// The shard.
        shard: Shard,
        /// Runs it holds.
        found: u64,
        /// Seeds the shard has.
        expected: u64,
    },
}

/// Joins shard reports (each with the file it came from, for errors) into the report of the whole campaign.
///
/// A single report of a whole campaign merges into itself. A shard that stopped early (Ctrl-C,
/// `--stop-on-first`, `--time-budget`) is accepted, and the merged report says it stopped, for the first such shard.
pub fn merge(reports: &[(String, CampaignReport)]) -> Result<CampaignReport, MergeError> {
    let (first_file, first) = reports.first().ok_or(MergeError::Empty)?;
    for (file, report) in reports {
        check_same_campaign(first_file, first, file, report)?;
    }
    if reports.len() == 1 && first.shard.is_none() {
        return Ok(first.clone());
    }
    let mut by_index: Vec<Option<&(String, CampaignReport)>> = Vec::new();
    for entry in reports {
        let (file, report) = entry;
        let shard = report.shard.ok_or_else(|| MergeError::NotAShard { file: file.clone() })?;
        if shard.count > reports.len() as u64 {
            // Fewer reports than shards: one is missing. Said before a slot per shard is allocated, since a
            // report file may claim any count up to u64::MAX.
            let given: Vec<u64> =
                reports.iter().filter_map(|(_, report)| report.shard.map(|shard| shard.index)).collect();
            let index = (1..=shard.count).find(|index| !given.contains(index)).unwrap_or(shard.count);
            return Err(MergeError::MissingShard { shard: Shard { index, count: shard.count }, count: shard.count });
        }
        by_index.resize(shard.count as usize, None);
        let slot = &mut by_index[shard.index as usize - 1];
        if let Some((other, _)) = slot {
            return Err(MergeError::DuplicateShard { file: file.clone(), other: other.clone(), shard });
        }
        check_shard_runs(file, report, shard)?;
        *slot = Some(entry);
    }
    let count = by_index.len() as u64;
    let mut runs: Vec<SeedRecord> = Vec::new();
    let mut coverage = Coverage::new(first.coverage.expected.clone());
    let mut stopped = None;
    let mut regressions: Vec<SeedRecord> = Vec::new();
    for (index, slot) in by_index.iter().enumerate() {
        let shard = Shard { index: index as u64 + 1, count };
        let (_, report) = slot.ok_or(MergeError::MissingShard { shard, count })?;
        runs.extend(report.runs.iter().cloned());
        // Every shard replays the saved failures before its seeds; the whole campaign replays each once.
        for regression in &report.regressions {
            if !regressions.iter().any(|kept| kept.repro == regression.repro && kept.seed == regression.seed) {
                regressions.push(regression.clone());
            }
        }
        coverage.absorb(&report.coverage);
        stopped = stopped.or(report.stopped);
    }
    let header = CampaignHeader { shard: None, stopped, ..first.header() };
    let mut merged = CampaignReport::with_coverage(header, runs, coverage);
    merged.regressions = regressions;
    // The merged report keeps the shards' version even if this eosim is another one: its runs are theirs.
    merged.version = first.version.clone();
    Ok(merged)
}

/// Whether `report` (from `file`) is of the same campaign as the first report.
fn check_same_campaign(
    first_file: &str,
    first: &CampaignReport,
    file: &str,
    report: &CampaignReport,
) -> Result<(), MergeError> {
    if report.schema != SCHEMA_VERSION {
        return Err(MergeError::Schema { file: file.to_string(), found: report.schema, expected: SCHEMA_VERSION });
    }
    let count = |report: &CampaignReport| report.shard.map_or("none".to_string(), |shard| shard.count.to_string());
    let fields: [(&'static str, String, String); 7] = [
        ("version", first.version.clone(), report.version.clone()),
        ("scenario", first.scenario.clone(), report.scenario.clone()),
        ("guarantee", first.guarantee.name().to_string(), report.guarantee.name().to_string()),
        ("seed_start", first.seed_start.to_string(), report.seed_start.to_string()),
        ("seeds", first.seeds.to_string(), report.seeds.to_string()),
        ("coverage.expected", first.coverage.expected.join(","), report.coverage.expected.join(",")),
        ("the shard count", count(first), count(report)),
    ];
    for (field, expected, found) in fields {
        if expected != found {
            let (file, first) = (file.to_string(), first_file.to_string());
            return Err(MergeError::Mismatch { file, field, found, first, expected });
        }
    }
    Ok(())
}

/// Every run of a shard report is a seed of that shard, once, and a shard that ran to the end has all its seeds.
fn check_shard_runs(file: &str, report: &CampaignReport, shard: Shard) -> Result<(), MergeError> {
    let seed_end = report.seed_start.saturating_add(report.seeds);
    let mut previous: Option<u64> = None;
    for run in &report.runs {
        let in_order = previous.is_none_or(|previous| previous < run.seed);
        if !in_order || run.seed >= seed_end || !shard.contains(report.seed_start, run.seed) {
            let (file, seed, seed_start) = (file.to_string(), run.seed, report.seed_start);
            return Err(MergeError::ForeignSeed { file, seed, shard, seed_start, seed_end });
        }
        previous = Some(run.seed);
    }
    let (found, expected) = (report.runs.len() as u64, shard.seed_count(report.seeds));
    if found != expected && report.stopped.is_none() {
        return Err(MergeError::MissingSeeds { file: file.to_string(), shard, found, expected });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{StopReason, Verdict};
    use eosim_checker::{AnomalyKind, Guarantee};
    use std::collections::BTreeMap;

    fn header(shard: Option<Shard>) -> CampaignHeader {
        CampaignHeader {
            scenario: "at-most-once".to_string(),
            guarantee: Guarantee::Idempotent,
            seed_start: 5,
            seeds: 7,
            shard,
            stopped: None,
        }
    }

    fn run(seed: u64) -> (SeedRecord, BTreeMap<String, u64>) {
        let verdict = match seed % 3 {
            0 => Verdict::Violation,
            _ => Verdict::Pass,
        };
        let mut record = SeedRecord::new(seed, verdict);
        if verdict == Verdict::Violation {
            record.anomalies = vec![AnomalyKind::LostWrite];
            record.violations = vec![AnomalyKind::LostWrite];
        }
        record.trace_hash = Some(format!("{seed:032x}"));
        record.faults.insert("lost-request".to_string(), seed % 2);
        let counters = [("client:retry".to_string(), seed), ("fault:lost-request".to_string(), seed % 2)];
        (record, counters.into_iter().collect())
    }

    fn campaign(shard: Option<Shard>) -> CampaignReport {
        let mut coverage = Coverage::new(vec!["fault:lost-request".to_string(), "fault:delay".to_string()]);
        let mut records = Vec::new();
        for seed in (5..12).filter(|seed| shard.is_none_or(|shard| shard.contains(5, *seed))) {
            let (record, counters) = run(seed);
            coverage.add_run(&counters);
            records.push(record);
        }
        CampaignReport::with_coverage(header(shard), records, coverage)
    }

    fn shards(count: u64) -> Vec<(String, CampaignReport)> {
        (1..=count).map(|index| (format!("s{index}.json"), campaign(Shard::new(index, count)))).collect()
    }

    #[test]
    fn merged_shards_are_the_unsharded_report_byte_for_byte() {
        let whole = campaign(None);
        for count in [1, 2, 3, 7, 9] {
            let mut reports = shards(count);
            reports.reverse();
            let merged = merge(&reports).expect("the shards merge");
            assert_eq!(merged.to_json(), whole.to_json(), "{count} shards");
        }
        assert_eq!(merge(&[("w.json".to_string(), whole.clone())]), Ok(whole));
    }

    #[test]
    fn shards_that_do_not_belong_together_are_refused() {
        let mut reports = shards(3);
        reports.pop();
        assert!(matches!(merge(&reports), Err(MergeError::MissingShard { shard: Shard { index: 3, count: 3 }, .. })));
        let mut twice = shards(2);
        twice.push(twice[0].clone());
        assert!(matches!(merge(&twice), Err(MergeError::DuplicateShard { .. })));
        let mut other_scenario = shards(2);
        other_scenario[1].1.scenario = "idempotent".to_string();
        let error = merge(&other_scenario).expect_err("another scenario");
        assert!(error.to_string().starts_with("s2.json: scenario is idempotent, but s1.json has at-most-once"));
        let mut counts = shards(2);
        counts.push(("t.json".to_string(), campaign(Shard::new(3, 3))));
        assert!(matches!(merge(&counts), Err(MergeError::Mismatch { field: "the shard count", .. })));
        let mut with_whole = shards(1);
        with_whole.push(("w.json".to_string(), campaign(None)));
        assert!(matches!(merge(&with_whole), Err(MergeError::Mismatch { .. })));
        assert_eq!(merge(&[]), Err(MergeError::Empty));
    }

    #[test]
    fn a_shard_missing_seeds_must_say_it_stopped() {
        let mut reports = shards(2);
        reports[0].1.runs.pop();
        assert!(matches!(merge(&reports), Err(MergeError::MissingSeeds { found: 3, expected: 4, .. })));
        reports[0].1.stopped = Some(StopReason::TimeBudget);
        let merged = merge(&reports).expect("a shard cut short still merges");
        assert_eq!(merged.stopped, Some(StopReason::TimeBudget));
        let mut foreign = shards(2);
        foreign[1].1.runs.push(SeedRecord::new(11, Verdict::Pass));
        assert!(matches!(merge(&foreign), Err(MergeError::ForeignSeed { seed: 11, .. })));
    }

    #[test]
    fn a_report_listing_a_point_twice_or_a_shard_out_of_range_is_refused_when_read() {
        let mut report = campaign(Shard::new(1, 2));
        report.coverage.expected.push("fault:delay".to_string());
        let error = CampaignReport::parse("dup.json", &report.to_json()).expect_err("a point listed twice");
        assert!(error.starts_with("dup.json:") && error.contains("listed twice"), "{error}");
        let mut report = campaign(Shard::new(1, 2));
        report.shard = Some(Shard { index: 3, count: 2 });
        let error = CampaignReport::parse("s.json", &report.to_json()).expect_err("shard 3 of 2");
        assert!(error.contains("3/2 is out of range"), "{error}");
    }

    #[test]
    fn a_shard_count_past_the_reports_given_is_a_missing_shard() {
        let mut reports = shards(2);
        for (_, report) in &mut reports {
            let index = report.shard.expect("a shard").index;
            report.shard = Some(Shard { index, count: u64::MAX });
        }
        let error = merge(&reports).expect_err("shards 3.. are missing");
        assert!(matches!(error, MergeError::MissingShard { shard: Shard { index: 3, .. }, .. }), "{error}");
    }

    #[test]
    fn a_coverage_name_of_any_length_renders() {
        let mut whole = campaign(None);
        let long = "x".repeat(65_536);
        whole.coverage.add_run(&[(long.clone(), 1)].into_iter().collect());
        let text = whole.render_text(&crate::TextOptions::new("at-most-once"));
        assert!(text.contains(&long));
    }
}
