//! Producer settings under Kafka's producer property names, with Kafka's defaults and the
//! combinations Kafka refuses.
//!
//! Owns: `ProducerConfig`, `Acks`, `Compression`, and the resolution rules Kafka's
//! `ProducerConfig`/`KafkaProducer` apply at construction: idempotence is on unless it
//! conflicts with settings the user chose (then it is off, or an error when the user also
//! asked for idempotence explicitly), and `delivery.timeout.ms` must cover
//! `linger.ms + request.timeout.ms`.

use crate::config::{ClientConfig, Properties};
use crate::error::{Error, Result};

/// Kafka's `linger.ms` default (5 since Kafka 4.0, KIP-1030).
pub const LINGER_MS_DEFAULT: u64 = 5;
/// Kafka's `batch.size` default.
pub const BATCH_SIZE_DEFAULT: usize = 16_384;
/// Kafka's `max.in.flight.requests.per.connection` default.
pub const MAX_IN_FLIGHT_DEFAULT: usize = 5;
/// The most in-flight requests per connection an idempotent producer may use: brokers keep
/// the metadata of the last five batches per producer and partition for deduplication.
pub const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: usize = 5;
/// Kafka's `retries` default (`Integer.MAX_VALUE`: retry until `delivery.timeout.ms`).
pub const RETRIES_DEFAULT: u32 = i32::MAX as u32;
/// Kafka's `delivery.timeout.ms` default.
pub const DELIVERY_TIMEOUT_MS_DEFAULT: u64 = 120_000;
/// Kafka's `max.request.size` default.
pub const MAX_REQUEST_SIZE_DEFAULT: usize = 1_048_576;
/// Kafka's `buffer.memory` default.
pub const BUFFER_MEMORY_DEFAULT: usize = 32 * 1024 * 1024;
/// Kafka's `max.block.ms` default.
pub const MAX_BLOCK_MS_DEFAULT: u64 = 60_000;
/// Kafka's `retry.backoff.max.ms` default (KIP-580).
pub const RETRY_BACKOFF_MAX_MS_DEFAULT: u64 = 1_000;

/// How many acknowledgements a Produce request waits for: Kafka's `acks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// `acks=0`: the broker sends no response; records report offset -1.
    None,
    /// `acks=1`: the leader has written the records.
    Leader,
    /// `acks=all` (or `-1`): every in-sync replica has them. Kafka's default.
    All,
}

impl Acks {
    /// The value of the Produce request's `acks` field.
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }

    /// Parses Kafka's spellings: `all`, `-1`, `0`, `1`.
    pub fn parse(value: &str) -> Result<Acks> {
        match value.trim().to_ascii_lowercase().as_str() {
            "all" | "-1" => Ok(Acks::All),
            "0" => Ok(Acks::None),
            "1" => Ok(Acks::Leader),
            other => Err(Error::Config(format!("Invalid configuration value for 'acks': {other}"))),
        }
    }
}

/// The record-batch codec: Kafka's `compression.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    /// Every codec, for tests and tools that try them all.
    pub const ALL: [Compression; 5] =
        [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

    /// Parses Kafka's names (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
    pub fn parse(value: &str) -> Result<Compression> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "snappy" => Ok(Compression::Snappy),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd),
            other => Err(Error::Config(format!(
                "Invalid value {other} for configuration compression.type: String must be one of: none, gzip, snappy, lz4, zstd"
            ))),
        }
    }

    /// Kafka's name for the codec.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The codec id in the batch attributes' low three bits.
    pub fn attribute_bits(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }
}

