//! The SCRAM credential store: per user and mechanism, the salt, iteration count, stored key
//! and server key (RFC 5802), never a password. Kafka keeps these in the cluster metadata
//! (`UserScramCredentialRecord`); Runnel keeps them in `scram-credentials.json` in the log
//! directory, written atomically before a change is published, so a crash keeps the old or
//! the new set and an acknowledged change survives a restart.
//!
//! Owns: loading and persisting, the derivation of the stored and server keys from the salted
//! password an AlterUserScramCredentials upsert carries (Kafka's `ScramControlManager
//! .finishUpsertion`), and the lookup the SCRAM exchange uses. What it tells anyone else is
//! only which mechanisms a user has and their iteration counts.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use super::scram::ScramKind;
use crate::durable_file::{read_if_exists, write_atomically};

const FILE_NAME: &str = "scram-credentials.json";
const FORMAT_VERSION: u32 = 1;

/// One user's secret for one mechanism, readable only inside `sasl`. Its `Debug` shows
/// nothing secret.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct ScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

impl fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScramCredential([hidden])")
    }
}

impl ScramCredential {
    /// The stored and server keys of `salted_password` (Kafka: `formatter.storedKey(clientKey)`
    /// and `formatter.serverKey`).
    pub(super) fn from_salted_password(
        kind: ScramKind,
        salt: Vec<u8>,
        salted_password: &[u8],
        iterations: i32,
    ) -> ScramCredential {
        let client_key = kind.hmac(salted_password, b"Client Key");
        ScramCredential {
            salt,
            stored_key: kind.hash(&client_key),
            server_key: kind.hmac(salted_password, b"Server Key"),
            iterations,
        }
    }
}

/// A change to apply. An upsert carries what AlterUserScramCredentials carries (salt and
/// salted password); the store derives the keys it keeps.
#[derive(Clone)]
pub enum CredentialChange {
    Upsert { user: String, kind: ScramKind, iterations: i32, salt: Vec<u8>, salted_password: Vec<u8> },
    Delete { user: String, kind: ScramKind },
}

