//! `/api/v1/events`: the stored domain events (read scope), for an integrator that was
//! away from `plantd/events/#` and wants what it missed.

use actix_web::{web, HttpResponse};
use plantd_contracts::events::ListEvents;
use plantd_contracts::identity::Scope;
use serde::Deserialize;

use super::{ApiResult, AppState, Caller, Problem};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/events", web::get().to(list));
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct EventQuery {
    /// The id of the last event you have; the list starts after it (default: the oldest
    /// kept). Events are kept `events_retention_days`.
    after: Option<String>,
    /// Only events of this type, e.g. `device.connected`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    /// Events per page, 1-1000 (default 50).
    limit: Option<u32>,
}

/// Stored domain events in the order they happened, in their CloudEvents envelope (as on
/// `plantd/events/{type}`); `next_cursor` is the `after` of the next page.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventQuery),
    responses((status = 200, description = "`{items: [{id, type, time, source, data}], next_cursor}`"),
        (status = 400, description = "bad `after` or `limit`"),
        (status = 404, description = "`after` names no stored event (pruned after the retention, or unknown)")),
    security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<EventQuery>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let query = query.into_inner();
    let after = match query.after.as_deref() {
        None | Some("") => None,
        Some(id) => Some(
            id.parse()
                .map_err(|_| Problem::bad_request("after", "after is an event id (a UUID)"))?,
        ),
    };
    let limit = query.limit.unwrap_or(50);
    if !(1..=plantd_events::MAX_PAGE).contains(&limit) {
        return Err(Problem::bad_request("limit", "limit is 1 to 1000"));
    }
    let page = state
        .events
        .send(ListEvents {
            after,
            kind: query.kind.filter(|k| !k.is_empty()),
            limit,
        })
        .await??;
    Ok(HttpResponse::Ok().json(page))
}
