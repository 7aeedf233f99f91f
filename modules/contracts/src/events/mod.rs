//! Domain events: what happened, for anyone listening, as typed Rust values.
//!
//! [`Event`] is the CloudEvents envelope (`id`, `type`, `time`, `source`, `data`), built only
//! by [`Event::new`]; [`EventData`] is one variant per event type, each with its own payload
//! struct (in `devices.rs`, `control.rs`, `firmware.rs`, `health.rs`, `workorders.rs`).
//! The wire format is the one of
//! `plantd/events/{type}` in the MQTT contract: `{"id", "type", "time", "source", "data"}`.
//! A type this build does not know (a newer module talking to an older one) decodes to
//! [`EventData::Unknown`], keeping its type and data: never a panic, never an error.
//!
//! Events are recorded in a module's own transaction (the outbox, `plantd-events`) and
//! delivered at least once to subscribers as [`DeliverEvent`]; consumers dedupe by `id`.

mod control;
mod devices;
mod examples;
mod firmware;
mod health;
mod workorders;

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use control::*;
pub use devices::*;
pub use examples::examples;
pub use firmware::*;
pub use health::*;
pub use workorders::*;

/// The module that emits each event type, as `source` in the envelope.
pub mod source {
    pub const DEVICES: &str = "devices";
    pub const FIRMWARE: &str = "devices.firmware";
    pub const HEALTH: &str = "health";
    pub const WORKORDERS: &str = "workorders";
    pub const MAINTENANCE: &str = "maintenance";
}

/// Declares every event type once: its wire name, variant, payload and source.
macro_rules! event_types {
    ($( $(#[$doc:meta])* $name:literal => $variant:ident($payload:ty), $source:expr; )*) => {
        /// The data of a domain event, by type. Serialised adjacently tagged: `type` and
        /// `data` sit beside the envelope's other attributes.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", content = "data")]
        pub enum EventData {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($payload), )*
            /// A type this build does not know, or a known type whose data does not decode
            /// (see [`EventData::is_malformed`]): kept as it came.
            #[serde(untagged)]
            Unknown {
                #[serde(rename = "type")]
                kind: String,
                #[serde(default)]
                data: serde_json::Value,
            },
        }

        impl EventData {
            /// Every type this build knows, by wire name.
            pub const TYPES: &'static [&'static str] = &[$($name),*];

            /// The wire name (`device.connected`, …).
            pub fn kind(&self) -> &str {
                match self {
                    $( EventData::$variant(_) => $name, )*
                    EventData::Unknown { kind, .. } => kind,
                }
            }

            /// The module that emits this type (`source` in the envelope).
            pub fn source(&self) -> &'static str {
                match self {
                    $( EventData::$variant(_) => $source, )*
                    EventData::Unknown { .. } => "unknown",
                }
            }
        }
    };
}

event_types! {
    "device.provisioned" => DeviceProvisioned(DeviceProvisioned), source::DEVICES;
    "device.updated" => DeviceUpdated(DeviceUpdated), source::DEVICES;
    "device.deleted" => DeviceDeleted(DeviceRef), source::DEVICES;
    "device.credentials_rotated" => DeviceCredentialsRotated(DeviceRef), source::DEVICES;
    "device.disabled" => DeviceDisabled(DeviceRef), source::DEVICES;
    "device.enabled" => DeviceEnabled(DeviceRef), source::DEVICES;
    "device.connected" => DeviceConnected(DeviceConnected), source::DEVICES;
    "device.disconnected" => DeviceDisconnected(DeviceRef), source::DEVICES;
    "shadow.updated" => ShadowUpdated(ShadowUpdated), source::DEVICES;
    "command.created" => CommandCreated(CommandRef), source::DEVICES;
    "command.succeeded" => CommandSucceeded(CommandRef), source::DEVICES;
    "command.failed" => CommandFailed(CommandRef), source::DEVICES;
    "command.expired" => CommandExpired(CommandRef), source::DEVICES;
    "command.cancelled" => CommandCancelled(CommandRef), source::DEVICES;
    "firmware.uploaded" => FirmwareUploaded(FirmwareUploaded), source::FIRMWARE;
    "firmware.campaign_started" => CampaignStarted(CampaignStarted), source::FIRMWARE;
    "firmware.campaign_finished" => CampaignFinished(CampaignFinished), source::FIRMWARE;
    "firmware.campaign_cancelled" => CampaignCancelled(CampaignCancelled), source::FIRMWARE;
    "firmware.device_finished" => FirmwareDeviceFinished(FirmwareDeviceFinished), source::FIRMWARE;
    "alarm.raised" => AlarmRaised(AlarmEvent), source::HEALTH;
    "alarm.acknowledged" => AlarmAcknowledged(AlarmEvent), source::HEALTH;
    "alarm.returned_to_normal" => AlarmReturnedToNormal(AlarmEvent), source::HEALTH;
    "alarm.cleared" => AlarmCleared(AlarmEvent), source::HEALTH;
    "alarm.severity_changed" => AlarmSeverityChanged(AlarmEvent), source::HEALTH;
    "alarm.shelved" => AlarmShelved(AlarmEvent), source::HEALTH;
    "alarm.unshelved" => AlarmUnshelved(AlarmEvent), source::HEALTH;
    "workorder.created" => WorkOrderCreated(WorkOrderEvent), source::WORKORDERS;
    "workorder.status_changed" => WorkOrderStatusChanged(WorkOrderEvent), source::WORKORDERS;
    "workorder.completed" => WorkOrderCompleted(WorkOrderEvent), source::WORKORDERS;
    "workrequest.created" => WorkRequestCreated(WorkRequestEvent), source::WORKORDERS;
    "maintenance.due" => MaintenanceDue(MaintenanceDue), source::MAINTENANCE;
    "maintenance.missed" => MaintenanceMissed(MaintenanceMissed), source::MAINTENANCE;
}

