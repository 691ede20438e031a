//! `index.html`: a campaign as one self-contained page, with a space-time diagram of each failing run.
//!
//! The page needs nothing but itself: the CSS and the one script ([`SCRIPT`]) are inline, the diagrams and
//! strips are inline SVG ([`crate::svg`], [`crate::overview`]), there is no font and no link outside the page
//! except to the repro and history files beside it. It holds what the text summary holds (scenario, guarantee,
//! seeds, verdicts, anomaly and fault tallies, the coverage table) and, per failing seed, the anomaly the diagram
//! is about, the history operations that prove it, the anomaly's partition log, the whole run's faults and
//! operations, the anomaly's causal chain, the diagram's filters, and the diagram of the run around them. Every
//! text from a report or a history is escaped, and nothing depends on the wall clock, so two campaigns of the
//! same seeds write the same page.
//!
//! The script only shows and hides what the page already holds (tooltips, filters, a view named in the
//! address); without it the page reads the same, with the browser's own tooltips.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use eosim_checker::{Anomaly, MicroOp, Op, OpFn};

use crate::overview::{render_fault_strip, render_log, render_op_timeline, LogView, TimelineOp};
use crate::svg::{arrow_title, render_svg, Focus, FocusOptions, SpaceTime};
use crate::text::{replay_command, TextOptions};
use crate::{xml_escape, CampaignReport, SeedRecord};

/// Records of one key a poll's summary lists at most; the history file has the rest.
const POLL_RECORDS_MAX: usize = 24;

/// One history operation in the table of proving operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpRow {
    /// Its index in the history.
    pub index: usize,
    /// When, in nanoseconds.
    pub time_ns: u64,
    /// The history process that performed it.
    pub process: u64,
    /// The lane it is drawn on.
    pub lane: String,
    /// What it did ([`op_summary`]).
    pub text: String,
}

/// A failing seed's section of the page.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedSection {
    /// The seed's record in the report.
    pub record: SeedRecord,
    /// The anomaly the diagram is centred on: the one the scenario is about, else the run's first violation.
    pub anomaly: Option<Anomaly>,
    /// How many anomalies the run has in all, violations or not.
    pub anomalies_total: usize,
    /// The operations that prove `anomaly`, and the invocations they complete.
    pub proving_ops: Vec<OpRow>,
    /// The run, ready to draw; `None` when it could not be recorded.
    pub diagram: Option<SpaceTime>,
    /// The instants the diagram is about (the proving operations' times); empty means the end of the run.
    pub focus_ns: Vec<u64>,
    /// How the diagram's window is cut.
    pub focus_options: FocusOptions,
    /// Lines worth saying about the section (how lanes were matched, why there is no diagram).
    pub notes: Vec<String>,
    /// Files beside the page that belong to this seed (its repro, then its history), by relative name; the first
    /// `.json` one is the repro that `eosim replay` takes.
    pub files: Vec<String>,
    /// Every operation of the history, invocation to completion, for the per-process timeline.
    pub timeline: Vec<TimelineOp>,
    /// The log of the anomaly's partition as the history saw it; `None` when the history has none.
    pub log: Option<LogView>,
}

impl SeedSection {
    /// A section with nothing drawn or found yet: the record, the run's anomaly count and its files.
    pub fn new(record: SeedRecord, anomalies_total: usize, files: Vec<String>) -> SeedSection {
        SeedSection {
            record,
            anomaly: None,
            anomalies_total,
            proving_ops: Vec::new(),
            diagram: None,
            focus_ns: Vec::new(),
            focus_options: FocusOptions::default(),
            notes: Vec::new(),
            files,
            timeline: Vec::new(),
            log: None,
        }
    }
}

/// The id of a seed's diagram, `diagram-seed-N`: what a test or a link looks for.
pub fn diagram_id(seed: u64) -> String {
    format!("diagram-seed-{seed}")
}

/// An operation in a few words: its type, its function and its micro-ops (`ok send orders-1 118@4`); inside a
/// transaction each micro-op also says what it is.
pub fn op_summary(op: &Op) -> String {
    let mut text = format!("{} {}", op.op_type.name(), op.f.name());
    let named = op.f == OpFn::Txn;
    for mop in &op.mops {
        let (name, detail) = match mop {
            MicroOp::Send { key, value, offset, .. } => {
                let offset = offset.map(|offset| format!("@{offset}")).unwrap_or_default();
                ("send", format!("{key} {value}{offset}"))
            }
            MicroOp::Poll { reads } => {
                let parts: Vec<String> = reads.iter().map(|(key, records)| poll_part(key, records)).collect();
                ("poll", parts.join(", "))
            }
            MicroOp::Sink { store, key, value } => ("sink", format!("{store} {key} {value}")),
        };
        let words: Vec<&str> = [named.then_some(name), Some(detail.as_str())].into_iter().flatten().collect();
        let words = words.join(" ");
        if !words.trim().is_empty() {
            let _ = write!(text, " {}", words.trim());
        }
    }
    if !op.keys.is_empty() {
        let _ = write!(text, " [{}]", op.keys.join(", "));
    }
    if op.final_poll {
        text.push_str(" (final)");
    }
    text
}

