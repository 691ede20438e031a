//! Hand-built tests of the transactional client's error handling, with the atomic writer on top.
//!
//! A two-node world: node 0 is a scripted broker that leads every partition and plays the transaction
//! coordinator (InitProducerId, AddPartitionsToTxn, EndTxn, bumping the epoch at every EndTxn under
//! transaction version 2), and answers each produce by the next action of its script (ack by default);
//! node 1 is an atomic writer with the real transactional producer. The broker logs what it was asked, and
//! the history shows what the writer saw.

use crate::app::atomic_writer::{AtomicWriterApp, AtomicWriterSettings};
use crate::bugs::KafkaBug;
use crate::client::txn_producer::{TxnClientConfig, TxnProducerSettings};
use crate::coordinator::internal_topics::InternalTopics;
use crate::ctx::{Ctx, Shared};
use crate::protocol::{ErrorCode, Msg, PartitionId, TxnOp};
use crate::scenario::{Acks, ProducerSettings};
use eosim_checker::{OpFn, OpType};
use eosim_sim::{Actor, NodeId, NodeRole, World, WorldOptions};
use std::collections::VecDeque;

const MS: u64 = 1_000_000;
const PID: u64 = 1000;
const BROKER: NodeId = NodeId(0);
const WRITER: NodeId = NodeId(1);
const INTERNAL: InternalTopics =
    InternalTopics { first_partition: 2, transaction_log_partitions: 1, offsets_partitions: 0 };

/// What the scripted broker does with a produce request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Produce {
    Ack,
    Fail(ErrorCode),
    /// UNKNOWN_PRODUCER_ID with this log start offset.
    UnknownProducerId(Option<u64>),
    /// Never answered: the request is lost.
    Drop,
}

/// What the broker was asked, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Asked {
    /// InitProducerId with the producer id and epoch the client held (KIP-360).
    Init(Option<(u64, u16)>),
    /// A produce at (epoch, base sequence).
    Produce(u16, u32),
    /// EndTxn (commit?) at an epoch.
    End(bool, u16),
}

#[derive(Debug)]
struct ScriptedBroker {
    tv2: bool,
    epoch: u16,
    script: VecDeque<Produce>,
    /// The answer to the first EndTxn(abort), when it is an error.
    abort_error: Option<ErrorCode>,
    asked: Vec<Asked>,
    next_offset: u64,
}

impl ScriptedBroker {
    fn answer(&mut self, ctx: &mut Ctx<'_>, source: NodeId, msg: Msg) {
        let reply = match msg {
            Msg::MetadataRequest { request_id } => {
                let leaders = vec![(Some(0), 0); INTERNAL.partition_count() as usize];
                Msg::MetadataResponse { request_id, leaders }
            }
            Msg::InitProducerIdRequest { request_id, transactional: Some(init) } => {
                self.asked.push(Asked::Init(init.current));
                self.epoch = init.current.map_or(self.epoch, |(_, epoch)| epoch + 1);
                Msg::InitProducerIdResponse { request_id, result: Ok((PID, self.epoch)) }
            }
            Msg::TxnRequest { request_id, epoch, op, .. } => {
                if let TxnOp::EndTxn(commit) = *op {
                    self.asked.push(Asked::End(commit, epoch));
                    if let Some(error) = self.abort_error.take_if(|_| !commit) {
                        return ctx.send(source, Msg::TxnResponse { request_id, result: Err(error) });
                    }
                    if self.tv2 {
                        self.epoch += 1;
                    }
                }
                Msg::TxnResponse { request_id, result: Ok((PID, self.epoch)) }
            }
            Msg::ProduceRequest { request_id, batch, .. } => {
                let identity = batch.producer.expect("transactional batches are numbered");
                self.asked.push(Asked::Produce(identity.epoch, identity.base_sequence));
                let (result, log_start_offset) = match self.script.pop_front().unwrap_or(Produce::Ack) {
                    Produce::Ack => {
                        self.next_offset += batch.values.len() as u64;
                        (Ok(self.next_offset - batch.values.len() as u64), None)
                    }
                    Produce::Fail(error) => (Err(error), None),
                    Produce::UnknownProducerId(log_start_offset) => {
                        (Err(ErrorCode::UnknownProducerId), log_start_offset)
                    }
                    Produce::Drop => return,
                };
                Msg::ProduceResponse { request_id, result, log_start_offset }
            }
            other => panic!("the scripted broker was not asked for {other:?}"),
        };
        ctx.send(source, reply);
    }
}

