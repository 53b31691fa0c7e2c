//! Record-level work on stored or produced batches, with the topic's rules and limits:
//! Kafka's produce-time validation, and ListOffsets' record-exact timestamp lookups.

use runnel_protocol::batch::BatchHeader;
use runnel_protocol::records::{
    find_offset_for_timestamp, max_timestamp_record as max_timestamp_in, validate_records, DecodeLimits, RecordRules,
    TimestampType,
};
use runnel_protocol::kafka_protocol::error::ResponseError;

use crate::config::policy::TimestampType as TopicTimestampType;
use crate::topics::Topic;

/// A produced batch refused by record validation.
pub struct RecordsRejection {
    pub code: i16,
    pub message: String,
    /// (batch index, message) of each refused record, for Produce v8+ `record_errors`.
    pub record_errors: Vec<(i32, String)>,
}

pub fn validate_records_for_topic(
    topic: &Topic,
    partition: i32,
    batch: &[u8],
    header: &BatchHeader,
    now_ms: i64,
) -> Result<(), RecordsRejection> {
    let settings = &topic.settings;
    let topic_partition = format!("{}-{partition}", topic.name);
    let limits = DecodeLimits::for_message_max_bytes(settings.max_message_bytes.max(0) as usize);
    let rules = RecordRules {
        timestamp_type: match settings.message_timestamp_type {
            TopicTimestampType::CreateTime => TimestampType::Creation,
            TopicTimestampType::LogAppendTime => TimestampType::LogAppend,
        },
        timestamp_before_max_ms: settings.message_timestamp_before_max_ms,
        timestamp_after_max_ms: settings.message_timestamp_after_max_ms,
        compacted: settings.cleanup_policy.compact,
        topic_partition: &topic_partition,
        ..RecordRules::new(now_ms)
    };
    validate_records(batch, header, &limits, &rules)
        .map(|_| ())
        .map_err(|error| RecordsRejection {
            code: error.kafka_error_code(),
            message: error.to_string(),
            record_errors: error.record_errors().iter().map(|e| (e.batch_index, e.message.clone())).collect(),
        })
}

/// The first record of a stored batch at or after `target_ms`, as (offset, timestamp).
pub fn offset_for_timestamp(batch: &[u8], target_ms: i64) -> Result<Option<(i64, i64)>, ResponseError> {
    let header = stored_header(batch)?;
    find_offset_for_timestamp(batch, &header, &stored_limits(batch), target_ms).map_err(|_| ResponseError::CorruptMessage)
}

/// The record of a stored batch holding its largest timestamp, as (offset, timestamp).
pub fn max_timestamp_record(batch: &[u8]) -> Result<Option<(i64, i64)>, ResponseError> {
    let header = stored_header(batch)?;
    max_timestamp_in(batch, &header, &stored_limits(batch)).map_err(|_| ResponseError::CorruptMessage)
}

fn stored_header(batch: &[u8]) -> Result<BatchHeader, ResponseError> {
    BatchHeader::parse(batch).map_err(|_| ResponseError::CorruptMessage)
}

/// A stored batch already passed validation under its topic's limits when it was produced;
/// the limits here only need to admit it again, so they scale from its own size.
fn stored_limits(batch: &[u8]) -> DecodeLimits {
    DecodeLimits::for_message_max_bytes(batch.len())
}
