//! Scenarios: the cluster, the protocol variant, the workload, the faults and the guarantee, as a TOML file.
//!
//! Times in files are milliseconds (`*_ms`) or microseconds (`*_us`); inside the model every time is in
//! nanoseconds. Unknown keys are errors that name the file, the line and the keys that were expected.

use crate::knobs::KnobsConfig;
use crate::protocol::IsolationLevel;
use eosim_checker::{AnomalyKind, Guarantee};
use eosim_sim::{FaultKind, FaultPlan, FaultSchedule, KindSpec, LinkLatency, NetworkOptions, Ratio, SwarmSpec};
use serde::{Deserialize, Serialize};

use crate::limits::{ms_to_ns, us_to_ns};
use crate::scenario_error;
pub use crate::scenario_error::ScenarioError;

/// The delivery guarantee a producer is configured for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// acks=0 or no retries: a lost request is a lost write.
    AtMostOnce,
    /// Retries without idempotence: a lost ack becomes a duplicate.
    AtLeastOnce,
    /// Producer id, epoch and sequence numbers: retries are deduplicated within one producer session.
    Idempotent,
    /// Transaction version 1 (KIP-98 + KIP-447, Kafka 2.5–3.5): the client sends AddPartitionsToTxn, one
    /// epoch per producer session. First called `eos-v1` here.
    #[serde(rename = "eos-tv1", alias = "eos-v1")]
    EosTv1,
    /// Transaction version 1 with KIP-890 part 1 verification (Kafka 3.7–3.9): the client still adds
    /// partitions, and the partition leader verifies with the coordinator before a transaction's first append.
    #[serde(rename = "eos-tv1-verify")]
    EosTv1Verify,
    /// Transaction version 2 (KIP-890 part 2, Kafka 4.0+, `transaction.version=2`): partitions added by their
    /// leaders, an epoch bump per EndTxn carried by the markers. First called `eos-v2` here.
    #[serde(rename = "eos-tv2", alias = "eos-v2")]
    EosTv2,
}

impl Variant {
    /// Every variant, in the order `eosim list` documents them.
    pub const ALL: [Variant; 6] = [
        Variant::AtMostOnce,
        Variant::AtLeastOnce,
        Variant::Idempotent,
        Variant::EosTv1,
        Variant::EosTv1Verify,
        Variant::EosTv2,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::AtMostOnce => "at-most-once",
            Variant::AtLeastOnce => "at-least-once",
            Variant::Idempotent => "idempotent",
            Variant::EosTv1 => "eos-tv1",
            Variant::EosTv1Verify => "eos-tv1-verify",
            Variant::EosTv2 => "eos-tv2",
        }
    }

    /// The variant's former name, still accepted in scenario files and on the command line.
    pub fn alias(self) -> Option<&'static str> {
        match self {
            Variant::EosTv1 => Some("eos-v1"),
            Variant::EosTv2 => Some("eos-v2"),
            _ => None,
        }
    }

    /// True for the transactional variants.
    pub fn is_transactional(self) -> bool {
        matches!(self, Variant::EosTv1 | Variant::EosTv1Verify | Variant::EosTv2)
    }

    /// Transaction version 1: the client sends AddPartitionsToTxn before a partition's first batch.
    pub fn explicit_add_partitions(self) -> bool {
        matches!(self, Variant::EosTv1 | Variant::EosTv1Verify)
    }

    /// KIP-890 part 1: a partition leader verifies a transactional batch with the coordinator before it
    /// appends the first one of a transaction (only verifying under TV1, adding the partition under TV2).
    pub fn verifies_partitions(self) -> bool {
        matches!(self, Variant::EosTv1Verify | Variant::EosTv2)
    }

    /// Transaction version 2: every EndTxn bumps the producer epoch at Prepare and markers carry it.
    pub fn epoch_bump_per_txn(self) -> bool {
        self == Variant::EosTv2
    }

    /// The guarantee the variant claims.
    pub fn claimed_guarantee(self) -> Guarantee {
        match self {
            Variant::AtMostOnce => Guarantee::AtMostOnce,
            Variant::AtLeastOnce => Guarantee::AtLeastOnce,
            Variant::Idempotent => Guarantee::Idempotent,
            Variant::EosTv1 | Variant::EosTv1Verify | Variant::EosTv2 => Guarantee::KafkaEos,
        }
    }
}

/// Kafka's `acks` producer setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Acks {
    /// Fire and forget: the producer never hears from the broker.
    #[serde(rename = "0")]
    None,
    /// The leader acknowledges once it appended.
    #[serde(rename = "1")]
    Leader,
    /// The leader acknowledges once every in-sync replica has the batch.
    #[serde(rename = "all")]
    All,
}

/// A topic and its partition count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    /// Topic name; keys in the history are `name-partition`.
    pub name: String,
    /// Number of partitions.
    pub partitions: u32,
}

