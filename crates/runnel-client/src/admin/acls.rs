//! ACLs: create, describe and delete them (CreateAcls, DescribeAcls, DeleteAcls), as Kafka's
//! `Admin` does.
//!
//! Owns: the typed ACL vocabulary with Kafka's wire codes and spellings (`ResourceType`,
//! `AclOperation`, `AclPermissionType`, `PatternType`), bindings (a resource pattern plus an
//! access control entry) and filters, whose `None` fields match anything. `Display` prints
//! Kafka's `toString` forms, which kafka-acls shows.
//!
//! ```no_run
//! use runnel_client::admin::{AclBinding, AclBindingFilter, AclOperation, Admin, ResourcePattern};
//! use runnel_client::ClientConfig;
//!
//! # async fn run() -> runnel_client::Result<()> {
//! let admin = Admin::new(ClientConfig::new("localhost:9092")).await?;
//! let binding = AclBinding::allow(ResourcePattern::topic("orders"), "User:alice", AclOperation::Read);
//! for result in admin.create_acls(&[binding]).await? {
//!     result?;
//! }
//! for acl in admin.describe_acls(&AclBindingFilter::any()).await? {
//!     println!("{} {}", acl.pattern, acl.entry);
//! }
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::str::FromStr;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::StrBytes;

use super::Admin;
use crate::error::{check, Error, Result};

/// The name of the one cluster resource.
pub const CLUSTER_RESOURCE_NAME: &str = "kafka-cluster";
/// The host (and the literal resource name) that matches any.
pub const WILDCARD: &str = "*";

macro_rules! coded {
    ($(#[$meta:meta])* $type:ident { $($variant:ident = $code:expr, $name:expr;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $type {
            $($variant),*
        }

        impl $type {
            /// Every value, in wire-code order.
            pub const VALUES: &'static [$type] = &[$($type::$variant),*];

            pub fn code(self) -> i8 {
                match self { $($type::$variant => $code),* }
            }

            /// The value for a wire code; codes Kafka does not define are `Unknown`.
            pub fn from_code(code: i8) -> $type {
                match code { $($code => $type::$variant,)* _ => $type::Unknown }
            }

            /// Kafka's enum constant name, as its `toString` prints it: `DESCRIBE_CONFIGS`.
            pub fn name(self) -> &'static str {
                match self { $($type::$variant => $name),* }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        /// Any case, with or without underscores: `DescribeConfigs`, `describe_configs`,
        /// `DESCRIBE_CONFIGS` (Kafka's tools accept them all).
        impl FromStr for $type {
            type Err = Error;

            fn from_str(text: &str) -> Result<$type> {
                let wanted: String = text.trim().chars().filter(|c| *c != '_').collect();
                $type::VALUES
                    .iter()
                    .copied()
                    .find(|v| v.name().replace('_', "").eq_ignore_ascii_case(&wanted))
                    .ok_or_else(|| Error::Config(format!("unknown {} {text}", stringify!($type))))
            }
        }
    };
}

coded!(
    /// Kafka's `ResourceType`.
    ResourceType {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Topic = 2, "TOPIC";
        Group = 3, "GROUP";
        Cluster = 4, "CLUSTER";
        TransactionalId = 5, "TRANSACTIONAL_ID";
        DelegationToken = 6, "DELEGATION_TOKEN";
        User = 7, "USER";
    }
);

coded!(
    /// Kafka's `AclOperation`.
    AclOperation {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        All = 2, "ALL";
        Read = 3, "READ";
        Write = 4, "WRITE";
        Create = 5, "CREATE";
        Delete = 6, "DELETE";
        Alter = 7, "ALTER";
        Describe = 8, "DESCRIBE";
        ClusterAction = 9, "CLUSTER_ACTION";
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        AlterConfigs = 11, "ALTER_CONFIGS";
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        CreateTokens = 13, "CREATE_TOKENS";
        DescribeTokens = 14, "DESCRIBE_TOKENS";
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
);

coded!(
    /// Kafka's `AclPermissionType`.
    AclPermissionType {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Deny = 2, "DENY";
        Allow = 3, "ALLOW";
    }
);

coded!(
    /// Kafka's `PatternType`. `Any` and `Match` only make sense in filters.
    PatternType {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Match = 2, "MATCH";
        Literal = 3, "LITERAL";
        Prefixed = 4, "PREFIXED";
    }
);

impl AclOperation {
    /// Kafka's Pascal-case spelling, as kafka-acls' help lists it: `DescribeConfigs`.
    pub fn pascal_name(self) -> String {
        self.name()
            .split('_')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map(|first| first.to_string() + &chars.as_str().to_ascii_lowercase()).unwrap_or_default()
            })
            .collect()
    }
}

