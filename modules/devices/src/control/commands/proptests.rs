//! Property tests of the command-result decoder (issue 14.14; the fuzz target
//! `fuzz/fuzz_targets/command_result.rs` runs it for longer): any bytes are answered with a
//! result or one of the two rejection reasons, and a result of any status and detail is
//! stored as exactly `{"status", "detail"}` and decodes to itself. Pure: no I/O.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

fn detail() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_get_a_result_or_a_reason(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        match parse_result(&bytes) {
            Ok(outcome) => prop_assert_eq!(outcome.result.as_object().map(|m| m.len()), Some(2)),
            Err(reason) => prop_assert!(matches!(reason, "malformed" | "too_large")),
        }
    }

    #[test]
    fn results_are_stored_as_status_and_detail(
        status in prop_oneof![Just("ok".to_owned()), Just("error".to_owned()), "[a-z]{0,5}"],
        detail in prop::option::of(detail()),
        extra in prop::option::of(detail()),
    ) {
        let mut payload = json!({ "status": status });
        if let Some(d) = &detail {
            payload["detail"] = d.clone();
        }
        if let Some(e) = extra {
            payload["extra"] = e;
        }
        let got = parse_result(payload.to_string().as_bytes());
        if !matches!(status.as_str(), "ok" | "error") {
            prop_assert_eq!(got, Err("malformed"));
            return Ok(());
        }
        let want = json!({ "status": status, "detail": detail.unwrap_or(Value::Null) });
        let outcome = got.map_err(|r| TestCaseError::fail(r.to_owned()))?;
        prop_assert_eq!(outcome.ok, status == "ok");
        prop_assert_eq!(&outcome.result, &want);
        prop_assert_eq!(parse_result(want.to_string().as_bytes()), Ok(outcome));
    }
}
