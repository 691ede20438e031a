//! `--shard K/N` and `--shard auto`: which slice of a campaign's seeds this machine runs.
//!
//! eosim schedules nothing across machines itself: shards run as a CI matrix or a Kubernetes
//! Indexed Job, and `eosim merge` joins their reports. `--shard auto` reads the shard from the job's environment:
//!
//! - Kubernetes Indexed Job: `JOB_COMPLETION_INDEX` (0-based). Kubernetes does not tell a pod how many
//!   completions its job has, so the count comes from `--shards N`, or else from `EOSIM_SHARDS`.
//! - GitLab CI `parallel:`: `CI_NODE_INDEX` (1-based) and `CI_NODE_TOTAL`.
//!
//! The environment is passed in as a function, so that tests need not touch the process's variables.

use eosim_reports::Shard;

/// The Kubernetes Indexed Job variable: this pod's 0-based completion index.
pub const K8S_INDEX: &str = "JOB_COMPLETION_INDEX";
/// The variable `--shard auto` reads the shard count from beside `JOB_COMPLETION_INDEX`, when `--shards` is absent.
pub const SHARDS_VAR: &str = "EOSIM_SHARDS";
/// GitLab's 1-based index of this job among its parallel jobs.
pub const GITLAB_INDEX: &str = "CI_NODE_INDEX";
/// GitLab's count of parallel jobs.
pub const GITLAB_TOTAL: &str = "CI_NODE_TOTAL";

/// A `--shard` argument: an explicit `K/N`, or `auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardArg {
    /// `--shard K/N`.
    Explicit(Shard),
    /// `--shard auto`: read it from the environment.
    Auto,
}

impl std::str::FromStr for ShardArg {
    type Err = String;

    fn from_str(text: &str) -> Result<ShardArg, String> {
        if text == "auto" {
            return Ok(ShardArg::Auto);
        }
        match text.parse() {
            Ok(shard) => Ok(ShardArg::Explicit(shard)),
            Err(_) => Err(format!("expected K/N with 1 <= K <= N (e.g. 2/4), or auto, not {text:?}")),
        }
    }
}

/// Why a shard could not be decided: bad usage, exit status 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// `--shard auto` found no shard in the environment.
    #[error(
        "--shard auto: no shard in the environment (expected {K8S_INDEX} with --shards N or {SHARDS_VAR}, as in a \
         Kubernetes Indexed Job; or {GITLAB_INDEX} and {GITLAB_TOTAL}, as in GitLab CI parallel jobs)"
    )]
    NotFound,
    /// A variable is set but is not a number in range.
    #[error("--shard auto: {name}={value:?} is not {expected}")]
    BadVariable {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// `JOB_COMPLETION_INDEX` is set, but nothing says how many shards there are.
    #[error("--shard auto: {K8S_INDEX} is set, but the shard count is not: pass --shards N or set {SHARDS_VAR}")]
    MissingCount,
    /// The index read from the environment is not below the count.
    #[error("--shard auto: shard index {index} is out of range for {count} shards (from {source_name})")]
    OutOfRange {
        /// The 1-based index.
        index: u64,
        /// The count.
        count: u64,
        /// Where the index came from.
        source_name: &'static str,
    },
    /// `--shards` with an explicit `--shard K/N` that disagrees, or without `--shard auto`.
    #[error("--shards {shards} does not go with --shard {shard}: --shards only gives the count to --shard auto")]
    Conflict {
        /// The --shards value.
        shards: u64,
        /// The --shard value.
        shard: String,
    },
}

