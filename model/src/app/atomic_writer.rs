//! The atomic multi-partition writer: each transaction sends one value to each of a few distinct
//! partitions and commits, so a read_committed consumer must see all of a transaction's values or none.
//!
//! Each transaction is one `txn` operation of the application's process: invoked with its sends, completed
//! `ok` with their offsets when the commit is acknowledged, `fail` when it aborted (or the producer failed
//! before asking to commit, so the coordinator can only abort it), and `info` when the commit was asked for
//! but its answer never came (a crash, a fencing): it may have committed. A committed transaction that a
//! consumer sees only part of is a torn transaction, reported as `lost-write`.
//!
//! A fatal producer error (a zombie fenced by its own successor or by a transaction timeout) closes the
//! producer; a new one with the same transactional id takes over, which is how Kafka applications recover.

use crate::client::producer::Delivery;
use crate::client::txn_producer::{TxnClientConfig, TxnEvent, TxnPhase, TxnProducer};
use crate::ctx::{record, record_crash, timer_parts, timer_tag, Ctx, Phase};
use crate::protocol::{Msg, PartitionId};
use eosim_checker::{MicroOp, OpFn, OpType};
use std::collections::BTreeMap;

const TIMER_THINK: u16 = 1;

/// What an atomic writer does.
#[derive(Clone, Debug)]
pub struct AtomicWriterSettings {
    /// Its transactional producer sessions.
    pub client: TxnClientConfig,
    /// The partitions it writes to.
    pub targets: Vec<PartitionId>,
    /// Partitions per transaction.
    pub partitions_per_txn: u32,
    /// Transactions in all.
    pub txns_total: u32,
    /// Mean think time between transactions.
    pub think_ns: u64,
    /// First value; values are unique per writer.
    pub value_base: i64,
}

/// What survives a crash.
#[derive(Clone, Debug, Default)]
pub struct AtomicWriterDurable {
    /// Transactions begun so far.
    pub txns_issued: u32,
    /// Values issued so far.
    pub values_issued: i64,
    /// Producer sessions so far (a restart or a fatal error starts one); keeps request ids apart.
    pub sessions: u64,
}

#[derive(Clone, Debug)]
struct OpenTxn {
    sends: Vec<(PartitionId, i64)>,
    offsets: BTreeMap<u64, u64>,
}

#[derive(Clone, Debug)]
struct Volatile {
    producer: TxnProducer,
    process: u64,
    txn: Option<OpenTxn>,
}

/// An atomic writer node.
#[derive(Clone, Debug)]
pub struct AtomicWriterApp {
    settings: AtomicWriterSettings,
    durable: AtomicWriterDurable,
    volatile: Option<Volatile>,
}

impl AtomicWriterApp {
    /// A writer with these settings.
    pub fn new(settings: AtomicWriterSettings) -> AtomicWriterApp {
        AtomicWriterApp { settings, durable: AtomicWriterDurable::default(), volatile: None }
    }

    /// True when no transaction is open and the producer is ready.
    pub fn is_settled(&self) -> bool {
        self.volatile.as_ref().is_some_and(|v| v.txn.is_none() && v.producer.phase() == TxnPhase::Ready)
    }

    /// What the writer is waiting for, in words, for stall reports.
    pub fn describe(&self) -> String {
        let Some(v) = &self.volatile else { return "atomic writer: down".to_string() };
        format!("atomic writer: transaction open: {}; {}", v.txn.is_some(), v.producer.describe())
    }

