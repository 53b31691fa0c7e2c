//! SaslAuthenticate once a connection is past authentication, or on a listener without SASL:
//! ILLEGAL_SASL_STATE with Kafka's message (`KafkaApis.handleSaslAuthenticateRequest`). The
//! exchange itself is run by `sasl` before the connection serves requests.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslAuthenticateResponse};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;

pub fn handle(_request: &SaslAuthenticateRequest) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse::default()
        .with_error_code(ResponseError::IllegalSaslState.code())
        .with_error_message(Some(StrBytes::from_static_str(
            "SaslAuthenticate request received after successful authentication",
        )))
}