/// Everything a [`Producer`](super::Producer) needs. Build it with [`ProducerConfig::new`]
/// and set fields, or read a Kafka `producer.properties` map with
/// [`ProducerConfig::from_properties`].
///
/// ```
/// use runnel_client::producer::{Acks, Compression, ProducerConfig};
///
/// let mut config = ProducerConfig::new("127.0.0.1:9092");
/// config.compression = Compression::Lz4;
/// config.linger_ms = 20;
/// assert!(config.idempotence_enabled());
///
/// config.acks = Acks::Leader; // idempotence was not asked for explicitly: it turns off
/// assert!(!config.idempotence_enabled());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Connection settings shared with the other clients (`request.timeout.ms` lives here and
    /// is also the Produce request's broker-side timeout, as in Kafka).
    pub client: ClientConfig,
    /// `acks`, default `all`.
    pub acks: Acks,
    /// `enable.idempotence`. `None` is Kafka's default: on, unless `acks` is not `all` or
    /// `retries` is 0, in which case it is quietly off. `Some(true)` with those settings is
    /// an error, as in Kafka.
    pub enable_idempotence: Option<bool>,
    /// `linger.ms`: how long a batch waits for more records before it is sendable.
    pub linger_ms: u64,
    /// `batch.size`: the bytes at which a batch is full (and the sticky partitioner moves on).
    pub batch_size: usize,
    /// `compression.type`.
    pub compression: Compression,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight_requests_per_connection: usize,
    /// `retries`: attempts after the first before a retriable failure is reported.
    pub retries: u32,
    /// `delivery.timeout.ms`: the bound on reporting the outcome of a send.
    pub delivery_timeout_ms: u64,
    /// `max.request.size`: the largest record (and Produce request) the producer sends.
    pub max_request_size: usize,
    /// `buffer.memory`: bytes of records waiting to be sent before `send` waits.
    pub buffer_memory: usize,
    /// `max.block.ms`: how long `send` waits for topic metadata or buffer space.
    pub max_block_ms: u64,
    /// `retry.backoff.max.ms`: the cap of the exponential retry backoff, which starts at
    /// `retry.backoff.ms` (in [`ClientConfig`]).
    pub retry_backoff_max_ms: u64,
    /// `partitioner.ignore.keys`: place keyed records like unkeyed ones (sticky).
    pub partitioner_ignore_keys: bool,
}

impl ProducerConfig {
    /// Kafka's defaults for a cluster at `bootstrap_servers` (comma separated `host:port`).
    pub fn new(bootstrap_servers: impl AsRef<str>) -> ProducerConfig {
        ProducerConfig::with_client(ClientConfig::new(bootstrap_servers))
    }

    /// Kafka's producer defaults over an existing client configuration.
    pub fn with_client(client: ClientConfig) -> ProducerConfig {
        ProducerConfig {
            client,
            acks: Acks::All,
            enable_idempotence: None,
            linger_ms: LINGER_MS_DEFAULT,
            batch_size: BATCH_SIZE_DEFAULT,
            compression: Compression::None,
            max_in_flight_requests_per_connection: MAX_IN_FLIGHT_DEFAULT,
            retries: RETRIES_DEFAULT,
            delivery_timeout_ms: DELIVERY_TIMEOUT_MS_DEFAULT,
            max_request_size: MAX_REQUEST_SIZE_DEFAULT,
            buffer_memory: BUFFER_MEMORY_DEFAULT,
            max_block_ms: MAX_BLOCK_MS_DEFAULT,
            retry_backoff_max_ms: RETRY_BACKOFF_MAX_MS_DEFAULT,
            partitioner_ignore_keys: false,
        }
    }

    /// Reads Kafka's producer property names (plus the client ones) and validates the
    /// result as Kafka does. Keys that belong to other roles are ignored; producer keys this
    /// client does not implement (`transactional.id`, `partitioner.class`, ...) are errors
    /// rather than silently different behaviour.
    ///
    /// ```
    /// use runnel_client::config::parse_properties;
    /// use runnel_client::producer::{Acks, ProducerConfig};
    ///
    /// let props = parse_properties("bootstrap.servers=127.0.0.1:9092\nacks=1\n").unwrap();
    /// let config = ProducerConfig::from_properties(&props).unwrap();
    /// assert_eq!(config.acks, Acks::Leader);
    /// assert!(!config.idempotence_enabled());
    ///
    /// let props = parse_properties("bootstrap.servers=h:1\nacks=1\nenable.idempotence=true\n").unwrap();
    /// assert!(ProducerConfig::from_properties(&props).is_err());
    /// ```
    pub fn from_properties(props: &Properties) -> Result<ProducerConfig> {
        let mut config = ProducerConfig::with_client(ClientConfig::from_properties(props)?);
        for key in UNSUPPORTED_KEYS {
            if let Some(value) = props.get(*key) {
                return Err(Error::Config(format!("{key}={value}: not supported by this producer")));
            }
        }
        for (key, default) in COMPRESSION_LEVEL_KEYS {
            if let Some(value) = props.get(*key) {
                if value.trim() != *default {
                    return Err(Error::Config(format!(
                        "{key}={value}: only the codec's default level ({default}) is supported"
                    )));
                }
            }
        }
        if let Some(acks) = props.get("acks") {
            config.acks = Acks::parse(acks)?;
        }
        if let Some(value) = props.get("enable.idempotence") {
            config.enable_idempotence = Some(parse_bool("enable.idempotence", value)?);
        }
        if let Some(value) = props.get("compression.type") {
            config.compression = Compression::parse(value)?;
        }
        if let Some(value) = props.get("partitioner.ignore.keys") {
            config.partitioner_ignore_keys = parse_bool("partitioner.ignore.keys", value)?;
        }
        config.linger_ms = parse_number(props, "linger.ms", config.linger_ms, 0)?;
        config.batch_size = parse_number(props, "batch.size", config.batch_size, 0)?;
        config.max_in_flight_requests_per_connection = parse_number(
            props,
            "max.in.flight.requests.per.connection",
            config.max_in_flight_requests_per_connection,
            1,
        )?;
        let retries: i64 = parse_number(props, "retries", i64::from(config.retries), 0)?;
        config.retries = u32::try_from(retries.min(i64::from(i32::MAX))).unwrap_or(RETRIES_DEFAULT);
        config.max_request_size = parse_number(props, "max.request.size", config.max_request_size, 0)?;
        config.buffer_memory = parse_number(props, "buffer.memory", config.buffer_memory, 0)?;
        config.max_block_ms = parse_number(props, "max.block.ms", config.max_block_ms, 0)?;
        config.retry_backoff_max_ms = parse_number(props, "retry.backoff.max.ms", config.retry_backoff_max_ms, 0)?;
        match props.get("delivery.timeout.ms") {
            Some(_) => config.delivery_timeout_ms = parse_number(props, "delivery.timeout.ms", 0, 0)?,
            // Kafka raises an unset delivery timeout to cover linger plus the request timeout.
            None => config.delivery_timeout_ms = config.delivery_timeout_ms.max(config.linger_and_request_timeout_ms()),
        }
        config.validate()?;
        Ok(config)
    }

