//! Topic administration: create, list, describe, delete, add partitions.
//!
//! Owns: `NewTopic` and the topic views (`TopicListing`, `TopicDescription`). Topic changes go
//! to the controller Metadata names (a KRaft broker forwards them); a NOT_CONTROLLER answer
//! refreshes metadata and resends only the topics it concerned.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::{ApiKey, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::configs::{ConfigEntry, ConfigSource};
use super::Admin;
use crate::conn::Connection;
use crate::error::{Error, Result};

const NOT_CONTROLLER: i16 = 41;
const LEADER_NOT_AVAILABLE: i16 = 5;
/// CreateTopics v4 is the first that lets the broker pick partitions and replication factor.
const CREATE_TOPICS_DEFAULTS_VERSION: i16 = 4;

/// A topic to create. Unset partitions and replication factor take the broker's defaults
/// (`num.partitions`, `default.replication.factor`).
///
/// ```
/// use runnel_client::admin::NewTopic;
///
/// let topic = NewTopic::new("orders").partitions(6).replication_factor(1).config("cleanup.policy", "compact");
/// assert_eq!(topic.partitions, Some(6));
/// assert_eq!(topic.configs["cleanup.policy"], "compact");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    pub partitions: Option<i32>,
    pub replication_factor: Option<i16>,
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    pub fn new(name: impl Into<String>) -> NewTopic {
        NewTopic { name: name.into(), partitions: None, replication_factor: None, configs: BTreeMap::new() }
    }

    pub fn partitions(mut self, partitions: i32) -> NewTopic {
        self.partitions = Some(partitions);
        self
    }

    pub fn replication_factor(mut self, replication_factor: i16) -> NewTopic {
        self.replication_factor = Some(replication_factor);
        self
    }

    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> NewTopic {
        self.configs.insert(name.into(), value.into());
        self
    }

    fn to_creatable(&self, version: i16) -> Result<CreatableTopic> {
        if version < CREATE_TOPICS_DEFAULTS_VERSION && (self.partitions.is_none() || self.replication_factor.is_none())
        {
            return Err(Error::UnsupportedVersion {
                api: format!("CreateTopics v{version} with broker-default partitions or replication factor"),
                broker: "the controller".into(),
            });
        }
        let configs = self
            .configs
            .iter()
            .map(|(name, value)| {
                CreatableTopicConfig::default()
                    .with_name(StrBytes::from_string(name.clone()))
                    .with_value(Some(StrBytes::from_string(value.clone())))
            })
            .collect();
        Ok(CreatableTopic::default()
            .with_name(topic_name(&self.name))
            .with_num_partitions(self.partitions.unwrap_or(-1))
            .with_replication_factor(self.replication_factor.unwrap_or(-1))
            .with_configs(configs))
    }
}

/// What the controller reports about a created (or, with `validate_only`, validated) topic.
/// Brokers before CreateTopics v5 report only success: the optional fields stay empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    pub name: String,
    /// Since CreateTopics v7.
    pub topic_id: Option<Uuid>,
    pub partitions: Option<i32>,
    pub replication_factor: Option<i16>,
    /// The topic's effective configuration, since CreateTopics v5.
    pub configs: Vec<ConfigEntry>,
}

/// One topic as `list_topics` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicListing {
    pub name: String,
    pub topic_id: Uuid,
    pub internal: bool,
    pub partitions: usize,
    /// Replicas of the first partition.
    pub replication_factor: usize,
}

/// A topic's partitions and where they live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    pub name: String,
    pub topic_id: Uuid,
    pub internal: bool,
    /// Sorted by partition.
    pub partitions: Vec<PartitionDescription>,
}

