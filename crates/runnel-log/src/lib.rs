//! The partition log: record batches on disk in Kafka's segment layout.
//!
//! CONTRACT (the broker codes against exactly this surface; the implementation is being
//! written now, see the helper brief in the commit history):
//!
//! ```text
//! storage   Storage / StorageFile traits; FileStorage, MemStorage, FaultStorage
//! config    LogConfig (Kafka topic-level semantics: segment.bytes, segment.ms, retention.ms,
//!           retention.bytes, flush.messages, flush.ms, index.interval.bytes, ...)
//! producer  idempotent-producer state per partition (5-batch window, snapshots)
//! log       PartitionLog: open (with recovery), append, read, offsets, retention, flush
//! ```

mod index;
mod layout;
mod partition;
pub mod producer;
mod recovery;
mod retention;
mod scan;
mod segment;
pub mod storage;

pub use layout::{CHECKPOINT_FILE, CLEAN_SHUTDOWN_FILE};
pub use partition::PartitionLog;
pub use producer::PRODUCER_BATCHES_RETAINED;
pub use runnel_protocol::batch::BatchError;
pub use storage::{FaultPlan, FaultStorage, FileStorage, MemStorage, Storage, StorageFile};

/// Errors from log operations. Producer-state rejections are their own variants so the
/// broker can map each to its Kafka error code.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid record batch: {0}")]
    InvalidBatch(#[from] BatchError),
    #[error("out of order sequence for producer {producer_id}: expected {expected}, got {received}")]
    OutOfOrderSequence { producer_id: i64, expected: i32, received: i32 },
    #[error("producer {producer_id} epoch {received} is older than current epoch {current}")]
    InvalidProducerEpoch { producer_id: i64, received: i16, current: i16 },
    #[error("offset {offset} is outside the log [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange { offset: i64, log_start_offset: i64, log_end_offset: i64 },
    #[error("log directory {0} is corrupt: {1}")]
    Corrupt(String, String),
}

/// Topic-level log settings, Kafka's names and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// segment.bytes (log.segment.bytes), default 1 GiB.
    pub segment_bytes: u64,
    /// segment.ms (log.roll.ms / log.roll.hours), default 7 days.
    pub segment_ms: i64,
    /// retention.ms (log.retention.ms/minutes/hours), default 7 days; -1 keeps forever.
    pub retention_ms: i64,
    /// retention.bytes (log.retention.bytes), default -1 (unbounded).
    pub retention_bytes: i64,
    /// flush.messages (log.flush.interval.messages), default i64::MAX (leave it to the OS).
    pub flush_messages: i64,
    /// flush.ms (log.flush.interval.ms), default i64::MAX.
    pub flush_ms: i64,
    /// index.interval.bytes, default 4096.
    pub index_interval_bytes: u64,
    /// segment.index.bytes, default 10 MiB: the most an offset or time index may hold.
    pub segment_index_bytes: u64,
    /// message.timestamp.type: true for LogAppendTime.
    pub log_append_time: bool,
    /// producer.id.expiration.ms (broker-level), default 1 day.
    pub producer_id_expiration_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3_600_000,
            retention_ms: 7 * 24 * 3_600_000,
            retention_bytes: -1,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 << 20,
            log_append_time: false,
            producer_id_expiration_ms: 86_400_000,
        }
    }
}

/// Result of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Stored at these offsets; `log_append_time_ms` is set when the log stamped the batch.
    Appended { base_offset: i64, last_offset: i64, log_append_time_ms: Option<i64> },
    /// A retry of a batch already in the producer's 5-batch window: nothing was written and
    /// the original offsets are returned.
    Duplicate { base_offset: i64, last_offset: i64 },
}

/// Whole batches read from the log.
#[derive(Debug, Default, Clone)]
pub struct ReadResult {
    /// Concatenated whole batches, bytes exactly as stored.
    pub bytes: Vec<u8>,
}

/// What one retention pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionOutcome {
    pub segments_deleted: usize,
    pub bytes_deleted: u64,
}

