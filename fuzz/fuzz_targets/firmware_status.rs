//! Fuzz target: the `firmware/status` decoder (`StatusReport` from JSON, then `clip` to the
//! settings' limits, as the firmware actor does). Beyond "no panic": after clipping, the
//! version and the detail fit their limits, a clipped field ends with the marker (so a
//! clipped version never equals a campaign's), the clipped list says what changed, and
//! clipping again changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plantd_contracts::firmware::TargetState;
use plantd_devices::fuzzing::StatusReport;
use serde_json::Value;

/// (detail, version) limits: the defaults and the settings' minimums.
const LIMITS: [(usize, usize); 2] = [(1024, 64), (64, 16)];

fn detail_text(detail: &Value) -> String {
    match detail {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(report) = serde_json::from_slice::<StatusReport>(data) else {
        return;
    };
    if let Some(state) = TargetState::parse(&report.state) {
        assert_eq!(state.as_str(), report.state);
    }
    for (max_detail, max_version) in LIMITS {
        let mut r = report.clone();
        let fields = r.clip(max_detail, max_version);
        assert_eq!(r.campaign, report.campaign);
        assert_eq!(r.state, report.state);
        let version_clipped = report
            .version
            .as_ref()
            .is_some_and(|v| v.len() > max_version);
        assert_eq!(fields.contains(&"version"), version_clipped, "{fields:?}");
        if let Some(v) = &r.version {
            assert!(v.len() <= max_version, "{} bytes", v.len());
            // A device may send the marker itself: only a cut one must end with it.
            if version_clipped {
                assert!(v.ends_with('…'));
                let before = report.version.as_deref().unwrap_or_default();
                assert!(before.starts_with(v.trim_end_matches('…')));
            }
        } else {
            assert!(report.version.is_none());
        }
        let detail_clipped = report
            .detail
            .as_ref()
            .is_some_and(|d| detail_text(d).len() > max_detail);
        assert_eq!(fields.contains(&"detail"), detail_clipped, "{fields:?}");
        match (&report.detail, &r.detail) {
            (None, None) => {}
            (Some(before), Some(after)) if !detail_clipped => assert_eq!(before, after),
            (Some(_), Some(Value::String(after))) => {
                assert!(after.len() <= max_detail && after.ends_with('…'));
            }
            other => panic!("detail changed shape: {other:?}"),
        }
        let mut again = r.clone();
        assert!(
            again.clip(max_detail, max_version).is_empty(),
            "clip is idempotent"
        );
        assert_eq!(again.version, r.version);
        assert_eq!(again.detail, r.detail);
    }
});
