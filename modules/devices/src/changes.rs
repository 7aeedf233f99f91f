//! Changes to registered devices: patch, rotate credentials, disable / enable, delete.
//! Each writes `devices_devices` and records its `device.*` event in one transaction, and
//! changes memory (which answers logins) only after the commit; credential and state
//! changes then cut the device's live MQTT session.

use actix::prelude::*;
use plantd_contracts::devices::*;
use plantd_contracts::events::{DeviceRef, DeviceUpdated};
use plantd_contracts::time::now_ms;
use plantd_contracts::{DeviceId, DomainError, Event, EventData};
use serde_json::json;

use crate::actor::Devices;
use crate::registry::labels_of;
use crate::store::{self, DeviceRow, RowChange};
use crate::validate;

/// What happens after a change is committed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    Nothing,
    CutSession,
}

fn not_found(id: &DeviceId) -> DomainError {
    DomainError::NotFound(format!("device {id}"))
}

impl Devices {
    /// Writes `row` (a changed copy of the device's row) with `event`, then updates
    /// memory and, if asked, cuts the live session. Replies with the stored row.
    fn commit(
        &mut self,
        id: DeviceId,
        row: DeviceRow,
        event: EventData,
        after: After,
    ) -> ResponseActFuture<Self, Result<DeviceRow, DomainError>> {
        let db = self.db.clone();
        let change = RowChange::from(&row);
        let key = id.to_string();
        let span = tracing::info_span!("device_change", device = %id, event = event.kind());
        let recorded = Event::new(event.clone());
        Box::pin(
            async move {
                db.run(move |conn| {
                    conn.transaction(|conn| {
                        let updated = store::update(conn, &key, &change)?;
                        if updated {
                            plantd_events::record(conn, &[recorded])?;
                        }
                        Ok(updated)
                    })
                })
                .await
            }
            .into_actor(self)
            .map(move |result, act, _| {
                let _guard = span.enter();
                if !result.map_err(DomainError::from)? {
                    // Deleted by another process meanwhile.
                    act.registry.remove(&id);
                    return Err(not_found(&id));
                }
                act.registry.replace_row(&id, row.clone());
                if after == After::CutSession {
                    act.cut_session(&id);
                }
                tracing::info!("device changed");
                act.outbox.wake();
                act.count_change(&event);
                Ok(row)
            }),
        )
    }

    fn view_after(
        fut: ResponseActFuture<Self, Result<DeviceRow, DomainError>>,
        id: DeviceId,
    ) -> ResponseActFuture<Self, Result<DeviceView, DomainError>> {
        Box::pin(fut.map(move |result, act: &mut Devices, _| {
            result?;
            act.registry.view(&id).ok_or_else(|| not_found(&id))
        }))
    }
}

/// Applies a patch to a copy of the row; returns the changed row and the changed fields.
fn patched(
    mut row: DeviceRow,
    msg: &PatchDevice,
) -> Result<(DeviceRow, Vec<&'static str>), DomainError> {
    let mut fields = Vec::new();
    if let Some(name) = &msg.name {
        validate::name(name)?;
        row.name = name.clone();
        fields.push("name");
    }
    if let Some(kind) = &msg.kind {
        validate::short_text("kind", kind)?;
        row.kind = Some(kind.clone()).filter(|k| !k.is_empty());
        fields.push("kind");
    }
    if let Some(asset) = &msg.asset_id {
        validate::short_text("asset_id", asset)?;
        row.asset_id = Some(asset.clone()).filter(|a| !a.is_empty());
        fields.push("asset_id");
    }
    if let Some(change) = &msg.metadata {
        let mut metadata: serde_json::Value =
            serde_json::from_str(&row.metadata).unwrap_or_else(|_| json!({}));
        match change {
            MetadataChange::Merge(patch) => {
                if !patch.is_object() {
                    return Err(DomainError::invalid(
                        "metadata",
                        "a merge patch must be a JSON object",
                    ));
                }
                plantd_contracts::json::merge_patch(&mut metadata, patch);
            }
            MetadataChange::Replace(value) => metadata = value.clone(),
        }
        validate::metadata(&metadata)?;
        row.metadata = metadata.to_string();
        fields.push("metadata");
    }
    if let Some(labels) = &msg.labels {
        let labels = validate::labels(labels.clone())?;
        row.labels = serde_json::to_string(&labels).unwrap_or_else(|_| "[]".to_owned());
        fields.push("labels");
    }
    Ok((row, fields))
}