impl TopicDescription {
    /// Replicas of the first partition, as kafka-topics reports it.
    pub fn replication_factor(&self) -> usize {
        self.partitions.first().map_or(0, |p| p.replicas.len())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    pub partition: i32,
    /// `None` while the partition has no leader.
    pub leader: Option<i32>,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline_replicas: Vec<i32>,
}

impl Admin {
    /// Creates topics; one result per topic name. `validate_only` asks the controller to check
    /// the request without creating anything.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
        validate_only: bool,
    ) -> Result<BTreeMap<String, Result<CreatedTopic>>> {
        let mut results = BTreeMap::new();
        let mut pending: Vec<&NewTopic> = topics.iter().collect();
        let retry = self.retry();
        while !pending.is_empty() {
            let connection = match self.controller().await {
                Ok(connection) => connection,
                Err(error) if error.is_retriable() => {
                    retry.pause(error).await?;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let version = connection.version(ApiKey::CreateTopics)?;
            let mut creatable = Vec::new();
            for topic in &pending {
                match topic.to_creatable(version) {
                    Ok(c) => creatable.push(c),
                    Err(error) => {
                        results.insert(topic.name.clone(), Err(error));
                    }
                }
            }
            pending.retain(|t| !results.contains_key(&t.name));
            if creatable.is_empty() {
                break;
            }
            let request = CreateTopicsRequest::default()
                .with_topics(creatable)
                .with_timeout_ms(self.api_timeout_ms())
                .with_validate_only(validate_only);
            let response = match connection.send(request).await {
                Ok(response) => response,
                Err(error) if error.is_retriable() => {
                    retry.pause(error).await?;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let mut moved = None;
            for topic in response.topics {
                let name = topic.name.0.to_string();
                if topic.error_code == NOT_CONTROLLER {
                    moved = Some(Error::kafka(
                        topic.error_code,
                        message(&topic.error_message),
                        format!("create topic {name}"),
                    ));
                    continue;
                }
                let result = if topic.error_code != 0 {
                    Err(Error::kafka(topic.error_code, message(&topic.error_message), format!("create topic {name}")))
                } else {
                    Ok(CreatedTopic {
                        name: name.clone(),
                        topic_id: (!topic.topic_id.is_nil()).then_some(topic.topic_id),
                        partitions: (topic.num_partitions >= 0).then_some(topic.num_partitions),
                        replication_factor: (topic.replication_factor >= 0).then_some(topic.replication_factor),
                        configs: topic
                            .configs
                            .unwrap_or_default()
                            .into_iter()
                            .map(|c| ConfigEntry {
                                name: c.name.to_string(),
                                value: c.value.map(|v| v.to_string()),
                                source: ConfigSource::from_code(c.config_source),
                                read_only: c.read_only,
                                sensitive: c.is_sensitive,
                                synonyms: Vec::new(),
                                documentation: None,
                            })
                            .collect(),
                    })
                };
                results.insert(name, result);
            }
            pending.retain(|t| !results.contains_key(&t.name));
            if let Some(error) = moved {
                self.cluster.refresh(Some(&[]), false).await?;
                retry.pause(error).await?;
            } else {
                for topic in pending.drain(..) {
                    results.insert(topic.name.clone(), Err(missing("CreateTopics", &topic.name)));
                }
            }
        }
        Ok(results)
    }

    /// Every topic the cluster reports, sorted by name; internal topics (`__consumer_offsets`)
    /// only when asked.
    pub async fn list_topics(&self, include_internal: bool) -> Result<Vec<TopicListing>> {
        let metadata = self.cluster.refresh(None, false).await?;
        Ok(metadata
            .topics
            .values()
            .filter(|t| t.error_code == 0 && (include_internal || !t.is_internal))
            .map(|t| TopicListing {
                name: t.name.clone(),
                topic_id: t.topic_id,
                internal: t.is_internal,
                partitions: t.partitions.len(),
                replication_factor: t.partitions.first().map_or(0, |p| p.replicas.len()),
            })
            .collect())
    }

    /// Partitions, leaders, replicas and in-sync replicas of each named topic. A topic that
    /// does not exist gets UNKNOWN_TOPIC_OR_PARTITION.
    pub async fn describe_topics(&self, names: &[String]) -> Result<BTreeMap<String, Result<TopicDescription>>> {
        let retry = self.retry();
        let metadata = loop {
            let metadata = self.cluster.refresh(Some(names), false).await?;
            // A topic created a moment ago may still be electing its leaders.
            let settling = names
                .iter()
                .find(|n| metadata.topics.get(n.as_str()).is_some_and(|t| t.error_code == LEADER_NOT_AVAILABLE));
            match settling {
                Some(name) if !retry.expired() => {
                    retry.pause(Error::kafka(LEADER_NOT_AVAILABLE, None, format!("describe topic {name}"))).await?;
                }
                _ => break metadata,
            }
        };
        let mut results = BTreeMap::new();
        for name in names {
            let result = match metadata.topics.get(name) {
                None => Err(missing("Metadata", name)),
                Some(t) if t.error_code != 0 => Err(Error::kafka(t.error_code, None, format!("describe topic {name}"))),
                Some(t) => Ok(TopicDescription {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    internal: t.is_internal,
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| PartitionDescription {
                            partition: p.partition,
                            leader: (p.leader >= 0).then_some(p.leader),
                            leader_epoch: p.leader_epoch,
                            replicas: p.replicas.clone(),
                            isr: p.isr.clone(),
                            offline_replicas: p.offline_replicas.clone(),
                        })
                        .collect(),
                }),
            };
            results.insert(name.clone(), result);
        }
        Ok(results)
    }

    /// Deletes topics by name; one result per topic.
    pub async fn delete_topics(&self, names: &[String]) -> Result<BTreeMap<String, Result<()>>> {
        let mut results = BTreeMap::new();
        let mut pending: Vec<&String> = names.iter().collect();
        let retry = self.retry();
        while !pending.is_empty() {
            let connection = match self.controller().await {
                Ok(connection) => connection,
                Err(error) if error.is_retriable() => {
                    retry.pause(error).await?;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let version = connection.version(ApiKey::DeleteTopics)?;
            let mut request = DeleteTopicsRequest::default().with_timeout_ms(self.api_timeout_ms());
            if version >= 6 {
                request.topics =
                    pending.iter().map(|n| DeleteTopicState::default().with_name(Some(topic_name(n)))).collect();
            } else {
                request.topic_names = pending.iter().map(|n| topic_name(n)).collect();
            }
            let response = match connection.send(request).await {
                Ok(response) => response,
                Err(error) if error.is_retriable() => {
                    retry.pause(error).await?;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let mut moved = None;
            for topic in response.responses {
                let Some(name) = topic.name.map(|n| n.0.to_string()) else { continue };
                let result =
                    crate::error::check(topic.error_code, topic.error_message.as_ref(), format!("delete topic {name}"));
                if topic.error_code == NOT_CONTROLLER {
                    moved = result.err();
                    continue;
                }
                results.insert(name, result);
            }
            pending.retain(|n| !results.contains_key(n.as_str()));
            if let Some(error) = moved {
                self.cluster.refresh(Some(&[]), false).await?;
                retry.pause(error).await?;
            } else {
                for name in pending.drain(..) {
                    results.insert(name.clone(), Err(missing("DeleteTopics", name)));
                }
            }
        }
        Ok(results)
    }

    /// Raises each named topic's partition count to the given total (Kafka never lowers it).
    pub async fn create_partitions(
        &self,
        totals: &BTreeMap<String, i32>,
        validate_only: bool,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let mut results = BTreeMap::new();
        let mut pending: Vec<(&String, i32)> = totals.iter().map(|(n, c)| (n, *c)).collect();
        let retry = self.retry();
        while !pending.is_empty() {
            let connection = match self.controller().await {
                Ok(connection) => connection,
                Err(error) if error.is_retriable() => {
                    retry.pause(error).await?;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let request = CreatePartitionsRequest::default()
                .with_topics(
                    pending
                        .iter()
                        .map(|(name, count)| {
                            // No explicit assignment: the controller places the new
                            // replicas (an empty list would ask for zero of them).
                            CreatePartitionsTopic::default()
                                .with_name(topic_name(name))
                                .with_count(*count)
                                .with_assignments(None)
                        })
                        .collect(),
                )
                .with_timeout_ms(self.api_timeout_ms())
                .with_validate_only(validate_only);
            let response = match connection.send(request).await {
                Ok(response) => response,
                Err(error) if error.is_retriable() => {
                    retry.pause(error).await?;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let mut moved = None;
            for topic in response.results {
                let name = topic.name.0.to_string();
                let result = crate::error::check(
                    topic.error_code,
                    topic.error_message.as_ref(),
                    format!("create partitions for {name}"),
                );
                if topic.error_code == NOT_CONTROLLER {
                    moved = result.err();
                    continue;
                }
                results.insert(name, result);
            }
            pending.retain(|(n, _)| !results.contains_key(n.as_str()));
            if let Some(error) = moved {
                self.cluster.refresh(Some(&[]), false).await?;
                retry.pause(error).await?;
            } else {
                for (name, _) in pending.drain(..) {
                    results.insert(name.clone(), Err(missing("CreatePartitions", name)));
                }
            }
        }
        Ok(results)
    }

    /// The broker Metadata names as controller, or any broker when none is named (a KRaft
    /// broker forwards controller requests).
    async fn controller(&self) -> Result<Connection> {
        let controller_id = self.cluster.metadata().controller_id;
        if controller_id >= 0 {
            if let Ok(connection) = self.cluster.broker(controller_id).await {
                return Ok(connection);
            }
        }
        self.cluster.any_broker().await
    }
}

pub(super) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

pub(super) fn message(message: &Option<StrBytes>) -> Option<String> {
    message.as_ref().map(|m| m.to_string())
}

/// A resource the request named but the answer left out.
pub(super) fn missing(api: &str, resource: &str) -> Error {
    Error::Protocol(format!("{api} response has no result for {resource:?}"))
}
