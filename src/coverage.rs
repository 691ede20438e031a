//! Which coverage points a scenario is expected to reach, and one run's points.
//!
//! every run counts the protocol states, transitions, broker errors and fault kinds it exercised,
//! and a campaign reports the table (`eosim_reports::Coverage`), so that a protocol change that stops reaching a
//! state is visible. The model counts protocol points itself (`RunStats::counters`: `broker-error:…`,
//! `client:retry`, `txn-state:…`, `txn-transition:…`, `group:…`); fault kinds are counted by the kernel and enter
//! the table here as `fault:<kind>`, named as scenario files name them.

use std::collections::BTreeMap;

use eosim_model::coordinator::txn_state::TxnState;
use eosim_model::{RunStats, Scenario};

/// The prefix of a fault kind's coverage point: `fault:broker-crash`.
pub const FAULT_PREFIX: &str = "fault:";

/// The prefix of a transaction state's coverage point: `txn-state:Ongoing`.
pub const TXN_STATE_PREFIX: &str = "txn-state:";

/// The points a campaign of `scenario` should reach: every fault kind the scenario configures, and for
/// transactional variants (`eos-…`) every transaction coordinator state. A point in this list that no run
/// reaches is flagged `never reached`.
pub fn expected_points(scenario: &Scenario) -> Vec<String> {
    let mut points: Vec<String> =
        scenario.faults.kinds().into_iter().map(|(name, _)| format!("{FAULT_PREFIX}{name}")).collect();
    if scenario.variant.name().starts_with("eos") {
        points.extend(TxnState::ALL.iter().map(|state| format!("{TXN_STATE_PREFIX}{}", state.name())));
    }
    points
}

/// One run's coverage points: the model's counters and the injected fault kinds.
pub fn run_points(stats: &RunStats) -> BTreeMap<String, u64> {
    let mut points = stats.counters.clone();
    for (kind, count) in &stats.faults {
        *points.entry(format!("{FAULT_PREFIX}{kind}")).or_insert(0) += count;
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin(name: &str) -> Scenario {
        crate::scenarios::load(name).map(|loaded| loaded.scenario).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn the_configured_fault_kinds_are_expected() {
        let points = expected_points(&builtin("at-most-once"));
        assert_eq!(points, vec!["fault:lost-request", "fault:delay", "fault:broker-crash"]);
    }

    #[test]
    fn a_run_counts_its_faults_next_to_the_models_counters() {
        let mut stats = RunStats::default();
        stats.counters.insert("client:retry".to_string(), 4);
        stats.faults.insert("lost-ack".to_string(), 2);
        let points = run_points(&stats);
        assert_eq!(points.get("client:retry"), Some(&4));
        assert_eq!(points.get("fault:lost-ack"), Some(&2));
        assert_eq!(points.len(), 2);
    }
}
