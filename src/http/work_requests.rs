//! `/api/v1/work-requests`: operators (read scope) file requests on an asset; engineers
//! (write scope) approve them into work orders or reject them with a reason.

use actix_web::{web, HttpResponse};
use plantd_contracts::identity::Scope;
use plantd_contracts::workorders::*;
use serde::Deserialize;
use serde_json::Value;

use super::rules::nonempty;
use super::workorders::asset_location;
use super::{ApiResult, AppState, Caller, Page, Problem};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/work-requests", web::post().to(create))
        .route("/work-requests", web::get().to(list))
        .route("/work-requests/{id}/approve", web::post().to(approve))
        .route("/work-requests/{id}/reject", web::post().to(reject));
}

/// File a request: `{"title", "asset_id"?, "description"?}` (read scope suffices).
#[utoipa::path(post, path = "/api/v1/work-requests", tag = "work orders", request_body = Object,
    responses((status = 201, description = "the request"), (status = 422, description = "invalid field (named)")),
    security(("bearer" = [])))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let body = body.into_inner();
    asset_location(&state, body.get("asset_id")).await?;
    let request = state
        .workorders
        .send(CreateWorkRequest {
            body,
            by: caller.principal.name.clone(),
        })
        .await??;
    tracing::info!(by = %caller.principal.name, request = %request.id, "work request filed");
    Ok(HttpResponse::Created().json(request))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct RequestFilter {
    /// `pending`, `approved` or `rejected`.
    status: Option<String>,
}

/// Requests, newest first.
#[utoipa::path(get, path = "/api/v1/work-requests", tag = "work orders", params(RequestFilter, Page),
    responses((status = 200, description = "`{items: [WorkRequest], next_cursor: null}`")), security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    filter: web::Query<RequestFilter>,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let status =
        match nonempty(&filter.status) {
            None => None,
            Some(s) => Some(RequestStatus::parse(s).ok_or_else(|| {
                Problem::bad_request("status", "one of pending, approved, rejected")
            })?),
        };
    let limit = page.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit", "limit is 1 to 1000"));
    }
    let items = state
        .workorders
        .send(ListWorkRequests {
            status,
            limit: limit as u32,
        })
        .await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items, "next_cursor": null })))
}

/// Approve into a work order (kind `request`, `request_id` set); the body may set the
/// order's fields (`priority`, `assignee`, `kind`, `due_at`, …) over the request's.
#[utoipa::path(post, path = "/api/v1/work-requests/{id}/approve", tag = "work orders", params(("id" = String, Path)),
    request_body = Object, responses((status = 201, description = "the work order"), (status = 404), (status = 409, description = "decided already"), (status = 422)),
    security(("bearer" = [])))]
pub async fn approve(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Option<web::Json<Value>>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let order = state
        .workorders
        .send(ApproveWorkRequest {
            id: id.into_inner(),
            body: body.map_or(Value::Null, |b| b.into_inner()),
            by: caller.principal.name.clone(),
        })
        .await??;
    tracing::info!(by = %caller.principal.name, work_order = %order.id, "work request approved");
    Ok(HttpResponse::Created().json(order))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Required: why the request is rejected.
    #[serde(default)]
    reason: String,
}

/// Reject a request with a reason.
#[utoipa::path(post, path = "/api/v1/work-requests/{id}/reject", tag = "work orders", params(("id" = String, Path)),
    request_body = RejectBody, responses((status = 200, description = "the request"), (status = 404), (status = 409), (status = 422, description = "no reason")),
    security(("bearer" = [])))]
pub async fn reject(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<RejectBody>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let request = state
        .workorders
        .send(RejectWorkRequest {
            id: id.into_inner(),
            reason: body.into_inner().reason,
            by: caller.principal.name.clone(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(request))
}
