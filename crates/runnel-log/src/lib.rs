//! The partition log: record batches on disk in Kafka's segment layout, with Kafka's
//! recovery, retention and idempotent-producer rules.
//!
//! ```text
//! storage/    Storage / StorageFile traits; FileStorage, MemStorage, FaultStorage
//! layout      file names, partition.checkpoint, clean-shutdown marker, atomic replace
//! index       offset and time indexes (Vec in memory, written through, lazy for old segments)
//! scan        chunked batch scanner for recovery and rebuilds
//! segment     one segment: append (all-or-nothing), lookups, recovery of its files
//! producer    idempotent-producer state (5-batch window, snapshots)
//! partition   PartitionLog: offsets, append, roll, flush, tick, close
//! read        which whole batches a read returns; copied, or as file slices for sendfile
//! recovery    PartitionLog::open: which segments to trust, validate the rest, truncate
//! retention   retention.ms / retention.bytes, truncate_to (the replication seam)
//! compaction  cleanup.policy=compact: Kafka's log cleaner, crash-safe segment swaps
//! ```
//!
//! # Durability: the default and its trade-off
//!
//! As in Kafka, the defaults (`flush.messages` and `flush.ms` = `i64::MAX`) never fsync on
//! the produce path: an acknowledged batch is in the page cache and reaches the disk when the
//! kernel writes it back. A process crash loses nothing (the kernel still has the pages); a
//! power loss or kernel crash can lose the last seconds of acknowledged data, and recovery
//! then truncates the log at the first torn or corrupt batch, so what survives is always a
//! clean prefix. Kafka relies on replication for durability instead; a single node cannot,
//! so operators who need every acknowledged batch to survive power loss set
//! `flush.messages=1` (fsync per append: on this class of disk 0.25-5 ms each, and syncs do
//! not parallelise) or a small `flush.ms` (a bounded loss window, synced by [`PartitionLog::tick`]).
//!
//! Independently of policy, segments are synced once they roll (at the next `tick`, as Kafka
//! flushes a segment after rolling), `close` syncs everything, and every metadata file is
//! replaced atomically and synced. A failed fsync fails the log (writes refused until it is
//! reopened and recovered): after a failed fsync the kernel may already have dropped the
//! dirty pages, so nothing written since the last good sync can be trusted.
//!
//! # Recovery
//!
//! `partition.checkpoint` holds the log start offset and the recovery point (everything below
//! it is synced). After a clean shutdown (`.clean-shutdown` present) every segment is trusted;
//! otherwise segments from the one holding the recovery point on are validated batch by batch
//! (CRC, sizes, contiguous offsets), cut at the first bad batch, their indexes rebuilt from the
//! log, and later segments deleted. Below the recovery point offsets need only increase:
//! compaction leaves gaps there, and its interrupted segment swaps are finished first (see
//! `compaction`). Reads never go past the in-memory segment size, so bytes of a failed or
//! torn append are never served, even before recovery.
//!
//! # Concurrency
//!
//! [`PartitionLog`] is not internally locked: appends take `&mut self`, reads `&self`, and
//! [`FileStorage`] reads positionally so readers share a read lock. [`PartitionLog::compact`]
//! takes `&mut self` for a whole round, which reads every segment below the active one.

mod compaction;
mod index;
mod layout;
mod partition;
pub mod producer;
mod read;
mod recovery;
mod retention;
mod scan;
mod segment;
pub mod storage;

pub use compaction::{CompactionOutcome, CLEANER_CHECKPOINT_FILE};
pub use layout::{CHECKPOINT_FILE, CLEAN_SHUTDOWN_FILE};
pub use partition::{PartitionLog, PendingFlush, PRODUCER_EXPIRATION_CHECK_INTERVAL_MS};
pub use read::FileSlice;
pub use producer::{BatchMetadata, ProducerEntry, ProducerStateManager, PRODUCER_BATCHES_RETAINED};
pub use runnel_protocol::batch::BatchError;
pub use storage::{FaultPlan, FaultStorage, FileStorage, FileSync, MemStorage, Storage, StorageFile};

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
    /// cleanup.policy contains `compact`: [`PartitionLog::compact`] cleans the log (with
    /// `delete` too, retention applies as well). Default false (policy `delete`).
    pub compact: bool,
    /// delete.retention.ms (log.cleaner.delete.retention.ms), default 1 day: how long a
    /// tombstone survives after the cleaner first rewrote its batch.
    pub delete_retention_ms: i64,
    /// min.compaction.lag.ms (log.cleaner.min.compaction.lag.ms), default 0: a segment whose
    /// largest timestamp is newer than this is not cleaned yet.
    pub min_compaction_lag_ms: i64,
    /// max.compaction.lag.ms (log.cleaner.max.compaction.lag.ms), default i64::MAX: a dirty
    /// segment whose first batch is older than this is cleaned whatever the dirty ratio.
    pub max_compaction_lag_ms: i64,
    /// min.cleanable.dirty.ratio (log.cleaner.min.cleanable.ratio), default 0.5.
    pub min_cleanable_dirty_ratio: f64,
    /// log.cleaner.dedupe.buffer.size (broker-level), default 128 MiB: the memory one
    /// compaction may spend on its key map; a longer dirty section is cleaned over several
    /// rounds.
    pub cleaner_dedupe_buffer_bytes: u64,
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
            compact: false,
            delete_retention_ms: 86_400_000,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            min_cleanable_dirty_ratio: 0.5,
            cleaner_dedupe_buffer_bytes: 128 << 20,
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

