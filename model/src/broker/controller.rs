//! The controller: the cluster's metadata (who leads each partition, at which epoch, and who is in sync),
//! broker liveness, leader election and ISR changes.
//!
//! This is KRaft reduced to one node: a durable metadata image instead of a replicated metadata log (the
//! controller quorum itself is not simulated). Brokers send heartbeats and get the current image back
//! when theirs is older. A broker that misses heartbeats for `broker.session.timeout.ms` is fenced: it
//! loses every leadership (a new leader is chosen from the ISR, with a new leader epoch that fences the old
//! one) and leaves every ISR. A broker that comes back with a new incarnation (it restarted) is fenced and
//! unfenced at once, so a restarted broker never keeps a leadership with a log that may have lost its
//! unflushed tail. With `unclean.leader.election.enable` an out-of-sync replica may be elected when no
//! in-sync one is alive: the way Kafka loses acknowledged writes on purpose.

use crate::ctx::{timer_parts, timer_tag, Ctx};
use crate::protocol::{ErrorCode, MetadataImage, Msg, PartitionId, PartitionState};
use eosim_sim::NodeId;

const TIMER_SESSION_CHECK: u16 = 1;

/// Controller settings, times in nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerSettings {
    /// `broker.session.timeout.ms`.
    pub session_timeout_ns: u64,
    /// How often liveness is checked.
    pub check_interval_ns: u64,
    /// `unclean.leader.election.enable`.
    pub unclean_leader_election: bool,
}

/// What survives a controller crash: the metadata and what it knows of each broker's registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerDurable {
    /// The metadata image.
    pub image: MetadataImage,
    /// Each broker's last registered incarnation.
    pub incarnations: Vec<Option<u64>>,
    /// Fenced brokers.
    pub fenced: Vec<bool>,
}

/// The controller node.
#[derive(Clone, Debug)]
pub struct Controller {
    settings: ControllerSettings,
    durable: ControllerDurable,
    /// Last heartbeat per broker; lost in a crash (the restarted controller gives every broker a fresh
    /// session rather than fence them all).
    last_heartbeat_ns: Vec<u64>,
}

impl Controller {
    /// A controller over `image` for `broker_count` brokers.
    pub fn new(settings: ControllerSettings, image: MetadataImage, broker_count: u32) -> Controller {
        let brokers = broker_count as usize;
        let durable = ControllerDurable { image, incarnations: vec![None; brokers], fenced: vec![false; brokers] };
        Controller { settings, durable, last_heartbeat_ns: vec![0; brokers] }
    }

    /// The metadata image.
    pub fn image(&self) -> &MetadataImage {
        &self.durable.image
    }

