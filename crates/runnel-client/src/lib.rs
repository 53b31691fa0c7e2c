//! An async Kafka client on tokio: a producer, a consumer with group membership, and an admin
//! client. It speaks the Kafka protocol through the pinned `kafka-protocol` crate and works
//! against Runnel and Apache Kafka alike.
//!
//! Owns: connections to brokers (one request pipeline per broker), cluster metadata, and the
//! client-side halves of Kafka's protocols. It knows nothing about Runnel's broker internals.
//!
//! Produce keyed records (idempotent by default, partitioned by the Java client's murmur2),
//! then read them back as a member of a consumer group with auto-commit:
//!
//! ```no_run
//! use std::time::Duration;
//! use runnel_client::consumer::{Consumer, ConsumerConfig};
//! use runnel_client::producer::{Producer, ProducerConfig, ProducerRecord};
//!
//! # async fn run() -> runnel_client::Result<()> {
//! let producer = Producer::new(ProducerConfig::new("localhost:9092")).await?;
//! for i in 0..10 {
//!     let record = ProducerRecord::new("test").key(format!("key-{}", i % 5)).value(format!("{{\"n\": {i}}}"));
//!     let stored = producer.send(record).await?.await?;
//!     println!("stored at {}-{}@{}", stored.topic, stored.partition, stored.offset);
//! }
//! producer.close().await?;
//!
//! let mut consumer = Consumer::new(ConsumerConfig::new("localhost:9092", Some("test-group"))).await?;
//! consumer.subscribe(["test"], ())?;
//! let records = consumer.poll(Duration::from_secs(5)).await?;
//! for record in &records {
//!     println!("{}-{}@{}: {:?}", record.topic, record.partition, record.offset, record.value);
//! }
//! consumer.close().await?;
//! # Ok(())
//! # }
//! ```

pub mod admin;
pub mod cluster;
pub mod config;
pub mod conn;
pub mod consumer;
pub mod error;
pub mod producer;

/// This crate's version, as reported to brokers in ApiVersions (KIP-511).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use config::ClientConfig;
pub use error::{Error, Result};
