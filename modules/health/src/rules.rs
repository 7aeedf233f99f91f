//! Rules: the body a client sends, checked field by field (422 names the field), and
//! compiled into the detector's [`Check`]. Defaults live here: severity `major`, rate
//! window 60 s, the anomaly detector's tunables in `detect::anomaly`.

use plantd_contracts::health::{
    AnomalyTuning, Condition, Iso20816Class, Op, RuleInput, RuleSpec, Severity,
};
use plantd_contracts::ids::is_valid_metric_name;
use plantd_contracts::{DeviceId, DomainError};
use serde_json::Value;

use crate::detect::{AnomalyParams, Check, Comparison};

/// Longest on-delay, off-delay and window: a day.
const MAX_DELAY_S: u32 = 86_400;
/// Longest silence a `no_data` rule waits: a week.
const MAX_SILENCE_MIN: f64 = 10_080.0;
const MAX_CONDITIONS: usize = 8;

fn invalid(field: &str, message: impl Into<String>) -> DomainError {
    DomainError::invalid(field, message)
}

/// The field a serde error names (`missing field `op``, `unknown variant ...`).
pub(crate) fn serde_field(message: &str) -> String {
    message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("missing field") || message.starts_with("unknown field"))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if message.contains("variant") && message.contains("kind") {
                "kind".to_owned()
            } else {
                "body".to_owned()
            }
        })
}

/// Parses and checks a rule body. Unknown fields are refused (a typo such as `for` for
/// `for_s` must not silently give a rule without on-delay).
pub fn parse(body: &Value) -> Result<RuleInput, DomainError> {
    let Value::Object(fields) = body else {
        return Err(invalid("body", "a rule is a JSON object"));
    };
    if !fields.contains_key("kind") {
        return Err(invalid(
            "kind",
            "required: threshold, rate, anomaly, iso20816, no_data, all or any",
        ));
    }
    let input: RuleInput = serde_json::from_value(body.clone()).map_err(|e| {
        let message = e.to_string();
        invalid(&serde_field(&message), message)
    })?;
    let known = serde_json::to_value(&input).unwrap_or(Value::Null);
    if let Value::Object(known) = known {
        if let Some(extra) = fields.keys().find(|k| !known.contains_key(*k)) {
            return Err(invalid(extra, "unknown field for this kind of rule"));
        }
    }
    check(&input)?;
    Ok(input)
}

fn finite(field: &str, v: Option<f64>) -> Result<f64, DomainError> {
    match v {
        Some(v) if v.is_finite() => Ok(v),
        Some(_) => Err(invalid(field, "must be a finite number")),
        None => Err(invalid(field, "required for this comparison")),
    }
}

fn delay(field: &str, s: u32) -> Result<i64, DomainError> {
    if s > MAX_DELAY_S {
        return Err(invalid(field, format!("at most {MAX_DELAY_S} seconds")));
    }
    Ok(i64::from(s) * 1000)
}

/// A comparison's limit or band, checked.
pub fn comparison(
    op: Op,
    value: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
    prefix: &str,
) -> Result<Comparison, DomainError> {
    if op == Op::Outside {
        let low = finite(&format!("{prefix}low"), low)?;
        let high = finite(&format!("{prefix}high"), high)?;
        if low >= high {
            return Err(invalid(&format!("{prefix}high"), "must be above low"));
        }
        return Ok(Comparison {
            op,
            limit: 0.0,
            band: (low, high),
        });
    }
    Ok(Comparison {
        op,
        limit: finite(&format!("{prefix}value"), value)?,
        band: (0.0, 0.0),
    })
}

fn metric(field: &str, m: Option<&str>) -> Result<(), DomainError> {
    match m {
        Some(m) if is_valid_metric_name(m) => Ok(()),
        Some(_) => Err(invalid(field, "not a valid metric name")),
        None => Err(invalid(field, "required for this kind of rule")),
    }
}

fn condition(c: &Condition, prefix: &str) -> Result<(String, Comparison, i64), DomainError> {
    metric(&format!("{prefix}metric"), Some(&c.metric))?;
    let cmp = comparison(c.op, c.value, c.low, c.high, prefix)?;
    Ok((
        c.metric.clone(),
        cmp,
        delay(&format!("{prefix}for_s"), c.for_s)?,
    ))
}

/// The anomaly detector's tunables: the defaults, with the rule's overrides.
pub fn anomaly_params(t: &AnomalyTuning) -> Result<AnomalyParams, DomainError> {
    let mut p = AnomalyParams::default();
    if let Some(v) = t.warmup {
        p.warmup = v;
    }
    if let Some(v) = t.z_raise {
        p.z_raise = v;
    }
    if let Some(v) = t.confirm_k {
        p.confirm_k = v;
    }
    if let Some(v) = t.confirm_n {
        p.confirm_n = v;
    }
    if let Some(v) = t.z_clear {
        p.z_clear = v;
    }
    if let Some(v) = t.clear_samples {
        p.clear_samples = v;
    }
    if let Some(v) = t.cusum_k {
        p.cusum_k = v;
    }
    if let Some(v) = t.cusum_h {
        p.cusum_h = v;
    }
    if let Some(v) = t.halflife {
        p.halflife = v;
    }
    p.validate()
        .map_err(|(field, reason)| invalid(&format!("tuning.{field}"), reason))?;
    Ok(p)
}