/// The shard this process runs: `--shard` (if any) resolved against `--shards` and the environment `env`.
pub fn resolve(
    arg: Option<ShardArg>,
    shards: Option<u64>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Shard>, ShardError> {
    match (arg, shards) {
        (None, None) => Ok(None),
        (None, Some(shards)) => Err(ShardError::Conflict { shards, shard: "(absent)".to_string() }),
        (Some(ShardArg::Explicit(shard)), None) => Ok(Some(shard)),
        (Some(ShardArg::Explicit(shard)), Some(shards)) if shards == shard.count => Ok(Some(shard)),
        (Some(ShardArg::Explicit(shard)), Some(shards)) => {
            Err(ShardError::Conflict { shards, shard: shard.to_string() })
        }
        (Some(ShardArg::Auto), shards) => from_env(shards, env).map(Some),
    }
}

/// `--shard auto`: a Kubernetes index first (it is the more specific), then GitLab's pair.
fn from_env(shards: Option<u64>, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
    if let Some(value) = env(K8S_INDEX) {
        let index = number(K8S_INDEX, &value, "a 0-based index")?;
        let count = match shards {
            Some(count) => count,
            None => {
                let value = env(SHARDS_VAR).ok_or(ShardError::MissingCount)?;
                number(SHARDS_VAR, &value, "a positive shard count")?
            }
        };
        // A 0-based u64::MAX has no 1-based u64: it is out of range for any count, not the last shard of u64::MAX.
        let index = index.checked_add(1).ok_or(ShardError::BadVariable {
            name: K8S_INDEX,
            value: value.clone(),
            expected: "a 0-based index below the shard count",
        })?;
        return Shard::new(index, count).ok_or(ShardError::OutOfRange { index, count, source_name: K8S_INDEX });
    }
    let (Some(index), Some(total)) = (env(GITLAB_INDEX), env(GITLAB_TOTAL)) else {
        return Err(ShardError::NotFound);
    };
    let index = number(GITLAB_INDEX, &index, "a 1-based index")?;
    let count = number(GITLAB_TOTAL, &total, "a positive job count")?;
    if let Some(shards) = shards.filter(|shards| *shards != count) {
        return Err(ShardError::Conflict { shards, shard: format!("auto ({GITLAB_TOTAL}={count})") });
    }
    Shard::new(index, count).ok_or(ShardError::OutOfRange { index, count, source_name: GITLAB_INDEX })
}

fn number(name: &'static str, value: &str, expected: &'static str) -> Result<u64, ShardError> {
    value.trim().parse().map_err(|_| ShardError::BadVariable { name, value: value.to_string(), expected })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string())
    }

    fn error_names(error: &ShardError, text: &str) -> bool {
        error.to_string().contains(text)
    }

    fn auto(shards: Option<u64>, pairs: &'static [(&'static str, &'static str)]) -> Result<Option<Shard>, ShardError> {
        resolve(Some(ShardArg::Auto), shards, &env_of(pairs))
    }

    #[test]
    fn kubernetes_indexes_are_0_based_and_need_a_count() {
        assert_eq!(auto(Some(4), &[(K8S_INDEX, "0")]), Ok(Shard::new(1, 4)));
        assert_eq!(auto(None, &[(K8S_INDEX, "3"), (SHARDS_VAR, "4")]), Ok(Shard::new(4, 4)));
        assert_eq!(auto(None, &[(K8S_INDEX, "3")]), Err(ShardError::MissingCount));
        assert!(matches!(auto(Some(4), &[(K8S_INDEX, "4")]), Err(ShardError::OutOfRange { index: 5, .. })));
        assert!(matches!(auto(Some(4), &[(K8S_INDEX, "x")]), Err(ShardError::BadVariable { .. })));
        let last = auto(Some(u64::MAX), &[(K8S_INDEX, "18446744073709551615")]).expect_err("one past u64::MAX");
        assert!(error_names(&last, "JOB_COMPLETION_INDEX=\"18446744073709551615\""), "{last}");
    }

    #[test]
    fn gitlab_indexes_are_1_based() {
        assert_eq!(auto(None, &[(GITLAB_INDEX, "2"), (GITLAB_TOTAL, "3")]), Ok(Shard::new(2, 3)));
        assert_eq!(auto(Some(3), &[(GITLAB_INDEX, "3"), (GITLAB_TOTAL, "3")]), Ok(Shard::new(3, 3)));
        assert!(matches!(auto(Some(2), &[(GITLAB_INDEX, "1"), (GITLAB_TOTAL, "3")]), Err(ShardError::Conflict { .. })));
        assert!(matches!(auto(None, &[(GITLAB_INDEX, "0"), (GITLAB_TOTAL, "3")]), Err(ShardError::OutOfRange { .. })));
    }

    #[test]
    fn nothing_in_the_environment_says_where_to_look() {
        let error = auto(Some(2), &[(GITLAB_INDEX, "1")]).expect_err("no total");
        assert_eq!(error, ShardError::NotFound);
        assert!(error.to_string().contains("JOB_COMPLETION_INDEX"), "{error}");
        assert!(error.to_string().contains("CI_NODE_INDEX"), "{error}");
    }

    #[test]
    fn explicit_shards_and_their_conflicts() {
        let none = env_of(&[]);
        assert_eq!(resolve(None, None, &none), Ok(None));
        assert_eq!(resolve(Some("1/2".parse().expect("K/N")), None, &none), Ok(Shard::new(1, 2)));
        assert_eq!(resolve(Some("1/2".parse().expect("K/N")), Some(2), &none), Ok(Shard::new(1, 2)));
        assert!(matches!(resolve(Some("1/2".parse().expect("K/N")), Some(3), &none), Err(ShardError::Conflict { .. })));
        assert!(matches!(resolve(None, Some(3), &none), Err(ShardError::Conflict { .. })));
        assert!("0/2".parse::<ShardArg>().is_err());
        assert_eq!("auto".parse::<ShardArg>(), Ok(ShardArg::Auto));
    }
}
