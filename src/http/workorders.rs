//! `/api/v1/work-orders`: work orders (read scope lists and reads; write scope creates,
//! patches, moves, comments and ticks checklist items; `by` is the caller's name). A new
//! order's asset must exist: its location is looked up in health and copied onto it.

use actix_web::{web, HttpResponse};
use plantd_contracts::health::GetAsset;
use plantd_contracts::identity::Scope;
use plantd_contracts::workorders::*;
use plantd_contracts::DomainError;
use serde::Deserialize;
use serde_json::Value;

use super::rules::nonempty;
use super::{ApiResult, AppState, Caller, Page, Problem};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/work-orders", web::post().to(create))
        .route("/work-orders", web::get().to(list))
        .route("/work-orders/{id}", web::get().to(get))
        .route("/work-orders/{id}", web::patch().to(patch))
        .route("/work-orders/{id}/transitions", web::post().to(transition))
        .route("/work-orders/{id}/comments", web::post().to(comment))
        .route("/work-orders/{id}/checklist/{n}", web::post().to(tick));
}

/// The location of the asset an order is for: unknown asset → 422 `asset_id`.
pub(super) async fn asset_location(
    state: &AppState,
    asset_id: Option<&Value>,
) -> ApiResult<Option<String>> {
    let Some(Value::String(id)) = asset_id else {
        return Ok(None);
    };
    match state.health.send(GetAsset(id.clone())).await? {
        Ok(detail) => Ok(detail.asset.location),
        Err(DomainError::NotFound(_)) => {
            Err(DomainError::invalid("asset_id", "no such asset").into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Create an order: `{"title", "description"?, "kind"?: "corrective"|"preventive"|
/// "inspection"|"request", "priority"?: "low"|"medium"|"high"|"urgent", "asset_id"?,
/// "device_id"?, "assignee"?, "due_at"?, "estimated_hours"?, "stops_asset"?,
/// "checklist"?: ["…"], "skills"?, "tools"?, "parts"?}`.
#[utoipa::path(post, path = "/api/v1/work-orders", tag = "work orders", request_body = Object,
    responses((status = 201, description = "the order"), (status = 422, description = "invalid field (named in `errors`)")),
    security(("bearer" = [])))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let body = body.into_inner();
    let location = asset_location(&state, body.get("asset_id")).await?;
    let order = state
        .workorders
        .send(CreateWorkOrder {
            body,
            by: caller.principal.name.clone(),
            location,
        })
        .await??;
    tracing::info!(by = %caller.principal.name, work_order = %order.id, number = order.number, "work order created");
    Ok(HttpResponse::Created().json(order))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct OrderFilter {
    /// One status or a comma list: `open,in_progress,on_hold,done,cancelled`.
    status: Option<String>,
    asset_id: Option<String>,
    assignee: Option<String>,
    /// `corrective`, `preventive`, `inspection`, `request`.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// `true`: open and past due; `false`: the others.
    overdue: Option<String>,
    plan_id: Option<String>,
    alarm_id: Option<String>,
}

fn filter_of(f: OrderFilter) -> ApiResult<WorkOrderFilter> {
    let status = match nonempty(&f.status) {
        None => None,
        Some(list) => Some(
            list.split(',')
                .map(|s| {
                    WorkOrderStatus::parse(s.trim()).ok_or_else(|| {
                        Problem::bad_request(
                            "status",
                            "a comma list of open, in_progress, on_hold, done, cancelled",
                        )
                    })
                })
                .collect::<ApiResult<Vec<_>>>()?,
        ),
    };
    let kind = match nonempty(&f.kind) {
        None => None,
        Some(k) => Some(WorkOrderType::parse(k).ok_or_else(|| {
            Problem::bad_request("type", "one of corrective, preventive, inspection, request")
        })?),
    };
    let overdue = match nonempty(&f.overdue) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(Problem::bad_request("overdue", "true or false")),
    };
    let text = |v: Option<String>| v.filter(|s| !s.is_empty());
    Ok(WorkOrderFilter {
        status,
        asset_id: text(f.asset_id),
        assignee: text(f.assignee),
        kind,
        overdue,
        plan_id: text(f.plan_id),
        alarm_id: text(f.alarm_id),
    })
}

/// Orders, newest first, filtered; `overdue` is computed now. `next_cursor` pages on.
#[utoipa::path(get, path = "/api/v1/work-orders", tag = "work orders", params(OrderFilter, Page),
    responses((status = 200, description = "`{items: [WorkOrder], next_cursor}`"), (status = 400, description = "bad filter")),
    security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    filter: web::Query<OrderFilter>,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let limit = page.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit", "limit is 1 to 1000"));
    }
    let page_out = state
        .workorders
        .send(ListWorkOrders {
            filter: filter_of(filter.into_inner())?,
            after: page.cursor.clone().filter(|c| !c.is_empty()),
            limit: limit as u32,
        })
        .await??;
    Ok(HttpResponse::Ok().json(page_out))
}

