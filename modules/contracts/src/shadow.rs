//! Messages of the device shadow (the devices module's `Control` actor): the desired and
//! reported state of a device, the delta between them, a version and per-key update times.

use std::collections::BTreeMap;

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DeviceId, DomainError};

/// Update times of top-level keys (a key deleted by a merge patch loses its time).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowMetadata {
    pub desired: BTreeMap<String, DateTime<Utc>>,
    pub reported: BTreeMap<String, DateTime<Utc>>,
}

/// A device's shadow. `delta` holds the keys of `desired` whose value differs from
/// `reported` (compared recursively through objects). `version` increases with every
/// change of `desired` or `reported`; `desired_version` is the version at which `desired`
/// last changed (a versioned report older than it is stale).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowView {
    pub device_id: DeviceId,
    pub version: i64,
    pub desired_version: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub desired: serde_json::Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub reported: serde_json::Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub delta: serde_json::Value,
    pub metadata: ShadowMetadata,
    /// When desired or reported last changed; absent for a shadow never written.
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<ShadowView, DomainError>")]
pub struct GetShadow {
    pub device_id: DeviceId,
}

/// Merge `patch` (RFC 7396: `null` deletes a key) into the desired state; the device is
/// sent the new desired document (retained) and, if it is online, the delta.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<ShadowView, DomainError>")]
pub struct UpdateDesired {
    pub device_id: DeviceId,
    pub patch: serde_json::Value,
    /// Who asked, for the log.
    pub by: String,
}