impl Handler<PatchDevice> for Devices {
    type Result = ResponseActFuture<Self, Result<DeviceView, DomainError>>;

    fn handle(&mut self, msg: PatchDevice, _: &mut Context<Self>) -> Self::Result {
        let Some(row) = self.registry.row(&msg.id).cloned() else {
            return Box::pin(fut::ready(Err(not_found(&msg.id))));
        };
        let (mut row, fields) = match patched(row, &msg) {
            Ok(done) => done,
            Err(e) => return Box::pin(fut::ready(Err(e))),
        };
        if fields.is_empty() {
            // Nothing to change: no write, no event.
            return Box::pin(fut::ready(
                self.registry
                    .view(&msg.id)
                    .ok_or_else(|| not_found(&msg.id)),
            ));
        }
        row.updated_at = now_ms();
        let event = EventData::DeviceUpdated(DeviceUpdated {
            device_id: msg.id.clone(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            labels: labels_of(&row),
            asset_id: row.asset_id.clone(),
        });
        let fut = self.commit(msg.id.clone(), row, event, After::Nothing);
        Self::view_after(fut, msg.id)
    }
}

impl Handler<RotateCredentials> for Devices {
    type Result = ResponseActFuture<Self, Result<DeviceCredentials, DomainError>>;

    fn handle(&mut self, msg: RotateCredentials, _: &mut Context<Self>) -> Self::Result {
        let Some(mut row) = self.registry.row(&msg.id).cloned() else {
            return Box::pin(fut::ready(Err(not_found(&msg.id))));
        };
        let secret = plantd_secrets::random_hex(20);
        row.secret_digest = plantd_secrets::digest(&secret);
        row.updated_at = now_ms();
        let id = msg.id;
        let event = EventData::DeviceCredentialsRotated(DeviceRef {
            device_id: id.clone(),
        });
        let fut = self.commit(id.clone(), row, event, After::CutSession);
        Box::pin(fut.map(move |result, _, _| {
            result?;
            Ok(DeviceCredentials {
                username: id.to_string(),
                password: secret,
            })
        }))
    }
}

impl Handler<SetDeviceEnabled> for Devices {
    type Result = ResponseActFuture<Self, Result<DeviceView, DomainError>>;

    fn handle(&mut self, msg: SetDeviceEnabled, _: &mut Context<Self>) -> Self::Result {
        let Some(mut row) = self.registry.row(&msg.id).cloned() else {
            return Box::pin(fut::ready(Err(not_found(&msg.id))));
        };
        if row.enabled == msg.enabled {
            return Box::pin(fut::ready(
                self.registry
                    .view(&msg.id)
                    .ok_or_else(|| not_found(&msg.id)),
            ));
        }
        row.enabled = msg.enabled;
        row.updated_at = now_ms();
        let device = DeviceRef {
            device_id: msg.id.clone(),
        };
        let (event, after) = if msg.enabled {
            (EventData::DeviceEnabled(device), After::Nothing)
        } else {
            (EventData::DeviceDisabled(device), After::CutSession)
        };
        let fut = self.commit(msg.id.clone(), row, event, after);
        Self::view_after(fut, msg.id)
    }
}

impl Handler<DeleteDevice> for Devices {
    type Result = ResponseActFuture<Self, Result<(), DomainError>>;

    fn handle(&mut self, msg: DeleteDevice, _: &mut Context<Self>) -> Self::Result {
        if self.registry.row(&msg.id).is_none() {
            return Box::pin(fut::ready(Err(not_found(&msg.id))));
        }
        let db = self.db.clone();
        let key = msg.id.to_string();
        let event = EventData::DeviceDeleted(DeviceRef {
            device_id: msg.id.clone(),
        });
        let recorded = Event::new(event.clone());
        let id = msg.id;
        Box::pin(
            async move {
                db.run(move |conn| {
                    conn.transaction(|conn| {
                        let deleted = store::mark_deleted(conn, &key, now_ms())?;
                        if deleted {
                            plantd_events::record(conn, &[recorded])?;
                        }
                        Ok(deleted)
                    })
                })
                .await
            }
            .into_actor(self)
            .map(move |result, act, _| {
                let deleted = result.map_err(DomainError::from)?;
                act.registry.remove(&id);
                act.presence.unsaved_seen.remove(&id);
                act.cut_session(&id);
                if !deleted {
                    return Err(not_found(&id));
                }
                tracing::info!(device = %id, "device deleted; its id stays reserved");
                act.outbox.wake();
                act.count_change(&event);
                Ok(())
            }),
        )
    }
}
