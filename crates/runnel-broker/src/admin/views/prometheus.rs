//! `GET /metrics`: the Prometheus text of `admin::metrics`.

use hyper::StatusCode;

use crate::admin::metrics::{collect, render};
use crate::admin::reply::{with_body, Reply, PROMETHEUS_TEXT};
use crate::admin::routes::Call;
use crate::context::now_ms;

pub fn get(call: &Call) -> Reply {
    let snapshot = collect(&call.ctx, &call.ctx.request_metrics, now_ms());
    with_body(StatusCode::OK, PROMETHEUS_TEXT, render(&snapshot))
}
