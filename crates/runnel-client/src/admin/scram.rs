//! SCRAM user credentials: describe them (DescribeUserScramCredentials) and create, change or
//! delete them (AlterUserScramCredentials, KIP-554), as Kafka's `Admin` does.
//!
//! Owns: `ScramMechanism` with its wire codes, and the client half of an upsert. The password
//! never leaves the client: as Kafka's AdminClient does, the client picks a random salt and
//! sends the salted password (PBKDF2 over the password with that salt and iteration count,
//! RFC 5802's `Hi`); the broker derives the stored and server keys from it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use kafka_protocol::messages::alter_user_scram_credentials_request::{ScramCredentialDeletion, ScramCredentialUpsertion};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest};
use kafka_protocol::protocol::StrBytes;
use ring::rand::SecureRandom;

use super::topics::missing;
use super::Admin;
use crate::error::{check, Error, Result};

/// Characters in a generated salt: Kafka's `ScramFormatter.secureRandomBytes` prints a 130-bit
/// random number in base 36, which takes up to 26 characters.
const SALT_CHARS: usize = 26;
const SALT_ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A SCRAM mechanism, with Kafka's wire codes (`org.apache.kafka.clients.admin.ScramMechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    /// The wire code (`mechanism` field): 1 and 2; 0 is Kafka's UNKNOWN.
    pub fn code(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    pub fn from_code(code: i8) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.code() == code)
    }

    /// The SASL mechanism name, `SCRAM-SHA-256`.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn pbkdf2(self) -> ring::pbkdf2::Algorithm {
        match self {
            ScramMechanism::Sha256 => ring::pbkdf2::PBKDF2_HMAC_SHA256,
            ScramMechanism::Sha512 => ring::pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    fn output_bytes(self) -> usize {
        match self {
            ScramMechanism::Sha256 => 32,
            ScramMechanism::Sha512 => 64,
        }
    }

    /// RFC 5802's `Hi(password, salt, iterations)`: what an upsert sends as `salted_password`.
    pub fn salted_password(self, password: &str, salt: &[u8], iterations: u32) -> Result<Vec<u8>> {
        let iterations = std::num::NonZeroU32::new(iterations)
            .ok_or_else(|| Error::Config("SCRAM iterations must be positive".into()))?;
        let mut salted = vec![0u8; self.output_bytes()];
        ring::pbkdf2::derive(self.pbkdf2(), iterations, salt, password.as_bytes(), &mut salted);
        Ok(salted)
    }
}

impl fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ScramMechanism {
    type Err = Error;

    /// `SCRAM-SHA-256` or `SCRAM-SHA-512`, as Kafka spells them.
    fn from_str(name: &str) -> Result<ScramMechanism> {
        ScramMechanism::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| Error::Config(format!("unknown SCRAM mechanism {name} (SCRAM-SHA-256, SCRAM-SHA-512)")))
    }
}

/// One mechanism a user has a credential for, and its iteration count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScramCredentialInfo {
    pub mechanism: ScramMechanism,
    pub iterations: i32,
}

/// One change for [`Admin::alter_user_scram_credentials`]. Kafka refuses a request that names
/// the same user twice (DUPLICATE_RESOURCE), so one call changes one mechanism per user.
#[derive(Clone, PartialEq, Eq)]
pub enum UserScramCredentialAlteration {
    /// Create or replace the user's credential for `mechanism`.
    Upsert { user: String, mechanism: ScramMechanism, iterations: i32, password: String },
    /// Remove the user's credential for `mechanism`.
    Delete { user: String, mechanism: ScramMechanism },
}

impl UserScramCredentialAlteration {
    pub fn user(&self) -> &str {
        match self {
            UserScramCredentialAlteration::Upsert { user, .. } | UserScramCredentialAlteration::Delete { user, .. } => {
                user
            }
        }
    }
}

impl fmt::Debug for UserScramCredentialAlteration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserScramCredentialAlteration::Upsert { user, mechanism, iterations, .. } => f
                .debug_struct("Upsert")
                .field("user", user)
                .field("mechanism", mechanism)
                .field("iterations", iterations)
                .field("password", &"[hidden]")
                .finish(),
            UserScramCredentialAlteration::Delete { user, mechanism } => {
                f.debug_struct("Delete").field("user", user).field("mechanism", mechanism).finish()
            }
        }
    }
}

/// A salt as Kafka's AdminClient makes one: random base-36 text, sent as its bytes.
fn random_salt() -> Result<Vec<u8>> {
    let mut random = [0u8; SALT_CHARS];
    ring::rand::SystemRandom::new().fill(&mut random).map_err(|_| Error::Protocol("no randomness for a SCRAM salt".into()))?;
    // 252 is the largest multiple of 36 below 256; the small bias of a plain modulo does not
    // matter for a salt, which only has to be unique.
    Ok(random.iter().map(|byte| SALT_ALPHABET[usize::from(*byte) % SALT_ALPHABET.len()]).collect())
}

