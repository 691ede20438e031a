//! The settings swarm: per seed, the client and broker settings a real deployment varies, drawn within what
//! Kafka accepts, and the wide fault envelope.
//!
//! FoundationDB randomizes its knobs per run (`if (randomize && BUGGIFY)` in `fdbclient/ClientKnobs.cpp`) and
//! TigerBeetle's VOPR draws its options per seed; eosim does the same with [`KNOBS`], one table with one
//! [`Knob`] per setting: its name and unit, the Kafka setting it stands for, the range a draw takes, the
//! cross-constraint Kafka enforces against the knobs above it, and how it reads and writes a [`Scenario`].
//! Adding a knob is one entry in that table (keep an entry below the knobs its limit reads).
//!
//! With `[knobs] swarm = true`, each knob is drawn for the seed with probability 1/2 and otherwise keeps the
//! scenario's own value (its default). Draws come from the seed's settings stream only, so drawing knobs never
//! shifts the fault schedule, the workload or the network; a repro stores every knob's value, and a replay
//! applies the stored values instead of drawing ([`KnobsConfig::values`]), which lets a shrinker restore one knob
//! to its default and keep every other choice.
//!
//! `envelope = "wide"` widens the scenario's faults against the settings of the seed ([`resolve_faults`]):
//! delays up to ten request timeouts, pauses up to twice the longest transaction, group or broker session
//! timeout, and crash storms (several crashes close together). It also turns the knob swarm and the
//! `buggify!` points on.

use crate::scenario::{Scenario, PRODUCER_EPOCH_START_MAX};
use eosim_sim::{FaultKind, FaultPlan, FaultSchedule, FaultTargets, Ratio, SimRng, StormSpec, Stream, SwarmChoices};
use serde::{Deserialize, Serialize};

const NS_PER_MS: u64 = 1_000_000;

/// How far faults may reach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Envelope {
    /// The scenario's faults as written.
    #[default]
    Narrow,
    /// Delays beyond the request timeout, pauses beyond the session and transaction timeouts, crash storms.
    Wide,
}

/// The `[knobs]` section of a scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnobsConfig {
    /// Draw the settings of [`KNOBS`] per seed.
    #[serde(default)]
    pub swarm: bool,
    /// How far faults may reach; `wide` also turns the knob swarm on.
    #[serde(default)]
    pub envelope: Envelope,
    /// Explicit knob values that replace the draw (what a repro replays and a shrinker edits); never read from a
    /// scenario file.
    #[serde(skip)]
    pub values: Option<Vec<KnobValue>>,
}

impl KnobsConfig {
    /// True when nothing is drawn or widened: the scenario runs as written.
    pub fn is_off(&self) -> bool {
        !self.swarm && self.envelope == Envelope::Narrow && self.values.is_none()
    }

    /// True when the seed draws its settings.
    pub fn swarms(&self) -> bool {
        self.swarm || self.envelope == Envelope::Wide
    }

    /// True when the `buggify!` points act.
    pub fn buggify(&self) -> bool {
        self.swarms()
    }
}

/// One knob's value in a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnobValue {
    /// The knob's name in [`KNOBS`].
    pub name: String,
    /// The value the run used, in the knob's unit.
    pub value: u64,
    /// The scenario's own value.
    pub default: u64,
}

/// One tunable setting.
pub struct Knob {
    /// Name, unit last: `request_timeout_ms`.
    pub name: &'static str,
    /// Unit of the value: `ms`, `records`, `requests`.
    pub unit: &'static str,
    /// The Kafka setting it stands for, and where Kafka checks it.
    pub kafka: &'static str,
    /// Whether the scenario has this setting at all (a group session timeout needs a consumer group).
    pub applies: fn(&Scenario) -> bool,
    /// The range a draw takes, inclusive.
    pub range: (u64, u64),
    /// The bounds Kafka enforces given the knobs above this one, inclusive; `NO_LIMIT` when none.
    pub limit: fn(&Scenario) -> (u64, u64),
    /// The scenario's value.
    pub get: fn(&Scenario) -> u64,
    /// Sets the scenario's value.
    pub set: fn(&mut Scenario, u64),
}

/// No cross-constraint.
const NO_LIMIT: fn(&Scenario) -> (u64, u64) = |_| (0, u64::MAX);

