//! README.md's commands, run as printed, each giving the outcome the README states.
//!
//! The README's code blocks are `sh` (commands) or `text` (everything else). Every line of a `sh` block is one
//! command with a `#` comment that ends in its outcome: `exits N`, then the anomaly kinds it must report as
//! violations (`exits 1, lost-write`); a `writes A, B;` clause names files it must leave behind. A `text` block
//! that starts with `$ COMMAND` is a transcript: the command runs, and the lines shown must appear in its output in
//! that order (`...` stands for lines left out, a trailing `…` for the rest of a line). Any other `text` block may
//! not hold a command, and an inline `eosim …` in the prose either names a placeholder (`SCENARIO`, `DIR`) or is a
//! command some block runs, so nothing the README offers as runnable goes unchecked.
//!
//! The commands run in the order printed, in one scratch directory that holds a copy of `scenarios/` and
//! `tests/regressions/` (so it reads like the repository root): later commands read the files earlier ones wrote. `eosim` and `cargo run --release
//! --` are the binary under test; `cargo run --release --example NAME` is the example `cargo test --release`
//! builds beside it (after `cargo test --release --test readme` alone, build it with `cargo build --release
//! --example NAME`); `cargo test --release` is the command running this test, so it is not started again.
//!
//! The campaigns take about a minute on two cores in a release build, so a debug build leaves the test out,
//! marked ignored.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use eosim_checker::AnomalyKind;

const README: &str = include_str!("../README.md");

/// The one `cargo test` command the README may print: the one that runs this test.
const TEST_COMMAND: &str = "cargo test --release";

/// What a command must do.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    /// The exit status.
    status: i32,
    /// Anomaly kinds the output must report as violations.
    violations: Vec<String>,
    /// Files, relative to the working directory, that must exist afterwards.
    writes: Vec<String>,
}

/// One runnable item of the README, with the line it starts on.
#[derive(Debug, PartialEq)]
enum Item {
    /// A command with its stated outcome.
    Command { line: usize, command: String, outcome: Outcome },
    /// A command and the output lines shown for it.
    Transcript { line: usize, command: String, shown: Vec<String> },
}

/// The README's runnable items in order, and every command they run (for the inline-code check).
fn parse(readme: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut lines = readme.lines().enumerate().map(|(index, text)| (index + 1, text));
    while let Some((line, text)) = lines.next() {
        let Some(info) = text.strip_prefix("```") else { continue };
        let block: Vec<(usize, &str)> = lines.by_ref().take_while(|(_, text)| !text.starts_with("```")).collect();
        match info.trim() {
            "sh" => {
                for (line, text) in block.into_iter().filter(|(_, text)| !text.trim().is_empty()) {
                    items.push(command_line(line, text));
                }
            }
            "text" => items.extend(text_block(&block)),
            other => {
                panic!("README.md:{line}: a code block is `sh` (commands this test runs) or `text`, not {other:?}")
            }
        }
    }
    items
}

/// One line of a `sh` block: `COMMAND  # what it shows; exits N[, KIND...]`.
fn command_line(line: usize, text: &str) -> Item {
    let (command, comment) = text
        .split_once(" #")
        .unwrap_or_else(|| panic!("README.md:{line}: a command needs a `# ...; exits N` comment: {text}"));
    let command = command.trim().to_string();
    if let Some(bad) = command.chars().find(|c| "|&;<>$`'\"\\(){}*?".contains(*c)) {
        panic!("README.md:{line}: `{bad}` in a command: this test runs plain words, not a shell line: {command}");
    }
    Item::Command { line, command, outcome: outcome(line, comment) }
}

