//! `/api/v1/alarms`: alarms in their ISA-18.2 states (read scope), the operator's actions
//! — acknowledge, shelve, unshelve, clear, each with a comment — (write scope: engineers
//! and admins), and the alarm-system health figures.

use actix_web::{web, HttpResponse};
use plantd_contracts::health::*;
use plantd_contracts::identity::Scope;
use plantd_contracts::time::{now_ms, parse_time};
use serde::Deserialize;

use super::rules::nonempty;
use super::telemetry::time_param;
use super::{ApiResult, AppState, Caller, Page, Problem};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/alarms", web::get().to(list))
        .route("/alarms/stats", web::get().to(stats))
        .route("/alarms/{id}", web::get().to(get))
        .route("/alarms/{id}/acknowledge", web::post().to(acknowledge))
        .route("/alarms/{id}/shelve", web::post().to(shelve))
        .route("/alarms/{id}/unshelve", web::post().to(unshelve))
        .route("/alarms/{id}/clear", web::post().to(clear));
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AlarmFilter {
    /// `active_unack`, `active_ack`, `rtn_unack`, `cleared`, `shelved`, `suppressed`, `out_of_service`,
    /// or `open` (every state but cleared).
    state: Option<String>,
    /// `critical`, `major`, `minor`, `warning`.
    severity: Option<String>,
    asset_id: Option<String>,
    device_id: Option<String>,
    rule_id: Option<String>,
}

/// Alarms, newest first, filtered; `next_cursor` pages on.
#[utoipa::path(get, path = "/api/v1/alarms", tag = "alarms", params(AlarmFilter, Page),
    responses((status = 200, description = "`{items: [Alarm], next_cursor}`"), (status = 400, description = "bad filter")),
    security(("bearer" = [])))]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    filter: web::Query<AlarmFilter>,
    page: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let f = filter.into_inner();
    let limit = page.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit", "limit is 1 to 1000"));
    }
    let (open, state_filter) = match f.state.as_deref().filter(|s| !s.is_empty()) {
        None => (false, None),
        Some("open") => (true, None),
        Some(s) => (
            false,
            Some(AlarmState::parse(s).ok_or_else(|| {
                Problem::bad_request("state", "one of active_unack, active_ack, rtn_unack, cleared, shelved, suppressed, out_of_service, open")
            })?),
        ),
    };
    let severity = match f.severity.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(Severity::parse(s).ok_or_else(|| {
            Problem::bad_request("severity", "one of critical, major, minor, warning")
        })?),
    };
    let alarms = state
        .health
        .send(ListAlarms {
            state: state_filter,
            open,
            severity,
            asset_id: f.asset_id.filter(|s| !s.is_empty()),
            device_id: f.device_id.filter(|s| !s.is_empty()),
            rule_id: f.rule_id.filter(|s| !s.is_empty()),
            after: page.cursor.clone().filter(|s| !s.is_empty()),
            limit,
        })
        .await??;
    Ok(HttpResponse::Ok().json(alarms))
}

/// One alarm with its whole history (who / when / what / comment).
#[utoipa::path(get, path = "/api/v1/alarms/{id}", tag = "alarms", params(("id" = String, Path)),
    responses((status = 200, description = "the alarm with `history`"), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let alarm = state.health.send(GetAlarm(id.into_inner())).await??;
    Ok(HttpResponse::Ok().json(alarm))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct ActionBody {
    comment: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ShelveBody {
    /// Why (required).
    reason: String,
    /// Until when (RFC 3339); absent: one-shot, until the condition returns to normal.
    /// Either way never longer than `alarm_max_shelve_hours`.
    until: Option<String>,
}

async fn act(
    caller: Caller,
    state: &AppState,
    id: String,
    action: OperatorAction,
    comment: Option<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Write)?;
    let comment = comment.filter(|c| !c.trim().is_empty());
    if comment.as_ref().is_some_and(|c| c.len() > 1000) {
        return Err(Problem::from(plantd_contracts::DomainError::invalid(
            "comment",
            "at most 1000 characters",
        )));
    }
    let alarm = state
        .health
        .send(ActOnAlarm {
            id,
            action,
            by: caller.principal.name.clone(),
            comment,
        })
        .await??;
    tracing::info!(by = %caller.principal.name, alarm = %alarm.id, state = alarm.state.as_str(), "alarm changed by an operator");
    Ok(HttpResponse::Ok().json(alarm))
}

fn body(b: Option<web::Json<ActionBody>>) -> Option<String> {
    b.and_then(|b| b.into_inner().comment)
}

/// Acknowledge: `active_unack` → `active_ack`, `rtn_unack` → `cleared`; otherwise 409.
#[utoipa::path(post, path = "/api/v1/alarms/{id}/acknowledge", tag = "alarms", params(("id" = String, Path)), request_body = ActionBody,
    responses((status = 200, description = "the alarm"), (status = 404), (status = 409, description = "not allowed in its state")), security(("bearer" = [])))]
