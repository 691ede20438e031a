//! A bug-zoo entry: the `[zoo]` table of a scenario under `scenarios/zoo/`, naming the Kafka bug the scenario
//! reproduces, what a campaign must find, and how the fixed protocol is run for comparison.
//!
//! The scenario itself runs the affected protocol: a variant whose design has the flaw (KAFKA-17754 under
//! transaction version 1) or a switch of `bugs.rs` that puts an implementation bug back. [`ZooSpec::fixed`] turns
//! it into the same scenario on the fixed protocol, which must run clean.

use serde::{Deserialize, Serialize};

use crate::bugs::KafkaBug;
use crate::scenario::{Scenario, Variant};

/// What a campaign must find and how the fix is run, for one bug.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZooSpec {
    /// The JIRA id, e.g. "KAFKA-17754".
    pub bug: String,
    /// One line: what goes wrong, in Kafka's words.
    pub title: String,
    /// The Kafka releases (and transaction version) that have the bug.
    pub affected: String,
    /// The release that fixed it, and how.
    pub fixed: String,
    /// How the fixed protocol is run.
    pub fix: ZooFix,
    /// Findings that count as this bug: anomaly kinds the checker reports ("G1a", "lost-write") or stall kinds
    /// ("hanging-transaction", "stuck-application", "stuck-consumer"); any one of them is a find.
    pub expect: Vec<String>,
    /// The most seeds a campaign may take to find the bug.
    #[serde(default = "default_seed_budget")]
    pub seed_budget: u64,
}

/// The fixed protocol: another variant, the switches off, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZooFix {
    /// The variant that fixed a design flaw (e.g. "eos-tv2" for KAFKA-17754).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<Variant>,
    /// The switches left on in the fixed run (usually none: the bug's own switch is off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_bugs: Option<Vec<KafkaBug>>,
}

fn default_seed_budget() -> u64 {
    1_000
}

/// The largest seed budget an entry may ask for.
pub const MAX_SEED_BUDGET: u64 = 100_000;

impl ZooSpec {
    /// Checks what serde cannot; returns the offending key and the message.
    pub fn validate(&self, scenario: &Scenario) -> Result<(), (&'static str, String)> {
        if !is_jira_id(&self.bug) {
            return Err(("bug", format!("expected a JIRA id like \"KAFKA-17754\", got {:?}", self.bug)));
        }
        if self.expect.is_empty() {
            return Err(("expect", "expected at least one anomaly or stall kind".into()));
        }
        if self.seed_budget == 0 || self.seed_budget > MAX_SEED_BUDGET {
            return Err(("seed_budget", format!("expected 1..={MAX_SEED_BUDGET} seeds")));
        }
        if self.fix.variant.is_none() && self.fix.kafka_bugs.is_none() {
            return Err(("fix", "expected `variant` or `kafka_bugs` (the switches left on in the fixed run)".into()));
        }
        let fixed = self.fixed(scenario);
        if fixed.variant == scenario.variant && fixed.kafka_bugs == scenario.kafka_bugs {
            return Err(("fix", "the fix must change the variant or the switches".into()));
        }
        Ok(())
    }

    /// The same scenario on the fixed protocol, without its `[zoo]` table.
    pub fn fixed(&self, scenario: &Scenario) -> Scenario {
        let mut fixed = scenario.clone();
        fixed.zoo = None;
        if let Some(variant) = self.fix.variant {
            fixed.variant = variant;
        }
        if let Some(bugs) = &self.fix.kafka_bugs {
            fixed.kafka_bugs = bugs.clone();
        }
        fixed.name = format!("{}-fixed", scenario.name);
        fixed
    }
}

fn is_jira_id(id: &str) -> bool {
    id.split_once('-').is_some_and(|(project, number)| {
        !project.is_empty()
            && project.bytes().all(|byte| byte.is_ascii_uppercase())
            && !number.is_empty()
            && number.bytes().all(|byte| byte.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
name = "zoo-test"
description = "a bug-zoo entry"
variant = "eos-tv2"
duration_ms = 200
kafka_bugs = ["KAFKA-19446"]
[cluster]
brokers = 1
topics = [{ name = "t", partitions = 1 }]
[workload]
producers = 0
messages_per_producer = 0
atomic_writers = 1
atomic_topic = "t"
"#;

    fn load(zoo: &str) -> Result<Scenario, crate::ScenarioError> {
        Scenario::from_toml("zoo.toml", &format!("{BASE}{zoo}"))
    }

    #[test]
    fn the_fixed_scenario_turns_the_switch_off() {
        let scenario = load(
            "[zoo]\nbug = \"KAFKA-19446\"\ntitle = \"t\"\naffected = \"4.0\"\nfixed = \"4.1.1\"\n\
             fix = { kafka_bugs = [] }\nexpect = [\"G1a\"]\n",
        )
        .unwrap();
        let spec = scenario.zoo.clone().unwrap();
        assert_eq!(spec.seed_budget, 1_000);
        let fixed = spec.fixed(&scenario);
        assert!(fixed.kafka_bugs.is_empty());
        assert!(fixed.zoo.is_none());
        assert_eq!(fixed.variant, Variant::EosTv2);
        assert_eq!(fixed.name, "zoo-test-fixed");
    }

    #[test]
    fn a_fix_that_changes_nothing_is_refused_at_its_line() {
        let error = load(
            "[zoo]\nbug = \"KAFKA-19446\"\ntitle = \"t\"\naffected = \"4.0\"\nfixed = \"4.1.1\"\n\
             fix = { variant = \"eos-tv2\" }\nexpect = [\"G1a\"]\n",
        )
        .unwrap_err();
        assert!(error.message.contains("must change"), "{error}");
        assert_eq!(error.line, 20, "{error}");
    }

    #[test]
    fn a_malformed_jira_id_and_an_empty_expectation_are_refused() {
        let bad_id = load(
            "[zoo]\nbug = \"17754\"\ntitle = \"t\"\naffected = \"a\"\nfixed = \"f\"\nfix = { kafka_bugs = [] }\n\
             expect = [\"G1a\"]\n",
        )
        .unwrap_err();
        assert!(bad_id.message.contains("JIRA id"), "{bad_id}");
        let no_expect = load(
            "[zoo]\nbug = \"KAFKA-1\"\ntitle = \"t\"\naffected = \"a\"\nfixed = \"f\"\nfix = { kafka_bugs = [] }\n\
             expect = []\n",
        )
        .unwrap_err();
        assert!(no_expect.message.contains("at least one"), "{no_expect}");
    }
}
