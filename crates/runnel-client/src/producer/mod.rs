//! The producer: sends records to Kafka (or Runnel) the way Kafka's Java producer does.
//!
//! Owns: the public producer API and the path of one `send`: wait (at most `max.block.ms`)
//! for the topic's metadata and for buffer space, serialize-size checks, choose the
//! partition (murmur2 of the key, or sticky), and append to the accumulator. A background
//! task (`sender`) batches, sends, retries and reports each record's outcome through the
//! [`DeliveryFuture`] that `send` returned.
//!
//! Differences from Kafka's Java producer: no transactions (`transactional.id` is refused),
//! no adaptive partitioning (the sticky partitioner picks uniformly among partitions with a
//! leader), codec levels fixed at Kafka's defaults, broker throttling (`throttle_time_ms`)
//! not honoured, and a retried batch after an expired or failed sequenced batch always
//! starts a new epoch (Kafka first waits to learn whether the sequence was written).
//!
//! Module map: `config` (settings and their validation), `record` (what goes in and comes
//! out), `partitioner`, `batch` (v2 record batch encoding), `accumulator` (per-partition
//! batches and sequence numbers), `sender` (requests, retries, idempotence), `serializer`
//! (typed keys and values).
//!
//! ```no_run
//! use runnel_client::producer::{Producer, ProducerConfig, ProducerRecord};
//!
//! # async fn demo() -> runnel_client::Result<()> {
//! let producer = Producer::new(ProducerConfig::new("127.0.0.1:9092")).await?;
//! let delivery = producer.send(ProducerRecord::new("events").key("user-1").value("signed in")).await?;
//! let metadata = delivery.await?;
//! println!("{}-{}@{}", metadata.topic, metadata.partition, metadata.offset);
//! producer.close().await?;
//! # Ok(())
//! # }
//! ```

