//! Coverage: which protocol states, transitions, broker errors and fault kinds a campaign's runs reached.
//!
//! Every run counts what it exercised (`txn-state:Ongoing`, `broker-error:NOT_LEADER_OR_FOLLOWER`,
//! `fault:broker-crash`, …). A campaign adds them up per point: how many runs reached it, and how often in all.
//! Both sums are additive, so the coverage of disjoint shards adds up to the coverage of the whole campaign, and
//! `eosim merge` needs no per-run counters. The points a scenario is *expected* to reach are listed up front; one
//! that no run reached is flagged `never reached`, so a protocol change that stops reaching a state shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How many runs reached one coverage point, and how many times in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoveragePoint {
    /// Runs that counted the point at least once.
    pub runs: u64,
    /// The point's counts, summed over every run.
    pub count: u64,
}

/// A campaign's coverage table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    /// The points the scenario is expected to reach, in a fixed order (fault kinds first, then protocol states).
    pub expected: Vec<String>,
    /// Every point reached by some run, and every expected point even when no run reached it, by name.
    pub points: BTreeMap<String, CoveragePoint>,
    /// The expected points no run reached, in the order of `expected`.
    pub never_reached: Vec<String>,
}

impl Coverage {
    /// An empty table expecting `expected` (duplicates are dropped, the first place kept).
    pub fn new(expected: Vec<String>) -> Coverage {
        let mut unique: Vec<String> = Vec::with_capacity(expected.len());
        for point in expected {
            if !unique.contains(&point) {
                unique.push(point);
            }
        }
        let points = unique.iter().map(|point| (point.clone(), CoveragePoint::default())).collect();
        let mut coverage = Coverage { expected: unique, points, never_reached: Vec::new() };
        coverage.refresh();
        coverage
    }

    /// Adds one run's counters; a counter of zero is not a hit.
    pub fn add_run(&mut self, counters: &BTreeMap<String, u64>) {
        for (name, count) in counters {
            if *count == 0 {
                continue;
            }
            let point = self.points.entry(name.clone()).or_default();
            // Saturating: counts may come from a report file, and no table is worth a panic.
            point.runs = point.runs.saturating_add(1);
            point.count = point.count.saturating_add(*count);
        }
        self.refresh();
    }

    /// Adds another table of the same expected points: the coverage of two disjoint sets of runs.
    pub fn absorb(&mut self, other: &Coverage) {
        assert_eq!(self.expected, other.expected, "only tables of one scenario add up");
        for (name, theirs) in &other.points {
            let point = self.points.entry(name.clone()).or_default();
            point.runs = point.runs.saturating_add(theirs.runs);
            point.count = point.count.saturating_add(theirs.count);
        }
        self.refresh();
    }

    /// Whether `point` is one the scenario is expected to reach.
    pub fn is_expected(&self, point: &str) -> bool {
        self.expected.iter().any(|expected| expected == point)
    }

    /// Recomputes `never_reached` from `expected` and `points`.
    fn refresh(&mut self) {
        let points = &self.points;
        self.never_reached =
            self.expected.iter().filter(|point| points.get(*point).is_none_or(|hit| hit.runs == 0)).cloned().collect();
        assert!(self.never_reached.len() <= self.expected.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(name, count)| (name.to_string(), *count)).collect()
    }

    #[test]
    fn runs_and_counts_add_up_and_unreached_points_are_flagged() {
        let expected = vec!["fault:lost-ack".to_string(), "txn-state:Dead".to_string(), "fault:lost-ack".to_string()];
        let mut coverage = Coverage::new(expected);
        assert_eq!(coverage.expected, vec!["fault:lost-ack", "txn-state:Dead"]);
        assert_eq!(coverage.never_reached, vec!["fault:lost-ack", "txn-state:Dead"]);
        coverage.add_run(&counters(&[("fault:lost-ack", 3), ("client:retry", 0)]));
        coverage.add_run(&counters(&[("fault:lost-ack", 2), ("client:retry", 5)]));
        assert_eq!(coverage.points["fault:lost-ack"], CoveragePoint { runs: 2, count: 5 });
        assert_eq!(coverage.points["client:retry"], CoveragePoint { runs: 1, count: 5 });
        assert_eq!(coverage.points["txn-state:Dead"], CoveragePoint::default());
        assert_eq!(coverage.never_reached, vec!["txn-state:Dead"]);
        assert!(coverage.is_expected("txn-state:Dead") && !coverage.is_expected("client:retry"));
    }

    #[test]
    fn the_coverage_of_two_shards_is_the_coverage_of_their_runs() {
        let runs = [counters(&[("a", 1)]), counters(&[("a", 2), ("b", 1)]), counters(&[("c", 4)])];
        let mut whole = Coverage::new(vec!["b".to_string(), "d".to_string()]);
        let (mut first, mut second) = (whole.clone(), whole.clone());
        for run in &runs {
            whole.add_run(run);
        }
        first.add_run(&runs[0]);
        second.add_run(&runs[1]);
        second.add_run(&runs[2]);
        first.absorb(&second);
        assert_eq!(first, whole);
        assert_eq!(whole.never_reached, vec!["d"]);
    }
}
