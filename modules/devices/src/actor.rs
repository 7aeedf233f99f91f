//! The devices actor: owns the registry, answers registry and login messages. Presence
//! (the broker's connect/disconnect/traffic messages) is in `presence.rs`, changes to a
//! device in `changes.rs`; each records its `device.*` event in the transaction of its
//! write (`plantd-events`).

use std::time::Duration;

use actix::prelude::*;
use plantd_contracts::broker::DisconnectClient;
use plantd_contracts::devices::*;
use plantd_contracts::events::DeviceProvisioned;
use plantd_contracts::time::now_ms;
use plantd_contracts::window::Windowed;
use plantd_contracts::{DeviceId, DomainError, Event, EventData};
use plantd_events::Outbox;
use plantd_storage::{Db, DbError};
use serde_json::json;

use crate::registry::Registry;
use crate::store::{self, DeviceRow};
use crate::unsaved::Unsaved;
use crate::validate;

/// How often devices provisioned by another process (`plantd device add`) are picked up.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// How often `last_seen` values changed by traffic alone are written, in one transaction
/// (connects and disconnects are written at once, see `presence.rs`).
const PERSIST_EVERY: Duration = Duration::from_secs(5);
/// Each refresh also looks this far before the previous one started, so a row another
/// process stamped just before it committed is not missed.
const REFRESH_OVERLAP_MS: i64 = 2_000;

pub struct Devices {
    pub(crate) db: Db,
    pub(crate) registry: Registry,
    pub(crate) outbox: Outbox,
    /// Where to ask for a device's live MQTT session to be cut (rotate, disable, delete).
    disconnect: Option<Recipient<DisconnectClient>>,
    /// Devices created from this time on are read by the next refresh.
    refresh_from: i64,
    refreshing: bool,
    /// Presence not yet written.
    pub(crate) presence: Unsaved,
    /// Test hook (`PLANTD_TEST_HOLD_LOGINS`): while this file exists, login answers wait.
    hold_logins: Option<std::path::PathBuf>,
}

impl Devices {
    /// Loads the registry; call once at start, before the actor serves anyone.
    pub async fn load(db: Db, outbox: Outbox) -> Result<Devices, DbError> {
        let rows = db.run(store::load_live).await?;
        let mut devices = Devices {
            db,
            registry: Registry::default(),
            outbox,
            disconnect: None,
            refresh_from: now_ms() - REFRESH_OVERLAP_MS,
            refreshing: false,
            presence: Unsaved::default(),
            hold_logins: None,
        };
        devices.learn(rows);
        crate::metrics::gauges(&devices.registry);
        Ok(devices)
    }

    /// Test hook: while `file` exists, answers to `AuthenticateDevice` wait (at most 10 s),
    /// as a registry that answers slowly would.
    pub fn with_login_hold(mut self, file: Option<std::path::PathBuf>) -> Self {
        self.hold_logins = file;
        self
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

    /// Counts a committed registry change and refreshes the gauges.
    pub(crate) fn count_change(&self, data: &EventData) {
        crate::metrics::changed(data.kind());
        crate::metrics::gauges(&self.registry);
    }
}

impl Actor for Devices {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(REFRESH_EVERY, |act, ctx| act.refresh(ctx));
        ctx.run_interval(PERSIST_EVERY, |act, ctx| act.persist(ctx));
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
        let event = EventData::DeviceProvisioned(DeviceProvisioned {
            device_id: id.clone(),
            asset_id: stored.asset_id.clone(),
        });
        let recorded = Event::new(event.clone());
        Box::pin(
            async move {
                db.run(move |conn| {
                    conn.transaction(|conn| {
                        store::insert(conn, &stored)?;
                        plantd_events::record(conn, &[recorded])
                    })
                })
                .await
            }
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
                act.outbox.wake();
                act.count_change(&event);
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

impl Devices {
    /// Answers from the registry once every live device row is in it (rows stored by
    /// another process since start-up are added, none replaced): the listings' one frame.
    fn answer_from_loaded_registry<R: 'static>(
        &mut self,
        answer: impl FnOnce(&Registry) -> R + 'static,
    ) -> ResponseActFuture<Self, Result<R, DomainError>> {
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
                    Ok(answer(&act.registry))
                }),
        )
    }
}

impl Handler<BrowseDevices> for Devices {
    type Result = ResponseActFuture<Self, Result<Windowed<DeviceView>, DomainError>>;

    fn handle(&mut self, msg: BrowseDevices, _: &mut Context<Self>) -> Self::Result {
        self.answer_from_loaded_registry(move |registry| registry.browse(&msg))
    }
}

impl Handler<ListDevices> for Devices {
    type Result = ResponseActFuture<Self, Result<DevicePage, DomainError>>;

    fn handle(&mut self, msg: ListDevices, _: &mut Context<Self>) -> Self::Result {
        self.answer_from_loaded_registry(move |registry| registry.page(&msg))
    }
}

impl Handler<CountDevices> for Devices {
    type Result = MessageResult<CountDevices>;

    fn handle(&mut self, _: CountDevices, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.registry.counts_by_state())
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
    type Result = ResponseFuture<<AuthenticateDevice as Message>::Result>;

    fn handle(&mut self, msg: AuthenticateDevice, _: &mut Context<Self>) -> Self::Result {
        let answer = self
            .registry
            .authenticate(&msg.device_id, &msg.secret, msg.certified);
        let hold = self.hold_logins.clone().filter(|f| f.exists());
        Box::pin(async move {
            if let Some(file) = hold {
                let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while file.exists() && std::time::Instant::now() < until {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
            answer
        })
    }
}
