//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), the server side of the exchange as
//! Kafka's `ScramSaslServer` runs it: client-first (user name and nonce) -> server-first
//! (nonce, salt, iterations) -> client-final (proof) -> server-final (signature).
//!
//! Owns: `ScramKind` (the hash, its wire code and Kafka's minimum iteration count) and the
//! message grammar of Kafka's `ScramMessages` (ASCII user names with `=2C`/`=3D` escapes, the
//! `n` GS2 header only, extensions accepted and ignored). Failures carry Kafka's wording; those
//! Kafka hides behind its generic message stay hidden, so a client learns no more than from
//! Kafka (an unknown user still fails at the first message, as in Kafka).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::rand::SecureRandom;
use ring::{digest, hmac};
use subtle::ConstantTimeEq;

use super::credentials::{ScramCredential, ScramCredentialStore};
use super::{Evaluation, SaslFailure};

/// Kafka's `ScramMechanism.minIterations` for both hashes.
pub const SCRAM_ITERATIONS_MIN: i32 = 4096;
/// Kafka's `ScramControlManager.MAX_ITERATIONS`.
pub const SCRAM_ITERATIONS_MAX: i32 = 16384;
/// Characters of the server's nonce: Kafka prints 130 random bits in base 36 (26 characters).
const SERVER_NONCE_CHARS: usize = 26;
const NONCE_ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A SCRAM hash, with the wire code AlterUserScramCredentials uses (1 and 2; 0 is UNKNOWN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramKind {
    Sha256,
    Sha512,
}

impl ScramKind {
    pub const ALL: [ScramKind; 2] = [ScramKind::Sha256, ScramKind::Sha512];

    pub fn mechanism_name(self) -> &'static str {
        match self {
            ScramKind::Sha256 => "SCRAM-SHA-256",
            ScramKind::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_mechanism_name(name: &str) -> Option<ScramKind> {
        ScramKind::ALL.into_iter().find(|kind| kind.mechanism_name() == name)
    }

    pub fn code(self) -> i8 {
        match self {
            ScramKind::Sha256 => 1,
            ScramKind::Sha512 => 2,
        }
    }

    pub fn from_code(code: i8) -> Option<ScramKind> {
        ScramKind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// Bytes of the hash, and so of a salted password, stored key and server key.
    pub fn output_bytes(self) -> usize {
        self.digest().output_len()
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            ScramKind::Sha256 => &digest::SHA256,
            ScramKind::Sha512 => &digest::SHA512,
        }
    }

    pub(crate) fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        let algorithm = match self {
            ScramKind::Sha256 => hmac::HMAC_SHA256,
            ScramKind::Sha512 => hmac::HMAC_SHA512,
        };
        hmac::sign(&hmac::Key::new(algorithm, key), data).as_ref().to_vec()
    }

    pub(crate) fn hash(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.digest(), data).as_ref().to_vec()
    }
}

/// Kafka's message for every failure it does not want to explain to an unauthenticated client.
fn hidden(detail: impl Into<String>) -> SaslFailure {
    SaslFailure::Hidden(detail.into())
}

/// One connection's SCRAM exchange.
#[derive(Debug)]
pub struct ScramServer {
    kind: ScramKind,
    state: State,
}

#[derive(Debug)]
enum State {
    ReceiveClientFirst,
    ReceiveClientFinal(Box<Pending>),
    Finished,
}

#[derive(Debug)]
struct Pending {
    user: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    gs2_header: String,
    credential: ScramCredential,
}

impl ScramServer {
    pub fn new(kind: ScramKind) -> ScramServer {
        ScramServer { kind, state: State::ReceiveClientFirst }
    }

