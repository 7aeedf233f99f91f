//! Property tests of the payload decoder (issue 14.14; the fuzz target
//! `fuzz/fuzz_targets/telemetry_payload.rs` runs the same decoder for longer): any bytes
//! and any JSON are answered without a panic, and generated valid payloads decode to
//! exactly the samples they carry. Pure: no I/O.

use std::collections::BTreeMap;

use plantd_contracts::time::format_ms;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::*;

const NOW: i64 = 1_795_000_000_000;
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

/// JSON of any shape, with the decoder's own words as keys now and then.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z0-9:TZ.+-]{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("ts".to_owned()),
                    Just("values".to_owned()),
                    Just("units".to_owned()),
                    "[a-z][a-z0-9_]{0,3}",
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A metric value as sent (a finite number or a boolean) and as stored.
fn value() -> impl Strategy<Value = (Value, f64)> {
    prop_oneof![
        any::<bool>().prop_map(|b| (Value::from(b), if b { 1.0 } else { 0.0 })),
        any::<i32>().prop_map(|i| (Value::from(i), f64::from(i))),
        // Short decimals: what devices send, and what JSON carries exactly.
        (any::<i32>(), 0..4i32).prop_map(|(i, e)| {
            let f = f64::from(i) / 10f64.powi(e);
            (json!(f), f)
        }),
    ]
}

/// One generated sample: its time (as sent, and in ms), its values and units.
#[derive(Debug, Clone)]
struct Gen {
    ts: Option<(Value, Millis)>,
    values: BTreeMap<String, (Value, f64)>,
    units: BTreeMap<String, String>,
}

fn sample() -> impl Strategy<Value = Gen> {
    let ts = prop_oneof![
        Just(None),
        (0..NOW + MAX_FUTURE_MS).prop_map(|ms| Some((Value::from(ms), ms))),
        (0..NOW).prop_map(|ms| Some((Value::from(format_ms(ms)), ms))),
    ];
    let values = prop::collection::btree_map("[a-z][a-z0-9_]{0,10}", value(), 1..5);
    (ts, values, "[a-zA-Z/%°]{0,8}", any::<bool>()).prop_map(|(ts, values, unit, with_unit)| {
        let units = values
            .keys()
            .take(usize::from(with_unit))
            .map(|m| (m.clone(), unit.clone()))
            .collect();
        Gen { ts, values, units }
    })
}

fn encode(g: &Gen) -> Value {
    let mut object = Map::new();
    if let Some((ts, _)) = &g.ts {
        object.insert("ts".into(), ts.clone());
    }
    let values: Map<String, Value> = g
        .values
        .iter()
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect();
    object.insert("values".into(), Value::Object(values));
    if !g.units.is_empty() {
        object.insert("units".into(), json!(g.units));
    }
    Value::Object(object)
}

fn expected(g: &Gen) -> Vec<Sample<'_>> {
    let ts = g.ts.as_ref().map_or(NOW, |(_, ms)| *ms);
    g.values
        .iter()
        .map(|(metric, (_, v))| Sample {
            metric: metric.clone().into(),
            ts,
            value: *v,
            unit: g.units.get(metric).cloned(),
        })
        .collect()
}

fn sorted(mut samples: Vec<Sample>) -> Vec<Sample> {
    samples.sort_by(|a, b| (a.ts, &a.metric).cmp(&(b.ts, &b.metric)));
    samples
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_or_json_is_answered_without_a_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        json in any_json(),
    ) {
        for payload in [bytes, json.to_string().into_bytes()] {
            match parse_payload(&payload, NOW, 1024) {
                Ok(samples) => {
                    prop_assert!(!samples.is_empty());
                    prop_assert!(samples.iter().all(|s| s.value.is_finite()));
                }
                Err(r) => prop_assert!(CODES.contains(&r.code), "{}", r.code),
            }
        }
    }

    #[test]
    fn valid_payloads_decode_to_their_samples(samples in prop::collection::vec(sample(), 1..4)) {
        // One time per sample, so no (metric, ts) repeats.
        let mut samples = samples;
        for (i, s) in samples.iter_mut().enumerate() {
            let ms = 1_000_000 + i64::try_from(i).unwrap_or(0);
            s.ts = Some((Value::from(ms), ms));
        }
        let want: Vec<Sample> = samples.iter().flat_map(expected).collect();
        let payload = if samples.len() == 1 {
            encode(&samples[0])
        } else {
            Value::Array(samples.iter().map(encode).collect())
        };
        let text = payload.to_string();
        let got = parse_payload(text.as_bytes(), NOW, 256 * 1024);
        prop_assert_eq!(got.map(sorted), Ok(sorted(want)));
    }

    #[test]
    fn the_fast_path_gives_what_the_value_path_gives(
        samples in prop::collection::vec(sample(), 1..4),
        json in any_json(),
    ) {
        let valid = if samples.len() == 1 {
            encode(&samples[0])
        } else {
            Value::Array(samples.iter().map(encode).collect())
        };
        for payload in [valid.to_string(), json.to_string()] {
            if let Some(fast) = fast::decode(payload.as_bytes(), NOW) {
                prop_assert_eq!(Ok(fast), decode_value(payload.as_bytes(), NOW), "{}", payload);
            }
        }
    }

    #[test]
    fn a_single_sample_keeps_its_own_time(s in sample()) {
        let text = encode(&s).to_string();
        let got = parse_payload(text.as_bytes(), NOW, 256 * 1024);
        prop_assert_eq!(got.map(sorted), Ok(sorted(expected(&s))));
    }
}
