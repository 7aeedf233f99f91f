//! The chart around the moment an alarm fired: its device's metric from 15 minutes before
//! the raise to 15 minutes after (or now), drawn as inline SVG with the raise marked, and
//! the same points as a table so it reads without JavaScript. Asks telemetry by message.

use plantd_contracts::health::Alarm;
use plantd_contracts::telemetry::{Aggregate, QueryAggregate};
use plantd_contracts::time::{format_ms, now_ms, Millis};

use super::telemetry::{format_value, polyline, WIDTH};
use crate::state::AppState;

const AROUND_MS: Millis = 15 * 60_000;
const STEP_MS: Millis = 10_000;

pub struct AlarmChart {
    pub metric: String,
    pub polyline: String,
    /// The raise time's x in the SVG.
    pub raised_x: String,
    pub from_label: String,
    pub to_label: String,
    pub y_min: String,
    pub y_max: String,
    /// (time, highest value in its 10 s step).
    pub rows: Vec<(String, String)>,
}

/// The chart, or `None` when the alarm has no metric or telemetry does not answer.
pub async fn around(state: &AppState, alarm: &Alarm) -> Option<AlarmChart> {
    let metric = alarm.metric.clone()?;
    let raised = alarm.raised_at.timestamp_millis();
    let from = raised - AROUND_MS;
    let to = (raised + AROUND_MS).min(now_ms().max(raised + STEP_MS));
    let series = state
        .telemetry
        .send(QueryAggregate {
            device_id: alarm.device_id.clone(),
            metric: metric.clone(),
            from,
            to,
            step_ms: STEP_MS,
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
    Some(AlarmChart {
        metric,
        polyline: line,
        raised_x: format!("{:.1}", (raised - from) as f64 / span * WIDTH),
        from_label: format_ms(from),
        to_label: format_ms(to),
        y_min: shown(min),
        y_max: shown(max),
        rows: points
            .iter()
            .map(|(ts, v)| (format_ms(*ts), format_value(*v)))
            .collect(),
    })
}
