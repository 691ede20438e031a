//! Space-time diagrams of one run, as inline SVG: one vertical lane per node (and per history process that no
//! node could be matched to), time flowing down, every message an arrow from its sender's lane at the send time
//! to its receiver's lane at the delivery time.
//!
//! A run lasts seconds and sends tens of thousands of messages, so a diagram shows only the run *around* what
//! it is about: [`Focus::around`] takes the instants that matter (the history operations that prove an
//! anomaly), keeps a margin of time around each, merges what is close, and elides the rest: the time axis is
//! piecewise linear, with a fixed gap wherever time was cut. It also keeps at most
//! [`FocusOptions::arrows_max`] arrows, the nearest in time to those instants, and says how many it cut, so a
//! page can say what is not drawn.
//!
//! Drawing conventions: a lost message is an arrow ending in a cross (where it was lost: partway to its target
//! when the network dropped it at send time, at the target's lane when it arrived too late); a crash or a
//! pause is a band on its node's lane; a partition or a link fault (loss, duplication, delay) is a shaded band
//! across the lanes it affects. The operations that prove the anomaly are red dots with their history index.
//! Everything here is a pure function from data to text.

use std::fmt::Write as _;

use crate::xml_escape;

/// Nanoseconds per millisecond, the unit every time label uses.
const NS_PER_MS: f64 = 1_000_000.0;
/// Left margin: the time axis labels.
const LEFT_PX: f64 = 80.0;
/// Horizontal distance between two lanes, at most: lanes close up to fit [`FIT_WIDTH_PX`].
const LANE_SPACING_PX: f64 = 150.0;
/// Horizontal distance between two lanes, at least; past it the page scales the diagram down.
const LANE_SPACING_PX_MIN: f64 = 84.0;
/// The width a diagram aims to fit: a 1400 px window less the page's margins and a scroll bar.
const FIT_WIDTH_PX: f64 = 1320.0;
/// Right margin: the fault labels.
const RIGHT_PX: f64 = 190.0;
/// Top margin: the lane names.
const TOP_PX: f64 = 40.0;
/// Bottom margin: the lane names again.
const BOTTOM_PX: f64 = 40.0;
/// Height of an elided stretch of time between two segments.
const GAP_PX: f64 = 44.0;
/// The height the shown segments are scaled to, unless that would be too coarse or too fine.
const SEGMENTS_HEIGHT_PX: f64 = 1400.0;
/// Scale bounds, in pixels per millisecond.
const SCALE_PX_PER_MS_MIN: f64 = 2.0;
const SCALE_PX_PER_MS_MAX: f64 = 1000.0;
/// How far a message dropped at send time is drawn toward its target, in pixels: its cross stays by the
/// sender's lane, where the loss happened, never on a third node's lane between the two.
const DROP_REACH_PX: f64 = 16.0;
/// How far down such a message is drawn, in pixels (it has no arrival time).
const DROP_FALL_PX: f64 = 8.0;
/// Visible message labels at most; the rest are tooltips only.
const LABELS_MAX: usize = 60;
/// Longest operation label drawn beside its lane, in characters; the tooltip and the page's table have it all.
const OP_LABEL_CHARS_MAX: usize = 40;
/// Lines an operation label wraps onto at most.
const OP_LABEL_LINES_MAX: usize = 4;
/// Height of one line of label text, for collision checks.
const LABEL_LINE_PX: f64 = 12.0;
/// Approximate width of one character of label text (10 px sans-serif).
const LABEL_CHAR_PX: f64 = 5.6;

/// What a lane stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneKind {
    /// A node that answers requests (a broker, the controller).
    Server,
    /// A node that makes requests (a producer, a consumer).
    Client,
    /// A history process that no node could be matched to.
    Process,
}

/// One vertical lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    /// Its name at the top and bottom: `broker-0`, `producer-1`, `process-7`.
    pub name: String,
    /// What it stands for.
    pub kind: LaneKind,
}

/// Where a message's arrow ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrowEnd {
    /// Handled by the target at `at_ns`.
    Delivered {
        /// When, in nanoseconds.
        at_ns: u64,
    },
    /// Lost at `at_ns`; `at_send` when the network dropped it as it was sent (it has no arrival time).
    Dropped {
        /// When, in nanoseconds.
        at_ns: u64,
        /// Dropped as it was sent.
        at_send: bool,
    },
    /// Still in flight when the run ended.
    InFlight,
}

/// One message copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrow {
    /// The sender's lane.
    pub source: usize,
    /// The addressee's lane.
    pub target: usize,
    /// When it was sent, in nanoseconds.
    pub send_ns: u64,
    /// Where it ends.
    pub end: ArrowEnd,
    /// Its kind ("ProduceRequest").
    pub label: String,
    /// More for its tooltip (why it was lost, that it is a duplicate); may be empty.
    pub note: String,
    /// The protocol API it belongs to ("Produce", "EndTxn"); empty when unknown.
    pub api: String,
    /// The fields that matter, for its tooltip ("partition 1, producerId 7, baseSequence 3"); may be empty.
    pub fields: String,
    /// What a page's filters may hide it as.
    pub topic: Topic,
    /// Part of the causal chain of the anomaly the diagram is about: drawn bold, and never cut.
    pub chain: bool,
}

/// What a message is about, for the page's filters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Topic {
    /// Clients' traffic, markers, coordinator requests: never hidden by a filter.
    #[default]
    Ordinary,
    /// A follower's fetch from its leader and its answer.
    Replication,
    /// Liveness chatter: broker and group heartbeats.
    Heartbeat,
}

impl Topic {
    /// The CSS class the page's filters look for.
    pub fn class(self) -> &'static str {
        match self {
            Topic::Ordinary => "",
            Topic::Replication => " replication",
            Topic::Heartbeat => " heartbeat",
        }
    }
}

impl Arrow {
    /// A message of kind `label` from lane `source` to lane `target`, with no note, API, fields or filter topic,
    /// and outside any causal chain: what a test or a hand-drawn diagram starts from.
    pub fn message(source: usize, target: usize, send_ns: u64, end: ArrowEnd, label: &str) -> Arrow {
        Arrow {
            source,
            target,
            send_ns,
            end,
            label: label.to_string(),
            note: String::new(),
            api: String::new(),
            fields: String::new(),
            topic: Topic::Ordinary,
            chain: false,
        }
    }

