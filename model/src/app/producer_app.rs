//! A producer application: a few threads that each send one value at a time through a shared producer
//! client, and write what they observe to the history.
//!
//! Each thread is one history process (one operation in flight, as docs/history-format.md requires); the client
//! underneath batches and pipelines the threads' records. Values are unique per application
//! (`app_index * 1_000_000 + n`). Before a value is sent it is written to a durable outbox, and it leaves
//! the outbox only when acknowledged: after a crash the restarted application re-sends everything still in
//! its outbox, as a real application with an outbox table does. The restarted client has a new producer
//! id, so the broker cannot recognise a re-sent value that had in fact landed: idempotence holds only
//! within one producer session.

use crate::client::producer::{record_bytes, Delivery, ProducerClient, RecordId};
use crate::ctx::{record, record_crash, timer_parts, timer_tag, Ctx, Phase, REQUEST_ID_BITS};
use crate::protocol::{Msg, PartitionId};
use crate::scenario::ProducerSettings;
use eosim_checker::{MicroOp, OpFn, OpType};
use eosim_sim::NodeId;
use std::collections::{BTreeMap, VecDeque};

const TIMER_THINK: u16 = 1;

/// Values one application may issue; keeps values of different applications apart.
const VALUES_PER_APP: i64 = 1_000_000;

/// The workload of one producer application.
#[derive(Clone, Debug)]
pub struct ProducerWorkload {
    /// Application threads (history processes at a time).
    pub threads: u32,
    /// Values the application issues in all.
    pub messages_total: u32,
    /// Mean think time between two sends of a thread, in nanoseconds.
    pub send_interval_ns: u64,
    /// Partitions to choose from.
    pub partitions: Vec<PartitionId>,
    /// Kafka bugs put back in the application's client (`bugs.rs`).
    pub kafka_bugs: Vec<crate::bugs::KafkaBug>,
}

/// What survives a crash of the application: its outbox and its value counter.
#[derive(Clone, Debug, Default)]
pub struct ProducerAppDurable {
    /// Values issued so far.
    pub values_issued: u32,
    /// Values sent but not seen acknowledged, with their partition.
    pub outbox: BTreeMap<i64, PartitionId>,
    /// Starts of the application so far; keeps request ids of different incarnations apart.
    pub incarnation: u64,
}

#[derive(Clone, Debug)]
struct Thread {
    process: u64,
    /// The record in flight: its id, value and partition.
    in_flight: Option<(RecordId, i64, PartitionId)>,
}

/// What a crash loses.
#[derive(Clone, Debug)]
struct Volatile {
    client: ProducerClient,
    threads: Vec<Thread>,
    /// Outbox values still to re-send after a restart.
    resend: VecDeque<(i64, PartitionId)>,
    next_record: RecordId,
}

/// A producer application node.
#[derive(Clone, Debug)]
pub struct ProducerApp {
    app_index: u32,
    settings: ProducerSettings,
    workload: ProducerWorkload,
    brokers: Vec<NodeId>,
    durable: ProducerAppDurable,
    volatile: Option<Volatile>,
}

impl ProducerApp {
    /// Application `app_index`.
    pub fn new(app_index: u32, settings: ProducerSettings, workload: ProducerWorkload, brokers: Vec<NodeId>) -> Self {
        ProducerApp { app_index, settings, workload, brokers, durable: ProducerAppDurable::default(), volatile: None }
    }

    /// True once the application has nothing in flight and nothing left to re-send.
    pub fn is_settled(&self) -> bool {
        let Some(volatile) = &self.volatile else { return false };
        volatile.resend.is_empty() && volatile.threads.iter().all(|thread| thread.in_flight.is_none())
    }

    /// The durable state.
    pub fn durable(&self) -> &ProducerAppDurable {
        &self.durable
    }

