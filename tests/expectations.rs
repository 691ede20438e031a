//! Every built-in scenario states what a campaign of it shows (`expect`, which `eosim list` prints): `pass`, or
//! the anomaly kinds its failing seeds show. A 20-seed campaign of each must agree: a `pass` scenario has no
//! failing seed; any other fails at least once, and every violation it finds is one of the kinds it states.
//! Release only (`cargo test --release`, as CI runs it): sixteen campaigns are minutes in a debug build.

use std::sync::atomic::AtomicBool;

use eosim::campaign::{run_campaign, CampaignOptions};
use eosim::scenarios::{load, BUILTINS};

/// Seeds per scenario.
const SEEDS: u64 = 20;

#[test]
#[cfg_attr(debug_assertions, ignore = "sixteen 20-seed campaigns: run with --release")]
fn a_20_seed_campaign_of_every_builtin_agrees_with_its_stated_expectation() {
    let mut disagreements = Vec::new();
    for builtin in BUILTINS {
        let scenario = load(builtin.name).expect("a built-in loads").scenario;
        let expect = scenario.expect.clone().unwrap_or_else(|| panic!("{} states no expect", builtin.file));
        let options = CampaignOptions { seed_start: 0, seeds: SEEDS, jobs: 2 };
        let report = run_campaign(&scenario, options, &AtomicBool::new(false), &|_| {}).expect("the campaign runs");
        let found: Vec<&str> =
            report.totals.anomalies.iter().filter(|(_, tally)| tally.violation).map(|(kind, _)| kind.name()).collect();
        let stated = expect.violations();
        let agrees = if expect.is_pass() {
            report.totals.failing == 0
        } else {
            let listed = found.iter().all(|name| stated.iter().any(|kind| kind.name() == *name));
            report.totals.failing > 0 && !found.is_empty() && listed
        };
        if !agrees {
            disagreements.push(format!(
                "{}: expects {}, {} of {SEEDS} seeds failed with [{}]",
                builtin.name,
                expect.describe(),
                report.totals.failing,
                found.join(", ")
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