fn always(_: &Scenario) -> bool {
    true
}
fn transactional(scenario: &Scenario) -> bool {
    scenario.variant.is_transactional()
}
fn has_group(scenario: &Scenario) -> bool {
    scenario.workload.pipeline.is_some()
}
fn ms(ns: u64) -> u64 {
    ns / NS_PER_MS
}

/// Every knob, in draw order: a knob's limit may read only the knobs above it.
///
/// Other settings join here as one entry each (producer-id expiration, retention, record size and max request
/// size, coordinator load cost): name, unit, Kafka's setting, range, limit, get, set.
pub const KNOBS: &[Knob] = &[
    Knob {
        name: "request_timeout_ms",
        unit: "ms",
        kafka: "request.timeout.ms (ProducerConfig, atLeast(0))",
        applies: always,
        range: (5, 300),
        limit: NO_LIMIT,
        get: |s| ms(s.producer_settings().request_timeout_ns),
        set: |s, v| s.producer.request_timeout_ms = Some(v),
    },
    Knob {
        name: "linger_ms",
        unit: "ms",
        kafka: "linger.ms (ProducerConfig, atLeast(0))",
        applies: always,
        range: (0, 50),
        limit: NO_LIMIT,
        get: |s| ms(s.producer_settings().linger_ns),
        set: |s, v| s.producer.linger_ms = Some(v),
    },
    Knob {
        name: "delivery_timeout_ms",
        unit: "ms",
        kafka: "delivery.timeout.ms >= linger.ms + request.timeout.ms (KafkaProducer.configureDeliveryTimeout)",
        applies: always,
        range: (50, 20_000),
        limit: |s| {
            let producer = s.producer_settings();
            (ms(producer.linger_ns) + ms(producer.request_timeout_ns), u64::MAX)
        },
        get: |s| ms(s.producer_settings().delivery_timeout_ns),
        set: |s, v| s.producer.delivery_timeout_ms = Some(v),
    },
    Knob {
        name: "retry_backoff_ms",
        unit: "ms",
        kafka: "retry.backoff.ms (ProducerConfig, atLeast(0)); one retry fits in delivery.timeout.ms (below)",
        applies: always,
        range: (1, 200),
        // Kafka accepts a backoff longer than what `delivery.timeout.ms` leaves after the first attempt, but then
        // every batch that meets one retriable error (NOT_ENOUGH_REPLICAS while its verification is written)
        // expires before its retry, its transaction aborts, and the next one meets the same: a livelock of the
        // configuration (eos-tv2 --wide seed 8469 drew a 77 ms backoff against a 63 ms delivery timeout).
        limit: |s| {
            let producer = s.producer_settings();
            let first_attempt = ms(producer.linger_ns) + ms(producer.request_timeout_ns);
            (1, ms(producer.delivery_timeout_ns).saturating_sub(first_attempt).max(1))
        },
        get: |s| ms(s.producer_settings().retry_backoff_ns),
        set: |s, v| s.producer.retry_backoff_ms = Some(v),
    },
    Knob {
        name: "batch_records",
        unit: "records",
        kafka: "batch.size (ProducerConfig, atLeast(0)), counted in records",
        applies: always,
        range: (1, 16),
        limit: |_| (1, u64::MAX),
        get: |s| u64::from(s.producer_settings().batch_records),
        set: |s, v| s.producer.batch_records = Some(v as u32),
    },
    Knob {
        name: "max_in_flight",
        unit: "requests",
        kafka: "max.in.flight.requests.per.connection, at most 5 with idempotence (ProducerConfig)",
        applies: always,
        range: (1, 5),
        limit: |_| (1, 5),
        get: |s| u64::from(s.producer_settings().max_in_flight),
        set: |s, v| s.producer.max_in_flight = Some(v as u32),
    },
    Knob {
        name: "transaction_timeout_ms",
        unit: "ms",
        kafka: "transaction.timeout.ms <= transaction.max.timeout.ms (TransactionCoordinator.handleInitProducerId); \
                at least two retries long (below)",
        applies: transactional,
        range: (50, 2_000),
        // Kafka accepts a transaction timeout shorter than a retry, but then every transaction that meets one
        // retriable error (CONCURRENT_TRANSACTIONS, NOT_COORDINATOR, a lost request) is timed out and fenced
        // before its retry, and so is the next: a livelock of the configuration, not of the protocol. The
        // wide soak's stalls were these (docs/findings.md), so the draw stays where progress is possible.
        limit: |s| {
            let producer = s.producer_settings();
            (2 * (ms(producer.request_timeout_ns) + ms(producer.retry_backoff_ns)), u64::MAX)
        },
        get: |s| s.workload.transaction_timeout_ms,
        set: |s, v| s.workload.transaction_timeout_ms = v,
    },
    Knob {
        name: "session_timeout_ms",
        unit: "ms",
        kafka: "session.timeout.ms within group.min/max.session.timeout.ms (GroupCoordinator)",
        applies: has_group,
        range: (40, 1_000),
        limit: |_| (2, u64::MAX),
        get: |s| s.workload.pipeline.as_ref().map_or(0, |pipeline| pipeline.session_timeout_ms),
        set: |s, v| s.workload.pipeline.iter_mut().for_each(|pipeline| pipeline.session_timeout_ms = v),
    },
    Knob {
        name: "heartbeat_interval_ms",
        unit: "ms",
        kafka: "heartbeat.interval.ms < session.timeout.ms (consumer Heartbeat)",
        applies: has_group,
        range: (5, 300),
        limit: |s| (1, s.workload.pipeline.as_ref().map_or(u64::MAX, |pipeline| pipeline.session_timeout_ms - 1)),
        get: |s| s.workload.pipeline.as_ref().map_or(0, |pipeline| pipeline.heartbeat_interval_ms),
        set: |s, v| s.workload.pipeline.iter_mut().for_each(|pipeline| pipeline.heartbeat_interval_ms = v),
    },
    Knob {
        name: "replica_lag_time_max_ms",
        unit: "ms",
        kafka: "replica.lag.time.max.ms (KafkaConfig)",
        applies: always,
        range: (20, 1_000),
        limit: |_| (4, u64::MAX),
        get: |s| s.cluster.replica_lag_time_max_ms,
        set: |s, v| s.cluster.replica_lag_time_max_ms = v,
    },
    Knob {
        name: "replica_fetch_wait_ms",
        unit: "ms",
        kafka: "replica.fetch.wait.max.ms <= replica.lag.time.max.ms (KafkaConfig)",
        applies: always,
        range: (1, 100),
        limit: |s| (1, s.cluster.replica_lag_time_max_ms),
        get: |s| s.cluster.replica_fetch_wait_ms,
        set: |s, v| s.cluster.replica_fetch_wait_ms = v,
    },
    Knob {
        name: "broker_session_timeout_ms",
        unit: "ms",
        kafka: "broker.session.timeout.ms (KafkaConfig, KRaft)",
        applies: always,
        range: (50, 1_000),
        limit: |_| (2, u64::MAX),
        get: |s| s.cluster.broker_session_timeout_ms,
        set: |s, v| s.cluster.broker_session_timeout_ms = v,
    },
    Knob {
        name: "broker_heartbeat_ms",
        unit: "ms",
        kafka: "broker.heartbeat.interval.ms below broker.session.timeout.ms (KafkaConfig, KRaft)",
        applies: always,
        range: (5, 200),
        limit: |s| (1, s.cluster.broker_session_timeout_ms - 1),
        get: |s| s.cluster.broker_heartbeat_ms,
        set: |s, v| s.cluster.broker_heartbeat_ms = v,
    },
    Knob {
        name: "flush_messages",
        unit: "records",
        kafka: "log.flush.interval.messages (KafkaConfig, atLeast(1))",
        applies: always,
        range: (1, 100),
        limit: NO_LIMIT,
        get: |s| s.cluster.flush_messages,
        set: |s, v| s.cluster.flush_messages = v,
    },
    Knob {
        name: "snapshot_interval_messages",
        unit: "records",
        kafka: "producer-state snapshot interval (ProducerStateManager.takeSnapshot at segment roll)",
        applies: always,
        range: (1, 500),
        limit: |_| (1, u64::MAX),
        get: |s| s.cluster.snapshot_interval_messages,
        set: |s, v| s.cluster.snapshot_interval_messages = v,
    },
    Knob {
        // Drawn near exhaustion, where it matters: a long-lived transactional id whose producer id rotates
        // within the run (`prepareProducerIdRotation`).
        name: "producer_epoch_start",
        unit: "epochs",
        kafka:
            "the epoch of a transactional id long in use (TransactionMetadata.producerEpoch, below Short.MaxValue - 1)",
        applies: transactional,
        range: (PRODUCER_EPOCH_START_MAX as u64 - 100, PRODUCER_EPOCH_START_MAX as u64),
        limit: |_| (0, u64::from(PRODUCER_EPOCH_START_MAX)),
        get: |s| s.cluster.producer_epoch_start,
        set: |s, v| s.cluster.producer_epoch_start = v,
    },
];

