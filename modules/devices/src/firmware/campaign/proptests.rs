//! Property tests of the `firmware/status` decoder (issue 14.14; the fuzz target
//! `fuzz/fuzz_targets/firmware_status.rs` runs it for longer): a report of any campaign,
//! state, version and detail decodes, and `clip` holds version and detail to their limits
//! at a character boundary, marks what it cut (so a clipped version never equals a
//! campaign's), says which fields it cut, and changes nothing the second time. Pure.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

fn detail() -> impl Strategy<Value = Value> {
    prop_oneof![
        ".{0,80}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::collection::btree_map("[a-z]{1,8}", ".{0,20}", 0..4).prop_map(|m| json!(m)),
    ]
}

fn text(detail: &Value) -> String {
    match detail {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn reports_decode_and_clip_to_their_limits(
        campaign in ".{0,20}",
        state in prop_oneof![
            prop::sample::select(vec!["downloading", "installing", "done", "failed"])
                .prop_map(str::to_owned),
            ".{0,8}",
        ],
        version in prop::option::of(".{0,40}"),
        detail in prop::option::of(detail()),
        max_detail in 3usize..64,
        max_version in 3usize..24,
    ) {
        let mut payload = json!({ "campaign": campaign, "state": state });
        if let Some(v) = &version {
            payload["version"] = json!(v);
        }
        if let Some(d) = &detail {
            payload["detail"] = d.clone();
        }
        let mut report: StatusReport = serde_json::from_slice(payload.to_string().as_bytes())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&report.campaign, &campaign);
        prop_assert_eq!(&report.version, &version);
        let fields = report.clip(max_detail, max_version);
        let version_cut = version.as_ref().is_some_and(|v| v.len() > max_version);
        let detail_cut = detail.as_ref().is_some_and(|d| text(d).len() > max_detail);
        prop_assert_eq!(fields.contains(&"version"), version_cut);
        prop_assert_eq!(fields.contains(&"detail"), detail_cut);
        if let Some(v) = &report.version {
            prop_assert!(v.len() <= max_version);
            // A device may send the marker itself: only a cut one must end with it.
            if version_cut {
                prop_assert!(v.ends_with(CLIPPED));
                prop_assert_ne!(Some(v), version.as_ref());
            }
        }
        match &report.detail {
            Some(Value::String(d)) if detail_cut => {
                prop_assert!(d.len() <= max_detail && d.ends_with(CLIPPED));
                prop_assert!(text(detail.as_ref().unwrap_or(&Value::Null)).starts_with(d.trim_end_matches(CLIPPED)));
            }
            other => prop_assert_eq!(other, &detail),
        }
        let before = (report.version.clone(), report.detail.clone());
        prop_assert!(report.clip(max_detail, max_version).is_empty());
        prop_assert_eq!((report.version, report.detail), before);
    }
}
