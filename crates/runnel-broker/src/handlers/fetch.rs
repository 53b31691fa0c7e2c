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
//! Record sets of at least [`FILE_RECORDS_BYTES_MIN`] stay in the log's files: the reply
//! carries them as [`FileRecords`] and the connection sends them with `sendfile` (plain TCP)
//! or reads them in ([`FetchReply::read_in`], for TLS).
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
use runnel_log::{FileSlice, LogError};
use runnel_protocol::fetch_response::External;
use runnel_protocol::kafka_protocol;
use tokio_util::sync::CancellationToken;

use super::authorize::Authz;
use crate::acl::AclOperation::{ClusterAction, Read};
use crate::context::BrokerContext;
use crate::read_buffers::ReadBuffers;
use crate::session::Caller;
use crate::topics::{check_leader_epoch, Partition};

/// Kafka's isolation level for transactional reads.
const READ_COMMITTED: i8 = 1;
/// The longest a fetch may park, whatever the client asks: a bound on held connections.
pub const FETCH_WAIT_MS_MAX: i32 = 30_000;
/// Record sets smaller than this are read into memory: below it the extra `sendfile` (and
/// the separate write of the bytes before it) costs more than the copies it saves.
pub const FILE_RECORDS_BYTES_MIN: usize = 32 * 1024;

/// A fetch response, with the record sets that stay in the log's files.
#[derive(Debug)]
pub struct FetchReply {
    /// Partitions in `files` have empty records here.
    pub response: FetchResponse,
    /// In response order.
    pub files: Vec<FileRecords>,
}

/// One partition's record set as slices of the log's files.
#[derive(Debug)]
pub struct FileRecords {
    /// Positions of the partition in the response (topic, then partition within it).
    pub topic: usize,
    pub partition: usize,
    pub slices: Vec<FileSlice>,
}

impl FileRecords {
    pub fn len(&self) -> usize {
        self.slices.iter().map(FileSlice::len).sum()
    }

    /// Where the encoder leaves room for these bytes.
    pub fn external(&self) -> External {
        External { topic: self.topic, partition: self.partition, len: self.len() }
    }
}

impl FetchReply {
    /// The response with every file record set read into memory, for a transport that
    /// cannot send from files.
    pub fn read_in(self, buffers: &Arc<ReadBuffers>) -> std::io::Result<FetchResponse> {
        let FetchReply { mut response, files } = self;
        for records in files {
            let mut loan = buffers.take(records.len());
            for slice in &records.slices {
                slice.read_append(&mut loan.buffer)?;
            }
            response.responses[records.topic].partitions[records.partition].records = Some(buffers.freeze(loan));
        }
        Ok(response)
    }
}

