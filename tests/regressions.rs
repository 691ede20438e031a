//! Every failure eosim ever found, as a repro file under `tests/regressions/`, replayed first: each must show its
//! recorded verdict and violation kinds (a real flaw keeps showing), or, once its bug is fixed (`"fixed":
//! {"expected": "pass", …}`), the verdict the fix promises. Add one with `eosim shrink REPRO --out tests/regressions/NAME.json`.
//! The directory is read and judged by the same code as `eosim replay tests/regressions` (src/corpus.rs); the
//! trace hash is that command's to check (`Repro::reproduces` says why).

use std::path::Path;

use eosim::corpus::{replay_all, Corpus, Judgement};

#[test]
fn every_regression_repro_still_shows_what_it_records() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let corpus = Corpus::read(&[dir]).unwrap_or_else(|error| panic!("{error}"));
    for replayed in replay_all(&corpus.entries) {
        let (repro, result) = (&replayed.repro, &replayed.result);
        assert!(
            replayed.judgement != Judgement::Regressed,
            "{}: expected {} (trace hash {:?}, fixed: {:?}), the replay gave {} (trace hash {:?}); \
             rerun with: eosim replay {}",
            replayed.path.display(),
            repro.expected.verdict.name(),
            repro.expected.trace_hash,
            repro.fixed,
            result.verdict.name(),
            result.trace_hash(),
            replayed.path.display()
        );
    }
}
