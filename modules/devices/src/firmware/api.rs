//! The firmware actor's API side: images (keep a finished upload, list), campaigns
//! (start, list, detail, cancel) and the download check. Answers from memory; writes go
//! through the firmware tables before memory changes (start, finish an upload). The
//! bytes of uploads and downloads are handled in `transfer.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};

use actix::prelude::*;
use plantd_contracts::devices::ListDevices;
use plantd_contracts::events::{CampaignCancelled, CampaignStarted, FirmwareUploaded};
use plantd_contracts::firmware::*;
use plantd_contracts::time::now_ms;
use plantd_contracts::{DeviceId, DomainError, Event, EventData};
use plantd_storage::DbError;

use super::actor::Firmware;
use super::campaign::{Campaign, Target};
use super::store::{self, CampaignRow, FirmwareRow, TargetRow};
use super::uploads;

/// Most devices one campaign may target.
const MAX_TARGETS: usize = 10_000;

/// Ids that sort by creation time: 12 hex digits of milliseconds, 6 random ones.
fn new_id(prefix: &str) -> String {
    format!("{prefix}{:012x}{}", now_ms(), plantd_secrets::random_hex(3))
}

impl Handler<FinishUpload> for Firmware {
    type Result = ResponseActFuture<Self, Result<FirmwareView, DomainError>>;

    fn handle(&mut self, msg: FinishUpload, _: &mut Context<Self>) -> Self::Result {
        let upload_id = msg.upload_id;
        let msg = match self.uploads.finish(&upload_id) {
            Ok(finished) => finished,
            Err(e) => return Box::pin(fut::ready(Err(e))),
        };
        if msg.size == 0 {
            let removed = self.discard(&upload_id, msg.path, "empty");
            let refusal = async move {
                let _ = removed.await;
                Err(DomainError::invalid("file", "the image is empty"))
            };
            return Box::pin(refusal.into_actor(self));
        }
        if let Err(e) = self.check_quota(msg.size) {
            let removed = self.discard(&upload_id, msg.path, "quota");
            let refusal = async move {
                let _ = removed.await;
                Err(e)
            };
            return Box::pin(refusal.into_actor(self));
        }
        let size = msg.size;
        self.keeping = (self.keeping.0 + 1, self.keeping.1.saturating_add(size));
        let id = new_id("fw");
        let name = msg
            .name
            .clone()
            .map(|n| n.chars().take(200).collect::<String>())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("firmware {}", msg.version));
        let row = FirmwareRow {
            id: id.clone(),
            version: msg.version.clone(),
            name,
            sha256: msg.sha256.clone(),
            size: i64::try_from(msg.size).unwrap_or(i64::MAX),
            created_at: now_ms(),
            deleted_at: None,
        };
        let stored = row.clone();
        let target = self.settings.image_path(&id);
        let db = self.db.clone();
        let (staged, file) = (msg.path, msg.file);
        Box::pin(
            async move {
                db.run(move |conn| {
                    uploads::keep(file, &staged, &target).map_err(|e| {
                        DbError::Pool(format!("cannot keep the firmware image: {e}"))
                    })?;
                    let uploaded = EventData::FirmwareUploaded(FirmwareUploaded {
                        firmware_id: stored.id.clone(),
                        version: stored.version.clone(),
                        sha256: stored.sha256.clone(),
                        size: stored.size,
                    });
                    conn.transaction(|conn| {
                        store::insert_firmware(conn, &stored)?;
                        plantd_events::record(conn, &[Event::new(uploaded)])
                    })
                    .inspect_err(|_| {
                        let _ = std::fs::remove_file(&target);
                    })
                })
                .await
            }
            .into_actor(self)
            .map(move |result, act, _| {
                act.keeping = (
                    act.keeping.0.saturating_sub(1),
                    act.keeping.1.saturating_sub(size),
                );
                result.map_err(DomainError::from)?;
                tracing::info!(firmware = %row.id, version = %row.version, size = row.size, "firmware image stored");
                act.wiring.outbox.wake();
                let view = act.image_view(&row);
                act.images.insert(row.id.clone(), row);
                Ok(view)
            }),
        )
    }
}

impl Handler<ListFirmware> for Firmware {
    type Result = Result<Vec<FirmwareView>, DomainError>;

    fn handle(&mut self, _: ListFirmware, _: &mut Context<Self>) -> Self::Result {
        Ok(self.images.values().map(|r| self.image_view(r)).collect())
    }
}

