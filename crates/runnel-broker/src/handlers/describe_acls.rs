//! DescribeAcls: the ACLs matching one filter, grouped by resource pattern. Requires DESCRIBE
//! on the cluster; without an authorizer Kafka answers SECURITY_DISABLED. A filter carrying
//! the code 0 for any enum does not parse in Kafka, which closes the connection; so does
//! Runnel (`None`).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{DescribeAclsRequest, DescribeAclsResponse};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::validate::{filter_for, WireCodes};
use crate::acl::{AccessControlEntry, AclOperation, ResourcePattern};
use crate::context::BrokerContext;
use crate::session::Caller;

/// Kafka's words when no authorizer is configured.
const NO_AUTHORIZER: &str = "No Authorizer is configured on the broker";

pub fn handle(ctx: &BrokerContext, request: &DescribeAclsRequest, caller: &Caller<'_>) -> Option<DescribeAclsResponse> {
    let codes = WireCodes {
        resource_type: request.resource_type_filter,
        pattern_type: request.pattern_type_filter,
        operation: request.operation,
        permission_type: request.permission_type,
    };
    if !codes.parses() {
        return None;
    }
    if !Authz::new(ctx, caller).cluster(AclOperation::Describe) {
        return Some(failed(ResponseError::ClusterAuthorizationFailed, "Cluster authorization failed."));
    }
    let Some(store) = ctx.authorization.store() else {
        return Some(failed(ResponseError::SecurityDisabled, NO_AUTHORIZER));
    };
    let filter = filter_for(
        codes,
        request.resource_name_filter.as_deref(),
        request.principal_filter.as_deref(),
        request.host_filter.as_deref(),
    );
    let snapshot = store.authorizer();
    let mut by_pattern: BTreeMap<&ResourcePattern, Vec<&AccessControlEntry>> = BTreeMap::new();
    for binding in snapshot.acls.bindings().iter().filter(|binding| filter.matches(binding)) {
        by_pattern.entry(&binding.pattern).or_default().push(&binding.entry);
    }
    let resources = by_pattern
        .into_iter()
        .map(|(pattern, entries)| {
            let acls = entries
                .into_iter()
                .map(|entry| {
                    AclDescription::default()
                        .with_principal(StrBytes::from_string(entry.principal.clone()))
                        .with_host(StrBytes::from_string(entry.host.clone()))
                        .with_operation(entry.operation.code())
                        .with_permission_type(entry.permission_type.code())
                })
                .collect();
            DescribeAclsResource::default()
                .with_resource_type(pattern.resource_type.code())
                .with_resource_name(StrBytes::from_string(pattern.name.clone()))
                .with_pattern_type(pattern.pattern_type.code())
                .with_acls(acls)
        })
        .collect();
    Some(DescribeAclsResponse::default().with_resources(resources))
}

fn failed(error: ResponseError, message: &'static str) -> DescribeAclsResponse {
    DescribeAclsResponse::default().with_error_code(error.code()).with_error_message(Some(StrBytes::from_static_str(message)))
}
