//! Charts with alarm marks: one device's metric over a window, drawn by `chart.rs` with the
//! rule's limits, alarm episodes shaded and vertical marks (an alarm's raise, or the raises
//! a backtest finds), and the same points as a table so it reads without JavaScript.
//! `around` is the alarm page's: 15 minutes before the raise to 15 minutes after the
//! episode's end (or now). Asks telemetry and health by message.

use plantd_contracts::health::{Alarm, GetRule};
use plantd_contracts::telemetry::ListMetrics;
use plantd_contracts::time::{now_ms, Millis};
use plantd_contracts::DeviceId;

use super::chart::{self, ChartInput, Episode, Limit};
use super::chart_data;
use super::chart_marks::{episode_of, limits_of};
use super::chart_time::{format_time, Precision};
use super::numbers::format_value;
use super::telemetry::step_label;
use crate::state::AppState;

const AROUND_MS: Millis = 15 * 60_000;
const STEP_MS: Millis = 10_000;

pub struct MarkedChart {
    pub metric: String,
    pub unit: String,
    /// The `<svg>` drawn by `chart.rs`.
    pub svg: String,
    pub from_label: String,
    pub to_label: String,
    /// The step each point stands for, e.g. `10 s`.
    pub step: String,
    /// (time, average, lowest, highest) per step.
    pub rows: Vec<(String, String, String, String)>,
}

/// What is drawn over the data.
#[derive(Default)]
pub struct Overlays {
    pub marks: Vec<Millis>,
    pub episodes: Vec<Episode>,
    pub limits: Vec<Limit>,
}

/// The metric of the device over `[from, to]` with the overlays; `None` when telemetry
/// does not answer.
pub async fn marked(
    state: &AppState,
    device: &DeviceId,
    metric: &str,
    (from, to): (Millis, Millis),
    overlays: &Overlays,
) -> Option<MarkedChart> {
    let span = tracing::debug_span!("marked_chart", device = %device, metric);
    let _guard = span.enter();
    let unit = state
        .telemetry
        .send(ListMetrics {
            device_id: device.clone(),
        })
        .await
        .ok()?
        .ok()?
        .into_iter()
        .find(|m| m.metric == metric)
        .and_then(|m| m.unit)
        .unwrap_or_default();
    let (buckets, step) = chart_data::buckets(state, device, metric, (from, to))
        .await
        .ok()?;
    let drawn = chart::draw(&ChartInput {
        id: "alarm-chart",
        metric,
        unit: &unit,
        from,
        to,
        buckets: &buckets,
        limits: &overlays.limits,
        episodes: &overlays.episodes,
        marks: &overlays.marks,
        live: false,
    });
    Some(MarkedChart {
        metric: metric.to_owned(),
        unit,
        svg: drawn.svg,
        from_label: format_time(from, Precision::Full),
        to_label: format_time(to, Precision::Full),
        step: step_label(step),
        rows: buckets
            .iter()
            .map(|b| {
                (
                    format_time(b.ts, Precision::Full),
                    format_value(b.avg),
                    format_value(b.min),
                    format_value(b.max),
                )
            })
            .collect(),
    })
}

/// The alarm page's chart with the rule's limits and the episode shaded, or `None` when
/// the alarm has no metric.
pub async fn around(state: &AppState, alarm: &Alarm) -> Option<MarkedChart> {
    let metric = alarm.metric.as_deref()?;
    let raised = alarm.raised_at.timestamp_millis();
    let episode = episode_of(alarm);
    let to = (episode.to + AROUND_MS).min(now_ms().max(raised + STEP_MS));
    let limits = match state.health.send(GetRule(alarm.rule_id.clone())).await {
        Ok(Ok(rule)) => limits_of(&rule.input.spec, rule.input.metric.as_deref(), metric),
        _ => Vec::new(),
    };
    let overlays = Overlays {
        marks: vec![raised],
        episodes: vec![episode],
        limits,
    };
    marked(
        state,
        &alarm.device_id,
        metric,
        (raised - AROUND_MS, to),
        &overlays,
    )
    .await
}
