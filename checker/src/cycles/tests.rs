//! Hand-worked histories, one per class, each with a variant that has no cycle. Every verdict was worked out by
//! hand in the comment above it: the versions of each partition, the edges they give, and the cycle.

use super::*;
use crate::anomaly::test_support::run;
use crate::History;

/// The cycles found in `text`, as (kind, ops).
fn cycles(text: &str) -> Vec<(AnomalyKind, Vec<usize>)> {
    run(check, text).into_iter().map(|a| (a.kind, a.ops)).collect()
}

/// The worked example of the module header.
const G0: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"txn","value":[["send","a-0",10],["send","b-0",11]]}
{"index":1,"time":1,"process":2,"type":"invoke","f":"txn","value":[["send","a-0",20],["send","b-0",21]]}
{"index":2,"time":2,"process":1,"type":"ok","f":"txn","value":[["send","a-0",[0,10]],["send","b-0",[1,11]]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"txn","value":[["send","a-0",[1,20]],["send","b-0",[0,21]]]}
"#;

#[test]
fn g0_interleaved_transactions() {
    let found = run(check, G0);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].kind, found[0].ops.clone(), found[0].key.as_str()), (AnomalyKind::G0, vec![2, 3], "a-0"));
    assert_eq!(found[0].values, vec![10, 11, 20, 21]);
    assert_eq!(
        found[0].explanation,
        "ops 2 → 3 → 2 form a G0 cycle (write-write dependencies only): op 2 wrote a-0 offset 0 (value 10) and op \
         3 the next version, offset 1 (value 20); op 3 wrote b-0 offset 0 (value 21) and op 2 the next version, \
         offset 1 (value 11); so no serial order of them explains what they saw"
    );
    // b-0 in the same order as a-0: both ww edges run 2 → 3.
    let ordered = G0.replace("[1,11]", "[0,11]").replace("[0,21]", "[1,21]");
    assert_eq!(cycles(&ordered), vec![]);
}

