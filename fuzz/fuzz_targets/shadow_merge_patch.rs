//! Fuzz target: the shadow's JSON merge patch (RFC 7396, `merge_patch`) and the
//! `state/reported` decoder (`parse_report`) with the shadow rules that apply it.
//! The input is a stream of JSON values: a target document, a patch and a report.
//! Beyond "no panic": a patch applied twice is applied once; `null` removes its key and
//! every other key of the patch is merged recursively, keys the patch does not name keep
//! their value; a non-object patch replaces the target. On the shadow: the version moves by
//! one exactly when something changed, the delta names only keys of desired, documents stay
//! under the size limit, and a report applied again changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plantd_contracts::json::merge_patch;
use plantd_devices::fuzzing::{parse_report, Rejection, Shadow, MAX_DOCUMENT_BYTES};
use serde_json::Value;

/// Checks `after` = `before` patched with `patch`, by RFC 7396's rules, recursively.
fn check(before: &Value, patch: &Value, after: &Value) {
    let Value::Object(patch) = patch else {
        assert_eq!(after, patch, "a non-object patch replaces the target");
        return;
    };
    let Value::Object(after) = after else {
        panic!("an object patch gives an object: {after}");
    };
    let empty = serde_json::Map::new();
    let before = before.as_object().unwrap_or(&empty);
    for (key, value) in patch {
        match (value, after.get(key)) {
            (Value::Null, None) => {}
            (Value::Null, Some(v)) => panic!("null kept key {key}: {v}"),
            (_, None) => panic!("patched key {key} missing"),
            (value, Some(got)) => check(before.get(key).unwrap_or(&Value::Null), value, got),
        }
    }
    for (key, value) in before {
        if !patch.contains_key(key) {
            assert_eq!(after.get(key), Some(value), "untouched key {key}");
        }
    }
    for key in after.keys() {
        assert!(
            before.contains_key(key) || patch.contains_key(key),
            "new key {key}"
        );
    }
}

fn size(map: &serde_json::Map<String, Value>) -> usize {
    serde_json::to_vec(map).map_or(usize::MAX, |v| v.len())
}

fn shadow_rules(s: &mut Shadow, patch: &Value, report: &[u8]) {
    let before = s.clone();
    match s.patch_desired(patch, 10) {
        Ok(true) => {
            assert_eq!(
                (s.version, s.desired_version),
                (before.version + 1, s.version)
            );
            assert_ne!(s.desired, before.desired);
        }
        Ok(false) | Err(_) => assert_eq!(*s, before, "unchanged"),
    }
    assert!(size(&s.desired) <= MAX_DOCUMENT_BYTES);
    let parsed = parse_report(report);
    if report.len() > MAX_DOCUMENT_BYTES {
        assert_eq!(parsed.as_ref().err(), Some(&Rejection::TooLarge));
    }
    let Ok(report) = parsed else { return };
    let before = s.clone();
    match s.apply_report(&report, 20) {
        Ok(true) => {
            assert_eq!(s.version, before.version + 1);
            assert_eq!(s.desired_version, before.desired_version);
            assert_ne!(s.reported, before.reported);
            let mut again = s.clone();
            assert_eq!(
                again.apply_report(&report, 30),
                Ok(false),
                "applied twice = once"
            );
            assert_eq!(again, *s);
        }
        Ok(false) | Err(_) => assert_eq!(*s, before, "unchanged"),
    }
    assert!(size(&s.reported) <= MAX_DOCUMENT_BYTES);
    let delta = s.delta();
    assert!(
        delta.keys().all(|k| s.desired.contains_key(k)),
        "delta ⊆ desired"
    );
    if s.desired == s.reported {
        assert!(delta.is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    // The whole input as a report payload: the decoder on raw bytes.
    let _ = parse_report(data);
    let mut values = serde_json::Deserializer::from_slice(data).into_iter::<Value>();
    let (Some(Ok(target)), Some(Ok(patch))) = (values.next(), values.next()) else {
        return;
    };
    let mut once = target.clone();
    merge_patch(&mut once, &patch);
    check(&target, &patch, &once);
    let mut twice = once.clone();
    merge_patch(&mut twice, &patch);
    assert_eq!(once, twice, "applying a patch twice = once");

    let report = match values.next() {
        Some(Ok(report)) => serde_json::to_vec(&report).unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut s = Shadow::default();
    if target.is_object() {
        shadow_rules(&mut s, &target, &[]);
    }
    shadow_rules(&mut s, &patch, &report);
});
