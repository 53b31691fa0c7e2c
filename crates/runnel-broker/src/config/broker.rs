//! `BrokerConfig`: loading server.properties plus `--override key=value` pairs, validating every
//! known key as Kafka 4.x does, applying Kafka's precedence rules between synonym keys, and the
//! typed fields the broker reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::catalog::{self, Effect, Untyped, BROKER_KEYS};
use super::listener::{self, Listener, SecurityProtocol};
use super::policy::{CleanupPolicy, CompressionType, TimestampType};
use super::properties::{decode_properties_bytes, parse_properties};
use super::typed::TypedValues;
use super::value::{parse_value, InvalidValue};
use super::{ConfigError, ConfigWarning, ConfigWarningKind};

const MS_PER_MINUTE: i64 = 60_000;
const MS_PER_HOUR: i64 = 3_600_000;

/// The broker's configuration. Field names are Kafka's keys with units last; values are in
/// Kafka's types and ranges. Derived fields (`log_roll_ms`, `log_retention_ms`,
/// `log_flush_interval_ms`, `node_id`, `log_dirs`, the listeners) already have Kafka's
/// precedence between synonym keys applied.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerConfig {
    /// node.id (broker.id is accepted as its synonym). Runnel default 1.
    pub node_id: i32,
    /// The listeners Runnel opens: `listeners` minus any named in controller.listener.names.
    pub listeners: Vec<Listener>,
    /// advertised.listeners (default: `listeners`), controller listeners removed. A `None` host
    /// is a wildcard; [`BrokerConfig::advertised_endpoints`] resolves it to the hostname.
    pub advertised_listeners: Vec<Listener>,
    /// controller.listener.names, upper-cased; Runnel never opens these listeners.
    pub controller_listener_names: Vec<String>,
    /// listener.security.protocol.map, listener names upper-cased.
    pub listener_security_protocol_map: BTreeMap<String, SecurityProtocol>,
    /// log.dirs, else log.dir (Runnel default `./runnel-data`).
    pub log_dirs: Vec<PathBuf>,
    pub num_partitions: i32,
    /// default.replication.factor (Kafka INT; Runnel requires 1..=32767 since it is a replica count).
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub min_insync_replicas: i32,
    pub log_segment_bytes: i32,
    /// log.roll.ms, else log.roll.hours.
    pub log_roll_ms: i64,
    /// log.roll.jitter.ms, else log.roll.jitter.hours (accepted; the log does not jitter).
    pub log_roll_jitter_ms: i64,
    /// log.retention.ms, else .minutes, else .hours; any negative value is -1 (keep forever).
    pub log_retention_ms: i64,
    pub log_retention_bytes: i64,
    pub log_retention_check_interval_ms: i64,
    pub log_cleanup_policy: CleanupPolicy,
    pub log_flush_interval_messages: i64,
    /// log.flush.interval.ms, else log.flush.scheduler.interval.ms (Kafka's fallback).
    pub log_flush_interval_ms: i64,
    pub log_flush_scheduler_interval_ms: i64,
    pub log_index_interval_bytes: i32,
    pub log_index_size_max_bytes: i32,
    pub log_message_timestamp_type: TimestampType,
    pub log_message_timestamp_before_max_ms: i64,
    pub log_message_timestamp_after_max_ms: i64,
    pub message_max_bytes: i32,
    pub compression_type: CompressionType,
    pub socket_request_max_bytes: i32,
    pub max_connections: i32,
    pub max_connections_per_ip: i32,
    pub connections_max_idle_ms: i64,
    pub queued_max_requests: i32,
    pub fetch_max_bytes: i32,
    pub group_initial_rebalance_delay_ms: i32,
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    pub group_max_size: i32,
    pub offsets_topic_num_partitions: i32,
    pub offsets_topic_replication_factor: i16,
    pub offsets_topic_segment_bytes: i32,
    pub offsets_retention_minutes: i32,
    pub offsets_retention_check_interval_ms: i64,
    pub offset_metadata_max_bytes: i32,
    pub producer_id_expiration_ms: i32,
    /// num.io.threads: the runtime's worker threads, which run the handlers and their disk IO.
    pub num_io_threads: i32,
    /// num.network.threads (accepted; reported, not used).
    pub num_network_threads: i32,
    /// authorizer.class.name, super.users, allow.everyone.if.no.acl.found.
    pub authorizer: super::authorizer::AuthorizerConfig,
    /// admin.listener, admin.listener.security.protocol, admin.basic.auth.users (Runnel's own).
    pub admin: super::admin::AdminConfig,
    /// Every key the user set (file, then overrides; last wins), raw values, unknown keys too.
    /// DescribeConfigs reports these as STATIC_BROKER_CONFIG.
    pub explicit: BTreeMap<String, String>,
    /// Every typed key's parsed value (explicit or default), for DescribeConfigs and topic defaults.
    pub(crate) values: TypedValues,
}

