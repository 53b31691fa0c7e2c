//! ListOffsets: earliest, latest, max timestamp, and the first offset at a timestamp.
//! Each topic needs DESCRIBE (else TOPIC_AUTHORIZATION_FAILED for all its partitions).

use std::collections::HashSet;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::AclOperation::Describe;
use crate::context::BrokerContext;
use crate::handlers::validation::{max_timestamp_record, offset_for_timestamp};
use crate::session::Caller;
use crate::topics::{check_leader_epoch, Partition, LEADER_EPOCH};

const LATEST_TIMESTAMP: i64 = -1;
const EARLIEST_TIMESTAMP: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
/// Needs ListOffsets v8, which Runnel does not serve.
const EARLIEST_LOCAL_TIMESTAMP: i64 = -4;
/// Needs ListOffsets v9, which Runnel does not serve.
const LATEST_TIERED_TIMESTAMP: i64 = -5;

pub fn handle(ctx: &BrokerContext, request: ListOffsetsRequest, version: i16, caller: &Caller<'_>) -> ListOffsetsResponse {
    let authz = Authz::new(ctx, caller);
    let mut seen = HashSet::new();
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let denied = !authz.topic(Describe, &topic.name);
            let found = ctx.topics.get(&topic.name);
            let partitions = topic
                .partitions
                .into_iter()
                .map(|wanted| {
                    let response = ListOffsetsPartitionResponse::default()
                        .with_partition_index(wanted.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1)
                        .with_leader_epoch(-1);
                    if denied {
                        return response.with_error_code(ResponseError::TopicAuthorizationFailed.code());
                    }
                    if !seen.insert((topic.name.to_string(), wanted.partition_index)) {
                        return response.with_error_code(ResponseError::InvalidRequest.code());
                    }
                    let Some(partition) = found.as_ref().and_then(|t| t.partition(wanted.partition_index)) else {
                        return response.with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    let claimed_epoch = if version >= 4 { wanted.current_leader_epoch } else { -1 };
                    if let Err(error) = check_leader_epoch(claimed_epoch) {
                        return response.with_error_code(error.code());
                    }
                    match lookup(partition, wanted.timestamp, version) {
                        Ok(Some((offset, timestamp))) => response
                            .with_offset(offset)
                            .with_timestamp(timestamp)
                            .with_leader_epoch(if version >= 4 { LEADER_EPOCH } else { -1 }),
                        Ok(None) => response,
                        Err(error) => response.with_error_code(error.code()),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default().with_name(topic.name).with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// The (offset, timestamp) answering `timestamp`, or `None` when no record qualifies.
fn lookup(partition: &Partition, timestamp: i64, version: i16) -> Result<Option<(i64, i64)>, ResponseError> {
    match timestamp {
        LATEST_TIMESTAMP => Ok(Some((partition.high_watermark(), -1))),
        EARLIEST_TIMESTAMP => Ok(Some((partition.log_start_offset(), -1))),
        MAX_TIMESTAMP if version >= 7 => partition.with_log(|log| {
            let batch = log.batch_with_max_timestamp().map_err(|_| ResponseError::KafkaStorageError)?;
            Ok(batch.map(|batch| max_timestamp_record(&batch)).transpose()?.flatten())
        }),
        // Kafka refuses a special timestamp the request's version does not know.
        MAX_TIMESTAMP | EARLIEST_LOCAL_TIMESTAMP | LATEST_TIERED_TIMESTAMP => Err(ResponseError::UnsupportedVersion),
        target if target >= 0 => partition.with_log(|log| {
            let batch = log.batch_for_timestamp(target).map_err(|_| ResponseError::KafkaStorageError)?;
            Ok(batch.map(|batch| offset_for_timestamp(&batch, target)).transpose()?.flatten())
        }),
        _ => Err(ResponseError::InvalidRequest),
    }
}
