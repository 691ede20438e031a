//! A space-time diagram drawn as terminal text: one column per node, time going down, one row per message,
//! fault or operation, the same data ([`SpaceTime`]) the HTML report draws as SVG.
//!
//! ```text
//!     time ms  broker-0 controll producer consumer
//!      40.002     ◀───────────•                    ProduceRequest
//!      40.102     •✗                               ProduceResponse ✗ lost (lost by the network)
//! ```
//!
//! A run sends thousands of messages, so the diagram keeps what is near the instants it is about (the
//! operations that prove an anomaly, the faults, the lost messages) and elides the rest with a `⋮` row that
//! says how much was cut. Messages between two servers (replica fetches, broker heartbeats) are elided unless
//! they carry a transaction marker or were lost: they are the cluster's housekeeping, not the protocol a
//! lesson is about. Rows are cut to the width asked for; colour (ANSI escapes) is used only when asked for,
//! which the command line does only when stdout is a terminal.

use std::fmt::Write as _;

use eosim_reports::svg::{ArrowEnd, BandStyle, LaneKind, SpaceTime};

/// Nanoseconds per millisecond, the unit of the time column.
const NS_PER_MS: f64 = 1_000_000.0;
/// Characters of the time column, separator included.
const TIME_COLUMN_CHARS: usize = 11;
/// Narrowest and widest lane column, in characters.
const LANE_CHARS_MIN: usize = 5;
const LANE_CHARS_MAX: usize = 12;
/// Characters kept for the note at the end of a row, at least.
const NOTE_CHARS_MIN: usize = 26;

/// How a diagram is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiagramOptions {
    /// Widest row, in characters.
    pub width_chars: usize,
    /// Rows of events drawn at most (elision rows not counted): the nearest to the focus instants.
    pub rows_max: usize,
    /// Time kept around each focus instant, in nanoseconds.
    pub margin_ns: u64,
    /// Colour the lost messages, the faults and the proving operations with ANSI escapes.
    pub color: bool,
}

impl Default for DiagramOptions {
    fn default() -> Self {
        DiagramOptions { width_chars: 100, rows_max: 100, margin_ns: 3_000_000, color: false }
    }
}

/// What a row shows; the order is the order of rows at one instant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum RowKind {
    /// A fault starts (index into the diagram's faults).
    FaultStart(usize),
    /// A message is sent (index into the diagram's arrows).
    Message(usize),
    /// A history operation (index into the diagram's ops).
    Op(usize),
    /// A fault ends.
    FaultEnd(usize),
}

/// One candidate row: its instant and what it shows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    time_ns: u64,
    kind: RowKind,
}

/// The diagram of `diagram` around `focus_ns` (the instants it is about; the end of the run when empty), as
/// text of at most `options.width_chars` characters a line.
pub fn render_text(diagram: &SpaceTime, focus_ns: &[u64], options: &DiagramOptions) -> String {
    assert!(!diagram.lanes.is_empty(), "a diagram has lanes");
    assert!(options.width_chars >= TIME_COLUMN_CHARS + LANE_CHARS_MIN + NOTE_CHARS_MIN, "room for one lane");
    let lane_chars = lane_chars(diagram.lanes.len(), options.width_chars);
    let mut instants: Vec<u64> = focus_ns.to_vec();
    if instants.is_empty() {
        instants.push(diagram.end_ns);
    }
    instants.sort_unstable();
    let rows = all_rows(diagram);
    let kept = kept_rows(&rows, &instants, options);
    let mut out = String::new();
    out.push_str(&header(diagram, lane_chars, options.width_chars));
    let mut down = vec![false; diagram.lanes.len()];
    let mut elided = (0usize, None::<u64>);
    for (index, row) in rows.iter().enumerate() {
        if let RowKind::FaultStart(fault) | RowKind::FaultEnd(fault) = row.kind {
            mark_down(diagram, fault, matches!(row.kind, RowKind::FaultStart(_)), &mut down);
        }
        if kept.binary_search(&index).is_err() {
            elided.0 += 1;
            elided.1.get_or_insert(row.time_ns);
            continue;
        }
        if elided.0 > 0 {
            let line = elision_line(elided.0, elided.1.unwrap_or(row.time_ns), row.time_ns, &down, lane_chars);
            let _ = writeln!(out, "{}", cut(&line, options.width_chars));
            elided = (0, None);
        }
        let line = row_line(diagram, row, &down, lane_chars, options);
        out.push_str(&line);
    }
    if elided.0 > 0 {
        let from = elided.1.unwrap_or(diagram.end_ns);
        let line = elision_line(elided.0, from, diagram.end_ns, &down, lane_chars);
        let _ = writeln!(out, "{}", cut(&line, options.width_chars));
    }
    out
}

