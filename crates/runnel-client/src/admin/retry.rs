//! The retry budget of one admin call.
//!
//! Owns: the deadline (Kafka's `default.api.timeout.ms`) and the pause between attempts
//! (`retry.backoff.ms`). Callers decide what is worth retrying; this only says whether there
//! is time left, so every admin loop is bounded.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

pub(super) struct Retry {
    deadline: Instant,
    backoff: Duration,
}

impl Retry {
    pub(super) fn new(timeout: Duration, backoff: Duration) -> Retry {
        Retry { deadline: Instant::now() + timeout, backoff }
    }

    /// Waits before the next attempt, or gives back `last` when the budget is spent.
    pub(super) async fn pause(&self, last: Error) -> Result<()> {
        if Instant::now() + self.backoff >= self.deadline {
            return Err(last);
        }
        tokio::time::sleep(self.backoff).await;
        Ok(())
    }

    /// Whether an attempt started now may still finish in time.
    pub(super) fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }
}
