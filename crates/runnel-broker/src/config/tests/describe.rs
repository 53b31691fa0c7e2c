//! DescribeConfigs entries: values, sources, synonyms and their order.

use std::collections::BTreeMap;

use super::config;
use crate::config::{describe_broker_configs, describe_topic_configs, BrokerConfig, ConfigEntry, ConfigSource, ConfigSynonym, ConfigType};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn topic_entry(broker: &BrokerConfig, overrides: &[(&str, &str)], name: &str) -> ConfigEntry {
    describe_topic_configs(broker, &map(overrides)).into_iter().find(|e| e.name == name).expect("entry present")
}

fn broker_entry(broker: &BrokerConfig, name: &str) -> ConfigEntry {
    describe_broker_configs(broker).into_iter().find(|e| e.name == name).expect("entry present")
}

fn synonym(name: &str, value: &str, source: ConfigSource) -> ConfigSynonym {
    ConfigSynonym { name: name.to_string(), value: Some(value.to_string()), source }
}

#[test]
fn source_codes_are_kafkas() {
    let codes: Vec<i8> = [
        ConfigSource::Unknown,
        ConfigSource::DynamicTopicConfig,
        ConfigSource::DynamicBrokerConfig,
        ConfigSource::DynamicDefaultBrokerConfig,
        ConfigSource::StaticBrokerConfig,
        ConfigSource::DefaultConfig,
        ConfigSource::DynamicBrokerLoggerConfig,
        ConfigSource::ClientMetricsConfig,
        ConfigSource::GroupConfig,
    ]
    .iter()
    .map(|s| s.code())
    .collect();
    assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(ConfigSource::StaticBrokerConfig as i8, 4);
}

#[test]
fn topic_entries_cover_every_topic_config_sorted() {
    let entries = describe_topic_configs(&config(&[]), &BTreeMap::new());
    assert_eq!(entries.len(), 33);
    assert!(entries.windows(2).all(|w| w[0].name < w[1].name));
    assert!(entries.iter().all(|e| !e.read_only && !e.is_sensitive && e.documentation.is_some() && e.value.is_some()));
}

#[test]
fn an_unset_topic_config_is_a_default_with_its_broker_default_synonym() {
    let entry = topic_entry(&config(&[]), &[], "segment.bytes");
    assert_eq!(entry.value.as_deref(), Some("1073741824"));
    assert_eq!(entry.source, ConfigSource::DefaultConfig);
    assert_eq!(entry.config_type, ConfigType::Int);
    assert_eq!(entry.synonyms, vec![synonym("log.segment.bytes", "1073741824", ConfigSource::DefaultConfig)]);
    let entry = topic_entry(&config(&[]), &[], "cleanup.policy");
    assert_eq!((entry.value.as_deref(), entry.config_type), (Some("delete"), ConfigType::List));
    assert_eq!(topic_entry(&config(&[]), &[], "min.cleanable.dirty.ratio").value.as_deref(), Some("0.5"));
}

#[test]
fn a_topic_override_is_a_dynamic_topic_config_listed_first() {
    let broker = config(&[("log.segment.bytes", "2097152")]);
    let entry = topic_entry(&broker, &[("segment.bytes", " 3145728 ")], "segment.bytes");
    assert_eq!(entry.value.as_deref(), Some("3145728"), "values are normalised as Kafka prints them");
    assert_eq!(entry.source, ConfigSource::DynamicTopicConfig);
    assert_eq!(
        entry.synonyms,
        vec![
            synonym("segment.bytes", "3145728", ConfigSource::DynamicTopicConfig),
            synonym("log.segment.bytes", "2097152", ConfigSource::StaticBrokerConfig),
            synonym("log.segment.bytes", "1073741824", ConfigSource::DefaultConfig),
        ]
    );
    let entry = topic_entry(&broker, &[("cleanup.policy", "compact, delete")], "cleanup.policy");
    assert_eq!(entry.value.as_deref(), Some("compact,delete"));
}

#[test]
fn a_broker_synonym_set_explicitly_is_a_static_broker_config() {
    let broker = config(&[("log.retention.ms", "5000"), ("log.retention.hours", "24")]);
    let entry = topic_entry(&broker, &[], "retention.ms");
    assert_eq!(entry.value.as_deref(), Some("5000"));
    assert_eq!(entry.source, ConfigSource::StaticBrokerConfig);
    assert_eq!(
        entry.synonyms,
        vec![
            synonym("log.retention.ms", "5000", ConfigSource::StaticBrokerConfig),
            synonym("log.retention.hours", "24", ConfigSource::StaticBrokerConfig),
            synonym("log.retention.hours", "168", ConfigSource::DefaultConfig),
        ]
    );
}

/// Kafka anchors a topic's synonyms at the first broker synonym (log.retention.ms), so a
/// lower-priority synonym set on its own is not listed and the source stays DEFAULT_CONFIG,
/// while the value still reflects it.
#[test]
fn topic_retention_ms_does_not_list_a_secondary_synonym_set_alone_as_kafka() {
    let broker = config(&[("log.retention.hours", "24")]);
    let entry = topic_entry(&broker, &[], "retention.ms");
    assert_eq!(entry.value.as_deref(), Some("86400000"));
    assert_eq!(entry.source, ConfigSource::DefaultConfig);
    assert!(entry.synonyms.is_empty());
    let entry = topic_entry(&config(&[]), &[], "retention.ms");
    assert_eq!((entry.value.as_deref(), entry.source), (Some("604800000"), ConfigSource::DefaultConfig));
    assert!(entry.synonyms.is_empty());
}

