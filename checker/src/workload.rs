//! A synthetic workload for measuring the checker: a clean Kafka history of any length, the same for every run.
//! The checker's throughput test (checker/tests/throughput.rs), `eosim bench` and the instruction-count
//! benchmarks all measure this one shape, so their figures compare.

use std::collections::BTreeMap;

use crate::{History, MicroOp, Op, OpFn, OpType};

/// Keys of [`clean_history`]: each a partition of its own.
pub const KEY_COUNT: u64 = 8;
/// Non-transactional producers of [`clean_history`].
const PRODUCER_COUNT: u64 = 4;
/// Every this many values, [`clean_history`]'s transactional producer writes two keys in one transaction.
const TXN_EVERY: i64 = 8;

/// A clean history of about `op_count` operations: producers send to keys round-robin, a transactional producer writes pairs of keys, one consumer per key polls every
/// 16 records, final polls end it, and each record is followed by a marker, so offsets have gaps as under
/// transactions.
pub fn clean_history(op_count: usize) -> History {
    let key_count = KEY_COUNT as usize;
    let mut history = History::new();
    let mut logs: Vec<Vec<(u64, i64)>> = vec![Vec::new(); key_count];
    let mut read_up_to = vec![0usize; key_count];
    let append = |logs: &mut Vec<Vec<(u64, i64)>>, key: u64, value: i64| {
        let log = &mut logs[key as usize];
        let offset = log.len() as u64 * 2;
        log.push((offset, value));
        offset
    };
    let name = |key: u64| format!("t-{key}");
    let mut value = 0i64;
    while history.ops.len() < op_count {
        let key = (value as u64) % KEY_COUNT;
        if value % TXN_EVERY == 0 {
            let writes = [(key, value), ((key + 1) % KEY_COUNT, value + 1)];
            let send = |(k, v): (u64, i64), offset| MicroOp::Send { key: name(k), value: v, offset, source: None };
            history.push(Op::new(50, OpType::Invoke, OpFn::Txn, writes.iter().map(|&w| send(w, None)).collect()));
            let acked = writes.iter().map(|&(k, v)| send((k, v), Some(append(&mut logs, k, v)))).collect();
            history.push(Op::new(50, OpType::Ok, OpFn::Txn, acked));
            value += 2;
        } else {
            let producer = (value as u64) % PRODUCER_COUNT;
            let send = |offset| vec![MicroOp::Send { key: name(key), value, offset, source: None }];
            history.push(Op::new(producer, OpType::Invoke, OpFn::Send, send(None)));
            let offset = append(&mut logs, key, value);
            history.push(Op::new(producer, OpType::Ok, OpFn::Send, send(Some(offset))));
            value += 1;
        }
        for key in 0..KEY_COUNT {
            let index = key as usize;
            if logs[index].len() - read_up_to[index] >= 16 {
                let reads = BTreeMap::from([(name(key), logs[index][read_up_to[index]..].to_vec())]);
                read_up_to[index] = logs[index].len();
                let invoke = vec![MicroOp::Poll { reads: BTreeMap::new() }];
                history.push(Op::new(100 + key, OpType::Invoke, OpFn::Poll, invoke));
                history.push(Op::new(100 + key, OpType::Ok, OpFn::Poll, vec![MicroOp::Poll { reads }]));
            }
        }
    }
    for key in 0..KEY_COUNT {
        let index = key as usize;
        let reads = BTreeMap::from([(name(key), logs[index][read_up_to[index]..].to_vec())]);
        let mut last = Op::new(100 + key, OpType::Ok, OpFn::Poll, vec![MicroOp::Poll { reads }]);
        last.final_poll = true;
        history.push(last);
    }
    history
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clean_history_is_clean_and_as_long_as_asked() {
        let history = clean_history(1_000);
        assert!((1_000..1_100).contains(&history.ops.len()), "{} ops", history.ops.len());
        let report = crate::check(&history, crate::Guarantee::KafkaEos);
        assert!(report.anomalies.is_empty(), "{}", report.render_text(3));
        let final_polls = history.ops.iter().filter(|op| op.final_poll).count();
        assert_eq!(final_polls as u64, KEY_COUNT, "one final poll per key");
    }
}
