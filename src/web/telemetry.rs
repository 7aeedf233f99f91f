//! The telemetry section of a device's page: one chart per metric (SVG drawn by
//! `chart.rs` from `chart_data.rs`'s buckets, so it reads without JavaScript) with the
//! device's rule limits and alarm episodes, a range picker (`chart_range.rs`: presets,
//! custom, fitted by default), latest values, and the pipeline's health panel.
//! `static/telemetry.js` adds a readout and live samples from the SSE stream. Talks to the
//! telemetry and health modules by messages only.
//!
//! To embed it in another page: build a [`TelemetrySection`] with [`section`], put it in
//! the page's template struct as `telemetry`, and `{% include "partials/telemetry.html" %}`.

use super::local_time::exact_ms as format_ms;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::devices::GetDevice;
use plantd_contracts::telemetry::{
    GetTelemetryHealth, GetTelemetryStatus, ListMetrics, TelemetryHealth,
};
use plantd_contracts::time::{now_ms, Millis};
use plantd_contracts::DeviceId;

use super::chart::{self, ChartInput};
use super::chart_marks::DeviceMarks;
pub use super::chart_range::RangeQuery as RangeParam;
use super::chart_range::{self, ChartRange, PresetLink};
use super::chart_time::{format_time, Precision};
use super::numbers::{format_bytes, format_value};
use super::{chart_data, session};
use crate::edge::render;
use crate::state::AppState;

pub struct Chart {
    pub metric: String,
    pub unit: String,
    pub latest: String,
    pub latest_at: String,
    /// The `<svg>` drawn by `chart.rs` (escaped there).
    pub svg: String,
    /// What one point stands for, e.g. `2 min`.
    pub step: String,
    /// Points drawn, and whether some stand for many samples (a min–max band).
    pub points: usize,
    pub banded: bool,
}

/// Everything the partial `partials/telemetry.html` shows.
pub struct TelemetrySection {
    pub device_id: String,
    pub range: ChartRange,
    pub presets: Vec<PresetLink>,
    pub from_label: String,
    pub to_label: String,
    pub from_input: String,
    pub to_input: String,
    /// What was wrong with a custom range, or empty.
    pub problem: String,
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

/// A step as people say it: `500 ms`, `10 s`, `2 min`, `1 h`.
pub(crate) fn step_label(ms: Millis) -> String {
    match ms {
        ms if ms < 1000 => format!("{ms} ms"),
        ms if ms < 60_000 => format!("{} s", format_value(ms as f64 / 1000.0)),
        ms if ms < 3_600_000 => format!("{} min", format_value(ms as f64 / 60_000.0)),
        ms => format!("{} h", format_value(ms as f64 / 3_600_000.0)),
    }
}

/// Builds the telemetry section of a device for the range the query asks (fitted to the
/// data when it asks none).
pub async fn section(
    state: &AppState,
    device: &DeviceId,
    query: &RangeParam,
) -> Result<TelemetrySection, String> {
    let span = tracing::debug_span!("telemetry_section", device = %device);
    let _guard = span.enter();
    let metrics = state
        .telemetry
        .send(ListMetrics {
            device_id: device.clone(),
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let earliest = metrics
        .iter()
        .map(|m| m.first_seen.timestamp_millis())
        .min();
    let range = chart_range::resolve(query, now_ms(), earliest);
    let marks = DeviceMarks::load(state, device).await;
    // Every metric's buckets asked at once: the reads run side by side.
    let reads = metrics
        .iter()
        .map(|m| chart_data::buckets(state, device, &m.metric, (range.from, range.to)));
    let data = futures_util::future::join_all(reads).await;
    let mut charts = Vec::new();
    for (i, (m, read)) in metrics.into_iter().zip(data).enumerate() {
        let (buckets, step) = read?;
        let unit = m.unit.unwrap_or_default();
        let id = format!("chart-{i}");
        let drawn = chart::draw(&ChartInput {
            id: &id,
            metric: &m.metric,
            unit: &unit,
            from: range.from,
            to: range.to,
            buckets: &buckets,
            limits: &marks.limits(&m.metric),
            episodes: &marks.episodes(&m.metric, (range.from, range.to)),
            marks: &[],
            live: range.live,
        });
        charts.push(Chart {
            metric: m.metric,
            unit,
            latest: format_value(m.value),
            latest_at: format_time(m.ts.timestamp_millis(), Precision::Full),
            svg: drawn.svg,
            step: step_label(step),
            points: buckets.len(),
            banded: drawn.banded,
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
        presets: range.presets(),
        from_label: range.start_label(),
        to_label: range.end_label(),
        from_input: range.start_input(),
        to_input: range.end_input(),
        problem: range.problem.clone().unwrap_or_default(),
        range,
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
    let section = section(&state, &device, &q).await;
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
    fn values_steps_and_sizes_read_well() {
        assert_eq!(format_value(2.50), "2.5");
        assert_eq!(format_value(-0.0001), "0");
        assert_eq!(step_label(120_000), "2 min");
        assert_eq!(step_label(1_500), "1.5 s");
        assert_eq!(format_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
