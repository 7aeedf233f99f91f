//! `/api/v1/devices/{id}/telemetry`, `/metrics` and `/telemetry/live`: raw and
//! aggregated range queries (JSON or CSV), the metric registry with latest values, a live
//! stream of new samples (server-sent events) (read scope); HTTP ingest with the device's
//! own credentials (Basic auth); telemetry health (read) and maintenance now (admin).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use plantd_contracts::devices::{DeviceAuth, GetDevice};
use plantd_contracts::identity::Scope;
use plantd_contracts::telemetry::{
    Aggregate, FlushTelemetry, GetTelemetryHealth, GetTelemetryStatus, IngestError, IngestPayload,
    IngestSource, ListMetrics, Point, QueryAggregate, QueryRange, Resolution,
    RunTelemetryMaintenance, SamplesSince,
};
use plantd_contracts::time::{format_ms, now_ms, parse_time};
use serde::Deserialize;
use serde_json::json;

use super::device_auth::{authenticate_device, refused};
use super::devices::device_id;
use super::{ApiResult, AppState, Caller, Problem};

/// Bodies larger than this are refused unread (413); the telemetry limit applies below it.
const INGEST_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// How often the live stream looks for new samples, and when it sends a keep-alive.
const LIVE_POLL: Duration = Duration::from_millis(500);
const LIVE_KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often the live stream checks that its caller's token or session still holds; a
/// revoked token or an ended session ends the stream within this time.
const LIVE_RECHECK: Duration = Duration::from_secs(2);

/// Set at shutdown: open live streams end at their next poll, so they do not hold up the
/// server's graceful stop (the browser's EventSource reconnects to the next process).
static LIVE_STOPPING: AtomicBool = AtomicBool::new(false);

pub fn end_live_streams() {
    LIVE_STOPPING.store(true, Ordering::SeqCst);
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices/{id}/telemetry", web::get().to(range))
        .route("/devices/{id}/telemetry", web::post().to(ingest))
        .route("/devices/{id}/telemetry/live", web::get().to(live))
        .route("/devices/{id}/metrics", web::get().to(latest))
        .route("/telemetry/health", web::get().to(health))
        .route("/admin/telemetry/maintenance", web::post().to(maintenance));
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
    /// Raw points at most (1-100000, default 10000), oldest first; without `step` only.
    limit: Option<usize>,
    /// Aggregate per step: `10s`, `1m`, `1h`, `1d`, `500ms` or seconds. From a minute on
    /// minute roll-ups answer, from an hour on hour roll-ups (the step is then rounded down
    /// to whole minutes or hours); below, raw points. Without it: raw points.
    step: Option<String>,
    /// `avg` (default), `min`, `max`, `sum`, `count`, `last`; needs `step`.
    agg: Option<String>,
    /// Force `raw`, `1m` or `1h` instead of choosing from the step.
    resolution: Option<String>,
}

/// A time parameter: RFC 3339 or epoch milliseconds (the other resources use it too).
pub(super) fn time_param(name: &str, value: Option<&str>, default: i64) -> Result<i64, Problem> {
    match value {
        None => Ok(default),
        Some(v) => parse_time(v).ok_or_else(|| {
            Problem::bad_request(
                name,
                format!("'{v}' is neither RFC 3339 nor epoch milliseconds of the years 1 to 9999"),
            )
        }),
    }
}

/// `60s`, `1m`, `1h`, `1d`, `250ms`, or a number of seconds; milliseconds.
fn parse_step(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok()?;
    let scale = match unit {
        "" | "s" => 1000,
        "ms" => 1,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(scale).filter(|ms| *ms > 0)
}

fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"))
}

fn csv_response(points: &[Point], filename: &str) -> ApiResult<HttpResponse> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let fail = |e: &dyn std::fmt::Display| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "CSV failed",
            e.to_string(),
        )
    };
    writer.write_record(["ts", "value"]).map_err(|e| fail(&e))?;
    for p in points {
        writer
            .write_record([format_ms(p.ts.timestamp_millis()), p.value.to_string()])
            .map_err(|e| fail(&e))?;
    }
    let body = writer.into_inner().map_err(|e| fail(&e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}.csv\""),
        ))
        .body(body))
}

