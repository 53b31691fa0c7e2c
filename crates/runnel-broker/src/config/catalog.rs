//! The broker keys Runnel knows: for each typed key Kafka 4.x's type, default and validator
//! (from `ServerLogConfigs`, `ServerConfigs`, `SocketServerConfigs`, `ReplicationConfigs`,
//! `GroupCoordinatorConfig`, `TransactionLogConfig`, `CleanerConfig` and `LogConfig`), whether
//! Runnel acts on it, and the names and prefixes of Kafka keys Runnel accepts without effect.
//!
//! Defaults are written as Kafka prints them, so DescribeConfigs can report them verbatim; a
//! test parses every default through its own type and validator.

use super::value::{ConfigType, Validator};

/// Whether Runnel acts on a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Runnel reads it (a typed field of `BrokerConfig` or an input to topic defaults).
    Honoured,
    /// Validated as Kafka would, reported by DescribeConfigs, but Runnel does not act on it.
    NoEffect,
}

/// One typed broker key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BrokerKey {
    pub name: &'static str,
    pub ty: ConfigType,
    /// The default as Kafka prints it; `None` is Kafka's null default.
    pub default: Option<&'static str>,
    pub validator: Validator,
    pub effect: Effect,
    pub doc: &'static str,
}

pub(crate) const RUNNEL_DEFAULT_NODE_ID: &str = "1";
pub(crate) const RUNNEL_DEFAULT_LISTENERS: &str = "PLAINTEXT://localhost:9092";
pub(crate) const RUNNEL_DEFAULT_LOG_DIR: &str = "./runnel-data";
/// Kafka's default map: each security protocol is usable as a listener name of the same name.
pub(crate) const DEFAULT_SECURITY_PROTOCOL_MAP: &str = "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT";

pub(crate) const COMPRESSION_TYPES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
pub(crate) const TIMESTAMP_TYPES: &[&str] = &["CreateTime", "LogAppendTime"];
pub(crate) const CLEANUP_POLICIES: &[&str] = &["compact", "delete"];
pub(crate) const PROCESS_ROLES: &[&str] = &["broker", "controller"];
pub(crate) const SECURITY_PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

pub(crate) const GZIP_LEVEL: Validator = Validator::Level { min: 1, max: 9, default: -1 };
pub(crate) const LZ4_LEVEL: Validator = Validator::Between(1, 17);
pub(crate) const ZSTD_LEVEL: Validator = Validator::Between(-131_072, 22);

/// Kafka 4.0 raised the minimum segment size to 1 MiB (KIP-1030).
pub(crate) const SEGMENT_BYTES_MIN: i64 = 1024 * 1024;

const fn key(
    name: &'static str,
    ty: ConfigType,
    default: Option<&'static str>,
    validator: Validator,
    effect: Effect,
    doc: &'static str,
) -> BrokerKey {
    BrokerKey { name, ty, default, validator, effect, doc }
}

use ConfigType::{Boolean as BOOL, Double as DOUBLE, Int as INT, List as LIST, Long as LONG, Short as SHORT, String as STRING};
use Effect::{Honoured as YES, NoEffect as NO};
use Validator::{AtLeast, BetweenDouble, ListOf, None as ANY, OneOf};

const LONG_MAX: &str = "9223372036854775807";
const INT_MAX: &str = "2147483647";