impl ResourceType {
    /// The operations an ACL on this type can meaningfully grant (Kafka 4.1's
    /// `AclEntry.supportedOperations`), not counting `All`.
    pub fn supported_operations(self) -> &'static [AclOperation] {
        use AclOperation::*;
        match self {
            ResourceType::Topic => &[Read, Write, Create, Describe, Delete, Alter, DescribeConfigs, AlterConfigs],
            ResourceType::Group => &[Read, Describe, Delete, DescribeConfigs, AlterConfigs],
            ResourceType::Cluster => &[Create, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, Alter, Describe],
            ResourceType::TransactionalId => &[Describe, Write, TwoPhaseCommit],
            ResourceType::DelegationToken => &[Describe],
            ResourceType::User => &[CreateTokens, DescribeTokens],
            ResourceType::Unknown | ResourceType::Any => &[],
        }
    }
}

/// What an ACL applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourcePattern {
    pub resource_type: ResourceType,
    pub name: String,
    pub pattern_type: PatternType,
}

impl ResourcePattern {
    pub fn new(resource_type: ResourceType, name: impl Into<String>, pattern_type: PatternType) -> ResourcePattern {
        ResourcePattern { resource_type, name: name.into(), pattern_type }
    }

    /// A topic by its exact name (`*` for every topic).
    pub fn topic(name: impl Into<String>) -> ResourcePattern {
        ResourcePattern::new(ResourceType::Topic, name, PatternType::Literal)
    }

    /// The cluster.
    pub fn cluster() -> ResourcePattern {
        ResourcePattern::new(ResourceType::Cluster, CLUSTER_RESOURCE_NAME, PatternType::Literal)
    }
}

/// Kafka's `ResourcePattern.toString`.
impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourcePattern(resourceType={}, name={}, patternType={})", self.resource_type, self.name, self.pattern_type)
    }
}

/// Who may (or may not) do what, from where.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessControlEntry {
    /// `type:name`, e.g. `User:alice`; `User:*` is every principal.
    pub principal: String,
    /// An IP address, or `*`.
    pub host: String,
    pub operation: AclOperation,
    pub permission_type: AclPermissionType,
}

/// Kafka's `AccessControlEntry.toString`.
impl fmt::Display for AccessControlEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal, self.host, self.operation, self.permission_type
        )
    }
}

/// One ACL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    pub pattern: ResourcePattern,
    pub entry: AccessControlEntry,
}

impl AclBinding {
    /// ALLOW `operation` on `pattern` to `principal` from any host.
    pub fn allow(pattern: ResourcePattern, principal: impl Into<String>, operation: AclOperation) -> AclBinding {
        AclBinding::new(pattern, principal, WILDCARD, operation, AclPermissionType::Allow)
    }

    /// DENY `operation` on `pattern` to `principal` from any host.
    pub fn deny(pattern: ResourcePattern, principal: impl Into<String>, operation: AclOperation) -> AclBinding {
        AclBinding::new(pattern, principal, WILDCARD, operation, AclPermissionType::Deny)
    }

    pub fn new(
        pattern: ResourcePattern,
        principal: impl Into<String>,
        host: impl Into<String>,
        operation: AclOperation,
        permission_type: AclPermissionType,
    ) -> AclBinding {
        AclBinding { pattern, entry: AccessControlEntry { principal: principal.into(), host: host.into(), operation, permission_type } }
    }

    /// The filter that matches exactly this ACL.
    pub fn to_filter(&self) -> AclBindingFilter {
        AclBindingFilter {
            pattern: ResourcePatternFilter {
                resource_type: self.pattern.resource_type,
                name: Some(self.pattern.name.clone()),
                pattern_type: self.pattern.pattern_type,
            },
            entry: AccessControlEntryFilter {
                principal: Some(self.entry.principal.clone()),
                host: Some(self.entry.host.clone()),
                operation: self.entry.operation,
                permission_type: self.entry.permission_type,
            },
        }
    }
}

