//! The `ssl.*` keys of one SSL listener: Kafka's names, defaults and combination rules
//! (`SslConfigs`, `BrokerSecurityConfigs`, `DefaultSslEngineFactory.createKeystore` /
//! `createTruststore`), resolved with Kafka's per-listener override: for listener `NAME`,
//! `listener.name.<name lower-cased>.<key>` wins over `<key>`, key by key
//! (`KafkaConfig.valuesWithPrefixOverride`).
//!
//! This module only reads and checks keys; loading keystores and building the TLS server lives
//! in `crate::tls`. Keys Runnel acts on are listed in [`HONOURED_SSL_KEYS`]; the other `ssl.*`
//! keys stay "accepted without effect".

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::{BrokerConfig, ConfigError, Listener};

pub const SSL_KEYSTORE_TYPE: &str = "ssl.keystore.type";
pub const SSL_KEYSTORE_LOCATION: &str = "ssl.keystore.location";
pub const SSL_KEYSTORE_PASSWORD: &str = "ssl.keystore.password";
pub const SSL_KEY_PASSWORD: &str = "ssl.key.password";
pub const SSL_KEYSTORE_KEY: &str = "ssl.keystore.key";
pub const SSL_KEYSTORE_CERTIFICATE_CHAIN: &str = "ssl.keystore.certificate.chain";
pub const SSL_TRUSTSTORE_TYPE: &str = "ssl.truststore.type";
pub const SSL_TRUSTSTORE_LOCATION: &str = "ssl.truststore.location";
pub const SSL_TRUSTSTORE_PASSWORD: &str = "ssl.truststore.password";
pub const SSL_TRUSTSTORE_CERTIFICATES: &str = "ssl.truststore.certificates";
pub const SSL_CLIENT_AUTH: &str = "ssl.client.auth";
pub const SSL_ENABLED_PROTOCOLS: &str = "ssl.enabled.protocols";
pub const SSL_PRINCIPAL_MAPPING_RULES: &str = "ssl.principal.mapping.rules";

/// Every `ssl.*` key Runnel acts on (alone or under `listener.name.<name>.`).
pub const HONOURED_SSL_KEYS: &[&str] = &[
    SSL_KEYSTORE_TYPE,
    SSL_KEYSTORE_LOCATION,
    SSL_KEYSTORE_PASSWORD,
    SSL_KEY_PASSWORD,
    SSL_KEYSTORE_KEY,
    SSL_KEYSTORE_CERTIFICATE_CHAIN,
    SSL_TRUSTSTORE_TYPE,
    SSL_TRUSTSTORE_LOCATION,
    SSL_TRUSTSTORE_PASSWORD,
    SSL_TRUSTSTORE_CERTIFICATES,
    SSL_CLIENT_AUTH,
    SSL_ENABLED_PROTOCOLS,
    SSL_PRINCIPAL_MAPPING_RULES,
];

/// Kafka's default store type for both keystores and truststores.
pub const DEFAULT_STORE_TYPE: &str = "JKS";
/// Kafka's ssl.enabled.protocols default.
pub const DEFAULT_ENABLED_PROTOCOLS: &str = "TLSv1.2,TLSv1.3";
/// Kafka's ssl.principal.mapping.rules default.
pub const DEFAULT_PRINCIPAL_MAPPING_RULES: &str = "DEFAULT";

/// Whether `key` is an `ssl.*` key Runnel honours, directly or as a listener override.
pub fn is_honoured_ssl_key(key: &str) -> bool {
    let base = match key.strip_prefix("listener.name.") {
        Some(rest) => match rest.split_once('.') {
            Some((name, base)) if !name.is_empty() => base,
            _ => return false,
        },
        None => key,
    };
    HONOURED_SSL_KEYS.contains(&base)
}

/// A secret value (Kafka's `Password` type): never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(value: impl Into<String>) -> Password {
        Password(value.into())
    }

    pub fn value(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[hidden]")
    }
}

/// ssl.client.auth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslClientAuth {
    /// No client certificate is asked for; every client is ANONYMOUS.
    None,
    /// Asked for; a client without one connects as ANONYMOUS; a bad one is refused.
    Requested,
    /// A client without a trusted certificate is refused.
    Required,
}

