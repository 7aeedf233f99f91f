//! The in-memory registry: each live device's row and presence. The actor is its only
//! owner; it changes only after the database has committed.

use std::collections::{BTreeMap, HashSet};

use plantd_contracts::devices::{
    BrowseDevices, DeviceAuth, DeviceCounts, DevicePage, DeviceSort, DeviceState, DeviceView,
    ListDevices,
};
use plantd_contracts::time::{to_datetime, Millis};
use plantd_contracts::window::{SortDir, Windowed};
use plantd_contracts::DeviceId;

use crate::store::DeviceRow;

#[derive(Debug, Clone, Default)]
pub struct Presence {
    /// The broker session that is connected now, if any.
    pub session: Option<u64>,
    pub connected_since: Option<Millis>,
    pub last_seen: Option<Millis>,
    pub client_address: Option<String>,
    pub protocol_version: Option<u8>,
    /// Since this process started (counters are not stored).
    pub messages_in: u64,
    pub last_message_at: Option<Millis>,
    /// The `last_seen` last handed to the store.
    pub stored_seen: Option<Millis>,
}

/// Traffic moves `last_seen` in memory at once but in the store only in steps this large
/// (connects and disconnects are always stored): thousands of chatty devices must not
/// turn into thousands of row updates every few seconds.
pub const SEEN_STORE_STEP_MS: Millis = 60_000;

#[derive(Debug, Clone)]
pub struct Entry {
    pub row: DeviceRow,
    pub presence: Presence,
}

#[derive(Default)]
pub struct Registry {
    devices: BTreeMap<DeviceId, Entry>,
    /// Deleted here: a database read that started before the delete must not bring one back.
    deleted: HashSet<DeviceId>,
    /// Devices with a live session (kept as a count: a reconnect storm must not rescan).
    online: usize,
}

impl Registry {
    pub fn insert(&mut self, id: DeviceId, row: DeviceRow) {
        let presence = Presence {
            last_seen: row.last_seen,
            stored_seen: row.last_seen,
            ..Presence::default()
        };
        if let Some(old) = self.devices.insert(id, Entry { row, presence }) {
            if old.presence.session.is_some() {
                self.online -= 1;
            }
        }
    }

    /// Live devices, and how many of them are connected.
    pub fn counts(&self) -> (usize, usize) {
        (self.devices.len(), self.online)
    }

    /// Adds a device another process (e.g. `plantd device add`) wrote, keeping what is
    /// known of devices already here.
    pub fn insert_if_absent(&mut self, id: DeviceId, row: DeviceRow) {
        if !self.devices.contains_key(&id) && !self.deleted.contains(&id) {
            self.insert(id, row);
        }
    }

    /// The registry row of a live device, to change a copy of it.
    pub fn row(&self, id: &DeviceId) -> Option<&DeviceRow> {
        self.devices.get(id).map(|e| &e.row)
    }

    /// Replaces a device's row after the database committed the change; presence stays.
    pub fn replace_row(&mut self, id: &DeviceId, row: DeviceRow) {
        if let Some(e) = self.devices.get_mut(id) {
            e.row = row;
        }
    }

    pub fn remove(&mut self, id: &DeviceId) {
        if let Some(old) = self.devices.remove(id) {
            if old.presence.session.is_some() {
                self.online -= 1;
            }
        }
        self.deleted.insert(id.clone());
    }

    /// Counts a device's traffic; returns the `last_seen` to store, if it moved a step
    /// ([`SEEN_STORE_STEP_MS`]) since the last one stored.
    pub fn traffic(&mut self, id: &DeviceId, messages: u64, last_at: Millis) -> Option<Millis> {
        let p = &mut self.devices.get_mut(id)?.presence;
        p.messages_in = p.messages_in.saturating_add(messages);
        p.last_message_at = p.last_message_at.max(Some(last_at));
        p.last_seen = p.last_seen.max(Some(last_at));
        let seen = p.last_seen?;
        if p.stored_seen
            .is_some_and(|stored| seen - stored < SEEN_STORE_STEP_MS)
        {
            return None;
        }
        p.stored_seen = Some(seen);
        Some(seen)
    }

    /// Notes that `at` was handed to the store as the device's `last_seen`.
    pub fn seen_stored(&mut self, id: &DeviceId, at: Millis) {
        if let Some(e) = self.devices.get_mut(id) {
            e.presence.stored_seen = e.presence.stored_seen.max(Some(at));
        }
    }

