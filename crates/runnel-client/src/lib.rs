//! An async Kafka client on tokio: a producer, a consumer with group membership, and an admin
//! client. It speaks the Kafka protocol through the pinned `kafka-protocol` crate and works
//! against Runnel and Apache Kafka alike.
//!
//! Owns: connections to brokers (one request pipeline per broker), cluster metadata, and the
//! client-side halves of Kafka's protocols. It knows nothing about Runnel's broker internals.

pub mod admin;
pub mod cluster;
pub mod config;
pub mod conn;
pub mod consumer;
pub mod error;
pub mod producer;

pub use config::ClientConfig;
pub use error::{Error, Result};
