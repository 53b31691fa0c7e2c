//! The enumerated settings shared by broker and topic configs: cleanup policy, timestamp type
//! and compression type, with Kafka's spellings.

/// `cleanup.policy` / `log.cleanup.policy`: any combination of `delete` and `compact`. Kafka
/// accepts an empty list, which neither deletes by retention nor compacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    pub delete: bool,
    pub compact: bool,
}

impl CleanupPolicy {
    pub const DELETE: CleanupPolicy = CleanupPolicy { delete: true, compact: false };
    pub const COMPACT: CleanupPolicy = CleanupPolicy { delete: false, compact: true };

    /// From an already validated list (elements are `delete` or `compact`).
    pub fn from_list(items: &[String]) -> CleanupPolicy {
        CleanupPolicy {
            delete: items.iter().any(|item| item.eq_ignore_ascii_case("delete")),
            compact: items.iter().any(|item| item.eq_ignore_ascii_case("compact")),
        }
    }
}

/// `message.timestamp.type` / `log.message.timestamp.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

impl TimestampType {
    pub fn from_name(name: &str) -> Option<TimestampType> {
        match name {
            "CreateTime" => Some(TimestampType::CreateTime),
            "LogAppendTime" => Some(TimestampType::LogAppendTime),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        }
    }
}

/// `compression.type`: a codec, `uncompressed`, or `producer` (keep what the producer sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionType {
    Producer,
    Uncompressed,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl CompressionType {
    pub fn from_name(name: &str) -> Option<CompressionType> {
        match name {
            "producer" => Some(CompressionType::Producer),
            "uncompressed" => Some(CompressionType::Uncompressed),
            "gzip" => Some(CompressionType::Gzip),
            "snappy" => Some(CompressionType::Snappy),
            "lz4" => Some(CompressionType::Lz4),
            "zstd" => Some(CompressionType::Zstd),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CompressionType::Producer => "producer",
            CompressionType::Uncompressed => "uncompressed",
            CompressionType::Gzip => "gzip",
            CompressionType::Snappy => "snappy",
            CompressionType::Lz4 => "lz4",
            CompressionType::Zstd => "zstd",
        }
    }
}
