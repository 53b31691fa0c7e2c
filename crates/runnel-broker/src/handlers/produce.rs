//! Produce: validate each partition's batch, append it, and answer with its offsets.
//!
//! Kafka 4 rules kept here: exactly one v2 batch per partition; the batch size is checked
//! against the topic's max.message.bytes before anything else is read; the CRC and the
//! records are validated; idempotent batches go through the log's producer state, which
//! answers retried duplicates with their original offsets. acks=0 gets no response.
//!
//! Authorization as Kafka's: transactional records need WRITE on the request's transactional
//! id, else the whole request fails; each topic needs WRITE, checked before its existence.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use runnel_log::{AppendOutcome, LogError};
use runnel_protocol::batch::{split_batches, validate_batch, BatchError, BatchHeader};
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::AclOperation::Write;
use crate::context::{now_ms, BrokerContext};
use crate::handlers::validation::{validate_records_for_topic, RecordsRejection};
use crate::session::Caller;
use crate::topics::{Partition, Topic};

/// A produce's answer: at once, or once the batches that must be durable are.
pub enum ProduceReply {
    /// `None` for acks=0: Kafka sends no response at all then.
    Now(Option<ProduceResponse>),
    /// The appends are done and queued for the group commit; this resolves to the answer
    /// once they are durable. Owned, so a connection can read its next request meanwhile.
    AfterSync(Pin<Box<dyn Future<Output = Option<ProduceResponse>> + Send>>),
}

type Outcomes = Vec<(TopicName, Vec<(i32, Result<Appended, Rejection>)>)>;

/// Validates and appends every partition's batch, in request order.
///
/// Batches whose topic flush policy asks for a sync (flush.messages reached) reach the page
/// cache here and are queued, all together, for the next group commit; each such partition
/// is answered only after its batch is durable (or with KAFKA_STORAGE_ERROR if that sync
/// failed).
pub fn handle(ctx: &BrokerContext, request: ProduceRequest, version: i16, caller: &Caller<'_>) -> ProduceReply {
    let acks_valid = matches!(request.acks, -1..=1);
    let now = now_ms();
    let authz = Authz::new(ctx, caller);
    let transactional_denied = has_transactional_records(&request)
        && !request.transactional_id.as_ref().is_some_and(|id| authz.transactional_id(Write, id));
    let silent = request.acks == 0 && acks_valid && !transactional_denied;
    let mut must_sync: Vec<Arc<Partition>> = Vec::new();
    let topics: Outcomes = request
        .topic_data
        .into_iter()
        .map(|topic_data| {
            let topic = ctx.topics.get(&topic_data.name);
            let topic_denied = !transactional_denied && !authz.topic(Write, &topic_data.name);
            let outcomes = topic_data
                .partition_data
                .into_iter()
                .map(|data| {
                    let outcome = if transactional_denied {
                        Err(Rejection::code(ResponseError::TransactionalIdAuthorizationFailed))
                    } else if topic_denied {
                        Err(Rejection::code(ResponseError::TopicAuthorizationFailed))
                    } else if !acks_valid {
                        Err(Rejection::code(ResponseError::InvalidRequiredAcks))
                    } else {
                        produce_partition(topic.as_deref(), data.index, data.records.as_deref(), now)
                    };
                    if let Ok(Appended { sync_before_ack: Some(partition), .. }) = &outcome {
                        must_sync.push(partition.clone());
                    }
                    (data.index, outcome)
                })
                .collect();
            (topic_data.name, outcomes)
        })
        .collect();
    if must_sync.is_empty() {
        return ProduceReply::Now(respond(topics, silent, version));
    }
    let durable = ctx.topics.group_commit().enqueue(must_sync);
    ProduceReply::AfterSync(Box::pin(async move {
        durable.wait().await;
        respond(unacknowledged_if_not_durable(topics), silent, version)
    }))
}

/// After the group commit: a batch its sync did not cover (the sync failed) is refused.
fn unacknowledged_if_not_durable(mut topics: Outcomes) -> Outcomes {
    for (index, outcome) in topics.iter_mut().flat_map(|(_, outcomes)| outcomes.iter_mut()) {
        let Ok(Appended { sync_before_ack: Some(partition), last_offset, .. }) = &*outcome else { continue };
        if partition.recovery_point() <= *last_offset {
            tracing::error!(topic = %partition.topic, partition = *index, "produce not acknowledged: its sync failed");
            *outcome = Err(Rejection::code(ResponseError::KafkaStorageError));
        }
    }
    topics
}

fn respond(topics: Outcomes, silent: bool, version: i16) -> Option<ProduceResponse> {
    if silent {
        return None;
    }
    let responses = topics
        .into_iter()
        .map(|(name, outcomes)| {
            let partition_responses =
                outcomes.into_iter().map(|(index, outcome)| partition_response(index, outcome, version)).collect();
            TopicProduceResponse::default().with_name(name).with_partition_responses(partition_responses)
        })
        .collect();
    Some(ProduceResponse::default().with_responses(responses))
}

/// Kafka's `RequestUtils.hasTransactionalRecords`: any partition's first batch is
/// transactional.
fn has_transactional_records(request: &ProduceRequest) -> bool {
    request.topic_data.iter().flat_map(|topic| &topic.partition_data).any(|data| {
        data.records.as_deref().is_some_and(|records| BatchHeader::parse(records).is_ok_and(|header| header.is_transactional()))
    })
}

