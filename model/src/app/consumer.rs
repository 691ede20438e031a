//! A consumer application: it assigns itself every partition and polls them from offset zero, writing
//! each poll to the history; once producers have settled it makes one final poll that reads every
//! partition to its high watermark.
//!
//! One poll sends one fetch per partition to its leader and completes when every fetch answered or the
//! request timeout passed, with whatever arrived (as `KafkaConsumer.poll` returns what it has). Responses
//! to fetches of an earlier round are ignored, so positions only move forward.

use crate::client::fetch::complete_fetch;
use crate::client::metadata::MetadataCache;
use crate::ctx::{record, record_assign, record_crash, record_op, timer_parts, timer_tag, Ctx, Phase};
use crate::protocol::{ErrorCode, FetchData, FetchedBatch, IsolationLevel, Msg, PartitionId};
use eosim_checker::{MicroOp, Op, OpFn, OpType};
use std::collections::BTreeMap;

const TIMER_POLL: u16 = 1;
const TIMER_ROUND_TIMEOUT: u16 = 2;
const TIMER_METADATA: u16 = 3;

/// Records per fetch at most.
const FETCH_MAX_RECORDS: u32 = 64;

/// Consumer settings, in nanoseconds.
#[derive(Clone, Debug)]
pub struct ConsumerSettings {
    /// Time between two polls.
    pub poll_interval_ns: u64,
    /// How long a poll waits for its fetches.
    pub request_timeout_ns: u64,
    /// Partitions, all assigned.
    pub partition_count: u32,
    /// Brokers to ask for metadata.
    pub brokers: Vec<eosim_sim::NodeId>,
    /// read_committed or read_uncommitted.
    pub isolation: IsolationLevel,
}

#[derive(Clone, Debug)]
struct Poll {
    final_poll: bool,
    round: u64,
    /// Fetch request id → partition, for this round.
    pending: BTreeMap<u64, PartitionId>,
    reads: BTreeMap<String, Vec<(u64, i64)>>,
    /// Partitions read to the high watermark during this poll.
    caught_up: Vec<bool>,
}

#[derive(Clone, Debug)]
struct Volatile {
    process: u64,
    positions: Vec<u64>,
    poll: Option<Poll>,
    next_request_id: u64,
    next_round: u64,
    finished_final: bool,
    metadata: MetadataCache,
}

/// A consumer application node.
#[derive(Clone, Debug)]
pub struct ConsumerApp {
    settings: ConsumerSettings,
    /// Starts so far, durable: request ids of different incarnations never collide.
    incarnation: u64,
    volatile: Option<Volatile>,
}

impl ConsumerApp {
    /// A consumer of every partition.
    pub fn new(settings: ConsumerSettings) -> ConsumerApp {
        ConsumerApp { settings, incarnation: 0, volatile: None }
    }

    /// True once the final poll has read every partition to its end.
    pub fn finished_final_poll(&self) -> bool {
        self.volatile.as_ref().is_some_and(|volatile| volatile.finished_final)
    }

