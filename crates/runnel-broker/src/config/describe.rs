//! DescribeConfigs entries for topics and this broker, with Kafka's sources, synonyms, types
//! and sensitivity (`ConfigHelper.createTopicConfigEntry` / `createBrokerConfigEntry`), ready
//! for a handler to copy into the response.
//!
//! Synonyms follow Kafka's order: a topic override first, then the broker keys that supply the
//! value in priority order as set statically (STATIC_BROKER_CONFIG), then the same keys' defaults
//! (DEFAULT_CONFIG); the list starts at the entry's own broker key, so a secondary synonym set
//! on its own (say log.retention.hours without log.retention.ms) is not listed for a topic's
//! retention.ms, exactly as Kafka reports it. The entry's source is its first synonym's source,
//! or DEFAULT_CONFIG when there is none. Entries are sorted by name. Synonyms and documentation
//! are always filled; the handler drops them when the request did not ask for them.

use std::collections::BTreeMap;

use super::broker::BrokerConfig;
use super::catalog::{self, BROKER_KEYS};
use super::topic::{effective_value, topic_key_spec, TOPIC_KEYS};
use super::value::{parse_value, ConfigType, ConfigValue};

/// Kafka's `DescribeConfigsResponse.ConfigSource`, with its wire codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i8)]
pub enum ConfigSource {
    Unknown = 0,
    DynamicTopicConfig = 1,
    DynamicBrokerConfig = 2,
    DynamicDefaultBrokerConfig = 3,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
    DynamicBrokerLoggerConfig = 6,
    ClientMetricsConfig = 7,
    GroupConfig = 8,
}

impl ConfigSource {
    pub fn code(self) -> i8 {
        self as i8
    }
}

/// One synonym of a config entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSynonym {
    pub name: String,
    /// `None` for sensitive values.
    pub value: Option<String>,
    pub source: ConfigSource,
}

/// One DescribeConfigs result entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    /// `None` for sensitive values and for keys whose value is null (unset, no default).
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub is_sensitive: bool,
    pub config_type: ConfigType,
    pub documentation: Option<String>,
    pub synonyms: Vec<ConfigSynonym>,
}

/// Every topic config of a topic with these overrides, as Kafka's DescribeConfigs reports it.
pub fn describe_topic_configs(broker: &BrokerConfig, overrides: &BTreeMap<String, String>) -> Vec<ConfigEntry> {
    let mut entries: Vec<ConfigEntry> = TOPIC_KEYS
        .iter()
        .map(|key| {
            let value = match overrides.get(key.name) {
                Some(raw) => Some(
                    parse_value(key.name, raw, key.ty, key.validator)
                        .map(|value| value.to_kafka_string())
                        .unwrap_or_else(|_| raw.clone()),
                ),
                None => effective_value(broker, overrides, key).map(|value| value.to_kafka_string()),
            };
            let mut synonyms = Vec::new();
            if overrides.contains_key(key.name) {
                synonyms.push(ConfigSynonym { name: key.name.to_string(), value: value.clone(), source: ConfigSource::DynamicTopicConfig });
            }
            if let Some(primary) = key.synonyms.first() {
                synonyms.extend(config_synonyms(broker, primary, &broker_synonyms(primary), false));
            }
            ConfigEntry {
                name: key.name.to_string(),
                value,
                source: synonyms.first().map_or(ConfigSource::DefaultConfig, |synonym| synonym.source),
                read_only: false,
                is_sensitive: false,
                config_type: key.ty,
                documentation: Some(key.doc.to_string()),
                synonyms,
            }
        })
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries
}

/// This broker's configs: every typed key plus every other key the user set (the latter with an
/// unknown type and therefore, as Kafka treats them, sensitive). Runnel has no dynamic broker
/// configs, so every entry is read-only.
/// Keys Kafka defines as internal: accepted in server.properties, never described.
const INTERNAL_BROKER_KEYS: &[&str] = &["producer.id.expiration.check.interval.ms"];

