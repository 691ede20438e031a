//! The coordinators, as pure state machines that return effects for the hosting broker to carry out: the
//! transaction coordinator ([`txn`]) over Kafka's transaction state table ([`txn_state`]), the group coordinator
//! ([`group`]: generations, committed offsets, KIP-447 fencing), and the placement of transactional ids and
//! groups on the internal topics' partitions ([`internal_topics`]); the marker requests in flight
//! ([`marker_channel`]); the loads of the internal partitions a broker comes to lead ([`loading`]).
//!
//! May depend on: `protocol` and the kernel's ids. Never on `ctx`, `broker`, `client` or `app`: a coordinator
//! sends nothing itself, so every one of its rules is testable without a simulated cluster.

pub mod group;
pub mod internal_topics;
pub mod loading;
pub mod marker_channel;
pub mod txn;
pub mod txn_state;
