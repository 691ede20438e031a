//! Finding a bug: over several seed ranges, the seeds run until a run's findings include one the entry expects,
//! and the median of those counts.
//!
//! Range r starts at seed r × [`RANGE_STRIDE`] (0, 1,000,000, 2,000,000, …), so ranges never overlap for any
//! budget the zoo allows. Within a range the seeds run in order; the *seeds to find* of a range count the seeds
//! up to and including the first whose findings match, or are unbounded when none within the budget does. The
//! bug is found when the median over the ranges is within the budget. Seeds run in batches on several threads,
//! but a batch's lowest matching seed is the first find, so the counts are the same for any number of threads.

use serde::Serialize;

use crate::runner::RunResult;
use eosim_reports::Verdict;

/// The distance between the first seeds of two ranges.
pub const RANGE_STRIDE: u64 = 1_000_000;

/// The first seed of range `index` (counted from 0).
pub fn range_start(index: u32) -> u64 {
    u64::from(index) * RANGE_STRIDE
}

/// What a run found, by name: each anomaly kind the checker reported (as `eosim campaign` prints it; a log that
/// provably is not linearizable is the `nonlinearizable-log` kind), the stall's kind (the prefix of its message:
/// `hanging-transaction`, `stuck-application`, `stuck-consumer`), and `crash` when the model panicked.
pub fn findings(result: &RunResult) -> Vec<String> {
    let mut names: Vec<String> = result.anomaly_kinds().iter().map(|kind| kind.name().to_string()).collect();
    if let Some(stall) = result.outcome.as_ref().and_then(|outcome| outcome.stall.as_deref()) {
        names.push(stall_kind(stall).to_string());
    }
    if result.verdict == Verdict::Crash {
        names.push("crash".to_string());
    }
    names
}

/// The kind of a stall: its message up to the first colon.
pub fn stall_kind(message: &str) -> &str {
    message.split_once(':').map_or(message, |(kind, _)| kind)
}

/// Whether `findings` include one of `expect`.
pub fn is_find(findings: &[String], expect: &[String]) -> bool {
    findings.iter().any(|finding| expect.contains(finding))
}

/// The first seed of a range whose findings matched, and what it found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Find {
    /// The seed.
    pub seed: u64,
    /// Everything it found, expected or not (see [`findings`]).
    pub findings: Vec<String>,
}

/// What one seed range gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RangeFind {
    /// The range's first seed.
    pub seed_start: u64,
    /// Seeds counted: up to and including the first find, or the whole budget.
    pub seeds_run: u64,
    /// Seeds to the first find; `None` when there was none within the budget.
    pub seeds_to_find: Option<u64>,
    /// The first find.
    pub find: Option<Find>,
}

/// Runs the seeds `seed_start ..` in batches of `batch` until a find or `budget` seeds. `run_batch(first, count)`
/// runs seeds `first .. first + count` and returns the lowest one whose findings matched.
pub fn find_in_range(
    seed_start: u64,
    budget: u64,
    batch: u64,
    run_batch: &mut dyn FnMut(u64, u64) -> Option<Find>,
) -> RangeFind {
    assert!(batch > 0, "a batch runs at least one seed");
    let mut done = 0;
    while done < budget {
        let count = batch.min(budget - done);
        if let Some(find) = run_batch(seed_start + done, count) {
            let in_batch = find.seed.checked_sub(seed_start + done).filter(|offset| *offset < count);
            let offset = in_batch.expect("the find is one of the batch's seeds");
            let seeds_to_find = done + offset + 1;
            return RangeFind {
                seed_start,
                seeds_run: seeds_to_find,
                seeds_to_find: Some(seeds_to_find),
                find: Some(find),
            };
        }
        done += count;
    }
    RangeFind { seed_start, seeds_run: budget, seeds_to_find: None, find: None }
}

