//! The broker as a leader serving follower fetches: Kafka's `ReplicaManager.fetchMessages` for a replica
//! fetch, and the fetch purgatory's `DelayedFetch` holding a fetch that found nothing new.
//!
//! One request carries every partition a follower replicates from this broker. Each is served with the
//! per-partition code (`Replica::replica_fetch`: follower progress, the high watermark, `complete_pending`);
//! the answer goes at once if any partition has something to send or an error, else the whole request is
//! parked once, until any of its partitions differs from what the follower asked or the fetch wait passes.

use super::{Broker, TIMER_DELAYED_FETCH};
use crate::ctx::{timer_tag, Ctx};
use crate::protocol::{ErrorCode, Msg, PartitionId, ReplicaFetchData, ReplicaFetchPartition, ReplicaFetchResult};
use eosim_sim::{NodeId, TimerId};

/// Records per partition per fetch at most.
const FETCH_MAX_RECORDS: u32 = 64;

/// A follower fetch held at the leader (Kafka's `DelayedFetch`), answered as soon as any of its partitions
/// differs from what the follower asked ([`FetchView::asked`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ParkedFetch {
    follower_node: NodeId,
    request_id: u64,
    follower: u32,
    /// Each partition as asked: the request's own vector, kept.
    partitions: Vec<ReplicaFetchPartition>,
    /// The `replica.fetch.wait.max.ms` timer, cancelled when the fetch is answered early or replaced, as
    /// `DelayedOperation.forceComplete` cancels its `TimerTask`.
    timer: TimerId,
    /// Always empty: the vector the read that parked the fetch filled, kept for its answer so that a parked
    /// fetch allocates one answer, not two.
    answer: Vec<ReplicaFetchResult>,
}

/// What a parked follower fetch is waiting to change in one partition: the conditions of Kafka's
/// `DelayedFetch.tryComplete` for a fetch read to the log end (`FetchIsolation.LOG_END`). The log end moving
/// either way (new data, case G; a truncated leader, case F) and the leadership it was sent to (cases A and E)
/// answer it. A new high watermark or log start offset does not: a follower learns those from the next answer
/// its fetch gets for another reason, new data or the end of `replica.fetch.wait.max.ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FetchView {
    /// The leader epoch while this broker leads, None otherwise.
    leader_epoch: Option<u32>,
    log_end: u64,
}

impl FetchView {
    /// What an answer would tell the follower nothing new about: `asked`'s partition led at the asked epoch
    /// with its log ending at the asked offset. A parked fetch waits for its partitions to differ from this,
    /// not from how they looked when it was parked: Kafka's `tryCompleteElseWatch` tries the `DelayedFetch`
    /// once more as it parks it, so data appended while the fetch was read (serving one partition can move the
    /// high watermark and complete a coordinator write that appends to another of the same fetch) answers it
    /// at once, where it would otherwise wait for the next append or the whole `replica.fetch.wait.max.ms`.
    fn asked(asked: &ReplicaFetchPartition) -> FetchView {
        FetchView { leader_epoch: Some(asked.leader_epoch), log_end: asked.offset }
    }
}

/// True if an answer would tell the follower nothing it does not know: no batches, no divergence, no log start
/// offset past its fetch offset, no error (`fetchMessages` answers at once when any partition has one).
fn nothing_new(asked: &ReplicaFetchPartition, result: &Result<ReplicaFetchData, ErrorCode>) -> bool {
    result
        .as_ref()
        .is_ok_and(|data| data.batches.is_empty() && data.diverging.is_none() && data.log_start_offset <= asked.offset)
}

