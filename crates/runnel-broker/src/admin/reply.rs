//! Building admin responses: JSON bodies, plain text, and `{"error": "..."}` errors.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::Serialize;

pub type Reply = Response<Full<Bytes>>;

pub const JSON: &str = "application/json";
pub const TEXT: &str = "text/plain; charset=utf-8";
/// Prometheus' text exposition format, version 0.0.4.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A response with `body` as `content_type`, never cached (every view is live state).
pub fn with_body(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn text(status: StatusCode, body: &'static str) -> Reply {
    with_body(status, TEXT, body)
}

pub fn json(value: &impl Serialize) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => with_body(StatusCode::OK, JSON, body),
        Err(error) => self::error(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode the answer: {error}")),
    }
}

pub fn error(status: StatusCode, message: impl Into<String>) -> Reply {
    let body = serde_json::json!({ "error": message.into() });
    with_body(status, JSON, serde_json::to_vec(&body).unwrap_or_default())
}

pub fn not_found(what: impl std::fmt::Display) -> Reply {
    error(StatusCode::NOT_FOUND, format!("{what} not found"))
}

pub fn bad_request(message: impl Into<String>) -> Reply {
    error(StatusCode::BAD_REQUEST, message)
}