/// The width of one lane column for `lane_count` lanes in `width_chars`.
fn lane_chars(lane_count: usize, width_chars: usize) -> usize {
    let room = width_chars - TIME_COLUMN_CHARS - NOTE_CHARS_MIN;
    (room / lane_count).clamp(LANE_CHARS_MIN, LANE_CHARS_MAX)
}

/// Every row the diagram could draw, in time order: the interesting messages, every fault's start and end,
/// and the history operations.
fn all_rows(diagram: &SpaceTime) -> Vec<Row> {
    let server = |lane: usize| diagram.lanes.get(lane).is_some_and(|lane| lane.kind == LaneKind::Server);
    let mut rows = Vec::new();
    for (index, arrow) in diagram.arrows.iter().enumerate() {
        let dropped = matches!(arrow.end, ArrowEnd::Dropped { .. });
        let housekeeping = server(arrow.source) && server(arrow.target) && !arrow.label.contains("Marker");
        if dropped || !housekeeping {
            rows.push(Row { time_ns: arrow.send_ns, kind: RowKind::Message(index) });
        }
    }
    for (index, fault) in diagram.faults.iter().enumerate() {
        rows.push(Row { time_ns: fault.start_ns, kind: RowKind::FaultStart(index) });
        if let Some(end_ns) = fault.end_ns {
            rows.push(Row { time_ns: end_ns, kind: RowKind::FaultEnd(index) });
        }
    }
    for (index, op) in diagram.ops.iter().enumerate() {
        rows.push(Row { time_ns: op.time_ns, kind: RowKind::Op(index) });
    }
    rows.sort();
    rows
}

/// Indices of the rows drawn, ascending: every fault row and proving operation, then the rows within the
/// margin of a focus instant, nearest first, up to `rows_max` in all.
fn kept_rows(rows: &[Row], instants: &[u64], options: &DiagramOptions) -> Vec<usize> {
    let distance = |time_ns: u64| instants.iter().map(|instant| instant.abs_diff(time_ns)).min().unwrap_or(0);
    let mut ranked: Vec<(u64, usize)> = Vec::new();
    let mut kept: Vec<usize> = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let distance_ns = distance(row.time_ns);
        match row.kind {
            RowKind::FaultStart(_) | RowKind::FaultEnd(_) => kept.push(index),
            _ if distance_ns == 0 => kept.push(index),
            _ if distance_ns <= options.margin_ns => ranked.push((distance_ns, index)),
            _ => {}
        }
    }
    ranked.sort_unstable();
    let room = options.rows_max.saturating_sub(kept.len());
    kept.extend(ranked.into_iter().take(room).map(|(_, index)| index));
    kept.sort_unstable();
    kept
}

/// Whether a crash or pause of `fault` takes its lanes down (`start`) or brings them back.
fn mark_down(diagram: &SpaceTime, fault: usize, start: bool, down: &mut [bool]) {
    let band = &diagram.faults[fault];
    if matches!(band.style, BandStyle::Crash | BandStyle::Pause) {
        let lanes = down.len();
        for lane in band.lanes.iter().filter(|lane| **lane < lanes) {
            down[*lane] = start;
        }
    }
}

