//! What Kafka accepts in CreateAcls, DescribeAcls and DeleteAcls, in Kafka's order and words.
//!
//! Three levels, as Kafka 4.1 answers them:
//! - a request carrying the code 0 (`UNKNOWN`) for a resource type, pattern type, operation
//!   or permission type does not parse in Kafka, which closes the connection;
//! - a CreateAcls creation with ANY (resource type, operation, permission) or ANY/MATCH
//!   (pattern type) cannot become a binding in Kafka (its constructors throw), which fails
//!   the whole request with UNKNOWN_SERVER_ERROR and no message;
//! - anything else is judged per creation or filter with INVALID_REQUEST: the cluster's name
//!   (`AclApis`), an empty name, then `AclControlManager.validateNewAcl` (unknown codes,
//!   a principal without a colon); a DeleteAcls filter with an unknown code is refused
//!   ("Unknown patternFilter." / "Unknown entryFilter.").

use super::filter::{AclBindingFilter, EntryFilter, ResourcePatternFilter};
use super::types::{AccessControlEntry, AclBinding, AclOperation, PatternType, PermissionType, ResourcePattern, ResourceType, CLUSTER_NAME};

/// The raw codes of one ACL or filter, as decoded from the wire.
#[derive(Debug, Clone, Copy)]
pub struct WireCodes {
    pub resource_type: i8,
    pub pattern_type: i8,
    pub operation: i8,
    pub permission_type: i8,
}

/// The code Kafka's request parser refuses.
const UNKNOWN_CODE: i8 = 0;

impl WireCodes {
    /// False when Kafka would not parse the request at all (see the module doc).
    pub fn parses(&self) -> bool {
        ![self.resource_type, self.pattern_type, self.operation, self.permission_type].contains(&UNKNOWN_CODE)
    }

    /// Whether a CreateAcls creation with these codes can become a binding in Kafka.
    pub fn convertible(&self) -> bool {
        ResourceType::from_code(self.resource_type) != ResourceType::Any
            && !matches!(PatternType::from_code(self.pattern_type), PatternType::Any | PatternType::Match)
            && AclOperation::from_code(self.operation) != AclOperation::Any
            && PermissionType::from_code(self.permission_type) != PermissionType::Any
    }
}

/// The binding a CreateAcls creation asks for, or the INVALID_REQUEST message refusing it.
/// `codes` must already be convertible.
pub fn binding_for(codes: WireCodes, name: &str, principal: &str, host: &str) -> Result<AclBinding, String> {
    let binding = AclBinding {
        pattern: ResourcePattern::new(ResourceType::from_code(codes.resource_type), name, PatternType::from_code(codes.pattern_type)),
        entry: AccessControlEntry {
            principal: principal.to_string(),
            host: host.to_string(),
            operation: AclOperation::from_code(codes.operation),
            permission_type: PermissionType::from_code(codes.permission_type),
        },
    };
    if binding.pattern.resource_type == ResourceType::Cluster && binding.pattern.name != CLUSTER_NAME {
        return Err(format!("The only valid name for the CLUSTER resource is {CLUSTER_NAME}"));
    }
    if binding.pattern.name.is_empty() {
        return Err("Invalid empty resource name".into());
    }
    check_binding(&binding)?;
    Ok(binding)
}

/// Kafka's `validateNewAcl`: only concrete, known values and a `type:name` principal.
pub fn check_binding(binding: &AclBinding) -> Result<(), String> {
    let pattern = &binding.pattern;
    let entry = &binding.entry;
    if matches!(pattern.resource_type, ResourceType::Unknown | ResourceType::Any) {
        return Err(format!("Invalid resourceType {}", pattern.resource_type));
    }
    if !matches!(pattern.pattern_type, PatternType::Literal | PatternType::Prefixed) {
        return Err(format!("Invalid patternType {}", pattern.pattern_type));
    }
    if matches!(entry.operation, AclOperation::Unknown | AclOperation::Any) {
        return Err(format!("Invalid operation {}", entry.operation));
    }
    if !matches!(entry.permission_type, PermissionType::Allow | PermissionType::Deny) {
        return Err(format!("Invalid permissionType {}", entry.permission_type));
    }
    if pattern.name.is_empty() {
        return Err("Resource name should not be empty".into());
    }
    if !entry.principal.contains(':') {
        return Err(format!(
            "Could not parse principal from `{}` (no colon is present separating the principal type from the principal name)",
            entry.principal
        ));
    }
    Ok(())
}