    /// Starts the liveness checks.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.last_heartbeat_ns.iter_mut().for_each(|last| *last = ctx.now_ns());
        ctx.set_timer(self.settings.check_interval_ns, timer_tag(TIMER_SESSION_CHECK, 0));
    }

    /// Restarts from the durable image.
    pub fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        self.on_start(ctx);
    }

    /// Liveness: fence every broker whose session expired.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, tag: u64) {
        assert_eq!(timer_parts(tag).0, TIMER_SESSION_CHECK, "the controller has one timer");
        for broker in 0..self.durable.fenced.len() {
            let silent_ns = ctx.now_ns().saturating_sub(self.last_heartbeat_ns[broker]);
            if !self.durable.fenced[broker] && silent_ns > self.settings.session_timeout_ns {
                ctx.shared.count("controller:broker-fenced");
                self.fence(broker as u32);
            }
        }
        ctx.set_timer(self.settings.check_interval_ns, timer_tag(TIMER_SESSION_CHECK, 0));
    }

    /// Heartbeats and AlterPartition requests.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_>, source: NodeId, msg: Msg) {
        match msg {
            Msg::BrokerHeartbeat { broker, incarnation, metadata_version } => {
                self.on_heartbeat(ctx, broker, incarnation);
                let image = (metadata_version < self.durable.image.version).then(|| self.durable.image.clone());
                ctx.send(source, Msg::BrokerHeartbeatResponse { image });
            }
            Msg::AlterPartition { partition, broker, leader_epoch, partition_epoch, isr } => {
                let result = self.alter_partition(partition, broker, leader_epoch, partition_epoch, isr);
                match &result {
                    Ok(_) => ctx.shared.count("controller:isr-changed"),
                    Err(error) => ctx.shared.count(error.counter()),
                }
                ctx.send(source, Msg::AlterPartitionResponse { partition, result: result.map(Box::new) });
            }
            _ => unreachable!("the controller only receives heartbeats and AlterPartition"),
        }
    }

    fn on_heartbeat(&mut self, ctx: &mut Ctx<'_>, broker: u32, incarnation: u64) {
        let index = broker as usize;
        self.last_heartbeat_ns[index] = ctx.now_ns();
        if self.durable.incarnations[index] != Some(incarnation) {
            if self.durable.incarnations[index].is_some() && !self.durable.fenced[index] {
                ctx.shared.count("controller:broker-reregistered");
                self.fence(broker);
            }
            self.durable.incarnations[index] = Some(incarnation);
        }
        if self.durable.fenced[index] {
            ctx.shared.count("controller:broker-unfenced");
            self.unfence(broker);
        }
    }

    fn alter_partition(
        &mut self,
        partition: PartitionId,
        broker: u32,
        leader_epoch: u32,
        partition_epoch: u32,
        isr: Vec<u32>,
    ) -> Result<PartitionState, ErrorCode> {
        let state = &self.durable.image.partitions[partition.index()];
        if state.leader != Some(broker) || state.leader_epoch != leader_epoch {
            return Err(ErrorCode::FencedLeaderEpoch);
        }
        if state.partition_epoch != partition_epoch {
            return Err(ErrorCode::InvalidUpdateVersion);
        }
        let eligible = |member: &u32| state.replicas.contains(member) && !self.durable.fenced[*member as usize];
        if !isr.contains(&broker) || !isr.iter().all(eligible) {
            return Err(ErrorCode::InvalidUpdateVersion);
        }
        let mut next = state.clone();
        next.isr = isr;
        next.partition_epoch += 1;
        self.durable.image.partitions[partition.index()] = next.clone();
        self.durable.image.version += 1;
        Ok(next)
    }

    /// Takes every leadership and ISR membership from `broker`.
    fn fence(&mut self, broker: u32) {
        self.durable.fenced[broker as usize] = true;
        let fenced = self.durable.fenced.clone();
        let unclean = self.settings.unclean_leader_election;
        self.update_partitions(|state| without_broker(state, broker, &fenced, unclean));
    }

    /// Gives offline partitions whose ISR holds `broker` their leader back.
    fn unfence(&mut self, broker: u32) {
        self.durable.fenced[broker as usize] = false;
        let unclean = self.settings.unclean_leader_election;
        self.update_partitions(|state| with_broker(state, broker, unclean));
    }

    fn update_partitions(&mut self, mut change: impl FnMut(&PartitionState) -> Option<PartitionState>) {
        let mut changed = false;
        for state in &mut self.durable.image.partitions {
            if let Some(next) = change(state) {
                assert!(next.leader_epoch >= state.leader_epoch, "leader epochs only grow");
                *state = next;
                changed = true;
            }
        }
        if changed {
            self.durable.image.version += 1;
        }
    }
}

