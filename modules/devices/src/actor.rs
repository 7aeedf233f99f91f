//! The devices actor: owns the registry, answers registry and login messages, and turns
//! the broker's connect/disconnect messages into presence and `device.*` events.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use plantd_contracts::broker::DisconnectClient;
use plantd_contracts::devices::*;
use plantd_contracts::events::{self, DomainEvent};
use plantd_contracts::time::now_ms;
use plantd_contracts::{DeviceId, DomainError};
use plantd_storage::{Db, DbError};
use serde_json::json;

use crate::registry::Registry;
use crate::store::{self, DeviceRow};
use crate::validate;

pub(crate) const SOURCE: &str = "devices";
/// How often devices provisioned by another process (`plantd device add`) are picked up.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// How often changed `last_seen` values are written, in one transaction: a reconnect storm
/// of thousands of devices becomes a few writes, not thousands.
const PERSIST_EVERY: Duration = Duration::from_secs(5);
/// Each refresh also looks this far before the previous one started, so a row another
/// process stamped just before it committed is not missed.
const REFRESH_OVERLAP_MS: i64 = 2_000;

pub struct Devices {
    pub(crate) db: Db,
    pub(crate) registry: Registry,
    events: Vec<Recipient<DomainEvent>>,
    /// Where to ask for a device's live MQTT session to be cut (rotate, disable, delete).
    disconnect: Option<Recipient<DisconnectClient>>,
    /// Devices created from this time on are read by the next refresh.
    refresh_from: i64,
    refreshing: bool,
    /// `last_seen` values not yet written.
    pub(crate) unsaved_seen: HashMap<DeviceId, i64>,
}

impl Devices {
    /// Loads the registry; call once at start, before the actor serves anyone.
    pub async fn load(db: Db, events: Vec<Recipient<DomainEvent>>) -> Result<Devices, DbError> {
        let rows = db.run(store::load_live).await?;
        let mut devices = Devices {
            db,
            registry: Registry::default(),
            events,
            disconnect: None,
            refresh_from: now_ms() - REFRESH_OVERLAP_MS,
            refreshing: false,
            unsaved_seen: HashMap::new(),
        };
        devices.learn(rows);
        crate::metrics::gauges(&devices.registry);
        Ok(devices)
    }

    /// Wires the broker's session cutter (the CLI's short-lived actor has none).
    pub fn with_disconnect(mut self, disconnect: Recipient<DisconnectClient>) -> Self {
        self.disconnect = Some(disconnect);
        self
    }

    /// Cuts the device's live MQTT session, if any. Called after memory changed, so a
    /// reconnect is already judged by the new state.
    pub(crate) fn cut_session(&self, id: &DeviceId) {
        if let Some(disconnect) = &self.disconnect {
            disconnect.do_send(DisconnectClient {
                username: id.to_string(),
            });
        }
    }

    /// Adds devices read from the database that memory does not know yet.
    fn learn(&mut self, rows: Vec<DeviceRow>) {
        for row in rows {
            match DeviceId::parse(&row.id) {
                Ok(id) => self.registry.insert_if_absent(id, row),
                Err(_) => {
                    tracing::warn!(device = %row.id, "skipping a stored device with an invalid id")
                }
            }
        }
    }

    /// Picks up devices another process added. Logins are answered from memory only, so a
    /// flood of unknown ids or a database outage never stalls the broker.
    fn refresh(&mut self, ctx: &mut Context<Self>) {
        if self.refreshing {
            return;
        }
        self.refreshing = true;
        let db = self.db.clone();
        // A window of wall-clock time, not "after the newest device": after a burst of
        // provisioning, re-reading everything near the newest one would go on forever.
        let since = self.refresh_from;
        self.refresh_from = now_ms() - REFRESH_OVERLAP_MS;
        ctx.spawn(
            async move {
                db.run(move |conn| store::load_created_since(conn, since))
                    .await
            }
            .into_actor(self)
            .map(move |rows, act, _| {
                act.refreshing = false;
                match rows {
                    Ok(rows) => {
                        act.learn(rows);
                        crate::metrics::gauges(&act.registry);
                    }
                    Err(e) => {
                        // Look at the same window again next time.
                        act.refresh_from = act.refresh_from.min(since);
                        tracing::warn!(error = %e, "cannot look for new devices")
                    }
                }
            }),
        );
    }

