//! The broker as a follower: its fetchers ([`super::fetcher`]) sent, answered, timed out and backed off, as
//! Kafka's `AbstractFetcherThread` loop runs them. There is no periodic poll: a fetcher sends its next request
//! when the previous one is answered, after `request.timeout.ms` with no answer, or when an error's backoff
//! ends, and a timer runs only for a request in flight or a partition that waits.

use super::fetcher::{InFlightFetch, NextFetch};
use super::{Broker, TIMER_FETCH_BACKOFF, TIMER_FETCH_TIMEOUT};
use crate::broker::replica::Role;
use crate::ctx::{timer_tag, Ctx};
use crate::protocol::{ErrorCode, Msg, PartitionId, ReplicaFetchData, ReplicaFetchPartition, ReplicaFetchResult};
use eosim_sim::NodeId;

impl Broker {
    /// Kafka's `replica.fetch.backoff.ms`, how long a partition waits after an error or a request given up.
    /// The model has no such knob and keeps the wait its followers always had after an error: the shorter
    /// of the fetch wait and the request timeout.
    pub(super) fn fetch_backoff_ns(&self) -> u64 {
        self.settings.fetch_wait_ns.min(self.settings.request_timeout_ns)
    }

    /// Kafka's `ReplicaFetcherManager.addFetcherForPartitions` and `removeFetcherForPartitions` after a
    /// metadata change: `partition` now follows its replica's leader at its epoch, or nothing. Returns the
    /// fetchers to wake once every partition has moved, so that partitions moving to one leader together go
    /// in one request and a new leader is fetched from at once when its fetcher is idle.
    pub(super) fn move_partition_fetch(&mut self, partition: PartitionId) -> [Option<u32>; 2] {
        let Some(replica) = self.volatile.replicas.get(&partition) else { return [None, None] };
        let left = self.volatile.fetchers.leader_of(partition);
        match replica.role {
            Role::Follower { leader } => {
                self.volatile.fetchers.add_partition(partition, leader, replica.leader_epoch);
                [left.filter(|old| *old != leader), Some(leader)]
            }
            Role::Leader(_) | Role::None => {
                self.volatile.fetchers.remove_partition(partition);
                [left, None]
            }
        }
    }

    /// Kafka's `AbstractFetcherThread.maybeFetch` for the fetcher of `leader`: with nothing in flight, one
    /// request for every partition not delayed, or a backoff timer until the first delay ends.
    pub(super) fn fetch_from(&mut self, ctx: &mut Ctx<'_>, leader: u32) {
        let Some(fetcher) = self.volatile.fetchers.get(leader) else { return };
        if fetcher.in_flight.is_some() {
            return;
        }
        match fetcher.next_fetch(ctx.now_ns()) {
            NextFetch::Send => self.send_replica_fetch(ctx, leader),
            NextFetch::BackOff(due_ns) => {
                if fetcher.backoff.is_some_and(|(armed_ns, _)| armed_ns <= due_ns) {
                    return;
                }
                let timer = ctx.set_timer(due_ns - ctx.now_ns(), timer_tag(TIMER_FETCH_BACKOFF, u64::from(leader)));
                let fetcher = self.volatile.fetchers.get_mut(leader).expect("looked up above");
                if let Some((_, later)) = fetcher.backoff.replace((due_ns, timer)) {
                    ctx.cancel_timer(later);
                }
            }
            NextFetch::Idle => self.volatile.fetchers.drop_if_idle(leader),
        }
    }

    /// One `ReplicaFetchRequest` for the partitions the fetcher of `leader` has ready, each at this log's end
    /// and last epoch, with the timer that gives it up after the request timeout.
    fn send_replica_fetch(&mut self, ctx: &mut Ctx<'_>, leader: u32) {
        let fetcher = self.volatile.fetchers.get(leader).expect("fetching from a known fetcher");
        let mut fetched = ctx.shared.fetch_vectors.request(fetcher.partitions.len());
        for (partition, leader_epoch) in fetcher.ready(ctx.now_ns()) {
            let log = &self.durable.replicas[&partition].log;
            let replica = &self.volatile.replicas[&partition];
            assert!(replica.role == Role::Follower { leader }, "a fetcher holds only partitions following it");
            assert!(replica.leader_epoch == leader_epoch, "a fetcher follows the replica's epoch");
            let offset = log.end_offset();
            fetched.push(ReplicaFetchPartition {
                partition,
                offset,
                last_fetched_epoch: log.last_epoch(),
                leader_epoch,
            });
        }
        assert!(!fetched.is_empty(), "a fetch is sent only with some partition ready");
        // The in-flight record of what was asked is a copy of the request, in a reused vector too.
        let mut sent = ctx.shared.fetch_vectors.request(fetched.len());
        sent.extend_from_slice(&fetched);
        self.volatile.next_request_id += 1;
        let request_id = self.volatile.next_request_id;
        let timeout_timer =
            Some(ctx.set_timer(self.settings.request_timeout_ns, timer_tag(TIMER_FETCH_TIMEOUT, request_id)));
        let fetcher = self.volatile.fetchers.get_mut(leader).expect("fetching from a known fetcher");
        fetcher.in_flight = Some(InFlightFetch { request_id, partitions: sent, timeout_timer });
        // While a request is in flight its answer or timeout decides what comes next, so no backoff waits.
        if let Some((_, timer)) = fetcher.backoff.take() {
            ctx.cancel_timer(timer);
        }
        let msg = Msg::ReplicaFetchRequest { request_id, replica: self.settings.broker_index, partitions: fetched };
        ctx.send(NodeId(leader), msg);
    }

