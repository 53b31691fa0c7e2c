//! The SASL keys of one SASL_PLAINTEXT or SASL_SSL listener, read as Kafka reads them
//! (`BrokerSecurityConfigs`, `JaasContext.loadServerContext`, `ChannelBuilders`):
//!
//! - `sasl.enabled.mechanisms` (default `GSSAPI`), overridable per listener as
//!   `listener.name.<listener>.sasl.enabled.mechanisms`;
//! - `listener.name.<listener>.<mechanism>.sasl.jaas.config`, one JAAS login module per
//!   mechanism. PLAIN's users are its `user_<name>="<password>"` options
//!   (`PlainLoginModule`); SCRAM's module carries no users (they live in the credential store).
//!   A bare `sasl.jaas.config` is ignored by a Kafka broker with a warning ("should be
//!   prefixed with SASL mechanism name"), and so it is here; Kafka has no other fallback but a
//!   JAAS file, which Runnel does not read;
//! - `sasl.server.max.receive.size` (default 524288): the largest frame read before a client
//!   is authenticated.
//!
//! This module only reads and checks keys; the exchanges live in `crate::sasl`.

use std::collections::BTreeMap;
use std::fmt;

use super::ssl::Password;
use super::{BrokerConfig, ConfigError, Listener};

pub const SASL_ENABLED_MECHANISMS: &str = "sasl.enabled.mechanisms";
/// Kafka's default, which Runnel cannot serve: a SASL listener must name its mechanisms.
pub const SASL_ENABLED_MECHANISMS_DEFAULT: &str = "GSSAPI";
pub const SASL_JAAS_CONFIG: &str = "sasl.jaas.config";
pub const SASL_SERVER_MAX_RECEIVE_SIZE: &str = "sasl.server.max.receive.size";
/// Kafka's `DEFAULT_SASL_SERVER_MAX_RECEIVE_SIZE`: bounds every frame before authentication,
/// SASL tokens included.
pub const SASL_SERVER_MAX_RECEIVE_SIZE_DEFAULT: i32 = 524_288;
pub const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
pub const SCRAM_LOGIN_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";
/// PLAIN's JAAS option prefix for a user's password (`PlainServerCallbackHandler`).
pub const PLAIN_USER_OPTION_PREFIX: &str = "user_";

/// A SASL mechanism Runnel's broker implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    pub const ALL: [SaslMechanism; 3] = [SaslMechanism::Plain, SaslMechanism::ScramSha256, SaslMechanism::ScramSha512];

    /// The name clients send in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(name: &str) -> Option<SaslMechanism> {
        SaslMechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    fn login_module(self) -> &'static str {
        match self {
            SaslMechanism::Plain => PLAIN_LOGIN_MODULE,
            SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => SCRAM_LOGIN_MODULE,
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The resolved SASL settings of one listener.
#[derive(Clone, PartialEq, Eq)]
pub struct ListenerSaslConfig {
    /// The listener name, upper-cased.
    pub listener: String,
    /// In the order configured, without duplicates; never empty.
    pub mechanisms: Vec<SaslMechanism>,
    /// PLAIN's users and passwords (empty unless PLAIN is enabled).
    pub plain_users: BTreeMap<String, Password>,
    /// sasl.server.max.receive.size.
    pub max_receive_bytes: usize,
    /// Keys set that Kafka ignores here, each as one sentence for the startup log.
    pub warnings: Vec<String>,
}

impl fmt::Debug for ListenerSaslConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerSaslConfig")
            .field("listener", &self.listener)
            .field("mechanisms", &self.mechanisms)
            .field("plain_users", &self.plain_users.keys().collect::<Vec<_>>())
            .field("max_receive_bytes", &self.max_receive_bytes)
            .finish()
    }
}

impl BrokerConfig {
    /// The SASL settings of `listener`, with `listener.name.<name>.` overrides applied.
    pub fn listener_sasl(&self, listener: &Listener) -> Result<ListenerSaslConfig, ConfigError> {
        resolve_listener_sasl(&self.explicit, &listener.name)
    }
}

/// Whether `key` is a SASL key Runnel honours (so it is not reported as without effect).
pub fn is_honoured_sasl_key(key: &str) -> bool {
    if key == SASL_ENABLED_MECHANISMS || key == SASL_SERVER_MAX_RECEIVE_SIZE {
        return true;
    }
    let Some(rest) = key.strip_prefix("listener.name.") else { return false };
    let Some((name, base)) = rest.split_once('.') else { return false };
    if name.is_empty() {
        return false;
    }
    if base == SASL_ENABLED_MECHANISMS || base == SASL_SERVER_MAX_RECEIVE_SIZE {
        return true;
    }
    base.split_once('.').is_some_and(|(mechanism, option)| {
        option == SASL_JAAS_CONFIG && SaslMechanism::ALL.iter().any(|m| m.name().eq_ignore_ascii_case(mechanism))
    })
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue { key: key.to_string(), value: value.to_string(), reason: reason.into() }
}

