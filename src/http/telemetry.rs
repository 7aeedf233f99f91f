//! `/api/v1/devices/{id}/telemetry` and `/metrics`: range queries and latest values (read
//! scope), and HTTP ingest with the device's own credentials (Basic auth).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use plantd_contracts::devices::{AuthenticateDevice, DeviceAuth, GetDevice};
use plantd_contracts::identity::Scope;
use plantd_contracts::telemetry::{
    GetTelemetryStatus, IngestError, IngestPayload, IngestSource, LatestValues, QueryRange,
};
use plantd_contracts::time::{now_ms, parse_time};
use serde::Deserialize;
use serde_json::json;

use super::devices::device_id;
use super::{ApiResult, AppState, Caller, Problem};

/// Bodies larger than this are refused unread (413); the telemetry limit applies below it.
const INGEST_BODY_LIMIT: usize = 4 * 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices/{id}/telemetry", web::get().to(range))
        .route("/devices/{id}/telemetry", web::post().to(ingest))
        .route("/devices/{id}/metrics", web::get().to(latest));
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// The metric's name.
    metric: Option<String>,
    /// RFC 3339 or epoch milliseconds; default: an hour before `to`.
    from: Option<String>,
    /// RFC 3339 or epoch milliseconds; default: now.
    to: Option<String>,
    /// Points at most (1-100000, default 10000), oldest first.
    limit: Option<usize>,
}

fn time_param(name: &str, value: Option<&str>, default: i64) -> Result<i64, Problem> {
    match value {
        None => Ok(default),
        Some(v) => parse_time(v).ok_or_else(|| {
            Problem::bad_request(
                name,
                format!("'{v}' is neither RFC 3339 nor epoch milliseconds"),
            )
        }),
    }
}

/// Raw points of one metric in a time range.
#[utoipa::path(get, path = "/api/v1/devices/{id}/telemetry", tag = "telemetry", params(("id" = String, Path), RangeQuery),
    responses((status = 200, description = "`{device_id, metric, points: [Point]}`"), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn range(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<RangeQuery>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let id = device_id(&id)?;
    let metric = q
        .metric
        .clone()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Problem::bad_request("metric", "name the metric: ?metric=…"))?;
    let to = time_param("to", q.to.as_deref(), now_ms())?;
    let from = time_param("from", q.from.as_deref(), to.saturating_sub(3_600_000))?;
    let limit = q.limit.unwrap_or(10_000);
    if !(1..=100_000).contains(&limit) {
        return Err(Problem::bad_request("limit", "limit is 1 to 100000"));
    }
    state.devices.send(GetDevice { id: id.clone() }).await??;
    let points = state
        .telemetry
        .send(QueryRange {
            device_id: id.clone(),
            metric: metric.clone(),
            from,
            to,
            limit,
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({ "device_id": id, "metric": metric, "points": points })))
}

/// The latest value of every metric of a device, and its ingest counters.
#[utoipa::path(get, path = "/api/v1/devices/{id}/metrics", tag = "telemetry", params(("id" = String, Path)),
    responses((status = 200, description = "`{device_id, items: [LatestValue], ingest: TelemetryStatus}`"), (status = 404)),
    security(("bearer" = [])))]
pub async fn latest(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let id = device_id(&id)?;
    state.devices.send(GetDevice { id: id.clone() }).await??;
    let mut latest = state
        .telemetry
        .send(LatestValues {
            devices: Some(vec![id.clone()]),
        })
        .await??;
    let status = state
        .telemetry
        .send(GetTelemetryStatus {
            device_id: id.clone(),
        })
        .await?;
    let items = latest.remove(&id).unwrap_or_default();
    Ok(HttpResponse::Ok().json(json!({ "device_id": id, "items": items, "ingest": status })))
}

/// `Authorization: Basic base64(device-id:secret)`.
pub(super) fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// HTTP ingest: the MQTT telemetry payload, with the device's own credentials.
#[utoipa::path(post, path = "/api/v1/devices/{id}/telemetry", tag = "telemetry", params(("id" = String, Path)),
    request_body(content = String, content_type = "application/json", description = "one sample or an array of samples"),
    responses((status = 202, description = "`{accepted: n}`"), (status = 400), (status = 401), (status = 413), (status = 422), (status = 503)),
    security(("device" = [])))]
pub async fn ingest(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    let id = device_id(&id)?;
    // Credentials first: the body is read only for a device that proved who it is.
    let Some((username, secret)) = basic_credentials(&req) else {
        return Err(Problem::unauthorized());
    };
    let verdict = state
        .devices
        .send(AuthenticateDevice {
            device_id: username.clone(),
            secret,
        })
        .await?;
    if verdict != DeviceAuth::Accepted || username != id.as_str() {
        metrics::counter!("plantd_http_auth_failures_total").increment(1);
        tracing::warn!(device = %id, ?verdict, "HTTP telemetry with bad device credentials");
        return Err(if verdict == DeviceAuth::Accepted {
            Problem::forbidden("a device may only send its own telemetry")
        } else {
            Problem::unauthorized()
        });
    }
    let body = body
        .to_bytes_limited(INGEST_BODY_LIMIT)
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Payload too large",
                format!("request bodies are limited to {INGEST_BODY_LIMIT} bytes"),
            )
        })?
        .map_err(|e| Problem::bad_request("body", e.to_string()))?;
    let result = state
        .telemetry
        .send(IngestPayload {
            device_id: id,
            payload: body.to_vec(),
            received_at: now_ms(),
            source: IngestSource::Http,
        })
        .await?;
    match result {
        Ok(accepted) => Ok(HttpResponse::Accepted().json(json!({ "accepted": accepted }))),
        Err(IngestError::Rejected { code, reason }) => {
            let (status, title) = match code.as_str() {
                "too_large" => (StatusCode::PAYLOAD_TOO_LARGE, "Payload too large"),
                "malformed" => (StatusCode::BAD_REQUEST, "Bad request"),
                _ => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid payload"),
            };
            Err(Problem {
                errors: vec![("payload".to_owned(), reason.clone())],
                ..Problem::new(status, title, reason)
            })
        }
        Err(IngestError::Unavailable(reason)) => Err(Problem::unavailable(reason)),
    }
}
