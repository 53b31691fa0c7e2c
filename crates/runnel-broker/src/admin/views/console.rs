//! `GET /`, `/index.html` and `/assets/*`: the web console's files from `runnel-console`.

use hyper::StatusCode;

use crate::admin::reply::{not_found, with_body, Reply};
use crate::admin::state::AdminState;

pub fn get(_: &AdminState, path: &str) -> Reply {
    match runnel_console::asset(path) {
        Some(asset) => with_body(StatusCode::OK, asset.content_type, asset.bytes),
        None => not_found(format!("{path}:")),
    }
}
