//! The event log (`-v`): one line per recorded event, in virtual-time order — every message with what became of
//! it, every fault's start and end, every history operation — each with the node it happened on.
//!
//! ```text
//! event log (4607 messages, 42 fault edges, 600 operations):
//!       0.000 ms  producer-0   → broker-1      InitProducerIdRequest, handled at 0.100 ms
//!      52.114 ms  network      fault: lost-ack acks 40%
//!      61.300 ms  broker-1     → producer-0    ProduceResponse ✗ lost (lost by the network)
//! ```
//!
//! It is the diagram's data ([`SpaceTime`]) without the elision: what the timeline leaves out, the log keeps.

use std::fmt::Write as _;

use eosim_reports::svg::{ArrowEnd, SpaceTime};

/// Nanoseconds per millisecond.
const NS_PER_MS: f64 = 1_000_000.0;

/// The event log of a recorded run; says so when the run was not recorded.
pub fn events_text(diagram: Option<&SpaceTime>) -> String {
    let Some(diagram) = diagram else { return "event log: the run was not recorded\n".to_string() };
    let mut events: Vec<(u64, usize, String)> = Vec::new();
    let lane = |index: usize| diagram.lanes.get(index).map_or("?", |lane| lane.name.as_str());
    for arrow in &diagram.arrows {
        let fate = match arrow.end {
            ArrowEnd::Delivered { at_ns } => format!(", handled at {:.3} ms", at_ns as f64 / NS_PER_MS),
            ArrowEnd::Dropped { .. } if arrow.note.is_empty() => " ✗ lost".to_string(),
            ArrowEnd::Dropped { .. } => format!(" ✗ lost ({})", arrow.note),
            ArrowEnd::InFlight => ", still in flight at the end".to_string(),
        };
        let what = format!("→ {:<12}  {}{fate}", lane(arrow.target), arrow.label);
        events.push((arrow.send_ns, 1, format!("{:<12} {what}", lane(arrow.source))));
    }
    for fault in &diagram.faults {
        let struck = fault.lanes.first().map_or("network", |first| lane(*first));
        events.push((fault.start_ns, 0, format!("{struck:<12} fault: {}", fault.label)));
        if let Some(end_ns) = fault.end_ns {
            events.push((end_ns, 3, format!("{struck:<12} healed: {}", fault.label)));
        }
    }
    for op in &diagram.ops {
        events.push((op.time_ns, 2, format!("{:<12} op {} {}", lane(op.lane), op.index, op.text)));
    }
    // A stable sort keeps each kind in recorded order within an instant.
    events.sort_by_key(|(time_ns, order, _)| (*time_ns, *order));
    let faults = diagram.faults.len();
    let mut out =
        format!("event log ({} messages, {faults} faults, {} operations):\n", diagram.arrows.len(), diagram.ops.len());
    for (time_ns, _, what) in events {
        let _ = writeln!(out, "{:>11.3} ms  {what}", time_ns as f64 / NS_PER_MS);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use eosim_reports::svg::{Arrow, BandStyle, FaultBand, Lane, LaneKind, OpMark};

    #[test]
    fn every_message_fault_and_operation_is_one_line_in_time_order() {
        let lane = |name: &str, kind| Lane { name: name.to_string(), kind };
        let diagram = SpaceTime {
            lanes: vec![lane("broker-0", LaneKind::Server), lane("producer-0", LaneKind::Client)],
            arrows: vec![Arrow {
                note: "lost by the network".to_string(),
                ..Arrow::message(
                    0,
                    1,
                    2_000_000,
                    ArrowEnd::Dropped { at_ns: 2_000_000, at_send: true },
                    "ProduceResponse",
                )
            }],
            faults: vec![FaultBand {
                style: BandStyle::Link,
                label: "lost-ack acks 40%".to_string(),
                start_ns: 1_000_000,
                end_ns: Some(3_000_000),
                lanes: Vec::new(),
                side_b: Vec::new(),
            }],
            ops: vec![OpMark {
                lane: 1,
                time_ns: 500_000,
                index: 0,
                text: "invoke send".to_string(),
                proving: false,
                outcome: "invoke",
            }],
            events: Vec::new(),
            end_ns: 4_000_000,
        };
        let text = events_text(Some(&diagram));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[1].ends_with("0.500 ms  producer-0   op 0 invoke send"), "{text}");
        assert!(lines[2].contains("network      fault: lost-ack acks 40%"), "{text}");
        assert!(
            lines[3].contains("broker-0     → producer-0    ProduceResponse ✗ lost (lost by the network)"),
            "{text}"
        );
        assert!(lines[4].starts_with("      3.000 ms  network      healed:"), "{text}");
        assert_eq!(events_text(None), "event log: the run was not recorded\n");
    }
}
