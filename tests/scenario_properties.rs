//! Any scenario the loader accepts runs to a verdict: `pass`, `violation` or `stall`, never a `crash` of the model,
//! within a bound of kernel events. Scenarios are generated as TOML text, so they go through the same loader a
//! user's file does, with values drawn across their whole accepted ranges where a run stays small (counts and
//! phases) and at the edges where the hostile inputs were (zero and the largest times, one-thread producers).
//! A value the loader refuses must be refused with `FILE:LINE:COL`, never with a panic.

use eosim::run_seed;
use eosim::Verdict;
use eosim_model::limits::TIME_MS_MAX;
use eosim_model::Scenario;
use proptest::prelude::*;

/// No accepted scenario in these ranges comes near this many kernel events; a run past it is a runaway (a
/// timer re-armed at the same instant, a retry loop without backoff).
const EVENTS_MAX: u64 = 5_000_000;

/// The variant names a scenario file takes.
const VARIANTS: [&str; 6] = ["at-most-once", "at-least-once", "idempotent", "eos-tv1", "eos-tv1-verify", "eos-tv2"];

/// One generated scenario's settings.
#[derive(Clone, Debug)]
struct Drawn {
    variant: usize,
    brokers: u32,
    replication: u32,
    partitions: u32,
    producers: u32,
    threads: u32,
    messages: u32,
    consumers: u32,
    times_ms: [u64; 6],
    duration_ms: u64,
    pipeline: bool,
    fault: Option<(u64, u64, u64)>,
}

/// A time: mostly small, sometimes zero or the largest the loader takes.
fn time_ms() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 1..200u64, 1 => Just(0u64), 1 => Just(TIME_MS_MAX)]
}

fn drawn() -> impl Strategy<Value = Drawn> {
    let counts = (0..VARIANTS.len(), 1..=3u32, 1..=3u32, 1..=3u32, 0..=2u32, 1..=3u32, 0..=12u32, 0..=2u32);
    let times = proptest::array::uniform6(time_ms());
    let fault = proptest::option::of((1..400u64, 0..100u64, 0..300u64));
    (counts, times, 1..600u64, any::<bool>(), fault).prop_map(
        |(
            (variant, brokers, replication, partitions, producers, threads, messages, consumers),
            times_ms,
            duration_ms,
            pipeline,
            fault,
        )| {
            Drawn {
                variant,
                brokers,
                replication,
                partitions,
                producers,
                threads,
                messages,
                consumers,
                times_ms,
                duration_ms,
                pipeline,
                fault,
            }
        },
    )
}

/// The scenario file of `drawn`.
fn scenario_text(drawn: &Drawn) -> String {
    let variant = VARIANTS[drawn.variant];
    let transactional = variant.starts_with("eos");
    let [request_timeout, retry_backoff, linger, poll_interval, send_interval, transaction_timeout] = drawn.times_ms;
    let mut text = format!(
        "name = \"drawn\"\ndescription = \"generated\"\nvariant = \"{variant}\"\nduration_ms = {}\nquiesce_ms = 5000\n\n\
         [cluster]\nbrokers = {}\nreplication_factor = {}\n\
         topics = [{{ name = \"in\", partitions = {} }}, {{ name = \"out\", partitions = 1 }}]\n\n\
         [producer]\nrequest_timeout_ms = {request_timeout}\nretry_backoff_ms = {retry_backoff}\nlinger_ms = {linger}\n\n\
         [workload]\nproducers = {}\nthreads_per_producer = {}\nmessages_per_producer = {}\nconsumers = {}\n\
         poll_interval_ms = {poll_interval}\nsend_interval_ms = {send_interval}\nproducer_topic = \"in\"\n",
        drawn.duration_ms, drawn.brokers, drawn.replication, drawn.partitions, drawn.producers, drawn.threads,
        drawn.messages, drawn.consumers
    );
    if transactional {
        text.push_str(&format!("transaction_timeout_ms = {transaction_timeout}\n"));
        if drawn.pipeline {
            text.push_str("pipeline = { instances = 2, input = \"in\", output = \"out\" }\n");
        }
    }
    if let Some((every_ms, min_ms, extra_ms)) = drawn.fault {
        let max_ms = min_ms + extra_ms;
        text.push_str(&format!(
            "\n[faults]\nbroker-crash = {{ every_ms = {every_ms}, duration_ms = [{min_ms}, {max_ms}] }}\n\
             lost-ack = {{ every_ms = {every_ms}, duration_ms = [{min_ms}, {max_ms}], probability = 0.3 }}\n"
        ));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn an_accepted_scenario_runs_to_a_verdict_within_a_bound_of_events(drawn in drawn(), seed in 0..1_000u64) {
        let text = scenario_text(&drawn);
        let scenario = match Scenario::from_toml("drawn.toml", &text) {
            Ok(scenario) => scenario,
            Err(error) => {
                prop_assert!(error.line >= 1 && error.column >= 1, "{error}");
                prop_assert!(!error.message.is_empty(), "says what is wrong: {error}");
                return Ok(());
            }
        };
        let result = run_seed(&scenario, seed);
        prop_assert!(
            matches!(result.verdict, Verdict::Pass | Verdict::Violation | Verdict::Stall),
            "seed {seed}: {:?}\n{text}",
            result.finding()
        );
        let events = result.outcome.as_ref().map_or(0, |outcome| outcome.stats.events);
        prop_assert!(events <= EVENTS_MAX, "seed {seed}: {events} events\n{text}");
    }
}

#[test]
fn the_generator_reaches_both_accepted_and_refused_scenarios() {
    use proptest::strategy::ValueTree as _;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let draws: Vec<Drawn> = (0..400).map(|_| drawn().new_tree(&mut runner).expect("a draw").current()).collect();
    let accepted = draws.iter().filter(|drawn| Scenario::from_toml("d.toml", &scenario_text(drawn)).is_ok()).count();
    // The property runs are worth something only if a good share of the draws get past the loader.
    assert!((100..400).contains(&accepted), "{accepted} of 400 draws accepted");

    let mut base = Drawn {
        variant: 2,
        brokers: 1,
        replication: 1,
        partitions: 1,
        producers: 1,
        threads: 1,
        messages: 3,
        consumers: 1,
        times_ms: [30, 10, 1, 20, 5, 400],
        duration_ms: 100,
        pipeline: false,
        fault: None,
    };
    assert!(Scenario::from_toml("ok.toml", &scenario_text(&base)).is_ok());
    base.times_ms[0] = 0;
    let error = Scenario::from_toml("zero.toml", &scenario_text(&base)).expect_err("a zero request timeout");
    assert_eq!(error.line, 13, "{error}");
}
