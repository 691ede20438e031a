//! Checker throughput: reading JSON Lines and the full Kafka check, on generated histories of 10^4, 10^5 and 10^6
//! operations, with the peak memory of each. Ignored by default (it wants a release build):
//! `cargo test --release -p eosim-checker --test throughput -- --ignored --nocapture --test-threads 1`.
//!
//! For each size it prints wall-clock seconds and ops/s of `parse_jsonl`, of `check`, and of both together, the
//! CPU seconds the process spent meanwhile (the machine may be shared, and CPU time is what a quiet one would show),
//! and the peak resident memory (Linux `VmHWM`, reset before each size through `/proc/self/clear_refs`), which
//! includes the history's text. The 10^6 run also times each check alone.
//!
//! To time the `eosim check` binary on the same workload, `write_a_million_operation_history` (also ignored) writes
//! the 10^6-operation history to `target/tmp/throughput-1e6.jsonl`, or to the path in `EOSIM_HISTORY_OUT`:
//! `cargo test --release -p eosim-checker --test throughput -- --ignored --exact write_a_million_operation_history`,
//! then `/usr/bin/time -v target/release/eosim check target/tmp/throughput-1e6.jsonl`.

use std::fmt::Write as _;
use std::time::Instant;

use eosim_checker::workload::clean_history;
use eosim_checker::{anomaly, check, Analysis, Guarantee, History, MicroOp};

/// One anomaly check, as `anomaly::*::check`.
type Check = fn(&Analysis<'_>) -> Vec<eosim_checker::Anomaly>;

/// A line of `/proc/self/status`, in KiB (`VmHWM`, `VmRSS`), or 0 where there is none.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Resets `VmHWM` to the current resident size (Linux 4.0+); harmless where it cannot.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// User plus system CPU seconds of the whole process so far, from `/proc/self/stat` (clock ticks of 1/100 s).
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line; here, after pid and comm, indices 11 and 12.
    (ticks(11) + ticks(12)) / 100.0
}

/// Parses and checks one generated history of about `op_count` ops, printing one line of figures.
fn measure(op_count: usize) -> (History, String) {
    let text = clean_history(op_count).to_jsonl();
    reset_peak();
    let (cpu_start, started) = (cpu_s(), Instant::now());
    let history = History::parse_jsonl("bench.jsonl", &text).expect("valid");
    let parse_s = started.elapsed().as_secs_f64();
    let report = check(&history, Guarantee::KafkaEos);
    let total_s = started.elapsed().as_secs_f64();
    let cpu = cpu_s() - cpu_start;
    assert!(report.anomalies.is_empty(), "{}", report.render_text(3));
    let ops = history.ops.len() as f64;
    let check_s = total_s - parse_s;
    println!(
        "{:>8} ops {:>5} MiB text | parse {parse_s:.3} s {:>9.0} ops/s | check {check_s:.3} s {:>9.0} ops/s | \
         parse+check {total_s:.3} s {:>9.0} ops/s, {cpu:.2} CPU s | peak {} MiB",
        history.ops.len(),
        text.len() >> 20,
        ops / parse_s,
        ops / check_s,
        ops / total_s,
        status_kib("VmHWM:") >> 10,
    );
    (history, text)
}

/// The history as Jepsen would write it: one EDN map per line, keys as strings.
fn to_edn(history: &History) -> String {
    let mut out = String::with_capacity(history.ops.len() * 100);
    for op in &history.ops {
        let _ = write!(
            out,
            "{{:index {}, :time {}, :type :{}, :process {}, :f :{}, :value [",
            op.index,
            op.time_ns,
            op.op_type.name(),
            op.process,
            op.f.name()
        );
        for mop in &op.mops {
            match mop {
                MicroOp::Send { key, value, offset: Some(offset), .. } => {
                    let _ = write!(out, "[:send \"{key}\" [{offset} {value}]]");
                }
                MicroOp::Send { key, value, .. } => {
                    let _ = write!(out, "[:send \"{key}\" {value}]");
                }
                MicroOp::Poll { reads } if reads.is_empty() => out.push_str("[:poll]"),
                MicroOp::Poll { reads } => {
                    out.push_str("[:poll {");
                    for (key, records) in reads {
                        let _ = write!(out, "\"{key}\" [");
                        for (offset, value) in records {
                            let _ = write!(out, "[{offset} {value}]");
                        }
                        out.push_str("] ");
                    }
                    out.push_str("}]");
                }
                MicroOp::Sink { .. } => {}
            }
        }
        out.push_str(if op.final_poll { "], :final? true}\n" } else { "]}\n" });
    }
    out
}