/// The knob called `name`.
pub fn knob(name: &str) -> Option<&'static Knob> {
    KNOBS.iter().find(|knob| knob.name == name)
}

/// `scenario` with this seed's settings applied, and every applicable knob's value. A scenario whose knobs are
/// off comes back unchanged with no values; explicit [`KnobsConfig::values`] are applied as they are.
pub fn apply(scenario: &Scenario, seed: u64) -> (Scenario, Vec<KnobValue>) {
    let mut tuned = scenario.clone();
    if let Some(values) = &scenario.knobs.values {
        for value in values {
            let knob = knob(&value.name).unwrap_or_else(|| panic!("unknown knob {:?}", value.name));
            (knob.set)(&mut tuned, value.value);
        }
        return (tuned, values.clone());
    }
    if !scenario.knobs.swarms() {
        return (tuned, Vec::new());
    }
    let mut rng = SimRng::new(seed, Stream::Settings);
    let mut values = Vec::new();
    for knob in KNOBS {
        // Both numbers are drawn for every knob, applicable or not, so one knob never shifts another's draw.
        let drawn = rng.below(2) == 0;
        let pick = rng.next_u64();
        if !(knob.applies)(&tuned) {
            continue;
        }
        let default = (knob.get)(scenario);
        let value = if drawn { draw(knob, &tuned, pick) } else { clamp((knob.limit)(&tuned), (knob.get)(&tuned)) };
        (knob.set)(&mut tuned, value);
        values.push(KnobValue { name: knob.name.to_string(), value, default });
    }
    assert!(check(&tuned).is_ok(), "drawn knobs respect Kafka's constraints: {:?}", check(&tuned));
    (tuned, values)
}

