//! The whole run at a glance, above a seed's space-time diagram: a fault strip (every fault of the run on one
//! time axis, the diagram's windows marked) and a per-process operation timeline in the manner of Jepsen's
//! `timeline.html` (each operation a bar from its invocation to its completion, coloured ok, info or fail), and
//! the log of the anomaly's partition, offset by offset, with duplicates and aborted records marked.
//!
//! The strips span the whole run, where the diagram shows only windows of it, so a reader sees where in the
//! run the diagram sits and what else went on. Both are inline SVG, scaled to the page's width.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::svg::{BandStyle, Focus, SpaceTime};
use crate::xml_escape;

/// The strips' drawing width before the page scales them.
const STRIP_WIDTH_PX: f64 = 1200.0;
/// Left margin: row names.
const STRIP_LEFT_PX: f64 = 130.0;
/// Height of one row.
const ROW_PX: f64 = 13.0;
/// Height of the time axis under the rows.
const AXIS_PX: f64 = 18.0;
/// Longest tooltip of one operation, in characters.
const OP_TITLE_CHARS_MAX: usize = 300;

/// One operation of the history, from its invocation to its completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineOp {
    /// The history process that performed it.
    pub process: u64,
    /// Its invocation's time, in nanoseconds.
    pub start_ns: u64,
    /// Its completion's time, in nanoseconds; the run's end when it never completed.
    pub end_ns: u64,
    /// "ok", "info" or "fail" (an invocation that never completed is "info", as Jepsen counts it).
    pub outcome: &'static str,
    /// The completion's index in the history (the invocation's when it never completed).
    pub index: usize,
    /// What it did.
    pub text: String,
    /// One of the operations that prove the anomaly.
    pub proving: bool,
}

/// One offset of a partition's log as the history saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The offset.
    pub offset: u64,
    /// The value there.
    pub value: i64,
    /// The value sits at more than one offset.
    pub duplicate: bool,
    /// The value was written by a transaction that aborted (its send failed).
    pub aborted: bool,
    /// The anomaly cites this value or offset.
    pub cited: bool,
}

/// A partition's log, rebuilt from the history: what writers were acknowledged at and what readers read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogView {
    /// The partition (the history's key).
    pub key: String,
    /// Its offsets, ascending.
    pub entries: Vec<LogEntry>,
}

/// x of an instant on a strip.
fn strip_x(time_ns: u64, end_ns: u64) -> f64 {
    STRIP_LEFT_PX + (STRIP_WIDTH_PX - STRIP_LEFT_PX - 10.0) * (time_ns as f64 / end_ns.max(1) as f64)
}

/// The windows the diagram shows, as shaded columns over `height` pixels.
fn windows(out: &mut String, focus: &Focus, end_ns: u64, height: f64) {
    for (start, end) in &focus.segments {
        let (left, right) = (strip_x(*start, end_ns), strip_x(*end, end_ns));
        let _ = write!(
            out,
            "<rect class=\"window\" x=\"{left:.1}\" y=\"0\" width=\"{:.1}\" height=\"{height:.1}\"><title>shown in the \
             diagram: {:.1} to {:.1} ms</title></rect>",
            (right - left).max(2.0),
            *start as f64 / 1e6,
            *end as f64 / 1e6
        );
    }
}

/// A time axis at `y`: five ticks in milliseconds.
fn axis(out: &mut String, end_ns: u64, y: f64) {
    for step in 0..=5u64 {
        let time_ns = end_ns / 5 * step;
        let x = strip_x(time_ns, end_ns);
        // The end ticks keep inside the strip.
        let anchor = match step {
            0 => "start",
            5 => "end",
            _ => "middle",
        };
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{} ms</text>",
            y + 12.0,
            time_ns / 1_000_000
        );
    }
}

