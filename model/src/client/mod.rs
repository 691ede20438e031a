//! The Kafka clients the applications use: the producer ([`producer`]: batching, sequences, retries, in-flight
//! limits, idempotence), the transactional producer on top of it ([`txn_producer`]: InitProducerId,
//! AddPartitionsToTxn, TxnOffsetCommit, EndTxn) and the metadata cache both share ([`metadata`]).
//!
//! May depend on: `ctx`, `protocol`, `scenario`, and [`crate::coordinator::internal_topics`] (which partition
//! coordinates an id: the model's FindCoordinator). Never on `broker` or `app`.

pub mod metadata;
pub mod producer;
pub mod txn_producer;
