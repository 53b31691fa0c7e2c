//! The route table and the dispatch from an HTTP request to its handler: path matching
//! (`{name}` segments, a trailing `*`), HTTP Basic, readiness, the bounded request body, and
//! whether the handler runs on the blocking pool (anything that reads logs or takes locks).
//!
//! Adding an endpoint is one line in [`ROUTES`] plus its handler in `views/`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::{Request, StatusCode};

use super::auth::REALM;
use super::reply::{self, Reply};
use super::state::AdminState;
use super::views;
use crate::context::BrokerContext;

/// Largest request body accepted (a reset-offsets request is a few hundred bytes).
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;
/// How long a client may take to send its request body.
pub const REQUEST_BODY_TIMEOUT_MS: u64 = 10_000;
/// Most path segments a request path may have before it is refused unmatched.
const PATH_SEGMENTS_MAX: usize = 16;

pub type BoxFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;
/// `{name}` path segments and their decoded values.
pub type Params = Vec<(&'static str, String)>;

/// One admin request that reached a handler needing the broker.
pub struct Call {
    pub state: Arc<AdminState>,
    pub ctx: Arc<BrokerContext>,
    /// `{name}` path segments, percent-decoded.
    pub params: Params,
    /// Query pairs in order, percent-decoded.
    pub query: Vec<(String, String)>,
    pub body: Bytes,
}

impl Call {
    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_str()).unwrap_or_default()
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

pub enum Handler {
    /// Needs no broker: answers even before recovery is done. Gets the request path.
    Static(fn(&AdminState, &str) -> Reply),
    /// Reads logs or takes locks: runs on the blocking pool.
    Blocking(fn(&Call) -> Reply),
    /// Waits on the broker (the group coordinator).
    Async(fn(Call) -> BoxFuture),
}

pub struct Route {
    pub method: &'static str,
    /// `/api/topics/{topic}`; a last segment `*` matches any rest of the path.
    pub pattern: &'static str,
    pub handler: Handler,
    /// Open without HTTP Basic even when users are configured.
    pub public: bool,
}

const fn route(method: &'static str, pattern: &'static str, handler: Handler) -> Route {
    Route { method, pattern, handler, public: false }
}

const fn public(method: &'static str, pattern: &'static str, handler: Handler) -> Route {
    Route { method, pattern, handler, public: true }
}

use Handler::{Async, Blocking, Static};

/// Every admin endpoint, one line each; the handler lives in `views/`. (`history` belongs to
/// the rebalance-history work.)
pub static ROUTES: &[Route] = &[
    public("GET", "/healthz", Static(views::health::healthz)),
    public("GET", "/readyz", Static(views::health::readyz)),
    route("GET", "/metrics", Blocking(views::prometheus::get)),
    route("GET", "/", Static(views::console::get)),
    route("GET", "/index.html", Static(views::console::get)),
    route("GET", "/assets/*", Static(views::console::get)),
    route("GET", "/api/cluster", Blocking(views::cluster::get)),
    route("GET", "/api/topics", Blocking(views::topics::list)),
    route("GET", "/api/topics/{topic}", Blocking(views::topics::get)),
    route("GET", "/api/topics/{topic}/messages", Blocking(views::messages::get)),
    route("GET", "/api/groups", Blocking(views::groups::list)),
    route("GET", "/api/groups/{group}", Blocking(views::groups::get)),
    route("GET", "/api/groups/{group}/lag", Blocking(views::groups::lag)),
    route("GET", "/api/groups/{group}/history", Blocking(views::history::get)),
    route("POST", "/api/groups/{group}/reset-offsets", Async(views::reset::post)),
];

/// The route for `method` and `path` with its path parameters; `Err(true)` when the path
/// exists under another method (405), `Err(false)` when it does not (404).
pub fn find(method: &str, path: &str) -> Result<(&'static Route, Params), bool> {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    if segments.len() > PATH_SEGMENTS_MAX {
        return Err(false);
    }
    let mut other_method = false;
    for route in ROUTES {
        let Some(params) = matches(route.pattern, &segments) else { continue };
        if route.method == method {
            return Ok((route, params));
        }
        other_method = true;
    }
    Err(other_method)
}

fn matches(pattern: &'static str, segments: &[&str]) -> Option<Params> {
    let wanted: Vec<&'static str> = pattern.split('/').skip(1).collect();
    if wanted.last() == Some(&"*") {
        if segments.len() < wanted.len() {
            return None;
        }
    } else if segments.len() != wanted.len() {
        return None;
    }
    let mut params = Vec::new();
    for (want, got) in wanted.iter().zip(segments) {
        match want.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
            Some(name) => {
                let value = percent_decode(got)?;
                if value.is_empty() {
                    return None;
                }
                params.push((name, value));
            }
            None if *want == "*" => return Some(params),
            None if want == got => {}
            None => return None,
        }
    }
    Some(params)
}

