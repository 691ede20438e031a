//! The campaign summary as text, for a person at a terminal.

use std::fmt::Write as _;

use crate::{CampaignReport, Coverage, SeedRecord};

/// What the text summary needs beyond the report itself.
#[derive(Clone, Debug, PartialEq)]
pub struct TextOptions {
    /// How the scenario is named on a replay command line: a built-in name or the file path the user gave.
    pub scenario_arg: String,
    /// The directory the repro files were written to, if any.
    pub out_dir: Option<String>,
    /// Wall time of the campaign in seconds; only the terminal sees it, so reports stay reproducible.
    pub wall_seconds: Option<f64>,
    /// At most this many failing seeds are listed with their replay commands.
    pub failing_listed_max: usize,
    /// How much of the coverage table the summary shows (report.json and index.html always hold all of it).
    pub coverage: CoverageDetail,
    /// The seeds ran in the wide envelope, so every rerun command carries `--wide`.
    pub wide: bool,
}

/// How much of the coverage table a text summary shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CoverageDetail {
    /// Only the expected points no run reached, and one line counting the rest.
    Flagged,
    /// Every point with its runs and count.
    #[default]
    Full,
    /// Nothing.
    None,
}

impl CoverageDetail {
    /// Every level, as `--coverage` names them.
    pub const ALL: [CoverageDetail; 3] = [CoverageDetail::Flagged, CoverageDetail::Full, CoverageDetail::None];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            CoverageDetail::Flagged => "flagged",
            CoverageDetail::Full => "full",
            CoverageDetail::None => "none",
        }
    }
}

impl TextOptions {
    /// Options for a campaign of `scenario_arg` without repro files or timing, listing up to 20 failing seeds.
    pub fn new(scenario_arg: &str) -> TextOptions {
        TextOptions {
            scenario_arg: scenario_arg.to_string(),
            out_dir: None,
            wall_seconds: None,
            failing_listed_max: 20,
            coverage: CoverageDetail::Full,
            wide: false,
        }
    }

    /// The command that reruns one seed of this campaign, as the campaign ran it.
    pub fn run_command(&self, seed: u64) -> String {
        run_command(&self.scenario_arg, seed, self.wide)
    }

    /// [`TextOptions::run_command`] with `--seed N` for the seed, for a list of seeds that follows it.
    pub fn run_command_template(&self) -> String {
        run_command(&self.scenario_arg, "N", self.wide)
    }
}

/// The command that reruns one seed of a scenario (in the wide envelope when `wide`), quoted for a POSIX shell;
/// `seed` is a number, or a placeholder such as `N` in a template.
pub fn run_command(scenario_arg: &str, seed: impl std::fmt::Display, wide: bool) -> String {
    let wide = if wide { " --wide" } else { "" };
    format!("eosim run {} --seed {seed}{wide}", shell_word(scenario_arg))
}

/// The command that replays a repro file, quoted for a POSIX shell.
pub fn replay_command(repro_path: &str) -> String {
    format!("eosim replay {}", shell_word(repro_path))
}

/// The file name of a failing seed's repro inside a campaign's output directory.
pub fn repro_file_name(seed: u64) -> String {
    format!("repro-{seed}.json")
}

/// The file name of a failing seed's history inside a campaign's output directory.
pub fn history_file_name(seed: u64) -> String {
    format!("history-{seed}.jsonl")
}

/// `word` as one shell word: as is when it holds only safe characters, else in single quotes.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=+,@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

pub(crate) fn render(report: &CampaignReport, options: &TextOptions) -> String {
    let mut out = String::new();
    render_header(&mut out, report);
    render_tables(&mut out, report, options.coverage);
    if let Some(seconds) = options.wall_seconds {
        let rate = report.totals.seeds_run as f64 / seconds.max(1e-9);
        let _ = writeln!(out, "wall time: {seconds:.2} s ({rate:.1} seeds/s)");
    }
    render_failing(&mut out, report, options);
    let totals = &report.totals;
    let regressions = report.regressions.iter().filter(|run| run.verdict.is_failure()).count();
    let _ = match (totals.failing, regressions) {
        (0, 0) => writeln!(out, "result: PASS (no finding in {} seeds)", totals.seeds_run),
        (n, 0) => writeln!(out, "result: FAIL ({n} of {} seeds failed)", totals.seeds_run),
        (n, r) => writeln!(out, "result: FAIL ({r} regression(s) and {n} of {} seeds failed)", totals.seeds_run),
    };
    out
}

