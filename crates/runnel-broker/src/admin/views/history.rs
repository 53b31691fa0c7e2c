//! `GET /api/groups/{group}/history`: the group's rebalance history as runnel-coordinator's
//! `GroupHistory` (`{generations: [...]}`, oldest first, at most `HISTORY_GENERATIONS_MAX`);
//! 404 when neither the group nor any history of it exists. Owned by the rebalance history
//! work (issue 8); the shape is in /work/notes/admin-api.md.

use crate::admin::reply::{json, not_found, Reply};
use crate::admin::routes::Call;

pub fn get(call: &Call) -> Reply {
    let group = call.param("group");
    match call.ctx.groups.history(group) {
        Some(history) => json(&history),
        None => not_found(format!("group '{group}'")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hyper::StatusCode;

    use super::*;
    use crate::admin::auth::BasicAuth;
    use crate::admin::state::AdminState;

    fn call(dir: &std::path::Path, group: &str) -> Call {
        let state = Arc::new(AdminState::new(BasicAuth::default(), tokio_util::sync::CancellationToken::new()));
        let ctx = Arc::new(crate::context::testing::context(dir));
        Call { state, ctx, params: vec![("group", group.to_string())], query: Vec::new(), body: bytes::Bytes::new() }
    }

    #[test]
    fn an_unknown_group_is_404_with_an_error_body() {
        let dir = tempfile::tempdir().expect("temp dir");
        let reply = get(&call(dir.path(), "nobody"));
        assert_eq!(reply.status(), StatusCode::NOT_FOUND);
    }
}