/// Resolves and checks the SASL keys of the listener called `listener_name`.
pub fn resolve_listener_sasl(
    explicit: &BTreeMap<String, String>,
    listener_name: &str,
) -> Result<ListenerSaslConfig, ConfigError> {
    let prefix = format!("listener.name.{}.", listener_name.to_ascii_lowercase());
    let lookup = |key: &str| -> Option<(String, &str)> {
        let prefixed = format!("{prefix}{key}");
        match explicit.get(&prefixed) {
            Some(value) => Some((prefixed, value.as_str())),
            None => explicit.get(key).map(|value| (key.to_string(), value.as_str())),
        }
    };
    let (mechanisms_key, raw) =
        lookup(SASL_ENABLED_MECHANISMS).unwrap_or((SASL_ENABLED_MECHANISMS.to_string(), SASL_ENABLED_MECHANISMS_DEFAULT));
    let mut mechanisms = Vec::new();
    for name in super::listener::csv_list(raw) {
        let Some(mechanism) = SaslMechanism::from_name(&name) else {
            let why = match name.as_str() {
                "GSSAPI" => "GSSAPI (Kerberos) is not supported".to_string(),
                "OAUTHBEARER" => "OAUTHBEARER is not supported".to_string(),
                other => format!("unknown SASL mechanism {other}"),
            };
            return Err(invalid(
                &mechanisms_key,
                raw,
                format!("{why}; listener {listener_name} can enable PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512"),
            ));
        };
        if !mechanisms.contains(&mechanism) {
            mechanisms.push(mechanism);
        }
    }
    if mechanisms.is_empty() {
        return Err(invalid(&mechanisms_key, raw, "No SASL mechanisms are enabled"));
    }
    let mut warnings = Vec::new();
    if explicit.contains_key(SASL_JAAS_CONFIG) {
        warnings.push(format!(
            "Server config {SASL_JAAS_CONFIG} should be prefixed with SASL mechanism name, ignoring config \
             (set {prefix}<mechanism>.{SASL_JAAS_CONFIG})"
        ));
    }
    let mut plain_users = BTreeMap::new();
    for &mechanism in &mechanisms {
        let key = format!("{prefix}{}.{SASL_JAAS_CONFIG}", mechanism.name().to_ascii_lowercase());
        let Some(raw) = explicit.get(&key) else {
            if mechanism == SaslMechanism::Plain {
                return Err(invalid(
                    &key,
                    "",
                    format!(
                        "listener {listener_name} enables PLAIN, whose users come from this key \
                         ({PLAIN_LOGIN_MODULE} required user_alice=\"alice-secret\";)"
                    ),
                ));
            }
            continue;
        };
        let module = parse_jaas_config(raw).map_err(|reason| invalid(&key, "[hidden]", reason))?;
        if module.class != mechanism.login_module() {
            return Err(invalid(
                &key,
                "[hidden]",
                format!("{} needs the login module {}, not {}", mechanism, mechanism.login_module(), module.class),
            ));
        }
        if mechanism == SaslMechanism::Plain {
            for (option, value) in module.options {
                if let Some(user) = option.strip_prefix(PLAIN_USER_OPTION_PREFIX) {
                    plain_users.insert(user.to_string(), Password::new(value));
                }
            }
        }
    }
    let max_receive_bytes = match lookup(SASL_SERVER_MAX_RECEIVE_SIZE) {
        None => SASL_SERVER_MAX_RECEIVE_SIZE_DEFAULT as usize,
        Some((key, raw)) => match raw.trim().parse::<i32>() {
            Ok(size) if size > 0 => size as usize,
            _ => return Err(invalid(&key, raw, "Value must be a positive 32-bit integer")),
        },
    };
    Ok(ListenerSaslConfig { listener: listener_name.to_string(), mechanisms, plain_users, max_receive_bytes, warnings })
}