fn render_header(out: &mut String, report: &CampaignReport) {
    let totals = &report.totals;
    let _ = writeln!(out, "scenario: {}", report.scenario);
    let _ = writeln!(out, "guarantee: {} ({})", report.guarantee.name(), report.guarantee.description());
    let end = report.seed_start.saturating_add(report.seeds);
    let _ = writeln!(out, "seeds: {}..{} ({} run)", report.seed_start, end, totals.seeds_run);
    if let Some(shard) = report.shard {
        let _ = writeln!(
            out,
            "shard: {shard} (the seeds s with (s - {}) % {} == {}: {} of {})",
            report.seed_start,
            shard.count,
            shard.index - 1,
            report.seeds_in_scope(),
            report.seeds
        );
    }
    if report.interrupted {
        let _ =
            writeln!(out, "interrupted: {} of {} seeds ran before Ctrl-C", totals.seeds_run, report.seeds_in_scope());
    } else if let Some(reason) = report.stopped {
        let _ = writeln!(out, "{}: {} of {} seeds ran", reason.describe(), totals.seeds_run, report.seeds_in_scope());
    }
    let verdicts: Vec<String> =
        totals.verdicts.iter().map(|(verdict, runs)| format!("{runs} {}", verdict.name())).collect();
    let _ = writeln!(out, "passing: {}, failing: {} ({})", totals.passing, totals.failing, verdicts.join(", "));
}

fn render_tables(out: &mut String, report: &CampaignReport, coverage: CoverageDetail) {
    render_anomalies(out, report);
    let totals = &report.totals;
    if totals.faults.is_empty() {
        out.push_str("faults: none injected\n");
    } else {
        out.push_str("faults (runs that injected each kind):\n");
        for (kind, runs) in &totals.faults {
            let _ = writeln!(out, "  {kind:<22} {runs:>7} runs");
        }
    }
    let _ = writeln!(out, "events: {}", totals.events);
    match coverage {
        CoverageDetail::Flagged => render_coverage_flagged(out, &report.coverage),
        CoverageDetail::Full => render_coverage(out, &report.coverage),
        CoverageDetail::None => {}
    }
}

/// The forbidden kinds one line each, as alarms; the kinds the guarantee allows on one line, since a passing
/// campaign of a transactional scenario finds dependency cycles (G0, G2-item) in most runs and they are no alarm.
fn render_anomalies(out: &mut String, report: &CampaignReport) {
    let anomalies = &report.totals.anomalies;
    if anomalies.is_empty() {
        out.push_str("anomalies: none\n");
        return;
    }
    let forbidden: Vec<_> = anomalies.iter().filter(|(_, tally)| tally.violation).collect();
    if !forbidden.is_empty() {
        out.push_str("anomalies (runs that found each kind):\n");
        for (kind, tally) in forbidden {
            let _ = writeln!(out, "  {:<22} {:>7} runs  violation", kind.name(), tally.runs);
        }
    }
    let allowed: Vec<String> = anomalies
        .iter()
        .filter(|(_, tally)| !tally.violation)
        .map(|(kind, tally)| format!("{} runs {}", tally.runs, kind.name()))
        .collect();
    if !allowed.is_empty() {
        let _ = writeln!(out, "allowed: {} (the guarantee allows them)", allowed.join(", "));
    }
}

/// The expected points no run reached, one line each, and one line counting the points that were reached.
fn render_coverage_flagged(out: &mut String, coverage: &Coverage) {
    if coverage.points.is_empty() {
        return;
    }
    let reached = coverage.points.values().filter(|point| point.runs > 0).count();
    let expected_reached = coverage.expected.len() - coverage.never_reached.len();
    let _ = writeln!(
        out,
        "coverage: {reached} points reached, {expected_reached} of {} expected ({} never reached; --coverage full \
         lists every point)",
        coverage.expected.len(),
        coverage.never_reached.len()
    );
    for name in &coverage.never_reached {
        let _ = writeln!(out, "  {name}  NEVER REACHED");
    }
}

/// The widest the coverage table's name column grows.
const COVERAGE_NAME_WIDTH_MAX: usize = 64;

