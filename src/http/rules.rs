//! `/api/v1/rules`: alarm rules (read scope lists and reads; write scope creates, changes
//! and deletes), and the backtest `POST /rules/preview`.

use actix_web::{web, HttpResponse};
use plantd_contracts::health::*;
use plantd_contracts::identity::Scope;
use plantd_contracts::time::{now_ms, Millis};
use serde::Deserialize;
use serde_json::Value;

use super::telemetry::time_param;
use super::{ApiResult, AppState, Caller};

const DAY_MS: Millis = 86_400_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/rules", web::post().to(create))
        .route("/rules", web::get().to(list))
        .route("/rules/preview", web::post().to(preview))
        .route("/rules/{id}", web::get().to(get))
        .route("/rules/{id}", web::patch().to(patch))
        .route("/rules/{id}", web::delete().to(delete));
}

/// Create a rule. Minimal bodies: `{"name", "device_id"|"asset_id", "metric", "kind":
/// "threshold", "op": ">", "value": 7.1, "for_s": 0, "severity": "major",
/// "create_work_order": true}`; `{"name", "device_id", "metric", "kind": "anomaly",
/// "severity"}`; `{"name", "asset_id", "metric", "kind": "iso20816"}`. See the README for
/// every kind and field.
#[utoipa::path(post, path = "/api/v1/rules", tag = "rules", request_body = Object,
    responses((status = 201, description = "the rule"), (status = 422, description = "invalid field (named in `errors`)")),
    security(("bearer" = [])))]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let rule = state.health.send(CreateRule(body.into_inner())).await??;
    tracing::info!(by = %caller.principal.name, rule = %rule.id, kind = rule.input.spec.kind(), "rule created");
    Ok(HttpResponse::Created().json(rule))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct RuleFilter {
    asset_id: Option<String>,
    device_id: Option<String>,
}

/// Every rule (filtered by asset or device), with `chattering` set for rules whose alarms
/// chattered in the last day.
#[utoipa::path(get, path = "/api/v1/rules", tag = "rules", params(RuleFilter),
    responses((status = 200, description = "`{items: [Rule]}`")), security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    filter: web::Query<RuleFilter>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let filter = filter.into_inner();
    let rules = state
        .health
        .send(ListRules {
            asset_id: filter.asset_id,
            device_id: filter.device_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": rules, "next_cursor": null })))
}

#[utoipa::path(get, path = "/api/v1/rules/{id}", tag = "rules", params(("id" = String, Path)),
    responses((status = 200, description = "the rule"), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let rule = state.health.send(GetRule(id.into_inner())).await??;
    Ok(HttpResponse::Ok().json(rule))
}

/// Change a rule: an RFC 7396 merge patch, checked whole like a new rule.
#[utoipa::path(patch, path = "/api/v1/rules/{id}", tag = "rules", params(("id" = String, Path)), request_body = Object,
    responses((status = 200, description = "the rule"), (status = 404), (status = 422, description = "invalid field")),
    security(("bearer" = [])))]
pub async fn patch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let rule = state
        .health
        .send(UpdateRule {
            id: id.into_inner(),
            patch: body.into_inner(),
        })
        .await??;
    tracing::info!(by = %caller.principal.name, rule = %rule.id, "rule changed");
    Ok(HttpResponse::Ok().json(rule))
}

/// Delete a rule; its open alarms are cleared (recorded as by you, "rule deleted").
#[utoipa::path(delete, path = "/api/v1/rules/{id}", tag = "rules", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let id = id.into_inner();
    state
        .health
        .send(DeleteRule {
            id: id.clone(),
            by: caller.principal.name.clone(),
        })
        .await??;
    tracing::info!(by = %caller.principal.name, rule = %id, "rule deleted");
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PreviewBody {
    /// A saved rule…
    rule_id: Option<String>,
    /// …or a rule body not saved yet.
    rule: Option<Value>,
    /// RFC 3339 or epoch ms; default 7 days before `to`.
    from: Option<String>,
    /// Default now.
    to: Option<String>,
}

/// Backtest: the alarms a rule (saved or not) would have raised over stored history.
#[utoipa::path(post, path = "/api/v1/rules/preview", tag = "rules", request_body = PreviewBody,
    responses((status = 200, description = "`{from, to, samples, alarms: [{device_id, raised_at, value, severity, peak_severity, returned_at}]}`"),
        (status = 404, description = "no such rule"), (status = 422, description = "invalid rule")),
    security(("bearer" = [])))]
pub async fn preview(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<PreviewBody>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let body = body.into_inner();
    let to = time_param("to", nonempty(&body.to), now_ms())?;
    let from = time_param("from", nonempty(&body.from), to - 7 * DAY_MS)?;
    let preview = state
        .health
        .send(PreviewRule {
            rule_id: body.rule_id,
            rule: body.rule,
            from_ms: from,
            to_ms: to,
        })
        .await??;
    Ok(HttpResponse::Ok().json(preview))
}

/// An absent or empty query value is the default.
pub(super) fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|v| !v.is_empty())
}
