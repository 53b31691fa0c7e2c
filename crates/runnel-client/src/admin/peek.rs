//! Reading one record's position and timestamp: the first record at or after an offset.
//!
//! Owns: a minimal one-shot Fetch (no session, no wait) and the scan of the returned batches
//! for that record. This is what "lag in time" needs: the age of the oldest record a group
//! has not consumed is now minus the timestamp of the record at its committed offset.
//! Control batches (transaction markers) and records compacted away are skipped; a
//! LogAppendTime batch gives every record the batch's max timestamp, as Kafka's consumer does.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest};
use kafka_protocol::records::RecordBatchDecoder;

use super::offsets::clone_error;
use super::topics::topic_name;
use super::Admin;
use crate::consumer::TopicPartition;
use crate::error::{Error, Result};

/// Bytes asked for per partition: Kafka returns at least one whole batch even when it is
/// larger (KIP-74), so this only bounds how much beyond the first batch comes back.
const PEEK_PARTITION_BYTES: i32 = 64 * 1024;
/// Bound on one peek response across partitions.
const PEEK_RESPONSE_BYTES: i32 = 4 * 1024 * 1024;
/// Fetches per partition before giving up on finding a data record (a long run of
/// transaction markers or compacted-away records).
const PEEK_ROUNDS_MAX: usize = 8;
/// v2 record batch header: offsets of the fields read here and the header's length.
const BATCH_LENGTH_AT: usize = 8;
const BATCH_PREFIX_BYTES: usize = 12;
const MAGIC_AT: usize = 16;
const ATTRIBUTES_AT: usize = 21;
const LAST_OFFSET_DELTA_AT: usize = 23;
const MAX_TIMESTAMP_AT: usize = 35;
const BATCH_HEADER_BYTES: usize = 61;
const ATTRIBUTE_LOG_APPEND_TIME: i16 = 0x08;
const ATTRIBUTE_CONTROL: i16 = 0x20;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const LEADER_NOT_AVAILABLE: i16 = 5;
/// Errors after which the partition's leader is looked up again.
const LEADER_ERRORS: [i16; 4] = [UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, 6, 74];

/// Where the first record at or after an offset is, and when it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPosition {
    pub offset: i64,
    /// Milliseconds since the epoch: the producer's time, or the broker's for LogAppendTime.
    pub timestamp: i64,
}

/// What one scan of fetched bytes found.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    Found(RecordPosition),
    /// Only markers or earlier records: fetch again from here.
    ContinueAt(i64),
    /// Nothing at or after the offset yet.
    End,
}

impl Admin {
    /// For each partition, the first record at or after the offset, or `None` when the
    /// partition has no record there yet; one result per partition.
    ///
    /// ```no_run
    /// use std::collections::BTreeMap;
    /// use runnel_client::admin::{Admin, TopicPartition};
    ///
    /// # async fn run(admin: Admin, now_ms: i64) -> runnel_client::Result<()> {
    /// let committed = BTreeMap::from([(TopicPartition::new("orders", 0), 42)]);
    /// for (tp, found) in admin.first_records_at(&committed).await? {
    ///     if let Some(record) = found? {
    ///         println!("{tp}: oldest unconsumed record is {} ms old", now_ms - record.timestamp);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn first_records_at(
        &self,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Result<Option<RecordPosition>>>> {
        let mut results = BTreeMap::new();
        let mut positions: BTreeMap<TopicPartition, i64> = offsets.clone();
        let mut rounds = 0;
        let retry = self.retry();
        while !positions.is_empty() {
            rounds += 1;
            let topics: Vec<String> =
                positions.keys().map(|tp| tp.topic.clone()).collect::<BTreeSet<_>>().into_iter().collect();
            let metadata = self.cluster.refresh(Some(&topics), false).await?;
            let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
            let mut last_error = None;
            for (tp, &offset) in &positions {
                match metadata.partition(&tp.topic, tp.partition) {
                    Some(p) if p.leader >= 0 => by_leader.entry(p.leader).or_default().push((tp.clone(), offset)),
                    Some(_) => {
                        last_error = Some(Error::kafka(LEADER_NOT_AVAILABLE, None, format!("read {tp} at {offset}")))
                    }
                    None => {
                        let error = Error::kafka(UNKNOWN_TOPIC_OR_PARTITION, None, format!("read {tp} at {offset}"));
                        results.insert(tp.clone(), Err(error));
                    }
                }
            }
            for (leader, partitions) in by_leader {
                let answers = match self.peek_on(leader, &partitions).await {
                    Ok(answers) => answers,
                    Err(error) if error.is_retriable() => {
                        last_error = Some(error);
                        continue;
                    }
                    Err(error) => return Err(error),
                };
                for (tp, answer) in answers {
                    match answer {
                        Ok(Scan::Found(position)) => {
                            results.insert(tp, Ok(Some(position)));
                        }
                        Ok(Scan::End) => {
                            results.insert(tp, Ok(None));
                        }
                        Ok(Scan::ContinueAt(next)) if rounds < PEEK_ROUNDS_MAX => {
                            positions.insert(tp, next);
                        }
                        Ok(Scan::ContinueAt(next)) => {
                            let error = Error::NotFound(format!(
                                "a data record in {tp} between offsets {} and {next}",
                                offsets[&tp]
                            ));
                            results.insert(tp, Err(error));
                        }
                        Err(error) if error.code().is_some_and(|c| LEADER_ERRORS.contains(&c)) => {
                            last_error = Some(error)
                        }
                        Err(error) => {
                            results.insert(tp, Err(error));
                        }
                    }
                }
            }
            positions.retain(|tp, _| !results.contains_key(tp));
            if positions.is_empty() {
                break;
            }
            let failure = match last_error {
                Some(error) => retry.pause(error).await.err(),
                None if rounds >= PEEK_ROUNDS_MAX => {
                    Some(Error::Protocol(format!("no Fetch answer after {rounds} requests")))
                }
                None => None,
            };
            if let Some(error) = failure {
                for tp in std::mem::take(&mut positions).into_keys() {
                    results.insert(tp, Err(clone_error(&error)));
                }
            }
        }
        Ok(results)
    }

