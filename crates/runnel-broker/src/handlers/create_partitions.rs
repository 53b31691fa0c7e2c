//! CreatePartitions: grow a topic; every new partition lives on this broker.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;

use crate::context::{now_ms, BrokerContext};
use crate::topics::TopicError;

pub fn handle(ctx: &BrokerContext, request: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let results = request
        .topics
        .into_iter()
        .map(|topic| {
            let result = CreatePartitionsTopicResult::default().with_name(topic.name.clone());
            let outcome = check_assignments(ctx, topic.assignments.as_deref())
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

fn check_assignments(
    ctx: &BrokerContext,
    assignments: Option<&[kafka_protocol::messages::create_partitions_request::CreatePartitionsAssignment]>,
) -> Result<(), TopicError> {
    for assignment in assignments.unwrap_or_default() {
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
