//! Runnel's configuration: Kafka's `server.properties` keys with Kafka 4.x's meaning, defaults
//! and validation, plus topic-level configs and the DescribeConfigs view of both.
//!
//! Loading: [`BrokerConfig::load`] reads a Java properties file ([`properties`]), then applies
//! `--override key=value` pairs ([`parse_override`]); the last value of a key wins. An invalid
//! value of a known key is a [`ConfigError`] naming the key and value; an unknown key, or a Kafka
//! key Runnel does not act on, is a [`ConfigWarning`] for the binary to log.
//!
//! Module map: `properties` (file syntax), `value` (types, validators, Kafka's error wording),
//! `catalog` (broker keys), `listener` (listener URIs), `ssl` (an SSL listener's `ssl.*` keys),
//! `authorizer` (ACL authorization keys),
//! `broker` (`BrokerConfig`), `topic`
//! (topic configs), `describe` (DescribeConfigs entries), `alter` (AlterConfigs operations),
//! `policy` (enumerated values).
//!
//! Honoured keys (Kafka 4.x defaults unless marked **Runnel**):
//!
//! | key | default | notes |
//! |---|---|---|
//! | node.id | **1** | Kafka requires it. Must be >= 0. broker.id is a synonym; both set must agree |
//! | listeners | **PLAINTEXT://localhost:9092** | Kafka: `PLAINTEXT://:9092`. Empty host binds 0.0.0.0 |
//! | advertised.listeners | = listeners | empty host advertises the kernel hostname (Kafka: canonical DNS name); 0.0.0.0 and `::` rejected |
//! | listener.security.protocol.map | each protocol maps to itself | controller listeners get PLAINTEXT when left default (as KRaft) |
//! | controller.listener.names | none | these listeners are parsed, validated, and **not opened** |
//! | log.dirs / log.dir | **./runnel-data** (log.dir) | Kafka: /tmp/kafka-logs. log.dirs wins; duplicates rejected |
//! | num.partitions | 1 | |
//! | num.io.threads | 8 | the async runtime's worker threads: handlers and their disk IO run on them |
//! | default.replication.factor | 1 | Runnel also requires 1..=32767 (Kafka has no check) |
//! | auto.create.topics.enable | true | |
//! | delete.topic.enable | true | |
//! | min.insync.replicas | 1 | |
//! | log.segment.bytes | 1073741824 | at least 1 MiB (Kafka 4.0) |
//! | log.roll.ms / log.roll.hours | 168 h | ms wins |
//! | log.retention.ms / .minutes / .hours | 168 h | ms > minutes > hours; negative = -1 = forever; 0 rejected |
//! | log.retention.bytes | -1 | |
//! | log.retention.check.interval.ms | 300000 | |
//! | log.cleanup.policy | delete | retention applies only when it includes delete |
//! | log.flush.interval.messages | i64::MAX | |
//! | log.flush.interval.ms | = log.flush.scheduler.interval.ms (i64::MAX) | Kafka's fallback |
//! | log.index.interval.bytes | 4096 | |
//! | log.index.size.max.bytes | 10485760 | |
//! | log.message.timestamp.type | CreateTime | |
//! | log.message.timestamp.before.max.ms | i64::MAX | |
//! | log.message.timestamp.after.max.ms | 3600000 | Kafka 4.0 default (was i64::MAX) |
//! | message.max.bytes | 1048588 | |
//! | compression.type | producer | other values validated; Runnel stores batches as sent (warning) |
//! | socket.request.max.bytes | 104857600 | |
//! | max.connections / max.connections.per.ip | i32::MAX | |
//! | connections.max.idle.ms | 600000 | |
//! | queued.max.requests | 500 | |
//! | fetch.max.bytes | 57671680 | |
//! | group.initial.rebalance.delay.ms | 3000 | |
//! | group.min.session.timeout.ms / group.max.session.timeout.ms | 6000 / 1800000 | |
//! | group.max.size | i32::MAX | |
//! | offsets.topic.num.partitions | 50 | |
//! | offsets.topic.replication.factor | 3 | one node can place only one replica |
//! | offsets.topic.segment.bytes | 104857600 | |
//! | offsets.retention.minutes | 10080 | |
//! | offsets.retention.check.interval.ms | 600000 | |
//! | offset.metadata.max.bytes | 4096 | |
//! | producer.id.expiration.ms | 86400000 | |
//! | ssl.keystore.type / ssl.truststore.type | JKS | PEM and PKCS12 are read; a JKS file is refused with how to convert it |
//! | ssl.keystore.location, ssl.keystore.password, ssl.key.password | none | PEM: key + chain in one file, key PKCS#8 (encrypted with ssl.key.password) |
//! | ssl.keystore.key, ssl.keystore.certificate.chain | none | inline PEM |
//! | ssl.truststore.location, ssl.truststore.password, ssl.truststore.certificates | none | CA certificates for client certificates |
//! | ssl.client.auth | none | none, requested, required |
//! | ssl.enabled.protocols | TLSv1.2,TLSv1.3 | older versions are dropped (rustls has none) |
//! | ssl.principal.mapping.rules | DEFAULT | Kafka's RULE:pattern/replacement/[LU] syntax |
//! | authorizer.class.name | "" | `org.apache.kafka.metadata.authorizer.StandardAuthorizer` enables ACLs; any other class is refused |
//! | super.users | none | `;`-separated principals allowed everything (see `authorizer`) |
//! | allow.everyone.if.no.acl.found | false | whether a resource no ACL names is open to all |
//!
//! | sasl.enabled.mechanisms | GSSAPI | SASL listeners: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (GSSAPI and OAUTHBEARER refused); see `sasl` |
//! | listener.name.<l>.<mechanism>.sasl.jaas.config | none | PLAIN's users (`user_<name>="<password>"`); a bare sasl.jaas.config is ignored, as Kafka does |
//! | sasl.server.max.receive.size | 524288 | the largest frame before authentication |
//!
//! | admin.listener | **127.0.0.1:9644** | **Runnel**: the admin HTTP listener (metrics, health, JSON API, console); empty = off |
//! | admin.listener.security.protocol | **PLAINTEXT** | **Runnel**: or SSL, with the broker's ssl.* keys (`listener.name.admin.ssl.*` wins) |
//! | admin.basic.auth.users | none | **Runnel**: `user:password,...`; when set, all but /healthz and /readyz need HTTP Basic auth |
//!
//! Every ssl key may be set per listener as `listener.name.<name>.ssl.*`, which wins (see `ssl`).
//!
//! Accepted without effect (validated with Kafka's type and range, reported by DescribeConfigs,
//! warned about when set): thread counts (num.network.threads, background.threads,
//! num.recovery.threads.per.data.dir = 2 in Kafka 4.0), socket buffers, log.cleaner.*,
//! log.roll.jitter.*, log.preallocate, compression levels, transaction.*, process.roles, and the
//! rest of `catalog::BROKER_KEYS` marked `NoEffect`. Accepted by name only: KRaft quorum keys
//! (controller.*), the other ssl.* keys (cipher suites, providers, algorithms), sasl.*,
//! the other listener.name.* keys, replication, quota and metrics keys,
//! zookeeper.* and the keys Kafka 4.0 removed (log.message.format.version,
//! log.message.downconversion.enable, log.message.timestamp.difference.max.ms). Anything else is
//! unknown (a warning, with a did-you-mean for near misses).
//!
//! Other deviations from Kafka: Runnel has no dynamic broker configs (every broker entry is
//! read-only in DescribeConfigs, and AlterConfigs refuses every broker key as Kafka refuses a
//! non-dynamic one); a listener port must be 0..=65535 at load time; the
//! inter-broker listener is not required to be advertised (there are no other brokers); a
//! non-UTF-8 properties file is read as ISO-8859-1 (Kafka always reads ISO-8859-1).

