//! The reports page: the maintenance figures (EN 15341 / SMRP, definitions stated on the
//! page) over a chosen period for the plant or one asset's subtree, a small bar chart per
//! figure over the period's days, weeks or months (inline SVG with a readout per bar, and
//! the same numbers as a table), the top failure modes, the plant's alarm-system figures
//! beside, and a CSV link. Any signed-in role reads it. Composition: `edge/maintenance_report.rs`.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use plantd_contracts::health::{AlarmStats, AssetKind};
use plantd_contracts::time::now_ms;
use plantd_contracts::workorders::MaintenanceFigures;
use serde::Deserialize;

use super::health_common::{plain, reader, Head};
use crate::edge::maintenance_report::{self, Report};
use crate::edge::render;
use crate::state::AppState;

const DAY_MS: i64 = 86_400_000;
/// The presets: (query value, label, days).
const PRESETS: [(&str, &str, i64); 4] = [
    ("30d", "last 30 days", 30),
    ("90d", "last 90 days", 90),
    ("12m", "last 12 months", 365),
    ("custom", "custom", 0),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports", web::get().to(page));
}

#[derive(Deserialize)]
pub struct ReportParams {
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
    asset_id: Option<String>,
}

/// One figure: its name, the period's value, what it means and its chart.
pub struct FigureRow {
    pub key: &'static str,
    pub name: &'static str,
    pub value: String,
    pub meaning: &'static str,
    pub chart: BarChart,
}

/// Bars of one figure over the series, scaled to the largest.
pub struct BarChart {
    /// (x, y, height, readout) per bar.
    pub bars: Vec<(f64, f64, f64, String)>,
    pub bar_width: f64,
    pub max_label: String,
    pub first_label: String,
    pub last_label: String,
}

pub const CHART_W: f64 = 300.0;
pub const CHART_H: f64 = 60.0;

fn chart(labels: &[String], values: &[Option<f64>], fmt: fn(f64) -> String) -> BarChart {
    let max = values.iter().flatten().fold(0.0f64, |m, v| m.max(*v));
    let n = values.len().max(1) as f64;
    let slot = CHART_W / n;
    let bars = values
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(i, (v, label))| {
            let h = match v {
                Some(v) if max > 0.0 => (v / max) * CHART_H,
                _ => 0.0,
            };
            let readout = format!("{label}: {}", v.map(fmt).unwrap_or_else(|| "–".into()));
            (i as f64 * slot + slot * 0.1, CHART_H - h, h, readout)
        })
        .collect();
    BarChart {
        bars,
        bar_width: (slot * 0.8).max(0.5),
        max_label: fmt(max),
        first_label: labels.first().cloned().unwrap_or_default(),
        last_label: labels.last().cloned().unwrap_or_default(),
    }
}

fn hours(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} h")
    } else {
        format!("{v:.1} h")
    }
}

