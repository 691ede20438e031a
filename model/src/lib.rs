//! eosim-model: Kafka's delivery machinery on the eosim kernel.
//!
//! The cluster is a set of [`node::Node`]s: [`broker::Broker`]s hosting partition replicas ([`replica`]:
//! leader and follower roles, ISR, high watermark) over their logs ([`log`]) with broker-side idempotence
//! ([`producer_state`]); the [`controller::Controller`] that elects leaders; producer applications
//! ([`producer_app`]) on top of the producer client ([`producer`]); consumer applications ([`consumer`]).
//!
//! Transactions: a broker that leads a partition of an internal topic ([`internal_topics`]) is its transaction
//! coordinator ([`txn_coordinator`], over the state machine of [`txn_state`]) or group coordinator
//! ([`group_coordinator`]). The transactional producer ([`txn_producer`]) drives them for the atomic writer
//! ([`atomic_writer`]) and the consume-transform-produce pipeline ([`pipeline`]), which may also write to an
//! external store ([`store`]).
//! A [`Scenario`] (TOML) chooses the variant, the workload and the faults; [`simulate`] runs one seed and
//! returns the history the clients wrote, for the checker to judge.
//!
//! ```
//! let text = r#"
//! name = "tiny"
//! description = "one producer, no faults"
//! variant = "idempotent"
//! duration_ms = 200
//! [cluster]
//! brokers = 1
//! topics = [{ name = "t", partitions = 1 }]
//! [workload]
//! producers = 1
//! messages_per_producer = 10
//! "#;
//! let scenario = eosim_model::Scenario::from_toml("tiny.toml", text).unwrap();
//! let outcome = eosim_model::simulate(&scenario, 1);
//! assert!(outcome.stall.is_none());
//! let report = eosim_checker::check(&outcome.history, scenario.guarantee());
//! assert!(report.is_valid());
//! ```
#![deny(missing_docs)]

pub mod atomic_writer;
pub mod broker;
pub mod consumer;
pub mod controller;
pub mod group_coordinator;
pub mod internal_topics;
pub mod log;
pub mod metadata;
pub mod node;
pub mod pipeline;
pub mod producer;
pub mod producer_app;
pub mod producer_state;
pub mod protocol;
pub mod replica;
pub mod run;
pub mod scenario;
pub mod store;
pub mod txn_coordinator;
pub mod txn_producer;
pub mod txn_state;

pub use run::{node_names, simulate, RunStats, SimOutcome};
pub use scenario::{Scenario, ScenarioError, Variant};
