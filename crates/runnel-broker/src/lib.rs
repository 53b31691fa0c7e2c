//! The Runnel broker: a Kafka-compatible server over the partition log.
//!
//! Entry point: [`Broker::bind`] then [`Broker::run`]. Module map:
//! - `config`: Kafka's server.properties keys, defaults and topic-level configs;
//! - `server`: listeners, accept loops, background log maintenance, shutdown;
//! - `connection`: one client connection, TLS handshake, frame in, response out;
//! - `session`: who the client is (peer, listener, principal), all handlers see of a connection;
//! - `tls`: an SSL listener's rustls server, keystores, principals, dev certificates;
//! - `sasl`: SASL authentication (PLAIN, SCRAM) before a SASL listener serves, SCRAM credentials;
//! - `handlers`: one module per Kafka API, pure functions of (context, request);
//! - `topics`: the topic registry and partitions (the replication seam lives there);
//! - `admin`: the admin HTTP listener: health, Prometheus metrics, the JSON API, the console;
//! - `acl`: authorization (Kafka's StandardAuthorizer): the pure decision and the persisted ACLs;
//! - `context`: what handlers may read; `producer_ids`, `cluster_meta`: small persisted state.

pub mod acl;
pub mod admin;
pub mod config;
mod cluster_meta;
mod connection;
pub mod context;
mod durable_file;
mod groups;
mod handlers;
mod producer_ids;
mod read_buffers;
mod send_file;
pub mod sasl;
pub mod server;
pub mod session;
pub mod tls;
pub mod topics;

pub use server::{Broker, BrokerError};
