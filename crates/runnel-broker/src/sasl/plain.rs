//! SASL/PLAIN (RFC 4616) as Kafka's `PlainSaslServer` and `PlainServerCallbackHandler` run
//! it: one token `[authzid] NUL user NUL password`, checked against the users of the
//! listener's `PlainLoginModule` JAAS entry.
//!
//! Every failure is Kafka 4.1's `SaslAuthenticationException`, its message sent to the client.
//!
//! Owns: the token split (Kafka's: exactly three NUL-separated parts, else "expected 3
//! tokens") and the password check, which takes the same time whether the user
//! exists, the password is wrong, or its length differs: both sides are hashed and the
//! digests compared in constant time.

use std::collections::BTreeMap;

use ring::digest;
use subtle::ConstantTimeEq;

use super::{Evaluation, SaslFailure};
use crate::config::ssl::Password;

/// How many NUL-separated parts Kafka looks for before it gives up counting.
const PLAIN_TOKENS_SPLIT_MAX: usize = 4;
/// What an unknown user's password is compared with, so that lookup failures cost the same.
const ABSENT_USER_PASSWORD: &str = "\u{0}runnel-no-such-user\u{0}";

fn digest_of(text: &str) -> digest::Digest {
    digest::digest(&digest::SHA512, text.as_bytes())
}

/// Whether `given` is `expected`, in time independent of where or whether they differ.
fn passwords_match(given: &str, expected: &str) -> bool {
    bool::from(digest_of(given).as_ref().ct_eq(digest_of(expected).as_ref()))
}

/// Kafka's `PlainSaslServer.extractTokens`: the NUL-separated parts, at most four (the rest
/// of the token after a fourth NUL is not looked at).
fn split_token(token: &str) -> Vec<&str> {
    let mut parts = Vec::with_capacity(PLAIN_TOKENS_SPLIT_MAX);
    let mut rest = token;
    while parts.len() < PLAIN_TOKENS_SPLIT_MAX {
        match rest.split_once('\0') {
            Some((head, tail)) => {
                parts.push(head);
                rest = tail;
            }
            None => {
                parts.push(rest);
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
    let parts = split_token(&token);
    let &[authorization_id, user, password] = parts.as_slice() else {
        return Err(SaslFailure::Shown(format!("Invalid SASL/PLAIN response: expected 3 tokens, got {}", parts.len())));
    };
    if user.is_empty() {
        return Err(SaslFailure::Shown("Authentication failed: username not specified".into()));
    }
    if password.is_empty() {
        return Err(SaslFailure::Shown("Authentication failed: password not specified".into()));
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
        // Kafka counts up to four parts and says how many it found.
        for (token, count) in [(&b"no-nul"[..], 1), (b"\0alice", 2), (b"\0alice\0alice-secret\0x", 4), (b"a\0b\0c\0d\0e\0f", 4)] {
            match evaluate(token, &users()) {
                Err(SaslFailure::Shown(message)) => {
                    assert_eq!(message, format!("Invalid SASL/PLAIN response: expected 3 tokens, got {count}"))
                }
                other => panic!("{token:?}: {other:?}"),
            }
        }
        assert!(matches!(evaluate(b"bob\0alice\0alice-secret", &users()), Err(SaslFailure::Shown(m)) if m.contains("authorization id")));
    }
}
