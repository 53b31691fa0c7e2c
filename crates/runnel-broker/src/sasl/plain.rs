//! SASL/PLAIN (RFC 4616) as Kafka's `PlainSaslServer` and `PlainServerCallbackHandler` run
//! it: one token `[authzid] NUL user NUL password`, checked against the users of the
//! listener's `PlainLoginModule` JAAS entry.
//!
//! Owns: the token split (Kafka's: the first three NUL-separated parts, anything after a
//! third NUL ignored) and the password check, which takes the same time whether the user
//! exists, the password is wrong, or its length differs: both sides are hashed and the
//! digests compared in constant time.

use std::collections::BTreeMap;

use ring::digest;
use subtle::ConstantTimeEq;

use super::{Evaluation, SaslFailure};
use crate::config::ssl::Password;

/// What an unknown user's password is compared with, so that lookup failures cost the same.
const ABSENT_USER_PASSWORD: &str = "\u{0}runnel-no-such-user\u{0}";

fn digest_of(text: &str) -> digest::Digest {
    digest::digest(&digest::SHA512, text.as_bytes())
}

/// Whether `given` is `expected`, in time independent of where or whether they differ.
fn passwords_match(given: &str, expected: &str) -> bool {
    bool::from(digest_of(given).as_ref().ct_eq(digest_of(expected).as_ref()))
}

/// Kafka's split: up to three parts, a missing part empty, text after a third NUL ignored.
fn split_token(token: &str) -> [&str; 3] {
    let mut parts = [""; 3];
    let mut rest = token;
    for part in &mut parts {
        match rest.split_once('\0') {
            Some((head, tail)) => {
                *part = head;
                rest = tail;
            }
            None => {
                *part = rest;
                break;
            }
        }
    }
    parts
}

/// Checks one PLAIN token against `users`; on success the authenticated user name.
pub fn evaluate(token: &[u8], users: &BTreeMap<String, Password>) -> Result<Evaluation, SaslFailure> {
    // Java decodes the token as UTF-8 with replacement; so does this.
    let token = String::from_utf8_lossy(token);
    let [authorization_id, user, password] = split_token(&token);
    if user.is_empty() {
        return Err(SaslFailure::Hidden("Authentication failed: username not specified".into()));
    }
    if password.is_empty() {
        return Err(SaslFailure::Hidden("Authentication failed: password not specified".into()));
    }
    let expected = users.get(user);
    let matched = passwords_match(password, expected.map_or(ABSENT_USER_PASSWORD, Password::value));
    if expected.is_none() || !matched {
        return Err(SaslFailure::Shown("Authentication failed: Invalid username or password".into()));
    }
    if !authorization_id.is_empty() && authorization_id != user {
        return Err(SaslFailure::Shown(
            "Authentication failed: Client requested an authorization id that is different from username".into(),
        ));
    }
    Ok(Evaluation { response: Vec::new(), authenticated_user: Some(user.to_string()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> BTreeMap<String, Password> {
        BTreeMap::from([("alice".to_string(), Password::new("alice-secret"))])
    }

    #[test]
    fn the_right_password_authenticates_the_user() {
        let done = evaluate(b"\0alice\0alice-secret", &users()).unwrap();
        assert_eq!(done.authenticated_user.as_deref(), Some("alice"));
        assert!(done.response.is_empty());
        assert!(evaluate(b"alice\0alice\0alice-secret", &users()).is_ok());
        // Kafka ignores what follows a third NUL.
        assert!(evaluate(b"\0alice\0alice-secret\0trailing", &users()).is_ok());
    }

    #[test]
    fn wrong_passwords_and_unknown_users_get_kafkas_message() {
        for token in [&b"\0alice\0wrong"[..], b"\0alice\0alice-secreT", b"\0alice\0alice-secret-longer", b"\0mallory\0x"] {
            match evaluate(token, &users()) {
                Err(SaslFailure::Shown(message)) => assert_eq!(message, "Authentication failed: Invalid username or password"),
                other => panic!("{token:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_tokens_fail_without_panicking() {
        for token in [&b""[..], b"\0", b"\0\0", b"\0alice", b"\0alice\0", b"alice", b"\xff\0\xfe\0\xfd"] {
            assert!(evaluate(token, &users()).is_err(), "{token:?}");
        }
        assert!(matches!(evaluate(b"bob\0alice\0alice-secret", &users()), Err(SaslFailure::Shown(m)) if m.contains("authorization id")));
    }
}
