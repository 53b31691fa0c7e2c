//! OffsetForLeaderEpoch: where each leader epoch ends, for clients validating positions.
//!
//! A single node has one epoch, 0, which has always been current, so it ends at the log
//! end; any other epoch is unknown and answered with Kafka's undefined (-1, -1).
//!
//! CLUSTER_ACTION on the cluster (a follower) allows every topic; otherwise each topic needs
//! DESCRIBE (a consumer validating its position), as in Kafka (KIP-320).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::AclOperation::{ClusterAction, Describe};
use crate::context::BrokerContext;
use crate::session::Caller;
use crate::topics::{check_leader_epoch, LEADER_EPOCH};

const UNDEFINED_EPOCH: i32 = -1;
const UNDEFINED_EPOCH_OFFSET: i64 = -1;

pub fn handle(ctx: &BrokerContext, request: OffsetForLeaderEpochRequest, caller: &Caller<'_>) -> OffsetForLeaderEpochResponse {
    let authz = Authz::new(ctx, caller);
    let cluster_action = authz.cluster(ClusterAction);
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let denied = !cluster_action && !authz.topic(Describe, &topic.topic);
            let found = ctx.topics.get(&topic.topic);
            let partitions = topic
                .partitions
                .into_iter()
                .map(|wanted| {
                    let result = EpochEndOffset::default()
                        .with_partition(wanted.partition)
                        .with_leader_epoch(UNDEFINED_EPOCH)
                        .with_end_offset(UNDEFINED_EPOCH_OFFSET);
                    if denied {
                        return result.with_error_code(ResponseError::TopicAuthorizationFailed.code());
                    }
                    let Some(partition) = found.as_ref().and_then(|t| t.partition(wanted.partition)) else {
                        return result.with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    if let Err(error) = check_leader_epoch(wanted.current_leader_epoch) {
                        return result.with_error_code(error.code());
                    }
                    if wanted.leader_epoch == LEADER_EPOCH {
                        return result.with_leader_epoch(LEADER_EPOCH).with_end_offset(partition.log_end_offset());
                    }
                    result
                })
                .collect();
            OffsetForLeaderTopicResult::default().with_topic(topic.topic).with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
