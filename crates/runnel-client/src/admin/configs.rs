//! Configuration of topics and brokers: describe (with sources, defaults, sensitivity and
//! synonyms) and incremental change (SET, DELETE, APPEND, SUBTRACT).
//!
//! Owns: `ConfigResource`, `ConfigEntry` and `AlterConfigOp`. A broker resource is sent to
//! that broker, as Kafka requires; topic resources go to any broker in one request.

use std::collections::BTreeMap;
use std::fmt;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::{ApiKey, DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafka_protocol::protocol::StrBytes;

use super::topics::missing;
use super::Admin;
use crate::conn::Connection;
use crate::error::{check, Result};

/// DescribeConfigs v3 added `include_documentation`.
const DOCUMENTATION_VERSION: i16 = 3;

/// What kind of thing a configuration belongs to (Kafka's `ConfigResource.Type`, with its
/// wire codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigResourceType {
    Topic,
    Broker,
    BrokerLogger,
    ClientMetrics,
    Group,
}

impl ConfigResourceType {
    pub fn code(self) -> i8 {
        match self {
            ConfigResourceType::Topic => 2,
            ConfigResourceType::Broker => 4,
            ConfigResourceType::BrokerLogger => 8,
            ConfigResourceType::ClientMetrics => 16,
            ConfigResourceType::Group => 32,
        }
    }
}

/// A topic, broker or other configurable thing.
///
/// ```
/// use runnel_client::admin::ConfigResource;
///
/// assert_eq!(ConfigResource::topic("orders").to_string(), "topic orders");
/// assert_eq!(ConfigResource::broker(1).to_string(), "broker 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigResource {
    pub kind: ConfigResourceType,
    pub name: String,
}

impl ConfigResource {
    pub fn topic(name: impl Into<String>) -> ConfigResource {
        ConfigResource { kind: ConfigResourceType::Topic, name: name.into() }
    }

    /// One broker's configuration; Kafka names brokers by node id.
    pub fn broker(node_id: i32) -> ConfigResource {
        ConfigResource { kind: ConfigResourceType::Broker, name: node_id.to_string() }
    }

    /// The node a broker resource must be sent to; `None` for cluster-wide resources.
    fn broker_node(&self) -> Option<i32> {
        match self.kind {
            ConfigResourceType::Broker | ConfigResourceType::BrokerLogger => self.name.parse().ok(),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ConfigResourceType::Topic => "topic",
            ConfigResourceType::Broker => "broker",
            ConfigResourceType::BrokerLogger => "broker logger",
            ConfigResourceType::ClientMetrics => "client metrics",
            ConfigResourceType::Group => "group",
        };
        write!(f, "{kind} {}", self.name)
    }
}

/// Where a configuration value comes from (Kafka's `ConfigEntry.ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    DynamicTopicConfig,
    DynamicBrokerLoggerConfig,
    DynamicBrokerConfig,
    DynamicDefaultBrokerConfig,
    DynamicClientMetricsConfig,
    DynamicGroupConfig,
    StaticBrokerConfig,
    DefaultConfig,
    Unknown,
}

impl ConfigSource {
    /// The DescribeConfigs v1+ wire code.
    pub fn from_code(code: i8) -> ConfigSource {
        match code {
            1 => ConfigSource::DynamicTopicConfig,
            2 => ConfigSource::DynamicBrokerConfig,
            3 => ConfigSource::DynamicDefaultBrokerConfig,
            4 => ConfigSource::StaticBrokerConfig,
            5 => ConfigSource::DefaultConfig,
            6 => ConfigSource::DynamicBrokerLoggerConfig,
            7 => ConfigSource::DynamicClientMetricsConfig,
            8 => ConfigSource::DynamicGroupConfig,
            _ => ConfigSource::Unknown,
        }
    }

    /// Kafka's spelling, as kafka-configs prints it: `DYNAMIC_TOPIC_CONFIG`.
    pub fn name(self) -> &'static str {
        match self {
            ConfigSource::DynamicTopicConfig => "DYNAMIC_TOPIC_CONFIG",
            ConfigSource::DynamicBrokerLoggerConfig => "DYNAMIC_BROKER_LOGGER_CONFIG",
            ConfigSource::DynamicBrokerConfig => "DYNAMIC_BROKER_CONFIG",
            ConfigSource::DynamicDefaultBrokerConfig => "DYNAMIC_DEFAULT_BROKER_CONFIG",
            ConfigSource::DynamicClientMetricsConfig => "CLIENT_METRICS_CONFIG",
            ConfigSource::DynamicGroupConfig => "GROUP_CONFIG",
            ConfigSource::StaticBrokerConfig => "STATIC_BROKER_CONFIG",
            ConfigSource::DefaultConfig => "DEFAULT_CONFIG",
            ConfigSource::Unknown => "UNKNOWN",
        }
    }
}

/// One configuration key of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    /// `None` for sensitive values (passwords) and unset keys.
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub sensitive: bool,
    /// Where else the key is set, most specific first; only when asked for.
    pub synonyms: Vec<ConfigSynonym>,
    pub documentation: Option<String>,
}