/// The outcome a comment states, in its `;`-separated clauses: the last is `exits N[, KIND...]`, and one may be
/// `writes A, B`.
fn outcome(line: usize, comment: &str) -> Outcome {
    let clauses: Vec<&str> = comment.split(';').map(str::trim).collect();
    let exits = clauses
        .last()
        .and_then(|clause| clause.strip_prefix("exits "))
        .unwrap_or_else(|| panic!("README.md:{line}: the comment does not say how the command exits: {comment}"));
    let mut parts = exits.split(',').map(str::trim);
    let status = parts
        .next()
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("README.md:{line}: `exits` is not followed by a status: {comment}"));
    let violations: Vec<String> = parts.map(str::to_string).collect();
    for kind in &violations {
        assert!(
            AnomalyKind::ALL.iter().any(|known| known.name() == kind),
            "README.md:{line}: {kind:?} is not an anomaly kind the checker reports"
        );
    }
    assert!(status == 1 || violations.is_empty(), "README.md:{line}: only a command that exits 1 reports violations");
    let writes = clauses
        .iter()
        .filter_map(|clause| clause.strip_prefix("writes "))
        .flat_map(|list| list.split(',').map(|path| path.trim().to_string()))
        .collect();
    Outcome { status, violations, writes }
}

/// A `text` block: a transcript when it starts with `$ `; otherwise it may not hold a command.
fn text_block(block: &[(usize, &str)]) -> Vec<Item> {
    let Some((line, first)) = block.first() else { return Vec::new() };
    let Some(command) = first.strip_prefix("$ ") else {
        for (line, text) in block {
            let text = text.trim_start();
            assert!(
                !text.starts_with("eosim ") && !text.starts_with("cargo "),
                "README.md:{line}: a command outside a `sh` block or a transcript is never run: {text}"
            );
        }
        return Vec::new();
    };
    assert!(block[1..].iter().all(|(_, text)| !text.starts_with("$ ")), "README.md:{line}: one command per transcript");
    let shown = block[1..].iter().map(|(_, text)| text.to_string()).collect();
    vec![Item::Transcript { line: *line, command: command.trim().to_string(), shown }]
}

/// Inline code in the prose that reads like a command: `eosim …` or `cargo …`, with the line it is on.
fn inline_commands(readme: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_block = false;
    for (index, text) in readme.lines().enumerate() {
        if text.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        for span in text.split('`').skip(1).step_by(2) {
            if span.starts_with("eosim ") || span.starts_with("cargo ") {
                found.push((index + 1, span.to_string()));
            }
        }
    }
    found
}

/// A word of a command that stands for something the reader supplies: `SCENARIO`, `N`, `DIR/repro.json`.
fn is_placeholder(word: &str) -> bool {
    let head = word.split(['/', '.', '-']).next().unwrap_or("");
    !head.is_empty() && head.chars().all(|c| c.is_ascii_uppercase())
}

/// How a README command is run here: the program and its arguments, or `None` for the test command itself.
fn program(line: usize, command: &str) -> Option<(PathBuf, Vec<String>)> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let eosim = PathBuf::from(env!("CARGO_BIN_EXE_eosim"));
    let args = |rest: &[&str]| rest.iter().map(|word| word.to_string()).collect::<Vec<_>>();
    match words.as_slice() {
        ["eosim", rest @ ..] => Some((eosim, args(rest))),
        ["cargo", "run", "--release", "--", rest @ ..] => Some((eosim, args(rest))),
        ["cargo", "run", "--release", "--example", name, rest @ ..] => {
            let rest = match rest {
                ["--", rest @ ..] => rest,
                [] => rest,
                _ => panic!("README.md:{line}: an example's arguments follow `--`: {command}"),
            };
            let example = eosim.parent().expect("the binary is in a directory").join("examples").join(name);
            assert!(
                example.is_file(),
                "README.md:{line}: {} is missing; `cargo test --release` builds it, or `cargo build --release \
                 --example {name}`",
                example.display()
            );
            Some((example, args(rest)))
        }
        _ if command == TEST_COMMAND => None,
        _ => panic!("README.md:{line}: this test does not know how to run {command:?}"),
    }
}

/// Runs one README command in `dir`; `None` for the test command, which is this very run.
fn run(dir: &Path, line: usize, command: &str, timings: &mut String) -> Option<Output> {
    let (program, args) = program(line, command)?;
    let mut child = Command::new(program);
    child.args(&args).current_dir(dir);
    for name in support::SHARD_VARS {
        child.env_remove(name);
    }
    let started = Instant::now();
    let output = child.output().unwrap_or_else(|error| panic!("README.md:{line}: {command}: {error}"));
    let _ = writeln!(timings, "{:>7.1} s  README.md:{line}  {command}", started.elapsed().as_secs_f64());
    Some(output)
}

