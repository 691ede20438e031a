//! Committed consumer offsets: per (group, partition), the offset a group last committed.
//!
//! A consumer group records its progress by committing, for each partition it reads, the offset of the next record
//! to read; a consumer that takes the partition over fetches it and resumes there. Exactly-once processing depends
//! on that hand-over: a fetch that returns an older commit than the last one re-processes records (duplicates
//! downstream), one that returns a commit that never happened skips them. The object is a register per (group,
//! partition): a fetch returns the last commit to take effect, or `None` if there was none. A commit may move the
//! offset backwards (a consumer that seeks back and commits), so commits are not required to grow. A transactional
//! commit (KIP-447's TxnOffsetCommit) takes effect when its transaction commits: give the operation the interval
//! from the commit request to the end of the transaction.
//!
//! Worked example, group g, partition orders-0. Consumer 1 commits 5 over [0, 10], then commits 9 over [20, 30];
//! consumer 2 fetches over [40, 50] and gets 5. Both commits returned before the fetch began, and the commit of 9
//! came last, so the fetch must see 9: not linearizable (the hand-over would re-process offsets 5 to 8). Had the
//! fetch begun at 25, during the second commit, it could have come first and 5 would be fine.

use super::Model;
use crate::{Key, Offset};
use std::borrow::Cow;

/// Committed offsets, one register per (group, partition), initially none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommittedOffsets;

/// What a consumer asked of the group coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OffsetsInput {
    /// Commit `offset` as the group's position in `key`.
    Commit {
        /// The consumer group.
        group: String,
        /// The partition.
        key: Key,
        /// The next offset to read.
        offset: Offset,
    },
    /// Fetch the group's committed position in `key`.
    Fetch {
        /// The consumer group.
        group: String,
        /// The partition.
        key: Key,
    },
}

/// What the group coordinator answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OffsetsOutput {
    /// The commit was acknowledged.
    Committed,
    /// The committed offset, or `None` if the group never committed one for the partition.
    Fetched(Option<Offset>),
}

impl Model for CommittedOffsets {
    /// The last committed offset of one (group, partition).
    type State = Option<Offset>;
    type Input = OffsetsInput;
    type Output = OffsetsOutput;

    fn init(&self) -> Option<Offset> {
        None
    }

    fn step(&self, state: &Option<Offset>, input: &OffsetsInput, output: &OffsetsOutput) -> Option<Option<Offset>> {
        match (input, output) {
            (OffsetsInput::Commit { offset, .. }, OffsetsOutput::Committed) => Some(Some(*offset)),
            (OffsetsInput::Fetch { .. }, OffsetsOutput::Fetched(seen)) => (seen == state).then_some(*state),
            _ => None,
        }
    }

    /// `group/partition`: each pair is independent of every other.
    fn partition<'a>(&self, input: &'a OffsetsInput) -> Cow<'a, str> {
        let (OffsetsInput::Commit { group, key, .. } | OffsetsInput::Fetch { group, key }) = input;
        // The length prefix keeps ("a/b", "c") and ("a", "b/c") apart, since names may contain '/'.
        Cow::Owned(format!("{}:{group}/{key}", group.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_sees_the_last_commit() {
        let model = CommittedOffsets;
        let commit = OffsetsInput::Commit { group: "g".into(), key: "k-0".into(), offset: 9 };
        let fetch = OffsetsInput::Fetch { group: "g".into(), key: "k-0".into() };
        let state = model.step(&Some(12), &commit, &OffsetsOutput::Committed);
        assert_eq!(state, Some(Some(9)), "a commit may go backwards");
        assert_eq!(model.step(&Some(9), &fetch, &OffsetsOutput::Fetched(Some(9))), Some(Some(9)));
        assert_eq!(model.step(&Some(9), &fetch, &OffsetsOutput::Fetched(Some(12))), None);
        assert_eq!(model.step(&None, &fetch, &OffsetsOutput::Fetched(None)), Some(None));
        assert_eq!(model.step(&None, &commit, &OffsetsOutput::Fetched(None)), None);
    }

    #[test]
    fn groups_and_partitions_are_kept_apart() {
        let fetch = |group: &str, key: &str| OffsetsInput::Fetch { group: group.into(), key: key.into() };
        let model = CommittedOffsets;
        assert_ne!(model.partition(&fetch("a/b", "c")), model.partition(&fetch("a", "b/c")));
        assert_eq!(model.partition(&fetch("g", "k")), model.partition(&fetch("g", "k")));
    }
}
