//! Messages of the devices module: registry, credentials, presence.

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DeviceId, DomainError};

/// Provision a device: it gets a fresh secret, returned once in the reply.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<ProvisionedDevice, DomainError>")]
pub struct ProvisionDevice {
    pub id: DeviceId,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub asset_id: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

/// MQTT credentials of a device; the password is shown once and stored only as a digest.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceCredentials {
    pub username: String,
    pub password: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProvisionedDevice {
    #[serde(flatten)]
    pub device: DeviceView,
    pub credentials: DeviceCredentials,
}

/// What the registry knows of a device, presence included.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceView {
    pub id: DeviceId,
    pub name: String,
    pub kind: Option<String>,
    pub asset_id: Option<String>,
    pub metadata: serde_json::Value,
    pub enabled: bool,
    pub online: bool,
    pub last_seen: Option<DateTime<Utc>>,
    pub connected_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<Vec<DeviceView>, DomainError>")]
pub struct ListDevices;

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<DeviceView, DomainError>")]
pub struct GetDevice {
    pub id: DeviceId,
}

/// Check a device's login. Answered from memory: the broker asks on every connect.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "DeviceAuth")]
pub struct AuthenticateDevice {
    pub device_id: String,
    pub secret: String,
}

/// The answer to [`AuthenticateDevice`]; the reasons go to logs and metrics, never to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceAuth {
    Accepted,
    UnknownDevice,
    BadSecret,
    Disabled,
}

/// The broker accepted a device's connection. `session` orders the connections of one
/// device: a disconnect of an older session never marks a newer one offline.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct DeviceConnected {
    pub device_id: DeviceId,
    pub session: u64,
    pub protocol_version: u8,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct DeviceDisconnected {
    pub device_id: DeviceId,
    pub session: u64,
    pub at: DateTime<Utc>,
}

/// Write presence (`last_seen`) now, e.g. before a shutdown; online devices are marked
/// seen at this moment. Replies with the number of devices written.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<usize, DomainError>")]
pub struct PersistPresence;

/// A device published on one of its control topics, handed on as is by the gateway:
/// `subtopic` is what follows `devices/{id}/` — `state/reported`, `commands/{cmd}/result`
/// or `firmware/status`. The receiver parses and validates the payload.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct DeviceMessage {
    pub device_id: DeviceId,
    pub subtopic: String,
    pub payload: Vec<u8>,
    pub received_at: crate::time::Millis,
}
