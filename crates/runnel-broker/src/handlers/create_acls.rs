//! CreateAcls: add ACLs, answered per creation in request order. Requires ALTER on the
//! cluster; without an authorizer every creation gets SECURITY_DISABLED. What Kafka refuses,
//! and how (closing the connection, failing the whole request, or one creation), is in
//! `acl::validate`. An ACL that already exists is a success that changes nothing. The new
//! set is persisted before anyone is told, or judged, by it.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{CreateAclsRequest, CreateAclsResponse};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::validate::{binding_for, WireCodes};
use crate::acl::{AclBinding, AclOperation};
use crate::context::BrokerContext;
use crate::session::Caller;

/// Most ACLs one request may create (Kafka's `MAX_RECORDS_PER_USER_OP`).
pub const ACL_CREATIONS_MAX: usize = 10_000;

pub fn handle(ctx: &BrokerContext, request: &CreateAclsRequest, caller: &Caller<'_>) -> Option<CreateAclsResponse> {
    let codes: Vec<WireCodes> = request
        .creations
        .iter()
        .map(|creation| WireCodes {
            resource_type: creation.resource_type,
            pattern_type: creation.resource_pattern_type,
            operation: creation.operation,
            permission_type: creation.permission_type,
        })
        .collect();
    if !codes.iter().all(WireCodes::parses) {
        return None;
    }
    let count = request.creations.len();
    if !Authz::new(ctx, caller).cluster(AclOperation::Alter) {
        return Some(all(count, ResponseError::ClusterAuthorizationFailed, Some("Cluster authorization failed.".into())));
    }
    let Some(store) = ctx.authorization.store() else {
        return Some(all(count, ResponseError::SecurityDisabled, Some("No Authorizer is configured.".into())));
    };
    if !codes.iter().all(WireCodes::convertible) {
        return Some(all(count, ResponseError::UnknownServerError, None));
    }
    if count > ACL_CREATIONS_MAX {
        let message = format!("Cannot create more than {ACL_CREATIONS_MAX} acls in a single request.");
        return Some(all(count, ResponseError::InvalidRequest, Some(message)));
    }
    let wanted: Vec<Result<AclBinding, String>> = request
        .creations
        .iter()
        .zip(&codes)
        .map(|(creation, codes)| binding_for(*codes, &creation.resource_name, &creation.principal, &creation.host))
        .collect();
    let stored = store.update(|current| {
        let mut next = current.bindings().clone();
        let before = next.len();
        next.extend(wanted.iter().filter_map(|binding| binding.as_ref().ok()).cloned());
        let changed = next.len() != before;
        (changed.then(|| next.into_iter().collect()), ())
    });
    let results = match stored {
        Ok(()) => wanted
            .into_iter()
            .map(|outcome| match outcome {
                Ok(_) => AclCreationResult::default(),
                Err(message) => refused(ResponseError::InvalidRequest, Some(message)),
            })
            .collect(),
        Err(error) => {
            tracing::error!(%error, "cannot store new ACLs");
            wanted
                .into_iter()
                .map(|outcome| match outcome {
                    Ok(_) => refused(ResponseError::UnknownServerError, Some(error.to_string())),
                    Err(message) => refused(ResponseError::InvalidRequest, Some(message)),
                })
                .collect()
        }
    };
    Some(CreateAclsResponse::default().with_results(results))
}

fn refused(error: ResponseError, message: Option<String>) -> AclCreationResult {
    AclCreationResult::default().with_error_code(error.code()).with_error_message(message.map(StrBytes::from_string))
}

fn all(count: usize, error: ResponseError, message: Option<String>) -> CreateAclsResponse {
    CreateAclsResponse::default().with_results(vec![refused(error, message); count])
}
