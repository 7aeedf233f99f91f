//! The REST API under `/api/v1`, its OpenAPI document and the operations endpoints: one
//! file per resource, each with its handlers and a `routes` function that `routes.rs`
//! mounts. Handlers translate HTTP to module messages and back; they hold no domain
//! logic. It may use `state.rs` and `edge/`, never `web/` or `routes.rs`.

pub mod alarms;
pub mod assets;
pub mod assignees;
pub mod auth;
pub mod commands;
mod device_auth;
pub mod devices;
pub mod events;
pub mod failure_codes;
pub mod firmware;
pub mod maintenance;
pub mod openapi;
pub mod ops;
pub mod reports;
pub mod rules;
pub mod shadow;
pub mod telemetry;
pub mod tokens;
pub mod users;
pub mod webhooks;
pub mod work_requests;
pub mod workorders;

pub use crate::edge::{ApiResult, Problem};
pub use crate::state::AppState;
pub use auth::Caller;
pub use telemetry::end_live_streams;

/// `?limit=&cursor=` paging over items sorted by a string key.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Items per page, 1-1000 (default 50).
    pub limit: Option<usize>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl Page {
    /// Items after the cursor, at most `limit` (default 50, at most 1000), and the next cursor.
    pub fn apply<T: serde::Serialize>(
        &self,
        items: Vec<T>,
        key: impl Fn(&T) -> &str,
    ) -> ApiResult<serde_json::Value> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=1000).contains(&limit) {
            return Err(Problem::bad_request("limit", "limit is 1 to 1000"));
        }
        let mut rest: Vec<T> = items
            .into_iter()
            .filter(|item| self.cursor.as_deref().is_none_or(|c| key(item) > c))
            .collect();
        let more = rest.len() > limit;
        rest.truncate(limit);
        let next_cursor = more
            .then(|| rest.last().map(|i| key(i).to_owned()))
            .flatten();
        Ok(serde_json::json!({ "items": rest, "next_cursor": next_cursor }))
    }
}
