//! The firmware upload's staging, shared by `POST /api/v1/firmware` and the firmware
//! page's form: stream a body into the folder the firmware module names while hashing it,
//! then hand the file over with `RegisterFirmware`. Touches only that staging folder and
//! the firmware actor (through `AppState`).

use actix_web::http::StatusCode;
use actix_web::web;
use futures_util::{Stream, StreamExt};
use plantd_contracts::firmware::{FirmwareView, GetStagingArea, RegisterFirmware};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{ApiResult, Problem};
use crate::state::AppState;

/// A file in the staging folder, removed unless it is handed on.
pub struct Staged {
    pub path: std::path::PathBuf,
    pub sha256: String,
    pub size: u64,
}

/// 413: the image is over `firmware_max_upload_bytes`.
pub fn too_large(max: u64) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Payload too large",
        format!("firmware images are limited to {max} bytes (firmware_max_upload_bytes)"),
    )
}

/// Streams `body` into a new file of the staging folder, hashing as it goes; never holds
/// the image in memory. Refuses (and removes the file) past the upload limit.
pub async fn stage<S, E>(state: &AppState, mut body: S) -> ApiResult<Staged>
where
    S: Stream<Item = Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let area = state.firmware.send(GetStagingArea).await?;
    let path = area
        .dir
        .join(format!("{}.part", plantd_secrets::random_hex(8)));
    let mut file = tokio::fs::File::create(&path).await.map_err(|e| {
        tracing::error!(error = %e, dir = %area.dir.display(), "cannot stage a firmware upload");
        Problem::unavailable("cannot store the upload")
    })?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let result: ApiResult<()> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Problem::bad_request("body", e.to_string()))?;
            size += chunk.len() as u64;
            if size > area.max_bytes {
                return Err(too_large(area.max_bytes));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(|e| {
                tracing::error!(error = %e, "cannot write a firmware upload");
                Problem::unavailable("cannot store the upload")
            })?;
        }
        file.sync_all().await.map_err(|e| {
            tracing::error!(error = %e, "cannot sync a firmware upload");
            Problem::unavailable("cannot store the upload")
        })
    }
    .await;
    drop(file);
    if let Err(problem) = result {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(problem);
    }
    Ok(Staged {
        path,
        sha256: hex::encode(hasher.finalize()),
        size,
    })
}

/// Hands a staged upload to the firmware module (which removes it if it refuses).
pub async fn register(
    state: &AppState,
    staged: Staged,
    version: String,
    name: Option<String>,
) -> ApiResult<FirmwareView> {
    Ok(state
        .firmware
        .send(RegisterFirmware {
            version,
            name,
            staged: staged.path,
            sha256: staged.sha256,
            size: staged.size,
        })
        .await??)
}
