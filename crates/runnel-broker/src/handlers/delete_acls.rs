//! DeleteAcls: remove every ACL matching each filter; each filter's answer lists what it
//! matched (an ACL two filters match is listed by both). Requires ALTER on the cluster;
//! without an authorizer every filter gets SECURITY_DISABLED. A filter with the code 0 for an
//! enum closes the connection as in Kafka; one with a code Kafka does not know is refused
//! alone. All filters' deletions are persisted at once, before the answer.

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_acls_response::{DeleteAclsFilterResult, DeleteAclsMatchingAcl};
use kafka_protocol::messages::{DeleteAclsRequest, DeleteAclsResponse};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::validate::{check_delete_filter, filter_for, WireCodes};
use crate::acl::{AclBinding, AclOperation};
use crate::context::BrokerContext;
use crate::session::Caller;

/// Most ACLs one request may delete (Kafka's `MAX_RECORDS_PER_USER_OP`); the filter that
/// would pass it is refused whole.
pub const ACL_DELETIONS_MAX: usize = 10_000;

pub fn handle(ctx: &BrokerContext, request: &DeleteAclsRequest, caller: &Caller<'_>) -> Option<DeleteAclsResponse> {
    let codes: Vec<WireCodes> = request
        .filters
        .iter()
        .map(|filter| WireCodes {
            resource_type: filter.resource_type_filter,
            pattern_type: filter.pattern_type_filter,
            operation: filter.operation,
            permission_type: filter.permission_type,
        })
        .collect();
    if !codes.iter().all(WireCodes::parses) {
        return None;
    }
    let count = request.filters.len();
    if !Authz::new(ctx, caller).cluster(AclOperation::Alter) {
        return Some(all(count, ResponseError::ClusterAuthorizationFailed, "Cluster authorization failed."));
    }
    let Some(store) = ctx.authorization.store() else {
        return Some(all(count, ResponseError::SecurityDisabled, "No Authorizer is configured."));
    };
    let filters: Vec<_> = request
        .filters
        .iter()
        .zip(codes)
        .map(|(filter, codes)| {
            filter_for(codes, filter.resource_name_filter.as_deref(), filter.principal_filter.as_deref(), filter.host_filter.as_deref())
        })
        .collect();
    let stored = store.update(|current| {
        let mut doomed: BTreeSet<&AclBinding> = BTreeSet::new();
        let outcomes: Vec<Result<Vec<AclBinding>, String>> = filters
            .iter()
            .map(|filter| {
                check_delete_filter(filter)?;
                let matched: Vec<&AclBinding> = current.bindings().iter().filter(|binding| filter.matches(binding)).collect();
                let added = matched.iter().filter(|binding| !doomed.contains(*binding)).count();
                if doomed.len() + added > ACL_DELETIONS_MAX {
                    return Err(format!("Cannot remove more than {ACL_DELETIONS_MAX} acls in a single delete operation."));
                }
                doomed.extend(matched.iter().copied());
                Ok(matched.into_iter().cloned().collect())
            })
            .collect();
        let next = (!doomed.is_empty())
            .then(|| current.bindings().iter().filter(|binding| !doomed.contains(binding)).cloned().collect());
        (next, outcomes)
    });
    let results = match stored {
        Ok(outcomes) => outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(matched) => DeleteAclsFilterResult::default()
                    .with_error_message(None)
                    .with_matching_acls(matched.iter().map(matching_acl).collect()),
                Err(message) => refused(ResponseError::InvalidRequest, message),
            })
            .collect(),
        Err(error) => {
            tracing::error!(%error, "cannot store the remaining ACLs");
            vec![refused(ResponseError::UnknownServerError, error.to_string()); count]
        }
    };
    Some(DeleteAclsResponse::default().with_filter_results(results))
}

fn matching_acl(binding: &AclBinding) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl::default()
        .with_error_message(None)
        .with_resource_type(binding.pattern.resource_type.code())
        .with_resource_name(StrBytes::from_string(binding.pattern.name.clone()))
        .with_pattern_type(binding.pattern.pattern_type.code())
        .with_principal(StrBytes::from_string(binding.entry.principal.clone()))
        .with_host(StrBytes::from_string(binding.entry.host.clone()))
        .with_operation(binding.entry.operation.code())
        .with_permission_type(binding.entry.permission_type.code())
}

fn refused(error: ResponseError, message: impl Into<String>) -> DeleteAclsFilterResult {
    DeleteAclsFilterResult::default()
        .with_error_code(error.code())
        .with_error_message(Some(StrBytes::from_string(message.into())))
}

fn all(count: usize, error: ResponseError, message: &str) -> DeleteAclsResponse {
    DeleteAclsResponse::default().with_filter_results(vec![refused(error, message); count])
}
