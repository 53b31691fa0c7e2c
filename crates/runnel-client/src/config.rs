//! Settings every client role shares, read from Kafka's client property names.
//!
//! Owns: `ClientConfig` (bootstrap servers, timeouts, security settings) and the parser for
//! Java `.properties` files, so that a user's existing `client.properties` (the file Kafka's
//! tools take as `--command-config`) works unchanged. Producer and consumer settings live with
//! their roles and read the same `Properties` map.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// An ordered `key=value` map as read from a Kafka `.properties` file.
pub type Properties = BTreeMap<String, String>;

/// Kafka's default `request.timeout.ms` for clients.
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// Kafka's `socket.connection.setup.timeout.ms` default.
pub const CONNECT_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Kafka's `metadata.max.age.ms` default.
pub const METADATA_MAX_AGE_MS_DEFAULT: u64 = 300_000;
/// Kafka's `retry.backoff.ms` default.
pub const RETRY_BACKOFF_MS_DEFAULT: u64 = 100;
/// The largest response frame a connection accepts (Kafka's clients have no limit; we bound
/// memory against a broken or hostile peer).
pub const RESPONSE_BYTES_MAX_DEFAULT: usize = 256 * 1024 * 1024;

const CLIENT_ID_DEFAULT: &str = "runnel-client";

/// How a connection is secured: Kafka's `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    fn parse(value: &str) -> Result<SecurityProtocol> {
        match value.to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Ok(SecurityProtocol::Plaintext),
            "SSL" => Ok(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Ok(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Ok(SecurityProtocol::SaslSsl),
            other => Err(Error::Config(format!("security.protocol: unknown protocol {other:?}"))),
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(self, SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl)
    }
}

/// TLS settings, under both the Java client's names (`ssl.truststore.location`,
/// `ssl.keystore.location` with type PEM) and librdkafka's (`ssl.ca.location`,
/// `ssl.certificate.location`, `ssl.key.location`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SslConfig {
    /// PEM file of CA certificates that sign the broker's certificate.
    pub ca_location: Option<String>,
    /// PEM file with the client certificate chain (may also hold the key).
    pub certificate_location: Option<String>,
    /// PEM file with the client's private key.
    pub key_location: Option<String>,
    /// Password of an encrypted private key.
    pub key_password: Option<String>,
    /// Whether the broker's host name must match its certificate (`https`, Kafka's default)
    /// or not (empty).
    pub verify_hostname: bool,
}

/// SASL settings: `sasl.mechanism` and the credentials, from `sasl.username`/`sasl.password`
/// (librdkafka) or a `sasl.jaas.config` line (Java).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaslConfig {
    pub mechanism: String,
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// `host:port` pairs to bootstrap from.
    pub bootstrap_servers: Vec<String>,
    pub client_id: String,
    pub request_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub metadata_max_age_ms: u64,
    pub retry_backoff_ms: u64,
    pub response_bytes_max: usize,
    pub security_protocol: SecurityProtocol,
    pub ssl: SslConfig,
    pub sasl: Option<SaslConfig>,
}

impl ClientConfig {
    /// Defaults for everything but the bootstrap servers (comma separated `host:port`).
    pub fn new(bootstrap_servers: impl AsRef<str>) -> ClientConfig {
        ClientConfig {
            bootstrap_servers: split_list(bootstrap_servers.as_ref()),
            client_id: CLIENT_ID_DEFAULT.to_string(),
            request_timeout_ms: REQUEST_TIMEOUT_MS_DEFAULT,
            connect_timeout_ms: CONNECT_TIMEOUT_MS_DEFAULT,
            metadata_max_age_ms: METADATA_MAX_AGE_MS_DEFAULT,
            retry_backoff_ms: RETRY_BACKOFF_MS_DEFAULT,
            response_bytes_max: RESPONSE_BYTES_MAX_DEFAULT,
            security_protocol: SecurityProtocol::Plaintext,
            ssl: SslConfig { verify_hostname: true, ..SslConfig::default() },
            sasl: None,
        }
    }

