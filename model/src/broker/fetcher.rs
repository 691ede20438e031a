//! The follower's side of replication: one fetcher per source broker, as Kafka's `ReplicaFetcherManager` gives
//! a follower one `ReplicaFetcherThread` per leader it copies from (`num.replica.fetchers` = 1).
//!
//! A fetcher holds the partitions this broker follows on one leader, each with the leader epoch it follows
//! and, after an error, the time before which it is not fetched (Kafka's `PartitionFetchState` with its
//! `delay`). At most one request is in flight: the fetcher's whole set in one `ReplicaFetchRequest`, as
//! `AbstractFetcherThread.maybeFetch` builds it. This file keeps the state and its rules; the broker
//! (`follower.rs`) reads the logs, sends, and arms the timers.

use crate::protocol::{PartitionId, ReplicaFetchPartition};
use eosim_sim::TimerId;
use std::collections::BTreeMap;

/// How one partition is fetched (Kafka's `PartitionFetchState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionFetchState {
    /// The leader epoch this broker follows the partition at (`currentLeaderEpoch`).
    pub leader_epoch: u32,
    /// Not fetched before this time: an error delayed it (`delayPartitions` with `replica.fetch.backoff.ms`).
    pub delayed_until_ns: u64,
    /// Not fetched until new metadata re-adds it: the leader said FENCED_LEADER_EPOCH at the epoch this
    /// broker follows, so it waits for the newer leadership (`markPartitionFailed`).
    pub failed: bool,
}

/// A fetch in flight: what each partition was asked for, to match the answer against the state now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlightFetch {
    /// The request's id, also the payload of its request-timeout timer.
    pub request_id: u64,
    /// Each partition as the request asked it (its leader epoch and fetch offset).
    pub partitions: Vec<ReplicaFetchPartition>,
    /// The request-timeout timer, cancelled when the answer comes.
    pub timeout_timer: Option<TimerId>,
}

/// The fetcher for one source broker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fetcher {
    /// The partitions this broker follows on that leader.
    pub partitions: BTreeMap<PartitionId, PartitionFetchState>,
    /// The one request in flight.
    pub in_flight: Option<InFlightFetch>,
    /// When the armed backoff timer fires, and the timer, if one is armed.
    pub backoff: Option<(u64, TimerId)>,
}

/// What a fetcher with nothing in flight does next (the branches of `AbstractFetcherThread.maybeFetch`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextFetch {
    /// Fetch the partitions [`Fetcher::ready`] gives.
    Send,
    /// Every partition is delayed: wait until the earliest delay ends.
    BackOff(u64),
    /// Nothing to fetch until metadata adds or re-adds a partition.
    Idle,
}

impl Fetcher {
    /// What to do now that nothing is in flight; partitions whose delay ended go into the request.
    pub fn next_fetch(&self, now_ns: u64) -> NextFetch {
        assert!(self.in_flight.is_none(), "one fetch in flight per source broker");
        if self.ready(now_ns).next().is_some() {
            return NextFetch::Send;
        }
        let earliest =
            (self.partitions.values()).filter(|state| !state.failed).map(|state| state.delayed_until_ns).min();
        match earliest {
            Some(due_ns) => {
                assert!(due_ns > now_ns, "a partition past its delay is fetched");
                NextFetch::BackOff(due_ns)
            }
            None => NextFetch::Idle,
        }
    }