/// A DescribeAcls or DeleteAcls filter from its wire fields.
pub fn filter_for(codes: WireCodes, name: Option<&str>, principal: Option<&str>, host: Option<&str>) -> AclBindingFilter {
    AclBindingFilter {
        pattern: ResourcePatternFilter {
            resource_type: ResourceType::from_code(codes.resource_type),
            name: name.map(String::from),
            pattern_type: PatternType::from_code(codes.pattern_type),
        },
        entry: EntryFilter {
            principal: principal.map(String::from),
            host: host.map(String::from),
            operation: AclOperation::from_code(codes.operation),
            permission_type: PermissionType::from_code(codes.permission_type),
        },
    }
}

/// Kafka's `AclControlManager.validateFilter`, for DeleteAcls.
pub fn check_delete_filter(filter: &AclBindingFilter) -> Result<(), String> {
    if filter.pattern.is_unknown() {
        return Err("Unknown patternFilter.".into());
    }
    if filter.entry.is_unknown() {
        return Err("Unknown entryFilter.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: i8 = 2;
    const CLUSTER: i8 = 4;
    const LITERAL: i8 = 3;
    const WRITE: i8 = 4;
    const ALLOW: i8 = 3;

    fn codes(resource_type: i8, pattern_type: i8, operation: i8, permission_type: i8) -> WireCodes {
        WireCodes { resource_type, pattern_type, operation, permission_type }
    }

    #[test]
    fn code_zero_does_not_parse_and_any_or_match_does_not_convert() {
        assert!(!codes(0, LITERAL, WRITE, ALLOW).parses());
        assert!(!codes(TOPIC, LITERAL, WRITE, 0).parses());
        assert!(codes(99, 99, 99, 99).parses(), "unrecognised codes parse as UNKNOWN");
        assert!(!codes(1, LITERAL, WRITE, ALLOW).convertible());
        assert!(!codes(TOPIC, 2, WRITE, ALLOW).convertible());
        assert!(!codes(TOPIC, 1, WRITE, ALLOW).convertible());
        assert!(!codes(TOPIC, LITERAL, 1, ALLOW).convertible());
        assert!(!codes(TOPIC, LITERAL, WRITE, 1).convertible());
        assert!(codes(99, LITERAL, WRITE, ALLOW).convertible());
    }

    #[test]
    fn creations_are_refused_in_kafkas_order_and_words() {
        let good = codes(TOPIC, LITERAL, WRITE, ALLOW);
        assert!(binding_for(good, "t", "User:alice", "*").is_ok());
        let refused = |codes, name, principal| binding_for(codes, name, principal, "*").unwrap_err();
        assert_eq!(refused(codes(CLUSTER, LITERAL, WRITE, ALLOW), "", "x"), "The only valid name for the CLUSTER resource is kafka-cluster");
        assert_eq!(refused(codes(99, LITERAL, WRITE, ALLOW), "", "x"), "Invalid empty resource name");
        assert_eq!(refused(codes(99, 99, WRITE, ALLOW), "t", "x"), "Invalid resourceType UNKNOWN");
        assert_eq!(refused(codes(TOPIC, 99, 99, ALLOW), "t", "x"), "Invalid patternType UNKNOWN");
        assert_eq!(refused(codes(TOPIC, LITERAL, 99, 99), "t", "x"), "Invalid operation UNKNOWN");
        assert_eq!(refused(codes(TOPIC, LITERAL, WRITE, 99), "t", "x"), "Invalid permissionType UNKNOWN");
        assert_eq!(
            refused(good, "t", "alice"),
            "Could not parse principal from `alice` (no colon is present separating the principal type from the principal name)"
        );
        assert!(binding_for(good, "t", "User:", "not a host").is_ok(), "Kafka checks neither names nor hosts");
        assert!(binding_for(codes(CLUSTER, LITERAL, 3, ALLOW), "kafka-cluster", "User:a", "*").is_ok(), "nor the operation's fit");
    }

    #[test]
    fn delete_filters_with_unknown_codes_are_refused() {
        let filter = |resource_type, operation| filter_for(codes(resource_type, 1, operation, 1), None, None, None);
        assert_eq!(check_delete_filter(&filter(99, 1)).unwrap_err(), "Unknown patternFilter.");
        assert_eq!(check_delete_filter(&filter(1, 99)).unwrap_err(), "Unknown entryFilter.");
        assert!(check_delete_filter(&filter(1, 1)).is_ok());
    }
}