/// The brokers, topics and replication settings, named as Kafka names them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Number of brokers; the replicas of partition `i` are brokers `i, i+1, …` (mod brokers).
    pub brokers: u32,
    /// Topics.
    pub topics: Vec<TopicConfig>,
    /// Replicas per partition.
    #[serde(default = "one")]
    pub replication_factor: u32,
    /// `min.insync.replicas`.
    #[serde(default = "one")]
    pub min_insync_replicas: u32,
    /// `unclean.leader.election.enable`.
    #[serde(default)]
    pub unclean_leader_election: bool,
    /// `replica.lag.time.max.ms`.
    #[serde(default = "default_replica_lag_ms")]
    pub replica_lag_time_max_ms: u64,
    /// `broker.session.timeout.ms`: a broker silent this long is fenced.
    #[serde(default = "default_session_timeout_ms")]
    pub broker_session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms`.
    #[serde(default = "default_heartbeat_ms")]
    pub broker_heartbeat_ms: u64,
    /// `log.flush.interval.messages`: flush after this many records; 0 never flushes (Kafka's default,
    /// which relies on replication). Default 1: every append is on disk.
    #[serde(default = "one_u64")]
    pub flush_messages: u64,
    /// Take a producer-state snapshot once this many records were flushed since the last one.
    #[serde(default = "default_snapshot_interval")]
    pub snapshot_interval_messages: u64,
    /// `replica.fetch.wait.max.ms`: how long a leader holds a follower fetch that found nothing new.
    #[serde(default = "default_fetch_wait_ms")]
    pub replica_fetch_wait_ms: u64,
    /// `transaction.state.log.num.partitions` (transactional variants only).
    #[serde(default = "default_transaction_log_partitions")]
    pub transaction_log_partitions: u32,
    /// `offsets.topic.num.partitions` (scenarios with a pipeline only).
    #[serde(default = "one")]
    pub offsets_partitions: u32,
    /// `transactional.id.expiration.ms`: an idle transactional id is removed after this long.
    #[serde(default = "default_transactional_id_expiration_ms")]
    pub transactional_id_expiration_ms: u64,
    /// The epoch a transaction coordinator gives a transactional id it sees for the first time (Kafka always
    /// starts at 0): it stands for a cluster whose transactional ids have been in use for a long time, so that
    /// their epochs near exhaustion (32766) within a run and the producer id rotates. At most 32765, one bump
    /// below exhaustion. Default 0.
    #[serde(default)]
    pub producer_epoch_start: u64,
    /// `producer.id.expiration.ms`: a partition forgets a producer idle this long (Kafka: one day).
    #[serde(default = "default_producer_id_expiration_ms")]
    pub producer_id_expiration_ms: u64,
    /// `producer.id.expiration.check.interval.ms`: how often brokers look for expired producers (Kafka: ten
    /// minutes).
    #[serde(default = "default_producer_id_expiration_check_interval_ms")]
    pub producer_id_expiration_check_interval_ms: u64,
    /// `retention.ms`: segments whose newest record is this old are deleted (Kafka: seven days).
    #[serde(default = "default_retention_ms")]
    pub retention_ms: u64,
    /// `log.retention.check.interval.ms`: how often brokers apply retention (Kafka: five minutes).
    #[serde(default = "default_retention_check_interval_ms")]
    pub retention_check_interval_ms: u64,
    /// Records per log segment, the unit retention deletes (Kafka sizes segments in bytes, `segment.bytes`).
    #[serde(default = "default_segment_messages")]
    pub segment_messages: u64,
    /// A KIP-360 broker (Kafka 2.5+, the default): a producer with no state is accepted at any sequence and
    /// retention keeps producer state. False: a Kafka 0.11–2.4 broker answering UNKNOWN_PRODUCER_ID.
    #[serde(default = "yes")]
    pub kip360_producer_state: bool,
}

fn default_producer_id_expiration_ms() -> u64 {
    86_400_000
}
fn default_producer_id_expiration_check_interval_ms() -> u64 {
    600_000
}
fn default_retention_ms() -> u64 {
    604_800_000
}
fn default_retention_check_interval_ms() -> u64 {
    300_000
}
fn default_segment_messages() -> u64 {
    10_000
}
fn yes() -> bool {
    true
}

fn default_transaction_log_partitions() -> u32 {
    2
}
/// The highest creation epoch: one bump below the exhausted epoch, so that a new id can still bump once before
/// its producer id rotates.
pub const PRODUCER_EPOCH_START_MAX: u16 = crate::protocol::MAX_PRODUCER_EPOCH - 2;

fn default_transactional_id_expiration_ms() -> u64 {
    1_500
}

fn one() -> u32 {
    1
}
fn one_u64() -> u64 {
    1
}
fn default_replica_lag_ms() -> u64 {
    100
}
fn default_session_timeout_ms() -> u64 {
    150
}
fn default_heartbeat_ms() -> u64 {
    20
}
fn default_snapshot_interval() -> u64 {
    50
}
fn default_fetch_wait_ms() -> u64 {
    5
}

/// Producer client settings, as Kafka names them. Absent fields take the variant's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerConfig {
    /// `acks`: "0", "1" or "all".
    pub acks: Option<Acks>,
    /// `retries`: how often a failed batch is sent again.
    pub retries: Option<u32>,
    /// `max.in.flight.requests.per.connection`, per partition here.
    pub max_in_flight: Option<u32>,
    /// `linger.ms`: how long a batch waits for more records.
    pub linger_ms: Option<u64>,
    /// Records per batch at most (`batch.size`, counted in records).
    pub batch_records: Option<u32>,
    /// `request.timeout.ms`.
    pub request_timeout_ms: Option<u64>,
    /// `delivery.timeout.ms`: after this a record's outcome is given up on.
    pub delivery_timeout_ms: Option<u64>,
    /// `retry.backoff.ms`.
    pub retry_backoff_ms: Option<u64>,
    /// `max.request.size` in bytes.
    #[serde(default)]
    pub max_request_size: Option<u32>,
    /// `buffer.memory` in bytes.
    #[serde(default)]
    pub buffer_memory: Option<u64>,
    /// `max.block.ms`.
    #[serde(default)]
    pub max_block_ms: Option<u64>,
}

/// Producer settings with every default filled in, times in nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerSettings {
    /// Whether the producer uses a producer id and sequence numbers.
    pub idempotence: bool,
    /// `acks`.
    pub acks: Acks,
    /// Retries per batch.
    pub retries: u32,
    /// Batches in flight per partition.
    pub max_in_flight: u32,
    /// `linger.ms` in nanoseconds.
    pub linger_ns: u64,
    /// Records per batch at most.
    pub batch_records: u32,
    /// `request.timeout.ms` in nanoseconds.
    pub request_timeout_ns: u64,
    /// `delivery.timeout.ms` in nanoseconds.
    pub delivery_timeout_ns: u64,
    /// `retry.backoff.ms` in nanoseconds.
    pub retry_backoff_ns: u64,
    /// `max.request.size`: a larger record fails in `send()` with RecordTooLargeException.
    pub max_request_size: u32,
    /// `buffer.memory`: bytes of records the client holds before `send()` blocks.
    pub buffer_memory: u64,
    /// `max.block.ms` in nanoseconds: how long a blocked `send()` waits for memory before
    /// BufferExhaustedException.
    pub max_block_ns: u64,
    /// Smallest and largest size of an application's record, in bytes (the workload's).
    pub record_bytes: (u32, u32),
}

/// What the applications do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// Producer applications (each a node with its own producer client).
    pub producers: u32,
    /// Application threads per producer, each a history process with one send in flight.
    #[serde(default = "default_threads")]
    pub threads_per_producer: u32,
    /// Values each producer application sends in all.
    pub messages_per_producer: u32,
    /// Mean think time between two sends of one thread, in milliseconds.
    #[serde(default = "default_send_interval_ms")]
    pub send_interval_ms: u64,
    /// Consumer applications; each reads every partition.
    #[serde(default = "default_consumers")]
    pub consumers: u32,
    /// Time between two polls of a consumer, in milliseconds.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// The consumers' `isolation.level`: "read_uncommitted" (Kafka's default) or "read_committed".
    #[serde(default = "default_isolation")]
    pub isolation_level: IsolationLevel,
    /// The topic the producers write to; every topic when absent.
    pub producer_topic: Option<String>,
    /// Atomic multi-partition writers (transactional variants).
    #[serde(default)]
    pub atomic_writers: u32,
    /// Transactions per atomic writer.
    #[serde(default = "default_atomic_txns")]
    pub atomic_txns_per_writer: u32,
    /// Partitions each atomic transaction writes to.
    #[serde(default = "default_atomic_partitions")]
    pub atomic_partitions_per_txn: u32,
    /// The topic the atomic writers write to; every topic when absent.
    pub atomic_topic: Option<String>,
    /// A consume-transform-produce pipeline (transactional variants).
    pub pipeline: Option<PipelineConfig>,
    /// `transaction.timeout.ms` of every transactional producer.
    #[serde(default = "default_transaction_timeout_ms")]
    pub transaction_timeout_ms: u64,
    /// Size of every record in bytes, well below Kafka's size limits.
    #[serde(default = "default_record_bytes")]
    pub record_bytes: u32,
    /// When set, each record's size is drawn between `record_bytes` and this, so some records may exceed
    /// `max.request.size` or fill `buffer.memory`.
    #[serde(default)]
    pub record_bytes_max: Option<u32>,
}

/// A consume-transform-produce pipeline: instances in one consumer group, from one topic to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Pipeline instances (group members, each with its own transactional id).
    pub instances: u32,
    /// The input topic.
    pub input: String,
    /// The output topic.
    pub output: String,
    /// The consumer group.
    #[serde(default = "default_group")]
    pub group: String,
    /// Input records per transaction at most.
    #[serde(default = "default_records_per_txn")]
    pub max_records_per_txn: u32,
    /// `session.timeout.ms`.
    #[serde(default = "default_session_ms")]
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms`.
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
    /// An external store written before each commit.
    pub store: Option<StoreConfig>,
}

