//! Payloads of the shadow and command events (`shadow.*`, `command.*`), emitted by the
//! devices module's `Control` actor.

use serde::{Deserialize, Serialize};

use crate::DeviceId;

/// `shadow.updated`: the desired document changed; `version` is the shadow's version now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowUpdated {
    pub device_id: DeviceId,
    pub version: i64,
}

/// The data of every command event: which command of which device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRef {
    pub device_id: DeviceId,
    pub command_id: String,
    pub name: String,
}