impl Handler<GetFirmware> for Firmware {
    type Result = Result<FirmwareView, DomainError>;

    fn handle(&mut self, msg: GetFirmware, _: &mut Context<Self>) -> Self::Result {
        self.images
            .get(&msg.id)
            .map(|r| self.image_view(r))
            .ok_or_else(|| DomainError::NotFound(format!("firmware {}", msg.id)))
    }
}

impl Handler<GetSigningKey> for Firmware {
    type Result = String;

    fn handle(&mut self, _: GetSigningKey, _: &mut Context<Self>) -> Self::Result {
        super::signing::public_key_base64(&self.signing_key)
    }
}

impl Handler<StartCampaign> for Firmware {
    type Result = AtomicResponse<Self, Result<CampaignDetail, DomainError>>;

    fn handle(&mut self, msg: StartCampaign, _: &mut Context<Self>) -> Self::Result {
        let fail = |e| AtomicResponse::new(Box::pin(fut::ready(Err(e))));
        let Some(image) = self.images.get(&msg.firmware_id).cloned() else {
            return fail(DomainError::invalid(
                "firmware",
                format!("no firmware image '{}'", msg.firmware_id),
            ));
        };
        // Devices already in a running campaign. The handler is atomic, so this cannot
        // change before the new campaign is in place.
        let busy: HashMap<DeviceId, String> = self
            .campaigns
            .values()
            .flat_map(|c| c.offered().map(|d| (d.clone(), c.row.id.clone())))
            .collect();
        let timeout_s = msg
            .timeout_s
            .unwrap_or(self.settings.step_timeout.as_secs())
            .clamp(1, 7 * 24 * 3600);
        let retries = msg.retries.unwrap_or(self.settings.retries).min(100);
        let registry = self.wiring.devices.clone();
        let db = self.db.clone();
        let created_by = msg.created_by;
        let targets = msg.targets;
        AtomicResponse::new(Box::pin(
            async move {
                // A label is resolved once, now: devices labelled later are not added.
                let query = match &targets {
                    CampaignTargets::Devices(_) => ListDevices::default(),
                    CampaignTargets::Label(label) => ListDevices {
                        label: Some(label.clone()),
                        ..ListDevices::default()
                    },
                };
                let known = registry
                    .send(query)
                    .await
                    .map_err(|_| DomainError::Unavailable("the device registry is not answering".into()))??
                    .items;
                let online: HashSet<DeviceId> = known
                    .iter()
                    .filter(|d| d.online)
                    .map(|d| d.id.clone())
                    .collect();
                let known: HashSet<DeviceId> = known.into_iter().map(|d| d.id).collect();
                let mut devices: Vec<DeviceId> = match targets {
                    CampaignTargets::Devices(list) => {
                        let unknown: Vec<String> = list
                            .iter()
                            .filter(|d| !known.contains(*d))
                            .map(|d| d.to_string())
                            .collect();
                        if !unknown.is_empty() {
                            return Err(DomainError::invalid(
                                "devices",
                                format!("unknown device(s): {}", unknown.join(", ")),
                            ));
                        }
                        list
                    }
                    CampaignTargets::Label(label) => {
                        if known.is_empty() {
                            return Err(DomainError::invalid(
                                "label",
                                format!("no device has the label '{label}'"),
                            ));
                        }
                        known.into_iter().collect()
                    }
                };
                devices.sort();
                devices.dedup();
                if devices.is_empty() || devices.len() > MAX_TARGETS {
                    return Err(DomainError::invalid(
                        "devices",
                        format!("name 1 to {MAX_TARGETS} devices"),
                    ));
                }
                let in_use: Vec<String> = devices
                    .iter()
                    .filter_map(|d| busy.get(d).map(|c| format!("{d} ({c})")))
                    .collect();
                if !in_use.is_empty() {
                    return Err(DomainError::Conflict(format!(
                        "already in a running campaign: {}",
                        in_use.join(", ")
                    )));
                }
                let now = now_ms();
                let row = CampaignRow {
                    id: new_id("c"),
                    firmware_id: image.id.clone(),
                    status: CampaignStatus::Running.as_str().to_owned(),
                    timeout_s: i64::try_from(timeout_s).unwrap_or(i64::MAX),
                    retries: i32::try_from(retries).unwrap_or(0),
                    created_by,
                    created_at: now,
                    finished_at: None,
                };
                let targets: BTreeMap<DeviceId, Target> = devices
                    .into_iter()
                    .map(|d| {
                        let deadline = online
                            .contains(&d)
                            .then(|| now.saturating_add(row.timeout_s.saturating_mul(1000)));
                        (
                            d,
                            Target {
                                state: TargetState::Pending,
                                attempts: 1,
                                reported_version: None,
                                detail: None,
                                deadline,
                                updated_at: now,
                            },
                        )
                    })
                    .collect();
                let campaign = Campaign {
                    row,
                    status: CampaignStatus::Running,
                    version: image.version.clone(),
                    targets,
                };
                let rows: Vec<TargetRow> = campaign
                    .targets
                    .keys()
                    .filter_map(|d| campaign.target_row(d))
                    .collect();
                let campaign_row = campaign.row.clone();
                let started = EventData::CampaignStarted(CampaignStarted {
                    campaign: campaign_row.id.clone(),
                    firmware_id: campaign_row.firmware_id.clone(),
                    devices: rows.len(),
                });
                db.run(move |conn| {
                    conn.transaction(|conn| {
                        store::insert_campaign(conn, &campaign_row, &rows)?;
                        plantd_events::record(conn, &[Event::new(started)])
                    })
                })
                .await
                .map_err(DomainError::from)?;
                Ok(campaign)
            }
            .into_actor(self)
            .map(|result, act, _| {
                let campaign = result?;
                let id = campaign.row.id.clone();
                for device in campaign.offered() {
                    act.offer(&campaign, device);
                }
                tracing::info!(campaign = %id, firmware = %campaign.row.firmware_id, devices = campaign.targets.len(), by = %campaign.row.created_by, "firmware campaign started");
                act.wiring.outbox.wake();
                let detail = campaign.detail();
                act.campaigns.insert(id, campaign);
                Ok(detail)
            }),
        ))
    }
}