/// Every coverage point with its runs and total count; expected points that no run reached are flagged.
fn render_coverage(out: &mut String, coverage: &Coverage) {
    if coverage.points.is_empty() {
        return;
    }
    // Capped: a name longer than the column runs past it rather than widening every row (and a width past
    // u16::MAX is one `format!` refuses with a panic).
    let width =
        coverage.points.keys().map(|name| name.chars().count()).max().unwrap_or(0).clamp(22, COVERAGE_NAME_WIDTH_MAX);
    out.push_str("coverage (runs that reached each point, total count):\n");
    for (name, point) in &coverage.points {
        let flag = if point.runs == 0 && coverage.is_expected(name) { "  NEVER REACHED" } else { "" };
        let _ = writeln!(out, "  {name:<width$} {:>7} runs {:>10}{flag}", point.runs, point.count);
    }
    if !coverage.never_reached.is_empty() {
        let _ = writeln!(out, "never reached: {}", coverage.never_reached.join(", "));
    }
}

fn render_failing(out: &mut String, report: &CampaignReport, options: &TextOptions) {
    let failing: Vec<&SeedRecord> = report.failing().collect();
    if let Some(line) = regressions_line(report) {
        out.push_str(&line);
    }
    if failing.is_empty() {
        return;
    }
    let _ = writeln!(out, "failing seeds ({} of {}):", failing.len(), report.records_run());
    for run in failing.iter().take(options.failing_listed_max) {
        let _ = writeln!(out, "  {}: {}", record_name(run), reason(run));
        for command in commands(run, options) {
            let _ = writeln!(out, "    {command}");
        }
    }
    if failing.len() > options.failing_listed_max {
        // Every failing seed stays replayable from the terminal: the rest are listed by number.
        let rest: Vec<String> =
            failing.iter().skip(options.failing_listed_max).map(|run| run.seed.to_string()).collect();
        let template = options.run_command_template();
        let _ =
            writeln!(out, "  ... and {} more, each replayed by `{template}`: seeds {}", rest.len(), rest.join(", "));
    }
}

/// `regressions: 3 replayed first, 1 fails` when the campaign replayed saved failures.
fn regressions_line(report: &CampaignReport) -> Option<String> {
    if report.regressions.is_empty() {
        return None;
    }
    let failing = report.regressions.iter().filter(|run| run.verdict.is_failure()).count();
    Some(format!("regressions: {} replayed first, {failing} fail\n", report.regressions.len()))
}

/// How a record is named in a list of failures: `seed 7`, or `regression FILE (seed 7)` for a replayed repro.
pub fn record_name(run: &SeedRecord) -> String {
    match &run.repro {
        Some(repro) => format!("regression {repro} (seed {})", run.seed),
        None => format!("seed {}", run.seed),
    }
}

/// The one reason a record failed, the same in the terminal, junit.xml and report.json: the verdict and its
/// finding (the first violation with its proof, the stall or the panic), or the violation kinds when there is
/// no finding.
pub fn reason(run: &SeedRecord) -> String {
    let kinds: Vec<&str> = run.violations.iter().map(|kind| kind.name()).collect();
    match (&run.finding, kinds.is_empty()) {
        (Some(finding), _) => format!("{}: {}", run.verdict.name(), finding),
        (None, false) => format!("{} ({})", run.verdict.name(), kinds.join(", ")),
        (None, true) => run.verdict.name().to_string(),
    }
}