pub async fn handle(
    ctx: &BrokerContext,
    request: FetchRequest,
    version: i16,
    caller: &Caller<'_>,
    shutdown: &CancellationToken,
) -> FetchReply {
    if version >= 7 && request.session_id != 0 {
        let response = FetchResponse::default().with_error_code(ResponseError::FetchSessionIdNotFound.code());
        return FetchReply { response, files: Vec::new() };
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
        let bytes: usize =
            results.iter().map(|(data, files)| fetched_bytes(data.records.as_ref(), files.as_deref())).sum();
        let any_error = results.iter().any(|(data, _)| data.error_code != 0);
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

/// Each wanted partition's data, with its record set in `records` or, when it stays in the
/// log's files, as file slices.
fn read_all(ctx: &BrokerContext, wanted: &[Wanted], max_bytes: usize, version: i16) -> Vec<(PartitionData, Option<Vec<FileSlice>>)> {
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
                return (with_error(data, ResponseError::TopicAuthorizationFailed), None);
            }
            let Some(partition) = &w.partition else {
                return (with_error(data, ResponseError::UnknownTopicOrPartition), None);
            };
            if let Err(error) = check_leader_epoch(w.current_leader_epoch) {
                return (with_error(data, error), None);
            }
            let limit = w.partition_max_bytes.min(bytes_remaining);
            // KIP-74: the first partition with data returns at least one whole batch, so a
            // batch larger than every limit can still be consumed.
            match read_records(ctx, partition, w.fetch_offset, limit, !first_data_sent) {
                Ok((records, files)) => {
                    let len = fetched_bytes(Some(&records), files.as_deref());
                    if len > 0 {
                        first_data_sent = true;
                        bytes_remaining = bytes_remaining.saturating_sub(len);
                    }
                    // Read after the records, so the watermark is never below what was read.
                    let high_watermark = partition.high_watermark();
                    let data = data
                        .with_high_watermark(high_watermark)
                        .with_last_stable_offset(high_watermark)
                        .with_log_start_offset(if version >= 5 { partition.log_start_offset() } else { -1 })
                        .with_records(Some(records));
                    (data, files)
                }
                Err(LogError::OffsetOutOfRange { .. }) => (with_error(data, ResponseError::OffsetOutOfRange), None),
                Err(error) => {
                    tracing::error!(topic = %partition.topic, partition = partition.index, %error, "fetch read failed");
                    (with_error(data, ResponseError::KafkaStorageError), None)
                }
            }
        })
        .collect()
}

/// One partition's read: its records in memory, or (empty records and) the file slices
/// holding them when they are large enough to send from the files.
fn read_records(
    ctx: &BrokerContext,
    partition: &Partition,
    offset: i64,
    limit: usize,
    min_one_batch: bool,
) -> Result<(Bytes, Option<Vec<FileSlice>>), LogError> {
    let Some(slices) = partition.read_file_slices(offset, limit, min_one_batch)? else {
        let mut loan = ctx.read_buffers.take(limit);
        partition.read_into(offset, limit, min_one_batch, &mut loan.buffer)?;
        return Ok((ctx.read_buffers.freeze(loan), None));
    };
    let len: usize = slices.iter().map(FileSlice::len).sum();
    if len >= FILE_RECORDS_BYTES_MIN {
        return Ok((Bytes::new(), Some(slices)));
    }
    let mut loan = ctx.read_buffers.take(len);
    for slice in &slices {
        slice.read_append(&mut loan.buffer)?;
    }
    Ok((ctx.read_buffers.freeze(loan), None))
}

/// What a partition's read returned: the bytes in memory and those left in files.
fn fetched_bytes(records: Option<&Bytes>, files: Option<&[FileSlice]>) -> usize {
    records.map_or(0, Bytes::len) + files.map_or(0, |slices| slices.iter().map(FileSlice::len).sum())
}

fn with_error(data: PartitionData, error: ResponseError) -> PartitionData {
    data.with_error_code(error.code()).with_records(Some(Bytes::new()))
}

/// Lays the results out by topic, as requested. read_committed answers carry an (empty)
/// aborted-transactions list; read_uncommitted ones a null one, as in Kafka.
fn respond(request: &FetchRequest, results: Vec<(PartitionData, Option<Vec<FileSlice>>)>, read_committed: bool) -> FetchReply {
    let mut results = results.into_iter();
    let mut files = Vec::new();
    let responses = request
        .topics
        .iter()
        .enumerate()
        .map(|(topic_at, topic)| {
            let partitions = topic
                .partitions
                .iter()
                .map_while(|_| results.next())
                .enumerate()
                .map(|(partition_at, (data, slices))| {
                    if let Some(slices) = slices {
                        files.push(FileRecords { topic: topic_at, partition: partition_at, slices });
                    }
                    data.with_aborted_transactions(read_committed.then(Vec::new))
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic(topic.topic.clone())
                .with_topic_id(topic.topic_id)
                .with_partitions(partitions)
        })
        .collect();
    FetchReply { response: FetchResponse::default().with_responses(responses), files }
}
