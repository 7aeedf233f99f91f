//! The firmware actor: keeps images and campaigns in memory (loaded at start, every change
//! written to its tables), checks deadlines, publishes and clears the retained
//! `firmware/available` notices. Its handlers are in `api.rs` (the REST/UI side),
//! `transfer.rs` (image bytes in and out) and `reports.rs` (the device side). Its
//! `firmware.*` events are written with the rows of the change that caused them (`save`
//! writes both in one transaction).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use actix::prelude::*;
use plantd_contracts::broker::PublishToDevice;
use plantd_contracts::devices::{FlushPending, ListDevices};
use plantd_contracts::events::{CampaignFinished, FirmwareDeviceFinished};
use plantd_contracts::firmware::*;
use plantd_contracts::time::{now_ms, to_datetime};
use plantd_contracts::{DeviceId, DomainError, Event, EventData};
use plantd_events::Outbox;
use plantd_storage::{Db, DbError};

use super::campaign::{Campaign, Effect, Outcome, Target};
use super::images::FirmwareSettings;
use super::store::{self, CampaignRow, FirmwareRow, TargetRow};
use super::uploads::Uploads;

/// How often deadlines are checked and pending progress written.
const TICK: Duration = Duration::from_millis(250);

/// What the firmware actor talks to, wired at start.
pub struct FirmwareWiring {
    /// The broker: notices to devices.
    pub publisher: Recipient<PublishToDevice>,
    /// The registry: do the targets exist, are they online.
    pub devices: Recipient<ListDevices>,
    /// Told when `firmware.*` events were committed.
    pub outbox: Outbox,
}