impl Handler<ListCampaigns> for Firmware {
    type Result = Result<Vec<CampaignView>, DomainError>;

    fn handle(&mut self, _: ListCampaigns, _: &mut Context<Self>) -> Self::Result {
        Ok(self.campaigns.values().map(Campaign::view).collect())
    }
}

impl Handler<GetCampaign> for Firmware {
    type Result = Result<CampaignDetail, DomainError>;

    fn handle(&mut self, msg: GetCampaign, _: &mut Context<Self>) -> Self::Result {
        self.campaign(&msg.id).map(Campaign::detail)
    }
}

impl Handler<CancelCampaign> for Firmware {
    type Result = Result<CampaignDetail, DomainError>;

    fn handle(&mut self, msg: CancelCampaign, ctx: &mut Context<Self>) -> Self::Result {
        let campaign = self
            .campaigns
            .get_mut(&msg.id)
            .ok_or_else(|| DomainError::NotFound(format!("campaign {}", msg.id)))?;
        if !campaign.is_running() {
            return Err(DomainError::Conflict(format!(
                "campaign {} is {}, not running",
                msg.id,
                campaign.status.as_str()
            )));
        }
        let outcome = campaign.cancel(now_ms());
        let cancelled = outcome.changed.len();
        let detail = campaign.detail();
        self.apply(&msg.id, outcome);
        tracing::info!(campaign = %msg.id, devices = cancelled, by = %msg.by, "firmware campaign cancelled");
        self.publish(EventData::CampaignCancelled(CampaignCancelled {
            campaign: msg.id.clone(),
            cancelled_devices: cancelled,
        }));
        self.save(ctx);
        Ok(detail)
    }
}

impl Handler<AuthorizeDownload> for Firmware {
    type Result = Result<FirmwareContent, DomainError>;

    fn handle(&mut self, msg: AuthorizeDownload, _: &mut Context<Self>) -> Self::Result {
        let allowed = self
            .active_for(&msg.device_id)
            .filter(|c| c.row.firmware_id == msg.firmware_id);
        let (Some(_), Some(image)) = (allowed, self.images.get(&msg.firmware_id)) else {
            tracing::warn!(device = %msg.device_id, firmware = %msg.firmware_id, "firmware download refused: not offered to this device");
            return Err(DomainError::NotFound(format!(
                "firmware {} for device {}",
                msg.firmware_id, msg.device_id
            )));
        };
        tracing::info!(device = %msg.device_id, firmware = %image.id, "firmware download");
        Ok(FirmwareContent {
            content_id: image.id.clone(),
            size: u64::try_from(image.size).unwrap_or(0),
            sha256: image.sha256.clone(),
        })
    }
}
