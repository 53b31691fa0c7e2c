//! The client's one error type.
//!
//! Owns: classifying failures (network, protocol, broker error code, timeout, configuration)
//! and naming Kafka error codes the way Kafka's tools print them (`UNKNOWN_TOPIC_OR_PARTITION`),
//! so that callers can both match on a code and show a readable line.

use kafka_protocol::error::ResponseError;
use kafka_protocol::protocol::StrBytes;

/// Every fallible client call returns this.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connecting to, writing to or reading from a broker failed.
    #[error("{broker}: {source}")]
    Io { broker: String, source: std::io::Error },
    /// A frame or message could not be encoded or decoded.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The broker answered with a Kafka error code.
    #[error("{context}: {name}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Kafka { code: i16, name: String, message: Option<String>, context: String },
    /// A bounded wait expired; the text says what was awaited.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The client configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The broker serves no version of an API that this client speaks.
    #[error("{broker} does not support {api} at any version this client speaks")]
    UnsupportedVersion { api: String, broker: String },
    /// The client or the connection was closed.
    #[error("closed")]
    Closed,
    /// A topic, partition, broker or group is unknown.
    #[error("not found: {0}")]
    NotFound(String),
}

impl Error {
    /// An error for a non-zero Kafka error code.
    pub fn kafka(code: i16, message: Option<String>, context: impl Into<String>) -> Error {
        Error::Kafka { code, name: error_name(code), message: message.filter(|m| !m.is_empty()), context: context.into() }
    }

    /// The Kafka error code, if the broker sent one.
    pub fn code(&self) -> Option<i16> {
        match self {
            Error::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether trying again (after refreshing metadata) may succeed: Kafka's retriable
    /// codes, network failures and expired waits.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Kafka { code, .. } => ResponseError::try_from_code(*code).is_some_and(|e| e.is_retriable()),
            Error::Io { .. } | Error::Timeout(_) => true,
            _ => false,
        }
    }
}

/// `Ok(())` for error code 0, otherwise the matching [`Error::Kafka`].
pub fn check(code: i16, message: Option<&StrBytes>, context: impl Into<String>) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    Err(Error::kafka(code, message.map(|m| m.to_string()), context))
}

/// Kafka's name for an error code, as its tools print it: `NOT_LEADER_OR_FOLLOWER`.
pub fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        None => "NONE".to_string(),
        Some(ResponseError::Unknown(code)) => format!("UNKNOWN_ERROR_CODE_{code}"),
        Some(known) => screaming_snake(&known.to_string()),
    }
}

fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_match_kafkas_spelling() {
        assert_eq!(error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(error_name(6), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(error_name(-1), "UNKNOWN_SERVER_ERROR");
        assert_eq!(error_name(0), "NONE");
        assert_eq!(error_name(9999), "UNKNOWN_ERROR_CODE_9999");
    }

    #[test]
    fn retriable_follows_kafkas_table() {
        assert!(Error::kafka(6, None, "produce").is_retriable());
        assert!(!Error::kafka(10, None, "produce").is_retriable());
        assert!(!Error::Config("x".into()).is_retriable());
    }

    #[test]
    fn display_names_code_and_message() {
        let e = Error::kafka(36, Some("Topic 't' already exists.".into()), "create topic t");
        assert_eq!(e.to_string(), "create topic t: TOPIC_ALREADY_EXISTS (Topic 't' already exists.)");
    }
}
