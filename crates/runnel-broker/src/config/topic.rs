//! Topic-level configs: Kafka 4.x's topic config names (`LogConfig`), each with its type,
//! validator, default and broker synonyms (`ServerTopicConfigSynonyms`); validation with Kafka's
//! CreateTopics/AlterConfigs error semantics; the effective settings of a topic (topic override,
//! else the broker's value); and the settings Kafka gives `__consumer_offsets`.
//!
//! Kafka 4.0 removed `message.format.version`, `message.downconversion.enable` and
//! `message.timestamp.difference.max.ms` (KIP-724, KIP-937), so they are unknown names here too.

use std::collections::BTreeMap;

use super::broker::BrokerConfig;
use super::catalog::{CLEANUP_POLICIES, COMPRESSION_TYPES, GZIP_LEVEL, LZ4_LEVEL, SEGMENT_BYTES_MIN, TIMESTAMP_TYPES, ZSTD_LEVEL};
use super::policy::{CleanupPolicy, CompressionType, TimestampType};
use super::typed::TypedValues;
use super::value::{parse_value, ConfigType, ConfigValue, Validator};
use super::ConfigError;

pub use super::describe::{describe_broker_configs, describe_topic_configs, ConfigEntry, ConfigSource, ConfigSynonym};

/// Kafka's INVALID_CONFIG error code, which every topic config rejection maps to.
pub const INVALID_CONFIG_ERROR_CODE: i16 = 40;

/// The internal topic holding committed offsets and group metadata.
pub const CONSUMER_OFFSETS_TOPIC: &str = "__consumer_offsets";

/// One topic config key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopicKey {
    pub name: &'static str,
    pub ty: ConfigType,
    /// Kafka's `LogConfig` default, used when the key has no broker synonym.
    pub default: &'static str,
    pub validator: Validator,
    /// Broker keys that supply the default, highest priority first (`ALL_TOPIC_CONFIG_SYNONYMS`).
    pub synonyms: &'static [&'static str],
    pub doc: &'static str,
}

const fn topic_key(
    name: &'static str,
    ty: ConfigType,
    default: &'static str,
    validator: Validator,
    synonyms: &'static [&'static str],
    doc: &'static str,
) -> TopicKey {
    TopicKey { name, ty, default, validator, synonyms, doc }
}

use ConfigType::{Boolean as BOOL, Double as DOUBLE, Int as INT, List as LIST, Long as LONG, String as STRING};
use Validator::{AtLeast, BetweenDouble, ListOf, None as ANY, OneOf, ThrottledReplicas};

const LONG_MAX: &str = "9223372036854775807";