    pub fn evaluate(&mut self, token: &[u8], store: &ScramCredentialStore) -> Result<Evaluation, SaslFailure> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::ReceiveClientFirst => {
                let (pending, server_first) = self.client_first(token, store)?;
                self.state = State::ReceiveClientFinal(Box::new(pending));
                Ok(Evaluation { response: server_first.into_bytes(), authenticated_user: None })
            }
            State::ReceiveClientFinal(pending) => {
                let server_final = self.client_final(token, &pending)?;
                Ok(Evaluation { response: server_final.into_bytes(), authenticated_user: Some(pending.user.clone()) })
            }
            State::Finished => Err(SaslFailure::Shown("Unexpected challenge in Sasl server state FAILED".into())),
        }
    }

    fn client_first(&self, token: &[u8], store: &ScramCredentialStore) -> Result<(Pending, String), SaslFailure> {
        let message = std::str::from_utf8(token).map_err(|_| hidden("SCRAM client first message is not UTF-8"))?;
        let first = ClientFirst::parse(message).ok_or_else(|| hidden("Invalid SCRAM client first message format"))?;
        if first.extensions.iter().any(|(name, value)| *name == "tokenauth" && value.eq_ignore_ascii_case("true")) {
            return Err(hidden("Token Authentication failed: delegation tokens are not supported"));
        }
        let user = unescape_username(first.sasl_name).ok_or_else(|| hidden("Authentication failed: Credentials could not be obtained"))?;
        let credential = store.credential(&user, self.kind).ok_or_else(|| hidden("Authentication failed: Invalid user credentials"))?;
        if !first.authorization_id.is_empty() && first.authorization_id != user {
            return Err(SaslFailure::Shown(
                "Authentication failed: Client requested an authorization id that is different from username".into(),
            ));
        }
        if credential.iterations < SCRAM_ITERATIONS_MIN {
            return Err(hidden(format!(
                "Iterations {} is less than the minimum {SCRAM_ITERATIONS_MIN} for {}",
                credential.iterations,
                self.kind.mechanism_name()
            )));
        }
        let nonce = format!("{}{}", first.nonce, server_nonce()?);
        let server_first = format!("r={nonce},s={},i={}", BASE64.encode(&credential.salt), credential.iterations);
        let pending = Pending {
            user,
            client_first_bare: first.bare,
            server_first: server_first.clone(),
            nonce,
            gs2_header: first.gs2_header,
            credential,
        };
        Ok((pending, server_first))
    }

    fn client_final(&self, token: &[u8], pending: &Pending) -> Result<String, SaslFailure> {
        let message = std::str::from_utf8(token).map_err(|_| hidden("SCRAM client final message is not UTF-8"))?;
        let last = ClientFinal::parse(message).ok_or_else(|| hidden("Invalid SCRAM client final message format"))?;
        if last.nonce != pending.nonce {
            return Err(hidden("Invalid client nonce in the final client message."));
        }
        if last.channel_binding != pending.gs2_header.as_bytes() {
            return Err(hidden("the channel binding does not repeat the GS2 header"));
        }
        let without_proof = format!("c={},r={}", BASE64.encode(&last.channel_binding), last.nonce);
        let auth_message = format!("{},{},{without_proof}", pending.client_first_bare, pending.server_first);
        let credential = &pending.credential;
        let client_signature = self.kind.hmac(&credential.stored_key, auth_message.as_bytes());
        if last.proof.len() != client_signature.len() {
            return Err(hidden("Invalid client credentials"));
        }
        let client_key: Vec<u8> = client_signature.iter().zip(&last.proof).map(|(s, p)| s ^ p).collect();
        let computed_stored_key = self.kind.hash(&client_key);
        if !bool::from(computed_stored_key.ct_eq(&credential.stored_key)) {
            return Err(hidden("Invalid client credentials"));
        }
        let server_signature = self.kind.hmac(&credential.server_key, auth_message.as_bytes());
        Ok(format!("v={}", BASE64.encode(server_signature)))
    }
}

fn server_nonce() -> Result<String, SaslFailure> {
    let mut random = [0u8; SERVER_NONCE_CHARS];
    ring::rand::SystemRandom::new().fill(&mut random).map_err(|_| hidden("no randomness for a SCRAM nonce"))?;
    Ok(random.iter().map(|b| char::from(NONCE_ALPHABET[usize::from(*b) % NONCE_ALPHABET.len()])).collect())
}

/// Kafka's `saslname`: ASCII 0x01-0x7F but `=` and `,`, or the escapes `=2C` and `=3D`.
fn is_sasl_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes[i..].starts_with(b"=2C") || bytes[i..].starts_with(b"=3D") => i += 3,
            b'=' | b',' | 0 | 0x80.. => return false,
            _ => i += 1,
        }
    }
    !bytes.is_empty()
}

/// RFC 5802's user name from its `saslname` form (Kafka's `ScramFormatter.username`).
fn unescape_username(sasl_name: &str) -> Option<String> {
    is_sasl_name(sasl_name).then(|| sasl_name.replace("=2C", ",").replace("=3D", "="))
}

/// Kafka's `printable`: 0x21-0x7E but `,`.
fn is_printable(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// Kafka's `value`: 0x01-0x7F but `,`.
fn is_value(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| (0x01..=0x7f).contains(&b) && b != b',')
}

/// An extension `name=value` with an alphabetic name.
fn extension(part: &str) -> Option<(&str, &str)> {
    let (name, value) = part.split_once('=')?;
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic()) && is_value(value)).then_some((name, value))
}

/// Kafka's `base64`: padded standard base64, possibly empty.
fn base64_field(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    BASE64.decode(text).ok()
}

struct ClientFirst<'a> {
    gs2_header: String,
    authorization_id: String,
    sasl_name: &'a str,
    nonce: &'a str,
    extensions: Vec<(&'a str, &'a str)>,
    /// `n=...,r=...[,extensions]`: the part the auth message starts with.
    bare: String,
}

