//! The built-in scenarios, embedded in the binary, and how a SCENARIO argument is resolved.
//!
//! A SCENARIO argument is a built-in name (`eosim list` shows them), the alias `default`, or a path to a TOML
//! file. Built-in names win over files of the same name in the working directory, so `eosim run idempotent`
//! means the same thing everywhere.

use std::path::Path;

use eosim_model::{Scenario, ScenarioError};

use crate::diagnostic::Diagnostic;

/// A scenario shipped inside the binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Builtin {
    /// The name on the command line, also the scenario's `name`.
    pub name: &'static str,
    /// The file it came from, for error messages.
    pub file: &'static str,
    /// The TOML text.
    pub text: &'static str,
}

/// A built-in named `name`, embedded from `scenarios/<name>.toml`.
macro_rules! builtin {
    ($name:literal) => {
        Builtin {
            name: $name,
            file: concat!("scenarios/", $name, ".toml"),
            text: include_str!(concat!("../scenarios/", $name, ".toml")),
        }
    };
}

/// Every built-in scenario, in the order `eosim list` shows them.
pub const BUILTINS: &[Builtin] = &[
    builtin!("at-most-once"),
    builtin!("at-least-once"),
    builtin!("idempotent"),
    builtin!("idempotent-restart"),
    builtin!("idempotent-retention"),
    builtin!("idempotent-retention-2.4"),
    builtin!("acks-1-leader-loss"),
    builtin!("unclean-election"),
    builtin!("power-loss"),
    builtin!("eos-tv2"),
    builtin!("eos-tv1-verify"),
    builtin!("eos-tv1"),
    builtin!("atomic-writer"),
    builtin!("read-uncommitted"),
    builtin!("external-store"),
    builtin!("external-store-upsert"),
];

/// The alias for the scenario a campaign runs when none is named.
pub const DEFAULT_ALIAS: &str = "default";

/// The built-in scenario `default` stands for: the transaction version 2 pipeline under the full fault mix.
pub const DEFAULT_SCENARIO: &str = "eos-tv2";

/// Former names of built-in scenarios, still accepted: (alias, built-in name).
pub const RENAMED: &[(&str, &str)] = &[("eos-v1", "eos-tv1"), ("eos-v2", "eos-tv2")];

/// A scenario argument that could not be turned into a scenario.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not a built-in name, and not a path to an existing file.
    #[error("unknown scenario {name:?} (expected a built-in: {expected}; or a path to a .toml file)")]
    Unknown {
        /// The argument as given.
        name: String,
        /// The built-in names, joined with `|`.
        expected: String,
        /// The built-in name or alias closest to the argument, when it looks like a typo of one.
        suggestion: Option<&'static str>,
    },
    /// The argument is a path (it holds a `/` or ends in `.toml`) and nothing is there.
    #[error("{path}: no such file (expected a scenario TOML file)")]
    NoSuchFile {
        /// The path as given.
        path: String,
    },
    /// The file exists but could not be read.
    #[error("{path}: cannot read scenario file: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or breaks a rule; displays as `FILE:LINE:COL: message`.
    #[error(transparent)]
    Invalid(#[from] ScenarioError),
}

impl LoadError {
    /// The error as shown to a person: the message, the offending line with a caret, and a fix when one is known.
    pub fn diagnostic(&self) -> Diagnostic {
        match self {
            LoadError::Invalid(error) => Diagnostic::from(error),
            LoadError::Unknown { suggestion: Some(name), .. } => {
                Diagnostic::plain(self.to_string()).with_help(format!("did you mean `{name}`?"))
            }
            LoadError::Unknown { .. } | LoadError::NoSuchFile { .. } => {
                Diagnostic::plain(self.to_string()).with_help("`eosim list` shows the built-in scenarios")
            }
            LoadError::Read { .. } => Diagnostic::plain(self.to_string()),
        }
    }
}

/// Whether a SCENARIO argument names a file rather than a built-in: it holds a `/` or ends in `.toml`.
fn looks_like_path(arg: &str) -> bool {
    arg.contains('/') || arg.contains(std::path::MAIN_SEPARATOR) || arg.ends_with(".toml")
}

/// Every name a SCENARIO argument may take without a path: the built-ins, `default` and the former names.
fn known_names() -> impl Iterator<Item = &'static str> {
    let aliases = std::iter::once(DEFAULT_ALIAS).chain(RENAMED.iter().map(|(alias, _)| *alias));
    BUILTINS.iter().map(|builtin| builtin.name).chain(aliases)
}

