#[test]
fn scratch() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/idempotent-restart.toml")).unwrap();
    let scenario = eosim_model::Scenario::from_toml("t", &text).unwrap();
    let outcome = eosim_model::simulate(&scenario, 35);
    for f in &outcome.schedule.faults { if f.at_ns < 200_000_000 { println!("{:?}", f); } }
    for line in outcome.history.to_jsonl().lines() { if line.contains("orders-0") && !line.contains("\"poll\"") { println!("{line}"); } }
}