/// Kafka's topic configs in `LogConfig`'s definition order (the order it validates values in).
pub(crate) const TOPIC_KEYS: &[TopicKey] = &[
    topic_key("segment.bytes", INT, "1073741824", AtLeast(SEGMENT_BYTES_MIN), &["log.segment.bytes"], "Segment file size of the log."),
    topic_key("segment.ms", LONG, "604800000", AtLeast(1), &["log.roll.ms", "log.roll.hours"], "Time after which a segment is rolled even if not full."),
    topic_key("segment.jitter.ms", LONG, "0", AtLeast(0), &["log.roll.jitter.ms", "log.roll.jitter.hours"], "Maximum random jitter subtracted from the roll time."),
    topic_key("segment.index.bytes", INT, "10485760", AtLeast(4), &["log.index.size.max.bytes"], "Size of the offset and time indexes."),
    topic_key("flush.messages", LONG, LONG_MAX, AtLeast(1), &["log.flush.interval.messages"], "Messages written before the log is fsynced."),
    topic_key("flush.ms", LONG, LONG_MAX, AtLeast(0), &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"], "Time after which the log is fsynced."),
    topic_key("retention.bytes", LONG, "-1", ANY, &["log.retention.bytes"], "Largest size of a partition before old segments are deleted; -1 is unbounded."),
    topic_key("retention.ms", LONG, "604800000", AtLeast(-1), &["log.retention.ms", "log.retention.minutes", "log.retention.hours"], "How long a segment is kept before deletion; -1 keeps it forever."),
    topic_key("max.message.bytes", INT, "1048588", AtLeast(0), &["message.max.bytes"], "Largest record batch accepted (after compression)."),
    topic_key("index.interval.bytes", INT, "4096", AtLeast(0), &["log.index.interval.bytes"], "Bytes between offset index entries."),
    topic_key("delete.retention.ms", LONG, "86400000", AtLeast(0), &["log.cleaner.delete.retention.ms"], "How long tombstones are kept in compacted topics."),
    topic_key("min.compaction.lag.ms", LONG, "0", AtLeast(0), &["log.cleaner.min.compaction.lag.ms"], "Minimum time a message stays uncompacted."),
    topic_key("max.compaction.lag.ms", LONG, LONG_MAX, AtLeast(1), &["log.cleaner.max.compaction.lag.ms"], "Maximum time a message stays ineligible for compaction."),
    topic_key("file.delete.delay.ms", LONG, "60000", AtLeast(0), &["log.segment.delete.delay.ms"], "Delay before a deleted segment's files are removed."),
    topic_key("min.cleanable.dirty.ratio", DOUBLE, "0.5", BetweenDouble(0.0, 1.0), &["log.cleaner.min.cleanable.ratio"], "Minimum dirty ratio before the log is compacted."),
    topic_key("cleanup.policy", LIST, "delete", ListOf(CLEANUP_POLICIES), &["log.cleanup.policy"], "delete, compact, or both."),
    topic_key("unclean.leader.election.enable", BOOL, "false", ANY, &["unclean.leader.election.enable"], "Allow out-of-sync replicas to become leader."),
    topic_key("min.insync.replicas", INT, "1", AtLeast(1), &["min.insync.replicas"], "Minimum in-sync replicas for acks=all writes."),
    topic_key("compression.type", STRING, "producer", OneOf(COMPRESSION_TYPES), &["compression.type"], "Final compression of the topic; producer keeps the producer's codec."),
    topic_key("compression.gzip.level", INT, "-1", GZIP_LEVEL, &["compression.gzip.level"], "Compression level for gzip."),
    topic_key("compression.lz4.level", INT, "9", LZ4_LEVEL, &["compression.lz4.level"], "Compression level for lz4."),
    topic_key("compression.zstd.level", INT, "3", ZSTD_LEVEL, &["compression.zstd.level"], "Compression level for zstd."),
    topic_key("preallocate", BOOL, "false", ANY, &["log.preallocate"], "Preallocate segment files."),
    topic_key("message.timestamp.type", STRING, "CreateTime", OneOf(TIMESTAMP_TYPES), &["log.message.timestamp.type"], "CreateTime or LogAppendTime."),
    topic_key("message.timestamp.before.max.ms", LONG, LONG_MAX, AtLeast(0), &["log.message.timestamp.before.max.ms"], "How far a CreateTime timestamp may lie before the broker's clock."),
    topic_key("message.timestamp.after.max.ms", LONG, "3600000", AtLeast(0), &["log.message.timestamp.after.max.ms"], "How far a CreateTime timestamp may lie after the broker's clock."),
    topic_key("leader.replication.throttled.replicas", LIST, "", ThrottledReplicas, &[], "Replicas throttled on the leader side."),
    topic_key("follower.replication.throttled.replicas", LIST, "", ThrottledReplicas, &[], "Replicas throttled on the follower side."),
    topic_key("remote.storage.enable", BOOL, "false", ANY, &[], "Tiered storage for the topic."),
    topic_key("local.retention.ms", LONG, "-2", AtLeast(-2), &["log.local.retention.ms"], "Local retention time with tiered storage; -2 follows retention.ms."),
    topic_key("local.retention.bytes", LONG, "-2", AtLeast(-2), &["log.local.retention.bytes"], "Local retention size with tiered storage; -2 follows retention.bytes."),
    topic_key("remote.log.copy.disable", BOOL, "false", ANY, &[], "Stop copying segments to tiered storage."),
    topic_key("remote.log.delete.on.disable", BOOL, "false", ANY, &[], "Delete remote data when tiered storage is disabled."),
];

pub(crate) fn topic_key_spec(name: &str) -> Option<&'static TopicKey> {
    TOPIC_KEYS.iter().find(|key| key.name == name)
}

