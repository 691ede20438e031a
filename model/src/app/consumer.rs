//! A consumer application: it assigns itself every partition and polls them from offset zero, writing
//! each poll to the history; once producers have settled it makes one final poll that reads every
//! partition to its high watermark.
//!
//! One poll sends one fetch per partition to its leader and completes when every fetch answered or the
//! request timeout passed, with whatever arrived (as `KafkaConsumer.poll` returns what it has). Responses
//! to fetches of an earlier round are ignored, so positions only move forward.

use crate::client::metadata::MetadataCache;
use crate::ctx::{record, record_assign, record_crash, record_op, timer_parts, timer_tag, Ctx, Phase};
use crate::protocol::{ErrorCode, FetchData, IsolationLevel, Msg, PartitionId};
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
        let Msg::FetchResponse { request_id, result } = msg else { return };
        let Some(poll) = volatile.poll.as_mut() else { return };
        let Some(partition) = poll.pending.remove(&request_id) else {
            return;
        };
        match result {
            Ok(FetchData { records, next_offset, high_watermark, last_stable_offset }) => {
                let position = &mut volatile.positions[partition.index()];
                let mut fresh: Vec<(u64, i64)> =
                    records.into_iter().filter(|(offset, _)| *offset >= *position).collect();
                // Past the records and also past markers and aborted records, which are never delivered.
                let mut next_offset = next_offset;
                if fresh.len() >= 2 && crate::buggify!(ctx) {
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
                // The log was truncated below our position (an unclean election): start over from the
                // beginning, as auto.offset.reset=earliest does. The history shows it as a poll going back.
                ctx.shared.count("client:offset-reset");
                volatile.positions[partition.index()] = 0;
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
