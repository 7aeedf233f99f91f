//! The telemetry section of a device's page: one chart per metric (inline SVG drawn here,
//! so it reads without JavaScript), a range picker (1 h, 24 h, 7 d, 30 d), latest values,
//! and the pipeline's health panel. `static/telemetry.js` adds live updates from the SSE
//! stream. Talks to the telemetry module by messages only.
//!
//! To embed it in another page: build a [`TelemetrySection`] with [`section`], put it in
//! the page's template struct as `telemetry`, and `{% include "partials/telemetry.html" %}`.

use super::local_time::exact_ms as format_ms;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::devices::GetDevice;
use plantd_contracts::telemetry::{
    Aggregate, GetTelemetryHealth, GetTelemetryStatus, ListMetrics, QueryAggregate, TelemetryHealth,
};
use plantd_contracts::time::{now_ms, Millis};
use plantd_contracts::DeviceId;
use serde::Deserialize;

use super::session;
use crate::edge::render;
use crate::state::AppState;

/// Chart size in SVG user units, and points drawn per chart at most.
pub(crate) const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;
const POINTS: i64 = 300;

/// The ranges the picker offers: (query value, label, milliseconds).
pub const RANGES: [(&str, &str, Millis); 4] = [
    ("1h", "1 h", 3_600_000),
    ("24h", "24 h", 86_400_000),
    ("7d", "7 d", 7 * 86_400_000),
    ("30d", "30 d", 30 * 86_400_000),
];

pub struct RangeLink {
    pub key: &'static str,
    pub label: &'static str,
    pub current: bool,
}

pub struct Chart {
    pub metric: String,
    pub unit: String,
    pub latest: String,
    pub latest_at: String,
    /// The SVG polyline's `points`.
    pub polyline: String,
    pub y_min: String,
    pub y_max: String,
    /// `[[ts, value], …]` for the live script to redraw with.
    pub data_json: String,
    pub resolution: String,
}

/// Everything the partial `partials/telemetry.html` shows.
pub struct TelemetrySection {
    pub device_id: String,
    pub range: &'static str,
    pub range_ms: Millis,
    pub from_label: String,
    pub to_label: String,
    pub ranges: Vec<RangeLink>,
    pub charts: Vec<Chart>,
    pub payloads_accepted: u64,
    pub payloads_rejected: u64,
    pub last_rejection: String,
}

/// The pipeline's health, formatted for the panel.
pub struct HealthPanel {
    pub ingest_rate: String,
    pub stored_total: u64,
    pub rejected_total: u64,
    pub backlog: u64,
    pub commit_delay: String,
    pub head: u64,
    pub disk: String,
    pub layout: String,
    pub last_compaction: String,
}

/// A reading as pages show it: integers without decimals, others to at most three.
pub(crate) fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn format_bytes(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", units[unit])
}

