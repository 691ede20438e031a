//! The ranges a scenario's numbers must fall in before a run is built from them.
//!
//! Serde only checks that a number fits its type; a `u64` of milliseconds fits, yet `ms * 1_000_000`
//! overflows, a `u32` broker count fits, yet a `Vec` of four billion brokers does not fit in memory, and a poll
//! interval of zero schedules the next poll at the same instant forever. These bounds keep every accepted
//! scenario a run that ends, in seconds and megabytes at the largest (measured: a thousand partitions or ten
//! virtual minutes run in under twenty seconds): times are at most [`TIME_MS_MAX`] (so that sums of a few of them stay far below
//! `u64::MAX` nanoseconds), the faulty and quiescent phases at most [`PHASE_MS_MAX`], counts far below what a
//! 24 GiB machine holds, and every timeout and interval that schedules a timer above zero.
//! Each check returns the scenario key and a message that gives the allowed range, so the loader can point at
//! the line.

use crate::scenario::{FaultKindConfig, Scenario};

/// Nanoseconds per millisecond.
pub const NS_PER_MS: u64 = 1_000_000;
/// Nanoseconds per microsecond.
pub const NS_PER_US: u64 = 1_000;

/// The longest time a scenario may set, in milliseconds: 30 days (Kafka's longest defaults, a day of producer-id
/// expiration and a week of retention, fit). 30 days is 2.6e15 ns, so adding a few such times never overflows.
pub const TIME_MS_MAX: u64 = 30 * 24 * 3_600 * 1_000;
/// The longest faulty phase (`duration_ms`) or quiescent bound (`quiesce_ms`): ten virtual minutes, three
/// hundred times the built-in scenarios' phases, so that a run ends in seconds of wall time, not hours.
pub const PHASE_MS_MAX: u64 = 600 * 1_000;
/// The largest network latency, in microseconds: ten seconds.
pub const LATENCY_US_MAX: u64 = 10_000_000;
/// The most brokers.
pub const BROKERS_MAX: u32 = 256;
/// The most partitions of the scenario's topics together.
pub const TOPIC_PARTITIONS_MAX: u64 = 1_000;
/// The most partitions of one internal topic (Kafka's default is 50 for both).
pub const INTERNAL_PARTITIONS_MAX: u32 = 200;
/// The most partition replicas in all, user and internal topics together: each is a log in memory.
pub const REPLICAS_MAX: u64 = 100_000;
/// The most applications of one kind (producers, consumers, atomic writers, pipeline instances).
pub const APPS_MAX: u32 = 256;
/// The most application threads per producer.
pub const THREADS_MAX: u32 = 256;
/// The most values one producer sends, transactions one atomic writer runs, or records one pipeline
/// transaction takes.
pub const PER_APP_MAX: u32 = 1_000_000;

/// Milliseconds to nanoseconds. Validation bounds every time to [`TIME_MS_MAX`], so this cannot fail on a
/// scenario the loader accepted; a scenario built in code past that bound is a bug where it was built.
pub fn ms_to_ns(ms: u64) -> u64 {
    assert!(ms <= TIME_MS_MAX, "{ms} ms is past the validated bound of {TIME_MS_MAX} ms");
    ms.checked_mul(NS_PER_MS).expect("TIME_MS_MAX ms fits in u64 nanoseconds")
}

/// Microseconds to nanoseconds, under the same contract as [`ms_to_ns`].
pub fn us_to_ns(us: u64) -> u64 {
    assert!(us <= LATENCY_US_MAX, "{us} us is past the validated bound of {LATENCY_US_MAX} us");
    us.checked_mul(NS_PER_US).expect("LATENCY_US_MAX us fits in u64 nanoseconds")
}

