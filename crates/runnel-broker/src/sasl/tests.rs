//! The authenticator's state machine against Kafka's rules, frame by frame, with good and bad
//! input: every bad frame ends in `Step::Fail`, never a panic.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, MetadataRequest, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use proptest::prelude::*;
use runnel_protocol::kafka_protocol;

use super::{Authenticator, ScramCredentialStore, Step};
use crate::config::sasl::{ListenerSaslConfig, SaslMechanism, SASL_SERVER_MAX_RECEIVE_SIZE_DEFAULT};
use crate::config::ssl::Password;

fn listener(mechanisms: &[SaslMechanism]) -> Arc<ListenerSaslConfig> {
    Arc::new(ListenerSaslConfig {
        listener: "SASL_PLAINTEXT".into(),
        mechanisms: mechanisms.to_vec(),
        plain_users: BTreeMap::from([("alice".to_string(), Password::new("alice-secret"))]),
        max_receive_bytes: SASL_SERVER_MAX_RECEIVE_SIZE_DEFAULT as usize,
        warnings: Vec::new(),
    })
}

fn request<R: Encodable>(api_key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Bytes {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("test")))
        .encode(&mut buf, api_key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    buf.freeze()
}

fn handshake(version: i16, mechanism: &str) -> Bytes {
    request(ApiKey::SaslHandshake, version, 1, &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.into())))
}

fn authenticate(version: i16, token: &[u8]) -> Bytes {
    request(ApiKey::SaslAuthenticate, version, 2, &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(token)))
}

fn response<R: Decodable>(api_key: ApiKey, version: i16, frame: &BytesMut) -> R {
    let mut bytes = Bytes::copy_from_slice(frame);
    let size = bytes.get_i32() as usize;
    assert_eq!(size, bytes.len());
    ResponseHeader::decode(&mut bytes, api_key.response_header_version(version)).unwrap();
    R::decode(&mut bytes, version).unwrap()
}

fn store() -> (tempfile::TempDir, ScramCredentialStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ScramCredentialStore::open(dir.path()).unwrap();
    (dir, store)
}

#[test]
fn api_versions_then_plain_handshake_and_token_authenticate_alice() {
    let (_dir, store) = store();
    let mut gate = Authenticator::new(listener(&[SaslMechanism::Plain, SaslMechanism::ScramSha256]));
    assert!(matches!(gate.step(request(ApiKey::ApiVersions, 3, 0, &ApiVersionsRequest::default()), &store), Step::Answer));
    let Step::Reply(reply) = gate.step(handshake(1, "PLAIN"), &store) else { panic!("handshake refused") };
    let answer: SaslHandshakeResponse = response(ApiKey::SaslHandshake, 1, &reply);
    assert_eq!(answer.error_code, 0);
    assert_eq!(answer.mechanisms.iter().map(|m| m.as_str()).collect::<Vec<_>>(), ["PLAIN", "SCRAM-SHA-256"]);
    for version in [0, 1, 2] {
        let mut gate = Authenticator::new(listener(&[SaslMechanism::Plain]));
        assert!(matches!(gate.step(handshake(1, "PLAIN"), &store), Step::Reply(_)));
        let Step::Authenticated { reply, principal, mechanism } = gate.step(authenticate(version, b"\0alice\0alice-secret"), &store)
        else {
            panic!("v{version}: not authenticated")
        };
        assert_eq!((principal.to_string().as_str(), mechanism), ("User:alice", SaslMechanism::Plain));
        let answer: SaslAuthenticateResponse = response(ApiKey::SaslAuthenticate, version, &reply);
        assert_eq!((answer.error_code, answer.session_lifetime_ms), (0, 0));
        assert!(gate.is_complete());
    }
}

#[test]
fn a_wrong_password_answers_sasl_authentication_failed_with_kafkas_message_then_closes() {
    let (_dir, store) = store();
    let mut gate = Authenticator::new(listener(&[SaslMechanism::Plain]));
    gate.step(handshake(1, "PLAIN"), &store);
    let Step::Fail { reply: Some(reply), .. } = gate.step(authenticate(2, b"\0alice\0nope"), &store) else { panic!() };
    let answer: SaslAuthenticateResponse = response(ApiKey::SaslAuthenticate, 2, &reply);
    assert_eq!(answer.error_code, 58);
    assert_eq!(answer.error_message.as_deref(), Some("Authentication failed: Invalid username or password"));

    // SCRAM hides why behind Kafka's generic message; the log line says it.
    let mut gate = Authenticator::new(listener(&[SaslMechanism::ScramSha256]));
    gate.step(handshake(1, "SCRAM-SHA-256"), &store);
    let Step::Fail { reply: Some(reply), reason } = gate.step(authenticate(1, b"n,,n=nobody,r=abc"), &store) else { panic!() };
    let answer: SaslAuthenticateResponse = response(ApiKey::SaslAuthenticate, 1, &reply);
    assert_eq!(
        answer.error_message.as_deref(),
        Some("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256")
    );
    assert!(reason.contains("Invalid user credentials"), "{reason}");
}