pub mod admin;
pub mod alter;
pub mod authorizer;
pub mod broker;
mod catalog;
pub mod describe;
pub mod listener;
pub mod policy;
pub mod properties;
pub mod sasl;
pub mod ssl;
pub mod topic;
mod typed;
pub mod value;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;

pub use broker::{parse_override, BrokerConfig};
pub use describe::{describe_broker_configs, describe_topic_configs, ConfigEntry, ConfigSource, ConfigSynonym};
pub use listener::{local_hostname, Listener, SecurityProtocol};
pub use policy::{CleanupPolicy, CompressionType, TimestampType};
pub use topic::{
    effective_log_config, effective_topic_settings, offsets_topic_configs, validate_topic_configs,
    validate_topic_configs_for, TopicConfigError, TopicSettings, CONSUMER_OFFSETS_TOPIC, INVALID_CONFIG_ERROR_CODE,
};
pub use value::{ConfigType, ConfigValue};

/// Why the configuration cannot be used. The binary should print it and exit non-zero.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A syntax error in the properties file (only a malformed `\uXXXX` escape is one).
    #[error("{path}:{line}: {message}")]
    Syntax { path: String, line: usize, message: String },
    /// A malformed `--override` argument.
    #[error("invalid override '{arg}': {reason}")]
    Override { arg: String, reason: String },
    /// A value Kafka would reject, in Kafka's words.
    #[error("Invalid value {value} for configuration {key}: {reason}")]
    InvalidValue { key: String, value: String, reason: String },
}

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigWarningKind {
    /// Neither Kafka 4.x nor Runnel knows the key.
    Unknown,
    /// Kafka knows the key (or knew it before 4.0); Runnel accepts it but does not act on it.
    NoEffect,
}

/// A key the binary should log a warning about; loading still succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub key: String,
    pub kind: ConfigWarningKind,
    /// Full sentence, including where the key was set.
    pub message: String,
}

impl ConfigWarning {
    pub(crate) fn new(key: &str, kind: ConfigWarningKind, message: String) -> ConfigWarning {
        ConfigWarning { key: key.to_string(), kind, message }
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