/// Every typed broker key, in a stable order (DescribeConfigs sorts by name itself).
pub(crate) const BROKER_KEYS: &[BrokerKey] = &[
    // Identity and listeners.
    key("node.id", INT, Some(RUNNEL_DEFAULT_NODE_ID), ANY, YES, "The node ID of this broker. Runnel defaults it to 1; Kafka requires it."),
    key("broker.id", INT, None, ANY, YES, "Synonym of node.id (defaults to it); when both are set they must be equal."),
    key("listeners", STRING, Some(RUNNEL_DEFAULT_LISTENERS), ANY, YES, "Comma-separated listener URIs NAME://host:port to bind. An empty host binds every interface."),
    key("advertised.listeners", STRING, None, ANY, YES, "Listener URIs published to clients, if different from listeners. An empty host advertises this machine's hostname."),
    key("listener.security.protocol.map", STRING, Some(DEFAULT_SECURITY_PROTOCOL_MAP), ANY, YES, "Map of listener name to security protocol, NAME:PROTOCOL pairs separated by commas."),
    key("controller.listener.names", STRING, None, ANY, YES, "Names of KRaft controller listeners. Runnel does not open these listeners."),
    key("inter.broker.listener.name", STRING, None, ANY, NO, "Listener used between brokers."),
    key("security.inter.broker.protocol", STRING, Some("PLAINTEXT"), OneOf(SECURITY_PROTOCOLS), NO, "Security protocol used between brokers."),
    key("process.roles", LIST, Some(""), ListOf(PROCESS_ROLES), NO, "KRaft roles of this process. Runnel is always a single combined node."),
    key("broker.rack", STRING, None, ANY, NO, "Rack of the broker."),
    key("metadata.log.dir", STRING, None, ANY, NO, "Directory of the KRaft metadata log."),
    key("authorizer.class.name", STRING, Some(""), ANY, YES, "Authorizer class: org.apache.kafka.metadata.authorizer.StandardAuthorizer enables ACLs."),
    // Log directories and topic defaults.
    key("log.dirs", STRING, None, ANY, YES, "Comma-separated directories where partition data is stored. If not set, log.dir is used."),
    key("log.dir", STRING, Some(RUNNEL_DEFAULT_LOG_DIR), ANY, YES, "Directory where partition data is stored (used when log.dirs is not set)."),
    key("num.partitions", INT, Some("1"), AtLeast(1), YES, "Default number of partitions per topic."),
    key("default.replication.factor", INT, Some("1"), ANY, YES, "Default replication factor of automatically created topics."),
    key("auto.create.topics.enable", BOOL, Some("true"), ANY, YES, "Create a topic when a client asks for metadata of one that does not exist."),
    key("delete.topic.enable", BOOL, Some("true"), ANY, YES, "Allow topics to be deleted."),
    key("min.insync.replicas", INT, Some("1"), AtLeast(1), YES, "Minimum in-sync replicas for acks=all writes."),
    key("unclean.leader.election.enable", BOOL, Some("false"), ANY, NO, "Allow out-of-sync replicas to become leader."),
    // Segments, retention, flushing.
    key("log.segment.bytes", INT, Some("1073741824"), AtLeast(SEGMENT_BYTES_MIN), YES, "Maximum size of a single segment file."),
    key("log.roll.ms", LONG, None, ANY, YES, "Maximum age of a segment before it is rolled, in milliseconds. If not set, log.roll.hours is used."),
    key("log.roll.hours", INT, Some("168"), AtLeast(1), YES, "Maximum age of a segment before it is rolled, in hours; secondary to log.roll.ms."),
    key("log.roll.jitter.ms", LONG, None, ANY, NO, "Maximum jitter subtracted from the roll time, in milliseconds."),
    key("log.roll.jitter.hours", INT, Some("0"), AtLeast(0), NO, "Maximum jitter subtracted from the roll time, in hours; secondary to log.roll.jitter.ms."),
    key("log.retention.ms", LONG, None, ANY, YES, "How long to keep a segment, in milliseconds. If not set, log.retention.minutes is used. -1 keeps data forever."),
    key("log.retention.minutes", INT, None, ANY, YES, "How long to keep a segment, in minutes; secondary to log.retention.ms. If not set, log.retention.hours is used."),
    key("log.retention.hours", INT, Some("168"), ANY, YES, "How long to keep a segment, in hours; tertiary to log.retention.ms."),
    key("log.retention.bytes", LONG, Some("-1"), ANY, YES, "Maximum size of a partition's log before old segments are deleted; -1 is unbounded."),
    key("log.retention.check.interval.ms", LONG, Some("300000"), AtLeast(1), YES, "How often retention is checked."),
    key("log.cleanup.policy", LIST, Some("delete"), ListOf(CLEANUP_POLICIES), YES, "Default cleanup policy: delete, compact, or both."),
    key("log.flush.interval.messages", LONG, Some(LONG_MAX), AtLeast(1), YES, "Messages accumulated on a partition before it is fsynced."),
    key("log.flush.interval.ms", LONG, None, ANY, YES, "Maximum time a message stays unflushed. If not set, log.flush.scheduler.interval.ms is used."),
    key("log.flush.scheduler.interval.ms", LONG, Some(LONG_MAX), ANY, YES, "How often the flusher checks whether a log needs flushing."),
    key("log.flush.offset.checkpoint.interval.ms", INT, Some("60000"), AtLeast(0), NO, "How often the recovery point is checkpointed."),
    key("log.flush.start.offset.checkpoint.interval.ms", INT, Some("60000"), AtLeast(0), NO, "How often the log start offset is checkpointed."),
    key("log.index.interval.bytes", INT, Some("4096"), AtLeast(0), YES, "Bytes between offset index entries."),
    key("log.index.size.max.bytes", INT, Some("10485760"), AtLeast(4), YES, "Maximum size of an offset or time index."),
    key("log.segment.delete.delay.ms", LONG, Some("60000"), AtLeast(0), NO, "Delay before a deleted segment's files are removed."),
    key("log.preallocate", BOOL, Some("false"), ANY, NO, "Preallocate segment files."),
    key("log.message.timestamp.type", STRING, Some("CreateTime"), OneOf(TIMESTAMP_TYPES), YES, "CreateTime keeps the producer's timestamp; LogAppendTime stamps batches on append."),
    key("log.message.timestamp.before.max.ms", LONG, Some(LONG_MAX), AtLeast(0), YES, "How far a CreateTime timestamp may lie before the broker's clock."),
    key("log.message.timestamp.after.max.ms", LONG, Some("3600000"), AtLeast(0), YES, "How far a CreateTime timestamp may lie after the broker's clock (Kafka 4.0 default: 1 hour)."),
    key("log.local.retention.ms", LONG, Some("-2"), AtLeast(-2), NO, "Local retention for tiered storage; -2 follows log.retention.ms."),
    key("log.local.retention.bytes", LONG, Some("-2"), AtLeast(-2), NO, "Local retention size for tiered storage; -2 follows log.retention.bytes."),
    key("log.cleaner.enable", BOOL, Some("true"), ANY, NO, "Run the log cleaner (compaction)."),
    key("log.cleaner.threads", INT, Some("1"), AtLeast(0), NO, "Log cleaner threads."),
    key("log.cleaner.backoff.ms", LONG, Some("15000"), AtLeast(0), NO, "Cleaner sleep when there is nothing to clean."),
    key("log.cleaner.dedupe.buffer.size", LONG, Some("134217728"), ANY, NO, "Cleaner deduplication buffer size."),
    key("log.cleaner.io.buffer.size", INT, Some("524288"), AtLeast(0), NO, "Cleaner I/O buffer size."),
    key("log.cleaner.io.buffer.load.factor", DOUBLE, Some("0.9"), ANY, NO, "Cleaner deduplication buffer load factor."),
    key("log.cleaner.io.max.bytes.per.second", DOUBLE, Some("1.7976931348623157E308"), ANY, NO, "Cleaner I/O throttle."),
    key("log.cleaner.delete.retention.ms", LONG, Some("86400000"), AtLeast(0), NO, "How long tombstones are kept in compacted topics."),
    key("log.cleaner.min.compaction.lag.ms", LONG, Some("0"), AtLeast(0), NO, "Minimum time a message stays uncompacted."),
    key("log.cleaner.max.compaction.lag.ms", LONG, Some(LONG_MAX), AtLeast(1), NO, "Maximum time a message stays ineligible for compaction."),
    key("log.cleaner.min.cleanable.ratio", DOUBLE, Some("0.5"), BetweenDouble(0.0, 1.0), NO, "Minimum dirty ratio before a log is cleaned."),
    // Sizes and compression.
    key("message.max.bytes", INT, Some("1048588"), AtLeast(0), YES, "Largest record batch the broker accepts (after compression)."),
    key("compression.type", STRING, Some("producer"), OneOf(COMPRESSION_TYPES), YES, "Final compression of a topic's data; producer keeps the producer's codec."),
    key("compression.gzip.level", INT, Some("-1"), GZIP_LEVEL, NO, "Compression level when compression.type is gzip."),
    key("compression.lz4.level", INT, Some("9"), LZ4_LEVEL, NO, "Compression level when compression.type is lz4."),
    key("compression.zstd.level", INT, Some("3"), ZSTD_LEVEL, NO, "Compression level when compression.type is zstd."),
    // Network.
    key("socket.request.max.bytes", INT, Some("104857600"), AtLeast(1), YES, "Largest request frame accepted."),
    key("socket.send.buffer.bytes", INT, Some("102400"), ANY, NO, "SO_SNDBUF of server sockets; -1 uses the OS default."),
    key("socket.receive.buffer.bytes", INT, Some("102400"), ANY, NO, "SO_RCVBUF of server sockets; -1 uses the OS default."),
    key("socket.listen.backlog.size", INT, Some("50"), AtLeast(1), NO, "Pending connection backlog."),
    key("max.connections", INT, Some(INT_MAX), AtLeast(0), YES, "Maximum connections open at once."),
    key("max.connections.per.ip", INT, Some(INT_MAX), AtLeast(0), YES, "Maximum connections from one IP address."),
    key("max.connection.creation.rate", INT, Some(INT_MAX), AtLeast(0), NO, "Maximum new connections per second."),
    key("connections.max.idle.ms", LONG, Some("600000"), ANY, YES, "Idle connections are closed after this long."),
    key("connection.failed.authentication.delay.ms", INT, Some("100"), AtLeast(0), NO, "Delay before closing a connection that failed authentication."),
    key("queued.max.requests", INT, Some("500"), AtLeast(1), YES, "Requests queued before the network layer stops reading."),
    key("queued.max.request.bytes", LONG, Some("-1"), ANY, NO, "Queued request bytes before reading stops; -1 is unbounded."),
    key("request.timeout.ms", INT, Some("30000"), ANY, NO, "Request timeout."),
    key("fetch.max.bytes", INT, Some("57671680"), AtLeast(1024), YES, "Most bytes returned for one fetch request."),
    key("max.incremental.fetch.session.cache.slots", INT, Some("1000"), AtLeast(0), NO, "Incremental fetch sessions kept."),
    // Threads: num.io.threads sizes the async runtime; the rest have no counterpart.
    key("num.io.threads", INT, Some("8"), AtLeast(1), YES, "Request handler threads: the runtime's workers."),
    key("num.network.threads", INT, Some("3"), AtLeast(1), NO, "Network threads per listener."),
    key("background.threads", INT, Some("10"), AtLeast(1), NO, "Background task threads."),
    key("num.recovery.threads.per.data.dir", INT, Some("2"), AtLeast(1), NO, "Recovery threads per log directory (Kafka 4.0 default: 2)."),
    key("num.replica.fetchers", INT, Some("1"), ANY, NO, "Replica fetcher threads."),
    key("replica.lag.time.max.ms", LONG, Some("30000"), ANY, NO, "Time before a lagging follower leaves the ISR."),
    key("auto.leader.rebalance.enable", BOOL, Some("true"), ANY, NO, "Rebalance leadership to preferred replicas."),
    key("controlled.shutdown.enable", BOOL, Some("true"), ANY, NO, "Controlled shutdown."),
    // Group coordinator and offsets.
    key("group.initial.rebalance.delay.ms", INT, Some("3000"), ANY, YES, "Delay of the first rebalance of an empty group."),
    key("group.min.session.timeout.ms", INT, Some("6000"), ANY, YES, "Smallest session timeout a member may ask for."),
    key("group.max.session.timeout.ms", INT, Some("1800000"), ANY, YES, "Largest session timeout a member may ask for."),
    key("group.max.size", INT, Some(INT_MAX), AtLeast(1), YES, "Maximum members of one classic group."),
    key("offsets.topic.num.partitions", INT, Some("50"), AtLeast(1), YES, "Partitions of __consumer_offsets."),
    key("offsets.topic.replication.factor", SHORT, Some("3"), AtLeast(1), YES, "Replication factor of __consumer_offsets (a single Runnel node can only place one replica)."),
    key("offsets.topic.segment.bytes", INT, Some("104857600"), AtLeast(1), YES, "Segment size of __consumer_offsets."),
    key("offsets.topic.compression.codec", INT, Some("0"), ANY, NO, "Compression codec of offset commits."),
    key("offsets.retention.minutes", INT, Some("10080"), AtLeast(1), YES, "How long committed offsets of an empty group are kept."),
    key("offsets.retention.check.interval.ms", LONG, Some("600000"), AtLeast(1), YES, "How often stale offsets are checked."),
    key("offset.metadata.max.bytes", INT, Some("4096"), ANY, YES, "Largest metadata string of an offset commit."),
    key("offsets.commit.timeout.ms", INT, Some("5000"), AtLeast(1), NO, "Offset commit timeout."),
    key("offsets.load.buffer.size", INT, Some("5242880"), AtLeast(1), NO, "Read buffer when loading offsets."),
    // Producer ids and transactions.
    key("producer.id.expiration.ms", INT, Some("86400000"), AtLeast(1), YES, "How long a producer id's state is kept after its last write."),
    key("producer.id.expiration.check.interval.ms", INT, Some("600000"), AtLeast(1), NO, "How often expired producer ids are removed."),
    key("transactional.id.expiration.ms", INT, Some("604800000"), AtLeast(1), NO, "How long an idle transactional id is kept."),
    key("transaction.max.timeout.ms", INT, Some("900000"), AtLeast(1), NO, "Largest transaction timeout a producer may ask for."),
    key("transaction.state.log.num.partitions", INT, Some("50"), AtLeast(1), NO, "Partitions of __transaction_state."),
    key("transaction.state.log.replication.factor", SHORT, Some("3"), AtLeast(1), NO, "Replication factor of __transaction_state."),
    key("transaction.state.log.min.isr", INT, Some("2"), AtLeast(1), NO, "min.insync.replicas of __transaction_state."),
    key("transaction.state.log.segment.bytes", INT, Some("104857600"), AtLeast(1), NO, "Segment size of __transaction_state."),
];

