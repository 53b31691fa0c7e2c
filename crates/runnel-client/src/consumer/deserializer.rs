//! Turning record keys and values into typed data.
//!
//! Owns: the [`Deserializer`] trait and the counterparts of Kafka's built-in deserializers
//! (`StringDeserializer`, `ByteArrayDeserializer`, `BytesDeserializer`, `IntegerDeserializer`,
//! `LongDeserializer`, `DoubleDeserializer`), with the same wire formats (big-endian numbers,
//! UTF-8 strings) so data written by Java serializers reads back the same.

use bytes::Bytes;

use super::record::Header;
use crate::error::{Error, Result};

/// Decodes a record key or value. `data` is `None` for a null key or value (a tombstone).
///
/// ```
/// use bytes::Bytes;
/// use runnel_client::consumer::{Deserializer, Header};
/// use runnel_client::Result;
///
/// /// Values are comma separated numbers.
/// struct Csv;
/// impl Deserializer<Vec<u32>> for Csv {
///     fn deserialize(&self, topic: &str, _headers: &[Header], data: Option<&Bytes>) -> Result<Vec<u32>> {
///         let text = std::str::from_utf8(data.map(|d| d.as_ref()).unwrap_or_default())
///             .map_err(|e| runnel_client::Error::Protocol(format!("{topic}: {e}")))?;
///         text.split(',').filter(|s| !s.is_empty())
///             .map(|n| n.parse().map_err(|_| runnel_client::Error::Protocol(format!("{topic}: bad number {n:?}"))))
///             .collect()
///     }
/// }
/// assert_eq!(Csv.deserialize("t", &[], Some(&Bytes::from_static(b"1,2"))).unwrap(), vec![1, 2]);
/// ```
pub trait Deserializer<T> {
    fn deserialize(&self, topic: &str, headers: &[Header], data: Option<&Bytes>) -> Result<T>;
}

impl<T, F> Deserializer<T> for F
where
    F: Fn(&str, Option<&Bytes>) -> Result<T>,
{
    fn deserialize(&self, topic: &str, _headers: &[Header], data: Option<&Bytes>) -> Result<T> {
        self(topic, data)
    }
}

fn failed(topic: &str, what: &str, detail: impl std::fmt::Display) -> Error {
    Error::Protocol(format!("cannot deserialize a record of {topic} as {what}: {detail}"))
}

/// UTF-8 text (Kafka's `StringDeserializer` with its default encoding).
#[derive(Debug, Clone, Copy, Default)]
pub struct StringDeserializer;

impl Deserializer<Option<String>> for StringDeserializer {
    fn deserialize(&self, topic: &str, _headers: &[Header], data: Option<&Bytes>) -> Result<Option<String>> {
        data.map(|d| String::from_utf8(d.to_vec()).map_err(|e| failed(topic, "UTF-8 text", e))).transpose()
    }
}

/// The bytes, shared with the fetch buffer (Kafka's `BytesDeserializer`).
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesDeserializer;

impl Deserializer<Option<Bytes>> for BytesDeserializer {
    fn deserialize(&self, _topic: &str, _headers: &[Header], data: Option<&Bytes>) -> Result<Option<Bytes>> {
        Ok(data.cloned())
    }
}

/// An owned copy of the bytes (Kafka's `ByteArrayDeserializer`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ByteArrayDeserializer;

impl Deserializer<Option<Vec<u8>>> for ByteArrayDeserializer {
    fn deserialize(&self, _topic: &str, _headers: &[Header], data: Option<&Bytes>) -> Result<Option<Vec<u8>>> {
        Ok(data.map(|d| d.to_vec()))
    }
}

fn fixed<const N: usize>(topic: &str, what: &str, data: &Bytes) -> Result<[u8; N]> {
    <[u8; N]>::try_from(data.as_ref()).map_err(|_| failed(topic, what, format!("{} bytes, expected {N}", data.len())))
}

/// A big-endian 4-byte integer (Kafka's `IntegerDeserializer`).
#[derive(Debug, Clone, Copy, Default)]
pub struct I32Deserializer;

impl Deserializer<Option<i32>> for I32Deserializer {
    fn deserialize(&self, topic: &str, _headers: &[Header], data: Option<&Bytes>) -> Result<Option<i32>> {
        data.map(|d| fixed::<4>(topic, "an int32", d).map(i32::from_be_bytes)).transpose()
    }
}

/// A big-endian 8-byte integer (Kafka's `LongDeserializer`).
#[derive(Debug, Clone, Copy, Default)]
pub struct I64Deserializer;

impl Deserializer<Option<i64>> for I64Deserializer {
    fn deserialize(&self, topic: &str, _headers: &[Header], data: Option<&Bytes>) -> Result<Option<i64>> {
        data.map(|d| fixed::<8>(topic, "an int64", d).map(i64::from_be_bytes)).transpose()
    }
}

/// A big-endian IEEE 754 double (Kafka's `DoubleDeserializer`).
#[derive(Debug, Clone, Copy, Default)]
pub struct F64Deserializer;

impl Deserializer<Option<f64>> for F64Deserializer {
    fn deserialize(&self, topic: &str, _headers: &[Header], data: Option<&Bytes>) -> Result<Option<f64>> {
        data.map(|d| fixed::<8>(topic, "a double", d).map(f64::from_be_bytes)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(b: &[u8]) -> Bytes {
        Bytes::copy_from_slice(b)
    }

    #[test]
    fn builtins_read_javas_wire_formats() {
        assert_eq!(StringDeserializer.deserialize("t", &[], Some(&bytes("héllo".as_bytes()))).unwrap().as_deref(), Some("héllo"));
        assert_eq!(StringDeserializer.deserialize("t", &[], None).unwrap(), None);
        assert_eq!(I32Deserializer.deserialize("t", &[], Some(&bytes(&[0, 0, 1, 0]))).unwrap(), Some(256));
        assert_eq!(I64Deserializer.deserialize("t", &[], Some(&bytes(&(-2i64).to_be_bytes()))).unwrap(), Some(-2));
        assert_eq!(F64Deserializer.deserialize("t", &[], Some(&bytes(&1.5f64.to_be_bytes()))).unwrap(), Some(1.5));
        assert_eq!(ByteArrayDeserializer.deserialize("t", &[], Some(&bytes(b"ab"))).unwrap(), Some(b"ab".to_vec()));
        assert_eq!(BytesDeserializer.deserialize("t", &[], Some(&bytes(b"ab"))).unwrap(), Some(bytes(b"ab")));
    }

    #[test]
    fn malformed_data_is_an_error_naming_the_topic() {
        let error = I32Deserializer.deserialize("orders", &[], Some(&bytes(&[1, 2]))).unwrap_err().to_string();
        assert!(error.contains("orders") && error.contains("2 bytes"), "{error}");
        let error = StringDeserializer.deserialize("orders", &[], Some(&bytes(&[0xff]))).unwrap_err().to_string();
        assert!(error.contains("UTF-8"), "{error}");
    }

    #[test]
    fn closures_are_deserializers() {
        let len = |_: &str, data: Option<&Bytes>| -> Result<usize> { Ok(data.map_or(0, |d| d.len())) };
        assert_eq!(len.deserialize("t", &[], Some(&bytes(b"abc"))).unwrap(), 3);
    }
}