    /// Queues a device's `last_seen` for the next write (a later time wins).
    fn queue_seen(&mut self, id: DeviceId, at: i64) {
        self.registry.seen_stored(&id, at);
        let seen = self.unsaved_seen.entry(id).or_insert(at);
        *seen = (*seen).max(at);
    }

    /// Writes the `last_seen` values changed since the last write; failed writes are kept.
    fn persist_seen(&mut self) -> ResponseActFuture<Self, Result<usize, DomainError>> {
        let seen: Vec<(String, i64)> = self
            .unsaved_seen
            .drain()
            .map(|(id, at)| (id.to_string(), at))
            .collect();
        if seen.is_empty() {
            return Box::pin(fut::ready(Ok(0)));
        }
        let db = self.db.clone();
        Box::pin(
            async move {
                db.run_keeping(seen, |conn, seen| store::set_last_seen(conn, seen))
                    .await
            }
            .into_actor(self)
            .map(|result, act, _| match result {
                Ok((seen, Ok(()))) => Ok(seen.len()),
                Ok((seen, Err(e))) => {
                    tracing::warn!(error = %e, devices = seen.len(), "cannot store last_seen; will retry");
                    for (id, at) in seen {
                        if let Ok(id) = DeviceId::parse(&id) {
                            act.unsaved_seen.entry(id).or_insert(at);
                        }
                    }
                    Err(e.into())
                }
                Err(e) => Err(e.into()),
            }),
        )
    }

    /// Publishes a `device.*` event; registry changes are also counted, and the gauges set.
    pub(crate) fn publish(&self, kind: &str, data: serde_json::Value) {
        if kind != events::DEVICE_CONNECTED && kind != events::DEVICE_DISCONNECTED {
            crate::metrics::changed(kind);
        }
        crate::metrics::gauges(&self.registry);
        let event = DomainEvent::new(kind, SOURCE, data);
        for recipient in &self.events {
            recipient.do_send(event.clone());
        }
    }
}

impl Actor for Devices {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(REFRESH_EVERY, |act, ctx| act.refresh(ctx));
        ctx.run_interval(PERSIST_EVERY, |act, ctx| {
            ctx.spawn(act.persist_seen().map(|_, _, _| ()));
        });
    }
}

/// Checks a provisioning request; returns its labels normalised.
fn validate(msg: &ProvisionDevice) -> Result<Vec<String>, DomainError> {
    if let Some(name) = &msg.name {
        validate::name(name)?;
    }
    if let Some(kind) = &msg.kind {
        validate::short_text("kind", kind)?;
    }
    if let Some(asset) = &msg.asset_id {
        validate::short_text("asset_id", asset)?;
    }
    if let Some(metadata) = &msg.metadata {
        validate::metadata(metadata)?;
    }
    validate::labels(msg.labels.clone())
}

impl Handler<ProvisionDevice> for Devices {
    type Result = ResponseActFuture<Self, Result<ProvisionedDevice, DomainError>>;

    fn handle(&mut self, msg: ProvisionDevice, _: &mut Context<Self>) -> Self::Result {
        let labels = match validate(&msg) {
            Ok(labels) => labels,
            Err(e) => return Box::pin(fut::ready(Err(e))),
        };
        let secret = plantd_secrets::random_hex(20);
        let now = now_ms();
        let row = DeviceRow {
            id: msg.id.to_string(),
            name: msg.name.clone().unwrap_or_else(|| msg.id.to_string()),
            kind: msg.kind.clone().filter(|k| !k.is_empty()),
            asset_id: msg.asset_id.clone().filter(|a| !a.is_empty()),
            metadata: msg
                .metadata
                .clone()
                .unwrap_or_else(|| json!({}))
                .to_string(),
            secret_digest: plantd_secrets::digest(&secret),
            enabled: true,
            created_at: now,
            updated_at: now,
            last_seen: None,
            deleted_at: None,
            labels: serde_json::to_string(&labels).unwrap_or_else(|_| "[]".to_owned()),
        };
        let stored = row.clone();
        let db = self.db.clone();
        let id = msg.id;
        Box::pin(
            async move { db.run(move |conn| store::insert(conn, &stored)).await }
                .into_actor(self)
                .map(move |res, act, _| {
                    if let Err(e) = res {
                        return Err(if e.is_unique_violation() {
                            DomainError::Conflict(format!(
                                "device id '{id}' exists or was used before; ids are never reused"
                            ))
                        } else {
                            e.into()
                        });
                    }
                    act.registry.insert(id.clone(), row);
                    let device = act
                        .registry
                        .view(&id)
                        .ok_or_else(|| DomainError::NotFound(format!("device {id}")))?;
                    tracing::info!(device = %id, "device provisioned");
                    act.publish(events::DEVICE_PROVISIONED, json!({ "device_id": id }));
                    Ok(ProvisionedDevice {
                        device,
                        credentials: DeviceCredentials {
                            username: id.to_string(),
                            password: secret,
                        },
                    })
                }),
        )
    }
}

