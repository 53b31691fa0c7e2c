//! Loading, precedence, validation and warnings of `BrokerConfig`.

use std::io::Write;
use std::path::PathBuf;

use super::{config, error, load};
use crate::config::catalog::BROKER_KEYS;
use crate::config::value::parse_value;
use crate::config::{
    parse_override, BrokerConfig, CleanupPolicy, CompressionType, ConfigError, ConfigWarningKind, Listener, SecurityProtocol,
    TimestampType,
};

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write temp file");
    file
}

fn message(pairs: &[(&str, &str)]) -> String {
    error(pairs).to_string()
}

#[test]
fn every_catalog_default_parses_with_its_own_type_and_validator() {
    for key in BROKER_KEYS {
        if let Some(default) = key.default {
            parse_value(key.name, default, key.ty, key.validator).unwrap_or_else(|e| panic!("default of {}: {e}", key.name));
        }
    }
}

#[test]
fn catalog_names_are_unique() {
    for (i, key) in BROKER_KEYS.iter().enumerate() {
        assert!(BROKER_KEYS[..i].iter().all(|other| other.name != key.name), "{} listed twice", key.name);
    }
}

#[test]
fn with_no_config_it_serves_localhost_9092_with_kafka_defaults() {
    let (config, warnings) = load(&[]).expect("empty config loads");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(config.explicit.is_empty());
    let plaintext = Listener { name: "PLAINTEXT".into(), host: Some("localhost".into()), port: 9092, security_protocol: SecurityProtocol::Plaintext };
    assert_eq!(config.listeners, vec![plaintext.clone()]);
    assert_eq!(config.advertised_listeners, vec![plaintext]);
    assert_eq!(config.node_id, 1);
    assert_eq!(config.log_dirs, vec![PathBuf::from("./runnel-data")]);
    assert_eq!(config.num_partitions, 1);
    assert_eq!(config.default_replication_factor, 1);
    assert!(config.auto_create_topics_enable && config.delete_topic_enable);
    assert_eq!(config.log_segment_bytes, 1 << 30);
    assert_eq!(config.log_roll_ms, 7 * 24 * 3_600_000);
    assert_eq!(config.log_retention_ms, 7 * 24 * 3_600_000);
    assert_eq!(config.log_retention_bytes, -1);
    assert_eq!(config.log_retention_check_interval_ms, 300_000);
    assert_eq!(config.log_cleanup_policy, CleanupPolicy::DELETE);
    assert_eq!(config.log_flush_interval_messages, i64::MAX);
    assert_eq!(config.log_flush_interval_ms, i64::MAX);
    assert_eq!(config.log_index_interval_bytes, 4096);
    assert_eq!(config.log_index_size_max_bytes, 10 << 20);
    assert_eq!(config.message_max_bytes, 1_048_588);
    assert_eq!(config.socket_request_max_bytes, 104_857_600);
    assert_eq!(config.log_message_timestamp_type, TimestampType::CreateTime);
    assert_eq!(config.log_message_timestamp_before_max_ms, i64::MAX);
    assert_eq!(config.log_message_timestamp_after_max_ms, 3_600_000);
    assert_eq!(config.compression_type, CompressionType::Producer);
    assert_eq!(config.min_insync_replicas, 1);
    assert_eq!(config.offsets_topic_num_partitions, 50);
    assert_eq!(config.offsets_topic_replication_factor, 3);
    assert_eq!(config.offsets_topic_segment_bytes, 100 << 20);
    assert_eq!(config.offsets_retention_minutes, 7 * 24 * 60);
    assert_eq!(config.group_initial_rebalance_delay_ms, 3000);
    assert_eq!(config.group_min_session_timeout_ms, 6000);
    assert_eq!(config.group_max_session_timeout_ms, 1_800_000);
    assert_eq!(config.group_max_size, i32::MAX);
    assert_eq!(config.producer_id_expiration_ms, 86_400_000);
    assert_eq!(config.num_io_threads, 8);
}

