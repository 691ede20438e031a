//! The applications whose operations make the history: the plain producer app ([`producer_app`]), the atomic
//! multi-partition writer ([`atomic_writer`]), the consume-transform-produce pipeline ([`pipeline`]), the
//! consumer app ([`consumer`]) and the external store some pipelines also write ([`store`]).
//!
//! May depend on: `ctx`, `protocol`, `scenario` and `client`. Never on `broker` or `coordinator`: an
//! application sees the cluster only through its clients.

pub mod atomic_writer;
pub mod consumer;
pub mod pipeline;
pub mod producer_app;
pub mod store;