/// The external store of a pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Idempotent writes: upsert keyed by the input record.
    #[serde(default)]
    pub upsert: bool,
}

fn default_record_bytes() -> u32 {
    100
}
fn default_atomic_txns() -> u32 {
    40
}
fn default_atomic_partitions() -> u32 {
    2
}
fn default_transaction_timeout_ms() -> u64 {
    400
}
fn default_group() -> String {
    "pipeline".to_string()
}
fn default_records_per_txn() -> u32 {
    8
}
fn default_session_ms() -> u64 {
    200
}
fn default_heartbeat_interval_ms() -> u64 {
    40
}

fn default_isolation() -> IsolationLevel {
    IsolationLevel::ReadUncommitted
}

fn default_threads() -> u32 {
    2
}
fn default_send_interval_ms() -> u64 {
    5
}
fn default_consumers() -> u32 {
    1
}
fn default_poll_interval_ms() -> u64 {
    20
}

/// Network latency, in microseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Fastest delivery.
    pub latency_us_min: u64,
    /// Mean of the exponential tail.
    pub latency_us_mean: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig { latency_us_min: 100, latency_us_mean: 400 }
    }
}

/// How often and how hard one fault kind strikes, as a scenario file gives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultKindConfig {
    /// Mean time between two faults of this kind, in milliseconds.
    pub every_ms: u64,
    /// Shortest and longest duration of one fault, in milliseconds.
    pub duration_ms: [u64; 2],
    /// Link faults: chance per message while the fault lasts, between 0 and 1.
    #[serde(default)]
    pub probability: f64,
    /// Delay faults: largest extra delay, in milliseconds.
    #[serde(default)]
    pub delay_ms_max: u64,
}