/// Field checks that need nothing but the body.
fn check(r: &RuleInput) -> Result<(), DomainError> {
    let name = r.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(invalid("name", "1 to 200 characters"));
    }
    match (&r.device_id, &r.asset_id) {
        (Some(_), Some(_)) => {
            return Err(invalid("asset_id", "give device_id or asset_id, not both"))
        }
        (None, None) => return Err(invalid("device_id", "give device_id or asset_id")),
        (Some(d), None) => {
            DeviceId::parse(d).map_err(|_| invalid("device_id", "not a valid device id"))?;
        }
        (None, Some(a)) if a.trim().is_empty() => return Err(invalid("asset_id", "empty")),
        _ => {}
    }
    if let Some(s) = &r.suppress_when {
        condition(s, "suppress_when.")?;
    }
    compile(r, None).map(|_| ())
}

/// The detector's check for a rule; `iso` is the class of the rule's asset (only
/// `iso20816` rules use it; without one they wait and raise nothing).
pub fn compile(r: &RuleInput, iso: Option<Iso20816Class>) -> Result<Check, DomainError> {
    let m = r.metric.as_deref();
    Ok(match &r.spec {
        RuleSpec::Threshold {
            op,
            value,
            low,
            high,
            for_s,
            off_delay_s,
            deadband,
        } => {
            metric("metric", m)?;
            if !deadband.is_finite() || *deadband < 0.0 {
                return Err(invalid("deadband", "a number ≥ 0"));
            }
            Check::Threshold {
                cmp: comparison(*op, *value, *low, *high, "")?,
                on_ms: delay("for_s", *for_s)?,
                off_ms: delay("off_delay_s", *off_delay_s)?,
                deadband: *deadband,
            }
        }
        RuleSpec::Rate {
            op,
            value,
            window_s,
            for_s,
        } => {
            metric("metric", m)?;
            if matches!(op, Op::Outside | Op::Eq | Op::Ne) {
                return Err(invalid("op", "a rate compares with >, >=, < or <="));
            }
            if *window_s == 0 {
                return Err(invalid("window_s", "at least 1 second"));
            }
            Check::Rate {
                cmp: comparison(*op, Some(*value), None, None, "")?,
                window_ms: delay("window_s", *window_s)?,
                on_ms: delay("for_s", *for_s)?,
            }
        }
        RuleSpec::Anomaly { tuning } => {
            metric("metric", m)?;
            Check::Anomaly(anomaly_params(tuning)?)
        }
        RuleSpec::Iso20816 { for_s } => {
            metric("metric", m)?;
            if r.severity.is_some() {
                return Err(invalid(
                    "severity",
                    "an iso20816 rule takes its severity from the zone (C major, D critical)",
                ));
            }
            Check::Iso20816 {
                bounds: iso.map(|c| c.boundaries()),
                on_ms: delay("for_s", *for_s)?,
            }
        }
        RuleSpec::NoData { minutes } => {
            if let Some(m) = m {
                metric("metric", Some(m))?;
            }
            if !minutes.is_finite() || *minutes < 0.05 || *minutes > MAX_SILENCE_MIN {
                return Err(invalid("minutes", format!("0.05 to {MAX_SILENCE_MIN}")));
            }
            Check::NoData {
                silence_ms: (minutes * 60_000.0) as i64,
            }
        }
        RuleSpec::All { conditions } | RuleSpec::Any { conditions } => {
            if m.is_some() {
                return Err(invalid(
                    "metric",
                    "all / any rules name metrics in their conditions",
                ));
            }
            if conditions.is_empty() || conditions.len() > MAX_CONDITIONS {
                return Err(invalid(
                    "conditions",
                    format!("1 to {MAX_CONDITIONS} conditions"),
                ));
            }
            let compiled = conditions
                .iter()
                .enumerate()
                .map(|(i, c)| condition(c, &format!("conditions[{i}].")))
                .collect::<Result<Vec<_>, _>>()?;
            Check::Combined {
                all: matches!(r.spec, RuleSpec::All { .. }),
                conditions: compiled,
            }
        }
    })
}

/// The metrics whose samples a rule evaluates; empty for "every metric" (`no_data`
/// without a metric).
pub fn watched_metrics(r: &RuleInput) -> Vec<String> {
    match &r.spec {
        RuleSpec::All { conditions } | RuleSpec::Any { conditions } => {
            let mut ms: Vec<String> = conditions.iter().map(|c| c.metric.clone()).collect();
            ms.sort();
            ms.dedup();
            ms
        }
        _ => r.metric.iter().cloned().collect(),
    }
}

/// The severity of a rule's alarms (`iso20816` rules: by zone, from the detector).
pub fn severity(r: &RuleInput) -> Severity {
    r.severity.unwrap_or(Severity::Major)
}