    /// The time its arrow ends; a message in flight at the end of the run ends with the run.
    fn end_ns(&self, run_end_ns: u64) -> u64 {
        match self.end {
            ArrowEnd::Delivered { at_ns } | ArrowEnd::Dropped { at_ns, .. } => at_ns,
            ArrowEnd::InFlight => run_end_ns.max(self.send_ns),
        }
    }
}

/// How a fault is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BandStyle {
    /// A crash: a band on each of its lanes.
    Crash,
    /// A pause: a band on each of its lanes.
    Pause,
    /// A partition: one band across its lanes.
    Partition,
    /// A link fault: one band across every lane.
    Link,
}

/// One fault, from its start to its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultBand {
    /// How it is drawn.
    pub style: BandStyle,
    /// Its label: the kind and what it struck ("broker-crash broker-1").
    pub label: String,
    /// When it began, in nanoseconds.
    pub start_ns: u64,
    /// When it ended; `None` if it outlasted the run.
    pub end_ns: Option<u64>,
    /// The lanes it struck (for a partition, its first side); ignored for [`BandStyle::Link`].
    pub lanes: Vec<usize>,
    /// For a partition, the lanes of its other side; empty otherwise.
    pub side_b: Vec<usize>,
}

/// One history operation on its lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpMark {
    /// The lane of the node (or process) that performed it.
    pub lane: usize,
    /// When, in nanoseconds.
    pub time_ns: u64,
    /// Its index in the history.
    pub index: usize,
    /// What it was, in a few words ("ok send orders-1 118").
    pub text: String,
    /// True for the operations that prove the anomaly the diagram is about.
    pub proving: bool,
    /// How it ended: "ok", "info", "fail", or "invoke" for an invocation.
    pub outcome: &'static str,
}

/// Everything a diagram could show of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpaceTime {
    /// The lanes, left to right.
    pub lanes: Vec<Lane>,
    /// Every message copy, in send order.
    pub arrows: Vec<Arrow>,
    /// Every fault.
    pub faults: Vec<FaultBand>,
    /// History operations.
    pub ops: Vec<OpMark>,
    /// Things a node did that no message shows by itself ("appended at offset 7"), drawn as diamonds.
    pub events: Vec<LaneEvent>,
    /// When the run ended, in nanoseconds.
    pub end_ns: u64,
}

/// Something a node did at an instant, such as a broker's append or a marker written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaneEvent {
    /// The node's lane.
    pub lane: usize,
    /// When, in nanoseconds.
    pub time_ns: u64,
    /// What, in a few words.
    pub text: String,
}

/// How much a [`Focus`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FocusOptions {
    /// Time kept before and after each focus instant, in nanoseconds.
    pub margin_ns: u64,
    /// Arrows drawn at most: the nearest in time to a focus instant.
    pub arrows_max: usize,
    /// Operations that prove nothing drawn at most, again the nearest.
    pub ops_max: usize,
}

impl Default for FocusOptions {
    fn default() -> Self {
        FocusOptions { margin_ns: 15_000_000, arrows_max: 2000, ops_max: 400 }
    }
}

/// What part of a [`SpaceTime`] a diagram shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Focus {
    /// The shown stretches of time, `[start_ns, end_ns]`, in order and apart; the time between is elided.
    pub segments: Vec<(u64, u64)>,
    /// The instants the diagram is about.
    pub instants_ns: Vec<u64>,
    /// Indices of the arrows drawn, ascending.
    pub arrows: Vec<usize>,
    /// Arrows that touch a segment, drawn or not.
    pub arrows_in_window: usize,
    /// Indices of the operations drawn, ascending.
    pub ops: Vec<usize>,
    /// Operations inside a segment, drawn or not.
    pub ops_in_window: usize,
    /// Indices of the faults that overlap a segment.
    pub faults: Vec<usize>,
}

impl Focus {
    /// The segments around `instants_ns` (or the end of the run when there are none), and what to draw in them.
    pub fn around(diagram: &SpaceTime, instants_ns: &[u64], options: FocusOptions) -> Focus {
        let mut instants: Vec<u64> = instants_ns.iter().map(|time| (*time).min(diagram.end_ns)).collect();
        if instants.is_empty() {
            instants.push(diagram.end_ns.saturating_sub(options.margin_ns));
        }
        instants.sort_unstable();
        instants.dedup();
        let segments = merge_segments(&instants, options.margin_ns, diagram.end_ns);
        assert!(!segments.is_empty(), "at least one instant gives at least one segment");
        let touches = |start_ns: u64, end_ns: u64| segments.iter().any(|(lo, hi)| start_ns <= *hi && end_ns >= *lo);
        let distance = |start_ns: u64, end_ns: u64| {
            instants.iter().map(|t| t.saturating_sub(end_ns).max(start_ns.saturating_sub(*t))).min().unwrap_or(0)
        };
        let in_window: Vec<(u64, usize)> = (diagram.arrows.iter().enumerate())
            .filter(|(_, arrow)| touches(arrow.send_ns, arrow.end_ns(diagram.end_ns)))
            // The causal chain is what the diagram explains: it is never cut.
            .map(|(index, arrow)| {
                (if arrow.chain { 0 } else { distance(arrow.send_ns, arrow.end_ns(diagram.end_ns)) }, index)
            })
            .collect();
        let arrows_in_window = in_window.len();
        let arrows = nearest(in_window, options.arrows_max);
        let ops_window: Vec<(usize, &OpMark)> =
            diagram.ops.iter().enumerate().filter(|(_, op)| touches(op.time_ns, op.time_ns)).collect();
        let ops_in_window = ops_window.len();
        let proving = ops_window.iter().filter(|(_, op)| op.proving).map(|(index, _)| *index);
        let others =
            ops_window.iter().filter(|(_, op)| !op.proving).map(|(i, op)| (distance(op.time_ns, op.time_ns), *i));
        let mut ops: Vec<usize> = proving.chain(nearest(others.collect(), options.ops_max)).collect();
        ops.sort_unstable();
        let faults = (diagram.faults.iter().enumerate())
            .filter(|(_, fault)| touches(fault.start_ns, fault.end_ns.unwrap_or(diagram.end_ns)))
            .map(|(index, _)| index)
            .collect();
        Focus { segments, instants_ns: instants, arrows, arrows_in_window, ops, ops_in_window, faults }
    }

