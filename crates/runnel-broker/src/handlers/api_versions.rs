//! ApiVersions: the table of supported APIs, and the v0 fallback for versions we lack.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use runnel_protocol::kafka_protocol;
use runnel_protocol::versions::SUPPORTED_APIS;

pub fn handle(request: &ApiVersionsRequest, version: i16) -> ApiVersionsResponse {
    let mut response = supported();
    if version >= 3
        && (!is_valid_software_field(&request.client_software_name)
            || !is_valid_software_field(&request.client_software_version))
    {
        response.error_code = ResponseError::InvalidRequest.code();
    }
    response
}

/// The answer to an ApiVersions request newer than we serve: a v0-layout body with
/// UNSUPPORTED_VERSION that still lists our range, so the client can retry with our max.
pub fn unsupported_version_fallback() -> ApiVersionsResponse {
    let mut response = supported();
    response.error_code = ResponseError::UnsupportedVersion.code();
    response
}

fn supported() -> ApiVersionsResponse {
    let api_keys = SUPPORTED_APIS
        .iter()
        .map(|support| {
            ApiVersion::default()
                .with_api_key(support.key as i16)
                .with_min_version(support.advertised_min)
                .with_max_version(support.max)
        })
        .collect();
    ApiVersionsResponse::default().with_api_keys(api_keys)
}

/// Kafka's rule for client_software_name/version: `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
fn is_valid_software_field(value: &str) -> bool {
    let bytes = value.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_name_rule_matches_kafkas_regex() {
        assert!(is_valid_software_field("apache-kafka-java"));
        assert!(is_valid_software_field("4.1.0"));
        assert!(is_valid_software_field("x"));
        assert!(!is_valid_software_field(""));
        assert!(!is_valid_software_field("-lead"));
        assert!(!is_valid_software_field("has space"));
    }
}
