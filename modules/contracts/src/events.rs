//! Domain events: what happened, for anyone listening. The broker carries each to
//! `plantd/events/{type}`; the payload uses CloudEvents attribute names.

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const DEVICE_CONNECTED: &str = "device.connected";
pub const DEVICE_DISCONNECTED: &str = "device.disconnected";
pub const DEVICE_PROVISIONED: &str = "device.provisioned";
pub const DEVICE_UPDATED: &str = "device.updated";
pub const DEVICE_DELETED: &str = "device.deleted";
pub const DEVICE_CREDENTIALS_ROTATED: &str = "device.credentials_rotated";
pub const DEVICE_DISABLED: &str = "device.disabled";
pub const DEVICE_ENABLED: &str = "device.enabled";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct DomainEvent {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub time: DateTime<Utc>,
    pub source: String,
    pub data: serde_json::Value,
}

impl DomainEvent {
    pub fn new(kind: &str, source: &str, data: serde_json::Value) -> Self {
        DomainEvent {
            id: Uuid::new_v4(),
            kind: kind.to_owned(),
            time: Utc::now(),
            source: source.to_owned(),
            data,
        }
    }

    /// The MQTT topic this event is published on.
    pub fn topic(&self) -> String {
        format!("plantd/events/{}", self.kind)
    }

    /// For `device.connected` / `device.disconnected`: the device and whether it is now
    /// online. `None` for every other event (or one without a valid `data.device_id`).
    pub fn presence(&self) -> Option<(crate::DeviceId, bool)> {
        let online = match self.kind.as_str() {
            DEVICE_CONNECTED => true,
            DEVICE_DISCONNECTED => false,
            _ => return None,
        };
        let id = self.data["device_id"].as_str()?;
        crate::DeviceId::parse(id).ok().map(|id| (id, online))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn presence_reads_connect_and_disconnect_events_only() {
        let on = DomainEvent::new(
            DEVICE_CONNECTED,
            "devices",
            json!({ "device_id": "press-1" }),
        );
        let off = DomainEvent::new(
            DEVICE_DISCONNECTED,
            "devices",
            json!({ "device_id": "press-1" }),
        );
        let other = DomainEvent::new(DEVICE_UPDATED, "devices", json!({ "device_id": "press-1" }));
        let bad = DomainEvent::new(
            DEVICE_CONNECTED,
            "devices",
            json!({ "device_id": "Not An Id" }),
        );
        let id = crate::DeviceId::parse("press-1").expect("id");
        assert_eq!(on.presence(), Some((id.clone(), true)));
        assert_eq!(off.presence(), Some((id, false)));
        assert_eq!(other.presence(), None);
        assert_eq!(bad.presence(), None);
    }
}
