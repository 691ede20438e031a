use std::time::Instant;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let file = &args[1];
    let seeds: u64 = args[2].parse().unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    let scenario = eosim_model::Scenario::from_toml(file, &text).unwrap();
    let start = Instant::now();
    let mut kinds = std::collections::BTreeMap::new();
    let mut counters = std::collections::BTreeMap::new();
    let mut failing = 0;
    let mut events = 0;
    for seed in 0..seeds {
        let outcome = eosim_model::simulate(&scenario, seed);
        events += outcome.stats.events;
        let report = eosim_checker::check(&outcome.history, scenario.guarantee());
        if let Some(stall) = &outcome.stall { println!("seed {seed} stall {stall}"); }
        if !report.is_valid() { failing += 1; if report.violations().any(|a| a.kind.name() != "duplicate") { println!("seed {seed}: {}", report.render_text(3)); } }
        for a in report.violations() { *kinds.entry(a.kind.name()).or_insert(0) += 1; }
        for (k, v) in &outcome.stats.counters { *counters.entry(k.clone()).or_insert(0) += v; }
    }
    println!("counters {counters:?}");
    println!("failing {failing}/{seeds} violations {kinds:?} events {events} wall {:?}", start.elapsed());
}
