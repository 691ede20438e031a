//! Runs one ping-pong workload of `eosim bench` alone for a fixed number of events, so a profiler sees only
//! it: `cargo run --release --example ping_pong -- kernel|baseline|floor [EVENTS]` (default 1,000,000 events).
//!
//! Prints the events, the wall and CPU time, events per wall and per CPU second, and the trace hash. Under callgrind
//! (`valgrind --tool=callgrind target/release/examples/ping_pong kernel 1000000`), the instruction count
//! divided by the events is the cost of one event; docs/performance.md has the figures.

use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run: fn(u64) -> String = match args.first().map(String::as_str) {
        Some("kernel") => eosim::bench::run_kernel,
        Some("baseline") => eosim::bench::run_baseline,
        Some("floor") => eosim::bench::run_floor,
        _ => {
            eprintln!("usage: ping_pong kernel|baseline|floor [EVENTS] (expected the workload's name first)");
            return ExitCode::from(2);
        }
    };
    let events = match args.get(1).map(|text| text.parse::<u64>()) {
        None => 1_000_000,
        Some(Ok(events)) if events > 0 => events,
        Some(_) => {
            eprintln!("ping_pong: EVENTS: expected a positive integer, got {:?}", args[1]);
            return ExitCode::from(2);
        }
    };
    let cpu_start_ns = eosim::bench::thread_cpu_ns();
    let start = Instant::now();
    let hash = run(events);
    let seconds = start.elapsed().as_secs_f64();
    let per_second = events as f64 / seconds;
    let cpu = match (cpu_start_ns, eosim::bench::thread_cpu_ns()) {
        (Some(start_ns), Some(end_ns)) => {
            let cpu_seconds = end_ns.saturating_sub(start_ns) as f64 / 1e9;
            format!(", {cpu_seconds:.3} CPU s: {:.0} events per CPU second", events as f64 / cpu_seconds)
        }
        _ => String::new(),
    };
    println!("{events} events in {seconds:.3} s: {per_second:.0} events/s{cpu}, trace-hash: {hash}");
    ExitCode::SUCCESS
}