    /// Nanoseconds shown, over every segment.
    pub fn shown_ns(&self) -> u64 {
        self.segments.iter().map(|(start, end)| end - start).sum()
    }
}

/// `[t - margin, t + margin]` around each instant (sorted), clamped to the run, merged where they overlap or
/// where the time between them is shorter than a margin: eliding so little would only break the picture up.
fn merge_segments(instants: &[u64], margin_ns: u64, end_ns: u64) -> Vec<(u64, u64)> {
    let mut segments: Vec<(u64, u64)> = Vec::new();
    for instant in instants {
        let start = instant.saturating_sub(margin_ns);
        let end = instant.saturating_add(margin_ns).min(end_ns.max(*instant)).max(start + 1);
        match segments.last_mut() {
            Some(last) if start <= last.1.saturating_add(margin_ns) => last.1 = last.1.max(end),
            _ => segments.push((start, end)),
        }
    }
    segments
}

/// The indices of the `max` entries with the smallest distance (ties by index), ascending.
fn nearest(mut entries: Vec<(u64, usize)>, max: usize) -> Vec<usize> {
    entries.sort_unstable();
    let mut kept: Vec<usize> = entries.into_iter().take(max).map(|(_, index)| index).collect();
    kept.sort_unstable();
    kept
}

/// Where things go on the page: lane positions and the piecewise-linear time axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Each lane's x.
    pub lane_x: Vec<f64>,
    /// Total width.
    pub width: f64,
    /// Total height.
    pub height: f64,
    /// Pixels per nanosecond inside a segment.
    pub px_per_ns: f64,
    /// Each segment with the y of its start: `(start_ns, end_ns, top_y)`.
    segments: Vec<(u64, u64, f64)>,
}

impl Layout {
    /// The layout of `lane_count` lanes showing the segments of `focus`.
    pub fn new(lane_count: usize, focus: &Focus) -> Layout {
        let spacing = lane_spacing_px(lane_count);
        let lane_x = (0..lane_count).map(|lane| LEFT_PX + (lane as f64 + 0.5) * spacing).collect();
        let width = LEFT_PX + lane_count as f64 * spacing + RIGHT_PX;
        let shown_ms = (focus.shown_ns().max(1) as f64) / NS_PER_MS;
        let px_per_ms = (SEGMENTS_HEIGHT_PX / shown_ms).clamp(SCALE_PX_PER_MS_MIN, SCALE_PX_PER_MS_MAX);
        let px_per_ns = px_per_ms / NS_PER_MS;
        let mut top = TOP_PX;
        let mut segments = Vec::with_capacity(focus.segments.len());
        for (start, end) in &focus.segments {
            segments.push((*start, *end, top));
            top += (end - start) as f64 * px_per_ns + GAP_PX;
        }
        let height = top - GAP_PX + BOTTOM_PX;
        assert!(height > TOP_PX, "a layout has room for its segments");
        Layout { lane_x, width, height, px_per_ns, segments }
    }

    /// The y of instant `time_ns`: linear inside a segment, squeezed linearly into the gap between two
    /// segments, and clamped to the first start and the last end outside them.
    pub fn y(&self, time_ns: u64) -> f64 {
        let first = self.segments[0];
        if time_ns <= first.0 {
            return first.2;
        }
        for (index, (start, end, top)) in self.segments.iter().enumerate() {
            let bottom = top + (end - start) as f64 * self.px_per_ns;
            if time_ns <= *end {
                return top + time_ns.saturating_sub(*start) as f64 * self.px_per_ns;
            }
            if let Some((next_start, _, next_top)) = self.segments.get(index + 1) {
                if time_ns < *next_start {
                    let fraction = (time_ns - end) as f64 / (next_start - end) as f64;
                    return bottom + fraction * (next_top - bottom);
                }
            } else {
                return bottom;
            }
        }
        unreachable!("the last segment returns")
    }

    /// The first and last instant shown.
    fn window(&self) -> (u64, u64) {
        let first = self.segments[0];
        let last = self.segments[self.segments.len() - 1];
        (first.0, last.1)
    }

    /// The y where the segments end.
    fn bottom(&self) -> f64 {
        self.height - BOTTOM_PX
    }
}

/// The distance between lanes that fits `lane_count` lanes into [`FIT_WIDTH_PX`], within its bounds.
fn lane_spacing_px(lane_count: usize) -> f64 {
    let room = FIT_WIDTH_PX - LEFT_PX - RIGHT_PX;
    (room / lane_count.max(1) as f64).clamp(LANE_SPACING_PX_MIN, LANE_SPACING_PX)
}

/// `text` cut to `max` characters, the cut marked with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    text.chars().take(max.saturating_sub(1)).collect::<String>() + "\u{2026}"
}

/// A number of pixels with one decimal, as SVG attributes take it.
fn px(value: f64) -> String {
    format!("{value:.1}")
}

/// An instant in milliseconds with three decimals, the precision a tooltip needs.
fn ms(time_ns: u64) -> String {
    format!("{:.3} ms", time_ns as f64 / NS_PER_MS)
}

/// The diagram as one `<svg>` element with `id`, ending in a newline.
pub fn render_svg(diagram: &SpaceTime, focus: &Focus, id: &str) -> String {
    assert!(!diagram.lanes.is_empty(), "a diagram has lanes");
    let layout = Layout::new(diagram.lanes.len(), focus);
    let id = xml_escape(id);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"spacetime\" id=\"{id}\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"space-time diagram\">",
        w = px(layout.width),
        h = px(layout.height)
    );
    render_defs(&mut out, &id);
    render_axis(&mut out, &layout, focus);
    // Fault labels go last, over the arrows, so that no message label hides what a band is.
    let fault_labels = render_faults(&mut out, diagram, focus, &layout);
    render_lanes(&mut out, diagram, &layout);
    render_arrows(&mut out, diagram, focus, &layout, &id);
    render_ops(&mut out, diagram, focus, &layout, &id);
    render_events(&mut out, diagram, &layout);
    out.push_str(&fault_labels);
    out.push_str("</svg>\n");
    out
}