/// One key of a poll: the records read, `offset:value`, the first [`POLL_RECORDS_MAX`] of them.
fn poll_part(key: &str, records: &[(u64, i64)]) -> String {
    if records.is_empty() {
        return format!("{key}: none");
    }
    let shown: Vec<String> =
        records.iter().take(POLL_RECORDS_MAX).map(|(offset, value)| format!("{offset}:{value}")).collect();
    let more = match records.len().saturating_sub(POLL_RECORDS_MAX) {
        0 => String::new(),
        more => format!(" \u{2026} {more} more"),
    };
    format!("{key}: {}{more}", shown.join(" "))
}

/// The whole page, ending in a newline.
pub fn render_html(report: &CampaignReport, options: &TextOptions, sections: &[SeedSection]) -> String {
    let totals = &report.totals;
    let result = match totals.failing {
        0 => format!("PASS: no finding in {} seeds", totals.seeds_run),
        n => format!("FAIL: {n} of {} seeds failed", totals.seeds_run),
    };
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>eosim {}: {}</title>", xml_escape(&report.scenario), xml_escape(&result));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<h1>eosim: {}</h1>", xml_escape(&report.scenario));
    let class = if totals.failing == 0 { "pass" } else { "fail" };
    let _ = writeln!(out, "<p class=\"result {class}\">{}</p>", xml_escape(&result));
    // The summary tables sit side by side, and the coverage table folds, so that the first diagram is in view.
    out.push_str("<div class=\"summary\">\n<div>\n");
    render_facts(&mut out, report);
    out.push_str("</div>\n<div>\n");
    render_tallies(&mut out, report);
    out.push_str("</div>\n</div>\n");
    render_coverage(&mut out, report);
    render_failing_table(&mut out, report, options, sections);
    for section in sections {
        render_section(&mut out, section, options);
    }
    if !sections.is_empty() {
        let _ = writeln!(out, "<div id=\"tip\" role=\"tooltip\" hidden></div>\n<script>{SCRIPT}</script>");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The page's CSS: tables, the verdict banner, and the classes the diagrams use.
pub const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px;margin:16px 0 6px}
table{border-collapse:collapse;margin:4px 0 12px}td,th{border:1px solid #d5d5d8;padding:3px 8px;text-align:left}
th{background:#f2f2f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}code{background:#f2f2f4;padding:1px 4px}
.result{display:inline-block;padding:4px 12px;border-radius:4px;font-weight:600}
.pass{background:#e3f5e3;color:#1b5e20}.fail{background:#fde4e4;color:#8e1b1b}
.never{color:#8e1b1b;font-weight:600}.violation{color:#8e1b1b;font-weight:600}.allowed{color:#555}
section.seed{border-top:2px solid #d5d5d8;margin-top:32px}.note{color:#555}
.summary{display:flex;flex-wrap:wrap;gap:8px 36px;align-items:flex-start}.summary h2{margin-top:12px}
summary{cursor:pointer;margin-bottom:6px}
.legend span{display:inline-block;margin-right:14px}.swatch{display:inline-block;width:22px;height:10px;
vertical-align:middle;margin-right:4px;border-radius:2px}
.diagram{overflow:auto;max-height:calc(100vh - 24px);border:1px solid #d5d5d8;background:#fff}
body.focused{margin:8px}body.focused>:not(section.viewed):not(#tip){display:none}
body.focused section.viewed{border:0;margin:0}body.focused section.viewed h2{margin:0 0 4px}
body.focused section.viewed>:not(h2):not(.filters):not(.legend):not(.diagram){display:none}
body.focused .diagram{max-height:calc(100vh - 140px)}a.view{margin-left:8px}
svg.spacetime{font:10px system-ui,sans-serif;display:block;max-width:100%;height:auto}
svg.spacetime g.msg.chain line{stroke:#ff7f0e;stroke-width:2.4}svg.spacetime .msg:focus{outline:none}
svg.spacetime .msg:hover line,svg.spacetime .msg:focus line{stroke-width:3.5}
#tip{position:absolute;z-index:10;max-width:560px;background:#fffff4;border:1px solid #8a8a8a;border-radius:4px;
padding:6px 9px;font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;white-space:pre-line;
box-shadow:0 2px 8px rgba(0,0,0,.25);pointer-events:none}
.filters{margin:6px 0;padding:6px 8px;background:#f6f6f8;border:1px solid #d5d5d8}.filters label{margin-right:10px;
white-space:nowrap}.filter-count{color:#555;font-style:italic}
table.ops td code,table.chain td code{white-space:pre-wrap;word-break:break-word}
.strips svg{display:block;width:100%;height:auto;font:10px system-ui,sans-serif;margin-bottom:6px;background:#fbfbfc;
border:1px solid #e2e2e6}.strips .window{fill:#1f66b3;fill-opacity:.08}.strips text.tick{fill:#777}
.strips .crash{fill:#d62728;fill-opacity:.6}.strips .pause{fill:#ff9f1c}.strips .partition{fill:#9467bd}
.strips .link{fill:#17becf}.strips rect.ok,span.ok{fill:#2a8c2a;color:#2a8c2a}
.strips rect.info,span.info{fill:#ff9f1c;color:#a35f00}.strips rect.fail,span.fail{fill:#d62728;color:#a01c1c}
.strips rect.proving{stroke:#000;stroke-width:1.2}
.log{display:flex;flex-wrap:wrap;gap:2px;font:11px ui-monospace,monospace;margin:4px 0 12px}
.log-key{font-weight:600;margin-right:6px}.rec{padding:0 3px;background:#f2f2f4;border-radius:2px}
.rec.dup{background:#ffe0b2}.rec.aborted{background:#fde4e4;text-decoration:line-through}
.rec.cited{outline:2px solid #d62728}
svg.spacetime .segment{fill:#fbfbfc}svg.spacetime .gap{fill:#eceff3}
svg.spacetime text.gap{font-size:11px;fill:#555;font-style:italic;text-anchor:middle}
svg.spacetime line.tick{stroke:#ececef;stroke-width:1}svg.spacetime text.tick{fill:#777;text-anchor:end}
svg.spacetime .lane line{stroke:#444;stroke-width:1.5}svg.spacetime .lane.client line{stroke:#1f66b3}
svg.spacetime .lane.process line{stroke:#999;stroke-dasharray:4 3}
svg.spacetime .lane text{text-anchor:middle;font-size:12px;font-weight:600;fill:#222}
svg.spacetime .msg line{stroke-width:1.1}svg.spacetime .msg.request line{stroke:#1f66b3}
svg.spacetime .msg.response line{stroke:#2a8c2a}svg.spacetime .msg.internal line{stroke:#b0b0b0}
svg.spacetime .msg.dropped line{stroke:#d62728;stroke-width:1.6}svg.spacetime .msg.in-flight line{stroke-dasharray:3 3}
svg.spacetime .cross{stroke:#d62728;stroke-width:2.2;fill:none}
svg.spacetime .msg line.ghost{stroke:#d62728;stroke-width:1;stroke-dasharray:2 3;stroke-opacity:.55}
svg.spacetime .msg-label{fill:#333;text-anchor:middle;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg.spacetime .fault rect{stroke:none}
svg.spacetime text.fault-label{font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg.spacetime .fault.crash rect{fill:#d62728;fill-opacity:.45}svg.spacetime .fault-label.crash{fill:#a01c1c}
svg.spacetime .fault.pause rect{fill:#ff9f1c;fill-opacity:.55}svg.spacetime .fault-label.pause{fill:#a35f00}
svg.spacetime .fault.partition rect.across{fill:#9467bd;fill-opacity:.08}
svg.spacetime .fault.partition rect.side-a{fill:#9467bd;fill-opacity:.6}
svg.spacetime .fault.partition rect.side-b{fill:#e377c2;fill-opacity:.6}svg.spacetime .fault-label.partition{fill:#6a3d9a}
svg.spacetime .fault.link rect.across{fill:#17becf;fill-opacity:.06}
svg.spacetime .fault.link rect.bar{fill:#17becf;fill-opacity:.85}svg.spacetime .fault-label.link{fill:#0f7f8a}
svg.spacetime circle.op{fill:#888}svg.spacetime .event path{fill:#111}
svg.spacetime .event text{font-size:10px;text-anchor:end;fill:#111;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg.spacetime .op.proving circle{fill:#d62728;stroke:#fff;stroke-width:2}
svg.spacetime .op.proving text{font-size:11px;font-weight:600;fill:#a01c1c;paint-order:stroke;stroke:#fff;
stroke-width:4px}
";

/// Scenario, guarantee, seeds, shard, why it stopped, version, events.
fn render_facts(out: &mut String, report: &CampaignReport) {
    let totals = &report.totals;
    let end = report.seed_start.saturating_add(report.seeds);
    let mut rows = vec![
        ("scenario", report.scenario.clone()),
        ("guarantee", format!("{} ({})", report.guarantee.name(), report.guarantee.description())),
        ("seeds", format!("{}..{} ({} run)", report.seed_start, end, totals.seeds_run)),
    ];
    if let Some(shard) = report.shard {
        rows.push(("shard", format!("{shard} ({} of {} seeds)", report.seeds_in_scope(), report.seeds)));
    }
    if let Some(reason) = report.stopped {
        rows.push(("stopped", reason.describe().to_string()));
    }
    let verdicts: Vec<String> =
        totals.verdicts.iter().map(|(verdict, runs)| format!("{runs} {}", verdict.name())).collect();
    rows.push(("passing", totals.passing.to_string()));
    rows.push(("failing", format!("{} ({})", totals.failing, verdicts.join(", "))));
    rows.push(("events", totals.events.to_string()));
    rows.push(("eosim version", report.version.clone()));
    out.push_str("<table class=\"facts\">\n");
    for (name, value) in rows {
        let _ = writeln!(out, "<tr><th>{name}</th><td>{}</td></tr>", xml_escape(&value));
    }
    out.push_str("</table>\n");
}

/// Anomaly kinds and fault kinds, by the runs that found or injected them.
fn render_tallies(out: &mut String, report: &CampaignReport) {
    let totals = &report.totals;
    out.push_str("<div>\n<h2>Anomalies</h2>\n");
    if totals.anomalies.is_empty() {
        out.push_str("<p>none</p>\n");
    } else {
        out.push_str("<table><tr><th>kind</th><th>runs</th><th>under the guarantee</th></tr>\n");
        for (kind, tally) in &totals.anomalies {
            let class = if tally.violation { "violation" } else { "allowed" };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"{class}\">{class}</td></tr>",
                xml_escape(kind.name()),
                tally.runs
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</div>\n<div>\n<h2>Faults</h2>\n");
    if totals.faults.is_empty() {
        out.push_str("<p>none injected</p>\n");
    } else {
        out.push_str("<table><tr><th>kind</th><th>runs that injected it</th></tr>\n");
        for (kind, runs) in &totals.faults {
            let _ = writeln!(out, "<tr><td>{}</td><td class=\"num\">{runs}</td></tr>", xml_escape(kind));
        }
        out.push_str("</table>\n");
    }
    out.push_str("</div>\n");
}

/// Every coverage point with its runs and total count, folded under a line that counts them; expected points no
/// run reached are flagged, and named again outside the fold so that they cannot be missed.
fn render_coverage(out: &mut String, report: &CampaignReport) {
    let coverage = &report.coverage;
    out.push_str("<h2>Coverage</h2>\n");
    if coverage.points.is_empty() {
        out.push_str("<p>no coverage recorded</p>\n");
        return;
    }
    if !coverage.never_reached.is_empty() {
        let _ =
            writeln!(out, "<p class=\"never\">never reached: {}</p>", xml_escape(&coverage.never_reached.join(", ")));
    }
    let _ = writeln!(
        out,
        "<details id=\"coverage\"><summary>{} points ({} expected, {} never reached)</summary>",
        coverage.points.len(),
        coverage.expected.len(),
        coverage.never_reached.len()
    );
    out.push_str("<table><tr><th>point</th><th>runs</th><th>count</th><th></th></tr>\n");
    for (name, point) in &coverage.points {
        let flag = match (point.runs, coverage.is_expected(name)) {
            (0, true) => "<span class=\"never\">NEVER REACHED</span>",
            (_, true) => "expected",
            _ => "",
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{flag}</td></tr>",
            xml_escape(name),
            point.runs,
            point.count
        );
    }
    out.push_str("</table>\n</details>\n");
}

/// Every failing seed with its verdict, what it found and the commands that rerun and replay it.
fn render_failing_table(out: &mut String, report: &CampaignReport, options: &TextOptions, sections: &[SeedSection]) {
    let failing: Vec<&SeedRecord> = report.failing().collect();
    if failing.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2>Failing seeds ({} of {})</h2>", failing.len(), report.totals.seeds_run);
    out.push_str("<table><tr><th>seed</th><th>verdict</th><th>found</th><th>rerun</th></tr>\n");
    for run in &failing {
        let drawn = sections.iter().any(|section| section.record.seed == run.seed);
        let seed = if drawn { format!("<a href=\"#seed-{0}\">{0}</a>", run.seed) } else { run.seed.to_string() };
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{seed}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            run.verdict.name(),
            xml_escape(&found(run)),
            xml_escape(&options.run_command(run.seed))
        );
    }
    out.push_str("</table>\n");
    let undrawn = failing.len().saturating_sub(sections.len());
    if undrawn > 0 {
        let _ = writeln!(
            out,
            "<p class=\"note\">Diagrams are drawn for the first {} failing seeds; for any other, \
             <code>{} --out DIR</code> writes one.</p>",
            sections.len(),
            xml_escape(&options.run_command_template())
        );
    }
}

/// What a failing run found, in one line: its finding (the same line the terminal, junit.xml and report.json
/// give), or the kinds it violated when a record has none.
fn found(run: &SeedRecord) -> String {
    let kinds: Vec<&str> = run.violations.iter().map(|kind| kind.name()).collect();
    run.finding.clone().unwrap_or_else(|| kinds.join(", "))
}

/// One failing seed: what it found, the proving operations, then its diagram and what the diagram leaves out.
fn render_section(out: &mut String, section: &SeedSection, options: &TextOptions) {
    let record = &section.record;
    let _ = writeln!(out, "<section class=\"seed\" id=\"seed-{}\">", record.seed);
    let _ = writeln!(out, "<h2>Seed {}: {} ({})</h2>", record.seed, record.verdict.name(), xml_escape(&found(record)));
    let mut commands = vec![options.run_command(record.seed)];
    let repro = section.files.iter().find(|file| file.ends_with(".json"));
    if let (Some(dir), Some(repro)) = (&options.out_dir, repro) {
        commands.push(replay_command(&std::path::Path::new(dir).join(repro).to_string_lossy()));
    }
    for command in commands {
        let _ = writeln!(out, "<p><code>{}</code></p>", xml_escape(&command));
    }
    if !section.files.is_empty() {
        let links: Vec<String> =
            section.files.iter().map(|file| format!("<a href=\"{0}\">{0}</a>", xml_escape(file))).collect();
        let _ = writeln!(out, "<p>files: {}</p>", links.join(", "));
    }
    if let Some(hash) = &record.trace_hash {
        let _ = writeln!(out, "<p class=\"note\">trace-hash <code>{}</code></p>", xml_escape(hash));
    }
    render_anomaly(out, section);
    for note in &section.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", xml_escape(note));
    }
    if let Some(diagram) = &section.diagram {
        render_diagram(out, section, diagram);
    }
    out.push_str("</section>\n");
}

/// The anomaly the diagram is about, and the table of the operations that prove it.
fn render_anomaly(out: &mut String, section: &SeedSection) {
    let Some(anomaly) = &section.anomaly else { return };
    let others = section.anomalies_total.saturating_sub(1);
    let more =
        if others > 0 { format!(" (the run has {others} more anomalies; see its history)") } else { String::new() };
    let _ = writeln!(
        out,
        "<h3>{} on {}{}</h3>\n<p>{}</p>",
        xml_escape(anomaly.kind.name()),
        xml_escape(&anomaly.key),
        xml_escape(&more),
        xml_escape(&anomaly.explanation)
    );
    if section.proving_ops.is_empty() {
        return;
    }
    let diagram = diagram_id(section.record.seed);
    out.push_str("<table class=\"ops\"><tr><th>op</th><th>time</th><th>process</th><th>lane</th><th>what</th></tr>\n");
    for op in &section.proving_ops {
        let _ = writeln!(
            out,
            "<tr id=\"{diagram}-row-{index}\"><td class=\"num\"><a href=\"#{diagram}-op-{index}\">{index}</a></td>\
             <td class=\"num\">{:.3} ms</td><td class=\"num\">{}</td><td>{}</td><td><code>{}</code></td></tr>",
            op.time_ns as f64 / 1_000_000.0,
            op.process,
            xml_escape(&op.lane),
            xml_escape(&op.text),
            index = op.index
        );
    }
    out.push_str("</table>\n");
    if let Some(log) = &section.log {
        out.push_str(
            "<p>The partition's log as the history saw it, <code>offset:value</code> (acknowledged writes and \
             reads); <span class=\"rec dup\">duplicates</span>, <span class=\"rec aborted\">aborted records</span> \
             and <span class=\"rec cited\">the anomaly's records</span> marked:</p>\n",
        );
        out.push_str(&render_log(log));
    }
}

/// The legend, what the window shows and cuts, and the diagram itself.
fn render_diagram(out: &mut String, section: &SeedSection, diagram: &SpaceTime) {
    let focus = Focus::around(diagram, &section.focus_ns, section.focus_options);
    let windows: Vec<String> = focus
        .segments
        .iter()
        .map(|(start, end)| format!("{:.1} to {:.1} ms", *start as f64 / 1e6, *end as f64 / 1e6))
        .collect();
    let around = if section.focus_ns.is_empty() { "the end of the run" } else { "the proving operations" };
    let _ = writeln!(
        out,
        "<p>Time flows down. Shown: {} ({:.1} ms around {around}; the rest of the run's {:.1} ms is elided).</p>",
        xml_escape(&windows.join(", ")),
        section.focus_options.margin_ns as f64 / 1e6,
        diagram.end_ns as f64 / 1e6
    );
    let cut = focus.arrows_in_window - focus.arrows.len();
    let mut drawn = format!(
        "Messages drawn: {} of the {} that touch the window ({} in the whole run)",
        focus.arrows.len(),
        focus.arrows_in_window,
        diagram.arrows.len()
    );
    if cut > 0 {
        let _ = write!(drawn, "; {cut} farther in time from the proving operations are cut");
    }
    let ops_cut = focus.ops_in_window - focus.ops.len();
    let _ = write!(drawn, ". History operations drawn: {} of {} in the window", focus.ops.len(), focus.ops_in_window);
    if ops_cut > 0 {
        let _ = write!(drawn, " ({ops_cut} cut)");
    }
    let _ = writeln!(
        out,
        "<p>{}. Hover, focus or click an arrow, a band or a dot for its details.</p>",
        xml_escape(&drawn)
    );
    let id = diagram_id(section.record.seed);
    out.push_str(
        "<h3>The whole run</h3>\n<p class=\"note\">Faults by kind, then every operation by process (<span \
                  class=\"ok\">ok</span>, <span class=\"info\">info</span>, <span class=\"fail\">fail</span>); \
                  the shaded columns are the diagram's windows.</p>\n<div class=\"strips\">\n",
    );
    out.push_str(&render_fault_strip(diagram, &focus, &id));
    if !section.timeline.is_empty() {
        let drawn: BTreeSet<usize> = focus.ops.iter().map(|index| diagram.ops[*index].index).collect();
        out.push_str(&render_op_timeline(&section.timeline, &drawn, diagram.end_ns, &focus, &id));
    }
    out.push_str("</div>\n");
    render_chain(out, diagram, &focus, &id);
    render_filters(out, diagram, &id);
    out.push_str(LEGEND);
    out.push_str("<div class=\"diagram\">\n");
    out.push_str(&render_svg(diagram, &focus, &id));
    out.push_str("</div>\n");
}

/// The causal chain of the anomaly, in time order: each message with its fate and fields, linked to its arrow.
fn render_chain(out: &mut String, diagram: &SpaceTime, focus: &Focus, id: &str) {
    let chain: Vec<usize> = focus.arrows.iter().copied().filter(|index| diagram.arrows[*index].chain).collect();
    if chain.is_empty() {
        return;
    }
    out.push_str(
        "<h3>The causal chain</h3>\n<p class=\"note\">The messages that carry the anomaly's records or decide \
         their fate (the write, a lost answer, the retry, an abort), drawn bold orange in the diagram:</p>\n\
         <table class=\"chain\"><tr><th>sent</th><th>message</th></tr>\n",
    );
    for index in chain {
        let arrow = &diagram.arrows[index];
        let _ = writeln!(
            out,
            "<tr><td class=\"num\"><a href=\"#{id}-m{index}\">{:.3} ms</a></td><td><code>{}</code></td></tr>",
            arrow.send_ns as f64 / 1e6,
            xml_escape(&arrow_title(diagram, arrow))
        );
    }
    out.push_str("</table>\n");
}

/// The diagram's filters: hide replication, hide heartbeats, and a box per lane.
fn render_filters(out: &mut String, diagram: &SpaceTime, id: &str) {
    let _ = write!(
        out,
        "<div class=\"filters\" data-diagram=\"{id}\">show: <label><input type=\"checkbox\" data-topic=\"replication\" \
         checked> replication (replica fetches)</label> <label><input type=\"checkbox\" data-topic=\"heartbeat\" \
         checked> heartbeats</label> <span class=\"lanes\">lanes:"
    );
    for (number, lane) in diagram.lanes.iter().enumerate() {
        let _ = write!(
            out,
            " <label><input type=\"checkbox\" data-lane=\"{number}\" checked> {}</label>",
            xml_escape(&lane.name)
        );
    }
    out.push_str("</span> <span class=\"filter-count\"></span>");
    let _ = writeln!(
        out,
        " <a class=\"view\" href=\"#view={id}\">full window</a> <a class=\"view\" href=\"#\">whole page</a></div>"
    );
}

/// The page's script: tooltips for every arrow, band and dot (hover, focus or click to pin), the diagrams'
/// filters, and a view named in the address, `#view=DIAGRAM-ID&hide=replication,heartbeat&tip=ELEMENT-ID`: one
/// diagram filling the window, filtered, with a tooltip open, so that a link shows exactly what its sender saw.
/// Without the script the page still reads: the titles stay native tooltips.
pub const SCRIPT: &str = r##"
(function(){"use strict";
var tip=document.getElementById("tip"),pinned=null;
document.querySelectorAll("svg title").forEach(function(t){t.parentNode.setAttribute("data-tip",t.textContent);t.remove();});
function show(n,x,y){tip.textContent=n.getAttribute("data-tip");tip.hidden=false;
var room=window.scrollX+document.documentElement.clientWidth-tip.offsetWidth-8;
tip.style.left=Math.max(window.scrollX+4,Math.min(x+14,room))+"px";tip.style.top=(y+14)+"px";}
function showAt(n){var r=n.getBoundingClientRect();show(n,r.left+window.scrollX+r.width/2,r.top+window.scrollY+r.height/2);}
function owner(e){for(var n=e.target;n&&n.getAttribute;n=n.parentNode){if(n.hasAttribute("data-tip"))return n;}return null;}
document.addEventListener("mouseover",function(e){if(pinned)return;var n=owner(e);if(n)show(n,e.pageX,e.pageY);else tip.hidden=true;});
document.addEventListener("click",function(e){var n=owner(e);pinned=n;if(n)show(n,e.pageX,e.pageY);else tip.hidden=true;});
document.addEventListener("focusin",function(e){var n=owner(e);if(n)showAt(n);});
function apply(box){var svg=document.getElementById(box.getAttribute("data-diagram"));if(!svg)return;
var topic={},lane={},hidden=0;
box.querySelectorAll("input[data-topic]").forEach(function(i){topic[i.getAttribute("data-topic")]=!i.checked;});
box.querySelectorAll("input[data-lane]").forEach(function(i){lane[i.getAttribute("data-lane")]=!i.checked;});
svg.querySelectorAll("g.msg").forEach(function(g){var c=g.classList;
var off=(topic.replication&&c.contains("replication"))||(topic.heartbeat&&c.contains("heartbeat"))||lane[g.getAttribute("data-source")]||lane[g.getAttribute("data-target")];
if(off){g.setAttribute("display","none");hidden++;}else{g.removeAttribute("display");}});
svg.querySelectorAll("[data-lane]").forEach(function(n){if(lane[n.getAttribute("data-lane")])n.setAttribute("display","none");else n.removeAttribute("display");});
svg.querySelectorAll("text[data-msg]").forEach(function(t){var m=document.getElementById(t.getAttribute("data-msg"));
if(m&&m.getAttribute("display")==="none")t.setAttribute("display","none");else t.removeAttribute("display");});
box.querySelector(".filter-count").textContent=hidden?hidden+" messages hidden":"";}
function address(){var v={};location.hash.slice(1).split("&").forEach(function(kv){var i=kv.indexOf("=");if(i>0)v[kv.slice(0,i)]=decodeURIComponent(kv.slice(i+1));});return v;}
function hiddenTopics(){var out=[];["replication","heartbeat"].forEach(function(t){var i=document.querySelector("input[data-topic="+t+"]");if(i&&!i.checked)out.push(t);});return out;}
document.querySelectorAll(".filters").forEach(function(box){box.addEventListener("change",function(e){var t=e.target.getAttribute("data-topic");
if(t)document.querySelectorAll("input[data-topic="+t+"]").forEach(function(i){i.checked=e.target.checked;});
document.querySelectorAll(".filters").forEach(apply);var v=address(),parts=[],hide=hiddenTopics();
if(v.view)parts.push("view="+v.view);if(hide.length)parts.push("hide="+hide.join(","));
history.replaceState(null,"",parts.length?"#"+parts.join("&"):location.pathname+location.search);});});
function load(){var v=address(),hide=(v.hide||"").split(",");
document.querySelectorAll("input[data-topic]").forEach(function(i){i.checked=hide.indexOf(i.getAttribute("data-topic"))<0;});
var viewed=v.view?document.getElementById(v.view):null;document.body.classList.toggle("focused",!!viewed);
document.querySelectorAll("section.seed").forEach(function(s){s.classList.toggle("viewed",!!viewed&&s.contains(viewed));});
document.querySelectorAll(".filters").forEach(apply);pinned=null;tip.hidden=true;
var n=v.tip?document.getElementById(v.tip):null;if(n){n.scrollIntoView({block:"center",inline:"center"});pinned=n;showAt(n);}}
window.addEventListener("hashchange",load);load();
})();
"##;

/// What the colors of a diagram mean.
const LEGEND: &str = "<p class=\"legend\">\
<span><i class=\"swatch\" style=\"background:#1f66b3\"></i>request (client to server)</span>\
<span><i class=\"swatch\" style=\"background:#2a8c2a\"></i>response (server to client)</span>\
<span><i class=\"swatch\" style=\"background:#b0b0b0\"></i>between servers</span>\
<span><i class=\"swatch\" style=\"background:#d62728\"></i>lost message (ends in \u{d7})</span>\
<span><i class=\"swatch\" style=\"background:rgba(214,39,40,.45)\"></i>crash</span>\
<span><i class=\"swatch\" style=\"background:rgba(255,159,28,.5)\"></i>pause</span>\
<span><i class=\"swatch\" style=\"background:linear-gradient(90deg,#9467bd 50%,#e377c2 50%)\"></i>\
partition (its two sides' lanes striped purple and pink)</span>\
<span><i class=\"swatch\" style=\"background:#17becf\"></i>link fault (loss, delay, duplicates), a bar at the left\
</span>\
<span><i class=\"swatch\" style=\"background:#d62728;border-radius:50%;width:10px\"></i>operation proving the anomaly</span>\
<span><i class=\"swatch\" style=\"background:#ff7f0e\"></i>the causal chain</span>\
<span>\u{25c6} what a broker did (an append, a marker written)</span>\
</p>\n";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::svg::{Arrow, ArrowEnd, Lane, LaneKind, OpMark};
    use crate::{CampaignHeader, Verdict};
    use eosim_checker::{AnomalyKind, Guarantee, OpType};

    fn report() -> CampaignReport {
        let header = CampaignHeader {
            scenario: "<at-most-once>".to_string(),
            guarantee: Guarantee::Idempotent,
            seed_start: 0,
            seeds: 3,
            shard: None,
            stopped: None,
        };
        let mut lost = SeedRecord::new(1, Verdict::Violation);
        lost.anomalies = vec![AnomalyKind::LostWrite];
        lost.violations = vec![AnomalyKind::LostWrite];
        lost.trace_hash = Some("ab".repeat(16));
        let mut stall = SeedRecord::new(2, Verdict::Stall);
        stall.finding = Some("stalled: producers did not settle & <gave up>".to_string());
        CampaignReport::new(header, vec![SeedRecord::new(0, Verdict::Pass), lost, stall])
    }

    fn section(record: SeedRecord) -> SeedSection {
        let diagram = SpaceTime {
            lanes: vec![
                Lane { name: "producer-0".to_string(), kind: LaneKind::Client },
                Lane { name: "broker-0".to_string(), kind: LaneKind::Server },
            ],
            arrows: vec![Arrow {
                note: "lost".to_string(),
                ..Arrow::message(
                    0,
                    1,
                    5_000_000,
                    ArrowEnd::Dropped { at_ns: 5_000_000, at_send: true },
                    "ProduceRequest",
                )
            }],
            faults: Vec::new(),
            ops: vec![OpMark {
                lane: 0,
                time_ns: 5_000_000,
                index: 3,
                text: "ok send k 1".to_string(),
                proving: true,
                outcome: "ok",
            }],
            events: Vec::new(),
            end_ns: 50_000_000,
        };
        SeedSection {
            anomaly: None,
            anomalies_total: 0,
            proving_ops: Vec::new(),
            diagram: Some(diagram),
            focus_ns: vec![5_000_000],
            focus_options: FocusOptions::default(),
            notes: vec!["lanes <matched>".to_string()],
            files: vec![crate::repro_file_name(record.seed)],
            timeline: Vec::new(),
            log: None,
            record,
        }
    }

    #[test]
    fn the_page_is_self_contained_escaped_and_has_one_diagram_per_section() {
        let report = report();
        let sections: Vec<SeedSection> = report.failing().map(|run| section(run.clone())).collect();
        let page = render_html(&report, &TextOptions::new("at-most-once"), &sections);
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert_eq!(page.matches("class=\"spacetime\"").count(), 2, "one diagram per section");
        assert_eq!(page.matches("class=\"strip faults\"").count(), 2, "one fault strip per section");
        assert_eq!(page.matches("<script>").count(), 1, "one inline script");
        assert!(page.contains("id=\"diagram-seed-1\"") && page.contains("id=\"diagram-seed-2\""));
        assert!(page.contains("&lt;at-most-once&gt;") && !page.contains("<at-most-once>"));
        assert!(page.contains("producers did not settle &amp; &lt;gave up&gt;"));
        assert!(page.contains("lanes &lt;matched&gt;"));
        assert!(page.contains("FAIL: 2 of 3 seeds failed"));
        assert!(page.contains("<a href=\"repro-1.json\">repro-1.json</a>"));
        for external in ["http://", "https://", "<script src", "<link", "@import", "url(http"] {
            let outside = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            assert!(!outside.contains(external), "the page must not reach outside itself: {external}");
        }
    }

    #[test]
    fn operations_read_in_a_few_words() {
        let mut op = Op {
            index: 4,
            time_ns: 1,
            process: 2,
            op_type: OpType::Ok,
            f: OpFn::Send,
            mops: vec![MicroOp::Send { key: "orders-1".to_string(), value: 118, offset: Some(4), source: None }],
            keys: Vec::new(),
            final_poll: false,
        };
        assert_eq!(op_summary(&op), "ok send orders-1 118@4");
        op.f = OpFn::Poll;
        op.final_poll = true;
        let reads = [("orders-0".to_string(), vec![(3, 12), (4, 17)]), ("orders-1".to_string(), Vec::new())];
        op.mops = vec![MicroOp::Poll { reads: reads.into_iter().collect() }];
        assert_eq!(
            op_summary(&op),
            "ok poll orders-0: 3:12 4:17, orders-1: none (final)",
            "polls show the values read"
        );
        op.f = OpFn::Txn;
        assert!(op_summary(&op).starts_with("ok txn poll orders-0: 3:12 4:17"), "{}", op_summary(&op));
        let many = [("k".to_string(), (0..30).map(|offset| (offset, offset as i64 * 10)).collect())];
        op.mops = vec![MicroOp::Poll { reads: many.into_iter().collect() }];
        assert!(op_summary(&op).ends_with("23:230 \u{2026} 6 more (final)"), "{}", op_summary(&op));
        op.mops = (0..40).map(|i| MicroOp::Sink { store: "db".to_string(), key: "k".to_string(), value: i }).collect();
        assert!(op_summary(&op).ends_with("sink db k 39 (final)"), "nothing is cut: {}", op_summary(&op));
    }
}