    /// The partitions a request sent at `now_ns` carries, in partition order, each at the leader epoch it
    /// follows: those not failed whose delay ended. An iterator, not a list, because the broker builds the
    /// request from it directly, and a fetch is sent after nearly every answer.
    pub fn ready(&self, now_ns: u64) -> impl Iterator<Item = (PartitionId, u32)> + '_ {
        (self.partitions.iter())
            .filter(move |(_, state)| !state.failed && state.delayed_until_ns <= now_ns)
            .map(|(partition, state)| (*partition, state.leader_epoch))
    }

    /// True if an answer for `partition` sent at `leader_epoch` still applies: the partition is still fetched
    /// from this leader at that epoch (Kafka's `processFetchRequest` drops the data of a partition removed
    /// or re-added meanwhile).
    pub fn still_fetches(&self, partition: PartitionId, leader_epoch: u32) -> bool {
        self.partitions.get(&partition).is_some_and(|state| state.leader_epoch == leader_epoch && !state.failed)
    }

    /// Kafka's `delayPartitions`: `partition` is not fetched before `until_ns`.
    pub fn delay(&mut self, partition: PartitionId, until_ns: u64) {
        if let Some(state) = self.partitions.get_mut(&partition) {
            state.delayed_until_ns = state.delayed_until_ns.max(until_ns);
        }
    }

    /// A request given up (Kafka's `processFetchRequest` on an exception): every partition waits the backoff.
    pub fn delay_all(&mut self, until_ns: u64) {
        for state in self.partitions.values_mut() {
            state.delayed_until_ns = state.delayed_until_ns.max(until_ns);
        }
    }

    /// Kafka's `markPartitionFailed` for a fenced follower: no fetch until metadata re-adds the partition.
    pub fn fail(&mut self, partition: PartitionId) {
        if let Some(state) = self.partitions.get_mut(&partition) {
            state.failed = true;
        }
    }
}

/// Every fetcher of a broker, by source broker index (Kafka's `ReplicaFetcherManager`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaFetchers {
    by_leader: BTreeMap<u32, Fetcher>,
}

impl ReplicaFetchers {
    /// The fetcher for `leader`, if this broker follows something there or has a fetch in flight to it.
    pub fn get(&self, leader: u32) -> Option<&Fetcher> {
        self.by_leader.get(&leader)
    }

    /// The fetcher for `leader`, mutable.
    pub fn get_mut(&mut self, leader: u32) -> Option<&mut Fetcher> {
        self.by_leader.get_mut(&leader)
    }

    /// Kafka's `addFetcherForPartitions`: `partition` is fetched from `leader` at `leader_epoch`, after leaving
    /// whichever fetcher had it. Re-added at the same leader and epoch it keeps its state (delay included), as
    /// `AbstractFetcherThread.addPartitions` does; at a new one it starts fresh.
    pub fn add_partition(&mut self, partition: PartitionId, leader: u32, leader_epoch: u32) {
        let kept = self.get(leader).and_then(|fetcher| fetcher.partitions.get(&partition)).copied();
        if kept.is_some_and(|state| state.leader_epoch == leader_epoch && !state.failed) {
            return;
        }
        self.remove_partition(partition);
        let state = PartitionFetchState { leader_epoch, delayed_until_ns: 0, failed: false };
        self.by_leader.entry(leader).or_default().partitions.insert(partition, state);
    }

    /// Kafka's `removeFetcherForPartitions`: `partition` is fetched from nowhere. Returns the leader it left.
    pub fn remove_partition(&mut self, partition: PartitionId) -> Option<u32> {
        let leader = self.leader_of(partition)?;
        self.by_leader.get_mut(&leader).expect("found above").partitions.remove(&partition);
        Some(leader)
    }

    /// Kafka's `shutdownIdleFetcherThreads`: a fetcher with no partitions and nothing in flight goes.
    pub fn drop_if_idle(&mut self, leader: u32) {
        if self.get(leader).is_some_and(|fetcher| fetcher.partitions.is_empty() && fetcher.in_flight.is_none()) {
            self.by_leader.remove(&leader);
        }
    }

    /// Takes the fetch in flight to `leader` if it is `request_id`; None for an answer to a request given up.
    pub fn take_in_flight(&mut self, leader: u32, request_id: u64) -> Option<InFlightFetch> {
        let fetcher = self.by_leader.get_mut(&leader)?;
        if fetcher.in_flight.as_ref().map(|fetch| fetch.request_id) != Some(request_id) {
            return None;
        }
        fetcher.in_flight.take()
    }

    /// The leader whose fetch in flight is `request_id`.
    pub fn leader_of_request(&self, request_id: u64) -> Option<u32> {
        let request = |fetcher: &Fetcher| fetcher.in_flight.as_ref().map(|fetch| fetch.request_id);
        self.by_leader.iter().find(|(_, fetcher)| request(fetcher) == Some(request_id)).map(|(leader, _)| *leader)
    }