/// One JAAS login module entry: `Class controlFlag key=value ... ;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasModule {
    pub class: String,
    pub control_flag: String,
    /// Options in the order given; a later duplicate wins when collected into a map.
    pub options: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum JaasToken {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

/// Splits a JAAS config the way Java's `StreamTokenizer` does for Kafka's `JaasConfig`:
/// words, double-quoted strings with backslash escapes, `=` and `;`, and `//` or `/* */`
/// comments.
fn jaas_tokens(text: &str) -> Result<Vec<JaasToken>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => {
                chars.next();
                tokens.push(JaasToken::Equals);
            }
            ';' => {
                chars.next();
                tokens.push(JaasToken::Semicolon);
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated quoted value".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some('r') => value.push('\r'),
                            Some(other) => value.push(other),
                            None => return Err("unterminated quoted value".into()),
                        },
                        Some(other) => value.push(other),
                    }
                }
                tokens.push(JaasToken::Quoted(value));
            }
            '/' if text_starts(&chars, "//") => {
                while chars.next().is_some_and(|c| c != '\n') {}
            }
            '/' if text_starts(&chars, "/*") => {
                chars.next();
                chars.next();
                let mut previous = ' ';
                loop {
                    match chars.next() {
                        None => return Err("unterminated comment".into()),
                        Some('/') if previous == '*' => break,
                        Some(other) => previous = other,
                    }
                }
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '=' | ';' | '"') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(JaasToken::Word(word));
            }
        }
    }
    Ok(tokens)
}

fn text_starts(chars: &std::iter::Peekable<std::str::Chars<'_>>, prefix: &str) -> bool {
    chars.clone().take(prefix.len()).eq(prefix.chars())
}

/// Parses a `sasl.jaas.config` value, which Kafka requires to hold exactly one login module.
/// Errors never quote option values: they may be passwords.
pub fn parse_jaas_config(text: &str) -> Result<JaasModule, String> {
    let tokens = jaas_tokens(text)?;
    let mut modules = Vec::new();
    let mut rest = tokens.as_slice();
    while !rest.is_empty() {
        let (module, after) = parse_module(rest)?;
        modules.push(module);
        rest = after;
    }
    match modules.len() {
        1 => Ok(modules.remove(0)),
        n => Err(format!("JAAS config property contains {n} login modules, should be 1 module")),
    }
}

