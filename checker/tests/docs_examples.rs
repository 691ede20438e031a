//! The example history on each page of docs/checks/ shows the anomaly the page says it does.

use std::path::PathBuf;

use eosim_checker::{check, AnomalyKind, Guarantee, History};

/// The first fenced block of `docs/checks/<page>.md`.
fn example(page: &str) -> History {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../docs/checks/{page}.md"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let block: String = text.split("```").nth(1).unwrap_or_default().to_string();
    History::parse_jsonl(&path.display().to_string(), &block).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_page_shows_its_anomaly() {
    for &kind in AnomalyKind::ALL {
        let history = example(kind.name());
        let report = check(&history, Guarantee::KafkaEos);
        assert!(
            report.anomalies.iter().any(|a| a.kind == kind),
            "docs/checks/{}.md does not show it:\n{}",
            kind.name(),
            report.render_text(5)
        );
    }
}
