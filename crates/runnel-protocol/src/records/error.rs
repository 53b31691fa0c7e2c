//! Why a batch's records were refused, and the Kafka error code each reason maps to.
//!
//! The mapping follows what a Kafka 4 broker answers a producer: `InvalidRecordException`
//! (INVALID_RECORD) for malformed record structure and wrong declared counts,
//! `RecordValidationException` for per-record rule failures (INVALID_TIMESTAMP when any
//! timestamp is out of range, else INVALID_RECORD, with the per-record list Produce v8+
//! returns), and CORRUPT_MESSAGE for a batch too short to hold its header. Two cases have no
//! Kafka counterpart or a poor one and are documented on their variants.

use std::fmt;

use kafka_protocol::ResponseError;
use thiserror::Error;

use crate::batch::Compression;

/// At most this many per-record errors are kept for a Produce response; the total is still
/// counted. Kafka sends them all, but one bad field repeated in every record of a large
/// compressed batch would otherwise cost memory in proportion to an attacker's record count.
pub const MAX_REPORTED_RECORD_ERRORS: usize = 1024;

/// Record errors Kafka quotes in the top-level message of a rejected batch.
const QUOTED_RECORD_ERRORS: usize = 3;

/// One record refused by a validation rule: Produce v8+ `record_errors` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Position of the record inside its batch, from 0.
    pub batch_index: i32,
    pub message: String,
    /// The Kafka error this record alone would earn (INVALID_RECORD or INVALID_TIMESTAMP).
    pub error_code: i16,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordError(batchIndex={}, message='{}')", self.batch_index, self.message)
    }
}

/// What is wrong with a batch as a whole, before any record is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchDefect {
    /// Fewer bytes than the fixed v2 header.
    TooShort(usize),
    /// A negative record count.
    NegativeCount(i32),
    /// `lastOffsetDelta + 1` is not positive.
    InvalidOffsetRange { last_offset_delta: i32 },
    /// A produced batch must hold at least one record.
    NonPositiveCount(i32),
    /// `lastOffsetDelta + 1` differs from the record count.
    InconsistentCount { last_offset_delta: i32, records_count: i32 },
    /// Only the broker writes control batches.
    ControlBatchFromClient,
    /// A producer id without a base sequence.
    MissingSequence { producer_id: i64, base_sequence: i32 },
}

impl fmt::Display for BatchDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort(bytes) => write!(f, "batch of {bytes} bytes is shorter than its header"),
            Self::NegativeCount(count) => write!(f, "Found invalid record count {count} in magic v2 batch"),
            Self::InvalidOffsetRange { last_offset_delta } => {
                write!(f, "Batch has an invalid offset range: last offset delta {last_offset_delta}")
            }
            Self::NonPositiveCount(count) => write!(f, "Invalid reported count for record batch: {count}"),
            Self::InconsistentCount { last_offset_delta, records_count } => write!(
                f,
                "Inconsistent batch offset range: last offset delta {last_offset_delta} and count of records {records_count}"
            ),
            Self::ControlBatchFromClient => write!(f, "Clients are not allowed to write control records"),
            Self::MissingSequence { producer_id, base_sequence } => write!(
                f,
                "Invalid sequence number {base_sequence} in record batch with producerId {producer_id}"
            ),
        }
    }
}

/// What is wrong with the bytes of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordDefect {
    /// A varint runs past its maximum length (5 bytes, or 10 for a varlong).
    VarintTooLong,
    /// A negative record length.
    NegativeLength(i32),
    /// The record claims more bytes than remain in the batch (or in the decompressed stream).
    LengthBeyondBatch {
        length: i32,
        remaining: usize,
    },
    /// A field runs past the end of the record's declared length.
    FieldOverrun,
    NegativeHeaderCount(i32),
    /// More headers than bytes left in the record: impossible, each takes at least two.
    HeaderCountExceedsBody {
        count: i32,
        remaining: usize,
    },
    NegativeHeaderKeyLength(i32),
    /// The fields end before the record's declared length.
    LengthMismatch {
        declared: usize,
        read: usize,
    },
}

impl fmt::Display for RecordDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VarintTooLong => write!(f, "Found invalid record structure: varint is too long"),
            Self::NegativeLength(length) => write!(f, "Invalid record size {length}"),
            Self::LengthBeyondBatch { length, remaining } => write!(
                f,
                "Invalid record size: expected {length} bytes in record payload, but only {remaining} remain"
            ),
            Self::FieldOverrun => write!(f, "Found invalid record structure"),
            Self::NegativeHeaderCount(count) => write!(f, "Found invalid number of record headers {count}"),
            Self::HeaderCountExceedsBody { count, remaining } => write!(
                f,
                "Found invalid number of record headers. {count} is larger than the remaining size of the buffer ({remaining})"
            ),
            Self::NegativeHeaderKeyLength(length) => write!(f, "Invalid negative header key size {length}"),
            Self::LengthMismatch { declared, read } => write!(
                f,
                "Invalid record size: expected to read {declared} bytes in record payload, but instead read {read}"
            ),
        }
    }
}