/// A topic config rejected by CreateTopics / AlterConfigs: always Kafka's INVALID_CONFIG (40),
/// with Kafka's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicConfigError {
    #[error("Unknown topic config name: {name}")]
    UnknownConfig { name: String },
    #[error("Invalid value {value} for configuration {name}: {reason}")]
    InvalidValue { name: String, value: String, reason: String },
    /// A combination Kafka refuses (compaction lags, tiered storage on a broker without it).
    #[error("{message}")]
    Conflict { message: String },
    /// An incremental APPEND or SUBTRACT on a key that is not a list (or not a topic config).
    #[error("Can't {op} to key {name} because its type is not LIST.")]
    NotAList { op: &'static str, name: String },
}

impl TopicConfigError {
    /// The Kafka error code to send: INVALID_CONFIG.
    pub fn error_code(&self) -> i16 {
        INVALID_CONFIG_ERROR_CODE
    }
}

/// Validates topic configs as Kafka does for CreateTopics and AlterConfigs, against Kafka's
/// built-in defaults. Use [`validate_topic_configs_for`] to check cross-key rules against this
/// broker's defaults, as Kafka's controller does.
pub fn validate_topic_configs(configs: &BTreeMap<String, String>) -> Result<(), TopicConfigError> {
    validate(configs, |key| parse_value(key.name, key.default, key.ty, key.validator).ok())
}

/// Like [`validate_topic_configs`], with keys the topic does not set taken from `broker`.
pub fn validate_topic_configs_for(broker: &BrokerConfig, configs: &BTreeMap<String, String>) -> Result<(), TopicConfigError> {
    validate(configs, |key| broker_value(broker, key))
}

fn validate(
    configs: &BTreeMap<String, String>,
    fallback: impl Fn(&TopicKey) -> Option<ConfigValue>,
) -> Result<(), TopicConfigError> {
    if let Some(name) = configs.keys().find(|name| topic_key_spec(name).is_none()) {
        return Err(TopicConfigError::UnknownConfig { name: name.clone() });
    }
    let mut values = TypedValues::default();
    for key in TOPIC_KEYS {
        let value = match configs.get(key.name) {
            Some(raw) => parse_value(key.name, raw, key.ty, key.validator).map_err(|error| TopicConfigError::InvalidValue {
                name: error.name,
                value: error.value,
                reason: error.reason,
            })?,
            None => match fallback(key) {
                Some(value) => value,
                None => continue,
            },
        };
        values.insert(key.name, Some(value));
    }
    let long = |name: &str| values.long(name).ok();
    if let (Some(min_lag), Some(max_lag)) = (long("min.compaction.lag.ms"), long("max.compaction.lag.ms")) {
        if min_lag > max_lag {
            return Err(TopicConfigError::Conflict {
                message: format!(
                    "conflict topic config setting min.compaction.lag.ms ({min_lag}) > max.compaction.lag.ms ({max_lag})"
                ),
            });
        }
    }
    if values.boolean("remote.storage.enable").unwrap_or(false) {
        return Err(TopicConfigError::Conflict {
            message: "Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage."
                .into(),
        });
    }
    Ok(())
}

/// The broker's value for a topic key: the derived broker setting for keys with several
/// synonyms, the first synonym's value otherwise, or Kafka's topic default without a synonym.
pub(crate) fn broker_value(broker: &BrokerConfig, key: &TopicKey) -> Option<ConfigValue> {
    let derived = match key.name {
        "segment.ms" => Some(ConfigValue::Long(broker.log_roll_ms)),
        "segment.jitter.ms" => Some(ConfigValue::Long(broker.log_roll_jitter_ms)),
        "retention.ms" => Some(ConfigValue::Long(broker.log_retention_ms)),
        "flush.ms" => Some(ConfigValue::Long(broker.log_flush_interval_ms)),
        _ => None,
    };
    derived
        .or_else(|| key.synonyms.first().and_then(|synonym| broker.values.get(synonym).cloned()))
        .or_else(|| parse_value(key.name, key.default, key.ty, key.validator).ok())
}

