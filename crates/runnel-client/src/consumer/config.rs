//! The consumer's settings, read from Kafka's consumer property names.
//!
//! Owns: `ConsumerConfig`, its defaults (Kafka 4's, except where noted), and the checks Kafka's
//! `ConsumerConfig` and `GroupRebalanceConfig` make before a consumer starts. Keys that belong
//! to the shared client settings are read by [`ClientConfig::from_properties`]; keys no role
//! reads (serializer class names, producer settings) are ignored, as Java only warns on them.

use crate::config::{ClientConfig, Properties};
use crate::error::{Error, Result};

use super::assignor::AssignmentStrategy;

/// Kafka's `auto.commit.interval.ms` default.
pub const AUTO_COMMIT_INTERVAL_MS_DEFAULT: u64 = 5_000;
/// Kafka's `session.timeout.ms` default (since 3.0).
pub const SESSION_TIMEOUT_MS_DEFAULT: u64 = 45_000;
/// Kafka's `heartbeat.interval.ms` default.
pub const HEARTBEAT_INTERVAL_MS_DEFAULT: u64 = 3_000;
/// Kafka's `max.poll.interval.ms` default; also the rebalance timeout sent in JoinGroup.
pub const MAX_POLL_INTERVAL_MS_DEFAULT: u64 = 300_000;
/// Kafka's `max.poll.records` default.
pub const MAX_POLL_RECORDS_DEFAULT: usize = 500;
/// Kafka's `fetch.min.bytes` default.
pub const FETCH_MIN_BYTES_DEFAULT: i32 = 1;
/// Kafka's `fetch.max.bytes` default (50 MiB).
pub const FETCH_MAX_BYTES_DEFAULT: i32 = 52_428_800;
/// Kafka's `max.partition.fetch.bytes` default (1 MiB).
pub const MAX_PARTITION_FETCH_BYTES_DEFAULT: i32 = 1_048_576;
/// Kafka's `fetch.max.wait.ms` default.
pub const FETCH_MAX_WAIT_MS_DEFAULT: i32 = 500;
/// Kafka's `default.api.timeout.ms` default: the bound on `commit()`, `committed()`,
/// `position()` and the other calls that take no timeout of their own.
pub const DEFAULT_API_TIMEOUT_MS_DEFAULT: u64 = 60_000;
/// Kafka's `close()` default timeout (`DEFAULT_CLOSE_TIMEOUT_MS`).
pub const CLOSE_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// Longest `group.instance.id` Kafka accepts (`JoinGroupRequest.validateGroupInstanceId`).
pub const GROUP_INSTANCE_ID_CHARS_MAX: usize = 249;

/// Where a partition without a usable offset starts: Kafka's `auto.offset.reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    Earliest,
    /// Kafka's default.
    #[default]
    Latest,
    /// No reset: `poll()` fails with `NoOffsetForPartition` or `OFFSET_OUT_OF_RANGE`.
    None,
}

impl OffsetReset {
    /// Parses Kafka's spelling (`earliest`, `latest`, `none`).
    pub fn parse(value: &str) -> Result<OffsetReset> {
        match value.trim().to_ascii_lowercase().as_str() {
            "earliest" => Ok(OffsetReset::Earliest),
            "latest" => Ok(OffsetReset::Latest),
            "none" => Ok(OffsetReset::None),
            other => Err(Error::Config(format!("auto.offset.reset: expected earliest, latest or none, got {other:?}"))),
        }
    }
}

/// Kafka's `isolation.level`. Only `read_uncommitted` is supported; control batches (the
/// transaction markers) are never returned as records whichever level is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    #[default]
    ReadUncommitted,
}

impl IsolationLevel {
    fn parse(value: &str) -> Result<IsolationLevel> {
        match value.trim().to_ascii_lowercase().as_str() {
            "read_uncommitted" => Ok(IsolationLevel::ReadUncommitted),
            "read_committed" => {
                Err(Error::Config("isolation.level: read_committed is not supported by this client".into()))
            }
            other => Err(Error::Config(format!("isolation.level: expected read_uncommitted, got {other:?}"))),
        }
    }

    /// The value sent in Fetch and ListOffsets requests.
    pub fn wire_value(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
        }
    }
}