/// The fault kinds of a scenario; each is off unless given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FaultsConfig {
    /// When true, each seed turns on a random subset of the kinds below, at random rates.
    #[serde(default)]
    pub swarm: bool,
    /// Requests from clients to brokers are lost.
    pub lost_request: Option<FaultKindConfig>,
    /// Responses from brokers to clients are lost.
    pub lost_ack: Option<FaultKindConfig>,
    /// Messages are delivered twice.
    pub duplicate: Option<FaultKindConfig>,
    /// Messages are held back, so they arrive out of order.
    pub delay: Option<FaultKindConfig>,
    /// The network splits (symmetric, one-way or bridge).
    pub partition: Option<FaultKindConfig>,
    /// A broker's process crashes and restarts; its logs stay whole, flushed or not.
    pub broker_crash: Option<FaultKindConfig>,
    /// A broker loses power and restarts; the unflushed tail of every log is lost.
    pub broker_power_loss: Option<FaultKindConfig>,
    /// A broker pauses (a GC stall) and resumes.
    pub broker_pause: Option<FaultKindConfig>,
    /// A producer application crashes and restarts with a new producer id.
    pub producer_crash: Option<FaultKindConfig>,
    /// A producer application pauses and resumes unaware.
    pub producer_pause: Option<FaultKindConfig>,
    /// The controller crashes and restarts from its durable metadata.
    pub controller_crash: Option<FaultKindConfig>,
    /// A consumer (a pipeline instance or a reading consumer) crashes and restarts as a new member.
    pub consumer_crash: Option<FaultKindConfig>,
    /// A consumer pauses past its session timeout, so its group rebalances, and resumes unaware.
    pub consumer_pause: Option<FaultKindConfig>,
    /// An explicit schedule that replaces the swarm (what a repro replays); never read from a scenario file.
    #[serde(skip)]
    pub schedule: Option<FaultSchedule>,
}

/// A whole scenario: what `eosim run` and `eosim campaign` take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, as `eosim list` shows it.
    pub name: String,
    /// One line that says what the scenario shows.
    pub description: String,
    /// The producer's delivery mode.
    pub variant: Variant,
    /// The guarantee the run is judged against; the variant's own claim when absent.
    pub guarantee: Option<String>,
    /// Virtual length of the faulty phase, in milliseconds.
    pub duration_ms: u64,
    /// Bound on the quiescent phase that follows, in milliseconds; not settling within it is a stall.
    #[serde(default = "default_quiesce_ms")]
    pub quiesce_ms: u64,
    /// Brokers and topics.
    pub cluster: ClusterConfig,
    /// Producer client settings.
    #[serde(default)]
    pub producer: ProducerConfig,
    /// Applications.
    pub workload: WorkloadConfig,
    /// Latency.
    #[serde(default)]
    pub network: NetworkConfig,
    /// Faults.
    #[serde(default)]
    pub faults: FaultsConfig,
    /// Kafka bugs put back in the model, by JIRA id (`bugs.rs`); none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kafka_bugs: Vec<crate::bugs::KafkaBug>,
    /// The per-seed settings swarm and the fault envelope (`[knobs]`, see `knobs.rs`).
    #[serde(default, skip_serializing_if = "KnobsConfig::is_off")]
    pub knobs: KnobsConfig,
    /// What a campaign of this scenario shows: `"pass"`, or the anomaly kinds its failing seeds show. Stated for
    /// `eosim list` and held to by a test; it never changes a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// The bug-zoo entry this scenario is, under `scenarios/zoo/` (see `zoo.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoo: Option<crate::zoo::ZooSpec>,
}

/// A scenario's `expect`: `"pass"`, one anomaly kind, or a list of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Expect {
    /// `expect = "pass"` or `expect = "lost-write"`.
    One(String),
    /// `expect = ["lost-write", "inconsistent-offsets"]`.
    Many(Vec<String>),
}

impl Expect {
    /// The names as written.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Expect::One(name) => vec![name.as_str()],
            Expect::Many(names) => names.iter().map(String::as_str).collect(),
        }
    }

    /// True when every seed must pass.
    pub fn is_pass(&self) -> bool {
        self.names() == ["pass"]
    }

    /// The anomaly kinds a failing seed may show (none for `pass`); a campaign agrees with the expectation when
    /// some seed fails and every violation found is one of these.
    pub fn violations(&self) -> Vec<AnomalyKind> {
        self.names().into_iter().filter_map(AnomalyKind::from_name).collect()
    }

    /// `pass`, or the kinds joined by `+`, as `eosim list` prints it.
    pub fn describe(&self) -> String {
        self.names().join("+")
    }

    fn validate(&self, guarantee: Guarantee) -> Result<(), String> {
        let names = self.names();
        if self.is_pass() {
            return Ok(());
        }
        let forbidden: Vec<&str> =
            AnomalyKind::ALL.iter().filter(|kind| guarantee.forbids(**kind)).map(|kind| kind.name()).collect();
        let expected = format!("\"pass\", or anomaly kinds {} forbids: {}", guarantee.name(), forbidden.join("|"));
        if names.is_empty() || names.contains(&"pass") {
            return Err(format!(
                "expect: \"pass\" stands alone and a list names at least one kind (expected {expected})"
            ));
        }
        for name in names {
            if !forbidden.contains(&name) {
                return Err(format!(
                    "expect: {name:?} is not an anomaly kind {} forbids (expected {expected})",
                    guarantee.name()
                ));
            }
        }
        Ok(())
    }
}

fn default_quiesce_ms() -> u64 {
    60_000
}

