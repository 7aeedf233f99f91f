//! The shadow of one device as a value: desired, reported, version, per-key update times,
//! and the rules that change it (desired patches, device reports, stale reports). Pure:
//! the actor loads and stores it, and publishes what these functions return.
//!
//! Versions: `version` increases by one with every change of desired or reported (a patch
//! or report that changes nothing changes no version). `desired_version` is the version
//! at which desired last changed; the desired document and the delta a device receives
//! carry the version current when they were sent.
//!
//! Reports: a plain JSON object is merged into reported. `{"version": n, "state": {...}}`
//! (exactly those two keys) is a versioned report: `n` is the version of the desired
//! document or delta the device last received. It is stale when `n < desired_version`
//! (desired changed after the device composed it): it is not applied, and the device is
//! sent the current delta. `n > version` names a version plantd never sent: rejected.

use std::collections::BTreeMap;

use plantd_contracts::json::merge_patch;
use plantd_contracts::shadow::{ShadowMetadata, ShadowView};
use plantd_contracts::time::{to_datetime, Millis};
use plantd_contracts::{DeviceId, DomainError};
use serde_json::{json, Map, Value};

use super::merge::{changed_keys, delta};

/// Largest desired or reported document (serialised JSON), and largest report payload.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shadow {
    pub desired: Map<String, Value>,
    pub reported: Map<String, Value>,
    pub version: i64,
    pub desired_version: i64,
    pub desired_times: BTreeMap<String, Millis>,
    pub reported_times: BTreeMap<String, Millis>,
    pub updated_at: Option<Millis>,
}

/// A device's report, parsed.
#[derive(Debug, PartialEq)]
pub struct Report {
    pub version: Option<i64>,
    pub state: Map<String, Value>,
}

/// Why a report was not applied (also the metric's `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    TooLarge,
    Malformed,
    NotObject,
    Stale,
    VersionAhead,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::TooLarge => "too_large",
            Rejection::Malformed => "malformed",
            Rejection::NotObject => "not_object",
            Rejection::Stale => "stale",
            Rejection::VersionAhead => "version_ahead",
        }
    }
}

/// Parses a `state/reported` payload (see the module's rules).
pub fn parse_report(payload: &[u8]) -> Result<Report, Rejection> {
    if payload.len() > MAX_DOCUMENT_BYTES {
        return Err(Rejection::TooLarge);
    }
    let value: Value = serde_json::from_slice(payload).map_err(|_| Rejection::Malformed)?;
    let Value::Object(mut map) = value else {
        return Err(Rejection::NotObject);
    };
    let versioned = map.len() == 2 && map.contains_key("version") && map.contains_key("state");
    if !versioned {
        return Ok(Report {
            version: None,
            state: map,
        });
    }
    let version = map.get("version").and_then(Value::as_i64);
    match (version, map.remove("state")) {
        (Some(version), Some(Value::Object(state))) => Ok(Report {
            version: Some(version),
            state,
        }),
        _ => Err(Rejection::Malformed),
    }
}

fn size_of(map: &Map<String, Value>) -> usize {
    serde_json::to_vec(map)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
}

fn stamp(
    times: &mut BTreeMap<String, Millis>,
    doc: &Map<String, Value>,
    keys: &[String],
    now: Millis,
) {
    for key in keys {
        if doc.contains_key(key) {
            times.insert(key.clone(), now);
        } else {
            times.remove(key);
        }
    }
}

impl Shadow {
    pub fn delta(&self) -> Map<String, Value> {
        delta(&self.desired, &self.reported)
    }

    /// Merges a patch into desired; returns whether anything changed.
    pub fn patch_desired(&mut self, patch: &Value, now: Millis) -> Result<bool, DomainError> {
        if !patch.is_object() {
            return Err(DomainError::invalid(
                "desired",
                "must be a JSON object (a merge patch: null deletes a key)",
            ));
        }
        let mut next = Value::Object(self.desired.clone());
        merge_patch(&mut next, patch);
        let Value::Object(next) = next else {
            return Err(DomainError::invalid("desired", "must be a JSON object"));
        };
        if next == self.desired {
            return Ok(false);
        }
        if size_of(&next) > MAX_DOCUMENT_BYTES {
            return Err(DomainError::invalid(
                "desired",
                format!("the desired document would exceed {MAX_DOCUMENT_BYTES} bytes"),
            ));
        }
        let keys = changed_keys(&self.desired, &next);
        stamp(&mut self.desired_times, &next, &keys, now);
        self.desired = next;
        self.version += 1;
        self.desired_version = self.version;
        self.updated_at = Some(now);
        Ok(true)
    }

    /// Applies a device's report; returns whether reported changed.
    pub fn apply_report(&mut self, report: &Report, now: Millis) -> Result<bool, Rejection> {
        if let Some(n) = report.version {
            if n > self.version {
                return Err(Rejection::VersionAhead);
            }
            if n < self.desired_version {
                return Err(Rejection::Stale);
            }
        }
        let mut next = Value::Object(self.reported.clone());
        merge_patch(&mut next, &Value::Object(report.state.clone()));
        let Value::Object(next) = next else {
            return Err(Rejection::NotObject);
        };
        if next == self.reported {
            return Ok(false);
        }
        if size_of(&next) > MAX_DOCUMENT_BYTES {
            return Err(Rejection::TooLarge);
        }
        let keys = changed_keys(&self.reported, &next);
        stamp(&mut self.reported_times, &next, &keys, now);
        self.reported = next;
        self.version += 1;
        self.updated_at = Some(now);
        Ok(true)
    }

