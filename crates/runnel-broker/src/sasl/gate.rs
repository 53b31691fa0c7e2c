//! One connection's authentication, as Kafka's `SaslServerAuthenticator` runs it, as a state
//! machine over frame bodies: the connection reads a frame, asks [`Authenticator::step`] what
//! to do with it, and does it. No socket is touched here.
//!
//! States, in Kafka's names: INITIAL_REQUEST and HANDSHAKE_OR_VERSIONS_REQUEST (ApiVersions
//! or SaslHandshake), HANDSHAKE_REQUEST (after ApiVersions, only SaslHandshake), AUTHENTICATE
//! (SaslAuthenticate requests after SaslHandshake v1, KIP-152; raw size-prefixed tokens after
//! v0, KIP-43), then COMPLETE. Anything else closes the connection, after the error response
//! Kafka sends where it sends one (UNSUPPORTED_SASL_MECHANISM with the enabled list, an
//! ILLEGAL_SASL_STATE for a second handshake, SASL_AUTHENTICATION_FAILED with Kafka's message).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use runnel_protocol::frame::{decode_request_header, peek_preamble, write_response};
use runnel_protocol::kafka_protocol;
use runnel_protocol::versions::{support_for, API_VERSIONS_MAX};

use super::credentials::ScramCredentialStore;
use super::scram::{ScramKind, ScramServer};
use super::{plain, Evaluation, SaslFailure};
use crate::config::sasl::{ListenerSaslConfig, SaslMechanism};
use crate::tls::KafkaPrincipal;

/// What the connection does with the frame it just gave [`Authenticator::step`].
#[derive(Debug)]
pub enum Step {
    /// An ApiVersions request: answer it the ordinary way, then read the next frame.
    Answer,
    /// Write this frame, then read the next.
    Reply(BytesMut),
    /// Write this frame; the client is authenticated as `principal`.
    Authenticated { reply: BytesMut, principal: KafkaPrincipal, mechanism: SaslMechanism },
    /// Write `reply` if there is one, then close; `reason` is the connection's log line.
    Fail { reply: Option<BytesMut>, reason: String },
}

#[derive(Debug)]
enum State {
    InitialRequest,
    HandshakeOrVersionsRequest,
    HandshakeRequest,
    Authenticate { mechanism: SaslMechanism, framed: bool, server: MechanismServer },
    Done,
}

impl State {
    fn kafka_name(&self) -> &'static str {
        match self {
            State::InitialRequest => "INITIAL_REQUEST",
            State::HandshakeOrVersionsRequest => "HANDSHAKE_OR_VERSIONS_REQUEST",
            State::HandshakeRequest => "HANDSHAKE_REQUEST",
            State::Authenticate { .. } => "AUTHENTICATE",
            State::Done => "COMPLETE",
        }
    }
}

#[derive(Debug)]
enum MechanismServer {
    Plain,
    Scram(ScramServer),
}

/// Authenticates one connection on a SASL listener.
#[derive(Debug)]
pub struct Authenticator {
    sasl: Arc<ListenerSaslConfig>,
    state: State,
}

/// Kafka's message for failures whose detail it keeps from the client.
fn generic_failure_message(mechanism: SaslMechanism) -> String {
    format!("Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}")
}

fn fail(reason: impl Into<String>) -> Step {
    Step::Fail { reply: None, reason: reason.into() }
}

/// A response frame for `api_key` v`version`, or the failure to encode it.
fn frame<R: Encodable>(api_key: ApiKey, version: i16, correlation_id: i32, response: &R) -> Result<BytesMut, String> {
    let mut out = BytesMut::new();
    write_response(&mut out, correlation_id, api_key.response_header_version(version), |buf| response.encode(buf, version))
        .map(|()| out)
        .map_err(|error| format!("cannot encode the {api_key:?} response: {error}"))
}

/// A raw KIP-43 token frame: size prefix and bytes.
fn raw_frame(token: &[u8]) -> Result<BytesMut, String> {
    let size = i32::try_from(token.len()).map_err(|_| "SASL token too large to frame".to_string())?;
    let mut out = BytesMut::with_capacity(token.len() + 4);
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(token);
    Ok(out)
}

impl Authenticator {
    pub fn new(sasl: Arc<ListenerSaslConfig>) -> Authenticator {
        Authenticator { sasl, state: State::InitialRequest }
    }