/// Everything a [`Consumer`](super::Consumer) needs to know. Build it with
/// [`ConsumerConfig::new`] and set fields, or read a Kafka properties map with
/// [`ConsumerConfig::from_properties`].
///
/// ```
/// use runnel_client::consumer::{ConsumerConfig, OffsetReset};
///
/// let mut config = ConsumerConfig::new("127.0.0.1:9092", Some("my-group"));
/// config.auto_offset_reset = OffsetReset::Earliest;
/// config.max_poll_records = 100;
/// assert!(config.enable_auto_commit);
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// Bootstrap servers, client id, timeouts and security, shared with the other roles.
    pub client: ClientConfig,
    /// `group.id`: without one the consumer can only `assign()` and cannot commit.
    pub group_id: Option<String>,
    /// `group.instance.id`: makes the member static (it keeps its partitions across restarts
    /// within the session timeout, and does not leave the group on close).
    pub group_instance_id: Option<String>,
    pub auto_offset_reset: OffsetReset,
    /// `enable.auto.commit`: true by default when a group id is set.
    pub enable_auto_commit: bool,
    pub auto_commit_interval_ms: u64,
    pub session_timeout_ms: u64,
    pub heartbeat_interval_ms: u64,
    /// `max.poll.interval.ms`: the longest gap between `poll()` calls before the member is
    /// considered failed and leaves the group; also the JoinGroup rebalance timeout.
    pub max_poll_interval_ms: u64,
    pub max_poll_records: usize,
    pub fetch_min_bytes: i32,
    pub fetch_max_bytes: i32,
    pub max_partition_fetch_bytes: i32,
    pub fetch_max_wait_ms: i32,
    /// `partition.assignment.strategy`, in order of preference. Default `[range]`, which
    /// shares a group with Java's default `[range, cooperative-sticky]` and kafka-python's
    /// `[range, roundrobin]`.
    pub assignment_strategies: Vec<AssignmentStrategy>,
    pub isolation_level: IsolationLevel,
    /// `check.crcs`: verify each batch's CRC-32C before decoding it (Kafka's default: true).
    pub check_crcs: bool,
    /// `allow.auto.create.topics`: whether subscribing asks the broker to create missing
    /// topics (the broker's own `auto.create.topics.enable` decides).
    pub allow_auto_create_topics: bool,
    /// `default.api.timeout.ms`.
    pub default_api_timeout_ms: u64,
}

impl ConsumerConfig {
    /// Kafka's defaults for everything but the bootstrap servers and the group.
    pub fn new(bootstrap_servers: impl AsRef<str>, group_id: Option<&str>) -> ConsumerConfig {
        ConsumerConfig::with_client(ClientConfig::new(bootstrap_servers), group_id)
    }

    /// Kafka's consumer defaults around an existing client configuration.
    pub fn with_client(client: ClientConfig, group_id: Option<&str>) -> ConsumerConfig {
        ConsumerConfig {
            client,
            group_id: group_id.map(str::to_string),
            group_instance_id: None,
            auto_offset_reset: OffsetReset::default(),
            enable_auto_commit: group_id.is_some(),
            auto_commit_interval_ms: AUTO_COMMIT_INTERVAL_MS_DEFAULT,
            session_timeout_ms: SESSION_TIMEOUT_MS_DEFAULT,
            heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS_DEFAULT,
            max_poll_interval_ms: MAX_POLL_INTERVAL_MS_DEFAULT,
            max_poll_records: MAX_POLL_RECORDS_DEFAULT,
            fetch_min_bytes: FETCH_MIN_BYTES_DEFAULT,
            fetch_max_bytes: FETCH_MAX_BYTES_DEFAULT,
            max_partition_fetch_bytes: MAX_PARTITION_FETCH_BYTES_DEFAULT,
            fetch_max_wait_ms: FETCH_MAX_WAIT_MS_DEFAULT,
            assignment_strategies: vec![AssignmentStrategy::Range],
            isolation_level: IsolationLevel::default(),
            check_crcs: true,
            allow_auto_create_topics: true,
            default_api_timeout_ms: DEFAULT_API_TIMEOUT_MS_DEFAULT,
        }
    }

