//! `GET /api/topics` and `GET /api/topics/{topic}`: topics, their partitions' offsets and
//! sizes, and their configs as DescribeConfigs reports them.

use serde::Serialize;

use crate::admin::reply::{json, not_found, Reply};
use crate::admin::routes::Call;
use crate::config::{describe_topic_configs, ConfigSource};
use crate::topics::Topic;

/// A single node holds every replica: broker id of leader and replicas alike.
const REPLICATION_FACTOR: i16 = 1;

#[derive(Serialize)]
struct TopicSummary {
    name: String,
    internal: bool,
    partitions: usize,
    replication_factor: i16,
    size_bytes: u64,
    log_end_offset_total: i64,
}

#[derive(Serialize)]
struct PartitionView {
    partition: i32,
    leader: i32,
    replicas: Vec<i32>,
    log_start_offset: i64,
    log_end_offset: i64,
    high_watermark: i64,
    size_bytes: u64,
}

#[derive(Serialize)]
struct ConfigView {
    name: String,
    value: Option<String>,
    source: &'static str,
}

#[derive(Serialize)]
struct TopicView {
    name: String,
    internal: bool,
    partitions: Vec<PartitionView>,
    configs: Vec<ConfigView>,
}

fn summary(topic: &Topic) -> TopicSummary {
    TopicSummary {
        name: topic.name.clone(),
        internal: topic.is_internal(),
        partitions: topic.partitions.len(),
        replication_factor: REPLICATION_FACTOR,
        size_bytes: topic.partitions.iter().map(|p| p.size_bytes()).sum(),
        log_end_offset_total: topic.partitions.iter().map(|p| p.log_end_offset()).sum(),
    }
}

pub fn list(call: &Call) -> Reply {
    let mut topics: Vec<TopicSummary> = call.ctx.topics.all().iter().map(|topic| summary(topic)).collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    json(&topics)
}

/// Kafka's name of a config source, as its tools print it.
pub fn source_name(source: ConfigSource) -> &'static str {
    match source {
        ConfigSource::Unknown => "UNKNOWN",
        ConfigSource::DynamicTopicConfig => "DYNAMIC_TOPIC_CONFIG",
        ConfigSource::DynamicBrokerConfig => "DYNAMIC_BROKER_CONFIG",
        ConfigSource::DynamicDefaultBrokerConfig => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        ConfigSource::StaticBrokerConfig => "STATIC_BROKER_CONFIG",
        ConfigSource::DefaultConfig => "DEFAULT_CONFIG",
        ConfigSource::DynamicBrokerLoggerConfig => "DYNAMIC_BROKER_LOGGER_CONFIG",
        ConfigSource::ClientMetricsConfig => "CLIENT_METRICS_CONFIG",
        ConfigSource::GroupConfig => "GROUP_CONFIG",
    }
}

pub fn get(call: &Call) -> Reply {
    let name = call.param("topic");
    let Some(topic) = call.ctx.topics.get(name) else { return not_found(format!("topic '{name}'")) };
    let node = call.ctx.node_id;
    let partitions = topic
        .partitions
        .iter()
        .map(|p| PartitionView {
            partition: p.index,
            leader: node,
            replicas: vec![node],
            log_start_offset: p.log_start_offset(),
            log_end_offset: p.log_end_offset(),
            high_watermark: p.high_watermark(),
            size_bytes: p.size_bytes(),
        })
        .collect();
    let configs = describe_topic_configs(&call.ctx.config, &topic.configs)
        .into_iter()
        .map(|entry| ConfigView { name: entry.name, value: entry.value, source: source_name(entry.source) })
        .collect();
    json(&TopicView { name: topic.name.clone(), internal: topic.is_internal(), partitions, configs })
}