/// Parses the same history written as EDN, printing one line of figures.
fn measure_edn(history: &History) {
    let text = to_edn(history);
    let started = Instant::now();
    let parsed = History::parse_edn("bench.edn", &text).expect("valid");
    let parse_s = started.elapsed().as_secs_f64();
    assert_eq!(&parsed, history);
    let ops = history.ops.len() as f64;
    println!(
        "{:>8} ops {:>5} MiB EDN  | parse_edn {parse_s:.3} s {:>9.0} ops/s",
        history.ops.len(),
        text.len() >> 20,
        ops / parse_s
    );
}

#[test]
#[ignore = "a benchmark: run in release with --ignored --nocapture"]
fn parse_and_check_throughput_and_peak_memory() {
    for op_count in [10_000, 100_000] {
        measure(op_count);
    }
    let (history, text) = measure(1_000_000);
    drop(text);
    measure_edn(&history);

    let started = Instant::now();
    let analysis = Analysis::new(&history);
    println!("  analysis: {:.3} s", started.elapsed().as_secs_f64());
    let checks: [(&str, Check); 17] = [
        ("lost-write", anomaly::lost_write::check),
        ("duplicate", anomaly::duplicate::check),
        ("inconsistent-offsets", anomaly::inconsistent_offsets::check),
        ("nonmonotonic-poll", anomaly::nonmonotonic_poll::check),
        ("poll-skip", anomaly::poll_skip::check),
        ("int-nonmonotonic-poll", anomaly::int_nonmonotonic_poll::check),
        ("int-poll-skip", anomaly::int_poll_skip::check),
        ("nonmonotonic-send", anomaly::nonmonotonic_send::check),
        ("int-nonmonotonic-send", anomaly::int_nonmonotonic_send::check),
        ("int-send-skip", anomaly::int_send_skip::check),
        ("G1a", anomaly::aborted_read::check),
        ("precommitted-read", anomaly::precommitted_read::check),
        ("sink-lost-write", anomaly::sink_lost_write::check),
        ("sink-duplicate", anomaly::sink_duplicate::check),
        ("transform-lost", anomaly::transform_lost::check),
        ("transform-duplicate", anomaly::transform_duplicate::check),
        ("unseen", anomaly::unseen::check),
    ];
    let checks = checks.into_iter().chain([("cycles (all kinds)", eosim_checker::cycles::check as Check)]);
    for (name, run) in checks {
        let started = Instant::now();
        let found = run(&analysis);
        println!("  {name}: {:.3} s ({} found)", started.elapsed().as_secs_f64(), found.len());
    }
}

#[test]
#[ignore = "writes a 10^6-operation history for timing `eosim check`: run with --ignored"]
fn write_a_million_operation_history() {
    let default = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("throughput-1e6.jsonl");
    let path = std::env::var_os("EOSIM_HISTORY_OUT").map_or(default, std::path::PathBuf::from);
    let history = clean_history(1_000_000);
    let text = history.to_jsonl();
    assert_eq!(History::parse_jsonl("bench.jsonl", &text).as_ref(), Ok(&history), "the text reads back");
    std::fs::write(&path, &text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    println!("{}: {} ops, {} MiB", path.display(), history.ops.len(), text.len() >> 20);
}