/// Arrowheads, one per message class, named after the diagram so that several diagrams share a page.
fn render_defs(out: &mut String, id: &str) {
    out.push_str("<defs>");
    for (class, color) in ARROW_CLASSES {
        let _ = write!(
            out,
            "<marker id=\"{id}-{class}\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"7\" \
             markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"{color}\"/></marker>"
        );
    }
    out.push_str("</defs>\n");
}

/// Message classes by who talks to whom, with their colors (the page's CSS uses the same).
const ARROW_CLASSES: [(&str, &str); 4] =
    [("request", "#1f66b3"), ("response", "#2a8c2a"), ("internal", "#8a8a8a"), ("dropped", "#d62728")];

/// Segment backgrounds, time ticks and the marks where time was elided.
fn render_axis(out: &mut String, layout: &Layout, focus: &Focus) {
    let right = layout.width - RIGHT_PX + 40.0;
    for (index, (start, end)) in focus.segments.iter().enumerate() {
        let (top, bottom) = (layout.y(*start), layout.y(*end));
        let _ = writeln!(
            out,
            "<rect class=\"segment\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            px(LEFT_PX),
            px(top),
            px(right - LEFT_PX),
            px(bottom - top)
        );
        let step_ns = tick_step_ns(layout.px_per_ns);
        let mut tick = start.div_ceil(step_ns) * step_ns;
        while tick <= *end {
            let y = px(layout.y(tick));
            let _ = writeln!(
                out,
                "<line class=\"tick\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/><text class=\"tick\" x=\"{}\" \
                 y=\"{y}\" dy=\"3\">{}</text>",
                px(LEFT_PX),
                px(right),
                px(LEFT_PX - 6.0),
                tick_label(tick, step_ns)
            );
            tick += step_ns;
        }
        if let Some((next_start, _)) = focus.segments.get(index + 1) {
            render_gap(out, layout, *end, *next_start, right);
        }
    }
}

/// The mark of an elided stretch of time between two segments.
fn render_gap(out: &mut String, layout: &Layout, end_ns: u64, next_start_ns: u64, right: f64) {
    let (top, bottom) = (layout.y(end_ns), layout.y(next_start_ns));
    let middle = (top + bottom) / 2.0;
    let _ = writeln!(
        out,
        "<rect class=\"gap\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/><text class=\"gap\" x=\"{}\" y=\"{}\">\
         {} elided ({} to {})</text>",
        px(LEFT_PX),
        px(top),
        px(right - LEFT_PX),
        px(bottom - top),
        px((LEFT_PX + right) / 2.0),
        px(middle + 4.0),
        duration_text(next_start_ns - end_ns),
        ms(end_ns),
        ms(next_start_ns)
    );
}

/// A duration for a person: milliseconds below ten seconds, else seconds.
fn duration_text(duration_ns: u64) -> String {
    let milliseconds = duration_ns as f64 / NS_PER_MS;
    if milliseconds < 10_000.0 {
        format!("{milliseconds:.1} ms")
    } else {
        format!("{:.2} s", milliseconds / 1000.0)
    }
}

/// The tick interval: the smallest of 1, 2, 5 × 10^k nanoseconds that leaves 36 px between ticks.
fn tick_step_ns(px_per_ns: f64) -> u64 {
    let mut magnitude = 1_000u64;
    loop {
        for factor in [1, 2, 5] {
            let step = magnitude * factor;
            if step as f64 * px_per_ns >= 36.0 {
                return step;
            }
        }
        magnitude *= 10;
    }
}

/// A tick's label in milliseconds, with as many decimals as the step needs.
fn tick_label(tick_ns: u64, step_ns: u64) -> String {
    let decimals = match step_ns {
        step if step >= 1_000_000 => 0,
        step if step >= 100_000 => 1,
        step if step >= 10_000 => 2,
        _ => 3,
    };
    format!("{:.*} ms", decimals, tick_ns as f64 / NS_PER_MS)
}

/// Faults: bands across lanes first, then bands on single lanes, each labeled at its top left (a band on a
/// lane just right of it), with the label moved down where it would cover another fault's label. Link faults
/// also get a bar of their own at the left edge, so that windows open at once stay apart. Returns the labels,
/// to be drawn over everything else.
fn render_faults(out: &mut String, diagram: &SpaceTime, focus: &Focus, layout: &Layout) -> String {
    let mut texts = String::new();
    let (window_start, window_end) = layout.window();
    let mut labels: Vec<(f64, f64)> = Vec::new();
    let faults = || focus.faults.iter().map(|index| &diagram.faults[*index]);
    let across = faults().filter(|fault| matches!(fault.style, BandStyle::Partition | BandStyle::Link));
    let on_lanes = faults().filter(|fault| matches!(fault.style, BandStyle::Crash | BandStyle::Pause));
    let mut bar_ends_ns: Vec<u64> = Vec::new();
    for fault in across.chain(on_lanes) {
        let start_ns = fault.start_ns.max(window_start);
        let end_ns = fault.end_ns.unwrap_or(diagram.end_ns).min(window_end);
        let (top, bottom) = (layout.y(start_ns), layout.y(end_ns).max(layout.y(start_ns) + 2.0));
        let slot = if fault.style == BandStyle::Link { bar_slot(&mut bar_ends_ns, fault, diagram.end_ns) } else { 0 };
        let (class, rects) = band_rects(fault, layout, slot);
        let until = fault.end_ns.map_or_else(|| "the end of the run".to_string(), ms);
        let when = format!("{} to {until}", ms(fault.start_ns));
        let title = xml_escape(&format!("{}: {when}", fault.label));
        let _ = write!(out, "<g class=\"fault {class}\"><title>{title}</title>");
        out.push_str(&rects_svg(&rects, top, bottom));
        out.push_str("</g>\n");
        let x = match (fault.style, rects.last()) {
            (_, None) => LEFT_PX + 4.0,
            (BandStyle::Partition, Some(_)) => rects[0].1 + 4.0,
            (_, Some((_, _, right))) => right + 3.0,
        };
        let y = free_label_y(&mut labels, x, top + 11.0);
        let text = xml_escape(&format!("{} ({when})", fault.label));
        let _ = writeln!(texts, "<text class=\"fault-label {class}\" x=\"{}\" y=\"{}\">{text}</text>", px(x), px(y));
    }
    texts
}

