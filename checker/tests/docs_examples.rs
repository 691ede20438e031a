//! The example history on each page of docs/checks/ shows the anomaly the page says it does.

use std::path::PathBuf;

use eosim_checker::{check, cycles, AnomalyKind, Guarantee, History};

/// The text of `docs/checks/<page>.md`, and its path.
fn page(page: &str) -> (String, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../docs/checks/{page}.md"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path.display().to_string(), text)
}

/// The first fenced block of `text`, as a history.
fn example(path: &str, text: &str) -> History {
    let block: String = text.split("```").nth(1).unwrap_or_default().to_string();
    History::parse_jsonl(path, &block).unwrap_or_else(|e| panic!("{e}"))
}

fn shows(history: &History, kind: AnomalyKind, path: &str) {
    let report = check(history, Guarantee::KafkaEos);
    assert!(
        report.anomalies.iter().any(|a| a.kind == kind),
        "{path} does not show {}:\n{}",
        kind.name(),
        report.render_text(5)
    );
}

#[test]
fn every_page_shows_its_anomaly() {
    // Linearizability has its own page (linearizability.md) and its own search, which `check` does not run.
    let checked = |k: AnomalyKind| !cycles::kinds().any(|c| c == k) && k != AnomalyKind::NonlinearizableLog;
    for &kind in AnomalyKind::ALL.iter().filter(|&&k| checked(k)) {
        let (path, text) = page(kind.name());
        shows(&example(&path, &text), kind, &path);
    }
}

/// The cycle kinds share one page: each is named there, and a section titled with its name shows it.
#[test]
fn the_cycles_page_names_every_cycle_and_shows_those_it_works() {
    let (path, text) = page("cycles");
    let mut worked = 0;
    for kind in cycles::kinds() {
        assert!(text.contains(kind.name()), "{path} does not name {}", kind.name());
        if let Some((_, section)) = text.split_once(&format!("\n### {}\n", kind.name())) {
            shows(&example(&path, section), kind, &path);
            worked += 1;
        }
    }
    assert!(worked >= 9, "{worked} cycle kinds worked on {path}");
}
