//! The firmware actor: keeps images and campaigns in memory (loaded at start, every change
//! written to its tables), applies device reports and deadlines through `campaign.rs`,
//! publishes and clears the retained `firmware/available` notices, and answers the API.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use actix::prelude::*;
use plantd_contracts::broker::PublishToDevice;
use plantd_contracts::devices::{DeviceMessage, ListDevices};
use plantd_contracts::events::{self, DomainEvent};
use plantd_contracts::firmware::*;
use plantd_contracts::time::{now_ms, to_datetime};
use plantd_contracts::{DeviceId, DomainError};
use plantd_storage::{Db, DbError};
use serde_json::json;

use super::campaign::{Campaign, Effect, Outcome, StatusReport, Target};
use super::images::FirmwareSettings;
use super::store::{self, CampaignRow, FirmwareRow, TargetRow};

const SOURCE: &str = "devices.firmware";
/// How often deadlines are checked and pending progress written.
const TICK: Duration = Duration::from_millis(250);
/// Most devices one campaign may target.
const MAX_TARGETS: usize = 10_000;

/// What the firmware actor talks to, wired at start.
pub struct FirmwareWiring {
    /// The broker: notices to devices.
    pub publisher: Recipient<PublishToDevice>,
    /// The registry: do the targets exist, are they online.
    pub devices: Recipient<ListDevices>,
    /// Domain events (`firmware.*`).
    pub events: Vec<Recipient<DomainEvent>>,
}

pub struct Firmware {
    db: Db,
    settings: FirmwareSettings,
    wiring: FirmwareWiring,
    images: BTreeMap<String, FirmwareRow>,
    campaigns: BTreeMap<String, Campaign>,
    online: HashSet<DeviceId>,
    dirty_campaigns: HashSet<String>,
    dirty_targets: HashSet<(String, DeviceId)>,
    saving: bool,
}

impl Firmware {
    /// Loads images and campaigns; call once at start.
    pub async fn load(
        db: Db,
        settings: FirmwareSettings,
        wiring: FirmwareWiring,
    ) -> Result<Firmware, DbError> {
        let prepared = settings.clone();
        db.run(move |_| {
            prepared.prepare().map_err(|e| {
                DbError::Pool(format!(
                    "cannot create the firmware folder {}: {e}",
                    prepared.dir.display()
                ))
            })
        })
        .await?;
        let (images, campaigns, targets) = db.run(store::load_all).await?;
        let images: BTreeMap<String, FirmwareRow> =
            images.into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut loaded = BTreeMap::new();
        for row in campaigns {
            let Some(status) = CampaignStatus::parse(&row.status) else {
                tracing::warn!(campaign = %row.id, status = %row.status, "skipping a campaign with an unknown status");
                continue;
            };
            let version = images
                .get(&row.firmware_id)
                .map(|i| i.version.clone())
                .unwrap_or_default();
            loaded.insert(
                row.id.clone(),
                Campaign {
                    row,
                    status,
                    version,
                    targets: BTreeMap::new(),
                },
            );
        }
        for row in targets {
            let (Some(campaign), Ok(device), Some(target)) = (
                loaded.get_mut(&row.campaign_id),
                DeviceId::parse(&row.device_id),
                Target::from_row(&row),
            ) else {
                continue;
            };
            campaign.targets.insert(device, target);
        }
        let mut firmware = Firmware {
            db,
            settings,
            wiring,
            images,
            campaigns: loaded,
            online: HashSet::new(),
            dirty_campaigns: HashSet::new(),
            dirty_targets: HashSet::new(),
            saving: false,
        };
        firmware.restart_clocks();
        Ok(firmware)
    }