/// The lane names over their columns, abbreviated to fit (with a key naming them in full), and a rule.
fn header(diagram: &SpaceTime, lane_chars: usize, width_chars: usize) -> String {
    let mut line = format!("{:>width$}", "time ms ", width = TIME_COLUMN_CHARS);
    let mut key = Vec::new();
    for lane in &diagram.lanes {
        let name = abbreviate(&lane.name, lane_chars - 1);
        if name != lane.name {
            key.push(format!("{name} = {}", lane.name));
        }
        let _ = write!(line, "{name:^lane_chars$}");
    }
    let rule = "─".repeat(line.chars().count());
    let mut out = String::new();
    if !key.is_empty() {
        let _ = writeln!(out, "{}", cut(&format!("lanes: {}", key.join(", ")), width_chars));
    }
    let _ = write!(out, "{}\n{rule}\n", line.trim_end());
    out
}

/// `name` in at most `max` characters: whole when it fits, else its first letters and its number
/// (`broker-2` → `bro-2`), so that lanes of one kind stay apart.
fn abbreviate(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    match name.rsplit_once('-') {
        Some((stem, number)) if number.chars().all(|c| c.is_ascii_digit()) && number.len() + 2 <= max => {
            let stem: String = stem.chars().take(max - number.len() - 1).collect();
            format!("{stem}-{number}")
        }
        _ => name.chars().take(max).collect(),
    }
}

/// The empty lanes of one row: `│` for a node that is up, `╎` for one crashed or paused.
fn empty_lanes(down: &[bool], lane_chars: usize) -> Vec<char> {
    let mut cells = vec![' '; down.len() * lane_chars];
    for (lane, is_down) in down.iter().enumerate() {
        cells[center(lane, lane_chars)] = if *is_down { '╎' } else { '│' };
    }
    cells
}

/// The column of lane `lane`'s line.
fn center(lane: usize, lane_chars: usize) -> usize {
    lane * lane_chars + lane_chars / 2
}

/// A `⋮` row saying how many rows and how much time were elided, without its newline.
fn elision_line(rows: usize, from_ns: u64, to_ns: u64, down: &[bool], lane_chars: usize) -> String {
    let mut cells = empty_lanes(down, lane_chars);
    for cell in cells.iter_mut().filter(|cell| **cell == '│') {
        *cell = '⋮';
    }
    let lanes: String = cells.into_iter().collect();
    let span_ms = to_ns.saturating_sub(from_ns) as f64 / NS_PER_MS;
    let plural = if rows == 1 { "" } else { "s" };
    format!("{:>width$}{lanes} {rows} row{plural} elided ({span_ms:.1} ms)", "", width = TIME_COLUMN_CHARS)
}

/// One row: the time, the lanes with the event drawn across them, and a note cut to the width.
fn row_line(diagram: &SpaceTime, row: &Row, down: &[bool], lane_chars: usize, options: &DiagramOptions) -> String {
    let mut cells = empty_lanes(down, lane_chars);
    let (note, alarm) = match row.kind {
        RowKind::Message(index) => draw_message(diagram, index, &mut cells, lane_chars),
        RowKind::Op(index) => {
            let op = &diagram.ops[index];
            cells[center(op.lane, lane_chars)] = if op.proving { '◆' } else { '◇' };
            let mark = if op.proving { "proves it: " } else { "" };
            (format!("{mark}op {} {}", op.index, op.text), op.proving)
        }
        RowKind::FaultStart(index) | RowKind::FaultEnd(index) => {
            let band = &diagram.faults[index];
            let start = matches!(row.kind, RowKind::FaultStart(_));
            let glyph = if start { '▼' } else { '▲' };
            let lanes = if band.lanes.is_empty() { (0..down.len()).collect() } else { band.lanes.clone() };
            for lane in lanes.iter().chain(&band.side_b).filter(|lane| **lane < down.len()) {
                cells[center(*lane, lane_chars)] = glyph;
            }
            let note = if start { format!("fault: {}", band.label) } else { format!("healed: {}", band.label) };
            (note, start)
        }
    };
    let time = format!("{:>width$.3} ", row.time_ns as f64 / NS_PER_MS, width = TIME_COLUMN_CHARS - 1);
    let lanes: String = cells.into_iter().collect();
    let used = time.chars().count() + lanes.chars().count() + 1;
    let note: String = cut(&note, options.width_chars.saturating_sub(used));
    let line = format!("{time}{lanes} {note}");
    let line = line.trim_end();
    if options.color && alarm {
        format!("\u{1b}[31m{line}\u{1b}[0m\n")
    } else {
        format!("{line}\n")
    }
}

