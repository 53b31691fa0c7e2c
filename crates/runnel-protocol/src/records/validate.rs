//! Kafka 4's produce-time record validation (`LogValidator`) for one magic v2 batch.
//!
//! Checks, in Kafka's order: the batch-level rules for client appends (`validateBatch`),
//! then every record (`validateRecord`: key required on compacted topics, then the
//! timestamp), collecting per-record failures across the whole batch before refusing it,
//! as Kafka does. Structural problems (bad varints, wrong counts, trailing bytes) stop at
//! once, also as in Kafka.
//!
//! Kafka never rejects a batch whose header `maxTimestamp` disagrees with its records: it
//! rewrites the field (and the CRC). Runnel stores batches as sent, so the summary reports
//! the records' maximum and [`RecordsSummary::max_timestamp_matches`] tells the caller
//! whether the header must be patched. Likewise Kafka silently renumbers a compressed batch
//! whose offset deltas are not 0..n-1 by recompressing it; Runnel cannot, and refuses such a
//! record with INVALID_RECORD instead.

use std::ops::ControlFlow;

use super::error::{BatchDefect, RecordError, RecordsError, MAX_REPORTED_RECORD_ERRORS};
use super::reader::RecordReader;
use super::record::Record;
use super::{DecodeLimits, TimestampType, NO_TIMESTAMP};
use crate::batch::BatchHeader;

/// Kafka 4's default `message.timestamp.before.max.ms`: no lower bound.
pub const DEFAULT_TIMESTAMP_BEFORE_MAX_MS: i64 = i64::MAX;
/// Kafka 4's default `message.timestamp.after.max.ms`: one hour into the future.
pub const DEFAULT_TIMESTAMP_AFTER_MAX_MS: i64 = 3_600_000;

/// Who is appending, which decides whether the client-only batch checks apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOrigin {
    /// A producer's batch: every check applies.
    Client,
    /// A batch the broker wrote itself (group or transaction coordinator): control batches
    /// and empty batches are legitimate.
    Coordinator,
}

/// The topic configuration and clock a batch is validated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRules<'a> {
    /// The broker's clock, in milliseconds since the epoch.
    pub now_ms: i64,
    /// The topic's `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms`: how far in the past a CreateTime may lie.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: how far in the future a CreateTime may lie.
    pub timestamp_after_max_ms: i64,
    /// Whether `cleanup.policy` includes `compact`, which requires a key on every record.
    pub compacted: bool,
    pub origin: AppendOrigin,
    /// `topic-partition`, named in Kafka's per-record messages; empty leaves it out.
    pub topic_partition: &'a str,
}

impl RecordRules<'static> {
    /// Kafka 4's topic defaults for a client append at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        Self {
            now_ms,
            timestamp_type: TimestampType::Creation,
            timestamp_before_max_ms: DEFAULT_TIMESTAMP_BEFORE_MAX_MS,
            timestamp_after_max_ms: DEFAULT_TIMESTAMP_AFTER_MAX_MS,
            compacted: false,
            origin: AppendOrigin::Client,
            topic_partition: "",
        }
    }
}

/// What validation learned about an accepted batch. On a LogAppendTime topic the broker
/// then stamps the batch (`batch::set_log_append_time`) and, like Kafka, should report its
/// own clock as the max timestamp rather than these record values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordsSummary {
    pub records_count: i32,
    /// Largest record timestamp (Kafka's `record.timestamp()`: the header's max timestamp for
    /// every record of a LogAppendTime batch), or [`NO_TIMESTAMP`] when no record carries
    /// one above it.
    pub max_timestamp: i64,
    /// Offset delta of the first record holding `max_timestamp`, or -1 with [`NO_TIMESTAMP`].
    pub max_timestamp_offset_delta: i32,
    /// Size of the records section once decompressed.
    pub records_bytes: usize,
}

impl RecordsSummary {
    /// Whether the batch header's `maxTimestamp` already equals what Kafka would store:
    /// the records' maximum. Meaningful for CreateTime batches; a LogAppendTime batch gets
    /// its max timestamp from the broker anyway.
    pub fn max_timestamp_matches(&self, header: &BatchHeader) -> bool {
        header.max_timestamp == self.max_timestamp
    }
}