    /// Whether authentication has succeeded.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Decides what to do with one frame body read before authentication completed.
    pub fn step(&mut self, body: Bytes, store: &ScramCredentialStore) -> Step {
        if let State::Authenticate { framed: false, .. } = self.state {
            return self.raw_token(&body, store);
        }
        let request = peek_preamble(&body).ok().and_then(|p| ApiKey::try_from(p.api_key).ok().map(|key| (key, p)));
        let Some((api_key, preamble)) = request else {
            return fail(match self.state {
                State::InitialRequest => "Invalid request, potential reasons: kafka client configured with the wrong \
                    security protocol, it does not support KIP-43 or it is not a kafka client."
                    .to_string(),
                _ => format!("Invalid request during SASL state {}: not a Kafka request", self.state.kafka_name()),
            });
        };
        let (version, correlation_id) = (preamble.api_version, preamble.correlation_id);
        match (&self.state, api_key) {
            (State::InitialRequest | State::HandshakeOrVersionsRequest, ApiKey::ApiVersions) => {
                // An ApiVersions newer than ours gets the fallback and may be retried (KIP-511).
                self.state = if version > API_VERSIONS_MAX {
                    State::HandshakeOrVersionsRequest
                } else {
                    State::HandshakeRequest
                };
                Step::Answer
            }
            (State::HandshakeRequest, ApiKey::ApiVersions) => {
                fail("Unexpected ApiVersions request received during SASL authentication state HANDSHAKE_REQUEST")
            }
            (State::InitialRequest | State::HandshakeOrVersionsRequest | State::HandshakeRequest, ApiKey::SaslHandshake) => {
                self.handshake(body, version, correlation_id)
            }
            (State::InitialRequest | State::HandshakeOrVersionsRequest | State::HandshakeRequest, other) => {
                fail(format!("Unexpected Kafka request of type {other:?} during SASL handshake."))
            }
            (State::Authenticate { .. }, ApiKey::SaslAuthenticate) => self.authenticate(body, version, correlation_id, store),
            (State::Authenticate { .. }, other) => self.out_of_turn(other, version, correlation_id),
            (State::Done, other) => fail(format!("{other:?} request given to the authenticator after authentication")),
        }
    }

    fn handshake(&mut self, mut body: Bytes, version: i16, correlation_id: i32) -> Step {
        if !support_for(ApiKey::SaslHandshake).is_some_and(|s| s.serves(version)) {
            return fail(format!("unsupported version {version} of SaslHandshake"));
        }
        let decoded = decode_request_header(ApiKey::SaslHandshake, version, &mut body)
            .map_err(|error| error.to_string())
            .and_then(|_| SaslHandshakeRequest::decode(&mut body, version).map_err(|error| error.to_string()));
        let request = match decoded {
            Ok(request) => request,
            Err(reason) => return fail(format!("malformed SaslHandshake v{version} request: {reason}")),
        };
        let enabled: Vec<StrBytes> = self.sasl.mechanisms.iter().map(|m| StrBytes::from_static_str(m.name())).collect();
        let chosen = SaslMechanism::from_name(&request.mechanism).filter(|m| self.sasl.mechanisms.contains(m));
        let Some(mechanism) = chosen else {
            let response = SaslHandshakeResponse::default()
                .with_error_code(ResponseError::UnsupportedSaslMechanism.code())
                .with_mechanisms(enabled);
            let reason = format!(
                "Unsupported SASL mechanism {:?}: listener {} enables {}",
                request.mechanism.as_str(),
                self.sasl.listener,
                self.sasl.mechanisms.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
            );
            return Step::Fail { reply: frame(ApiKey::SaslHandshake, version, correlation_id, &response).ok(), reason };
        };
        let response = SaslHandshakeResponse::default().with_error_code(0).with_mechanisms(enabled);
        let server = match mechanism {
            SaslMechanism::Plain => MechanismServer::Plain,
            SaslMechanism::ScramSha256 => MechanismServer::Scram(ScramServer::new(ScramKind::Sha256)),
            SaslMechanism::ScramSha512 => MechanismServer::Scram(ScramServer::new(ScramKind::Sha512)),
        };
        match frame(ApiKey::SaslHandshake, version, correlation_id, &response) {
            Ok(reply) => {
                self.state = State::Authenticate { mechanism, framed: version >= 1, server };
                Step::Reply(reply)
            }
            Err(reason) => fail(reason),
        }
    }

