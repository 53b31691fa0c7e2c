//! ACL filters, as DescribeAcls and DeleteAcls send them (Kafka's `AclBindingFilter`): each
//! field either names a value or is a wildcard (`None` strings, `Any` enums), and the pattern
//! type `Match` selects every pattern that would cover the named resource.

use super::types::{AccessControlEntry, AclBinding, AclOperation, PatternType, PermissionType, ResourcePattern, ResourceType};

/// Which resource patterns a filter selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePatternFilter {
    pub resource_type: ResourceType,
    /// `None` matches every name.
    pub name: Option<String>,
    pub pattern_type: PatternType,
}

/// Which access control entries a filter selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFilter {
    /// `None` matches every principal; otherwise compared exactly (`User:*` only matches ACLs
    /// written for `User:*`).
    pub principal: Option<String>,
    /// `None` matches every host; otherwise compared exactly.
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission_type: PermissionType,
}

/// A pattern filter plus an entry filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBindingFilter {
    pub pattern: ResourcePatternFilter,
    pub entry: EntryFilter,
}

impl ResourcePatternFilter {
    /// Kafka's `isUnknown`: a filter naming a type Kafka does not know matches nothing
    /// meaningful and DeleteAcls refuses it.
    pub fn is_unknown(&self) -> bool {
        self.resource_type == ResourceType::Unknown || self.pattern_type == PatternType::Unknown
    }

    pub fn matches(&self, pattern: &ResourcePattern) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != pattern.resource_type {
            return false;
        }
        let by_pattern = matches!(self.pattern_type, PatternType::Any | PatternType::Match);
        if !by_pattern && self.pattern_type != pattern.pattern_type {
            return false;
        }
        let Some(name) = &self.name else { return true };
        if self.pattern_type == PatternType::Any || self.pattern_type == pattern.pattern_type {
            return *name == pattern.name;
        }
        // MATCH: every pattern that covers the named resource.
        pattern.covers(name)
    }
}

impl EntryFilter {
    pub fn is_unknown(&self) -> bool {
        self.operation == AclOperation::Unknown || self.permission_type == PermissionType::Unknown
    }

    pub fn matches(&self, entry: &AccessControlEntry) -> bool {
        self.principal.as_ref().is_none_or(|principal| *principal == entry.principal)
            && self.host.as_ref().is_none_or(|host| *host == entry.host)
            && (self.operation == AclOperation::Any || self.operation == entry.operation)
            && (self.permission_type == PermissionType::Any || self.permission_type == entry.permission_type)
    }
}

impl AclBindingFilter {
    /// The filter that selects every ACL.
    pub fn any() -> AclBindingFilter {
        AclBindingFilter {
            pattern: ResourcePatternFilter { resource_type: ResourceType::Any, name: None, pattern_type: PatternType::Any },
            entry: EntryFilter { principal: None, host: None, operation: AclOperation::Any, permission_type: PermissionType::Any },
        }
    }

    pub fn matches(&self, binding: &AclBinding) -> bool {
        self.pattern.matches(&binding.pattern) && self.entry.matches(&binding.entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(resource_type: ResourceType, name: &str, pattern_type: PatternType, principal: &str) -> AclBinding {
        AclBinding {
            pattern: ResourcePattern::new(resource_type, name, pattern_type),
            entry: AccessControlEntry {
                principal: principal.into(),
                host: "*".into(),
                operation: AclOperation::Read,
                permission_type: PermissionType::Allow,
            },
        }
    }

    fn pattern_filter(name: Option<&str>, pattern_type: PatternType) -> AclBindingFilter {
        let mut filter = AclBindingFilter::any();
        filter.pattern = ResourcePatternFilter { resource_type: ResourceType::Topic, name: name.map(String::from), pattern_type };
        filter
    }

    #[test]
    fn any_selects_the_exact_name_of_every_pattern_type() {
        let literal = binding(ResourceType::Topic, "orders", PatternType::Literal, "User:a");
        let prefixed = binding(ResourceType::Topic, "orders", PatternType::Prefixed, "User:a");
        let wildcard = binding(ResourceType::Topic, "*", PatternType::Literal, "User:a");
        let filter = pattern_filter(Some("orders"), PatternType::Any);
        assert!(filter.matches(&literal) && filter.matches(&prefixed) && !filter.matches(&wildcard));
        assert!(pattern_filter(None, PatternType::Any).matches(&wildcard));
    }

    #[test]
    fn match_selects_every_pattern_covering_the_name() {
        let filter = pattern_filter(Some("orders-eu"), PatternType::Match);
        assert!(filter.matches(&binding(ResourceType::Topic, "orders-eu", PatternType::Literal, "User:a")));
        assert!(filter.matches(&binding(ResourceType::Topic, "*", PatternType::Literal, "User:a")));
        assert!(filter.matches(&binding(ResourceType::Topic, "orders", PatternType::Prefixed, "User:a")));
        assert!(!filter.matches(&binding(ResourceType::Topic, "orders", PatternType::Literal, "User:a")));
        assert!(!filter.matches(&binding(ResourceType::Group, "orders-eu", PatternType::Literal, "User:a")));
    }

    #[test]
    fn specific_pattern_types_and_entries_compare_exactly() {
        let prefixed = binding(ResourceType::Topic, "orders", PatternType::Prefixed, "User:a");
        assert!(!pattern_filter(Some("orders"), PatternType::Literal).matches(&prefixed));
        assert!(pattern_filter(Some("orders"), PatternType::Prefixed).matches(&prefixed));
        let mut by_principal = AclBindingFilter::any();
        by_principal.entry.principal = Some("User:*".into());
        assert!(!by_principal.matches(&prefixed));
        assert!(by_principal.matches(&binding(ResourceType::Topic, "x", PatternType::Literal, "User:*")));
        let mut by_operation = AclBindingFilter::any();
        by_operation.entry.operation = AclOperation::Write;
        assert!(!by_operation.matches(&prefixed));
    }
}