/// Looks up a typed broker key.
pub(crate) fn broker_key(name: &str) -> Option<&'static BrokerKey> {
    BROKER_KEYS.iter().find(|key| key.name == name)
}

/// Kafka keys Runnel accepts but ignores without checking their values: KRaft quorum, security,
/// replication, quotas, metrics and the like.
const NO_EFFECT_PREFIXES: &[&str] = &[
    "controller.",
    "ssl.",
    "sasl.",
    "listener.name.",
    "metadata.",
    "remote.log.",
    "share.coordinator.",
    "group.consumer.",
    "group.share.",
    "group.coordinator.",
    "replica.",
    "replication.quota.",
    "alter.log.dirs.replication.quota.",
    "quota.",
    "metric.",
    "metrics.",
    "kafka.metrics.",
    "delegation.token.",
    "password.encoder.",
    "leader.imbalance.",
    "controlled.shutdown.",
    "transaction.",
    "client.quota.",
    "telemetry.",
    "unstable.",
];

const NO_EFFECT_NAMES: &[&str] = &[
    "control.plane.listener.name",
    "early.start.listeners",
    "broker.id.generation.enable",
    "reserved.broker.max.id",
    "broker.heartbeat.interval.ms",
    "broker.session.timeout.ms",
    "initial.broker.registration.timeout.ms",
    "inter.broker.protocol.version",
    "unclean.leader.election.interval.ms",
    "principal.builder.class",
    "connections.max.reauth.ms",
    "eligible.leader.replicas.enable",
    "log.dir.failure.timeout.ms",
    "log.initial.task.delay.ms",
    "num.replica.alter.log.dirs.threads",
    "fetch.purgatory.purge.interval.requests",
    "producer.purgatory.purge.interval.requests",
    "delete.records.purgatory.purge.interval.requests",
    "max.request.partition.size.limit",
    "create.topic.policy.class.name",
    "alter.config.policy.class.name",
    "config.providers",
    "security.providers",
    "client.telemetry.max.bytes",
    "max.connections.per.ip.overrides",
    "auto.include.jmx.reporter",
    "offsets.commit.required.acks",
    "share.fetch.purgatory.purge.interval.requests",
];