/// A fault's rectangles between `top` and `bottom`.
fn rects_svg(rects: &[(&'static str, f64, f64)], top: f64, bottom: f64) -> String {
    let mut out = String::new();
    for (part, left, right) in rects {
        let _ = write!(
            out,
            "<rect class=\"{part}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            px(*left),
            px(top),
            px(right - left),
            px(bottom - top)
        );
    }
    out
}

/// The bar slot of a link fault: the leftmost whose previous fault has ended, so overlapping windows stand
/// side by side. `ends_ns` holds each slot's end.
fn bar_slot(ends_ns: &mut Vec<u64>, fault: &FaultBand, run_end_ns: u64) -> usize {
    let end_ns = fault.end_ns.unwrap_or(run_end_ns);
    match ends_ns.iter().position(|slot_end_ns| *slot_end_ns <= fault.start_ns) {
        Some(slot) => {
            ends_ns[slot] = end_ns;
            slot
        }
        None => {
            ends_ns.push(end_ns);
            ends_ns.len() - 1
        }
    }
}

/// The CSS class of a fault's band and its rectangles, each with its own class and horizontal span: a crash or
/// a pause on each of its lanes; a partition across its lanes, with each side's lanes striped in its color; a
/// link fault across every lane, with its bar in `slot` at the left edge.
fn band_rects(fault: &FaultBand, layout: &Layout, slot: usize) -> (&'static str, Vec<(&'static str, f64, f64)>) {
    let lane_x = |lane: &usize| layout.lane_x.get(*lane).copied();
    match fault.style {
        BandStyle::Crash | BandStyle::Pause => {
            let class = if fault.style == BandStyle::Crash { "crash" } else { "pause" };
            (class, fault.lanes.iter().filter_map(lane_x).map(|x| ("on-lane", x - 6.0, x + 6.0)).collect())
        }
        BandStyle::Partition => {
            let xs: Vec<f64> = fault.lanes.iter().chain(&fault.side_b).filter_map(lane_x).collect();
            if xs.is_empty() {
                return ("partition", Vec::new());
            }
            let left = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let right = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut rects = vec![("across", left - 40.0, right + 40.0)];
            rects.extend(fault.lanes.iter().filter_map(lane_x).map(|x| ("side-a", x - 4.0, x + 4.0)));
            rects.extend(fault.side_b.iter().filter_map(lane_x).map(|x| ("side-b", x - 4.0, x + 4.0)));
            ("partition", rects)
        }
        BandStyle::Link => {
            let bar = LEFT_PX + 3.0 + slot as f64 * 7.0;
            ("link", vec![("across", LEFT_PX, layout.width - RIGHT_PX + 40.0), ("bar", bar, bar + 5.0)])
        }
    }
}

/// The first y at or below `wanted` where a label starting at `x` keeps clear of the labels in `taken`
/// (each taken to run 400 px to the right of its x); records it.
fn free_label_y(taken: &mut Vec<(f64, f64)>, x: f64, wanted: f64) -> f64 {
    let mut y = wanted;
    while taken.iter().any(|(other_x, other_y)| (other_y - y).abs() < LABEL_LINE_PX && (other_x - x).abs() < 400.0) {
        y += LABEL_LINE_PX;
    }
    taken.push((x, y));
    y
}

/// The first y at or below `wanted` that keeps a line of text clear of every y in `taken`; records it.
fn free_line(taken: &mut Vec<f64>, wanted: f64) -> f64 {
    let mut y = wanted;
    while taken.iter().any(|other| (other - y).abs() < LABEL_LINE_PX) {
        y += LABEL_LINE_PX;
    }
    taken.push(y);
    y
}

/// Lane lines with their names at the top and the bottom.
fn render_lanes(out: &mut String, diagram: &SpaceTime, layout: &Layout) {
    for (number, (lane, x)) in diagram.lanes.iter().zip(&layout.lane_x).enumerate() {
        let class = match lane.kind {
            LaneKind::Server => "server",
            LaneKind::Client => "client",
            LaneKind::Process => "process",
        };
        let name = xml_escape(&lane.name);
        let _ = writeln!(
            out,
            "<g class=\"lane {class}\" data-lane=\"{number}\"><line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/><text x=\"{x}\" y=\"{}\">\
             {name}</text><text x=\"{x}\" y=\"{}\">{name}</text></g>",
            px(TOP_PX - 6.0),
            px(layout.bottom() + 6.0),
            px(TOP_PX - 14.0),
            px(layout.height - 12.0),
            x = px(*x)
        );
    }
}

/// One arrow's geometry: start and end points, whether it ends in a cross, and whether it has a head.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Segment {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
    cross: bool,
    head: bool,
}