/// One order with its comments, checklist and full history.
#[utoipa::path(get, path = "/api/v1/work-orders/{id}", tag = "work orders", params(("id" = String, Path)),
    responses((status = 200, description = "the order with `history`"), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let order = state
        .workorders
        .send(GetWorkOrder(id.into_inner()))
        .await??;
    Ok(HttpResponse::Ok().json(order))
}

/// Change an order: an RFC 7396 merge patch over `title`, `description`, `kind`,
/// `priority`, `assignee`, `due_at`, `estimated_hours`, `actual_hours`, `stops_asset`
/// (while open), `skills`, `tools`, `parts`, `downtime_start`, `downtime_end`. The status
/// moves by transitions.
#[utoipa::path(patch, path = "/api/v1/work-orders/{id}", tag = "work orders", params(("id" = String, Path)), request_body = Object,
    responses((status = 200, description = "the order"), (status = 404), (status = 422, description = "invalid field (named)")),
    security(("bearer" = [])))]
pub async fn patch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let order = state
        .workorders
        .send(UpdateWorkOrder {
            id: id.into_inner(),
            patch: body.into_inner(),
            by: caller.principal.name.clone(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(order))
}

/// Move an order: `{"to": "in_progress"|"on_hold"|"done"|"cancelled", "comment"?,
/// "closing"?: {"failure_mode", "cause", "action", "detection"}, "actual_hours"?,
/// "downtime_start"?, "downtime_end"?}`. `open → in_progress ⇄ on_hold → done`, or
/// `cancelled` from any open state; a corrective order is done only with closing codes
/// from `GET /failure-codes`.
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/transitions", tag = "work orders", params(("id" = String, Path)), request_body = Object,
    responses((status = 200, description = "the order"), (status = 404), (status = 409, description = "illegal transition"),
        (status = 422, description = "invalid field, e.g. `closing.failure_mode`")),
    security(("bearer" = [])))]
pub async fn transition(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let order = state
        .workorders
        .send(TransitionWorkOrder {
            id: id.into_inner(),
            body: body.into_inner(),
            by: caller.principal.name.clone(),
        })
        .await??;
    tracing::info!(by = %caller.principal.name, work_order = %order.id, status = order.status.as_str(), "work order moved");
    Ok(HttpResponse::Ok().json(order))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    text: String,
}

/// Comment on an order.
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/comments", tag = "work orders", params(("id" = String, Path)),
    request_body = CommentBody, responses((status = 200, description = "the order"), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn comment(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<CommentBody>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let order = state
        .workorders
        .send(CommentWorkOrder {
            id: id.into_inner(),
            text: body.into_inner().text,
            by: caller.principal.name.clone(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(order))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TickBody {
    /// `ok`, `failed` or `not_applicable`.
    #[schema(value_type = String)]
    result: ItemResult,
    note: Option<String>,
    /// A failed item opens a corrective follow-up order linked to this one.
    #[serde(default)]
    follow_up: bool,
}

/// Tick checklist item `n` (0-based).
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/checklist/{n}", tag = "work orders",
    params(("id" = String, Path), ("n" = usize, Path)), request_body = TickBody,
    responses((status = 200, description = "the order"), (status = 404), (status = 409, description = "the order is closed"), (status = 422)),
    security(("bearer" = [])))]
pub async fn tick(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, usize)>,
    body: web::Json<TickBody>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let (id, item) = path.into_inner();
    let body = body.into_inner();
    let order = state
        .workorders
        .send(TickChecklistItem {
            id,
            item,
            result: body.result,
            note: body.note,
            follow_up: body.follow_up,
            by: caller.principal.name.clone(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(order))
}