    /// Starts the client and the threads.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.boot(ctx, VecDeque::new());
    }

    /// Restarts from the outbox: everything not seen acknowledged is sent again.
    pub fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        ctx.shared.count("app:producer-restart");
        let resend = self.durable.outbox.iter().map(|(value, partition)| (*value, *partition)).collect();
        self.boot(ctx, resend);
    }

    /// Every in-flight send ends with an unknown outcome, each thread's process dies, and the client is gone.
    pub fn on_crash(&mut self, ctx: &mut Ctx<'_>) {
        let volatile = self.volatile.take().expect("a running application has volatile state");
        for thread in volatile.threads {
            if let Some((_, value, partition)) = thread.in_flight {
                let mop = send_mop(ctx, partition, value, None);
                record(ctx, thread.process, OpType::Info, OpFn::Send, vec![mop]);
            }
            record_crash(ctx, thread.process);
        }
    }

    fn boot(&mut self, ctx: &mut Ctx<'_>, resend: VecDeque<(i64, PartitionId)>) {
        let partition_count = ctx.shared.keys.len();
        self.durable.incarnation += 1;
        let first_request_id = self.durable.incarnation << REQUEST_ID_BITS;
        let mut client =
            ProducerClient::new(self.settings.clone(), self.brokers.clone(), partition_count, first_request_id)
                .with_kafka_bugs(&self.workload.kafka_bugs);
        client.start(ctx);
        let threads =
            (0..self.workload.threads).map(|_| Thread { process: ctx.shared.new_process(), in_flight: None }).collect();
        self.volatile = Some(Volatile { client, threads, resend, next_record: 0 });
        for thread in 0..self.workload.threads {
            let delay_ns = ctx.rng().exponential_ns(self.workload.send_interval_ns);
            ctx.set_timer(delay_ns, timer_tag(TIMER_THINK, u64::from(thread)));
        }
    }

    /// Handles a response for the client.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_>, msg: Msg) {
        let volatile = self.volatile.as_mut().expect("running");
        volatile.client.on_message(ctx, msg);
        self.deliver_completions(ctx);
    }

    /// Handles a thread's think timer or a client timer.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) {
        let (kind, payload) = timer_parts(tag);
        if kind == TIMER_THINK {
            self.tick_thread(ctx, payload as usize);
        } else {
            let handled = self.volatile.as_mut().expect("running").client.on_timer(ctx, tag);
            assert!(handled, "unknown producer timer kind {kind}");
        }
        self.deliver_completions(ctx);
    }

    /// A thread wakes up: it re-sends an outbox value, issues a new one, or idles.
    fn tick_thread(&mut self, ctx: &mut Ctx<'_>, thread: usize) {
        let volatile = self.volatile.as_mut().expect("running");
        if volatile.threads[thread].in_flight.is_some() {
            return;
        }
        let next = if let Some(resend) = volatile.resend.pop_front() {
            ctx.shared.count("app:resend-after-restart");
            resend
        } else if ctx.shared.phase == Phase::Faulty && self.durable.values_issued < self.workload.messages_total {
            let value = i64::from(self.app_index) * VALUES_PER_APP + i64::from(self.durable.values_issued);
            self.durable.values_issued += 1;
            let partitions = &self.workload.partitions;
            let partition = partitions[ctx.rng().below(partitions.len() as u64) as usize];
            (value, partition)
        } else {
            return;
        };
        let (value, partition) = next;
        // The intent is durable before the send, so a crash at any point leaves the value in the outbox.
        self.durable.outbox.insert(value, partition);
        let process = volatile.threads[thread].process;
        let mop = send_mop(ctx, partition, value, None);
        record(ctx, process, OpType::Invoke, OpFn::Send, vec![mop]);
        let record_id = volatile.next_record;
        volatile.next_record += 1;
        volatile.threads[thread].in_flight = Some((record_id, value, partition));
        let bytes = record_bytes(&self.settings, ctx);
        let volatile = self.volatile.as_mut().expect("running");
        if volatile.client.send(ctx, partition, record_id, value, bytes).is_err() {
            // `send()` threw: the record certainly never left the client.
            volatile.client.push_failed(record_id);
        }
    }

    /// Turns the client's outcomes into completed history operations and schedules each thread's next send.
    fn deliver_completions(&mut self, ctx: &mut Ctx<'_>) {
        let Some(volatile) = self.volatile.as_mut() else { return };
        for completion in volatile.client.take_completions() {
            let thread = volatile
                .threads
                .iter()
                .position(|thread| thread.in_flight.is_some_and(|(record, _, _)| record == completion.record))
                .expect("every completion belongs to a thread's record");
            let (_, value, partition) = volatile.threads[thread].in_flight.take().expect("found above");
            let process = volatile.threads[thread].process;
            match completion.delivery {
                Delivery::Acked(offset) => {
                    self.durable.outbox.remove(&value);
                    let mop = send_mop(ctx, partition, value, Some(offset));
                    record(ctx, process, OpType::Ok, OpFn::Send, vec![mop]);
                }
                Delivery::Failed => {
                    // Certainly never sent: the application gives the value up, as on an exception.
                    self.durable.outbox.remove(&value);
                    let mop = send_mop(ctx, partition, value, None);
                    record(ctx, process, OpType::Fail, OpFn::Send, vec![mop]);
                }
                Delivery::Unknown => {
                    // Unknown is not failed: the value may be in the log, so it stays in the outbox.
                    let mop = send_mop(ctx, partition, value, None);
                    record(ctx, process, OpType::Info, OpFn::Send, vec![mop]);
                    // As in Jepsen, a process whose operation ended unknown is retired: the thread goes on
                    // as a new process.
                    volatile.threads[thread].process = ctx.shared.new_process();
                }
            }
            let delay_ns = ctx.rng().exponential_ns(self.workload.send_interval_ns);
            ctx.set_timer(delay_ns, timer_tag(TIMER_THINK, thread as u64));
        }
    }
}

/// A send micro-op; `acked` is `Some(offset)` on an ok completion (the offset itself may be unknown).
fn send_mop(ctx: &Ctx<'_>, partition: PartitionId, value: i64, acked: Option<Option<u64>>) -> MicroOp {
    let key = ctx.shared.keys[partition.index()].clone();
    MicroOp::Send { key, value, offset: acked.flatten(), source: None }
}
