//! A failing run tells its story on the terminal (`eosim run`, `eosim replay`, `eosim shrink`).
//!
//! A verdict and a trace hash say that a seed failed; the story says how, in the order a reader asks:
//!
//! - [`schedule`]: the fault schedule, one line per fault (virtual time, kind as scenario files name it, the
//!   node or link it struck, when it healed), the faults around the first violation marked;
//! - [`evidence`]: what the checker found, each anomaly with the history operations that prove it (index,
//!   process and node, virtual time, type, values and offsets);
//! - a compact per-node timeline around the first violation, drawn by [`crate::teach::diagram`] from the run's
//!   recording, the same data the HTML report draws as SVG;
//! - with `-v`, [`events`]: the event log, one line per recorded message, fault and operation.
//!
//! Every line fits [`WIDTH_CHARS`] characters; colour is used only when asked for (stdout is a terminal). The run is
//! recorded by rerunning nothing: [`run_recorded`] turns the kernel's recorder on for the one run the command does,
//! and recording changes no run (its trace hash is the same).

pub mod events;
pub mod evidence;
pub mod schedule;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use eosim_model::Scenario;
use eosim_reports::svg::{LaneKind, SpaceTime};
use eosim_reports::SeedSection;
use eosim_sim::recording::{capture, Recording};

use crate::html_report::{fill_section, node_names};
use crate::runner::RunResult;
use crate::teach::diagram::{render_text, DiagramOptions};

/// Widest line of a story, in characters.
pub const WIDTH_CHARS: usize = 100;
/// Lanes the timeline draws at most: ten lanes of six characters leave the notes a quarter of the line.
const LANES_MAX: usize = 10;
/// Event rows the timeline draws at most: enough for the proving operations and what happened around them.
const TIMELINE_ROWS_MAX: usize = 36;
/// Time kept around each instant the timeline is about, in nanoseconds.
const TIMELINE_MARGIN_NS: u64 = 2_000_000;
/// How long before the first proving operation a fault still counts as near the anomaly, in nanoseconds: a lost
/// ack or a crash acts through the retries and timeouts that follow it, within a few request timeouts.
pub const NEAR_BEFORE_NS: u64 = 100_000_000;

/// How a story is told.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoryOptions {
    /// Print every fault of the schedule and the event log (`-v`).
    pub verbose: bool,
    /// Colour the lost messages, the faults and the proving operations (only when stdout is a terminal).
    pub color: bool,
}

/// Runs `run` (one simulation: [`crate::run_seed`], [`crate::Repro::replay`]) with the kernel's recorder on, and
/// returns its result with the recording of the world it built, if it built one.
pub fn run_recorded(run: impl FnOnce() -> RunResult) -> (RunResult, Option<Recording>) {
    let (result, recordings) = capture(run);
    (result, recordings.into_iter().next_back())
}

/// One run laid out for its story: node names, and the diagram of its recording with its proving operations.
#[derive(Clone, Debug)]
pub struct Story {
    /// Each node's name, by node id (`broker-0`, `controller`, `producer-1`).
    pub names: Vec<String>,
    /// The diagram, the first violation and its proving operations; `None` when the run was not recorded.
    pub section: Option<SeedSection>,
    /// How it is told.
    pub options: StoryOptions,
}

impl Story {
    /// The story of `result`, a run of `scenario`, drawn from `recording` when there is one.
    pub fn new(scenario: &Scenario, result: &RunResult, recording: Option<&Recording>, options: StoryOptions) -> Story {
        let names = match recording {
            Some(recording) => node_names(scenario, &recording.roles),
            None => eosim_model::node_names(scenario),
        };
        let section = recording.map(|recording| {
            let anomalies_total = result.report.as_ref().map_or(0, |report| report.anomalies.len());
            let mut section = SeedSection::new(result.seed_record(), anomalies_total, Vec::new());
            fill_section(&mut section, scenario, result, recording);
            section
        });
        Story { names, section, options }
    }

