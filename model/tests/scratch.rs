#[test]
fn scratch() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/idempotent.toml")).unwrap();
    let scenario = eosim_model::Scenario::from_toml("t", &text).unwrap();
    let outcome = eosim_model::simulate(&scenario, 307);
    println!("{:?} {:?}", outcome.stall, outcome.stats.counters);
    let lines: Vec<String> = outcome.history.to_jsonl().lines().map(String::from).collect();
    for line in &lines[lines.len()-12..] { println!("{line}"); }
}
