//! The admin HTTP listener: `/healthz`, `/readyz`, Prometheus `/metrics`, the JSON API under
//! `/api/` and the web console (`/`, `/assets/*`, from `runnel-console`). The contract with
//! the console and the other API users is the README's "Admin HTTP listener" section.
//!
//! Lifecycle: [`AdminServer::bind`] binds the port (and builds TLS) before storage is opened,
//! so a bad admin setting fails fast; [`AdminServer::serve`] starts answering at once (only
//! `/healthz` and `/readyz` until the broker is ready), and [`crate::Broker::attach_admin`]
//! hands it the broker once recovery is done: from then on `/readyz` is 200. The accept loop
//! stops on the broker's `CancellationToken`, and `Broker::run` waits for it while draining.
//!
//! Module map: `server` (accept loop, TLS, hyper, limits, shutdown), `routes` (the route
//! table: one line per endpoint), `reply` (responses and errors), `auth` (HTTP Basic),
//! `counters` (the per-request atomics the connection loop updates), `metrics` (the
//! Prometheus text), `lag` (consumer lag from committed offsets, and the lag sampler's ring),
//! `views/` (one module per JSON resource).
//!
//! **Invariant:** the admin API changes state only through the same paths as the Kafka API
//! (an offset reset is an OffsetCommit through the group coordinator); everything else only
//! reads, and every read is bounded by a named limit.

mod auth;
pub mod counters;
mod lag;
pub mod metrics;
mod reply;
mod routes;
mod server;
mod state;
mod views;

pub use counters::RequestMetrics;
pub use server::{AdminError, AdminHandle, AdminServer};
pub use lag::sample_lag;
pub use state::AdminState;
