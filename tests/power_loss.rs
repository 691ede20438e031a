//! The power-loss scenario end to end through the binary: brokers that never flush and lose power lose
//! acknowledged writes, and the same brokers with process crashes instead do not.

mod support;

use support::*;

/// Runs a campaign of `scenario` and returns its exit status and text.
fn campaign(scenario: &str, seeds: &str) -> (Option<i32>, String) {
    campaign_run(scenario, seeds, &[])
}

#[test]
fn power_loss_without_flushing_loses_acknowledged_writes() {
    let (code, text) = campaign("power-loss", "40");
    assert_eq!(code, Some(1), "violations expected:\n{text}");
    assert!(text.lines().any(|line| line.trim_start().starts_with("lost-write ")), "{text}");
    let faults = text.lines().find(|line| line.trim_start().starts_with("broker-power-loss ")).expect("fault line");
    assert!(!faults.contains(" 0 runs"), "{faults}");
}

#[test]
fn the_same_cluster_with_process_crashes_loses_nothing() {
    let path = std::env::temp_dir().join(format!("eosim-process-crash-{}.toml", std::process::id()));
    let text = std::fs::read_to_string("scenarios/power-loss.toml").expect("scenario file");
    let crash = text
        .replace("name = \"power-loss\"", "name = \"process-crash\"")
        .replace("broker-power-loss =", "broker-crash =");
    assert_ne!(crash, text, "the fault key was replaced");
    std::fs::write(&path, crash).expect("temp file");
    let (code, report) = campaign(path.to_str().expect("utf-8 path"), "40");
    std::fs::remove_file(&path).expect("removed");
    assert!(!report.lines().any(|line| line.trim_start().starts_with("lost-write ")), "{report}");
    assert_eq!(code, Some(0), "{report}");
}