impl Scenario {
    /// Parses and validates a scenario file's bytes: [`Scenario::from_toml`] once they are UTF-8, else an error
    /// at the first byte that is not.
    pub fn from_bytes(file: &str, bytes: &[u8]) -> Result<Scenario, ScenarioError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Scenario::from_toml(file, text),
            Err(error) => {
                let valid = String::from_utf8_lossy(&bytes[..line_end(bytes, error.valid_up_to())]);
                let byte = bytes[error.valid_up_to()];
                let message = format!("invalid UTF-8 (byte 0x{byte:02x}; expected a UTF-8 TOML file)");
                // The lossy line shows the bad byte as U+FFFD, one character, so the caret stays under it.
                let at = error.valid_up_to();
                Err(ScenarioError::at(file, &valid, at..at + 3, message))
            }
        }
    }

    /// Parses and validates a TOML scenario; `file` is only used in error messages.
    pub fn from_toml(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario =
            toml::from_str(text).map_err(|error| scenario_error::parse_error(file, text, &error))?;
        scenario.validate().map_err(|(key, message)| scenario_error::invalid(file, text, &scenario, key, message))?;
        Ok(scenario)
    }

    /// Checks what serde cannot: ranges and combinations. Returns the offending key and the message.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        // Ranges first: the checks below and every run convert times and size vectors from these numbers.
        crate::limits::check(self)?;
        self.validate_cluster()?;
        if self.workload.threads_per_producer == 0 {
            return Err(("threads_per_producer", "expected at least one thread per producer".into()));
        }
        if self.workload.producers == 0 && self.workload.atomic_writers == 0 {
            return Err(("producers", "expected at least one producer or atomic writer".into()));
        }
        self.validate_transactional()?;
        if self.duration_ms == 0 {
            return Err(("duration_ms", "duration_ms must be positive".into()));
        }
        if let Some(name) = &self.guarantee {
            if Guarantee::from_name(name).is_none() {
                let expected: Vec<&str> = Guarantee::ALL.iter().map(|g| g.name()).collect();
                return Err(("guarantee", format!("unknown guarantee {name:?} (expected {})", expected.join("|"))));
            }
        }
        self.validate_faults()?;
        if let Some(expect) = &self.expect {
            expect.validate(self.guarantee()).map_err(|message| ("expect", message))?;
        }
        if let Some(zoo) = &self.zoo {
            zoo.validate(self)?;
        }
        let settings = self.producer_settings();
        if settings.idempotence && (settings.acks != Acks::All || settings.max_in_flight > 5) {
            // Kafka refuses this combination with a ConfigException; so do we.
            return Err(("acks", "idempotence needs acks = \"all\" and max_in_flight <= 5".into()));
        }
        Ok(())
    }

    fn validate_cluster(&self) -> Result<(), (&'static str, String)> {
        let cluster = &self.cluster;
        if cluster.brokers == 0 {
            return Err(("brokers", "brokers must be at least 1".into()));
        }
        if cluster.replication_factor == 0 || cluster.replication_factor > cluster.brokers {
            return Err(("replication_factor", "replication_factor must be between 1 and brokers".into()));
        }
        if cluster.min_insync_replicas == 0 || cluster.min_insync_replicas > cluster.replication_factor {
            return Err(("min_insync_replicas", "min_insync_replicas must be between 1 and replication_factor".into()));
        }
        if cluster.broker_heartbeat_ms == 0 {
            return Err(("broker_heartbeat_ms", "broker_heartbeat_ms must be at least 1".into()));
        }
        if cluster.replica_fetch_wait_ms == 0 {
            return Err(("replica_fetch_wait_ms", "replica_fetch_wait_ms must be at least 1".into()));
        }
        if cluster.replica_lag_time_max_ms < 4 {
            // The leader checks the ISR every quarter of this period.
            return Err(("replica_lag_time_max_ms", "replica_lag_time_max_ms must be at least 4".into()));
        }
        if cluster.producer_epoch_start > u64::from(PRODUCER_EPOCH_START_MAX) {
            let message = format!("producer_epoch_start must be at most {PRODUCER_EPOCH_START_MAX}");
            return Err(("producer_epoch_start", message));
        }
        if cluster.topics.is_empty() || cluster.topics.iter().any(|topic| topic.partitions == 0) {
            return Err(("topics", "expected at least one topic with at least one partition".into()));
        }
        self.validate_producer_state_lifecycle()
    }

    fn validate_producer_state_lifecycle(&self) -> Result<(), (&'static str, String)> {
        let cluster = &self.cluster;
        let at_least_one = [
            ("producer_id_expiration_ms", cluster.producer_id_expiration_ms),
            ("producer_id_expiration_check_interval_ms", cluster.producer_id_expiration_check_interval_ms),
            ("retention_ms", cluster.retention_ms),
            ("retention_check_interval_ms", cluster.retention_check_interval_ms),
            ("segment_messages", cluster.segment_messages),
        ];
        for (key, value) in at_least_one {
            if value == 0 {
                return Err((key, format!("{key} must be at least 1")));
            }
        }
        Ok(())
    }

    fn validate_transactional(&self) -> Result<(), (&'static str, String)> {
        let workload = &self.workload;
        let transactional = self.variant.is_transactional();
        if !transactional && (workload.atomic_writers > 0 || workload.pipeline.is_some()) {
            return Err(("variant", "atomic writers and pipelines need a transactional variant: \"eos-tv1\", \"eos-tv1-verify\" or \"eos-tv2\"".into()));
        }
        let topics: Vec<&str> = self.cluster.topics.iter().map(|topic| topic.name.as_str()).collect();
        let known = |name: &Option<String>| name.as_deref().is_none_or(|name| topics.contains(&name));
        if workload.atomic_writers > 0 && workload.atomic_partitions_per_txn == 0 {
            return Err(("atomic_partitions_per_txn", "expected at least one partition per atomic transaction".into()));
        }
        if transactional && workload.transaction_timeout_ms == 0 {
            return Err(("transaction_timeout_ms", "expected a transaction timeout above 0".into()));
        }
        if !known(&workload.producer_topic) {
            return Err(("producer_topic", format!("unknown topic (expected one of {})", topics.join("|"))));
        }
        if !known(&workload.atomic_topic) {
            return Err(("atomic_topic", format!("unknown topic (expected one of {})", topics.join("|"))));
        }
        if let Some(pipeline) = &workload.pipeline {
            for (key, name) in [("input", &pipeline.input), ("output", &pipeline.output)] {
                if !topics.contains(&name.as_str()) {
                    return Err((key, format!("unknown topic {name:?} (expected one of {})", topics.join("|"))));
                }
            }
            if pipeline.input == pipeline.output || pipeline.instances == 0 || pipeline.max_records_per_txn == 0 {
                return Err(("pipeline", "expected instances > 0, max_records_per_txn > 0, input != output".into()));
            }
            if pipeline.heartbeat_interval_ms == 0 || pipeline.heartbeat_interval_ms >= pipeline.session_timeout_ms {
                return Err((
                    "heartbeat_interval_ms",
                    "expected 0 < heartbeat_interval_ms < session_timeout_ms".into(),
                ));
            }
        }
        if transactional && (self.cluster.transaction_log_partitions == 0 || self.cluster.offsets_partitions == 0) {
            return Err(("transaction_log_partitions", "expected at least one partition per internal topic".into()));
        }
        Ok(())
    }

    fn validate_faults(&self) -> Result<(), (&'static str, String)> {
        for (name, kind) in self.faults.kinds() {
            let link = matches!(name, "lost-request" | "lost-ack" | "duplicate" | "delay");
            if !(0.0..=1.0).contains(&kind.probability) || (link && kind.probability == 0.0) {
                return Err((name, format!("{name}: expected a probability in (0, 1] for a link fault")));
            }
            if kind.every_ms == 0 {
                return Err((name, format!("{name}: every_ms = 0 (expected every_ms > 0)")));
            }
            let [low, high] = kind.duration_ms;
            if low > high {
                let message = format!(
                    "{name}: in duration_ms = [{low}, {high}] the lower bound {low} is above the upper bound {high} \
                     (expected duration_ms = [min, max] with min <= max)"
                );
                return Err((duration_key(name), message));
            }
            if name == "delay" && kind.delay_ms_max == 0 {
                return Err((name, "delay: expected delay_ms_max > 0".into()));
            }
        }
        Ok(())
    }

    /// The guarantee this scenario is judged against.
    pub fn guarantee(&self) -> Guarantee {
        self.guarantee.as_deref().and_then(Guarantee::from_name).unwrap_or(self.variant.claimed_guarantee())
    }

    /// Producer settings: the file's values over the variant's defaults (Kafka's own defaults, with times
    /// scaled to the short virtual runs).
    pub fn producer_settings(&self) -> ProducerSettings {
        let (idempotence, acks, retries) = match self.variant {
            Variant::AtMostOnce => (false, Acks::None, 0),
            Variant::AtLeastOnce => (false, Acks::All, u32::MAX),
            Variant::Idempotent | Variant::EosTv1 | Variant::EosTv1Verify | Variant::EosTv2 => {
                (true, Acks::All, u32::MAX)
            }
        };
        let config = &self.producer;
        ProducerSettings {
            idempotence,
            acks: config.acks.unwrap_or(acks),
            retries: config.retries.unwrap_or(retries),
            max_in_flight: config.max_in_flight.unwrap_or(5).max(1),
            linger_ns: ms_to_ns(config.linger_ms.unwrap_or(1)),
            batch_records: config.batch_records.unwrap_or(4).max(1),
            request_timeout_ns: ms_to_ns(config.request_timeout_ms.unwrap_or(30)),
            delivery_timeout_ns: ms_to_ns(config.delivery_timeout_ms.unwrap_or(10_000)),
            retry_backoff_ns: ms_to_ns(config.retry_backoff_ms.unwrap_or(10)),
            // Kafka's defaults: 1 MiB, 32 MiB, 60 s.
            max_request_size: config.max_request_size.unwrap_or(1_048_576),
            buffer_memory: config.buffer_memory.unwrap_or(33_554_432),
            max_block_ns: ms_to_ns(config.max_block_ms.unwrap_or(60_000)),
            record_bytes: (
                self.workload.record_bytes,
                self.workload.record_bytes_max.unwrap_or(self.workload.record_bytes).max(self.workload.record_bytes),
            ),
        }
    }

    /// The network settings of the simulation.
    pub fn network_options(&self) -> NetworkOptions {
        let latency = LinkLatency {
            latency_ns_min: us_to_ns(self.network.latency_us_min),
            latency_ns_mean: us_to_ns(self.network.latency_us_mean),
        };
        NetworkOptions { latency, ..NetworkOptions::default() }
    }

    /// The fault plan: the explicit schedule if one is set, else the swarm description.
    pub fn fault_plan(&self) -> FaultPlan {
        if let Some(schedule) = &self.faults.schedule {
            return FaultPlan::Schedule(schedule.clone());
        }
        let kinds =
            self.faults.kinds().into_iter().map(|(name, config)| (sim_fault_kind(name), kind_spec(config))).collect();
        FaultPlan::Swarm(SwarmSpec { swarm: self.faults.swarm, kinds })
    }

    /// The keys (partition indices) of one topic, or of every topic when `topic` is none.
    pub fn topic_partitions(&self, topic: Option<&str>) -> Vec<u32> {
        let mut partitions = Vec::new();
        let mut index = 0;
        for config in &self.cluster.topics {
            for _ in 0..config.partitions {
                if topic.is_none_or(|name| name == config.name) {
                    partitions.push(index);
                }
                index += 1;
            }
        }
        partitions
    }

    /// Every topic-partition as a history key, in a fixed order.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for topic in &self.cluster.topics {
            for partition in 0..topic.partitions {
                keys.push(format!("{}-{}", topic.name, partition));
            }
        }
        keys
    }

    /// The faulty phase in nanoseconds.
    pub fn duration_ns(&self) -> u64 {
        ms_to_ns(self.duration_ms)
    }

    /// The bound on the quiescent phase in nanoseconds.
    pub fn quiesce_ns(&self) -> u64 {
        ms_to_ns(self.quiesce_ms)
    }
}

