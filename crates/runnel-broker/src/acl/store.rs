//! The ACL set of a broker, kept in `acls.json` in the log directory and loaded at startup.
//!
//! Changes (CreateAcls, DeleteAcls) are computed on the current set, written durably (an
//! atomic replace of the file), and only then published to readers, so a client never sees
//! an ACL a crash would lose. Writers are serialized; readers take an immutable snapshot
//! ([`AclStore::authorizer`]) and never wait for a write. A file that cannot be read is a
//! startup error, never an empty set: starting without the ACLs would open the broker.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use super::authorizer::{AclSet, Authorizer, AuthorizerSettings};
use super::types::AclBinding;
use crate::durable_file::{read_if_exists, write_atomically};

/// The file, in the first log directory.
pub const ACLS_FILE_NAME: &str = "acls.json";
/// The file format this code writes and reads.
const FILE_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum AclStoreError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot parse {}: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

#[derive(Serialize, Deserialize)]
struct AclsFile {
    version: u32,
    acls: Vec<AclBinding>,
}

/// The ACLs and the authorizer settings of a broker with authorization enabled.
#[derive(Debug)]
pub struct AclStore {
    path: PathBuf,
    settings: Arc<AuthorizerSettings>,
    current: RwLock<Arc<AclSet>>,
    /// Held across compute-persist-publish so concurrent changes do not lose each other.
    writer: Mutex<()>,
}

impl AclStore {
    /// Loads `acls.json` from `log_dir` (no file: no ACLs).
    pub fn open(log_dir: &Path, settings: AuthorizerSettings) -> Result<AclStore, AclStoreError> {
        let path = log_dir.join(ACLS_FILE_NAME);
        let acls = match read_if_exists(&path).map_err(|source| AclStoreError::Read { path: path.clone(), source })? {
            None => AclSet::default(),
            Some(bytes) => {
                let file: AclsFile = serde_json::from_slice(&bytes)
                    .map_err(|error| AclStoreError::Parse { path: path.clone(), reason: error.to_string() })?;
                if file.version != FILE_VERSION {
                    return Err(AclStoreError::Parse { path, reason: format!("unknown version {}", file.version) });
                }
                if let Some(bad) = file.acls.iter().find(|binding| super::validate::check_binding(binding).is_err()) {
                    return Err(AclStoreError::Parse { path, reason: format!("invalid ACL {bad}") });
                }
                AclSet::new(file.acls)
            }
        };
        Ok(AclStore { path, settings: Arc::new(settings), current: RwLock::new(Arc::new(acls)), writer: Mutex::new(()) })
    }

    /// A snapshot of the settings and the current ACLs, for decisions.
    pub fn authorizer(&self) -> Authorizer {
        Authorizer::new(self.settings.clone(), self.current.read().clone())
    }

    /// Applies `change` to the current ACLs: it returns the new set of bindings (or `None`
    /// for no change) and a value for the caller. The new set is persisted, then published.
    pub fn update<T>(&self, change: impl FnOnce(&AclSet) -> (Option<Vec<AclBinding>>, T)) -> Result<T, AclStoreError> {
        let _writing = self.writer.lock();
        let current = self.current.read().clone();
        let (next, answer) = change(&current);
        if let Some(next) = next {
            let file = AclsFile { version: FILE_VERSION, acls: next.clone() };
            let bytes = serde_json::to_vec_pretty(&file).map_err(|error| AclStoreError::Write {
                path: self.path.clone(),
                source: std::io::Error::other(error),
            })?;
            write_atomically(&self.path, &bytes).map_err(|source| AclStoreError::Write { path: self.path.clone(), source })?;
            *self.current.write() = Arc::new(AclSet::new(next));
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::types::{AccessControlEntry, AclOperation, PatternType, PermissionType, ResourcePattern, ResourceType};

    fn binding(name: &str) -> AclBinding {
        AclBinding {
            pattern: ResourcePattern::new(ResourceType::Topic, name, PatternType::Prefixed),
            entry: AccessControlEntry {
                principal: "User:alice".into(),
                host: "*".into(),
                operation: AclOperation::Read,
                permission_type: PermissionType::Allow,
            },
        }
    }

    fn add(store: &AclStore, new: AclBinding) {
        store
            .update(|current| {
                let mut next: Vec<AclBinding> = current.bindings().iter().cloned().collect();
                next.push(new);
                (Some(next), ())
            })
            .unwrap();
    }

    #[test]
    fn acls_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = AclStore::open(dir.path(), AuthorizerSettings::default()).unwrap();
        assert!(store.authorizer().acls.is_empty());
        add(&store, binding("orders"));
        add(&store, binding("audit"));
        let reopened = AclStore::open(dir.path(), AuthorizerSettings::default()).unwrap();
        let authorizer = reopened.authorizer();
        let names: Vec<&str> = authorizer.acls.bindings().iter().map(|b| b.pattern.name.as_str()).collect();
        assert_eq!(names, ["audit", "orders"]);
    }

    #[test]
    fn a_snapshot_does_not_change_under_its_reader() {
        let dir = tempfile::tempdir().unwrap();
        let store = AclStore::open(dir.path(), AuthorizerSettings::default()).unwrap();
        let before = store.authorizer();
        add(&store, binding("orders"));
        assert!(before.acls.is_empty());
        assert_eq!(store.authorizer().acls.len(), 1);
    }

    #[test]
    fn an_unreadable_file_stops_the_broker_instead_of_opening_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ACLS_FILE_NAME), b"{\"version\":1,\"acls\":[{").unwrap();
        let error = AclStore::open(dir.path(), AuthorizerSettings::default()).unwrap_err();
        assert!(matches!(error, AclStoreError::Parse { .. }), "{error}");
        std::fs::write(dir.path().join(ACLS_FILE_NAME), b"{\"version\":2,\"acls\":[]}").unwrap();
        assert!(AclStore::open(dir.path(), AuthorizerSettings::default()).is_err());
    }
}