/// Which resource patterns a filter selects; `ANY` values and `None` names match all, and
/// `Match` selects every pattern that covers the named resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourcePatternFilter {
    pub resource_type: ResourceType,
    pub name: Option<String>,
    pub pattern_type: PatternType,
}

impl ResourcePatternFilter {
    pub fn any() -> ResourcePatternFilter {
        ResourcePatternFilter { resource_type: ResourceType::Any, name: None, pattern_type: PatternType::Any }
    }
}

/// Kafka's `ResourcePatternFilter.toString`, which kafka-acls prints in its prompts.
impl fmt::Display for ResourcePatternFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name.as_deref().unwrap_or("<any>");
        write!(f, "ResourcePattern(resourceType={}, name={name}, patternType={})", self.resource_type, self.pattern_type)
    }
}

/// Which entries a filter selects; `None` and `ANY` match all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessControlEntryFilter {
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission_type: AclPermissionType,
}

impl AccessControlEntryFilter {
    pub fn any() -> AccessControlEntryFilter {
        AccessControlEntryFilter { principal: None, host: None, operation: AclOperation::Any, permission_type: AclPermissionType::Any }
    }
}

/// Kafka's `AclBinding.toString`.
impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(pattern={}, entry={})", self.pattern, self.entry)
    }
}

/// A resource pattern filter plus an entry filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclBindingFilter {
    pub pattern: ResourcePatternFilter,
    pub entry: AccessControlEntryFilter,
}

impl AclBindingFilter {
    /// Every ACL.
    pub fn any() -> AclBindingFilter {
        AclBindingFilter { pattern: ResourcePatternFilter::any(), entry: AccessControlEntryFilter::any() }
    }

    /// Every ACL on resources matching `pattern`.
    pub fn for_pattern(pattern: ResourcePatternFilter) -> AclBindingFilter {
        AclBindingFilter { pattern, entry: AccessControlEntryFilter::any() }
    }
}

