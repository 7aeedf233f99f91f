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
    /// Labels (`[a-z0-9][a-z0-9_.:-]{0,63}`, at most 32); stored sorted, without duplicates.
    #[serde(default)]
    pub labels: Vec<String>,
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
    pub labels: Vec<String>,
    pub enabled: bool,
    pub online: bool,
    pub last_seen: Option<DateTime<Utc>>,
    pub connected_since: Option<DateTime<Utc>>,
    /// The peer's address, when the broker can tell it (the embedded broker cannot yet).
    pub client_address: Option<String>,
    /// MQTT protocol level of the live (or last) session: 4 = 3.1.1, 5 = 5.
    pub protocol_version: Option<u8>,
    /// PUBLISH packets received from the device since plantd started.
    pub messages_in: u64,
    pub last_message_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A device's state as the list filter names it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceState {
    /// Enabled and connected.
    Online,
    /// Enabled and not connected.
    Offline,
    Disabled,
}

impl DeviceState {
    /// `online`, `offline` or `disabled`.
    pub fn parse(raw: &str) -> Option<DeviceState> {
        match raw {
            "online" => Some(DeviceState::Online),
            "offline" => Some(DeviceState::Offline),
            "disabled" => Some(DeviceState::Disabled),
            _ => None,
        }
    }
}

/// Devices in id order, filtered; `after` is the previous page's last id (the cursor) and
/// `limit` the page size (`None`: all).
#[derive(Debug, Clone, Default, Serialize, Deserialize, Message)]
#[rtype(result = "Result<DevicePage, DomainError>")]
pub struct ListDevices {
    pub state: Option<DeviceState>,
    pub kind: Option<String>,
    pub label: Option<String>,
    pub after: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevicePage {
    pub items: Vec<DeviceView>,
    /// The id to pass as `after` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The orders a device table can be sorted in (ties broken by id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceSort {
    #[default]
    Id,
    Name,
    Kind,
    State,
    LastSeen,
}

impl DeviceSort {
    pub const ALL: [DeviceSort; 5] = [
        DeviceSort::Id,
        DeviceSort::Name,
        DeviceSort::Kind,
        DeviceSort::State,
        DeviceSort::LastSeen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceSort::Id => "id",
            DeviceSort::Name => "name",
            DeviceSort::Kind => "kind",
            DeviceSort::State => "state",
            DeviceSort::LastSeen => "last_seen",
        }
    }

    pub fn parse(raw: &str) -> Option<DeviceSort> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// One window of the devices that pass the filters (as `ListDevices`, plus `q`: a piece of
/// the id or name, any case), in the order asked; the reply counts them all.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Message)]
#[rtype(result = "Result<crate::window::Windowed<DeviceView>, DomainError>")]
pub struct BrowseDevices {
    pub state: Option<DeviceState>,
    pub kind: Option<String>,
    pub label: Option<String>,
    pub q: Option<String>,
    pub sort: DeviceSort,
    pub dir: crate::window::SortDir,
    pub window: crate::window::Window,
}

/// How a patch changes the metadata object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MetadataChange {
    /// RFC 7396 JSON merge patch: members set to `null` are removed, objects merge.
    Merge(serde_json::Value),
    /// The whole object is replaced.
    Replace(serde_json::Value),
}

/// Change a device's registry fields; `None` leaves a field as it is. For `kind` and
/// `asset_id`, an empty string clears the field. `labels` replaces the whole set.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<DeviceView, DomainError>")]
pub struct PatchDevice {
    pub id: DeviceId,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub asset_id: Option<String>,
    pub metadata: Option<MetadataChange>,
    pub labels: Option<Vec<String>>,
}

/// Delete a device: its live session is cut, it can no longer log in, and its id is kept
/// (as a tombstone) so it is never given to another device.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<(), DomainError>")]
pub struct DeleteDevice {
    pub id: DeviceId,
}

/// Give a device a new secret (returned once); the old one stops working at once and a
/// live session of the device is cut.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<DeviceCredentials, DomainError>")]
pub struct RotateCredentials {
    pub id: DeviceId,
}

/// Disable (live session cut, logins refused with "not authorized") or enable a device.
/// Setting the state it already has changes nothing.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<DeviceView, DomainError>")]
pub struct SetDeviceEnabled {
    pub id: DeviceId,
    pub enabled: bool,
}

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
    /// The device proved its id with a client certificate the broker verified (TLS with
    /// `tls_client_ca_file`): the secret is not checked, the device must exist and be
    /// enabled.
    #[serde(default)]
    pub certified: bool,
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
    /// The peer's address, if the broker knows it.
    #[serde(default)]
    pub client_address: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct DeviceDisconnected {
    pub device_id: DeviceId,
    pub session: u64,
    pub at: DateTime<Utc>,
}

/// Traffic of device sessions since the previous report, sent by the broker about once a
/// second: presence ("last seen") moves with traffic, not only with connects.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct DeviceTraffic {
    pub entries: Vec<TrafficEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrafficEntry {
    pub device_id: DeviceId,
    /// PUBLISH packets received from the device.
    pub messages_in: u64,
    pub last_message_at: crate::time::Millis,
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

/// Finish what was accepted: the reply comes once every message received before this one
/// is handled and its changes are written. Shutdown sends it after the broker drained, so
/// a device report acknowledged just before a stop is not lost.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<(), DomainError>")]
pub struct FlushPending;

/// The dashboard's device figures, counted in memory by the registry (`state` as in
/// [`ListDevices`]: online and offline are enabled devices; disabled ones are neither).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, Message)]
#[rtype(result = "DeviceCounts")]
pub struct CountDevices;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCounts {
    pub total: u64,
    pub online: u64,
    pub offline: u64,
    pub disabled: u64,
}
