//! InitProducerId for idempotent producers.
//!
//! As in Kafka, a request without a transactional id always gets a fresh producer id at
//! epoch 0, whatever id and epoch it carries: an idempotent producer that lost its state
//! simply starts over. Transactional ids need the transaction coordinator, which Runnel
//! does not have yet.
//!
//! Authorization as Kafka's: a transactional id needs WRITE on it; an idempotent producer
//! needs IDEMPOTENT_WRITE on the cluster, or WRITE on at least one topic.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::AclOperation::{IdempotentWrite, Write};
use crate::acl::ResourceType;
use crate::context::BrokerContext;
use crate::session::Caller;

pub fn handle(ctx: &BrokerContext, request: &InitProducerIdRequest, caller: &Caller<'_>) -> InitProducerIdResponse {
    let failed = |error: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(error.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    let authz = Authz::new(ctx, caller);
    if request.transactional_id.is_some() {
        // Allowed or not, Runnel has no transaction coordinator to give the id a producer.
        return failed(ResponseError::TransactionalIdAuthorizationFailed);
    }
    if !authz.cluster(IdempotentWrite) && !authz.on_any(Write, ResourceType::Topic) {
        return failed(ResponseError::ClusterAuthorizationFailed);
    }
    match ctx.producer_ids.allocate() {
        Ok(id) => InitProducerIdResponse::default().with_producer_id(ProducerId(id)).with_producer_epoch(0),
        Err(error) => {
            tracing::error!(%error, "cannot allocate a producer id");
            failed(ResponseError::KafkaStorageError)
        }
    }
}
