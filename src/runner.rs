//! One seed of a scenario: simulate, check the history against the claimed guarantee, give a verdict.
//!
//! A panic inside the model (or the checker) is a finding, never the end of a campaign: [`run_seed`] catches it
//! and returns a `crash` verdict carrying the seed and the panic message. While a run is being caught, the panic
//! hook records the message instead of printing it, so a campaign's terminal stays readable; panics anywhere else
//! still print as usual.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use eosim_checker::{check, linearizable, Anomaly, AnomalyKind, Guarantee, Report};
use eosim_model::{simulate, Scenario, SimOutcome};
use eosim_reports::{SeedRecord, Verdict};

/// Everything one seed produced, and how it ended.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// How the run ended.
    pub verdict: Verdict,
    /// What the simulation produced; `None` when the model panicked before returning.
    pub outcome: Option<SimOutcome>,
    /// The checker's report; `None` when the model or the checker panicked.
    pub report: Option<Report>,
    /// The panic message, with its source location, when the verdict is `crash`.
    pub panic_message: Option<String>,
}

impl RunResult {
    /// The trace hash, unless the model panicked before producing one.
    pub fn trace_hash(&self) -> Option<&str> {
        self.outcome.as_ref().map(|outcome| outcome.trace_hash.as_str())
    }

    /// Why the run failed, in one line, the same in every output (terminal, report.json, junit.xml, index.html):
    /// the panic message; else the first violation, its kind and its sentence; else what stalled.
    pub fn finding(&self) -> Option<String> {
        if let Some(message) = &self.panic_message {
            return Some(format!("the model panicked: {message}"));
        }
        if let Some(violation) = self.report.as_ref().and_then(|report| report.violations().next()) {
            return Some(format!("{}: {}", violation.kind.name(), violation.explanation));
        }
        let stall = self.outcome.as_ref().and_then(|outcome| outcome.stall.as_ref())?;
        Some(format!("stalled: {stall}"))
    }

    /// Every anomaly kind found, violation or not, once each, in report order.
    pub fn anomaly_kinds(&self) -> Vec<AnomalyKind> {
        let Some(report) = &self.report else { return Vec::new() };
        report.counts().into_keys().collect()
    }

    /// The anomaly kinds the claimed guarantee forbids, once each, in report order.
    pub fn violation_kinds(&self) -> Vec<AnomalyKind> {
        let Some(report) = &self.report else { return Vec::new() };
        report.counts().into_keys().filter(|kind| report.forbids(*kind)).collect()
    }

    /// The run as one line of a campaign report.
    pub fn seed_record(&self) -> SeedRecord {
        let mut record = SeedRecord::new(self.seed, self.verdict);
        record.trace_hash = self.trace_hash().map(str::to_string);
        record.anomalies = self.anomaly_kinds();
        record.violations = self.violation_kinds();
        record.finding = self.finding();
        if let Some(outcome) = &self.outcome {
            record.faults = outcome.stats.faults.clone();
            record.events = outcome.stats.events;
        }
        record
    }
}

/// Runs `scenario` with `seed`, checks its history against `scenario.guarantee()`, and judges it.
///
/// Verdict order: a panic is a `crash`; else a forbidden anomaly, or a partition log that is provably not
/// linearizable under a guarantee that forbids duplicates, is a `violation` (even if the run also stalled,
/// because a safety violation is the more specific finding); else a stall is a `stall`; else `pass`.
pub fn run_seed(scenario: &Scenario, seed: u64) -> RunResult {
    let outcome = match catch_panic(|| simulate(scenario, seed)) {
        Ok(outcome) => outcome,
        Err(message) => return crashed(seed, None, message),
    };
    assert_eq!(outcome.seed, seed, "the model reports the seed it ran");
    let mut report = match catch_panic(|| check(&outcome.history, scenario.guarantee())) {
        Ok(report) => report,
        Err(message) => return crashed(seed, Some(outcome), format!("in the checker: {message}")),
    };
    let found = match catch_panic(|| not_linearizable(&outcome.history, scenario.guarantee())) {
        Ok(found) => found,
        Err(message) => return crashed(seed, Some(outcome), format!("in the linearizability checker: {message}")),
    };
    report.anomalies.extend(found);
    let verdict = if !report.is_valid() {
        Verdict::Violation
    } else if outcome.stall.is_some() {
        Verdict::Stall
    } else {
        Verdict::Pass
    };
    RunResult { seed, verdict, outcome: Some(outcome), report: Some(report), panic_message: None }
}

/// Every partition log that is provably not linearizable, as a `nonlinearizable-log` anomaly, for guarantees
/// that forbid those (the ones that promise each record once: under them a log must be explained by appends
/// taking effect in real-time order; a duplicate makes a log non-linearizable, which the weaker guarantees
/// allow, so they are not asked). A search that hits its bound proves nothing and is not a finding.
fn not_linearizable(history: &eosim_checker::History, guarantee: Guarantee) -> Vec<Anomaly> {
    if !guarantee.forbids(AnomalyKind::NonlinearizableLog) {
        return Vec::new();
    }
    linearizable::anomalies(history, linearizable::SearchBudget::default()).0
}

fn crashed(seed: u64, outcome: Option<SimOutcome>, message: String) -> RunResult {
    RunResult { seed, verdict: Verdict::Crash, outcome, report: None, panic_message: Some(message) }
}

thread_local! {
    /// True while this thread runs work whose panics are findings.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    /// The last captured panic's message and location.
    static CAPTURED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `work`; a panic inside it becomes `Err(message at location)` and prints nothing. Calls nest (the fuzz
/// harness catches around a replay that catches around its run).
pub(crate) fn catch_panic<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    install_capturing_hook();
    CAPTURED.with(|captured| captured.borrow_mut().take());
    let outer = CAPTURING.with(|capturing| capturing.replace(true));
    // The simulation owns all its state and is dropped on unwind, so nothing half-updated is observed afterwards.
    let result = panic::catch_unwind(AssertUnwindSafe(work));
    CAPTURING.with(|capturing| capturing.set(outer));
    result.map_err(|payload| {
        let recorded = CAPTURED.with(|captured| captured.borrow_mut().take());
        recorded.unwrap_or_else(|| payload_text(payload.as_ref()))
    })
}

/// Installs, once per process, a panic hook that records instead of printing on threads inside
/// [`catch_panic`], and defers to the previous hook everywhere else.
fn install_capturing_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CAPTURING.with(Cell::get) {
                previous(info);
                return;
            }
            let message = info.payload_as_str().unwrap_or("(a panic without a message)");
            let text = match info.location() {
                Some(location) => format!("{message} (at {location})"),
                None => message.to_string(),
            };
            CAPTURED.with(|captured| *captured.borrow_mut() = Some(text));
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        return (*text).to_string();
    }
    payload.downcast_ref::<String>().cloned().unwrap_or_else(|| "(a panic without a message)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_location() {
        let error = catch_panic(|| -> u32 { panic!("broker invariant broken: {}", 42) }).expect_err("panics");
        assert!(error.starts_with("broker invariant broken: 42 (at src/runner.rs:"), "{error}");
        assert_eq!(catch_panic(|| 7), Ok(7));
    }

    #[test]
    fn a_crashed_run_is_a_finding_without_a_hash() {
        let result = crashed(9, None, "boom".to_string());
        assert_eq!(result.verdict, Verdict::Crash);
        assert_eq!(result.trace_hash(), None);
        let record = result.seed_record();
        assert_eq!(record.seed, 9);
        assert_eq!(record.finding.as_deref(), Some("the model panicked: boom"));
        assert!(record.anomalies.is_empty());
    }
}