    /// Reads Kafka's consumer property names (and the shared client ones).
    ///
    /// ```
    /// use runnel_client::config::parse_properties;
    /// use runnel_client::consumer::{ConsumerConfig, OffsetReset};
    ///
    /// let props = parse_properties(
    ///     "bootstrap.servers=127.0.0.1:9092\ngroup.id=g\nauto.offset.reset=earliest\n\
    ///      partition.assignment.strategy=roundrobin,range\n",
    /// ).unwrap();
    /// let config = ConsumerConfig::from_properties(&props).unwrap();
    /// assert_eq!(config.group_id.as_deref(), Some("g"));
    /// assert_eq!(config.auto_offset_reset, OffsetReset::Earliest);
    /// assert_eq!(config.assignment_strategies.len(), 2);
    /// ```
    pub fn from_properties(props: &Properties) -> Result<ConsumerConfig> {
        let client = ClientConfig::from_properties(props)?;
        let group_id = props.get("group.id").map(|g| g.trim().to_string());
        let mut config = ConsumerConfig::with_client(client, group_id.as_deref());
        config.group_instance_id = props.get("group.instance.id").map(|g| g.trim().to_string());
        if let Some(reset) = props.get("auto.offset.reset") {
            config.auto_offset_reset = OffsetReset::parse(reset)?;
        }
        if let Some(value) = props.get("enable.auto.commit") {
            config.enable_auto_commit = parse_bool("enable.auto.commit", value)?;
        }
        config.auto_commit_interval_ms = number(props, "auto.commit.interval.ms", config.auto_commit_interval_ms)?;
        config.session_timeout_ms = number(props, "session.timeout.ms", config.session_timeout_ms)?;
        config.heartbeat_interval_ms = number(props, "heartbeat.interval.ms", config.heartbeat_interval_ms)?;
        config.max_poll_interval_ms = number(props, "max.poll.interval.ms", config.max_poll_interval_ms)?;
        config.max_poll_records = number(props, "max.poll.records", config.max_poll_records)?;
        config.fetch_min_bytes = number(props, "fetch.min.bytes", config.fetch_min_bytes)?;
        config.fetch_max_bytes = number(props, "fetch.max.bytes", config.fetch_max_bytes)?;
        config.max_partition_fetch_bytes =
            number(props, "max.partition.fetch.bytes", config.max_partition_fetch_bytes)?;
        config.fetch_max_wait_ms = number(props, "fetch.max.wait.ms", config.fetch_max_wait_ms)?;
        config.default_api_timeout_ms = number(props, "default.api.timeout.ms", config.default_api_timeout_ms)?;
        if let Some(list) = props.get("partition.assignment.strategy") {
            config.assignment_strategies = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(AssignmentStrategy::parse)
                .collect::<Result<_>>()?;
        }
        if let Some(level) = props.get("isolation.level") {
            config.isolation_level = IsolationLevel::parse(level)?;
        }
        if let Some(value) = props.get("check.crcs") {
            config.check_crcs = parse_bool("check.crcs", value)?;
        }
        if let Some(value) = props.get("allow.auto.create.topics") {
            config.allow_auto_create_topics = parse_bool("allow.auto.create.topics", value)?;
        }
        if let Some(protocol) = props.get("group.protocol") {
            if !protocol.trim().eq_ignore_ascii_case("classic") {
                return Err(Error::Config(format!(
                    "group.protocol: only the classic protocol is supported, got {protocol:?}"
                )));
            }
        }
        // client.rack only feeds rack-aware assignment and follower fetching; neither is
        // implemented, so it is accepted and ignored.
        config.validate()?;
        Ok(config)
    }

    /// The checks Kafka makes when a consumer is built.
    pub fn validate(&self) -> Result<()> {
        match self.group_id.as_deref() {
            Some("") => return Err(Error::Config("group.id must not be empty".into())),
            None if self.enable_auto_commit => {
                return Err(Error::Config(
                    "enable.auto.commit cannot be set to true when no group.id is set".into(),
                ))
            }
            None if self.group_instance_id.is_some() => {
                return Err(Error::Config("group.instance.id needs a group.id".into()))
            }
            _ => {}
        }
        if let Some(id) = &self.group_instance_id {
            validate_group_instance_id(id)?;
        }
        if self.heartbeat_interval_ms >= self.session_timeout_ms {
            return Err(Error::Config(format!(
                "heartbeat.interval.ms ({}) must be lower than session.timeout.ms ({})",
                self.heartbeat_interval_ms, self.session_timeout_ms
            )));
        }
        let positive = [
            ("max.poll.records", self.max_poll_records as i64),
            ("max.poll.interval.ms", self.max_poll_interval_ms as i64),
            ("heartbeat.interval.ms", self.heartbeat_interval_ms as i64),
            ("fetch.max.bytes", i64::from(self.fetch_max_bytes)),
            ("max.partition.fetch.bytes", i64::from(self.max_partition_fetch_bytes)),
        ];
        for (name, value) in positive {
            if value <= 0 {
                return Err(Error::Config(format!("{name} must be at least 1, got {value}")));
            }
        }
        if self.fetch_min_bytes < 0 || self.fetch_max_wait_ms < 0 {
            return Err(Error::Config("fetch.min.bytes and fetch.max.wait.ms must not be negative".into()));
        }
        if self.max_poll_interval_ms > i32::MAX as u64 || self.session_timeout_ms > i32::MAX as u64 {
            return Err(Error::Config("max.poll.interval.ms and session.timeout.ms must fit an int32".into()));
        }
        if self.assignment_strategies.is_empty() {
            return Err(Error::Config("partition.assignment.strategy must name at least one assignor".into()));
        }
        Ok(())
    }
}