/// Where a raw key came from, for warning messages.
#[derive(Debug, Clone)]
enum Origin {
    File { path: String, line: usize },
    Override,
    Map,
}

impl Origin {
    fn describe(&self) -> String {
        match self {
            Origin::File { path, line } => format!("{path}:{line}"),
            Origin::Override => "--override".to_string(),
            Origin::Map => "config".to_string(),
        }
    }
}

/// Splits a CLI `--override key=value` argument at the first `=`. The key is trimmed and must
/// not be empty; the value is kept as given and may be empty.
pub fn parse_override(arg: &str) -> Result<(String, String), ConfigError> {
    let bad = |reason: &str| ConfigError::Override { arg: arg.to_string(), reason: reason.to_string() };
    let (key, value) = arg.split_once('=').ok_or_else(|| bad("expected key=value"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(bad("the key is empty"));
    }
    Ok((key.to_string(), value.to_string()))
}

impl BrokerConfig {
    /// Loads `file` (a Java properties file, if given), then applies `overrides` in order; the
    /// last value of a key wins. Returns the config and one warning per key that is unknown or
    /// has no effect in Runnel. Invalid values are errors naming the key and the value.
    pub fn load(file: Option<&Path>, overrides: &[(String, String)]) -> Result<(BrokerConfig, Vec<ConfigWarning>), ConfigError> {
        let mut raw: BTreeMap<String, (String, Origin)> = BTreeMap::new();
        if let Some(path) = file {
            let bytes = std::fs::read(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
            let shown = path.display().to_string();
            let properties = parse_properties(&decode_properties_bytes(&bytes)).map_err(|error| ConfigError::Syntax {
                path: shown.clone(),
                line: error.line,
                message: error.message,
            })?;
            for property in properties {
                raw.insert(property.key, (property.value, Origin::File { path: shown.clone(), line: property.line }));
            }
        }
        for (key, value) in overrides {
            raw.insert(key.clone(), (value.clone(), Origin::Override));
        }
        build(raw)
    }

    /// Builds a config from key/value pairs already collected (no file, no origins).
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<(BrokerConfig, Vec<ConfigWarning>), ConfigError> {
        build(map.iter().map(|(key, value)| (key.clone(), (value.clone(), Origin::Map))).collect())
    }

    /// The advertised listeners as clients must see them: a wildcard host becomes this machine's
    /// hostname (Kafka resolves the canonical DNS name; Runnel uses the kernel hostname).
    pub fn advertised_endpoints(&self) -> Vec<Listener> {
        let host = listener::local_hostname();
        self.advertised_listeners.iter().map(|listener| listener.with_wildcard_resolved(&host)).collect()
    }

    /// The broker-wide defaults as the log's settings (see `topic::effective_log_config`).
    pub fn log_config(&self) -> runnel_log::LogConfig {
        super::topic::effective_log_config(self, &BTreeMap::new())
    }
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue { key: key.to_string(), value: value.to_string(), reason: reason.into() }
}

impl From<InvalidValue> for ConfigError {
    fn from(error: InvalidValue) -> ConfigError {
        ConfigError::InvalidValue { key: error.name, value: error.value, reason: error.reason }
    }
}

fn build(raw: BTreeMap<String, (String, Origin)>) -> Result<(BrokerConfig, Vec<ConfigWarning>), ConfigError> {
    let mut warnings = Vec::new();
    let mut values = TypedValues::default();
    for spec in BROKER_KEYS {
        let value = match raw.get(spec.name) {
            Some((text, origin)) => {
                if spec.effect == Effect::NoEffect {
                    warnings.push(ConfigWarning::new(
                        spec.name,
                        ConfigWarningKind::NoEffect,
                        format!("{}: {} is accepted but has no effect in Runnel", origin.describe(), spec.name),
                    ));
                }
                Some(parse_value(spec.name, text, spec.ty, spec.validator)?)
            }
            None => match spec.default {
                Some(default) => Some(parse_value(spec.name, default, spec.ty, spec.validator)?),
                None => None,
            },
        };
        values.insert(spec.name, value);
    }
    for (key, (_, origin)) in &raw {
        if catalog::broker_key(key).is_some() || super::ssl::is_honoured_ssl_key(key) || super::sasl::is_honoured_sasl_key(key) || super::authorizer::is_authorizer_key(key) || super::admin::is_admin_key(key) {
            continue;
        }
        let warning = match catalog::classify_untyped(key) {
            Untyped::NoEffect(why) => ConfigWarning::new(
                key,
                ConfigWarningKind::NoEffect,
                format!("{}: {key} is accepted but has no effect in Runnel ({why})", origin.describe()),
            ),
            Untyped::Unknown => {
                let hint = catalog::suggest(key).map(|name| format!("; did you mean {name}?")).unwrap_or_default();
                ConfigWarning::new(key, ConfigWarningKind::Unknown, format!("{}: unknown configuration {key}{hint}", origin.describe()))
            }
        };
        warnings.push(warning);
    }
    let explicit: BTreeMap<String, String> = raw.iter().map(|(key, (value, _))| (key.clone(), value.clone())).collect();
    let config = derive(values, explicit, &mut warnings)?;
    Ok((config, warnings))
}

fn derive(values: TypedValues, explicit: BTreeMap<String, String>, warnings: &mut Vec<ConfigWarning>) -> Result<BrokerConfig, ConfigError> {
    let is_set = |key: &str| explicit.contains_key(key);
    let raw_of = |key: &str| explicit.get(key).map(String::as_str).unwrap_or_default().to_string();

    let node_id = derive_node_id(&values, &explicit)?;
    let (listeners, advertised_listeners, controller_listener_names, listener_security_protocol_map) =
        derive_listeners(&values, &explicit, warnings)?;
    let log_dirs = derive_log_dirs(&values, &explicit)?;
    let authorizer = super::authorizer::derive(values.string("authorizer.class.name")?, &explicit)?;
    let admin = super::admin::derive(&explicit)?;

    let log_roll_ms = match values.opt_long("log.roll.ms")? {
        Some(ms) => ms,
        None => MS_PER_HOUR * i64::from(values.int("log.roll.hours")?),
    };
    if log_roll_ms < 1 {
        return Err(invalid("log.roll.ms", &raw_of("log.roll.ms"), "log.roll.ms must be greater than or equal to 1"));
    }
    let log_roll_jitter_ms = match values.opt_long("log.roll.jitter.ms")? {
        Some(ms) => ms,
        None => MS_PER_HOUR * i64::from(values.int("log.roll.jitter.hours")?),
    };
    if log_roll_jitter_ms < 0 {
        return Err(invalid(
            "log.roll.jitter.ms",
            &raw_of("log.roll.jitter.ms"),
            "log.roll.jitter.ms must be greater than or equal to 0",
        ));
    }

    let (retention_key, retention_ms) = match (values.opt_long("log.retention.ms")?, values.opt_int("log.retention.minutes")?) {
        (Some(ms), _) => ("log.retention.ms", ms),
        (None, Some(minutes)) => ("log.retention.minutes", MS_PER_MINUTE * i64::from(minutes)),
        (None, None) => ("log.retention.hours", MS_PER_HOUR * i64::from(values.int("log.retention.hours")?)),
    };
    let log_retention_ms = if retention_ms < 0 { -1 } else { retention_ms };
    if log_retention_ms == 0 {
        return Err(invalid(
            retention_key,
            &raw_of(retention_key),
            "log.retention.ms must be unlimited (-1) or, greater than or equal to 1",
        ));
    }

    let log_flush_scheduler_interval_ms = values.long("log.flush.scheduler.interval.ms")?;
    let log_flush_interval_ms = values.opt_long("log.flush.interval.ms")?.unwrap_or(log_flush_scheduler_interval_ms);

    let default_replication_factor = values.int("default.replication.factor")?;
    let default_replication_factor = i16::try_from(default_replication_factor)
        .ok()
        .filter(|factor| *factor >= 1)
        .ok_or_else(|| {
            invalid(
                "default.replication.factor",
                &raw_of("default.replication.factor"),
                "Value must be between 1 and 32767 (a replica count)",
            )
        })?;

    let compression_name = values.string("compression.type")?;
    let compression_type = CompressionType::from_name(compression_name)
        .ok_or_else(|| invalid("compression.type", compression_name, "unknown compression type"))?;
    if compression_type != CompressionType::Producer && is_set("compression.type") {
        warnings.push(ConfigWarning::new(
            "compression.type",
            ConfigWarningKind::NoEffect,
            format!(
                "compression.type={} is accepted but has no effect in Runnel: batches are stored as the producer sent them",
                compression_type.name()
            ),
        ));
    }
    let timestamp_name = values.string("log.message.timestamp.type")?;
    let log_message_timestamp_type = TimestampType::from_name(timestamp_name)
        .ok_or_else(|| invalid("log.message.timestamp.type", timestamp_name, "unknown timestamp type"))?;

    Ok(BrokerConfig {
        node_id,
        listeners,
        advertised_listeners,
        controller_listener_names,
        listener_security_protocol_map,
        log_dirs,
        num_partitions: values.int("num.partitions")?,
        default_replication_factor,
        auto_create_topics_enable: values.boolean("auto.create.topics.enable")?,
        delete_topic_enable: values.boolean("delete.topic.enable")?,
        min_insync_replicas: values.int("min.insync.replicas")?,
        log_segment_bytes: values.int("log.segment.bytes")?,
        log_roll_ms,
        log_roll_jitter_ms,
        log_retention_ms,
        log_retention_bytes: values.long("log.retention.bytes")?,
        log_retention_check_interval_ms: values.long("log.retention.check.interval.ms")?,
        log_cleanup_policy: CleanupPolicy::from_list(values.list("log.cleanup.policy")?),
        log_flush_interval_messages: values.long("log.flush.interval.messages")?,
        log_flush_interval_ms,
        log_flush_scheduler_interval_ms,
        log_index_interval_bytes: values.int("log.index.interval.bytes")?,
        log_index_size_max_bytes: values.int("log.index.size.max.bytes")?,
        log_message_timestamp_type,
        log_message_timestamp_before_max_ms: values.long("log.message.timestamp.before.max.ms")?,
        log_message_timestamp_after_max_ms: values.long("log.message.timestamp.after.max.ms")?,
        message_max_bytes: values.int("message.max.bytes")?,
        compression_type,
        socket_request_max_bytes: values.int("socket.request.max.bytes")?,
        max_connections: values.int("max.connections")?,
        max_connections_per_ip: values.int("max.connections.per.ip")?,
        connections_max_idle_ms: values.long("connections.max.idle.ms")?,
        queued_max_requests: values.int("queued.max.requests")?,
        fetch_max_bytes: values.int("fetch.max.bytes")?,
        group_initial_rebalance_delay_ms: values.int("group.initial.rebalance.delay.ms")?,
        group_min_session_timeout_ms: values.int("group.min.session.timeout.ms")?,
        group_max_session_timeout_ms: values.int("group.max.session.timeout.ms")?,
        group_max_size: values.int("group.max.size")?,
        offsets_topic_num_partitions: values.int("offsets.topic.num.partitions")?,
        offsets_topic_replication_factor: values.short("offsets.topic.replication.factor")?,
        offsets_topic_segment_bytes: values.int("offsets.topic.segment.bytes")?,
        offsets_retention_minutes: values.int("offsets.retention.minutes")?,
        offsets_retention_check_interval_ms: values.long("offsets.retention.check.interval.ms")?,
        offset_metadata_max_bytes: values.int("offset.metadata.max.bytes")?,
        producer_id_expiration_ms: values.int("producer.id.expiration.ms")?,
        num_io_threads: values.int("num.io.threads")?,
        num_network_threads: values.int("num.network.threads")?,
        authorizer,
        admin,
        explicit,
        values,
    })
}

/// node.id, with broker.id as its synonym (Kafka copies whichever is set into the other and
/// requires them equal when both are).
fn derive_node_id(values: &TypedValues, explicit: &BTreeMap<String, String>) -> Result<i32, ConfigError> {
    let node_id = values.int("node.id")?;
    let broker_id = values.opt_int("broker.id")?;
    let (key, id) = match (explicit.contains_key("node.id"), broker_id) {
        (true, Some(broker_id)) if node_id != broker_id => {
            return Err(invalid(
                "node.id",
                &node_id.to_string(),
                format!("You must set `node.id` to the same value as `broker.id` ({broker_id})."),
            ));
        }
        (false, Some(broker_id)) => ("broker.id", broker_id),
        _ => ("node.id", node_id),
    };
    if id < 0 {
        return Err(invalid(key, &id.to_string(), "Value must be at least 0: a Kafka 4 node needs a non-negative node.id"));
    }
    Ok(id)
}

type ListenerSet = (Vec<Listener>, Vec<Listener>, Vec<String>, BTreeMap<String, SecurityProtocol>);

fn derive_listeners(
    values: &TypedValues,
    explicit: &BTreeMap<String, String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ListenerSet, ConfigError> {
    let listeners_raw = values.string("listeners")?;
    let controller_names: Vec<String> = values
        .opt_string("controller.listener.names")?
        .map(listener::csv_list)
        .unwrap_or_default()
        .into_iter()
        .map(|name| name.to_ascii_uppercase())
        .collect();
    let mut protocols =
        listener::parse_security_protocol_map("listener.security.protocol.map", values.string("listener.security.protocol.map")?)?;
    if !explicit.contains_key("listener.security.protocol.map") {
        // Kafka (KRaft) maps controller listeners to PLAINTEXT when the map is left at its
        // default and nothing in use is SSL or SASL.
        let is_secure = |name: &str| matches!(name, "SSL" | "SASL_SSL" | "SASL_PLAINTEXT");
        let listener_names = listener::csv_list(listeners_raw)
            .into_iter()
            .filter_map(|entry| entry.split_once(':').map(|(name, _)| name.to_ascii_uppercase()));
        let secure_in_use = controller_names.iter().any(|name| is_secure(name)) || listener_names.clone().any(|name| is_secure(&name));
        if !secure_in_use {
            for name in controller_names.iter().filter(|name| name.as_str() != "PLAINTEXT") {
                protocols.insert(name.clone(), SecurityProtocol::Plaintext);
            }
        }
    }

    let all = listener::parse_listener_list("listeners", listeners_raw, &protocols, true)?;
    let (controller, broker): (Vec<Listener>, Vec<Listener>) =
        all.into_iter().partition(|listener| controller_names.contains(&listener.name));
    for listener in &controller {
        warnings.push(ConfigWarning::new(
            "listeners",
            ConfigWarningKind::NoEffect,
            format!(
                "listener {} is a KRaft controller listener (controller.listener.names); Runnel has no controller quorum and does not open it",
                listener.connection_string()
            ),
        ));
    }
    if broker.is_empty() {
        return Err(invalid(
            "listeners",
            listeners_raw,
            "There must be at least one broker listener. Perhaps all listeners appear in controller.listener.names?",
        ));
    }

    let (advertised_key, advertised_raw, advertised) = match values.opt_string("advertised.listeners")? {
        Some(raw) => {
            let parsed = listener::parse_listener_list("advertised.listeners", raw, &protocols, false)?;
            let parsed: Vec<Listener> = parsed.into_iter().filter(|listener| !controller_names.contains(&listener.name)).collect();
            ("advertised.listeners", raw, parsed)
        }
        None => ("listeners", listeners_raw, broker.clone()),
    };
    if advertised.is_empty() {
        return Err(invalid(advertised_key, advertised_raw, "There must be at least one broker advertised listener."));
    }
    let broker_names: BTreeSet<&str> = broker.iter().map(|listener| listener.name.as_str()).collect();
    if let Some(stray) = advertised.iter().find(|listener| !broker_names.contains(listener.name.as_str())) {
        return Err(invalid(
            advertised_key,
            advertised_raw,
            format!(
                "advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. \
                 Found {}. The valid options based on the current configuration are {}",
                stray.name,
                broker_names.iter().copied().collect::<Vec<_>>().join(",")
            ),
        ));
    }
    if advertised.iter().any(|listener| matches!(listener.host.as_deref(), Some("0.0.0.0" | "::"))) {
        let note = if advertised_key == "listeners" { " (advertised.listeners is not set, so listeners are advertised)" } else { "" };
        return Err(invalid(
            advertised_key,
            advertised_raw,
            format!("advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address.{note}"),
        ));
    }
    Ok((broker, advertised, controller_names, protocols))
}

/// log.dirs wins over log.dir; both are comma-separated and must name at least one directory,
/// none twice.
fn derive_log_dirs(values: &TypedValues, explicit: &BTreeMap<String, String>) -> Result<Vec<PathBuf>, ConfigError> {
    let (key, raw) = match values.opt_string("log.dirs")? {
        Some(raw) => ("log.dirs", raw),
        None => ("log.dir", values.string("log.dir")?),
    };
    let dirs = listener::csv_list(raw);
    if dirs.is_empty() {
        return Err(invalid(key, raw, "At least one log directory must be defined via log.dirs or log.dir."));
    }
    let mut seen = BTreeSet::new();
    if let Some(duplicate) = dirs.iter().find(|dir| !seen.insert(dir.as_str())) {
        return Err(invalid(key, explicit.get(key).map(String::as_str).unwrap_or(raw), format!("Duplicate log directory {duplicate}")));
    }
    Ok(dirs.into_iter().map(PathBuf::from).collect())
}