/// Both streams of a command, for a failure message.
fn streams(output: &Output) -> String {
    format!("--- stdout\n{}\n--- stderr\n{}", support::stdout(output), support::stderr(output))
}

/// Whether the output reports `kind` as a violation: a line that starts with the kind and says `violation`, as
/// the run, campaign, check and replay summaries print one line per kind, or the `verdict: violation [KIND, ...]`
/// line of a shrink.
fn reports_violation(stdout: &str, kind: &str) -> bool {
    stdout.lines().any(|text| {
        let first = text.split_whitespace().next().unwrap_or("");
        let per_kind = first.trim_end_matches(':') == kind && text.contains("violation");
        let listed = text
            .strip_prefix("verdict: violation [")
            .and_then(|rest| rest.strip_suffix(']'))
            .is_some_and(|kinds| kinds.split(", ").any(|listed| listed == kind));
        per_kind || listed
    })
}

/// Checks a command's outcome.
fn check_outcome(dir: &Path, line: usize, command: &str, outcome: &Outcome, output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(outcome.status),
        "README.md:{line}: `{command}` should exit {}\n{}",
        outcome.status,
        streams(output)
    );
    let stdout = support::stdout(output);
    for kind in &outcome.violations {
        assert!(
            reports_violation(&stdout, kind),
            "README.md:{line}: `{command}` should report {kind} as a violation\n{}",
            streams(output)
        );
    }
    for path in &outcome.writes {
        assert!(dir.join(path).is_file(), "README.md:{line}: `{command}` should write {path}\n{}", streams(output));
    }
}

/// Checks that the lines a transcript shows appear in the output, in order.
fn check_transcript(line: usize, command: &str, shown: &[String], output: &Output) {
    let stdout = support::stdout(output);
    let actual: Vec<&str> = stdout.lines().collect();
    let mut next = 0;
    let mut skipping = false;
    for expected in shown {
        let expected = expected.trim();
        if expected == "..." {
            skipping = true;
            continue;
        }
        loop {
            let Some(text) = actual.get(next) else {
                panic!("README.md:{line}: `{command}` does not print {expected:?} where the README shows it\n{stdout}")
            };
            next += 1;
            let matched = match expected.strip_suffix('…') {
                Some(prefix) => text.trim().starts_with(prefix.trim_end()),
                None => text.trim() == expected,
            };
            if matched {
                break;
            }
            assert!(
                skipping,
                "README.md:{line}: `{command}` prints {text:?} where the README shows {expected:?}\n{stdout}"
            );
        }
        skipping = false;
    }
}