    /// `{"version": n, "state": desired}`: the retained `state/desired` payload.
    pub fn desired_document(&self) -> Vec<u8> {
        json!({ "version": self.version, "state": self.desired })
            .to_string()
            .into_bytes()
    }

    /// `{"version": n, "state": delta}`: the `state/delta` payload.
    pub fn delta_document(&self, delta: &Map<String, Value>) -> Vec<u8> {
        json!({ "version": self.version, "state": delta })
            .to_string()
            .into_bytes()
    }

    pub fn view(&self, device_id: DeviceId) -> ShadowView {
        let times = |t: &BTreeMap<String, Millis>| {
            t.iter()
                .map(|(k, ms)| (k.clone(), to_datetime(*ms)))
                .collect()
        };
        ShadowView {
            device_id,
            version: self.version,
            desired_version: self.desired_version,
            desired: Value::Object(self.desired.clone()),
            reported: Value::Object(self.reported.clone()),
            delta: Value::Object(self.delta()),
            metadata: ShadowMetadata {
                desired: times(&self.desired_times),
                reported: times(&self.reported_times),
            },
            updated_at: self.updated_at.map(to_datetime),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(payload: &str) -> Report {
        parse_report(payload.as_bytes()).expect("a valid report")
    }

    #[test]
    fn versions_increase_only_on_change_and_times_follow_keys() {
        let mut s = Shadow::default();
        assert!(s
            .patch_desired(&json!({"speed": 20, "mode": "auto"}), 100)
            .expect("ok"));
        assert_eq!((s.version, s.desired_version), (1, 1));
        assert!(
            !s.patch_desired(&json!({"speed": 20}), 200).expect("ok"),
            "no change"
        );
        assert_eq!(s.version, 1);
        assert!(s
            .apply_report(&report(r#"{"speed": 20}"#), 300)
            .expect("applied"));
        assert_eq!((s.version, s.desired_version), (2, 1));
        assert_eq!(Value::Object(s.delta()), json!({"mode": "auto"}));
        assert!(!s
            .apply_report(&report(r#"{"speed": 20}"#), 400)
            .expect("applied"));
        assert_eq!(s.version, 2);
        assert!(s.patch_desired(&json!({"mode": null}), 500).expect("ok"));
        assert_eq!(s.version, 3);
        assert!(s.delta().is_empty());
        assert_eq!(s.desired_times.get("speed"), Some(&100));
        assert!(
            !s.desired_times.contains_key("mode"),
            "a deleted key has no time"
        );
        assert_eq!(s.reported_times.get("speed"), Some(&300));
    }

    #[test]
    fn stale_and_future_versioned_reports_are_rejected() {
        let mut s = Shadow::default();
        s.patch_desired(&json!({"speed": 20}), 1).expect("ok");
        s.apply_report(&report(r#"{"version": 1, "state": {"speed": 20}}"#), 2)
            .expect("current report applied");
        s.patch_desired(&json!({"speed": 30}), 3).expect("ok");
        let before = s.clone();
        assert_eq!(
            s.apply_report(&report(r#"{"version": 1, "state": {"speed": 25}}"#), 4),
            Err(Rejection::Stale)
        );
        assert_eq!(
            s.apply_report(&report(r#"{"version": 99, "state": {"speed": 25}}"#), 4),
            Err(Rejection::VersionAhead)
        );
        assert_eq!(s, before, "nothing applied");
        assert!(s
            .apply_report(&report(r#"{"version": 3, "state": {"speed": 30}}"#), 5)
            .expect("applied"));
        assert!(s.delta().is_empty());
    }

    #[test]
    fn bad_reports_are_told_apart() {
        assert_eq!(parse_report(b"not json"), Err(Rejection::Malformed));
        assert_eq!(parse_report(b"[1, 2]"), Err(Rejection::NotObject));
        assert_eq!(parse_report(b"42"), Err(Rejection::NotObject));
        assert_eq!(
            parse_report(br#"{"version": "x", "state": {}}"#),
            Err(Rejection::Malformed)
        );
        let big = format!(r#"{{"blob": "{}"}}"#, "x".repeat(MAX_DOCUMENT_BYTES));
        assert_eq!(parse_report(big.as_bytes()), Err(Rejection::TooLarge));
        assert_eq!(
            parse_report(br#"{"version": 3, "mode": "auto"}"#)
                .expect("plain")
                .version,
            None,
            "a plain report may have a key named version"
        );
    }

    #[test]
    fn desired_must_be_an_object_patch() {
        let mut s = Shadow::default();
        assert!(s.patch_desired(&json!([1]), 1).is_err());
        assert!(s.patch_desired(&json!("x"), 1).is_err());
        assert_eq!(s.version, 0);
    }
}
