//! Property tests. A random reference log (producers sending unique values to a few partitions, alone or in
//! transactions, with ok, info and fail outcomes; consumers polling successive ranges, running consume-transform-
//! produce transactions that commit, abort — and then rewind — or end unknown, being reassigned, and finishing with
//! final polls) yields a correct history, which must check clean under `kafka-eos`: aborted writes are never read,
//! unknown outcomes are read or not, consumers never skip or go back. One mutation of it must make the matching
//! anomaly appear: a value dropped from every read (lost-write), read at a second offset (duplicate), a poll
//! restarted earlier (nonmonotonic-poll), an aborted value read (G1a), two reads of one poll swapped
//! (int-nonmonotonic-poll), a read dropped from the middle of a poll (int-poll-skip), a consumer that does not
//! rewind after an abort (poll-skip). And the readers must never panic, whatever they are given.

use std::collections::BTreeMap;

use eosim_checker::{check, Analysis, AnomalyKind, Guarantee, History, MicroOp, Offset, Op, OpFn, OpType, Value};
use proptest::prelude::*;
use proptest::sample::Index;

const KEY_COUNT: usize = 3;
const CONSUMER_COUNT: usize = 2;

fn key_name(key: usize) -> String {
    format!("k-{key}")
}

/// How a send ends, and whether its record reaches the log.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    Ok,
    InfoLanded,
    InfoLost,
    Fail,
}

/// One step of the reference workload.
#[derive(Clone, Debug)]
enum Action {
    Send {
        producer: u64,
        keys: Vec<usize>,
        outcome: Outcome,
        defer: bool,
        null_offset: bool,
        gap: bool,
    },
    Poll {
        consumer: usize,
        max_records: usize,
        info: bool,
    },
    Assign {
        consumer: usize,
        mask: u8,
        subscribe: bool,
    },
    /// A consume-transform-produce transaction: poll, then send one output record to `output`.
    Transact {
        consumer: usize,
        max_records: usize,
        outcome: Outcome,
        output: usize,
    },
}

fn action() -> impl Strategy<Value = Action> {
    let outcome = prop_oneof![
        4 => Just(Outcome::Ok),
        1 => Just(Outcome::InfoLanded),
        1 => Just(Outcome::InfoLost),
        1 => Just(Outcome::Fail),
    ];
    let send = (
        0..3u64,
        prop::sample::subsequence((0..KEY_COUNT).collect::<Vec<_>>(), 1..=2),
        outcome,
        any::<bool>(),
        prop::bool::weighted(0.1),
        any::<bool>(),
    )
        .prop_map(|(producer, keys, outcome, defer, null_offset, gap)| Action::Send {
            producer,
            keys,
            outcome,
            defer,
            null_offset,
            gap,
        });
    let poll = (0..CONSUMER_COUNT, 0..4usize, prop::bool::weighted(0.1))
        .prop_map(|(consumer, max_records, info)| Action::Poll { consumer, max_records, info });
    let assign = (0..CONSUMER_COUNT, 0..8u8, any::<bool>()).prop_map(|(consumer, mask, subscribe)| Action::Assign {
        consumer,
        mask,
        subscribe,
    });
    let outcome = prop_oneof![3 => Just(Outcome::Ok), 1 => Just(Outcome::InfoLanded), 1 => Just(Outcome::InfoLost), 2 => Just(Outcome::Fail)];
    let transact =
        (0..CONSUMER_COUNT, 1..4usize, outcome, 0..KEY_COUNT).prop_map(|(consumer, max_records, outcome, output)| {
            Action::Transact { consumer, max_records, outcome, output }
        });
    prop_oneof![5 => send, 4 => poll, 1 => assign, 2 => transact]
}

/// A send invoked and not yet completed.
struct Pending {
    f: OpFn,
    writes: Vec<(usize, Value)>,
    outcome: Outcome,
    null_offset: bool,
    gap: bool,
}

#[derive(Default)]
struct Consumer {
    /// Per assigned key, the index in the log of the next record to read.
    positions: BTreeMap<usize, usize>,
    /// Per key, the last record read since the key was assigned, if the checker still knows the position.
    last_read: BTreeMap<usize, (Offset, Value)>,
    /// Per key, how many records aborted transactions read since the last committed read (to be read again).
    aborted_reads: BTreeMap<usize, usize>,
}