/// The effective value of one topic key: the override if it parses, else the broker's.
pub(crate) fn effective_value(broker: &BrokerConfig, overrides: &BTreeMap<String, String>, key: &TopicKey) -> Option<ConfigValue> {
    let overridden = overrides.get(key.name).and_then(|raw| match parse_value(key.name, raw, key.ty, key.validator) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(%error, "ignoring an invalid stored topic config; using the broker's value");
            None
        }
    });
    overridden.or_else(|| broker_value(broker, key))
}

/// A topic's effective log settings: each key from the topic's overrides, else from the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSettings {
    pub cleanup_policy: CleanupPolicy,
    pub compression_type: CompressionType,
    pub delete_retention_ms: i64,
    pub file_delete_delay_ms: i64,
    pub flush_messages: i64,
    pub flush_ms: i64,
    pub index_interval_bytes: i32,
    pub max_compaction_lag_ms: i64,
    pub max_message_bytes: i32,
    pub message_timestamp_type: TimestampType,
    pub message_timestamp_before_max_ms: i64,
    pub message_timestamp_after_max_ms: i64,
    pub min_cleanable_dirty_ratio: f64,
    pub min_compaction_lag_ms: i64,
    pub min_insync_replicas: i32,
    pub preallocate: bool,
    pub retention_bytes: i64,
    pub retention_ms: i64,
    pub segment_bytes: i32,
    pub segment_index_bytes: i32,
    pub segment_jitter_ms: i64,
    pub segment_ms: i64,
    pub unclean_leader_election_enable: bool,
}

impl Default for TopicSettings {
    /// Kafka 4.x's topic defaults (what a topic gets from a broker with no configuration).
    fn default() -> Self {
        TopicSettings {
            cleanup_policy: CleanupPolicy::DELETE,
            compression_type: CompressionType::Producer,
            delete_retention_ms: 86_400_000,
            file_delete_delay_ms: 60_000,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            index_interval_bytes: 4096,
            max_compaction_lag_ms: i64::MAX,
            max_message_bytes: 1_048_588,
            message_timestamp_type: TimestampType::CreateTime,
            message_timestamp_before_max_ms: i64::MAX,
            message_timestamp_after_max_ms: 3_600_000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            min_insync_replicas: 1,
            preallocate: false,
            retention_bytes: -1,
            retention_ms: 604_800_000,
            segment_bytes: 1_073_741_824,
            segment_index_bytes: 10_485_760,
            segment_jitter_ms: 0,
            segment_ms: 604_800_000,
            unclean_leader_election_enable: false,
        }
    }
}

impl TopicSettings {
    /// Kafka's `LogConfig.maxSegmentMs`: a compacted topic also rolls by max.compaction.lag.ms.
    pub fn max_segment_ms(&self) -> i64 {
        if self.cleanup_policy.compact && self.max_compaction_lag_ms > 0 {
            self.max_compaction_lag_ms.min(self.segment_ms)
        } else {
            self.segment_ms
        }
    }
}

/// The effective settings of a topic with these overrides on this broker. Overrides are
/// expected to have passed [`validate_topic_configs`]; one that does not parse is ignored
/// (logged) and the broker's value used, so a bad stored config cannot stop a partition opening.
pub fn effective_topic_settings(broker: &BrokerConfig, overrides: &BTreeMap<String, String>) -> TopicSettings {
    let mut values = TypedValues::default();
    for key in TOPIC_KEYS {
        values.insert(key.name, effective_value(broker, overrides, key));
    }
    settings_from(&values).unwrap_or_else(|error| {
        tracing::error!(%error, "topic settings could not be resolved; using Kafka's defaults");
        TopicSettings::default()
    })
}

