//! The course: `scenarios/lessons/lessons.toml` (the lessons, their texts and what each must show) and the
//! scenario and repro files it names, embedded in the binary so that `eosim teach` runs anywhere.
//!
//! A lesson has one or two parts (`4a`/`4b`, before/after); each part is an ordinary scenario file plus the
//! repro that pins its seed and fault schedule (found by a campaign over the scenario, shrunk when the run
//! fails), and says what its verdict must be, which violations it shows and which coverage points prove its
//! mechanism happened.

use eosim_checker::AnomalyKind;
use eosim_model::Scenario;
use serde::Deserialize;

use crate::repro::Repro;

/// The manifest's path in the repository, for error messages.
pub const MANIFEST_FILE: &str = "scenarios/lessons/lessons.toml";

/// The files of `scenarios/lessons/`, embedded: (file name, text).
const FILES: &[(&str, &str)] = &[
    ("lessons.toml", include_str!("../../scenarios/lessons/lessons.toml")),
    ("01-two-generals.toml", include_str!("../../scenarios/lessons/01-two-generals.toml")),
    ("01-two-generals.repro.json", include_str!("../../scenarios/lessons/01-two-generals.repro.json")),
    ("02-at-most-once.toml", include_str!("../../scenarios/lessons/02-at-most-once.toml")),
    ("02-at-most-once.repro.json", include_str!("../../scenarios/lessons/02-at-most-once.repro.json")),
    ("03-at-least-once.toml", include_str!("../../scenarios/lessons/03-at-least-once.toml")),
    ("03-at-least-once.repro.json", include_str!("../../scenarios/lessons/03-at-least-once.repro.json")),
    ("04a-idempotent.toml", include_str!("../../scenarios/lessons/04a-idempotent.toml")),
    ("04a-idempotent.repro.json", include_str!("../../scenarios/lessons/04a-idempotent.repro.json")),
    ("04b-idempotent-restart.toml", include_str!("../../scenarios/lessons/04b-idempotent-restart.toml")),
    ("04b-idempotent-restart.repro.json", include_str!("../../scenarios/lessons/04b-idempotent-restart.repro.json")),
    ("05a-transactions.toml", include_str!("../../scenarios/lessons/05a-transactions.toml")),
    ("05a-transactions.repro.json", include_str!("../../scenarios/lessons/05a-transactions.repro.json")),
    ("05b-read-uncommitted.toml", include_str!("../../scenarios/lessons/05b-read-uncommitted.toml")),
    ("05b-read-uncommitted.repro.json", include_str!("../../scenarios/lessons/05b-read-uncommitted.repro.json")),
    ("06-zombie-fencing.toml", include_str!("../../scenarios/lessons/06-zombie-fencing.toml")),
    ("06-zombie-fencing.repro.json", include_str!("../../scenarios/lessons/06-zombie-fencing.repro.json")),
    ("07-consume-transform-produce.toml", include_str!("../../scenarios/lessons/07-consume-transform-produce.toml")),
    (
        "07-consume-transform-produce.repro.json",
        include_str!("../../scenarios/lessons/07-consume-transform-produce.repro.json"),
    ),
    ("08a-eos-tv1.toml", include_str!("../../scenarios/lessons/08a-eos-tv1.toml")),
    ("08a-eos-tv1.repro.json", include_str!("../../scenarios/lessons/08a-eos-tv1.repro.json")),
    ("08b-eos-tv2.toml", include_str!("../../scenarios/lessons/08b-eos-tv2.toml")),
    ("08b-eos-tv2.repro.json", include_str!("../../scenarios/lessons/08b-eos-tv2.repro.json")),
    ("09a-external-store.toml", include_str!("../../scenarios/lessons/09a-external-store.toml")),
    ("09a-external-store.repro.json", include_str!("../../scenarios/lessons/09a-external-store.repro.json")),
    ("09b-external-store-upsert.toml", include_str!("../../scenarios/lessons/09b-external-store-upsert.toml")),
    (
        "09b-external-store-upsert.repro.json",
        include_str!("../../scenarios/lessons/09b-external-store-upsert.repro.json"),
    ),
];