/// The simulated system and the history it produces.
#[derive(Default)]
struct Reference {
    history: History,
    logs: Vec<Vec<(Offset, Value)>>,
    next_offset: Vec<Offset>,
    next_value: Value,
    pending: BTreeMap<u64, Pending>,
    consumers: Vec<Consumer>,
    /// Ok polls that continue a previous poll of the key: (op index, key, the previous poll's last record).
    continuations: Vec<(usize, usize, (Offset, Value))>,
    /// Acknowledged values: (key, value).
    acknowledged: Vec<(usize, Value)>,
    /// Values whose send or transaction definitely failed: (key, value).
    failed: Vec<(usize, Value)>,
    /// Ok polls whose first records of a key an aborted transaction of the same consumer had read first:
    /// (op index, key, how many records were read again after the rewind).
    rewinds: Vec<(usize, usize, usize)>,
}

fn op(process: u64, op_type: OpType, f: OpFn, mops: Vec<MicroOp>) -> Op {
    Op { index: 0, time_ns: 0, process, op_type, f, mops, keys: Vec::new(), final_poll: false }
}

impl Reference {
    fn new() -> Reference {
        Reference {
            logs: vec![Vec::new(); KEY_COUNT],
            next_offset: vec![0; KEY_COUNT],
            consumers: (0..CONSUMER_COUNT).map(|_| Consumer::default()).collect(),
            ..Reference::default()
        }
    }

    fn push(&mut self, mut op: Op) -> usize {
        op.time_ns = self.history.ops.len() as u64 * 10;
        self.history.push(op)
    }

    fn run(actions: &[Action]) -> Reference {
        let mut reference = Reference::new();
        for action in actions {
            match action {
                Action::Send { producer, keys, outcome, defer, null_offset, gap } => {
                    reference.send(*producer, keys, *outcome, *null_offset, *gap);
                    if !defer {
                        reference.complete(*producer);
                    }
                }
                Action::Poll { consumer, max_records, info } => reference.poll(*consumer, *max_records, *info, false),
                Action::Assign { consumer, mask, subscribe } => reference.assign(*consumer, *mask, *subscribe),
                Action::Transact { consumer, max_records, outcome, output } => {
                    reference.transact(*consumer, *max_records, *outcome, *output);
                }
            }
        }
        reference.finish();
        reference
    }

    fn send(&mut self, producer: u64, keys: &[usize], outcome: Outcome, null_offset: bool, gap: bool) {
        self.complete(producer);
        let writes: Vec<(usize, Value)> = keys.iter().map(|&k| (k, self.next_value + k as Value)).collect();
        self.next_value += 10;
        let f = if keys.len() > 1 { OpFn::Txn } else { OpFn::Send };
        let mops =
            writes.iter().map(|&(k, value)| MicroOp::Send { key: key_name(k), value, offset: None, source: None });
        self.push(op(producer, OpType::Invoke, f, mops.collect()));
        self.pending.insert(producer, Pending { f, writes, outcome, null_offset, gap });
    }

    /// Completes `producer`'s pending send, appending its records to the log if they land.
    fn complete(&mut self, producer: u64) {
        let Some(pending) = self.pending.remove(&producer) else { return };
        let lands = matches!(pending.outcome, Outcome::Ok | Outcome::InfoLanded);
        let mut mops = Vec::new();
        for &(key, value) in &pending.writes {
            let mut offset = None;
            if lands {
                // A gap stands for a transaction marker: an offset no consumer ever returns.
                self.next_offset[key] += u64::from(pending.gap);
                offset = Some(self.next_offset[key]);
                self.logs[key].push((self.next_offset[key], value));
                self.next_offset[key] += 1;
            }
            let acknowledged = matches!(pending.outcome, Outcome::Ok);
            if acknowledged {
                self.acknowledged.push((key, value));
            }
            if matches!(pending.outcome, Outcome::Fail) {
                self.failed.push((key, value));
            }
            let offset = if acknowledged && !pending.null_offset { offset } else { None };
            mops.push(MicroOp::Send { key: key_name(key), value, offset, source: None });
        }
        let op_type = match pending.outcome {
            Outcome::Ok => OpType::Ok,
            Outcome::InfoLanded | Outcome::InfoLost => OpType::Info,
            Outcome::Fail => OpType::Fail,
        };
        self.push(op(producer, op_type, pending.f, mops));
    }