/// Draws message `index` across `cells` and returns its note and whether it was lost.
fn draw_message(diagram: &SpaceTime, index: usize, cells: &mut [char], lane_chars: usize) -> (String, bool) {
    let arrow = &diagram.arrows[index];
    let (source, target) = (center(arrow.source, lane_chars), center(arrow.target, lane_chars));
    let mut note = arrow.label.clone();
    if source == target {
        // A broker that is also the coordinator sends to itself: a loop on its own lane.
        let lost = matches!(arrow.end, ArrowEnd::Dropped { .. });
        cells[source] = if lost { '✗' } else { '↻' };
        note.push_str(if lost { " (to itself) ✗ lost" } else { " (to itself)" });
        return (note, lost);
    }
    let rightward = target > source;
    // A message dropped as it was sent (a loss window, a partition) never left its sender: its cross sits beside
    // the sender's line, inside the sender's column, so it can never land on a third node's lane. Every other
    // message got as far as its target (a delivery, a cut in flight, a target that was down).
    let dropped_at_send = matches!(arrow.end, ArrowEnd::Dropped { at_send: true, .. });
    let reach = if dropped_at_send { 1 } else { source.abs_diff(target) };
    let end = if rightward { source + reach } else { source - reach };
    let (low, high) = if rightward { (source, end) } else { (end, source) };
    for cell in &mut cells[low + 1..high] {
        *cell = '─';
    }
    cells[source] = '•';
    let lost = match arrow.end {
        ArrowEnd::Delivered { at_ns } => {
            cells[end] = if rightward { '▶' } else { '◀' };
            let latency_ms = at_ns.saturating_sub(arrow.send_ns) as f64 / NS_PER_MS;
            if latency_ms >= 1.0 {
                let _ = write!(note, " (arrives after {latency_ms:.1} ms)");
            }
            false
        }
        ArrowEnd::Dropped { .. } => {
            cells[end] = '✗';
            true
        }
        ArrowEnd::InFlight => {
            cells[end] = '?';
            let _ = write!(note, " (still in flight at the end)");
            false
        }
    };
    if lost {
        let why = if arrow.note.is_empty() { String::new() } else { format!(" ({})", arrow.note) };
        let _ = write!(note, " ✗ lost{why}");
    }
    (note, lost)
}

/// `text` cut to `max` characters, the cut marked with an ellipsis.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    text.chars().take(max.saturating_sub(1)).collect::<String>() + "…"
}

#[cfg(test)]
mod tests {
    use super::*;
    use eosim_reports::svg::{Arrow, FaultBand, Lane, OpMark};

    fn diagram() -> SpaceTime {
        let lane = |name: &str, kind| Lane { name: name.to_string(), kind };
        SpaceTime {
            lanes: vec![lane("broker-0", LaneKind::Server), lane("producer-0", LaneKind::Client)],
            arrows: vec![
                Arrow::message(1, 0, 1_000_000, ArrowEnd::Delivered { at_ns: 1_100_000 }, "ProduceRequest"),
                Arrow::message(
                    0,
                    1,
                    1_200_000,
                    ArrowEnd::Dropped { at_ns: 1_200_000, at_send: true },
                    "ProduceResponse",
                ),
                Arrow::message(1, 0, 90_000_000, ArrowEnd::Delivered { at_ns: 90_100_000 }, "ProduceRequest"),
            ],
            faults: vec![FaultBand {
                style: BandStyle::Crash,
                label: "broker-crash broker-0".to_string(),
                start_ns: 500_000,
                end_ns: Some(700_000),
                lanes: vec![0],
                side_b: Vec::new(),
            }],
            ops: vec![OpMark {
                lane: 1,
                time_ns: 1_000_000,
                index: 0,
                text: "invoke send".to_string(),
                proving: true,
                outcome: "invoke",
            }],
            events: Vec::new(),
            end_ns: 100_000_000,
        }
    }