/// Where an arrow is drawn, cut at the edges of the window (an arrow that leaves the window has no head).
fn arrow_geometry(arrow: &Arrow, layout: &Layout, run_end_ns: u64) -> Segment {
    let (window_start, window_end) = layout.window();
    let (source_x, target_x) = (layout.lane_x[arrow.source], layout.lane_x[arrow.target]);
    if let ArrowEnd::Dropped { at_send: true, .. } = arrow.end {
        let (x1, y1) = (source_x, layout.y(arrow.send_ns));
        let x2 = source_x + DROP_REACH_PX * (target_x - source_x).signum();
        return Segment { x1, y1, x2, y2: y1 + DROP_FALL_PX, cross: true, head: false };
    }
    let (send_ns, end_ns) = (arrow.send_ns, arrow.end_ns(run_end_ns));
    let x_at = |time_ns: u64| {
        let span = end_ns.saturating_sub(send_ns).max(1) as f64;
        source_x + (target_x - source_x) * (time_ns.saturating_sub(send_ns) as f64 / span).min(1.0)
    };
    let start_ns = send_ns.max(window_start);
    let clipped_end_ns = end_ns.min(window_end);
    let inside = clipped_end_ns == end_ns;
    let dropped = matches!(arrow.end, ArrowEnd::Dropped { .. });
    let in_flight = arrow.end == ArrowEnd::InFlight;
    Segment {
        x1: x_at(start_ns),
        y1: layout.y(start_ns),
        x2: x_at(clipped_end_ns),
        y2: layout.y(clipped_end_ns),
        cross: inside && dropped,
        head: inside && !dropped && !in_flight,
    }
}

/// The message class of an arrow: requests, responses, traffic between servers, or lost.
fn arrow_class(diagram: &SpaceTime, arrow: &Arrow) -> &'static str {
    if matches!(arrow.end, ArrowEnd::Dropped { .. }) {
        return "dropped";
    }
    let kind = |lane: usize| diagram.lanes[lane].kind;
    match (kind(arrow.source), kind(arrow.target)) {
        (LaneKind::Client, LaneKind::Server) => "request",
        (LaneKind::Server, LaneKind::Client) => "response",
        _ => "internal",
    }
}

/// Every kept arrow with its tooltip, then the labels of those nearest the focus that fit.
fn render_arrows(out: &mut String, diagram: &SpaceTime, focus: &Focus, layout: &Layout, id: &str) {
    let mut geometry = Vec::with_capacity(focus.arrows.len());
    for index in &focus.arrows {
        let arrow = &diagram.arrows[*index];
        let segment = arrow_geometry(arrow, layout, diagram.end_ns);
        let class = arrow_class(diagram, arrow);
        let head = if segment.head { format!(" marker-end=\"url(#{id}-{class})\"") } else { String::new() };
        let dash = if arrow.end == ArrowEnd::InFlight { " in-flight" } else { "" };
        let chain = if arrow.chain { " chain" } else { "" };
        let _ = write!(
            out,
            "<g class=\"msg {class}{dash}{chain}{}\" id=\"{id}-m{index}\" data-source=\"{}\" data-target=\"{}\">\
             <title>{}</title><line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"{head}/>",
            arrow.topic.class(),
            arrow.source,
            arrow.target,
            xml_escape(&arrow_title(diagram, arrow)),
            px(segment.x1),
            px(segment.y1),
            px(segment.x2),
            px(segment.y2)
        );
        if let (true, ArrowEnd::Dropped { at_send: true, .. }) = (segment.cross, arrow.end) {
            // Where it was headed: a faint line on to the target's lane, at the same slope.
            let target_x = layout.lane_x[arrow.target];
            let reach = (target_x - segment.x1).abs().max(1.0) / DROP_REACH_PX;
            let target_y = segment.y1 + (segment.y2 - segment.y1) * reach;
            let _ = write!(
                out,
                "<line class=\"ghost\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
                px(segment.x2),
                px(segment.y2),
                px(target_x),
                px(target_y)
            );
        }
        if segment.cross {
            let (x, y) = (segment.x2, segment.y2);
            let _ = write!(
                out,
                "<path class=\"cross\" d=\"M{},{} L{},{} M{},{} L{},{}\"/>",
                px(x - 4.0),
                px(y - 4.0),
                px(x + 4.0),
                px(y + 4.0),
                px(x - 4.0),
                px(y + 4.0),
                px(x + 4.0),
                px(y - 4.0)
            );
        }
        out.push_str("</g>\n");
        geometry.push((*index, segment));
    }
    render_arrow_labels(out, diagram, focus, &geometry, id);
}

/// A message's tooltip: its API and kind, lanes, times and the note, then its fields on a line of their own.
pub fn arrow_title(diagram: &SpaceTime, arrow: &Arrow) -> String {
    let lanes = format!("{} \u{2192} {}", diagram.lanes[arrow.source].name, diagram.lanes[arrow.target].name);
    let when = match arrow.end {
        ArrowEnd::Delivered { at_ns } => format!("sent {}, delivered {}", ms(arrow.send_ns), ms(at_ns)),
        ArrowEnd::Dropped { at_ns, .. } => format!("sent {}, lost {}", ms(arrow.send_ns), ms(at_ns)),
        ArrowEnd::InFlight => format!("sent {}, still in flight at the end", ms(arrow.send_ns)),
    };
    let note = if arrow.note.is_empty() { String::new() } else { format!(" ({})", arrow.note) };
    // The API names the message; the model's variant adds nothing a reader needs, and a page holds thousands.
    let name = match arrow.api.as_str() {
        "" => arrow.label.clone(),
        api if arrow.label.ends_with("Response") => format!("{api} response"),
        api if arrow.label.ends_with("Request") => format!("{api} request"),
        api => api.to_string(),
    };
    let fields = if arrow.fields.is_empty() { String::new() } else { format!("\n{}", arrow.fields) };
    format!("{name} {lanes}: {when}{note}{fields}")
}