    fn evaluate(&mut self, token: &[u8], store: &ScramCredentialStore) -> (SaslMechanism, Result<Evaluation, SaslFailure>) {
        let State::Authenticate { mechanism, server, .. } = &mut self.state else {
            return (SaslMechanism::Plain, Err(SaslFailure::Shown("no SASL exchange in progress".into())));
        };
        let outcome = match server {
            MechanismServer::Plain => plain::evaluate(token, &self.sasl.plain_users),
            MechanismServer::Scram(scram) => scram.evaluate(token, store),
        };
        (*mechanism, outcome)
    }

    fn authenticate(&mut self, mut body: Bytes, version: i16, correlation_id: i32, store: &ScramCredentialStore) -> Step {
        if !support_for(ApiKey::SaslAuthenticate).is_some_and(|s| s.serves(version)) {
            return fail(format!("unsupported version {version} of SaslAuthenticate"));
        }
        let decoded = decode_request_header(ApiKey::SaslAuthenticate, version, &mut body)
            .map_err(|error| error.to_string())
            .and_then(|_| SaslAuthenticateRequest::decode(&mut body, version).map_err(|error| error.to_string()));
        let request = match decoded {
            Ok(request) => request,
            Err(reason) => return fail(format!("malformed SaslAuthenticate v{version} request: {reason}")),
        };
        let (mechanism, outcome) = self.evaluate(&request.auth_bytes, store);
        let respond = |response: SaslAuthenticateResponse| frame(ApiKey::SaslAuthenticate, version, correlation_id, &response);
        match outcome {
            Ok(Evaluation { response, authenticated_user }) => {
                // KIP-368 re-authentication is not offered: the session never expires.
                let reply = match respond(
                    SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(response)).with_session_lifetime_ms(0),
                ) {
                    Ok(reply) => reply,
                    Err(reason) => return fail(reason),
                };
                match authenticated_user {
                    Some(user) => {
                        self.state = State::Done;
                        Step::Authenticated { reply, principal: KafkaPrincipal::user(user), mechanism }
                    }
                    None => Step::Reply(reply),
                }
            }
            Err(failure) => {
                let (message, detail) = match failure {
                    SaslFailure::Shown(message) => (message.clone(), message),
                    SaslFailure::Hidden(detail) => (generic_failure_message(mechanism), detail),
                };
                let response = SaslAuthenticateResponse::default()
                    .with_error_code(ResponseError::SaslAuthenticationFailed.code())
                    .with_error_message(Some(StrBytes::from_string(message)));
                Step::Fail { reply: respond(response).ok(), reason: format!("SASL/{mechanism} authentication failed: {detail}") }
            }
        }
    }

    /// A KIP-43 token after SaslHandshake v0: the frame body is the token itself.
    fn raw_token(&mut self, body: &[u8], store: &ScramCredentialStore) -> Step {
        let (mechanism, outcome) = self.evaluate(body, store);
        match outcome {
            Ok(Evaluation { response, authenticated_user }) => {
                let reply = match raw_frame(&response) {
                    Ok(reply) => reply,
                    Err(reason) => return fail(reason),
                };
                match authenticated_user {
                    Some(user) => {
                        self.state = State::Done;
                        Step::Authenticated { reply, principal: KafkaPrincipal::user(user), mechanism }
                    }
                    None => Step::Reply(reply),
                }
            }
            // Without SaslAuthenticate framing there is no way to say why: Kafka just closes.
            Err(SaslFailure::Shown(detail) | SaslFailure::Hidden(detail)) => {
                fail(format!("SASL/{mechanism} authentication failed: {detail}"))
            }
        }
    }

    /// Any request but SaslAuthenticate while authenticating: Kafka answers it with
    /// ILLEGAL_SASL_STATE where it can build that response, then closes.
    fn out_of_turn(&mut self, api_key: ApiKey, version: i16, correlation_id: i32) -> Step {
        let reason = format!("Unexpected Kafka request of type {api_key:?} during SASL authentication.");
        let served = support_for(api_key).is_some_and(|s| s.serves(version));
        let code = ResponseError::IllegalSaslState.code();
        let reply = match api_key {
            ApiKey::SaslHandshake if served => {
                frame(api_key, version, correlation_id, &SaslHandshakeResponse::default().with_error_code(code)).ok()
            }
            ApiKey::ApiVersions if version <= API_VERSIONS_MAX => {
                frame(api_key, version, correlation_id, &ApiVersionsResponse::default().with_error_code(code)).ok()
            }
            _ => None,
        };
        Step::Fail { reply, reason }
    }
}
