//! The consumer-group APIs: each request is handed to the group service, which runs the
//! coordinator state machine and answers when the coordinator does. Authorization happens
//! around it (`group_authorization`): before, to refuse or narrow the request; after, to
//! put the denied resources' answers back.

use kafka_protocol::messages::{RequestKind, ResponseKind};
use runnel_coordinator::{Request, Response};
use runnel_protocol::kafka_protocol;
use tokio_util::sync::CancellationToken;

use super::authorize::Authz;
use super::group_authorization::{self, Gate};
use crate::context::BrokerContext;
use crate::groups::GroupService;
use crate::session::Caller;

/// The coordinator's form of a group API request, or the request back unchanged (`Err`)
/// when it is not a group API, for the caller to dispatch elsewhere.
// Boxing that `Err` would allocate for every request that is not a group API.
#[allow(clippy::result_large_err)]
pub fn to_coordinator(ctx: &BrokerContext, request: RequestKind, version: i16, caller: &Caller<'_>) -> Result<Request, RequestKind> {
    let api_version = version;
    let mut request = match request {
        RequestKind::JoinGroup(request) => Request::JoinGroup {
            request,
            api_version,
            client_id: caller.client_id.to_string(),
            // Kafka stores the host as Java's InetAddress.toString() prints it.
            client_host: format!("/{}", caller.session.peer.ip()),
        },
        RequestKind::SyncGroup(request) => Request::SyncGroup { request, api_version },
        RequestKind::Heartbeat(request) => Request::Heartbeat { request, api_version },
        RequestKind::LeaveGroup(request) => Request::LeaveGroup { request, api_version },
        RequestKind::OffsetCommit(request) => Request::OffsetCommit { request, api_version, topics: Default::default() },
        RequestKind::OffsetFetch(request) => Request::OffsetFetch { request, api_version },
        RequestKind::DescribeGroups(request) => Request::DescribeGroups { request, api_version },
        RequestKind::ListGroups(request) => Request::ListGroups { request, api_version },
        RequestKind::DeleteGroups(request) => Request::DeleteGroups { request, api_version },
        RequestKind::OffsetDelete(request) => Request::OffsetDelete { request, api_version, topics: Default::default() },
        other => return Err(other),
    };
    let known = GroupService::known_topics(&ctx.topics, &request);
    if let Request::OffsetCommit { topics, .. } | Request::OffsetDelete { topics, .. } = &mut request {
        *topics = known;
    }
    Ok(request)
}

pub async fn handle(
    ctx: &BrokerContext,
    request: Request,
    caller: &Caller<'_>,
    shutdown: &CancellationToken,
) -> Option<ResponseKind> {
    let authz = Authz::new(ctx, caller);
    let (request, after) = match group_authorization::check(&authz, request) {
        Gate::Answer(response) => return Some(response),
        Gate::Pass(request, after) => (request, after),
    };
    if let Err(error) = ctx.groups.ensure_offsets_topic(&ctx.config, &ctx.topics) {
        tracing::error!(%error, "cannot create __consumer_offsets");
    }
    let response = ctx.groups.call(&ctx.topics, request, shutdown).await?;
    Some(match after.apply(&authz, response) {
        Response::JoinGroup(r) => ResponseKind::JoinGroup(r),
        Response::SyncGroup(r) => ResponseKind::SyncGroup(r),
        Response::Heartbeat(r) => ResponseKind::Heartbeat(r),
        Response::LeaveGroup(r) => ResponseKind::LeaveGroup(r),
        Response::OffsetCommit(r) => ResponseKind::OffsetCommit(r),
        Response::OffsetFetch(r) => ResponseKind::OffsetFetch(r),
        Response::DescribeGroups(r) => ResponseKind::DescribeGroups(r),
        Response::ListGroups(r) => ResponseKind::ListGroups(r),
        Response::DeleteGroups(r) => ResponseKind::DeleteGroups(r),
        Response::OffsetDelete(r) => ResponseKind::OffsetDelete(r),
    })
}