#[test]
fn g1c_each_transaction_reads_the_others_write() {
    // Op 0 writes 10 to a-0 and reads b-0's 20; op 1 writes 20 and reads a-0's 10. wr 1 → 0 (b-0) and wr 0 → 1
    // (a-0): a cycle of wr edges alone, G1c-wr. Without op 1's read, only 1 → 0 remains.
    let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"txn","value":[["send","a-0",[0,10]],["poll",{"b-0":[[0,20]]}]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"txn","value":[["send","b-0",[0,20]],["poll",{"a-0":[[0,10]]}]]}
"#;
    assert_eq!(cycles(text), vec![(AnomalyKind::G1cWr, vec![0, 1])]);
    assert_eq!(cycles(&text.replace(r#"{"a-0":[[0,10]]}"#, r#"{"a-0":[]}"#)), vec![]);
}

#[test]
fn g_single_a_read_skew() {
    // b-0: 5 (op 0), then 11 (op 1). Op 1 writes a-0's 10 and b-0's 11 together; op 2 reads a-0's 10 (wr 1 → 2) but
    // b-0 only up to 5, missing the next version 11 (rw 2 → 1): one rw edge, G-single. Read to 11, no rw edge.
    let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","b-0",[0,5]]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"txn","value":[["send","a-0",[0,10]],["send","b-0",[1,11]]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"poll","value":[["poll",{"a-0":[[0,10]],"b-0":[[0,5]]}]]}
"#;
    let found = run(check, text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].kind, found[0].ops.clone()), (AnomalyKind::GSingle, vec![1, 2]));
    assert_eq!(
        found[0].explanation,
        "ops 1 → 2 → 1 form a G-single cycle (one anti-dependency): op 1 wrote a-0 offset 0 (value 10), op 2 read \
         it; op 2 read b-0 up to offset 0 (value 5), and op 1 wrote the next version, offset 1 (value 11); so no \
         serial order of them explains what they saw"
    );
    assert_eq!(cycles(&text.replace("[[0,5]]", "[[0,5],[1,11]]")), vec![]);
}

/// Four transactions: 1 reads x-0 before 2's write and w-0 after 4's; 3 reads y-0 after 2's write and z-0 before
/// 4's. Edges rw 1 → 2 (x-0), wr 2 → 3 (y-0), rw 3 → 4 (z-0), wr 4 → 1 (w-0): two rw edges, never adjacent.
const G_NONADJACENT: &str = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","x-0",[0,1]],["send","z-0",[0,3]]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"txn","value":[["poll",{"w-0":[[0,40]],"x-0":[[0,1]]}]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"txn","value":[["send","x-0",[1,2]],["send","y-0",[0,20]]]}
{"index":3,"time":3,"process":4,"type":"ok","f":"txn","value":[["poll",{"y-0":[[0,20]],"z-0":[[0,3]]}]]}
{"index":4,"time":4,"process":5,"type":"ok","f":"txn","value":[["send","z-0",[1,4]],["send","w-0",[0,40]]]}
"#;

#[test]
fn g_nonadjacent_two_anti_dependencies_apart() {
    assert_eq!(cycles(G_NONADJACENT), vec![(AnomalyKind::GNonadjacent, vec![1, 2, 3, 4])]);
    // Op 1 reads x-0 up to 2's write: wr 2 → 1 instead of rw 1 → 2, and nothing leaves op 1.
    assert_eq!(cycles(&G_NONADJACENT.replace(r#""x-0":[[0,1]]"#, r#""x-0":[[0,1],[1,2]]"#)), vec![]);
}

#[test]
fn g2_item_a_write_skew() {
    // Op 1 reads x-0's first version and writes y-0's second; op 2 reads y-0's first and writes x-0's second:
    // rw 1 → 2 (x-0) and rw 2 → 1 (y-0), adjacent, G2-item. Op 2 reading y-0 to the end leaves only rw 1 → 2.
    let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","x-0",[0,1]],["send","y-0",[0,2]]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"txn","value":[["poll",{"x-0":[[0,1]]}],["send","y-0",[1,20]]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"txn","value":[["poll",{"y-0":[[0,2]]}],["send","x-0",[1,10]]]}
"#;
    assert_eq!(cycles(text), vec![(AnomalyKind::G2Item, vec![1, 2])]);
    assert_eq!(cycles(&text.replace("[[0,2]]", "[[0,2],[1,20]]")), vec![]);
}

#[test]
fn g0_process_a_process_whose_later_send_lands_first() {
    // Process 1 sends 10, then 11; the log holds 11 at offset 0 and 10 at 1: ww 1 → 0, process 0 → 1.
    let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","a-0",[1,10]]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","a-0",[0,11]]]}
"#;
    assert_eq!(cycles(text), vec![(AnomalyKind::G0Process, vec![0, 1])]);
    assert_eq!(cycles(&text.replace("[1,10]", "[0,10]").replace("[0,11]", "[1,11]")), vec![]);
    // Two processes: no order between them, no cycle.
    assert_eq!(cycles(&text.replacen(r#""process":1"#, r#""process":2"#, 1)), vec![]);
}

/// Op 1 completes before op 3 is invoked, but op 3's record lands first: ww 3 → 1, realtime 1 → 3.
const G0_REALTIME: &str = r#"{"index":0,"time":0,"process":1,"type":"invoke","f":"send","value":[["send","a-0",10]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","a-0",[1,10]]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","a-0",11]]}
{"index":3,"time":3,"process":2,"type":"ok","f":"send","value":[["send","a-0",[0,11]]]}
"#;

#[test]
fn g0_realtime_a_later_send_lands_first() {
    assert_eq!(cycles(G0_REALTIME), vec![(AnomalyKind::G0Realtime, vec![1, 3])]);
    // Concurrent (op 3 invoked before op 1 completed): no realtime edge, no cycle.
    let concurrent = G0_REALTIME.replace(
        r#"{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","a-0",[1,10]]]}
{"index":2,"time":2,"process":2,"type":"invoke","f":"send","value":[["send","a-0",11]]}"#,
        r#"{"index":1,"time":1,"process":2,"type":"invoke","f":"send","value":[["send","a-0",11]]}
{"index":2,"time":2,"process":1,"type":"ok","f":"send","value":[["send","a-0",[1,10]]]}"#,
    );
    assert_eq!(cycles(&concurrent), vec![]);
}

#[test]
fn g1c_process_a_process_writes_what_its_reader_read_before() {
    // Op 0 writes x-0's 10 and reads y-0's 20; process 1 reads 10 (op 1, wr 0 → 1) and then writes 20 (op 2,
    // process 1 → 2, wr 2 → 0). wr edges and one process edge: G1c-wr-process. If op 0 read nothing of y-0, no cycle.
    let text = r#"{"index":0,"time":0,"process":2,"type":"ok","f":"txn","value":[["send","x-0",[0,10]],["poll",{"y-0":[[0,20]]}]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"poll","value":[["poll",{"x-0":[[0,10]]}]]}
{"index":2,"time":2,"process":1,"type":"ok","f":"send","value":[["send","y-0",[0,20]]]}
"#;
    assert_eq!(cycles(text), vec![(AnomalyKind::G1cWrProcess, vec![0, 1, 2])]);
    assert_eq!(cycles(&text.replace(r#"{"y-0":[[0,20]]}"#, r#"{"y-0":[]}"#)), vec![]);
}

#[test]
fn g1c_realtime_information_flows_back_in_time() {
    // Op 5 (invoked first) writes x-0's 10, which op 2 reads (wr 5 → 2); op 2 completes before op 4 is invoked
    // (realtime 2 → 4); op 4 writes y-0's 20, which op 5 reads (wr 4 → 5). No process edge: G1c-wr-realtime.
    let text = r#"{"index":0,"time":0,"process":2,"type":"invoke","f":"txn","value":[["send","x-0",10],["poll"]]}
{"index":1,"time":1,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":2,"time":2,"process":1,"type":"ok","f":"poll","value":[["poll",{"x-0":[[0,10]]}]]}
{"index":3,"time":3,"process":3,"type":"invoke","f":"send","value":[["send","y-0",20]]}
{"index":4,"time":4,"process":3,"type":"ok","f":"send","value":[["send","y-0",[0,20]]]}
{"index":5,"time":5,"process":2,"type":"ok","f":"txn","value":[["send","x-0",[0,10]],["poll",{"y-0":[[0,20]]}]]}
"#;
    assert_eq!(cycles(text), vec![(AnomalyKind::G1cWrRealtime, vec![2, 4, 5])]);
    assert_eq!(cycles(&text.replace(r#"{"y-0":[[0,20]]}"#, r#"{"y-0":[]}"#)), vec![]);
}

#[test]
fn g_single_process_a_process_misses_its_own_write() {
    // a-0: 5 (op 0), then 10 (op 1, process 1). Process 1's next poll (op 2) reads only 5: rw 2 → 1 and process
    // 1 → 2, G-single-process. Reading 10 too, no rw edge.
    let text = r#"{"index":0,"time":0,"process":2,"type":"ok","f":"send","value":[["send","a-0",[0,5]]]}
{"index":1,"time":1,"process":1,"type":"ok","f":"send","value":[["send","a-0",[1,10]]]}
{"index":2,"time":2,"process":1,"type":"ok","f":"poll","value":[["poll",{"a-0":[[0,5]]}]]}
"#;
    let found = run(check, text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].kind, found[0].ops.clone()), (AnomalyKind::GSingleProcess, vec![1, 2]));
    assert!(
        found[0].explanation.contains("op 1 and then op 2 are operations of process 1"),
        "{}",
        found[0].explanation
    );
    assert_eq!(cycles(&text.replace("[[0,5]]", "[[0,5],[1,10]]")), vec![]);
}

/// a-0: 5 (op 0), then 10 (op 2). Op 2 completes before op 4 is invoked, and op 4 reads a-0 only up to 5: rw 4 → 2,
/// realtime 2 → 4. A consumer that lags behind an acknowledged record: normal for Kafka.
const G_SINGLE_REALTIME: &str = r#"{"index":0,"time":0,"process":2,"type":"ok","f":"send","value":[["send","a-0",[0,5]]]}
{"index":1,"time":1,"process":1,"type":"invoke","f":"send","value":[["send","a-0",10]]}
{"index":2,"time":2,"process":1,"type":"ok","f":"send","value":[["send","a-0",[1,10]]]}
{"index":3,"time":3,"process":3,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":4,"time":4,"process":3,"type":"ok","f":"poll","value":[["poll",{"a-0":[[0,5]]}]]}
"#;

#[test]
fn g_single_realtime_a_lagging_consumer() {
    let found = run(check, G_SINGLE_REALTIME);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].kind, found[0].ops.clone()), (AnomalyKind::GSingleRealtime, vec![2, 4]));
    assert!(found[0].explanation.contains("op 2 completed before op 4 was invoked (op 3)"), "{}", found[0].explanation);
    assert_eq!(cycles(&G_SINGLE_REALTIME.replace("[[0,5]]", "[[0,5],[1,10]]")), vec![]);
}

#[test]
fn a_class_found_hides_the_weaker_ones_of_its_component() {
    // The G-single of a read skew, with a realtime edge from the writer to the reader too: the data cycle is found
    // first, and G-single-realtime (as bad for every claim) is not reported again.
    let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","b-0",[0,5]]]}
{"index":1,"time":1,"process":2,"type":"invoke","f":"txn","value":[["send","a-0",10],["send","b-0",11]]}
{"index":2,"time":2,"process":2,"type":"ok","f":"txn","value":[["send","a-0",[0,10]],["send","b-0",[1,11]]]}
{"index":3,"time":3,"process":3,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":4,"time":4,"process":3,"type":"ok","f":"poll","value":[["poll",{"a-0":[[0,10]],"b-0":[[0,5]]}]]}
"#;
    assert_eq!(cycles(text), vec![(AnomalyKind::GSingle, vec![2, 4])]);
    // Two separate components each report their own cycle.
    let both = renumber(&(G0.to_string() + &G_SINGLE_REALTIME.replace("a-0", "c-0")));
    assert_eq!(cycles(&both), vec![(AnomalyKind::G0, vec![2, 3]), (AnomalyKind::GSingleRealtime, vec![6, 8])]);
}

/// `text` with each line's index set to its position.
fn renumber(text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let rest = line.split_once(r#","time""#).map_or("", |(_, rest)| rest);
        out += &format!("{{\"index\":{i},\"time\"{rest}\n");
    }
    out
}

#[test]
fn an_exhausted_budget_reports_nothing_for_its_component() {
    let history = History::parse_jsonl("t.jsonl", G_NONADJACENT).unwrap_or_default();
    let analysis = Analysis::new(&history);
    let tiny = search_with(&analysis, |_, _| Budget::new(3));
    assert_eq!((tiny.cycles.len(), tiny.exhausted), (0, 1));
    let ample = search_with(&analysis, Budget::for_component);
    assert_eq!((ample.cycles.len(), ample.exhausted), (1, 0));
}

#[test]
fn failed_and_unproven_operations_are_not_nodes() {
    // G-single-realtime's lagging read, by a poll that failed, or a writer whose outcome is unknown and unread.
    let failed = G_SINGLE_REALTIME.replace(r#""type":"ok","f":"poll""#, r#""type":"fail","f":"poll""#);
    assert_eq!(cycles(&failed), vec![]);
    let unknown = G_SINGLE_REALTIME.replace(
        r#""type":"ok","f":"send","value":[["send","a-0",[1,10]]]"#,
        r#""type":"info","f":"send","value":[["send","a-0",10]]"#,
    );
    assert_eq!(cycles(&unknown), vec![]);
}

#[test]
fn duplicated_and_inconsistent_offsets_are_not_versions() {
    // 10 sits at offsets 0 and 2 (a duplicate): only its first offset is a version, so op 1's 11 at offset 1 is
    // not followed by 10 again, and no G0 appears between ops 0 and 1.
    let text = r#"{"index":0,"time":0,"process":1,"type":"ok","f":"send","value":[["send","a-0",[0,10]]]}
{"index":1,"time":1,"process":2,"type":"ok","f":"send","value":[["send","a-0",[1,11]]]}
{"index":2,"time":2,"process":3,"type":"ok","f":"poll","value":[["poll",{"a-0":[[0,10],[1,11],[2,10]]}]]}
"#;
    assert_eq!(cycles(text), vec![]);
    let history = History::parse_jsonl("t.jsonl", text).unwrap_or_default();
    let graph = graph::build(&Analysis::new(&history));
    assert!(graph.components.is_empty());
}

/// A small random history: sends landing at shuffled offsets, polls of ranges, outcomes of every kind.
fn random_history(seed: u64) -> History {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = |bound: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % bound
    };
    let mut text = String::new();
    for i in 0..24 {
        let (process, key, offset) = (next(4), next(2), next(6));
        let outcome = ["ok", "ok", "info", "fail"][next(4) as usize];
        let line = if next(2) == 0 {
            format!(
                r#"{{"index":{i},"time":{i},"process":{process},"type":"{outcome}","f":"send","value":[["send","k-{key}",[{offset},{i}]]]}}"#
            )
        } else {
            let start = next(6);
            let reads: Vec<String> = (start..start + next(3)).map(|o| format!("[{o},{}]", next(24))).collect();
            format!(
                r#"{{"index":{i},"time":{i},"process":{process},"type":"{outcome}","f":"poll","value":[["poll",{{"k-{key}":[{}]}}]]}}"#,
                reads.join(",")
            )
        };
        text += &line;
        text.push('\n');
    }
    History::parse_jsonl("random.jsonl", &text).unwrap_or_default()
}

#[test]
fn the_first_pass_finds_a_backward_edge_exactly_when_the_build_has_one() {
    let mut backward = 0;
    for seed in 0..3000 {
        let history = random_history(seed);
        let analysis = Analysis::new(&history);
        let mut stamp = vec![0; history.ops.len()];
        let found = graph::has_backward_edge(&analysis, &mut stamp);
        stamp.fill(0);
        let all = graph::build_all(&analysis, &mut stamp);
        assert_eq!(found, !all.edges.is_empty(), "seed {seed}:\n{}", history.to_jsonl());
        backward += usize::from(found);
    }
    assert!(backward > 300 && backward < 2700, "both outcomes are exercised: {backward}");
}
