//! A broker: hosts the logs of the partitions it leads, answers produce and fetch requests, and hands out
//! producer ids.
//!
//! Durable: the logs (every append is flushed in this model) and the producer-id counter. Volatile: the
//! leader role of each partition with its producer state, rebuilt from the log on restart.

use crate::log::PartitionLog;
use crate::node::{Ctx, Shared};
use crate::partition::{PartitionLeader, ProduceResult};
use crate::protocol::{ErrorCode, Msg, PartitionId, RecordBatch};
use crate::scenario::Acks;
use eosim_sim::NodeId;
use std::collections::BTreeMap;

/// What survives a broker crash.
#[derive(Clone, Debug, Default)]
pub struct BrokerDurable {
    /// Logs of the partitions this broker hosts.
    pub logs: BTreeMap<PartitionId, PartitionLog>,
    /// Producer ids handed out so far; ids are `count * broker_count + broker_index`, unique cluster-wide.
    pub producer_ids_issued: u64,
}

/// A broker node.
#[derive(Clone, Debug)]
pub struct Broker {
    broker_index: u32,
    broker_count: u32,
    durable: BrokerDurable,
    /// Leader role per hosted partition; lost on crash.
    leaders: BTreeMap<PartitionId, PartitionLeader>,
}

impl Broker {
    /// Broker `broker_index` of `broker_count`, hosting `partitions`.
    pub fn new(broker_index: u32, broker_count: u32, partitions: &[PartitionId]) -> Broker {
        let logs = partitions.iter().map(|partition| (*partition, PartitionLog::new())).collect();
        let durable = BrokerDurable { logs, producer_ids_issued: 0 };
        let mut broker = Broker { broker_index, broker_count, durable, leaders: BTreeMap::new() };
        broker.load_leaders();
        broker
    }

    /// The durable state (logs), for the end-of-run summary and tests.
    pub fn durable(&self) -> &BrokerDurable {
        &self.durable
    }

    /// Drops the volatile state.
    pub fn crash(&mut self) {
        self.leaders.clear();
    }

    /// Rebuilds the leader roles from the logs.
    pub fn restart(&mut self) {
        self.load_leaders();
    }

    fn load_leaders(&mut self) {
        self.leaders = self.durable.logs.iter().map(|(id, log)| (*id, PartitionLeader::load(log))).collect();
    }

    /// Handles one request.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_>, source: NodeId, msg: Msg) {
        match msg {
            Msg::InitProducerIdRequest { request_id } => {
                let producer_id =
                    self.durable.producer_ids_issued * u64::from(self.broker_count) + u64::from(self.broker_index) + 1;
                self.durable.producer_ids_issued += 1;
                ctx.send(source, Msg::InitProducerIdResponse { request_id, producer_id, epoch: 0 });
            }
            Msg::ProduceRequest { request_id, partition, acks, batch } => {
                let result = self.produce(ctx.shared, partition, batch);
                if acks != Acks::None {
                    ctx.send(source, Msg::ProduceResponse { request_id, result });
                }
            }
            Msg::FetchRequest { request_id, partition, offset, max_records } => {
                let result = match (self.leaders.get(&partition), self.durable.logs.get(&partition)) {
                    (Some(leader), Some(log)) => leader.fetch(log, offset, max_records),
                    _ => Err(ErrorCode::NotLeaderOrFollower),
                };
                if let Err(error) = &result {
                    ctx.shared.count(error.counter());
                }
                ctx.send(source, Msg::FetchResponse { request_id, result });
            }
            Msg::InitProducerIdResponse { .. } | Msg::ProduceResponse { .. } | Msg::FetchResponse { .. } => {
                unreachable!("brokers never receive responses")
            }
        }
    }

    fn produce(&mut self, shared: &mut Shared, partition: PartitionId, batch: RecordBatch) -> Result<u64, ErrorCode> {
        let (Some(leader), Some(log)) = (self.leaders.get_mut(&partition), self.durable.logs.get_mut(&partition))
        else {
            shared.count(ErrorCode::NotLeaderOrFollower.counter());
            return Err(ErrorCode::NotLeaderOrFollower);
        };
        match leader.produce(log, batch) {
            Ok(ProduceResult::Appended(offset)) => {
                shared.count("broker:append");
                Ok(offset)
            }
            Ok(ProduceResult::Duplicate(offset)) => {
                shared.count("broker:duplicate-batch-deduplicated");
                Ok(offset)
            }
            Err(error) => {
                shared.count(error.counter());
                Err(error)
            }
        }
    }
}