mod accumulator;
pub mod batch;
mod config;
pub mod partitioner;
mod record;
mod sender;
mod serializer;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{oneshot, Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use accumulator::{Accumulator, AccumulatorConfig, PendingRecord, Placement};
use batch::RecordData;
use partitioner::TopicLayout;

pub use config::{Acks, Compression, ProducerConfig};
pub use config::{
    BATCH_SIZE_DEFAULT, BUFFER_MEMORY_DEFAULT, DELIVERY_TIMEOUT_MS_DEFAULT, LINGER_MS_DEFAULT, MAX_BLOCK_MS_DEFAULT,
    MAX_IN_FLIGHT_DEFAULT, MAX_IN_FLIGHT_FOR_IDEMPOTENCE, MAX_REQUEST_SIZE_DEFAULT, RETRIES_DEFAULT,
    RETRY_BACKOFF_MAX_MS_DEFAULT,
};
pub use record::{ProducerRecord, RecordMetadata};
pub use serializer::{RawSerializer, Serializer, TypedProducer};

/// Kafka's error code for a record larger than `max.request.size` (or the broker's limit).
pub const MESSAGE_TOO_LARGE: i16 = 10;
/// Kafka's error code for an invalid topic name.
const INVALID_TOPIC_EXCEPTION: i16 = 17;
/// Kafka's error code for a timestamp it refuses.
const INVALID_TIMESTAMP: i16 = 32;
/// Metadata errors after which `send` stops waiting for a topic.
const TOPIC_FATAL_CODES: [i16; 2] = [
    INVALID_TOPIC_EXCEPTION,
    29, // TOPIC_AUTHORIZATION_FAILED
];
/// Extra time `close` allows beyond `delivery.timeout.ms` for the last responses.
const CLOSE_GRACE_MS: u64 = 5_000;

/// The outcome of one sent record. Await it for the record's [`RecordMetadata`] or the
/// error that stopped it (a broker error code, a delivery timeout, the producer closing).
#[must_use = "the record's outcome is only known by awaiting its DeliveryFuture"]
pub struct DeliveryFuture {
    outcome: oneshot::Receiver<Result<RecordMetadata>>,
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.outcome).poll(cx) {
            Poll::Ready(Ok(outcome)) => Poll::Ready(outcome),
            // The sender went away without answering: the producer was dropped or stopped.
            Poll::Ready(Err(_)) => Poll::Ready(Err(Error::Closed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// State shared by the producer handles and the sender task.
struct Shared {
    config: ProducerConfig,
    accumulator_config: AccumulatorConfig,
    cluster: Cluster,
    accumulator: Mutex<Accumulator>,
    /// Wakes the sender: a new or full batch, a flush, a close.
    wake: Notify,
    /// Wakes `flush` callers whenever records got their outcome.
    progress: Notify,
    /// `buffer.memory`, in bytes of records not yet resolved.
    memory: Arc<Semaphore>,
    /// Set once the producer cannot go on (fenced, not authorized); later sends fail with it.
    fatal: Mutex<Option<Error>>,
    /// Cancelled to stop the sender at once, failing what is left.
    stop: CancellationToken,
    /// Cancelled by the sender when it exits.
    finished: CancellationToken,
}

impl Shared {
    fn fatal_error(&self) -> Option<Error> {
        lock(&self.fatal).as_ref().map(replicate_error)
    }

    fn set_fatal(&self, error: &Error) {
        lock(&self.fatal).get_or_insert_with(|| replicate_error(error));
    }

    fn begin_close(&self) {
        lock(&self.accumulator).begin_close();
        self.wake.notify_one();
    }
}

/// An asynchronous Kafka producer. Cheap to clone; clones share one sender task, and
/// dropping the last clone flushes what is queued in the background.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Like Java's close(): what was accepted is still sent, by the sender task, which
        // ends once everything is resolved.
        self.shared.begin_close();
    }
}

impl Producer {
    /// Validates `config`, connects to the cluster and starts the sender task. Must be
    /// called inside a tokio runtime.
    pub async fn new(config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let cluster = Cluster::connect(config.client.clone()).await?;
        Producer::with_cluster(config, cluster)
    }

    /// A producer over an existing [`Cluster`] (shared with a consumer or admin client).
    /// `config.client` should describe the same cluster.
    pub fn with_cluster(config: ProducerConfig, cluster: Cluster) -> Result<Producer> {
        config.validate()?;
        let accumulator_config = AccumulatorConfig {
            batch_size: config.batch_size,
            linger: Duration::from_millis(config.linger_ms),
            delivery_timeout: Duration::from_millis(config.delivery_timeout_ms),
            compression: config.compression,
            idempotent: config.idempotence_enabled(),
            one_in_flight_per_partition: config.max_in_flight_requests_per_connection == 1,
        };
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let shared = Arc::new(Shared {
            memory: Arc::new(Semaphore::new(config.buffer_memory.min(Semaphore::MAX_PERMITS))),
            accumulator: Mutex::new(Accumulator::new(accumulator_config, seed)),
            accumulator_config,
            config,
            cluster,
            wake: Notify::new(),
            progress: Notify::new(),
            fatal: Mutex::new(None),
            stop: CancellationToken::new(),
            finished: CancellationToken::new(),
        });
        tokio::spawn(sender::run(shared.clone()));
        Ok(Producer { inner: Arc::new(Handle { shared }) })
    }

    /// The producer's settings.
    pub fn config(&self) -> &ProducerConfig {
        &self.shared().config
    }

    /// The cluster view this producer uses.
    pub fn cluster(&self) -> &Cluster {
        &self.shared().cluster
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// Queues `record` for sending and returns the future of its outcome.
    ///
    /// Waits, at most `max.block.ms` in all, for the topic's metadata (auto-creating the
    /// topic where the broker allows it) and for `buffer.memory` space. Fails at once for a
    /// record larger than `max.request.size` (error code `MESSAGE_TOO_LARGE`, as Kafka's
    /// `RecordTooLargeException`) and after `close`.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        let shared = self.shared();
        let config = &shared.config;
        if let Some(error) = shared.fatal_error() {
            return Err(error);
        }
        if lock(&shared.accumulator).is_closing() {
            return Err(Error::Closed);
        }
        if record.topic.is_empty() {
            return Err(Error::kafka(INVALID_TOPIC_EXCEPTION, Some("the topic name is empty".into()), "send"));
        }
        // Kafka's ProducerRecord refuses these before anything is sent.
        if let Some(timestamp) = record.timestamp.filter(|&t| t < 0) {
            return Err(Error::kafka(
                INVALID_TIMESTAMP,
                Some(format!("Invalid timestamp: {timestamp}. Timestamp should always be non-negative or null.")),
                "send",
            ));
        }
        if let Some(partition) = record.partition.filter(|&p| p < 0) {
            return Err(Error::NotFound(format!("Invalid partition given with record: {partition}")));
        }
        let deadline = later(Instant::now(), Duration::from_millis(config.max_block_ms));
        let (partition_count, available) = self.wait_for_topic(&record.topic, record.partition, deadline).await?;

        let ProducerRecord { topic, partition, key, value, headers, timestamp } = record;
        let timestamp = timestamp.unwrap_or_else(now_ms);
        let data = RecordData { key, value, headers, timestamp };
        let size = batch::single_record_batch_upper_bound(&data);
        if size > config.max_request_size {
            return Err(too_large(size, config.max_request_size, "max.request.size"));
        }
        if size > config.buffer_memory {
            return Err(too_large(size, config.buffer_memory, "buffer.memory"));
        }
        let permits = u32::try_from(size).map_err(|_| too_large(size, u32::MAX as usize, "buffer.memory"))?;
        let memory = tokio::time::timeout_at(deadline.into(), shared.memory.clone().acquire_many_owned(permits))
            .await
            .map_err(|_| {
                Error::Timeout(format!(
                    "Failed to allocate {size} bytes within the configured max blocking time {} ms (buffer.memory={})",
                    config.max_block_ms, config.buffer_memory
                ))
            })?
            .map_err(|_| Error::Closed)?;

        let placement = match partition {
            Some(partition) => Placement::Fixed(partition),
            None => match data.key.as_deref().filter(|_| !config.partitioner_ignore_keys) {
                Some(key) => Placement::Fixed(
                    partitioner::partition_for_key(key, partition_count)
                        .ok_or_else(|| Error::NotFound(format!("partitions of topic {topic}")))?,
                ),
                None => Placement::Sticky(TopicLayout { partition_count, available: &available }),
            },
        };
        let (reply, outcome) = oneshot::channel();
        let pending = PendingRecord::new(data, reply, Some(memory));
        let appended = {
            let mut accumulator = lock(&shared.accumulator);
            if accumulator.is_closing() {
                return Err(Error::Closed);
            }
            accumulator.append(&topic, placement, pending, Instant::now())
        };
        let (outcome_of_append, _) =
            appended.ok_or_else(|| Error::NotFound(format!("a partition of topic {topic}")))?;
        if outcome_of_append.new_batch || outcome_of_append.batch_full {
            shared.wake.notify_one();
        }
        Ok(DeliveryFuture { outcome })
    }

    /// Waits until the topic has partitions in the metadata (and `partition`, if given,
    /// exists). Returns the partition count and the partitions that have a leader.
    async fn wait_for_topic(&self, topic: &str, partition: Option<i32>, deadline: Instant) -> Result<(usize, Vec<i32>)> {
        let shared = self.shared();
        let backoff = Duration::from_millis(shared.config.client.retry_backoff_ms.max(1));
        let mut refreshed = false;
        loop {
            let metadata = shared.cluster.metadata();
            let mut known_count = None;
            if let Some(info) = metadata.topics.get(topic) {
                if TOPIC_FATAL_CODES.contains(&info.error_code) {
                    return Err(Error::kafka(info.error_code, None, format!("send to topic {topic}")));
                }
                if info.error_code == 0 && !info.partitions.is_empty() {
                    let count = info.partitions.len();
                    known_count = Some(count);
                    if partition.is_none_or(|p| usize::try_from(p).is_ok_and(|p| p < count)) {
                        let available = info.partitions.iter().filter(|p| p.leader >= 0).map(|p| p.partition).collect();
                        return Ok((count, available));
                    }
                }
            }
            let now = Instant::now();
            if now >= deadline {
                let max_block_ms = shared.config.max_block_ms;
                return Err(Error::Timeout(match (partition, known_count) {
                    (Some(p), Some(count)) => format!(
                        "Partition {p} of topic {topic} with partition count {count} is not present in metadata after {max_block_ms} ms."
                    ),
                    _ => format!("Topic {topic} not present in metadata after {max_block_ms} ms."),
                }));
            }
            if refreshed {
                tokio::time::sleep_until(deadline.min(later(now, backoff)).into()).await;
            }
            refreshed = true;
            let topics = [topic.to_string()];
            match tokio::time::timeout_at(deadline.into(), shared.cluster.refresh(Some(&topics), true)).await {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(error)) => tracing::debug!("metadata for {topic}: {error}"),
            }
        }
    }

    /// Sends everything queued now without waiting for `linger.ms`, and waits until every
    /// record accepted before this call has its outcome (which may be an error: flush
    /// itself only fails when the producer is closed under it).
    pub async fn flush(&self) -> Result<()> {
        let shared = self.shared();
        let target = {
            let mut accumulator = lock(&shared.accumulator);
            accumulator.begin_flush();
            accumulator.next_record_id()
        };
        let _flushing = FlushGuard(shared);
        shared.wake.notify_one();
        loop {
            let progress = shared.progress.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            if lock(&shared.accumulator).completed_before(target) {
                return Ok(());
            }
            if shared.finished.is_cancelled() {
                return Err(Error::Closed);
            }
            tokio::select! {
                _ = progress => {}
                _ = shared.finished.cancelled() => {}
            }
        }
    }

    /// Stops accepting records, sends what is queued and waits for the outcomes, at most
    /// `delivery.timeout.ms` plus a short grace (by then every record has its outcome).
    pub async fn close(&self) -> Result<()> {
        let bound = self.shared().config.delivery_timeout_ms.saturating_add(CLOSE_GRACE_MS);
        self.close_timeout(Duration::from_millis(bound)).await
    }

    /// As [`Producer::close`], waiting at most `timeout`; records still unresolved then fail
    /// with [`Error::Closed`] and this returns [`Error::Timeout`].
    pub async fn close_timeout(&self, timeout: Duration) -> Result<()> {
        let shared = self.shared();
        shared.begin_close();
        if tokio::time::timeout(timeout, shared.finished.cancelled()).await.is_ok() {
            return Ok(());
        }
        shared.stop.cancel();
        // The sender fails what is left and exits at its next wake-up, which stop causes.
        let _ = tokio::time::timeout(Duration::from_millis(CLOSE_GRACE_MS), shared.finished.cancelled()).await;
        Err(Error::Timeout(format!("closing the producer ({} ms)", timeout.as_millis())))
    }
}

/// Ends a flush's "ignore linger" even when the flush future is dropped.
struct FlushGuard<'a>(&'a Shared);

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        lock(&self.0.accumulator).end_flush();
    }
}