/// A value in the knob's range intersected with its limit (the limit wins when they do not meet), from a
/// uniform 64-bit `pick`.
fn draw(knob: &Knob, scenario: &Scenario, pick: u64) -> u64 {
    let (low, high) = (knob.limit)(scenario);
    let (range_low, range_high) = (knob.range.0.max(low), knob.range.1.min(high));
    if range_low > range_high {
        return clamp((low, high), knob.range.0);
    }
    let span = u128::from(range_high - range_low) + 1;
    range_low + ((u128::from(pick) * span) >> 64) as u64
}

fn clamp((low, high): (u64, u64), value: u64) -> u64 {
    value.clamp(low, high.max(low))
}

/// Whether every applicable knob of `scenario` is within the limit Kafka enforces; names the first that is not.
pub fn check(scenario: &Scenario) -> Result<(), String> {
    for knob in KNOBS.iter().filter(|knob| (knob.applies)(scenario)) {
        let (low, high) = (knob.limit)(scenario);
        let value = (knob.get)(scenario);
        if value < low || value > high {
            return Err(format!("{} = {value} {} is outside {low}..={high}: {}", knob.name, knob.unit, knob.kafka));
        }
    }
    Ok(())
}

/// Whether explicit knob values name known knobs; names the first unknown one.
pub fn check_names(values: &[KnobValue]) -> Result<(), String> {
    match values.iter().find(|value| knob(&value.name).is_none()) {
        Some(value) => {
            let names: Vec<&str> = KNOBS.iter().map(|knob| knob.name).collect();
            Err(format!("unknown knob {:?} (expected one of {})", value.name, names.join("|")))
        }
        None => Ok(()),
    }
}

