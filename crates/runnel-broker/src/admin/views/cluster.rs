//! `GET /api/cluster`: who this broker is, where it listens, and how much it holds.

use serde::Serialize;

use crate::admin::reply::{json, Reply};
use crate::admin::routes::Call;
use crate::context::now_ms;

#[derive(Serialize)]
struct ListenerView {
    name: String,
    host: String,
    port: i32,
    security_protocol: &'static str,
}

#[derive(Serialize)]
struct ClusterView {
    cluster_id: String,
    broker_id: i32,
    version: &'static str,
    listeners: Vec<ListenerView>,
    started_at_ms: i64,
    now_ms: i64,
    ready: bool,
    topics: usize,
    partitions: usize,
    groups: usize,
}

pub fn get(call: &Call) -> Reply {
    let ctx = &call.ctx;
    let listeners = ctx
        .config
        .listeners
        .iter()
        .map(|listener| {
            // The advertised endpoint carries the bound port when the config asked for port 0.
            let advertised = ctx.advertised.get(&listener.name);
            ListenerView {
                name: listener.name.clone(),
                host: advertised.map(|a| a.host.clone()).or_else(|| listener.host.clone()).unwrap_or_default(),
                port: advertised.map_or(i32::from(listener.port), |a| a.port),
                security_protocol: listener.security_protocol.name(),
            }
        })
        .collect();
    let topics = ctx.topics.all();
    json(&ClusterView {
        cluster_id: ctx.cluster_id.clone(),
        broker_id: ctx.node_id,
        version: env!("CARGO_PKG_VERSION"),
        listeners,
        started_at_ms: call.state.started_at_ms,
        now_ms: now_ms(),
        ready: true,
        topics: topics.len(),
        partitions: topics.iter().map(|topic| topic.partitions.len()).sum(),
        groups: ctx.groups.inspect(|coordinator| coordinator.groups().count()),
    })
}
