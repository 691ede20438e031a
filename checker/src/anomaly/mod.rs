//! One module per anomaly kind, each exporting `check(&Analysis) -> Vec<Anomaly>`.
//!
//! Each module's header says in plain words what went wrong and why it breaks exactly-once, then works a small
//! history by hand; its unit tests check that same history and a passing and a failing variant of it. Checks only
//! read the shared [`Analysis`](crate::Analysis): the list that runs them, in report order, is `CHECKS` in `lib.rs`.
//!
//! Intra-operation anomalies (Jepsen's `int-poll-skip`, `int-nonmonotonic-poll`, `int-nonmonotonic-send`,
//! `int-send-skip`) live beside their cross-operation cousins and read the [`Step`](crate::analysis::Step)s the
//! analysis found inside each operation. Writes to external stores (`sink-duplicate`, `sink-lost-write`) read the
//! [`SinkIndex`](crate::analysis::SinkIndex)es: they are eosim's own, as Jepsen has no sinks. So are the
//! consume-transform-produce checks (`transform-lost`, `transform-duplicate`), which read the
//! [`TransformIndex`](crate::analysis::TransformIndex)es built from each output send's `source`.

pub mod aborted_read;
pub mod duplicate;
pub mod inconsistent_offsets;
pub mod int_nonmonotonic_poll;
pub mod int_nonmonotonic_send;
pub mod int_poll_skip;
pub mod int_send_skip;
pub mod lost_write;
pub mod nonmonotonic_poll;
pub mod nonmonotonic_send;
pub mod poll_skip;
pub mod precommitted_read;
pub mod sink_duplicate;
pub mod sink_lost_write;
pub mod transform_duplicate;
pub mod transform_lost;
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

/// The offsets of `version_order` strictly between `low` and `high`: the known records a step jumped over.
pub(crate) fn between(version_order: &[u64], low: u64, high: u64) -> &[u64] {
    let start = version_order.partition_point(|&o| o <= low);
    let end = version_order.partition_point(|&o| o < high);
    version_order.get(start..end).unwrap_or(&[])
}

/// "offset 2, which is known to hold a record" or "2 offsets (2, 3) known to hold records", for skips.
pub(crate) fn skipped_phrase(skipped: &[u64]) -> String {
    match skipped {
        [one] => format!("offset {one}, which is known to hold a record"),
        _ => format!("{} offsets ({}) known to hold records", skipped.len(), join(skipped)),
    }
}

/// "1 known record (at offset 1)" or "2 known records (at offsets 1, 2)".
pub(crate) fn records_at(offsets: &[u64]) -> String {
    match offsets {
        [one] => format!("1 known record (at offset {one})"),
        _ => format!("{} known records (at offsets {})", offsets.len(), join(offsets)),
    }
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
        assert_eq!(between(&[0, 2, 3, 5], 0, 5), &[2, 3]);
        assert_eq!(between(&[0, 2, 3, 5], 5, 0), &[] as &[u64]);
        assert_eq!(skipped_phrase(&[2]), "offset 2, which is known to hold a record");
        assert_eq!(records_at(&[1, 2]), "2 known records (at offsets 1, 2)");
    }
}
