//! Command rules as values: validating a new command, its id, what is published to the
//! device, and parsing the device's result. Pure; the actor stores and publishes.

use plantd_contracts::commands::SendCommand;
use plantd_contracts::time::{format_ms, Millis};
use plantd_contracts::DomainError;
use serde_json::{json, Map, Value};

/// Seconds a command waits for delivery and an answer when the caller names no timeout.
pub const DEFAULT_TIMEOUT_S: u64 = 300;
pub const MAX_TIMEOUT_S: u64 = 7 * 24 * 3600;
/// Largest `args` (serialised JSON) and largest result payload.
pub const MAX_ARGS_BYTES: usize = 16 * 1024;
pub const MAX_RESULT_BYTES: usize = 64 * 1024;

/// A command ready to store: checked name, args object, expiry.
#[derive(Debug, PartialEq)]
pub struct NewCommand {
    pub name: String,
    pub args: Map<String, Value>,
    pub timeout_ms: Millis,
}

pub fn validate(msg: &SendCommand) -> Result<NewCommand, DomainError> {
    let name = msg.name.trim();
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !name_ok {
        return Err(DomainError::invalid(
            "name",
            "1-64 characters of A-Z, a-z, 0-9, '_', '-' and '.'",
        ));
    }
    let args = match &msg.args {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(DomainError::invalid("args", "must be a JSON object")),
    };
    if serde_json::to_vec(&args).map_or(true, |v| v.len() > MAX_ARGS_BYTES) {
        return Err(DomainError::invalid(
            "args",
            format!("at most {MAX_ARGS_BYTES} bytes of JSON"),
        ));
    }
    let timeout_s = msg.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
    if !(1..=MAX_TIMEOUT_S).contains(&timeout_s) {
        return Err(DomainError::invalid(
            "timeout_s",
            format!("1 to {MAX_TIMEOUT_S} seconds"),
        ));
    }
    Ok(NewCommand {
        name: name.to_owned(),
        args,
        timeout_ms: (timeout_s * 1000) as Millis,
    })
}

/// A new command id: creation time (hex milliseconds) then random bits, so ids sort by
/// creation and are safe as an MQTT topic level.
pub fn new_id(now: Millis) -> String {
    format!("{:012x}{}", now.max(0), plantd_secrets::random_hex(5))
}

/// Whether `id` could be a command id (it is used in topics and queries).
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What the device receives on `devices/{id}/commands/{cmd}`.
pub fn payload(name: &str, args: &Value, expires_at: Millis) -> Vec<u8> {
    json!({ "name": name, "args": args, "expires_at": format_ms(expires_at) })
        .to_string()
        .into_bytes()
}

/// A device's answer on `commands/{cmd}/result`: `{"status": "ok" | "error", "detail": any}`.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    /// The answer as stored: `{"status", "detail"}`.
    pub result: Value,
}

pub fn parse_result(payload: &[u8]) -> Result<Outcome, &'static str> {
    if payload.len() > MAX_RESULT_BYTES {
        return Err("too_large");
    }
    let value: Value = serde_json::from_slice(payload).map_err(|_| "malformed")?;
    let ok = match value.get("status").and_then(Value::as_str) {
        Some("ok") => true,
        Some("error") => false,
        _ => return Err("malformed"),
    };
    let detail = value.get("detail").cloned().unwrap_or(Value::Null);
    Ok(Outcome {
        ok,
        result: json!({ "status": if ok { "ok" } else { "error" }, "detail": detail }),
    })
}

#[cfg(test)]
mod tests {
    use plantd_contracts::DeviceId;

    use super::*;

    fn send(name: &str, args: Option<Value>, timeout_s: Option<u64>) -> SendCommand {
        SendCommand {
            device_id: DeviceId::parse("d1").expect("id"),
            name: name.to_owned(),
            args,
            timeout_s,
            by: "test".to_owned(),
        }
    }

    #[test]
    fn validation_rules() {
        let ok = validate(&send("reboot", None, None)).expect("valid");
        assert_eq!(ok.timeout_ms, 300_000);
        assert!(ok.args.is_empty());
        assert!(validate(&send("", None, None)).is_err());
        assert!(validate(&send("a b", None, None)).is_err());
        assert!(validate(&send(&"x".repeat(65), None, None)).is_err());
        assert!(validate(&send("set", Some(json!([1])), None)).is_err());
        assert!(validate(&send("set", Some(json!({"a": 1})), Some(0))).is_err());
        assert!(validate(&send("set", Some(json!({"a": 1})), Some(MAX_TIMEOUT_S + 1))).is_err());
        let big = json!({ "x": "y".repeat(MAX_ARGS_BYTES) });
        assert!(validate(&send("set", Some(big), None)).is_err());
    }

    #[test]
    fn ids_sort_by_time_and_are_topic_safe() {
        let a = new_id(1_000);
        let b = new_id(2_000);
        assert!(a < b);
        assert!(is_valid_id(&a) && is_valid_id(&b));
        assert!(!is_valid_id("../x"));
        assert!(!is_valid_id("+"));
    }

    #[test]
    fn results_are_ok_or_error_with_any_detail() {
        let ok = parse_result(br#"{"status": "ok", "detail": {"took_ms": 5}}"#).expect("ok");
        assert!(ok.ok);
        assert_eq!(ok.result["detail"]["took_ms"], 5);
        let err = parse_result(br#"{"status": "error"}"#).expect("error result");
        assert!(!err.ok);
        assert_eq!(err.result["detail"], Value::Null);
        assert_eq!(parse_result(br#"{"status": "maybe"}"#), Err("malformed"));
        assert_eq!(parse_result(b"nope"), Err("malformed"));
    }
}

#[cfg(test)]
mod proptests;