    /// After a restart nobody is online yet: pending offers wait for their device, and a
    /// device in the middle of an update gets a full step from now.
    fn restart_clocks(&mut self) {
        let now = now_ms();
        for campaign in self.campaigns.values_mut() {
            if !campaign.is_running() {
                continue;
            }
            let timeout = campaign.row.timeout_s.saturating_mul(1000);
            for (device, target) in campaign.targets.iter_mut() {
                let deadline = match target.state {
                    TargetState::Pending => None,
                    TargetState::Downloading | TargetState::Installing => {
                        Some(now.saturating_add(timeout))
                    }
                    _ => continue,
                };
                if target.deadline != deadline {
                    target.deadline = deadline;
                    self.dirty_targets
                        .insert((campaign.row.id.clone(), device.clone()));
                }
            }
        }
    }

    fn notice(&self, campaign: &Campaign) -> Option<Vec<u8>> {
        let image = self.images.get(&campaign.row.firmware_id)?;
        Some(
            json!({
                "campaign": campaign.row.id,
                "version": image.version,
                "url": self.settings.download_url(&image.id),
                "sha256": image.sha256,
                "size": image.size,
            })
            .to_string()
            .into_bytes(),
        )
    }

    fn offer(&self, campaign: &Campaign, device: &DeviceId) {
        let Some(payload) = self.notice(campaign) else {
            tracing::error!(campaign = %campaign.row.id, "campaign image is missing; notice not sent");
            return;
        };
        self.wiring.publisher.do_send(PublishToDevice {
            device_id: device.clone(),
            subtopic: "firmware/available".to_owned(),
            payload,
            retain: true,
        });
    }

    fn withdraw(&self, device: &DeviceId) {
        self.wiring.publisher.do_send(PublishToDevice {
            device_id: device.clone(),
            subtopic: "firmware/available".to_owned(),
            payload: Vec::new(),
            retain: true,
        });
    }

    fn publish(&self, kind: &str, data: serde_json::Value) {
        let event = DomainEvent::new(kind, SOURCE, data);
        for recipient in &self.wiring.events {
            recipient.do_send(event.clone());
        }
    }

    /// Marks what changed for writing and carries out the effects.
    fn apply(&mut self, campaign_id: &str, outcome: Outcome) {
        for device in outcome.changed {
            self.dirty_targets.insert((campaign_id.to_owned(), device));
        }
        if outcome.campaign_changed {
            self.dirty_campaigns.insert(campaign_id.to_owned());
        }
        let Some(campaign) = self.campaigns.get(campaign_id) else {
            return;
        };
        for effect in outcome.effects {
            match effect {
                Effect::Offer(device) => self.offer(campaign, &device),
                Effect::Withdraw(device) => self.withdraw(&device),
                Effect::DeviceFinished {
                    device,
                    state,
                    detail,
                } => {
                    metrics::counter!("plantd_firmware_devices_finished_total", "state" => state.as_str())
                        .increment(1);
                    tracing::info!(campaign = %campaign_id, device = %device, state = state.as_str(), detail = detail.as_deref().unwrap_or(""), "device finished its firmware update");
                    self.publish(
                        event::DEVICE_FINISHED,
                        json!({ "campaign": campaign_id, "device_id": device, "state": state, "detail": detail }),
                    );
                }
                Effect::CampaignFinished => {
                    let counts = campaign.counts();
                    tracing::info!(campaign = %campaign_id, done = counts.done, failed = counts.failed, "firmware campaign finished");
                    self.publish(
                        event::CAMPAIGN_FINISHED,
                        json!({ "campaign": campaign_id, "counts": counts }),
                    );
                }
            }
        }
    }