#[test]
fn file_then_overrides_and_the_last_value_wins() {
    let file = file_with("num.partitions=3\nnum.partitions=4\nlog.retention.hours=24\n");
    let overrides = vec![("num.partitions".to_string(), "5".to_string()), ("num.partitions".to_string(), "6".to_string())];
    let (config, _) = BrokerConfig::load(Some(file.path()), &overrides).expect("loads");
    assert_eq!(config.num_partitions, 6);
    assert_eq!(config.log_retention_ms, 24 * 3_600_000);
    assert_eq!(config.explicit.get("num.partitions").map(String::as_str), Some("6"));

    let (config, _) = BrokerConfig::load(Some(file.path()), &[]).expect("loads");
    assert_eq!(config.num_partitions, 4, "the last duplicate in the file wins");
}

#[test]
fn a_missing_file_is_an_io_error() {
    let missing = PathBuf::from("/nonexistent/runnel/server.properties");
    assert!(matches!(BrokerConfig::load(Some(&missing), &[]), Err(ConfigError::Io { .. })));
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let file = file_with("a=1\nb=\\u00\n");
    match BrokerConfig::load(Some(file.path()), &[]) {
        Err(ConfigError::Syntax { path, line, .. }) => {
            assert_eq!(line, 2);
            assert_eq!(path, file.path().display().to_string());
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn retention_precedence_is_ms_then_minutes_then_hours() {
    assert_eq!(config(&[("log.retention.hours", "2")]).log_retention_ms, 2 * 3_600_000);
    assert_eq!(config(&[("log.retention.hours", "2"), ("log.retention.minutes", "3")]).log_retention_ms, 3 * 60_000);
    assert_eq!(
        config(&[("log.retention.hours", "2"), ("log.retention.minutes", "3"), ("log.retention.ms", "4")]).log_retention_ms,
        4
    );
}

#[test]
fn negative_retention_means_forever_and_zero_is_rejected() {
    assert_eq!(config(&[("log.retention.ms", "-1")]).log_retention_ms, -1);
    assert_eq!(config(&[("log.retention.ms", "-7")]).log_retention_ms, -1);
    assert_eq!(config(&[("log.retention.hours", "-1")]).log_retention_ms, -1);
    assert_eq!(
        message(&[("log.retention.ms", "0")]),
        "Invalid value 0 for configuration log.retention.ms: log.retention.ms must be unlimited (-1) or, greater than or equal to 1"
    );
    assert!(message(&[("log.retention.minutes", "0")]).starts_with("Invalid value 0 for configuration log.retention.minutes"));
}

#[test]
fn roll_ms_wins_over_roll_hours() {
    assert_eq!(config(&[("log.roll.hours", "1")]).log_roll_ms, 3_600_000);
    assert_eq!(config(&[("log.roll.hours", "1"), ("log.roll.ms", "1000")]).log_roll_ms, 1000);
    assert_eq!(message(&[("log.roll.hours", "0")]), "Invalid value 0 for configuration log.roll.hours: Value must be at least 1");
    assert!(message(&[("log.roll.ms", "0")]).contains("log.roll.ms must be greater than or equal to 1"));
}

#[test]
fn flush_interval_ms_falls_back_to_the_scheduler_interval() {
    assert_eq!(config(&[("log.flush.scheduler.interval.ms", "2000")]).log_flush_interval_ms, 2000);
    assert_eq!(
        config(&[("log.flush.scheduler.interval.ms", "2000"), ("log.flush.interval.ms", "500")]).log_flush_interval_ms,
        500
    );
    assert_eq!(config(&[("log.flush.interval.messages", "10")]).log_flush_interval_messages, 10);
    message(&[("log.flush.interval.messages", "0")]);
}

#[test]
fn log_dirs_win_over_log_dir() {
    assert_eq!(config(&[("log.dir", "/a")]).log_dirs, vec![PathBuf::from("/a")]);
    assert_eq!(config(&[("log.dir", "/a"), ("log.dirs", "/b, /c")]).log_dirs, vec![PathBuf::from("/b"), PathBuf::from("/c")]);
    assert!(message(&[("log.dirs", " ")]).contains("At least one log directory must be defined via log.dirs or log.dir."));
    assert!(message(&[("log.dirs", "/a,/a")]).contains("Duplicate log directory /a"));
}

#[test]
fn node_id_and_its_broker_id_synonym() {
    assert_eq!(config(&[("node.id", "5")]).node_id, 5);
    assert_eq!(config(&[("broker.id", "7")]).node_id, 7);
    assert_eq!(config(&[("broker.id", "7"), ("node.id", "7")]).node_id, 7);
    assert!(message(&[("broker.id", "7"), ("node.id", "8")]).contains("You must set `node.id` to the same value as `broker.id`"));
    assert!(message(&[("node.id", "-1")]).starts_with("Invalid value -1 for configuration node.id"));
    assert!(message(&[("broker.id", "-1")]).starts_with("Invalid value -1 for configuration broker.id"));
    assert_eq!(message(&[("node.id", "one")]), "Invalid value one for configuration node.id: Not a number of type INT");
}

#[test]
fn out_of_range_and_mistyped_values_name_key_and_value() {
    assert_eq!(message(&[("num.partitions", "0")]), "Invalid value 0 for configuration num.partitions: Value must be at least 1");
    assert_eq!(
        message(&[("log.segment.bytes", "1000")]),
        "Invalid value 1000 for configuration log.segment.bytes: Value must be at least 1048576"
    );
    assert_eq!(
        message(&[("auto.create.topics.enable", "yes")]),
        "Invalid value yes for configuration auto.create.topics.enable: Expected value to be either true or false"
    );
    assert!(message(&[("log.cleanup.policy", "delete,bogus")]).contains("String must be one of: compact, delete"));
    assert!(message(&[("log.message.timestamp.type", "createtime")]).contains("String must be one of: CreateTime, LogAppendTime"));
    assert!(message(&[("compression.type", "brotli")]).contains("compression.type"));
    assert!(message(&[("offsets.topic.replication.factor", "40000")]).contains("Not a number of type SHORT"));
    assert!(message(&[("message.max.bytes", "-1")]).contains("Value must be at least 0"));
    assert!(message(&[("num.network.threads", "0")]).contains("num.network.threads"), "accepted keys are still validated");
    assert!(message(&[("default.replication.factor", "0")]).contains("default.replication.factor"));
}

#[test]
fn typed_fields_follow_their_keys() {
    let config = config(&[
        ("log.cleanup.policy", "compact, delete"),
        ("log.message.timestamp.type", "LogAppendTime"),
        ("compression.type", "zstd"),
        ("max.connections", "100"),
        ("group.max.size", "10"),
        ("default.replication.factor", "1"),
        ("socket.request.max.bytes", "1024"),
    ]);
    assert_eq!(config.log_cleanup_policy, CleanupPolicy { delete: true, compact: true });
    assert_eq!(config.log_message_timestamp_type, TimestampType::LogAppendTime);
    assert_eq!(config.compression_type, CompressionType::Zstd);
    assert_eq!(config.max_connections, 100);
    assert_eq!(config.group_max_size, 10);
    assert_eq!(config.socket_request_max_bytes, 1024);
}

#[test]
fn unknown_keys_warn_and_near_misses_get_a_suggestion() {
    let (_, warnings) = load(&[("foo.bar", "1"), ("log.retention.hour", "5")]).expect("unknown keys only warn");
    assert_eq!(warnings.len(), 2);
    assert!(warnings.iter().all(|w| w.kind == ConfigWarningKind::Unknown));
    let typo = warnings.iter().find(|w| w.key == "log.retention.hour").expect("typo warning");
    assert!(typo.message.contains("did you mean log.retention.hours?"), "{}", typo.message);
}

#[test]
fn kafka_keys_runnel_ignores_get_a_softer_warning() {
    let (_, warnings) = load(&[
        ("process.roles", "broker,controller"),
        ("controller.quorum.voters", "1@localhost:9093"),
        ("num.network.threads", "3"),
        ("zookeeper.connect", "localhost:2181"),
        ("log.message.format.version", "3.0"),
        ("ssl.cipher.suites", "TLS_AES_128_GCM_SHA256"),
    ])
    .expect("loads");
    assert_eq!(warnings.len(), 6, "{warnings:?}");
    assert!(warnings.iter().all(|w| w.kind == ConfigWarningKind::NoEffect), "{warnings:?}");
    assert!(warnings.iter().all(|w| w.message.contains("accepted but has no effect in Runnel")), "{warnings:?}");
    let zk = warnings.iter().find(|w| w.key == "zookeeper.connect").expect("zk warning");
    assert!(zk.message.contains("ZooKeeper"), "{}", zk.message);
}

#[test]
fn warnings_from_a_file_carry_its_line() {
    let file = file_with("# comment\nnum.partitions=2\nmystery.key=1\n");
    let (_, warnings) = BrokerConfig::load(Some(file.path()), &[]).expect("loads");
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].message.starts_with(&format!("{}:3:", file.path().display())), "{}", warnings[0]);
}

#[test]
fn process_roles_is_still_validated() {
    assert!(message(&[("process.roles", "broker,worker")]).contains("String must be one of: broker, controller"));
}

/// Kafka 4.0's KRaft quickstart server.properties, reduced to its settings.
const KAFKA_KRAFT_SERVER_PROPERTIES: &str = "\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:9093
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
";

#[test]
fn kafkas_kraft_server_properties_loads_and_serves_only_the_broker_listener() {
    let file = file_with(KAFKA_KRAFT_SERVER_PROPERTIES);
    let (config, warnings) = BrokerConfig::load(Some(file.path()), &[]).expect("Kafka's own file loads");
    assert_eq!(config.node_id, 1);
    assert_eq!(config.listeners.len(), 1);
    assert_eq!(config.listeners[0].name, "PLAINTEXT");
    assert_eq!(config.listeners[0].host, None);
    assert_eq!(config.listeners[0].port, 9092);
    assert_eq!(config.advertised_listeners.len(), 1);
    assert_eq!(config.advertised_listeners[0].connection_string(), "PLAINTEXT://localhost:9092");
    assert_eq!(config.controller_listener_names, vec!["CONTROLLER".to_string()]);
    assert_eq!(config.log_dirs, vec![PathBuf::from("/tmp/kraft-combined-logs")]);
    assert_eq!(config.offsets_topic_replication_factor, 1);
    assert_eq!(config.log_retention_ms, 168 * 3_600_000);
    assert!(warnings.iter().all(|w| w.kind == ConfigWarningKind::NoEffect), "no key of Kafka's file is unknown: {warnings:?}");
    assert!(warnings.iter().any(|w| w.key == "listeners" && w.message.contains("CONTROLLER")), "{warnings:?}");
}

#[test]
fn controller_listeners_default_to_plaintext_when_the_map_is_not_set() {
    let config = config(&[("listeners", "PLAINTEXT://:9092,CONTROLLER://:9093"), ("controller.listener.names", "CONTROLLER")]);
    assert_eq!(config.listeners.len(), 1);
    assert!(message(&[
        ("listeners", "PLAINTEXT://:9092,CONTROLLER://:9093"),
        ("controller.listener.names", "CONTROLLER"),
        ("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT"),
    ])
    .contains("No security protocol defined for listener CONTROLLER"));
    assert!(message(&[("listeners", "CONTROLLER://:9093"), ("controller.listener.names", "CONTROLLER")])
        .contains("There must be at least one broker listener"));
}

#[test]
fn advertised_listeners_default_to_listeners_and_must_be_routable() {
    let config = config(&[("listeners", "PLAINTEXT://127.0.0.1:19092")]);
    assert_eq!(config.advertised_listeners, config.listeners);

    let text = message(&[("listeners", "PLAINTEXT://0.0.0.0:9092")]);
    assert!(text.starts_with("Invalid value PLAINTEXT://0.0.0.0:9092 for configuration listeners"), "{text}");
    assert!(text.contains("nonroutable meta-address 0.0.0.0"), "{text}");
    let config = self::config(&[("listeners", "PLAINTEXT://0.0.0.0:9092"), ("advertised.listeners", "PLAINTEXT://kafka1:9092")]);
    assert_eq!(config.advertised_listeners[0].host.as_deref(), Some("kafka1"));
    assert_eq!(config.listeners[0].bind_address(), "0.0.0.0:9092");

    assert!(message(&[("advertised.listeners", "SSL://kafka1:9093")]).contains("must be equal to or a subset of the ones defined in listeners"));
    assert!(message(&[("advertised.listeners", "")]).contains("There must be at least one broker advertised listener"));
}

#[test]
fn a_wildcard_listener_advertises_the_hostname() {
    let config = config(&[("listeners", "PLAINTEXT://:9092")]);
    assert_eq!(config.advertised_listeners[0].host, None);
    let endpoints = config.advertised_endpoints();
    assert_eq!(endpoints[0].host.as_deref(), Some(crate::config::local_hostname().as_str()));
    assert_eq!(endpoints[0].port, 9092);
}

#[test]
fn log_config_maps_broker_defaults_to_the_log() {
    assert_eq!(config(&[]).log_config(), runnel_log::LogConfig::default(), "Kafka's defaults are the log's defaults");
    let log = config(&[
        ("log.segment.bytes", "2097152"),
        ("log.roll.hours", "2"),
        ("log.retention.minutes", "30"),
        ("log.retention.bytes", "5000"),
        ("log.flush.interval.messages", "100"),
        ("log.flush.interval.ms", "250"),
        ("log.index.interval.bytes", "1024"),
        ("log.index.size.max.bytes", "4096"),
        ("log.message.timestamp.type", "LogAppendTime"),
        ("producer.id.expiration.ms", "1000"),
    ])
    .log_config();
    assert_eq!(
        log,
        runnel_log::LogConfig {
            segment_bytes: 2 << 20,
            segment_ms: 2 * 3_600_000,
            retention_ms: 30 * 60_000,
            retention_bytes: 5000,
            flush_messages: 100,
            flush_ms: 250,
            index_interval_bytes: 1024,
            segment_index_bytes: 4096,
            log_append_time: true,
            producer_id_expiration_ms: 1000,
            ..runnel_log::LogConfig::default()
        }
    );
}

#[test]
fn a_compact_only_broker_default_disables_retention_in_the_log() {
    let log = config(&[("log.cleanup.policy", "compact"), ("log.retention.hours", "1"), ("log.retention.bytes", "10")]).log_config();
    assert_eq!((log.retention_ms, log.retention_bytes), (-1, -1));
}

#[test]
fn non_producer_compression_is_accepted_with_a_warning() {
    let (_, warnings) = load(&[("compression.type", "gzip")]).expect("loads");
    assert!(warnings.iter().any(|w| w.key == "compression.type" && w.kind == ConfigWarningKind::NoEffect), "{warnings:?}");
}

#[test]
fn parse_override_splits_at_the_first_equals() {
    assert_eq!(parse_override("a=b=c").expect("valid"), ("a".into(), "b=c".into()));
    assert_eq!(parse_override(" log.dirs =/x").expect("valid"), ("log.dirs".into(), "/x".into()));
    assert_eq!(parse_override("a=").expect("valid"), ("a".into(), "".into()));
    assert!(matches!(parse_override("=b"), Err(ConfigError::Override { .. })));
    assert!(matches!(parse_override("novalue"), Err(ConfigError::Override { .. })));
}