pub fn describe_broker_configs(broker: &BrokerConfig) -> Vec<ConfigEntry> {
    let mut entries: Vec<ConfigEntry> = BROKER_KEYS
        .iter()
        .filter(|key| !INTERNAL_BROKER_KEYS.contains(&key.name))
        .map(|key| {
            let sensitive = key.ty.is_sensitive();
            let value = match key.name {
                "node.id" | "broker.id" => Some(broker.node_id.to_string()),
                _ => broker.values.get(key.name).map(ConfigValue::to_kafka_string),
            };
            let synonyms = config_synonyms(broker, key.name, &broker_synonyms(key.name), sensitive);
            ConfigEntry {
                name: key.name.to_string(),
                value: if sensitive { None } else { value },
                source: synonyms.first().map_or(ConfigSource::DefaultConfig, |synonym| synonym.source),
                read_only: true,
                is_sensitive: sensitive,
                config_type: key.ty,
                documentation: Some(key.doc.to_string()),
                synonyms,
            }
        })
        .collect();
    for name in broker.explicit.keys().filter(|name| catalog::broker_key(name).is_none()) {
        let synonyms = config_synonyms(broker, name, &broker_synonyms(name), true);
        entries.push(ConfigEntry {
            name: name.clone(),
            value: None,
            source: synonyms.first().map_or(ConfigSource::DefaultConfig, |synonym| synonym.source),
            read_only: true,
            is_sensitive: true,
            config_type: ConfigType::Unknown,
            documentation: None,
            synonyms,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries
}

/// Kafka's `DynamicBrokerConfig.brokerConfigSynonyms`: the broker keys that can supply `name`,
/// highest priority first.
fn broker_synonyms(name: &str) -> Vec<String> {
    const GROUPS: &[&[&str]] = &[
        &["log.roll.ms", "log.roll.hours"],
        &["log.roll.jitter.ms", "log.roll.jitter.hours"],
        &["log.retention.ms", "log.retention.minutes", "log.retention.hours"],
    ];
    if let Some(group) = GROUPS.iter().find(|group| group.contains(&name)) {
        return group.iter().map(|s| s.to_string()).collect();
    }
    if name == "log.flush.interval.ms" {
        return vec![name.to_string(), "log.flush.scheduler.interval.ms".to_string()];
    }
    if let Some(rest) = name.strip_prefix("listener.name.") {
        if let Some((_, base)) = rest.split_once('.') {
            return vec![name.to_string(), base.to_string()];
        }
    }
    vec![name.to_string()]
}

/// Kafka's `ConfigHelper.configSynonyms` for a broker without dynamic configs: the synonyms set
/// statically, then those with defaults, starting from `name` itself.
fn config_synonyms(broker: &BrokerConfig, name: &str, synonyms: &[String], sensitive: bool) -> Vec<ConfigSynonym> {
    let shown = |value: String| if sensitive { None } else { Some(value) };
    let mut all = Vec::new();
    for synonym in synonyms {
        if let Some(value) = static_value(broker, synonym) {
            all.push(ConfigSynonym { name: synonym.clone(), value: shown(value), source: ConfigSource::StaticBrokerConfig });
        }
    }
    for synonym in synonyms {
        if let Some(default) = catalog::broker_key(synonym).and_then(|key| key.default) {
            all.push(ConfigSynonym { name: synonym.clone(), value: shown(default.to_string()), source: ConfigSource::DefaultConfig });
        }
    }
    let start = all.iter().position(|synonym| synonym.name == name).unwrap_or(all.len());
    all.split_off(start)
}

/// The raw value a key was set to, with Kafka's node.id / broker.id mirroring (setting one sets
/// both).
fn static_value(broker: &BrokerConfig, name: &str) -> Option<String> {
    match name {
        "node.id" => broker.explicit.get("node.id").or_else(|| broker.explicit.get("broker.id")).cloned(),
        "broker.id" => broker.explicit.get("broker.id").or_else(|| broker.explicit.get("node.id")).cloned(),
        _ => broker.explicit.get(name).cloned(),
    }
}

/// Whether `name` is a topic config Kafka 4.x knows.
pub fn is_topic_config(name: &str) -> bool {
    topic_key_spec(name).is_some()
}