    async fn peek_on(
        &self,
        leader: i32,
        partitions: &[(TopicPartition, i64)],
    ) -> Result<Vec<(TopicPartition, Result<Scan>)>> {
        let connection = self.cluster.broker(leader).await?;
        let mut by_topic: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
        for (tp, offset) in partitions {
            by_topic.entry(&tp.topic).or_default().push(
                FetchPartition::default()
                    .with_partition(tp.partition)
                    .with_current_leader_epoch(-1)
                    .with_fetch_offset(*offset)
                    .with_last_fetched_epoch(-1)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(PEEK_PARTITION_BYTES),
            );
        }
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_min_bytes(0)
            .with_max_bytes(PEEK_RESPONSE_BYTES)
            .with_isolation_level(0)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(
                by_topic
                    .into_iter()
                    .map(|(topic, partitions)| {
                        FetchTopic::default().with_topic(topic_name(topic)).with_partitions(partitions)
                    })
                    .collect(),
            );
        let response = connection.send(request).await?;
        crate::error::check(response.error_code, None, format!("fetch from broker {leader}"))?;
        let wanted: BTreeMap<&TopicPartition, i64> = partitions.iter().map(|(tp, o)| (tp, *o)).collect();
        let mut answers = Vec::new();
        for topic in response.responses {
            for p in topic.partitions {
                let tp = TopicPartition::new(topic.topic.0.to_string(), p.partition_index);
                let Some(&offset) = wanted.get(&tp) else { continue };
                let answer = crate::error::check(p.error_code, None, format!("read {tp} at {offset}"))
                    .and_then(|()| scan(&p.records.unwrap_or_default(), offset))
                    .map_err(|e| match e {
                        Error::Protocol(text) => Error::Protocol(format!("{tp} at {offset}: {text}")),
                        other => other,
                    });
                answers.push((tp, answer));
            }
        }
        Ok(answers)
    }
}

/// Finds the first data record at or after `target` in fetched batches. A trailing partial
/// batch (the fetch size cut it) is ignored.
fn scan(records: &Bytes, target: i64) -> Result<Scan> {
    let mut rest = records.clone();
    let mut next = None;
    while rest.len() >= BATCH_PREFIX_BYTES {
        let batch_length = read_i32(&rest, BATCH_LENGTH_AT);
        let total = usize::try_from(batch_length).ok().and_then(|l| l.checked_add(BATCH_PREFIX_BYTES));
        let Some(total) = total.filter(|&t| t >= BATCH_HEADER_BYTES) else {
            return Err(Error::Protocol(format!("record batch length {batch_length}")));
        };
        if rest.len() < total {
            break;
        }
        let batch = rest.split_to(total);
        let magic = batch[MAGIC_AT];
        if magic != 2 {
            return Err(Error::Protocol(format!("record batch format v{magic} (only v2 is read)")));
        }
        let base_offset = read_i64(&batch, 0);
        let attributes = i16::from_be_bytes([batch[ATTRIBUTES_AT], batch[ATTRIBUTES_AT + 1]]);
        let last_offset = base_offset.saturating_add(i64::from(read_i32(&batch, LAST_OFFSET_DELTA_AT)));
        next = Some(last_offset.saturating_add(1));
        if last_offset < target || attributes & ATTRIBUTE_CONTROL != 0 {
            continue;
        }
        let decoded = RecordBatchDecoder::decode(&mut batch.clone())
            .map_err(|e| Error::Protocol(format!("record batch at offset {base_offset}: {e:#}")))?;
        if let Some(record) = decoded.records.iter().find(|r| r.offset >= target) {
            let timestamp = if attributes & ATTRIBUTE_LOG_APPEND_TIME != 0 {
                read_i64(&batch, MAX_TIMESTAMP_AT)
            } else {
                record.timestamp
            };
            return Ok(Scan::Found(RecordPosition { offset: record.offset, timestamp }));
        }
    }
    Ok(next.map_or(Scan::End, Scan::ContinueAt))
}

