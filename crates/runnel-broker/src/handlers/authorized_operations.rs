//! Kafka's `authorized_operations` fields (Metadata, DescribeCluster, DescribeGroups): one
//! bit per operation code the caller may perform on the resource, among those the resource
//! type supports; every supported operation when no authorizer is configured. The cluster's
//! field is 0 without DESCRIBE on the cluster, as in Kafka.

use super::authorize::Authz;
use crate::acl::ResourceType;

/// The value Kafka sends when the client did not ask for authorized operations.
pub const NOT_REQUESTED: i32 = i32::MIN;

pub fn topic(authz: &Authz<'_>, name: &str, requested: bool) -> i32 {
    if requested { authz.operations(ResourceType::Topic, name) } else { NOT_REQUESTED }
}

pub fn group(authz: &Authz<'_>, name: &str, requested: bool) -> i32 {
    if requested { authz.operations(ResourceType::Group, name) } else { NOT_REQUESTED }
}

pub fn cluster(authz: &Authz<'_>, requested: bool) -> i32 {
    if requested { authz.cluster_operations() } else { NOT_REQUESTED }
}
