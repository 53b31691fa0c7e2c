//! The decision: may this principal, from this host, do this operation on this resource?
//! Kafka's `StandardAuthorizerData.authorize`, as a pure function of the ACL set and the
//! settings (no IO, no clock, no locks):
//!
//! 1. a super user (`super.users`, compared as `type:name`) may do anything;
//! 2. the ACLs whose pattern covers the resource are found: a literal with its exact name or
//!    the `*` wildcard, and every prefixed pattern that begins the name;
//! 3. a matching DENY wins over any ALLOW; a matching ALLOW allows;
//! 4. if no ACL covers the resource at all, `allow.everyone.if.no.acl.found` decides;
//!    if some do but none matches this request, it is denied.
//!
//! An ACL matches when its principal is the caller's or `User:*`, its host is the caller's
//! address or `*`, and its operation is the one asked, or `ALL`. An ALLOW (never a DENY) of
//! READ, WRITE, DELETE or ALTER also allows DESCRIBE, and one of ALTER_CONFIGS also allows
//! DESCRIBE_CONFIGS.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use super::types::{AccessControlEntry, AclBinding, AclOperation, PatternType, PermissionType, ResourceType, WILDCARD, WILDCARD_PRINCIPAL};
use crate::tls::KafkaPrincipal;

/// The authorizer's settings (`super.users`, `allow.everyone.if.no.acl.found`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerSettings {
    pub super_users: BTreeSet<String>,
    pub allow_everyone_if_no_acl_found: bool,
}

/// Who is asking: the session's principal and its address as Java prints it.
#[derive(Debug, Clone)]
pub struct Requester<'a> {
    pub principal: &'a KafkaPrincipal,
    pub host: String,
}

impl<'a> Requester<'a> {
    pub fn new(principal: &'a KafkaPrincipal, address: IpAddr) -> Requester<'a> {
        Requester { principal, host: java_host_address(address) }
    }
}

/// `InetAddress.getHostAddress()`: dotted IPv4 (also for IPv4-mapped IPv6, which Java turns
/// into IPv4 addresses), and IPv6 as eight lower-case hex groups without `::` compression.
pub fn java_host_address(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.segments().iter().map(|group| format!("{group:x}")).collect::<Vec<_>>().join(":"),
        },
    }
}

/// Why a request was allowed or denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    SuperUser,
    /// An ALLOW ACL matched and no DENY did.
    Allowed(AclBinding),
    /// A DENY ACL matched.
    Denied(AclBinding),
    /// No ACL covers the resource: `allow.everyone.if.no.acl.found` decided.
    NoAcls { allowed: bool },
    /// ACLs cover the resource, but none matches this principal, host and operation.
    NoMatch,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        match self {
            Decision::SuperUser | Decision::Allowed(_) => true,
            Decision::NoAcls { allowed } => *allowed,
            Decision::Denied(_) | Decision::NoMatch => false,
        }
    }
}

/// The ACLs of one resource type, indexed by how their pattern names resources.
#[derive(Debug, Default)]
struct TypeIndex {
    /// Literal patterns by exact name (the `*` wildcard is the key `"*"`).
    literal: HashMap<String, Vec<AclBinding>>,
    /// Prefixed patterns by prefix.
    prefixed: HashMap<String, Vec<AclBinding>>,
}

/// A set of ACLs, immutable once built; changes build a new set.
#[derive(Debug, Default)]
pub struct AclSet {
    bindings: BTreeSet<AclBinding>,
    by_type: BTreeMap<ResourceType, TypeIndex>,
}

impl AclSet {
    pub fn new(bindings: impl IntoIterator<Item = AclBinding>) -> AclSet {
        let bindings: BTreeSet<AclBinding> = bindings.into_iter().collect();
        let mut by_type: BTreeMap<ResourceType, TypeIndex> = BTreeMap::new();
        for binding in &bindings {
            let index = by_type.entry(binding.pattern.resource_type).or_default();
            let names = match binding.pattern.pattern_type {
                PatternType::Prefixed => &mut index.prefixed,
                // Validation admits only literal and prefixed patterns into a set.
                _ => &mut index.literal,
            };
            names.entry(binding.pattern.name.clone()).or_default().push(binding.clone());
        }
        AclSet { bindings, by_type }
    }

