//! Request handlers: one module per API, each a function from a decoded request to a
//! response. Handlers never touch sockets; `connection` decodes and encodes around them.

mod alter_configs;
mod alter_user_scram_credentials;
mod api_versions;
mod authorize;
mod authorized_operations;
mod config_changes;
mod create_acls;
mod create_partitions;
mod create_topics;
mod delete_acls;
mod delete_topics;
mod describe_acls;
mod describe_cluster;
mod describe_configs;
mod describe_user_scram_credentials;
pub mod fetch;
mod find_coordinator;
mod group_authorization;
mod groups;
mod incremental_alter_configs;
mod init_producer_id;
mod list_offsets;
mod metadata;
mod offset_for_leader_epoch;
mod produce;
mod sasl_authenticate;
mod sasl_handshake;
mod validation;

use std::future::Future;
use std::pin::Pin;

use kafka_protocol::messages::{RequestKind, ResponseKind};
use runnel_protocol::kafka_protocol;
use tokio_util::sync::CancellationToken;

use crate::context::BrokerContext;

pub use api_versions::unsupported_version_fallback;

/// What the connection does after a request.
pub enum Reply {
    Respond(ResponseKind),
    /// A fetch response with record sets left in the log's files (see `fetch`).
    Fetch(fetch::FetchReply),
    /// Produce with acks=0: Kafka sends nothing back.
    Silent,
    /// The request cannot be answered; the connection is closed, as Kafka does, with this
    /// reason in its one log line.
    Close(&'static str),
}

#[cfg(test)]
impl Reply {
    /// The response, a fetch's file record sets read in; `None` for silence or a close.
    pub fn into_response(self, buffers: &std::sync::Arc<crate::read_buffers::ReadBuffers>) -> Option<ResponseKind> {
        match self {
            Reply::Respond(response) => Some(response),
            Reply::Fetch(fetch) => Some(ResponseKind::Fetch(fetch.read_in(buffers).expect("read fetched records"))),
            Reply::Silent | Reply::Close(_) => None,
        }
    }
}

pub use crate::session::Caller;

/// Why an ACL request closes its connection (Kafka's request parser refuses the code 0).
const UNPARSABLE_ACL_CODE: &str = "an ACL resource, pattern, operation or permission type is 0 (UNKNOWN)";

/// What [`dispatch`] gives the connection: a reply, or a reply that comes once a produce's
/// batches are durable (the connection may read and append its next produce meanwhile).
// Moved once per request and never stored; boxing the reply would allocate per response.
#[allow(clippy::large_enum_variant)]
pub enum Dispatched {
    Now(Reply),
    AfterSync(Pin<Box<dyn Future<Output = Reply> + Send>>),
}

/// Handles one request to its reply, waiting for durability where a produce needs it: the
/// handler tests' entry point (the connection uses [`dispatch`], to read on meanwhile).
#[cfg(test)]
pub async fn handle(
    ctx: &BrokerContext,
    request: RequestKind,
    version: i16,
    caller: &Caller<'_>,
    shutdown: &CancellationToken,
) -> Reply {
    match dispatch(ctx, request, version, caller, shutdown).await {
        Dispatched::Now(reply) => reply,
        Dispatched::AfterSync(reply) => reply.await,
    }
}

/// Handles one request; a produce whose batches must be synced first is answered later.
pub async fn dispatch(
    ctx: &BrokerContext,
    request: RequestKind,
    version: i16,
    caller: &Caller<'_>,
    shutdown: &CancellationToken,
) -> Dispatched {
    if let RequestKind::Produce(r) = request {
        return match produce::handle(ctx, r, version, caller) {
            produce::ProduceReply::Now(Some(response)) => Dispatched::Now(Reply::Respond(ResponseKind::Produce(response))),
            produce::ProduceReply::Now(None) => Dispatched::Now(Reply::Silent),
            produce::ProduceReply::AfterSync(reply) => Dispatched::AfterSync(Box::pin(async move {
                match reply.await {
                    Some(response) => Reply::Respond(ResponseKind::Produce(response)),
                    None => Reply::Silent,
                }
            })),
        };
    }
    Dispatched::Now(handle_now(ctx, request, version, caller, shutdown).await)
}

async fn handle_now(
    ctx: &BrokerContext,
    request: RequestKind,
    version: i16,
    caller: &Caller<'_>,
    shutdown: &CancellationToken,
) -> Reply {
    let request = match groups::to_coordinator(ctx, request, version, caller) {
        Ok(group_request) => {
            return match groups::handle(ctx, group_request, caller, shutdown).await {
                Some(response) => Reply::Respond(response),
                None => Reply::Close("shutdown came before the coordinator answered"),
            };
        }
        Err(other) => other,
    };
    let response = match request {
        RequestKind::ApiVersions(r) => ResponseKind::ApiVersions(api_versions::handle(&r, version)),
        RequestKind::Metadata(r) => ResponseKind::Metadata(metadata::handle(ctx, r, version, caller)),
        RequestKind::Fetch(r) => {
            let reply = fetch::handle(ctx, r, version, caller, shutdown).await;
            if reply.files.is_empty() {
                ResponseKind::Fetch(reply.response)
            } else {
                return Reply::Fetch(reply);
            }
        }
        RequestKind::ListOffsets(r) => ResponseKind::ListOffsets(list_offsets::handle(ctx, r, version, caller)),
        RequestKind::CreateTopics(r) => ResponseKind::CreateTopics(create_topics::handle(ctx, r, version, caller)),
        RequestKind::DeleteTopics(r) => ResponseKind::DeleteTopics(delete_topics::handle(ctx, r, version, caller)),
        RequestKind::CreatePartitions(r) => ResponseKind::CreatePartitions(create_partitions::handle(ctx, r, caller)),
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(describe_configs::handle(ctx, r, version, caller))
        }
        RequestKind::AlterConfigs(r) => ResponseKind::AlterConfigs(alter_configs::handle(ctx, r, caller)),
        RequestKind::IncrementalAlterConfigs(r) => {
            ResponseKind::IncrementalAlterConfigs(incremental_alter_configs::handle(ctx, r, caller))
        }
        RequestKind::DescribeCluster(r) => {
            ResponseKind::DescribeCluster(describe_cluster::handle(ctx, &r, version, caller))
        }
        RequestKind::OffsetForLeaderEpoch(r) => {
            ResponseKind::OffsetForLeaderEpoch(offset_for_leader_epoch::handle(ctx, r, caller))
        }
        RequestKind::InitProducerId(r) => ResponseKind::InitProducerId(init_producer_id::handle(ctx, &r, caller)),
        // A filter or creation Kafka cannot parse closes the connection there; here too.
        RequestKind::DescribeAcls(r) => match describe_acls::handle(ctx, &r, caller) {
            Some(response) => ResponseKind::DescribeAcls(response),
            None => return Reply::Close(UNPARSABLE_ACL_CODE),
        },
        RequestKind::CreateAcls(r) => match create_acls::handle(ctx, &r, caller) {
            Some(response) => ResponseKind::CreateAcls(response),
            None => return Reply::Close(UNPARSABLE_ACL_CODE),
        },
        RequestKind::DeleteAcls(r) => match delete_acls::handle(ctx, &r, caller) {
            Some(response) => ResponseKind::DeleteAcls(response),
            None => return Reply::Close(UNPARSABLE_ACL_CODE),
        },
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(find_coordinator::handle(ctx, r, version, caller))
        }
        RequestKind::SaslHandshake(r) => ResponseKind::SaslHandshake(sasl_handshake::handle(&r)),
        RequestKind::SaslAuthenticate(r) => ResponseKind::SaslAuthenticate(sasl_authenticate::handle(&r)),
        RequestKind::DescribeUserScramCredentials(r) => {
            ResponseKind::DescribeUserScramCredentials(describe_user_scram_credentials::handle(ctx, &r, caller))
        }
        RequestKind::AlterUserScramCredentials(r) => {
            ResponseKind::AlterUserScramCredentials(alter_user_scram_credentials::handle(ctx, &r, caller))
        }
        _ => {
            // The connection only decodes APIs in the supported table, so this is a table
            // entry without a handler: a bug, answered by closing like any unusable request.
            tracing::error!(version, "no handler for an advertised API");
            return Reply::Close("no handler");
        }
    };
    Reply::Respond(response)
}

#[cfg(test)]
mod tests;
