//! Every input the fuzz harness (or a hostile-input campaign) ever broke a reader with, replayed through the same
//! fuzz target: none may panic or crash a run now. The inputs live under `tests/fuzz/TARGET/`, one file each,
//! named for what they broke; `docs/fuzzing.md` says how to add one.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use eosim::fuzz::{target, Outcome, TARGET_NAMES};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs every file of `tests/fuzz/NAME/` through target `NAME`; returns how many there were.
fn replay_target(name: &str) -> usize {
    let dir = root().join("tests/fuzz").join(name);
    let Ok(entries) = std::fs::read_dir(&dir) else { return 0 };
    // Every accepted scenario or repro is run, not one in many as in a fuzz run.
    let target = target(name, root(), 1).expect("the target");
    let mut paths: Vec<_> = entries.flatten().map(|entry| entry.path()).collect();
    paths.sort();
    for path in &paths {
        let input = std::fs::read(path).expect("read the input");
        let outcome = catch_unwind(AssertUnwindSafe(|| target.exec(&input)));
        match outcome {
            Ok(Outcome::Crash(message)) => panic!("{}: a run crashed: {message}", path.display()),
            Ok(_) => {}
            Err(_) => panic!("{}: the {name} target panicked", path.display()),
        }
    }
    paths.len()
}

#[test]
fn every_kept_fuzz_input_is_read_without_a_panic_or_a_crash() {
    let replayed: usize = TARGET_NAMES.iter().map(|name| replay_target(name)).sum();
    assert!(replayed >= 10, "the kept inputs were found ({replayed})");
}

#[test]
fn the_hostile_scenarios_and_repros_are_refused_not_run() {
    for name in ["scenario", "repro"] {
        let target = target(name, root(), 1).expect("the target");
        for entry in std::fs::read_dir(root().join("tests/fuzz").join(name)).expect("the kept inputs").flatten() {
            let input = std::fs::read(entry.path()).expect("read");
            assert_eq!(target.exec(&input), Outcome::Rejected, "{}", entry.path().display());
        }
    }
}

/// Found by the `history-edn` target on its 40th input (seed 0): an `:index` far past the previous operation made
/// the EDN reader fill the gap with placeholder operations, four billion of them for `:index 4294967295`, until
/// memory ran out. The reader now bounds the indices a file may skip and refuses this one at its position.
#[test]
fn an_edn_index_far_past_the_last_op_is_refused() {
    let target = target("history-edn", root(), 1).expect("the target");
    let input = std::fs::read(root().join("tests/fuzz/history-edn/index-gap.edn")).expect("read");
    assert_eq!(target.exec(&input), Outcome::Rejected);
}