/// The SVG polyline of points in `[from, to]`, scaled to the chart.
pub(crate) fn polyline(points: &[(Millis, f64)], from: Millis, to: Millis) -> (String, f64, f64) {
    let min = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let max = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let span = (to - from).max(1) as f64;
    let line = points
        .iter()
        .map(|(ts, v)| {
            let x = (ts - from) as f64 / span * WIDTH;
            let y = if max > min {
                HEIGHT - (v - min) / (max - min) * HEIGHT
            } else {
                HEIGHT / 2.0
            };
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ");
    (line, min, max)
}

/// Builds the telemetry section of a device for a range key (`1h`, `24h`, `7d`, `30d`;
/// anything else is 24 h).
pub async fn section(
    state: &AppState,
    device: &DeviceId,
    range: &str,
) -> Result<TelemetrySection, String> {
    let (key, _, range_ms) = RANGES
        .iter()
        .find(|(k, _, _)| *k == range)
        .copied()
        .unwrap_or(RANGES[1]);
    let to = now_ms();
    let from = to - range_ms;
    let metrics = state
        .telemetry
        .send(ListMetrics {
            device_id: device.clone(),
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let mut charts = Vec::new();
    for m in metrics {
        let series = state
            .telemetry
            .send(QueryAggregate {
                device_id: device.clone(),
                metric: m.metric.clone(),
                from,
                to,
                step_ms: (range_ms / POINTS).max(1000),
                agg: Aggregate::Avg,
                resolution: None,
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let points: Vec<(Millis, f64)> = series
            .points
            .iter()
            .map(|p| (p.ts.timestamp_millis(), p.value))
            .collect();
        let (line, min, max) = polyline(&points, from, to);
        charts.push(Chart {
            metric: m.metric,
            unit: m.unit.unwrap_or_default(),
            latest: format_value(m.value),
            latest_at: format_ms(m.ts.timestamp_millis()),
            polyline: line,
            y_min: if points.is_empty() {
                String::new()
            } else {
                format_value(min)
            },
            y_max: if points.is_empty() {
                String::new()
            } else {
                format_value(max)
            },
            data_json: serde_json::to_string(&points).unwrap_or_else(|_| "[]".to_owned()),
            resolution: serde_json::to_value(series.resolution)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        });
    }
    let status = state
        .telemetry
        .send(GetTelemetryStatus {
            device_id: device.clone(),
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(TelemetrySection {
        device_id: device.to_string(),
        range: key,
        range_ms,
        from_label: format_ms(from),
        to_label: format_ms(to),
        ranges: RANGES
            .iter()
            .map(|(k, label, _)| RangeLink {
                key: k,
                label,
                current: *k == key,
            })
            .collect(),
        charts,
        payloads_accepted: status.payloads_accepted,
        payloads_rejected: status.payloads_rejected,
        last_rejection: status.last_rejection.unwrap_or_default(),
    })
}

pub fn health_panel(h: TelemetryHealth) -> HealthPanel {
    HealthPanel {
        ingest_rate: format!("{:.1}", h.samples_per_second),
        stored_total: h.samples_stored_total,
        rejected_total: h.payloads_rejected_total,
        backlog: h.backlog_samples,
        commit_delay: h
            .commit_delay_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_else(|| "–".to_owned()),
        head: h.head_samples,
        disk: h
            .disk_bytes
            .map(format_bytes)
            .unwrap_or_else(|| "–".to_owned()),
        layout: h.layout,
        last_compaction: h
            .last_compaction
            .map(|t| format_ms(t.timestamp_millis()))
            .unwrap_or_else(|| "not since start".to_owned()),
    }
}

#[derive(Template)]
#[template(path = "device_telemetry.html")]
struct TelemetryPage {
    username: String,
    role: String,
    csrf_token: String,
    telemetry: TelemetrySection,
    health: HealthPanel,
}

#[derive(Deserialize)]
pub struct RangeParam {
    pub range: Option<String>,
}

/// `GET /devices/{id}/telemetry?range=`: the section and the health panel on a page.
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<RangeParam>,
) -> HttpResponse {
    let Some((_, current)) = session::current(&req, &state).await else {
        return HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, "/login"))
            .finish();
    };
    let Ok(device) = DeviceId::parse(&id) else {
        return HttpResponse::NotFound().body("no such device");
    };
    match state.devices.send(GetDevice { id: device.clone() }).await {
        Ok(Ok(_)) => {}
        Ok(Err(plantd_contracts::DomainError::NotFound(_))) => {
            return HttpResponse::NotFound().body("no such device")
        }
        _ => return HttpResponse::ServiceUnavailable().body("plantd is not ready; try again"),
    }
    let section = section(&state, &device, q.range.as_deref().unwrap_or("24h")).await;
    let health = state.telemetry.send(GetTelemetryHealth).await;
    match (section, health) {
        (Ok(telemetry), Ok(health)) => render(&TelemetryPage {
            username: current.username,
            role: current.role.as_str().to_owned(),
            csrf_token: current.csrf_token,
            telemetry,
            health: health_panel(health),
        }),
        (Err(e), _) => {
            tracing::warn!(error = %e, "telemetry page not available");
            HttpResponse::ServiceUnavailable().body("telemetry is not available right now")
        }
        (_, Err(e)) => {
            tracing::warn!(error = %e, "telemetry health not available");
            HttpResponse::ServiceUnavailable().body("telemetry is not available right now")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_scale_into_the_box() {
        let (line, min, max) = polyline(&[(0, 1.0), (50, 3.0), (100, 2.0)], 0, 100);
        assert_eq!(line, "0.0,120.0 300.0,0.0 600.0,60.0");
        assert_eq!((min, max), (1.0, 3.0));
        assert_eq!(polyline(&[(5, 7.0)], 0, 10).0, "300.0,60.0");
        assert_eq!(format_value(2.50), "2.5");
        assert_eq!(format_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