fn read_i32(bytes: &[u8], at: usize) -> i32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    i32::from_be_bytes(word)
}

fn read_i64(bytes: &[u8], at: usize) -> i64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    i64::from_be_bytes(word)
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

    use super::*;

    /// Records of one batch must keep offset - sequence constant, or the encoder splits
    /// them into several batches; base sequence -1 means no idempotent producer.
    fn record(offset: i64, timestamp: i64, first_offset: i64) -> Record {
        Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: (offset - first_offset) as i32 - 1,
            timestamp,
            key: None,
            value: Some(Bytes::from_static(b"v")),
            headers: Default::default(),
            delete_horizon: false,
        }
    }

    fn batch(records: &[Record], compression: Compression) -> BytesMut {
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(&mut buf, records, &RecordEncodeOptions { version: 2, compression }).unwrap();
        assert_eq!(RecordBatchDecoder::decode_batch_info(&mut buf.clone().freeze()).unwrap().len(), 1, "one batch");
        buf
    }

    #[test]
    fn finds_the_record_inside_a_batch_and_its_own_timestamp() {
        let bytes =
            batch(&[record(10, 1000, 10), record(11, 1100, 10), record(12, 1200, 10)], Compression::None).freeze();
        assert_eq!(scan(&bytes, 11).unwrap(), Scan::Found(RecordPosition { offset: 11, timestamp: 1100 }));
        assert_eq!(scan(&bytes, 5).unwrap(), Scan::Found(RecordPosition { offset: 10, timestamp: 1000 }));
    }

    #[test]
    fn reads_compressed_batches() {
        let bytes = batch(&[record(0, 5, 0), record(1, 6, 0)], Compression::Gzip).freeze();
        assert_eq!(scan(&bytes, 1).unwrap(), Scan::Found(RecordPosition { offset: 1, timestamp: 6 }));
    }

    #[test]
    fn log_append_time_batches_use_the_batch_max_timestamp() {
        let mut bytes = batch(&[record(0, 5, 0), record(1, 9, 0)], Compression::None);
        // Set the LogAppendTime attribute bit; the CRC is not checked by the scan's header
        // reads, but the decoder checks it, so recompute it over attributes..end.
        let attributes =
            i16::from_be_bytes([bytes[ATTRIBUTES_AT], bytes[ATTRIBUTES_AT + 1]]) | ATTRIBUTE_LOG_APPEND_TIME;
        bytes[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
        let crc = crc32c::crc32c(&bytes[ATTRIBUTES_AT..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(scan(&bytes.freeze(), 0).unwrap(), Scan::Found(RecordPosition { offset: 0, timestamp: 9 }));
    }

    #[test]
    fn batches_before_the_offset_and_partial_tails_mean_fetch_again() {
        let mut bytes = batch(&[record(0, 5, 0), record(1, 6, 0)], Compression::None);
        let second = batch(&[record(2, 7, 2)], Compression::None);
        bytes.extend_from_slice(&second[..second.len() - 3]);
        assert_eq!(scan(&bytes.freeze(), 2).unwrap(), Scan::ContinueAt(2));
    }

    #[test]
    fn empty_fetch_is_the_end() {
        assert_eq!(scan(&Bytes::new(), 7).unwrap(), Scan::End);
    }

    #[test]
    fn hostile_batch_length_is_an_error_not_a_panic() {
        let mut bytes = batch(&[record(0, 5, 0)], Compression::None);
        bytes[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(scan(&bytes.freeze(), 0).is_err());
        let mut short = batch(&[record(0, 5, 0)], Compression::None);
        short[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&3i32.to_be_bytes());
        assert!(scan(&short.freeze(), 0).is_err());
    }
}
