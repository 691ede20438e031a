//! BUGGIFY: fault points written on the line of the model they perturb, as FoundationDB's
//! `flow/include/flow/Buggify.h` places them.
//!
//! `if buggify!(ctx, "short-read") { … }` marks a place where a real broker or client may behave in a legal but
//! unusual way (a short read, a late metadata answer, a lost database acknowledgement). A point is keyed by its
//! file and name, `model/src/app/consumer.rs#short-read`, not by its line: an edit elsewhere in the file leaves
//! every point, and so every wide run, as it was. For each seed, a point is *enabled* or not, decided once, the first time it is
//! evaluated, from a stream keyed by its site alone (so adding a point never changes which others are
//! enabled); an enabled point then *fires* on each evaluation with its own probability, drawn from the
//! seed's fire stream. Points only act when the run's envelope asks for them (`[knobs] swarm = true` or
//! `envelope = "wide"`); otherwise [`Buggify::evaluate`] draws nothing and returns false, so a narrow run's
//! trace is untouched. Each fired point counts as the coverage point `buggify:<file>#<name>`, and the run
//! lists the points that fired.
//!
//! Adding a point is one line: `if buggify!(ctx, "name") { … }`, with a name unique in its file and a comment
//! naming the real behaviour it stands for. A point must never break a guarantee by itself: it may only do what the real system may do.

use crate::ctx::Ctx;
use eosim_sim::{Ratio, SimRng, Stream};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Chance that a point is enabled for a seed (FoundationDB's `P_BUGGIFIED_SECTION_ACTIVATED` is 0.25).
pub const ENABLED_PROBABILITY: Ratio = Ratio { numerator: 1, denominator: 4 };

/// Chance that an enabled point fires when evaluated (FoundationDB's `P_BUGGIFIED_SECTION_FIRES` is 0.25).
pub const FIRES_PROBABILITY: Ratio = Ratio { numerator: 1, denominator: 4 };

/// True when the fault point named `$name` in this file fires now; see the module documentation.
#[macro_export]
macro_rules! buggify {
    ($ctx:expr, $name:literal) => {
        $crate::buggify::evaluate($ctx, concat!(file!(), "#", $name), concat!("buggify:", file!(), "#", $name))
    };
}

/// What one point did in a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointRecord {
    /// `file#name` of the point.
    pub site: String,
    /// Whether the point was enabled for this seed.
    pub enabled: bool,
    /// Virtual time of the first evaluation, in nanoseconds.
    pub first_ns: u64,
    /// Evaluations.
    pub evaluated: u64,
    /// Evaluations that fired.
    pub fired: u64,
}

/// The fault points of one run.
#[derive(Clone, Debug)]
pub struct Buggify {
    seed: u64,
    active: bool,
    fires: SimRng,
    points: BTreeMap<&'static str, PointRecord>,
}

impl Buggify {
    /// The points of the run seeded with `seed`; they act only when `active`.
    pub fn new(seed: u64, active: bool) -> Buggify {
        Buggify { seed, active, fires: SimRng::new(seed, Stream::PointFires), points: BTreeMap::new() }
    }

    /// Whether the point at `site` fires now (at `now_ns`): never when inactive, and then nothing is drawn.
    pub fn evaluate(&mut self, site: &'static str, now_ns: u64) -> bool {
        if !self.active {
            return false;
        }
        let seed = self.seed;
        let point = self.points.entry(site).or_insert_with(|| PointRecord {
            site: site.to_string(),
            enabled: SimRng::new(seed, Stream::keyed(site)).chance(ENABLED_PROBABILITY),
            first_ns: now_ns,
            evaluated: 0,
            fired: 0,
        });
        point.evaluated += 1;
        if !point.enabled {
            return false;
        }
        let fired = self.fires.chance(FIRES_PROBABILITY);
        point.fired += u64::from(fired);
        assert!(point.fired <= point.evaluated, "a point fires at most once per evaluation");
        fired
    }

    /// Every point evaluated in the run, in site order.
    pub fn points(&self) -> Vec<PointRecord> {
        self.points.values().cloned().collect()
    }
}

/// Evaluates the point at `site` for the node handling the current event, counting `coverage` when it fires;
/// what `buggify!` expands to.
pub fn evaluate(ctx: &mut Ctx<'_>, site: &'static str, coverage: &'static str) -> bool {
    let now_ns = ctx.now_ns();
    let fired = ctx.shared.buggify.evaluate(site, now_ns);
    if fired {
        ctx.shared.count(coverage);
    }
    fired
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FoundationDB's BUGGIFY: a point is enabled per run, then fires per evaluation only when enabled.
    #[test]
    fn buggify_fires_only_when_enabled_for_the_seed() {
        let site = "model/src/app/consumer.rs#short-read";
        let enabled_seed = (0..64).find(|seed| SimRng::new(*seed, Stream::keyed(site)).chance(ENABLED_PROBABILITY));
        let disabled_seed = (0..64).find(|seed| !SimRng::new(*seed, Stream::keyed(site)).chance(ENABLED_PROBABILITY));
        let (enabled_seed, disabled_seed) = (enabled_seed.expect("some seed"), disabled_seed.expect("some seed"));
        let mut on = Buggify::new(enabled_seed, true);
        let fired = (0..400).filter(|_| on.evaluate(site, 5)).count();
        assert!((50..150).contains(&fired), "about a quarter of 400 evaluations fire, got {fired}");
        assert_eq!(on.points()[0].fired, fired as u64);
        assert_eq!((on.points()[0].evaluated, on.points()[0].first_ns), (400, 5));
        let mut off = Buggify::new(disabled_seed, true);
        assert!((0..400).all(|_| !off.evaluate(site, 5)), "a disabled point never fires");
        assert!(!off.points()[0].enabled);
    }

    #[test]
    fn buggify_is_deterministic_and_silent_when_inactive() {
        let sites = ["a.rs#one", "a.rs#two", "b.rs#one"];
        let run = |active: bool| {
            let mut buggify = Buggify::new(17, active);
            let fired: Vec<bool> = (0..300).map(|i| buggify.evaluate(sites[i % 3], i as u64)).collect();
            (fired, buggify.points())
        };
        assert_eq!(run(true), run(true));
        let (fired, points) = run(false);
        assert!(fired.iter().all(|fired| !fired) && points.is_empty(), "inactive points record nothing");
    }
}