    /// The recorded run's diagram, if it was recorded.
    pub fn diagram(&self) -> Option<&SpaceTime> {
        self.section.as_ref().and_then(|section| section.diagram.as_ref())
    }

    /// Each history operation's node name, by operation index, as the diagram matched processes to nodes.
    pub fn op_nodes(&self) -> BTreeMap<usize, String> {
        let Some(diagram) = self.diagram() else { return BTreeMap::new() };
        diagram.ops.iter().map(|op| (op.index, diagram.lanes[op.lane].name.clone())).collect()
    }

    /// The fault schedule, with `-v` the event log, then the [findings](Story::findings_text).
    pub fn text(&self, result: &RunResult) -> String {
        let mut out = self.schedule_text(result);
        if self.options.verbose {
            out.push_str(&events::events_text(self.diagram()));
        }
        out.push_str(&self.findings_text(result));
        fit(&out)
    }

    /// The fault schedule: every fault with `-v`, else the ones near the first violation and the earliest.
    pub fn schedule_text(&self, result: &RunResult) -> String {
        fit(&schedule::schedule_text(result, &self.names, self.options.verbose))
    }

    /// The anomalies with the operations that prove them, then the timeline around the first violation.
    pub fn findings_text(&self, result: &RunResult) -> String {
        let mut out = evidence::check_text(result, &self.op_nodes());
        out.push_str(&self.timeline_text(result));
        fit(&out)
    }

    /// The per-node timeline around the first violation (or, for a stall, around the last heal and the last
    /// operations); empty for a run that passed or was not recorded.
    pub fn timeline_text(&self, result: &RunResult) -> String {
        let (Some(section), Some(diagram)) = (&self.section, self.diagram()) else { return String::new() };
        if !result.verdict.is_failure() {
            return String::new();
        }
        let (heading, focus_ns) = match &section.anomaly {
            Some(anomaly) if !section.focus_ns.is_empty() => {
                let ops: Vec<String> = anomaly.ops.iter().map(usize::to_string).collect();
                (format!("{}, ops {}", anomaly.kind.name(), ops.join(", ")), section.focus_ns.clone())
            }
            _ => ("the end of the run".to_string(), stall_focus(diagram)),
        };
        let (near, left_out) = fewer_lanes(&near_faults(diagram, &focus_ns), &focus_ns);
        let options = DiagramOptions {
            width_chars: WIDTH_CHARS,
            rows_max: TIMELINE_ROWS_MAX,
            margin_ns: TIMELINE_MARGIN_NS,
            color: self.options.color,
        };
        let mut out = format!("timeline around {heading}:\n");
        if !left_out.is_empty() {
            let _ = writeln!(out, "lanes not drawn ({}): {}", left_out.len(), left_out.join(", "));
        }
        out.push_str(&render_text(&near, &focus_ns, &options));
        fit(&out)
    }
}

/// How far `time_ns` is from the nearest instant of `focus_ns`.
fn distance_ns(focus_ns: &[u64], time_ns: u64) -> u64 {
    focus_ns.iter().map(|instant| instant.abs_diff(time_ns)).min().unwrap_or(0)
}

/// Where a run with no proving operation is drawn: its last heal and its last operations, where it should have
/// settled and did not.
fn stall_focus(diagram: &SpaceTime) -> Vec<u64> {
    let mut focus: Vec<u64> = diagram.faults.iter().filter_map(|fault| fault.end_ns).max().into_iter().collect();
    focus.extend(diagram.ops.iter().rev().take(3).map(|op| op.time_ns));
    if focus.is_empty() {
        focus.push(diagram.end_ns);
    }
    focus.sort_unstable();
    focus.dedup();
    focus
}

