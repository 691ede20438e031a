//! Seeded random streams, one per purpose.
//!
//! Every random choice in a run comes from a [`SimRng`] derived from (seed, [`Stream`]). ChaCha's stream
//! parameter gives each purpose an independent sequence under the same key, so drawing more numbers for the
//! network never shifts what the fault planner or the workload draws: a shrinker can edit the fault schedule
//! while every other choice stays put.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The purpose a random stream serves; its id is part of the determinism contract and must never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    /// Latencies, drops, duplicates and reordering of messages.
    Network,
    /// Resolving a swarm description into an explicit fault schedule.
    Faults,
    /// What the applications send and when.
    Workload,
    /// Jitter and choices made by one node (its index), such as retry backoff.
    Node(u32),
    /// The per-seed swarm choices (which fault kinds are on, and how often).
    Swarm,
    /// The per-seed settings swarm: which value each tunable setting takes for this seed.
    Settings,
    /// Whether an enabled fault point fires, each time one is evaluated.
    PointFires,
    /// Extra crashes drawn close to a scheduled crash (a crash storm).
    Storms,
    /// A choice keyed by a stable name (whether a fault point is enabled); see [`Stream::keyed`].
    Keyed(u64),
}

impl Stream {
    /// The fixed ChaCha stream id of this purpose.
    pub fn id(self) -> u64 {
        match self {
            Stream::Network => 1,
            Stream::Faults => 2,
            Stream::Workload => 3,
            Stream::Swarm => 4,
            Stream::Settings => 5,
            Stream::PointFires => 6,
            Stream::Storms => 7,
            Stream::Node(index) => 1_000 + u64::from(index),
            // The top bit keeps keyed streams apart from every numbered purpose above.
            Stream::Keyed(hash) => (1 << 63) | hash,
        }
    }

    /// The stream of choices keyed by `name`: the same name gets the same stream in every build, whatever
    /// else the run evaluates first, because the id is a fixed hash (FNV-1a) of the name's bytes.
    pub fn keyed(name: &str) -> Stream {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in name.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Stream::Keyed(hash >> 1)
    }
}

/// A probability as an exact fraction, so a scenario file means the same thing on every machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ratio {
    /// Numerator; at most `denominator`.
    pub numerator: u64,
    /// Denominator; never zero.
    pub denominator: u64,
}

impl Default for Ratio {
    fn default() -> Self {
        Ratio::ZERO
    }
}

impl Ratio {
    /// Never happens.
    pub const ZERO: Ratio = Ratio { numerator: 0, denominator: 1 };

    /// `numerator / denominator`, clamped to at most one.
    pub fn new(numerator: u64, denominator: u64) -> Ratio {
        assert!(denominator > 0, "a ratio needs a positive denominator");
        Ratio { numerator: numerator.min(denominator), denominator }
    }

    /// A ratio from per-million parts, the unit scenario files use.
    pub fn per_million(parts: u64) -> Ratio {
        Ratio::new(parts, 1_000_000)
    }

    /// True when this ratio can never fire.
    pub fn is_zero(self) -> bool {
        self.numerator == 0
    }

    /// `1 - (1 - self) * (1 - other)`: the chance that either of two independent causes fires.
    pub fn either(self, other: Ratio) -> Ratio {
        if self.is_zero() {
            return other;
        }
        if other.is_zero() {
            return self;
        }
        let scale = 1_000_000u128;
        let keep_self = scale - u128::from(self.numerator) * scale / u128::from(self.denominator);
        let keep_other = scale - u128::from(other.numerator) * scale / u128::from(other.denominator);
        let keep = keep_self * keep_other / scale;
        Ratio::per_million((scale - keep) as u64)
    }
}

/// A deterministic random generator for one purpose of one run.
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    /// The stream `stream` of the run seeded with `seed`.
    pub fn new(seed: u64, stream: Stream) -> SimRng {
        let mut inner = ChaCha8Rng::seed_from_u64(seed);
        inner.set_stream(stream.id());
        SimRng { inner }
    }

    /// A uniformly random u64.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// Uniform in `0..bound`, without modulo bias (Lemire's multiply-and-reject).
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "below(0) has no possible value");
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(bound);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// Uniform in `min..=max`.
    pub fn range_inclusive(&mut self, min: u64, max: u64) -> u64 {
        assert!(min <= max, "empty range {min}..={max}");
        if min == 0 && max == u64::MAX {
            return self.next_u64();
        }
        min + self.below(max - min + 1)
    }

    /// True with probability `ratio`. Draws nothing when the ratio is zero, so turning a fault off does not
    /// shift the rest of its stream.
    pub fn chance(&mut self, ratio: Ratio) -> bool {
        if ratio.is_zero() {
            return false;
        }
        self.below(ratio.denominator) < ratio.numerator
    }

    /// An exponentially distributed duration with the given mean, capped at eight means so a single
    /// unlucky draw cannot stall a run.
    pub fn exponential_ns(&mut self, mean_ns: u64) -> u64 {
        if mean_ns == 0 {
            return 0;
        }
        let draw = unit_exponential(self.next_u64()) * mean_ns as f64;
        (draw as u64).min(mean_ns.saturating_mul(8))
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        assert!(!items.is_empty(), "pick from an empty slice");
        &items[self.below(items.len() as u64) as usize]
    }
}

