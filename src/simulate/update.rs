//! A simulated firmware update's download: GET the notice's URL with the device's own
//! Basic credentials, check size and SHA-256 while streaming (the image is not kept), then
//! the notice's ed25519 `signature` over the SHA-256 digest of the bytes received, with
//! plantd's public key. The notice and the download travel in plaintext: the size and
//! hash only catch accidents, the signature catches someone who rewrote both.

use std::io::Read;
use std::time::Duration;

use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
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
    /// Base64 ed25519 signature of the image's raw SHA-256 digest (absent: refused).
    #[serde(default)]
    pub signature: Option<String>,
}

/// A base64 ed25519 public key (32 bytes).
pub fn parse_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let bytes: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("{} bytes, an ed25519 key has 32", bytes.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an ed25519 key: {e}"))
}

/// The notice's signature, decoded; refused before any download when it cannot verify.
fn signature_of(notice: &Notice, key: Option<&VerifyingKey>) -> Result<Signature, String> {
    if key.is_none() {
        return Err("refused: no firmware signing key to verify the image with".to_owned());
    }
    let text = notice
        .signature
        .as_deref()
        .ok_or("refused: the notice carries no signature")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| "refused: the signature is not base64".to_owned())?;
    Signature::from_slice(&bytes).map_err(|_| "refused: not an ed25519 signature".to_owned())
}

/// Downloads and verifies the image. Blocking: run it with `spawn_blocking`.
pub fn download(
    notice: &Notice,
    device: &str,
    secret: &str,
    key: Option<&VerifyingKey>,
) -> Result<(), String> {
    let signature = signature_of(notice, key)?;
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
    let raw = hasher.finalize();
    let digest = hex::encode(raw);
    if size != notice.size {
        return Err(format!("size {size}, expected {}", notice.size));
    }
    if digest != notice.sha256 {
        return Err(format!("sha256 {digest}, expected {}", notice.sha256));
    }
    // Over the digest of the bytes received, not the notice's text: a rewritten notice
    // and a swapped image together still fail here.
    match key {
        Some(key) if key.verify(&raw, &signature).is_ok() => Ok(()),
        _ => Err("refused: bad signature (the image is not signed by plantd)".to_owned()),
    }
}