/// What a lesson part's run must show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shows {
    /// The guarantee is broken: the verdict is `violation`.
    Anomaly,
    /// The guarantee holds: the verdict is `pass`.
    None,
}

impl Shows {
    /// The word the manifest uses.
    pub fn name(self) -> &'static str {
        match self {
            Shows::Anomaly => "anomaly",
            Shows::None => "none",
        }
    }
}

/// The manifest: every lesson, in order.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    lesson: Vec<LessonSpec>,
}

/// One lesson as the manifest writes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonSpec {
    /// Its number, 1 to 9.
    pub number: u32,
    /// Its name on the command line (`eosim teach zombie-fencing`).
    pub name: String,
    /// Its title.
    pub title: String,
    /// One sentence on what it teaches.
    pub summary: String,
    /// Its parts, in order.
    pub part: Vec<PartSpec>,
}

/// One part of a lesson as the manifest writes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartSpec {
    /// Its label (`a`, `b`, `before`, `after`), empty for a lesson of one part.
    #[serde(default)]
    pub label: String,
    /// The scenario file, in `scenarios/lessons/`.
    pub scenario: String,
    /// The repro that pins its seed and schedule, in `scenarios/lessons/`.
    pub repro: String,
    /// What the verdict must be.
    pub shows: Shows,
    /// The violations the run must show, by name (empty when it shows none).
    #[serde(default)]
    pub violations: Vec<String>,
    /// Coverage points that must be reached: the proof that the mechanism the part is about happened.
    #[serde(default)]
    pub mechanism: Vec<String>,
    /// The question to ask before the verdict is shown.
    pub question: String,
    /// What happened and why, shown after the verdict.
    pub explanation: String,
}

/// A lesson part with its files loaded.
#[derive(Clone, Debug)]
pub struct Part {
    /// What the manifest says of it.
    pub spec: PartSpec,
    /// Its scenario file, parsed.
    pub scenario: Scenario,
    /// Its repro, parsed.
    pub repro: Repro,
    /// The violation kinds it must show.
    pub violations: Vec<AnomalyKind>,
}

/// A lesson with its parts loaded.
#[derive(Clone, Debug)]
pub struct Lesson {
    /// What the manifest says of it.
    pub spec: LessonSpec,
    /// Its parts.
    pub parts: Vec<Part>,
}

/// A lesson file that is missing or malformed, or a lesson argument that names no lesson.
#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    /// A file is malformed or does not say what a lesson needs; displays as `FILE:LINE:COL: message` or
    /// `FILE: message`.
    #[error("{0}")]
    Invalid(String),
    /// The argument names no lesson.
    #[error("unknown lesson {0:?} (expected a number from 1 to {1} or a name; `eosim teach` lists them)")]
    Unknown(String, usize),
}

/// The embedded text of `scenarios/lessons/<name>`.
fn file(name: &str) -> Result<&'static str, LessonError> {
    let found = FILES.iter().find(|(file, _)| *file == name).map(|(_, text)| *text);
    found.ok_or_else(|| LessonError::Invalid(format!("{MANIFEST_FILE}: names {name}, which is not a lesson file")))
}

/// Every lesson, in order, with its files parsed and checked against each other.
pub fn all() -> Result<Vec<Lesson>, LessonError> {
    let manifest: Manifest = toml::from_str(file("lessons.toml")?).map_err(|error| {
        let text = FILES[0].1;
        let (line, column) = error.span().map_or((1, 1), |span| line_column(text, span.start));
        LessonError::Invalid(format!("{MANIFEST_FILE}:{line}:{column}: {}", error.message().trim()))
    })?;
    let mut lessons = Vec::new();
    for (index, spec) in manifest.lesson.into_iter().enumerate() {
        if spec.number as usize != index + 1 {
            let message = format!("lesson {:?} has number {}, expected {}", spec.name, spec.number, index + 1);
            return Err(LessonError::Invalid(format!("{MANIFEST_FILE}: {message}")));
        }
        let parts = spec.part.iter().map(load_part).collect::<Result<Vec<_>, _>>()?;
        lessons.push(Lesson { spec, parts });
    }
    Ok(lessons)
}

