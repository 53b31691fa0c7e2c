//! CreateTopics, with Kafka's validation order and messages.
//!
//! Authorization as Kafka's controller: after the duplicate check, a topic needs CREATE on the
//! cluster or on the topic ("Authorization failed."); a created topic's configs, partition
//! count and replication factor are reported only with DESCRIBE_CONFIGS on it, else its
//! topic_config_error_code is TOPIC_AUTHORIZATION_FAILED.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;

use crate::config::describe::describe_topic_configs;
use crate::config::topic::validate_topic_configs_for;
use super::authorize::Authz;
use crate::acl::AclOperation::{Create, DescribeConfigs};
use crate::context::{now_ms, BrokerContext};
use crate::session::Caller;
use crate::topics::{validate_topic_name, NewTopic, TopicError};

/// CreateTopics v5 added the configs, counts and topic_config_error_code to the answer.
const CONFIGS_IN_RESPONSE_MIN_VERSION: i16 = 5;

pub fn handle(ctx: &BrokerContext, request: CreateTopicsRequest, version: i16, caller: &Caller<'_>) -> CreateTopicsResponse {
    let authz = Authz::new(ctx, caller);
    let may_create_any = authz.cluster(Create);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for topic in &request.topics {
        *counts.entry(topic.name.to_string()).or_default() += 1;
    }
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            // The codec defaults the message to "", Kafka sends null on success.
            let result = CreatableTopicResult::default().with_name(topic.name.clone()).with_error_message(None);
            if counts[topic.name.as_str()] > 1 {
                return result.with_error_code(ResponseError::InvalidRequest.code()).with_error_message(Some(
                    StrBytes::from_string(format!(
                        "Create topics request from client contains multiple entries for the following topics: {}",
                        topic.name.as_str()
                    )),
                ));
            }
            if !may_create_any && !authz.topic(Create, &topic.name) {
                return result
                    .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                    .with_error_message(Some(StrBytes::from_static_str("Authorization failed.")));
            }
            let describable = authz.topic(DescribeConfigs, &topic.name);
            match create_one(ctx, topic, request.validate_only) {
                Ok(created) if version >= CONFIGS_IN_RESPONSE_MIN_VERSION && !describable => result
                    .with_topic_id(if version >= 7 { created.id } else { uuid::Uuid::nil() })
                    .with_topic_config_error_code(ResponseError::TopicAuthorizationFailed.code()),
                // v5 added the resolved partitions, replicas and configs; v7 the topic id.
                Ok(created) if version >= CONFIGS_IN_RESPONSE_MIN_VERSION => {
                    let configs = describe_topic_configs(&ctx.config, &created.configs)
                        .into_iter()
                        .map(|entry| {
                            CreatableTopicConfigs::default()
                                .with_name(StrBytes::from_string(entry.name))
                                .with_value(entry.value.map(StrBytes::from_string))
                                .with_read_only(entry.read_only)
                                .with_config_source(entry.source.code())
                                .with_is_sensitive(entry.is_sensitive)
                        })
                        .collect();
                    result
                        .with_topic_id(if version >= 7 { created.id } else { uuid::Uuid::nil() })
                        .with_num_partitions(created.partitions)
                        .with_replication_factor(created.replication_factor)
                        .with_configs(Some(configs))
                }
                Ok(_) => result,
                Err(error) => result
                    .with_error_code(error.code())
                    .with_error_message(Some(StrBytes::from_string(error.to_string()))),
            }
        })
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}

struct Created {
    id: uuid::Uuid,
    partitions: i32,
    replication_factor: i16,
    configs: BTreeMap<String, String>,
}

fn create_one(ctx: &BrokerContext, topic: CreatableTopic, validate_only: bool) -> Result<Created, TopicError> {
    // Kafka's order: the name, then existence, then partitions and replicas, then configs.
    validate_topic_name(&topic.name).map_err(TopicError::InvalidName)?;
    if ctx.topics.get(&topic.name).is_some() {
        return Err(TopicError::AlreadyExists(topic.name.to_string()));
    }
    let partitions = if topic.assignments.is_empty() {
        resolve_partitions(ctx, topic.num_partitions)?
    } else {
        assigned_partitions(ctx, &topic)?
    };
    let replication_factor = if topic.assignments.is_empty() {
        resolve_replication_factor(ctx, topic.replication_factor)?
    } else {
        1
    };
    let mut configs = BTreeMap::new();
    for config in topic.configs {
        let Some(value) = config.value else {
            return Err(TopicError::InvalidConfig(format!(
                "Null value not supported for topic configs: {}",
                config.name.as_str()
            )));
        };
        configs.insert(config.name.to_string(), value.to_string());
    }
    validate_topic_configs_for(&ctx.config, &configs).map_err(|error| TopicError::InvalidConfig(error.to_string()))?;
    let new = NewTopic { name: topic.name.to_string(), partitions, configs };
    let created = ctx.topics.create(new, validate_only, now_ms())?;
    Ok(Created { id: created.id, partitions, replication_factor, configs: created.configs.clone() })
}

fn resolve_partitions(ctx: &BrokerContext, requested: i32) -> Result<i32, TopicError> {
    match requested {
        -1 => Ok(ctx.config.num_partitions),
        n if n <= 0 => Err(TopicError::InvalidPartitions(
            "Number of partitions was set to an invalid non-positive value.".into(),
        )),
        n => Ok(n),
    }
}

/// One broker means one replica: anything more cannot be placed.
fn resolve_replication_factor(ctx: &BrokerContext, requested: i16) -> Result<i16, TopicError> {
    let factor = match requested {
        -1 => ctx.config.default_replication_factor,
        n if n <= 0 => {
            return Err(TopicError::InvalidReplicationFactor(
                "Replication factor must be larger than 0, or -1 to use the default value.".into(),
            ))
        }
        n => n,
    };
    if factor > 1 {
        return Err(TopicError::InvalidReplicationFactor(format!(
            "Unable to replicate the partition {factor} time(s): The target replication factor of {factor} cannot be reached because only 1 broker(s) are registered."
        )));
    }
    Ok(factor)
}

fn assigned_partitions(ctx: &BrokerContext, topic: &CreatableTopic) -> Result<i32, TopicError> {
    if topic.num_partitions != -1 || topic.replication_factor != -1 {
        return Err(TopicError::InvalidRequest(
            "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."
                .into(),
        ));
    }
    let count = topic.assignments.len() as i32;
    for (expected, assignment) in topic.assignments.iter().enumerate() {
        if assignment.partition_index != expected as i32 {
            return Err(TopicError::InvalidReplicaAssignment(format!(
                "Partitions should be a consecutive 0-based integer sequence, but got {:?}.",
                topic.assignments.iter().map(|a| a.partition_index).collect::<Vec<_>>()
            )));
        }
        if assignment.broker_ids.len() > 1 {
            return Err(TopicError::InvalidReplicationFactor(format!(
                "Unable to replicate the partition {} time(s): only 1 broker(s) are registered.",
                assignment.broker_ids.len()
            )));
        }
        if assignment.broker_ids.iter().any(|id| id.0 != ctx.node_id) || assignment.broker_ids.is_empty() {
            return Err(TopicError::InvalidReplicaAssignment(format!(
                "The manual partition assignment includes a partition with no replicas or an unknown broker: {:?}.",
                assignment.broker_ids.iter().map(|id| id.0).collect::<Vec<_>>()
            )));
        }
    }
    Ok(count)
}
