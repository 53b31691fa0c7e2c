//! The authorizer's keys: `authorizer.class.name` switches ACL authorization on (Kafka's
//! `StandardAuthorizer` is the only class Runnel has), `super.users` names principals that may
//! do anything, and `allow.everyone.if.no.acl.found` decides a resource no ACL names.
//!
//! Parsed as Kafka's `StandardAuthorizer.configure` does: super users are split on `;`,
//! trimmed, empty entries skipped, and each must read as `principalType:name`;
//! `allow.everyone.if.no.acl.found` is Java's `Boolean.parseBoolean` (only a case-insensitive
//! `true` is true). Without an authorizer the other two keys are read but change nothing, as
//! in Kafka, where only the authorizer reads them.

use std::collections::BTreeSet;
use std::collections::BTreeMap;

use super::ConfigError;

pub const AUTHORIZER_CLASS_NAME: &str = "authorizer.class.name";
pub const SUPER_USERS: &str = "super.users";
pub const ALLOW_EVERYONE_IF_NO_ACL_FOUND: &str = "allow.everyone.if.no.acl.found";

/// Kafka's KRaft authorizer, the one Runnel implements.
pub const STANDARD_AUTHORIZER_CLASS: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

/// The untyped keys this module reads (`authorizer.class.name` is a typed catalog key).
const UNTYPED_KEYS: &[&str] = &[SUPER_USERS, ALLOW_EVERYONE_IF_NO_ACL_FOUND];

/// Whether `key` is one of the authorizer's own keys that the catalog does not type.
pub fn is_authorizer_key(key: &str) -> bool {
    UNTYPED_KEYS.contains(&key)
}

/// The authorizer settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// True exactly when `authorizer.class.name` names the StandardAuthorizer.
    pub enabled: bool,
    /// `super.users`, each as `type:name`.
    pub super_users: BTreeSet<String>,
    /// `allow.everyone.if.no.acl.found` (default false).
    pub allow_everyone_if_no_acl_found: bool,
}

/// Reads the authorizer keys; `class_name` is the parsed (trimmed) `authorizer.class.name`.
pub(crate) fn derive(class_name: &str, explicit: &BTreeMap<String, String>) -> Result<AuthorizerConfig, ConfigError> {
    let enabled = match class_name {
        "" => false,
        STANDARD_AUTHORIZER_CLASS => true,
        other => {
            return Err(ConfigError::InvalidValue {
                key: AUTHORIZER_CLASS_NAME.to_string(),
                value: other.to_string(),
                reason: format!("Class {other} cannot be found: Runnel's only authorizer is {STANDARD_AUTHORIZER_CLASS}"),
            })
        }
    };
    let super_users = match explicit.get(SUPER_USERS) {
        Some(raw) => parse_super_users(raw)?,
        None => BTreeSet::new(),
    };
    let allow_everyone_if_no_acl_found =
        explicit.get(ALLOW_EVERYONE_IF_NO_ACL_FOUND).is_some_and(|raw| raw.trim().eq_ignore_ascii_case("true"));
    Ok(AuthorizerConfig { enabled, super_users, allow_everyone_if_no_acl_found })
}

fn parse_super_users(raw: &str) -> Result<BTreeSet<String>, ConfigError> {
    let mut users = BTreeSet::new();
    for entry in raw.split(';').map(str::trim).filter(|entry| !entry.is_empty()) {
        if !entry.contains(':') {
            return Err(ConfigError::InvalidValue {
                key: SUPER_USERS.to_string(),
                value: raw.to_string(),
                reason: format!("expected a string in format principalType:principalName but got {entry}"),
            });
        }
        users.insert(entry.to_string());
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
    fn only_the_standard_authorizer_enables_authorization() {
        assert!(!derive("", &BTreeMap::new()).unwrap().enabled);
        assert!(derive(STANDARD_AUTHORIZER_CLASS, &BTreeMap::new()).unwrap().enabled);
        let error = derive("kafka.security.authorizer.AclAuthorizer", &BTreeMap::new()).unwrap_err().to_string();
        assert!(error.contains("authorizer.class.name") && error.contains("AclAuthorizer"), "{error}");
    }

    #[test]
    fn super_users_split_on_semicolons_and_skip_blanks() {
        let config = derive("", &explicit(&[(SUPER_USERS, " User:admin ; ;User:CN=x,O=y;")])).unwrap();
        assert_eq!(config.super_users, ["User:CN=x,O=y", "User:admin"].map(String::from).into());
        let error = derive("", &explicit(&[(SUPER_USERS, "User:admin;bob")])).unwrap_err().to_string();
        assert!(error.contains("principalType:principalName but got bob"), "{error}");
    }

    #[test]
    fn allow_everyone_is_java_parse_boolean() {
        for (raw, expected) in [("true", true), (" TRUE ", true), ("yes", false), ("1", false), ("", false)] {
            let config = derive("", &explicit(&[(ALLOW_EVERYONE_IF_NO_ACL_FOUND, raw)])).unwrap();
            assert_eq!(config.allow_everyone_if_no_acl_found, expected, "{raw:?}");
        }
        assert!(!derive("", &BTreeMap::new()).unwrap().allow_everyone_if_no_acl_found);
    }
}