/// A failed check: the scenario key and what was expected.
pub type Invalid = (&'static str, String);

/// Checks every bound of this module on `scenario`.
pub fn check(scenario: &Scenario) -> Result<(), Invalid> {
    check_phases(scenario)?;
    check_times(scenario)?;
    check_intervals(scenario)?;
    check_counts(scenario)?;
    check_faults(scenario)
}

fn within(key: &'static str, value: u64, min: u64, max: u64, unit: &str) -> Result<(), Invalid> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err((key, format!("{key} = {value} is out of range (expected {min}..={max}{unit})")))
}

fn check_phases(scenario: &Scenario) -> Result<(), Invalid> {
    within("duration_ms", scenario.duration_ms, 1, PHASE_MS_MAX, " ms")?;
    within("quiesce_ms", scenario.quiesce_ms, 1, PHASE_MS_MAX, " ms")?;
    let network = &scenario.network;
    within("latency_us_min", network.latency_us_min, 0, LATENCY_US_MAX, " us")?;
    within("latency_us_mean", network.latency_us_mean, 0, LATENCY_US_MAX, " us")
}

/// Every `*_ms` setting of the cluster, producer and workload, with its key.
fn times_ms(scenario: &Scenario) -> Vec<(&'static str, u64)> {
    let cluster = &scenario.cluster;
    let producer = &scenario.producer;
    let workload = &scenario.workload;
    let mut times = vec![
        ("replica_lag_time_max_ms", cluster.replica_lag_time_max_ms),
        ("broker_session_timeout_ms", cluster.broker_session_timeout_ms),
        ("broker_heartbeat_ms", cluster.broker_heartbeat_ms),
        ("replica_fetch_wait_ms", cluster.replica_fetch_wait_ms),
        ("transactional_id_expiration_ms", cluster.transactional_id_expiration_ms),
        ("producer_id_expiration_ms", cluster.producer_id_expiration_ms),
        ("producer_id_expiration_check_interval_ms", cluster.producer_id_expiration_check_interval_ms),
        ("retention_ms", cluster.retention_ms),
        ("retention_check_interval_ms", cluster.retention_check_interval_ms),
        ("send_interval_ms", workload.send_interval_ms),
        ("poll_interval_ms", workload.poll_interval_ms),
        ("transaction_timeout_ms", workload.transaction_timeout_ms),
    ];
    let optional = [
        ("linger_ms", producer.linger_ms),
        ("request_timeout_ms", producer.request_timeout_ms),
        ("delivery_timeout_ms", producer.delivery_timeout_ms),
        ("retry_backoff_ms", producer.retry_backoff_ms),
        ("max_block_ms", producer.max_block_ms),
    ];
    times.extend(optional.into_iter().filter_map(|(key, value)| value.map(|value| (key, value))));
    if let Some(pipeline) = &workload.pipeline {
        times.push(("session_timeout_ms", pipeline.session_timeout_ms));
        times.push(("heartbeat_interval_ms", pipeline.heartbeat_interval_ms));
    }
    times
}

fn check_times(scenario: &Scenario) -> Result<(), Invalid> {
    for (key, value) in times_ms(scenario) {
        within(key, value, 0, TIME_MS_MAX, " ms")?;
    }
    Ok(())
}

/// Timeouts and intervals that arm a timer for "now + value": zero re-arms it at the same instant forever (a
/// livelock in virtual time) or times every request out before it can be answered.
fn check_intervals(scenario: &Scenario) -> Result<(), Invalid> {
    let producer = &scenario.producer;
    let workload = &scenario.workload;
    let positive = [
        ("request_timeout_ms", producer.request_timeout_ms),
        ("delivery_timeout_ms", producer.delivery_timeout_ms),
        ("retry_backoff_ms", producer.retry_backoff_ms),
        ("poll_interval_ms", Some(workload.poll_interval_ms)),
        ("broker_session_timeout_ms", Some(scenario.cluster.broker_session_timeout_ms)),
        ("transactional_id_expiration_ms", Some(scenario.cluster.transactional_id_expiration_ms)),
    ];
    for (key, value) in positive {
        if value == Some(0) {
            return Err((key, format!("{key} = 0 is out of range (expected 1..={TIME_MS_MAX} ms)")));
        }
    }
    Ok(())
}

fn check_counts(scenario: &Scenario) -> Result<(), Invalid> {
    let cluster = &scenario.cluster;
    let workload = &scenario.workload;
    within("brokers", cluster.brokers.into(), 1, BROKERS_MAX.into(), "")?;
    let internal = INTERNAL_PARTITIONS_MAX.into();
    within("transaction_log_partitions", cluster.transaction_log_partitions.into(), 0, internal, "")?;
    within("offsets_partitions", cluster.offsets_partitions.into(), 0, internal, "")?;
    let mut partitions: u64 = 0;
    for topic in &cluster.topics {
        within("partitions", topic.partitions.into(), 0, TOPIC_PARTITIONS_MAX, "")?;
        partitions += u64::from(topic.partitions);
    }
    if partitions > TOPIC_PARTITIONS_MAX {
        let message =
            format!("the topics have {partitions} partitions in all (expected at most {TOPIC_PARTITIONS_MAX})");
        return Err(("topics", message));
    }
    let all = partitions + u64::from(cluster.transaction_log_partitions) + u64::from(cluster.offsets_partitions);
    let replicas = all * u64::from(cluster.replication_factor.min(cluster.brokers));
    if replicas > REPLICAS_MAX {
        let message = format!(
            "{all} partitions (topics and internal) times replication_factor {} make {replicas} replicas \
             (expected at most {REPLICAS_MAX})",
            cluster.replication_factor
        );
        return Err(("replication_factor", message));
    }
    let apps = [
        ("producers", workload.producers),
        ("consumers", workload.consumers),
        ("atomic_writers", workload.atomic_writers),
        ("instances", workload.pipeline.as_ref().map_or(0, |pipeline| pipeline.instances)),
    ];
    for (key, value) in apps {
        within(key, value.into(), 0, APPS_MAX.into(), "")?;
    }
    within("threads_per_producer", workload.threads_per_producer.into(), 1, THREADS_MAX.into(), "")?;
    let per_app = [
        ("messages_per_producer", workload.messages_per_producer),
        ("atomic_txns_per_writer", workload.atomic_txns_per_writer),
        ("atomic_partitions_per_txn", workload.atomic_partitions_per_txn),
        ("max_records_per_txn", workload.pipeline.as_ref().map_or(1, |pipeline| pipeline.max_records_per_txn)),
    ];
    for (key, value) in per_app {
        within(key, value.into(), 0, PER_APP_MAX.into(), "")?;
    }
    Ok(())
}

fn check_faults(scenario: &Scenario) -> Result<(), Invalid> {
    for (name, kind) in scenario.faults.kinds() {
        check_fault_kind(name, kind)?;
    }
    Ok(())
}

fn check_fault_kind(name: &'static str, kind: &FaultKindConfig) -> Result<(), Invalid> {
    let times = [
        ("every_ms", kind.every_ms),
        ("duration_ms", kind.duration_ms[0]),
        ("duration_ms", kind.duration_ms[1]),
        ("delay_ms_max", kind.delay_ms_max),
    ];
    for (key, value) in times {
        if value > TIME_MS_MAX {
            return Err((name, format!("{name}: {key} = {value} is out of range (expected 0..={TIME_MS_MAX} ms)")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_exact_up_to_the_bounds() {
        assert_eq!(ms_to_ns(TIME_MS_MAX), TIME_MS_MAX * NS_PER_MS);
        assert_eq!(us_to_ns(LATENCY_US_MAX), 10_000_000_000);
        // A few bounded times added up still fit: the model adds a deadline to a clock already past a phase.
        assert!(ms_to_ns(TIME_MS_MAX).checked_mul(1_000).is_some());
    }

    #[test]
    #[should_panic(expected = "past the validated bound")]
    fn a_time_past_the_bound_is_refused_loudly_rather_than_wrapped() {
        ms_to_ns(u64::MAX);
    }

    #[test]
    fn within_names_the_key_the_value_and_the_range() {
        let error = within("brokers", 0, 1, 1_000, "").expect_err("zero brokers");
        assert_eq!(error, ("brokers", "brokers = 0 is out of range (expected 1..=1000)".to_string()));
        assert!(within("duration_ms", PHASE_MS_MAX, 1, PHASE_MS_MAX, " ms").is_ok());
    }
}
