//! `GET /api/topics/{topic}/messages`: the message browser. Reads whole batches from one
//! partition from an offset (or the first offset at a timestamp), decodes their records with
//! runnel-protocol's record reader, and answers up to `limit` records. Every read is bounded:
//! [`MESSAGES_LIMIT_MAX`] records, [`MESSAGES_READ_BYTES_MAX`] bytes of log, and
//! [`MESSAGES_RESPONSE_BYTES_MAX`] bytes of decoded keys, values and headers.

// A refusal is the reply itself; admin requests are rare, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::ops::ControlFlow;

use base64::Engine;
use runnel_protocol::batch::BatchHeader;
use runnel_protocol::records::{find_offset_for_timestamp, for_each_record, DecodeLimits};
use serde::Serialize;
use serde_json::{json as value, Value};

use crate::admin::reply::{bad_request, json, not_found, Reply};
use crate::admin::routes::Call;
use crate::topics::Partition;

pub const MESSAGES_LIMIT_DEFAULT: usize = 20;
pub const MESSAGES_LIMIT_MAX: usize = 500;
/// Bytes of stored batches one request may read.
pub const MESSAGES_READ_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Bytes of decoded record data (keys, values, headers) one answer may carry.
pub const MESSAGES_RESPONSE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Bytes read from the log per step.
const READ_CHUNK_BYTES: usize = 1024 * 1024;

#[derive(Serialize)]
struct HeaderView {
    key: Value,
    value: Value,
}

#[derive(Serialize)]
struct RecordView {
    offset: i64,
    timestamp_ms: i64,
    key: Value,
    value: Value,
    headers: Vec<HeaderView>,
}

#[derive(Serialize)]
struct MessagesView {
    partition: i32,
    records: Vec<RecordView>,
}

/// Bytes as a JSON string when they are UTF-8, else `{"base64": "..."}`; null stays null.
fn bytes_value(bytes: Option<&[u8]>) -> Value {
    match bytes {
        None => Value::Null,
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Value::String(text.to_string()),
            Err(_) => value!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
        },
    }
}

fn number<T: std::str::FromStr>(call: &Call, name: &str) -> Result<Option<T>, Reply> {
    match call.query(name) {
        None | Some("") => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(|_| bad_request(format!("{name} must be an integer, got '{raw}'"))),
    }
}

/// The first offset whose record timestamp is at least `timestamp_ms`; `None` when every
/// record is older (or the log cannot be read).
pub fn offset_for_timestamp(partition: &Partition, timestamp_ms: i64) -> Option<i64> {
    let batch = partition.with_log(|log| log.batch_for_timestamp(timestamp_ms)).ok()??;
    let header = BatchHeader::parse(&batch).ok()?;
    let found = find_offset_for_timestamp(&batch, &header, &DecodeLimits::default(), timestamp_ms).ok()??;
    Some(found.0.max(partition.log_start_offset()))
}

pub fn get(call: &Call) -> Reply {
    let name = call.param("topic");
    let Some(topic) = call.ctx.topics.get(name) else { return not_found(format!("topic '{name}'")) };
    let (index, offset, timestamp, limit) = match (
        number::<i32>(call, "partition"),
        number::<i64>(call, "offset"),
        number::<i64>(call, "timestamp"),
        number::<usize>(call, "limit"),
    ) {
        (Ok(p), Ok(o), Ok(t), Ok(l)) => (p.unwrap_or(0), o, t, l.unwrap_or(MESSAGES_LIMIT_DEFAULT)),
        (Err(reply), ..) | (_, Err(reply), ..) | (_, _, Err(reply), _) | (.., Err(reply)) => return reply,
    };
    if offset.is_some() && timestamp.is_some() {
        return bad_request("give offset or timestamp, not both");
    }
    if limit == 0 || limit > MESSAGES_LIMIT_MAX {
        return bad_request(format!("limit must be between 1 and {MESSAGES_LIMIT_MAX}"));
    }
    let Some(partition) = topic.partition(index) else {
        return not_found(format!("partition {index} of topic '{name}'"));
    };
    let log_end_offset = partition.high_watermark();
    let from = match (offset, timestamp) {
        (Some(offset), _) => offset,
        (None, Some(timestamp)) => offset_for_timestamp(partition, timestamp).unwrap_or(log_end_offset),
        (None, None) => partition.log_start_offset(),
    };
    let from = from.max(partition.log_start_offset());
    json(&MessagesView { partition: index, records: read_records(partition, from, log_end_offset, limit) })
}

/// Up to `limit` records from offset `from` below `log_end_offset`, control batches skipped.
fn read_records(partition: &Partition, from: i64, log_end_offset: i64, limit: usize) -> Vec<RecordView> {
    let limits = DecodeLimits::default();
    let mut records = Vec::new();
    let (mut next, mut read_bytes, mut response_bytes) = (from, 0usize, 0usize);
    while next < log_end_offset && records.len() < limit && read_bytes < MESSAGES_READ_BYTES_MAX {
        let Ok(read) = partition.read(next, READ_CHUNK_BYTES, true) else { break };
        if read.bytes.is_empty() {
            break;
        }
        read_bytes += read.bytes.len();
        let mut rest = read.bytes.as_slice();
        let before = next;
        while let Ok(header) = BatchHeader::parse(rest) {
            let Some(batch) = rest.get(..header.total_bytes()) else { break };
            rest = &rest[header.total_bytes()..];
            next = next.max(header.last_offset() + 1);
            if header.is_control() || header.last_offset() < from {
                continue;
            }
            let walked = for_each_record(batch, &header, &limits, |record| {
                let offset = record.offset(&header);
                if offset < from {
                    return ControlFlow::Continue(());
                }
                if records.len() >= limit || response_bytes >= MESSAGES_RESPONSE_BYTES_MAX {
                    return ControlFlow::Break(());
                }
                let headers: Vec<HeaderView> = record
                    .headers()
                    .map(|h| HeaderView { key: bytes_value(Some(h.key)), value: bytes_value(h.value) })
                    .collect();
                response_bytes += record.size_bytes;
                records.push(RecordView {
                    offset,
                    timestamp_ms: record.timestamp(&header),
                    key: bytes_value(record.key),
                    value: bytes_value(record.value),
                    headers,
                });
                ControlFlow::Continue(())
            });
            if walked.is_err() || records.len() >= limit || response_bytes >= MESSAGES_RESPONSE_BYTES_MAX {
                return records;
            }
        }
        if next == before {
            break;
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_bytes_are_strings_and_others_base64() {
        assert_eq!(bytes_value(Some(b"hello")), Value::String("hello".into()));
        assert_eq!(bytes_value(Some(&[0xff, 0x00])), value!({ "base64": "/wA=" }));
        assert_eq!(bytes_value(None), Value::Null);
    }
}
