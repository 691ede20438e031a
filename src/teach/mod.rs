//! `eosim teach`: lessons from Two Generals to exactly-once and back out through a side effect.
//!
//! Each lesson part replays a stored repro (a seed and a short fault schedule found by a campaign over the
//! lesson's scenario, see [`lessons`]) with the kernel's recorder on, checks that the replay did what the repro
//! recorded (same trace hash), that the verdict is the one the lesson teaches, and that the mechanism it is
//! about happened (coverage points such as `broker:duplicate-batch-deduplicated`); then it shows the run as a
//! terminal space-time diagram ([`diagram`]) or, for `--html`, as a page with the report's SVG diagram.
//! Nothing is canned: the diagram, the history excerpt and the verdict come from the replay.

pub mod diagram;
pub mod html;
pub mod lessons;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use eosim_checker::OpType;
use eosim_reports::svg::{ArrowEnd, SpaceTime};
use eosim_reports::{op_summary, OpRow, SeedSection, Verdict};
use eosim_sim::recording::capture;

use crate::coverage::run_points;
use crate::html_report::fill_section;
use crate::runner::RunResult;
use diagram::{render_text, DiagramOptions};
use lessons::{Lesson, Part, Shows};

/// Operations shown in a part's history excerpt at most.
const EXCERPT_OPS_MAX: usize = 8;
/// Lost messages the diagram is focused on at most: a lesson is about the first few.
const FOCUS_LOSSES_MAX: usize = 6;
/// Anomaly cases of each kind printed under the verdict.
const CASES_PER_KIND: usize = 2;

/// A lesson part that did not run as the lesson says: the lesson would teach something false.
#[derive(Debug, thiserror::Error)]
pub enum TeachError {
    /// The replay did not do what the repro recorded: determinism, or the stored repro, is broken.
    #[error("{repro}: the replay has trace-hash {replayed}, the repro recorded {expected}")]
    Diverged {
        /// The repro file.
        repro: String,
        /// The recorded hash.
        expected: String,
        /// The replay's.
        replayed: String,
    },
    /// The verdict or the violations are not the ones the lesson teaches.
    #[error("{repro}: the lesson shows {shows} ({violations:?}), but the replay gave {verdict} ({found:?})")]
    WrongVerdict {
        /// The repro file.
        repro: String,
        /// What the lesson shows.
        shows: &'static str,
        /// The violations it names.
        violations: Vec<String>,
        /// The replay's verdict.
        verdict: &'static str,
        /// The replay's violations.
        found: Vec<String>,
    },
    /// A coverage point that proves the lesson's mechanism was not reached.
    #[error("{repro}: the mechanism the lesson is about did not happen ({point} was never reached)")]
    NoMechanism {
        /// The repro file.
        repro: String,
        /// The point.
        point: String,
    },
}

/// One lesson part, replayed and checked.
#[derive(Clone, Debug)]
pub struct PartRun {
    /// The part.
    pub part: Part,
    /// The replay.
    pub result: RunResult,
    /// Its diagram, anomaly and proving operations, as the HTML report lays them out.
    pub section: SeedSection,
    /// The coverage points the replay reached, with their counts.
    pub points: BTreeMap<String, u64>,
    /// The instants the diagrams are focused on: proving operations, fault starts, the first lost messages.
    pub focus_ns: Vec<u64>,
}

impl PartRun {
    /// The diagram of the replay.
    pub fn diagram(&self) -> &SpaceTime {
        self.section.diagram.as_ref().expect("a replayed part always has a recording")
    }

    /// The mechanism's coverage points with their counts, in the manifest's order.
    pub fn mechanism(&self) -> Vec<(String, u64)> {
        let count = |point: &String| (point.clone(), self.points.get(point).copied().unwrap_or(0));
        self.part.spec.mechanism.iter().map(count).collect()
    }

