//! The admin HTTP listener's keys (Runnel's own; Kafka has no such listener): where it binds
//! (`admin.listener`, empty = off), whether it speaks TLS (`admin.listener.security.protocol`,
//! reusing the broker's `ssl.*` keys, with `listener.name.admin.ssl.*` overrides), and the
//! optional HTTP Basic users (`admin.basic.auth.users`).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::ssl::{resolve_listener_ssl, ListenerSslConfig};
use super::ConfigError;

pub const ADMIN_LISTENER: &str = "admin.listener";
pub const ADMIN_LISTENER_SECURITY_PROTOCOL: &str = "admin.listener.security.protocol";
pub const ADMIN_BASIC_AUTH_USERS: &str = "admin.basic.auth.users";

/// Loopback only by default: the admin API can move consumer offsets.
pub const DEFAULT_ADMIN_LISTENER: &str = "127.0.0.1:9644";
/// The name the admin listener's `ssl.*` overrides go under (`listener.name.admin.ssl.*`).
pub const ADMIN_LISTENER_NAME: &str = "ADMIN";

const KEYS: &[&str] = &[ADMIN_LISTENER, ADMIN_LISTENER_SECURITY_PROTOCOL, ADMIN_BASIC_AUTH_USERS];

/// Whether `key` is one of the admin listener's keys.
pub fn is_admin_key(key: &str) -> bool {
    KEYS.contains(&key)
}

/// Whether the admin listener speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminProtocol {
    #[default]
    Plaintext,
    Ssl,
}

/// One `admin.basic.auth.users` entry. The password never appears in Debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicUser {
    pub name: String,
    pub password: String,
}

impl std::fmt::Debug for BasicUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicUser").field("name", &self.name).field("password", &"[hidden]").finish()
    }
}

/// The admin listener's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `None` when `admin.listener` is empty: no admin listener.
    pub bind: Option<SocketAddr>,
    pub protocol: AdminProtocol,
    /// Empty: no authentication.
    pub users: Vec<BasicUser>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        derive(&BTreeMap::new()).unwrap_or(AdminConfig { bind: None, protocol: AdminProtocol::Plaintext, users: Vec::new() })
    }
}

impl AdminConfig {
    /// The TLS settings for an SSL admin listener: the broker's `ssl.*` keys, with
    /// `listener.name.admin.ssl.*` winning key by key.
    pub fn ssl(&self, explicit: &BTreeMap<String, String>) -> Result<ListenerSslConfig, ConfigError> {
        resolve_listener_ssl(explicit, ADMIN_LISTENER_NAME)
    }
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue { key: key.to_string(), value: value.to_string(), reason: reason.into() }
}

/// Reads the admin keys from the explicitly set keys.
pub(crate) fn derive(explicit: &BTreeMap<String, String>) -> Result<AdminConfig, ConfigError> {
    let raw = explicit.get(ADMIN_LISTENER).map(String::as_str).unwrap_or(DEFAULT_ADMIN_LISTENER);
    let bind = match raw.trim() {
        "" => None,
        address => Some(parse_address(address).ok_or_else(|| {
            invalid(ADMIN_LISTENER, raw, "expected HOST:PORT with an IP address host (e.g. 127.0.0.1:9644, [::1]:9644), or empty to disable")
        })?),
    };
    let protocol = match explicit.get(ADMIN_LISTENER_SECURITY_PROTOCOL).map(|raw| raw.trim()) {
        None | Some("PLAINTEXT") => AdminProtocol::Plaintext,
        Some("SSL") => AdminProtocol::Ssl,
        Some(other) => return Err(invalid(ADMIN_LISTENER_SECURITY_PROTOCOL, other, "String must be one of: PLAINTEXT, SSL")),
    };
    let users = match explicit.get(ADMIN_BASIC_AUTH_USERS) {
        Some(raw) => parse_users(raw)?,
        None => Vec::new(),
    };
    Ok(AdminConfig { bind, protocol, users })
}

/// `HOST:PORT` with an IPv4 or bracketed IPv6 host; `localhost` is accepted as 127.0.0.1.
fn parse_address(address: &str) -> Option<SocketAddr> {
    if let Some(port) = address.strip_prefix("localhost:") {
        return format!("127.0.0.1:{port}").parse().ok();
    }
    address.parse().ok()
}

