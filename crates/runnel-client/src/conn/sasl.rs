//! SASL authentication of a new connection: PLAIN and SCRAM-SHA-256/512 (RFC 5802), framed
//! in SaslHandshake v1 and SaslAuthenticate requests (KIP-152).
//!
//! Owns: the client side of each mechanism's exchange. The SCRAM arithmetic (salted
//! password, client proof, server signature) uses ring's PBKDF2 and HMAC.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use ring::{digest, hmac, pbkdf2, rand::SecureRandom};

use super::Connection;
use crate::config::SaslConfig;
use crate::error::{check, Error, Result};

/// Bytes of randomness in a SCRAM client nonce.
const SCRAM_NONCE_BYTES: usize = 24;
/// Kafka's minimum SCRAM iteration count is 4096; a server asking for more than this is
/// refused rather than allowed to burn the client's CPU.
const SCRAM_ITERATIONS_MAX: u32 = 100_000;

/// Authenticates `connection` with `sasl`; the connection is unusable if this fails.
pub async fn authenticate(connection: &Connection, sasl: &SaslConfig) -> Result<()> {
    let handshake = connection
        .send(SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(sasl.mechanism.clone())))
        .await?;
    if handshake.error_code != 0 {
        let enabled: Vec<String> = handshake.mechanisms.iter().map(|m| m.to_string()).collect();
        let message = format!("mechanism {} not enabled; the broker offers {enabled:?}", sasl.mechanism);
        return Err(Error::kafka(handshake.error_code, Some(message), "SASL handshake"));
    }
    match sasl.mechanism.as_str() {
        "PLAIN" => {
            let token = format!("\0{}\0{}", sasl.username, sasl.password);
            exchange(connection, token.into_bytes()).await.map(drop)
        }
        "SCRAM-SHA-256" => scram(connection, sasl, Scram::Sha256).await,
        "SCRAM-SHA-512" => scram(connection, sasl, Scram::Sha512).await,
        other => Err(Error::Config(format!("sasl.mechanism {other} is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"))),
    }
}

async fn exchange(connection: &Connection, token: Vec<u8>) -> Result<Bytes> {
    let response = connection.send(SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token))).await?;
    check(response.error_code, response.error_message.as_ref(), "SASL authentication")?;
    Ok(response.auth_bytes)
}

#[derive(Clone, Copy)]
enum Scram {
    Sha256,
    Sha512,
}

impl Scram {
    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            Scram::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Scram::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Scram::Sha256 => hmac::HMAC_SHA256,
            Scram::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Scram::Sha256 => &digest::SHA256,
            Scram::Sha512 => &digest::SHA512,
        }
    }

    fn mac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(self.hmac(), key), data).as_ref().to_vec()
    }
}

async fn scram(connection: &Connection, sasl: &SaslConfig, kind: Scram) -> Result<()> {
    let mut nonce_bytes = [0u8; SCRAM_NONCE_BYTES];
    ring::rand::SystemRandom::new()
        .fill(&mut nonce_bytes)
        .map_err(|_| Error::Protocol("no randomness for a SCRAM nonce".into()))?;
    let client_nonce = BASE64.encode(nonce_bytes);
    let client_first_bare = format!("n={},r={client_nonce}", escape_username(&sasl.username));
    let server_first = exchange(connection, format!("n,,{client_first_bare}").into_bytes()).await?;
    let server_first = std::str::from_utf8(&server_first).map_err(|_| scram_error("server-first message is not UTF-8"))?;
    let (client_final, expected_signature) = scram_client_final(kind, &sasl.password, &client_first_bare, &client_nonce, server_first)?;
    let server_final = exchange(connection, client_final.into_bytes()).await?;
    let server_final = std::str::from_utf8(&server_final).map_err(|_| scram_error("server-final message is not UTF-8"))?;
    match attribute(server_final, 'v') {
        Some(signature) if BASE64.decode(signature).ok().as_deref() == Some(expected_signature.as_slice()) => Ok(()),
        _ => Err(scram_error("the server's signature does not match: it does not know this password")),
    }
}

/// The client-final message for `server_first`, and the server signature to expect.
fn scram_client_final(
    kind: Scram,
    password: &str,
    client_first_bare: &str,
    client_nonce: &str,
    server_first: &str,
) -> Result<(String, Vec<u8>)> {
    let nonce = attribute(server_first, 'r').ok_or_else(|| scram_error("server-first message has no nonce"))?;
    if !nonce.starts_with(client_nonce) {
        return Err(scram_error("the server's nonce does not extend ours"));
    }
    let salt = attribute(server_first, 's')
        .and_then(|s| BASE64.decode(s).ok())
        .ok_or_else(|| scram_error("server-first message has no valid salt"))?;
    let iterations: u32 = attribute(server_first, 'i')
        .and_then(|i| i.parse().ok())
        .filter(|&i| (1..=SCRAM_ITERATIONS_MAX).contains(&i))
        .ok_or_else(|| scram_error("server-first message has no valid iteration count"))?;
    let mut salted = vec![0u8; kind.digest().output_len()];
    let iterations = std::num::NonZeroU32::new(iterations).ok_or_else(|| scram_error("zero iterations"))?;
    pbkdf2::derive(kind.pbkdf2(), iterations, &salt, password.as_bytes(), &mut salted);
    let client_key = kind.mac(&salted, b"Client Key");
    let stored_key = digest::digest(kind.digest(), &client_key);
    let client_final_bare = format!("c=biws,r={nonce}");
    let auth_message = format!("{client_first_bare},{server_first},{client_final_bare}");
    let client_signature = kind.mac(stored_key.as_ref(), auth_message.as_bytes());
    let proof: Vec<u8> = client_key.iter().zip(&client_signature).map(|(k, s)| k ^ s).collect();
    let server_key = kind.mac(&salted, b"Server Key");
    let server_signature = kind.mac(&server_key, auth_message.as_bytes());
    Ok((format!("{client_final_bare},p={}", BASE64.encode(proof)), server_signature))
}

fn attribute(message: &str, name: char) -> Option<&str> {
    message.split(',').find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
}

fn escape_username(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

fn scram_error(what: &str) -> Error {
    Error::Protocol(format!("SCRAM: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example exchange.
    #[test]
    fn scram_sha256_matches_rfc_7677() {
        let client_nonce = "rOprNGfwEbeRWgbNEkqO";
        let client_first_bare = format!("n=user,r={client_nonce}");
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (client_final, server_signature) =
            scram_client_final(Scram::Sha256, "pencil", &client_first_bare, client_nonce, server_first).unwrap();
        assert_eq!(
            client_final,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(BASE64.encode(server_signature), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn scram_refuses_a_nonce_that_is_not_ours_and_absurd_iteration_counts() {
        let bare = "n=user,r=abc";
        assert!(scram_client_final(Scram::Sha512, "p", bare, "abc", "r=xyz,s=c2FsdA==,i=4096").is_err());
        assert!(scram_client_final(Scram::Sha512, "p", bare, "abc", "r=abcdef,s=c2FsdA==,i=999999999").is_err());
        assert!(scram_client_final(Scram::Sha512, "p", bare, "abc", "r=abcdef,i=4096").is_err());
    }

    #[test]
    fn usernames_are_escaped_as_rfc_5802_says() {
        assert_eq!(escape_username("a=b,c"), "a=3Db=2Cc");
    }
}