    /// Writes changed campaigns and targets, one write in flight; a failed write is kept
    /// and tried again at the next tick.
    fn save(&mut self, ctx: &mut Context<Self>) {
        if self.saving || (self.dirty_targets.is_empty() && self.dirty_campaigns.is_empty()) {
            return;
        }
        let campaign_keys: Vec<String> = self.dirty_campaigns.drain().collect();
        let target_keys: Vec<(String, DeviceId)> = self.dirty_targets.drain().collect();
        let campaigns: Vec<CampaignRow> = campaign_keys
            .iter()
            .filter_map(|id| self.campaigns.get(id).map(|c| c.row.clone()))
            .collect();
        let targets: Vec<TargetRow> = target_keys
            .iter()
            .filter_map(|(c, d)| self.campaigns.get(c).and_then(|c| c.target_row(d)))
            .collect();
        self.saving = true;
        let db = self.db.clone();
        ctx.spawn(
            async move {
                db.run(move |conn| store::save(conn, &campaigns, &targets))
                    .await
            }
            .into_actor(self)
            .map(move |result, act, _| {
                act.saving = false;
                if let Err(e) = result {
                    metrics::counter!("plantd_firmware_save_errors_total").increment(1);
                    tracing::warn!(error = %e, "cannot store firmware progress; will retry");
                    act.dirty_campaigns.extend(campaign_keys);
                    act.dirty_targets.extend(target_keys);
                }
            }),
        );
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let now = now_ms();
        let running: Vec<String> = self
            .campaigns
            .values()
            .filter(|c| c.is_running())
            .map(|c| c.row.id.clone())
            .collect();
        for id in running {
            let online = &self.online;
            let Some(campaign) = self.campaigns.get_mut(&id) else {
                continue;
            };
            let outcome = campaign.expire(now, |d| online.contains(d));
            if !outcome.changed.is_empty() {
                metrics::counter!("plantd_firmware_timeouts_total")
                    .increment(outcome.changed.len() as u64);
                tracing::warn!(campaign = %id, devices = outcome.changed.len(), "firmware update deadline missed");
            }
            self.apply(&id, outcome);
        }
        self.save(ctx);
    }

    fn image_view(row: &FirmwareRow) -> FirmwareView {
        FirmwareView {
            id: row.id.clone(),
            version: row.version.clone(),
            name: row.name.clone(),
            sha256: row.sha256.clone(),
            size: u64::try_from(row.size).unwrap_or(0),
            created_at: to_datetime(row.created_at),
        }
    }

    fn campaign(&self, id: &str) -> Result<&Campaign, DomainError> {
        self.campaigns
            .get(id)
            .ok_or_else(|| DomainError::NotFound(format!("campaign {id}")))
    }

    /// The running campaign, if any, that still expects this device.
    fn active_for(&self, device: &DeviceId) -> Option<&Campaign> {
        self.campaigns
            .values()
            .find(|c| c.offered().any(|d| d == device))
    }
}

impl Actor for Firmware {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The broker keeps retained messages in memory only: offer again what is open.
        for campaign in self.campaigns.values() {
            for device in campaign.offered() {
                self.offer(campaign, device);
            }
        }
        ctx.run_interval(TICK, |act, ctx| act.tick(ctx));
    }
}

/// Ids that sort by creation time: 12 hex digits of milliseconds, 6 random ones.
fn new_id(prefix: &str) -> String {
    format!("{prefix}{:012x}{}", now_ms(), plantd_secrets::random_hex(3))
}

fn valid_version(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 64
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
}

impl Handler<GetStagingArea> for Firmware {
    type Result = MessageResult<GetStagingArea>;

    fn handle(&mut self, _: GetStagingArea, _: &mut Context<Self>) -> Self::Result {
        MessageResult(StagingArea {
            dir: self.settings.staging_dir(),
            max_bytes: self.settings.max_upload_bytes,
        })
    }
}

impl Handler<RegisterFirmware> for Firmware {
    type Result = ResponseActFuture<Self, Result<FirmwareView, DomainError>>;

