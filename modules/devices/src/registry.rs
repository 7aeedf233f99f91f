//! The in-memory registry: each live device's row and presence. The actor is its only
//! owner; it changes only after the database has committed.

use std::collections::BTreeMap;

use plantd_contracts::devices::{DeviceAuth, DeviceView};
use plantd_contracts::time::{to_datetime, Millis};
use plantd_contracts::DeviceId;

use crate::store::DeviceRow;

#[derive(Debug, Clone, Default)]
pub struct Presence {
    /// The broker session that is connected now, if any.
    pub session: Option<u64>,
    pub connected_since: Option<Millis>,
    pub last_seen: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub row: DeviceRow,
    pub presence: Presence,
}

#[derive(Default)]
pub struct Registry {
    devices: BTreeMap<DeviceId, Entry>,
}

impl Registry {
    pub fn insert(&mut self, id: DeviceId, row: DeviceRow) {
        let presence = Presence {
            last_seen: row.last_seen,
            ..Presence::default()
        };
        self.devices.insert(id, Entry { row, presence });
    }

    /// Adds a device another process (e.g. `plantd device add`) wrote, keeping what is
    /// known of devices already here.
    pub fn insert_if_absent(&mut self, id: DeviceId, row: DeviceRow) {
        if !self.devices.contains_key(&id) {
            self.insert(id, row);
        }
    }

    /// The devices connected now.
    pub fn online_ids(&self) -> Vec<DeviceId> {
        self.devices
            .iter()
            .filter(|(_, e)| e.presence.session.is_some())
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn views(&self) -> Vec<DeviceView> {
        self.devices.iter().map(|(id, e)| view(id, e)).collect()
    }

    pub fn view(&self, id: &DeviceId) -> Option<DeviceView> {
        self.devices.get(id).map(|e| view(id, e))
    }

    pub fn authenticate(&self, device_id: &str, secret: &str) -> DeviceAuth {
        let Ok(id) = DeviceId::parse(device_id) else {
            return DeviceAuth::UnknownDevice;
        };
        match self.devices.get(&id) {
            None => DeviceAuth::UnknownDevice,
            Some(e) if !plantd_secrets::digest_matches(secret, &e.row.secret_digest) => {
                DeviceAuth::BadSecret
            }
            Some(e) if !e.row.enabled => DeviceAuth::Disabled,
            Some(_) => DeviceAuth::Accepted,
        }
    }

    /// Marks a session online; returns false for an unknown device.
    pub fn connected(&mut self, id: &DeviceId, session: u64, at: Millis) -> bool {
        match self.devices.get_mut(id) {
            Some(e) => {
                e.presence.session = Some(session);
                e.presence.connected_since = Some(at);
                e.presence.last_seen = Some(at);
                true
            }
            None => false,
        }
    }

    /// Marks the device offline if `session` is the one connected now; returns whether it
    /// did (a takeover's old session ending changes nothing).
    pub fn disconnected(&mut self, id: &DeviceId, session: u64, at: Millis) -> bool {
        match self.devices.get_mut(id) {
            Some(e) if e.presence.session == Some(session) => {
                e.presence.session = None;
                e.presence.connected_since = None;
                e.presence.last_seen = Some(at);
                true
            }
            _ => false,
        }
    }
}

fn view(id: &DeviceId, e: &Entry) -> DeviceView {
    DeviceView {
        id: id.clone(),
        name: e.row.name.clone(),
        kind: e.row.kind.clone(),
        asset_id: e.row.asset_id.clone(),
        metadata: serde_json::from_str(&e.row.metadata).unwrap_or(serde_json::Value::Null),
        enabled: e.row.enabled,
        online: e.presence.session.is_some(),
        last_seen: e.presence.last_seen.map(to_datetime),
        connected_since: e.presence.connected_since.map(to_datetime),
        created_at: to_datetime(e.row.created_at),
    }
}
