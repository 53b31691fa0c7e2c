//! What `poll()` hands out: records, their headers, and the per-partition batch.
//!
//! Owns: `TopicPartition`, `ConsumerRecord`, `Records` and the typed view of a record through
//! [`Deserializer`]s. Record keys, values and header values are `Bytes` that share the fetch
//! response's buffer when the batch was not compressed, so handing them out copies nothing.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;

use super::deserializer::Deserializer;
use crate::error::Result;

/// A partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl fmt::Display for TopicPartition {
    /// Kafka's spelling: `topic-3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Who set a record's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// The producer's clock.
    CreateTime,
    /// The broker's clock when it appended the batch (`message.timestamp.type=LogAppendTime`).
    LogAppendTime,
}

/// One record header. Kafka header keys are strings; a key that is not valid UTF-8 is
/// decoded lossily, as Java's `new String(bytes, UTF_8)` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key: String,
    pub value: Option<Bytes>,
}

/// A record as read from a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub timestamp_type: TimestampType,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    /// In wire order; duplicate keys are kept.
    pub headers: Vec<Header>,
    /// The leader epoch of the batch, when the broker recorded one.
    pub leader_epoch: Option<i32>,
}

impl ConsumerRecord {
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }

    /// The key through a deserializer.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use runnel_client::consumer::{ConsumerRecord, StringDeserializer, TimestampType};
    ///
    /// let record = ConsumerRecord {
    ///     topic: "t".into(), partition: 0, offset: 7, timestamp: 0,
    ///     timestamp_type: TimestampType::CreateTime,
    ///     key: Some(Bytes::from_static(b"k")), value: None, headers: vec![], leader_epoch: None,
    /// };
    /// assert_eq!(record.key_as(&StringDeserializer).unwrap().as_deref(), Some("k"));
    /// ```
    pub fn key_as<T>(&self, deserializer: &(impl Deserializer<T> + ?Sized)) -> Result<T> {
        deserializer.deserialize(&self.topic, &self.headers, self.key.as_ref())
    }

    /// The value through a deserializer.
    pub fn value_as<T>(&self, deserializer: &(impl Deserializer<T> + ?Sized)) -> Result<T> {
        deserializer.deserialize(&self.topic, &self.headers, self.value.as_ref())
    }

    /// The record with its key and value deserialized.
    pub fn deserialize<K, V>(
        &self,
        key: &(impl Deserializer<K> + ?Sized),
        value: &(impl Deserializer<V> + ?Sized),
    ) -> Result<TypedRecord<K, V>> {
        Ok(TypedRecord {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            timestamp_type: self.timestamp_type,
            key: self.key_as(key)?,
            value: self.value_as(value)?,
            headers: self.headers.clone(),
        })
    }

    /// The last header with this key (Java's `Headers.lastHeader`).
    pub fn last_header(&self, key: &str) -> Option<&Header> {
        self.headers.iter().rev().find(|h| h.key == key)
    }
}

/// A record whose key and value went through [`Deserializer`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedRecord<K, V> {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub timestamp_type: TimestampType,
    pub key: K,
    pub value: V,
    pub headers: Vec<Header>,
}

/// The records one `poll()` returned, grouped by partition, each partition's in offset
/// order. Java's `ConsumerRecords`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Records {
    by_partition: BTreeMap<TopicPartition, Vec<ConsumerRecord>>,
    count: usize,
}

impl Records {
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Number of records over all partitions.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The partitions that have records here.
    pub fn partitions(&self) -> impl Iterator<Item = &TopicPartition> {
        self.by_partition.keys()
    }

    /// The records of one partition (empty if it has none here).
    pub fn records(&self, partition: &TopicPartition) -> &[ConsumerRecord] {
        self.by_partition.get(partition).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every record, partition by partition.
    pub fn iter(&self) -> impl Iterator<Item = &ConsumerRecord> {
        self.by_partition.values().flatten()
    }

    /// Each partition with the offset after its last record here: what a commit of exactly
    /// this batch would store.
    pub fn next_offsets(&self) -> BTreeMap<TopicPartition, i64> {
        self.by_partition
            .iter()
            .filter_map(|(tp, records)| records.last().map(|r| (tp.clone(), r.offset + 1)))
            .collect()
    }

    /// Every record with its key and value deserialized.
    pub fn deserialize<K, V>(
        &self,
        key: &(impl Deserializer<K> + ?Sized),
        value: &(impl Deserializer<V> + ?Sized),
    ) -> Result<Vec<TypedRecord<K, V>>> {
        self.iter().map(|r| r.deserialize(key, value)).collect()
    }

    pub(crate) fn push(&mut self, partition: TopicPartition, records: Vec<ConsumerRecord>) {
        if records.is_empty() {
            return;
        }
        self.count += records.len();
        self.by_partition.entry(partition).or_default().extend(records);
    }
}

impl IntoIterator for Records {
    type Item = ConsumerRecord;
    type IntoIter = std::iter::Flatten<std::collections::btree_map::IntoValues<TopicPartition, Vec<ConsumerRecord>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.by_partition.into_values().flatten()
    }
}

impl<'a> IntoIterator for &'a Records {
    type Item = &'a ConsumerRecord;
    type IntoIter = std::iter::Flatten<std::collections::btree_map::Values<'a, TopicPartition, Vec<ConsumerRecord>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.by_partition.values().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(topic: &str, partition: i32, offset: i64) -> ConsumerRecord {
        ConsumerRecord {
            topic: topic.into(),
            partition,
            offset,
            timestamp: 0,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: Some(Bytes::from(format!("v{offset}"))),
            headers: vec![],
            leader_epoch: None,
        }
    }

    #[test]
    fn records_group_by_partition_and_report_next_offsets() {
        let mut records = Records::default();
        let a = TopicPartition::new("a", 0);
        let b = TopicPartition::new("a", 1);
        records.push(b.clone(), vec![record("a", 1, 5)]);
        records.push(a.clone(), vec![record("a", 0, 1), record("a", 0, 2)]);
        records.push(a.clone(), vec![]);
        assert_eq!(records.count(), 3);
        assert_eq!(records.records(&a).len(), 2);
        assert_eq!(records.partitions().cloned().collect::<Vec<_>>(), vec![a.clone(), b.clone()]);
        assert_eq!(records.next_offsets(), BTreeMap::from([(a, 3), (b, 6)]));
        assert_eq!(records.into_iter().map(|r| r.offset).collect::<Vec<_>>(), vec![1, 2, 5]);
    }

    #[test]
    fn topic_partition_displays_like_kafka() {
        assert_eq!(TopicPartition::new("orders", 3).to_string(), "orders-3");
    }
}