    /// The operations the excerpt shows: those proving the anomaly, else the ones whose outcome is unknown or
    /// failed, else the nearest to the focus.
    pub fn excerpt(&self) -> Vec<OpRow> {
        if !self.section.proving_ops.is_empty() {
            return self.section.proving_ops.iter().take(EXCERPT_OPS_MAX).cloned().collect();
        }
        let Some(outcome) = &self.result.outcome else { return Vec::new() };
        let diagram = self.diagram();
        let lane_of = |process: u64| {
            let op = diagram.ops.iter().find(|mark| outcome.history.ops[mark.index].process == process);
            op.map_or_else(String::new, |mark| diagram.lanes[mark.lane].name.clone())
        };
        let row = |op: &eosim_checker::Op| OpRow {
            index: op.index,
            time_ns: op.time_ns,
            process: op.process,
            lane: lane_of(op.process),
            text: op_summary(op),
        };
        let unsure = outcome.history.ops.iter().filter(|op| matches!(op.op_type, OpType::Info | OpType::Fail));
        unsure.take(EXCERPT_OPS_MAX).map(row).collect()
    }
}

/// Replays `part` with recording on and checks it shows what the lesson teaches.
pub fn run_part(part: &Part) -> Result<PartRun, TeachError> {
    let repro_file = format!("scenarios/lessons/{}", part.spec.repro);
    let (result, recordings) = capture(|| part.repro.replay());
    let replayed = result.trace_hash().unwrap_or("none").to_string();
    let expected = part.repro.expected.trace_hash.clone().unwrap_or_else(|| "none".to_string());
    if replayed != expected {
        return Err(TeachError::Diverged { repro: repro_file, expected, replayed });
    }
    check_verdict(part, &result, &repro_file)?;
    let points = result.outcome.as_ref().map(|outcome| run_points(&outcome.stats)).unwrap_or_default();
    for point in &part.spec.mechanism {
        if points.get(point).copied().unwrap_or(0) == 0 {
            return Err(TeachError::NoMechanism { repro: repro_file, point: point.clone() });
        }
    }
    let anomalies_total = result.report.as_ref().map_or(0, |report| report.anomalies.len());
    let mut section = SeedSection::new(result.seed_record(), anomalies_total, Vec::new());
    let recording = recordings.into_iter().next_back().expect("a replay builds one world");
    fill_section(&mut section, &part.repro.replay_scenario(), &result, &recording);
    if result.violation_kinds().is_empty() {
        forget_allowed_anomaly(&mut section);
    }
    let diagram = section.diagram.as_ref().expect("fill_section draws a diagram");
    let focus_ns = focus_instants(diagram, &section.focus_ns);
    Ok(PartRun { part: part.clone(), result, section, points, focus_ns })
}

/// A passing run's first anomaly is one its guarantee allows (a G-single cycle, say): it proves nothing the
/// lesson is about, so its operations are not marked or focused on.
fn forget_allowed_anomaly(section: &mut SeedSection) {
    section.anomaly = None;
    section.proving_ops.clear();
    section.focus_ns.clear();
    if let Some(diagram) = &mut section.diagram {
        for op in &mut diagram.ops {
            op.proving = false;
        }
    }
}

/// The verdict and violations must be the ones the part teaches.
fn check_verdict(part: &Part, result: &RunResult, repro_file: &str) -> Result<(), TeachError> {
    let found = result.violation_kinds();
    let right = match part.spec.shows {
        Shows::Anomaly => {
            result.verdict == Verdict::Violation && part.violations.iter().all(|kind| found.contains(kind))
        }
        Shows::None => result.verdict == Verdict::Pass,
    };
    if right {
        return Ok(());
    }
    Err(TeachError::WrongVerdict {
        repro: repro_file.to_string(),
        shows: part.spec.shows.name(),
        violations: part.spec.violations.clone(),
        verdict: result.verdict.name(),
        found: found.iter().map(|kind| kind.name().to_string()).collect(),
    })
}

