//! Topic config validation, effective settings and the offsets topic.

use std::collections::BTreeMap;

use super::config;
use crate::config::topic::{effective_topic_settings, TopicSettings, TOPIC_KEYS};
use crate::config::value::parse_value;
use crate::config::{
    effective_log_config, offsets_topic_configs, validate_topic_configs, validate_topic_configs_for, CleanupPolicy, TopicConfigError,
};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn rejected(pairs: &[(&str, &str)]) -> TopicConfigError {
    validate_topic_configs(&map(pairs)).expect_err("should be rejected")
}

#[test]
fn the_topic_config_names_are_kafka_4s() {
    let mut names: Vec<&str> = TOPIC_KEYS.iter().map(|key| key.name).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        vec![
            "cleanup.policy",
            "compression.gzip.level",
            "compression.lz4.level",
            "compression.type",
            "compression.zstd.level",
            "delete.retention.ms",
            "file.delete.delay.ms",
            "flush.messages",
            "flush.ms",
            "follower.replication.throttled.replicas",
            "index.interval.bytes",
            "leader.replication.throttled.replicas",
            "local.retention.bytes",
            "local.retention.ms",
            "max.compaction.lag.ms",
            "max.message.bytes",
            "message.timestamp.after.max.ms",
            "message.timestamp.before.max.ms",
            "message.timestamp.type",
            "min.cleanable.dirty.ratio",
            "min.compaction.lag.ms",
            "min.insync.replicas",
            "preallocate",
            "remote.log.copy.disable",
            "remote.log.delete.on.disable",
            "remote.storage.enable",
            "retention.bytes",
            "retention.ms",
            "segment.bytes",
            "segment.index.bytes",
            "segment.jitter.ms",
            "segment.ms",
            "unclean.leader.election.enable",
        ]
    );
}

#[test]
fn every_topic_default_parses_with_its_own_type_and_validator() {
    for key in TOPIC_KEYS {
        parse_value(key.name, key.default, key.ty, key.validator).unwrap_or_else(|e| panic!("default of {}: {e}", key.name));
    }
}

#[test]
fn valid_configs_pass() {
    validate_topic_configs(&map(&[
        ("cleanup.policy", "compact, delete"),
        ("retention.ms", "-1"),
        ("retention.bytes", "-5"),
        ("segment.bytes", "1048576"),
        ("min.cleanable.dirty.ratio", "0.1"),
        ("message.timestamp.type", "LogAppendTime"),
        ("compression.type", "lz4"),
        ("max.message.bytes", "2000000"),
        ("unclean.leader.election.enable", "TRUE"),
        ("leader.replication.throttled.replicas", "*"),
    ]))
    .expect("valid");
    validate_topic_configs(&BTreeMap::new()).expect("no configs");
}

#[test]
fn unknown_names_are_rejected_as_kafka_words_it() {
    assert_eq!(rejected(&[("foo", "1")]).to_string(), "Unknown topic config name: foo");
    assert_eq!(rejected(&[("log.retention.ms", "1")]).to_string(), "Unknown topic config name: log.retention.ms");
}

#[test]
fn configs_kafka_4_removed_are_unknown() {
    for removed in ["message.downconversion.enable", "message.format.version", "message.timestamp.difference.max.ms"] {
        assert_eq!(rejected(&[(removed, "true")]), TopicConfigError::UnknownConfig { name: removed.to_string() });
    }
}

#[test]
fn bad_values_are_invalid_config_with_kafkas_message() {
    let error = rejected(&[("retention.ms", "abc")]);
    assert_eq!(error.to_string(), "Invalid value abc for configuration retention.ms: Not a number of type LONG");
    assert_eq!(error.error_code(), 40);
    assert_eq!(rejected(&[("retention.ms", "-2")]).to_string(), "Invalid value -2 for configuration retention.ms: Value must be at least -1");
    assert_eq!(rejected(&[("segment.bytes", "1000")]).to_string(), "Invalid value 1000 for configuration segment.bytes: Value must be at least 1048576");
    assert_eq!(
        rejected(&[("cleanup.policy", "delete,foo")]).to_string(),
        "Invalid value foo for configuration cleanup.policy: String must be one of: compact, delete"
    );
    assert!(rejected(&[("compression.type", "GZIP")]).to_string().contains("String must be one of"));
    assert_eq!(
        rejected(&[("min.cleanable.dirty.ratio", "1.5")]).to_string(),
        "Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1"
    );
    assert!(rejected(&[("preallocate", "maybe")]).to_string().contains("Expected value to be either true or false"));
    assert!(rejected(&[("compression.zstd.level", "23")]).to_string().contains("Value must be no more than 22"));
}

