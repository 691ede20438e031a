//! One module per anomaly kind, each exporting `check(&Analysis) -> Vec<Anomaly>`.
//!
//! Each module's header says in plain words what went wrong and why it breaks exactly-once, then works a small
//! history by hand; its unit tests check that same history and a passing and a failing variant of it. Checks only
//! read the shared [`Analysis`](crate::Analysis): the list that runs them, in report order, is `CHECKS` in `lib.rs`.
//!
//! Intra-operation anomalies (Jepsen's `int-poll-skip`, `int-nonmonotonic-poll`, `int-nonmonotonic-send`) will
//! live beside their cross-operation cousins and read each op's record list in the same way.

pub mod aborted_read;
pub mod duplicate;
pub mod inconsistent_offsets;
pub mod lost_write;
pub mod nonmonotonic_poll;
pub mod nonmonotonic_send;
pub mod poll_skip;
pub mod unseen;

use std::fmt::{Display, Write as _};

/// At most this many items are listed in one explanation; the anomaly's fields hold them all.
const LISTED_MAX: usize = 8;

/// Joins items with ", " for an explanation, eliding the tail of a long list.
pub(crate) fn join<T: Display>(items: &[T]) -> String {
    let mut text = items.iter().take(LISTED_MAX).map(ToString::to_string).collect::<Vec<_>>().join(", ");
    if items.len() > LISTED_MAX {
        let _ = write!(text, " and {} more", items.len() - LISTED_MAX);
    }
    text
}

/// Sorts and removes repeats, for op lists.
pub(crate) fn sorted_distinct<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort_unstable();
    items.dedup();
    items
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::{Analysis, Anomaly, History};

    /// Parses `text` (JSON Lines) and runs one check over it.
    pub(crate) fn run(check: fn(&Analysis<'_>) -> Vec<Anomaly>, text: &str) -> Vec<Anomaly> {
        let history = match History::parse_jsonl("test.jsonl", text) {
            Ok(history) => history,
            Err(error) => panic!("test history does not parse: {error}"),
        };
        check(&Analysis::new(&history))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_elides_long_lists() {
        assert_eq!(join(&[1, 2, 3]), "1, 2, 3");
        assert_eq!(join(&(0..10).collect::<Vec<_>>()), "0, 1, 2, 3, 4, 5, 6, 7 and 2 more");
        assert_eq!(sorted_distinct(vec![3, 1, 3]), vec![1, 3]);
    }
}