    /// Assigns every partition and schedules the first poll.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        let process = ctx.shared.new_process();
        let keys = ctx.shared.keys.clone();
        record_assign(ctx, process, keys);
        self.incarnation += 1;
        let next_request_id = self.incarnation << crate::ctx::REQUEST_ID_BITS;
        let partition_count = self.settings.partition_count as usize;
        let positions = vec![0; partition_count];
        let brokers = self.settings.brokers.clone();
        let mut metadata = MetadataCache::new(
            partition_count,
            brokers,
            self.settings.request_timeout_ns,
            TIMER_METADATA,
            next_request_id,
        );
        metadata.refresh(ctx);
        self.volatile = Some(Volatile {
            process,
            positions,
            poll: None,
            next_request_id,
            next_round: 0,
            finished_final: false,
            metadata,
        });
        ctx.set_timer(self.settings.poll_interval_ns, timer_tag(TIMER_POLL, 0));
    }

    /// A restarted consumer is a new process that starts over from offset zero.
    pub fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        self.on_start(ctx);
    }

    /// An in-flight poll ends with an unknown outcome and the process dies.
    pub fn on_crash(&mut self, ctx: &mut Ctx<'_>) {
        let volatile = self.volatile.take().expect("running");
        if volatile.poll.is_some() {
            record(ctx, volatile.process, OpType::Info, OpFn::Poll, vec![MicroOp::Poll { reads: BTreeMap::new() }]);
        }
        record_crash(ctx, volatile.process);
    }

    /// Handles a fetch response.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_>, msg: Msg) {
        let volatile = self.volatile.as_mut().expect("running");
        if let Msg::MetadataResponse { request_id, leaders } = &msg {
            volatile.metadata.on_response(*request_id, leaders);
            return;
        }
        let Msg::FetchResponse { request_id, result, log_start_offset } = msg else { return };
        let Some(poll) = volatile.poll.as_mut() else { return };
        let Some(partition) = poll.pending.remove(&request_id) else {
            return;
        };
        match result.map(|data| *data) {
            Ok(FetchData { batches, aborted, high_watermark, last_stable_offset }) => {
                let position = &mut volatile.positions[partition.index()];
                // Kafka's `CompletedFetch`: the consumer drops aborted transactions and markers itself.
                let batches: Vec<FetchedBatch> =
                    batches.into_iter().filter(|batch| batch.last_offset() >= *position).collect();
                let completed = complete_fetch(&batches, &aborted, *position, self.settings.isolation);
                let mut fresh = completed.records;
                // Past the records and also past markers and aborted records, which are never delivered.
                let mut next_offset = completed.next_offset;
                if fresh.len() >= 2 && crate::buggify!(ctx, "short-read") {
                    // A short read: KafkaConsumer.poll returns fewer records than the broker had (max.poll.records,
                    // fetch.max.bytes, a fetch session answered in part); the rest come with the next poll.
                    next_offset = fresh[fresh.len() / 2].0;
                    fresh.truncate(fresh.len() / 2);
                }
                *position = (*position).max(next_offset);
                let end = match self.settings.isolation {
                    IsolationLevel::ReadUncommitted => high_watermark,
                    IsolationLevel::ReadCommitted => last_stable_offset,
                };
                poll.caught_up[partition.index()] = *position >= end;
                if !fresh.is_empty() {
                    let key = ctx.shared.keys[partition.index()].clone();
                    poll.reads.entry(key).or_default().extend(fresh);
                }
            }
            Err(ErrorCode::OffsetOutOfRange) => {
                // auto.offset.reset=earliest: the position fell below the log start offset (retention) or past
                // the log end (an unclean election truncated the log). Kafka's consumer looks the earliest
                // offset up (`OffsetFetcher.resetPositionsIfNeeded`, ListOffsets); the fetch response already
                // carries it. The history shows a poll going back, or records skipped.
                ctx.shared.count("client:offset-reset");
                let log_start_offset = log_start_offset.expect("a broker answering OFFSET_OUT_OF_RANGE hosts it");
                volatile.positions[partition.index()] = log_start_offset;
            }
            Err(_) => {
                ctx.shared.count("client:fetch-error");
                volatile.metadata.invalidate(ctx, partition);
            }
        }
        if poll.pending.is_empty() {
            self.finish_round(ctx);
        }
    }

    /// Handles the poll timer and the round timeout.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) {
        let (kind, payload) = timer_parts(tag);
        let volatile = self.volatile.as_mut().expect("running");
        match kind {
            TIMER_POLL => {
                if volatile.poll.is_none() && !volatile.finished_final {
                    self.start_poll(ctx);
                }
            }
            TIMER_ROUND_TIMEOUT => {
                if volatile.poll.as_ref().is_some_and(|poll| poll.round == payload) {
                    if volatile.poll.as_ref().is_some_and(|poll| !poll.pending.is_empty()) {
                        ctx.shared.count("client:fetch-timeout");
                        volatile.metadata.refresh(ctx);
                    }
                    self.finish_round(ctx);
                }
            }
            TIMER_METADATA => volatile.metadata.on_timeout(ctx, payload),
            _ => unreachable!("unknown consumer timer kind {kind}"),
        }
    }

    fn start_poll(&mut self, ctx: &mut Ctx<'_>) {
        let volatile = self.volatile.as_mut().expect("running");
        let final_poll = ctx.shared.phase == Phase::FinalRead;
        record(ctx, volatile.process, OpType::Invoke, OpFn::Poll, vec![MicroOp::Poll { reads: BTreeMap::new() }]);
        let partition_count = self.settings.partition_count as usize;
        volatile.poll = Some(Poll {
            final_poll,
            round: 0,
            pending: BTreeMap::new(),
            reads: BTreeMap::new(),
            caught_up: vec![false; partition_count],
        });
        let all: Vec<PartitionId> = (0..partition_count as u32).map(PartitionId).collect();
        self.start_round(ctx, &all);
    }

    /// Sends one fetch per partition in `partitions` and arms the round's timeout.
    fn start_round(&mut self, ctx: &mut Ctx<'_>, partitions: &[PartitionId]) {
        let volatile = self.volatile.as_mut().expect("running");
        let round = volatile.next_round;
        volatile.next_round += 1;
        let poll = volatile.poll.as_mut().expect("a poll is in progress");
        poll.round = round;
        poll.pending.clear();
        for partition in partitions {
            let Some(leader) = volatile.metadata.leader(*partition) else {
                // No known leader: this partition waits for the round timeout and the next round.
                volatile.metadata.refresh(ctx);
                continue;
            };
            volatile.next_request_id += 1;
            let request_id = volatile.next_request_id;
            poll.pending.insert(request_id, *partition);
            let offset = volatile.positions[partition.index()];
            let leader_epoch = volatile.metadata.leader_epoch(*partition);
            let msg = Msg::FetchRequest {
                request_id,
                partition: *partition,
                offset,
                max_records: FETCH_MAX_RECORDS,
                leader_epoch,
                isolation: self.settings.isolation,
            };
            ctx.send(leader, msg);
        }
        ctx.set_timer(self.settings.request_timeout_ns, timer_tag(TIMER_ROUND_TIMEOUT, round));
    }

    /// A normal poll completes after one round; a final poll fetches again until every partition is read
    /// to its high watermark.
    fn finish_round(&mut self, ctx: &mut Ctx<'_>) {
        let volatile = self.volatile.as_mut().expect("running");
        let poll = volatile.poll.as_mut().expect("a poll is in progress");
        poll.pending.clear();
        if poll.final_poll {
            let behind: Vec<PartitionId> =
                (0..poll.caught_up.len()).filter(|i| !poll.caught_up[*i]).map(|i| PartitionId(i as u32)).collect();
            if !behind.is_empty() {
                self.start_round(ctx, &behind);
                return;
            }
        }
        let mut poll = volatile.poll.take().expect("checked above");
        if poll.final_poll {
            // A final poll vouches for every key it read to the end, even those with nothing new.
            for key in &ctx.shared.keys {
                poll.reads.entry(key.clone()).or_default();
            }
        }
        let op = Op {
            index: 0,
            time_ns: ctx.now_ns(),
            process: volatile.process,
            op_type: OpType::Ok,
            f: OpFn::Poll,
            mops: vec![MicroOp::Poll { reads: poll.reads }],
            keys: Vec::new(),
            final_poll: poll.final_poll,
        };
        record_op(ctx, op);
        if poll.final_poll {
            volatile.finished_final = true;
        } else {
            ctx.set_timer(self.settings.poll_interval_ns, timer_tag(TIMER_POLL, 0));
        }
    }
}