fn str_bytes(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

fn binding(
    resource_type: i8,
    name: &str,
    pattern_type: i8,
    principal: &str,
    host: &str,
    operation: i8,
    permission_type: i8,
) -> AclBinding {
    AclBinding {
        pattern: ResourcePattern::new(ResourceType::from_code(resource_type), name, PatternType::from_code(pattern_type)),
        entry: AccessControlEntry {
            principal: principal.to_string(),
            host: host.to_string(),
            operation: AclOperation::from_code(operation),
            permission_type: AclPermissionType::from_code(permission_type),
        },
    }
}

impl Admin {
    /// Creates `bindings`; one result per binding, in order. An ACL that already exists is
    /// created again without error.
    pub async fn create_acls(&self, bindings: &[AclBinding]) -> Result<Vec<Result<()>>> {
        let creations = bindings
            .iter()
            .map(|b| {
                AclCreation::default()
                    .with_resource_type(b.pattern.resource_type.code())
                    .with_resource_name(str_bytes(&b.pattern.name))
                    .with_resource_pattern_type(b.pattern.pattern_type.code())
                    .with_principal(str_bytes(&b.entry.principal))
                    .with_host(str_bytes(&b.entry.host))
                    .with_operation(b.entry.operation.code())
                    .with_permission_type(b.entry.permission_type.code())
            })
            .collect();
        let response = self.cluster.any_broker().await?.send(CreateAclsRequest::default().with_creations(creations)).await?;
        if response.results.len() != bindings.len() {
            return Err(Error::Protocol(format!(
                "CreateAcls answered {} results for {} ACLs",
                response.results.len(),
                bindings.len()
            )));
        }
        Ok(response
            .results
            .iter()
            .zip(bindings)
            .map(|(result, binding)| check(result.error_code, result.error_message.as_ref(), format!("create ACL {binding}")))
            .collect())
    }

    /// The ACLs matching `filter`.
    pub async fn describe_acls(&self, filter: &AclBindingFilter) -> Result<Vec<AclBinding>> {
        let request = DescribeAclsRequest::default()
            .with_resource_type_filter(filter.pattern.resource_type.code())
            .with_resource_name_filter(filter.pattern.name.as_deref().map(str_bytes))
            .with_pattern_type_filter(filter.pattern.pattern_type.code())
            .with_principal_filter(filter.entry.principal.as_deref().map(str_bytes))
            .with_host_filter(filter.entry.host.as_deref().map(str_bytes))
            .with_operation(filter.entry.operation.code())
            .with_permission_type(filter.entry.permission_type.code());
        let response = self.cluster.any_broker().await?.send(request).await?;
        check(response.error_code, response.error_message.as_ref(), "describe ACLs")?;
        Ok(response
            .resources
            .iter()
            .flat_map(|resource| {
                resource.acls.iter().map(|acl| {
                    binding(
                        resource.resource_type,
                        &resource.resource_name,
                        resource.pattern_type,
                        &acl.principal,
                        &acl.host,
                        acl.operation,
                        acl.permission_type,
                    )
                })
            })
            .collect())
    }

    /// Deletes every ACL matching each filter; one result per filter, in order, listing the
    /// ACLs it matched (and deleted).
    pub async fn delete_acls(&self, filters: &[AclBindingFilter]) -> Result<Vec<Result<Vec<AclBinding>>>> {
        let wire = filters
            .iter()
            .map(|f| {
                DeleteAclsFilter::default()
                    .with_resource_type_filter(f.pattern.resource_type.code())
                    .with_resource_name_filter(f.pattern.name.as_deref().map(str_bytes))
                    .with_pattern_type_filter(f.pattern.pattern_type.code())
                    .with_principal_filter(f.entry.principal.as_deref().map(str_bytes))
                    .with_host_filter(f.entry.host.as_deref().map(str_bytes))
                    .with_operation(f.entry.operation.code())
                    .with_permission_type(f.entry.permission_type.code())
            })
            .collect();
        let response = self.cluster.any_broker().await?.send(DeleteAclsRequest::default().with_filters(wire)).await?;
        if response.filter_results.len() != filters.len() {
            return Err(Error::Protocol(format!(
                "DeleteAcls answered {} results for {} filters",
                response.filter_results.len(),
                filters.len()
            )));
        }
        Ok(response
            .filter_results
            .iter()
            .zip(filters)
            .map(|(result, filter)| {
                check(result.error_code, result.error_message.as_ref(), format!("delete ACLs matching {}", filter.pattern))?;
                Ok(result
                    .matching_acls
                    .iter()
                    .filter(|acl| acl.error_code == 0)
                    .map(|acl| {
                        binding(acl.resource_type, &acl.resource_name, acl.pattern_type, &acl.principal, &acl.host, acl.operation, acl.permission_type)
                    })
                    .collect())
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_every_spelling_kafka_accepts() {
        assert_eq!("DescribeConfigs".parse::<AclOperation>().unwrap(), AclOperation::DescribeConfigs);
        assert_eq!("describe_configs".parse::<AclOperation>().unwrap(), AclOperation::DescribeConfigs);
        assert_eq!("IDEMPOTENT_WRITE".parse::<AclOperation>().unwrap(), AclOperation::IdempotentWrite);
        assert_eq!("prefixed".parse::<PatternType>().unwrap(), PatternType::Prefixed);
        assert!("Fly".parse::<AclOperation>().is_err());
        assert_eq!(AclOperation::IdempotentWrite.pascal_name(), "IdempotentWrite");
    }

    #[test]
    fn codes_round_trip() {
        for operation in AclOperation::VALUES {
            assert_eq!(AclOperation::from_code(operation.code()), *operation);
        }
        assert_eq!(ResourceType::from_code(42), ResourceType::Unknown);
    }

    #[test]
    fn bindings_print_as_kafka_and_filter_themselves() {
        let binding = AclBinding::allow(ResourcePattern::topic("t"), "User:alice", AclOperation::Write);
        assert_eq!(binding.pattern.to_string(), "ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)");
        assert_eq!(binding.entry.to_string(), "(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)");
        let filter = binding.to_filter();
        assert_eq!(filter.pattern.name.as_deref(), Some("t"));
        assert_eq!(filter.entry.permission_type, AclPermissionType::Allow);
        assert_eq!(ResourcePatternFilter::any().to_string(), "ResourcePattern(resourceType=ANY, name=<any>, patternType=ANY)");
    }
}
