//! The backtest (`POST /rules/preview`): runs a rule, saved or not, over stored history
//! fetched with telemetry's `QueryRange` (never its tables), through the same detectors
//! as live evaluation, and answers the episodes it would have raised. Operator actions
//! and latching do not exist in the past: an episode runs from raise to return to normal.

use std::collections::BTreeMap;

use actix::prelude::*;
use plantd_contracts::health::*;
use plantd_contracts::telemetry::QueryRange;
use plantd_contracts::time::{now_ms, to_datetime, Millis};
use plantd_contracts::{DeviceId, DomainError};

use crate::actor::Health;
use crate::detect::{Check, DetectorState};
use crate::rules;

/// Raw points read per series at most (telemetry's own query cap applies too).
const MAX_POINTS_PER_SERIES: usize = 200_000;

struct Job {
    input: RuleInput,
    check: Check,
    devices: Vec<DeviceId>,
    metrics: Vec<String>,
}

impl Handler<PreviewRule> for Health {
    type Result = ResponseActFuture<Self, Result<Preview, DomainError>>;

    fn handle(&mut self, msg: PreviewRule, _: &mut Context<Self>) -> Self::Result {
        let job = self.preview_job(&msg);
        let telemetry = self.telemetry.clone();
        let (from, to) = (msg.from_ms, msg.to_ms.min(now_ms()));
        Box::pin(
            async move {
                let job = job?;
                if to <= from {
                    return Err(DomainError::invalid("to", "must be after from"));
                }
                let mut series: BTreeMap<DeviceId, Vec<(Millis, String, f64)>> = BTreeMap::new();
                for device in &job.devices {
                    for metric in &job.metrics {
                        let points = telemetry
                            .send(QueryRange {
                                device_id: device.clone(),
                                metric: metric.clone(),
                                from,
                                to,
                                limit: MAX_POINTS_PER_SERIES,
                            })
                            .await
                            .map_err(|e| DomainError::Unavailable(format!("telemetry: {e}")))??;
                        let s = series.entry(device.clone()).or_default();
                        s.extend(
                            points
                                .into_iter()
                                .map(|p| (p.ts.timestamp_millis(), metric.clone(), p.value)),
                        );
                    }
                }
                let mut samples = 0;
                let mut alarms = Vec::new();
                for (device, mut points) in series {
                    points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
                    samples += points.len();
                    alarms.extend(run(&job, &device, &points, from, to));
                }
                alarms.sort_by_key(|a: &PreviewAlarm| a.raised_at);
                Ok(Preview {
                    from: to_datetime(from),
                    to: to_datetime(to),
                    samples,
                    alarms,
                })
            }
            .into_actor(self),
        )
    }
}

impl Health {
    fn preview_job(&self, msg: &PreviewRule) -> Result<Job, DomainError> {
        let input = match (&msg.rule_id, &msg.rule) {
            (Some(id), _) => self
                .rules
                .get(id)
                .map(|c| c.rule.input.clone())
                .ok_or_else(|| DomainError::NotFound(format!("rule {id}")))?,
            (None, Some(body)) => rules::parse(body)?,
            (None, None) => return Err(DomainError::invalid("rule", "give rule_id or a rule")),
        };
        let probe = plantd_contracts::health::Rule {
            id: String::new(),
            input: input.clone(),
            chattering: false,
            created_at: to_datetime(0),
            updated_at: to_datetime(0),
        };
        let devices = self.devices_of(&probe);
        let mut metrics = rules::watched_metrics(&input);
        if metrics.is_empty() {
            return Err(DomainError::invalid(
                "metric",
                "a backtest of no_data needs the metric to watch",
            ));
        }
        if let Some(s) = &input.suppress_when {
            if !metrics.contains(&s.metric) {
                metrics.push(s.metric.clone());
            }
        }
        let mut check = rules::compile(&input, None)?;
        if let Check::Iso20816 { bounds, .. } = &mut check {
            let asset = input.asset_id.clone().or_else(|| {
                devices
                    .first()
                    .and_then(|d| self.device_assets.get(d).cloned())
            });
            *bounds = asset
                .and_then(|a| self.assets.get(&a))
                .and_then(|a| a.iso20816)
                .map(|c| c.boundaries());
        }
        Ok(Job {
            input,
            check,
            devices,
            metrics,
        })
    }
}

/// Episodes as a backtest sees them: raise, peak, return to normal.
struct Episodes<'a> {
    device: &'a DeviceId,
    fixed: Severity,
    open: Option<PreviewAlarm>,
    out: Vec<PreviewAlarm>,
}

impl Episodes<'_> {
    fn step(&mut self, signal: Option<crate::detect::Signal>, ts: Millis, suppressed: bool) {
        let Some(s) = signal else { return };
        let severity = s.severity.unwrap_or(self.fixed);
        match (&mut self.open, s.active) {
            (None, true) if !suppressed => {
                self.open = Some(PreviewAlarm {
                    device_id: self.device.to_string(),
                    raised_at: to_datetime(ts),
                    value: s.value,
                    severity,
                    peak_severity: severity,
                    returned_at: None,
                });
            }
            (Some(a), true) => a.peak_severity = a.peak_severity.min(severity),
            (Some(a), false) => {
                a.returned_at = Some(to_datetime(ts));
                if let Some(done) = self.open.take() {
                    self.out.push(done);
                }
            }
            _ => {}
        }
    }
}

/// One device's history through a fresh detector.
fn run(
    job: &Job,
    device: &DeviceId,
    points: &[(Millis, String, f64)],
    from: Millis,
    to: Millis,
) -> Vec<PreviewAlarm> {
    let mut state = DetectorState::new(&job.check);
    let watched = rules::watched_metrics(&job.input);
    let suppress = job.input.suppress_when.as_ref().and_then(|c| {
        rules::comparison(c.op, c.value, c.low, c.high, "")
            .ok()
            .map(|cmp| (c.metric.clone(), cmp))
    });
    let mut suppress_value: Option<f64> = None;
    let mut episodes = Episodes {
        device,
        fixed: rules::severity(&job.input),
        open: None,
        out: Vec::new(),
    };
    let mut last_ts = from;
    for (ts, metric, value) in points {
        if let Some((m, _)) = &suppress {
            if m == metric {
                suppress_value = Some(*value);
            }
        }
        let suppressed =
            matches!((&suppress, suppress_value), (Some((_, cmp)), Some(v)) if cmp.holds(v));
        if let Check::NoData { silence_ms } = job.check {
            // A gap longer than the silence: the episode began when the silence did.
            if let Some(s) = state.on_clock(&job.check, *ts, last_ts) {
                episodes.step(Some(s), last_ts + silence_ms, suppressed);
            }
        }
        last_ts = *ts;
        if !watched.iter().any(|w| w == metric) {
            continue;
        }
        let learn = episodes.open.is_none();
        let signal = state.on_sample(&job.check, metric, *ts, *value, learn);
        episodes.step(signal, *ts, suppressed);
    }
    if let Check::NoData { silence_ms } = job.check {
        if let Some(s) = state.on_clock(&job.check, to, last_ts) {
            episodes.step(Some(s), last_ts + silence_ms, false);
        }
    }
    if let Some(a) = episodes.open.take() {
        episodes.out.push(a);
    }
    episodes.out
}