pub async fn acknowledge(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    b: Option<web::Json<ActionBody>>,
) -> ApiResult<HttpResponse> {
    act(
        caller,
        &state,
        id.into_inner(),
        OperatorAction::Acknowledge,
        body(b),
    )
    .await
}

/// Shelve an alarm (active or returned, not yet cleared) with a reason, until a time or one-shot.
#[utoipa::path(post, path = "/api/v1/alarms/{id}/shelve", tag = "alarms", params(("id" = String, Path)), request_body = ShelveBody,
    responses((status = 200, description = "the alarm"), (status = 404), (status = 409, description = "not allowed in its state"), (status = 422, description = "no reason, or a past time")),
    security(("bearer" = [])))]
pub async fn shelve(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    b: web::Json<ShelveBody>,
) -> ApiResult<HttpResponse> {
    let b = b.into_inner();
    let until = match b.until.as_deref().filter(|u| !u.is_empty()) {
        None => None,
        Some(u) => Some(plantd_contracts::time::to_datetime(
            parse_time(u).ok_or_else(|| {
                Problem::from(plantd_contracts::DomainError::invalid(
                    "until",
                    "an RFC 3339 time",
                ))
            })?,
        )),
    };
    let reason = b.reason.clone();
    act(
        caller,
        &state,
        id.into_inner(),
        OperatorAction::Shelve { until, reason },
        Some(b.reason),
    )
    .await
}

/// Unshelve: back into view (or cleared, when it returned to normal meanwhile).
#[utoipa::path(post, path = "/api/v1/alarms/{id}/unshelve", tag = "alarms", params(("id" = String, Path)), request_body = ActionBody,
    responses((status = 200, description = "the alarm"), (status = 404), (status = 409, description = "not shelved")), security(("bearer" = [])))]
pub async fn unshelve(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    b: Option<web::Json<ActionBody>>,
) -> ApiResult<HttpResponse> {
    act(
        caller,
        &state,
        id.into_inner(),
        OperatorAction::Unshelve,
        body(b),
    )
    .await
}

/// Clear by hand: only once the condition is normal (a latching alarm needs this).
#[utoipa::path(post, path = "/api/v1/alarms/{id}/clear", tag = "alarms", params(("id" = String, Path)), request_body = ActionBody,
    responses((status = 200, description = "the alarm"), (status = 404), (status = 409, description = "condition still active, or already cleared")), security(("bearer" = [])))]
pub async fn clear(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    b: Option<web::Json<ActionBody>>,
) -> ApiResult<HttpResponse> {
    act(
        caller,
        &state,
        id.into_inner(),
        OperatorAction::Clear,
        body(b),
    )
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct StatsWindow {
    /// RFC 3339 or epoch ms; default 24 hours before `to`.
    from: Option<String>,
    /// Default now.
    to: Option<String>,
}

/// Alarm-system health (ISA-18.2): rate per 10 minutes, flood, chattering, stale,
/// shelved / suppressed / out of service now, and the top-10 "bad actor" rules.
#[utoipa::path(get, path = "/api/v1/alarms/stats", tag = "alarms", params(StatsWindow),
    responses((status = 200, description = "the figures")), security(("bearer" = [])))]
pub async fn stats(
    caller: Caller,
    state: web::Data<AppState>,
    w: web::Query<StatsWindow>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let to = time_param("to", nonempty(&w.to), now_ms())?;
    let from = time_param("from", nonempty(&w.from), to - 86_400_000)?;
    if from >= to {
        return Err(Problem::bad_request("from", "from must be before to"));
    }
    let stats = state
        .health
        .send(GetAlarmStats {
            from_ms: from,
            to_ms: to,
        })
        .await??;
    Ok(HttpResponse::Ok().json(stats))
}
