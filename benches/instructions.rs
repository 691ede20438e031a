//! `cargo bench --bench instructions`: instruction counts, so a regression shows as a number that does not
//! depend on the machine's load. Each function runs alone under cachegrind (the `iai` harness: it needs only
//! `valgrind` on the PATH, and prints a note and measures nothing without it); the harness subtracts an empty
//! run's count and prints the change against the previous run kept in `target/iai/`.
//!
//! - `kernel_ping_pong` / `baseline_ping_pong` / `floor_ping_pong`: 100,000 events of `eosim bench`'s kernel
//!   workload, of its bare-loop baseline and of the floor (the baseline with one sift per event); their ratios
//!   are the kernel's overhead in instructions.
//! - `eos_tv2_seed`: one seed of the default scenario, model and checker included.
//! - `checker_history_1e5` / `checker_1e5`: building a clean 10^5-operation history, and building plus
//!   checking it under Kafka's exactly-once guarantee; the difference is the check.
//!
//! docs/performance.md has the figures and how to read them.

use eosim::bench;
use eosim_checker::{check, Guarantee};
use iai::black_box;

/// Events of each ping-pong run: enough that the world's setup is noise.
const PING_PONG_EVENTS: u64 = 100_000;
/// Operations of the checker's history.
const CHECKER_OPS: usize = 100_000;

fn kernel_ping_pong() -> String {
    bench::run_kernel(black_box(PING_PONG_EVENTS))
}

fn baseline_ping_pong() -> String {
    bench::run_baseline(black_box(PING_PONG_EVENTS))
}

fn floor_ping_pong() -> String {
    bench::run_floor(black_box(PING_PONG_EVENTS))
}

fn eos_tv2_seed() -> String {
    bench::run_default_seed(black_box(0)).expect("the default scenario loads")
}

fn checker_history_1e5() -> usize {
    eosim_checker::workload::clean_history(black_box(CHECKER_OPS)).ops.len()
}

fn checker_1e5() -> usize {
    let history = eosim_checker::workload::clean_history(black_box(CHECKER_OPS));
    let report = check(&history, Guarantee::KafkaEos);
    assert!(report.anomalies.is_empty(), "the generated history is clean");
    history.ops.len()
}

iai::main!(kernel_ping_pong, baseline_ping_pong, floor_ping_pong, eos_tv2_seed, checker_history_1e5, checker_1e5);
