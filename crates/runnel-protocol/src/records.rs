//! Record-level access to one v2 record batch: a bounded, streaming walk over its records,
//! Kafka's produce-time record validation, and the timestamp look-ups ListOffsets needs.
//!
//! Owns: parsing records in place (uncompressed) or through a streaming decompressor
//! (gzip, snappy, lz4, zstd), the [`DecodeLimits`] that bound that work, the LogValidator
//! checks of Kafka 4 for magic v2 ([`validate_records`]), and the record-level timestamp
//! searches ([`find_offset_for_timestamp`], [`max_timestamp_record`]).
//!
//! Batches stay opaque everywhere else in Runnel; nothing here re-encodes or rewrites one.
//! Every function takes a batch already accepted by [`crate::batch::validate_batch`] (header,
//! sizes, CRC) but still treats the record bytes as hostile: no input panics, and no length
//! read from the input is allocated before it has been checked against a limit.

mod decompress;
mod error;
mod reader;
mod record;
mod timestamps;
mod validate;
mod varint;

#[cfg(test)]
mod alloc_probe;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use error::{BatchDefect, RecordDefect, RecordError, RecordsError, MAX_REPORTED_RECORD_ERRORS};
pub use reader::{for_each_record, RecordReader};
pub use varint::put_varint;
pub use record::{Header, Headers, Record};
pub use timestamps::{find_offset_for_timestamp, find_offset_for_timestamp_from, max_timestamp_record};
pub use validate::{
    validate_records, AppendOrigin, RecordRules, RecordsSummary, DEFAULT_TIMESTAMP_AFTER_MAX_MS,
    DEFAULT_TIMESTAMP_BEFORE_MAX_MS,
};

/// Kafka's timestamp type, as the topic's `message.timestamp.type` and a batch attribute.
pub use kafka_protocol::records::TimestampType;

/// Kafka's "no timestamp" sentinel, used for a batch or summary without a usable timestamp.
pub const NO_TIMESTAMP: i64 = -1;

/// Kafka's default `message.max.bytes`: 1 MiB of batch plus the 12-byte log overhead.
pub const DEFAULT_MESSAGE_MAX_BYTES: usize = 1_048_588;

/// How many decompressed bytes one byte of `message.max.bytes` may expand to.
///
/// Kafka bounds batches only after compression, so a 1 MiB gzip batch of zeros would inflate
/// to about 1 GiB. Real producer payloads compress 2-10x and repetitive JSON or logs under
/// zstd reach a few dozen; 64x admits those while capping the CPU one batch can cost at
/// about 64 MiB of inflation per 1 MiB accepted. Memory does not scale with this bound:
/// decoding streams, holding one record at a time.
pub const MAX_DECOMPRESSION_RATIO: usize = 64;

/// How many bytes one byte of `message.max.bytes` allows a single record to hold once
/// decompressed.
///
/// The Java producer refuses records above `max.request.size` (1 MiB by default) before
/// compressing, so 16x leaves room for producers that raised it and rely on compression to
/// pass `message.max.bytes`, while capping the one-record buffer a compressed batch needs.
pub const MAX_RECORD_RATIO: usize = 16;

/// Default [`DecodeLimits::max_decompressed_bytes`]: about 64 MiB.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = DEFAULT_MESSAGE_MAX_BYTES * MAX_DECOMPRESSION_RATIO;

/// Default [`DecodeLimits::max_record_bytes`]: about 16 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = DEFAULT_MESSAGE_MAX_BYTES * MAX_RECORD_RATIO;

/// Default [`DecodeLimits::max_header_count`].
///
/// Kafka has no such limit (each header costs at least two bytes, so the record size bounds
/// it); this one only caps per-record work for callers that walk headers, and sits far above
/// anything a client sends.
pub const DEFAULT_MAX_HEADER_COUNT: usize = 16_384;

/// Default [`DecodeLimits::zstd_window_log_max`]: zstd's own default decoder limit
/// (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`), hence exactly the frames a Kafka broker decodes. The
/// window is reserved, not touched: resident memory grows only with bytes actually inflated.
pub const DEFAULT_ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// Bounds on the work and memory spent decoding the records of one batch. Exceeding one is
/// an error, never an allocation of the size the input claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most bytes the records section of a compressed batch may inflate to. Uncompressed
    /// batches are bounded by their own size and ignore it.
    pub max_decompressed_bytes: usize,
    /// Largest single record, counting its length prefix, after decompression.
    pub max_record_bytes: usize,
    /// Most headers one record may carry.
    pub max_header_count: usize,
    /// Largest zstd window (log2 bytes) a frame may require.
    pub zstd_window_log_max: u32,
}

impl DecodeLimits {
    /// Limits scaled from a broker's or topic's `message.max.bytes`.
    pub fn for_message_max_bytes(message_max_bytes: usize) -> Self {
        Self {
            max_decompressed_bytes: message_max_bytes.saturating_mul(MAX_DECOMPRESSION_RATIO),
            max_record_bytes: message_max_bytes.saturating_mul(MAX_RECORD_RATIO),
            max_header_count: DEFAULT_MAX_HEADER_COUNT,
            zstd_window_log_max: DEFAULT_ZSTD_WINDOW_LOG_MAX,
        }
    }
}

impl Default for DecodeLimits {
    /// Limits for Kafka's default `message.max.bytes`.
    fn default() -> Self {
        Self::for_message_max_bytes(DEFAULT_MESSAGE_MAX_BYTES)
    }
}