    fn poll(&mut self, consumer: usize, max_records: usize, info: bool, final_poll: bool) {
        let process = 10 + consumer as u64;
        let mut invoke = op(process, OpType::Invoke, OpFn::Poll, vec![MicroOp::Poll { reads: BTreeMap::new() }]);
        invoke.final_poll = final_poll;
        self.push(invoke.clone());
        if info {
            // The consumer did not move, but the checker cannot know it: it forgets the position.
            self.consumers[consumer].last_read.clear();
            self.push(Op { op_type: OpType::Info, ..invoke });
            return;
        }
        let index = self.history.ops.len();
        let max_records = if final_poll { usize::MAX } else { max_records };
        let reads = self.read(consumer, max_records, Some(index));
        self.push(Op { op_type: OpType::Ok, mops: vec![MicroOp::Poll { reads }], ..invoke });
    }

    /// What `consumer` reads from each assigned key, at most `max_records` each. With `committed` (the index the
    /// completion will have), its position moves past them; without, it stays (the transaction aborts).
    fn read(
        &mut self,
        consumer: usize,
        max_records: usize,
        committed: Option<usize>,
    ) -> BTreeMap<String, Vec<(Offset, Value)>> {
        let mut reads = BTreeMap::new();
        let keys: Vec<usize> = self.consumers[consumer].positions.keys().copied().collect();
        for key in keys {
            let start = self.consumers[consumer].positions[&key];
            let end = start.saturating_add(max_records).min(self.logs[key].len());
            let records = self.logs[key][start..end].to_vec();
            let state = &mut self.consumers[consumer];
            if let Some(index) = committed {
                state.positions.insert(key, end);
                if let (Some(&first), Some(&last)) = (records.first(), records.last()) {
                    let reread = state.aborted_reads.remove(&key);
                    if let Some(previous) = state.last_read.insert(key, last) {
                        self.continuations.push((index, key, previous));
                        // Only a position the checker knows makes a skip visible.
                        if let Some(reread) = reread {
                            self.rewinds.push((index, key, reread.min(records.len())));
                        }
                    }
                    assert!(first.0 < last.0 || records.len() == 1);
                }
            } else if !records.is_empty() {
                let reread = state.aborted_reads.entry(key).or_insert(0);
                *reread = (*reread).max(records.len());
            }
            reads.insert(key_name(key), records);
        }
        reads
    }

    /// A consume-transform-produce transaction: reads like a poll, then sends one record to `output`. Committed,
    /// both take effect; aborted, neither does and the consumer rewinds; unknown, they happened or not.
    fn transact(&mut self, consumer: usize, max_records: usize, outcome: Outcome, output: usize) {
        let process = 10 + consumer as u64;
        let value = self.next_value + output as Value;
        self.next_value += 10;
        let send = |offset| MicroOp::Send { key: key_name(output), value, offset, source: None };
        self.push(op(process, OpType::Invoke, OpFn::Txn, vec![MicroOp::Poll { reads: BTreeMap::new() }, send(None)]));
        let index = self.history.ops.len();
        let lands = matches!(outcome, Outcome::Ok | Outcome::InfoLanded);
        let reads = self.read(consumer, max_records, lands.then_some(index));
        let mut offset = None;
        if lands {
            offset = Some(self.next_offset[output]);
            self.logs[output].push((self.next_offset[output], value));
            self.next_offset[output] += 1;
        }
        let op_type = match outcome {
            Outcome::Ok => {
                self.acknowledged.push((output, value));
                OpType::Ok
            }
            Outcome::InfoLanded | Outcome::InfoLost => {
                // The checker cannot know where an unknown transaction left the consumer: it forgets, and judges
                // nothing about this read.
                self.continuations.retain(|c| c.0 != index);
                self.rewinds.retain(|r| r.0 != index);
                self.consumers[consumer].last_read.clear();
                self.consumers[consumer].aborted_reads.clear();
                offset = None;
                OpType::Info
            }
            Outcome::Fail => {
                self.failed.push((output, value));
                OpType::Fail
            }
        };
        self.push(op(process, op_type, OpFn::Txn, vec![MicroOp::Poll { reads }, send(offset)]));
    }

