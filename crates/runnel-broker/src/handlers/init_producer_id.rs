//! InitProducerId for idempotent producers.
//!
//! As in Kafka, a request without a transactional id always gets a fresh producer id at
//! epoch 0, whatever id and epoch it carries: an idempotent producer that lost its state
//! simply starts over. Transactional ids need the transaction coordinator, which Runnel
//! does not have yet.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use runnel_protocol::kafka_protocol;

use crate::context::BrokerContext;

pub fn handle(ctx: &BrokerContext, request: &InitProducerIdRequest) -> InitProducerIdResponse {
    let failed = |error: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(error.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if request.transactional_id.is_some() {
        return failed(ResponseError::TransactionalIdAuthorizationFailed);
    }
    match ctx.producer_ids.allocate() {
        Ok(id) => InitProducerIdResponse::default().with_producer_id(ProducerId(id)).with_producer_epoch(0),
        Err(error) => {
            tracing::error!(%error, "cannot allocate a producer id");
            failed(ResponseError::KafkaStorageError)
        }
    }
}
