//! Authorization with ACLs, as Kafka 4.1's `StandardAuthorizer` (enabled by
//! `authorizer.class.name`; without it every request is allowed, as in Kafka).
//!
//! Module map: `types` (resource types, operations, patterns, bindings with Kafka's codes and
//! spellings), `filter` (DescribeAcls/DeleteAcls filters), `authorizer` (the decision, a pure
//! function of a snapshot of the ACLs and the settings), `validate` (what CreateAcls and
//! DeleteAcls accept), `store` (the ACL set persisted in `acls.json` and loaded at startup).
//!
//! **Invariant:** decisions are pure: `authorizer` reads no clock, file or socket, so the
//! decision table is unit-tested row by row. Handlers ask every question through
//! `handlers::authorize`, never around it.

pub mod authorizer;
pub mod filter;
pub mod store;
pub mod types;
pub mod validate;

use std::path::Path;

pub use authorizer::{AclSet, Authorizer, AuthorizerSettings, Decision, Requester};
pub use filter::AclBindingFilter;
pub use store::{AclStore, AclStoreError};
pub use types::{AccessControlEntry, AclBinding, AclOperation, PatternType, PermissionType, ResourcePattern, ResourceType};

use crate::config::authorizer::AuthorizerConfig;

/// A broker's authorization: off, or ACLs in a store.
#[derive(Debug)]
pub struct Authorization {
    store: Option<AclStore>,
}

/// What one request is judged by: everything allowed, or a snapshot of the ACLs.
#[derive(Debug, Clone)]
pub enum Access {
    Open,
    Acls(Authorizer),
}

impl Authorization {
    /// Authorization as configured; when enabled, the ACLs are loaded from `log_dir`.
    pub fn open(config: &AuthorizerConfig, log_dir: &Path) -> Result<Authorization, AclStoreError> {
        if !config.enabled {
            return Ok(Authorization::disabled());
        }
        let settings = AuthorizerSettings {
            super_users: config.super_users.clone(),
            allow_everyone_if_no_acl_found: config.allow_everyone_if_no_acl_found,
        };
        Ok(Authorization { store: Some(AclStore::open(log_dir, settings)?) })
    }

    /// No authorizer: every request is allowed and the ACL APIs answer SECURITY_DISABLED.
    pub fn disabled() -> Authorization {
        Authorization { store: None }
    }

    /// The ACL store, when an authorizer is configured.
    pub fn store(&self) -> Option<&AclStore> {
        self.store.as_ref()
    }

    /// The snapshot one request is judged by.
    pub fn access(&self) -> Access {
        match &self.store {
            None => Access::Open,
            Some(store) => Access::Acls(store.authorizer()),
        }
    }
}
