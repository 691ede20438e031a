//! Every failure eosim ever found, as a repro file under `tests/regressions/`, replayed first: each must show its
//! recorded verdict and violation kinds (a real flaw keeps showing), or, once its bug is fixed (`"fixed":
//! {"expected": "pass", …}`), the verdict the fix promises. Add one with `eosim shrink REPRO --out tests/regressions/NAME.json`.

use std::path::Path;

use eosim::repro::Repro;

#[test]
fn every_regression_repro_still_shows_what_it_records() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/regressions exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no repro in {}", dir.display());
    for path in &paths {
        let repro = Repro::read(path).unwrap_or_else(|error| panic!("{error}"));
        let result = repro.replay();
        assert!(
            repro.reproduces(&result),
            "{}: expected {} (trace hash {:?}, fixed: {:?}), the replay gave {} (trace hash {:?}); \
             rerun with: eosim replay {}",
            path.display(),
            repro.expected.verdict.name(),
            repro.expected.trace_hash,
            repro.fixed,
            result.verdict.name(),
            result.trace_hash(),
            path.display()
        );
    }
}