/// `diagram` with only the faults active within [`TIMELINE_MARGIN_NS`] of an instant of `focus_ns`: the diagram
/// draws every fault row it has, and a long schedule would crowd out the proving operations (the schedule above
/// lists the others). The instants count, not the span between them: a final poll long after the anomaly would
/// otherwise pull in every fault in between.
fn near_faults(diagram: &SpaceTime, focus_ns: &[u64]) -> SpaceTime {
    let mut near = diagram.clone();
    near.faults.retain(|fault| {
        focus_ns.iter().any(|instant| {
            fault.start_ns <= instant + TIMELINE_MARGIN_NS
                && fault.end_ns.is_none_or(|end_ns| end_ns + TIMELINE_MARGIN_NS >= *instant)
        })
    });
    near
}

/// `diagram` with at most [`LANES_MAX`] lanes, so that each keeps room for its line and the notes stay readable:
/// the servers, the lanes of the proving operations, then the lanes with operations nearest `focus_ns`. Returns
/// the names of the lanes left out; messages to or from them are not drawn.
fn fewer_lanes(diagram: &SpaceTime, focus_ns: &[u64]) -> (SpaceTime, Vec<String>) {
    if diagram.lanes.len() <= LANES_MAX {
        return (diagram.clone(), Vec::new());
    }
    let mut keep: BTreeSet<usize> =
        (0..diagram.lanes.len()).filter(|lane| diagram.lanes[*lane].kind == LaneKind::Server).collect();
    keep.extend(diagram.ops.iter().filter(|op| op.proving).map(|op| op.lane));
    let mut nearest: Vec<(u64, usize)> =
        diagram.ops.iter().map(|op| (distance_ns(focus_ns, op.time_ns), op.lane)).collect();
    nearest.sort_unstable();
    for (_, lane) in nearest {
        if keep.len() >= LANES_MAX {
            break;
        }
        keep.insert(lane);
    }
    let kept: Vec<usize> = keep.into_iter().collect();
    let new_index = |lane: usize| kept.binary_search(&lane).ok();
    let left_out = (0..diagram.lanes.len()).filter(|lane| new_index(*lane).is_none());
    let left_out: Vec<String> = left_out.map(|lane| diagram.lanes[lane].name.clone()).collect();
    let mut fewer = diagram.clone();
    fewer.lanes = kept.iter().map(|lane| diagram.lanes[*lane].clone()).collect();
    fewer.arrows.retain_mut(|arrow| match (new_index(arrow.source), new_index(arrow.target)) {
        (Some(source), Some(target)) => {
            (arrow.source, arrow.target) = (source, target);
            true
        }
        _ => false,
    });
    fewer.ops.retain_mut(|op| new_index(op.lane).map(|lane| op.lane = lane).is_some());
    // A band with no lane left struck only nodes that are not drawn; an empty band from the start (a link window)
    // strikes every lane and stays.
    fewer.faults.retain_mut(|fault| {
        let struck = !fault.lanes.is_empty() || !fault.side_b.is_empty();
        fault.lanes = fault.lanes.iter().filter_map(|lane| new_index(*lane)).collect();
        fault.side_b = fault.side_b.iter().filter_map(|lane| new_index(*lane)).collect();
        !struck || !fault.lanes.is_empty() || !fault.side_b.is_empty()
    });
    (fewer, left_out)
}