#[cfg(test)]
mod tests {
    //! A consumer against a scripted broker whose log starts at offset 5 (retention deleted 0-4).
    use super::*;
    use crate::ctx::Shared;
    use eosim_sim::{Actor, NodeId, NodeRole, World, WorldOptions};

    const MS: u64 = 1_000_000;
    const LOG_START_OFFSET: u64 = 5;

    #[derive(Debug)]
    enum TestNode {
        /// Leads partition 0, holds one record (value 50) at offset 5, and logs the fetch offsets asked.
        Broker(Vec<u64>),
        Consumer(Box<ConsumerApp>),
    }

    fn answer(asked: &mut Vec<u64>, ctx: &mut Ctx<'_>, source: NodeId, msg: Msg) {
        let reply = match msg {
            Msg::MetadataRequest { request_id } => Msg::MetadataResponse { request_id, leaders: vec![(Some(0), 0)] },
            Msg::FetchRequest { request_id, offset, .. } => {
                asked.push(offset);
                let record = FetchedBatch {
                    base_offset: LOG_START_OFFSET,
                    producer_id: None,
                    transactional: false,
                    control: None,
                    values: vec![50].into(),
                };
                let batches = if offset <= LOG_START_OFFSET { vec![record] } else { Vec::new() };
                let data = FetchData { batches, aborted: Vec::new(), high_watermark: 6, last_stable_offset: 6 };
                let result = if offset < LOG_START_OFFSET { Err(ErrorCode::OffsetOutOfRange) } else { Ok(data) };
                Msg::FetchResponse {
                    request_id,
                    result: result.map(Box::new),
                    log_start_offset: Some(LOG_START_OFFSET),
                }
            }
            other => panic!("the scripted broker was not asked for {other:?}"),
        };
        ctx.send(source, reply);
    }