    /// The source broker `partition` is fetched from.
    pub fn leader_of(&self, partition: PartitionId) -> Option<u32> {
        self.by_leader
            .iter()
            .find(|(_, fetcher)| fetcher.partitions.contains_key(&partition))
            .map(|(leader, _)| *leader)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P0: PartitionId = PartitionId(0);
    const P1: PartitionId = PartitionId(1);

    /// The partitions of the request `fetcher` sends at `now_ns`; it must decide to send one.
    fn sent(fetcher: &Fetcher, now_ns: u64) -> Vec<(PartitionId, u32)> {
        assert_eq!(fetcher.next_fetch(now_ns), NextFetch::Send);
        fetcher.ready(now_ns).collect()
    }

    #[test]
    fn one_fetcher_per_leader_carries_all_its_partitions() {
        let mut fetchers = ReplicaFetchers::default();
        fetchers.add_partition(P0, 2, 5);
        fetchers.add_partition(P1, 2, 7);
        let fetcher = fetchers.get(2).expect("one fetcher for broker 2");
        assert_eq!(sent(fetcher, 0), vec![(P0, 5), (P1, 7)]);
        assert!(fetchers.get(1).is_none());
    }

    #[test]
    fn a_partition_moves_to_its_new_leaders_fetcher_and_the_old_one_goes_when_idle() {
        let mut fetchers = ReplicaFetchers::default();
        fetchers.add_partition(P0, 2, 5);
        fetchers.add_partition(P0, 3, 6);
        assert_eq!(fetchers.leader_of(P0), Some(3));
        assert!(!fetchers.get(2).expect("kept until dropped").still_fetches(P0, 5));
        fetchers.drop_if_idle(2);
        assert!(fetchers.get(2).is_none());
    }

    #[test]
    fn a_fetcher_with_a_request_in_flight_stays_until_the_answer() {
        let mut fetchers = ReplicaFetchers::default();
        fetchers.add_partition(P0, 2, 5);
        fetchers.get_mut(2).expect("added").in_flight =
            Some(InFlightFetch { request_id: 9, partitions: vec![], timeout_timer: None });
        fetchers.remove_partition(P0);
        fetchers.drop_if_idle(2);
        assert_eq!(fetchers.leader_of_request(9), Some(2));
        assert!(fetchers.take_in_flight(2, 8).is_none(), "another request's answer is not this one's");
        assert!(fetchers.take_in_flight(2, 9).is_some());
        fetchers.drop_if_idle(2);
        assert!(fetchers.get(2).is_none());
    }

    #[test]
    fn a_delayed_partition_waits_and_the_others_are_fetched() {
        let mut fetchers = ReplicaFetchers::default();
        fetchers.add_partition(P0, 2, 5);
        fetchers.add_partition(P1, 2, 5);
        let fetcher = fetchers.get_mut(2).expect("added");
        fetcher.delay(P0, 100);
        assert_eq!(sent(fetcher, 50), vec![(P1, 5)]);
        fetcher.delay(P1, 80);
        assert_eq!(fetcher.next_fetch(50), NextFetch::BackOff(80));
        assert_eq!(sent(fetcher, 80), vec![(P1, 5)]);
        assert_eq!(sent(fetcher, 100), vec![(P0, 5), (P1, 5)]);
    }

    #[test]
    fn a_fenced_partition_waits_for_metadata_and_a_new_epoch_clears_it() {
        let mut fetchers = ReplicaFetchers::default();
        fetchers.add_partition(P0, 2, 5);
        fetchers.get_mut(2).expect("added").fail(P0);
        assert_eq!(fetchers.get(2).expect("kept").next_fetch(1_000), NextFetch::Idle);
        fetchers.add_partition(P0, 2, 6);
        assert_eq!(sent(fetchers.get(2).expect("kept"), 0), vec![(P0, 6)]);
    }

    #[test]
    fn re_adding_at_the_same_epoch_keeps_the_delay() {
        let mut fetchers = ReplicaFetchers::default();
        fetchers.add_partition(P0, 2, 5);
        fetchers.get_mut(2).expect("added").delay_all(40);
        fetchers.add_partition(P0, 2, 5);
        assert_eq!(fetchers.get(2).expect("kept").next_fetch(0), NextFetch::BackOff(40));
    }
}