/// Validates the records of `batch` (whose header is `header`, already through
/// [`crate::batch::validate_batch`]) as Kafka 4 does before appending a produced batch.
pub fn validate_records(
    batch: &[u8],
    header: &BatchHeader,
    limits: &DecodeLimits,
    rules: &RecordRules<'_>,
) -> Result<RecordsSummary, RecordsError> {
    if rules.origin == AppendOrigin::Client {
        check_client_batch(header)?;
    }
    let mut reader = RecordReader::new(batch, header, limits)?;
    let mut failures = Failures::default();
    let mut max_timestamp = NO_TIMESTAMP;
    let mut max_timestamp_offset_delta = -1;
    while let Some(record) = reader.next_record()? {
        if let ControlFlow::Break(error) = check_record(&record, header, rules) {
            failures.push(error);
            continue;
        }
        let timestamp = record.timestamp(header);
        if timestamp > max_timestamp {
            max_timestamp = timestamp;
            max_timestamp_offset_delta = record.offset_delta;
        }
    }
    failures.into_result()?;
    Ok(RecordsSummary {
        records_count: header.records_count,
        max_timestamp,
        max_timestamp_offset_delta,
        records_bytes: reader.records_bytes(),
    })
}

/// Kafka's `validateBatch` for `AppendOrigin.CLIENT` and magic v2.
fn check_client_batch(header: &BatchHeader) -> Result<(), RecordsError> {
    let invalid = |defect| Err(RecordsError::InvalidBatch(defect));
    let count_from_offsets = i64::from(header.last_offset_delta) + 1;
    if count_from_offsets <= 0 {
        return invalid(BatchDefect::InvalidOffsetRange { last_offset_delta: header.last_offset_delta });
    }
    if header.records_count <= 0 {
        return invalid(BatchDefect::NonPositiveCount(header.records_count));
    }
    if count_from_offsets != i64::from(header.records_count) {
        return invalid(BatchDefect::InconsistentCount {
            last_offset_delta: header.last_offset_delta,
            records_count: header.records_count,
        });
    }
    if header.is_control() {
        return invalid(BatchDefect::ControlBatchFromClient);
    }
    if header.has_producer_id() && header.base_sequence < 0 {
        return invalid(BatchDefect::MissingSequence {
            producer_id: header.producer_id,
            base_sequence: header.base_sequence,
        });
    }
    Ok(())
}

/// The first rule `record` breaks, in Kafka's order (key, then timestamp), then Runnel's
/// own offset-delta rule.
fn check_record(record: &Record<'_>, header: &BatchHeader, rules: &RecordRules<'_>) -> ControlFlow<RecordError> {
    let invalid_record = |message: String| RecordError {
        batch_index: record.index,
        message,
        error_code: kafka_protocol::ResponseError::InvalidRecord.code(),
    };
    let invalid_timestamp = |message: String| RecordError {
        batch_index: record.index,
        message,
        error_code: kafka_protocol::ResponseError::InvalidTimestamp.code(),
    };

    if rules.compacted && record.key.is_none() {
        let message = match rules.topic_partition {
            "" => "Compacted topic cannot accept message without key".to_owned(),
            topic_partition => format!("Compacted topic cannot accept message without key in topic partition {topic_partition}"),
        };
        return ControlFlow::Break(invalid_record(message));
    }

    let timestamp = record.timestamp(header);
    if rules.timestamp_type == TimestampType::Creation && timestamp != NO_TIMESTAMP {
        if timestamp_out_of_range(timestamp, rules) {
            return ControlFlow::Break(invalid_timestamp(format!(
                "Timestamp {timestamp} of message with offset {} is out of range. The timestamp should be within [{}, {}]",
                record.offset(header),
                rules.now_ms.wrapping_sub(rules.timestamp_before_max_ms),
                rules.now_ms.wrapping_add(rules.timestamp_after_max_ms),
            )));
        }
    } else if header.is_log_append_time() {
        return ControlFlow::Break(invalid_timestamp(
            "Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime.".to_owned(),
        ));
    }

    if record.offset_delta != record.index {
        return ControlFlow::Break(invalid_record(format!(
            "Record at batch index {} has offset delta {}; offset deltas must run 0..n-1 because batches are stored as sent",
            record.index, record.offset_delta
        )));
    }
    ControlFlow::Continue(())
}

/// Kafka's `recordHasInvalidTimestamp`, with Java's wrapping `long` arithmetic.
fn timestamp_out_of_range(timestamp: i64, rules: &RecordRules) -> bool {
    let difference = rules.now_ms.wrapping_sub(timestamp);
    difference > rules.timestamp_before_max_ms || difference.wrapping_neg() > rules.timestamp_after_max_ms
}

/// Per-record failures gathered across a batch.
#[derive(Default)]
struct Failures {
    kept: Vec<RecordError>,
    total: usize,
    timestamp: bool,
}

impl Failures {
    fn push(&mut self, error: RecordError) {
        self.total += 1;
        self.timestamp |= error.error_code == kafka_protocol::ResponseError::InvalidTimestamp.code();
        if self.kept.len() < MAX_REPORTED_RECORD_ERRORS {
            self.kept.push(error);
        }
    }

    fn into_result(self) -> Result<(), RecordsError> {
        if self.total == 0 {
            return Ok(());
        }
        Err(RecordsError::Rejected { errors: self.kept, total: self.total, timestamp: self.timestamp })
    }
}
