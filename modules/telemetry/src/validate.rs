//! Payload validation, per `mqtt-contract.md`: one sample object or an array of them;
//! `ts` optional (RFC 3339 or epoch ms, at most 5 minutes ahead); `values` maps metric
//! names to numbers or booleans. Any broken rule rejects the whole payload. An optional
//! `units` object (metric name → unit text, at most 32 characters) is a compatible
//! extension: it names the unit of metrics in the metric registry.

use std::borrow::Cow;

use plantd_contracts::ids::is_valid_metric_name;
use plantd_contracts::time::{parse_time, Millis};
use serde_json::Value;

/// How far in the future a sample's timestamp may be.
pub const MAX_FUTURE_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// Borrowed from the payload when the fast path decoded it.
    pub metric: Cow<'a, str>,
    pub ts: Millis,
    pub value: f64,
    pub unit: Option<String>,
}

/// Longest unit text accepted in `units`.
const MAX_UNIT_CHARS: usize = 32;

/// Why a payload was rejected: a short code for metrics and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub reason: String,
}

fn reject(code: &'static str, reason: impl Into<String>) -> Rejection {
    Rejection {
        code,
        reason: reason.into(),
    }
}

pub fn parse_payload(
    payload: &[u8],
    received_at: Millis,
    max_bytes: usize,
) -> Result<Vec<Sample<'_>>, Rejection> {
    if payload.len() > max_bytes {
        return Err(reject(
            "too_large",
            format!(
                "payload of {} bytes is over the limit of {max_bytes} bytes",
                payload.len()
            ),
        ));
    }
    // The common shape, without a `Value` tree; anything else is decided by the `Value` path.
    if let Some(samples) = fast::decode(payload, received_at) {
        return Ok(samples);
    }
    decode_value(payload, received_at)
}

/// The `Value` path: any payload, with the reason when it is refused (the fast path
/// must give exactly its samples, in its order, where it answers: a property test).
fn decode_value(payload: &[u8], received_at: Millis) -> Result<Vec<Sample<'static>>, Rejection> {
    let json: Value = serde_json::from_slice(payload)
        .map_err(|e| reject("malformed", format!("payload is not valid JSON: {e}")))?;
    let objects = match json {
        Value::Object(_) => vec![json],
        Value::Array(items) if items.is_empty() => {
            return Err(reject("empty", "payload is an empty array"))
        }
        Value::Array(items) => items,
        _ => {
            return Err(reject(
                "malformed",
                "payload must be a sample object or an array of sample objects",
            ))
        }
    };
    let mut samples = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        parse_sample(object, received_at, &mut samples).map_err(|r| Rejection {
            code: r.code,
            reason: if objects.len() > 1 {
                format!("sample {index}: {}", r.reason)
            } else {
                r.reason
            },
        })?;
    }
    // The store keeps one value per (device, metric, ts); two in one payload would be half
    // stored while reported as taken.
    let mut seen = std::collections::HashSet::with_capacity(samples.len());
    if let Some(dup) = samples
        .iter()
        .find(|s| !seen.insert((s.metric.as_ref(), s.ts)))
    {
        return Err(reject(
            "duplicate_sample",
            format!(
                "two values of '{}' at the same time {}; give each sample its own ts",
                dup.metric, dup.ts
            ),
        ));
    }
    Ok(samples)
}

