//! A deterministic mutation fuzzer for every file eosim reads, on stable Rust.
//!
//! `cargo fuzz` needs a nightly compiler and CI has a stable one, so the harness lives here: [`targets`] names
//! the readers (JSON Lines and EDN histories, scenarios, repros, shard reports for `merge`) with seed inputs from
//! the repository's fixtures, [`mutate`] derives inputs from them with a seeded generator, and [`fuzz_target`]
//! runs a fixed number of them, catching each panic as a finding with the input that caused it. A seed and an
//! execution count give the same inputs on any machine, so a crash found once is found again. It is not
//! coverage-guided; accepted mutants join the working corpus, so that mutations stack on inputs that got past
//! the parser. `cargo run --release --example fuzz` drives it (docs/fuzzing.md), and each crash it ever found
//! is kept under `tests/fuzz/` and replayed by `tests/fuzz_regressions.rs`.

pub mod mutate;
pub mod targets;

pub use targets::{target, Outcome, Target, TARGET_NAMES};

use crate::runner::catch_panic;
use mutate::{mutate, Rng};

/// How long a fuzz run is and where it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuzzOptions {
    /// The generator's seed.
    pub seed: u64,
    /// Inputs to run per target, the seed inputs first.
    pub execs: u64,
}

/// An input that made a target panic, or made a run it started crash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crash {
    /// The input.
    pub input: Vec<u8>,
    /// The panic message and where it was raised.
    pub message: String,
}

/// What a fuzz run of one target did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetReport {
    /// Inputs run.
    pub execs: u64,
    /// Inputs the reader accepted.
    pub accepted: u64,
    /// Inputs the reader refused with an error.
    pub rejected: u64,
    /// Distinct crashes (by message), each with its first input.
    pub crashes: Vec<Crash>,
}

/// The most accepted mutants kept in the working corpus beside the seed inputs.
const CORPUS_GROWN_MAX: usize = 512;
/// The most distinct crashes kept per target.
const CRASHES_MAX: usize = 32;

/// Runs `options.execs` inputs through `target`: the seed inputs unchanged, then mutants. `before_exec` sees
/// each input before it runs (a watchdog keeps it, to report an input that hangs).
pub fn fuzz_target(target: &Target, options: FuzzOptions, before_exec: &dyn Fn(u64, &[u8])) -> TargetReport {
    assert!(!target.corpus.is_empty(), "a target starts from at least one seed input");
    let mut rng = Rng::new(options.seed);
    let mut corpus = target.corpus.clone();
    let mut report = TargetReport::default();
    for exec in 0..options.execs {
        let index = exec as usize;
        let input = match target.corpus.get(index) {
            Some(seed_input) => seed_input.clone(),
            None => {
                let parent = rng.below(corpus.len());
                mutate(&mut rng, &corpus[parent], &corpus, target.dictionary)
            }
        };
        before_exec(exec, &input);
        report.execs += 1;
        let outcome = catch_panic(|| target.exec(&input)).unwrap_or_else(Outcome::Crash);
        match outcome {
            Outcome::Accepted => {
                report.accepted += 1;
                keep(&mut rng, &mut corpus, target.corpus.len(), input);
            }
            Outcome::Rejected => report.rejected += 1,
            Outcome::Crash(message) => record(&mut report.crashes, input, message),
        }
    }
    report
}

/// Adds an accepted mutant to the working corpus, replacing a random grown one once it is full.
fn keep(rng: &mut Rng, corpus: &mut Vec<Vec<u8>>, seeds: usize, input: Vec<u8>) {
    if corpus.len() < seeds + CORPUS_GROWN_MAX {
        corpus.push(input);
    } else {
        let at = seeds + rng.below(CORPUS_GROWN_MAX);
        corpus[at] = input;
    }
}

fn record(crashes: &mut Vec<Crash>, input: Vec<u8>, message: String) {
    if crashes.len() < CRASHES_MAX && crashes.iter().all(|crash| crash.message != message) {
        crashes.push(Crash { input, message });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn every_target_reads_its_seed_corpus_and_a_few_hundred_mutants_without_a_crash() {
        for name in TARGET_NAMES {
            // Runs are costly in a debug build: one accepted scenario or repro in a thousand is run here.
            let target = target(name, root(), 1_000).expect("the target and its corpus");
            let execs = target.corpus.len() as u64 + 150;
            let report = fuzz_target(&target, FuzzOptions { seed: 1, execs }, &|_, _| {});
            assert_eq!(report.execs, execs);
            assert!(report.accepted >= 1, "{name}: the seed inputs are accepted");
            assert!(report.rejected >= 1, "{name}: some mutants are refused");
            assert!(report.crashes.is_empty(), "{name}: {:?}", report.crashes.first().map(|crash| &crash.message));
        }
    }

    #[test]
    fn a_panicking_target_is_a_crash_with_its_input() {
        let exec = |input: &[u8]| match input.first() {
            Some(b'!') => panic!("bang"),
            _ => Outcome::Rejected,
        };
        let panics = Target::new("panics", vec![b"!".to_vec(), b"ok".to_vec()], &[], Box::new(exec));
        let report = fuzz_target(&panics, FuzzOptions { seed: 1, execs: 2 }, &|_, _| {});
        assert_eq!(report.crashes.len(), 1);
        assert_eq!(report.crashes[0].input, b"!");
        assert!(report.crashes[0].message.starts_with("bang (at src/fuzz/mod.rs:"), "{}", report.crashes[0].message);
        assert_eq!(target("nope", root(), 1).err().map(|error| error.contains("expected one of")), Some(true));
    }
}