/// What the diagrams are about: the proving operations, every fault's start and end (a node that comes back is
/// often the point), the first lost messages and what the client did about each (its retry).
fn focus_instants(diagram: &SpaceTime, proving_ns: &[u64]) -> Vec<u64> {
    let mut instants: Vec<u64> = proving_ns.to_vec();
    instants.extend(diagram.faults.iter().map(|fault| fault.start_ns));
    instants.extend(diagram.faults.iter().filter_map(|fault| fault.end_ns));
    let lost = (diagram.arrows.iter().enumerate()).filter(|(_, arrow)| matches!(arrow.end, ArrowEnd::Dropped { .. }));
    for (index, arrow) in lost.take(FOCUS_LOSSES_MAX) {
        instants.push(arrow.send_ns);
        instants.extend(retry_of(diagram, index));
    }
    instants.sort_unstable();
    instants.dedup();
    instants
}

/// When the request that lost message `lost` was about was sent again: the next message between the same two
/// lanes with the lost message's label (a lost request) or with the label of the request it answered (a lost
/// response).
fn retry_of(diagram: &SpaceTime, lost: usize) -> Option<u64> {
    let arrow = &diagram.arrows[lost];
    let request = diagram.arrows[..lost]
        .iter()
        .rev()
        .find(|earlier| earlier.source == arrow.target && earlier.target == arrow.source)
        .map(|earlier| earlier.label.as_str());
    let same_pair = |later: &&eosim_reports::svg::Arrow| {
        (later.source == arrow.source && later.target == arrow.target && later.label == arrow.label)
            || (later.source == arrow.target && later.target == arrow.source && Some(later.label.as_str()) == request)
    };
    diagram.arrows[lost + 1..].iter().find(same_pair).map(|later| later.send_ns)
}

/// Replays every part of `lesson`.
pub fn run_lesson(lesson: &Lesson) -> Result<Vec<PartRun>, TeachError> {
    lesson.parts.iter().map(run_part).collect()
}

/// The list `eosim teach` prints: number, name, title and what each part shows.
pub fn list_text(lessons: &[Lesson]) -> String {
    let width = lessons.iter().map(|lesson| lesson.spec.name.len()).max().unwrap_or(0);
    let mut out = String::from("Lessons (run one with `eosim teach N` or `eosim teach NAME`):\n");
    for lesson in lessons {
        let shows: Vec<String> = lesson
            .parts
            .iter()
            .map(|part| {
                let label = if part.spec.label.is_empty() { String::new() } else { format!("{}: ", part.spec.label) };
                format!("{label}{}", part.spec.shows.name())
            })
            .collect();
        let _ = writeln!(
            out,
            "  {:>2}  {:<width$}  {} [{}]",
            lesson.spec.number,
            lesson.spec.name,
            lesson.spec.title,
            shows.join(", ")
        );
    }
    out
}

/// The command that runs the lesson after `lesson`, or `None` after the last.
pub fn next_command(lessons: &[Lesson], lesson: &Lesson) -> Option<String> {
    let next = lessons.get(lesson.spec.number as usize)?;
    Some(format!("eosim teach {}", next.spec.number))
}

/// A lesson on the terminal: per part, the scenario, the diagram, the history excerpt, the question, the
/// verdict, the mechanism's counts and the explanation; then the command for the next lesson.
pub fn lesson_text(lessons: &[Lesson], lesson: &Lesson, runs: &[PartRun], options: &DiagramOptions) -> String {
    let mut out = String::new();
    let total = lessons.len();
    let _ = writeln!(out, "Lesson {} of {total}: {}", lesson.spec.number, lesson.spec.title);
    let _ = writeln!(out, "{}", wrap(&lesson.spec.summary, options.width_chars));
    for run in runs {
        part_text(&mut out, lesson, run, options);
    }
    out.push('\n');
    match next_command(lessons, lesson) {
        Some(command) => {
            let _ = writeln!(out, "next: {command}   (--html FILE writes this lesson as a page)");
        }
        None => out.push_str("That was the last lesson; `eosim teach` lists them all.\n"),
    }
    // Every line fits the width; coloured diagram rows were cut before their escapes were added.
    let fit = |line: &str| if line.contains('\u{1b}') { line.to_string() } else { cut_line(line, options.width_chars) };
    out.lines().map(|line| fit(line) + "\n").collect()
}

