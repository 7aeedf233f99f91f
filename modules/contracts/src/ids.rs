//! Identifiers shared across modules, validated once at the edge.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A device id as the MQTT contract defines it: `[a-z0-9][a-z0-9_-]{0,63}`.
///
/// Shared, not copied: ingest clones a sample's device id several times on its way to
/// storage and to the modules that read the stream, so a clone is a reference count.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", example = "press-01"))]
pub struct DeviceId(Arc<str>);

impl DeviceId {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        if is_valid_device_id(value) {
            Ok(DeviceId(Arc::from(value)))
        } else {
            Err(DomainError::invalid(
                "id",
                "device ids are 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DeviceId {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        DeviceId::parse(&value)
    }
}

impl From<DeviceId> for String {
    fn from(value: DeviceId) -> Self {
        value.0.as_ref().to_owned()
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[a-z0-9][a-z0-9_-]{0,63}`
pub fn is_valid_device_id(value: &str) -> bool {
    let bytes = value.as_bytes();
    match bytes.first() {
        Some(first) if first.is_ascii_lowercase() || first.is_ascii_digit() => {}
        _ => return false,
    }
    bytes.len() <= 64
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

/// `[a-z][a-z0-9_]{0,63}`: the names of telemetry metrics.
pub fn is_valid_metric_name(value: &str) -> bool {
    let bytes = value.as_bytes();
    match bytes.first() {
        Some(first) if first.is_ascii_lowercase() => {}
        _ => return false,
    }
    bytes.len() <= 64
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

/// API token ids carry a `.`, which no device id may contain, so the broker can tell a
/// token login from a device login by the username alone.
pub const TOKEN_ID_PREFIX: &str = "tok.";

pub fn is_token_id(value: &str) -> bool {
    value.starts_with(TOKEN_ID_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_follow_the_contract() {
        assert!(is_valid_device_id("press-01"));
        assert!(is_valid_device_id("0"));
        assert!(is_valid_device_id(&"a".repeat(64)));
        assert!(!is_valid_device_id(&"a".repeat(65)));
        assert!(!is_valid_device_id(""));
        assert!(!is_valid_device_id("-a"));
        assert!(!is_valid_device_id("Press"));
        assert!(!is_valid_device_id("a/b"));
        assert!(!is_valid_device_id("tok.abc"));
    }

    #[test]
    fn metric_names_follow_the_contract() {
        assert!(is_valid_metric_name("vibration_rms_mm_s"));
        assert!(!is_valid_metric_name("1abc"));
        assert!(!is_valid_metric_name("Temp"));
        assert!(!is_valid_metric_name("a-b"));
    }
}