impl<'a> ClientFirst<'a> {
    /// `n,[a=authzid],[m=reserved,]n=saslname,r=nonce[,ext=value]*`
    fn parse(message: &'a str) -> Option<ClientFirst<'a>> {
        let rest = message.strip_prefix("n,")?;
        let (authzid, rest) = rest.split_once(',')?;
        let authorization_id = match authzid {
            "" => String::new(),
            other => {
                let name = other.strip_prefix("a=")?;
                unescape_username(name)?;
                name.to_string()
            }
        };
        let gs2_header = format!("n,{authzid},");
        let mut parts: Vec<&str> = rest.split(',').collect();
        if parts.first().is_some_and(|p| p.starts_with("m=")) {
            if !is_value(&parts[0][2..]) {
                return None;
            }
            parts.remove(0);
        }
        let sasl_name = parts.first()?.strip_prefix("n=")?;
        let nonce = parts.get(1)?.strip_prefix("r=")?;
        if !is_sasl_name(sasl_name) || !is_printable(nonce) {
            return None;
        }
        let extensions = parts[2..].iter().map(|part| extension(part)).collect::<Option<Vec<_>>>()?;
        let bare = parts.join(",");
        Some(ClientFirst { gs2_header, authorization_id, sasl_name, nonce, extensions, bare })
    }
}

struct ClientFinal<'a> {
    channel_binding: Vec<u8>,
    nonce: &'a str,
    proof: Vec<u8>,
}