    /// Whether the producer will be idempotent once these settings are resolved.
    pub fn idempotence_enabled(&self) -> bool {
        match self.enable_idempotence {
            Some(explicit) => explicit,
            None => self.acks == Acks::All && self.retries > 0,
        }
    }

    /// Kafka's checks at producer construction; [`Producer::new`](super::Producer::new) runs
    /// them too.
    pub fn validate(&self) -> Result<()> {
        if self.client.bootstrap_servers.is_empty() {
            return Err(Error::Config("bootstrap.servers is empty".into()));
        }
        if self.max_in_flight_requests_per_connection == 0 {
            return Err(Error::Config("max.in.flight.requests.per.connection must be at least 1".into()));
        }
        if self.enable_idempotence == Some(true) {
            if self.retries == 0 {
                return Err(Error::Config("Must set retries to non-zero when using the idempotent producer.".into()));
            }
            if self.acks != Acks::All {
                return Err(Error::Config(
                    "Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence."
                        .into(),
                ));
            }
        }
        // Kafka 4 refuses this whether idempotence was asked for or is on by default.
        if self.idempotence_enabled() && self.max_in_flight_requests_per_connection > MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
            return Err(Error::Config(format!(
                "To use the idempotent producer, max.in.flight.requests.per.connection must be set to at most \
                 {MAX_IN_FLIGHT_FOR_IDEMPOTENCE}. Current value is {}.",
                self.max_in_flight_requests_per_connection
            )));
        }
        if self.delivery_timeout_ms < self.linger_and_request_timeout_ms() {
            return Err(Error::Config(
                "delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms".into(),
            ));
        }
        if self.client.request_timeout_ms > i32::MAX as u64 {
            return Err(Error::Config("request.timeout.ms must fit in a 32-bit integer".into()));
        }
        Ok(())
    }

    fn linger_and_request_timeout_ms(&self) -> u64 {
        self.linger_ms.saturating_add(self.client.request_timeout_ms).min(i32::MAX as u64)
    }
}

/// Producer keys whose behaviour this client does not implement.
const UNSUPPORTED_KEYS: &[&str] = &["transactional.id", "partitioner.class", "interceptor.classes"];

/// Codec level keys and Kafka's default level for each.
const COMPRESSION_LEVEL_KEYS: &[(&str, &str)] =
    &[("compression.gzip.level", "-1"), ("compression.lz4.level", "9"), ("compression.zstd.level", "3")];

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::Config(format!("{key}: expected true or false, got {value:?}"))),
    }
}