pub struct Firmware {
    pub(super) db: Db,
    pub(super) settings: FirmwareSettings,
    pub(super) wiring: FirmwareWiring,
    /// Images that are not deleted.
    pub(super) images: BTreeMap<String, FirmwareRow>,
    pub(super) campaigns: BTreeMap<String, Campaign>,
    pub(super) online: HashSet<DeviceId>,
    pub(super) dirty_campaigns: HashSet<String>,
    pub(super) dirty_targets: HashSet<(String, DeviceId)>,
    /// Events of changes not written yet; `save` writes them with those changes.
    pub(super) unsaved_events: Vec<Event>,
    pub(super) saving: bool,
    /// Finished uploads being moved into `images/` (count, bytes): they count against
    /// the quota until they are in `images` (`removal.rs`).
    pub(super) keeping: (usize, u64),
    /// Uploads in progress (`transfer.rs`).
    pub(super) uploads: Uploads,
    /// Signs every image's SHA-256 (`signing.rs`).
    pub(super) signing_key: ed25519_dalek::SigningKey,
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
        let key_file = settings.key_file.clone();
        let signing_key = db
            .run(move |_| {
                super::signing::load_or_create(&key_file).map_err(|e| {
                    DbError::Pool(format!(
                        "cannot read or create the firmware signing key {}: {e}",
                        key_file.display()
                    ))
                })
            })
            .await?;
        let (images, campaigns, targets) = db.run(store::load_all).await?;
        // A deleted image's row stays for its campaigns' history; its bytes go (again, in
        // case a crash came between the row and the file).
        let (deleted, images): (Vec<FirmwareRow>, Vec<FirmwareRow>) =
            images.into_iter().partition(|r| r.deleted_at.is_some());
        let leftovers: Vec<_> = deleted.iter().map(|r| settings.image_path(&r.id)).collect();
        db.run(move |_| {
            for path in leftovers {
                let _ = std::fs::remove_file(path);
            }
            Ok(())
        })
        .await?;
        let versions: BTreeMap<String, String> = deleted
            .iter()
            .chain(&images)
            .map(|r| (r.id.clone(), r.version.clone()))
            .collect();
        let images: BTreeMap<String, FirmwareRow> =
            images.into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut loaded = BTreeMap::new();
        for row in campaigns {
            let Some(status) = CampaignStatus::parse(&row.status) else {
                tracing::warn!(campaign = %row.id, status = %row.status, "skipping a campaign with an unknown status");
                continue;
            };
            let version = versions.get(&row.firmware_id).cloned().unwrap_or_default();
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
            unsaved_events: Vec::new(),
            saving: false,
            keeping: (0, 0),
            uploads: Uploads::default(),
            signing_key,
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
            serde_json::json!({
                "campaign": campaign.row.id,
                "version": image.version,
                "url": self.settings.download_url(&image.id),
                "sha256": image.sha256,
                "size": image.size,
                "signature": super::signing::sign_sha256(&self.signing_key, &image.sha256),
            })
            .to_string()
            .into_bytes(),
        )
    }

    pub(super) fn offer(&self, campaign: &Campaign, device: &DeviceId) {
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

    pub(super) fn withdraw(&self, device: &DeviceId) {
        self.wiring.publisher.do_send(PublishToDevice {
            device_id: device.clone(),
            subtopic: "firmware/available".to_owned(),
            payload: Vec::new(),
            retain: true,
        });
    }

    /// Queues an event for the next `save`, which writes it with the change it reports.
    pub(super) fn publish(&mut self, data: EventData) {
        self.unsaved_events.push(Event::new(data));
    }

    /// Marks what changed for writing and carries out the effects.
    pub(super) fn apply(&mut self, campaign_id: &str, outcome: Outcome) {
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
                    let finished = EventData::FirmwareDeviceFinished(FirmwareDeviceFinished {
                        campaign: campaign_id.to_owned(),
                        device_id: device,
                        state,
                        detail,
                    });
                    self.unsaved_events.push(Event::new(finished));
                }
                Effect::CampaignFinished => {
                    let counts = campaign.counts();
                    tracing::info!(campaign = %campaign_id, done = counts.done, failed = counts.failed, "firmware campaign finished");
                    let finished = EventData::CampaignFinished(CampaignFinished {
                        campaign: campaign_id.to_owned(),
                        counts,
                    });
                    self.unsaved_events.push(Event::new(finished));
                }
            }
        }
    }

    /// Writes changed campaigns and targets, one write in flight; a failed write is kept
    /// and tried again at the next tick.
    pub(super) fn save(&mut self, ctx: &mut Context<Self>) {
        if self.saving
            || (self.dirty_targets.is_empty()
                && self.dirty_campaigns.is_empty()
                && self.unsaved_events.is_empty())
        {
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
        let events = std::mem::take(&mut self.unsaved_events);
        self.saving = true;
        let db = self.db.clone();
        ctx.spawn(
            async move {
                db.run_keeping(events, move |conn, events| {
                    conn.transaction(|conn| {
                        store::save(conn, &campaigns, &targets)?;
                        plantd_events::record(conn, events)
                    })
                })
                .await
            }
            .into_actor(self)
            .map(move |result, act, _| {
                act.saving = false;
                match result {
                    Ok((_, Ok(()))) => act.wiring.outbox.wake(),
                    Ok((mut events, Err(e))) => {
                        metrics::counter!("plantd_firmware_save_errors_total").increment(1);
                        tracing::warn!(error = %e, "cannot store firmware progress; will retry");
                        act.dirty_campaigns.extend(campaign_keys);
                        act.dirty_targets.extend(target_keys);
                        events.append(&mut act.unsaved_events);
                        act.unsaved_events = events;
                    }
                    Err(e) => {
                        metrics::counter!("plantd_firmware_save_errors_total").increment(1);
                        tracing::error!(error = %e, "firmware progress write failed to run; its events are lost");
                        act.dirty_campaigns.extend(campaign_keys);
                        act.dirty_targets.extend(target_keys);
                    }
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
        self.drop_idle_uploads();
    }

    pub(super) fn image_view(&self, row: &FirmwareRow) -> FirmwareView {
        FirmwareView {
            signature: super::signing::sign_sha256(&self.signing_key, &row.sha256)
                .unwrap_or_default(),
            id: row.id.clone(),
            version: row.version.clone(),
            name: row.name.clone(),
            sha256: row.sha256.clone(),
            size: u64::try_from(row.size).unwrap_or(0),
            created_at: to_datetime(row.created_at),
        }
    }

    pub(super) fn campaign(&self, id: &str) -> Result<&Campaign, DomainError> {
        self.campaigns
            .get(id)
            .ok_or_else(|| DomainError::NotFound(format!("campaign {id}")))
    }

    /// The running campaign, if any, that still expects this device.
    pub(super) fn active_for(&self, device: &DeviceId) -> Option<&Campaign> {
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

/// How long a flush waits for the database before it gives up.
const FLUSH_WITHIN: Duration = Duration::from_secs(10);

impl Firmware {
    /// Starts a write of whatever is dirty and waits (polling every 10 ms, so the write's
    /// own continuation can run) until nothing is dirty and no write is in flight.
    fn flush_until_clean(
        &mut self,
        ctx: &mut Context<Self>,
        deadline: std::time::Instant,
    ) -> ResponseActFuture<Self, Result<(), DomainError>> {
        self.save(ctx);
        let clean = !self.saving
            && self.dirty_campaigns.is_empty()
            && self.dirty_targets.is_empty()
            && self.unsaved_events.is_empty();
        if clean {
            return Box::pin(fut::ready(Ok(())));
        }
        if std::time::Instant::now() > deadline {
            return Box::pin(fut::ready(Err(DomainError::Unavailable(
                "firmware progress could not be written".to_owned(),
            ))));
        }
        Box::pin(
            fut::wrap_future::<_, Self>(actix::clock::sleep(Duration::from_millis(10)))
                .then(move |_, act, ctx| act.flush_until_clean(ctx, deadline)),
        )
    }
}

impl Handler<FlushPending> for Firmware {
    type Result = ResponseActFuture<Self, Result<(), DomainError>>;

    fn handle(&mut self, _: FlushPending, ctx: &mut Context<Self>) -> Self::Result {
        self.flush_until_clean(ctx, std::time::Instant::now() + FLUSH_WITHIN)
    }
}
