//! The shadow's delta rule and changed keys (merge patches are
//! `plantd_contracts::json::merge_patch`). Pure functions on `serde_json` values; no I/O.
//!
//! The delta of `desired` against `reported`: for each key of `desired`,
//! - both values are objects → the delta of the two objects, if it is not empty;
//! - otherwise the desired value, if `reported` lacks the key or holds a different value
//!   (arrays, numbers, strings and booleans compare whole; `1` and `1.0` differ).
//!
//! Keys only `reported` has are not in the delta (AWS IoT / Azure twin semantics).

use serde_json::{Map, Value};

/// The keys of `desired` whose value `reported` does not hold (see the module's rule).
pub fn delta(desired: &Map<String, Value>, reported: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, want) in desired {
        match (want, reported.get(key)) {
            (Value::Object(want), Some(Value::Object(have))) => {
                let inner = delta(want, have);
                if !inner.is_empty() {
                    out.insert(key.clone(), Value::Object(inner));
                }
            }
            (want, Some(have)) if want == have => {}
            (want, _) => {
                out.insert(key.clone(), want.clone());
            }
        }
    }
    out
}

/// Top-level keys whose value differs between `before` and `after` (added, changed or
/// removed), for the per-key update times.
pub fn changed_keys(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<String> {
    let mut keys: Vec<String> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    keys.extend(after.keys().filter(|k| !before.contains_key(*k)).cloned());
    keys
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn delta_is_what_desired_wants_and_reported_lacks_recursively() {
        let desired = obj(json!({
            "speed": 20, "mode": "auto", "led": {"color": "red", "blink": true}, "list": [1, 2]
        }));
        let reported = obj(json!({
            "speed": 10, "mode": "auto", "led": {"color": "red", "blink": false},
            "list": [1, 2], "uptime": 5
        }));
        assert_eq!(
            Value::Object(delta(&desired, &reported)),
            json!({"speed": 20, "led": {"blink": true}})
        );
        assert!(delta(&desired, &desired).is_empty());
        assert_eq!(
            Value::Object(delta(&obj(json!({"a": {"b": 1}})), &obj(json!({"a": 3})))),
            json!({"a": {"b": 1}}),
            "an object wanted where a scalar is reported: the whole object"
        );
        assert!(delta(&obj(json!({})), &reported).is_empty());
    }

    #[test]
    fn changed_keys_sees_added_changed_and_removed() {
        let before = obj(json!({"a": 1, "b": 2, "c": 3}));
        let after = obj(json!({"a": 1, "b": 5, "d": 4}));
        let mut keys = changed_keys(&before, &after);
        keys.sort();
        assert_eq!(keys, vec!["b", "c", "d"]);
    }
}