    /// Every ACL, in a stable order.
    pub fn bindings(&self) -> &BTreeSet<AclBinding> {
        &self.bindings
    }

    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// Every ACL whose pattern covers the resource `name`.
    fn covering<'s>(&'s self, resource_type: ResourceType, name: &'s str) -> impl Iterator<Item = &'s AclBinding> + 's {
        let index = self.by_type.get(&resource_type);
        let literal = index.into_iter().flat_map(move |index| {
            let exact = index.literal.get(name).into_iter().flatten();
            let wildcard = (name != WILDCARD).then(|| index.literal.get(WILDCARD)).flatten().into_iter().flatten();
            exact.chain(wildcard)
        });
        let prefixed = index.into_iter().flat_map(move |index| {
            name.char_indices()
                .map(|(at, c)| &name[..at + c.len_utf8()])
                .filter_map(|prefix| index.prefixed.get(prefix))
                .flatten()
        });
        literal.chain(prefixed)
    }
}

/// The settings plus one snapshot of the ACLs: everything a decision reads.
#[derive(Debug, Clone)]
pub struct Authorizer {
    pub settings: Arc<AuthorizerSettings>,
    pub acls: Arc<AclSet>,
}

impl Authorizer {
    pub fn new(settings: Arc<AuthorizerSettings>, acls: Arc<AclSet>) -> Authorizer {
        Authorizer { settings, acls }
    }

    fn is_super_user(&self, principal: &KafkaPrincipal) -> bool {
        self.settings.super_users.contains(&principal.to_string())
    }

    /// The decision for `operation` on the resource `resource_type` named `name`.
    pub fn decide(&self, who: &Requester<'_>, operation: AclOperation, resource_type: ResourceType, name: &str) -> Decision {
        match self.find(who, operation, resource_type, name) {
            Found::SuperUser => Decision::SuperUser,
            Found::Allowed(binding) => Decision::Allowed(binding.clone()),
            Found::Denied(binding) => Decision::Denied(binding.clone()),
            Found::NoAcls => Decision::NoAcls { allowed: self.settings.allow_everyone_if_no_acl_found },
            Found::NoMatch => Decision::NoMatch,
        }
    }

    pub fn authorize(&self, who: &Requester<'_>, operation: AclOperation, resource_type: ResourceType, name: &str) -> bool {
        match self.find(who, operation, resource_type, name) {
            Found::SuperUser | Found::Allowed(_) => true,
            Found::NoAcls => self.settings.allow_everyone_if_no_acl_found,
            Found::Denied(_) | Found::NoMatch => false,
        }
    }

