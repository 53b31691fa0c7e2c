//! DeleteTopics, by name (v1-5) or by name or id (v6).
//!
//! Authorization as Kafka's controller: DELETE on the cluster allows every topic; otherwise a
//! topic named without DESCRIBE answers TOPIC_AUTHORIZATION_FAILED whether or not it exists,
//! and an existing one without DELETE too. A topic given by id that may not be deleted says
//! its name only to a caller allowed to DESCRIBE it.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;
use uuid::Uuid;

use super::authorize::Authz;
use crate::acl::AclOperation::{Delete, Describe};
use crate::context::BrokerContext;
use crate::session::Caller;

const UNKNOWN_TOPIC_MESSAGE: &str = "This server does not host this topic-partition.";

pub fn handle(ctx: &BrokerContext, request: DeleteTopicsRequest, version: i16, caller: &Caller<'_>) -> DeleteTopicsResponse {
    let authz = Authz::new(ctx, caller);
    let cluster_delete = authz.cluster(Delete);
    let describable = |name: &str| cluster_delete || authz.topic(Describe, name);
    let deletable = |name: &str| cluster_delete || authz.topic(Delete, name);
    let denied = |result: DeletableTopicResult| {
        let error = ResponseError::TopicAuthorizationFailed;
        let message = (version >= 5).then(|| StrBytes::from_string(error.to_string()));
        result.with_error_code(error.code()).with_error_message(message)
    };
    let wanted: Vec<(Option<TopicName>, Uuid)> = if version >= 6 {
        request.topics.into_iter().map(|t| (t.name, t.topic_id)).collect()
    } else {
        request.topic_names.into_iter().map(|name| (Some(name), Uuid::nil())).collect()
    };
    let responses = wanted
        .into_iter()
        .map(|(name, id)| {
            let result = DeletableTopicResult::default().with_name(name.clone()).with_topic_id(id);
            if name.as_deref().is_some_and(|name| !describable(name)) {
                return denied(result);
            }
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
            if !deletable(&topic.name) {
                let shown = describable(&topic.name).then(|| TopicName(StrBytes::from_string(topic.name.clone())));
                return denied(result.with_name(name.or(shown)));
            }
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
