//! Turning typed keys and values into record bytes.
//!
//! Owns: the `Serializer` trait (Kafka's `Serializer<T>`: a topic-aware conversion to bytes),
//! `RawSerializer` for the byte and string types, and `TypedProducer`, a thin wrapper that
//! serializes and then sends through a [`Producer`].

use std::marker::PhantomData;

use bytes::Bytes;

use super::{DeliveryFuture, Producer, ProducerRecord};
use crate::error::Result;

/// Converts a value of type `T` to the bytes of a record key or value.
///
/// ```
/// use bytes::Bytes;
/// use runnel_client::producer::Serializer;
///
/// /// Big-endian u64, like Kafka's LongSerializer.
/// struct U64Serializer;
///
/// impl Serializer<u64> for U64Serializer {
///     fn serialize(&self, _topic: &str, data: &u64) -> runnel_client::Result<Bytes> {
///         Ok(Bytes::copy_from_slice(&data.to_be_bytes()))
///     }
/// }
///
/// assert_eq!(U64Serializer.serialize("t", &1).unwrap().as_ref(), &[0, 0, 0, 0, 0, 0, 0, 1]);
/// ```
pub trait Serializer<T: ?Sized> {
    fn serialize(&self, topic: &str, data: &T) -> Result<Bytes>;
}

/// Passes bytes through and writes strings as UTF-8 (Kafka's `ByteArraySerializer` and
/// `StringSerializer`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawSerializer;

impl Serializer<Bytes> for RawSerializer {
    fn serialize(&self, _topic: &str, data: &Bytes) -> Result<Bytes> {
        Ok(data.clone())
    }
}

impl Serializer<Vec<u8>> for RawSerializer {
    fn serialize(&self, _topic: &str, data: &Vec<u8>) -> Result<Bytes> {
        Ok(Bytes::copy_from_slice(data))
    }
}

impl Serializer<[u8]> for RawSerializer {
    fn serialize(&self, _topic: &str, data: &[u8]) -> Result<Bytes> {
        Ok(Bytes::copy_from_slice(data))
    }
}

impl Serializer<String> for RawSerializer {
    fn serialize(&self, _topic: &str, data: &String) -> Result<Bytes> {
        Ok(Bytes::copy_from_slice(data.as_bytes()))
    }
}

impl Serializer<str> for RawSerializer {
    fn serialize(&self, _topic: &str, data: &str) -> Result<Bytes> {
        Ok(Bytes::copy_from_slice(data.as_bytes()))
    }
}

impl Serializer<&str> for RawSerializer {
    fn serialize(&self, _topic: &str, data: &&str) -> Result<Bytes> {
        Ok(Bytes::copy_from_slice(data.as_bytes()))
    }
}

/// A producer of typed keys and values: serializes with `KS`/`VS`, then sends.
///
/// ```no_run
/// # async fn demo() -> runnel_client::Result<()> {
/// use runnel_client::producer::{Producer, ProducerConfig, RawSerializer, TypedProducer};
///
/// let producer = Producer::new(ProducerConfig::new("127.0.0.1:9092")).await?;
/// let typed: TypedProducer<str, String> = TypedProducer::new(producer.clone(), RawSerializer, RawSerializer);
/// let delivery = typed.send("greetings", Some("en"), Some(&"hello".to_string())).await?;
/// let metadata = delivery.await?;
/// println!("written at offset {}", metadata.offset);
/// producer.close().await?;
/// # Ok(())
/// # }
/// ```
pub struct TypedProducer<K: ?Sized, V: ?Sized, KS = RawSerializer, VS = RawSerializer> {
    producer: Producer,
    key_serializer: KS,
    value_serializer: VS,
    _types: PhantomData<fn(&K, &V)>,
}

impl<K, V, KS, VS> TypedProducer<K, V, KS, VS>
where
    K: ?Sized,
    V: ?Sized,
    KS: Serializer<K>,
    VS: Serializer<V>,
{
    pub fn new(producer: Producer, key_serializer: KS, value_serializer: VS) -> Self {
        TypedProducer { producer, key_serializer, value_serializer, _types: PhantomData }
    }

    /// The underlying byte producer (for `flush` and `close`).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Serializes and sends a record with this key and value (`None` is null).
    pub async fn send(&self, topic: &str, key: Option<&K>, value: Option<&V>) -> Result<DeliveryFuture> {
        self.send_record(ProducerRecord::new(topic), key, value).await
    }

    /// Serializes `key` and `value` into `record` (which carries the topic and any
    /// partition, headers or timestamp), then sends it.
    pub async fn send_record(&self, mut record: ProducerRecord, key: Option<&K>, value: Option<&V>) -> Result<DeliveryFuture> {
        record.key = key.map(|k| self.key_serializer.serialize(&record.topic, k)).transpose()?;
        record.value = value.map(|v| self.value_serializer.serialize(&record.topic, v)).transpose()?;
        self.producer.send(record).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_serializer_passes_bytes_and_utf8() {
        let s = RawSerializer;
        assert_eq!(Serializer::<str>::serialize(&s, "t", "hé").unwrap().as_ref(), "hé".as_bytes());
        assert_eq!(Serializer::<&str>::serialize(&s, "t", &"x").unwrap().as_ref(), b"x");
        assert_eq!(Serializer::<String>::serialize(&s, "t", &"y".to_string()).unwrap().as_ref(), b"y");
        assert_eq!(Serializer::<Vec<u8>>::serialize(&s, "t", &vec![1, 2]).unwrap().as_ref(), &[1, 2]);
        assert_eq!(Serializer::<[u8]>::serialize(&s, "t", &[3][..]).unwrap().as_ref(), &[3]);
        assert_eq!(Serializer::<Bytes>::serialize(&s, "t", &Bytes::from_static(b"z")).unwrap().as_ref(), b"z");
    }
}
