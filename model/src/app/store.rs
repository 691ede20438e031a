//! The external store: a database outside Kafka that a pipeline writes to before it commits its Kafka
//! transaction — the exactly-once boundary.
//!
//! The store is not part of the transaction, so an aborted transaction cannot take a row back. With plain
//! inserts, input processed twice (an abort, then the retry) writes its row twice. With upserts keyed by the
//! row (the input record it comes from), the second write finds the row and changes nothing: the write is
//! idempotent and the pipeline is exactly-once end to end. The store never crashes; it stands for a durable
//! database.

use crate::ctx::Ctx;
use crate::protocol::Msg;
use eosim_sim::NodeId;
use std::collections::BTreeMap;

/// The store node.
#[derive(Clone, Debug, Default)]
pub struct StoreNode {
    /// Every row, by (key, value), with the writers that wrote it, in order.
    rows: BTreeMap<(String, i64), Vec<u64>>,
}

impl StoreNode {
    /// An empty store.
    pub fn new() -> StoreNode {
        StoreNode::default()
    }

    /// Applies a write and answers it.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_>, source: NodeId, msg: Msg) {
        let Msg::StoreWriteRequest { request_id, key, value, upsert, writer } = msg else {
            unreachable!("the store only receives writes, got {msg:?}");
        };
        let writers = self.rows.entry((key.into(), value)).or_default();
        let applied = if upsert && !writers.is_empty() {
            // The row is there: it is this writer's if this writer made it (a retry of its own write).
            ctx.shared.count("store:upsert-unchanged");
            writers[0] == writer
        } else {
            if !writers.is_empty() {
                ctx.shared.count("store:duplicate-row");
            }
            writers.push(writer);
            true
        };
        // A lost acknowledgement: the database committed the write but the connection broke before its
        // answer arrived, so the writer times out and writes again, not knowing the row is there.
        if crate::buggify!(ctx, "lost-write-acknowledgement") {
            return;
        }
        ctx.send(source, Msg::StoreWriteResponse { request_id, applied });
    }
}
