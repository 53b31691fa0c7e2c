//! HTTP Basic authentication for the admin listener (`admin.basic.auth.users`): every request
//! except `/healthz` and `/readyz` needs a listed user when any is configured. Names and
//! passwords are compared in constant time, so timing shows neither.

use base64::Engine;
use subtle::ConstantTimeEq;

use crate::config::admin::BasicUser;

/// The realm browsers show in their password prompt.
pub const REALM: &str = "runnel";
/// Longest Authorization header value looked at; longer ones are refused unread.
pub const AUTHORIZATION_HEADER_BYTES_MAX: usize = 4_096;

#[derive(Debug, Clone, Default)]
pub struct BasicAuth {
    users: Vec<BasicUser>,
}

impl BasicAuth {
    pub fn new(users: Vec<BasicUser>) -> Self {
        Self { users }
    }

    pub fn enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether the Authorization header value `header` names a configured user and password.
    /// Always true when no users are configured.
    pub fn allows(&self, header: Option<&[u8]>) -> bool {
        if !self.enabled() {
            return true;
        }
        let Some(header) = header.filter(|h| h.len() <= AUTHORIZATION_HEADER_BYTES_MAX) else { return false };
        let Ok(header) = std::str::from_utf8(header) else { return false };
        let Some((scheme, encoded)) = header.trim().split_once(' ') else { return false };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
        let Some(colon) = decoded.iter().position(|b| *b == b':') else { return false };
        let (name, password) = (&decoded[..colon], &decoded[colon + 1..]);
        // Check every user, so the time taken does not say which name matched.
        let mut matched = subtle::Choice::from(0);
        for user in &self.users {
            matched |= user.name.as_bytes().ct_eq(name) & user.password.as_bytes().ct_eq(password);
        }
        matched.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> BasicAuth {
        BasicAuth::new(vec![
            BasicUser { name: "alice".into(), password: "pw:1".into() },
            BasicUser { name: "bob".into(), password: "x".into() },
        ])
    }

    fn basic(credentials: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials))
    }

    #[test]
    fn listed_users_with_their_passwords_pass() {
        assert!(auth().allows(Some(basic("alice:pw:1").as_bytes())));
        assert!(auth().allows(Some(basic("bob:x").as_bytes())));
        assert!(auth().allows(Some(format!("basic  {}", &basic("bob:x")[6..]).as_bytes())));
    }

    #[test]
    fn anything_else_is_refused() {
        for header in [basic("alice:x"), basic("bob:pw:1"), basic("carol:x"), basic("bob"), "Bearer abc".into(), "Basic !!".into()] {
            assert!(!auth().allows(Some(header.as_bytes())), "{header}");
        }
        assert!(!auth().allows(None));
        assert!(!auth().allows(Some(&[0xff, 0xfe])));
    }

    #[test]
    fn no_users_means_open() {
        assert!(BasicAuth::default().allows(None));
    }
}
