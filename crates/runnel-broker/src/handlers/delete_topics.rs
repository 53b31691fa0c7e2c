//! DeleteTopics, by name (v1-5) or by name or id (v6).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;
use uuid::Uuid;

use crate::context::BrokerContext;

const UNKNOWN_TOPIC_MESSAGE: &str = "This server does not host this topic-partition.";

pub fn handle(ctx: &BrokerContext, request: DeleteTopicsRequest, version: i16) -> DeleteTopicsResponse {
    let wanted: Vec<(Option<TopicName>, Uuid)> = if version >= 6 {
        request.topics.into_iter().map(|t| (t.name, t.topic_id)).collect()
    } else {
        request.topic_names.into_iter().map(|name| (Some(name), Uuid::nil())).collect()
    };
    let responses = wanted
        .into_iter()
        .map(|(name, id)| {
            let result = DeletableTopicResult::default().with_name(name.clone()).with_topic_id(id);
            let topic = match &name {
                Some(name) => ctx.topics.get(name),
                None => ctx.topics.get_by_id(id),
            };
            let Some(topic) = topic else {
                let error = if name.is_some() { ResponseError::UnknownTopicOrPartition } else { ResponseError::UnknownTopicId };
                // Kafka words it as the error's own description.
                let message = (version >= 5).then(|| StrBytes::from_static_str(UNKNOWN_TOPIC_MESSAGE));
                return result.with_error_code(error.code()).with_error_message(message);
            };
            if !ctx.config.delete_topic_enable {
                return result.with_error_code(ResponseError::TopicDeletionDisabled.code());
            }
            let mut result = result.with_name(Some(TopicName(StrBytes::from_string(topic.name.clone()))));
            if version >= 6 {
                result.topic_id = topic.id;
            }
            match ctx.topics.delete(&topic.name) {
                Ok(_) => result,
                Err(error) => {
                    let message = (version >= 5).then(|| StrBytes::from_string(error.to_string()));
                    result.with_error_code(error.code()).with_error_message(message)
                }
            }
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}
