//! `eosim teach`: every lesson replays its stored repro and shows the verdict it teaches, its mechanism
//! happened, the terminal text fits 100 columns without escapes when stdout is not a terminal, and the
//! `--html` page renders in headless Chromium (a screenshot is kept in `target/test-artifacts/`).
//!
//! Each lesson part is one short replay, so the whole file stays cheap in a debug build.

mod support;

use support::*;

use std::path::Path;

use eosim::teach::{self, lessons, PartRun};
use eosim_checker::{MicroOp, OpFn, OpType};
use eosim_reports::Verdict;

/// What the issue asks each part to show: (lesson, part label, the verdict it teaches).
const TAUGHT: &[(u32, &str, Verdict)] = &[
    (1, "", Verdict::Pass),
    (2, "", Verdict::Violation),
    (3, "", Verdict::Violation),
    (4, "a", Verdict::Pass),
    (4, "b", Verdict::Violation),
    (5, "a", Verdict::Pass),
    (5, "b", Verdict::Violation),
    (6, "", Verdict::Pass),
    (7, "", Verdict::Pass),
    (8, "before", Verdict::Violation),
    (8, "after", Verdict::Pass),
    (9, "insert", Verdict::Violation),
    (9, "upsert", Verdict::Pass),
];

/// Every part of every lesson, replayed.
fn all_runs() -> Vec<(u32, PartRun)> {
    let all = lessons::all().unwrap_or_else(|error| panic!("{error}"));
    let mut runs = Vec::new();
    for lesson in &all {
        let parts = teach::run_lesson(lesson).unwrap_or_else(|error| panic!("lesson {}: {error}", lesson.spec.number));
        runs.extend(parts.into_iter().map(|run| (lesson.spec.number, run)));
    }
    runs
}

/// How often the replay reached coverage point `point`.
fn reached(run: &PartRun, point: &str) -> u64 {
    run.points.get(point).copied().unwrap_or(0)
}

#[test]
fn every_lesson_shows_the_verdict_it_teaches_and_its_mechanism_at_work() {
    let runs = all_runs();
    let shown: Vec<(u32, &str, Verdict)> =
        runs.iter().map(|(number, run)| (*number, run.part.spec.label.as_str(), run.result.verdict)).collect();
    assert_eq!(shown, TAUGHT, "the lessons, their parts and their verdicts");
    for (number, run) in &runs {
        let label = format!("lesson {number}{}", run.part.spec.label);
        let replayed = run.result.trace_hash();
        assert_eq!(replayed, run.part.repro.expected.trace_hash.as_deref(), "{label}: the replay is the recorded run");
        assert!(!run.part.spec.mechanism.is_empty(), "{label} names the coverage points of its mechanism");
        for (point, count) in run.mechanism() {
            assert!(count > 0, "{label}: {point} was reached");
        }
        let schedule = run.part.repro.schedule.as_ref().map_or(0, |schedule| schedule.faults.len());
        assert!((1..=10).contains(&schedule), "{label}: a short stored schedule, not {schedule} faults");
        let found = run.result.violation_kinds();
        assert!(run.part.violations.iter().all(|kind| found.contains(kind)), "{label}: {found:?}");
    }
}