fn percent(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

fn count(v: f64) -> String {
    format!("{v:.0}")
}

fn weeks(v: f64) -> String {
    format!("{v:.1} wk")
}

type Pick = fn(&MaintenanceFigures) -> Option<f64>;
type Format = fn(f64) -> String;
/// (key, name, definition, value, format).
type Figure = (&'static str, &'static str, &'static str, Pick, Format);

/// The figures the page shows, in order.
const FIGURES: [Figure; 9] = [
    (
        "mtbf",
        "MTBF",
        "operating time ÷ failures",
        |f| f.mtbf_hours,
        hours,
    ),
    (
        "mttr",
        "MTTR",
        "time to restore ÷ failures restored",
        |f| f.mttr_hours,
        hours,
    ),
    (
        "availability",
        "Availability",
        "operating ÷ (operating + downtime)",
        |f| f.availability,
        percent,
    ),
    (
        "failures",
        "Failures",
        "corrective orders raised",
        |f| Some(f.failures as f64),
        count,
    ),
    (
        "downtime",
        "Downtime",
        "recorded downtime of the orders",
        |f| Some(f.downtime_hours),
        hours,
    ),
    (
        "pm_compliance",
        "PM compliance",
        "preventive orders done within ±10 % of their interval ÷ due",
        |f| f.pm_compliance,
        percent,
    ),
    (
        "planned_share",
        "Planned work",
        "preventive + inspection hours ÷ all hours",
        |f| f.planned_share,
        percent,
    ),
    (
        "backlog",
        "Backlog",
        "open orders' estimated hours ÷ crew hours per week",
        |f| Some(f.backlog_weeks),
        weeks,
    ),
    (
        "repeat_failures",
        "Repeat failures",
        "repeat failures ÷ failures",
        |f| f.repeat_failure_rate,
        percent,
    ),
];

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    head: Head,
    range: String,
    presets: [(&'static str, &'static str, i64); 4],
    from: String,
    to: String,
    asset_id: String,
    /// (id, indented name) of every asset, for the select.
    assets: Vec<(String, String)>,
    /// What the report gave (empty without one).
    parts: Parts,
    csv_href: String,
    error: Option<String>,
}

fn date_ms(text: Option<&str>) -> Option<i64> {
    let d = NaiveDate::parse_from_str(text?.trim(), "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

fn day(ms: i64) -> String {
    plantd_contracts::time::to_datetime(ms)
        .format("%Y-%m-%d")
        .to_string()
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReportParams>,
) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    // Whole UTC days: `to` is the end of today unless given.
    let today_end = (now_ms() / DAY_MS + 1) * DAY_MS;
    let range = q.range.clone().unwrap_or_else(|| "30d".into());
    let (from, to) = match PRESETS.iter().find(|p| p.0 == range && p.2 > 0) {
        Some(p) => (today_end - p.2 * DAY_MS, today_end),
        None => {
            let to = date_ms(q.to.as_deref()).map_or(today_end, |t| t + DAY_MS);
            (date_ms(q.from.as_deref()).unwrap_or(to - 30 * DAY_MS), to)
        }
    };
    let asset_id = q.asset_id.clone().filter(|a| !a.is_empty());
    let mut error = None;
    let report = if from >= to {
        error = Some("The start must be before the end.".to_owned());
        None
    } else {
        match maintenance_report::build(&state, from, to, asset_id.clone()).await {
            Ok(r) => Some(r),
            Err(p) if p.status.is_server_error() => return plain(p),
            Err(p) => {
                error = Some(p.detail);
                None
            }
        }
    };
    let all = match state
        .health
        .send(plantd_contracts::health::ListAssets)
        .await
    {
        Ok(Ok(all)) => all,
        _ => Vec::new(),
    };
    let assets = all
        .iter()
        .map(|a| {
            let indent = match a.kind {
                AssetKind::Site => "",
                AssetKind::Area => "\u{a0}\u{a0}",
                AssetKind::Asset => "\u{a0}\u{a0}\u{a0}\u{a0}",
            };
            (a.id.clone(), format!("{indent}{}", a.name))
        })
        .collect();
    let mut csv_href = format!(
        "/api/v1/reports/maintenance?format=csv&from={}&to={}",
        plantd_contracts::time::format_ms(from),
        plantd_contracts::time::format_ms(to)
    );
    if let Some(a) = &asset_id {
        csv_href.push_str("&asset_id=");
        csv_href.extend(url::form_urlencoded::byte_serialize(a.as_bytes()));
    }
    let page = match report {
        Some(r) => with_report(r),
        None => Parts::default(),
    };
    render(&ReportsPage {
        head: Head::of(&current),
        range,
        presets: PRESETS,
        from: day(from),
        to: day(to - DAY_MS),
        asset_id: asset_id.unwrap_or_default(),
        assets,
        parts: page,
        csv_href,
        error,
    })
}

/// The report as the page shows it.
#[derive(Default)]
struct Parts {
    basis: String,
    operating: String,
    figures: Vec<FigureRow>,
    labels: Vec<String>,
    table: Vec<Vec<String>>,
    modes: Vec<(String, u64)>,
    alarms: Option<AlarmStats>,
}

fn with_report(r: Report) -> Parts {
    let total = &r.figures.total;
    let figures = FIGURES
        .iter()
        .map(|(key, name, meaning, pick, fmt)| {
            let values: Vec<Option<f64>> = r.figures.series.iter().map(pick).collect();
            FigureRow {
                key,
                name,
                value: pick(total).map(fmt).unwrap_or_else(|| "–".into()),
                meaning,
                chart: chart(&r.labels, &values, *fmt),
            }
        })
        .collect();
    let table = r
        .figures
        .series
        .iter()
        .map(|f| {
            FIGURES
                .iter()
                .map(|(_, _, _, pick, fmt)| pick(f).map(fmt).unwrap_or_else(|| "–".into()))
                .collect()
        })
        .collect();
    Parts {
        basis: total.operating_basis.clone(),
        operating: hours(total.operating_hours),
        figures,
        labels: r.labels,
        table,
        modes: total
            .top_failure_modes
            .iter()
            .map(|m| (m.failure_mode.clone(), m.count))
            .collect(),
        alarms: r.alarms,
    }
}
