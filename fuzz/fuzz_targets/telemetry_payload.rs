//! Fuzz target: the telemetry payload decoder (`devices/{id}/telemetry`, `parse_payload`).
//! Beyond "no panic": an accepted payload gives at least one sample, each finite, with a
//! valid metric name, a time in range, a short unit, no two at the same (metric, ts), never
//! more samples than the payload has room for; re-encoded, the samples decode to the same.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use plantd_contracts::ids::is_valid_metric_name;
use plantd_telemetry::fuzzing::{parse_payload, Sample, MAX_FUTURE_MS};
use serde_json::{json, Map, Value};

/// 2026-11-18, a fixed "now": runs are reproducible.
const NOW: i64 = 1_795_000_000_000;
/// The default `telemetry_max_payload_bytes`.
const MAX_BYTES: usize = 256 * 1024;
const CODES: [&str; 8] = [
    "too_large",
    "malformed",
    "empty",
    "bad_timestamp",
    "future_timestamp",
    "bad_metric",
    "bad_value",
    "duplicate_sample",
];

fn sorted(mut samples: Vec<Sample>) -> Vec<Sample> {
    samples.sort_by(|a, b| (a.ts, &a.metric).cmp(&(b.ts, &b.metric)));
    samples
}

/// The samples as one payload of one-metric samples with integer times.
fn encode(samples: &[Sample]) -> Vec<u8> {
    let items: Vec<Value> = samples
        .iter()
        .map(|s| {
            let mut sample = Map::new();
            sample.insert("ts".into(), json!(s.ts));
            sample.insert("values".into(), json!({ &*s.metric: s.value }));
            if let Some(unit) = &s.unit {
                sample.insert("units".into(), json!({ &*s.metric: unit }));
            }
            Value::Object(sample)
        })
        .collect();
    serde_json::to_vec(&items).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

fuzz_target!(|data: &[u8]| {
    let result = parse_payload(data, NOW, MAX_BYTES);
    assert_eq!(result, parse_payload(data, NOW, MAX_BYTES), "deterministic");
    let samples = match result {
        Ok(samples) => samples,
        Err(rejection) => {
            assert!(CODES.contains(&rejection.code), "{}", rejection.code);
            assert!(!rejection.reason.is_empty());
            return;
        }
    };
    assert!(!samples.is_empty(), "an accepted payload has a sample");
    // `"a":1` is the least a value takes.
    assert!(samples.len() * 5 <= data.len(), "{} samples", samples.len());
    let mut seen = HashSet::new();
    for s in &samples {
        assert!(s.value.is_finite(), "{s:?}");
        assert!(is_valid_metric_name(&s.metric), "{s:?}");
        assert!((0..=NOW + MAX_FUTURE_MS).contains(&s.ts), "{s:?}");
        assert!(
            s.unit.as_ref().map_or(true, |u| u.chars().count() <= 32),
            "{s:?}"
        );
        assert!(seen.insert((s.metric.clone(), s.ts)), "duplicate {s:?}");
    }
    let encoded = encode(&samples);
    let again = parse_payload(&encoded, NOW, usize::MAX).expect("re-encoded samples");
    let (want, got) = (sorted(samples), sorted(again));
    assert_eq!(want.len(), got.len());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!((&w.metric, w.ts, &w.unit), (&g.metric, g.ts, &g.unit));
        assert!(close(w.value, g.value), "{w:?} vs {g:?}");
    }
});