/// The commands that run a failing record again: for a seed, `eosim run` and, when repro files were written,
/// `eosim replay` of its repro; for a replayed regression, `eosim replay` of the repro it came from.
pub fn commands(run: &SeedRecord, options: &TextOptions) -> Vec<String> {
    if let Some(repro) = &run.repro {
        return vec![replay_command(repro)];
    }
    let mut commands = vec![options.run_command(run.seed)];
    if let Some(dir) = &options.out_dir {
        let path = std::path::Path::new(dir).join(repro_file_name(run.seed));
        commands.push(replay_command(&path.to_string_lossy()));
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CampaignHeader, Verdict};
    use eosim_checker::{AnomalyKind, Guarantee};

    fn report(failing: u64) -> CampaignReport {
        let header = CampaignHeader {
            scenario: "at-most-once".to_string(),
            guarantee: Guarantee::Idempotent,
            seed_start: 0,
            seeds: failing + 1,
            shard: None,
            stopped: None,
        };
        let mut runs = vec![SeedRecord::new(0, Verdict::Pass)];
        for seed in 1..=failing {
            let mut run = SeedRecord::new(seed, Verdict::Violation);
            run.anomalies = vec![AnomalyKind::LostWrite];
            run.violations = vec![AnomalyKind::LostWrite];
            run.faults.insert("lost-request".to_string(), 3);
            runs.push(run);
        }
        CampaignReport::new(header, runs)
    }

    #[test]
    fn failing_seeds_come_with_their_commands_and_are_capped() {
        let mut options = TextOptions::new("at-most-once");
        options.out_dir = Some("out".to_string());
        options.failing_listed_max = 2;
        let text = report(3).render_text(&options);
        assert!(text.contains("seed 1: violation (lost-write)"), "{text}");
        assert!(text.contains("eosim run at-most-once --seed 2"), "{text}");
        assert!(text.contains("eosim replay out/repro-2.json"), "{text}");
        assert!(!text.contains("--seed 3"), "{text}");
        assert!(text.contains("... and 1 more"), "{text}");
        assert!(text.contains("lost-write                   3 runs  violation"), "{text}");
        assert!(text.contains("lost-request                 3 runs"), "{text}");
        assert!(text.contains("result: FAIL (3 of 4 seeds failed)"), "{text}");
    }

    #[test]
    fn a_clean_campaign_says_pass_and_lists_no_seed() {
        let text = report(0).render_text(&TextOptions::new("idempotent"));
        assert!(text.contains("result: PASS"), "{text}");
        assert!(text.contains("anomalies: none"), "{text}");
        assert!(!text.contains("failing seeds"), "{text}");
    }

    #[test]
    fn allowed_kinds_share_one_line_and_forbidden_ones_keep_theirs() {
        let mut campaign = report(1);
        let mut cycles = SeedRecord::new(2, Verdict::Pass);
        cycles.anomalies = vec![AnomalyKind::G0, AnomalyKind::G2Item];
        campaign.runs.push(cycles);
        let campaign = CampaignReport::new(campaign.header(), campaign.runs);
        let text = campaign.render_text(&TextOptions::new("at-most-once"));
        assert!(text.contains("  lost-write                   1 runs  violation\n"), "{text}");
        assert!(text.contains("allowed: 1 runs G0, 1 runs G2-item (the guarantee allows them)\n"), "{text}");
        assert!(!text.contains("runs  allowed"), "{text}");
    }

    #[test]
    fn coverage_is_flagged_points_by_default_on_the_terminal_and_all_on_request() {
        let mut campaign = report(1);
        campaign.coverage = Coverage::new(vec!["fault:lost-request".into(), "txn-state:Dead".into()]);
        campaign.coverage.add_run(&[("fault:lost-request".to_string(), 3), ("client:retry".to_string(), 1)].into());
        let mut options = TextOptions::new("at-most-once");
        let full = campaign.render_text(&options);
        assert!(full.contains("coverage (runs that reached each point, total count):"), "{full}");
        assert!(full.contains("client:retry"), "{full}");
        options.coverage = CoverageDetail::Flagged;
        let flagged = campaign.render_text(&options);
        let expected = "coverage: 2 points reached, 1 of 2 expected (1 never reached; --coverage full lists every \
                        point)\n  txn-state:Dead  NEVER REACHED\n";
        assert!(flagged.contains(expected), "{flagged}");
        assert!(!flagged.contains("client:retry"), "{flagged}");
        options.coverage = CoverageDetail::None;
        let none = campaign.render_text(&options);
        assert!(!none.contains("coverage") && !none.contains("NEVER REACHED"), "{none}");
    }

    #[test]
    fn odd_paths_are_quoted_for_the_shell() {
        assert_eq!(run_command("my scenarios/x.toml", 4, false), "eosim run 'my scenarios/x.toml' --seed 4");
        assert_eq!(replay_command("it's.json"), r"eosim replay 'it'\''s.json'");
        assert_eq!(run_command("scenarios/x.toml", 4, false), "eosim run scenarios/x.toml --seed 4");
        assert_eq!(run_command("eos-tv1", 12, true), "eosim run eos-tv1 --seed 12 --wide");
        let mut options = TextOptions::new("my scenarios/x.toml");
        options.wide = true;
        assert_eq!(options.run_command_template(), "eosim run 'my scenarios/x.toml' --seed N --wide");
    }
}
