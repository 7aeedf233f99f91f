//! Charts with alarm marks: one device's metric over a window, drawn as inline SVG with
//! vertical marks (an alarm's raise, or the raises a backtest finds), and the same points
//! as a table so it reads without JavaScript. `around` is the alarm page's: 15 minutes
//! before the raise to 15 minutes after (or now). Asks telemetry by message.

use super::local_time::exact_ms as format_ms;
use plantd_contracts::health::Alarm;
use plantd_contracts::telemetry::{Aggregate, QueryAggregate};
use plantd_contracts::time::{now_ms, Millis};
use plantd_contracts::DeviceId;

use super::telemetry::{format_value, polyline, WIDTH};
use crate::state::AppState;

const AROUND_MS: Millis = 15 * 60_000;
const STEP_MS: Millis = 10_000;
/// Points a chart draws at most.
const POINTS: Millis = 300;

pub struct MarkedChart {
    pub metric: String,
    pub polyline: String,
    /// The marks' x in the SVG.
    pub marks: Vec<String>,
    pub from_label: String,
    pub to_label: String,
    pub y_min: String,
    pub y_max: String,
    /// The step each point stands for, e.g. `10 s`.
    pub step: String,
    /// (time, highest value in its step).
    pub rows: Vec<(String, String)>,
}

/// The metric of the device over `[from, to]`, the highest value per step, with marks at
/// `marks`; `None` when telemetry does not answer.
pub async fn marked(
    state: &AppState,
    device: &DeviceId,
    metric: &str,
    (from, to): (Millis, Millis),
    marks: &[Millis],
) -> Option<MarkedChart> {
    let step_ms = ((to - from) / POINTS).max(STEP_MS);
    let series = state
        .telemetry
        .send(QueryAggregate {
            device_id: device.clone(),
            metric: metric.to_owned(),
            from,
            to,
            step_ms,
            agg: Aggregate::Max,
            resolution: None,
        })
        .await
        .ok()?
        .ok()?;
    let points: Vec<(Millis, f64)> = series
        .points
        .iter()
        .map(|p| (p.ts.timestamp_millis(), p.value))
        .collect();
    let (line, min, max) = polyline(&points, from, to);
    let span = (to - from).max(1) as f64;
    let shown = |v: f64| {
        if points.is_empty() {
            String::new()
        } else {
            format_value(v)
        }
    };
    Some(MarkedChart {
        metric: metric.to_owned(),
        polyline: line,
        marks: marks
            .iter()
            .map(|m| format!("{:.1}", (m - from) as f64 / span * WIDTH))
            .collect(),
        from_label: format_ms(from),
        to_label: format_ms(to),
        y_min: shown(min),
        y_max: shown(max),
        step: format!("{} s", series.step_ms / 1000),
        rows: points
            .iter()
            .map(|(ts, v)| (format_ms(*ts), format_value(*v)))
            .collect(),
    })
}

/// The alarm page's chart, or `None` when the alarm has no metric.
pub async fn around(state: &AppState, alarm: &Alarm) -> Option<MarkedChart> {
    let metric = alarm.metric.as_deref()?;
    let raised = alarm.raised_at.timestamp_millis();
    let to = (raised + AROUND_MS).min(now_ms().max(raised + STEP_MS));
    marked(
        state,
        &alarm.device_id,
        metric,
        (raised - AROUND_MS, to),
        &[raised],
    )
    .await
}
