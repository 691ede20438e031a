//! A client's cache of partition leaders, refreshed with Metadata requests to any broker.
//!
//! Clients refresh it at start, after NOT_LEADER_OR_FOLLOWER, and after a request timed out (Kafka's
//! client refreshes metadata when a connection fails). A broker answers from its own metadata image, which
//! may be stale: a zombie leader still names itself.

use crate::ctx::{timer_tag, Ctx};
use crate::protocol::{Msg, PartitionId};
use eosim_sim::NodeId;

/// Leaders as a client knows them.
#[derive(Clone, Debug)]
pub struct MetadataCache {
    /// Leader and leader epoch per partition.
    leaders: Vec<(Option<NodeId>, u32)>,
    brokers: Vec<NodeId>,
    in_flight: Option<u64>,
    next_request_id: u64,
    timeout_ns: u64,
    timer_kind: u16,
    last_request_ns: Option<u64>,
    refresh_scheduled: bool,
}

/// Timer payload of a scheduled refresh; request ids are never zero.
const SCHEDULED_REFRESH: u64 = 0;

/// Least time between two metadata requests (Kafka's `retry.backoff.ms` for metadata), in nanoseconds.
const REFRESH_BACKOFF_NS: u64 = 10_000_000;

impl MetadataCache {
    /// An empty cache for `partition_count` partitions; timeouts use timers of kind `timer_kind`; request
    /// ids start after `first_request_id` (distinct per client incarnation, as the client's own ids).
    pub fn new(
        partition_count: usize,
        brokers: Vec<NodeId>,
        timeout_ns: u64,
        timer_kind: u16,
        first_request_id: u64,
    ) -> MetadataCache {
        MetadataCache {
            leaders: vec![(None, 0); partition_count],
            brokers,
            in_flight: None,
            next_request_id: first_request_id,
            timeout_ns,
            timer_kind,
            last_request_ns: None,
            refresh_scheduled: false,
        }
    }

    /// The leader of `partition`, if known.
    pub fn leader(&self, partition: PartitionId) -> Option<NodeId> {
        self.leaders[partition.index()].0
    }

    /// The leader epoch of `partition` as last learned.
    pub fn leader_epoch(&self, partition: PartitionId) -> u32 {
        self.leaders[partition.index()].1
    }

    /// Asks a broker (round robin) for fresh metadata, unless a request is already in flight; at most one
    /// request per backoff period, the next one scheduled if it comes sooner.
    pub fn refresh(&mut self, ctx: &mut Ctx<'_>) {
        if self.in_flight.is_some() || self.refresh_scheduled {
            return;
        }
        if let Some(last_ns) = self.last_request_ns {
            let mut ready_ns = last_ns + REFRESH_BACKOFF_NS;
            if crate::buggify!(ctx, "late-refresh") {
                // A late refresh: the client's metadata backoff grows exponentially with failed attempts
                // (retry.backoff.max.ms, KIP-580), so an update may wait several backoff periods.
                ready_ns = ctx.now_ns().max(ready_ns) + 4 * REFRESH_BACKOFF_NS;
            }
            if ctx.now_ns() < ready_ns {
                self.refresh_scheduled = true;
                ctx.set_timer(ready_ns - ctx.now_ns(), timer_tag(self.timer_kind, SCHEDULED_REFRESH));
                return;
            }
        }
        self.last_request_ns = Some(ctx.now_ns());
        self.next_request_id += 1;
        let request_id = self.next_request_id;
        self.in_flight = Some(request_id);
        let broker = self.brokers[(request_id % self.brokers.len() as u64) as usize];
        ctx.send(broker, Msg::MetadataRequest { request_id });
        ctx.set_timer(self.timeout_ns, timer_tag(self.timer_kind, request_id));
    }

    /// Takes a metadata response; true if it was the awaited one. A partition's entry only moves to an
    /// equal or newer leader epoch, so a broker with stale metadata cannot send the client back to a
    /// deposed leader (Kafka's client keeps the same rule).
    pub fn on_response(&mut self, request_id: u64, leaders: &[(Option<u32>, u32)]) -> bool {
        if self.in_flight != Some(request_id) {
            return false;
        }
        self.in_flight = None;
        // The answer covers every partition of the cluster; a client that knows only the user partitions
        // takes their prefix (internal partitions come last).
        if leaders.len() >= self.leaders.len() {
            for (known, (leader, epoch)) in self.leaders.iter_mut().zip(leaders) {
                if *epoch >= known.1 {
                    *known = (leader.map(NodeId), *epoch);
                }
            }
        }
        true
    }

    /// A metadata timer fired: the scheduled refresh, or the timeout of a request that, if
    /// still unanswered, goes to another broker.
    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>, request_id: u64) {
        if request_id == SCHEDULED_REFRESH {
            self.refresh_scheduled = false;
            self.refresh(ctx);
        } else if self.in_flight == Some(request_id) {
            self.in_flight = None;
            self.refresh(ctx);
        }
    }

    /// Forgets the leader of `partition` and refreshes.
    pub fn invalidate(&mut self, ctx: &mut Ctx<'_>, partition: PartitionId) {
        // A stale leader: Kafka's client keeps the cached leader after NOT_LEADER_OR_FOLLOWER and only asks for
        // an update (Metadata.requestUpdate), so it may send to the deposed leader again before the answer.
        if !crate::buggify!(ctx, "stale-leader") {
            self.leaders[partition.index()].0 = None;
        }
        self.refresh(ctx);
    }

    /// True while some partition has no known leader.
    pub fn incomplete(&self) -> bool {
        self.leaders.iter().any(|(leader, _)| leader.is_none())
    }
}