#[derive(Debug)]
enum TestNode {
    Broker(ScriptedBroker),
    Writer(Box<AtomicWriterApp>),
}

impl Actor for TestNode {
    type Msg = Msg;
    type Shared = Shared;

    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        if let TestNode::Writer(writer) = self {
            writer.on_start(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, source: NodeId, msg: Msg) {
        match self {
            TestNode::Broker(broker) => broker.answer(ctx, source, msg),
            TestNode::Writer(writer) => writer.on_message(ctx, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) {
        if let TestNode::Writer(writer) = self {
            writer.on_timer(ctx, tag);
        }
    }

    fn on_crash(&mut self, _ctx: &mut Ctx<'_>) {
        unreachable!("nothing crashes here");
    }

    fn on_restart(&mut self, _ctx: &mut Ctx<'_>) {
        unreachable!("nothing restarts here");
    }
}

fn producer_settings() -> ProducerSettings {
    ProducerSettings {
        idempotence: true,
        acks: Acks::All,
        retries: u32::MAX,
        max_in_flight: 5,
        linger_ns: MS,
        batch_records: 4,
        request_timeout_ns: 30 * MS,
        delivery_timeout_ns: 10_000 * MS,
        retry_backoff_ns: 10 * MS,
        max_request_size: 1_048_576,
        buffer_memory: 33_554_432,
        max_block_ns: 60_000 * MS,
        record_bytes: (100, 100),
    }
}

/// A writer of `txns` transactions over partitions 0 and 1, each one value per partition.
fn world(tv2: bool, script: &[Produce], producer: ProducerSettings, txns: u32) -> World<TestNode> {
    world_with(tv2, script, None, producer, txns)
}

/// [`world`], with the first EndTxn(abort) answered `abort_error`.
fn world_with(
    tv2: bool,
    script: &[Produce],
    abort_error: Option<ErrorCode>,
    producer: ProducerSettings,
    txns: u32,
) -> World<TestNode> {
    world_with_bugs(tv2, script, abort_error, producer, txns, &[])
}

/// [`world_with`], with Kafka bugs put back in the writer's client.
fn world_with_bugs(
    tv2: bool,
    script: &[Produce],
    abort_error: Option<ErrorCode>,
    producer: ProducerSettings,
    txns: u32,
    kafka_bugs: &[KafkaBug],
) -> World<TestNode> {
    let txn = TxnProducerSettings {
        transactional_id: "writer-0".to_string(),
        transaction_timeout_ns: 400 * MS,
        explicit_add_partitions: !tv2,
        request_timeout_ns: 30 * MS,
        retry_backoff_ns: 10 * MS,
        internal: INTERNAL,
        kafka_bugs: kafka_bugs.to_vec(),
    };
    let client = TxnClientConfig { txn, producer, brokers: vec![BROKER], partition_count: 3 };
    let settings = AtomicWriterSettings {
        client,
        targets: vec![PartitionId(0), PartitionId(1)],
        partitions_per_txn: 2,
        txns_total: txns,
        think_ns: MS,
        value_base: 0,
    };
    let broker = ScriptedBroker {
        tv2,
        epoch: 0,
        script: script.iter().copied().collect(),
        abort_error,
        asked: Vec::new(),
        next_offset: 0,
    };
    let nodes = vec![
        (TestNode::Broker(broker), NodeRole::Server),
        (TestNode::Writer(Box::new(AtomicWriterApp::new(settings))), NodeRole::Client),
    ];
    let keys = vec!["p0".into(), "p1".into(), "txn-log".into()];
    let shared = Shared::new(keys);
    let mut world = World::new(WorldOptions { seed: 7, ..WorldOptions::default() }, nodes, shared);
    world.run_until(2_000 * MS);
    world
}

/// The outcomes of the writer's transactions, in order.
fn txn_outcomes(world: &World<TestNode>) -> Vec<OpType> {
    let ops = &world.shared().history.ops;
    ops.iter().filter(|op| op.f == OpFn::Txn && op.op_type != OpType::Invoke).map(|op| op.op_type).collect()
}

fn asked(world: &World<TestNode>) -> &[Asked] {
    let TestNode::Broker(broker) = world.actor(BROKER) else { unreachable!("node 0 is the broker") };
    &broker.asked
}

fn count(world: &World<TestNode>, name: &str) -> u64 {
    world.shared().counter(name)
}

/// The writer is ready with nothing open: no transaction hangs.
fn settled(world: &World<TestNode>) -> bool {
    let TestNode::Writer(writer) = world.actor(WRITER) else { unreachable!("node 1 is the writer") };
    writer.is_settled()
}

#[test]
fn maybe_transition_to_error_state_makes_a_sequence_error_abortable_and_bumps_the_epoch_by_init_producer_id() {
    // Transaction version 1: the first batch gets OUT_OF_ORDER_SEQUENCE_NUMBER with nothing earlier in flight.
    // The transaction aborts at epoch 0, InitProducerId carries (1000, 0), and the next transaction commits at
    // epoch 1 from sequence 0, with the same producer (no new session).
    let world = world(false, &[Produce::Fail(ErrorCode::OutOfOrderSequence)], producer_settings(), 2);
    assert_eq!(txn_outcomes(&world), vec![OpType::Fail, OpType::Ok]);
    let asked = asked(&world);
    let init_at = asked.iter().position(|asked| *asked == Asked::Init(Some((PID, 0)))).expect("a KIP-360 bump");
    assert_eq!(asked[init_at - 1], Asked::End(false, 0), "the bump follows the abort");
    assert!(asked[init_at..].contains(&Asked::Produce(1, 0)), "sequences restart under the new epoch: {asked:?}");
    assert_eq!(asked.last(), Some(&Asked::End(true, 1)));
    assert_eq!(asked.iter().filter(|asked| matches!(asked, Asked::Init(_))).count(), 2, "initTransactions, the bump");
    assert_eq!(count(&world, "client:abortable-epoch-bump"), 1);
    assert_eq!(count(&world, "client:txn-abortable-error"), 1);
    assert_eq!(count(&world, "app:producer-reinitialized"), 0);
    assert!(settled(&world));
}

#[test]
fn maybe_transition_to_error_state_keeps_producer_fenced_fatal() {
    // PRODUCER_FENCED is fatal: the writer closes the producer and a new session starts with a fresh
    // InitProducerId (no producer id and epoch), never a KIP-360 bump.
    let world = world(false, &[Produce::Fail(ErrorCode::ProducerFenced)], producer_settings(), 2);
    assert_eq!(txn_outcomes(&world), vec![OpType::Fail, OpType::Ok]);
    let inits: Vec<&Asked> = asked(&world).iter().filter(|asked| matches!(asked, Asked::Init(_))).collect();
    assert_eq!(inits, vec![&Asked::Init(None), &Asked::Init(None)]);
    assert_eq!(count(&world, "app:producer-reinitialized"), 1);
    assert_eq!(count(&world, "client:abortable-epoch-bump"), 0);
}

#[test]
fn begin_abort_under_transaction_version_2_takes_the_bumped_epoch_from_end_txn() {
    // Transaction version 2: INVALID_PRODUCER_EPOCH from a produce is abortable; the EndTxn abort returns
    // epoch 1 and the next transaction writes at epoch 1 from sequence 0, with no InitProducerId bump.
    let world = world(true, &[Produce::Fail(ErrorCode::InvalidProducerEpoch)], producer_settings(), 2);
    assert_eq!(txn_outcomes(&world), vec![OpType::Fail, OpType::Ok]);
    let asked = asked(&world);
    assert!(!asked.iter().any(|asked| matches!(asked, Asked::Init(Some(_)))), "{asked:?}");
    let abort_at = asked.iter().position(|asked| *asked == Asked::End(false, 0)).expect("aborted at epoch 0");
    assert!(asked[abort_at..].contains(&Asked::Produce(1, 0)), "{asked:?}");
    assert_eq!(asked.last(), Some(&Asked::End(true, 1)));
    assert_eq!(count(&world, "client:abortable-epoch-bump"), 1);
}

#[test]
fn get_expired_inflight_batches_fails_the_commit() {
    // A produce is never answered and the request timeout is longer than delivery.timeout.ms: the batch
    // expires in flight, its outcome is unknown, and the commit becomes an abort (not Committed).
    let mut producer = producer_settings();
    producer.request_timeout_ns = 1_000 * MS;
    producer.delivery_timeout_ns = 50 * MS;
    let world = world(false, &[Produce::Drop], producer, 1);
    assert_eq!(txn_outcomes(&world), vec![OpType::Fail]);
    assert!(!asked(&world).iter().any(|asked| matches!(asked, Asked::End(true, _))), "never asked to commit");
    assert_eq!(count(&world, "client:delivery-timeout-expired"), 1);
    assert_eq!(count(&world, "client:abortable-epoch-bump"), 1, "the expired batch's sequence is unknown");
    assert!(settled(&world));
}

#[test]
fn get_expired_inflight_batches_leaves_a_batch_answered_in_time() {
    // The same settings with every produce answered: nothing expires and both transactions commit.
    let mut producer = producer_settings();
    producer.request_timeout_ns = 1_000 * MS;
    producer.delivery_timeout_ns = 50 * MS;
    let world = world(false, &[], producer, 2);
    assert_eq!(txn_outcomes(&world), vec![OpType::Ok, OpType::Ok]);
    assert_eq!(count(&world, "client:delivery-timeout-expired"), 0);
}

#[test]
fn do_send_record_too_large_poisons_the_transaction() {
    // KAFKA-9279: a record above max.request.size is refused by send(); the transaction cannot commit, the
    // writer aborts it, its operation fails, and no record ever reaches the broker.
    let mut producer = producer_settings();
    producer.record_bytes = (2_000_000, 2_000_000);
    let world = world(false, &[], producer, 2);
    assert_eq!(txn_outcomes(&world), vec![OpType::Fail, OpType::Fail]);
    let asked = asked(&world);
    assert!(!asked.iter().any(|asked| matches!(asked, Asked::Produce(..) | Asked::End(true, _))), "{asked:?}");
    assert_eq!(count(&world, "client:send-failed-sync"), 2);
    assert_eq!(count(&world, "app:producer-reinitialized"), 0);
    assert!(settled(&world));
}

#[test]
fn do_send_within_max_request_size_commits() {
    // Just below max.request.size every send is taken and both transactions commit.
    let mut producer = producer_settings();
    producer.record_bytes = (1_048_576, 1_048_576);
    let world = world(false, &[], producer, 2);
    assert_eq!(txn_outcomes(&world), vec![OpType::Ok, OpType::Ok]);
    assert_eq!(count(&world, "client:send-failed-sync"), 0);
}

#[test]
fn do_send_blocked_past_max_block_ms_fails_with_buffer_exhausted() {
    // buffer.memory holds one record: the second send of a transaction blocks, no batch completes before
    // max.block.ms (the first produce is never answered and delivery.timeout.ms is longer), so it fails.
    let mut producer = producer_settings();
    producer.buffer_memory = 150;
    producer.max_block_ns = 20 * MS;
    producer.request_timeout_ns = 1_000 * MS;
    let world = world(false, &[Produce::Drop], producer, 1);
    assert_eq!(txn_outcomes(&world), vec![OpType::Fail]);
    assert_eq!(count(&world, "client:buffer-exhausted"), 1);
    assert_eq!(count(&world, "client:send-blocked-on-memory"), 1);
}

#[test]
fn can_retry_unknown_producer_id_without_a_log_start_offset() {
    // The broker did not know its log start offset: the batch is retried and the transaction commits.
    let world = world(false, &[Produce::UnknownProducerId(None)], producer_settings(), 1);
    assert_eq!(txn_outcomes(&world), vec![OpType::Ok]);
    assert_eq!(count(&world, "client:unknown-producer-id"), 1);
    assert_eq!(count(&world, "client:txn-abortable-error"), 0);
}

#[test]
fn can_retry_unknown_producer_id_after_truncation_restarts_sequences() {
    // The second transaction's first batch finds the log truncated past every acknowledged offset (log start
    // 1000): the partition's sequences restart at 0 and the batch is retried, with no abort.
    let script = [Produce::Ack, Produce::Ack, Produce::UnknownProducerId(Some(1000))];
    let world = world(false, &script, producer_settings(), 2);
    assert_eq!(txn_outcomes(&world), vec![OpType::Ok, OpType::Ok]);
    assert_eq!(count(&world, "client:sequences-reset"), 1);
    assert_eq!(count(&world, "client:txn-abortable-error"), 0);
    let produces = asked(&world).iter().filter(|asked| matches!(asked, Asked::Produce(0, 0))).count();
    // Sequence 0 on both partitions, then sequence 1 twice, then sequence 0 again for the retry.
    assert_eq!(produces, 3, "{:?}", asked(&world));
}

#[test]
fn can_retry_unknown_producer_id_with_acknowledged_offsets_kept_is_abortable() {
    // The log still holds what was acknowledged (log start 0) yet the broker lost the producer: the
    // transactional producer fails the batch, aborts, and bumps its epoch.
    let script = [Produce::Ack, Produce::Ack, Produce::UnknownProducerId(Some(0))];
    let world = world(false, &script, producer_settings(), 3);
    assert_eq!(txn_outcomes(&world), vec![OpType::Ok, OpType::Fail, OpType::Ok]);
    assert_eq!(count(&world, "client:txn-abortable-error"), 1);
    assert!(asked(&world).contains(&Asked::Init(Some((PID, 0)))));
}

#[test]
fn an_abort_fenced_after_an_abortable_error_fails_the_transaction() {
    // The abort after an abortable error is answered PRODUCER_FENCED: the producer is closed, but only a
    // commit could have committed, so the transaction fails (not info) and a new session takes over.
    let script = [Produce::Fail(ErrorCode::OutOfOrderSequence)];
    let world = world_with(false, &script, Some(ErrorCode::ProducerFenced), producer_settings(), 2);
    assert_eq!(txn_outcomes(&world), vec![OpType::Fail, OpType::Ok]);
    assert_eq!(count(&world, "app:producer-reinitialized"), 1);
    assert!(!asked(&world).contains(&Asked::Init(Some((PID, 0)))), "no bump for a fenced producer");
}

#[test]
fn kafka_9279_do_send_record_too_large_leaves_the_transaction_committable() {
    // KAFKA-9279 put back: the refused record reaches only its callback; the transaction stays committable,
    // so both transactions commit although none of their records left the client.
    let mut producer = producer_settings();
    producer.record_bytes = (2_000_000, 2_000_000);
    let world = world_with_bugs(false, &[], None, producer, 2, &[KafkaBug::Kafka9279]);
    assert_eq!(txn_outcomes(&world), vec![OpType::Ok, OpType::Ok]);
    assert!(!asked(&world).iter().any(|asked| matches!(asked, Asked::Produce(..))), "{:?}", asked(&world));
    assert_eq!(count(&world, "client:send-failed-sync"), 2);
    assert_eq!(count(&world, "client:txn-abortable-error"), 0);
}

#[test]
fn kafka_9279_buffer_exhausted_send_commits_without_its_record() {
    // The blocked send of do_send_blocked_past_max_block_ms_fails_with_buffer_exhausted, with KAFKA-9279 put
    // back: BufferExhaustedException goes to the callback only and the commit succeeds without the record.
    let mut producer = producer_settings();
    producer.buffer_memory = 150;
    producer.max_block_ns = 20 * MS;
    producer.request_timeout_ns = 1_000 * MS;
    let world = world_with_bugs(false, &[Produce::Drop], None, producer, 1, &[KafkaBug::Kafka9279]);
    assert_eq!(txn_outcomes(&world), vec![OpType::Ok]);
    assert_eq!(count(&world, "client:buffer-exhausted"), 1);
    assert_eq!(count(&world, "client:txn-abortable-error"), 0);
    let produces = asked(&world).iter().filter(|asked| matches!(asked, Asked::Produce(..))).count();
    assert_eq!(produces, 2, "the dropped first attempt and its retry; the refused record never: {:?}", asked(&world));
}

/// Transaction version 1, two transactions; the first one's first produce is never answered and expires in
/// flight on its first attempt, after the commit was asked for.
fn expired_in_flight(kafka_bugs: &[KafkaBug]) -> World<TestNode> {
    let mut producer = producer_settings();
    producer.request_timeout_ns = 1_000 * MS;
    producer.delivery_timeout_ns = 50 * MS;
    world_with_bugs(false, &[Produce::Drop], None, producer, 2, kafka_bugs)
}

#[test]
fn kafka_14053_expired_in_flight_while_completing_aborts_without_an_epoch_bump() {
    // KAFKA-14053 put back: the abort keeps epoch 0 and the partition's sequence goes on after the expired
    // batch (1), so that batch, were it to land late, would fit the next transaction.
    let world = expired_in_flight(&[KafkaBug::Kafka14053]);
    assert_eq!(txn_outcomes(&world), vec![OpType::Fail, OpType::Ok]);
    let asked = asked(&world);
    assert!(!asked.iter().any(|asked| matches!(asked, Asked::Init(Some(_)))), "no KIP-360 bump: {asked:?}");
    let abort_at = asked.iter().position(|asked| *asked == Asked::End(false, 0)).expect("aborted at epoch 0");
    assert!(asked[abort_at..].contains(&Asked::Produce(0, 1)), "same epoch, sequence goes on: {asked:?}");
    assert_eq!(asked.last(), Some(&Asked::End(true, 0)));
    assert_eq!(count(&world, "client:expired-in-flight-without-bump"), 1);
    assert_eq!(count(&world, "client:abortable-epoch-bump"), 0);
}

#[test]
fn kafka_14053_fixed_expired_in_flight_bumps_the_epoch_with_the_abort() {
    // Without the switch the expiry requires a bump: InitProducerId (1000, 0) follows the abort and the next
    // transaction writes at epoch 1 from sequence 0, which fences the late batch.
    let world = expired_in_flight(&[]);
    assert_eq!(txn_outcomes(&world), vec![OpType::Fail, OpType::Ok]);
    let asked = asked(&world);
    let init_at = asked.iter().position(|asked| *asked == Asked::Init(Some((PID, 0)))).expect("a KIP-360 bump");
    assert!(asked[init_at..].contains(&Asked::Produce(1, 0)), "{asked:?}");
    assert_eq!(asked.last(), Some(&Asked::End(true, 1)));
    assert_eq!(count(&world, "client:expired-in-flight-without-bump"), 0);
}
