//! The group coordinator: consumer groups whose `__consumer_offsets` partition this broker leads, with their
//! members, generations, assignments and committed offsets (Kafka's `GroupCoordinator` and
//! `OffsetMetadataManager`).
//!
//! Membership: a member joins with its subscription and gets the partitions the coordinator assigns (round
//! robin over the members in id order — the server-side assignment of KIP-848, folded into one JoinGroup
//! round trip). Every change of membership (a join, a member silent past its session timeout) starts a new
//! generation, written to the offsets partition before anyone hears of it, so a coordinator that fails over
//! keeps fencing the old generation. Members learn of a new generation on their next heartbeat
//! (REBALANCE_IN_PROGRESS) and join again.
//!
//! Offsets: TxnOffsetCommit (KIP-447) carries the member and its generation and is fenced like a plain
//! commit (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION); it is appended as a transactional record of the producer,
//! so a fenced producer epoch is refused by the partition, and it stays pending per producer id until that
//! producer's marker lands on the offsets partition ([`GroupCoordinator::on_marker`]) and commits or drops
//! it. OffsetFetch with requireStable answers UNSTABLE_OFFSET_COMMIT while a requested partition has pending
//! offsets, so a new owner never starts from an offset about to change.
//!
//! Like the transaction coordinator it is a pure state machine returning [`GroupEffect`]s.

use crate::coordinator::txn::Waiter;
use crate::protocol::{ControlMarker, ErrorCode, GroupReply, InternalRecord, PartitionId, ProducerIdentity};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One member of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// `session.timeout.ms`.
    pub session_timeout_ns: u64,
    /// Last heartbeat or join.
    pub last_seen_ns: u64,
    /// Its partitions in the current generation.
    pub assignment: Vec<PartitionId>,
}

/// A consumer group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Group {
    /// The generation; bumped at every rebalance.
    pub generation: u32,
    /// Members by id.
    pub members: BTreeMap<String, Member>,
    /// The partitions the group consumes.
    pub subscription: Vec<PartitionId>,
    /// Committed offsets.
    pub committed: BTreeMap<PartitionId, u64>,
    /// Transactional offsets waiting for their producer's marker.
    pub pending_txn: BTreeMap<u64, BTreeMap<PartitionId, u64>>,
    /// A rebalance being written: its generation and assignment take effect once replicated, so a
    /// generation number is never told to anyone before it is durable (and never reused after a fail-over).
    rebalancing: Option<(u32, BTreeMap<String, Vec<PartitionId>>)>,
    /// Membership changed but the rebalance's write failed: the tick writes a new one.
    needs_rebalance: bool,
}

/// What a write to the offsets partition is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupWrite {
    /// A new generation; the waiter is the member whose join caused it.
    Generation {
        /// The group.
        group_id: String,
        /// The joiner to answer.
        waiter: Option<(Waiter, String)>,
    },
    /// An offset commit: transactional (pending until the producer's marker) when it has a producer.
    Offsets {
        /// The group.
        group_id: String,
        /// The producer of a TxnOffsetCommit.
        producer_id: Option<u64>,
        /// The offsets.
        offsets: Vec<(PartitionId, u64)>,
        /// Who to answer.
        waiter: Waiter,
    },
}

/// What the broker must do for the group coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupEffect {
    /// Append a record to offsets partition `log`, then call [`GroupCoordinator::on_append`] with `write`.
    Append {
        /// The offsets partition.
        log: PartitionId,
        /// Set on a transactional offset commit.
        producer: Option<ProducerIdentity>,
        /// The record.
        record: InternalRecord,
        /// What it is for.
        write: GroupWrite,
    },
    /// Answer a client.
    Reply {
        /// Who.
        waiter: Waiter,
        /// The answer.
        result: Result<GroupReply, ErrorCode>,
    },
}

/// Every group this broker coordinates.
#[derive(Clone, Debug, Default)]
pub struct GroupCoordinator {
    partitions: BTreeMap<PartitionId, BTreeMap<String, Group>>,
    coverage: Vec<Cow<'static, str>>,
}

