//! Fetch with real long polling.
//!
//! A fetch answers at once when it has `min_bytes`, an error, or `max_wait_ms` is zero.
//! Otherwise it waits for an append to any partition it asked for (or the deadline, or
//! shutdown) and reads again. The wake-up futures are registered before each read, so an
//! append that lands between the read and the wait still wakes it.
//!
//! Fetch sessions (KIP-227) are declined: every response has session id 0, which tells the
//! client to send full fetch requests. Without transactions the last stable offset is the
//! high watermark, so read_committed reads up to it too.
//!
//! Authorization as Kafka's: a consumer needs READ on each topic; a follower (replica id >= 0)
//! needs CLUSTER_ACTION on the cluster for all of them. Denied partitions answer
//! TOPIC_AUTHORIZATION_FAILED before their existence is looked at.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::select_all;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};
use runnel_log::LogError;
use runnel_protocol::kafka_protocol;
use tokio_util::sync::CancellationToken;

use super::authorize::Authz;
use crate::acl::AclOperation::{ClusterAction, Read};
use crate::context::BrokerContext;
use crate::session::Caller;
use crate::topics::{check_leader_epoch, Partition};

/// Kafka's isolation level for transactional reads.
const READ_COMMITTED: i8 = 1;
/// The longest a fetch may park, whatever the client asks: a bound on held connections.
pub const FETCH_WAIT_MS_MAX: i32 = 30_000;

pub async fn handle(
    ctx: &BrokerContext,
    request: FetchRequest,
    version: i16,
    caller: &Caller<'_>,
    shutdown: &CancellationToken,
) -> FetchResponse {
    if version >= 7 && request.session_id != 0 {
        return FetchResponse::default().with_error_code(ResponseError::FetchSessionIdNotFound.code());
    }
    let authz = Authz::new(ctx, caller);
    let follower_allowed = (request.replica_id.0 >= 0).then(|| authz.cluster(ClusterAction));
    let wanted: Vec<Wanted> = request
        .topics
        .iter()
        .flat_map(|topic| {
            let denied = !follower_allowed.unwrap_or_else(|| authz.topic(Read, &topic.topic));
            let found = if denied { None } else { ctx.topics.get(&topic.topic) };
            topic.partitions.iter().map(move |p| Wanted {
                denied,
                partition: found.as_ref().and_then(|t| t.partition(p.partition).cloned()),
                index: p.partition,
                fetch_offset: p.fetch_offset,
                partition_max_bytes: p.partition_max_bytes.max(0) as usize,
                current_leader_epoch: if version >= 9 { p.current_leader_epoch } else { -1 },
            })
        })
        .collect();
    let read_committed = request.isolation_level == READ_COMMITTED;
    let max_bytes = if version >= 3 { request.max_bytes.max(0) as usize } else { usize::MAX };
    let min_bytes = request.min_bytes.max(0) as usize;
    let wait = Duration::from_millis(request.max_wait_ms.clamp(0, FETCH_WAIT_MS_MAX) as u64);
    let deadline = tokio::time::Instant::now() + wait;

    loop {
        let mut wakeups: Vec<Pin<Box<tokio::sync::futures::Notified<'_>>>> = wanted
            .iter()
            .filter_map(|w| w.partition.as_ref())
            .map(|partition| {
                let mut notified = Box::pin(partition.appended());
                notified.as_mut().enable();
                notified
            })
            .collect();
        let results = read_all(ctx, &wanted, max_bytes, version);
        let bytes: usize = results.iter().map(|r| r.records.as_ref().map_or(0, Bytes::len)).sum();
        let any_error = results.iter().any(|r| r.error_code != 0);
        let now = tokio::time::Instant::now();
        if bytes >= min_bytes || any_error || now >= deadline || wakeups.is_empty() || shutdown.is_cancelled() {
            return respond(&request, results, read_committed);
        }
        tokio::select! {
            _ = select_all(wakeups.iter_mut()) => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = shutdown.cancelled() => {}
        }
    }
}

struct Wanted {
    denied: bool,
    partition: Option<Arc<Partition>>,
    index: i32,
    fetch_offset: i64,
    partition_max_bytes: usize,
    current_leader_epoch: i32,
}

fn read_all(ctx: &BrokerContext, wanted: &[Wanted], max_bytes: usize, version: i16) -> Vec<PartitionData> {
    let mut bytes_remaining = max_bytes;
    let mut first_data_sent = false;
    wanted
        .iter()
        .map(|w| {
            // Kafka reports -1 for every offset of a partition it answers with an error.
            let data = PartitionData::default()
                .with_partition_index(w.index)
                .with_preferred_read_replica(BrokerId(-1))
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1);
            if w.denied {
                return with_error(data, ResponseError::TopicAuthorizationFailed);
            }
            let Some(partition) = &w.partition else {
                return with_error(data, ResponseError::UnknownTopicOrPartition);
            };
            if let Err(error) = check_leader_epoch(w.current_leader_epoch) {
                return with_error(data, error);
            }
            let limit = w.partition_max_bytes.min(bytes_remaining);
            // KIP-74: the first partition with data returns at least one whole batch, so a
            // batch larger than every limit can still be consumed.
            let mut loan = ctx.read_buffers.take(limit);
            match partition.read_into(w.fetch_offset, limit, !first_data_sent, &mut loan.buffer) {
                Ok(()) => {
                    if !loan.is_empty() {
                        first_data_sent = true;
                        bytes_remaining = bytes_remaining.saturating_sub(loan.len());
                    }
                    // Read after the records, so the watermark is never below what was read.
                    let high_watermark = partition.high_watermark();
                    data.with_high_watermark(high_watermark)
                        .with_last_stable_offset(high_watermark)
                        .with_log_start_offset(if version >= 5 { partition.log_start_offset() } else { -1 })
                        .with_records(Some(ctx.read_buffers.freeze(loan)))
                }
                Err(LogError::OffsetOutOfRange { .. }) => with_error(data, ResponseError::OffsetOutOfRange),
                Err(error) => {
                    tracing::error!(topic = %partition.topic, partition = partition.index, %error, "fetch read failed");
                    with_error(data, ResponseError::KafkaStorageError)
                }
            }
        })
        .collect()
}

fn with_error(data: PartitionData, error: ResponseError) -> PartitionData {
    data.with_error_code(error.code()).with_records(Some(Bytes::new()))
}

/// Lays the results out by topic, as requested. read_committed answers carry an (empty)
/// aborted-transactions list; read_uncommitted ones a null one, as in Kafka.
fn respond(request: &FetchRequest, results: Vec<PartitionData>, read_committed: bool) -> FetchResponse {
    let mut results = results.into_iter();
    let responses = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .filter_map(|_| results.next())
                .map(|data| {
                    let aborted = read_committed.then(Vec::new);
                    data.with_aborted_transactions(aborted)
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic(topic.topic.clone())
                .with_topic_id(topic.topic_id)
                .with_partitions(partitions)
        })
        .collect();
    FetchResponse::default().with_responses(responses)
}