    fn assign(&mut self, consumer: usize, mask: u8, subscribe: bool) {
        let keys: Vec<usize> = (0..KEY_COUNT).filter(|k| mask & (1 << k) != 0).collect();
        let state = &mut self.consumers[consumer];
        state.positions.retain(|k, _| keys.contains(k));
        state.last_read.retain(|k, _| keys.contains(k));
        state.aborted_reads.retain(|k, _| keys.contains(k));
        for &key in &keys {
            // A newly assigned key starts from the beginning: re-reading after a reset is legitimate.
            state.positions.entry(key).or_insert(0);
        }
        let f = if subscribe { OpFn::Subscribe } else { OpFn::Assign };
        let invoke = Op {
            keys: keys.iter().map(|&k| key_name(k)).collect(),
            ..op(10 + consumer as u64, OpType::Invoke, f, Vec::new())
        };
        self.push(invoke.clone());
        self.push(Op { op_type: OpType::Ok, ..invoke });
    }

    /// Completes every send, then has every key read to its end by a final poll.
    fn finish(&mut self) {
        let producers: Vec<u64> = self.pending.keys().copied().collect();
        for producer in producers {
            self.complete(producer);
        }
        for consumer in 0..CONSUMER_COUNT {
            if !self.consumers[consumer].positions.is_empty() {
                self.poll(consumer, 0, false, true);
            }
        }
        // Keys no consumer holds are read from the start by a fresh consumer each.
        for key in 0..KEY_COUNT {
            if self.consumers.iter().all(|c| !c.positions.contains_key(&key)) {
                let consumer = self.consumers.len();
                self.consumers.push(Consumer::default());
                self.assign(consumer, 1 << key, false);
                self.poll(consumer, 0, false, true);
            }
        }
    }
}

fn reads_mut(op: &mut Op) -> impl Iterator<Item = &mut BTreeMap<String, Vec<(Offset, Value)>>> {
    op.mops.iter_mut().filter_map(|mop| match mop {
        MicroOp::Poll { reads } => Some(reads),
        _ => None,
    })
}

fn is_cycle(kind: AnomalyKind) -> bool {
    eosim_checker::cycles::kinds().any(|k| k == kind)
}

/// The kinds found, but for dependency cycles: the reference's consumers lag and its sends overlap, which makes
/// cycles (allowed under kafka-eos) that no mutation is about.
fn kinds_found(history: &History) -> Vec<AnomalyKind> {
    check(history, Guarantee::KafkaEos).anomalies.iter().map(|a| a.kind).filter(|&k| !is_cycle(k)).collect()
}

/// One poll's records of one key: (op index, key, records).
type PollRecords = (usize, String, Vec<(Offset, Value)>);

/// Every (op, key, records) of an ok or failed poll, for mutations inside one poll.
fn poll_records(history: &History) -> Vec<PollRecords> {
    let mut found = Vec::new();
    for op in history.ops.iter().filter(|op| op.op_type != OpType::Invoke) {
        for mop in &op.mops {
            if let MicroOp::Poll { reads } = mop {
                found.extend(reads.iter().map(|(key, records)| (op.index, key.clone(), records.clone())));
            }
        }
    }
    found
}