impl<'a> ClientFinal<'a> {
    /// `c=base64,r=nonce[,ext=value]*,p=base64`
    fn parse(message: &'a str) -> Option<ClientFinal<'a>> {
        let parts: Vec<&str> = message.split(',').collect();
        if parts.len() < 3 {
            return None;
        }
        let channel_binding = base64_field(parts[0].strip_prefix("c=")?)?;
        let nonce = parts[1].strip_prefix("r=")?;
        let proof = base64_field(parts[parts.len() - 1].strip_prefix("p=")?)?;
        if !is_printable(nonce) || parts[2..parts.len() - 1].iter().any(|part| extension(part).is_none()) {
            return None;
        }
        Some(ClientFinal { channel_binding, nonce, proof })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sasl::credentials::CredentialChange;

    /// A store holding `user` with RFC 7677's salt and iteration count for "pencil".
    fn store_with(dir: &std::path::Path, user: &str, password: &str, kind: ScramKind) -> ScramCredentialStore {
        let store = ScramCredentialStore::open(dir).unwrap();
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let mut salted = vec![0u8; kind.output_bytes()];
        let algorithm = match kind {
            ScramKind::Sha256 => ring::pbkdf2::PBKDF2_HMAC_SHA256,
            ScramKind::Sha512 => ring::pbkdf2::PBKDF2_HMAC_SHA512,
        };
        ring::pbkdf2::derive(algorithm, std::num::NonZeroU32::new(4096).unwrap(), &salt, password.as_bytes(), &mut salted);
        store
            .apply(vec![CredentialChange::Upsert { user: user.into(), kind, iterations: 4096, salt, salted_password: salted }])
            .unwrap();
        store
    }

    /// What a correct client answers to `server_first` (the client arithmetic of RFC 5802).
    fn client_final(kind: ScramKind, password: &str, client_first_bare: &str, server_first: &str) -> String {
        let attr = |name: &str| server_first.split(',').find_map(|p| p.strip_prefix(name)).unwrap().to_string();
        let (nonce, salt, iterations) = (attr("r="), BASE64.decode(attr("s=")).unwrap(), attr("i=").parse().unwrap());
        let mut salted = vec![0u8; kind.output_bytes()];
        let algorithm = match kind {
            ScramKind::Sha256 => ring::pbkdf2::PBKDF2_HMAC_SHA256,
            ScramKind::Sha512 => ring::pbkdf2::PBKDF2_HMAC_SHA512,
        };
        ring::pbkdf2::derive(algorithm, std::num::NonZeroU32::new(iterations).unwrap(), &salt, password.as_bytes(), &mut salted);
        let client_key = kind.hmac(&salted, b"Client Key");
        let stored_key = kind.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = kind.hmac(&stored_key, auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(k, s)| k ^ s).collect();
        format!("{without_proof},p={}", BASE64.encode(proof))
    }

    #[test]
    fn a_correct_client_is_authenticated_and_gets_the_server_signature() {
        for kind in ScramKind::ALL {
            let dir = tempfile::tempdir().unwrap();
            let store = store_with(dir.path(), "user", "pencil", kind);
            let mut server = ScramServer::new(kind);
            let first = server.evaluate(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &store).unwrap();
            let server_first = String::from_utf8(first.response).unwrap();
            assert!(server_first.starts_with("r=rOprNGfwEbeRWgbNEkqO") && server_first.ends_with(",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
            assert_eq!(first.authenticated_user, None);
            let last = client_final(kind, "pencil", "n=user,r=rOprNGfwEbeRWgbNEkqO", &server_first);
            let done = server.evaluate(last.as_bytes(), &store).unwrap();
            assert_eq!(done.authenticated_user.as_deref(), Some("user"));
            assert!(done.response.starts_with(b"v="));
        }
    }

    #[test]
    fn a_wrong_password_an_unknown_user_and_a_tampered_nonce_fail_with_the_hidden_message() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(dir.path(), "user", "pencil", ScramKind::Sha256);
        let mut server = ScramServer::new(ScramKind::Sha256);
        let first = String::from_utf8(server.evaluate(b"n,,n=user,r=abc", &store).unwrap().response).unwrap();
        let wrong = client_final(ScramKind::Sha256, "crayon", "n=user,r=abc", &first);
        assert!(matches!(server.evaluate(wrong.as_bytes(), &store), Err(SaslFailure::Hidden(_))));

        let mut unknown = ScramServer::new(ScramKind::Sha256);
        assert!(matches!(unknown.evaluate(b"n,,n=nobody,r=abc", &store), Err(SaslFailure::Hidden(m)) if m.contains("Invalid user credentials")));
        // The user has no SHA-512 credential.
        assert!(ScramServer::new(ScramKind::Sha512).evaluate(b"n,,n=user,r=abc", &store).is_err());

        let mut tampered = ScramServer::new(ScramKind::Sha256);
        let first = String::from_utf8(tampered.evaluate(b"n,,n=user,r=abc", &store).unwrap().response).unwrap();
        let good = client_final(ScramKind::Sha256, "pencil", "n=user,r=abc", &first);
        let bad_nonce = good.replacen(",r=abc", ",r=abd", 1);
        assert!(matches!(tampered.evaluate(bad_nonce.as_bytes(), &store), Err(SaslFailure::Hidden(m)) if m.contains("nonce")));
    }

    #[test]
    fn a_foreign_authorization_id_is_refused_with_kafkas_shown_message() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(dir.path(), "user", "pencil", ScramKind::Sha256);
        let refused = ScramServer::new(ScramKind::Sha256).evaluate(b"n,a=admin,n=user,r=abc", &store);
        assert!(matches!(refused, Err(SaslFailure::Shown(m)) if m.contains("authorization id")));
        assert!(ScramServer::new(ScramKind::Sha256).evaluate(b"n,a=user,n=user,r=abc", &store).is_ok());
    }

    #[test]
    fn malformed_messages_fail_without_panicking() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(dir.path(), "user", "pencil", ScramKind::Sha256);
        for bad in [
            &b""[..],
            b"n,,",
            b"y,,n=user,r=abc",
            b"p=tls-unique,,n=user,r=abc",
            b"n,,n=us,er,r=abc",
            b"n,,n=us=er,r=abc",
            b"n,,n=user,r=",
            b"n,,n=user,r=a b",
            b"n,,n=user,r=abc,1x=y",
            b"n,,r=abc,n=user",
            b"\xff\xfe",
            b"n,,n=\xc3\xa9,r=abc",
        ] {
            assert!(ScramServer::new(ScramKind::Sha256).evaluate(bad, &store).is_err(), "{bad:?}");
        }
        let mut server = ScramServer::new(ScramKind::Sha256);
        let first = String::from_utf8(server.evaluate(b"n,,n=user,r=abc,ext=1", &store).unwrap().response).unwrap();
        let nonce = first.split(',').next().unwrap();
        for bad in [
            format!("c=biws,{nonce}"),
            format!("c=biws,{nonce},p=***"),
            format!("c=bad,{nonce},p=AAAA"),
            format!("c=biws,{nonce},p=AAAA"),
            format!("c=eSws,{nonce},p=AAAA"),
        ] {
            let mut fresh = ScramServer::new(ScramKind::Sha256);
            let first = String::from_utf8(fresh.evaluate(b"n,,n=user,r=abc", &store).unwrap().response).unwrap();
            let nonce_fresh = first.split(',').next().unwrap();
            let bad = bad.replace(nonce, nonce_fresh);
            assert!(fresh.evaluate(bad.as_bytes(), &store).is_err(), "{bad}");
        }
        // A third message after the exchange ended is refused too.
        let last = client_final(ScramKind::Sha256, "pencil", "n=user,r=abc,ext=1", &first);
        assert!(server.evaluate(last.as_bytes(), &store).is_ok());
        assert!(server.evaluate(b"again", &store).is_err());
    }

    #[test]
    fn escaped_user_names_are_unescaped() {
        assert_eq!(unescape_username("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(unescape_username("a=2"), None);
        assert_eq!(unescape_username(""), None);
    }
}