/// Every fault of the run, one row per fault kind, on the run's whole time axis, with the diagram's windows.
pub fn render_fault_strip(diagram: &SpaceTime, focus: &Focus, id: &str) -> String {
    let kind = |label: &str| label.split([' ', ':']).next().unwrap_or_default().to_string();
    let kinds: Vec<String> =
        diagram.faults.iter().map(|fault| kind(&fault.label)).collect::<BTreeSet<_>>().into_iter().collect();
    let height = kinds.len().max(1) as f64 * ROW_PX + AXIS_PX;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"strip faults\" id=\"{}-faults\" viewBox=\"0 0 \
         {STRIP_WIDTH_PX} {height:.1}\" role=\"img\" aria-label=\"faults over the whole run\">",
        xml_escape(id)
    );
    windows(&mut out, focus, diagram.end_ns, height - AXIS_PX);
    if kinds.is_empty() {
        out.push_str("<text class=\"row\" x=\"4\" y=\"10\">no faults</text>");
    }
    for (row, name) in kinds.iter().enumerate() {
        let _ = write!(
            out,
            "<text class=\"row\" x=\"4\" y=\"{:.1}\">{}</text>",
            row as f64 * ROW_PX + 10.0,
            xml_escape(name)
        );
    }
    for fault in &diagram.faults {
        let row = kinds.iter().position(|name| *name == kind(&fault.label)).expect("every fault has a row");
        let end_ns = fault.end_ns.unwrap_or(diagram.end_ns);
        let (left, right) = (strip_x(fault.start_ns, diagram.end_ns), strip_x(end_ns, diagram.end_ns));
        let class = match fault.style {
            BandStyle::Crash => "crash",
            BandStyle::Pause => "pause",
            BandStyle::Partition => "partition",
            BandStyle::Link => "link",
        };
        let _ = write!(
            out,
            "<rect class=\"{class}\" x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}: {:.3} to \
             {:.3} ms</title></rect>",
            row as f64 * ROW_PX + 1.0,
            (right - left).max(1.5),
            ROW_PX - 2.0,
            xml_escape(&fault.label),
            fault.start_ns as f64 / 1e6,
            end_ns as f64 / 1e6
        );
    }
    axis(&mut out, diagram.end_ns, height - AXIS_PX);
    out.push_str("</svg>\n");
    out
}

/// Every operation of the history, one row per process, a bar from invocation to completion coloured by its
/// outcome; an operation drawn in the diagram links to its dot there.
pub fn render_op_timeline(ops: &[TimelineOp], drawn: &BTreeSet<usize>, end_ns: u64, focus: &Focus, id: &str) -> String {
    let processes: Vec<u64> = ops.iter().map(|op| op.process).collect::<BTreeSet<_>>().into_iter().collect();
    let height = processes.len().max(1) as f64 * ROW_PX + AXIS_PX;
    let id = xml_escape(id);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"strip ops\" id=\"{id}-timeline\" viewBox=\"0 0 \
         {STRIP_WIDTH_PX} {height:.1}\" role=\"img\" aria-label=\"operations per process over the whole run\">"
    );
    windows(&mut out, focus, end_ns, height - AXIS_PX);
    for (row, process) in processes.iter().enumerate() {
        let _ =
            write!(out, "<text class=\"row\" x=\"4\" y=\"{:.1}\">process {process}</text>", row as f64 * ROW_PX + 10.0);
    }
    for op in ops {
        let row = processes.binary_search(&op.process).expect("every process has a row");
        let (left, right) = (strip_x(op.start_ns, end_ns), strip_x(op.end_ns, end_ns));
        let proving = if op.proving { " proving" } else { "" };
        let title: String =
            format!("op {} {}: {}", op.index, op.outcome, op.text).chars().take(OP_TITLE_CHARS_MAX).collect();
        let bar = format!(
            "<rect class=\"{}{proving}\" x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}</title></rect>",
            op.outcome,
            row as f64 * ROW_PX + 1.0,
            (right - left).max(1.5),
            ROW_PX - 2.0,
            xml_escape(&title)
        );
        if drawn.contains(&op.index) {
            let _ = write!(out, "<a href=\"#{id}-op-{}\">{bar}</a>", op.index);
        } else {
            out.push_str(&bar);
        }
    }
    axis(&mut out, end_ns, height - AXIS_PX);
    out.push_str("</svg>\n");
    out
}

