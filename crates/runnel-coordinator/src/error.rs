//! Errors of this crate. Only decoding `__consumer_offsets` records can fail: requests never
//! fail, they get Kafka error codes in their responses.

/// A `__consumer_offsets` record this coordinator cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordinatorError {
    #[error("{what} is truncated")]
    Truncated { what: &'static str },
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 { what: &'static str },
    #[error("{what} has invalid length {length}")]
    InvalidLength { what: &'static str, length: i64 },
    #[error("{record} value version {version} is not supported")]
    UnsupportedValueVersion { record: &'static str, version: i16 },
    #[error("{what} has an invalid value")]
    InvalidValue { what: &'static str },
    #[error("{record} key version {version} is not supported")]
    UnsupportedKeyVersion { record: &'static str, version: i16 },
}