    /// Live devices by state, as [`ListDevices`]'s `state` filter tells them apart.
    pub fn counts_by_state(&self) -> DeviceCounts {
        let mut counts = DeviceCounts::default();
        for e in self.devices.values() {
            counts.total += 1;
            match state(e) {
                DeviceState::Online => counts.online += 1,
                DeviceState::Offline => counts.offline += 1,
                DeviceState::Disabled => counts.disabled += 1,
            }
        }
        counts
    }

    /// One page of devices in id order that pass the filters.
    pub fn page(&self, query: &ListDevices) -> DevicePage {
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut more = false;
        let range = self
            .devices
            .iter()
            .skip_while(|(id, _)| query.after.as_deref().is_some_and(|a| id.as_str() <= a))
            .filter(|(_, e)| matches(e, query));
        for (id, e) in range {
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(view(id, e));
        }
        let next_cursor = if more {
            items.last().map(|d: &DeviceView| d.id.to_string())
        } else {
            None
        };
        DevicePage { items, next_cursor }
    }

    /// One window of the devices that pass the filters, in the order asked (ties by id).
    /// Sorts references, then builds views only for the window.
    pub fn browse(&self, query: &BrowseDevices) -> Windowed<DeviceView> {
        let list = ListDevices {
            state: query.state,
            kind: query.kind.clone(),
            label: query.label.clone(),
            ..ListDevices::default()
        };
        let needle = query.q.as_deref().map(str::to_lowercase);
        let mut rows: Vec<(&DeviceId, &Entry)> = self
            .devices
            .iter()
            .filter(|(_, e)| matches(e, &list))
            .filter(|(id, e)| {
                needle.as_deref().is_none_or(|n| {
                    id.as_str().contains(n) || e.row.name.to_lowercase().contains(n)
                })
            })
            .collect();
        // BTreeMap order is id order, so a stable sort leaves ties in id order.
        match query.sort {
            DeviceSort::Id => {}
            DeviceSort::Name => rows.sort_by(|a, b| a.1.row.name.cmp(&b.1.row.name)),
            DeviceSort::Kind => rows.sort_by(|a, b| a.1.row.kind.cmp(&b.1.row.kind)),
            DeviceSort::State => rows.sort_by_key(|(_, e)| state_rank(e)),
            DeviceSort::LastSeen => rows.sort_by_key(|(_, e)| e.presence.last_seen),
        }
        if query.dir == SortDir::Desc {
            rows.reverse();
        }
        let window = Windowed::slice(rows, query.window);
        Windowed {
            items: window
                .items
                .into_iter()
                .map(|(id, e)| view(id, e))
                .collect(),
            total: window.total,
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

    pub fn view(&self, id: &DeviceId) -> Option<DeviceView> {
        self.devices.get(id).map(|e| view(id, e))
    }

    /// `certified`: the id was proven by a verified client certificate, not the secret.
    pub fn authenticate(&self, device_id: &str, secret: &str, certified: bool) -> DeviceAuth {
        let Ok(id) = DeviceId::parse(device_id) else {
            return DeviceAuth::UnknownDevice;
        };
        match self.devices.get(&id) {
            None => DeviceAuth::UnknownDevice,
            Some(e)
                if !certified && !plantd_secrets::digest_matches(secret, &e.row.secret_digest) =>
            {
                DeviceAuth::BadSecret
            }
            Some(e) if !e.row.enabled => DeviceAuth::Disabled,
            Some(_) => DeviceAuth::Accepted,
        }
    }

    /// Marks a session online; returns false for an unknown device.
    pub fn connected(
        &mut self,
        id: &DeviceId,
        session: u64,
        at: Millis,
        protocol_version: u8,
        client_address: Option<String>,
    ) -> bool {
        match self.devices.get_mut(id) {
            Some(e) => {
                if e.presence.session.is_none() {
                    self.online += 1;
                }
                e.presence.session = Some(session);
                e.presence.connected_since = Some(at);
                e.presence.last_seen = Some(at);
                e.presence.protocol_version = Some(protocol_version);
                e.presence.client_address = client_address;
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
                self.online -= 1;
                e.presence.session = None;
                e.presence.connected_since = None;
                e.presence.last_seen = Some(at);
                true
            }
            _ => false,
        }
    }
}

fn state(e: &Entry) -> DeviceState {
    if !e.row.enabled {
        DeviceState::Disabled
    } else if e.presence.session.is_some() {
        DeviceState::Online
    } else {
        DeviceState::Offline
    }
}

/// Online, offline, disabled: the order of the state column.
fn state_rank(e: &Entry) -> u8 {
    match state(e) {
        DeviceState::Online => 0,
        DeviceState::Offline => 1,
        DeviceState::Disabled => 2,
    }
}

pub fn labels_of(row: &DeviceRow) -> Vec<String> {
    serde_json::from_str(&row.labels).unwrap_or_default()
}

fn matches(e: &Entry, query: &ListDevices) -> bool {
    query.state.is_none_or(|s| s == state(e))
        && query
            .kind
            .as_deref()
            .is_none_or(|k| e.row.kind.as_deref() == Some(k))
        && query
            .label
            .as_deref()
            .is_none_or(|l| labels_of(&e.row).iter().any(|have| have == l))
}

fn view(id: &DeviceId, e: &Entry) -> DeviceView {
    DeviceView {
        id: id.clone(),
        name: e.row.name.clone(),
        kind: e.row.kind.clone(),
        asset_id: e.row.asset_id.clone(),
        metadata: serde_json::from_str(&e.row.metadata).unwrap_or(serde_json::Value::Null),
        labels: labels_of(&e.row),
        enabled: e.row.enabled,
        online: e.presence.session.is_some(),
        last_seen: e.presence.last_seen.map(to_datetime),
        connected_since: e.presence.connected_since.map(to_datetime),
        client_address: e.presence.client_address.clone(),
        protocol_version: e.presence.protocol_version,
        messages_in: e.presence.messages_in,
        last_message_at: e.presence.last_message_at.map(to_datetime),
        created_at: to_datetime(e.row.created_at),
        updated_at: to_datetime(e.row.updated_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> DeviceRow {
        DeviceRow {
            id: id.to_owned(),
            name: id.to_owned(),
            kind: None,
            asset_id: None,
            metadata: "{}".to_owned(),
            secret_digest: String::new(),
            enabled: true,
            created_at: 0,
            updated_at: 0,
            last_seen: None,
            deleted_at: None,
            labels: "[]".to_owned(),
        }
    }

    #[test]
    fn online_count_follows_sessions_takeovers_and_deletes() {
        let mut registry = Registry::default();
        let a = DeviceId::parse("a").expect("id");
        let b = DeviceId::parse("b").expect("id");
        registry.insert(a.clone(), row("a"));
        registry.insert(b.clone(), row("b"));
        assert!(registry.connected(&a, 1, 10, 4, None));
        // A takeover: the new session first, then the old one's end changes nothing.
        assert!(registry.connected(&a, 2, 20, 4, None));
        assert!(!registry.disconnected(&a, 1, 21));
        assert!(registry.connected(&b, 3, 30, 5, None));
        assert_eq!(registry.counts(), (2, 2));
        assert!(registry.disconnected(&b, 3, 40));
        assert_eq!(registry.counts(), (2, 1));
        registry.remove(&a);
        assert_eq!(registry.counts(), (1, 0));
        // A read that started before the delete does not bring it back.
        registry.insert_if_absent(a.clone(), row("a"));
        assert_eq!(registry.counts(), (1, 0));
    }

    #[test]
    fn traffic_moves_last_seen_at_once_but_stores_it_in_steps() {
        let mut registry = Registry::default();
        let a = DeviceId::parse("a").expect("id");
        registry.insert(a.clone(), row("a"));
        assert_eq!(
            registry.traffic(&a, 2, 1_000),
            Some(1_000),
            "first sight is stored"
        );
        assert_eq!(registry.traffic(&a, 1, 30_000), None);
        let view = registry.view(&a).expect("view");
        assert_eq!(view.messages_in, 3);
        assert_eq!(view.last_seen.map(|t| t.timestamp_millis()), Some(30_000));
        assert_eq!(registry.traffic(&a, 1, 61_000), Some(61_000));
        let nobody = DeviceId::parse("nobody").expect("id");
        assert_eq!(registry.traffic(&nobody, 1, 1), None);
    }

    #[test]
    fn pages_filter_then_cut_after_the_cursor() {
        let mut registry = Registry::default();
        for id in ["a", "b", "c", "d"] {
            let mut r = row(id);
            r.kind = Some(if id == "c" { "oven" } else { "press" }.to_owned());
            registry.insert(DeviceId::parse(id).expect("id"), r);
        }
        let query = ListDevices {
            kind: Some("press".to_owned()),
            limit: Some(2),
            ..ListDevices::default()
        };
        let first = registry.page(&query);
        let ids: Vec<String> = first.items.iter().map(|d| d.id.to_string()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(first.next_cursor.as_deref(), Some("b"));
        let second = registry.page(&ListDevices {
            after: first.next_cursor,
            ..query
        });
        let ids: Vec<String> = second.items.iter().map(|d| d.id.to_string()).collect();
        assert_eq!(ids, ["d"]);
        assert_eq!(second.next_cursor, None);
    }
}