impl Admin {
    /// The SCRAM mechanisms and iteration counts of `users`, or of every user with a
    /// credential when `users` is `None`. One result per user named; an unknown user is
    /// RESOURCE_NOT_FOUND, a user named twice DUPLICATE_RESOURCE, as the broker answers.
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<&[String]>,
    ) -> Result<BTreeMap<String, Result<Vec<ScramCredentialInfo>>>> {
        let request = DescribeUserScramCredentialsRequest::default().with_users(users.map(|names| {
            names.iter().map(|name| UserName::default().with_name(StrBytes::from_string(name.clone()))).collect()
        }));
        let response = self.cluster.any_broker().await?.send(request).await?;
        check(response.error_code, response.error_message.as_ref(), "describe user SCRAM credentials")?;
        let mut results = BTreeMap::new();
        for result in response.results {
            let user = result.user.to_string();
            let outcome =
                check(result.error_code, result.error_message.as_ref(), format!("describe SCRAM credentials of {user}"))
                    .map(|()| {
                        result
                            .credential_infos
                            .iter()
                            .filter_map(|info| {
                                ScramMechanism::from_code(info.mechanism)
                                    .map(|mechanism| ScramCredentialInfo { mechanism, iterations: info.iterations })
                            })
                            .collect()
                    });
            results.insert(user, outcome);
        }
        for name in users.unwrap_or_default() {
            if !results.contains_key(name) {
                results.insert(name.clone(), Err(missing("DescribeUserScramCredentials", name)));
            }
        }
        Ok(results)
    }

    /// Applies each alteration; one result per user. Upserts send a fresh random salt and the
    /// salted password, never the password itself.
    pub async fn alter_user_scram_credentials(
        &self,
        alterations: &[UserScramCredentialAlteration],
    ) -> Result<BTreeMap<String, Result<()>>> {
        let mut deletions = Vec::new();
        let mut upsertions = Vec::new();
        for alteration in alterations {
            match alteration {
                UserScramCredentialAlteration::Delete { user, mechanism } => deletions.push(
                    ScramCredentialDeletion::default()
                        .with_name(StrBytes::from_string(user.clone()))
                        .with_mechanism(mechanism.code()),
                ),
                UserScramCredentialAlteration::Upsert { user, mechanism, iterations, password } => {
                    let salt = random_salt()?;
                    // The broker refuses counts below its minimum; a non-positive one cannot
                    // even be hashed, so it is sent as is with an empty salted password.
                    let salted = match u32::try_from(*iterations) {
                        Ok(count) if count > 0 => mechanism.salted_password(password, &salt, count)?,
                        _ => Vec::new(),
                    };
                    upsertions.push(
                        ScramCredentialUpsertion::default()
                            .with_name(StrBytes::from_string(user.clone()))
                            .with_mechanism(mechanism.code())
                            .with_iterations(*iterations)
                            .with_salt(Bytes::from(salt))
                            .with_salted_password(Bytes::from(salted)),
                    );
                }
            }
        }
        let request = AlterUserScramCredentialsRequest::default().with_deletions(deletions).with_upsertions(upsertions);
        let response = self.cluster.any_broker().await?.send(request).await?;
        let mut results = BTreeMap::new();
        for result in response.results {
            let user = result.user.to_string();
            let outcome =
                check(result.error_code, result.error_message.as_ref(), format!("alter SCRAM credentials of {user}"));
            results.insert(user, outcome);
        }
        for alteration in alterations {
            let user = alteration.user();
            if !results.contains_key(user) {
                results.insert(user.to_string(), Err(missing("AlterUserScramCredentials", user)));
            }
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanisms_round_trip_their_names_and_wire_codes() {
        for mechanism in ScramMechanism::ALL {
            assert_eq!(mechanism.name().parse::<ScramMechanism>().unwrap(), mechanism);
            assert_eq!(ScramMechanism::from_code(mechanism.code()), Some(mechanism));
        }
        assert_eq!(ScramMechanism::from_code(0), None);
        assert!("SCRAM-SHA-1".parse::<ScramMechanism>().is_err());
    }

    /// RFC 7677's example exchange: the salted password for "pencil" yields the client proof
    /// the RFC prints.
    #[test]
    fn salted_password_matches_rfc_7677() {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        use ring::{digest, hmac};
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = ScramMechanism::Sha256.salted_password("pencil", &salt, 4096).unwrap();
        let client_key = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &salted), b"Client Key");
        let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let signature = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, stored_key.as_ref()), auth_message.as_bytes());
        let proof: Vec<u8> = client_key.as_ref().iter().zip(signature.as_ref()).map(|(k, s)| k ^ s).collect();
        assert_eq!(STANDARD.encode(proof), "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        assert_eq!(ScramMechanism::Sha512.salted_password("pencil", &salt, 4096).unwrap().len(), 64);
        assert!(ScramMechanism::Sha256.salted_password("pencil", &salt, 0).is_err());
    }

    #[test]
    fn salts_are_base36_text_and_differ() {
        let a = random_salt().unwrap();
        let b = random_salt().unwrap();
        assert_eq!(a.len(), SALT_CHARS);
        assert!(a.iter().all(|c| SALT_ALPHABET.contains(c)));
        assert_ne!(a, b);
    }

    #[test]
    fn debug_output_hides_the_password() {
        let upsert = UserScramCredentialAlteration::Upsert {
            user: "alice".into(),
            mechanism: ScramMechanism::Sha256,
            iterations: 8192,
            password: "s3cret-pw".into(),
        };
        assert!(!format!("{upsert:?}").contains("s3cret-pw"));
    }
}