impl SslClientAuth {
    pub fn name(self) -> &'static str {
        match self {
            SslClientAuth::None => "none",
            SslClientAuth::Requested => "requested",
            SslClientAuth::Required => "required",
        }
    }
}

/// A TLS version named in ssl.enabled.protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsProtocol {
    Tls12,
    Tls13,
}

/// A keystore or truststore type as configured. `Jks` is also the default; a file given under
/// it may still turn out to be PKCS12 (Java reads both under "JKS").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreType {
    Jks,
    Pkcs12,
    Pem,
    Other(String),
}

impl StoreType {
    fn parse(raw: &str) -> StoreType {
        // Java's KeyStore.getInstance is case-insensitive; Kafka compares "PEM" exactly.
        match raw.trim() {
            "PEM" => StoreType::Pem,
            other if other.eq_ignore_ascii_case("JKS") => StoreType::Jks,
            other if other.eq_ignore_ascii_case("PKCS12") => StoreType::Pkcs12,
            other => StoreType::Other(other.to_string()),
        }
    }
}

/// Where the listener's private key and certificate chain come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeystoreSource {
    /// A file: its type decides how it is read (PEM: key and chain in one file).
    File { store_type: StoreType, path: PathBuf, password: Option<Password> },
    /// ssl.keystore.key and ssl.keystore.certificate.chain given inline (PEM only).
    PemInline { key: Password, chain: Password },
}

/// Where the CA certificates that verify client certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TruststoreSource {
    File { store_type: StoreType, path: PathBuf, password: Option<Password> },
    /// ssl.truststore.certificates inline (PEM only).
    PemInline(Password),
}

/// The resolved SSL settings of one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSslConfig {
    /// The listener name, upper-cased.
    pub listener: String,
    pub keystore: Option<KeystoreSource>,
    /// ssl.key.password: decrypts the PEM private key (or a PKCS12 key entry).
    pub key_password: Option<Password>,
    pub truststore: Option<TruststoreSource>,
    pub client_auth: SslClientAuth,
    /// Never empty; sorted, without duplicates.
    pub enabled_protocols: Vec<TlsProtocol>,
    /// Protocols named in ssl.enabled.protocols that rustls does not implement (TLSv1, TLSv1.1,
    /// SSLv3); Java disables these by default too, so they are dropped, and the server warns.
    pub dropped_protocols: Vec<String>,
    /// Raw ssl.principal.mapping.rules; `crate::tls` parses it.
    pub principal_mapping_rules: String,
}

/// Protocol names Kafka accepts and Java knows but rustls does not implement.
const LEGACY_PROTOCOLS: &[&str] = &["TLSv1", "TLSv1.1", "SSLv3", "SSLv2Hello"];

impl BrokerConfig {
    /// The SSL settings of `listener`, with `listener.name.<name>.` overrides applied.
    pub fn listener_ssl(&self, listener: &Listener) -> Result<ListenerSslConfig, ConfigError> {
        resolve_listener_ssl(&self.explicit, &listener.name)
    }
}

/// One key's value for a listener: the listener-prefixed key first, then the plain key. A
/// location set to the empty string counts as unset (as an empty path is no file); a password
/// is kept exactly, empty too, as Kafka's `Password` type does.
struct Lookup<'a> {
    explicit: &'a BTreeMap<String, String>,
    prefix: String,
}

impl Lookup<'_> {
    /// The key that supplied the value (for messages) and the value.
    fn get(&self, key: &str) -> Option<(String, &str)> {
        let prefixed = format!("{}{key}", self.prefix);
        if let Some(value) = self.explicit.get(&prefixed) {
            return Some((prefixed, value.as_str()));
        }
        self.explicit.get(key).map(|value| (key.to_string(), value.as_str()))
    }

    fn non_empty(&self, key: &str) -> Option<(String, &str)> {
        self.get(key).filter(|(_, value)| !value.trim().is_empty())
    }

    fn password(&self, key: &str) -> Option<Password> {
        // Kafka's Password type keeps the value exactly; only an unset key is null.
        self.get(key).map(|(_, value)| Password::new(value))
    }

    /// An error about `key` as this listener sees it, secrets shown as Kafka shows them.
    fn invalid(&self, key: &str, reason: &str) -> ConfigError {
        let (name, value) = self.get(key).unwrap_or((key.to_string(), ""));
        let shown = if SECRET_KEYS.contains(&key) { "[hidden]" } else { value };
        invalid_combination(&name, shown, reason)
    }
}

