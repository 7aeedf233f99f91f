//! Keeping the firmware folder bounded: the image quota (`firmware_max_images`,
//! `firmware_max_total_bytes`) checked when an upload starts and again before it is kept,
//! and `DeleteFirmware`. A deleted image keeps its row with `deleted_at` (campaigns refer
//! to it, so their history stays readable); its bytes are removed and it leaves memory, so
//! it is no longer listed, offered or downloadable. Touches only the firmware table and
//! `images/`.

use actix::prelude::*;
use plantd_contracts::firmware::DeleteFirmware;
use plantd_contracts::time::now_ms;
use plantd_contracts::DomainError;
use plantd_storage::DbError;

use super::actor::Firmware;
use super::store;

impl Firmware {
    /// Refuses an image of `size` bytes (0 when not known yet) if keeping it would take the
    /// folder past a quota, counting the images being kept right now; counted by the quota
    /// it names.
    pub(super) fn check_quota(&self, size: u64) -> Result<(), DomainError> {
        let (keeping_count, keeping_bytes) = self.keeping;
        let max_images = self.settings.max_images;
        if self.images.len() + keeping_count >= max_images {
            return Err(refused(
                "firmware_max_images",
                DomainError::Conflict(format!(
                    "{max_images} firmware images are kept already (firmware_max_images); delete one first"
                )),
            ));
        }
        let used: u64 = self
            .images
            .values()
            .map(|r| u64::try_from(r.size).unwrap_or(0))
            .sum::<u64>()
            .saturating_add(keeping_bytes);
        let max_total = self.settings.max_total_bytes;
        if used.saturating_add(size) > max_total {
            return Err(refused(
                "firmware_max_total_bytes",
                DomainError::TooLarge(format!(
                    "the kept firmware images take {used} bytes of {max_total} (firmware_max_total_bytes); delete one first"
                )),
            ));
        }
        Ok(())
    }
}

fn refused(quota: &'static str, error: DomainError) -> DomainError {
    metrics::counter!("plantd_firmware_uploads_refused_total", "quota" => quota).increment(1);
    error
}

impl Handler<DeleteFirmware> for Firmware {
    type Result = ResponseActFuture<Self, Result<(), DomainError>>;

    fn handle(&mut self, msg: DeleteFirmware, _: &mut Context<Self>) -> Self::Result {
        let refuse = |e| -> Self::Result { Box::pin(fut::ready(Err(e))) };
        let id = msg.id;
        if let Some(running) = self
            .campaigns
            .values()
            .find(|c| c.is_running() && c.row.firmware_id == id)
        {
            return refuse(DomainError::Conflict(format!(
                "firmware {id} is in use by the running campaign {}; cancel it or let it finish first",
                running.row.id
            )));
        }
        // Out of memory first: no campaign can start with it, no read find it, while the
        // row is written. A failed write puts it back.
        let Some(row) = self.images.remove(&id) else {
            return refuse(DomainError::NotFound(format!("firmware {id}")));
        };
        let path = self.settings.image_path(&id);
        let db = self.db.clone();
        let key = id.clone();
        Box::pin(
            async move {
                db.run(move |conn| {
                    store::mark_firmware_deleted(conn, &key, now_ms())?;
                    if let Err(e) = std::fs::remove_file(&path) {
                        if e.kind() != std::io::ErrorKind::NotFound {
                            // The row says deleted; the next start removes the file again.
                            tracing::warn!(error = %e, path = %path.display(), "cannot remove a deleted firmware image");
                        }
                    }
                    Ok::<_, DbError>(())
                })
                .await
            }
            .into_actor(self)
            .map(move |result, act, _| match result {
                Ok(()) => {
                    metrics::counter!("plantd_firmware_images_deleted_total").increment(1);
                    tracing::info!(firmware = %id, version = %row.version, by = %msg.by, "firmware image deleted");
                    Ok(())
                }
                Err(e) => {
                    act.images.insert(id, row);
                    Err(DomainError::from(e))
                }
            }),
        )
    }
}