impl ConfigEntry {
    /// Whether the value is the built-in default (kafka-topics leaves these out of `Configs:`).
    pub fn is_default(&self) -> bool {
        self.source == ConfigSource::DefaultConfig
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSynonym {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
}

/// One change for IncrementalAlterConfigs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Set the key to a value.
    Set(String, String),
    /// Remove the key, so it falls back to the broker's value or the default.
    Delete(String),
    /// Add items to a list-valued key.
    Append(String, String),
    /// Remove items from a list-valued key.
    Subtract(String, String),
}

impl AlterConfigOp {
    fn to_wire(&self) -> AlterableConfig {
        let (name, operation, value) = match self {
            AlterConfigOp::Set(n, v) => (n, 0, Some(v)),
            AlterConfigOp::Delete(n) => (n, 1, None),
            AlterConfigOp::Append(n, v) => (n, 2, Some(v)),
            AlterConfigOp::Subtract(n, v) => (n, 3, Some(v)),
        };
        AlterableConfig::default()
            .with_name(StrBytes::from_string(name.clone()))
            .with_config_operation(operation)
            .with_value(value.map(|v| StrBytes::from_string(v.clone())))
    }
}

impl Admin {
    /// The configuration of each resource; one result per resource. `include_synonyms` and
    /// `include_documentation` ask for the extra detail DescribeConfigs v1/v3 can carry.
    pub async fn describe_configs(
        &self,
        resources: &[ConfigResource],
        include_synonyms: bool,
        include_documentation: bool,
    ) -> Result<BTreeMap<ConfigResource, Result<Vec<ConfigEntry>>>> {
        let mut results = BTreeMap::new();
        for (node, batch) in by_destination(resources) {
            let connection = self.config_destination(node).await?;
            // Documentation exists from DescribeConfigs v3; asking an older broker would
            // not encode.
            let documented =
                include_documentation && connection.version(ApiKey::DescribeConfigs)? >= DOCUMENTATION_VERSION;
            let request = DescribeConfigsRequest::default()
                .with_resources(
                    batch
                        .iter()
                        .map(|r| {
                            DescribeConfigsResource::default()
                                .with_resource_type(r.kind.code())
                                .with_resource_name(StrBytes::from_string(r.name.clone()))
                                .with_configuration_keys(None)
                        })
                        .collect(),
                )
                .with_include_synonyms(include_synonyms)
                .with_include_documentation(documented);
            let response = connection.send(request).await?;
            for result in response.results {
                let Some(resource) = batch
                    .iter()
                    .find(|r| r.kind.code() == result.resource_type && r.name == result.resource_name.as_str())
                else {
                    continue;
                };
                let entries =
                    check(result.error_code, result.error_message.as_ref(), format!("describe configs of {resource}"))
                        .map(|()| {
                            result
                                .configs
                                .into_iter()
                                .map(|c| ConfigEntry {
                                    name: c.name.to_string(),
                                    value: c.value.map(|v| v.to_string()),
                                    source: ConfigSource::from_code(c.config_source),
                                    read_only: c.read_only,
                                    sensitive: c.is_sensitive,
                                    synonyms: c
                                        .synonyms
                                        .into_iter()
                                        .map(|s| ConfigSynonym {
                                            name: s.name.to_string(),
                                            value: s.value.map(|v| v.to_string()),
                                            source: ConfigSource::from_code(s.source),
                                        })
                                        .collect(),
                                    documentation: c.documentation.map(|d| d.to_string()),
                                })
                                .collect()
                        });
                results.insert((*resource).clone(), entries);
            }
            for resource in batch {
                if !results.contains_key(resource) {
                    results.insert(resource.clone(), Err(missing("DescribeConfigs", &resource.to_string())));
                }
            }
        }
        Ok(results)
    }

    /// Applies changes to each resource's configuration (IncrementalAlterConfigs); one result
    /// per resource. Keys not named keep their values.
    pub async fn incremental_alter_configs(
        &self,
        changes: &BTreeMap<ConfigResource, Vec<AlterConfigOp>>,
        validate_only: bool,
    ) -> Result<BTreeMap<ConfigResource, Result<()>>> {
        let resources: Vec<ConfigResource> = changes.keys().cloned().collect();
        let mut results = BTreeMap::new();
        for (node, batch) in by_destination(&resources) {
            let connection = self.config_destination(node).await?;
            let request = IncrementalAlterConfigsRequest::default()
                .with_resources(
                    batch
                        .iter()
                        .map(|r| {
                            AlterConfigsResource::default()
                                .with_resource_type(r.kind.code())
                                .with_resource_name(StrBytes::from_string(r.name.clone()))
                                .with_configs(changes[*r].iter().map(AlterConfigOp::to_wire).collect())
                        })
                        .collect(),
                )
                .with_validate_only(validate_only);
            let response = connection.send(request).await?;
            for result in response.responses {
                let Some(resource) = batch
                    .iter()
                    .find(|r| r.kind.code() == result.resource_type && r.name == result.resource_name.as_str())
                else {
                    continue;
                };
                let outcome =
                    check(result.error_code, result.error_message.as_ref(), format!("alter configs of {resource}"));
                results.insert((*resource).clone(), outcome);
            }
            for resource in batch {
                if !results.contains_key(resource) {
                    results.insert(resource.clone(), Err(missing("IncrementalAlterConfigs", &resource.to_string())));
                }
            }
        }
        Ok(results)
    }

    async fn config_destination(&self, node: Option<i32>) -> Result<Connection> {
        match node {
            Some(node_id) => self.cluster.broker(node_id).await,
            None => self.cluster.any_broker().await,
        }
    }
}

/// Resources grouped by the broker that must answer for them (`None`: any broker).
fn by_destination(resources: &[ConfigResource]) -> BTreeMap<Option<i32>, Vec<&ConfigResource>> {
    let mut groups: BTreeMap<Option<i32>, Vec<&ConfigResource>> = BTreeMap::new();
    for resource in resources {
        groups.entry(resource.broker_node()).or_default().push(resource);
    }
    groups
}