/// `user1:password1,user2:password2`; a password may contain `:` (split at the first one).
fn parse_users(raw: &str) -> Result<Vec<BasicUser>, ConfigError> {
    let mut users: Vec<BasicUser> = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
        let Some((name, password)) = entry.split_once(':') else {
            return Err(invalid(ADMIN_BASIC_AUTH_USERS, "[hidden]", format!("expected user:password entries, got one without ':' (user '{entry}')")));
        };
        let name = name.trim();
        if name.is_empty() || password.is_empty() {
            return Err(invalid(ADMIN_BASIC_AUTH_USERS, "[hidden]", "every entry needs a non-empty user and password"));
        }
        if users.iter().any(|user| user.name == name) {
            return Err(invalid(ADMIN_BASIC_AUTH_USERS, "[hidden]", format!("user '{name}' is listed twice")));
        }
        users.push(BasicUser { name: name.to_string(), password: password.to_string() });
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explicit(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn default_is_loopback_9644_plaintext_without_users() {
        let config = derive(&BTreeMap::new()).expect("defaults are valid");
        assert_eq!(config.bind, Some("127.0.0.1:9644".parse().expect("address")));
        assert_eq!(config.protocol, AdminProtocol::Plaintext);
        assert!(config.users.is_empty());
        assert_eq!(AdminConfig::default(), config);
    }

    #[test]
    fn empty_listener_disables_it() {
        assert_eq!(derive(&explicit(&[(ADMIN_LISTENER, "")])).expect("valid").bind, None);
        assert_eq!(derive(&explicit(&[(ADMIN_LISTENER, "  ")])).expect("valid").bind, None);
    }

    #[test]
    fn listener_accepts_ipv4_ipv6_and_localhost_and_names_the_key_otherwise() {
        for (raw, expected) in [("0.0.0.0:0", "0.0.0.0:0"), ("[::1]:80", "[::1]:80"), ("localhost:9", "127.0.0.1:9")] {
            let config = derive(&explicit(&[(ADMIN_LISTENER, raw)])).expect("valid");
            assert_eq!(config.bind, Some(expected.parse().expect("address")), "{raw}");
        }
        for raw in ["9644", "example.com:9644", "127.0.0.1:99999", "127.0.0.1:"] {
            let error = derive(&explicit(&[(ADMIN_LISTENER, raw)])).expect_err(raw).to_string();
            assert!(error.contains(ADMIN_LISTENER) && error.contains(raw), "{error}");
        }
    }

    #[test]
    fn security_protocol_is_plaintext_or_ssl() {
        let ssl = derive(&explicit(&[(ADMIN_LISTENER_SECURITY_PROTOCOL, "SSL")])).expect("valid");
        assert_eq!(ssl.protocol, AdminProtocol::Ssl);
        let error = derive(&explicit(&[(ADMIN_LISTENER_SECURITY_PROTOCOL, "SASL_SSL")])).expect_err("refused").to_string();
        assert!(error.contains(ADMIN_LISTENER_SECURITY_PROTOCOL) && error.contains("PLAINTEXT, SSL"), "{error}");
    }

    #[test]
    fn basic_users_parse_and_never_show_passwords() {
        let config = derive(&explicit(&[(ADMIN_BASIC_AUTH_USERS, "alice:s3cret, bob:a:b:c,")])).expect("valid");
        let names: Vec<_> = config.users.iter().map(|u| (u.name.as_str(), u.password.as_str())).collect();
        assert_eq!(names, [("alice", "s3cret"), ("bob", "a:b:c")]);
        assert!(!format!("{config:?}").contains("s3cret"));
        for raw in ["alice", "alice:", ":pw", "alice:x,alice:y"] {
            let error = derive(&explicit(&[(ADMIN_BASIC_AUTH_USERS, raw)])).expect_err(raw).to_string();
            assert!(error.contains(ADMIN_BASIC_AUTH_USERS), "{error}");
            assert!(!error.contains(":x") && !error.contains(":pw"), "password leaked: {error}");
        }
    }
}
