//! Metadata: brokers, topics and partition leaders, with auto topic creation. The broker's
//! address is the one advertised for the listener the request came in on, as in Kafka; a
//! client on a listener that is not advertised sees no broker and LISTENER_NOT_FOUND leaders.
//!
//! Authorization as Kafka's: a topic needs DESCRIBE to be shown. Asked for all topics, the
//! others are left out silently; asked by name, they answer TOPIC_AUTHORIZATION_FAILED
//! without saying whether they exist (asked by id, with the id). Auto-creation also needs
//! CREATE on the cluster or on the topic.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;
use uuid::Uuid;

use super::authorize::Authz;
use super::authorized_operations::{self, NOT_REQUESTED};
use crate::acl::AclOperation::{Create, Describe};
use crate::context::{now_ms, BrokerContext};
use crate::session::Caller;
use crate::topics::{NewTopic, Topic, TopicError, LEADER_EPOCH};

/// Kafka reports an unadvertised listener as LISTENER_NOT_FOUND from Metadata v6 on, and as
/// LEADER_NOT_AVAILABLE before.
const LISTENER_NOT_FOUND_MIN_VERSION: i16 = 6;

pub fn handle(ctx: &BrokerContext, request: MetadataRequest, version: i16, caller: &Caller<'_>) -> MetadataResponse {
    let authz = Authz::new(ctx, caller);
    let endpoint = ctx.advertised.get(&caller.session.listener);
    let allow_auto_create = version < 4 || request.allow_auto_topic_creation;
    let include_topic_ops = version >= 8 && request.include_topic_authorized_operations;
    let topics = match request.topics {
        // v0 has no null: an empty list there means every topic.
        None => all_topics(ctx, &authz),
        Some(requested) if version == 0 && requested.is_empty() => all_topics(ctx, &authz),
        Some(requested) => requested
            .into_iter()
            .map(|wanted| match (wanted.name, wanted.topic_id) {
                (Some(name), _) => lookup_or_create(ctx, &authz, name, allow_auto_create, include_topic_ops),
                (None, id) => match ctx.topics.get_by_id(id) {
                    // Kafka does not count topic ids as secret: the id is echoed, the name not.
                    Some(topic) if !authz.topic(Describe, &topic.name) => {
                        Err(topic_error(None, id, ResponseError::TopicAuthorizationFailed.code()))
                    }
                    Some(topic) => Ok(topic),
                    None => Err(topic_error(None, id, ResponseError::UnknownTopicId.code())),
                },
            })
            .collect(),
    };
    let topics = topics
        .into_iter()
        .map(|found| match found {
            Ok(topic) => {
                let operations = authorized_operations::topic(&authz, &topic.name, include_topic_ops);
                describe_topic(ctx, &topic, operations, version, endpoint.is_some())
            }
            Err(error) => error,
        })
        .collect();
    let brokers = endpoint
        .map(|endpoint| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(ctx.node_id))
                .with_host(StrBytes::from_string(endpoint.host.clone()))
                .with_port(endpoint.port)
        })
        .into_iter()
        .collect();
    let cluster_ops =
        authorized_operations::cluster(&authz, (8..=10).contains(&version) && request.include_cluster_authorized_operations);
    // The codec refuses to encode a field the version lacks unless it holds its default,
    // so every versioned field is set only where the version has it.
    let mut response = MetadataResponse::default().with_brokers(brokers).with_topics(topics);
    if version >= 1 {
        response.controller_id = BrokerId(ctx.node_id);
    }
    if version >= 2 {
        response.cluster_id = Some(StrBytes::from_string(ctx.cluster_id.clone()));
    }
    response.with_cluster_authorized_operations(cluster_ops)
}

type Lookup = Result<Arc<Topic>, MetadataResponseTopic>;

fn all_topics(ctx: &BrokerContext, authz: &Authz<'_>) -> Vec<Lookup> {
    ctx.topics.all().into_iter().filter(|topic| authz.topic(Describe, &topic.name)).map(Ok).collect()
}

fn lookup_or_create(ctx: &BrokerContext, authz: &Authz<'_>, name: TopicName, allow_auto_create: bool, include_ops: bool) -> Lookup {
    if !authz.topic(Describe, &name) {
        return Err(topic_error(Some(name), Uuid::nil(), ResponseError::TopicAuthorizationFailed.code()));
    }
    if let Some(topic) = ctx.topics.get(&name) {
        return Ok(topic);
    }
    // Kafka reports the caller's operations on a topic that does not exist, too.
    let operations = authorized_operations::topic(authz, &name, include_ops);
    let unknown = || {
        topic_error(Some(name.clone()), Uuid::nil(), ResponseError::UnknownTopicOrPartition.code())
            .with_topic_authorized_operations(operations)
    };
    if !allow_auto_create || !ctx.config.auto_create_topics_enable {
        return Err(unknown());
    }
    if !authz.cluster(Create) && !authz.topic(Create, &name) {
        return Err(topic_error(Some(name.clone()), Uuid::nil(), ResponseError::TopicAuthorizationFailed.code()));
    }
    let new = NewTopic { name: name.to_string(), partitions: ctx.config.num_partitions, configs: Default::default() };
    match ctx.topics.create(new, false, now_ms()) {
        Ok(topic) => Ok(topic),
        // Another connection created it between our lookup and our create.
        Err(TopicError::AlreadyExists(_)) => ctx.topics.get(&name).ok_or_else(unknown),
        Err(error) => {
            if !matches!(error, TopicError::InvalidName(_)) {
                tracing::warn!(topic = %name.as_str(), %error, "auto topic creation failed");
            }
            Err(topic_error(Some(name), Uuid::nil(), error.code()).with_topic_authorized_operations(operations))
        }
    }
}

fn describe_topic(ctx: &BrokerContext, topic: &Topic, operations: i32, version: i16, reachable: bool) -> MetadataResponseTopic {
    let node = BrokerId(ctx.node_id);
    let (leader, error_code) = match (reachable, version >= LISTENER_NOT_FOUND_MIN_VERSION) {
        (true, _) => (node, 0),
        (false, true) => (BrokerId(-1), ResponseError::ListenerNotFound.code()),
        (false, false) => (BrokerId(-1), ResponseError::LeaderNotAvailable.code()),
    };
    let partitions = topic
        .partitions
        .iter()
        .map(|partition| {
            MetadataResponsePartition::default()
                .with_error_code(error_code)
                .with_partition_index(partition.index)
                .with_leader_id(leader)
                .with_leader_epoch(if version >= 7 { LEADER_EPOCH } else { -1 })
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(topic.name.clone()))))
        .with_topic_id(if version >= 10 { topic.id } else { Uuid::nil() })
        .with_is_internal(version >= 1 && topic.is_internal())
        .with_partitions(partitions)
        .with_topic_authorized_operations(operations)
}

fn topic_error(name: Option<TopicName>, id: Uuid, code: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(name)
        .with_topic_id(id)
        .with_error_code(code)
        .with_topic_authorized_operations(NOT_REQUESTED)
}
