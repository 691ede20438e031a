//! The campaign engine through the library: shards that merge into the unsharded report byte for byte, early
//! stops (first failure, time budget, Ctrl-C) that report what finished, and the coverage table.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use eosim::campaign::{run_campaign, run_campaign_scoped, CampaignOptions, CampaignScope};
use eosim::coverage::expected_points;
use eosim::scenarios;
use eosim_model::Scenario;
use eosim_reports::{merge, CampaignReport, Shard, StopReason};

fn builtin(name: &str) -> Scenario {
    match scenarios::load(name) {
        Ok(loaded) => loaded.scenario,
        Err(error) => panic!("{name}: {error}"),
    }
}

fn campaign(scenario: &Scenario, seeds: u64, jobs: usize, scope: CampaignScope) -> CampaignReport {
    let options = CampaignOptions { seed_start: 3, seeds, jobs };
    run_campaign_scoped(scenario, options, scope, &AtomicBool::new(false), &|_| {}).expect("the campaign runs")
}

fn shard(index: u64, count: u64) -> CampaignScope {
    CampaignScope { shard: Shard::new(index, count), ..CampaignScope::default() }
}

#[test]
fn shards_merge_into_the_unsharded_report_byte_for_byte() {
    let scenario = builtin("at-most-once");
    let whole = campaign(&scenario, 11, 2, CampaignScope::default());
    assert!(whole.totals.failing > 0, "at-most-once loses writes in 11 seeds");
    for count in [2, 3] {
        let reports: Vec<(String, CampaignReport)> = (1..=count)
            .map(|index| (format!("shard-{index}"), campaign(&scenario, 11, 1, shard(index, count))))
            .collect();
        for (name, report) in &reports {
            let shard = report.shard.expect("a shard report records its shard");
            assert!(report.runs.iter().all(|run| shard.contains(3, run.seed)), "{name}");
            assert_eq!(report.runs.len() as u64, shard.seed_count(11), "{name}");
            assert_eq!(report.stopped, None, "{name}");
        }
        let merged = merge(&reports).expect("the shards merge");
        assert_eq!(merged.to_json(), whole.to_json(), "{count} shards");
    }
}

#[test]
fn stop_on_first_reports_every_seed_up_to_the_first_failure() {
    let scenario = builtin("at-most-once");
    let scope = CampaignScope { stop_on_first: true, ..CampaignScope::default() };
    let sequential = campaign(&scenario, 200, 1, scope);
    assert_eq!(sequential.stopped, Some(StopReason::FirstFailure));
    assert!(!sequential.interrupted, "interrupted is Ctrl-C's alone");
    let last = sequential.runs.last().expect("some seed ran");
    assert!(last.verdict.is_failure(), "one thread stops right after the failing seed");
    assert_eq!(sequential.failing().count(), 1);
    let seeds: Vec<u64> = sequential.runs.iter().map(|run| run.seed).collect();
    assert_eq!(seeds, (3..=last.seed).collect::<Vec<_>>(), "seeds start in order");
    // With two threads a seed after the failing one may have been running too; the first failure is the same.
    let parallel = campaign(&scenario, 200, 2, scope);
    assert_eq!(parallel.failing().next().map(|run| run.seed), Some(last.seed));
    assert_eq!(&parallel.runs[..seeds.len()], &sequential.runs[..]);
}

#[test]
fn a_spent_time_budget_or_a_stop_flag_starts_no_seed_and_says_so() {
    let scenario = builtin("idempotent");
    let scope = CampaignScope { time_budget: Some(Duration::ZERO), ..CampaignScope::default() };
    let budget = campaign(&scenario, 50, 2, scope);
    assert_eq!(budget.stopped, Some(StopReason::TimeBudget));
    assert!(budget.runs.is_empty());
    let text = budget.render_text(&eosim_reports::TextOptions::new("idempotent"));
    assert!(text.contains("cut short: the time budget ran out (--time-budget): 0 of 50 seeds ran"), "{text}");
    let options = CampaignOptions { seed_start: 0, seeds: 50, jobs: 2 };
    let stopped = run_campaign(&scenario, options, &AtomicBool::new(true), &|_| {}).expect("runs");
    assert_eq!(stopped.stopped, Some(StopReason::Interrupted));
    assert!(stopped.interrupted);
    let generous = CampaignScope { time_budget: Some(Duration::from_secs(3600)), ..CampaignScope::default() };
    assert_eq!(campaign(&scenario, 4, 2, generous).stopped, None, "a budget that is not spent cuts nothing");
}

#[test]
fn coverage_counts_the_runs_that_reached_each_point() {
    let scenario = builtin("at-most-once");
    let report = campaign(&scenario, 12, 2, CampaignScope::default());
    let coverage = &report.coverage;
    assert_eq!(coverage.expected, expected_points(&scenario));
    for (kind, runs) in &report.totals.faults {
        let point = coverage.points.get(&format!("fault:{kind}")).unwrap_or_else(|| panic!("fault:{kind}"));
        assert_eq!(point.runs, *runs, "{kind}: runs that injected it are runs that reached it");
        assert!(point.count >= point.runs);
    }
    for point in &coverage.never_reached {
        assert_eq!(coverage.points[point].runs, 0, "{point}");
    }
    assert!(coverage.points.keys().any(|name| !name.starts_with("fault:")), "the model's counters are there too");
    let text = report.render_text(&eosim_reports::TextOptions::new("at-most-once"));
    assert!(text.contains("coverage (runs that reached each point, total count):"), "{text}");
}

#[test]
fn a_configured_fault_kind_that_never_strikes_is_flagged_never_reached() {
    let tiny = std::fs::read_to_string("tests/fixtures/tiny.toml").expect("the tiny fixture");
    // A mean interval of a day in a run of 300 ms: the kind is configured but, in practice, never drawn.
    let text = tiny.replace("[faults]\n", "[faults]\nbroker-pause = { every_ms = 86400000, duration_ms = [1, 2] }\n");
    let scenario = Scenario::from_toml("tiny-with-pause.toml", &text).expect("a valid scenario");
    let report = campaign(&scenario, 4, 2, CampaignScope::default());
    assert_eq!(report.coverage.never_reached, vec!["fault:broker-pause".to_string()]);
    let text = report.render_text(&eosim_reports::TextOptions::new("tiny-with-pause.toml"));
    assert!(text.contains("NEVER REACHED"), "{text}");
    assert!(text.contains("never reached: fault:broker-pause\n"), "{text}");
}

#[test]
fn transactional_scenarios_expect_every_transaction_state() {
    for builtin_scenario in scenarios::BUILTINS {
        let scenario = builtin(builtin_scenario.name);
        let points = expected_points(&scenario);
        let txn_states = points.iter().filter(|point| point.starts_with("txn-state:")).count();
        let transactional = scenario.variant.name().starts_with("eos");
        assert_eq!(txn_states, if transactional { 8 } else { 0 }, "{}", builtin_scenario.name);
        for (kind, _) in scenario.faults.kinds() {
            assert!(points.contains(&format!("fault:{kind}")), "{}: {kind}", builtin_scenario.name);
        }
    }
}