fn too_large(size: usize, limit: usize, setting: &str) -> Error {
    Error::kafka(
        MESSAGE_TOO_LARGE,
        Some(format!(
            "The message is {size} bytes when serialized which is larger than {limit}, which is the value of the {setting} configuration."
        )),
        "send",
    )
}

/// `instant + duration`, saturating far in the future instead of overflowing (timeouts come
/// from configuration and may be set to "forever", e.g. `max.block.ms=9223372036854775807`).
fn later(instant: Instant, duration: Duration) -> Instant {
    /// About thirty years: "never" for a producer.
    const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
    instant.checked_add(duration.min(FAR_FUTURE)).unwrap_or(instant)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One error, reported to each record of a failed batch. `Error` is not `Clone` (it may
/// hold an `io::Error`), so the copy keeps the kind and text.
fn replicate_error(error: &Error) -> Error {
    match error {
        Error::Io { broker, source } => {
            Error::Io { broker: broker.clone(), source: std::io::Error::new(source.kind(), source.to_string()) }
        }
        Error::Protocol(text) => Error::Protocol(text.clone()),
        Error::Kafka { code, name, message, context } => {
            Error::Kafka { code: *code, name: name.clone(), message: message.clone(), context: context.clone() }
        }
        Error::Timeout(text) => Error::Timeout(text.clone()),
        Error::Config(text) => Error::Config(text.clone()),
        Error::UnsupportedVersion { api, broker } => Error::UnsupportedVersion { api: api.clone(), broker: broker.clone() },
        Error::Closed => Error::Closed,
        Error::NotFound(text) => Error::NotFound(text.clone()),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section leaves the state consistent between statements that cannot
    // panic on input, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_saturates_instead_of_overflowing_on_forever_timeouts() {
        let now = Instant::now();
        assert!(later(now, Duration::from_millis(u64::MAX)) > later(now, Duration::from_secs(3600)));
        assert_eq!(later(now, Duration::from_millis(5)), now + Duration::from_millis(5));
    }

    #[test]
    fn replicated_errors_keep_code_and_text() {
        let original = Error::kafka(10, Some("too big".into()), "produce to t-0");
        let copy = replicate_error(&original);
        assert_eq!((copy.code(), copy.to_string()), (original.code(), original.to_string()));
        let io = Error::Io { broker: "b:1".into(), source: std::io::Error::new(std::io::ErrorKind::BrokenPipe, "gone") };
        assert_eq!(replicate_error(&io).to_string(), io.to_string());
    }
}