    /// Starts the producer.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        let process = ctx.shared.new_process();
        let producer = self.new_producer(ctx);
        self.volatile = Some(Volatile { producer, process, txn: None });
    }

    /// A restart is a new process with a new producer, which fences the old one.
    pub fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        ctx.shared.count("app:atomic-writer-restart");
        self.on_start(ctx);
    }

    /// An open transaction ends unknown and the process dies.
    pub fn on_crash(&mut self, ctx: &mut Ctx<'_>) {
        let volatile = self.volatile.take().expect("running");
        if let Some(txn) = &volatile.txn {
            let mops = send_mops(ctx, &txn.sends, None);
            record(ctx, volatile.process, OpType::Info, OpFn::Txn, mops);
        }
        record_crash(ctx, volatile.process);
    }

    fn new_producer(&mut self, ctx: &mut Ctx<'_>) -> TxnProducer {
        self.settings.client.start_session(ctx, &mut self.durable.sessions)
    }

    /// Handles a response.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_>, msg: Msg) {
        let volatile = self.volatile.as_mut().expect("running");
        volatile.producer.on_message(ctx, msg);
        self.after_producer(ctx);
    }

    /// Handles the think timer or a producer timer.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) {
        let (kind, _) = timer_parts(tag);
        if kind == TIMER_THINK {
            self.tick_txn(ctx);
        } else {
            let handled = self.volatile.as_mut().expect("running").producer.on_timer(ctx, tag);
            assert!(handled, "unknown atomic writer timer kind {kind}");
        }
        self.after_producer(ctx);
    }

    /// Begins a transaction that writes one new value to each of a few distinct partitions, and commits it.
    fn tick_txn(&mut self, ctx: &mut Ctx<'_>) {
        let volatile = self.volatile.as_mut().expect("running");
        let idle = volatile.txn.is_none() && volatile.producer.phase() == TxnPhase::Ready;
        if !idle || ctx.shared.phase != Phase::Faulty || self.durable.txns_issued >= self.settings.txns_total {
            return;
        }
        self.durable.txns_issued += 1;
        let mut targets = self.settings.targets.clone();
        let count = (self.settings.partitions_per_txn as usize).min(targets.len());
        let mut sends = Vec::new();
        for _ in 0..count {
            let partition = targets.remove(ctx.rng().below(targets.len() as u64) as usize);
            let value = self.settings.value_base + self.durable.values_issued;
            self.durable.values_issued += 1;
            sends.push((partition, value));
        }
        sends.sort();
        let mops = send_mops(ctx, &sends, None);
        record(ctx, volatile.process, OpType::Invoke, OpFn::Txn, mops);
        volatile.producer.begin();
        for (record_id, (partition, value)) in sends.iter().enumerate() {
            let bytes = volatile.producer.record_bytes(ctx);
            if volatile.producer.send(ctx, *partition, record_id as u64, *value, bytes).is_err() {
                // The send threw: the transaction cannot commit, and the Abortable event makes the writer
                // abort it, so the whole operation fails.
                ctx.shared.count("app:atomic-writer-send-failed");
                break;
            }
        }
        volatile.producer.end(ctx, true);
        volatile.txn = Some(OpenTxn { sends, offsets: BTreeMap::new() });
    }

    /// Turns the producer's record outcomes and events into history operations.
    fn after_producer(&mut self, ctx: &mut Ctx<'_>) {
        let Some(volatile) = self.volatile.as_mut() else { return };
        for completion in volatile.producer.take_completions() {
            if let (Some(txn), Delivery::Acked(Some(offset))) = (volatile.txn.as_mut(), completion.delivery) {
                txn.offsets.insert(completion.record, offset);
            }
        }
        for event in volatile.producer.take_events() {
            match event {
                TxnEvent::Ready => self.schedule_think(ctx),
                TxnEvent::Committed => self.finish(ctx, OpType::Ok),
                TxnEvent::Aborted => self.finish(ctx, OpType::Fail),
                TxnEvent::Abortable(_) => self.volatile.as_mut().expect("running").producer.end(ctx, false),
                TxnEvent::Fatal(_) => self.on_fatal(ctx),
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>, outcome: OpType) {
        let volatile = self.volatile.as_mut().expect("running");
        let Some(txn) = volatile.txn.take() else { return };
        let offsets = (outcome == OpType::Ok).then_some(&txn.offsets);
        let mops = send_mops(ctx, &txn.sends, offsets);
        record(ctx, volatile.process, outcome, OpFn::Txn, mops);
        if outcome == OpType::Info {
            // As in Jepsen, a process whose operation ended unknown is retired.
            volatile.process = ctx.shared.new_process();
        }
        self.schedule_think(ctx);
    }

    /// The producer is closed: the open transaction failed (or, if its commit was asked for, is unknown),
    /// and a new producer takes over.
    fn on_fatal(&mut self, ctx: &mut Ctx<'_>) {
        let end_sent = self.volatile.as_ref().expect("running").producer.end_sent();
        self.finish(ctx, if end_sent { OpType::Info } else { OpType::Fail });
        ctx.shared.count("app:producer-reinitialized");
        let producer = self.new_producer(ctx);
        self.volatile.as_mut().expect("running").producer = producer;
    }

    fn schedule_think(&mut self, ctx: &mut Ctx<'_>) {
        let delay_ns = ctx.rng().exponential_ns(self.settings.think_ns).max(1);
        ctx.set_timer(delay_ns, timer_tag(TIMER_THINK, 0));
    }
}

/// Send micro-ops, with the acknowledged offsets of an ok completion.
fn send_mops(ctx: &Ctx<'_>, sends: &[(PartitionId, i64)], offsets: Option<&BTreeMap<u64, u64>>) -> Vec<MicroOp> {
    sends
        .iter()
        .enumerate()
        .map(|(record_id, (partition, value))| MicroOp::Send {
            key: ctx.shared.keys[partition.index()].clone(),
            value: *value,
            offset: offsets.and_then(|offsets| offsets.get(&(record_id as u64)).copied()),
            source: None,
        })
        .collect()
}