/// Keys from before Kafka 4.0 that 4.0 removed; Kafka 4 ignores them, and so does Runnel.
const REMOVED_IN_KAFKA_4: &[(&str, &str)] = &[
    ("log.message.format.version", "the message format is always v2 since Kafka 4.0"),
    ("log.message.downconversion.enable", "down-conversion was removed in Kafka 4.0"),
    ("log.message.timestamp.difference.max.ms", "replaced by log.message.timestamp.before.max.ms and log.message.timestamp.after.max.ms"),
];

/// How an untyped key is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Untyped {
    /// A Kafka key Runnel ignores; the message says why.
    NoEffect(&'static str),
    /// Neither Kafka 4.x nor Runnel knows it.
    Unknown,
}

pub(crate) fn classify_untyped(name: &str) -> Untyped {
    if let Some((_, why)) = REMOVED_IN_KAFKA_4.iter().find(|(removed, _)| *removed == name) {
        return Untyped::NoEffect(why);
    }
    if name.starts_with("zookeeper.") {
        return Untyped::NoEffect("ZooKeeper mode was removed in Kafka 4.0");
    }
    if NO_EFFECT_NAMES.contains(&name) || NO_EFFECT_PREFIXES.iter().any(|prefix| name.starts_with(prefix)) {
        return Untyped::NoEffect("Runnel does not implement it");
    }
    Untyped::Unknown
}

/// The closest typed key name to a misspelt one, if it is close enough to be a likely typo.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    const MAX_TYPO_DISTANCE: usize = 2;
    BROKER_KEYS
        .iter()
        .map(|key| (edit_distance(name, key.name), key.name))
        .filter(|(distance, _)| *distance <= MAX_TYPO_DISTANCE)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}