/// Points of one metric in a time range: raw, or aggregated per `step` from raw points or
/// roll-ups. `Accept: text/csv` answers `ts,value` rows.
#[utoipa::path(get, path = "/api/v1/devices/{id}/telemetry", tag = "telemetry", params(("id" = String, Path), RangeQuery),
    responses((status = 200, description = "`{device_id, metric, points: [Point]}`; with `step`: also `resolution`, `step_ms`, `agg`, `from`, `to`; or CSV `ts,value`"),
        (status = 400), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn range(
    req: HttpRequest,
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
    let step = q
        .step
        .as_deref()
        .map(|s| {
            parse_step(s).ok_or_else(|| {
                Problem::bad_request(
                    "step",
                    format!("'{s}' is not a step like 60s, 1m, 1h or 1d"),
                )
            })
        })
        .transpose()?;
    let agg = q
        .agg
        .as_deref()
        .map(|a| {
            Aggregate::parse(a).ok_or_else(|| {
                Problem::bad_request(
                    "agg",
                    format!("'{a}' is none of avg, min, max, sum, count, last"),
                )
            })
        })
        .transpose()?;
    let resolution = q
        .resolution
        .as_deref()
        .map(|r| {
            Resolution::parse(r).ok_or_else(|| {
                Problem::bad_request("resolution", format!("'{r}' is none of raw, 1m, 1h"))
            })
        })
        .transpose()?;
    state.devices.send(GetDevice { id: id.clone() }).await??;
    let csv = wants_csv(&req);
    let Some(step) = step else {
        if agg.is_some() || resolution.is_some() {
            return Err(Problem::bad_request(
                "step",
                "agg and resolution need a step",
            ));
        }
        let limit = q.limit.unwrap_or(10_000);
        if !(1..=100_000).contains(&limit) {
            return Err(Problem::bad_request("limit", "limit is 1 to 100000"));
        }
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
        if csv {
            return csv_response(&points, &format!("{id}-{metric}"));
        }
        return Ok(
            HttpResponse::Ok().json(json!({ "device_id": id, "metric": metric, "points": points }))
        );
    };
    let series = state
        .telemetry
        .send(QueryAggregate {
            device_id: id.clone(),
            metric: metric.clone(),
            from,
            to,
            step_ms: step,
            agg: agg.unwrap_or_default(),
            resolution,
        })
        .await??;
    if csv {
        return csv_response(&series.points, &format!("{id}-{metric}"));
    }
    Ok(HttpResponse::Ok().json(json!({
        "device_id": id,
        "metric": metric,
        "resolution": series.resolution,
        "step_ms": series.step_ms,
        "agg": series.agg,
        "from": series.from,
        "to": series.to,
        "points": series.points,
    })))
}

/// Every metric of a device (the registry: unit, first seen) with its latest value, and the
/// device's ingest counters.
#[utoipa::path(get, path = "/api/v1/devices/{id}/metrics", tag = "telemetry", params(("id" = String, Path)),
    responses((status = 200, description = "`{device_id, items: [MetricInfo], ingest: TelemetryStatus}`"), (status = 404)),
    security(("bearer" = [])))]
pub async fn latest(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let id = device_id(&id)?;
    state.devices.send(GetDevice { id: id.clone() }).await??;
    let items = state
        .telemetry
        .send(ListMetrics {
            device_id: id.clone(),
        })
        .await??;
    let status = state
        .telemetry
        .send(GetTelemetryStatus {
            device_id: id.clone(),
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "device_id": id, "items": items, "ingest": status })))
}

/// New samples of a device as server-sent events: `event: samples`, `data:` a JSON array
/// of `{metric, ts, value}`, `id:` a cursor (a reconnect with `Last-Event-ID` resumes from
/// it while the samples are still in memory). A comment line every 15 s keeps it open.
/// The stream ends when the caller's token is revoked or their session ends (checked
/// every 2 s), so it never outlives its credential.
#[utoipa::path(get, path = "/api/v1/devices/{id}/telemetry/live", tag = "telemetry", params(("id" = String, Path)),
    responses((status = 200, description = "text/event-stream of `samples` events"), (status = 404)),
    security(("bearer" = [])))]
