//! `/healthz` (the process answers) and `/readyz` (log recovery is done and the broker
//! serves).

use hyper::StatusCode;

use crate::admin::reply::{text, Reply};
use crate::admin::state::AdminState;

pub fn healthz(_: &AdminState, _: &str) -> Reply {
    text(StatusCode::OK, "ok")
}

pub fn readyz(state: &AdminState, _: &str) -> Reply {
    match state.broker() {
        Some(_) => text(StatusCode::OK, "ready"),
        None => text(StatusCode::SERVICE_UNAVAILABLE, "not ready: log recovery in progress"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::auth::BasicAuth;

    #[test]
    fn readyz_is_503_until_the_broker_attaches() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = AdminState::new(BasicAuth::default(), tokio_util::sync::CancellationToken::new());
        assert_eq!(healthz(&state, "/healthz").status(), StatusCode::OK);
        assert_eq!(readyz(&state, "/readyz").status(), StatusCode::SERVICE_UNAVAILABLE);
        state.set_ready(std::sync::Arc::new(crate::context::testing::context(dir.path())));
        assert_eq!(readyz(&state, "/readyz").status(), StatusCode::OK);
    }
}
