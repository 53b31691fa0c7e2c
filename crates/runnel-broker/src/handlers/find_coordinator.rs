//! FindCoordinator: this broker coordinates every group (one node owns every
//! `__consumer_offsets` partition), at the address advertised for the listener the request
//! came in on (none: COORDINATOR_NOT_AVAILABLE, as Kafka). Transactions have no coordinator yet.
//! A group key needs DESCRIBE on the group, a transactional id DESCRIBE on it (Kafka's
//! GROUP_ / TRANSACTIONAL_ID_AUTHORIZATION_FAILED), before anything else is looked at.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::AclOperation::Describe;
use crate::context::BrokerContext;
use crate::session::Caller;

const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

pub fn handle(ctx: &BrokerContext, request: FindCoordinatorRequest, version: i16, caller: &Caller<'_>) -> FindCoordinatorResponse {
    let setup = ctx.groups.ensure_offsets_topic(&ctx.config, &ctx.topics);
    let endpoint = ctx.advertised.get(&caller.session.listener);
    let authz = Authz::new(ctx, caller);
    let answer = |key: StrBytes| -> Coordinator {
        let coordinator =
            Coordinator::default().with_key(key.clone()).with_node_id(BrokerId(-1)).with_host(StrBytes::new()).with_port(-1);
        let denied = match request.key_type {
            KEY_TYPE_GROUP if !authz.group(Describe, &key) => Some(ResponseError::GroupAuthorizationFailed),
            KEY_TYPE_TRANSACTION if !authz.transactional_id(Describe, &key) => Some(ResponseError::TransactionalIdAuthorizationFailed),
            _ => None,
        };
        if let Some(error) = denied {
            return coordinator.with_error_code(error.code()).with_error_message(Some(StrBytes::from_string(error.to_string())));
        }
        if request.key_type != KEY_TYPE_GROUP {
            return coordinator
                .with_error_code(ResponseError::CoordinatorNotAvailable.code())
                .with_error_message(Some(StrBytes::from_static_str("Runnel has no transaction coordinator yet")));
        }
        if let Err(error) = &setup {
            tracing::error!(%error, "cannot create __consumer_offsets");
            return coordinator
                .with_error_code(ResponseError::CoordinatorNotAvailable.code())
                .with_error_message(Some(StrBytes::from_string(error.to_string())));
        }
        let Some(endpoint) = endpoint else {
            return coordinator.with_error_code(ResponseError::CoordinatorNotAvailable.code()).with_error_message(Some(
                StrBytes::from_string(format!("listener {} is not advertised", caller.session.listener)),
            ));
        };
        coordinator
            .with_node_id(BrokerId(ctx.node_id))
            .with_host(StrBytes::from_string(endpoint.host.clone()))
            .with_port(endpoint.port)
    };
    if version >= 4 {
        let coordinators = request.coordinator_keys.iter().cloned().map(answer).collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let single = answer(request.key.clone());
    let response = FindCoordinatorResponse::default()
        .with_error_code(single.error_code)
        .with_node_id(single.node_id)
        .with_host(single.host)
        .with_port(single.port);
    if version >= 1 {
        response.with_error_message(single.error_message)
    } else {
        response
    }
}
