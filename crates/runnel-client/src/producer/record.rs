//! What a caller hands the producer and what it gets back.
//!
//! Owns: `ProducerRecord` (topic, optional partition, key, value, headers, timestamp) with
//! builder helpers, and `RecordMetadata`, the outcome of a delivered record.

use bytes::Bytes;

/// One record to produce. Keys and values are bytes; use
/// [`TypedProducer`](super::TypedProducer) to produce from other types.
///
/// ```
/// use runnel_client::producer::ProducerRecord;
///
/// let record = ProducerRecord::new("orders")
///     .key("customer-7")
///     .value("{\"total\": 12}")
///     .header("trace", "abc")
///     .header("trace", "def") // Kafka allows repeated header keys; both are sent
///     .null_header("tombstone-reason");
/// assert_eq!(record.headers.len(), 3);
/// assert_eq!(record.partition, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerRecord {
    pub topic: String,
    /// A fixed partition; `None` lets the partitioner choose (by key, or sticky).
    pub partition: Option<i32>,
    pub key: Option<Bytes>,
    /// `None` is a null value (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers in order; keys may repeat and values may be null.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Create time in ms since the epoch; `None` stamps the time of `send`.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic` with no key, a null value and no headers.
    pub fn new(topic: impl Into<String>) -> ProducerRecord {
        ProducerRecord { topic: topic.into(), partition: None, key: None, value: None, headers: Vec::new(), timestamp: None }
    }

    pub fn key(mut self, key: impl Into<Bytes>) -> ProducerRecord {
        self.key = Some(key.into());
        self
    }

    pub fn value(mut self, value: impl Into<Bytes>) -> ProducerRecord {
        self.value = Some(value.into());
        self
    }

    pub fn partition(mut self, partition: i32) -> ProducerRecord {
        self.partition = Some(partition);
        self
    }

    pub fn timestamp(mut self, timestamp_ms: i64) -> ProducerRecord {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// Appends a header (an existing header with the same key is kept).
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> ProducerRecord {
        self.headers.push((key.into(), Some(value.into())));
        self
    }

    /// Appends a header whose value is null.
    pub fn null_header(mut self, key: impl Into<String>) -> ProducerRecord {
        self.headers.push((key.into(), None));
        self
    }
}

/// Where a record was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    pub topic: String,
    pub partition: i32,
    /// The record's offset; -1 when it is unknown: with `acks=0`, or when the broker
    /// reported the batch as a duplicate of one it already has (as in Kafka's client).
    pub offset: i64,
    /// The create time the record was sent with, or the broker's append time when the topic
    /// uses `LogAppendTime`.
    pub timestamp: i64,
}
