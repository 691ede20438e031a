//! The fault schedule of a run, one line per fault: when it began (virtual ms), its kind as scenario files name
//! it (`broker-crash`, `lost-ack`), what it struck, and when it ended.
//!
//! ```text
//! fault schedule (* = active within 100 ms before or during the first violation's operations):
//!     #0       52.114 ms  lost-ack          acks 40%                 healed at 170.880 ms
//!   * #4      903.519 ms  broker-crash      broker-1                 restarted at 961.007 ms
//! ```
//!
//! A long schedule (a wide run has hundreds of faults) shows the faults near the first violation and the
//! earliest others, up to [`SHOWN_MAX`], and says how many it left out; `-v` shows them all.

use std::fmt::Write as _;

use eosim_checker::Anomaly;
use eosim_model::scenario::fault_kind_name;
use eosim_sim::{Fault, FaultAction, NodeId, PartitionKind};

use super::NEAR_BEFORE_NS;
use crate::runner::RunResult;

/// Faults listed at most without `-v`.
pub const SHOWN_MAX: usize = 30;

/// Nanoseconds per millisecond.
const NS_PER_MS: f64 = 1_000_000.0;

/// The schedule of `result`'s run, its nodes named by `names`: every fault with `verbose`, else at most
/// [`SHOWN_MAX`], the ones near the first violation first.
pub fn schedule_text(result: &RunResult, names: &[String], verbose: bool) -> String {
    let Some(outcome) = &result.outcome else { return String::new() };
    let faults = &outcome.schedule.faults;
    if faults.is_empty() {
        return "fault schedule: empty\n".to_string();
    }
    let window = result
        .report
        .as_ref()
        .and_then(|report| report.violations().next())
        .and_then(|anomaly| op_window(anomaly, &outcome.history));
    let near: Vec<bool> = faults.iter().map(|fault| window.is_some_and(|window| is_near(fault, window))).collect();
    let shown = if verbose { vec![true; faults.len()] } else { shown_faults(&near) };
    let mut out = match window {
        Some(_) => format!(
            "fault schedule (* = active within {} ms before or during the first violation's operations):\n",
            NEAR_BEFORE_NS / 1_000_000
        ),
        None => "fault schedule:\n".to_string(),
    };
    let mut skipped = 0usize;
    for (index, fault) in faults.iter().enumerate() {
        if !shown[index] {
            skipped += 1;
            continue;
        }
        if skipped > 0 {
            let _ = writeln!(out, "    … {skipped} more");
            skipped = 0;
        }
        let mark = if near[index] { '*' } else { ' ' };
        let _ = writeln!(out, "  {mark} {}", fault_line(index, fault, names));
    }
    if skipped > 0 {
        let _ = writeln!(out, "    … {skipped} more");
    }
    let shown_count = shown.iter().filter(|shown| **shown).count();
    if shown_count < faults.len() {
        let _ = writeln!(out, "  ({shown_count} of {} faults shown; -v shows them all)", faults.len());
    }
    out
}

/// The first and last virtual time of the operations that prove `anomaly`, final polls left out: a final poll
/// reads after every fault healed, and would stretch the window over the whole run.
fn op_window(anomaly: &Anomaly, history: &eosim_checker::History) -> Option<(u64, u64)> {
    let ops = anomaly.ops.iter().filter_map(|index| history.ops.get(*index));
    let times = ops.filter(|op| !op.final_poll).map(|op| op.time_ns);
    let first = times.clone().min()?;
    Some((first, times.max().unwrap_or(first)))
}

/// Whether `fault` was active at some instant from [`NEAR_BEFORE_NS`] before `window` to its end.
fn is_near(fault: &Fault, window: (u64, u64)) -> bool {
    let end_ns = fault.at_ns.saturating_add(fault.duration_ns);
    fault.at_ns <= window.1 && end_ns >= window.0.saturating_sub(NEAR_BEFORE_NS)
}

/// Which faults a short listing shows: the near ones, then the earliest others, [`SHOWN_MAX`] in all.
fn shown_faults(near: &[bool]) -> Vec<bool> {
    if near.len() <= SHOWN_MAX {
        return vec![true; near.len()];
    }
    let mut shown: Vec<bool> = Vec::with_capacity(near.len());
    let mut room = SHOWN_MAX;
    for is_near in near {
        let show = *is_near && room > 0;
        room -= usize::from(show);
        shown.push(show);
    }
    for show in shown.iter_mut() {
        if !*show && room > 0 {
            *show = true;
            room -= 1;
        }
    }
    shown
}