/// One part's scenario and repro, which must describe the same scenario.
fn load_part(spec: &PartSpec) -> Result<Part, LessonError> {
    let scenario_file = format!("scenarios/lessons/{}", spec.scenario);
    let scenario = Scenario::from_toml(&scenario_file, file(&spec.scenario)?)
        .map_err(|error| LessonError::Invalid(error.to_string()))?;
    let repro_file = format!("scenarios/lessons/{}", spec.repro);
    let repro =
        Repro::parse(&repro_file, file(&spec.repro)?).map_err(|error| LessonError::Invalid(error.to_string()))?;
    if repro.scenario != scenario {
        let message = format!("its scenario is not {scenario_file}'s; record the repro again from that file");
        return Err(LessonError::Invalid(format!("{repro_file}: {message}")));
    }
    let mut violations = Vec::new();
    for name in &spec.violations {
        let kind = AnomalyKind::from_name(name).ok_or_else(|| {
            LessonError::Invalid(format!(
                "{MANIFEST_FILE}: unknown anomaly {name:?} (expected a name as `eosim check` prints it)"
            ))
        })?;
        violations.push(kind);
    }
    Ok(Part { spec: spec.clone(), scenario, repro, violations })
}

/// The lesson `arg` names: its number (1-based) or its name.
pub fn find<'a>(lessons: &'a [Lesson], arg: &str) -> Result<&'a Lesson, LessonError> {
    let by_number = arg.parse::<usize>().ok().and_then(|number| lessons.get(number.checked_sub(1)?));
    let by_name = || lessons.iter().find(|lesson| lesson.spec.name == arg);
    by_number.or_else(by_name).ok_or_else(|| LessonError::Unknown(arg.to_string(), lessons.len()))
}

/// The repro of `scenario` replayed with `from`'s seed, swarm choices and fault schedule: how the second part
/// of a pair (5a from 5b, 8 after from 8 before, 9 upsert from 9 insert) is recorded, so that both parts show
/// the same faults striking two protocols.
pub fn paired_repro(scenario: &Scenario, from: &Repro) -> Repro {
    let mut paired = from.clone();
    paired.scenario = scenario.clone();
    let result = paired.replay();
    let mut repro = Repro::of_run(scenario, &result);
    assert_eq!(repro.schedule, from.schedule, "an explicit schedule is replayed as it is");
    repro.swarm = from.swarm.clone();
    repro
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |tail| tail.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lesson_loads_and_names_are_unique() {
        let lessons = all().unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(lessons.len(), 9);
        let mut names: Vec<&str> = lessons.iter().map(|lesson| lesson.spec.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 9, "lesson names are unique");
        for lesson in &lessons {
            for part in &lesson.parts {
                assert_eq!(part.violations.is_empty(), part.spec.shows == Shows::None, "{}", part.spec.scenario);
            }
        }
    }

    #[test]
    fn lessons_are_found_by_number_and_name_and_anything_else_is_refused() {
        let lessons = all().unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(find(&lessons, "6").map(|lesson| lesson.spec.number).ok(), Some(6));
        assert_eq!(find(&lessons, "two-generals").map(|lesson| lesson.spec.number).ok(), Some(1));
        for bad in ["0", "10", "nope", ""] {
            let error = find(&lessons, bad).map(|_| ()).expect_err(bad).to_string();
            assert!(error.contains("unknown lesson") && error.contains("1 to 9"), "{error}");
        }
    }

    #[test]
    fn each_paired_part_is_its_partner_replayed_on_its_own_scenario() {
        let lessons = all().unwrap_or_else(|error| panic!("{error}"));
        for (number, recorded, partner) in [(5, 0, 1), (8, 1, 0), (9, 1, 0)] {
            let parts = &lessons[number - 1].parts;
            let (part, from) = (&parts[recorded], &parts[partner]);
            let paired = paired_repro(&part.scenario, &from.repro);
            assert!(paired == part.repro, "lesson {number}: {} is {} replayed", part.spec.repro, from.spec.repro);
        }
    }

    #[test]
    fn positions_are_one_based() {
        assert_eq!(line_column("a\nbc\n", 3), (2, 2));
        assert_eq!(line_column("", 0), (1, 1));
    }
}
