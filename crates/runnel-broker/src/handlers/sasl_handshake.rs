//! SaslHandshake once a connection is past authentication, or on a listener without SASL.
//!
//! The exchange itself never reaches the handlers: `sasl` runs it before the connection
//! serves requests. A handshake that does arrive here comes from an authenticated client
//! (Runnel offers no KIP-368 re-authentication) or a PLAINTEXT/SSL client, and gets what
//! Kafka's `KafkaApis.handleSaslHandshakeRequest` sends: ILLEGAL_SASL_STATE.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{SaslHandshakeRequest, SaslHandshakeResponse};
use runnel_protocol::kafka_protocol;

pub fn handle(_request: &SaslHandshakeRequest) -> SaslHandshakeResponse {
    SaslHandshakeResponse::default().with_error_code(ResponseError::IllegalSaslState.code())
}