/// Keys of Kafka's PASSWORD type: their values never appear in messages.
const SECRET_KEYS: &[&str] = &[
    SSL_KEYSTORE_PASSWORD,
    SSL_KEY_PASSWORD,
    SSL_KEYSTORE_KEY,
    SSL_KEYSTORE_CERTIFICATE_CHAIN,
    SSL_TRUSTSTORE_PASSWORD,
    SSL_TRUSTSTORE_CERTIFICATES,
];

fn invalid_combination(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::InvalidValue { key: key.to_string(), value: value.to_string(), reason: reason.to_string() }
}

/// Resolves and checks the SSL keys of the listener called `listener_name`.
pub fn resolve_listener_ssl(
    explicit: &BTreeMap<String, String>,
    listener_name: &str,
) -> Result<ListenerSslConfig, ConfigError> {
    let lookup = Lookup { explicit, prefix: format!("listener.name.{}.", listener_name.to_ascii_lowercase()) };
    let client_auth = match lookup.get(SSL_CLIENT_AUTH) {
        None => SslClientAuth::None,
        Some((key, raw)) => match raw.trim() {
            "none" => SslClientAuth::None,
            "requested" => SslClientAuth::Requested,
            "required" => SslClientAuth::Required,
            _ => return Err(invalid_combination(&key, raw, "String must be one of: required, requested, none")),
        },
    };
    let (enabled_protocols, dropped_protocols) = enabled_protocols(&lookup)?;
    let principal_mapping_rules = lookup
        .get(SSL_PRINCIPAL_MAPPING_RULES)
        .map(|(_, raw)| raw.to_string())
        .unwrap_or_else(|| DEFAULT_PRINCIPAL_MAPPING_RULES.to_string());
    Ok(ListenerSslConfig {
        listener: listener_name.to_string(),
        keystore: keystore(&lookup)?,
        key_password: lookup.password(SSL_KEY_PASSWORD),
        truststore: truststore(&lookup)?,
        client_auth,
        enabled_protocols,
        dropped_protocols,
        principal_mapping_rules,
    })
}

fn enabled_protocols(lookup: &Lookup<'_>) -> Result<(Vec<TlsProtocol>, Vec<String>), ConfigError> {
    let (key, raw) = lookup.get(SSL_ENABLED_PROTOCOLS).unwrap_or((SSL_ENABLED_PROTOCOLS.to_string(), DEFAULT_ENABLED_PROTOCOLS));
    let mut enabled = Vec::new();
    let mut dropped = Vec::new();
    for name in super::listener::csv_list(raw) {
        match name.as_str() {
            "TLSv1.2" => enabled.push(TlsProtocol::Tls12),
            "TLSv1.3" => enabled.push(TlsProtocol::Tls13),
            legacy if LEGACY_PROTOCOLS.contains(&legacy) => dropped.push(name),
            _ => {
                return Err(invalid_combination(
                    &key,
                    raw,
                    &format!("unknown TLS protocol {name}; Runnel supports TLSv1.2 and TLSv1.3"),
                ))
            }
        }
    }
    enabled.sort();
    enabled.dedup();
    if enabled.is_empty() {
        return Err(invalid_combination(&key, raw, "no usable protocol: Runnel supports TLSv1.2 and TLSv1.3"));
    }
    Ok((enabled, dropped))
}

fn store_type(lookup: &Lookup<'_>, key: &str) -> StoreType {
    StoreType::parse(lookup.get(key).map(|(_, raw)| raw).unwrap_or(DEFAULT_STORE_TYPE))
}

