//! What every admin request may read: the broker (once it is ready), the lag history, the
//! Basic users and the shutdown token.

use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::auth::BasicAuth;
use super::lag::LagHistory;
use crate::context::{now_ms, BrokerContext};

pub struct AdminState {
    broker: OnceLock<Arc<BrokerContext>>,
    pub started_at_ms: i64,
    pub auth: BasicAuth,
    pub lag: Mutex<LagHistory>,
    pub shutdown: CancellationToken,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState").field("ready", &self.broker.get().is_some()).finish_non_exhaustive()
    }
}

impl AdminState {
    pub fn new(auth: BasicAuth, shutdown: CancellationToken) -> Self {
        Self { broker: OnceLock::new(), started_at_ms: now_ms(), auth, lag: Mutex::new(LagHistory::default()), shutdown }
    }

    /// The broker, once its storage is recovered and its listeners bound.
    pub fn broker(&self) -> Option<&Arc<BrokerContext>> {
        self.broker.get()
    }

    /// Marks the broker ready; a second call changes nothing.
    pub fn set_ready(&self, ctx: Arc<BrokerContext>) {
        let _ = self.broker.set(ctx);
    }
}