impl FaultsConfig {
    /// The kinds that are given, with their scenario-file names, in a fixed order.
    pub fn kinds(&self) -> Vec<(&'static str, &FaultKindConfig)> {
        let all = [
            ("lost-request", &self.lost_request),
            ("lost-ack", &self.lost_ack),
            ("duplicate", &self.duplicate),
            ("delay", &self.delay),
            ("partition", &self.partition),
            ("broker-crash", &self.broker_crash),
            ("broker-pause", &self.broker_pause),
            ("producer-crash", &self.producer_crash),
            ("producer-pause", &self.producer_pause),
            ("controller-crash", &self.controller_crash),
            ("consumer-crash", &self.consumer_crash),
            ("consumer-pause", &self.consumer_pause),
            ("broker-power-loss", &self.broker_power_loss),
        ];
        all.into_iter().filter_map(|(name, config)| config.as_ref().map(|config| (name, config))).collect()
    }
}

/// The scenario-file name of a kernel fault kind: brokers are the servers, producers the crashable clients.
pub fn fault_kind_name(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::ServerCrash => "broker-crash",
        FaultKind::ServerPause => "broker-pause",
        FaultKind::ClientCrash => "producer-crash",
        FaultKind::ClientPause => "producer-pause",
        FaultKind::ConsumerCrash => "consumer-crash",
        FaultKind::ConsumerPause => "consumer-pause",
        FaultKind::ServerPowerLoss => "broker-power-loss",
        other => other.name(),
    }
}