    #[test]
    fn a_lost_message_ends_in_a_cross_and_far_rows_are_elided() {
        let text = render_text(&diagram(), &[1_200_000], &DiagramOptions::default());
        let lost = text.lines().find(|line| line.contains("ProduceResponse")).expect("the lost response is drawn");
        assert!(lost.contains('✗') && lost.contains("lost"), "{text}");
        assert!(!lost.contains('▶') && !lost.contains('◀'), "a lost message has no head: {text}");
        assert!(text.contains("proves it: op 0"), "{text}");
        assert!(text.contains("fault: broker-crash broker-0") && text.contains("healed:"), "{text}");
        assert!(text.contains("1 row elided"), "the request at 90 ms is far from the focus: {text}");
        assert!(!text.contains("90.000"), "{text}");
        assert!(!text.contains('\u{1b}'), "no escapes unless asked: {text}");
    }

    #[test]
    fn a_message_dropped_at_send_is_crossed_on_its_senders_lane() {
        let mut diagram = diagram();
        let lane = |name: &str| Lane { name: name.to_string(), kind: LaneKind::Client };
        diagram.lanes.extend(["producer-1", "producer-2", "consumer-0"].map(lane));
        let end = ArrowEnd::Dropped { at_ns: 1_250_000, at_send: true };
        diagram.arrows.push(Arrow::message(0, 4, 1_250_000, end, "FetchResponse"));
        let options = DiagramOptions::default();
        let text = render_text(&diagram, &[1_250_000], &options);
        let line = text.lines().find(|line| line.contains("FetchResponse")).expect("drawn");
        let lane_chars = lane_chars(diagram.lanes.len(), options.width_chars);
        let cross = line.chars().position(|c| c == '✗').expect("a cross") - TIME_COLUMN_CHARS;
        assert_eq!(cross / lane_chars, 0, "the cross is in broker-0's column: {text}");
        assert_eq!(line.chars().filter(|c| *c == '│').count(), 4, "every other lane is untouched: {text}");
    }

    #[test]
    fn a_message_a_node_sends_itself_is_a_loop_on_its_lane() {
        let mut diagram = diagram();
        let end = ArrowEnd::Delivered { at_ns: 1_300_000 };
        diagram.arrows.push(Arrow::message(0, 0, 1_250_000, end, "WriteTxnMarkerRequest"));
        let text = render_text(&diagram, &[1_250_000], &DiagramOptions::default());
        let line = text.lines().find(|line| line.contains("WriteTxnMarkerRequest")).expect("drawn");
        assert!(line.contains('↻') && line.contains("(to itself)"), "{text}");
    }

    #[test]
    fn long_lane_names_keep_their_number() {
        assert_eq!(abbreviate("broker-2", 5), "bro-2");
        assert_eq!(abbreviate("controller", 5), "contr");
        assert_eq!(abbreviate("broker-2", 8), "broker-2");
        assert_eq!(abbreviate("process-12345", 5), "proce");
    }

    #[test]
    fn rows_fit_the_width_and_colour_only_when_asked() {
        let mut options = DiagramOptions { width_chars: 60, ..DiagramOptions::default() };
        let text = render_text(&diagram(), &[1_200_000], &options);
        assert!(text.lines().all(|line| line.chars().count() <= 60), "{text}");
        options.color = true;
        assert!(render_text(&diagram(), &[1_200_000], &options).contains("\u{1b}[31m"));
    }
}