impl Broker {
    /// Reads one partition for a follower and records its progress, which may move the high watermark and so
    /// complete acks=all produces waiting on it.
    fn serve_follower(
        &mut self,
        ctx: &mut Ctx<'_>,
        follower: u32,
        asked: &ReplicaFetchPartition,
    ) -> Result<ReplicaFetchData, ErrorCode> {
        let partition = asked.partition;
        // Not marked changed for the purgatory: a read changes the followers' progress, the HW and the
        // producer state, never the leadership or the log end a parked fetch waits on, so marking it would
        // only make the scan after this event re-read views that cannot have moved.
        let (Some(replica), Some(durable)) =
            (self.volatile.replicas.get_mut_unseen(&partition), self.durable.replicas.get(&partition))
        else {
            return Err(ErrorCode::NotLeaderOrFollower);
        };
        let now_ns = ctx.now_ns();
        let result = replica.replica_fetch(
            durable,
            follower,
            asked.offset,
            asked.last_fetched_epoch,
            asked.leader_epoch,
            FETCH_MAX_RECORDS,
            now_ns,
        );
        if result.as_ref().is_ok_and(|data| data.diverging.is_some()) {
            ctx.shared.count("broker:follower-diverged");
        }
        super::count_result(ctx, &result.as_ref().map(|_| ()).map_err(|error| *error));
        let replies = replica.complete_pending(Some(self.settings.replication.min_insync_replicas));
        // Most reads complete no produce; skipping the call then saves a follower fetch a call per partition.
        if !replies.is_empty() {
            self.send_replies(ctx, partition, replies);
        }
        result
    }

    /// Every partition of one fetch read in request order into `results`: when it arrives, and again when its
    /// `DelayedFetch` completes.
    fn serve_follower_partitions(
        &mut self,
        ctx: &mut Ctx<'_>,
        follower: u32,
        partitions: &[ReplicaFetchPartition],
        results: &mut Vec<ReplicaFetchResult>,
    ) {
        results.extend(partitions.iter().map(|asked| (asked.partition, self.serve_follower(ctx, follower, asked))));
    }

    /// Kafka's `ReplicaManager.fetchMessages` for a follower: answered at once when some partition has
    /// something to send (batches, a divergence, a log start offset past the fetch offset) or an error;
    /// otherwise parked as one `DelayedFetch` until any of its partitions changes or `replica.fetch.wait.max.ms`
    /// passes.
    pub(super) fn on_replica_fetch(
        &mut self,
        ctx: &mut Ctx<'_>,
        follower_node: NodeId,
        request_id: u64,
        follower: u32,
        partitions: Vec<ReplicaFetchPartition>,
    ) {
        // A follower sends a new fetch to this leader only once it gave up on the previous one, whose answer
        // it would ignore.
        if let Some(index) = self.volatile.parked_fetches.iter().position(|(_, parked)| parked.follower == follower) {
            let (_, replaced) = self.volatile.parked_fetches.remove(index);
            ctx.cancel_timer(replaced.timer);
        }
        let mut results = ctx.shared.fetch_vectors.answer(partitions.len());
        self.serve_follower_partitions(ctx, follower, &partitions, &mut results);
        let parks = !results.is_empty() && partitions.iter().zip(&results).all(|(asked, (_, r))| nothing_new(asked, r));
        if !parks {
            ctx.shared.fetch_vectors.recycle_request(partitions);
            ctx.send(follower_node, Msg::ReplicaFetchResponse { request_id, partitions: results });
            return;
        }
        for asked in &partitions {
            let seen = self.fetch_view(asked.partition).expect("a served fetch names a hosted partition");
            assert!(seen.leader_epoch == Some(asked.leader_epoch), "only the leader at the fetch's epoch parks");
        }
        self.volatile.next_request_id += 1;
        let park_id = self.volatile.next_request_id;
        let timer = ctx.set_timer(self.settings.fetch_wait_ns, timer_tag(TIMER_DELAYED_FETCH, park_id));
        // What the read found tells the follower nothing; only the vector is kept, for the answer.
        results.clear();
        // The check after this event is `tryCompleteElseWatch`'s second try: a partition the read itself appended
        // to is marked changed, and differs from what was asked.
        let parked = ParkedFetch { follower_node, request_id, follower, partitions, timer, answer: results };
        self.volatile.parked_fetches.push((park_id, parked));
        ctx.shared.count("broker:fetch-parked");
    }

    /// What a parked fetch of `partition` waits to change, if this broker hosts it.
    fn fetch_view(&self, partition: PartitionId) -> Option<FetchView> {
        let replica = self.volatile.replicas.get(&partition)?;
        let durable = self.durable.replicas.get(&partition)?;
        Some(FetchView {
            leader_epoch: replica.is_leader().then_some(replica.leader_epoch),
            log_end: durable.log.end_offset(),
        })
    }