/// `%XX` escapes decoded; with `plus_is_space` (query strings) `+` is a space. `None` when an
/// escape is malformed or the result is not UTF-8.
fn decode(raw: &str, plus_is_space: bool) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

pub fn percent_decode(raw: &str) -> Option<String> {
    decode(raw, false)
}

/// The query string's `key=value` pairs; undecodable pairs are dropped.
pub fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(key, true)?, decode(value, true)?))
        })
        .collect()
}

/// Answers one request.
pub async fn dispatch(state: Arc<AdminState>, request: Request<Incoming>) -> Reply {
    let path = request.uri().path().to_string();
    let (route, params) = match find(request.method().as_str(), &path) {
        Ok(found) => found,
        Err(true) => return reply::error(StatusCode::METHOD_NOT_ALLOWED, format!("{} not allowed on {path}", request.method())),
        Err(false) => return reply::not_found(format!("{path}:")),
    };
    if !route.public && !state.auth.allows(request.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes)) {
        let mut refused = reply::error(StatusCode::UNAUTHORIZED, "authentication required");
        if let Ok(challenge) = HeaderValue::from_str(&format!("Basic realm=\"{REALM}\", charset=\"UTF-8\"")) {
            refused.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        }
        return refused;
    }
    if let Static(handler) = route.handler {
        return handler(&state, &path);
    }
    let Some(ctx) = state.broker().cloned() else {
        return reply::error(StatusCode::SERVICE_UNAVAILABLE, "the broker is starting: log recovery is not done yet");
    };
    let query = parse_query(request.uri().query());
    let body = match read_body(request.into_body()).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let call = Call { state, ctx, params, query, body };
    match route.handler {
        Static(_) => reply::error(StatusCode::INTERNAL_SERVER_ERROR, "unreachable"),
        Blocking(handler) => tokio::task::spawn_blocking(move || handler(&call))
            .await
            .unwrap_or_else(|error| reply::error(StatusCode::INTERNAL_SERVER_ERROR, format!("handler failed: {error}"))),
        Async(handler) => handler(call).await,
    }
}

/// The request body, bounded by [`REQUEST_BODY_BYTES_MAX`] and [`REQUEST_BODY_TIMEOUT_MS`].
async fn read_body(body: Incoming) -> Result<Bytes, Reply> {
    let limited = Limited::new(body, REQUEST_BODY_BYTES_MAX);
    match tokio::time::timeout(Duration::from_millis(REQUEST_BODY_TIMEOUT_MS), limited.collect()).await {
        Err(_) => Err(reply::error(StatusCode::REQUEST_TIMEOUT, format!("request body not received within {REQUEST_BODY_TIMEOUT_MS} ms"))),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => Err(reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {REQUEST_BODY_BYTES_MAX} bytes"),
        )),
        Ok(Err(error)) => Err(reply::bad_request(format!("cannot read the request body: {error}"))),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(method: &str, path: &str) -> Option<(&'static str, Vec<(&'static str, String)>)> {
        find(method, path).ok().map(|(route, params)| (route.pattern, params))
    }

    #[test]
    fn paths_match_their_routes_with_decoded_parameters() {
        assert_eq!(found("GET", "/healthz"), Some(("/healthz", vec![])));
        assert_eq!(found("GET", "/"), Some(("/", vec![])));
        assert_eq!(
            found("GET", "/api/groups/my%20group/lag"),
            Some(("/api/groups/{group}/lag", vec![("group", "my group".to_string())]))
        );
        assert_eq!(found("GET", "/assets/app.js"), Some(("/assets/*", vec![])));
        assert_eq!(found("POST", "/api/groups/g/reset-offsets").map(|(p, _)| p), Some("/api/groups/{group}/reset-offsets"));
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405() {
        assert_eq!(find("GET", "/api/nope").err(), Some(false));
        assert_eq!(find("GET", "/api/topics/").err(), Some(false));
        assert_eq!(find("GET", "/api/topics/%zz").err(), Some(false));
        assert_eq!(find("DELETE", "/api/topics/t").err(), Some(true));
        assert_eq!(find("GET", "/api/groups/g/reset-offsets").err(), Some(true));
    }

    #[test]
    fn query_strings_decode_plus_and_escapes() {
        assert_eq!(
            parse_query(Some("partition=1&offset=%31%30&key=a+b&flag")),
            vec![
                ("partition".to_string(), "1".to_string()),
                ("offset".to_string(), "10".to_string()),
                ("key".to_string(), "a b".to_string()),
                ("flag".to_string(), String::new()),
            ]
        );
        assert!(parse_query(Some("bad=%e2%28")).is_empty());
    }
}