impl GroupCoordinator {
    /// A coordinator of nothing yet.
    pub fn new() -> GroupCoordinator {
        GroupCoordinator::default()
    }

    /// True if this broker coordinates offsets partition `log`.
    pub fn coordinates(&self, log: PartitionId) -> bool {
        self.partitions.contains_key(&log)
    }

    /// The group, if loaded here.
    pub fn group(&self, log: PartitionId, group_id: &str) -> Option<&Group> {
        self.partitions.get(&log)?.get(group_id)
    }

    /// One line per loaded group: generation and members with their partitions, for stall reports.
    pub fn describe(&self) -> Vec<String> {
        let groups = self.partitions.iter().flat_map(|(log, groups)| groups.iter().map(move |g| (log, g)));
        groups
            .map(|(log, (id, group))| {
                let members: Vec<String> = group
                    .members
                    .iter()
                    .map(|(member, m)| format!("{member} {:?} seen {} ms", m.assignment, m.last_seen_ns / 1_000_000))
                    .collect();
                format!(
                    "{id}@{}: generation {} rebalancing {} members [{}]",
                    log.0,
                    group.generation,
                    group.rebalancing.is_some(),
                    members.join(", ")
                )
            })
            .collect()
    }

    /// Coverage counter names since the last call.
    pub fn take_coverage(&mut self) -> Vec<Cow<'static, str>> {
        std::mem::take(&mut self.coverage)
    }

    /// Becomes the coordinator of `log`, replaying its records: generations, offsets, and markers that
    /// settle transactional offsets. Members get a fresh session: they are presumed alive until silent.
    pub fn load(&mut self, log: PartitionId, records: &[LoadedRecord], now_ns: u64) {
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for record in records {
            match record {
                LoadedRecord::Record { producer, record: InternalRecord::Group { group_id, generation, members } } => {
                    let _ = producer;
                    let group = groups.entry(group_id.clone()).or_default();
                    group.generation = *generation;
                    group.members = members
                        .iter()
                        .map(|(id, session_timeout_ns, assignment)| {
                            let member = Member {
                                session_timeout_ns: *session_timeout_ns,
                                last_seen_ns: now_ns,
                                assignment: assignment.clone(),
                            };
                            (id.clone(), member)
                        })
                        .collect();
                    let mut subscription: Vec<PartitionId> =
                        members.iter().flat_map(|(_, _, assignment)| assignment.iter().copied()).collect();
                    subscription.sort();
                    if !subscription.is_empty() {
                        group.subscription = subscription;
                    }
                }
                LoadedRecord::Record { producer, record: InternalRecord::Offsets { group_id, offsets } } => {
                    let group = groups.entry(group_id.clone()).or_default();
                    match producer {
                        Some(identity) => {
                            group.pending_txn.entry(identity.producer_id).or_default().extend(offsets.iter().copied())
                        }
                        None => group.committed.extend(offsets.iter().copied()),
                    }
                }
                LoadedRecord::Record { record: InternalRecord::Txn(_), .. } => {}
                LoadedRecord::Marker { producer_id, marker } => {
                    for group in groups.values_mut() {
                        settle(group, *producer_id, *marker);
                    }
                }
            }
        }
        self.partitions.insert(log, groups);
        self.coverage.push("group:loaded".into());
    }

    /// Stops coordinating `log`.
    pub fn unload(&mut self, log: PartitionId) {
        self.partitions.remove(&log);
    }

    /// JoinGroup: a known member gets its current assignment; a new one starts a rebalance.
    #[allow(clippy::too_many_arguments)]
    pub fn join(
        &mut self,
        log: PartitionId,
        group_id: &str,
        member_id: &str,
        session_timeout_ns: u64,
        subscription: &[PartitionId],
        waiter: Waiter,
        now_ns: u64,
    ) -> Vec<GroupEffect> {
        let Some(groups) = self.partitions.get_mut(&log) else { return reply(waiter, ErrorCode::NotCoordinator) };
        let group = groups.entry(group_id.to_string()).or_default();
        if group.rebalancing.is_some() {
            return reply(waiter, ErrorCode::RebalanceInProgress);
        }
        if group.subscription.is_empty() {
            group.subscription = subscription.to_vec();
        }
        if let Some(member) = group.members.get_mut(member_id) {
            member.last_seen_ns = now_ns;
            if !group.needs_rebalance {
                let joined = GroupReply::Joined { generation: group.generation, assignment: member.assignment.clone() };
                return vec![GroupEffect::Reply { waiter, result: Ok(joined) }];
            }
            // The generation this member's last join started was never written: its assignment is a placeholder
            // of the old generation, which a heartbeat at that generation would never correct (eos-tv2 --wide
            // seeds 2982 and 8469 left a partition unowned so). It joins the rebalance that is due instead.
            self.coverage.push("group:rejoin-after-failed-generation".into());
            return self.rebalance(log, group_id, Some((waiter, member_id.to_string())));
        }
        let member = Member { session_timeout_ns, last_seen_ns: now_ns, assignment: Vec::new() };
        group.members.insert(member_id.to_string(), member);
        self.coverage.push("group:member-joined".into());
        self.rebalance(log, group_id, Some((waiter, member_id.to_string())))
    }

    /// Heartbeat: keeps the session; an older generation must rejoin.
    pub fn heartbeat(
        &mut self,
        log: PartitionId,
        group_id: &str,
        member_id: &str,
        generation: u32,
        waiter: Waiter,
        now_ns: u64,
    ) -> Vec<GroupEffect> {
        let group = match self.known_group(log, group_id) {
            Ok(group) => group,
            Err(error) => return reply(waiter, error),
        };
        let Some(member) = group.members.get_mut(member_id) else {
            return reply(waiter, ErrorCode::UnknownMemberId);
        };
        member.last_seen_ns = now_ns;
        if group.rebalancing.is_some() || generation != group.generation {
            self.coverage.push("group:heartbeat-rebalance".into());
            return reply(waiter, ErrorCode::RebalanceInProgress);
        }
        vec![GroupEffect::Reply { waiter, result: Ok(GroupReply::Done) }]
    }

    /// OffsetFetch; with `require_stable`, UNSTABLE_OFFSET_COMMIT while a partition has pending offsets.
    pub fn offset_fetch(
        &mut self,
        log: PartitionId,
        group_id: &str,
        partitions: &[PartitionId],
        require_stable: bool,
        waiter: Waiter,
    ) -> Vec<GroupEffect> {
        let Some(groups) = self.partitions.get_mut(&log) else { return reply(waiter, ErrorCode::NotCoordinator) };
        let group = groups.entry(group_id.to_string()).or_default();
        let unstable = partitions.iter().any(|p| group.pending_txn.values().any(|pending| pending.contains_key(p)));
        if require_stable && unstable {
            self.coverage.push("group:unstable-offset-commit".into());
            return reply(waiter, ErrorCode::UnstableOffsetCommit);
        }
        let offsets = partitions.iter().map(|p| (*p, group.committed.get(p).copied())).collect();
        vec![GroupEffect::Reply { waiter, result: Ok(GroupReply::Offsets(offsets)) }]
    }

    /// OffsetCommit and, with a producer, TxnOffsetCommit (KIP-447): both fenced by member and generation, then
    /// written to the offsets partition — a transactional commit as the producer's transactional record.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_offsets(
        &mut self,
        log: PartitionId,
        group_id: &str,
        producer: Option<ProducerIdentity>,
        member_id: &str,
        generation: u32,
        offsets: &[(PartitionId, u64)],
        waiter: Waiter,
    ) -> Vec<GroupEffect> {
        let group = match self.known_group(log, group_id) {
            Ok(group) => group,
            Err(error) => return reply(waiter, error),
        };
        if !group.members.contains_key(member_id) {
            self.coverage.push("group:fenced-unknown-member".into());
            return reply(waiter, ErrorCode::UnknownMemberId);
        }
        if generation != group.generation || group.rebalancing.is_some() {
            self.coverage.push("group:fenced-stale-generation".into());
            return reply(waiter, ErrorCode::IllegalGeneration);
        }
        let record = InternalRecord::Offsets { group_id: group_id.to_string(), offsets: offsets.to_vec() };
        let write = GroupWrite::Offsets {
            group_id: group_id.to_string(),
            producer_id: producer.map(|identity| identity.producer_id),
            offsets: offsets.to_vec(),
            waiter,
        };
        vec![GroupEffect::Append { log, producer, record, write }]
    }

    /// TxnOffsetCommit: [`GroupCoordinator::commit_offsets`] with the transaction's producer.
    #[allow(clippy::too_many_arguments)]
    pub fn txn_offset_commit(
        &mut self,
        log: PartitionId,
        group_id: &str,
        producer: ProducerIdentity,
        member_id: &str,
        generation: u32,
        offsets: &[(PartitionId, u64)],
        waiter: Waiter,
    ) -> Vec<GroupEffect> {
        self.commit_offsets(log, group_id, Some(producer), member_id, generation, offsets, waiter)
    }

    /// A write to the offsets partition finished with `result`.
    pub fn on_append(
        &mut self,
        log: PartitionId,
        write: GroupWrite,
        result: Result<(), ErrorCode>,
    ) -> Vec<GroupEffect> {
        let Some(groups) = self.partitions.get_mut(&log) else {
            return match write {
                GroupWrite::Offsets { waiter, .. } => reply(waiter, ErrorCode::NotCoordinator),
                GroupWrite::Generation { waiter, .. } => {
                    waiter.map(|(waiter, _)| reply(waiter, ErrorCode::NotCoordinator)).unwrap_or_default()
                }
            };
        };
        match write {
            GroupWrite::Offsets { group_id, producer_id, offsets, waiter } => {
                let result = match result {
                    Ok(()) => {
                        let group = groups.entry(group_id).or_default();
                        match producer_id {
                            Some(producer_id) => group.pending_txn.entry(producer_id).or_default().extend(offsets),
                            None => group.committed.extend(offsets),
                        }
                        Ok(GroupReply::Done)
                    }
                    Err(ErrorCode::InvalidProducerEpoch) => Err(ErrorCode::ProducerFenced),
                    Err(_) => Err(ErrorCode::NotCoordinator),
                };
                vec![GroupEffect::Reply { waiter, result }]
            }
            GroupWrite::Generation { group_id, waiter } => {
                let group = groups.get_mut(&group_id).expect("a rebalancing group exists");
                let (generation, assignment) = group.rebalancing.take().expect("a rebalance was being written");
                if result.is_ok() {
                    group.generation = generation;
                    for (member_id, member) in &mut group.members {
                        member.assignment = assignment.get(member_id).cloned().unwrap_or_default();
                    }
                    // A member that left while the generation was written leaves its partitions unowned.
                    group.needs_rebalance = assignment.keys().any(|id| !group.members.contains_key(id))
                        || group.members.keys().any(|id| !assignment.contains_key(id));
                } else {
                    group.needs_rebalance = true;
                }
                let Some((waiter, member_id)) = waiter else { return Vec::new() };
                if result.is_err() {
                    return reply(waiter, ErrorCode::NotCoordinator);
                }
                self.coverage.push("group:rebalance-completed".into());
                let assignment = group.members.get(&member_id).map(|member| member.assignment.clone());
                let Some(assignment) = assignment else { return reply(waiter, ErrorCode::UnknownMemberId) };
                let joined = GroupReply::Joined { generation: group.generation, assignment };
                vec![GroupEffect::Reply { waiter, result: Ok(joined) }]
            }
        }
    }

    /// A marker for `producer_id` landed on offsets partition `log`: its pending offsets commit or drop.
    pub fn on_marker(&mut self, log: PartitionId, producer_id: u64, marker: ControlMarker) {
        let Some(groups) = self.partitions.get_mut(&log) else { return };
        for group in groups.values_mut() {
            if group.pending_txn.contains_key(&producer_id) {
                self.coverage.push(format!("group:txn-offsets-{}", marker_name(marker)).into());
            }
            settle(group, producer_id, marker);
        }
    }

    /// Removes members silent past their session timeout and rebalances their groups.
    pub fn tick(&mut self, now_ns: u64) -> Vec<GroupEffect> {
        let mut effects = Vec::new();
        let expired = |member: &Member| now_ns.saturating_sub(member.last_seen_ns) >= member.session_timeout_ns;
        // Most ticks find no group to act on, so only groups with work are listed, their names copied.
        let due: Vec<(PartitionId, String)> = (self.partitions.iter())
            .flat_map(|(log, groups)| groups.iter().map(move |(id, group)| (*log, id, group)))
            .filter(|(_, _, group)| {
                group.rebalancing.is_none() && (group.needs_rebalance || group.members.values().any(expired))
            })
            .map(|(log, id, _)| (log, id.clone()))
            .collect();
        for (log, id) in due {
            let group = self.partitions.get_mut(&log).expect("listed").get_mut(&id).expect("listed");
            if group.rebalancing.is_some() {
                continue;
            }
            let before = group.members.len();
            group.members.retain(|_, member| !expired(member));
            let any_expired = group.members.len() < before;
            if any_expired {
                self.coverage.push("group:member-expired".into());
            }
            if any_expired || group.needs_rebalance {
                effects.extend(self.rebalance(log, &id, None));
            }
        }
        effects
    }

    fn known_group(&mut self, log: PartitionId, group_id: &str) -> Result<&mut Group, ErrorCode> {
        let groups = self.partitions.get_mut(&log).ok_or(ErrorCode::NotCoordinator)?;
        groups.get_mut(group_id).ok_or(ErrorCode::UnknownMemberId)
    }

    /// A new generation: partitions dealt round robin to the members in id order, written to the log; it
    /// takes effect when the write is replicated.
    fn rebalance(&mut self, log: PartitionId, group_id: &str, waiter: Option<(Waiter, String)>) -> Vec<GroupEffect> {
        let group = self.partitions.get_mut(&log).expect("loaded").get_mut(group_id).expect("present");
        assert!(group.rebalancing.is_none(), "one rebalance at a time per group");
        let generation = group.generation + 1;
        group.needs_rebalance = false;
        self.coverage.push("group:rebalance".into());
        let member_ids: Vec<String> = group.members.keys().cloned().collect();
        let mut assignment: BTreeMap<String, Vec<PartitionId>> =
            member_ids.iter().map(|id| (id.clone(), Vec::new())).collect();
        if !member_ids.is_empty() {
            for (i, partition) in group.subscription.iter().enumerate() {
                let member = &member_ids[i % member_ids.len()];
                assignment.get_mut(member).expect("listed").push(*partition);
            }
        }
        let members = group
            .members
            .iter()
            .map(|(id, member)| (id.clone(), member.session_timeout_ns, assignment[id].clone()))
            .collect();
        group.rebalancing = Some((generation, assignment));
        let record = InternalRecord::Group { group_id: group_id.to_string(), generation, members };
        let write = GroupWrite::Generation { group_id: group_id.to_string(), waiter };
        vec![GroupEffect::Append { log, producer: None, record, write }]
    }
}

/// A record of an offsets partition as the coordinator replays it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadedRecord {
    /// A generation or offsets record, with the producer of a transactional one.
    Record {
        /// Set on a transactional offset commit.
        producer: Option<ProducerIdentity>,
        /// The record.
        record: InternalRecord,
    },
    /// A transaction marker.
    Marker {
        /// The producer.
        producer_id: u64,
        /// COMMIT or ABORT.
        marker: ControlMarker,
    },
}

fn settle(group: &mut Group, producer_id: u64, marker: ControlMarker) {
    if let Some(pending) = group.pending_txn.remove(&producer_id) {
        if marker == ControlMarker::Commit {
            group.committed.extend(pending);
        }
    }
}

fn marker_name(marker: ControlMarker) -> &'static str {
    match marker {
        ControlMarker::Commit => "committed",
        ControlMarker::Abort => "aborted",
    }
}

fn reply(waiter: Waiter, error: ErrorCode) -> Vec<GroupEffect> {
    vec![GroupEffect::Reply { waiter, result: Err(error) }]
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