/// The key path of a fault kind's `duration_ms`, so that an error about it is placed inside the kind's table.
fn duration_key(name: &'static str) -> &'static str {
    match name {
        "lost-request" => "lost-request.duration_ms",
        "lost-ack" => "lost-ack.duration_ms",
        "duplicate" => "duplicate.duration_ms",
        "delay" => "delay.duration_ms",
        "partition" => "partition.duration_ms",
        "broker-crash" => "broker-crash.duration_ms",
        "broker-pause" => "broker-pause.duration_ms",
        "producer-crash" => "producer-crash.duration_ms",
        "producer-pause" => "producer-pause.duration_ms",
        "controller-crash" => "controller-crash.duration_ms",
        "consumer-crash" => "consumer-crash.duration_ms",
        "consumer-pause" => "consumer-pause.duration_ms",
        "broker-power-loss" => "broker-power-loss.duration_ms",
        // Every name FaultsConfig::kinds yields is above; any other is placed at the kind.
        other => other,
    }
}

fn sim_fault_kind(name: &str) -> FaultKind {
    FaultKind::ALL
        .into_iter()
        .find(|kind| fault_kind_name(*kind) == name)
        .expect("FaultsConfig::kinds only yields known names")
}

fn kind_spec(config: &FaultKindConfig) -> KindSpec {
    KindSpec {
        mean_interval_ns: ms_to_ns(config.every_ms),
        duration_ns_min: ms_to_ns(config.duration_ms[0]),
        duration_ns_max: ms_to_ns(config.duration_ms[1]),
        probability: Ratio::per_million((config.probability * 1_000_000.0).round() as u64),
        delay_ns_max: ms_to_ns(config.delay_ms_max),
    }
}

/// The end of the line holding byte `at` (its newline, or the end of the bytes).
fn line_end(bytes: &[u8], at: usize) -> usize {
    bytes[at..].iter().position(|byte| *byte == b'\n').map_or(bytes.len(), |offset| at + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"name = "t"
description = "d"
variant = "idempotent"
duration_ms = 100

[cluster]
brokers = 1
topics = [{ name = "t", partitions = 1 }]

[workload]
producers = 1
messages_per_producer = 1
"#;

    #[test]
    fn a_minimal_scenario_takes_kafka_defaults() {
        let scenario = Scenario::from_toml("t.toml", MINIMAL).expect("valid");
        assert_eq!(scenario.guarantee(), Guarantee::Idempotent);
        let producer = scenario.producer_settings();
        assert!(producer.idempotence);
        assert_eq!((producer.acks, producer.max_in_flight), (Acks::All, 5));
        assert_eq!(scenario.cluster.replication_factor, 1);
        assert_eq!(scenario.keys(), vec!["t-0".to_string()]);
    }

    #[test]
    fn an_unknown_key_names_file_line_and_the_expected_keys() {
        let text = MINIMAL.replace("brokers = 1", "brokers = 1\nbrokerz = 2");
        let error = Scenario::from_toml("bad.toml", &text).expect_err("unknown key");
        assert_eq!((error.file.as_str(), error.line), ("bad.toml", 8));
        assert!(error.message.contains("brokerz"), "{error}");
        assert!(error.message.contains("replication_factor"), "lists the expected keys: {error}");
        assert!(error.to_string().starts_with("bad.toml:8:"));
    }

    #[test]
    fn a_range_error_points_at_its_key() {
        let text =
            format!("{MINIMAL}\n[faults]\nlost-ack = {{ every_ms = 10, duration_ms = [1, 2], probability = 1.5 }}\n");
        let error = Scenario::from_toml("bad.toml", &text).expect_err("probability out of range");
        assert_eq!(error.line, 15, "{error}");
        assert!(error.message.contains("probability"), "{error}");
        let text = MINIMAL.replace("variant = \"idempotent\"", "variant = \"idempotent\"\n[producer]\nacks = \"1\"");
        let text = text.replacen(
            "[producer]\nacks = \"1\"\nduration_ms = 100",
            "duration_ms = 100\n[producer]\nacks = \"1\"",
            1,
        );
        let error = Scenario::from_toml("bad.toml", &text).expect_err("idempotence needs acks=all");
        assert!(error.message.contains("idempotence"), "{error}");
    }

    #[test]
    fn transactional_workloads_are_validated_at_their_keys() {
        let eos = MINIMAL.replace("variant = \"idempotent\"", "variant = \"eos-v2\"");
        let writers = eos.replace("messages_per_producer = 1", "messages_per_producer = 1\natomic_writers = 1");
        assert!(Scenario::from_toml("ok.toml", &writers).is_ok());
        let none = writers.replace("atomic_writers = 1", "atomic_writers = 1\natomic_partitions_per_txn = 0");
        let error = Scenario::from_toml("bad.toml", &none).expect_err("a transaction must write somewhere");
        assert_eq!(error.line, 14, "{error}");
        assert!(error.message.contains("at least one partition"), "{error}");
        let plain = MINIMAL.replace("messages_per_producer = 1", "messages_per_producer = 1\natomic_writers = 1");
        let error = Scenario::from_toml("bad.toml", &plain).expect_err("atomic writers need transactions");
        assert!(error.message.contains("eos-tv1"), "{error}");
        let topic = writers.replace("atomic_writers = 1", "atomic_writers = 1\natomic_topic = \"nope\"");
        let error = Scenario::from_toml("bad.toml", &topic).expect_err("an unknown topic");
        assert!(error.message.contains("expected one of t"), "{error}");
    }

    #[test]
    fn an_error_inside_an_inline_table_points_at_its_key() {
        let eos = MINIMAL.replace("variant = \"idempotent\"", "variant = \"eos-tv2\"");
        let text = eos.replace(
            "topics = [{ name = \"t\", partitions = 1 }]",
            "topics = [{ name = \"t\", partitions = 1 }, { name = \"u\", partitions = 1 }]",
        );
        let text = text.replace(
            "messages_per_producer = 1",
            "messages_per_producer = 1\npipeline = { input = \"t\", output = \"u\", instances = 1, heartbeat_interval_ms = 0 }",
        );
        let error = Scenario::from_toml("bad.toml", &text).expect_err("a zero heartbeat");
        assert_eq!((error.line, error.column), (13, 56), "{error}");
    }

    #[test]
    fn values_that_would_overflow_or_livelock_a_run_are_refused_with_their_range() {
        let cases = [
            ("duration_ms = 100", "duration_ms = 18446744073709551615", "duration_ms", 4),
            ("messages_per_producer = 1", "messages_per_producer = 1\npoll_interval_ms = 0", "poll_interval_ms", 13),
            ("brokers = 1", "brokers = 4294967295", "brokers", 7),
            (
                "messages_per_producer = 1",
                "messages_per_producer = 1\nthreads_per_producer = 4294967295",
                "1..=256",
                13,
            ),
            ("brokers = 1", "brokers = 1\ntransaction_log_partitions = 4294967295", "transaction_log_partitions", 8),
        ];
        for (from, to, expected, line) in cases {
            let error = Scenario::from_toml("bad.toml", &MINIMAL.replace(from, to)).expect_err(to);
            assert!(error.message.contains(expected) && error.message.contains("expected"), "{error}");
            assert_eq!(error.line, line, "{error}");
        }
        let producer = format!("{MINIMAL}\n[producer]\nrequest_timeout_ms = 0\n");
        let error = Scenario::from_toml("bad.toml", &producer).expect_err("a zero request timeout");
        assert_eq!(error.line, 15, "{error}");
        let fault =
            format!("{MINIMAL}\n[faults]\npartition = {{ every_ms = 10, duration_ms = [1, 18446744073709551615] }}\n");
        let error = Scenario::from_toml("bad.toml", &fault).expect_err("a fault that lasts forever");
        assert!(error.message.contains("partition: duration_ms"), "{error}");
    }

    #[test]
    fn invalid_utf8_is_placed_at_its_first_byte() {
        let mut bytes = b"name = \"t\"\ndescription = \"d".to_vec();
        bytes.extend([0xff, b'"']);
        let error = Scenario::from_bytes("bad.toml", &bytes).expect_err("not UTF-8");
        assert_eq!((error.line, error.column), (2, 17), "{error}");
        assert!(error.message.contains("0xff"), "{error}");
        assert!(Scenario::from_bytes("ok.toml", MINIMAL.as_bytes()).is_ok());
    }

    #[test]
    fn a_type_error_is_placed_by_the_parser() {
        let text = MINIMAL.replace("brokers = 1", "brokers = \"one\"");
        let error = Scenario::from_toml("bad.toml", &text).expect_err("wrong type");
        assert_eq!(error.line, 7, "{error}");
    }
}