fn parse_number<T>(props: &Properties, key: &str, default: T, at_least: i64) -> Result<T>
where
    T: TryFrom<i64>,
{
    let Some(raw) = props.get(key) else { return Ok(default) };
    let bad = || Error::Config(format!("{key}: expected an integer of at least {at_least}, got {raw:?}"));
    let value: i64 = raw.trim().parse().map_err(|_| bad())?;
    if value < at_least {
        return Err(bad());
    }
    T::try_from(value).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_properties;

    fn parse(text: &str) -> Result<ProducerConfig> {
        ProducerConfig::from_properties(&parse_properties(&format!("bootstrap.servers=127.0.0.1:9092\n{text}"))?)
    }

    #[test]
    fn defaults_are_kafkas() {
        let config = parse("").unwrap();
        assert_eq!(config.acks, Acks::All);
        assert!(config.idempotence_enabled());
        assert_eq!(config.linger_ms, 5);
        assert_eq!(config.batch_size, 16_384);
        assert_eq!(config.compression, Compression::None);
        assert_eq!(config.max_in_flight_requests_per_connection, 5);
        assert_eq!(config.retries, i32::MAX as u32);
        assert_eq!(config.delivery_timeout_ms, 120_000);
        assert_eq!(config.max_request_size, 1_048_576);
        assert_eq!(config.client.request_timeout_ms, 30_000);
        assert!(!config.partitioner_ignore_keys);
        assert_eq!(config, ProducerConfig::new("127.0.0.1:9092"));
    }

    #[test]
    fn producer_keys_are_read() {
        let config = parse(
            "acks=1\nlinger.ms=50\nbatch.size=1000\ncompression.type=zstd\nretries=3\n\
             max.in.flight.requests.per.connection=2\ndelivery.timeout.ms=60000\nmax.request.size=2000\n\
             partitioner.ignore.keys=true\nbuffer.memory=4096\nmax.block.ms=10\n",
        )
        .unwrap();
        assert_eq!(config.acks, Acks::Leader);
        assert_eq!((config.linger_ms, config.batch_size, config.retries), (50, 1000, 3));
        assert_eq!(config.compression, Compression::Zstd);
        assert_eq!(config.max_in_flight_requests_per_connection, 2);
        assert_eq!((config.delivery_timeout_ms, config.max_request_size), (60_000, 2000));
        assert_eq!((config.buffer_memory, config.max_block_ms), (4096, 10));
        assert!(config.partitioner_ignore_keys);
    }

    #[test]
    fn acks_spellings() {
        for (text, acks) in [("all", Acks::All), ("-1", Acks::All), ("ALL", Acks::All), ("0", Acks::None), ("1", Acks::Leader)] {
            assert_eq!(parse(&format!("acks={text}\nenable.idempotence=false\n")).unwrap().acks, acks, "{text}");
        }
        assert!(parse("acks=2\n").is_err());
        assert!(parse("acks=some\n").is_err());
    }

    #[test]
    fn conflicting_settings_turn_default_idempotence_off() {
        assert!(!parse("acks=1\n").unwrap().idempotence_enabled());
        assert!(!parse("acks=0\n").unwrap().idempotence_enabled());
        assert!(!parse("retries=0\n").unwrap().idempotence_enabled());
    }

    #[test]
    fn explicit_idempotence_rejects_conflicts_like_kafka() {
        let error = parse("enable.idempotence=true\nacks=1\n").unwrap_err().to_string();
        assert!(error.contains("Must set acks to all"), "{error}");
        let error = parse("enable.idempotence=true\nretries=0\n").unwrap_err().to_string();
        assert!(error.contains("retries"), "{error}");
    }

    #[test]
    fn idempotence_caps_in_flight_at_five_even_by_default() {
        let error = parse("max.in.flight.requests.per.connection=6\n").unwrap_err().to_string();
        assert!(error.contains("at most 5"), "{error}");
        let config = parse("max.in.flight.requests.per.connection=6\nenable.idempotence=false\n").unwrap();
        assert_eq!(config.max_in_flight_requests_per_connection, 6);
        assert!(parse("max.in.flight.requests.per.connection=0\n").is_err());
    }

    #[test]
    fn delivery_timeout_must_cover_linger_and_request_timeout() {
        assert!(parse("delivery.timeout.ms=1000\n").is_err());
        // Unset, it is raised to the sum, as Kafka does.
        let config = parse("request.timeout.ms=200000\nlinger.ms=10\n").unwrap();
        assert_eq!(config.delivery_timeout_ms, 200_010);
    }

    #[test]
    fn codec_names_and_unsupported_keys() {
        for codec in Compression::ALL {
            assert_eq!(parse(&format!("compression.type={}\n", codec.name())).unwrap().compression, codec);
        }
        assert!(parse("compression.type=brotli\n").is_err());
        assert!(parse("transactional.id=tx\n").is_err());
        assert!(parse("compression.zstd.level=3\n").is_ok());
        assert!(parse("compression.zstd.level=10\n").is_err());
        assert!(parse("linger.ms=-1\n").is_err());
        assert!(parse("batch.size=lots\n").is_err());
    }
}