/// This seed's swarm choices and fault schedule for `scenario` (with its knobs applied): the explicit schedule
/// when it has one, else the swarm resolved from the seed, widened and with crash storms when the envelope is
/// wide.
pub fn resolve_faults(scenario: &Scenario, seed: u64, targets: &FaultTargets) -> (SwarmChoices, FaultSchedule) {
    let mut spec = match scenario.fault_plan() {
        FaultPlan::Schedule(schedule) => return (SwarmChoices::default(), schedule),
        FaultPlan::Swarm(spec) => spec,
    };
    let phase_ns = scenario.duration_ns();
    if scenario.knobs.envelope == Envelope::Narrow {
        return spec.resolve(seed, targets, phase_ns);
    }
    let (delay_ns_max, pause_ns_max) = wide_reach_ns(scenario);
    for (kind, kind_spec) in &mut spec.kinds {
        match kind {
            FaultKind::Delay => kind_spec.delay_ns_max = kind_spec.delay_ns_max.max(delay_ns_max),
            FaultKind::ServerPause | FaultKind::ClientPause | FaultKind::ConsumerPause => {
                kind_spec.duration_ns_max = kind_spec.duration_ns_max.max(pause_ns_max);
            }
            _ => {}
        }
    }
    let (choices, schedule) = spec.resolve(seed, targets, phase_ns);
    (choices, schedule.with_storms(seed, &WIDE_STORMS, targets, phase_ns))
}

/// Crash storms of the wide envelope: a third of the crashes bring up to three more within 50 ms.
pub const WIDE_STORMS: StormSpec =
    StormSpec { probability: Ratio { numerator: 1, denominator: 3 }, crashes_max: 3, window_ns: 50 * NS_PER_MS };

/// The wide envelope's longest delay (ten request timeouts) and longest pause (twice the longest of the
/// transaction, group session and broker session timeouts), in nanoseconds.
pub fn wide_reach_ns(scenario: &Scenario) -> (u64, u64) {
    let request_timeout_ns = scenario.producer_settings().request_timeout_ns;
    let session_ms = scenario.workload.pipeline.as_ref().map_or(0, |pipeline| pipeline.session_timeout_ms);
    let txn_ms = if transactional(scenario) { scenario.workload.transaction_timeout_ms } else { 0 };
    let longest_ms = session_ms.max(txn_ms).max(scenario.cluster.broker_session_timeout_ms);
    (10 * request_timeout_ns, 2 * longest_ms * NS_PER_MS)
}