pub async fn live(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let id = device_id(&id)?;
    state.devices.send(GetDevice { id: id.clone() }).await??;
    let resume = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let cursor = match resume {
        Some(c) => c,
        None => {
            state
                .telemetry
                .send(SamplesSince {
                    device_id: id.clone(),
                    cursor: None,
                })
                .await?
                .cursor
        }
    };
    tracing::debug!(device = %id, cursor, "live telemetry stream opened");
    let telemetry = state.telemetry.clone();
    let state = state.into_inner();
    let credential = caller.credential;
    let first = web::Bytes::from_static(b"retry: 2000\n: connected\n\n");
    let stream = futures_util::stream::unfold(
        (Some(first), cursor, Instant::now(), Instant::now()),
        move |(first, cursor, mut sent_at, mut checked_at)| {
            let telemetry = telemetry.clone();
            let state = state.clone();
            let credential = credential.clone();
            let id = id.clone();
            async move {
                if let Some(first) = first {
                    return Some((
                        Ok::<_, actix_web::Error>(first),
                        (None, cursor, sent_at, checked_at),
                    ));
                }
                loop {
                    tokio::time::sleep(LIVE_POLL).await;
                    if LIVE_STOPPING.load(Ordering::SeqCst) {
                        return None;
                    }
                    if checked_at.elapsed() >= LIVE_RECHECK {
                        if !credential.still_valid(&state).await {
                            metrics::counter!("plantd_http_live_streams_revoked_total")
                                .increment(1);
                            tracing::info!(device = %id, "live stream ended: its credential no longer holds");
                            return None;
                        }
                        checked_at = Instant::now();
                    }
                    let batch = telemetry
                        .send(SamplesSince {
                            device_id: id.clone(),
                            cursor: Some(cursor),
                        })
                        .await
                        .ok()?;
                    if !batch.samples.is_empty() {
                        let data = serde_json::to_string(&batch.samples).ok()?;
                        let event =
                            format!("id: {}\nevent: samples\ndata: {data}\n\n", batch.cursor);
                        return Some((
                            Ok(web::Bytes::from(event)),
                            (None, batch.cursor, Instant::now(), checked_at),
                        ));
                    }
                    if sent_at.elapsed() >= LIVE_KEEP_ALIVE {
                        sent_at = Instant::now();
                        return Some((
                            Ok(web::Bytes::from_static(b": keep-alive\n\n")),
                            (None, cursor, sent_at, checked_at),
                        ));
                    }
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

/// The telemetry pipeline's health: ingest rate, rejections, backlog, commit delay, head,
/// disk usage.
#[utoipa::path(get, path = "/api/v1/telemetry/health", tag = "telemetry",
    responses((status = 200, body = plantd_contracts::telemetry::TelemetryHealth)),
    security(("bearer" = [])))]
pub async fn health(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    caller.require(Scope::Read)?;
    let health = state.telemetry.send(GetTelemetryHealth).await?;
    Ok(HttpResponse::Ok().json(health))
}

/// Maintenance now: write what is buffered, compact it into chunks and roll-ups, merge
/// chunks and remove everything past retention (normally done in the background).
#[utoipa::path(post, path = "/api/v1/admin/telemetry/maintenance", tag = "telemetry",
    responses((status = 200, body = plantd_contracts::telemetry::MaintenanceReport), (status = 403), (status = 503)),
    security(("bearer" = [])))]
pub async fn maintenance(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    caller.require(Scope::Admin)?;
    state.telemetry.send(FlushTelemetry).await??;
    let report = state.telemetry.send(RunTelemetryMaintenance).await??;
    tracing::info!(?report, "telemetry maintenance run on request");
    Ok(HttpResponse::Ok().json(report))
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
    let device = authenticate_device(&req, &state, "HTTP telemetry", Some(&id)).await?;
    if device != id {
        return Err(refused(
            "HTTP telemetry",
            Some(&id),
            DeviceAuth::Accepted,
            Problem::forbidden("a device may only send its own telemetry"),
        ));
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
            receipt: None,
        })
        .await?;
    match result {
        Ok(ack) => Ok(HttpResponse::Accepted().json(json!({ "accepted": ack.accepted }))),
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