/// A resolved scenario and how to name it again on a command line.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// How replay commands name it: the built-in name it resolved to, or the path as given.
    pub arg: String,
    /// The alias the user typed, when it was one (`default`).
    pub alias: Option<String>,
}

impl Loaded {
    /// One line naming the scenario, and the alias it was reached through, if any.
    pub fn describe(&self) -> String {
        match &self.alias {
            Some(alias) => format!("{} ({alias} resolves to {})", self.scenario.name, self.arg),
            None => self.scenario.name.clone(),
        }
    }
}

/// The built-in named `name`, if there is one.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|builtin| builtin.name == name)
}

/// Resolves a SCENARIO argument: `default`, a built-in name, or a path to a TOML file.
pub fn load(arg: &str) -> Result<Loaded, LoadError> {
    let renamed = RENAMED.iter().find(|(alias, _)| *alias == arg).map(|(_, name)| *name);
    let (name, alias) = match renamed {
        _ if arg == DEFAULT_ALIAS => (DEFAULT_SCENARIO, Some(arg.to_string())),
        Some(name) => (name, Some(arg.to_string())),
        None => (arg, None),
    };
    if let Some(builtin) = builtin(name) {
        let scenario = Scenario::from_toml(builtin.file, builtin.text)?;
        return Ok(Loaded { scenario, arg: builtin.name.to_string(), alias });
    }
    let path = Path::new(arg);
    if !path.exists() && looks_like_path(arg) {
        return Err(LoadError::NoSuchFile { path: arg.to_string() });
    }
    if !path.is_file() {
        let expected = BUILTINS.iter().map(|builtin| builtin.name).collect::<Vec<_>>().join("|");
        let suggestion = eosim_model::diagnose::did_you_mean(arg, known_names());
        return Err(LoadError::Unknown { name: arg.to_string(), expected, suggestion });
    }
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read { path: arg.to_string(), source })?;
    let scenario = Scenario::from_bytes(arg, &bytes)?;
    Ok(Loaded { scenario, arg: arg.to_string(), alias: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_carries_its_own_name() {
        for builtin in BUILTINS {
            let loaded = load(builtin.name).unwrap_or_else(|error| panic!("{}: {error}", builtin.name));
            assert_eq!(loaded.scenario.name, builtin.name);
            assert_eq!(loaded.arg, builtin.name);
            assert!(!loaded.scenario.description.is_empty());
        }
    }

    #[test]
    fn default_names_the_idempotent_scenario() {
        let loaded = load(DEFAULT_ALIAS).expect("default resolves");
        assert_eq!(loaded.scenario.name, DEFAULT_SCENARIO);
        assert_eq!(loaded.arg, DEFAULT_SCENARIO);
        assert_eq!(loaded.describe(), "eos-tv2 (default resolves to eos-tv2)");
    }

    #[test]
    fn former_names_still_resolve() {
        for (alias, name) in RENAMED {
            let loaded = load(alias).expect("a former name resolves");
            assert_eq!((loaded.scenario.name.as_str(), loaded.arg.as_str()), (*name, *name));
            assert_eq!(loaded.describe(), format!("{name} ({alias} resolves to {name})"));
        }
    }

    #[test]
    fn an_unknown_name_lists_the_builtins() {
        let error = load("no-such-scenario").expect_err("unknown");
        let message = error.to_string();
        assert!(message.contains("at-most-once|at-least-once|idempotent"), "{message}");
    }

    #[test]
    fn a_typo_gets_the_closest_name_and_a_missing_path_is_no_such_file() {
        let error = load("eos-tv3").expect_err("unknown");
        assert!(matches!(error, LoadError::Unknown { suggestion: Some("eos-tv2"), .. }), "{error}");
        assert!(error.diagnostic().render().ends_with("help: did you mean `eos-tv2`?"));
        for path in ["nothere.toml", "no/such/scenario"] {
            let error = load(path).expect_err("missing");
            assert_eq!(error.to_string(), format!("{path}: no such file (expected a scenario TOML file)"));
        }
        let far = load("zzzzzzzz").expect_err("unknown");
        assert!(matches!(far, LoadError::Unknown { suggestion: None, .. }), "{far}");
    }
}