/// The median of the ranges' seeds to find, a range without a find counting as unbounded (`None`). With an even
/// number of ranges it is the upper of the two middle values: at least half the ranges found within it.
pub fn median(seeds_to_find: &[Option<u64>]) -> Option<u64> {
    assert!(!seeds_to_find.is_empty(), "a median of no range");
    let mut sorted: Vec<u64> = seeds_to_find.iter().map(|seeds| seeds.unwrap_or(u64::MAX)).collect();
    sorted.sort_unstable();
    Some(sorted[sorted.len() / 2]).filter(|median| *median != u64::MAX)
}

/// Whether the ranges found the bug: their median seeds to find is within `budget`.
pub fn found(ranges: &[RangeFind], budget: u64) -> bool {
    let counts: Vec<Option<u64>> = ranges.iter().map(|range| range.seeds_to_find).collect();
    median(&counts).is_some_and(|median| median <= budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch runner over a fixed set of matching seeds, recording the batches it was asked for.
    fn matching<'a>(
        seeds: &'static [u64],
        batches: &'a mut Vec<(u64, u64)>,
    ) -> impl FnMut(u64, u64) -> Option<Find> + 'a {
        move |first, count| {
            batches.push((first, count));
            let seed = seeds.iter().copied().filter(|seed| (first..first + count).contains(seed)).min()?;
            Some(Find { seed, findings: vec!["G1a".to_string()] })
        }
    }

    #[test]
    fn the_first_find_in_seed_order_counts_its_seeds() {
        let mut batches = Vec::new();
        let range = find_in_range(1_000_000, 100, 8, &mut matching(&[1_000_013, 1_000_011, 1_000_040], &mut batches));
        assert_eq!(range.seeds_to_find, Some(12), "seeds 1,000,000 ..= 1,000,011");
        assert_eq!(range.seeds_run, 12);
        assert_eq!(range.find.map(|find| find.seed), Some(1_000_011));
        assert_eq!(batches, vec![(1_000_000, 8), (1_000_008, 8)], "no batch after the one with the find");
    }

    #[test]
    fn a_budget_too_small_for_the_bug_finds_nothing_and_the_entry_fails() {
        let mut batches = Vec::new();
        // The bug first shows at the 6th seed of each range; a budget of 5 seeds cannot find it.
        let ranges: Vec<RangeFind> = (0..3)
            .map(|index| {
                let seeds: &'static [u64] = &[5, 1_000_005, 2_000_005];
                find_in_range(range_start(index), 5, 2, &mut matching(seeds, &mut batches))
            })
            .collect();
        assert!(ranges.iter().all(|range| range.seeds_to_find.is_none() && range.seeds_run == 5), "{ranges:?}");
        assert_eq!(batches.last(), Some(&(2_000_004, 1)), "the last batch stops at the budget");
        assert!(!found(&ranges, 5));
        let with_room: Vec<RangeFind> = (0..3)
            .map(|index| {
                find_in_range(range_start(index), 6, 4, &mut matching(&[5, 1_000_005, 2_000_005], &mut Vec::new()))
            })
            .collect();
        assert!(found(&with_room, 6));
    }

    #[test]
    fn the_median_counts_a_range_without_a_find_as_unbounded() {
        assert_eq!(median(&[Some(40), None, Some(7)]), Some(40));
        assert_eq!(median(&[None, None, Some(7)]), None);
        assert_eq!(median(&[Some(3)]), Some(3));
        assert_eq!(median(&[Some(3), Some(9)]), Some(9), "the upper middle of an even count");
        assert_eq!(median(&[Some(3), None]), None);
    }

    #[test]
    fn a_find_is_an_expected_anomaly_or_stall_kind() {
        let expect = vec!["hanging-transaction".to_string(), "G1a".to_string()];
        assert!(is_find(&["G0".to_string(), "G1a".to_string()], &expect));
        assert!(!is_find(&["G0".to_string(), "stuck-application".to_string()], &expect));
        assert_eq!(stall_kind("hanging-transaction: partition 8: last stable offset 30"), "hanging-transaction");
        assert_eq!(stall_kind("stuck-application: node 7; hanging-transaction: in-0"), "stuck-application");
    }
}