#[test]
fn topic_flush_ms_lists_the_scheduler_default_only_after_the_interval() {
    let entry = topic_entry(&config(&[("log.flush.scheduler.interval.ms", "1000")]), &[], "flush.ms");
    assert_eq!(entry.value.as_deref(), Some("1000"));
    assert!(entry.synonyms.is_empty());
    let entry = topic_entry(&config(&[("log.flush.interval.ms", "500")]), &[], "flush.ms");
    assert_eq!(
        entry.synonyms,
        vec![
            synonym("log.flush.interval.ms", "500", ConfigSource::StaticBrokerConfig),
            synonym("log.flush.scheduler.interval.ms", "9223372036854775807", ConfigSource::DefaultConfig),
        ]
    );
}

#[test]
fn topic_configs_without_a_broker_synonym_have_no_synonyms_unless_overridden() {
    let entry = topic_entry(&config(&[]), &[], "remote.storage.enable");
    assert_eq!((entry.value.as_deref(), entry.source), (Some("false"), ConfigSource::DefaultConfig));
    assert!(entry.synonyms.is_empty());
    let entry = topic_entry(&config(&[]), &[], "leader.replication.throttled.replicas");
    assert_eq!(entry.value.as_deref(), Some(""));
}

#[test]
fn broker_entries_report_static_and_default_sources() {
    let broker = config(&[("num.partitions", "3")]);
    let entry = broker_entry(&broker, "num.partitions");
    assert_eq!(entry.value.as_deref(), Some("3"));
    assert_eq!(entry.source, ConfigSource::StaticBrokerConfig);
    assert!(entry.read_only);
    assert_eq!(
        entry.synonyms,
        vec![synonym("num.partitions", "3", ConfigSource::StaticBrokerConfig), synonym("num.partitions", "1", ConfigSource::DefaultConfig)]
    );
    let entry = broker_entry(&broker, "listeners");
    assert_eq!((entry.value.as_deref(), entry.source), (Some("PLAINTEXT://localhost:9092"), ConfigSource::DefaultConfig));
    assert_eq!(broker_entry(&broker, "log.dir").value.as_deref(), Some("./runnel-data"));
    assert_eq!(broker_entry(&broker, "log.cleaner.io.max.bytes.per.second").value.as_deref(), Some("1.7976931348623157E308"));
}

#[test]
fn broker_keys_with_null_defaults_have_null_values() {
    let entry = broker_entry(&config(&[]), "log.retention.ms");
    assert_eq!((entry.value, entry.source), (None, ConfigSource::DefaultConfig));
    assert!(entry.synonyms.is_empty());
    let entry = broker_entry(&config(&[]), "log.retention.hours");
    assert_eq!(entry.synonyms, vec![synonym("log.retention.hours", "168", ConfigSource::DefaultConfig)]);
}

#[test]
fn broker_synonym_lists_start_at_the_described_key() {
    let broker = config(&[("log.retention.ms", "5000")]);
    let entry = broker_entry(&broker, "log.retention.hours");
    assert_eq!(entry.source, ConfigSource::DefaultConfig);
    assert_eq!(entry.synonyms, vec![synonym("log.retention.hours", "168", ConfigSource::DefaultConfig)]);
    let entry = broker_entry(&broker, "log.retention.ms");
    assert_eq!(entry.source, ConfigSource::StaticBrokerConfig);
    assert_eq!(entry.synonyms[0], synonym("log.retention.ms", "5000", ConfigSource::StaticBrokerConfig));
}

#[test]
fn unknown_explicit_keys_are_listed_as_sensitive_with_no_value() {
    let broker = config(&[("my.secret.thing", "hunter2")]);
    let entry = broker_entry(&broker, "my.secret.thing");
    assert_eq!(entry.value, None);
    assert!(entry.is_sensitive);
    assert_eq!(entry.config_type, ConfigType::Unknown);
    assert_eq!(entry.source, ConfigSource::StaticBrokerConfig);
    assert_eq!(entry.synonyms, vec![ConfigSynonym { name: "my.secret.thing".into(), value: None, source: ConfigSource::StaticBrokerConfig }]);
    assert!(describe_broker_configs(&broker).iter().all(|e| e.value.as_deref() != Some("hunter2")));
}

#[test]
fn node_id_reports_the_effective_id_and_mirrors_broker_id() {
    let broker = config(&[("broker.id", "7")]);
    let node = broker_entry(&broker, "node.id");
    assert_eq!((node.value.as_deref(), node.source), (Some("7"), ConfigSource::StaticBrokerConfig));
    let default = broker_entry(&config(&[]), "node.id");
    assert_eq!((default.value.as_deref(), default.source), (Some("1"), ConfigSource::DefaultConfig));
}