/// Kafka's `createKeystore` rules, with its messages.
fn keystore(lookup: &Lookup<'_>) -> Result<Option<KeystoreSource>, ConfigError> {
    let store_type = store_type(lookup, SSL_KEYSTORE_TYPE);
    let location = lookup.non_empty(SSL_KEYSTORE_LOCATION);
    let password = lookup.password(SSL_KEYSTORE_PASSWORD);
    let key = lookup.password(SSL_KEYSTORE_KEY);
    let chain = lookup.password(SSL_KEYSTORE_CERTIFICATE_CHAIN);
    let fail = |key: &str, reason: &str| Err(lookup.invalid(key, reason));
    match (key, chain) {
        (Some(key), chain) => {
            if store_type != StoreType::Pem {
                return fail(SSL_KEYSTORE_TYPE, "SSL private key can be specified only for PEM (ssl.keystore.key needs ssl.keystore.type=PEM)");
            }
            let Some(chain) = chain else {
                return fail(SSL_KEYSTORE_KEY, "SSL private key is specified, but certificate chain is not specified.");
            };
            if location.is_some() {
                return fail(SSL_KEYSTORE_LOCATION, "Both SSL key store location and separate private key are specified.");
            }
            if password.is_some() {
                return fail(
                    SSL_KEYSTORE_PASSWORD,
                    "SSL key store password cannot be specified with PEM format, only key password may be specified.",
                );
            }
            Ok(Some(KeystoreSource::PemInline { key, chain }))
        }
        (None, Some(_)) => fail(SSL_KEYSTORE_CERTIFICATE_CHAIN, "SSL certificate chain is specified, but private key is not specified"),
        (None, None) => match (location, password) {
            (Some((_, path)), password) if store_type == StoreType::Pem => {
                if password.is_some() {
                    return fail(
                        SSL_KEYSTORE_PASSWORD,
                        "SSL key store password cannot be specified with PEM format, only key password may be specified",
                    );
                }
                Ok(Some(KeystoreSource::File { store_type, path: PathBuf::from(path.trim()), password: None }))
            }
            (None, Some(_)) => fail(SSL_KEYSTORE_PASSWORD, "SSL key store is not specified, but key store password is specified."),
            (Some(_), None) => fail(SSL_KEYSTORE_LOCATION, "SSL key store is specified, but key store password is not specified."),
            (Some((_, path)), Some(password)) => {
                Ok(Some(KeystoreSource::File { store_type, path: PathBuf::from(path.trim()), password: Some(password) }))
            }
            (None, None) => Ok(None),
        },
    }
}

/// Kafka's `createTruststore` rules, with its messages.
fn truststore(lookup: &Lookup<'_>) -> Result<Option<TruststoreSource>, ConfigError> {
    let store_type = store_type(lookup, SSL_TRUSTSTORE_TYPE);
    let location = lookup.non_empty(SSL_TRUSTSTORE_LOCATION);
    let password = lookup.password(SSL_TRUSTSTORE_PASSWORD);
    let fail = |key: &str, reason: &str| Err(lookup.invalid(key, reason));
    if let Some(certificates) = lookup.password(SSL_TRUSTSTORE_CERTIFICATES) {
        if store_type != StoreType::Pem {
            return fail(SSL_TRUSTSTORE_TYPE, "SSL trust store certs can be specified only for PEM (ssl.truststore.certificates needs ssl.truststore.type=PEM)");
        }
        if location.is_some() {
            return fail(SSL_TRUSTSTORE_LOCATION, "Both SSL trust store location and separate trust certificates are specified.");
        }
        if password.is_some() {
            return fail(SSL_TRUSTSTORE_PASSWORD, "SSL trust store password cannot be specified for PEM format.");
        }
        return Ok(Some(TruststoreSource::PemInline(certificates)));
    }
    match (location, password) {
        (Some(_), Some(_)) if store_type == StoreType::Pem => {
            fail(SSL_TRUSTSTORE_PASSWORD, "SSL trust store password cannot be specified for PEM format.")
        }
        (None, Some(_)) => fail(SSL_TRUSTSTORE_PASSWORD, "SSL trust store is not specified, but trust store password is specified."),
        // A truststore without a password is allowed: Java then skips the integrity check.
        (Some((_, path)), password) => Ok(Some(TruststoreSource::File { store_type, path: PathBuf::from(path.trim()), password })),
        (None, None) => Ok(None),
    }
}