#[test]
fn the_mechanisms_are_the_ones_each_lesson_is_about() {
    let runs = all_runs();
    let part = |number: u32, label: &str| {
        let found = runs.iter().find(|(n, run)| *n == number && run.part.spec.label == label);
        &found.unwrap_or_else(|| panic!("lesson {number}{label}")).1
    };
    // Lesson 1: the producer gave up on a send whose value the consumer read: it landed, unknown to its writer.
    let two_generals = part(1, "");
    let history = &two_generals.result.outcome.as_ref().expect("an outcome").history;
    let unknown: Vec<(&str, i64)> = (history.ops.iter())
        .filter(|op| op.op_type == OpType::Info && op.f == OpFn::Send)
        .flat_map(|op| &op.mops)
        .filter_map(|mop| match mop {
            MicroOp::Send { key, value, .. } => Some((key.as_str(), *value)),
            _ => None,
        })
        .collect();
    assert!(!unknown.is_empty(), "lesson 1 has a send whose outcome its producer does not know");
    let read_back = |(key, value): &(&str, i64)| {
        history.ops.iter().flat_map(|op| &op.mops).any(|mop| {
            matches!(mop, MicroOp::Poll { reads } if reads.get(*key).is_some_and(|records| records.iter().any(|(_, read)| read == value)))
        })
    };
    assert!(unknown.iter().any(read_back), "and the consumer read it: the write landed ({unknown:?})");
    assert!(reached(part(4, "a"), "broker:duplicate-batch-deduplicated") > 0, "the broker dropped the retry");
    assert_eq!(reached(part(3, ""), "broker:duplicate-batch-deduplicated"), 0, "no idempotence in lesson 3");
    assert!(reached(part(4, "b"), "app:resend-after-restart") > 0);
    let (committed, uncommitted) = (part(5, "a"), part(5, "b"));
    assert_eq!(committed.part.repro.seed, uncommitted.part.repro.seed, "lesson 5 reads one run two ways");
    assert_eq!(committed.part.repro.schedule, uncommitted.part.repro.schedule);
    assert!(reached(committed, "txn-state:CompleteAbort") > 0, "a transaction was aborted");
    assert!(reached(part(6, ""), "broker-error:INVALID_PRODUCER_EPOCH") > 0, "the zombie was fenced");
    assert!(reached(part(7, ""), "group:txn-offsets-aborted") > 0, "the aborted offsets were discarded");
    let (before, after) = (part(8, "before"), part(8, "after"));
    assert_eq!(before.part.repro.seed, after.part.repro.seed, "lesson 8 replays one seed on both versions");
    assert_eq!(before.part.repro.schedule, after.part.repro.schedule, "and one fault schedule");
    assert_eq!(reached(before, "broker-error:INVALID_PRODUCER_EPOCH"), 0, "TV1 fences no late request");
    assert!(reached(after, "broker-error:INVALID_PRODUCER_EPOCH") > 0, "TV2's epoch bump fences them");
    let (insert, upsert) = (part(9, "insert"), part(9, "upsert"));
    assert_eq!(insert.part.repro.schedule, upsert.part.repro.schedule, "lesson 9 replays one schedule twice");
    assert!(reached(insert, "store:duplicate-row") > 0 && reached(upsert, "store:upsert-unchanged") > 0);
}

#[test]
fn teach_lists_the_lessons_and_refuses_an_unknown_one() {
    let output = eosim(&["teach"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    for (number, name) in [(1, "two-generals"), (4, "idempotent-producer"), (9, "boundary")] {
        assert!(text.lines().any(|line| line.trim_start().starts_with(&format!("{number}  {name} "))), "{text}");
    }
    let output = eosim(&["teach", "10"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("unknown lesson \"10\""), "{}", stderr(&output));
}

#[test]
fn every_lesson_fits_100_columns_in_plain_text_and_points_to_the_next() {
    for number in 1..=9 {
        let output = eosim(&["teach", &number.to_string()]);
        assert_exit(&output, 0);
        let text = stdout(&output);
        assert!(!text.contains('\u{1b}'), "lesson {number}: no escapes when stdout is not a terminal");
        let widest = text.lines().map(|line| line.chars().count()).max().unwrap_or(0);
        assert!(widest <= 100, "lesson {number}: a line of {widest} characters");
        assert!(text.contains("verdict: ") && text.contains("question: "), "lesson {number}: {text}");
        assert!(text.contains("time ms") && text.contains('│'), "lesson {number} draws its diagram");
        let next = if number < 9 { format!("next: eosim teach {}", number + 1) } else { "last lesson".to_string() };
        assert!(text.contains(&next), "lesson {number} ends with the way on");
    }
    let output = eosim(&["teach", "zombie-fencing", "--width", "72"]);
    assert_exit(&output, 0);
    assert!(stdout(&output).lines().all(|line| line.chars().count() <= 72), "--width is honoured");
}

#[test]
fn the_html_lesson_renders_its_diagrams_in_chromium() {
    let dir = scratch_dir("teach", "html");
    let page = dir.join("lesson-4.html");
    let output = eosim(&["teach", "4", "--html", arg(&page)]);
    assert_exit(&output, 0);
    let html = read(&page);
    assert_eq!(html.matches("<svg").count(), 2, "one diagram per part");
    assert!(html.contains("class=\"question\"") && html.contains("<summary>Verdict</summary>"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "self-contained");
    if !browser_available() {
        return;
    }
    let dom = chromium(&page, &dir.join("profile-dump"), &["--dump-dom".to_string()]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dom.stderr));
    assert_eq!(dom_text.matches("<svg").count(), 2, "Chromium built both diagrams");
    assert!(dom_text.contains("id=\"lesson-4-part-0\"") && dom_text.contains("id=\"lesson-4-part-1\""));
    let artifacts =
        Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target/tmp is in target").join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("target/test-artifacts can be created");
    let screenshot = artifacts.join("teach-lesson-4.png");
    let _ = std::fs::remove_file(&screenshot);
    let flags = [format!("--screenshot={}", screenshot.display()), "--window-size=1400,2400".to_string()];
    let shot = chromium(&page, &dir.join("profile-shot"), &flags);
    assert!(shot.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&shot.stderr));
    let png = std::fs::read(&screenshot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "a real PNG: {} bytes", png.len());
    eprintln!("screenshot: {}", screenshot.display());
}