fn parse_module(tokens: &[JaasToken]) -> Result<(JaasModule, &[JaasToken]), String> {
    let word = |token: Option<&JaasToken>, what: &str| match token {
        Some(JaasToken::Word(w)) => Ok(w.clone()),
        _ => Err(format!("Invalid JAAS config: expected {what}")),
    };
    let class = word(tokens.first(), "a login module class name")?;
    let control_flag = word(tokens.get(1), "a control flag")?;
    if !["required", "requisite", "sufficient", "optional"].contains(&control_flag.to_ascii_lowercase().as_str()) {
        return Err(format!("Invalid JAAS config: invalid control flag {control_flag}"));
    }
    let mut options = Vec::new();
    let mut index = 2;
    loop {
        match tokens.get(index) {
            Some(JaasToken::Semicolon) => return Ok((JaasModule { class, control_flag, options }, &tokens[index + 1..])),
            Some(JaasToken::Word(key)) => {
                if tokens.get(index + 1) != Some(&JaasToken::Equals) {
                    return Err(format!("Invalid JAAS config: value not specified for key '{key}'"));
                }
                let value = match tokens.get(index + 2) {
                    Some(JaasToken::Word(v) | JaasToken::Quoted(v)) => v.clone(),
                    _ => return Err(format!("Invalid JAAS config: value not specified for key '{key}'")),
                };
                options.push((key.clone(), value));
                index += 3;
            }
            Some(_) => return Err("Invalid JAAS config: expected an option name".into()),
            None => return Err("Invalid JAAS config: the login module entry does not end with ';'".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn plain_users_come_from_the_listener_and_mechanism_prefixed_jaas_config() {
        let explicit = map(&[
            ("sasl.enabled.mechanisms", "SCRAM-SHA-256"),
            ("listener.name.client.sasl.enabled.mechanisms", "PLAIN, SCRAM-SHA-512,PLAIN"),
            (
                "listener.name.client.plain.sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" \
                 password=\"admin-secret\" user_admin=\"admin-secret\" user_alice=\"a\\\"b\";",
            ),
        ]);
        let sasl = resolve_listener_sasl(&explicit, "CLIENT").unwrap();
        assert_eq!(sasl.mechanisms, vec![SaslMechanism::Plain, SaslMechanism::ScramSha512]);
        assert_eq!(sasl.plain_users.len(), 2);
        assert_eq!(sasl.plain_users["alice"].value(), "a\"b");
        assert_eq!(sasl.max_receive_bytes, SASL_SERVER_MAX_RECEIVE_SIZE_DEFAULT as usize);
        assert!(sasl.warnings.is_empty());
        // Another listener falls back to the unprefixed mechanism list.
        let other = resolve_listener_sasl(&explicit, "SASL_SSL").unwrap();
        assert_eq!(other.mechanisms, vec![SaslMechanism::ScramSha256]);
    }

    #[test]
    fn kafka_default_gssapi_and_unknown_mechanisms_are_refused_by_name() {
        let error = resolve_listener_sasl(&map(&[]), "SASL_PLAINTEXT").unwrap_err().to_string();
        assert!(error.contains("GSSAPI (Kerberos) is not supported"), "{error}");
        let error = resolve_listener_sasl(&map(&[("sasl.enabled.mechanisms", "PLAIN,MD5")]), "X").unwrap_err().to_string();
        assert!(error.contains("unknown SASL mechanism MD5"), "{error}");
        let error = resolve_listener_sasl(&map(&[("sasl.enabled.mechanisms", " ")]), "X").unwrap_err().to_string();
        assert!(error.contains("No SASL mechanisms are enabled"), "{error}");
    }

    #[test]
    fn plain_without_its_jaas_config_is_refused_and_a_bare_jaas_config_is_ignored_with_a_warning() {
        let explicit = map(&[
            ("sasl.enabled.mechanisms", "PLAIN"),
            ("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"b\";"),
        ]);
        let error = resolve_listener_sasl(&explicit, "SASL_PLAINTEXT").unwrap_err().to_string();
        assert!(error.contains("listener.name.sasl_plaintext.plain.sasl.jaas.config"), "{error}");
        let scram = map(&[("sasl.enabled.mechanisms", "SCRAM-SHA-256"), ("sasl.jaas.config", "x required;")]);
        let sasl = resolve_listener_sasl(&scram, "SASL_PLAINTEXT").unwrap();
        assert_eq!(sasl.warnings.len(), 1);
    }

    #[test]
    fn a_jaas_config_must_name_the_mechanisms_login_module_and_never_shows_secrets_in_errors() {
        let explicit = map(&[
            ("sasl.enabled.mechanisms", "PLAIN"),
            (
                "listener.name.l.plain.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required user_a=\"topsecret\";",
            ),
        ]);
        let error = resolve_listener_sasl(&explicit, "L").unwrap_err().to_string();
        assert!(error.contains("PlainLoginModule") && !error.contains("topsecret"), "{error}");
    }

    #[test]
    fn jaas_syntax_errors_are_reported() {
        assert!(parse_jaas_config("a required x=\"y\"").unwrap_err().contains("';'"));
        assert!(parse_jaas_config("a maybe;").unwrap_err().contains("control flag"));
        assert!(parse_jaas_config("a required x=;").unwrap_err().contains("'x'"));
        assert!(parse_jaas_config("a required; b required;").unwrap_err().contains("2 login modules"));
        assert!(parse_jaas_config("a required x=\"unterminated;").is_err());
        let module = parse_jaas_config("/* c */ a.B required // note\n k=v k2=\"q w\";").unwrap();
        assert_eq!(module.options, vec![("k".into(), "v".into()), ("k2".into(), "q w".into())]);
    }

    #[test]
    fn honoured_keys_include_listener_mechanism_and_jaas_keys() {
        assert!(is_honoured_sasl_key("sasl.enabled.mechanisms"));
        assert!(is_honoured_sasl_key("listener.name.client.sasl.enabled.mechanisms"));
        assert!(is_honoured_sasl_key("listener.name.client.scram-sha-256.sasl.jaas.config"));
        assert!(!is_honoured_sasl_key("listener.name.client.gssapi.sasl.jaas.config"));
        assert!(!is_honoured_sasl_key("sasl.jaas.config"));
        assert!(!is_honoured_sasl_key("sasl.kerberos.service.name"));
    }

    #[test]
    fn max_receive_size_is_read_and_checked() {
        let explicit = map(&[("sasl.enabled.mechanisms", "SCRAM-SHA-256"), ("sasl.server.max.receive.size", "1024")]);
        assert_eq!(resolve_listener_sasl(&explicit, "L").unwrap().max_receive_bytes, 1024);
        let bad = map(&[("sasl.enabled.mechanisms", "SCRAM-SHA-256"), ("sasl.server.max.receive.size", "-1")]);
        assert!(resolve_listener_sasl(&bad, "L").is_err());
    }
}
