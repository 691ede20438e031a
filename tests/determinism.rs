//! The determinism contract (docs/determinism.md) through the library: a run is a pure function of (version, scenario,
//! seed); a repro's explicit schedule replays the swarm-resolved run exactly; a campaign's report does not depend
//! on its thread count.

use std::sync::atomic::AtomicBool;

use eosim::campaign::{run_campaign, CampaignOptions};
use eosim::repro::Repro;
use eosim::{run_seed, scenarios};
use eosim_model::Scenario;
use proptest::prelude::*;

fn builtin(name: &str) -> Scenario {
    match scenarios::load(name) {
        Ok(loaded) => loaded.scenario,
        Err(error) => panic!("{name}: {error}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn any_seed_gives_the_same_run_twice(seed in any::<u64>()) {
        let scenario = builtin("idempotent-restart");
        let first = run_seed(&scenario, seed);
        let again = run_seed(&scenario, seed);
        prop_assert!(first.trace_hash().is_some(), "seed {seed}: {:?}", first.finding());
        prop_assert_eq!(first.trace_hash(), again.trace_hash());
        prop_assert_eq!(first.verdict, again.verdict);
        prop_assert_eq!(first.anomaly_kinds(), again.anomaly_kinds());
    }

    #[test]
    fn any_seed_of_the_transactional_pipeline_gives_the_same_run_twice(seed in any::<u64>()) {
        let scenario = builtin("eos-tv2");
        let first = run_seed(&scenario, seed);
        let again = run_seed(&scenario, seed);
        prop_assert!(first.trace_hash().is_some(), "seed {seed}: {:?}", first.finding());
        prop_assert_eq!(first.trace_hash(), again.trace_hash());
        prop_assert_eq!(first.anomaly_kinds(), again.anomaly_kinds());
    }

    #[test]
    fn a_repro_replays_its_run_exactly(seed in any::<u64>()) {
        let scenario = builtin("at-least-once");
        let original = run_seed(&scenario, seed);
        let repro = Repro::of_run(&scenario, &original);
        let read_back = Repro::parse("repro.json", &repro.to_json()).expect("a written repro reads back");
        prop_assert_eq!(&read_back, &repro);
        let replay = read_back.replay();
        let comparison = read_back.compare(&replay);
        prop_assert!(comparison.trace_hash && comparison.verdict && comparison.anomalies, "{comparison:?}");
        let swarm = replay.outcome.as_ref().map(|outcome| &outcome.swarm);
        prop_assert_eq!(swarm, original.outcome.as_ref().map(|outcome| &outcome.swarm));
    }
}

#[test]
fn a_campaign_report_is_the_same_for_any_thread_count() {
    let scenario = builtin("eos-tv2");
    let stop = AtomicBool::new(false);
    let report = |jobs| {
        let options = CampaignOptions { seed_start: 100, seeds: 16, jobs };
        run_campaign(&scenario, options, &stop, &|_| {}).expect("the campaign runs")
    };
    let one = report(1);
    assert_eq!(one.runs.len(), 16);
    assert_eq!(one.runs.first().map(|run| run.seed), Some(100));
    assert_eq!(one.to_json(), report(3).to_json());
}

#[test]
fn a_stopped_campaign_reports_that_it_was_interrupted() {
    let scenario = builtin("idempotent");
    let stop = AtomicBool::new(true);
    let options = CampaignOptions { seed_start: 0, seeds: 8, jobs: 2 };
    let report = run_campaign(&scenario, options, &stop, &|_| {}).expect("the campaign runs");
    assert!(report.interrupted);
    assert_eq!(report.totals.seeds_run, 0);
}