impl Handler<ListDevices> for Devices {
    type Result = ResponseActFuture<Self, Result<DevicePage, DomainError>>;

    fn handle(&mut self, msg: ListDevices, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move { db.run(store::load_live).await }
                .into_actor(self)
                .map(move |rows, act, _| {
                    for row in rows.map_err(DomainError::from)? {
                        if let Ok(id) = DeviceId::parse(&row.id) {
                            act.registry.insert_if_absent(id, row);
                        }
                    }
                    Ok(act.registry.page(&msg))
                }),
        )
    }
}

impl Handler<GetDevice> for Devices {
    type Result = Result<DeviceView, DomainError>;

    fn handle(&mut self, msg: GetDevice, _: &mut Context<Self>) -> Self::Result {
        self.registry
            .view(&msg.id)
            .ok_or_else(|| DomainError::NotFound(format!("device {}", msg.id)))
    }
}

impl Handler<AuthenticateDevice> for Devices {
    type Result = MessageResult<AuthenticateDevice>;

    fn handle(&mut self, msg: AuthenticateDevice, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.registry.authenticate(&msg.device_id, &msg.secret))
    }
}

impl Handler<PersistPresence> for Devices {
    type Result = ResponseActFuture<Self, Result<usize, DomainError>>;

    fn handle(&mut self, _: PersistPresence, _: &mut Context<Self>) -> Self::Result {
        let now = now_ms();
        for id in self.registry.online_ids() {
            self.unsaved_seen.insert(id, now);
        }
        self.persist_seen()
    }
}

impl Handler<DeviceConnected> for Devices {
    type Result = ();

    fn handle(&mut self, msg: DeviceConnected, _: &mut Context<Self>) {
        let at = msg.at.timestamp_millis();
        if self.registry.connected(
            &msg.device_id,
            msg.session,
            at,
            msg.protocol_version,
            msg.client_address.clone(),
        ) {
            tracing::info!(device = %msg.device_id, session = msg.session, "device online");
            self.publish(
                events::DEVICE_CONNECTED,
                json!({ "device_id": msg.device_id, "protocol_version": msg.protocol_version }),
            );
            self.queue_seen(msg.device_id, at);
        }
    }
}

impl Handler<DeviceDisconnected> for Devices {
    type Result = ();

    fn handle(&mut self, msg: DeviceDisconnected, _: &mut Context<Self>) {
        let at = msg.at.timestamp_millis();
        if self.registry.disconnected(&msg.device_id, msg.session, at) {
            tracing::info!(device = %msg.device_id, session = msg.session, "device offline");
            self.publish(
                events::DEVICE_DISCONNECTED,
                json!({ "device_id": msg.device_id }),
            );
            self.queue_seen(msg.device_id, at);
        }
    }
}

impl Handler<DeviceTraffic> for Devices {
    type Result = ();

    fn handle(&mut self, msg: DeviceTraffic, _: &mut Context<Self>) {
        let span = tracing::trace_span!("device_traffic", devices = msg.entries.len());
        let _guard = span.enter();
        for entry in msg.entries {
            if let Some(seen) =
                self.registry
                    .traffic(&entry.device_id, entry.messages_in, entry.last_message_at)
            {
                self.queue_seen(entry.device_id, seen);
            }
        }
    }
}
