//! The vocabulary of ACLs with Kafka's wire codes and spellings: resource types, operations,
//! permission types, pattern types, and a binding (a resource pattern plus an access control
//! entry). Codes Runnel does not know decode to `Unknown`, as Kafka's `fromCode` does, so a
//! request carrying one is answered, not dropped.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Kafka's `ResourceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ResourceType {
    Unknown,
    Any,
    Topic,
    Group,
    Cluster,
    TransactionalId,
    DelegationToken,
    User,
}

/// Kafka's `AclOperation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AclOperation {
    Unknown,
    Any,
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
    CreateTokens,
    DescribeTokens,
    TwoPhaseCommit,
}

/// Kafka's `AclPermissionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PermissionType {
    Unknown,
    Any,
    Deny,
    Allow,
}

/// Kafka's `PatternType`. `Any` and `Match` exist only in filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PatternType {
    Unknown,
    Any,
    Match,
    Literal,
    Prefixed,
}

/// The name of the one cluster resource.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// A literal resource name, principal name or host that matches every one.
pub const WILDCARD: &str = "*";
/// The principal that matches every principal.
pub const WILDCARD_PRINCIPAL: &str = "User:*";

macro_rules! coded {
    ($type:ident { $($variant:ident = $code:expr, $name:expr;)* }) => {
        impl $type {
            /// Every variant, in code order.
            pub const VALUES: &'static [$type] = &[$($type::$variant),*];

            pub const fn code(self) -> i8 {
                match self { $($type::$variant => $code),* }
            }

            /// The variant for a wire code; codes Kafka does not define are `Unknown`.
            pub fn from_code(code: i8) -> $type {
                match code { $($code => $type::$variant,)* _ => $type::Unknown }
            }

            /// Kafka's enum constant name (`TOPIC`, `DESCRIBE_CONFIGS`), as its `toString`.
            pub fn name(self) -> &'static str {
                match self { $($type::$variant => $name),* }
            }

            /// The variant for a name in any case, with or without underscores (Kafka's
            /// `SecurityUtils` accepts `DescribeConfigs`, `describe_configs` and
            /// `DESCRIBE_CONFIGS` alike).
            pub fn parse(text: &str) -> Option<$type> {
                let wanted: String = text.trim().chars().filter(|c| *c != '_').collect();
                $type::VALUES.iter().copied().find(|v| v.name().replace('_', "").eq_ignore_ascii_case(&wanted))
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

coded!(ResourceType {
    Unknown = 0, "UNKNOWN";
    Any = 1, "ANY";
    Topic = 2, "TOPIC";
    Group = 3, "GROUP";
    Cluster = 4, "CLUSTER";
    TransactionalId = 5, "TRANSACTIONAL_ID";
    DelegationToken = 6, "DELEGATION_TOKEN";
    User = 7, "USER";
});

coded!(AclOperation {
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
});

coded!(PermissionType {
    Unknown = 0, "UNKNOWN";
    Any = 1, "ANY";
    Deny = 2, "DENY";
    Allow = 3, "ALLOW";
});

coded!(PatternType {
    Unknown = 0, "UNKNOWN";
    Any = 1, "ANY";
    Match = 2, "MATCH";
    Literal = 3, "LITERAL";
    Prefixed = 4, "PREFIXED";
});

impl ResourceType {
    /// The operations that mean something on this resource type (Kafka 4.1's
    /// `AclEntry.supportedOperations`): what `authorized_operations` fields report.
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

/// What an ACL applies to: a resource type, a name, and how the name matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourcePattern {
    pub resource_type: ResourceType,
    pub name: String,
    pub pattern_type: PatternType,
}

impl ResourcePattern {
    pub fn new(resource_type: ResourceType, name: impl Into<String>, pattern_type: PatternType) -> ResourcePattern {
        ResourcePattern { resource_type, name: name.into(), pattern_type }
    }

    /// Whether this (literal or prefixed) pattern covers the resource `name`.
    pub fn covers(&self, name: &str) -> bool {
        match self.pattern_type {
            PatternType::Literal => self.name == name || self.name == WILDCARD,
            PatternType::Prefixed => name.starts_with(self.name.as_str()),
            _ => false,
        }
    }
}

/// Kafka's `ResourcePattern.toString`, which kafka-acls prints.
impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourcePattern(resourceType={}, name={}, patternType={})", self.resource_type, self.name, self.pattern_type)
    }
}

/// Who may (or may not) do what from where.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccessControlEntry {
    /// `type:name`, e.g. `User:alice`; `User:*` is every principal.
    pub principal: String,
    /// An IP address as Java prints it, or `*`.
    pub host: String,
    pub operation: AclOperation,
    pub permission_type: PermissionType,
}

/// Kafka's `AccessControlEntry.toString`, which kafka-acls prints.
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AclBinding {
    pub pattern: ResourcePattern,
    pub entry: AccessControlEntry,
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(pattern={}, entry={})", self.pattern, self.entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_unknown() {
        for operation in AclOperation::VALUES {
            assert_eq!(AclOperation::from_code(operation.code()), *operation);
        }
        assert_eq!(AclOperation::TwoPhaseCommit.code(), 15);
        assert_eq!(ResourceType::from_code(99), ResourceType::Unknown);
        assert_eq!(PatternType::from_code(-1), PatternType::Unknown);
        assert_eq!(PermissionType::from_code(3), PermissionType::Allow);
    }

    #[test]
    fn names_parse_in_kafkas_spellings() {
        assert_eq!(AclOperation::parse("DescribeConfigs"), Some(AclOperation::DescribeConfigs));
        assert_eq!(AclOperation::parse("describe_configs"), Some(AclOperation::DescribeConfigs));
        assert_eq!(AclOperation::parse("IDEMPOTENT_WRITE"), Some(AclOperation::IdempotentWrite));
        assert_eq!(ResourceType::parse("TransactionalId"), Some(ResourceType::TransactionalId));
        assert_eq!(PatternType::parse("prefixed"), Some(PatternType::Prefixed));
        assert_eq!(AclOperation::parse("fly"), None);
    }

    #[test]
    fn display_is_kafkas_to_string() {
        let binding = AclBinding {
            pattern: ResourcePattern::new(ResourceType::Topic, "t", PatternType::Literal),
            entry: AccessControlEntry {
                principal: "User:alice".into(),
                host: "*".into(),
                operation: AclOperation::Write,
                permission_type: PermissionType::Allow,
            },
        };
        assert_eq!(binding.pattern.to_string(), "ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)");
        assert_eq!(binding.entry.to_string(), "(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)");
    }

    #[test]
    fn literal_wildcard_and_prefix_cover_names() {
        let literal = ResourcePattern::new(ResourceType::Topic, "orders", PatternType::Literal);
        assert!(literal.covers("orders") && !literal.covers("orders-eu") && !literal.covers("order"));
        assert!(ResourcePattern::new(ResourceType::Topic, "*", PatternType::Literal).covers("anything"));
        let prefixed = ResourcePattern::new(ResourceType::Topic, "orders", PatternType::Prefixed);
        assert!(prefixed.covers("orders") && prefixed.covers("orders-eu") && !prefixed.covers("order"));
        assert!(!ResourcePattern::new(ResourceType::Topic, "*", PatternType::Prefixed).covers("orders"));
    }
}
