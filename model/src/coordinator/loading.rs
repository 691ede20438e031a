//! The coordinators' asynchronous load (Kafka's `loadingPartitions`): a broker that comes to lead a
//! `__transaction_state` or `__consumer_offsets` partition reads the partition's log before it coordinates
//! anything on it (`TransactionStateManager.loadTransactionsForTxnTopicPartition`, the group coordinator's
//! load), and answers COORDINATOR_LOAD_IN_PROGRESS meanwhile. Reading takes virtual time in proportion to
//! the log's length. A load is tied to the leader epoch it began in (Kafka's `coordinatorEpoch`): if the
//! leadership moves meanwhile, the load is abandoned, never completed into a coordinator of a partition
//! this broker no longer leads (the load/unload race).

use crate::protocol::PartitionId;
use std::collections::BTreeMap;

/// One load under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Load {
    /// The leader epoch of the internal partition the load began in.
    leader_epoch: u32,
    /// When the log has been read.
    ready_ns: u64,
}

/// What a leadership change did to the loads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadChange {
    /// A load of an earlier leader epoch (or of a partition no longer led) was abandoned.
    pub abandoned: bool,
    /// A load began for the current leader epoch.
    pub started: bool,
}

/// Every internal partition whose coordinator is loading on this broker.
#[derive(Clone, Debug, Default)]
pub struct CoordinatorLoads {
    loading: BTreeMap<PartitionId, Load>,
}

impl CoordinatorLoads {
    /// Nothing loading.
    pub fn new() -> CoordinatorLoads {
        CoordinatorLoads::default()
    }

    /// True while `partition`'s coordinator is loading: its requests get COORDINATOR_LOAD_IN_PROGRESS.
    pub fn is_loading(&self, partition: PartitionId) -> bool {
        self.loading.contains_key(&partition)
    }

    /// The partition's leadership as this broker now sees it: `leader_epoch` if it leads, `loaded` the epoch
    /// of the coordinator it runs for it; a log of `records` records loads for `records * load_ns_per_record`.
    pub fn on_leadership(
        &mut self,
        partition: PartitionId,
        leader_epoch: Option<u32>,
        loaded: Option<u32>,
        records: u64,
        now_ns: u64,
        load_ns_per_record: u64,
    ) -> LoadChange {
        let mut change = LoadChange::default();
        let loading = self.loading.get(&partition).map(|load| load.leader_epoch);
        if loading.is_some() && loading != leader_epoch {
            self.loading.remove(&partition);
            change.abandoned = true;
        }
        if let Some(leader_epoch) = leader_epoch {
            if loaded != Some(leader_epoch) && loading != Some(leader_epoch) {
                let ready_ns = now_ns + records * load_ns_per_record;
                self.loading.insert(partition, Load { leader_epoch, ready_ns });
                change.started = true;
            }
        }
        assert!(leader_epoch.is_some() || !self.is_loading(partition), "only a leader loads");
        change
    }

    /// The loads whose log has been read by `now_ns`, with the leader epoch each began in; they are no longer
    /// loading, and the caller completes each only if it still leads at that epoch.
    pub fn take_due(&mut self, now_ns: u64) -> Vec<(PartitionId, u32)> {
        let due: Vec<(PartitionId, u32)> = self
            .loading
            .iter()
            .filter(|(_, load)| load.ready_ns <= now_ns)
            .map(|(partition, load)| (*partition, load.leader_epoch))
            .collect();
        for (partition, _) in &due {
            self.loading.remove(partition);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const LOG: PartitionId = PartitionId(10);
    /// 1 ms per record: a 5-record log loads for 5 ms.
    const NS_PER_RECORD: u64 = MS;

    #[test]
    fn load_transactions_for_txn_topic_partition_takes_time_in_proportion_to_the_log() {
        let mut loads = CoordinatorLoads::new();
        let change = loads.on_leadership(LOG, Some(3), None, 5, 10 * MS, NS_PER_RECORD);
        assert_eq!(change, LoadChange { abandoned: false, started: true });
        assert!(loads.is_loading(LOG), "COORDINATOR_LOAD_IN_PROGRESS meanwhile");
        assert_eq!(loads.take_due(14 * MS), Vec::new());
        assert!(loads.is_loading(LOG));
        // The same leadership seen again does not restart the load.
        assert_eq!(loads.on_leadership(LOG, Some(3), None, 5, 12 * MS, NS_PER_RECORD), LoadChange::default());
        assert_eq!(loads.take_due(15 * MS), vec![(LOG, 3)]);
        assert!(!loads.is_loading(LOG), "requests are served once loaded");
        // Loaded at epoch 3: nothing to do until the leader epoch changes.
        assert_eq!(loads.on_leadership(LOG, Some(3), Some(3), 5, 16 * MS, NS_PER_RECORD), LoadChange::default());
        assert!(!loads.is_loading(LOG));
    }

    #[test]
    fn leadership_lost_mid_load_abandons_it() {
        let mut loads = CoordinatorLoads::new();
        loads.on_leadership(LOG, Some(3), None, 5, 0, NS_PER_RECORD);
        let change = loads.on_leadership(LOG, None, None, 5, 2 * MS, NS_PER_RECORD);
        assert_eq!(change, LoadChange { abandoned: true, started: false });
        assert!(!loads.is_loading(LOG));
        assert_eq!(loads.take_due(100 * MS), Vec::new(), "an abandoned load never completes");
    }

    #[test]
    fn a_new_leader_epoch_mid_load_restarts_it_at_that_epoch() {
        let mut loads = CoordinatorLoads::new();
        loads.on_leadership(LOG, Some(3), None, 5, 0, NS_PER_RECORD);
        let change = loads.on_leadership(LOG, Some(4), None, 6, 2 * MS, NS_PER_RECORD);
        assert_eq!(change, LoadChange { abandoned: true, started: true });
        assert_eq!(loads.take_due(7 * MS), Vec::new(), "the epoch-3 load would have been done at 5 ms");
        assert_eq!(loads.take_due(8 * MS), vec![(LOG, 4)]);
    }
}
