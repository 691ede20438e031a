//! Checker throughput on a 10^6-op history. Ignored by default (it wants a release build):
//! `cargo test --release -p eosim-checker --test throughput -- --ignored --nocapture`.

use std::collections::BTreeMap;
use std::time::Instant;

use eosim_checker::{anomaly, check, Analysis, Guarantee, History, MicroOp, Op, OpFn, OpType};

/// One anomaly check, as `anomaly::*::check`.
type Check = fn(&Analysis<'_>) -> Vec<eosim_checker::Anomaly>;

const KEY_COUNT: u64 = 8;
const PRODUCER_COUNT: u64 = 4;

fn op(process: u64, op_type: OpType, f: OpFn, mops: Vec<MicroOp>) -> Op {
    Op { index: 0, time_ns: 0, process, op_type, f, mops, keys: Vec::new(), final_poll: false }
}

/// Producers send to keys round-robin; one consumer per key polls every 16 records; final polls end it.
fn workload(op_count: usize) -> History {
    let mut history = History::new();
    let mut logs: Vec<Vec<(u64, i64)>> = vec![Vec::new(); KEY_COUNT as usize];
    let mut positions = vec![0usize; KEY_COUNT as usize];
    let mut value = 0i64;
    while history.ops.len() < op_count {
        let key = (value as u64) % KEY_COUNT;
        let producer = (value as u64) % PRODUCER_COUNT;
        let name = format!("t-{key}");
        let log = &mut logs[key as usize];
        let offset = log.len() as u64 * 2; // every record followed by a marker
        log.push((offset, value));
        let send = |offset| vec![MicroOp::Send { key: name.clone(), value, offset, source: None }];
        history.push(op(producer, OpType::Invoke, OpFn::Send, send(None)));
        history.push(op(producer, OpType::Ok, OpFn::Send, send(Some(offset))));
        if log.len() - positions[key as usize] >= 16 {
            let records = log[positions[key as usize]..].to_vec();
            positions[key as usize] = log.len();
            let reads = BTreeMap::from([(name.clone(), records)]);
            history.push(op(100 + key, OpType::Invoke, OpFn::Poll, vec![MicroOp::Poll { reads: BTreeMap::new() }]));
            history.push(op(100 + key, OpType::Ok, OpFn::Poll, vec![MicroOp::Poll { reads }]));
        }
        value += 1;
    }
    for key in 0..KEY_COUNT {
        let records = logs[key as usize][positions[key as usize]..].to_vec();
        let reads = BTreeMap::from([(format!("t-{key}"), records)]);
        let mut last = op(100 + key, OpType::Ok, OpFn::Poll, vec![MicroOp::Poll { reads }]);
        last.final_poll = true;
        history.push(last);
    }
    history
}

#[test]
#[ignore = "a benchmark: run in release with --ignored --nocapture"]
fn checks_a_million_ops() {
    let history = workload(1_000_000);
    let ops = history.ops.len() as f64;
    let text = history.to_jsonl();

    let started = Instant::now();
    let parsed = History::parse_jsonl("bench.jsonl", &text).expect("valid");
    let parse_s = started.elapsed().as_secs_f64();
    assert_eq!(parsed.ops.len(), history.ops.len());

    let started = Instant::now();
    let report = check(&history, Guarantee::KafkaEos);
    let check_s = started.elapsed().as_secs_f64();
    assert!(report.anomalies.is_empty(), "{}", report.render_text(3));

    let started = Instant::now();
    let analysis = Analysis::new(&history);
    let analysis_s = started.elapsed().as_secs_f64();
    let checks: [(&str, Check); 8] = [
        ("lost-write", anomaly::lost_write::check),
        ("duplicate", anomaly::duplicate::check),
        ("inconsistent-offsets", anomaly::inconsistent_offsets::check),
        ("nonmonotonic-poll", anomaly::nonmonotonic_poll::check),
        ("poll-skip", anomaly::poll_skip::check),
        ("nonmonotonic-send", anomaly::nonmonotonic_send::check),
        ("G1a", anomaly::aborted_read::check),
        ("unseen", anomaly::unseen::check),
    ];
    println!("{} ops, {} bytes of JSON Lines", history.ops.len(), text.len());
    println!("  analysis: {analysis_s:.3} s");
    for (name, run) in checks {
        let started = Instant::now();
        let found = run(&analysis);
        println!("  {name}: {:.3} s ({} found)", started.elapsed().as_secs_f64(), found.len());
    }
    println!("parse: {parse_s:.3} s = {:.0} ops/s", ops / parse_s);
    println!("check: {check_s:.3} s = {:.0} ops/s", ops / check_s);
}
