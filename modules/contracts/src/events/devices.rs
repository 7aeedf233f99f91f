//! Payloads of the registry's events (`device.*`), emitted by the devices module.

use serde::{Deserialize, Serialize};

use crate::DeviceId;

/// The data of events that only name a device: provisioned, deleted, credentials rotated,
/// disabled, enabled, disconnected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRef {
    pub device_id: DeviceId,
}

/// `device.provisioned`: a new device, and the asset it is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceProvisioned {
    pub device_id: DeviceId,
    #[serde(default)]
    pub asset_id: Option<String>,
}

/// `device.updated`: which registry fields changed, and the labels and asset now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceUpdated {
    pub device_id: DeviceId,
    pub fields: Vec<String>,
    pub labels: Vec<String>,
    #[serde(default)]
    pub asset_id: Option<String>,
}

/// `device.connected`: the MQTT protocol level the device logged in with (4 = 3.1.1, 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceConnected {
    pub device_id: DeviceId,
    pub protocol_version: u8,
}