    /// Reads Kafka's client property names. Keys this struct does not own are ignored here:
    /// producer and consumer settings read them from the same map.
    pub fn from_properties(props: &Properties) -> Result<ClientConfig> {
        let bootstrap = props
            .get("bootstrap.servers")
            .ok_or_else(|| Error::Config("bootstrap.servers is required".into()))?;
        let mut config = ClientConfig::new(bootstrap);
        if config.bootstrap_servers.is_empty() {
            return Err(Error::Config("bootstrap.servers is empty".into()));
        }
        if let Some(id) = props.get("client.id") {
            config.client_id = id.clone();
        }
        config.request_timeout_ms = parse_or(props, "request.timeout.ms", config.request_timeout_ms)?;
        config.connect_timeout_ms = parse_or(props, "socket.connection.setup.timeout.ms", config.connect_timeout_ms)?;
        config.metadata_max_age_ms = parse_or(props, "metadata.max.age.ms", config.metadata_max_age_ms)?;
        config.retry_backoff_ms = parse_or(props, "retry.backoff.ms", config.retry_backoff_ms)?;
        if let Some(protocol) = props.get("security.protocol") {
            config.security_protocol = SecurityProtocol::parse(protocol)?;
        }
        config.ssl = ssl_from_properties(props)?;
        if config.security_protocol.uses_sasl() {
            config.sasl = Some(sasl_from_properties(props)?);
        }
        Ok(config)
    }
}

fn ssl_from_properties(props: &Properties) -> Result<SslConfig> {
    for (type_key, location_key) in
        [("ssl.truststore.type", "ssl.truststore.location"), ("ssl.keystore.type", "ssl.keystore.location")]
    {
        let kind = props.get(type_key).map(|t| t.to_ascii_uppercase());
        if props.contains_key(location_key) && kind.as_deref() != Some("PEM") {
            return Err(Error::Config(format!(
                "{location_key}: only {type_key}=PEM is supported; convert a JKS/PKCS12 store with \
                 `keytool -importkeystore -deststoretype PKCS12` and `openssl pkcs12 -nodes`"
            )));
        }
    }
    let get = |keys: &[&str]| keys.iter().find_map(|k| props.get(*k).cloned());
    Ok(SslConfig {
        ca_location: get(&["ssl.ca.location", "ssl.truststore.location"]),
        certificate_location: get(&["ssl.certificate.location", "ssl.keystore.location"]),
        key_location: get(&["ssl.key.location", "ssl.keystore.location"]),
        key_password: get(&["ssl.key.password"]),
        verify_hostname: props.get("ssl.endpoint.identification.algorithm").is_none_or(|v| !v.trim().is_empty()),
    })
}

fn sasl_from_properties(props: &Properties) -> Result<SaslConfig> {
    let mechanism = props.get("sasl.mechanism").or_else(|| props.get("sasl.mechanisms")).cloned();
    let mechanism = mechanism.unwrap_or_else(|| "GSSAPI".to_string()).to_ascii_uppercase();
    let (username, password) = match (props.get("sasl.username"), props.get("sasl.password")) {
        (Some(u), Some(p)) => (u.clone(), p.clone()),
        _ => match props.get("sasl.jaas.config") {
            Some(jaas) => (jaas_option(jaas, "username")?, jaas_option(jaas, "password")?),
            None => return Err(Error::Config("SASL needs sasl.username/sasl.password or sasl.jaas.config".into())),
        },
    };
    Ok(SaslConfig { mechanism, username, password })
}

