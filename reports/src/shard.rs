//! Shards: one campaign's seeds split across machines, and why a campaign stopped before its last seed.
//!
//! Shard K of N (1-based K) runs the seeds whose offset from the first seed leaves K - 1 modulo N. Seeds are dealt
//! round-robin rather than in blocks so that every shard sees seeds from the whole range, and shards of one
//! campaign finish at about the same time even when a time budget cuts them short.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Shard `index` of `count`: the seeds `s` with `(s - seed_start) % count == index - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// Which shard, from 1 to `count`, as `--shard K/N` spells it.
    pub index: u64,
    /// How many shards the campaign is split into; at least 1.
    pub count: u64,
}

impl Shard {
    /// Shard `index` of `count`, when `1 <= index <= count`.
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (1..=count).contains(&index).then_some(Shard { index, count })
    }

    /// Whether `seed` belongs to this shard of a campaign that starts at `seed_start`.
    pub fn contains(self, seed_start: u64, seed: u64) -> bool {
        assert!(self.index >= 1 && self.index <= self.count, "a shard is 1-based: {self}");
        seed >= seed_start && (seed - seed_start) % self.count == self.index - 1
    }

    /// How many of the seeds `seed_start .. seed_start + seeds` this shard holds.
    pub fn seed_count(self, seeds: u64) -> u64 {
        let offset = self.index - 1;
        if seeds <= offset {
            return 0;
        }
        (seeds - offset).div_ceil(self.count)
    }

    /// The `n`-th seed of this shard (from 0), in seed order.
    pub fn nth_seed(self, seed_start: u64, n: u64) -> u64 {
        seed_start + (self.index - 1) + n * self.count
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A `K/N` that is not a shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardParseError(String);

impl fmt::Display for ShardParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShardParseError {}

impl FromStr for Shard {
    type Err = ShardParseError;

    /// Parses `K/N`, with `1 <= K <= N`.
    fn from_str(text: &str) -> Result<Shard, ShardParseError> {
        let malformed = || ShardParseError(format!("expected K/N with 1 <= K <= N (e.g. 2/4), not {text:?}"));
        let (index, count) = text.split_once('/').ok_or_else(malformed)?;
        let index: u64 = index.trim().parse().map_err(|_| malformed())?;
        let count: u64 = count.trim().parse().map_err(|_| malformed())?;
        Shard::new(index, count).ok_or_else(malformed)
    }
}

/// Why a campaign stopped before every seed it was asked for had run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// Ctrl-C (SIGINT), or a failure to write a seed's files: the findings so far are kept.
    Interrupted,
    /// `--stop-on-first`: a seed failed, so no new seed started.
    FirstFailure,
    /// `--time-budget`: the wall-clock budget ran out, so no new seed started.
    TimeBudget,
}

impl StopReason {
    /// The name used in report.json: "interrupted", "first-failure" or "time-budget".
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Interrupted => "interrupted",
            StopReason::FirstFailure => "first-failure",
            StopReason::TimeBudget => "time-budget",
        }
    }

    /// What happened, in words, for the text summary.
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::Interrupted => "interrupted (Ctrl-C)",
            StopReason::FirstFailure => "stopped at the first failing seed (--stop-on-first)",
            StopReason::TimeBudget => "cut short: the time budget ran out (--time-budget)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_deal_seeds_round_robin_and_cover_each_once() {
        let shards: Vec<Shard> = (1..=3).map(|index| Shard::new(index, 3).expect("a shard")).collect();
        for seed in 10..20 {
            let owners = shards.iter().filter(|shard| shard.contains(10, seed)).count();
            assert_eq!(owners, 1, "seed {seed}");
        }
        assert!(shards[0].contains(10, 13));
        assert!(!shards[0].contains(10, 9), "seeds before the start belong to no shard");
        let counts: Vec<u64> = shards.iter().map(|shard| shard.seed_count(10)).collect();
        assert_eq!(counts, vec![4, 3, 3]);
        assert_eq!(shards[1].nth_seed(10, 2), 17);
        assert_eq!(Shard::new(3, 3).map(|shard| shard.seed_count(2)), Some(0));
    }

    #[test]
    fn shards_parse_as_k_of_n() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("1/1".parse::<Shard>().map(|shard| shard.to_string()), Ok("1/1".to_string()));
        for bad in ["0/2", "3/2", "2", "a/b", "1/0", ""] {
            let error = bad.parse::<Shard>().expect_err(bad);
            assert!(error.to_string().contains("expected K/N"), "{error}");
        }
    }

    #[test]
    fn stop_reasons_serialize_by_name() {
        for reason in [StopReason::Interrupted, StopReason::FirstFailure, StopReason::TimeBudget] {
            assert_eq!(serde_json::to_string(&reason).ok(), Some(format!("\"{}\"", reason.name())));
        }
    }
}
