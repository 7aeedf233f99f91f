//! Fuzz target: the command-result decoder (`devices/{id}/commands/{cmd}/result`,
//! `parse_result`). Beyond "no panic": a decoded result is stored as exactly
//! `{"status": "ok" | "error", "detail": …}` with `ok` matching its status, a rejection is
//! one of the two metric reasons, and a stored result decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plantd_devices::fuzzing::{parse_result, MAX_RESULT_BYTES};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let outcome = match parse_result(data) {
        Ok(outcome) => outcome,
        Err(reason) => {
            assert!(matches!(reason, "too_large" | "malformed"), "{reason}");
            assert_eq!(reason == "too_large", data.len() > MAX_RESULT_BYTES);
            return;
        }
    };
    let Value::Object(stored) = &outcome.result else {
        panic!("stored result is not an object: {}", outcome.result);
    };
    assert_eq!(stored.len(), 2, "{stored:?}");
    let status = if outcome.ok { "ok" } else { "error" };
    assert_eq!(stored.get("status"), Some(&Value::from(status)));
    let input: Value = serde_json::from_slice(data).expect("it decoded once");
    let detail = input.get("detail").cloned().unwrap_or(Value::Null);
    assert_eq!(stored.get("detail"), Some(&detail));
    let bytes = serde_json::to_vec(&outcome.result).expect("serialise");
    if bytes.len() <= MAX_RESULT_BYTES {
        assert_eq!(
            parse_result(&bytes),
            Ok(outcome),
            "a stored result decodes to itself"
        );
    }
});