/// `text` with every line cut to [`WIDTH_CHARS`] characters; a coloured line was cut before its escapes were added.
pub fn fit(text: &str) -> String {
    let cut = |line: &str| {
        if line.contains('\u{1b}') || line.chars().count() <= WIDTH_CHARS {
            return line.to_string();
        }
        line.chars().take(WIDTH_CHARS - 1).collect::<String>() + "…"
    };
    text.lines().map(|line| cut(line) + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use eosim_reports::svg::{Arrow, ArrowEnd, BandStyle, FaultBand, Lane, OpMark};

    /// Two servers and twelve clients; client 13 proves something, client 5 acts near the window, client 2 far.
    fn crowded() -> SpaceTime {
        let server = |index: usize| Lane { name: format!("broker-{index}"), kind: LaneKind::Server };
        let client = |index: usize| Lane { name: format!("writer-{index}"), kind: LaneKind::Client };
        let lanes: Vec<Lane> = (0..2).map(server).chain((2..14).map(client)).collect();
        let op = |lane: usize, time_ns: u64, proving: bool| OpMark {
            lane,
            time_ns,
            index: lane,
            text: "ok send".to_string(),
            proving,
            outcome: "ok",
        };
        let mut ops = vec![op(13, 1_000, true), op(2, 900_000_000, false)];
        ops.extend((3..13).map(|lane| op(lane, 2_000 + lane as u64, false)));
        let arrow = |source, target| {
            Arrow::message(source, target, 1_000, ArrowEnd::Delivered { at_ns: 2_000 }, "ProduceRequest")
        };
        let crash = |lane: usize| FaultBand {
            style: BandStyle::Crash,
            label: format!("producer-crash writer-{lane}"),
            start_ns: 500,
            end_ns: Some(5_000),
            lanes: vec![lane],
            side_b: Vec::new(),
        };
        SpaceTime {
            lanes,
            arrows: vec![arrow(13, 0), arrow(2, 1)],
            faults: vec![crash(13), crash(2)],
            ops,
            events: Vec::new(),
            end_ns: 1_000_000_000,
        }
    }

    #[test]
    fn a_crowded_timeline_keeps_the_servers_the_proving_lanes_and_the_nearest() {
        let (fewer, left_out) = fewer_lanes(&crowded(), &[0, 3_000]);
        assert_eq!(fewer.lanes.len(), LANES_MAX);
        let names: Vec<&str> = fewer.lanes.iter().map(|lane| lane.name.as_str()).collect();
        assert_eq!(&names[..2], ["broker-0", "broker-1"]);
        assert_eq!(names.last(), Some(&"writer-13"), "the proving lane stays");
        assert!(left_out.contains(&"writer-2".to_string()), "the lane far from the window goes: {left_out:?}");
        assert_eq!(left_out.len(), 14 - LANES_MAX);
        let kept_arrow = &fewer.arrows[..];
        assert_eq!(kept_arrow.len(), 1, "the message of a lane left out is not drawn");
        assert_eq!((kept_arrow[0].source, kept_arrow[0].target), (LANES_MAX - 1, 0), "lanes are renumbered");
        assert_eq!(fewer.faults.len(), 1, "the crash of a lane left out is not drawn as a crash of every lane");
        assert_eq!(fewer.faults[0].lanes, [LANES_MAX - 1]);
        assert!(fewer.ops.iter().all(|op| op.lane < LANES_MAX));
        let text = render_text(&fewer, &[1_000], &DiagramOptions::default());
        assert!(text.lines().all(|line| line.chars().count() <= WIDTH_CHARS), "{text}");
    }

    #[test]
    fn a_small_cluster_keeps_every_lane_and_faults_far_from_the_window_go() {
        let mut diagram = crowded();
        diagram.lanes.truncate(3);
        diagram.lanes.push(Lane { name: "writer-13".to_string(), kind: LaneKind::Client });
        let (same, left_out) = fewer_lanes(&diagram, &[0, 3_000]);
        assert!(left_out.is_empty());
        assert_eq!(same.lanes.len(), 4);
        let long_after = 5_000 + TIMELINE_MARGIN_NS + 1;
        assert_eq!(near_faults(&diagram, &[long_after]).faults.len(), 0, "both crashes ended at 5 µs");
        assert_eq!(near_faults(&diagram, &[1_000, long_after]).faults.len(), 2, "the first instant is in both");
    }

    #[test]
    fn long_lines_are_cut_to_the_width_and_coloured_ones_kept() {
        let long = "x".repeat(WIDTH_CHARS + 5);
        let text = fit(&format!("{long}\n\u{1b}[31m{long}\u{1b}[0m\nshort"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].chars().count(), WIDTH_CHARS);
        assert!(lines[0].ends_with('…'));
        assert!(lines[1].starts_with('\u{1b}'));
        assert_eq!(lines[2], "short");
    }
}