struct Appended {
    base_offset: i64,
    last_offset: i64,
    log_append_time_ms: i64,
    log_start_offset: i64,
    /// Set when the batch must be durable before it is acknowledged.
    sync_before_ack: Option<Arc<Partition>>,
}

struct Rejection {
    code: i16,
    message: Option<String>,
    record_errors: Vec<(i32, String)>,
}

impl Rejection {
    fn code(error: ResponseError) -> Self {
        Self { code: error.code(), message: None, record_errors: Vec::new() }
    }

    fn with_message(error: ResponseError, message: String) -> Self {
        Self { code: error.code(), message: Some(message), record_errors: Vec::new() }
    }
}

fn produce_partition(
    topic: Option<&Topic>,
    index: i32,
    records: Option<&[u8]>,
    now: i64,
) -> Result<Appended, Rejection> {
    let unknown = || Rejection::code(ResponseError::UnknownTopicOrPartition);
    let topic = topic.ok_or_else(unknown)?;
    let partition = topic.partition(index).ok_or_else(unknown)?;
    if topic.is_internal() {
        return Err(Rejection::with_message(
            ResponseError::InvalidTopicException,
            format!("Cannot append to internal topic {}", topic.name),
        ));
    }
    let records = records.unwrap_or_default();
    let max_message_bytes = usize::try_from(topic.settings.max_message_bytes).unwrap_or(0);
    let (ranges, whole_end) = split_batches(records);
    if ranges.len() != 1 || whole_end != records.len() {
        return Err(Rejection::with_message(
            ResponseError::InvalidRecord,
            "Produce requests with version 3 and above must have exactly one record batch per partition".into(),
        ));
    }
    if records.len() > max_message_bytes {
        return Err(Rejection::with_message(
            ResponseError::MessageTooLarge,
            format!(
                "The record batch size in the append to {}-{index} is {} bytes which exceeds the maximum configured value of {max_message_bytes}.",
                topic.name,
                records.len()
            ),
        ));
    }
    let header = validate_batch(records).map_err(|error| match error {
        BatchError::UnsupportedMagic(_) => Rejection::with_message(ResponseError::InvalidRecord, error.to_string()),
        other => Rejection::with_message(ResponseError::CorruptMessage, other.to_string()),
    })?;
    if header.is_control() {
        return Err(Rejection::with_message(
            ResponseError::InvalidRecord,
            "Control records are not allowed from clients".into(),
        ));
    }
    if header.is_transactional() {
        return Err(Rejection::with_message(
            ResponseError::InvalidTxnState,
            "Runnel does not support transactions yet".into(),
        ));
    }
    validate_records_for_topic(topic, index, records, &header, now).map_err(
        |RecordsRejection { code, message, record_errors }| Rejection { code, message: Some(message), record_errors },
    )?;
    let appended =
        partition.append_deferring_flush(records, now).map_err(|error| log_rejection(&topic.name, index, error))?;
    let sync_before_ack = appended.flush_due.then(|| partition.clone());
    Ok(match appended.outcome {
        AppendOutcome::Appended { base_offset, last_offset, log_append_time_ms } => Appended {
            base_offset,
            last_offset,
            log_append_time_ms: log_append_time_ms.unwrap_or(-1),
            log_start_offset: partition.log_start_offset(),
            sync_before_ack,
        },
        // A retry of a batch not yet synced waits for the same sync as its original.
        AppendOutcome::Duplicate { base_offset, last_offset } => Appended {
            base_offset,
            last_offset,
            log_append_time_ms: -1,
            log_start_offset: partition.log_start_offset(),
            sync_before_ack,
        },
    })
}

/// Producer-state refusals carry no message, as in Kafka; storage failures are logged.
fn log_rejection(topic: &str, index: i32, error: LogError) -> Rejection {
    match &error {
        LogError::OutOfOrderSequence { .. } => Rejection::code(ResponseError::OutOfOrderSequenceNumber),
        LogError::InvalidProducerEpoch { .. } => Rejection::code(ResponseError::InvalidProducerEpoch),
        LogError::InvalidBatch(_) => Rejection::with_message(ResponseError::CorruptMessage, error.to_string()),
        LogError::OffsetOutOfRange { .. } => Rejection::code(ResponseError::OffsetOutOfRange),
        LogError::Io(_) | LogError::Corrupt(..) => {
            tracing::error!(topic, partition = index, %error, "append failed in storage");
            Rejection::code(ResponseError::KafkaStorageError)
        }
    }
}

fn partition_response(index: i32, outcome: Result<Appended, Rejection>, version: i16) -> PartitionProduceResponse {
    let response = PartitionProduceResponse::default().with_index(index);
    match outcome {
        Ok(appended) => response
            .with_base_offset(appended.base_offset)
            .with_log_append_time_ms(appended.log_append_time_ms)
            .with_log_start_offset(appended.log_start_offset),
        Err(rejection) if version >= 8 => {
            let record_errors = rejection
                .record_errors
                .into_iter()
                .map(|(batch_index, message)| {
                    BatchIndexAndErrorMessage::default()
                        .with_batch_index(batch_index)
                        .with_batch_index_error_message(Some(StrBytes::from_string(message)))
                })
                .collect();
            rejected(response, rejection.code)
                .with_error_message(rejection.message.map(StrBytes::from_string))
                .with_record_errors(record_errors)
        }
        Err(rejection) => rejected(response, rejection.code),
    }
}

fn rejected(response: PartitionProduceResponse, code: i16) -> PartitionProduceResponse {
    response.with_error_code(code).with_base_offset(-1).with_log_append_time_ms(-1).with_log_start_offset(-1)
}
