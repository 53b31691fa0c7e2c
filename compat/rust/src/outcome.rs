//! How a scenario ends when it does not pass: a failed check or client error (`Fail`), or a
//! step the client has no API for (`Skip`, with the reason). Also the bounded wait every
//! scenario polls with, so no wait in the adapter is unbounded.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often a bounded wait re-evaluates its condition (adapterlib's POLL_S).
pub const POLL_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub enum Outcome {
    Fail(String),
    /// The client (or this adapter) cannot express the scenario.
    Skip(String),
}

/// A scenario step: its value, or why the scenario stops.
pub type Step<T> = Result<T, Outcome>;

impl From<runnel_client::Error> for Outcome {
    fn from(error: runnel_client::Error) -> Outcome {
        Outcome::Fail(describe(&error))
    }
}

/// A client error as the card shows it: the variant, then the client's own text (which names
/// the Kafka error code for broker errors).
pub fn describe(error: &runnel_client::Error) -> String {
    use runnel_client::Error;
    let kind = match error {
        Error::Io { .. } => "Io",
        Error::Protocol(_) => "Protocol",
        Error::Kafka { .. } => "Kafka",
        Error::Timeout(_) => "Timeout",
        Error::Config(_) => "Config",
        Error::UnsupportedVersion { .. } => "UnsupportedVersion",
        Error::Closed => "Closed",
        Error::NotFound(_) => "NotFound",
    };
    format!("{kind}: {error}")
}

/// Fails the scenario with the formatted message unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err($crate::outcome::Outcome::Fail(format!($($message)+)));
        }
    };
}

/// Re-evaluates `probe` every [`POLL_EVERY`] until it yields a value; fails with "not within
/// Ns: what" after `timeout`. An error from the probe ends the wait at once.
pub async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> Step<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Step<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        if Instant::now() > deadline {
            return Err(Outcome::Fail(format!("not within {:.0}s: {what}", timeout.as_secs_f64())));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