/// The knob's line in a run's output: `knob request_timeout_ms = 217 ms`, with `(default)` when unchanged.
pub fn describe(value: &KnobValue) -> String {
    let unit = knob(&value.name).map_or("", |knob| knob.unit);
    let note = if value.value == value.default { " (default)" } else { "" };
    format!("knob {} = {} {unit}{note}", value.name, value.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin(name: &str) -> Scenario {
        let path = format!("{}/../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("a built-in scenario file");
        Scenario::from_toml(&path, &text).expect("valid")
    }

    fn swarmed(name: &str, envelope: Envelope) -> Scenario {
        let mut scenario = builtin(name);
        scenario.knobs.swarm = true;
        scenario.knobs.envelope = envelope;
        scenario
    }

    /// FoundationDB's `ClientKnobs::initialize(randomize)`: the same seed draws the same knobs.
    #[test]
    fn the_same_seed_draws_the_same_knobs_and_seeds_differ() {
        let scenario = swarmed("eos-tv2", Envelope::Narrow);
        assert_eq!(apply(&scenario, 5), apply(&scenario, 5));
        let differ = (0..20).any(|seed| apply(&scenario, seed).1 != apply(&scenario, 5).1);
        assert!(differ, "some seed draws other knobs");
        assert_eq!(apply(&builtin("eos-tv2"), 5), (builtin("eos-tv2"), Vec::new()), "off: unchanged");
    }

    /// KafkaProducer.configureDeliveryTimeout and the consumer's Heartbeat: drawn knobs respect the constraints.
    #[test]
    fn drawn_knobs_respect_kafkas_cross_constraints() {
        for seed in 0..200 {
            let (tuned, values) = apply(&swarmed("eos-tv2", Envelope::Wide), seed);
            let producer = tuned.producer_settings();
            assert!(producer.delivery_timeout_ns >= producer.linger_ns + producer.request_timeout_ns);
            let pipeline = tuned.workload.pipeline.as_ref().expect("eos-tv2 has a pipeline");
            assert!(pipeline.heartbeat_interval_ms < pipeline.session_timeout_ms);
            assert!(tuned.cluster.replica_fetch_wait_ms <= tuned.cluster.replica_lag_time_max_ms);
            assert!(tuned.validate().is_ok(), "seed {seed}: {:?}", tuned.validate());
            assert_eq!(values.len(), KNOBS.len());
        }
        let mut broken = swarmed("eos-tv2", Envelope::Narrow);
        broken.producer.delivery_timeout_ms = Some(10);
        let error = check(&broken).expect_err("delivery.timeout.ms below linger.ms + request.timeout.ms");
        assert!(error.contains("delivery_timeout_ms"), "{error}");
    }

    /// One stream per purpose: drawing knobs leaves the fault schedule of the seed as it was.
    #[test]
    fn drawing_knobs_does_not_change_the_fault_schedule() {
        let targets = FaultTargets {
            servers: vec![eosim_sim::NodeId(0), eosim_sim::NodeId(1), eosim_sim::NodeId(2)],
            clients: vec![eosim_sim::NodeId(4)],
            controllers: vec![eosim_sim::NodeId(3)],
            consumers: vec![eosim_sim::NodeId(5)],
            all: (0..6).map(eosim_sim::NodeId).collect(),
        };
        for seed in 0..20 {
            let plain = builtin("eos-tv2");
            let (tuned, values) = apply(&swarmed("eos-tv2", Envelope::Narrow), seed);
            assert!(values.iter().any(|value| value.value != value.default));
            assert_eq!(resolve_faults(&plain, seed, &targets), resolve_faults(&tuned, seed, &targets));
        }
    }

    #[test]
    fn explicit_values_replace_the_draw_and_restore_one_knob() {
        let scenario = swarmed("eos-tv2", Envelope::Narrow);
        let (tuned, mut values) = apply(&scenario, 9);
        let mut replayed = scenario.clone();
        replayed.knobs.values = Some(values.clone());
        assert_eq!(apply(&replayed, 9).0.producer, tuned.producer);
        let index = values.iter().position(|value| value.name == "linger_ms").expect("always applies");
        values[index].value = values[index].default;
        replayed.knobs.values = Some(values);
        let restored = apply(&replayed, 9).0;
        assert_eq!(restored.producer.linger_ms, Some(1));
        assert_eq!(restored.producer.request_timeout_ms, tuned.producer.request_timeout_ms, "others stay");
        assert!(check_names(&[KnobValue { name: "nope".into(), value: 1, default: 1 }]).is_err());
    }

    #[test]
    fn the_wide_envelope_reaches_past_the_timeouts() {
        let (tuned, _) = apply(&swarmed("eos-tv2", Envelope::Wide), 3);
        let (delay_ns, pause_ns) = wide_reach_ns(&tuned);
        assert_eq!(delay_ns, 10 * tuned.producer_settings().request_timeout_ns);
        assert!(pause_ns >= 2 * tuned.workload.transaction_timeout_ms * NS_PER_MS);
        let session_ms = tuned.workload.pipeline.as_ref().map_or(0, |pipeline| pipeline.session_timeout_ms);
        assert!(pause_ns >= 2 * session_ms * NS_PER_MS);
    }

    mod ranges {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            /// Every drawn knob lies in its range or, when its Kafka limit is tighter, in its limit.
            #[test]
            fn every_drawn_knob_lies_in_its_range(seed in any::<u64>()) {
                let scenario = swarmed("eos-tv2", Envelope::Wide);
                let (tuned, values) = apply(&scenario, seed);
                for value in &values {
                    let knob = knob(&value.name).expect("known");
                    let (low, high) = (knob.limit)(&tuned);
                    let meets = knob.range.0.max(low) <= knob.range.1.min(high);
                    let in_range = (knob.range.0..=knob.range.1).contains(&value.value);
                    prop_assert!(value.value == value.default || in_range || !meets, "{} = {}", value.name, value.value);
                    prop_assert!(value.value >= low && value.value <= high, "{} = {}", value.name, value.value);
                }
                prop_assert!(check(&tuned).is_ok());
            }
        }
    }
}
