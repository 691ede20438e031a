//! A lesson as one self-contained HTML page: per part, the report's SVG space-time diagram
//! (`eosim_reports::svg::render_svg`, styled by the report's CSS), the history excerpt, the question, and the
//! verdict and explanation folded under it, so a teacher can ask the question before showing the answer.

use std::fmt::Write as _;

use eosim_reports::svg::{render_svg, Focus, FocusOptions};
use eosim_reports::{xml_escape, STYLE};

use super::lessons::Lesson;
use super::{next_command, PartRun};

/// Time kept around each focus instant in the SVG diagram: lessons are about a few milliseconds.
const MARGIN_NS: u64 = 3_000_000;
/// Arrows drawn at most.
const ARROWS_MAX: usize = 300;

/// Extra CSS of the lesson page.
const LESSON_STYLE: &str = "
.question{background:#fff8e1;border-left:4px solid #ffb300;padding:6px 12px}
details.answer{margin:8px 0 16px}details.answer summary{font-weight:600}
.explanation{max-width:60em}";

/// The page of `lesson`, from its replayed parts.
pub fn lesson_page(lessons: &[Lesson], lesson: &Lesson, runs: &[PartRun]) -> String {
    let title = format!("Lesson {}: {}", lesson.spec.number, lesson.spec.title);
    let mut out = String::new();
    let _ = writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">");
    let _ = writeln!(out, "<title>{}</title>", xml_escape(&title));
    let _ = writeln!(out, "<style>{STYLE}{LESSON_STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<h1>{}</h1>\n<p>{}</p>", xml_escape(&title), xml_escape(&lesson.spec.summary));
    for (index, run) in runs.iter().enumerate() {
        part_section(&mut out, lesson, run, index);
    }
    if let Some(command) = next_command(lessons, lesson) {
        let _ = writeln!(out, "<p>Next: <code>{}</code></p>", xml_escape(&command));
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// One part: heading, scenario line, diagram, excerpt, question, and the folded answer.
fn part_section(out: &mut String, lesson: &Lesson, run: &PartRun, index: usize) {
    let spec = &run.part.spec;
    let scenario = &run.part.scenario;
    let _ = writeln!(
        out,
        "<section class=\"part\"><h2>{}{}: {}</h2>",
        lesson.spec.number,
        xml_escape(&spec.label),
        xml_escape(&scenario.description)
    );
    let schedule = run.part.repro.schedule.as_ref().map_or(0, |schedule| schedule.faults.len());
    let _ = writeln!(
        out,
        "<p>Scenario <code>scenarios/lessons/{}</code>, variant <code>{}</code>, seed {}, {schedule} fault(s) in \
         the schedule; replay it with <code>eosim replay scenarios/lessons/{}</code>.</p>",
        xml_escape(&spec.scenario),
        scenario.variant.name(),
        run.part.repro.seed,
        xml_escape(&spec.repro)
    );
    let options = FocusOptions { margin_ns: MARGIN_NS, arrows_max: ARROWS_MAX, ..FocusOptions::default() };
    let focus = Focus::around(run.diagram(), &run.focus_ns, options);
    let id = format!("lesson-{}-part-{index}", lesson.spec.number);
    let _ = writeln!(out, "<div class=\"diagram\">{}</div>", render_svg(run.diagram(), &focus, &id));
    let excerpt = run.excerpt();
    if !excerpt.is_empty() {
        out.push_str("<table><tr><th>op</th><th>time (ms)</th><th>lane</th><th>operation</th></tr>\n");
        for op in &excerpt {
            let _ = writeln!(
                out,
                "<tr><td class=\"num\">{}</td><td class=\"num\">{:.3}</td><td>{}</td><td><code>{}</code></td></tr>",
                op.index,
                op.time_ns as f64 / 1e6,
                xml_escape(&op.lane),
                xml_escape(&op.text)
            );
        }
        out.push_str("</table>\n");
    }
    let _ = writeln!(out, "<p class=\"question\">Question: {}</p>", xml_escape(&spec.question));
    answer(out, run);
    out.push_str("</section>\n");
}

/// The verdict, the mechanism's counts and the explanation, folded.
fn answer(out: &mut String, run: &PartRun) {
    let found: Vec<&str> = run.result.violation_kinds().iter().map(|kind| kind.name()).collect();
    let verdict = run.result.verdict;
    let class = if verdict.is_failure() { "fail" } else { "pass" };
    let shown = if found.is_empty() {
        verdict.name().to_string()
    } else {
        format!("{} ({})", verdict.name(), found.join(", "))
    };
    let _ = writeln!(out, "<details class=\"answer\"><summary>Verdict</summary>");
    let _ = writeln!(out, "<p><span class=\"result {class}\">{}</span></p>", xml_escape(&shown));
    if let Some(anomaly) = run.section.anomaly.as_ref() {
        let _ = writeln!(out, "<p>{}</p>", xml_escape(&anomaly.explanation));
    }
    for (point, count) in run.mechanism() {
        let _ = writeln!(out, "<p>Mechanism: <code>{}</code> reached {count}×</p>", xml_escape(&point));
    }
    for paragraph in run.part.spec.explanation.trim().split("\n\n") {
        let _ = writeln!(out, "<p class=\"explanation\">{}</p>", xml_escape(paragraph.trim()));
    }
    out.push_str("</details>\n");
}