/// Kafka's rule for a static member id: 1 to 249 characters of `[a-zA-Z0-9._-]`.
fn validate_group_instance_id(id: &str) -> Result<()> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if id.is_empty() || id.len() > GROUP_INSTANCE_ID_CHARS_MAX || !id.chars().all(legal) {
        return Err(Error::Config(format!(
            "group.instance.id {id:?} is illegal: it must be 1 to {GROUP_INSTANCE_ID_CHARS_MAX} characters of [a-zA-Z0-9._-]"
        )));
    }
    Ok(())
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::Config(format!("{key}: expected true or false, got {value:?}"))),
    }
}

fn number<T: std::str::FromStr>(props: &Properties, key: &str, default: T) -> Result<T> {
    match props.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| Error::Config(format!("{key}: expected a number in range, got {v:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_properties;

    fn config(text: &str) -> Result<ConsumerConfig> {
        ConsumerConfig::from_properties(&parse_properties(&format!("bootstrap.servers=127.0.0.1:1\n{text}")).unwrap())
    }

    #[test]
    fn defaults_are_kafkas() {
        let c = config("group.id=g").unwrap();
        assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
        assert!(c.enable_auto_commit);
        assert_eq!(c.auto_commit_interval_ms, 5_000);
        assert_eq!(c.session_timeout_ms, 45_000);
        assert_eq!(c.heartbeat_interval_ms, 3_000);
        assert_eq!(c.max_poll_interval_ms, 300_000);
        assert_eq!(c.max_poll_records, 500);
        assert_eq!((c.fetch_min_bytes, c.fetch_max_bytes, c.max_partition_fetch_bytes), (1, 52_428_800, 1_048_576));
        assert_eq!(c.fetch_max_wait_ms, 500);
        assert_eq!(c.assignment_strategies, vec![AssignmentStrategy::Range]);
    }

    #[test]
    fn auto_commit_defaults_off_without_a_group_and_is_refused_when_forced() {
        assert!(!config("").unwrap().enable_auto_commit);
        let error = config("enable.auto.commit=true").unwrap_err().to_string();
        assert!(error.contains("enable.auto.commit"), "{error}");
    }

    #[test]
    fn every_consumer_key_is_read() {
        let c = config(
            "group.id=g\ngroup.instance.id=i-1\nauto.offset.reset=EARLIEST\nenable.auto.commit=false\n\
             auto.commit.interval.ms=100\nsession.timeout.ms=6000\nheartbeat.interval.ms=500\n\
             max.poll.interval.ms=9000\nmax.poll.records=7\nfetch.min.bytes=10\nfetch.max.bytes=1000\n\
             max.partition.fetch.bytes=100\nfetch.max.wait.ms=50\nisolation.level=read_uncommitted\n\
             partition.assignment.strategy=org.apache.kafka.clients.consumer.RoundRobinAssignor, range\n\
             client.rack=r1\nkey.deserializer=x\ncheck.crcs=false\nallow.auto.create.topics=false\n\
             default.api.timeout.ms=1234\n",
        )
        .unwrap();
        assert_eq!(c.group_instance_id.as_deref(), Some("i-1"));
        assert_eq!(c.auto_offset_reset, OffsetReset::Earliest);
        assert!(!c.enable_auto_commit);
        assert_eq!(
            (c.auto_commit_interval_ms, c.session_timeout_ms, c.heartbeat_interval_ms, c.max_poll_interval_ms),
            (100, 6000, 500, 9000)
        );
        assert_eq!(c.max_poll_records, 7);
        assert_eq!((c.fetch_min_bytes, c.fetch_max_bytes, c.max_partition_fetch_bytes, c.fetch_max_wait_ms), (10, 1000, 100, 50));
        assert_eq!(c.assignment_strategies, vec![AssignmentStrategy::RoundRobin, AssignmentStrategy::Range]);
        assert!(!c.check_crcs && !c.allow_auto_create_topics);
        assert_eq!(c.default_api_timeout_ms, 1234);
    }

    #[test]
    fn invalid_settings_name_their_key() {
        for (text, key) in [
            ("group.id=g\nauto.offset.reset=sometimes", "auto.offset.reset"),
            ("group.id=g\nheartbeat.interval.ms=50000", "heartbeat.interval.ms"),
            ("group.id=g\nmax.poll.records=0", "max.poll.records"),
            ("group.id=g\nmax.poll.records=-1", "max.poll.records"),
            ("group.id=g\npartition.assignment.strategy=cooperative-sticky", "partition.assignment.strategy"),
            ("group.id=g\nisolation.level=read_committed", "isolation.level"),
            ("group.id=g\ngroup.instance.id=has space", "group.instance.id"),
            ("group.instance.id=i", "group.instance.id"),
            ("group.id=", "group.id"),
            ("group.id=g\ngroup.protocol=consumer", "group.protocol"),
            ("group.id=g\nenable.auto.commit=yes", "enable.auto.commit"),
        ] {
            let error = config(text).unwrap_err().to_string();
            assert!(error.contains(key), "{text:?}: {error}");
        }
    }
}
