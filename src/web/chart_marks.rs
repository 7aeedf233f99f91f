//! What the health module adds to a chart: a rule's limits (threshold values, a band's low
//! and high, the same in `all` / `any` conditions on the metric) and alarm episodes (raise
//! to return, or to now while active). Pure functions plus one read of a device's rules and
//! recent alarms by message; writes nothing.

use plantd_contracts::health::{Alarm, Condition, ListAlarms, ListRules, Op, Rule, RuleSpec};
use plantd_contracts::time::{now_ms, Millis};
use plantd_contracts::DeviceId;

use super::chart::{Episode, Limit};
use super::numbers::format_value;
use crate::state::AppState;

/// Alarms of a device read for its charts' episodes at most.
const EPISODES_READ: usize = 200;

fn op_text(op: &Op) -> &'static str {
    match op {
        Op::Gt => ">",
        Op::Ge => "≥",
        Op::Lt => "<",
        Op::Le => "≤",
        Op::Eq => "=",
        Op::Ne => "≠",
        Op::Outside => "outside",
    }
}

/// The lines of one comparison: its value, or its band's ends.
fn lines(op: &Op, value: Option<f64>, low: Option<f64>, high: Option<f64>) -> Vec<Limit> {
    let mut out = Vec::new();
    if let Some(v) = value {
        out.push(Limit {
            value: v,
            label: format!("{} {}", op_text(op), format_value(v)),
        });
    }
    for (end, name) in [(low, "low"), (high, "high")] {
        if let Some(v) = end {
            out.push(Limit {
                value: v,
                label: format!("{name} {}", format_value(v)),
            });
        }
    }
    out
}

/// The limits a rule draws on a chart of `metric` (`rule_metric` is the rule's own).
pub fn limits_of(spec: &RuleSpec, rule_metric: Option<&str>, metric: &str) -> Vec<Limit> {
    let of_conditions = |conditions: &[Condition]| {
        conditions
            .iter()
            .filter(|c| c.metric == metric)
            .flat_map(|c| lines(&c.op, c.value, c.low, c.high))
            .collect()
    };
    match spec {
        RuleSpec::Threshold {
            op,
            value,
            low,
            high,
            ..
        } if rule_metric == Some(metric) => lines(op, *value, *low, *high),
        RuleSpec::All { conditions } | RuleSpec::Any { conditions } => of_conditions(conditions),
        _ => Vec::new(),
    }
}

/// An alarm's episode: from its raise to its return to normal (or clearing, or now).
pub fn episode_of(alarm: &Alarm) -> Episode {
    let end = alarm
        .returned_at
        .or(alarm.cleared_at)
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(now_ms);
    Episode {
        from: alarm.raised_at.timestamp_millis(),
        to: end,
        label: format!("{} ({})", alarm.rule_name, alarm.peak_severity.as_str()),
    }
}

/// A device's enabled rules and recent alarms, for the marks of its charts; empty when
/// health does not answer (the charts still draw).
pub struct DeviceMarks {
    rules: Vec<Rule>,
    alarms: Vec<Alarm>,
}

impl DeviceMarks {
    pub async fn load(state: &AppState, device: &DeviceId) -> DeviceMarks {
        let rules = state
            .health
            .send(ListRules {
                asset_id: None,
                device_id: Some(device.to_string()),
            })
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let alarms = state
            .health
            .send(ListAlarms {
                device_id: Some(device.to_string()),
                limit: EPISODES_READ,
                ..ListAlarms::default()
            })
            .await
            .ok()
            .and_then(Result::ok)
            .map(|page| page.items)
            .unwrap_or_default();
        DeviceMarks { rules, alarms }
    }

    pub fn limits(&self, metric: &str) -> Vec<Limit> {
        self.rules
            .iter()
            .filter(|r| r.input.enabled)
            .flat_map(|r| limits_of(&r.input.spec, r.input.metric.as_deref(), metric))
            .collect()
    }

    pub fn episodes(&self, metric: &str, (from, to): (Millis, Millis)) -> Vec<Episode> {
        self.alarms
            .iter()
            .filter(|a| a.metric.as_deref() == Some(metric))
            .map(episode_of)
            .filter(|e| e.to >= from && e.from <= to)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_and_conditions_give_lines() {
        let spec = RuleSpec::Threshold {
            op: Op::Gt,
            value: Some(80.0),
            low: None,
            high: None,
            for_s: 0,
            off_delay_s: 0,
            deadband: 0.0,
        };
        let l = limits_of(&spec, Some("temp"), "temp");
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].value, l[0].label.as_str()), (80.0, "> 80"));
        assert!(limits_of(&spec, Some("temp"), "rpm").is_empty());
        let band = RuleSpec::Any {
            conditions: vec![Condition {
                metric: "rpm".to_owned(),
                op: Op::Outside,
                value: None,
                low: Some(10.0),
                high: Some(20.5),
                for_s: 0,
            }],
        };
        let l = limits_of(&band, None, "rpm");
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].label, "high 20.5");
    }
}