/// Replaces the records of `key` in op `index`'s first poll of it.
fn set_records(history: &mut History, index: usize, key: &str, records: Vec<(Offset, Value)>) {
    if let Some(slot) = reads_mut(&mut history.ops[index]).find_map(|reads| reads.get_mut(key)) {
        *slot = records;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_correct_history_checks_clean_and_round_trips(actions in prop::collection::vec(action(), 0..40)) {
        let reference = Reference::run(&actions);
        let report = check(&reference.history, Guarantee::KafkaEos);
        // Cycles are allowed: Kafka's consumers lag behind acknowledged records, and its writes interleave.
        let only_cycles = report.anomalies.iter().all(|a| is_cycle(a.kind));
        prop_assert!(only_cycles, "{}\n{}", report.render_text(5), reference.history.to_jsonl());
        prop_assert!(report.is_valid());
        let text = reference.history.to_jsonl();
        let parsed = History::parse_jsonl("h.jsonl", &text);
        prop_assert_eq!(parsed.as_ref(), Ok(&reference.history));
    }

    #[test]
    fn dropping_an_acknowledged_value_from_every_read_is_a_lost_write(
        actions in prop::collection::vec(action(), 1..40),
        pick in any::<Index>(),
    ) {
        let mut reference = Reference::run(&actions);
        prop_assume!(!reference.acknowledged.is_empty());
        let (key, value) = reference.acknowledged[pick.index(reference.acknowledged.len())];
        for op in &mut reference.history.ops {
            for reads in reads_mut(op) {
                if let Some(records) = reads.get_mut(&key_name(key)) {
                    records.retain(|&(_, v)| v != value);
                }
            }
        }
        let report = check(&reference.history, Guarantee::KafkaEos);
        let lost: Vec<_> = report.anomalies.iter().filter(|a| a.kind == AnomalyKind::LostWrite).collect();
        prop_assert_eq!(lost.len(), 1, "{}", report.render_text(5));
        prop_assert_eq!(&lost[0].values, &vec![value]);
        prop_assert!(!report.is_valid());
    }

    #[test]
    fn reading_a_value_at_a_second_offset_is_a_duplicate(
        actions in prop::collection::vec(action(), 1..40),
        pick in any::<Index>(),
    ) {
        let mut reference = Reference::run(&actions);
        let landed: Vec<(usize, Offset, Value)> = (0..KEY_COUNT)
            .flat_map(|k| reference.logs[k].iter().map(move |&(o, v)| (k, o, v)))
            .collect();
        prop_assume!(!landed.is_empty());
        let (key, _, value) = landed[pick.index(landed.len())];
        let beyond = reference.next_offset[key] + 1;
        let mut reads = BTreeMap::new();
        reads.insert(key_name(key), vec![(beyond, value)]);
        reference.push(op(999, OpType::Ok, OpFn::Poll, vec![MicroOp::Poll { reads }]));
        let found = kinds_found(&reference.history);
        prop_assert_eq!(found, vec![AnomalyKind::Duplicate]);
    }

    #[test]
    fn restarting_a_poll_earlier_is_nonmonotonic(
        actions in prop::collection::vec(action(), 1..40),
        pick in any::<Index>(),
    ) {
        let mut reference = Reference::run(&actions);
        prop_assume!(!reference.continuations.is_empty());
        let (index, key, previous) = reference.continuations[pick.index(reference.continuations.len())];
        let op = &mut reference.history.ops[index];
        if let Some(reads) = reads_mut(op).next() {
            if let Some(records) = reads.get_mut(&key_name(key)) {
                records.insert(0, previous);
            }
        }
        let found = kinds_found(&reference.history);
        prop_assert!(found.contains(&AnomalyKind::NonmonotonicPoll), "{:?}", found);
    }

    #[test]
    fn reading_an_aborted_value_is_g1a(actions in prop::collection::vec(action(), 1..40), pick in any::<Index>()) {
        let mut reference = Reference::run(&actions);
        prop_assume!(!reference.failed.is_empty());
        let (key, value) = reference.failed[pick.index(reference.failed.len())];
        let beyond = reference.next_offset[key] + 1;
        let reads = BTreeMap::from([(key_name(key), vec![(beyond, value)])]);
        reference.push(op(999, OpType::Ok, OpFn::Poll, vec![MicroOp::Poll { reads }]));
        prop_assert_eq!(kinds_found(&reference.history), vec![AnomalyKind::G1a]);
    }

    #[test]
    fn swapping_two_reads_of_a_poll_is_int_nonmonotonic(
        actions in prop::collection::vec(action(), 1..40),
        pick in any::<Index>(),
        at in any::<Index>(),
    ) {
        let mut reference = Reference::run(&actions);
        let polls: Vec<_> = poll_records(&reference.history).into_iter().filter(|p| p.2.len() >= 2).collect();
        prop_assume!(!polls.is_empty());
        let (index, key, mut records) = polls[pick.index(polls.len())].clone();
        let i = at.index(records.len() - 1);
        records.swap(i, i + 1);
        set_records(&mut reference.history, index, &key, records);
        let found = kinds_found(&reference.history);
        prop_assert!(found.contains(&AnomalyKind::IntNonmonotonicPoll), "{:?}", found);
    }

    #[test]
    fn dropping_a_read_from_the_middle_of_a_poll_is_int_poll_skip(
        actions in prop::collection::vec(action(), 1..40),
        pick in any::<Index>(),
        at in any::<Index>(),
    ) {
        let mut reference = Reference::run(&actions);
        let polls: Vec<_> = poll_records(&reference.history).into_iter().filter(|p| p.2.len() >= 3).collect();
        prop_assume!(!polls.is_empty());
        let (index, key, mut records) = polls[pick.index(polls.len())].clone();
        let dropped = records.remove(1 + at.index(records.len() - 2));
        set_records(&mut reference.history, index, &key, records);
        // The record must still be known to be there (from its acknowledgement or another read).
        let analysis = Analysis::new(&reference.history);
        let known = analysis.key_id(&key).is_some_and(|id| analysis.keys[id].rank(dropped.0).is_some());
        prop_assume!(known);
        let found = kinds_found(&reference.history);
        prop_assert!(found.contains(&AnomalyKind::IntPollSkip), "{:?}", found);
    }

    #[test]
    fn not_rewinding_after_an_abort_is_a_poll_skip(
        suffix in prop::collection::vec(action(), 0..30),
        pick in any::<Index>(),
    ) {
        // A consumer reads one record, aborts a transaction that read the next, and reads on (rewound); then
        // anything may happen, including more aborts and rewinds.
        let send = Action::Send { producer: 0, keys: vec![0], outcome: Outcome::Ok, defer: false, null_offset: false, gap: false };
        let mut actions = vec![Action::Assign { consumer: 0, mask: 1, subscribe: false }];
        actions.extend(std::iter::repeat_n(send, 4));
        actions.push(Action::Poll { consumer: 0, max_records: 1, info: false });
        actions.push(Action::Transact { consumer: 0, max_records: 1, outcome: Outcome::Fail, output: 1 });
        actions.push(Action::Poll { consumer: 0, max_records: 3, info: false });
        actions.extend(suffix);
        let mut reference = Reference::run(&actions);
        let history = &reference.history;
        let rewinds: Vec<(usize, usize, usize)> = reference
            .rewinds
            .iter()
            .copied()
            .filter(|&(index, key, reread)| {
                reads_mut(&mut history.ops[index].clone())
                    .find_map(|reads| reads.get(&key_name(key)).map(|r| r.len() > reread))
                    .unwrap_or(false)
            })
            .collect();
        prop_assume!(!rewinds.is_empty());
        let (index, key, reread) = rewinds[pick.index(rewinds.len())];
        let mut dropped: Vec<Offset> = Vec::new();
        if let Some(records) = reads_mut(&mut reference.history.ops[index]).find_map(|r| r.get_mut(&key_name(key))) {
            dropped.extend(records.drain(..reread).map(|(offset, _)| offset));
        }
        // eosim's rules excuse a skip over records another process's committed (or possibly committed)
        // transaction read before this poll returned: the group's offsets may have moved past them
        // (`poll_skip::consumed_by_another_member`). Such a history is not the mutation this property is about.
        let ops = &reference.history.ops;
        let process = ops[index].process;
        let invoked_before_the_poll = |completion: usize| {
            let invoke = ops[..completion].iter().rposition(|op| op.process == ops[completion].process);
            invoke.unwrap_or(completion) < index
        };
        let consumed_elsewhere = dropped.iter().all(|offset| {
            ops.iter().enumerate().filter(|&(at, _)| invoked_before_the_poll(at)).any(|(_, op)| {
                op.process != process
                    && op.f == OpFn::Txn
                    && matches!(op.op_type, OpType::Ok | OpType::Info)
                    && op.mops.iter().any(|mop| match mop {
                        MicroOp::Poll { reads } => reads
                            .get(&key_name(key))
                            .is_some_and(|records| records.iter().any(|(read, _)| read == offset)),
                        _ => false,
                    })
            })
        });
        prop_assume!(!consumed_elsewhere);
        let found = kinds_found(&reference.history);
        prop_assert!(found.contains(&AnomalyKind::PollSkip), "{:?}", found);
    }

    #[test]
    fn the_reader_never_panics_on_random_text(text in ".{0,300}") {
        if let Ok(history) = History::parse_jsonl("random.jsonl", &text) {
            let _ = check(&history, Guarantee::KafkaEos);
        }
        if let Ok(history) = History::parse_edn("random.edn", &text) {
            let _ = check(&history, Guarantee::KafkaEos);
        }
    }

    #[test]
    fn the_edn_reader_never_panics_on_edn_like_text(text in r#"[\[\]{}()#:_ ;,"\\a-z0-9nil.\n-]{0,200}"#) {
        match History::parse_edn("random.edn", &text) {
            Ok(history) => {
                let _ = check(&history, Guarantee::KafkaEos);
            }
            Err(error) => prop_assert!(error.line >= 1 && error.column >= 1),
        }
    }

    #[test]
    fn the_reader_and_checker_never_panic_on_mutated_histories(
        actions in prop::collection::vec(action(), 1..20),
        mutations in prop::collection::vec((any::<Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = Reference::run(&actions).history.to_jsonl().into_bytes();
        for (at, byte) in mutations {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let text = String::from_utf8_lossy(&bytes);
        match History::parse_jsonl("mutated.jsonl", &text) {
            Ok(history) => {
                let _ = check(&history, Guarantee::KafkaEos).render_text(3);
            }
            Err(error) => {
                prop_assert!(error.line >= 1 && error.column >= 1);
                prop_assert!(error.to_string().starts_with("mutated.jsonl:"));
            }
        }
    }
}

/// Any well-formed op at all, consistent or not: random types, processes, keys, offsets and values.
fn arbitrary_op() -> impl Strategy<Value = Op> {
    let key = (0..3usize).prop_map(key_name);
    let records = prop::collection::vec((0..6u64, -3..3i64), 0..4);
    let mop = prop_oneof![
        (key.clone(), -3..3i64, prop::option::of(0..6u64), prop::option::of((key.clone(), 0..6u64)))
            .prop_map(|(key, value, offset, source)| MicroOp::Send { key, value, offset, source }),
        prop::collection::btree_map(key.clone(), records, 0..3).prop_map(|reads| MicroOp::Poll { reads }),
        (key.clone(), -3..3i64).prop_map(|(key, value)| MicroOp::Sink { store: "db".to_string(), key, value }),
    ];
    let op_type = prop_oneof![Just(OpType::Invoke), Just(OpType::Ok), Just(OpType::Fail), Just(OpType::Info)];
    let f = prop_oneof![Just(OpFn::Send), Just(OpFn::Poll), Just(OpFn::Txn), Just(OpFn::Assign), Just(OpFn::Crash)];
    (0..3u64, op_type, f, prop::collection::vec(mop, 0..3), prop::collection::vec(key, 0..3), any::<bool>()).prop_map(
        |(process, op_type, f, mops, keys, final_poll)| {
            // Send, poll and txn ops carry their rebalanced keys in `keys`; a third of them have some.
            let (mops, keys) = match f {
                OpFn::Assign | OpFn::Subscribe => (Vec::new(), keys),
                OpFn::Crash => (Vec::new(), Vec::new()),
                OpFn::Send | OpFn::Poll | OpFn::Txn if process == 0 => (mops, keys),
                OpFn::Send | OpFn::Poll | OpFn::Txn => (mops, Vec::new()),
            };
            Op { index: 0, time_ns: 0, process, op_type, f, mops, keys, final_poll }
        },
    )
}

proptest! {
    #[test]
    fn arbitrary_histories_round_trip_and_never_panic_the_checker(ops in prop::collection::vec(arbitrary_op(), 0..30)) {
        let mut history = History::new();
        for op in ops {
            history.push(op);
        }
        let text = history.to_jsonl();
        let parsed = History::parse_jsonl("arbitrary.jsonl", &text);
        prop_assert_eq!(parsed.as_ref(), Ok(&history));
        for &guarantee in Guarantee::ALL {
            let report = check(&history, guarantee);
            prop_assert!(report.anomalies.iter().all(|a| !a.ops.is_empty() && !a.explanation.is_empty()));
            prop_assert!(report.anomalies.windows(2).all(|w| w[0].kind <= w[1].kind));
        }
    }
}
