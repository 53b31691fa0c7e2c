//! CreatePartitions: grow a topic; every new partition lives on this broker. Each topic needs
//! ALTER on it (else TOPIC_AUTHORIZATION_FAILED), checked before anything else about it.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::AclOperation::Alter;
use crate::context::{now_ms, BrokerContext};
use crate::session::Caller;
use crate::topics::TopicError;

pub fn handle(ctx: &BrokerContext, request: CreatePartitionsRequest, caller: &Caller<'_>) -> CreatePartitionsResponse {
    let authz = Authz::new(ctx, caller);
    let results = request
        .topics
        .into_iter()
        .map(|topic| {
            let result = CreatePartitionsTopicResult::default().with_name(topic.name.clone());
            if !authz.topic(Alter, &topic.name) {
                return result.with_error_code(kafka_protocol::error::ResponseError::TopicAuthorizationFailed.code());
            }
            let outcome = check_assignments(ctx, &topic.name, topic.count, topic.assignments.as_deref())
                .and_then(|()| ctx.topics.add_partitions(&topic.name, topic.count, request.validate_only, now_ms()));
            match outcome {
                Ok(()) => result,
                Err(error) => result
                    .with_error_code(error.code())
                    .with_error_message(Some(StrBytes::from_string(error.to_string()))),
            }
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}

/// Kafka checks explicit assignments after the partition count: an unknown topic or a count
/// that is no increase is `add_partitions`' to report. An empty (not null) list is one
/// assignment short per new partition, and refused as such.
fn check_assignments(
    ctx: &BrokerContext,
    name: &str,
    count: i32,
    assignments: Option<&[kafka_protocol::messages::create_partitions_request::CreatePartitionsAssignment]>,
) -> Result<(), TopicError> {
    let Some(assignments) = assignments else { return Ok(()) };
    let Some(topic) = ctx.topics.get(name) else { return Ok(()) };
    let additional = i64::from(count) - topic.partitions.len() as i64;
    if additional <= 0 {
        return Ok(());
    }
    if assignments.len() as i64 != additional {
        return Err(TopicError::InvalidReplicaAssignment(format!(
            "Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.",
            assignments.len()
        )));
    }
    for assignment in assignments {
        if assignment.broker_ids.len() != 1 || assignment.broker_ids[0].0 != ctx.node_id {
            return Err(TopicError::InvalidReplicaAssignment(format!(
                "Unable to place a partition on brokers {:?}: the only broker is {}.",
                assignment.broker_ids.iter().map(|id| id.0).collect::<Vec<_>>(),
                ctx.node_id
            )));
        }
    }
    Ok(())
}