#[test]
fn compaction_lags_must_be_ordered() {
    assert_eq!(
        rejected(&[("min.compaction.lag.ms", "10"), ("max.compaction.lag.ms", "5")]).to_string(),
        "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)"
    );
    let broker = config(&[("log.cleaner.max.compaction.lag.ms", "100")]);
    validate_topic_configs(&map(&[("min.compaction.lag.ms", "200")])).expect("fine against Kafka's defaults");
    assert!(matches!(
        validate_topic_configs_for(&broker, &map(&[("min.compaction.lag.ms", "200")])),
        Err(TopicConfigError::Conflict { .. })
    ));
}

#[test]
fn tiered_storage_cannot_be_enabled() {
    let error = rejected(&[("remote.storage.enable", "true")]);
    assert_eq!(error.to_string(), "Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.");
    validate_topic_configs(&map(&[("remote.storage.enable", "false")])).expect("false is fine");
}

#[test]
fn a_broker_with_no_config_gives_kafkas_topic_defaults() {
    assert_eq!(effective_topic_settings(&config(&[]), &BTreeMap::new()), TopicSettings::default());
}

#[test]
fn topic_overrides_win_over_broker_defaults() {
    let broker = config(&[("log.retention.hours", "1"), ("log.roll.hours", "2"), ("message.max.bytes", "3000")]);
    let log = effective_log_config(&broker, &BTreeMap::new());
    assert_eq!((log.retention_ms, log.segment_ms), (3_600_000, 7_200_000));
    let log = effective_log_config(&broker, &map(&[("retention.ms", "1000"), ("segment.ms", "2000"), ("segment.bytes", "1048576")]));
    assert_eq!((log.retention_ms, log.segment_ms, log.segment_bytes), (1000, 2000, 1 << 20));
    assert_eq!(effective_topic_settings(&broker, &BTreeMap::new()).max_message_bytes, 3000);
    assert_eq!(effective_topic_settings(&broker, &map(&[("max.message.bytes", "10")])).max_message_bytes, 10);
}

#[test]
fn compacted_topics_keep_their_data_and_roll_by_max_compaction_lag() {
    let broker = config(&[]);
    let log = effective_log_config(&broker, &map(&[("cleanup.policy", "compact"), ("max.compaction.lag.ms", "60000")]));
    assert_eq!((log.retention_ms, log.retention_bytes, log.segment_ms), (-1, -1, 60_000));
    let log = effective_log_config(&broker, &map(&[("cleanup.policy", "compact,delete"), ("retention.ms", "5000")]));
    assert_eq!(log.retention_ms, 5000);
    let log = effective_log_config(&broker, &map(&[("cleanup.policy", ""), ("retention.ms", "5000")]));
    assert_eq!(log.retention_ms, -1, "an empty policy deletes nothing");
}

#[test]
fn an_invalid_stored_override_falls_back_to_the_broker_value() {
    let broker = config(&[("log.retention.hours", "3")]);
    let log = effective_log_config(&broker, &map(&[("retention.ms", "not-a-number")]));
    assert_eq!(log.retention_ms, 3 * 3_600_000);
}

#[test]
fn timestamp_type_and_flush_follow_the_topic() {
    let log = effective_log_config(&config(&[]), &map(&[("message.timestamp.type", "LogAppendTime"), ("flush.messages", "1"), ("flush.ms", "0")]));
    assert!(log.log_append_time);
    assert_eq!((log.flush_messages, log.flush_ms), (1, 0));
}

#[test]
fn offsets_topic_is_created_as_kafka_creates_it() {
    let broker = config(&[]);
    let configs = offsets_topic_configs(&broker);
    assert_eq!(configs, map(&[("cleanup.policy", "compact"), ("compression.type", "producer"), ("segment.bytes", "104857600")]));
    validate_topic_configs(&configs).expect("valid topic configs");
    let settings = effective_topic_settings(&broker, &configs);
    assert_eq!(settings.cleanup_policy, CleanupPolicy::COMPACT);
    assert_eq!(settings.segment_bytes, 100 << 20);
    let broker = config(&[("offsets.topic.segment.bytes", "2097152")]);
    assert_eq!(offsets_topic_configs(&broker).get("segment.bytes").map(String::as_str), Some("2097152"));
}