impl fmt::Debug for CredentialChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialChange::Upsert { user, kind, iterations, .. } => {
                write!(f, "Upsert({user:?}, {}, iterations={iterations}, [hidden])", kind.mechanism_name())
            }
            CredentialChange::Delete { user, kind } => write!(f, "Delete({user:?}, {})", kind.mechanism_name()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialStoreError {
    #[error("cannot use the SCRAM credential file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the SCRAM credential file {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// What one user has: mechanism -> credential.
type UserCredentials = BTreeMap<ScramKind, ScramCredential>;

#[derive(Debug)]
pub struct ScramCredentialStore {
    path: PathBuf,
    users: RwLock<BTreeMap<String, UserCredentials>>,
    /// Serialises writers so each persists the set it then publishes.
    writer: Mutex<()>,
}

#[derive(Serialize, Deserialize)]
struct FileFormat {
    version: u32,
    users: BTreeMap<String, BTreeMap<String, FileCredential>>,
}

#[derive(Serialize, Deserialize)]
struct FileCredential {
    salt: String,
    stored_key: String,
    server_key: String,
    iterations: i32,
}

impl ScramCredentialStore {
    /// Loads the store of `log_dir`; an absent file is an empty store.
    pub fn open(log_dir: &Path) -> Result<ScramCredentialStore, CredentialStoreError> {
        let path = log_dir.join(FILE_NAME);
        let bytes = read_if_exists(&path).map_err(|source| CredentialStoreError::Io { path: path.clone(), source })?;
        let users = match bytes {
            None => BTreeMap::new(),
            Some(bytes) => decode(&bytes).map_err(|reason| CredentialStoreError::Invalid { path: path.clone(), reason })?,
        };
        Ok(ScramCredentialStore { path, users: RwLock::new(users), writer: Mutex::new(()) })
    }

    /// The credential the SCRAM exchange checks a client against.
    pub(super) fn credential(&self, user: &str, kind: ScramKind) -> Option<ScramCredential> {
        self.users.read().get(user).and_then(|by_kind| by_kind.get(&kind)).cloned()
    }

    /// Every user with a credential, each with its mechanisms and iteration counts.
    pub fn describe(&self) -> BTreeMap<String, Vec<(ScramKind, i32)>> {
        self.users
            .read()
            .iter()
            .map(|(user, by_kind)| (user.clone(), by_kind.iter().map(|(kind, c)| (*kind, c.iterations)).collect()))
            .collect()
    }

    pub fn contains(&self, user: &str, kind: ScramKind) -> bool {
        self.users.read().get(user).is_some_and(|by_kind| by_kind.contains_key(&kind))
    }

    /// Applies every change at once: persisted first, then published, so a failed write
    /// changes nothing. Deleting a credential that is not there is a no-op.
    pub fn apply(&self, changes: Vec<CredentialChange>) -> Result<(), CredentialStoreError> {
        let _writer = self.writer.lock();
        let mut next = self.users.read().clone();
        for change in changes {
            match change {
                CredentialChange::Upsert { user, kind, iterations, salt, salted_password } => {
                    let credential = ScramCredential::from_salted_password(kind, salt, &salted_password, iterations);
                    next.entry(user).or_default().insert(kind, credential);
                }
                CredentialChange::Delete { user, kind } => {
                    if let Some(by_kind) = next.get_mut(&user) {
                        by_kind.remove(&kind);
                        if by_kind.is_empty() {
                            next.remove(&user);
                        }
                    }
                }
            }
        }
        write_atomically(&self.path, &encode(&next))
            .map_err(|source| CredentialStoreError::Io { path: self.path.clone(), source })?;
        *self.users.write() = next;
        Ok(())
    }
}

fn encode(users: &BTreeMap<String, UserCredentials>) -> Vec<u8> {
    let file = FileFormat {
        version: FORMAT_VERSION,
        users: users
            .iter()
            .map(|(user, by_kind)| {
                let credentials = by_kind
                    .iter()
                    .map(|(kind, c)| {
                        (
                            kind.mechanism_name().to_string(),
                            FileCredential {
                                salt: BASE64.encode(&c.salt),
                                stored_key: BASE64.encode(&c.stored_key),
                                server_key: BASE64.encode(&c.server_key),
                                iterations: c.iterations,
                            },
                        )
                    })
                    .collect();
                (user.clone(), credentials)
            })
            .collect(),
    };
    let mut text = serde_json::to_vec_pretty(&file).unwrap_or_default();
    text.push(b'\n');
    text
}

fn decode(bytes: &[u8]) -> Result<BTreeMap<String, UserCredentials>, String> {
    let file: FileFormat = serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
    if file.version != FORMAT_VERSION {
        return Err(format!("format version {} (this broker reads {FORMAT_VERSION})", file.version));
    }
    let mut users = BTreeMap::new();
    for (user, credentials) in file.users {
        let mut by_kind = BTreeMap::new();
        for (mechanism, c) in credentials {
            let kind = ScramKind::from_mechanism_name(&mechanism)
                .ok_or_else(|| format!("user {user:?} has an unknown mechanism {mechanism:?}"))?;
            let field = |name: &str, text: &str| {
                BASE64.decode(text).map_err(|_| format!("user {user:?} {mechanism}: {name} is not base64"))
            };
            let credential = ScramCredential {
                salt: field("salt", &c.salt)?,
                stored_key: field("stored_key", &c.stored_key)?,
                server_key: field("server_key", &c.server_key)?,
                iterations: c.iterations,
            };
            if credential.stored_key.len() != kind.output_bytes() || credential.server_key.len() != kind.output_bytes() {
                return Err(format!("user {user:?} {mechanism}: keys of the wrong length"));
            }
            by_kind.insert(kind, credential);
        }
        users.insert(user, by_kind);
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(kind: ScramKind, iterations: i32) -> ScramCredential {
        ScramCredential::from_salted_password(kind, b"salt".to_vec(), &vec![7u8; kind.output_bytes()], iterations)
    }

    fn upsert(user: &str, kind: ScramKind, iterations: i32) -> CredentialChange {
        CredentialChange::Upsert {
            user: user.into(),
            kind,
            iterations,
            salt: b"salt".to_vec(),
            salted_password: vec![7u8; kind.output_bytes()],
        }
    }

    #[test]
    fn changes_survive_a_reopen_and_the_file_holds_no_salted_password() {
        let dir = tempfile::tempdir().unwrap();
        let store = ScramCredentialStore::open(dir.path()).unwrap();
        store
            .apply(vec![
                upsert("alice", ScramKind::Sha256, 4096),
                upsert("alice", ScramKind::Sha512, 8192),
                upsert("bob", ScramKind::Sha256, 4096),
            ])
            .unwrap();
        store.apply(vec![CredentialChange::Delete { user: "bob".into(), kind: ScramKind::Sha256 }]).unwrap();
        let reopened = ScramCredentialStore::open(dir.path()).unwrap();
        assert_eq!(
            reopened.describe(),
            BTreeMap::from([("alice".to_string(), vec![(ScramKind::Sha256, 4096), (ScramKind::Sha512, 8192)])])
        );
        assert_eq!(reopened.credential("alice", ScramKind::Sha512), Some(credential(ScramKind::Sha512, 8192)));
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(!text.contains(&BASE64.encode(vec![7u8; 32])), "{text}");
    }

    #[test]
    fn a_corrupt_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"{\"version\":1,\"users\":{\"a\":{\"MD5\":{}}}}").unwrap();
        let error = ScramCredentialStore::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains(FILE_NAME), "{error}");
        std::fs::write(dir.path().join(FILE_NAME), b"not json").unwrap();
        assert!(ScramCredentialStore::open(dir.path()).is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let shown = format!("{:?}", credential(ScramKind::Sha256, 4096));
        assert_eq!(shown, "ScramCredential([hidden])");
    }
}
