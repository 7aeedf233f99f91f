//! The firmware actor's byte handlers: an upload's start, chunks and abort, idle uploads
//! dropped, and an image read in chunks. Bytes cross the module's boundary only inside
//! messages; its files stay its own (`tmp/`, `images/`), and every file operation runs on
//! the blocking pool, never on the actor's thread. `FinishUpload` is in `api.rs`, with the
//! other writes of images.

use std::path::PathBuf;
use std::time::Instant;

use actix::prelude::*;
use plantd_contracts::firmware::{
    AbortUpload, BeginUpload, ReadImage, UploadChunk, MAX_CHUNK_BYTES,
};
use plantd_contracts::DomainError;

use super::actor::Firmware;
use super::images;
use super::uploads::{self, Sink, Upload};

/// Runs blocking file work on tokio's blocking pool.
async fn blocking<T, F>(work: F) -> std::io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(std::io::Error::other)?
}

fn valid_version(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 64
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
}

fn cannot_store() -> DomainError {
    DomainError::Unavailable("cannot store the upload".to_owned())
}

impl Firmware {
    /// Removes a dropped upload's file (off the actor's thread) and counts why. The removal
    /// has started when this returns; a handler that refuses awaits it, so its caller finds
    /// no file once answered.
    pub(super) fn discard(
        &self,
        id: &str,
        path: PathBuf,
        reason: &'static str,
    ) -> tokio::task::JoinHandle<()> {
        metrics::counter!("plantd_firmware_uploads_dropped_total", "reason" => reason).increment(1);
        tracing::info!(upload = %id, reason, "firmware upload dropped");
        tokio::task::spawn_blocking(move || {
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(error = %e, path = %path.display(), "cannot remove a dropped upload");
                }
            }
        })
    }

    /// Drops uploads that received nothing for [`uploads::IDLE`]; called by the tick.
    pub(super) fn drop_idle_uploads(&mut self) {
        for (id, upload) in self.uploads.drop_idle(Instant::now()) {
            tracing::warn!(upload = %id, by = %upload.by, "firmware upload idle too long");
            drop(self.discard(&id, upload.path, "idle"));
        }
    }
}

impl Handler<BeginUpload> for Firmware {
    type Result = ResponseActFuture<Self, Result<String, DomainError>>;

    fn handle(&mut self, msg: BeginUpload, _: &mut Context<Self>) -> Self::Result {
        let refuse = |e| -> Self::Result { Box::pin(fut::ready(Err(e))) };
        if !valid_version(&msg.version) {
            return refuse(DomainError::invalid(
                "version",
                "1-64 characters of letters, digits and . _ - +",
            ));
        }
        let max = self.settings.max_upload_bytes;
        if msg.declared_size.is_some_and(|n| n > max) {
            return refuse(DomainError::TooLarge(format!(
                "firmware images are limited to {max} bytes (firmware_max_upload_bytes)"
            )));
        }
        if let Err(e) = self.check_quota(msg.declared_size.unwrap_or(0)) {
            return refuse(e);
        }
        if self.uploads.len() >= uploads::MAX_OPEN {
            return refuse(DomainError::Unavailable(format!(
                "{} firmware uploads are in progress; try again later",
                uploads::MAX_OPEN
            )));
        }
        let id = format!("up{}", plantd_secrets::random_hex(8));
        let path = self.settings.upload_path(&id);
        tracing::info!(upload = %id, by = %msg.by, version = %msg.version, "firmware upload started");
        self.uploads.reserve(
            id.clone(),
            Upload::new(msg.version, msg.name, msg.by, path.clone()),
        );
        let file = path.clone();
        Box::pin(blocking(move || Sink::create(&file)).into_actor(self).map(
            move |created, act, _| match created {
                Ok(sink) => {
                    if act.uploads.created(&id, sink, Instant::now()) {
                        return Ok(id);
                    }
                    // Dropped while its file was being created: nobody else removes it.
                    drop(act.discard(&id, path, "aborted"));
                    Err(DomainError::NotFound(format!("upload {id}")))
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot create a firmware upload file");
                    if let Some(upload) = act.uploads.remove(&id) {
                        drop(act.discard(&id, upload.path, "error"));
                    }
                    Err(cannot_store())
                }
            },
        ))
    }
}

impl Handler<UploadChunk> for Firmware {
    type Result = ResponseActFuture<Self, Result<u64, DomainError>>;

    fn handle(&mut self, msg: UploadChunk, _: &mut Context<Self>) -> Self::Result {
        let id = msg.upload_id;
        let max = self.settings.max_upload_bytes;
        let sink = match self
            .uploads
            .take_for_chunk(&id, msg.bytes.len(), max, Instant::now())
        {
            Ok(sink) => sink,
            Err(refused) => {
                let removed = refused
                    .dropped
                    .map(|path| self.discard(&id, path, refused.reason));
                let answer = async move {
                    if let Some(removed) = removed {
                        let _ = removed.await;
                    }
                    Err(refused.error)
                };
                return Box::pin(answer.into_actor(self));
            }
        };
        let bytes = msg.bytes;
        Box::pin(blocking(move || sink.append(&bytes)).into_actor(self).map(
            move |written, act, _| {
                match written {
                    Ok(sink) => act
                        .uploads
                        .put_back(&id, sink, Instant::now())
                        .ok_or_else(|| DomainError::NotFound(format!("upload {id}"))),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot write a firmware upload");
                        if let Some(upload) = act.uploads.remove(&id) {
                            drop(act.discard(&id, upload.path, "error"));
                        }
                        Err(cannot_store())
                    }
                }
            },
        ))
    }
}

impl Handler<AbortUpload> for Firmware {
    type Result = ();

    fn handle(&mut self, msg: AbortUpload, _: &mut Context<Self>) {
        if let Some(upload) = self.uploads.remove(&msg.upload_id) {
            drop(self.discard(&msg.upload_id, upload.path, "aborted"));
        }
    }
}

impl Handler<ReadImage> for Firmware {
    type Result = ResponseFuture<Result<Vec<u8>, DomainError>>;

    fn handle(&mut self, msg: ReadImage, _: &mut Context<Self>) -> Self::Result {
        if !self.images.contains_key(&msg.content_id) {
            let missing = DomainError::NotFound(format!("firmware {}", msg.content_id));
            return Box::pin(std::future::ready(Err(missing)));
        }
        let path = self.settings.image_path(&msg.content_id);
        let len = usize::try_from(msg.len)
            .unwrap_or(MAX_CHUNK_BYTES)
            .min(MAX_CHUNK_BYTES);
        let offset = msg.offset;
        Box::pin(async move {
            blocking(move || images::read_at(&path, offset, len))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot read a firmware image");
                    DomainError::Unavailable("the image cannot be read".to_owned())
                })
        })
    }
}