/// A partition's log as a row of cells, `offset:value`, duplicates, aborted records and cited ones marked.
pub fn render_log(view: &LogView) -> String {
    let mut out = format!("<div class=\"log\"><span class=\"log-key\">{}</span>", xml_escape(&view.key));
    for entry in &view.entries {
        let mut class = String::from("rec");
        for (flag, name) in [(entry.duplicate, " dup"), (entry.aborted, " aborted"), (entry.cited, " cited")] {
            if flag {
                class.push_str(name);
            }
        }
        let mut notes = Vec::new();
        if entry.duplicate {
            notes.push("a duplicate: this value is at another offset too");
        }
        if entry.aborted {
            notes.push("written by an aborted transaction");
        }
        if entry.cited {
            notes.push("cited by the anomaly");
        }
        let _ = write!(
            out,
            "<span class=\"{class}\" title=\"offset {} value {}{}{}\">{}:{}</span>",
            entry.offset,
            entry.value,
            if notes.is_empty() { "" } else { ": " },
            notes.join("; "),
            entry.offset,
            entry.value
        );
    }
    out.push_str("</div>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::svg::{FaultBand, FocusOptions, Lane, LaneKind};

    #[test]
    fn strips_place_faults_and_operations_on_the_whole_run() {
        let diagram = SpaceTime {
            lanes: vec![Lane { name: "broker-0".to_string(), kind: LaneKind::Server }],
            faults: vec![FaultBand {
                style: BandStyle::Crash,
                label: "broker-crash broker-0".to_string(),
                start_ns: 500_000_000,
                end_ns: None,
                lanes: vec![0],
                side_b: Vec::new(),
            }],
            end_ns: 1_000_000_000,
            ..SpaceTime::default()
        };
        let focus = Focus::around(&diagram, &[250_000_000], FocusOptions::default());
        let strip = render_fault_strip(&diagram, &focus, "d");
        // Half way along the 1060 px of time: x = 130 + 530, to the end of the run.
        assert!(strip.contains("<rect class=\"crash\" x=\"660.0\" y=\"1.0\" width=\"530.0\""), "{strip}");
        assert!(strip.contains(">broker-crash</text>"), "{strip}");
        let op = |process, start_ns, outcome, index| TimelineOp {
            process,
            start_ns,
            end_ns: start_ns + 10_000_000,
            outcome,
            index,
            text: "send k <1>".to_string(),
            proving: index == 3,
        };
        let ops = [op(4, 0, "ok", 1), op(2, 100_000_000, "fail", 3)];
        let timeline = render_op_timeline(&ops, &BTreeSet::from([3]), diagram.end_ns, &focus, "d");
        assert!(timeline.contains(">process 2</text>") && timeline.contains(">process 4</text>"));
        assert!(
            timeline.contains("<a href=\"#d-op-3\"><rect class=\"fail proving\" x=\"236.0\" y=\"1.0\""),
            "{timeline}"
        );
        assert!(timeline.contains("send k &lt;1&gt;") && !timeline.contains("#d-op-1"), "{timeline}");
    }

    #[test]
    fn a_log_marks_duplicates_and_aborted_records() {
        let entry = |offset, value, duplicate, aborted| LogEntry { offset, value, duplicate, aborted, cited: false };
        let view = LogView { key: "k".to_string(), entries: vec![entry(0, 5, false, false), entry(1, 5, true, true)] };
        let html = render_log(&view);
        assert!(html.contains("<span class=\"rec\" title=\"offset 0 value 5\">0:5</span>"), "{html}");
        assert!(html.contains("class=\"rec dup aborted\""), "{html}");
    }
}
