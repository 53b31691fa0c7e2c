//! How `runnel consume` prints a record.
//!
//! Owns: the text layout of kafka-console-consumer's `DefaultMessageFormatter` (the chosen
//! fields in its order, timestamp, partition, offset, headers, key, value, each followed by
//! the key separator, the value by a newline; `null` for a missing key or value;
//! `NO_HEADERS`; headers as `k:v,k:v`), and the JSON layout: one object per line with
//! topic, partition, offset, timestamp, timestamp_type, key, value and headers. Keys and
//! values are written as they are in text, and in JSON as strings when they are UTF-8,
//! else as `{"base64": "..."}`.

use std::io::{self, Write};

use base64::Engine;
use runnel_client::consumer::{ConsumerRecord, TimestampType};

/// What kafka-console-consumer prints for a null key, value or header value.
const NULL_TEXT: &[u8] = b"null";
const HEADERS_SEPARATOR: &[u8] = b",";
const HEADER_KEY_SEPARATOR: &[u8] = b":";
const NO_HEADERS: &[u8] = b"NO_HEADERS";

/// The fields of the text layout that are optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextFields {
    pub timestamp: bool,
    pub partition: bool,
    pub offset: bool,
    pub headers: bool,
    pub key: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Text { fields: TextFields, separator: Vec<u8> },
    Json,
}

impl Layout {
    /// Writes one record, newline included.
    pub fn write(&self, out: &mut impl Write, record: &ConsumerRecord) -> io::Result<()> {
        match self {
            Layout::Text { fields, separator } => write_text(out, record, fields, separator),
            Layout::Json => {
                out.write_all(json_line(record).as_bytes())?;
                out.write_all(b"\n")
            }
        }
    }
}

fn write_text(out: &mut impl Write, record: &ConsumerRecord, fields: &TextFields, separator: &[u8]) -> io::Result<()> {
    if fields.timestamp {
        write!(out, "{}:{}", timestamp_type_name(record.timestamp_type), record.timestamp)?;
        out.write_all(separator)?;
    }
    if fields.partition {
        write!(out, "Partition:{}", record.partition)?;
        out.write_all(separator)?;
    }
    if fields.offset {
        write!(out, "Offset:{}", record.offset)?;
        out.write_all(separator)?;
    }
    if fields.headers {
        if record.headers.is_empty() {
            out.write_all(NO_HEADERS)?;
        }
        for (i, header) in record.headers.iter().enumerate() {
            if i > 0 {
                out.write_all(HEADERS_SEPARATOR)?;
            }
            out.write_all(header.key.as_bytes())?;
            out.write_all(HEADER_KEY_SEPARATOR)?;
            out.write_all(header.value.as_deref().unwrap_or(NULL_TEXT))?;
        }
        out.write_all(separator)?;
    }
    if fields.key {
        out.write_all(record.key.as_deref().unwrap_or(NULL_TEXT))?;
        out.write_all(separator)?;
    }
    out.write_all(record.value.as_deref().unwrap_or(NULL_TEXT))?;
    out.write_all(b"\n")
}

/// Kafka's `TimestampType.toString()`.
fn timestamp_type_name(kind: TimestampType) -> &'static str {
    match kind {
        TimestampType::CreateTime => "CreateTime",
        TimestampType::LogAppendTime => "LogAppendTime",
    }
}

/// The record as one JSON object, fields in a fixed order.
pub fn json_line(record: &ConsumerRecord) -> String {
    let headers: Vec<String> = record
        .headers
        .iter()
        .map(|h| format!("{{\"key\":{},\"value\":{}}}", json_string(&h.key), json_bytes(h.value.as_deref())))
        .collect();
    format!(
        "{{\"topic\":{},\"partition\":{},\"offset\":{},\"timestamp\":{},\"timestamp_type\":\"{}\",\"key\":{},\"value\":{},\"headers\":[{}]}}",
        json_string(&record.topic),
        record.partition,
        record.offset,
        record.timestamp,
        timestamp_type_name(record.timestamp_type),
        json_bytes(record.key.as_deref()),
        json_bytes(record.value.as_deref()),
        headers.join(",")
    )
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// `null`, a string for UTF-8, else `{"base64":"..."}` so that no byte is lost.
fn json_bytes(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "null".into(),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => json_string(text),
            Err(_) => format!("{{\"base64\":\"{}\"}}", base64::engine::general_purpose::STANDARD.encode(bytes)),
        },
    }
}