/// Labels for the arrows nearest the focus instants, skipping any that would overlap one already placed.
fn render_arrow_labels(out: &mut String, diagram: &SpaceTime, focus: &Focus, geometry: &[(usize, Segment)], id: &str) {
    let distance = |time_ns: u64| focus.instants_ns.iter().map(|t| t.abs_diff(time_ns)).min().unwrap_or(0);
    // Lost messages first, then the clients' traffic, then what servers say among themselves: the labels go
    // where the story is.
    let rank = |arrow: &Arrow| match arrow_class(diagram, arrow) {
        "dropped" => 0,
        "request" | "response" => 1,
        _ => 2,
    };
    let mut order: Vec<&(usize, Segment)> = geometry.iter().collect();
    order.sort_by_key(|(index, _)| {
        let arrow = &diagram.arrows[*index];
        (rank(arrow), distance(arrow.send_ns), *index)
    });
    let mut placed: Vec<(f64, f64, f64, f64)> = Vec::new();
    for (index, segment) in order {
        if placed.len() == LABELS_MAX {
            break;
        }
        let label = short_name(&diagram.arrows[*index]);
        let width = label.chars().count() as f64 * LABEL_CHAR_PX;
        let (x, y) = ((segment.x1 + segment.x2) / 2.0, (segment.y1 + segment.y2) / 2.0 - 3.0);
        let rect = (x - width / 2.0, y - LABEL_LINE_PX + 2.0, x + width / 2.0, y + 2.0);
        let overlaps =
            |other: &(f64, f64, f64, f64)| rect.0 < other.2 && other.0 < rect.2 && rect.1 < other.3 && other.1 < rect.3;
        if placed.iter().any(overlaps) {
            continue;
        }
        placed.push(rect);
        let _ = writeln!(
            out,
            "<text class=\"msg-label\" data-msg=\"{id}-m{index}\" x=\"{}\" y=\"{}\">{}</text>",
            px(x),
            px(y),
            xml_escape(&label)
        );
    }
}

/// A message's name on the diagram: its API ("EndTxn", "Produce response"), else its kind.
fn short_name(arrow: &Arrow) -> String {
    match arrow.api.as_str() {
        "" => arrow.label.clone(),
        api if arrow.label.ends_with("Response") => format!("{api} response"),
        api => api.to_string(),
    }
}

/// History operations: small dots, and for the proving ones a red dot with the op's index and what it did.
fn render_ops(out: &mut String, diagram: &SpaceTime, focus: &Focus, layout: &Layout, id: &str) {
    let mut label_ys: Vec<Vec<f64>> = vec![Vec::new(); diagram.lanes.len()];
    for index in &focus.ops {
        let op = &diagram.ops[*index];
        let (x, y) = (layout.lane_x[op.lane], layout.y(op.time_ns));
        let title = xml_escape(&format!("op {} at {} ({}): {}", op.index, ms(op.time_ns), op.outcome, op.text));
        if !op.proving {
            let _ = writeln!(
                out,
                "<circle class=\"op {}\" id=\"{id}-op-{}\" data-lane=\"{}\" cx=\"{}\" cy=\"{}\" r=\"2.5\">\
                 <title>{title}</title></circle>",
                op.outcome,
                op.index,
                op.lane,
                px(x),
                px(y)
            );
            continue;
        }
        let lines = wrap(&format!("#{} {}", op.index, op.text), OP_LABEL_CHARS_MAX, OP_LABEL_LINES_MAX);
        let label_y = free_line(&mut label_ys[op.lane], y + 4.0);
        for extra in 1..lines.len() {
            free_line(&mut label_ys[op.lane], label_y + extra as f64 * LABEL_LINE_PX);
        }
        let label_x = px(x + 10.0);
        let mut text = String::new();
        for (number, line) in lines.iter().enumerate() {
            let dy = if number == 0 { 0.0 } else { LABEL_LINE_PX };
            let _ = write!(text, "<tspan x=\"{label_x}\" dy=\"{}\">{}</tspan>", px(dy), xml_escape(line));
        }
        let _ = writeln!(
            out,
            "<a href=\"#{id}-row-{index}\"><g class=\"op proving\" id=\"{id}-op-{index}\" data-lane=\"{}\" \
             tabindex=\"0\"><title>{title}</title><circle cx=\"{}\" cy=\"{}\" r=\"6\"/><text x=\"{label_x}\" \
             y=\"{}\">{text}</text></g></a>",
            op.lane,
            px(x),
            px(y),
            px(label_y),
            index = op.index
        );
    }
}

/// Node events inside the window: a diamond on the lane and the text beside it, to its left so that it keeps
/// clear of the operation labels.
fn render_events(out: &mut String, diagram: &SpaceTime, layout: &Layout) {
    let (window_start, window_end) = layout.window();
    let mut taken: Vec<Vec<f64>> = vec![Vec::new(); diagram.lanes.len()];
    for event in diagram.events.iter().filter(|event| (window_start..=window_end).contains(&event.time_ns)) {
        let (x, y) = (layout.lane_x[event.lane], layout.y(event.time_ns));
        let text_y = free_line(&mut taken[event.lane], y + 4.0);
        let text = xml_escape(&event.text);
        let _ = writeln!(
            out,
            "<g class=\"event\" data-lane=\"{}\"><title>{} at {}</title><path d=\"M{},{} l5,5 l-5,5 l-5,-5 z\"/>\
             <text x=\"{}\" y=\"{}\">{text}</text></g>",
            event.lane,
            text,
            ms(event.time_ns),
            px(x),
            px(y - 5.0),
            px(x - 8.0),
            px(text_y)
        );
    }
}

