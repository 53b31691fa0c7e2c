//! DescribeCluster: this broker, as the whole cluster, at the address advertised for the
//! listener the request came in on (no broker when that listener is not advertised).
//! As in Kafka it needs no permission; without DESCRIBE on the cluster the authorized
//! operations it reports are 0.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use super::authorized_operations;
use crate::context::BrokerContext;
use crate::session::Caller;

/// Kafka's endpoint type for brokers (2 is controllers).
const ENDPOINT_TYPE_BROKERS: i8 = 1;

pub fn handle(ctx: &BrokerContext, request: &DescribeClusterRequest, version: i16, caller: &Caller<'_>) -> DescribeClusterResponse {
    let response = DescribeClusterResponse::default()
        .with_endpoint_type(ENDPOINT_TYPE_BROKERS)
        .with_cluster_id(StrBytes::from_string(ctx.cluster_id.clone()))
        .with_controller_id(BrokerId(ctx.node_id));
    if version >= 1 && request.endpoint_type != ENDPOINT_TYPE_BROKERS {
        return response
            .with_error_code(ResponseError::UnsupportedEndpointType.code())
            .with_error_message(Some(StrBytes::from_static_str("The broker does not serve controller endpoints.")));
    }
    let brokers = ctx
        .advertised
        .get(&caller.session.listener)
        .map(|endpoint| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(ctx.node_id))
                .with_host(StrBytes::from_string(endpoint.host.clone()))
                .with_port(endpoint.port)
        })
        .into_iter()
        .collect();
    let authz = Authz::new(ctx, caller);
    response
        .with_brokers(brokers)
        .with_cluster_authorized_operations(authorized_operations::cluster(&authz, request.include_cluster_authorized_operations))
}