#[cfg(test)]
mod tests {
    use runnel_client::consumer::Header;

    use super::*;

    fn record(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[(&str, Option<&[u8]>)]) -> ConsumerRecord {
        ConsumerRecord {
            topic: "t".into(),
            partition: 2,
            offset: 7,
            timestamp: 1_700_000_000_123,
            timestamp_type: TimestampType::CreateTime,
            key: key.map(|k| k.to_vec().into()),
            value: value.map(|v| v.to_vec().into()),
            headers: headers
                .iter()
                .map(|(k, v)| Header { key: k.to_string(), value: v.map(|v| v.to_vec().into()) })
                .collect(),
            leader_epoch: None,
        }
    }

    fn text(layout: &Layout, record: &ConsumerRecord) -> String {
        let mut out = Vec::new();
        layout.write(&mut out, record).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn all_fields() -> TextFields {
        TextFields { timestamp: true, partition: true, offset: true, headers: true, key: true }
    }

    #[test]
    fn value_only_by_default() {
        let layout = Layout::Text { fields: TextFields::default(), separator: b"\t".to_vec() };
        assert_eq!(text(&layout, &record(Some(b"k"), Some(b"v"), &[])), "v\n");
        assert_eq!(text(&layout, &record(None, None, &[])), "null\n");
    }

    #[test]
    fn every_field_in_console_consumer_order() {
        let layout = Layout::Text { fields: all_fields(), separator: b"\t".to_vec() };
        let r = record(Some(b"k"), Some(b"v"), &[("a", Some(b"1")), ("b", None)]);
        assert_eq!(text(&layout, &r), "CreateTime:1700000000123\tPartition:2\tOffset:7\ta:1,b:null\tk\tv\n");
        let bare = record(None, Some(b"v"), &[]);
        assert_eq!(text(&layout, &bare), "CreateTime:1700000000123\tPartition:2\tOffset:7\tNO_HEADERS\tnull\tv\n");
    }

    #[test]
    fn the_key_separator_separates_every_field() {
        let fields = TextFields { key: true, offset: true, ..TextFields::default() };
        let layout = Layout::Text { fields, separator: b" => ".to_vec() };
        assert_eq!(text(&layout, &record(Some(b"k"), Some(b"v"), &[])), "Offset:7 => k => v\n");
    }

    #[test]
    fn json_has_every_field_in_order() {
        let r = record(Some(b"k\"1"), Some(b"v"), &[("h", Some(b"x")), ("h", None)]);
        assert_eq!(
            text(&Layout::Json, &r),
            "{\"topic\":\"t\",\"partition\":2,\"offset\":7,\"timestamp\":1700000000123,\"timestamp_type\":\"CreateTime\",\
             \"key\":\"k\\\"1\",\"value\":\"v\",\"headers\":[{\"key\":\"h\",\"value\":\"x\"},{\"key\":\"h\",\"value\":null}]}\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(&json_line(&r)).unwrap();
        assert_eq!(parsed["key"], "k\"1");
    }

    #[test]
    fn json_keeps_binary_and_null_payloads() {
        let r = record(None, Some(&[0xff, 0x00, 0x41]), &[]);
        let parsed: serde_json::Value = serde_json::from_str(&json_line(&r)).unwrap();
        assert_eq!(parsed["key"], serde_json::Value::Null);
        assert_eq!(parsed["value"]["base64"], "/wBB");
        assert_eq!(parsed["headers"], serde_json::json!([]));
    }
}
