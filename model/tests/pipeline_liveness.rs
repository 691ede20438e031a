//! Pipelines that fell out of their group find their way back.

use eosim_checker::check;
use eosim_model::{simulate, Scenario};

/// Seed 1444 of eos-tv2: a pipeline loses its group coordinator's address (its metadata names no leader for the
/// offsets partition) while the group rebalances without it. Its heartbeat must look the coordinator up again,
/// as Kafka's heartbeat thread does, or it never hears UNKNOWN_MEMBER_ID and the run stalls with the group
/// split across two generations.
#[test]
fn a_heartbeat_with_no_known_coordinator_looks_it_up_again() {
    let scenario =
        Scenario::from_toml("eos-tv2.toml", include_str!("../../scenarios/eos-tv2.toml")).expect("valid scenario");
    let outcome = simulate(&scenario, 1444);
    assert!(outcome.stall.is_none(), "{:?}", outcome.stall);
    assert!(check(&outcome.history, scenario.guarantee()).is_valid());
}
