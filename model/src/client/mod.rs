//! The Kafka clients the applications use: the consumer's handling of a fetch response ([`fetch`]: Kafka's
//! `CompletedFetch`, which filters aborted transactions), the producer ([`producer`]: batching, sequences, retries, in-flight
//! limits, idempotence), the transactional producer on top of it ([`txn_producer`]: InitProducerId,
//! AddPartitionsToTxn, TxnOffsetCommit, EndTxn) and the metadata cache both share ([`metadata`]).
//!
//! May depend on: `ctx`, `protocol`, `scenario`, and [`crate::coordinator::internal_topics`] (which partition
//! coordinates an id: the model's FindCoordinator). Never on `broker` or `app`.

pub mod fetch;
pub mod metadata;
pub mod producer;
pub mod txn_producer;
