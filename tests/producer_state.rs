//! The producer-state lifecycle end to end: idempotent producers whose producer ids expire while faults hold
//! their retries back get duplicates on a KIP-360 broker (Kafka 4.x), retention alone keeps idempotence, and a
//! pre-KIP-360 broker answers UNKNOWN_PRODUCER_ID without the client falling over.

mod support;

use support::*;

/// Runs a campaign of `scenario` (a built-in name or a path) and returns its exit code and text.
fn campaign(scenario: &str, seeds: &str) -> (Option<i32>, String) {
    campaign_run(scenario, seeds, &[])
}

/// The built-in scenario's text with `edit` applied, written to a scratch file.
fn variant_of_retention(name: &str, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let text = read(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/idempotent-retention.toml")));
    let path = scratch_dir("producer_state", name).join(format!("{name}.toml"));
    std::fs::write(&path, edit(&text)).expect("the scratch file can be written");
    path
}

/// Whether the violated kinds are duplicates, and the non-linearizable logs they make (a record appended twice is
/// a log no order of single appends explains: `nonlinearizable-log`, which the idempotent claim forbids too).
fn only_duplicates(anomalies: &[&str]) -> bool {
    let duplicate = anomalies.iter().any(|line| line.starts_with("duplicate "));
    duplicate && anomalies.iter().all(|line| line.starts_with("duplicate ") || line.starts_with("nonlinearizable-log "))
}

#[test]
fn expired_producer_ids_let_late_retries_in_as_duplicates() {
    let (code, text) = campaign("idempotent-retention", "40");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("0 stall, 0 crash"), "{text}");
    let anomalies: Vec<&str> =
        text.lines().filter(|line| line.trim_end().ends_with("runs  violation")).map(str::trim).collect();
    assert!(only_duplicates(&anomalies), "{text}");
    assert!(runs_reaching(&text, "broker:producer-id-expired") > 0, "{text}");
    assert!(runs_reaching(&text, "broker:log-start-offset-incremented") > 0, "{text}");
}

#[test]
fn retention_alone_keeps_idempotence() {
    let path = variant_of_retention("retention-alone", |text| {
        text.lines().filter(|line| !line.starts_with("producer_id_expiration")).collect::<Vec<_>>().join("\n")
    });
    let (code, text) = campaign(arg(&path), "60");
    assert_eq!(code, Some(0), "{text}");
    assert!(runs_reaching(&text, "broker:log-start-offset-incremented") > 0, "{text}");
    assert_eq!(runs_reaching(&text, "broker:producer-id-expired"), 0, "{text}");
}

#[test]
fn a_pre_kip_360_broker_answers_unknown_producer_id() {
    // The built-in idempotent-retention-2.4: the broker answers UNKNOWN_PRODUCER_ID for a forgotten producer id,
    // the client bumps its epoch and resends at sequence 0, so a batch already in the log is appended again.
    let (code, text) = campaign("idempotent-retention-2.4", "40");
    assert_eq!(code, Some(1), "{text}");
    assert!(runs_reaching(&text, "broker-error:UNKNOWN_PRODUCER_ID") > 0, "{text}");
    assert!(runs_reaching(&text, "client:unknown-producer-id") > 0, "{text}");
    assert!(text.contains("0 stall, 0 crash"), "the client survives UNKNOWN_PRODUCER_ID: {text}");
    let anomalies: Vec<&str> =
        text.lines().filter(|line| line.trim_end().ends_with("runs  violation")).map(str::trim).collect();
    assert!(only_duplicates(&anomalies), "{text}");
}

#[test]
fn lifecycle_settings_are_validated_at_their_key() {
    for key in ["segment_messages", "retention_ms", "producer_id_expiration_ms"] {
        let path = variant_of_retention(&format!("zero-{key}"), |text| {
            text.lines()
                .map(|line| if line.starts_with(&format!("{key} =")) { format!("{key} = 0") } else { line.to_string() })
                .collect::<Vec<_>>()
                .join("\n")
        });
        let output = eosim(&["run", arg(&path), "--seed", "1"]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains(&format!("{key} must be at least 1")), "{}", stderr(&output));
    }
}
