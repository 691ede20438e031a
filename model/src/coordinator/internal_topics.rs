//! Kafka's internal topics: the transaction log (`__transaction_state`) and `__consumer_offsets`.
//!
//! They are ordinary replicated partitions, numbered after the user partitions, so replication, leader
//! election and crash recovery serve them exactly as they serve user data. The leader of a transaction-log
//! partition is the transaction coordinator of every transactional id that hashes to it; the leader of an
//! offsets partition is the group coordinator of every group that hashes to it. Clients find their
//! coordinator from the partition leaders in their metadata, which is what Kafka's FindCoordinator answers.
//! Scenarios without transactions or groups have no internal partitions at all.

use crate::protocol::PartitionId;

/// Where the internal partitions are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InternalTopics {
    /// Index of the first internal partition (the number of user partitions).
    pub first_partition: u32,
    /// Partitions of the transaction log.
    pub transaction_log_partitions: u32,
    /// Partitions of `__consumer_offsets`.
    pub offsets_partitions: u32,
}

impl InternalTopics {
    /// Every partition of the cluster, user and internal.
    pub fn partition_count(&self) -> u32 {
        self.first_partition + self.transaction_log_partitions + self.offsets_partitions
    }

    /// The transaction-log partition that holds `transactional_id`.
    pub fn transaction_log_partition(&self, transactional_id: &str) -> PartitionId {
        assert!(self.transaction_log_partitions > 0, "the scenario has no transaction log");
        PartitionId(self.first_partition + stable_hash(transactional_id) % self.transaction_log_partitions)
    }

    /// The offsets partition that holds `group_id`.
    pub fn offsets_partition(&self, group_id: &str) -> PartitionId {
        assert!(self.offsets_partitions > 0, "the scenario has no offsets topic");
        let first = self.first_partition + self.transaction_log_partitions;
        PartitionId(first + stable_hash(group_id) % self.offsets_partitions)
    }

    /// True for a transaction-log partition.
    pub fn is_transaction_log(&self, partition: PartitionId) -> bool {
        (self.first_partition..self.first_partition + self.transaction_log_partitions).contains(&partition.0)
    }

    /// True for an offsets partition.
    pub fn is_offsets(&self, partition: PartitionId) -> bool {
        let first = self.first_partition + self.transaction_log_partitions;
        (first..first + self.offsets_partitions).contains(&partition.0)
    }

    /// The name of an internal partition, as `topic-partition`.
    pub fn name(&self, partition: PartitionId) -> String {
        if self.is_transaction_log(partition) {
            format!("__transaction_state-{}", partition.0 - self.first_partition)
        } else {
            assert!(self.is_offsets(partition), "partition {} is not internal", partition.0);
            format!("__consumer_offsets-{}", partition.0 - self.first_partition - self.transaction_log_partitions)
        }
    }
}

/// FNV-1a: a hash that is the same on every machine and every Rust release, unlike std's.
fn stable_hash(text: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in text.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_partitions_follow_the_user_partitions() {
        let topics = InternalTopics { first_partition: 4, transaction_log_partitions: 2, offsets_partitions: 1 };
        assert_eq!(topics.partition_count(), 7);
        let log = topics.transaction_log_partition("ctp-0");
        assert!(topics.is_transaction_log(log) && !topics.is_offsets(log));
        assert!((4..6).contains(&log.0));
        assert_eq!(topics.offsets_partition("pipeline"), PartitionId(6));
        assert_eq!(topics.name(PartitionId(6)), "__consumer_offsets-0");
        assert_eq!(topics.name(PartitionId(5)), "__transaction_state-1");
        // FNV-1a of "a" is 0xe40c292c: fixed, so ids land on the same partition everywhere.
        assert_eq!(stable_hash("a"), 0xe40c_292c);
    }
}