    impl Actor for TestNode {
        type Msg = Msg;
        type Shared = Shared;

        fn on_start(&mut self, ctx: &mut Ctx<'_>) {
            if let TestNode::Consumer(consumer) = self {
                consumer.on_start(ctx);
            }
        }

        fn on_message(&mut self, ctx: &mut Ctx<'_>, source: NodeId, msg: Msg) {
            match self {
                TestNode::Broker(asked) => answer(asked, ctx, source, msg),
                TestNode::Consumer(consumer) => consumer.on_message(ctx, msg),
            }
        }

        fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) {
            if let TestNode::Consumer(consumer) = self {
                consumer.on_timer(ctx, tag);
            }
        }

        fn on_crash(&mut self, _ctx: &mut Ctx<'_>) {
            unreachable!("nothing crashes here");
        }

        fn on_restart(&mut self, _ctx: &mut Ctx<'_>) {
            unreachable!("nothing restarts here");
        }
    }

    #[test]
    fn reset_positions_if_needed_moves_an_out_of_range_position_to_the_log_start_offset() {
        // auto.offset.reset=earliest: the fetch at 0 is OFFSET_OUT_OF_RANGE, and the consumer fetches next from
        // the log start offset the response carried, not from 0 again (which would loop forever).
        let settings = ConsumerSettings {
            poll_interval_ns: 10 * MS,
            request_timeout_ns: 30 * MS,
            partition_count: 1,
            brokers: vec![NodeId(0)],
            isolation: IsolationLevel::ReadCommitted,
        };
        let nodes = vec![
            (TestNode::Broker(Vec::new()), NodeRole::Server),
            (TestNode::Consumer(Box::new(ConsumerApp::new(settings))), NodeRole::Client),
        ];
        let mut world =
            World::new(WorldOptions { seed: 5, ..WorldOptions::default() }, nodes, Shared::new(vec!["p0".into()]));
        world.run_until(100 * MS);
        let TestNode::Broker(asked) = world.actor(NodeId(0)) else { unreachable!("node 0 is the broker") };
        assert_eq!(asked[..3], [0, LOG_START_OFFSET, LOG_START_OFFSET + 1], "reset once, then reads on");
        assert!(asked[1..].iter().all(|offset| *offset >= LOG_START_OFFSET), "never back below the start: {asked:?}");
        assert_eq!(world.shared().counter("client:offset-reset"), 1);
        let polled = world.shared().history.ops.iter().flat_map(|op| op.mops.iter()).any(
            |mop| matches!(mop, MicroOp::Poll { reads } if reads.values().any(|records| records.contains(&(5, 50)))),
        );
        assert!(polled, "the record at the log start offset is delivered");
    }
}