/// One fault: `#index  time ms  kind  target  end`.
pub fn fault_line(index: usize, fault: &Fault, names: &[String]) -> String {
    let kind = fault_kind_name(fault.action.kind());
    let start_ms = fault.at_ns as f64 / NS_PER_MS;
    let end_ms = fault.at_ns.saturating_add(fault.duration_ns) as f64 / NS_PER_MS;
    let (target, ended) = match &fault.action {
        FaultAction::Crash { node, .. } => (name(names, node), "restarted"),
        FaultAction::Pause { node, .. } => (name(names, node), "resumed"),
        FaultAction::Partition { kind: shape, side_a, side_b } => {
            (partition_target(shape, side_a, side_b, names), "healed")
        }
        FaultAction::Link { direction, probability_ppm, delay_ns_max, .. } => {
            let direction = serde_json::to_value(direction).ok().and_then(|value| value.as_str().map(str::to_string));
            let percent = *probability_ppm as f64 / 10_000.0;
            let delay =
                if *delay_ns_max > 0 { format!(", ≤ {} ms", delay_ns_max / 1_000_000) } else { String::new() };
            (format!("{} {percent:.0}%{delay}", direction.unwrap_or_default()), "healed")
        }
    };
    format!("#{index:<3} {start_ms:>10.3} ms  {kind:<17} {target:<24} {ended} at {end_ms:.3} ms")
}

/// A partition's two sides by name: `broker-0 broker-1 | controller producer-0`.
fn partition_target(shape: &PartitionKind, side_a: &[NodeId], side_b: &[NodeId], names: &[String]) -> String {
    let side = |nodes: &[NodeId]| nodes.iter().map(|node| name(names, node)).collect::<Vec<_>>().join(" ");
    let shape = match shape {
        PartitionKind::Symmetric => String::new(),
        PartitionKind::OneWay => "one-way ".to_string(),
        PartitionKind::Bridge { bridge } => format!("bridged by {}: ", name(names, bridge)),
    };
    format!("{shape}{} | {}", side(side_a), side(side_b))
}

/// A node's name, or its id when the names do not cover it.
fn name(names: &[String], node: &NodeId) -> String {
    names.get(node.index()).cloned().unwrap_or_else(|| node.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eosim_sim::{FaultKind, LinkDirection};

    fn names() -> Vec<String> {
        ["broker-0", "broker-1", "controller", "producer-0"].map(str::to_string).to_vec()
    }

    #[test]
    fn a_fault_line_names_its_kind_as_scenario_files_do_and_its_node() {
        let crash = Fault {
            at_ns: 903_519_000,
            duration_ns: 57_488_000,
            action: FaultAction::Crash { node: NodeId(1), kind: FaultKind::ServerCrash },
        };
        let line = fault_line(4, &crash, &names());
        assert!(line.starts_with("#4      903.519 ms  broker-crash "), "{line}");
        assert!(line.contains(" broker-1 ") && line.ends_with("restarted at 961.007 ms"), "{line}");
        let ack = Fault {
            at_ns: 1_000_000,
            duration_ns: 2_000_000,
            action: FaultAction::Link {
                kind: FaultKind::LostAck,
                direction: LinkDirection::Acks,
                probability_ppm: 400_000,
                delay_ns_max: 0,
            },
        };
        let line = fault_line(0, &ack, &names());
        assert!(line.contains("lost-ack") && line.contains("acks 40%"), "{line}");
        assert!(line.ends_with("healed at 3.000 ms"), "{line}");
    }

    #[test]
    fn a_short_listing_keeps_the_near_faults_then_the_earliest() {
        let mut near = vec![false; 40];
        near[35] = true;
        let shown = shown_faults(&near);
        assert_eq!(shown.iter().filter(|shown| **shown).count(), SHOWN_MAX);
        assert!(shown[35], "the fault near the anomaly is shown");
        assert!(shown[..29].iter().all(|shown| *shown) && !shown[29], "then the 29 earliest");
        assert!(shown_faults(&[false; 3]).iter().all(|shown| *shown));
    }
}
