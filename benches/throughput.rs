//! `cargo bench`: the same table as `eosim bench` — kernel events/s (ping-pong) beside its bare-loop baseline,
//! events/s of the default scenario, and seeds/s of its campaign on one thread and on every core.
//!
//! Each figure is measured for `EOSIM_BENCH_SECONDS` seconds of wall time (default 2).

fn main() {
    let seconds = std::env::var("EOSIM_BENCH_SECONDS").ok().and_then(|text| text.parse::<f64>().ok()).unwrap_or(2.0);
    match eosim::bench::run_bench(seconds) {
        Ok(report) => print!("{}", report.render_text()),
        Err(error) => {
            eprintln!("the benchmark could not run: {error}");
            std::process::exit(3);
        }
    }
}