#[test]
fn an_unknown_mechanism_gets_unsupported_sasl_mechanism_with_the_enabled_list() {
    let (_dir, store) = store();
    let mut gate = Authenticator::new(listener(&[SaslMechanism::ScramSha512]));
    for mechanism in ["GSSAPI", "PLAIN", "scram-sha-512", ""] {
        let Step::Fail { reply: Some(reply), .. } = Authenticator::new(listener(&[SaslMechanism::ScramSha512])).step(handshake(1, mechanism), &store)
        else {
            panic!("{mechanism} accepted")
        };
        let answer: SaslHandshakeResponse = response(ApiKey::SaslHandshake, 1, &reply);
        assert_eq!(answer.error_code, 33);
        assert_eq!(answer.mechanisms.iter().map(|m| m.as_str()).collect::<Vec<_>>(), ["SCRAM-SHA-512"]);
    }
    assert!(matches!(gate.step(handshake(0, "SCRAM-SHA-512"), &store), Step::Reply(_)));
}

#[test]
fn requests_before_authentication_close_the_connection() {
    let (_dir, store) = store();
    let metadata = request(ApiKey::Metadata, 9, 5, &MetadataRequest::default());
    // Before the handshake: closed without a response, as Kafka.
    let step = Authenticator::new(listener(&[SaslMechanism::Plain])).step(metadata.clone(), &store);
    assert!(matches!(step, Step::Fail { reply: None, ref reason } if reason.contains("Metadata")), "{step:?}");
    // SaslAuthenticate before SaslHandshake.
    let step = Authenticator::new(listener(&[SaslMechanism::Plain])).step(authenticate(2, b"\0alice\0alice-secret"), &store);
    assert!(matches!(step, Step::Fail { reply: None, .. }), "{step:?}");
    // A second ApiVersions.
    let mut gate = Authenticator::new(listener(&[SaslMechanism::Plain]));
    assert!(matches!(gate.step(request(ApiKey::ApiVersions, 0, 0, &ApiVersionsRequest::default()), &store), Step::Answer));
    assert!(matches!(gate.step(request(ApiKey::ApiVersions, 0, 0, &ApiVersionsRequest::default()), &store), Step::Fail { .. }));
    // After the handshake: a Metadata request closes; a second handshake gets ILLEGAL_SASL_STATE first.
    let mut gate = Authenticator::new(listener(&[SaslMechanism::Plain]));
    gate.step(handshake(1, "PLAIN"), &store);
    assert!(matches!(gate.step(metadata, &store), Step::Fail { reply: None, .. }));
    let mut gate = Authenticator::new(listener(&[SaslMechanism::Plain]));
    gate.step(handshake(1, "PLAIN"), &store);
    let Step::Fail { reply: Some(reply), .. } = gate.step(handshake(1, "PLAIN"), &store) else { panic!() };
    let answer: SaslHandshakeResponse = response(ApiKey::SaslHandshake, 1, &reply);
    assert_eq!(answer.error_code, 34);
}

#[test]
fn handshake_v0_is_followed_by_raw_tokens() {
    let (_dir, store) = store();
    let mut gate = Authenticator::new(listener(&[SaslMechanism::Plain]));
    assert!(matches!(gate.step(handshake(0, "PLAIN"), &store), Step::Reply(_)));
    let Step::Authenticated { reply, principal, .. } = gate.step(Bytes::from_static(b"\0alice\0alice-secret"), &store) else {
        panic!()
    };
    assert_eq!(principal.to_string(), "User:alice");
    // PLAIN's empty final token, size-prefixed.
    assert_eq!(&reply[..], &[0, 0, 0, 0]);
    let mut gate = Authenticator::new(listener(&[SaslMechanism::Plain]));
    gate.step(handshake(0, "PLAIN"), &store);
    assert!(matches!(gate.step(Bytes::from_static(b"\0alice\0wrong"), &store), Step::Fail { reply: None, .. }));
}

#[test]
fn garbage_and_truncated_frames_fail_in_every_state() {
    let (_dir, store) = store();
    let full = handshake(1, "PLAIN");
    for cut in 0..full.len() {
        let step = Authenticator::new(listener(&[SaslMechanism::Plain])).step(full.slice(..cut), &store);
        assert!(matches!(step, Step::Fail { .. }), "cut at {cut}: {step:?}");
    }
    let token = authenticate(2, b"\0alice\0alice-secret");
    for cut in 0..token.len() {
        let mut gate = Authenticator::new(listener(&[SaslMechanism::Plain]));
        gate.step(handshake(1, "PLAIN"), &store);
        let step = gate.step(token.slice(..cut), &store);
        assert!(matches!(step, Step::Fail { .. }), "cut at {cut}: {step:?}");
    }
    // A version Kafka does not serve.
    let mut v9 = BytesMut::from(&handshake(1, "PLAIN")[..]);
    v9[3] = 9;
    assert!(matches!(Authenticator::new(listener(&[SaslMechanism::Plain])).step(v9.freeze(), &store), Step::Fail { .. }));
}

proptest! {
    /// Random frames in any state never panic and never authenticate anyone.
    #[test]
    fn random_frames_never_panic_or_authenticate(prefix in 0usize..3, body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (_dir, store) = store();
        let mut gate = Authenticator::new(listener(&[SaslMechanism::Plain, SaslMechanism::ScramSha256]));
        if prefix >= 1 {
            gate.step(handshake(prefix as i16 - 1, "SCRAM-SHA-256"), &store);
        }
        let step = gate.step(Bytes::from(body), &store);
        let authenticated = matches!(step, Step::Authenticated { .. });
        prop_assert!(!authenticated, "authenticated by a random frame");
    }
}