    fn handle(&mut self, msg: RegisterFirmware, _: &mut Context<Self>) -> Self::Result {
        let staged = msg.staged.clone();
        let discard = move || {
            let _ = std::fs::remove_file(&staged);
        };
        if !self.settings.is_staged(&msg.staged) {
            return Box::pin(fut::ready(Err(DomainError::invalid(
                "file",
                "not an upload in the staging folder",
            ))));
        }
        if !valid_version(&msg.version) {
            discard();
            return Box::pin(fut::ready(Err(DomainError::invalid(
                "version",
                "1-64 characters of letters, digits and . _ - +",
            ))));
        }
        if msg.size == 0 {
            discard();
            return Box::pin(fut::ready(Err(DomainError::invalid(
                "file",
                "the image is empty",
            ))));
        }
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
        };
        let stored = row.clone();
        let target = self.settings.image_path(&id);
        let db = self.db.clone();
        let staged = msg.staged;
        Box::pin(
            async move {
                db.run(move |conn| {
                    std::fs::rename(&staged, &target).map_err(|e| {
                        let _ = std::fs::remove_file(&staged);
                        DbError::Pool(format!("cannot keep the firmware image: {e}"))
                    })?;
                    store::insert_firmware(conn, &stored).inspect_err(|_| {
                        let _ = std::fs::remove_file(&target);
                    })
                })
                .await
            }
            .into_actor(self)
            .map(move |result, act, _| {
                result.map_err(DomainError::from)?;
                tracing::info!(firmware = %row.id, version = %row.version, size = row.size, "firmware image stored");
                act.publish(
                    event::UPLOADED,
                    json!({ "firmware_id": row.id, "version": row.version, "sha256": row.sha256, "size": row.size }),
                );
                let view = Firmware::image_view(&row);
                act.images.insert(row.id.clone(), row);
                Ok(view)
            }),
        )
    }
}

impl Handler<ListFirmware> for Firmware {
    type Result = Result<Vec<FirmwareView>, DomainError>;

    fn handle(&mut self, _: ListFirmware, _: &mut Context<Self>) -> Self::Result {
        Ok(self.images.values().map(Firmware::image_view).collect())
    }
}

impl Handler<GetFirmware> for Firmware {
    type Result = Result<FirmwareView, DomainError>;