impl EventData {
    /// An [`EventData::Unknown`] whose type this build knows: its data did not decode.
    pub fn is_malformed(&self) -> bool {
        matches!(self, EventData::Unknown { kind, .. } if Self::TYPES.contains(&kind.as_str()))
    }

    /// For `device.connected` / `device.disconnected`: the device and whether it is now
    /// online. `None` for every other event.
    pub fn presence(&self) -> Option<(&crate::DeviceId, bool)> {
        match self {
            EventData::DeviceConnected(e) => Some((&e.device_id, true)),
            EventData::DeviceDisconnected(e) => Some((&e.device_id, false)),
            _ => None,
        }
    }
}

/// One domain event in its CloudEvents envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: Uuid,
    pub time: DateTime<Utc>,
    pub source: String,
    #[serde(flatten)]
    pub data: EventData,
}

impl Event {
    /// The one place an envelope is made: a fresh id, the time now, the type's source.
    pub fn new(data: EventData) -> Event {
        Event {
            id: Uuid::new_v4(),
            time: Utc::now(),
            source: data.source().to_owned(),
            data,
        }
    }

    /// The wire name of the type (`device.connected`, …).
    pub fn kind(&self) -> &str {
        self.data.kind()
    }

    /// The MQTT topic this event is published on.
    pub fn topic(&self) -> String {
        format!("plantd/events/{}", self.kind())
    }
}

/// Which event types a subscriber wants: every type, or those with one of some prefixes
/// (`device.` takes every device event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventFilter {
    All,
    Prefixes(Vec<String>),
}

impl EventFilter {
    pub fn matches(&self, kind: &str) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Prefixes(prefixes) => prefixes.iter().any(|p| kind.starts_with(p)),
        }
    }
}

/// The outbox dispatcher hands a subscriber one stored event; the subscriber answers once
/// it has handled it. `Err` (or no answer) means "not handled": the same event comes again
/// later, and nothing after it comes first. Handling must be idempotent by `event.id`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), String>")]
pub struct DeliverEvent(pub Event);

/// `GET /events`: stored events after the one with id `after` (from the oldest kept when
/// `None`), optionally of one type, oldest first. Unknown `after` → `NotFound` (pruned
/// after the retention, or never recorded).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<EventPage, crate::DomainError>")]
pub struct ListEvents {
    pub after: Option<Uuid>,
    pub kind: Option<String>,
    pub limit: u32,
}

/// A page of stored events; `next_cursor` is the id to pass as `after` for the next page
/// (`None` on the last page).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventPage {
    pub items: Vec<Event>,
    pub next_cursor: Option<String>,
}

/// The dashboard's recent events: the newest `limit` stored events, newest first.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<Vec<Event>, crate::DomainError>")]
pub struct RecentEvents {
    pub limit: u32,
}

#[cfg(test)]
mod tests;