/// A directory laid out like the repository root for the commands: a copy of `scenarios/` and of the stored
/// regressions (`tests/regressions/`).
fn working_dir() -> PathBuf {
    let dir = support::scratch_dir("readme", "root");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&root.join("scenarios"), &dir.join("scenarios"));
    copy_dir(&root.join("tests/regressions"), &dir.join("tests/regressions"));
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|error| panic!("{}: {error}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|error| panic!("{}: {error}", from.display())) {
        let path = entry.expect("a directory entry").path();
        let target = to.join(path.file_name().expect("an entry has a name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        }
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "runs every README command: about a minute of campaigns in a release build")]
fn every_readme_command_runs_as_printed_with_the_stated_outcome() {
    let items = parse(README);
    let commands: Vec<&str> = items
        .iter()
        .map(|item| match item {
            Item::Command { command, .. } | Item::Transcript { command, .. } => command.as_str(),
        })
        .collect();
    assert!(commands.contains(&TEST_COMMAND), "README.md no longer prints the test command `{TEST_COMMAND}`");
    for (line, span) in inline_commands(README) {
        assert!(
            commands.contains(&span.as_str()) || span.split_whitespace().any(is_placeholder),
            "README.md:{line}: `{span}` reads like a command but no code block runs it (add it to a `sh` block, or \
             write its placeholders in capitals)"
        );
    }

    let dir = working_dir();
    let mut timings = String::new();
    let started = Instant::now();
    for item in &items {
        match item {
            Item::Command { line, command, outcome } => {
                if let Some(output) = run(&dir, *line, command, &mut timings) {
                    check_outcome(&dir, *line, command, outcome, &output);
                }
            }
            Item::Transcript { line, command, shown } => {
                let output = run(&dir, *line, command, &mut timings)
                    .unwrap_or_else(|| panic!("README.md:{line}: a transcript of the test command itself"));
                check_transcript(*line, command, shown, &output);
            }
        }
    }
    eprintln!("{timings}{:>7.1} s  in all", started.elapsed().as_secs_f64());
}

#[test]
fn a_command_line_gives_its_command_and_outcome() {
    let item = command_line(
        7,
        "eosim shrink out/repro-2.json   # fewest faults; writes out/repro-2.shrunk.json; exits 1, lost-write, G1a",
    );
    let outcome = Outcome {
        status: 1,
        violations: vec!["lost-write".to_string(), "G1a".to_string()],
        writes: vec!["out/repro-2.shrunk.json".to_string()],
    };
    assert_eq!(item, Item::Command { line: 7, command: "eosim shrink out/repro-2.json".to_string(), outcome });
    let passing = command_line(8, "eosim list   # one line each; exits 0");
    assert_eq!(
        passing,
        Item::Command { line: 8, command: "eosim list".to_string(), outcome: Outcome::default() },
        "a passing command states no kinds and no files"
    );
}

#[test]
#[should_panic(expected = "README.md:3: the comment does not say how the command exits")]
fn a_command_without_its_outcome_is_refused() {
    command_line(3, "eosim list   # built-in scenarios");
}

#[test]
#[should_panic(expected = "\"lost-writes\" is not an anomaly kind")]
fn a_misspelt_kind_is_refused() {
    command_line(3, "eosim run at-most-once --seed 2   # exits 1, lost-writes");
}

#[test]
#[should_panic(expected = "README.md:2: a command outside a `sh` block or a transcript is never run")]
fn a_command_hidden_in_a_text_block_is_refused() {
    parse("```text\neosim run at-most-once --seed 2\n```\n");
}

#[test]
#[should_panic(expected = "a code block is `sh` (commands this test runs) or `text`")]
fn an_untagged_block_is_refused() {
    parse("```\neosim list\n```\n");
}

#[test]
fn a_transcript_matches_its_shown_lines_in_order() {
    let output = Output {
        status: std::process::ExitStatus::default(),
        stdout: b"a\nb: long line\nc\nd\n".to_vec(),
        stderr: Vec::new(),
    };
    let shown = |lines: &[&str]| lines.iter().map(|line| line.to_string()).collect::<Vec<_>>();
    check_transcript(1, "x", &shown(&["a", "b: long …", "...", "d"]), &output);
    let wrong = std::panic::catch_unwind(|| check_transcript(1, "x", &shown(&["a", "c"]), &output));
    assert!(wrong.is_err(), "without `...` the shown lines must follow each other");
    let missing = std::panic::catch_unwind(|| check_transcript(1, "x", &shown(&["...", "e"]), &output));
    assert!(missing.is_err(), "a shown line that is not printed fails");
}

#[test]
fn a_violation_line_names_its_kind_first() {
    assert!(reports_violation("  lost-write: 1 (violation)\n", "lost-write"));
    assert!(reports_violation("  lost-write                  99 runs  violation\n", "lost-write"));
    assert!(!reports_violation("  G0-process: 1 (allowed)\n", "G0-process"));
    assert!(!reports_violation("finding: lost-write: value 118 ... violation\n", "lost-write"));
    assert!(reports_violation("verdict: violation [duplicate, lost-write]\n", "lost-write"));
    assert!(!reports_violation("verdict: violation [duplicate]\n", "lost-write"));
}

#[test]
fn placeholders_are_capitals() {
    assert!(is_placeholder("SCENARIO"));
    assert!(is_placeholder("DIR/repro.json"));
    assert!(is_placeholder("N"));
    assert!(!is_placeholder("at-most-once"));
    assert!(!is_placeholder("--seed"));
}