fn settings_from(values: &TypedValues) -> Result<TopicSettings, ConfigError> {
    let compression = values.string("compression.type")?;
    let timestamp = values.string("message.timestamp.type")?;
    Ok(TopicSettings {
        cleanup_policy: CleanupPolicy::from_list(values.list("cleanup.policy")?),
        compression_type: CompressionType::from_name(compression).unwrap_or(CompressionType::Producer),
        delete_retention_ms: values.long("delete.retention.ms")?,
        file_delete_delay_ms: values.long("file.delete.delay.ms")?,
        flush_messages: values.long("flush.messages")?,
        flush_ms: values.long("flush.ms")?,
        index_interval_bytes: values.int("index.interval.bytes")?,
        max_compaction_lag_ms: values.long("max.compaction.lag.ms")?,
        max_message_bytes: values.int("max.message.bytes")?,
        message_timestamp_type: TimestampType::from_name(timestamp).unwrap_or(TimestampType::CreateTime),
        message_timestamp_before_max_ms: values.long("message.timestamp.before.max.ms")?,
        message_timestamp_after_max_ms: values.long("message.timestamp.after.max.ms")?,
        min_cleanable_dirty_ratio: values.double("min.cleanable.dirty.ratio")?,
        min_compaction_lag_ms: values.long("min.compaction.lag.ms")?,
        min_insync_replicas: values.int("min.insync.replicas")?,
        preallocate: values.boolean("preallocate")?,
        retention_bytes: values.long("retention.bytes")?,
        retention_ms: values.long("retention.ms")?,
        segment_bytes: values.int("segment.bytes")?,
        segment_index_bytes: values.int("segment.index.bytes")?,
        segment_jitter_ms: values.long("segment.jitter.ms")?,
        segment_ms: values.long("segment.ms")?,
        unclean_leader_election_enable: values.boolean("unclean.leader.election.enable")?,
    })
}

/// The log settings of a topic: topic overrides win over the broker's defaults.
///
/// Retention only applies when the cleanup policy includes `delete` (Kafka deletes by time and
/// size only then), so for a compact-only or empty policy `retention_ms` and `retention_bytes`
/// are -1; a compacted topic also rolls by max.compaction.lag.ms. Any negative retention.bytes
/// means unbounded in Kafka and becomes -1.
pub fn effective_log_config(broker: &BrokerConfig, overrides: &BTreeMap<String, String>) -> runnel_log::LogConfig {
    log_config_from(broker, &effective_topic_settings(broker, overrides))
}

/// The log settings for already resolved topic settings (see [`effective_log_config`]).
pub fn log_config_from(broker: &BrokerConfig, settings: &TopicSettings) -> runnel_log::LogConfig {
    let kafka = runnel_log::LogConfig::default();
    let deletes = settings.cleanup_policy.delete;
    runnel_log::LogConfig {
        segment_bytes: u64::try_from(settings.segment_bytes).unwrap_or(kafka.segment_bytes),
        segment_ms: settings.max_segment_ms(),
        retention_ms: if deletes { settings.retention_ms.max(-1) } else { -1 },
        retention_bytes: if deletes && settings.retention_bytes >= 0 { settings.retention_bytes } else { -1 },
        flush_messages: settings.flush_messages,
        flush_ms: settings.flush_ms,
        index_interval_bytes: u64::try_from(settings.index_interval_bytes).unwrap_or(kafka.index_interval_bytes),
        segment_index_bytes: u64::try_from(settings.segment_index_bytes).unwrap_or(kafka.segment_index_bytes),
        log_append_time: settings.message_timestamp_type == TimestampType::LogAppendTime,
        producer_id_expiration_ms: i64::from(broker.producer_id_expiration_ms),
        compact: settings.cleanup_policy.compact,
        delete_retention_ms: settings.delete_retention_ms,
        min_compaction_lag_ms: settings.min_compaction_lag_ms,
        max_compaction_lag_ms: settings.max_compaction_lag_ms,
        min_cleanable_dirty_ratio: settings.min_cleanable_dirty_ratio,
        ..kafka
    }
}

/// The topic configs Kafka creates `__consumer_offsets` with (`groupMetadataTopicConfigs`):
/// compacted, producer compression, offsets.topic.segment.bytes segments. Its partition count is
/// `offsets_topic_num_partitions` and its replication factor `offsets_topic_replication_factor`.
pub fn offsets_topic_configs(broker: &BrokerConfig) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("cleanup.policy".to_string(), "compact".to_string()),
        ("compression.type".to_string(), "producer".to_string()),
        ("segment.bytes".to_string(), broker.offsets_topic_segment_bytes.to_string()),
    ])
}