    fn handle(&mut self, msg: GetFirmware, _: &mut Context<Self>) -> Self::Result {
        self.images
            .get(&msg.id)
            .map(Firmware::image_view)
            .ok_or_else(|| DomainError::NotFound(format!("firmware {}", msg.id)))
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
        let devices = match msg.targets {
            CampaignTargets::Devices(list) => list,
            // The registry has no labels yet: say so rather than guess.
            CampaignTargets::Label(_) => {
                return fail(DomainError::invalid(
                    "label",
                    "campaigns by label are not supported yet; list the devices",
                ))
            }
        };
        let mut devices: Vec<DeviceId> = devices;
        devices.sort();
        devices.dedup();
        if devices.is_empty() || devices.len() > MAX_TARGETS {
            return fail(DomainError::invalid(
                "devices",
                format!("name 1 to {MAX_TARGETS} devices"),
            ));
        }
        let busy: Vec<String> = devices
            .iter()
            .filter_map(|d| self.active_for(d).map(|c| format!("{d} ({})", c.row.id)))
            .collect();
        if !busy.is_empty() {
            return fail(DomainError::Conflict(format!(
                "already in a running campaign: {}",
                busy.join(", ")
            )));
        }
        let timeout_s = msg
            .timeout_s
            .unwrap_or(self.settings.step_timeout.as_secs())
            .clamp(1, 7 * 24 * 3600);
        let retries = msg.retries.unwrap_or(self.settings.retries).min(100);
        let registry = self.wiring.devices.clone();
        let db = self.db.clone();
        let created_by = msg.created_by;
        AtomicResponse::new(Box::pin(
            async move {
                let known = registry
                    .send(ListDevices)
                    .await
                    .map_err(|_| DomainError::Unavailable("the device registry is not answering".into()))??;
                let online: HashSet<DeviceId> = known
                    .iter()
                    .filter(|d| d.online)
                    .map(|d| d.id.clone())
                    .collect();
                let known: HashSet<DeviceId> = known.into_iter().map(|d| d.id).collect();
                let unknown: Vec<String> = devices
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
                db.run(move |conn| store::insert_campaign(conn, &campaign_row, &rows))
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
                act.publish(
                    event::CAMPAIGN_STARTED,
                    json!({ "campaign": id, "firmware_id": campaign.row.firmware_id, "devices": campaign.targets.len() }),
                );
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
        self.publish(
            event::CAMPAIGN_CANCELLED,
            json!({ "campaign": msg.id, "cancelled_devices": cancelled }),
        );
        self.save(ctx);
        Ok(detail)
    }
}

impl Handler<AuthorizeDownload> for Firmware {
    type Result = Result<FirmwareFile, DomainError>;

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
        Ok(FirmwareFile {
            path: self.settings.image_path(&image.id),
            size: u64::try_from(image.size).unwrap_or(0),
            sha256: image.sha256.clone(),
        })
    }
}

impl Handler<DeviceMessage> for Firmware {
    type Result = ();

    fn handle(&mut self, msg: DeviceMessage, ctx: &mut Context<Self>) {
        let span = tracing::debug_span!("firmware_status", device = %msg.device_id);
        let _guard = span.enter();
        let ignore = |reason: &'static str, detail: String| {
            metrics::counter!("plantd_firmware_reports_ignored_total", "reason" => reason)
                .increment(1);
            tracing::warn!(device = %msg.device_id, reason, %detail, "firmware status ignored");
        };
        if msg.subtopic != "firmware/status" {
            return ignore("topic", msg.subtopic.clone());
        }
        let report: StatusReport = match serde_json::from_slice(&msg.payload) {
            Ok(r) => r,
            Err(e) => return ignore("malformed", e.to_string()),
        };
        let Some(campaign) = self.campaigns.get_mut(&report.campaign) else {
            return ignore("unknown_campaign", report.campaign);
        };
        // A device repeats itself after a reboot (the notice is retained until cleared):
        // a report on a finished part is normal, not worth a warning.
        let repeated = !campaign.is_running()
            || campaign
                .targets
                .get(&msg.device_id)
                .is_some_and(|t| t.state.is_final());
        match campaign.report(&msg.device_id, &report, msg.received_at) {
            Ok(outcome) => {
                if let Some(state) = TargetState::parse(&report.state) {
                    metrics::counter!("plantd_firmware_reports_total", "state" => state.as_str())
                        .increment(1);
                }
                tracing::info!(device = %msg.device_id, campaign = %report.campaign, state = %report.state, "firmware status");
                self.apply(&report.campaign, outcome);
                self.save(ctx);
            }
            Err(reason) if repeated => {
                metrics::counter!("plantd_firmware_reports_ignored_total", "reason" => "finished")
                    .increment(1);
                tracing::debug!(device = %msg.device_id, %reason, "firmware status after the device finished");
            }
            Err(reason) => ignore("not_applicable", reason),
        }
    }
}

impl Handler<DomainEvent> for Firmware {
    type Result = ();

    fn handle(&mut self, event: DomainEvent, _: &mut Context<Self>) {
        let Some(device) = event.data["device_id"]
            .as_str()
            .and_then(|d| DeviceId::parse(d).ok())
        else {
            return;
        };
        let now = now_ms();
        let connected = match event.kind.as_str() {
            events::DEVICE_CONNECTED => true,
            events::DEVICE_DISCONNECTED => false,
            _ => return,
        };
        if connected {
            self.online.insert(device.clone());
        } else {
            self.online.remove(&device);
        }
        for campaign in self.campaigns.values_mut() {
            let changed = if connected {
                campaign.connected(&device, now)
            } else {
                campaign.disconnected(&device)
            };
            if changed {
                self.dirty_targets
                    .insert((campaign.row.id.clone(), device.clone()));
            }
        }
    }
}