fn parse_sample(
    object: &Value,
    received_at: Millis,
    out: &mut Vec<Sample<'static>>,
) -> Result<(), Rejection> {
    let Value::Object(fields) = object else {
        return Err(reject("malformed", "a sample must be a JSON object"));
    };
    let ts = match fields.get("ts") {
        None | Some(Value::Null) => received_at,
        Some(Value::String(s)) => parse_time(s).ok_or_else(|| {
            reject(
                "bad_timestamp",
                format!("ts '{s}' is not RFC 3339 or epoch milliseconds"),
            )
        })?,
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
            reject(
                "bad_timestamp",
                "ts must be an integer of epoch milliseconds",
            )
        })?,
        Some(_) => return Err(reject("bad_timestamp", "ts must be a string or an integer")),
    };
    if ts < 0 {
        return Err(reject("bad_timestamp", "ts is before 1970"));
    }
    if ts > received_at + MAX_FUTURE_MS {
        return Err(reject(
            "future_timestamp",
            format!(
                "ts is {} s in the future (at most 300 s allowed)",
                (ts - received_at) / 1000
            ),
        ));
    }
    let Some(Value::Object(values)) = fields.get("values") else {
        return Err(reject("malformed", "a sample needs a 'values' object"));
    };
    if values.is_empty() {
        return Err(reject("malformed", "'values' is empty"));
    }
    let units = match fields.get("units") {
        None | Some(Value::Null) => None,
        Some(Value::Object(units)) => Some(units),
        Some(_) => return Err(reject("malformed", "'units' must be an object")),
    };
    for (metric, unit) in units.into_iter().flatten() {
        match unit {
            Value::String(u) if u.chars().count() <= MAX_UNIT_CHARS && values.contains_key(metric) => {}
            _ => {
                return Err(reject(
                    "malformed",
                    format!("units: '{metric}' must be a metric of 'values' with a unit of at most {MAX_UNIT_CHARS} characters"),
                ))
            }
        }
    }
    for (metric, value) in values {
        if !is_valid_metric_name(metric) {
            return Err(reject(
                "bad_metric",
                format!("metric name '{metric}' must match [a-z][a-z0-9_]{{0,63}}"),
            ));
        }
        let value = match value {
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Number(n) => n.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
                reject(
                    "bad_value",
                    format!("metric '{metric}' is not a finite number"),
                )
            })?,
            _ => {
                return Err(reject(
                    "bad_value",
                    format!("metric '{metric}' must be a number or a boolean"),
                ))
            }
        };
        let unit = units
            .and_then(|u| u.get(metric))
            .and_then(Value::as_str)
            .map(str::to_owned);
        out.push(Sample {
            metric: Cow::Owned(metric.clone()),
            ts,
            value,
            unit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000;

    fn parse(s: &str) -> Result<Vec<Sample<'_>>, Rejection> {
        parse_payload(s.as_bytes(), NOW, 1024)
    }

    #[test]
    fn single_and_batched_samples() {
        let one = parse(r#"{"values": {"temperature_c": 61.5, "running": true}}"#).expect("ok");
        assert_eq!(one.len(), 2);
        assert!(one.iter().all(|s| s.ts == NOW));
        assert!(one.contains(&Sample {
            metric: "running".into(),
            ts: NOW,
            value: 1.0,
            unit: None,
        }));
        let with_unit = parse(r#"{"values": {"v": 2.8}, "units": {"v": "mm/s"}}"#).expect("ok");
        assert_eq!(with_unit[0].unit.as_deref(), Some("mm/s"));
        assert_eq!(
            parse(r#"{"values": {"v": 2.8}, "units": {"w": "mm/s"}}"#)
                .expect_err("unit of no value")
                .code,
            "malformed"
        );
        let many = parse(r#"[{"ts": 1000, "values": {"a": 1}}, {"ts": "1970-01-01T00:00:02Z", "values": {"a": 2}}]"#)
            .expect("ok");
        assert_eq!(
            many.iter().map(|s| s.ts).collect::<Vec<_>>(),
            vec![1000, 2000]
        );
    }

    #[test]
    fn rejects_whole_payloads_with_reasons() {
        assert_eq!(parse("{nope").expect_err("rejected").code, "malformed");
        assert_eq!(
            parse(r#"{"values": {"a": "hot"}}"#)
                .expect_err("rejected")
                .code,
            "bad_value"
        );
        assert_eq!(
            parse(r#"{"values": {"Bad": 1}}"#)
                .expect_err("rejected")
                .code,
            "bad_metric"
        );
        assert_eq!(parse("[]").expect_err("rejected").code, "empty");
        let future = format!(r#"{{"ts": {}, "values": {{"a": 1}}}}"#, NOW + 301_000);
        assert_eq!(
            parse(&future).expect_err("rejected").code,
            "future_timestamp"
        );
        let near = format!(r#"{{"ts": {}, "values": {{"a": 1}}}}"#, NOW + 299_000);
        assert!(parse(&near).is_ok());
        let same_time = r#"[{"values": {"a": 1}}, {"values": {"a": 2}}]"#;
        assert_eq!(
            parse(same_time).expect_err("rejected").code,
            "duplicate_sample"
        );
        assert!(parse(r#"[{"values": {"a": 1}}, {"values": {"b": 2}}]"#).is_ok());
        let mixed = r#"[{"values": {"a": 1}}, {"values": {"a": null}}]"#;
        let err = parse(mixed).expect_err("rejected");
        assert!(err.reason.starts_with("sample 1:"), "{}", err.reason);
        let big = format!(r#"{{"values": {{"a": 1}}, "pad": "{}"}}"#, "x".repeat(2000));
        assert_eq!(parse(&big).expect_err("rejected").code, "too_large");
    }
}

mod fast;

#[cfg(test)]
mod proptests;
