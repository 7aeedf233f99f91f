//! The fast path of payload decoding, for the shape devices send: a sample object or an
//! array of them, `ts` absent, null, an integer or an unescaped string, `values` of numbers
//! and booleans under valid metric names, no `units`. It reads the bytes straight into
//! names borrowed from the payload, without building a `serde_json::Value` tree (which
//! cost an allocation per key and per map, and a copy of each metric name).
//!
//! It decides nothing on its own: anything else — every payload to reject, and the rare
//! shapes (units, escaped names, repeated keys) — returns `None`, and the `Value` path in
//! `validate.rs` answers with its reasons. So a payload accepted here gets exactly the
//! samples that path gives, in its order (metric names sorted within an object, as its
//! `BTreeMap` has them).

use std::borrow::Cow;
use std::fmt;

use plantd_contracts::ids::is_valid_metric_name;
use plantd_contracts::time::{parse_time, Millis};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Sample, MAX_FUTURE_MS};

/// A sample's `ts` as sent.
enum Ts<'a> {
    Absent,
    Millis(i64),
    Text(&'a str),
}

/// One sample object as sent.
struct Object<'a> {
    ts: Ts<'a>,
    values: Vec<(&'a str, f64)>,
}

/// The samples of `payload` when it has the common shape and every rule holds; `None`
/// otherwise (the `Value` path decides then).
pub(super) fn decode(payload: &[u8], received_at: Millis) -> Option<Vec<Sample<'_>>> {
    let mut de = serde_json::Deserializer::from_slice(payload);
    let objects = Payload::deserialize(&mut de).ok()?.0;
    de.end().ok()?;
    let mut samples = Vec::with_capacity(objects.iter().map(|o| o.values.len()).sum());
    for object in objects {
        let ts = match object.ts {
            Ts::Absent => received_at,
            Ts::Millis(ms) => ms,
            Ts::Text(text) => parse_time(text)?,
        };
        if ts < 0 || ts > received_at + MAX_FUTURE_MS {
            return None;
        }
        let mut values = object.values;
        if values.is_empty() {
            return None;
        }
        values.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (metric, value) in values {
            if !is_valid_metric_name(metric) || !value.is_finite() {
                return None;
            }
            samples.push(Sample {
                metric: Cow::Borrowed(metric),
                ts,
                value,
                unit: None,
            });
        }
    }
    // A repeated (metric, ts): the `Value` path rejects it, or keeps the last of a repeated
    // key; either way it decides.
    let mut seen = std::collections::HashSet::with_capacity(samples.len());
    if !samples
        .iter()
        .all(|s| seen.insert((s.metric.as_ref(), s.ts)))
    {
        return None;
    }
    Some(samples)
}

/// The payload: one object or a non-empty array of them.
struct Payload<'a>(Vec<Object<'a>>);

impl<'de> Deserialize<'de> for Payload<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PayloadVisitor;
        impl<'de> Visitor<'de> for PayloadVisitor {
            type Value = Payload<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sample object or an array of them")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Ok(Payload(vec![object(map)?]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut objects = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(o) = seq.next_element::<Object<'de>>()? {
                    objects.push(o);
                }
                if objects.is_empty() {
                    return Err(de::Error::custom("empty"));
                }
                Ok(Payload(objects))
            }
        }
        deserializer.deserialize_any(PayloadVisitor)
    }
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sample object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                object(map)
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// A sample object's fields; a repeated `ts` or `values`, or any `units`, leaves it to the
/// `Value` path.
fn object<'de, A: MapAccess<'de>>(mut map: A) -> Result<Object<'de>, A::Error> {
    let mut ts = None;
    let mut values = None;
    while let Some(key) = map.next_key::<&'de str>()? {
        match key {
            "ts" if ts.is_none() => ts = Some(map.next_value::<TsField<'de>>()?.0),
            "values" if values.is_none() => values = Some(map.next_value::<Values<'de>>()?.0),
            "ts" | "values" | "units" => return Err(de::Error::custom("not the common shape")),
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(Object {
        ts: ts.unwrap_or(Ts::Absent),
        values: values.ok_or_else(|| de::Error::custom("no values"))?,
    })
}

struct TsField<'a>(Ts<'a>);

impl<'de> Deserialize<'de> for TsField<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TsVisitor;
        impl<'de> Visitor<'de> for TsVisitor {
            type Value = TsField<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("epoch milliseconds, a time text or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(TsField(Ts::Absent))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(TsField(Ts::Millis(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(|v| TsField(Ts::Millis(v)))
                    .map_err(E::custom)
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(TsField(Ts::Text(v)))
            }
        }
        deserializer.deserialize_any(TsVisitor)
    }
}

struct Values<'a>(Vec<(&'a str, f64)>);

impl<'de> Deserialize<'de> for Values<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValuesVisitor;
        impl<'de> Visitor<'de> for ValuesVisitor {
            type Value = Values<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of metric values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut values = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(metric) = map.next_key::<&'de str>()? {
                    values.push((metric, map.next_value::<Number>()?.0));
                }
                Ok(Values(values))
            }
        }
        deserializer.deserialize_map(ValuesVisitor)
    }
}

/// A metric value: a number, or a boolean as 1 or 0.
struct Number(f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl Visitor<'_> for NumberVisitor {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Number, E> {
                Ok(Number(f64::from(u8::from(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
        }
        deserializer.deserialize_any(NumberVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000;

    #[test]
    fn the_common_shape_decodes_without_the_value_tree() {
        let one = decode(
            br#"{"ts": 1000, "values": {"b": true, "a": 2.5}, "x": [1]}"#,
            NOW,
        )
        .expect("common shape");
        let got: Vec<_> = one
            .iter()
            .map(|s| (s.metric.as_ref(), s.ts, s.value))
            .collect();
        assert_eq!(
            got,
            vec![("a", 1000, 2.5), ("b", 1000, 1.0)],
            "sorted by name"
        );
        let many = decode(
            br#"[{"values": {"a": 1}}, {"ts": "1970-01-01T00:00:02Z", "values": {"a": 2}}]"#,
            NOW,
        )
        .expect("array");
        assert_eq!(many[0].ts, NOW);
        assert_eq!(many[1].ts, 2000);
    }

    #[test]
    fn everything_else_is_left_to_the_value_path() {
        for payload in [
            &br#"{"values": {"a": 1}, "units": {"a": "V"}}"#[..],
            br#"{"values": {"a": 1, "a": 2}}"#,
            br#"{"ts": 1, "ts": 2, "values": {"a": 1}}"#,
            br#"{"values": {"\u0061": 1}}"#,
            br#"{"values": {"A": 1}}"#,
            br#"{"values": {"a": "1"}}"#,
            br#"{"values": {}}"#,
            br#"{"ts": 1.5, "values": {"a": 1}}"#,
            br#"{"ts": -1, "values": {"a": 1}}"#,
            br#"[]"#,
            br#"[1]"#,
            br#"{"values": {"a": 1}} x"#,
            br#"{"nope""#,
        ] {
            assert!(
                decode(payload, NOW).is_none(),
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
    }
}