    fn find<'s>(&'s self, who: &Requester<'_>, operation: AclOperation, resource_type: ResourceType, name: &'s str) -> Found<'s> {
        if self.is_super_user(who.principal) {
            return Found::SuperUser;
        }
        let mut covered = false;
        let mut allowed_by = None;
        for binding in self.acls.covering(resource_type, name) {
            covered = true;
            match entry_result(&binding.entry, who, operation) {
                Some(PermissionType::Deny) => return Found::Denied(binding),
                Some(_) if allowed_by.is_none() => allowed_by = Some(binding),
                _ => {}
            }
        }
        match allowed_by {
            Some(binding) => Found::Allowed(binding),
            None if covered => Found::NoMatch,
            None => Found::NoAcls,
        }
    }

    /// Kafka's `Authorizer.authorizeByResourceType`: whether the caller may do `operation` on
    /// at least one resource of the type (InitProducerId asks it for WRITE on any topic). A
    /// literal or prefixed ALLOW counts unless a DENY of the same literal, or a DENY prefix of
    /// it, outweighs it; a wildcard DENY denies all; allow-by-default does not apply.
    pub fn authorize_by_resource_type(&self, who: &Requester<'_>, operation: AclOperation, resource_type: ResourceType) -> bool {
        // A super user (or an ALLOW on `*`) passes the check on an arbitrary name.
        if self.authorize(who, operation, resource_type, "hardcode") {
            return true;
        }
        let Some(index) = self.acls.by_type.get(&resource_type) else { return false };
        let relevant = |binding: &AclBinding| {
            let entry = &binding.entry;
            (entry.host == WILDCARD || entry.host == who.host)
                && principal_matches(&entry.principal, who.principal)
                && (entry.operation == operation || entry.operation == AclOperation::All)
        };
        let names = |acls: &HashMap<String, Vec<AclBinding>>, permission: PermissionType| -> BTreeSet<String> {
            acls.iter()
                .filter(|(_, bindings)| bindings.iter().any(|b| b.entry.permission_type == permission && relevant(b)))
                .map(|(name, _)| name.clone())
                .collect()
        };
        let denied_literal = names(&index.literal, PermissionType::Deny);
        if denied_literal.contains(WILDCARD) {
            return false;
        }
        let denied_prefixes = names(&index.prefixed, PermissionType::Deny);
        let allowed_literal = names(&index.literal, PermissionType::Allow);
        if allowed_literal.contains(WILDCARD) {
            return true;
        }
        let dominated = |name: &str| {
            name.char_indices().any(|(at, c)| denied_prefixes.contains(&name[..at + c.len_utf8()]))
        };
        allowed_literal.iter().any(|name| !denied_literal.contains(name) && !dominated(name))
            || names(&index.prefixed, PermissionType::Allow).iter().any(|name| !dominated(name))
    }

    /// Kafka's `authorized_operations` bit field for a resource: one bit per supported
    /// operation (bit = operation code) the caller is allowed.
    pub fn authorized_operations(&self, who: &Requester<'_>, resource_type: ResourceType, name: &str) -> i32 {
        resource_type
            .supported_operations()
            .iter()
            .filter(|operation| self.authorize(who, **operation, resource_type, name))
            .fold(0, |bits, operation| bits | operation_bit(*operation))
    }
}

/// An operation's bit in an `authorized_operations` field.
pub const fn operation_bit(operation: AclOperation) -> i32 {
    1 << operation.code()
}

/// Every supported operation of a resource type as a bit field: what an open broker reports.
pub fn all_operations(resource_type: ResourceType) -> i32 {
    resource_type.supported_operations().iter().fold(0, |bits, operation| bits | operation_bit(*operation))
}

/// What a search of the ACLs found, by reference.
enum Found<'s> {
    SuperUser,
    Allowed(&'s AclBinding),
    Denied(&'s AclBinding),
    NoAcls,
    NoMatch,
}

/// `User:*` matches every principal; otherwise type and name must both be equal, the ACL's
/// principal read as `type:name` split at its first colon.
fn principal_matches(acl_principal: &str, principal: &KafkaPrincipal) -> bool {
    if acl_principal == WILDCARD_PRINCIPAL {
        return true;
    }
    acl_principal
        .split_once(':')
        .is_some_and(|(kind, name)| kind == principal.principal_type && name == principal.name)
}

/// Whether `entry` says anything about this request, and what: `Some(Allow | Deny)` or `None`.
fn entry_result(entry: &AccessControlEntry, who: &Requester<'_>, operation: AclOperation) -> Option<PermissionType> {
    if !principal_matches(&entry.principal, who.principal) {
        return None;
    }
    if entry.host != WILDCARD && entry.host != who.host {
        return None;
    }
    if entry.operation != AclOperation::All {
        let applies = match (entry.permission_type, operation) {
            (PermissionType::Allow, AclOperation::Describe) => matches!(
                entry.operation,
                AclOperation::Describe | AclOperation::Read | AclOperation::Write | AclOperation::Delete | AclOperation::Alter
            ),
            (PermissionType::Allow, AclOperation::DescribeConfigs) => {
                matches!(entry.operation, AclOperation::DescribeConfigs | AclOperation::AlterConfigs)
            }
            _ => entry.operation == operation,
        };
        if !applies {
            return None;
        }
    }
    Some(entry.permission_type)
}

#[cfg(test)]
mod tests;