/// The partition once `broker` is fenced: a new leader from the ISR (or, unclean, from any live replica),
/// and `broker` out of the ISR unless it is the last member. `None` if nothing changes.
pub fn without_broker(state: &PartitionState, broker: u32, fenced: &[bool], unclean: bool) -> Option<PartitionState> {
    if !state.replicas.contains(&broker) {
        return None;
    }
    let live = |replica: &u32| *replica != broker && !fenced[*replica as usize];
    let mut next = state.clone();
    if state.leader == Some(broker) {
        let in_sync = state.replicas.iter().copied().find(|replica| state.isr.contains(replica) && live(replica));
        next.leader_epoch += 1;
        if let Some(leader) = in_sync {
            next.leader = Some(leader);
            next.isr.retain(|member| *member != broker);
        } else if let Some(leader) = state.replicas.iter().copied().find(|replica| unclean && live(replica)) {
            next.leader = Some(leader);
            next.isr = vec![leader];
        } else {
            // No live in-sync replica: the partition is offline, and the fenced leader stays the last
            // in-sync member, the only one that may lead it again without losing data.
            next.leader = None;
        }
    } else if state.isr.contains(&broker) && state.isr.len() > 1 {
        next.isr.retain(|member| *member != broker);
    } else {
        return None;
    }
    next.partition_epoch += 1;
    Some(next)
}

/// The partition once `broker` is back: it leads an offline partition whose ISR holds it (or, unclean,
/// any offline partition it replicates). `None` if nothing changes.
pub fn with_broker(state: &PartitionState, broker: u32, unclean: bool) -> Option<PartitionState> {
    if state.leader.is_some() || !state.replicas.contains(&broker) {
        return None;
    }
    if !state.isr.contains(&broker) && !unclean {
        return None;
    }
    let mut next = state.clone();
    next.leader = Some(broker);
    next.leader_epoch += 1;
    next.partition_epoch += 1;
    if !next.isr.contains(&broker) {
        next.isr = vec![broker];
    }
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(leader: Option<u32>, isr: &[u32]) -> PartitionState {
        PartitionState { leader, leader_epoch: 3, isr: isr.to_vec(), replicas: vec![0, 1, 2], partition_epoch: 7 }
    }

    #[test]
    fn a_fenced_leader_is_replaced_from_the_isr_with_a_new_epoch() {
        let next = without_broker(&state(Some(0), &[0, 2]), 0, &[true, false, false], false).unwrap();
        assert_eq!(next.leader, Some(2), "1 is not in sync, 2 is");
        assert_eq!(next.leader_epoch, 4);
        assert_eq!(next.isr, vec![2]);
        assert_eq!(next.partition_epoch, 8);
    }

    #[test]
    fn no_live_in_sync_replica_means_offline_unless_unclean() {
        let fenced = [true, false, false];
        let clean = without_broker(&state(Some(0), &[0]), 0, &fenced, false).unwrap();
        assert_eq!(clean.leader, None);
        assert_eq!(clean.isr, vec![0], "the last in-sync member stays");
        let unclean = without_broker(&state(Some(0), &[0]), 0, &fenced, true).unwrap();
        assert_eq!(unclean.leader, Some(1), "an out-of-sync replica is elected");
        assert_eq!(unclean.isr, vec![1]);
    }

    #[test]
    fn a_fenced_follower_leaves_the_isr() {
        let next = without_broker(&state(Some(0), &[0, 1, 2]), 1, &[false, true, false], false).unwrap();
        assert_eq!(next.leader, Some(0));
        assert_eq!(next.leader_epoch, 3, "the leader did not change");
        assert_eq!(next.isr, vec![0, 2]);
        assert!(without_broker(&state(Some(0), &[0, 2]), 1, &[false, true, false], false).is_none());
    }

    #[test]
    fn the_last_in_sync_member_leads_again_when_it_returns() {
        let offline = state(None, &[0]);
        assert!(with_broker(&offline, 1, false).is_none(), "1 is out of sync");
        let next = with_broker(&offline, 0, false).unwrap();
        assert_eq!((next.leader, next.leader_epoch), (Some(0), 4));
        let unclean = with_broker(&offline, 1, true).unwrap();
        assert_eq!((unclean.leader, unclean.isr.clone()), (Some(1), vec![1]));
    }
}
