//! SASL authentication on SASL_PLAINTEXT and SASL_SSL listeners: PLAIN with users from the
//! listener's JAAS config, and SCRAM-SHA-256/512 with credentials from the broker's
//! credential store, framed as Kafka frames them (SaslHandshake v0-1, SaslAuthenticate v0-2).
//!
//! Module map: `gate` (one connection's state machine, from the first request to an
//! authenticated principal), `plain` and `scram` (the mechanisms' server sides),
//! `credentials` (the persisted SCRAM credential store).
//!
//! **Invariant:** credentials stay here. The gate turns a successful exchange into a
//! `KafkaPrincipal` (`User:<name>`), which is all `connection` puts in the `Session`;
//! request handlers see principals, mechanisms and iteration counts, never a password, a
//! salted password's derivatives (stored and server keys) or a salt. Before authentication
//! completes only ApiVersions, SaslHandshake and SaslAuthenticate are accepted, every frame
//! is bounded by `sasl.server.max.receive.size`, and the whole exchange by
//! [`SASL_AUTHENTICATION_TIMEOUT_MS`]. Sessions never expire (`session_lifetime_ms` 0): KIP-368
//! re-authentication is not offered, so a later SaslHandshake gets ILLEGAL_SASL_STATE as on
//! Kafka without `connections.max.reauth.ms`.

mod credentials;
mod gate;
mod plain;
mod scram;

#[cfg(test)]
mod tests;

pub use credentials::{CredentialChange, CredentialStoreError, ScramCredentialStore};
pub use gate::{Authenticator, Step};
pub use scram::{ScramKind, SCRAM_ITERATIONS_MAX, SCRAM_ITERATIONS_MIN};

/// The longest a client may take from connecting to being authenticated (capped by
/// connections.max.idle.ms). Kafka bounds only idleness; a total bound also stops a client
/// that keeps the exchange alive without finishing it.
pub const SASL_AUTHENTICATION_TIMEOUT_MS: u64 = 30_000;

/// A mechanism's answer to one client token.
#[derive(Debug)]
pub(crate) struct Evaluation {
    /// The challenge or final message to send back (may be empty).
    pub response: Vec<u8>,
    /// Set when the exchange has succeeded: the authenticated user name.
    pub authenticated_user: Option<String>,
}

/// Why a mechanism refused a client, split as Kafka splits it.
#[derive(Debug)]
pub(crate) enum SaslFailure {
    /// Kafka's `SaslAuthenticationException`: the message goes to the client as it is.
    Shown(String),
    /// Kafka's `SaslException`: the client gets the generic "invalid credentials" message;
    /// the detail is only logged.
    Hidden(String),
}