/// `-ln(u)` for the uniform `u` in (0, 1] that `bits` encodes, using only IEEE-754 basic operations, which
/// give the same result on every machine (a platform's `ln` need not).
///
/// Write `u = 2^-e * m` with `m` in [1/2, 1): then `-ln u = e ln 2 - ln m`. `e` is a count of leading
/// zeros; `ln m` comes from a 256-cell table with linear interpolation (error below 2e-6, far below what a
/// latency draw needs), the table itself computed once by [`ln_series`].
fn unit_exponential(bits: u64) -> f64 {
    const LN_2: f64 = std::f64::consts::LN_2;
    // 53 random bits plus one: an integer in 1..=2^53, so u = x / 2^53 is in (0, 1].
    let x = (bits >> 11) + 1;
    if x == 1 << 53 {
        return 0.0;
    }
    // Shift the leading one to bit 52: m = x' / 2^53 is in [1/2, 1).
    let exponent = x.leading_zeros() - 11;
    let normalized = x << exponent;
    let cell = ((normalized >> 44) & 0xff) as usize;
    let fraction = (normalized & ((1 << 44) - 1)) as f64 / (1u64 << 44) as f64;
    let table = ln_table();
    let ln_m = table[cell] + (table[cell + 1] - table[cell]) * fraction;
    f64::from(exponent) * LN_2 - ln_m
}

/// `ln(1/2 + i/512)` for `i` in 0..=256.
fn ln_table() -> &'static [f64; 257] {
    static TABLE: std::sync::OnceLock<[f64; 257]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|i| ln_series(0.5 + i as f64 / 512.0)))
}

/// `ln(m)` for `m` in [1/2, 1] as `2 atanh(z)`, `z = (m - 1) / (m + 1)`, by its odd series (|z| <= 1/3, so
/// twenty terms are exact to the last bit). Basic operations only.
fn ln_series(m: f64) -> f64 {
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let mut series = 0.0;
    for k in (0..20).rev() {
        series = series * z2 + 1.0 / f64::from(2 * k + 1);
    }
    2.0 * z * series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_stream_repeat() {
        let mut a = SimRng::new(42, Stream::Network);
        let mut b = SimRng::new(42, Stream::Network);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn streams_are_independent() {
        // Drawing from one stream must not change another: the draws of Workload are the same whether or
        // not Network was used first.
        let mut workload_alone = SimRng::new(7, Stream::Workload);
        let expected: Vec<u64> = (0..16).map(|_| workload_alone.next_u64()).collect();
        let mut network = SimRng::new(7, Stream::Network);
        for _ in 0..1000 {
            network.next_u64();
        }
        let mut workload = SimRng::new(7, Stream::Workload);
        let got: Vec<u64> = (0..16).map(|_| workload.next_u64()).collect();
        assert_eq!(expected, got);
        let mut network_again = SimRng::new(7, Stream::Network);
        let network_first: Vec<u64> = (0..16).map(|_| network_again.next_u64()).collect();
        assert_ne!(network_first, expected, "different streams must differ");
    }

    #[test]
    fn node_streams_differ_from_each_other() {
        let mut a = SimRng::new(1, Stream::Node(0));
        let mut b = SimRng::new(1, Stream::Node(1));
        assert_ne!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn keyed_streams_depend_only_on_the_name() {
        assert_eq!(Stream::keyed("a.rs:1:2"), Stream::keyed("a.rs:1:2"));
        assert_ne!(Stream::keyed("a.rs:1:2").id(), Stream::keyed("a.rs:1:3").id());
        let numbered = [Stream::Network, Stream::Faults, Stream::Workload, Stream::Swarm, Stream::Settings];
        let keyed = Stream::keyed("a.rs:1:2").id();
        assert!(keyed >= 1 << 63, "keyed ids carry the top bit");
        assert!(numbered.iter().all(|stream| stream.id() != keyed && stream.id() < 1 << 63));
    }

    #[test]
    fn below_stays_in_bounds_and_covers() {
        let mut rng = SimRng::new(3, Stream::Workload);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = rng.below(7);
            assert!(v < 7);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn chance_extremes() {
        let mut rng = SimRng::new(3, Stream::Faults);
        assert!((0..100).all(|_| !rng.chance(Ratio::ZERO)));
        assert!((0..100).all(|_| rng.chance(Ratio::new(1, 1))));
        let hits = (0..10_000).filter(|_| rng.chance(Ratio::new(1, 4))).count();
        assert!((2_000..3_000).contains(&hits), "about a quarter, got {hits}");
    }

    #[test]
    fn either_combines_probabilities() {
        let half = Ratio::new(1, 2);
        assert_eq!(half.either(half), Ratio::per_million(750_000));
        assert_eq!(Ratio::ZERO.either(half), half);
    }

    #[test]
    fn unit_exponential_matches_ln() {
        for bits in [0u64, 1 << 11, u64::MAX, 0x8000_0000_0000_0000, 0x1234_5678_9abc_def0, 0x0000_0001_0000_0000] {
            let uniform = ((bits >> 11) + 1) as f64 / (1u64 << 53) as f64;
            let exact = -uniform.ln();
            assert!((unit_exponential(bits) - exact).abs() < 2e-6, "bits {bits:#x}");
        }
        let mut rng = SimRng::new(4, Stream::Network);
        let mean = (0..100_000).map(|_| rng.exponential_ns(1_000)).sum::<u64>() as f64 / 100_000.0;
        assert!((950.0..1_050.0).contains(&mean), "mean {mean}");
    }

    #[test]
    fn exponential_is_capped() {
        let mut rng = SimRng::new(9, Stream::Network);
        for _ in 0..10_000 {
            assert!(rng.exponential_ns(100) <= 800);
        }
        assert_eq!(rng.exponential_ns(0), 0);
    }
}
