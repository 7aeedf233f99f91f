//! `/api/v1/maintenance-plans`: preventive plans (read scope lists and reads; write scope
//! creates, changes and deletes), and `/api/v1/maintenance/calendar` (due, projected and
//! overdue maintenance in a window). The plan's asset is checked with health and its
//! meter's device with devices before the maintenance module sees the body (422).

use actix_web::{web, HttpResponse};
use plantd_contracts::identity::Scope;
use plantd_contracts::maintenance::*;
use plantd_contracts::time::{now_ms, to_datetime};
use serde::Deserialize;
use serde_json::Value;

use super::telemetry::time_param;
use super::{ApiResult, AppState, Caller};
use crate::edge::device_assets::check_plan_refs as check_refs;

const DAY_MS: i64 = 86_400_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/maintenance-plans", web::post().to(create))
        .route("/maintenance-plans", web::get().to(list))
        .route("/maintenance-plans/{id}", web::get().to(get))
        .route("/maintenance-plans/{id}", web::patch().to(patch))
        .route("/maintenance-plans/{id}", web::delete().to(delete))
        .route("/maintenance/calendar", web::get().to(calendar));
}

/// Create a plan. Minimal body: `{"asset_id", "title", "tasks": ["…"], "calendar"?:
/// {"every": 1, "unit": "days"|"weeks"|"months", "mode": "fixed"|"floating", "start":
/// rfc3339}, "meter"?: {"device_id", "metric", "kind": "run_hours"|"counter", "every":
/// 500}, "lead"?: {"days"?, "meter"?}}` (at least one trigger); also `description`,
/// `estimated_hours`, `skills`, `tools`, `parts`, `stops_asset`, `paused`.
#[utoipa::path(post, path = "/api/v1/maintenance-plans", tag = "maintenance", request_body = Object,
    responses((status = 201, description = "the plan with its status (PlanStatus)"), (status = 422, description = "invalid field (named in `errors`)")),
    security(("bearer" = [])))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let body = body.into_inner();
    check_refs(&state, &body).await?;
    let plan = state
        .maintenance
        .send(CreatePlan {
            body,
            by: caller.principal.name.clone(),
        })
        .await??;
    Ok(HttpResponse::Created().json(plan))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PlanFilter {
    asset_id: Option<String>,
}

/// Every plan (filtered by asset) with its status: meter, next due date, projection.
#[utoipa::path(get, path = "/api/v1/maintenance-plans", tag = "maintenance", params(PlanFilter),
    responses((status = 200, description = "`{items: [PlanStatus]}`")), security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    filter: web::Query<PlanFilter>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let plans = state
        .maintenance
        .send(ListPlans {
            asset_id: filter.into_inner().asset_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": plans, "next_cursor": null })))
}

/// A plan and where it stands: `meter_total`, `meter_since_last` of `meter.every`,
/// `meter_due_at`, `meter_rate_per_day` (last 30 days), `meter_projected_at`,
/// `calendar_due_at`, `next_due_at` and its `next_due_basis`, the open order, `overdue`.
#[utoipa::path(get, path = "/api/v1/maintenance-plans/{id}", tag = "maintenance", params(("id" = String, Path)),
    responses((status = 200, description = "PlanStatus"), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let plan = state.maintenance.send(GetPlan(id.into_inner())).await??;
    Ok(HttpResponse::Ok().json(plan))
}

/// Change a plan: an RFC 7396 merge patch, checked whole (`{"paused": true}` pauses: a
/// paused plan raises nothing, its meter still counts).
#[utoipa::path(patch, path = "/api/v1/maintenance-plans/{id}", tag = "maintenance", params(("id" = String, Path)), request_body = Object,
    responses((status = 200, description = "PlanStatus"), (status = 404), (status = 422, description = "invalid field")),
    security(("bearer" = [])))]
pub async fn patch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let patch = body.into_inner();
    check_refs(&state, &patch).await?;
    let plan = state
        .maintenance
        .send(UpdatePlan {
            id: id.into_inner(),
            patch,
            by: caller.principal.name.clone(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(plan))
}

/// Delete a plan with its meter and occurrences (orders already made stay).
#[utoipa::path(delete, path = "/api/v1/maintenance-plans/{id}", tag = "maintenance", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let id = id.into_inner();
    state.maintenance.send(DeletePlan(id.clone())).await??;
    tracing::info!(by = %caller.principal.name, plan = %id, "maintenance plan deleted");
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct Window {
    /// RFC 3339 or epoch ms; default now.
    from: Option<String>,
    /// Default 31 days after `from`; at most 400 days after it.
    to: Option<String>,
}

/// Maintenance in `[from, to)`: `due` (calendar points, open orders), `projected` (a
/// meter's due point at the last 30 days' rate) and `overdue` entries.
#[utoipa::path(get, path = "/api/v1/maintenance/calendar", tag = "maintenance", params(Window),
    responses((status = 200, description = "`{from, to, items: [CalendarEntry]}`"), (status = 400)), security(("bearer" = [])))]
pub async fn calendar(
    caller: Caller,
    state: web::Data<AppState>,
    window: web::Query<Window>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let from = time_param("from", window.from.as_deref(), now_ms())?;
    let to = time_param("to", window.to.as_deref(), from.saturating_add(31 * DAY_MS))?;
    if to <= from || to - from > 400 * DAY_MS {
        return Err(super::Problem::bad_request(
            "to",
            "after from, at most 400 days after it",
        ));
    }
    let items = state
        .maintenance
        .send(MaintenanceCalendar {
            from: to_datetime(from),
            to: to_datetime(to),
        })
        .await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "from": to_datetime(from), "to": to_datetime(to), "items": items
    })))
}
