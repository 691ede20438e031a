//! eosim-model: Kafka's delivery machinery on the eosim kernel.
//!
//! The model lives in folders by role, each one depending only on those below it:
//! - [`app`]: the applications whose operations make the history (producer app, atomic writer,
//!   consume-transform-produce pipeline, consumer app, external store);
//! - [`client`]: the producer, the transactional producer and their metadata cache;
//! - [`broker`]: the broker node, partition replicas over their logs, broker-side producer state, the
//!   controller; a broker that leads an internal partition hosts its coordinator;
//! - [`coordinator`]: the transaction and group coordinators as pure state machines;
//! - below them all, [`ctx`] (the event context, the history helpers, timer tags) and [`protocol`] (every
//!   message and error code). [`node`] is the dispatcher, the one file that knows every node kind.
//!
//! [`knobs`] draws, per seed, the settings a real deployment varies and widens the faults; [`buggify`] holds the
//! `buggify!` fault points the model places on the lines they perturb.
//!
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

pub mod app;
pub mod broker;
pub mod buggify;
pub mod bugs;
pub mod client;
pub mod coordinator;
pub mod ctx;
pub mod describe;
pub mod diagnose;
pub mod knobs;
pub mod limits;
pub mod node;
pub mod oracle;
pub mod protocol;
pub mod run;
pub mod scenario;
pub mod scenario_error;
pub mod zoo;

pub use run::{fault_targets, node_names, simulate, RunStats, SimOutcome};
pub use scenario::{Scenario, ScenarioError, Variant};
