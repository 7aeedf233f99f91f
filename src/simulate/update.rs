//! A simulated firmware update's download: GET the notice's URL with the device's own
//! Basic credentials, check size and SHA-256 while streaming (the image is not kept).

use std::io::Read;
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The retained `firmware/available` notice.
#[derive(Debug, Clone, Deserialize)]
pub struct Notice {
    pub campaign: String,
    pub version: String,
    pub url: String,
    pub sha256: String,
    pub size: u64,
}

/// Downloads and verifies the image. Blocking: run it with `spawn_blocking`.
pub fn download(notice: &Notice, device: &str, secret: &str) -> Result<(), String> {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{device}:{secret}"));
    let response = ureq::get(&notice.url)
        .timeout(Duration::from_secs(300))
        .set("Authorization", &format!("Basic {auth}"))
        .call()
        .map_err(|e| format!("download failed: {e}"))?;
    let mut reader = response.into_reader();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = reader
            .read(&mut chunk)
            .map_err(|e| format!("download interrupted: {e}"))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&chunk[..n]);
    }
    let digest = hex::encode(hasher.finalize());
    if size != notice.size {
        return Err(format!("size {size}, expected {}", notice.size));
    }
    if digest != notice.sha256 {
        return Err(format!("sha256 {digest}, expected {}", notice.sha256));
    }
    Ok(())
}