/// `text` in lines of at most `width` characters, broken at spaces, at most `lines_max` lines, the last one
/// cut with an ellipsis if the text runs on (the tooltip and the page's table have it all).
fn wrap(text: &str, width: usize, lines_max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        let joined = current.chars().count() + 1 + word.chars().count();
        if !current.is_empty() && joined > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    let cut = lines.len() > lines_max;
    lines.truncate(lines_max);
    for line in &mut lines {
        *line = shorten(line, width);
    }
    if cut {
        let last = lines.last_mut().expect("at least one line");
        *last = shorten(&format!("{last} \u{2026}"), width);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two lanes, one request and one lost reply, one proving op; 1 ms around it.
    fn tiny() -> SpaceTime {
        SpaceTime {
            lanes: vec![
                Lane { name: "producer-0".to_string(), kind: LaneKind::Client },
                Lane { name: "broker-<0>".to_string(), kind: LaneKind::Server },
            ],
            arrows: vec![
                Arrow::message(0, 1, 10_000_000, ArrowEnd::Delivered { at_ns: 10_500_000 }, "ProduceRequest"),
                Arrow {
                    note: "lost & gone".to_string(),
                    ..Arrow::message(
                        1,
                        0,
                        10_600_000,
                        ArrowEnd::Dropped { at_ns: 10_600_000, at_send: true },
                        "ProduceResponse",
                    )
                },
                Arrow::message(0, 1, 90_000_000, ArrowEnd::Delivered { at_ns: 90_100_000 }, "Far"),
            ],
            faults: vec![FaultBand {
                style: BandStyle::Crash,
                label: "broker-crash broker-<0>".to_string(),
                start_ns: 10_700_000,
                end_ns: None,
                lanes: vec![1],
                side_b: Vec::new(),
            }],
            ops: vec![OpMark {
                lane: 0,
                time_ns: 10_000_000,
                index: 4,
                text: "ok send k 1".to_string(),
                proving: true,
                outcome: "ok",
            }],
            events: vec![LaneEvent { lane: 1, time_ns: 10_550_000, text: "appended at offset 3".to_string() }],
            end_ns: 100_000_000,
        }
    }

    fn options() -> FocusOptions {
        FocusOptions { margin_ns: 1_000_000, arrows_max: 10, ops_max: 10 }
    }

    #[test]
    fn focus_keeps_the_window_around_the_instants() {
        let diagram = tiny();
        let focus = Focus::around(&diagram, &[10_000_000], options());
        assert_eq!(focus.segments, vec![(9_000_000, 11_000_000)]);
        assert_eq!(focus.arrows, vec![0, 1], "the far arrow is outside the window");
        assert_eq!(focus.arrows_in_window, 2);
        assert_eq!(focus.faults, vec![0]);
        let capped = Focus::around(&diagram, &[10_000_000], FocusOptions { arrows_max: 1, ..options() });
        assert_eq!(capped.arrows, vec![0], "the nearest arrow is kept");
        assert_eq!(capped.arrows_in_window, 2);
        let two = Focus::around(&diagram, &[10_000_000, 90_000_000], options());
        assert_eq!(two.segments, vec![(9_000_000, 11_000_000), (89_000_000, 91_000_000)]);
        assert_eq!(two.arrows, vec![0, 1, 2]);
        let close = Focus::around(&diagram, &[10_000_000, 11_500_000], options());
        assert_eq!(close.segments, vec![(9_000_000, 12_500_000)], "close instants share one segment");
    }

    #[test]
    fn the_time_axis_is_linear_in_segments_and_squeezed_between() {
        let diagram = tiny();
        let focus = Focus::around(&diagram, &[10_000_000, 90_000_000], options());
        let layout = Layout::new(2, &focus);
        // 4 ms shown: 1400 px / 4 ms = 350 px/ms, inside the bounds.
        assert!((layout.px_per_ns * NS_PER_MS - 350.0).abs() < 1e-9);
        assert_eq!(layout.lane_x, vec![155.0, 305.0]);
        assert_eq!(layout.y(9_000_000), TOP_PX);
        assert_eq!(layout.y(10_000_000), TOP_PX + 350.0);
        assert_eq!(layout.y(11_000_000), TOP_PX + 700.0);
        assert_eq!(layout.y(50_000_000), TOP_PX + 700.0 + GAP_PX / 2.0);
        assert_eq!(layout.y(89_000_000), TOP_PX + 700.0 + GAP_PX);
        assert_eq!(layout.y(0), TOP_PX, "before the window: clamped");
        assert_eq!(layout.y(99_000_000), TOP_PX + 1400.0 + GAP_PX, "after it: clamped");
        assert_eq!(layout.height, TOP_PX + 1400.0 + GAP_PX + BOTTOM_PX);
    }

    #[test]
    fn a_tiny_diagram_has_known_coordinates_and_escapes_its_text() {
        let diagram = tiny();
        let focus = Focus::around(&diagram, &[10_000_000], options());
        let svg = render_svg(&diagram, &focus, "seed-\"1\"");
        // 2 ms shown: 700 px/ms. The request: (155, 40 + 700) to (305, 40 + 1050), with a request head.
        assert!(svg.contains("<line x1=\"155.0\" y1=\"740.0\" x2=\"305.0\" y2=\"1090.0\" marker-end=\"url(#seed-&quot;1&quot;-request)\"/>"), "{svg}");
        // The lost reply: from broker (305, 40 + 1120) 16 px back toward the producer, 8 px down, ending in a
        // cross by the broker's own lane, where the network dropped it.
        assert!(svg.contains("<line x1=\"305.0\" y1=\"1160.0\" x2=\"289.0\" y2=\"1168.0\"/>"), "{svg}");
        assert!(
            svg.contains("<path class=\"cross\" d=\"M285.0,1164.0 L293.0,1172.0 M285.0,1172.0 L293.0,1164.0\"/>"),
            "{svg}"
        );
        // The crash: a band on the broker's lane from 10.7 ms to the end of the window.
        assert!(
            svg.contains("<rect class=\"on-lane\" x=\"299.0\" y=\"1230.0\" width=\"12.0\" height=\"210.0\"/>"),
            "{svg}"
        );
        assert!(svg.contains("<circle cx=\"155.0\" cy=\"740.0\" r=\"6\"/>"), "{svg}");
        // The broker's append at 10.55 ms: a diamond on its lane at 40 + 1085, its text to the left.
        assert!(
            svg.contains("<path d=\"M305.0,1120.0 l5,5 l-5,5 l-5,-5 z\"/><text x=\"297.0\" y=\"1129.0\">appended"),
            "{svg}"
        );
        assert!(svg.contains("broker-&lt;0&gt;"), "{svg}");
        assert!(svg.contains("lost &amp; gone"), "{svg}");
        assert!(!svg.contains("broker-<0>") && !svg.contains("Far"), "{svg}");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<svg").count(), 1);
    }

    #[test]
    fn ticks_are_round_and_readable() {
        assert_eq!(tick_step_ns(350.0 / NS_PER_MS), 200_000);
        assert_eq!(tick_step_ns(2.0 / NS_PER_MS), 20_000_000);
        assert_eq!(tick_label(10_200_000, 200_000), "10.2 ms");
        assert_eq!(tick_label(20_000_000, 20_000_000), "20 ms");
        assert_eq!(duration_text(1_843_200_000), "1843.2 ms");
        assert_eq!(duration_text(12_000_000_000), "12.00 s");
    }
}
