//! The devices actor: owns the registry, answers registry and login messages, and turns
//! the broker's connect/disconnect messages into presence and `device.*` events.

use actix::prelude::*;
use plantd_contracts::devices::*;
use plantd_contracts::events::{self, DomainEvent};
use plantd_contracts::time::now_ms;
use plantd_contracts::{DeviceId, DomainError};
use plantd_storage::{Db, DbError};
use serde_json::json;

use crate::registry::Registry;
use crate::store::{self, DeviceRow};

const SOURCE: &str = "devices";

pub struct Devices {
    db: Db,
    registry: Registry,
    events: Vec<Recipient<DomainEvent>>,
}

impl Devices {
    /// Loads the registry; call once at start, before the actor serves anyone.
    pub async fn load(db: Db, events: Vec<Recipient<DomainEvent>>) -> Result<Devices, DbError> {
        let rows = db.run(store::load_live).await?;
        let mut registry = Registry::default();
        for row in rows {
            match DeviceId::parse(&row.id) {
                Ok(id) => registry.insert(id, row),
                Err(_) => {
                    tracing::warn!(device = %row.id, "skipping a stored device with an invalid id")
                }
            }
        }
        Ok(Devices {
            db,
            registry,
            events,
        })
    }

    fn publish(&self, kind: &str, data: serde_json::Value) {
        let event = DomainEvent::new(kind, SOURCE, data);
        for recipient in &self.events {
            recipient.do_send(event.clone());
        }
    }

    fn persist_last_seen(&self, ctx: &mut Context<Self>, id: DeviceId, at: i64) {
        let db = self.db.clone();
        ctx.spawn(
            async move {
                if let Err(e) = db
                    .run(move |conn| store::set_last_seen(conn, id.as_str(), at))
                    .await
                {
                    tracing::warn!(error = %e, "cannot store a device's last_seen");
                }
            }
            .into_actor(self),
        );
    }
}

impl Actor for Devices {
    type Context = Context<Self>;
}

fn validate(msg: &ProvisionDevice) -> Result<(), DomainError> {
    if msg.name.as_ref().is_some_and(|n| n.len() > 200) {
        return Err(DomainError::invalid("name", "at most 200 characters"));
    }
    if msg.metadata.as_ref().is_some_and(|m| !m.is_object()) {
        return Err(DomainError::invalid("metadata", "must be a JSON object"));
    }
    Ok(())
}

impl Handler<ProvisionDevice> for Devices {
    type Result = ResponseActFuture<Self, Result<ProvisionedDevice, DomainError>>;

    fn handle(&mut self, msg: ProvisionDevice, _: &mut Context<Self>) -> Self::Result {
        if let Err(e) = validate(&msg) {
            return Box::pin(fut::ready(Err(e)));
        }
        let secret = plantd_secrets::random_hex(20);
        let now = now_ms();
        let row = DeviceRow {
            id: msg.id.to_string(),
            name: msg.name.clone().unwrap_or_else(|| msg.id.to_string()),
            kind: msg.kind.clone(),
            asset_id: msg.asset_id.clone(),
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

impl Devices {
    /// Looks a device up in the database when memory does not know it (it may have been
    /// provisioned by another process), then answers from memory.
    fn with_refreshed<T: 'static>(
        &mut self,
        id: &str,
        answer: impl FnOnce(&mut Self) -> T + 'static,
    ) -> ResponseActFuture<Self, T> {
        let Ok(device_id) = DeviceId::parse(id) else {
            return Box::pin(fut::ready(answer(self)));
        };
        if self.registry.contains(id) {
            return Box::pin(fut::ready(answer(self)));
        }
        let db = self.db.clone();
        let key = device_id.to_string();
        Box::pin(
            async move { db.run(move |conn| store::find_live(conn, &key)).await }
                .into_actor(self)
                .map(move |found, act, _| {
                    match found {
                        Ok(Some(row)) => act.registry.insert_if_absent(device_id, row),
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "cannot look a device up"),
                    }
                    answer(act)
                }),
        )
    }
}

impl Handler<ListDevices> for Devices {
    type Result = ResponseActFuture<Self, Result<Vec<DeviceView>, DomainError>>;

    fn handle(&mut self, _: ListDevices, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(
            async move { db.run(store::load_live).await }
                .into_actor(self)
                .map(|rows, act, _| {
                    for row in rows.map_err(DomainError::from)? {
                        if let Ok(id) = DeviceId::parse(&row.id) {
                            act.registry.insert_if_absent(id, row);
                        }
                    }
                    Ok(act.registry.views())
                }),
        )
    }
}

impl Handler<GetDevice> for Devices {
    type Result = ResponseActFuture<Self, Result<DeviceView, DomainError>>;

    fn handle(&mut self, msg: GetDevice, _: &mut Context<Self>) -> Self::Result {
        let id = msg.id;
        self.with_refreshed(&id.to_string(), move |act| {
            act.registry
                .view(&id)
                .ok_or_else(|| DomainError::NotFound(format!("device {id}")))
        })
    }
}

impl Handler<AuthenticateDevice> for Devices {
    type Result = ResponseActFuture<Self, DeviceAuth>;

    fn handle(&mut self, msg: AuthenticateDevice, _: &mut Context<Self>) -> Self::Result {
        let id = msg.device_id.clone();
        self.with_refreshed(&id, move |act| {
            act.registry.authenticate(&msg.device_id, &msg.secret)
        })
    }
}

impl Handler<DeviceExists> for Devices {
    type Result = ResponseActFuture<Self, bool>;

    fn handle(&mut self, msg: DeviceExists, _: &mut Context<Self>) -> Self::Result {
        let id = msg.device_id.clone();
        self.with_refreshed(&id, move |act| act.registry.contains(&msg.device_id))
    }
}

impl Handler<DeviceConnected> for Devices {
    type Result = ();

    fn handle(&mut self, msg: DeviceConnected, ctx: &mut Context<Self>) {
        let at = msg.at.timestamp_millis();
        if self.registry.connected(&msg.device_id, msg.session, at) {
            tracing::info!(device = %msg.device_id, session = msg.session, "device online");
            self.publish(
                events::DEVICE_CONNECTED,
                json!({ "device_id": msg.device_id, "protocol_version": msg.protocol_version }),
            );
            self.persist_last_seen(ctx, msg.device_id, at);
        }
    }
}

impl Handler<DeviceDisconnected> for Devices {
    type Result = ();

    fn handle(&mut self, msg: DeviceDisconnected, ctx: &mut Context<Self>) {
        let at = msg.at.timestamp_millis();
        if self.registry.disconnected(&msg.device_id, msg.session, at) {
            tracing::info!(device = %msg.device_id, session = msg.session, "device offline");
            self.publish(
                events::DEVICE_DISCONNECTED,
                json!({ "device_id": msg.device_id }),
            );
            self.persist_last_seen(ctx, msg.device_id, at);
        }
    }
}