/// One `name="value"` option of a JAAS line such as
/// `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`.
fn jaas_option(jaas: &str, name: &str) -> Result<String> {
    let missing = || Error::Config(format!("sasl.jaas.config has no {name}=\"...\""));
    let start = jaas
        .match_indices(name)
        .find(|(i, _)| jaas[..*i].ends_with(char::is_whitespace) && jaas[i + name.len()..].starts_with("=\""))
        .map(|(i, _)| i + name.len() + 2)
        .ok_or_else(missing)?;
    let end = jaas[start..].find('"').ok_or_else(missing)?;
    Ok(jaas[start..start + end].to_string())
}

fn parse_or(props: &Properties, key: &str, default: u64) -> Result<u64> {
    match props.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| Error::Config(format!("{key}: expected a non-negative integer, got {v:?}"))),
    }
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

/// Parses the subset of Java's `.properties` format that Kafka config files use: `#`/`!`
/// comments, `key=value` or `key: value` or `key value`, surrounding whitespace trimmed,
/// and backslash line continuations.
pub fn parse_properties(text: &str) -> Result<Properties> {
    let mut props = Properties::new();
    let mut logical = String::new();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        if let Some(continued) = line.strip_suffix('\\') {
            logical.push_str(continued);
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let split = entry.find(['=', ':']).or_else(|| entry.find(char::is_whitespace));
        let (key, value) = match split {
            Some(at) => (entry[..at].trim(), entry[at + 1..].trim()),
            None => (entry.trim(), ""),
        };
        if key.is_empty() {
            return Err(Error::Config(format!("line {}: no key in {raw:?}", number + 1)));
        }
        props.insert(key.to_string(), value.to_string());
    }
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_files_parse_like_java() {
        let props = parse_properties(
            "# comment\n! also\nbootstrap.servers = a:1,b:2\nclient.id: cli\nsecurity.protocol SSL\n\
             sasl.jaas.config=x \\\n  required;\nempty=\n",
        )
        .unwrap();
        assert_eq!(props["bootstrap.servers"], "a:1,b:2");
        assert_eq!(props["client.id"], "cli");
        assert_eq!(props["security.protocol"], "SSL");
        assert_eq!(props["sasl.jaas.config"], "x required;");
        assert_eq!(props["empty"], "");
    }

    #[test]
    fn client_config_reads_kafka_names() {
        let props = parse_properties(
            "bootstrap.servers=h1:9092, h2:9093\nclient.id=me\nrequest.timeout.ms=5000\n\
             security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-256\nssl.truststore.type=PEM\n\
             ssl.truststore.location=/ca.pem\nssl.endpoint.identification.algorithm=\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"s3cret\";\n",
        )
        .unwrap();
        let config = ClientConfig::from_properties(&props).unwrap();
        assert_eq!(config.bootstrap_servers, vec!["h1:9092", "h2:9093"]);
        assert_eq!(config.client_id, "me");
        assert_eq!(config.request_timeout_ms, 5000);
        assert_eq!(config.security_protocol, SecurityProtocol::SaslSsl);
        assert_eq!(config.ssl.ca_location.as_deref(), Some("/ca.pem"));
        assert!(!config.ssl.verify_hostname);
        let sasl = config.sasl.unwrap();
        assert_eq!((sasl.mechanism.as_str(), sasl.username.as_str(), sasl.password.as_str()), ("SCRAM-SHA-256", "alice", "s3cret"));
    }

    #[test]
    fn jks_stores_are_refused_with_a_conversion_hint() {
        let props = parse_properties("bootstrap.servers=h:1\nssl.truststore.location=/t.jks\n").unwrap();
        let error = ClientConfig::from_properties(&props).unwrap_err().to_string();
        assert!(error.contains("PEM") && error.contains("keytool"), "{error}");
    }

    #[test]
    fn bad_numbers_name_their_key() {
        let props = parse_properties("bootstrap.servers=h:1\nrequest.timeout.ms=soon\n").unwrap();
        let error = ClientConfig::from_properties(&props).unwrap_err().to_string();
        assert!(error.contains("request.timeout.ms"), "{error}");
    }
}