    /// Kafka's `processFetchRequest` with the answer: each partition's data applied if the partition is still
    /// fetched from this leader at the epoch and offset it was asked at; a partition error delays only that
    /// partition (`handlePartitionsWithErrors`); then the next request goes out at once.
    pub(super) fn on_replica_fetched(
        &mut self,
        ctx: &mut Ctx<'_>,
        source: NodeId,
        request_id: u64,
        mut results: Vec<ReplicaFetchResult>,
    ) {
        let leader = source.0;
        let Some(in_flight) = self.volatile.fetchers.take_in_flight(leader, request_id) else { return };
        if let Some(timer) = in_flight.timeout_timer {
            ctx.cancel_timer(timer);
        }
        let backoff_until_ns = ctx.now_ns() + self.fetch_backoff_ns();
        for (partition, result) in results.drain(..) {
            let Some(asked) = in_flight.partitions.iter().find(|asked| asked.partition == partition) else { continue };
            let (leader_epoch, offset) = (asked.leader_epoch, asked.offset);
            let fetcher = self.volatile.fetchers.get_mut(leader).expect("a fetcher with a request in flight stays");
            let log_end = self.durable.replicas.get(&partition).map(|durable| durable.log.end_offset());
            if !fetcher.still_fetches(partition, leader_epoch) || log_end != Some(offset) {
                ctx.shared.count("broker:follower-fetch-result-ignored");
                continue;
            }
            match result {
                Ok(data) => self.apply_fetched(ctx, partition, data),
                // Kafka's `onPartitionFenced`: the leader has a newer epoch than the one followed here, so the
                // partition waits for the metadata that brings it.
                Err(ErrorCode::FencedLeaderEpoch) => fetcher.fail(partition),
                Err(_) => fetcher.delay(partition, backoff_until_ns),
            }
        }
        ctx.shared.fetch_vectors.recycle_answer(results);
        ctx.shared.fetch_vectors.recycle_request(in_flight.partitions);
        // The leader holds a fetch that finds nothing new, so the follower fetches again at once, as Kafka's
        // `ReplicaFetcherThread` loop does.
        self.fetch_from(ctx, leader);
    }

    /// One partition's data from its leader: truncation on a divergence, else the batches and the high
    /// watermark.
    fn apply_fetched(&mut self, ctx: &mut Ctx<'_>, partition: PartitionId, data: ReplicaFetchData) {
        if data.diverging.is_some() {
            ctx.shared.count("broker:follower-truncated");
        }
        // Not marked changed for the fetch purgatory: a parked fetch holds only partitions this broker leads (any
        // leadership change answers it), and a fetch answer changes only a follower's replica (`on_fetch_data`
        // leaves any other alone; the clock is no part of what a parked fetch waits on). Marking it would
        // make every applied answer rescan the parked fetches for nothing.
        let replica = self.volatile.replicas.get_mut_unseen(&partition).expect("fetching replicas exist");
        let durable = self.durable.replicas.get_mut_unseen(&partition).expect("hosted");
        replica.advance_clock(ctx.now_ns());
        replica.on_fetch_data(durable, &self.settings.replication, data);
    }

    /// The request timeout of fetch `request_id` passed: if it is still unanswered it is given up and every
    /// partition of its fetcher waits the backoff (Kafka's `processFetchRequest` on an exception).
    pub(super) fn on_replica_fetch_timeout(&mut self, ctx: &mut Ctx<'_>, request_id: u64) {
        let Some(leader) = self.volatile.fetchers.leader_of_request(request_id) else { return };
        self.volatile.fetchers.take_in_flight(leader, request_id).expect("found above");
        ctx.shared.count("broker:follower-fetch-timed-out");
        let backoff_until_ns = ctx.now_ns() + self.fetch_backoff_ns();
        self.volatile.fetchers.get_mut(leader).expect("found above").delay_all(backoff_until_ns);
        self.fetch_from(ctx, leader);
    }

    /// The backoff timer of the fetcher of `leader` fired: partitions whose delay ended are fetched.
    pub(super) fn on_replica_fetch_backoff(&mut self, ctx: &mut Ctx<'_>, leader: u32) {
        let Some(fetcher) = self.volatile.fetchers.get_mut(leader) else { return };
        if fetcher.backoff.is_some_and(|(due_ns, _)| due_ns <= ctx.now_ns()) {
            fetcher.backoff = None;
        }
        self.fetch_from(ctx, leader);
    }
}