/// Why the records of a batch could not be read or were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordsError {
    /// Compression attribute bits 5-7. Kafka fails such a request with an unchecked
    /// exception, UNKNOWN_SERVER_ERROR, and so does Runnel.
    #[error("unknown compression codec id {0}")]
    UnknownCompression(i16),
    #[error("{0}")]
    InvalidBatch(BatchDefect),
    #[error("record {index}: {defect}")]
    InvalidRecord { index: i32, defect: RecordDefect },
    /// The records (or the decompressed stream) end before the declared count.
    #[error("Incorrect declared batch size, premature EOF reached after {read} of {declared} records")]
    PrematureEnd { declared: i32, read: i32 },
    /// Bytes follow the last declared record.
    #[error("Incorrect declared batch size, records still remaining after {declared} records")]
    TrailingBytes { declared: i32 },
    /// A record's declared length is above [`super::DecodeLimits::max_record_bytes`].
    #[error("record {index} is {size_bytes} bytes, above the {limit_bytes}-byte record limit")]
    RecordTooLarge { index: i32, size_bytes: u64, limit_bytes: usize },
    /// The records inflate past [`super::DecodeLimits::max_decompressed_bytes`].
    #[error("records inflate to more than the {limit_bytes}-byte decompression limit")]
    DecompressedTooLarge { limit_bytes: usize },
    #[error("record {index} has {count} headers, above the limit of {limit}")]
    TooManyHeaders { index: i32, count: usize, limit: usize },
    /// The compressed payload does not decode. Kafka surfaces the codec's IOException as an
    /// unchecked KafkaException, UNKNOWN_SERVER_ERROR, and so does Runnel (clients treat
    /// both alike: the batch is not retried into the log).
    #[error("failed to decompress {codec:?} records: {message}")]
    Decompression { codec: Compression, message: String },
    /// The compressed stream ends early. Kafka's record iterator turns the codec's
    /// EOFException into INVALID_RECORD, as for uncompressed records that end early.
    #[error("Incorrect declared batch size, premature EOF reached in {codec:?} records")]
    TruncatedCompressedRecords { codec: Compression },
    /// One or more records broke a validation rule (Kafka's `RecordValidationException`).
    #[error("{}", rejected_message(.errors, *.total, *.timestamp))]
    Rejected {
        /// The first [`MAX_REPORTED_RECORD_ERRORS`] failures, in batch order.
        errors: Vec<RecordError>,
        /// How many records failed in all.
        total: usize,
        /// Whether any failure was a timestamp, which makes the batch INVALID_TIMESTAMP.
        timestamp: bool,
    },
}

impl RecordsError {
    /// The Kafka error code a Produce response carries for this failure.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            Self::InvalidBatch(BatchDefect::TooShort(_)) => ResponseError::CorruptMessage.code(),
            Self::RecordTooLarge { .. } | Self::DecompressedTooLarge { .. } => {
                // MESSAGE_TOO_LARGE also makes the Java producer split the batch and retry,
                // which is exactly the remedy for a batch that inflates too far.
                ResponseError::MessageTooLarge.code()
            }
            Self::Rejected { timestamp: true, .. } => ResponseError::InvalidTimestamp.code(),
            Self::UnknownCompression(_) | Self::Decompression { .. } => ResponseError::UnknownServerError.code(),
            Self::InvalidBatch(_)
            | Self::InvalidRecord { .. }
            | Self::PrematureEnd { .. }
            | Self::TrailingBytes { .. }
            | Self::TooManyHeaders { .. }
            | Self::TruncatedCompressedRecords { .. }
            | Self::Rejected { .. } => ResponseError::InvalidRecord.code(),
        }
    }

    /// The per-record errors for Produce v8+ `record_errors`; empty unless
    /// [`RecordsError::Rejected`].
    pub fn record_errors(&self) -> &[RecordError] {
        match self {
            Self::Rejected { errors, .. } => errors,
            _ => &[],
        }
    }
}

fn rejected_message(errors: &[RecordError], total: usize, timestamp: bool) -> String {
    if timestamp {
        return "One or more records have been rejected due to invalid timestamp".to_owned();
    }
    let quoted: Vec<String> = errors.iter().take(QUOTED_RECORD_ERRORS).map(ToString::to_string).collect();
    format!(
        "One or more records have been rejected due to {total} record errors in total, and only showing the first three errors at most: [{}]",
        quoted.join(", ")
    )
}