    /// Kafka's `DelayedFetch.tryComplete`, run after every event this broker handles (Kafka runs it after
    /// appends, HW moves and leader changes): answers each parked fetch one of whose partitions changed, in
    /// park-id order. Answering one records its follower's progress, which may move the HW and so complete
    /// others: it runs until none is left to answer. Only partitions the replica maps lent out for change since
    /// the last check can have moved, so only those are re-read.
    ///
    /// Most events leave nothing to check (no fetch parked, or no partition lent out), so that test is inlined
    /// into the event handlers and the scan, with its larger frame, is entered only when it can find something.
    #[inline]
    pub(super) fn try_complete_parked_fetches(&mut self, ctx: &mut Ctx<'_>) {
        if !self.volatile.parked_fetches.is_empty() && self.partitions_changed() {
            self.complete_changed_parked_fetches(ctx);
        }
        self.volatile.replicas.forget_changes();
        self.durable.replicas.forget_changes();
        #[cfg(debug_assertions)]
        self.assert_parked_fetches_see_their_partitions();
    }

    /// The scan of [`Broker::try_complete_parked_fetches`], once some partition changed with fetches parked.
    #[inline(never)]
    fn complete_changed_parked_fetches(&mut self, ctx: &mut Ctx<'_>) {
        while !self.volatile.parked_fetches.is_empty() && self.partitions_changed() {
            let changed = self.volatile.parked_fetches.iter().find(|(_, parked)| {
                parked.partitions.iter().any(|asked| {
                    self.partition_changed(asked.partition)
                        && self.fetch_view(asked.partition) != Some(FetchView::asked(asked))
                })
            });
            let Some(park_id) = changed.map(|(park_id, _)| *park_id) else { break };
            ctx.shared.count("broker:fetch-completed-early");
            self.answer_parked_fetch(ctx, park_id);
        }
    }

    /// True if some hosted partition may have changed since the last parked-fetch check.
    fn partitions_changed(&self) -> bool {
        self.volatile.replicas.has_changes() || self.durable.replicas.has_changes()
    }

    /// True if `partition` may have changed since the last parked-fetch check.
    fn partition_changed(&self, partition: PartitionId) -> bool {
        self.volatile.replicas.is_changed(&partition) || self.durable.replicas.is_changed(&partition)
    }

    /// The full scan the change tracking stands in for: after a check, every parked fetch still sees each of
    /// its partitions as it was when parked. Debug builds (every `cargo test`) run it after every event;
    /// release builds skip it because it costs what the tracking saves.
    #[cfg(debug_assertions)]
    fn assert_parked_fetches_see_their_partitions(&self) {
        for (park_id, parked) in &self.volatile.parked_fetches {
            for asked in &parked.partitions {
                let view = self.fetch_view(asked.partition);
                let unchanged = view == Some(FetchView::asked(asked));
                assert!(unchanged, "parked fetch {park_id} missed a change of its partition: {view:?}");
            }
        }
    }

    /// Kafka's `DelayedFetch.onComplete`: reads every partition again and answers; a partition whose leadership
    /// this broker lost answers the error the read gives (NOT_LEADER_OR_FOLLOWER, or FENCED_LEADER_EPOCH once
    /// it follows a newer epoch).
    pub(super) fn answer_parked_fetch(&mut self, ctx: &mut Ctx<'_>, park_id: u64) {
        let Ok(index) = self.volatile.parked_fetches.binary_search_by_key(&park_id, |(id, _)| *id) else { return };
        let (_, parked) = self.volatile.parked_fetches.remove(index);
        // Answered by its own timer, the cancel finds nothing left to cancel.
        ctx.cancel_timer(parked.timer);
        let mut results = parked.answer;
        assert!(results.is_empty(), "a parked fetch keeps an empty answer");
        self.serve_follower_partitions(ctx, parked.follower, &parked.partitions, &mut results);
        ctx.shared.fetch_vectors.recycle_request(parked.partitions);
        ctx.send(
            parked.follower_node,
            Msg::ReplicaFetchResponse { request_id: parked.request_id, partitions: results },
        );
    }
}