/// One part of a lesson on the terminal.
fn part_text(out: &mut String, lesson: &Lesson, run: &PartRun, options: &DiagramOptions) {
    let spec = &run.part.spec;
    let scenario = &run.part.scenario;
    let schedule = run.part.repro.schedule.as_ref().map_or(0, |schedule| schedule.faults.len());
    let title = match spec.label.len() {
        0 => lesson.spec.number.to_string(),
        1 => format!("{}{}", lesson.spec.number, spec.label),
        _ => format!("{} ({})", lesson.spec.number, spec.label),
    };
    let _ = writeln!(out, "\n── {title} ── {}", scenario.description);
    let _ = writeln!(out, "scenario: scenarios/lessons/{} (variant {})", spec.scenario, scenario.variant.name());
    let _ = writeln!(out, "seed {}, {schedule} fault(s) in the stored schedule", run.part.repro.seed);
    out.push('\n');
    out.push_str(&render_text(run.diagram(), &run.focus_ns, options));
    let excerpt = run.excerpt();
    if !excerpt.is_empty() {
        let heading = if run.section.proving_ops.is_empty() {
            "operations whose outcome is unknown or failed"
        } else {
            "the operations that prove it"
        };
        let _ = writeln!(out, "\nhistory, {heading}:");
        for op in &excerpt {
            let line = format!("  op {:<4} {:>9.3} ms  {:<11} {}", op.index, op.time_ns as f64 / 1e6, op.lane, op.text);
            let _ = writeln!(out, "{}", cut_line(&line, options.width_chars));
        }
    }
    let _ = writeln!(out, "\nquestion: {}", wrap(&spec.question, options.width_chars.saturating_sub(10)));
    verdict_text(out, run, options);
    let _ = writeln!(out, "\n{}", wrap(&spec.explanation, options.width_chars));
    let _ = writeln!(out, "replay it: eosim replay scenarios/lessons/{}", spec.repro);
}

/// The verdict, the checker's cases and the mechanism's coverage counts.
fn verdict_text(out: &mut String, run: &PartRun, options: &DiagramOptions) {
    let found: Vec<&str> = run.result.violation_kinds().iter().map(|kind| kind.name()).collect();
    let verdict = run.result.verdict.name();
    let shown = if found.is_empty() { verdict.to_string() } else { format!("{verdict} ({})", found.join(", ")) };
    let _ = writeln!(out, "\nverdict: {shown}");
    if let Some(report) = &run.result.report {
        for line in report.render_text(CASES_PER_KIND).lines().filter(|line| !line.trim().is_empty()) {
            let _ = writeln!(out, "{}", cut_line(&format!("  {line}"), options.width_chars));
        }
    }
    for (point, count) in run.mechanism() {
        let _ = writeln!(out, "mechanism: {point} reached {count}×");
    }
}

/// `line` cut to `width` characters.
fn cut_line(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    line.chars().take(width.saturating_sub(1)).collect::<String>() + "…"
}

/// `text` wrapped at word boundaries to lines of at most `width` characters.
pub fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for paragraph in text.trim().split("\n\n") {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
        lines.push(String::new());
    }
    lines.pop();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_and_paragraphs_within_the_width() {
        let text = wrap("one two three four five six\n\nseven", 10);
        assert_eq!(text, "one two\nthree four\nfive six\n\nseven");
        assert!(wrap("a b", 100) == "a b");
    }

    #[test]
    fn long_lines_are_cut_with_an_ellipsis() {
        assert_eq!(cut_line("abcdef", 4), "abc…");
        assert_eq!(cut_line("abc", 4), "abc");
    }
}
