//! The consumer: Kafka's classic-protocol `KafkaConsumer` for tokio.
//!
//! Owns: group membership with the eager classic protocol (JoinGroup/SyncGroup, the `range`
//! and `roundrobin` assignors, heartbeats, LeaveGroup), fetching and decoding records,
//! positions and offset commits, and the rebalance listener. It shares a group with Java,
//! kafka-python and librdkafka consumers that offer one of the same assignors, and works
//! against Runnel and Apache Kafka alike.
//!
//! Layout: `consumer` (the `Consumer` and the order of work in `poll()`), `group` (the
//! member's side of the group protocol), `fetcher`, `buffer` and `decode` (records), `offsets`
//! (ListOffsets), `subscription` (positions), `assignor` and `protocol` (what the leader
//! runs and what members exchange), `config`, `record`, `deserializer`, `listener`,
//! `stream`.
//!
//! ```no_run
//! use std::time::Duration;
//! use runnel_client::config::parse_properties;
//! use runnel_client::consumer::{Consumer, ConsumerConfig, StringDeserializer};
//!
//! # async fn run() -> runnel_client::Result<()> {
//! let props = parse_properties("bootstrap.servers=127.0.0.1:9092\ngroup.id=audit\nauto.offset.reset=earliest\n")?;
//! let mut consumer = Consumer::new(ConsumerConfig::from_properties(&props)?).await?;
//! consumer.subscribe(["events"], ())?;
//! let records = consumer.poll(Duration::from_secs(5)).await?;
//! for record in records.deserialize(&StringDeserializer, &StringDeserializer)? {
//!     println!("{:?} = {:?}", record.key, record.value);
//! }
//! consumer.close().await?;
//! # Ok(())
//! # }
//! ```

mod assignor;
mod buffer;
mod codes;
mod config;
#[allow(clippy::module_inception)]
mod consumer;
mod decode;
mod deserializer;
mod fetcher;
mod group;
mod listener;
mod offsets;
pub mod protocol;
mod record;
mod stream;
mod subscription;

pub use assignor::{AssignmentStrategy, MemberSubscription};
pub use config::{
    ConsumerConfig, IsolationLevel, OffsetReset, AUTO_COMMIT_INTERVAL_MS_DEFAULT, CLOSE_TIMEOUT_MS_DEFAULT,
    DEFAULT_API_TIMEOUT_MS_DEFAULT, FETCH_MAX_BYTES_DEFAULT, FETCH_MAX_WAIT_MS_DEFAULT, FETCH_MIN_BYTES_DEFAULT,
    GROUP_INSTANCE_ID_CHARS_MAX, HEARTBEAT_INTERVAL_MS_DEFAULT, MAX_PARTITION_FETCH_BYTES_DEFAULT,
    MAX_POLL_INTERVAL_MS_DEFAULT, MAX_POLL_RECORDS_DEFAULT, SESSION_TIMEOUT_MS_DEFAULT,
};
pub use consumer::{Consumer, GroupMetadata, MISSING_TOPIC_REFRESH_MS};
pub use deserializer::{
    ByteArrayDeserializer, BytesDeserializer, Deserializer, F64Deserializer, I32Deserializer, I64Deserializer,
    StringDeserializer,
};
pub use group::OffsetAndMetadata;
pub use listener::RebalanceListener;
pub use offsets::{OffsetAndTimestamp, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};
pub use protocol::{CONSUMER_PROTOCOL_VERSION_MAX, PROTOCOL_TYPE};
pub use record::{ConsumerRecord, Header, Records, TimestampType, TopicPartition, TypedRecord};
pub use stream::{RecordStream, STREAM_POLL_TIMEOUT_MS};
