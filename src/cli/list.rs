//! `eosim list`: the built-in scenarios, one line each, or as JSON.

use std::process::ExitCode;

use anyhow::Context as _;
use eosim::scenarios;
use eosim_model::Scenario;
use serde::Serialize;

use super::shared::{emit, to_json};
use super::Format;

#[derive(Serialize)]
struct ListEntry {
    name: &'static str,
    description: String,
    variant: &'static str,
    guarantee: &'static str,
    /// `["pass"]`, or the anomaly kinds the scenario's failing seeds show, the one it is about first.
    expect: Vec<String>,
}

/// `eosim list`: the built-in scenarios.
pub(super) fn command_list(format: Format) -> anyhow::Result<ExitCode> {
    let mut entries = Vec::new();
    for builtin in scenarios::BUILTINS {
        let scenario = Scenario::from_toml(builtin.file, builtin.text).context("a built-in scenario is invalid")?;
        let expect = scenario.expect.as_ref().with_context(|| format!("{} states no expect", builtin.file))?;
        entries.push(ListEntry {
            name: builtin.name,
            description: scenario.description.clone(),
            variant: scenario.variant.name(),
            guarantee: scenario.guarantee().name(),
            expect: expect.names().into_iter().map(str::to_string).collect(),
        });
    }
    let text = match format {
        Format::Json => to_json(&entries)?,
        Format::Text => list_text(&entries),
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// One line per built-in: name, variant, expected outcome, description; then the aliases.
fn list_text(entries: &[ListEntry]) -> String {
    // The kind a scenario is about comes first; the others it also shows are counted (--format json lists them).
    let expects: Vec<String> = entries
        .iter()
        .map(|entry| match entry.expect.split_first() {
            Some((first, [])) => first.clone(),
            Some((first, rest)) => format!("{first} +{}", rest.len()),
            None => String::new(),
        })
        .collect();
    let width = entries.iter().map(|entry| entry.name.len()).max().unwrap_or(0);
    let variant_width = entries.iter().map(|entry| entry.variant.len()).max().unwrap_or(0);
    let expect_width = expects.iter().map(String::len).max().unwrap_or(0);
    let mut text = String::new();
    for (entry, expect) in entries.iter().zip(&expects) {
        text.push_str(&format!(
            "{:<width$}  {:<variant_width$}  {expect:<expect_width$}  {}\n",
            entry.name, entry.variant, entry.description
        ));
    }
    text.push_str(&format!("{:<width$}  alias of {}\n", scenarios::DEFAULT_ALIAS, scenarios::DEFAULT_SCENARIO));
    for (alias, name) in scenarios::RENAMED {
        text.push_str(&format!("{alias:<width$}  former name of {name}\n"));
    }
    text
}
