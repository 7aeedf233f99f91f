//! `/api/v1/reports/maintenance`: the maintenance figures (EN 15341 / SMRP) over a
//! period for an asset's subtree or the whole plant, with a series per day, week or month
//! and the plant's alarm-system figures beside; `Accept: text/csv` (or `format=csv`)
//! answers the series as CSV. Read scope. Composed in `edge/maintenance_report.rs`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use plantd_contracts::identity::Scope;
use plantd_contracts::time::{format_ms, now_ms};
use serde::Deserialize;

use super::rules::nonempty;
use super::telemetry::time_param;
use super::{ApiResult, AppState, Caller, Problem};
use crate::edge::maintenance_report::{self, RUNNING_METRIC};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports/maintenance", web::get().to(maintenance));
}

/// The longest period a report covers.
const MAX_SPAN_MS: i64 = 5 * 366 * 86_400_000;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ReportQuery {
    /// Start (RFC 3339 or epoch ms); default 30 days before `to`.
    from: Option<String>,
    /// End, exclusive; default now.
    to: Option<String>,
    /// An asset, area or site: the figures of it and everything under it.
    asset_id: Option<String>,
    /// `csv` for CSV (as `Accept: text/csv`).
    format: Option<String>,
}

/// Maintenance figures over `[from, to)`.
#[utoipa::path(get, path = "/api/v1/reports/maintenance", tag = "reports", params(ReportQuery),
    responses((status = 200, description = "`{from, to, asset_id, definitions, operating, total, series, alarms}`, or CSV"),
        (status = 400, description = "bad period"), (status = 404, description = "unknown asset")),
    security(("bearer" = [])))]
pub async fn maintenance(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    q: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let to = time_param("to", nonempty(&q.to), now_ms())?;
    let from = time_param("from", nonempty(&q.from), to - 30 * 86_400_000)?;
    if from >= to {
        return Err(Problem::bad_request("from", "from must be before to"));
    }
    if to - from > MAX_SPAN_MS {
        return Err(Problem::bad_request(
            "from",
            "a report covers at most five years",
        ));
    }
    let report = maintenance_report::build(&state, from, to, q.asset_id.clone()).await?;
    let csv = q.format.as_deref() == Some("csv")
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv"));
    if csv {
        let body = maintenance_report::to_csv(&report).map_err(|e| {
            Problem::new(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                "CSV failed",
                e.to_string(),
            )
        })?;
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"maintenance-report.csv\"",
            ))
            .body(body));
    }
    let series: Vec<_> = report
        .labels
        .iter()
        .zip(&report.figures.series)
        .map(|(label, f)| {
            let mut v = serde_json::to_value(f).unwrap_or_default();
            v["period"] = label.clone().into();
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "from": format_ms(report.from),
        "to": format_ms(report.to),
        "asset_id": report.asset_id,
        "assets": report.assets.iter().map(|a| &a.id).collect::<Vec<_>>(),
        "definitions": definitions(),
        "operating": report.operating,
        "total": report.figures.total,
        "series": series,
        "alarms": report.alarms,
    })))
}

/// What each figure means, as the report states it (EN 15341 / SMRP).
pub fn definitions() -> serde_json::Value {
    serde_json::json!({
        "standard": "EN 15341:2019 / SMRP Best Practice Metrics",
        "operating_hours": format!("from the asset's `{RUNNING_METRIC}` metric (hourly mean × 1 h); without it calendar time less downtime (`operating_basis`: calendar)"),
        "failures": "corrective work orders raised in the period (cancelled excluded)",
        "mtbf_hours": "operating time ÷ failures",
        "mttr_hours": "time to restore (recorded downtime, else raised → done) ÷ failures restored in the period",
        "availability": "operating time ÷ (operating time + downtime)",
        "pm_compliance": "preventive orders done within ±10 % of their interval around the due time ÷ preventive orders due",
        "planned_share": "hours of preventive and inspection orders ÷ hours of all orders done",
        "backlog_weeks": "estimated hours of open orders ÷ crew hours per week (setting workorders_crew_hours_per_week)",
        "repeat_failure_rate": "repeat failures (same rule within the repeat window) ÷ failures",
    })
}
